"""Random waveforms of simulated fNIRS: band-limited, narrowband, 1/f and drift
noise, breathing and heart beat.

Pure numpy, no I/O. Every function takes a :class:`numpy.random.Generator` and draws
from it in a fixed order, so a seeded generator gives the same waveform. Frequencies
are in Hz, times in seconds; outputs have unit variance unless said otherwise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["band_limited_noise", "narrowband_noise", "pink_noise", "slow_drift",
           "respiration_waveform", "cardiac_waveform"]


# ---------------------------------------------------------------------------
# Primitive noise generators
# ---------------------------------------------------------------------------

def _spectral_noise(rng: np.random.Generator, n_times: int, sfreq: float, gain,
                    size: tuple[int, ...] = (), f_min: float = 0.005) -> np.ndarray:
    """Gaussian noise with amplitude spectrum ``gain(f)``, unit variance per row.

    The noise is generated on a longer, padded grid (so it is not periodic over the
    recording) and cropped to ``n_times``.
    """
    pad = int(np.ceil(2.0 * sfreq / max(f_min, 1e-4)))
    n_fft = n_times + min(pad, 4 * n_times)
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / sfreq)
    shape = tuple(size) + (freqs.size,)
    spec = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    spec *= gain(freqs)
    x = np.fft.irfft(spec, n=n_fft, axis=-1)[..., :n_times]
    x = x - x.mean(axis=-1, keepdims=True)
    sd = x.std(axis=-1, keepdims=True)
    return x / np.where(sd > 0, sd, 1.0)


def band_limited_noise(rng: np.random.Generator, n_times: int, sfreq: float,
                       f_lo: float, f_hi: float, *, size: tuple[int, ...] = (),
                       taper: float = 0.15) -> np.ndarray:
    """Gaussian noise whose power lies in ``[f_lo, f_hi]`` Hz, unit variance.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_times : int
        Number of samples.
    sfreq : float
        Sampling rate in Hz.
    f_lo, f_hi : float
        Pass band in Hz, ``0 < f_lo < f_hi < sfreq / 2``.
    size : tuple of int
        Leading shape; the result has shape ``size + (n_times,)``.
    taper : float
        Relative width of the raised-cosine edges, inside the band (the spectrum is
        flat on ``[f_lo (1 + taper), f_hi / (1 + taper)]`` and zero outside
        ``[f_lo, f_hi]``).

    Returns
    -------
    numpy.ndarray
        Shape ``size + (n_times,)``, zero mean and unit standard deviation along the
        last axis.
    """
    lo_flat, hi_flat = f_lo * (1 + taper), f_hi / (1 + taper)
    if lo_flat >= hi_flat:   # very narrow band: triangular-ish window
        lo_flat = hi_flat = np.sqrt(f_lo * f_hi)

    def gain(f):
        g = np.zeros_like(f)
        inside = (f >= f_lo) & (f <= f_hi)
        g[inside] = 1.0
        rise = (f >= f_lo) & (f < lo_flat)
        g[rise] = 0.5 - 0.5 * np.cos(np.pi * (f[rise] - f_lo) / (lo_flat - f_lo))
        fall = (f > hi_flat) & (f <= f_hi)
        g[fall] = 0.5 + 0.5 * np.cos(np.pi * (f[fall] - hi_flat) / (f_hi - hi_flat))
        return g

    return _spectral_noise(rng, n_times, sfreq, gain, size, f_min=f_lo)


def narrowband_noise(rng: np.random.Generator, n_times: int, sfreq: float,
                     freq: float, bandwidth: float, *,
                     size: tuple[int, ...] = ()) -> np.ndarray:
    """Quasi-periodic noise: a Gaussian spectral peak at ``freq`` Hz, unit variance.

    Parameters
    ----------
    freq : float
        Peak frequency in Hz.
    bandwidth : float
        Standard deviation of the Gaussian peak in Hz.

    Returns
    -------
    numpy.ndarray
        Shape ``size + (n_times,)``.
    """
    return _spectral_noise(rng, n_times, sfreq,
                           lambda f: np.exp(-0.5 * ((f - freq) / bandwidth) ** 2),
                           size, f_min=max(freq - 3 * bandwidth, 0.01))


def pink_noise(rng: np.random.Generator, n_times: int, sfreq: float, *,
               f_lo: float = 0.01, f_hi: float = 0.5,
               size: tuple[int, ...] = ()) -> np.ndarray:
    """1/f noise between ``f_lo`` and ``f_hi`` Hz (power ~ 1/f), unit variance.

    Returns
    -------
    numpy.ndarray
        Shape ``size + (n_times,)``.
    """
    def gain(f):
        g = np.zeros_like(f)
        inside = (f >= f_lo) & (f <= f_hi)
        g[inside] = 1.0 / np.sqrt(f[inside])
        return g

    return _spectral_noise(rng, n_times, sfreq, gain, size, f_min=f_lo)


def slow_drift(rng: np.random.Generator, n_times: int, sfreq: float, *,
               f_max: float = 0.01, trend_sd: float = 0.5,
               size: tuple[int, ...] = ()) -> np.ndarray:
    """Slow drift: random-walk-like (power ~ 1/f^2) below ``f_max`` Hz plus a trend.

    The spectrum falls to zero by ``1.5 f_max``, so the drift adds nothing to
    frequencies above that (e.g. to the synchrony band).

    Parameters
    ----------
    f_max : float
        Corner frequency in Hz.
    trend_sd : float
        Standard deviation of the end-to-end linear change, relative to the
        random part's standard deviation.

    Returns
    -------
    numpy.ndarray
        Shape ``size + (n_times,)``, unit standard deviation along the last axis.
    """
    f_min = 1.0 / (n_times / sfreq * 4)

    def gain(f):
        g = np.zeros_like(f)
        ok = f >= f_min
        g[ok] = 1.0 / f[ok]
        edge = np.clip((f - f_max) / (0.5 * f_max), 0.0, 1.0)
        return g * (0.5 + 0.5 * np.cos(np.pi * edge))

    walk = _spectral_noise(rng, n_times, sfreq, gain, size, f_min=f_min)
    ramp = np.linspace(-0.5, 0.5, n_times)
    slopes = rng.normal(0.0, trend_sd, size=tuple(size) + (1,)) * np.sqrt(12.0)
    x = walk + slopes * ramp
    x = x - x.mean(axis=-1, keepdims=True)
    return x / x.std(axis=-1, keepdims=True)


def _phase_from_rate(rate: np.ndarray, sfreq: float, phase0: float) -> np.ndarray:
    """Phase in rad of an oscillation with instantaneous rate ``rate`` (Hz)."""
    return phase0 + 2 * np.pi * np.cumsum(rate) / sfreq


def respiration_waveform(rng: np.random.Generator, n_times: int, sfreq: float,
                         rate: float, *, variability: float = 0.08
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Breathing-related oscillation with a slowly varying rate.

    Parameters
    ----------
    rate : float
        Mean breathing rate in Hz (0.2-0.3 Hz).
    variability : float
        Standard deviation of the relative rate fluctuations (below 0.05 Hz).

    Returns
    -------
    wave : numpy.ndarray
        Shape (n_times,), unit standard deviation.
    phase : numpy.ndarray
        Shape (n_times,), breathing phase in rad (used for respiratory sinus
        arrhythmia of the heart rate).
    """
    wobble = band_limited_noise(rng, n_times, sfreq, 0.002, 0.05)
    inst = rate * (1.0 + variability * wobble)
    phase = _phase_from_rate(inst, sfreq, rng.uniform(0, 2 * np.pi))
    wave = np.sin(phase)
    if 2 * rate * (1 + 3 * variability) < 0.45 * sfreq:
        wave = wave + 0.25 * np.sin(2 * phase + 0.6)
    wave = wave - wave.mean()
    return wave / wave.std(), phase


