"""Generation of simulated fNIRS physiology, inter-brain coupling and artefacts.

Pure numpy, no I/O. Every function takes a :class:`numpy.random.Generator` and draws
from it in a fixed order, so a seeded generator gives the same signals.

Units
-----
Haemoglobin concentration changes are in mol/L (M), like MNE's ``hbo`` / ``hbr``
channels (typical fluctuations of a few tenths of a micromolar). Optical density
(OD) is unitless, natural-log based (``OD = -ln(I / mean(I))``, as in
:func:`mne.preprocessing.nirs.optical_density`). Frequencies are in Hz, times in
seconds, distances in metres, intensities in volts (arbitrary device units).

Signal model of one person in one session (per channel ``j``)
--------------------------------------------------------------
``HbO_j = A_n a_j u_j + A_c b_j cardiac + A_r respiration + A_m mayer + drift_j
+ background_j`` where ``u_j = sqrt(c) s + sqrt(1 - c) n_j`` is the band-limited
"neural" activity: ``s`` is the dyad-session's shared signal (the same in both
partners), ``n_j`` the person's own activity (unit variance, partly common to all
of the person's channels) and ``c`` the dyad-session coupling, the fraction of the
neural in-band variance that is shared. ``HbR`` holds ``-r_j`` times the neural
part (``r_j`` in 0.3-0.5), a small same-sign share of the systemic components, and
its own drift and background.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "AMPLITUDES", "PersonTraits", "MotionEvent", "band_limited_noise",
    "narrowband_noise", "slow_drift", "pink_noise", "cardiac_waveform",
    "respiration_waveform", "coupling_strength", "mix_coupled", "draw_person_traits",
    "simulate_haemoglobin", "haemoglobin_to_od", "motion_artefacts",
    "od_to_intensity",
]

#: Standard deviations (mol/L) of the HbO components in a good channel.
AMPLITUDES: dict[str, float] = {
    "neural": 0.40e-6,      # band-limited activity in the synchrony band
    "cardiac": 0.12e-6,     # heart beat, ~1 Hz
    "respiration": 0.08e-6,  # breathing, 0.2-0.3 Hz
    "mayer": 0.15e-6,       # Mayer waves, ~0.1 Hz
    "drift": 0.50e-6,       # slow drift, below ~0.01 Hz
    "background": 0.06e-6,  # broadband 1/f haemodynamic background
}

#: Ratio HbR / HbO of each systemic component (same sign: blood volume changes).
HBR_SYSTEMIC_RATIO: dict[str, float] = {"cardiac": 0.05, "respiration": 0.2, "mayer": 0.3}


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
                     rsa: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
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
    phase = _phase_from_rate(inst, sfreq, rng.uniform(0, 2 * np.pi))
    wave = np.zeros(n_times)
    top = inst.max()
    for k, (amp, shift) in enumerate(((1.0, 0.0), (0.5, -0.9), (0.25, -1.8)), start=1):
        if k * top < 0.45 * sfreq:
            wave += amp * np.sin(k * phase + shift)
    wave -= wave.mean()
    return wave / wave.std(), inst


# ---------------------------------------------------------------------------
# Coupling
# ---------------------------------------------------------------------------

def coupling_strength(effect: float, slopes: np.ndarray, session_noise: np.ndarray, *,
                      baseline: float = 0.15, max_coupling: float = 0.9) -> np.ndarray:
    """Planted inter-brain coupling of every dyad and session.

    ``c[d, k] = clip(effect * (baseline + slopes[d] * k / (K - 1)
    + session_noise[d, k]), 0, max_coupling)`` with ``k = 0 .. K-1`` the session
    index (session number minus one).

    Parameters
    ----------
    effect : float
        Overall scale; 0 gives no coupling at all.
    slopes : numpy.ndarray
        Shape (n_dyads,), rise of the coupling from first to last session.
    session_noise : numpy.ndarray
        Shape (n_dyads, n_sessions), session-to-session deviations.
    baseline : float
        Coupling at the first session (before noise).
    max_coupling : float
        Upper clip.

    Returns
    -------
    numpy.ndarray
        Shape (n_dyads, n_sessions), the fraction (0 to ``max_coupling``) of the
        neural in-band variance that partners share.
    """
    slopes = np.asarray(slopes, float)
    noise = np.asarray(session_noise, float)
    n_sessions = noise.shape[1]
    progress = np.arange(n_sessions) / max(n_sessions - 1, 1)
    raw = baseline + slopes[:, None] * progress[None, :] + noise
    return np.clip(effect * raw, 0.0, max_coupling)


def mix_coupled(shared: np.ndarray, own: np.ndarray, coupling: float) -> np.ndarray:
    """Mix a shared and an own signal so that the shared one explains ``coupling``.

    Parameters
    ----------
    shared : numpy.ndarray
        Shape (n_times,), the dyad-session's shared signal.
    own : numpy.ndarray
        Shape (n_channels, n_times) or (n_times,), the person's own signal.
    coupling : float
        Fraction of variance in [0, 1].

    Returns
    -------
    numpy.ndarray
        ``sqrt(c) s + sqrt(1 - c) own`` with both inputs scaled to unit variance;
        same shape as ``own``.
    """
    s = (shared - shared.mean()) / shared.std()
    o = own - own.mean(axis=-1, keepdims=True)
    o = o / o.std(axis=-1, keepdims=True)
    return np.sqrt(coupling) * s + np.sqrt(1.0 - coupling) * o


# ---------------------------------------------------------------------------
# One person
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PersonTraits:
    """Physiological traits of one person, stable across sessions.

    Attributes
    ----------
    heart_rate : float
        Mean heart rate in Hz (0.9-1.3).
    respiration_rate : float
        Mean breathing rate in Hz (0.2-0.3).
    mayer_frequency : float
        Mayer-wave frequency in Hz (0.08-0.12).
    neural_loading : numpy.ndarray
        Shape (n_channels,), relative amplitude of the neural activity per channel.
    hbr_ratio : numpy.ndarray
        Shape (n_channels,), neural HbR amplitude relative to HbO (0.3-0.5; HbR is
        anti-correlated).
    """

    heart_rate: float
    respiration_rate: float
    mayer_frequency: float
    neural_loading: np.ndarray = field(repr=False)
    hbr_ratio: np.ndarray = field(repr=False)


def draw_person_traits(rng: np.random.Generator, n_channels: int) -> PersonTraits:
    """Draw a person's physiological traits.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_channels : int

    Returns
    -------
    PersonTraits
    """
    heart = rng.uniform(0.9, 1.3)
    resp = rng.uniform(0.2, 0.3)
    mayer = rng.uniform(0.08, 0.12)
    loading = np.exp(rng.normal(0.0, 0.25, n_channels))
    ratio = rng.uniform(0.3, 0.5, n_channels)
    return PersonTraits(heart, resp, mayer, loading, ratio)


def simulate_haemoglobin(rng: np.random.Generator, traits: PersonTraits, *,
                         n_times: int, sfreq: float, band: tuple[float, float],
                         shared: np.ndarray, coupling: float,
                         cardiac_gain: np.ndarray, attenuation: np.ndarray,
                         own_common: float = 0.5
                         ) -> dict[str, np.ndarray | float]:
    """HbO and HbR time courses of one person in one session.

    Parameters
    ----------
    rng : numpy.random.Generator
        The recording's own stream.
    traits : PersonTraits
    n_times : int
    sfreq : float
        Sampling rate in Hz.
    band : tuple of float
        Shortest and longest period in seconds of the neural activity.
    shared : numpy.ndarray
        Shape (n_times,), the dyad-session's shared signal (unit variance).
    coupling : float
        Fraction of the neural in-band variance taken by ``shared``.
    cardiac_gain : numpy.ndarray
        Shape (n_channels,), amplitude of the heart beat per channel (0 for
        channels without scalp coupling).
    attenuation : numpy.ndarray
        Shape (n_channels,), factor on every physiological component (1 for good
        channels, small for channels with poor scalp coupling).
    own_common : float
        Share of the person's own neural variance common to all their channels.

    Returns
    -------
    dict
        ``hbo``, ``hbr``: shape (n_channels, n_times), mol/L; ``neural``: shape
        (n_channels, n_times), the unit-variance neural mixture ``u_j``;
        ``heart_rate``: mean instantaneous heart rate in Hz.
    """
    n_ch = traits.neural_loading.size
    f_lo, f_hi = 1.0 / band[1], 1.0 / band[0]
    amp = AMPLITUDES

    common = band_limited_noise(rng, n_times, sfreq, f_lo, f_hi)
    private = band_limited_noise(rng, n_times, sfreq, f_lo, f_hi, size=(n_ch,))
    own = np.sqrt(own_common) * common + np.sqrt(1 - own_common) * private
    neural = mix_coupled(shared, own, coupling)

    resp, resp_phase = respiration_waveform(rng, n_times, sfreq, traits.respiration_rate)
    cardiac, inst_rate = cardiac_waveform(rng, n_times, sfreq, traits.heart_rate,
                                          respiration_phase=resp_phase)
    mayer_freq = traits.mayer_frequency * rng.uniform(0.95, 1.05)
    mayer = narrowband_noise(rng, n_times, sfreq, mayer_freq, 0.008)
    sys_gain = rng.uniform(0.7, 1.3, size=(3, n_ch))        # resp, mayer, drift

    drift_common = slow_drift(rng, n_times, sfreq)
    drift_own = slow_drift(rng, n_times, sfreq, size=(2, n_ch))
    background = pink_noise(rng, n_times, sfreq, size=(2, n_ch))

    neural_hbo = amp["neural"] * traits.neural_loading[:, None] * neural
    card = amp["cardiac"] * cardiac_gain[:, None] * cardiac[None, :]
    res = amp["respiration"] * sys_gain[0][:, None] * resp[None, :]
    may = amp["mayer"] * sys_gain[1][:, None] * mayer[None, :]
    drift_hbo = amp["drift"] * sys_gain[2][:, None] * (
        np.sqrt(0.6) * drift_common[None, :] + np.sqrt(0.4) * drift_own[0])
    drift_hbr = 0.5 * amp["drift"] * drift_own[1]

    hbo = neural_hbo + card + res + may + drift_hbo + amp["background"] * background[0]
    hbr = (-traits.hbr_ratio[:, None] * neural_hbo
           + HBR_SYSTEMIC_RATIO["cardiac"] * card
           + HBR_SYSTEMIC_RATIO["respiration"] * res
           + HBR_SYSTEMIC_RATIO["mayer"] * may
           + drift_hbr + 0.5 * amp["background"] * background[1])
    att = np.asarray(attenuation, float)[:, None]
    return {"hbo": hbo * att, "hbr": hbr * att, "neural": neural,
            "heart_rate": float(inst_rate.mean())}


# ---------------------------------------------------------------------------
# Optics and artefacts
# ---------------------------------------------------------------------------

def haemoglobin_to_od(hbo: np.ndarray, hbr: np.ndarray, abs_coef: np.ndarray,
                      distances: np.ndarray, ppf: float) -> np.ndarray:
    """Optical density from haemoglobin by the modified Beer-Lambert law.

    Uses MNE's convention, the exact inverse of
    :func:`mne.preprocessing.nirs.beer_lambert_law`:
    ``OD[w] = 1e3 * ppf * d * (abs_coef[w, 0] HbO + abs_coef[w, 1] HbR)``.

    Parameters
    ----------
    hbo, hbr : numpy.ndarray
        Shape (n_channels, n_times), mol/L.
    abs_coef : numpy.ndarray
        Shape (n_wavelengths, 2), MNE's absorption coefficients (columns HbO, HbR)
        of each wavelength.
    distances : numpy.ndarray
        Shape (n_channels,), source-detector distances in metres.
    ppf : float
        Partial pathlength factor.

    Returns
    -------
    numpy.ndarray
        Shape (n_channels, n_wavelengths, n_times), unitless optical density.
    """
    scale = 1e3 * ppf * np.asarray(distances, float)[:, None, None]
    coef = np.asarray(abs_coef, float)
    od = (coef[None, :, 0, None] * hbo[:, None, :] + coef[None, :, 1, None] * hbr[:, None, :])
    return scale * od


@dataclass(frozen=True)
class MotionEvent:
    """One head-motion artefact.

    Attributes
    ----------
    kind : str
        ``"spike"`` (transient, back to baseline within seconds) or ``"shift"``
        (lasting baseline change).
    onset : float
        Start in seconds from the beginning of the recording.
    duration : float
        Seconds until the spike has mostly decayed / the shift is complete.
    amplitude : float
        Peak optical-density change at the most affected channel (positive = less
        light).
    channels : tuple of int
        Indices of the affected channels (weight above 0.2).
    """

    kind: str
    onset: float
    duration: float
    amplitude: float
    channels: tuple[int, ...]


def motion_artefacts(rng: np.random.Generator, n_times: int, sfreq: float,
                     positions: np.ndarray, n_wavelengths: int = 2, *,
                     spikes_per_minute: float = 0.25, shifts_per_minute: float = 0.12
                     ) -> tuple[np.ndarray, list[MotionEvent]]:
    """Head-motion artefacts: spikes and baseline shifts on neighbouring channels.

    Each event hits the channels near a random centre channel (Gaussian fall-off of
    1.5-4 cm; the channels within 2.7-7 cm are hit), with the same sign and nearly
    the same size (+-10 %) at every wavelength, as a change of optode-scalp coupling
    does. A recording has ``1 + Poisson(spikes_per_minute * minutes)`` spikes and
    ``Poisson(shifts_per_minute * minutes)`` shifts.

    Parameters
    ----------
    positions : numpy.ndarray
        Shape (n_channels, 3), channel midpoints in metres.

    Returns
    -------
    od : numpy.ndarray
        Shape (n_channels, n_wavelengths, n_times), optical density to add.
    events : list of MotionEvent
        Sorted by onset.
    """
    n_ch = positions.shape[0]
    minutes = n_times / sfreq / 60.0
    n_spikes = 1 + int(rng.poisson(spikes_per_minute * minutes))
    n_shifts = int(rng.poisson(shifts_per_minute * minutes))
    t = np.arange(n_times) / sfreq
    t_end = t[-1]
    margin = min(5.0, 0.05 * t_end)
    od = np.zeros((n_ch, n_wavelengths, n_times))
    events: list[MotionEvent] = []
    for kind in ["spike"] * n_spikes + ["shift"] * n_shifts:
        onset = float(rng.uniform(margin, t_end - margin))
        centre = int(rng.integers(n_ch))
        width = rng.uniform(0.015, 0.04)
        dist = np.linalg.norm(positions - positions[centre], axis=1)
        weight = np.exp(-0.5 * (dist / width) ** 2)
        weight[weight < 0.2] = 0.0
        sign = 1.0 if rng.random() < 0.7 else -1.0
        wl_jitter = rng.uniform(0.9, 1.1, size=(n_ch, n_wavelengths))
        dt = t - onset
        if kind == "spike":
            amplitude = sign * rng.uniform(0.05, 0.3)
            rise, decay = rng.uniform(0.1, 0.4), rng.uniform(0.5, 2.0)
            shape = np.where(dt >= 0, (1 - np.exp(-np.clip(dt, 0, None) / rise))
                             * np.exp(-np.clip(dt, 0, None) / decay), 0.0)
            shape /= shape.max()
            duration = rise + 3 * decay
        else:
            amplitude = sign * rng.uniform(0.03, 0.15)
            ramp = rng.uniform(0.3, 1.5)
            shape = np.clip(dt / ramp, 0.0, 1.0)
            duration = ramp
        od += amplitude * (weight[:, None] * wl_jitter)[:, :, None] * shape[None, None, :]
        events.append(MotionEvent(kind, round(onset, 3), round(float(duration), 3),
                                  round(float(amplitude), 4),
                                  tuple(int(i) for i in np.flatnonzero(weight))))
    events.sort(key=lambda e: e.onset)
    return od, events


def od_to_intensity(rng: np.random.Generator, od: np.ndarray, baseline: np.ndarray,
                    noise_sd: np.ndarray) -> np.ndarray:
    """Continuous-wave intensity with multiplicative sensor noise.

    ``I = I0 * exp(-OD) * (1 + noise_sd * e)`` with ``e`` white Gaussian noise, so
    that MNE's ``optical_density`` (``-ln(I / mean(I))``) returns ``OD`` up to a
    constant, plus noise.

    Parameters
    ----------
    od : numpy.ndarray
        Shape (n_channels, n_wavelengths, n_times).
    baseline : numpy.ndarray
        Shape (n_channels, n_wavelengths), ``I0`` in volts.
    noise_sd : numpy.ndarray
        Shape (n_channels, n_wavelengths), relative noise standard deviation.

    Returns
    -------
    numpy.ndarray
        Shape (n_channels, n_wavelengths, n_times), positive intensities in volts.
    """
    noise = rng.standard_normal(od.shape)
    factor = np.clip(1.0 + noise_sd[..., None] * noise, 0.05, None)
    return baseline[..., None] * np.exp(-od) * factor
