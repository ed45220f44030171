"""Scales, periods and cone of influence of ``wavelet.m``, and the recording a band needs.

The parts of the wavelet grid of Torrence & Compo's ``wavelet.m`` (Morlet, w0 = 6)
and Grinsted's ``wtc.m`` that depend only on the recording length, the sampling
interval and the options: the scales ``s0 * 2**(j * dj)``, their Fourier periods, the
cone of influence, the FFT length, the scale-smoothing kernel of ``smoothwavelet.m``,
and the shortest recording whose grid covers a band of periods
(:func:`min_samples_for_band`). :class:`~interbrain.synchrony.wavelet.WaveletGrid`
is built from them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.fft as sfft

from .._inputs import check_dt

#: Non-dimensional frequency of the Morlet mother wavelet (``k0`` of ``wave_bases.m``).
MORLET_W0 = 6.0
#: Ratio of Fourier period to wavelet scale for the Morlet wavelet (Torrence & Compo, Sec. 3h).
FOURIER_FACTOR = (4 * math.pi) / (MORLET_W0 + math.sqrt(2 + MORLET_W0**2))
#: e-folding time of the Morlet wavelet per unit scale (cone of influence, Sec. 3g).
COI_FACTOR = FOURIER_FACTOR / math.sqrt(2)


def matlab_round(x: float) -> int:
    """Round half away from zero, as MATLAB/Octave ``round`` does.

    Parameters
    ----------
    x : float

    Returns
    -------
    int
    """
    x = float(x)
    r = math.trunc(x)
    if abs(x - r) >= 0.5:
        r += 1 if x > 0 else -1
    return int(r)


def scale_smoothing_kernel(dj: float) -> np.ndarray:
    """Boxcar of 0.6 scales used by ``smoothwavelet.m`` to smooth along scales.

    Parameters
    ----------
    dj : float
        Spacing between scales in octaves (``0 < dj <= 0.6``).

    Returns
    -------
    numpy.ndarray, shape (2 * round(0.6 / (2 * dj)) + 1,)
        Symmetric kernel of unit sum; its end weights are ``mod(0.6 / (2 * dj), 1)``,
        computed in floating point exactly as the reference does.
    """
    dj0steps = 0.6 / (dj * 2)
    half = matlab_round(dj0steps)
    if half < 1:
        raise ValueError(f"dj={dj} is too coarse for the 0.6-scale smoothing window; "
                         "use dj <= 0.6")
    frac = dj0steps % 1.0  # equals MATLAB mod(dj0steps, 1) for positive values
    kernel = np.concatenate([[frac], np.ones(2 * half - 1), [frac]])
    return kernel / (2 * half - 1 + 2 * frac)


def grid_options(n_times: int, dt: float, dj: float, s0: float | None, j1: int | None,
                     max_scale: float | None) -> tuple[float, float, int]:
    """Check the grid options and fill in the defaults of ``wtc.m``.

    Parameters
    ----------
    n_times, dt, dj, s0, j1, max_scale
        As in :meth:`~interbrain.synchrony.wavelet.WaveletGrid.build`.

    Returns
    -------
    dj : float
    s0 : float
        Smallest scale in seconds (default ``2 * dt``).
    j1 : int
        Number of scales minus one.

    Raises
    ------
    ValueError
        An invalid option, or both ``j1`` and ``max_scale``.
    """
    if not (isinstance(n_times, (int, np.integer)) and n_times >= 4):
        raise ValueError(f"a wavelet grid needs at least 4 samples, got n_times={n_times!r}")
    dt = check_dt(dt)
    dj = float(dj)
    if not (math.isfinite(dj) and 0 < dj <= 0.6):
        raise ValueError(f"dj (octaves between scales) must be in (0, 0.6], got {dj}")
    if s0 is None:
        s0 = 2 * dt
    s0 = float(s0)
    if not (math.isfinite(s0) and s0 > 0):
        raise ValueError(f"s0 (smallest scale) must be a positive number of seconds, got {s0}")
    if j1 is not None and max_scale is not None:
        raise ValueError("give either j1 (number of scales - 1) or max_scale, not both")
    if j1 is None:
        if max_scale is None:
            max_scale = (n_times * 0.17) * 2 * dt
        max_scale = float(max_scale)
        if not (math.isfinite(max_scale) and max_scale > 0):
            raise ValueError(f"max_scale must be a positive number of seconds, got {max_scale}")
        j1 = matlab_round(math.log2(max_scale / s0) / dj)
        if j1 < 0:
            raise ValueError(f"max_scale={max_scale} s is below the smallest scale s0={s0} s")
    else:
        if int(j1) != j1 or j1 < 0:
            raise ValueError(f"j1 must be a non-negative integer, got {j1!r}")
        j1 = int(j1)
    return dj, s0, j1


def wavelet_scales(s0: float, dj: float, j1: int) -> np.ndarray:
    """Scales ``s0 * 2**(j * dj)``, ``j = 0..j1``, in seconds."""
    return s0 * 2.0 ** (np.arange(j1 + 1) * dj)


def cone_of_influence(n_times: int, dt: float) -> np.ndarray:
    """Cone of influence of ``wavelet.m`` in seconds, shape (n_times,)."""
    up = np.arange(1, math.floor((n_times + 1) / 2 - 1) + 1, dtype=np.float64)
    down = np.arange(1, math.floor(n_times / 2 - 1) + 1, dtype=np.float64)[::-1]
    ramp = np.concatenate([[1e-5], up, down, [1e-5]])
    return COI_FACTOR * dt * ramp


def max_coi(n_times: int, dt: float) -> float:
    """Largest value of :func:`cone_of_influence` (seconds), without computing it."""
    return COI_FACTOR * dt * max(math.floor((n_times - 1) / 2), 1e-5)


def fft_length(n_times: int, pad: bool) -> int:
    """Length of the transformed series: ``2**(fix(log2(n) + 0.4999) + 1)`` with ``pad``."""
    if not pad:
        return n_times
    base2 = math.trunc(math.log(n_times) / math.log(2) + 0.4999)
    return 2 ** (base2 + 1)


#: Half-length, in scales, beyond which the Morlet envelope ``exp(-t**2 / (2 s**2))`` is
#: below 1e-12: the zero padding that the ``"fast"`` precision keeps after a series.
FAST_PAD_SCALES = 7.5


def fast_fft_length(n_times: int, max_scale: float, dt: float, multiple: int = 1) -> int:
    """Shortest fast FFT length that keeps the transform of ``n_times`` samples linear.

    The ``"fast"`` precision pads the series with at least ``FAST_PAD_SCALES`` times the
    largest computed scale of zeros (where the wavelet has decayed below 1e-12) instead
    of the power of two of ``wavelet.m`` (up to 2.7 times the series): the transform
    inside the series changes by less than float32 round-off.

    Parameters
    ----------
    n_times : int
    max_scale : float
        Largest computed scale, in seconds.
    dt : float
        Sampling interval in seconds.
    multiple : int
        A power of two the length must be a multiple of (the largest step of the coarse
        time grids, so that the transform at every ``step``-th sample is an inverse FFT
        of ``n_fft / step`` points: :mod:`interbrain.synchrony.wavelet.coarse`).

    Returns
    -------
    int
        ``multiple`` times a 5-smooth length (``scipy.fft.next_fast_len``), at most
        :func:`fft_length`.
    """
    need = n_times + int(math.ceil(FAST_PAD_SCALES * max_scale / dt))
    fast = multiple * sfft.next_fast_len(-(-need // multiple), real=True)
    return int(min(fast, fft_length(n_times, True)))


def band_row_range(period: np.ndarray, band: tuple[float, float]) -> tuple[int, int]:
    """Scales ``start:stop`` whose period lies in ``band`` (``0, 0`` for none)."""
    lo, hi = band
    inside = np.flatnonzero((period >= lo) & (period <= hi))
    if inside.size == 0:
        return 0, 0
    return int(inside[0]), int(inside[-1]) + 1


def check_band(band: Any) -> tuple[float, float]:
    """``band`` as (shortest, longest) period in seconds, ``0 < shortest <= longest``."""
    try:
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError):
        raise ValueError("band must be (shortest, longest) period in seconds, "
                         f"got {band!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"band must be (shortest, longest) period in seconds with "
                         f"0 < shortest <= longest, got {band!r}")
    return lo, hi


def _band_ok(n_times: int, dt: float, dj: float, s0: float | None, j1: int | None,
             max_scale: float | None, band: tuple[float, float]) -> bool:
    """Whether a recording of n_times samples covers the band with valid cells."""
    try:
        dj_, s0_, j1_ = grid_options(n_times, dt, dj, s0, j1, max_scale)
    except ValueError:
        return False
    period = FOURIER_FACTOR * wavelet_scales(s0_, dj_, j1_)
    start, stop = band_row_range(period, band)
    if stop == start or period[-1] * 2.0**dj_ < band[1]:
        return False
    return bool(period[stop - 1] < max_coi(n_times, dt))


def min_samples_for_band(dt: float, band: tuple[float, float], *, dj: float = 1 / 12,
                         s0: float | None = None, j1: int | None = None,
                         max_scale: float | None = None) -> int | None:
    """Shortest recording whose wavelet grid covers ``band`` outside the cone of influence.

    Parameters
    ----------
    dt : float
        Sampling interval in seconds.
    band : (float, float)
        Shortest and longest period in seconds.
    dj, s0, j1, max_scale
        Grid options as in :meth:`WaveletGrid.build`.

    Returns
    -------
    int or None
        Minimum number of samples, or None if no length suffices (a fixed ``j1`` or
        ``max_scale`` that stops below the band).
    """
    band = check_band(band)
    hi = 8
    limit = 2**40
    while not _band_ok(hi, dt, dj, s0, j1, max_scale, band):
        hi *= 2
        if hi > limit:
            return None
    lo = hi // 2
    while hi - lo > 1:  # invariant: ok(hi), most likely not ok(lo)
        mid = (lo + hi) // 2
        if _band_ok(mid, dt, dj, s0, j1, max_scale, band):
            hi = mid
        else:
            lo = mid
    return hi