def cardiac_waveform(rng: np.random.Generator, n_times: int, sfreq: float,
                     rate: float, *, variability: float = 0.04,
                     respiration_phase: np.ndarray | None = None,
                     rsa: float = 0.03, modulation: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Pulsatile heart-beat oscillation with heart-rate variability.

    Parameters
    ----------
    rate : float
        Mean heart rate in Hz (0.9-1.3 Hz).
    variability : float
        Standard deviation of the slow relative rate fluctuations (0.005-0.1 Hz).
    respiration_phase : numpy.ndarray or None
        Breathing phase in rad, shape (n_times,); adds respiratory sinus arrhythmia.
    rsa : float
        Relative amplitude of the respiratory sinus arrhythmia.
    modulation : numpy.ndarray or None
        Shape (n_times,), further relative change of the rate (e.g. 0.05 while
        speaking); draws nothing.

    Returns
    -------
    wave : numpy.ndarray
        Shape (n_times,), unit standard deviation. Harmonics (a sharp systolic
        upstroke) are included up to 0.45 ``sfreq``.
    rate : numpy.ndarray
        Shape (n_times,), instantaneous heart rate in Hz.
    """
    slow = band_limited_noise(rng, n_times, sfreq, 0.005, 0.1)
    inst = rate * (1.0 + variability * slow)
    if respiration_phase is not None:
        inst = inst * (1.0 + rsa * np.sin(respiration_phase))
    if modulation is not None:
        inst = inst * (1.0 + np.asarray(modulation, float))
    phase = _phase_from_rate(inst, sfreq, rng.uniform(0, 2 * np.pi))
    wave = np.zeros(n_times)
    top = inst.max()
    for k, (amp, shift) in enumerate(((1.0, 0.0), (0.5, -0.9), (0.25, -1.8)), start=1):
        if k * top < 0.45 * sfreq:
            wave += amp * np.sin(k * phase + shift)
    wave -= wave.mean()
    return wave / wave.std(), inst

