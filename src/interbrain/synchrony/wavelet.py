"""Morlet continuous wavelet transform and the smoothing of wavelet coherence.

This module reproduces, to floating-point round-off, the wavelet transform of
Torrence & Compo's ``wavelet.m`` (Morlet mother wavelet, w0 = 6) and the smoothing
operator of Grinsted's ``smoothwavelet.m`` as they are called by ``wtc.m`` of the
Cross Wavelet and Wavelet Coherence toolbox. Every detail that changes the numbers
is kept:

* the series is de-meaned and, with ``pad=True``, zero-padded to
  ``2**(fix(log(n)/log(2) + 0.4999) + 1)`` samples before the FFT;
* scales are ``s0 * 2**(j * dj)``, ``j = 0..j1``, with ``j1 = round(log2(max_scale / s0) / dj)``
  (MATLAB ``round``: half away from zero) and ``max_scale = (n * 0.17) * 2 * dt``
  by default;
* the cone of influence is ``fourier_factor / sqrt(2) * dt * [1e-5, 1:((n+1)/2-1),
  fliplr(1:(n/2-1)), 1e-5]`` with MATLAB colon semantics for non-integer ends;
* time smoothing is a Gaussian of standard deviation ``scale`` applied in the Fourier
  domain over ``2**ceil(log2(n))`` points (so it is circular when ``n`` is a power of
  two);
* scale smoothing is a boxcar of 0.6 scales: ``dj0steps = 0.6 / (dj * 2)`` evaluated
  in floating point (for ``dj = 0.1`` this is 2.9999999999999996, which gives a
  7-tap kernel with end weights 0.9999999999999996), kernel ``[mod(dj0steps, 1),
  ones(2*round(dj0steps) - 1), mod(dj0steps, 1)]`` normalised to unit sum, applied
  as a zero-padded ``'same'`` convolution along scales.

The computation is organised around a :class:`WaveletGrid`, which holds everything
that depends only on the recording length, the sampling interval and the options
(scales, periods, cone of influence, Fourier-domain filters, and optionally the
subset of scales needed for one period band), so that transforms of many channels
can share it and be computed batched.

References
----------
Torrence, C. & Compo, G. P. (1998). A practical guide to wavelet analysis.
*Bulletin of the American Meteorological Society* 79:61-78.

Grinsted, A., Moore, J. C. & Jevrejeva, S. (2004). Application of the cross wavelet
transform and wavelet coherence to geophysical time series. *Nonlinear Processes in
Geophysics* 11:561-566.
"""

from __future__ import annotations

import math
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.fft as sfft

__all__ = [
    "COI_FACTOR",
    "FOURIER_FACTOR",
    "MORLET_W0",
    "WaveletGrid",
    "cwt",
    "matlab_round",
    "min_samples_for_band",
    "scale_smoothing_kernel",
    "smooth_scale",
    "smooth_wavelet",
]

#: Non-dimensional frequency of the Morlet mother wavelet (``k0`` of ``wave_bases.m``).
MORLET_W0 = 6.0
#: Ratio of Fourier period to wavelet scale for the Morlet wavelet (Torrence & Compo, Sec. 3h).
FOURIER_FACTOR = (4 * math.pi) / (MORLET_W0 + math.sqrt(2 + MORLET_W0**2))
#: e-folding time of the Morlet wavelet per unit scale (cone of influence, Sec. 3g).
COI_FACTOR = FOURIER_FACTOR / math.sqrt(2)

#: Default budget in bytes for the temporary arrays of one batched FFT block.
DEFAULT_CHUNK_BYTES = 256 * 2**20

#: Gaussian time-filter weights below this are treated as zero. The dropped terms are
#: eight orders of magnitude below the round-off of the FFTs themselves.
_FILTER_FLOOR = 1e-24

_DTYPES = {"float64": (np.float64, np.complex128), "float32": (np.float32, np.complex64)}


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


def _resolve_options(n_times: int, dt: float, dj: float, s0: float | None, j1: int | None,
                     max_scale: float | None) -> tuple[float, float, int]:
    """Validate the grid options and fill in the defaults of ``wtc.m``."""
    if not (isinstance(n_times, (int, np.integer)) and n_times >= 4):
        raise ValueError(f"a wavelet grid needs at least 4 samples, got n_times={n_times!r}")
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"sampling interval dt must be a positive number of seconds, got {dt}")
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


def _scales(s0: float, dj: float, j1: int) -> np.ndarray:
    return s0 * 2.0 ** (np.arange(j1 + 1) * dj)


def _coi(n_times: int, dt: float) -> np.ndarray:
    """Cone of influence of ``wavelet.m`` in seconds, shape (n_times,)."""
    up = np.arange(1, math.floor((n_times + 1) / 2 - 1) + 1, dtype=np.float64)
    down = np.arange(1, math.floor(n_times / 2 - 1) + 1, dtype=np.float64)[::-1]
    ramp = np.concatenate([[1e-5], up, down, [1e-5]])
    return COI_FACTOR * dt * ramp


def _max_coi(n_times: int, dt: float) -> float:
    return COI_FACTOR * dt * max(math.floor((n_times - 1) / 2), 1e-5)


def _fft_length(n_times: int, pad: bool) -> int:
    if not pad:
        return n_times
    base2 = math.trunc(math.log(n_times) / math.log(2) + 0.4999)
    return 2 ** (base2 + 1)


def _band_rows(period: np.ndarray, band: tuple[float, float]) -> tuple[int, int]:
    lo, hi = band
    inside = np.flatnonzero((period >= lo) & (period <= hi))
    if inside.size == 0:
        return 0, 0
    return int(inside[0]), int(inside[-1]) + 1


def _check_band(band: Any) -> tuple[float, float]:
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
        dj_, s0_, j1_ = _resolve_options(n_times, dt, dj, s0, j1, max_scale)
    except ValueError:
        return False
    period = FOURIER_FACTOR * _scales(s0_, dj_, j1_)
    start, stop = _band_rows(period, band)
    if stop == start or period[-1] * 2.0**dj_ < band[1]:
        return False
    return bool(period[stop - 1] < _max_coi(n_times, dt))


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
    band = _check_band(band)
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


@dataclass(frozen=True, eq=False)
class WaveletGrid:
    """Scales, cone of influence and filters shared by all transforms of one length.

    Build it with :meth:`WaveletGrid.build`. All periods, scales and the cone of
    influence are in seconds. "Rows" are the scales actually computed: all of them, or
    with a ``band`` only the band's scales plus the margin the scale-smoothing kernel
    reaches, so that the smoothed values of the band's scales are identical to those of
    the full grid.

    Attributes
    ----------
    n_times : int
        Number of samples of the series.
    dt : float
        Sampling interval in seconds.
    dj : float
        Spacing between scales in octaves.
    s0 : float
        Smallest scale in seconds.
    j1 : int
        Number of scales minus one.
    pad : bool
        Whether the series is zero-padded before the transform.
    dtype : str
        ``"float64"`` or ``"float32"``: precision of transforms and smoothing.
    band : (float, float) or None
        Shortest and longest period of the band in seconds, if any.
    scale, period : numpy.ndarray, shape (n_scales,)
        Wavelet scale and Fourier period of every scale of the full grid.
    coi : numpy.ndarray, shape (n_times,)
        Cone of influence; a cell is valid (outside the cone) where ``period < coi``.
    n_fft : int
        Length of the (padded) series transformed.
    n_smooth : int
        FFT length of the time smoothing, ``2**ceil(log2(n_times))``.
    n_filter_bins : int
        Number of non-negative frequency bins where some computed row's time filter
        exceeds ``1e-24`` (the filters are symmetric; beyond these bins they are
        negligible, and the smoothing skips them).
    row_start, row_stop : int
        Computed scales, ``scale[row_start:row_stop]``.
    band_start, band_stop : int
        The band's scales (all scales without a band), indices of the full grid.
    daughter : numpy.ndarray, shape (n_rows, n_fft // 2 + 1)
        Morlet daughter wavelets of the computed rows at the non-negative frequencies
        (zero at negative ones).
    time_filter : numpy.ndarray, shape (n_rows, n_smooth)
        Fourier-domain Gaussian time-smoothing filters of the computed rows.
    scale_kernel : numpy.ndarray, shape (n_taps,)
        Scale-smoothing kernel, see :func:`scale_smoothing_kernel`.
    valid : numpy.ndarray of bool, shape (n_band_rows, n_times)
        In-band cells outside the cone of influence (``period < coi``).
    """

    n_times: int
    dt: float
    dj: float
    s0: float
    j1: int
    pad: bool
    dtype: str
    band: tuple[float, float] | None
    scale: np.ndarray
    period: np.ndarray
    coi: np.ndarray
    n_fft: int
    n_smooth: int
    n_filter_bins: int
    row_start: int
    row_stop: int
    band_start: int
    band_stop: int
    daughter: np.ndarray = field(repr=False)
    time_filter: np.ndarray = field(repr=False)
    scale_kernel: np.ndarray = field(repr=False)
    valid: np.ndarray = field(repr=False)

    @classmethod
    def build(cls, n_times: int, dt: float, *, dj: float = 1 / 12, s0: float | None = None,
              j1: int | None = None, max_scale: float | None = None, pad: bool = True,
              band: tuple[float, float] | None = None, dtype: str = "float64") -> WaveletGrid:
        """Build the grid of ``wtc.m`` for series of ``n_times`` samples.

        Parameters
        ----------
        n_times : int
            Number of samples (at least 4).
        dt : float
            Sampling interval in seconds.
        dj : float, default 1/12
            Spacing between scales in octaves (``0 < dj <= 0.6``).
        s0 : float, optional
            Smallest scale in seconds; default ``2 * dt``.
        j1 : int, optional
            Number of scales minus one; default ``round(log2(max_scale / s0) / dj)``.
        max_scale : float, optional
            Largest scale in seconds, used when ``j1`` is not given; default
            ``0.17 * 2 * n_times * dt``. Give ``j1`` or ``max_scale``, not both.
        pad : bool, default True
            Zero-pad the de-meaned series to ``2**(fix(log2(n) + 0.4999) + 1)`` samples.
        band : (float, float), optional
            Shortest and longest period in seconds. Only the scales whose period lies in
            ``[shortest, longest]`` (plus the scale-smoothing margin) are computed.
        dtype : {"float64", "float32"}, default "float64"
            Precision of the transforms and the smoothing.

        Returns
        -------
        WaveletGrid

        Raises
        ------
        ValueError
            Invalid options; a band that lies outside the grid's periods, that reaches
            more than one scale step beyond the grid, or whose longest period has no
            cell outside the cone of influence (the recording is too short; the message
            gives the minimum number of samples).
        """
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
        j1_option = j1
        dj, s0, j1 = _resolve_options(n_times, dt, dj, s0, j1, max_scale)
        n_times = int(n_times)
        dt = float(dt)
        real_t, _ = _DTYPES[dtype]
        scale = _scales(s0, dj, j1)
        period = FOURIER_FACTOR * scale
        coi = _coi(n_times, dt)
        kernel = scale_smoothing_kernel(dj)
        half = (kernel.size - 1) // 2
        n_scales = j1 + 1

        if band is None:
            band_start, band_stop = 0, n_scales
            row_start, row_stop = 0, n_scales
        else:
            band = _check_band(band)
            band_start, band_stop = _band_rows(period, band)
            _validate_band(band, period, coi, band_start, band_stop, n_times, dt, dj,
                           s0, j1_option, max_scale)
            row_start = max(0, band_start - half)
            row_stop = min(n_scales, band_stop + half)

        rows = slice(row_start, row_stop)
        n_fft = _fft_length(n_times, pad)
        # wave_bases.m: Morlet daughter in Fourier space, zero at k <= 0.
        k_pos = np.arange(1, n_fft // 2 + 1) * ((2.0 * math.pi) / (n_fft * dt))
        k = np.concatenate([[0.0], k_pos])  # the non-negative frequencies, k[1] = 2*pi/(n*dt)
        sc = scale[rows, None]
        expnt = -((sc * k - MORLET_W0) ** 2) / 2.0
        norm = np.sqrt(sc * k[1]) * math.pi ** (-0.25) * math.sqrt(n_fft)
        daughter = norm * np.exp(expnt) * (k > 0)

        # smoothwavelet.m: Gaussian of sigma = scale in the Fourier domain.
        n_smooth = 2 ** math.ceil(math.log2(n_times))
        ks = np.arange(1, n_smooth // 2 + 1) * ((2.0 * math.pi) / n_smooth)
        ks = np.concatenate([[0.0], ks, -ks[: (n_smooth - 1) // 2][::-1]])
        snorm = scale[rows, None] / dt
        time_filter = np.exp(-0.5 * snorm**2 * ks**2)
        significant = np.any(time_filter[:, : n_smooth // 2 + 1] >= _FILTER_FLOOR, axis=0)
        n_filter_bins = int(np.flatnonzero(significant)[-1]) + 1

        valid = period[band_start:band_stop, None] < coi[None, :]
        for arr in (scale, period, coi, kernel, valid):
            arr.setflags(write=False)
        daughter = np.ascontiguousarray(daughter, dtype=real_t)
        time_filter = np.ascontiguousarray(time_filter, dtype=real_t)
        daughter.setflags(write=False)
        time_filter.setflags(write=False)
        return cls(n_times=n_times, dt=dt, dj=dj, s0=s0, j1=j1, pad=bool(pad), dtype=dtype,
                   band=band, scale=scale, period=period, coi=coi, n_fft=n_fft,
                   n_smooth=n_smooth, n_filter_bins=n_filter_bins, row_start=row_start,
                   row_stop=row_stop, band_start=band_start, band_stop=band_stop,
                   daughter=daughter,
                   time_filter=time_filter, scale_kernel=kernel, valid=valid)

    # ------------------------------------------------------------------ properties
    @property
    def n_scales(self) -> int:
        """Number of scales of the full grid (``j1 + 1``)."""
        return self.j1 + 1

    @property
    def n_rows(self) -> int:
        """Number of scales computed (band plus smoothing margin, or all)."""
        return self.row_stop - self.row_start

    @property
    def n_band_rows(self) -> int:
        """Number of scales in the band (all scales without a band)."""
        return self.band_stop - self.band_start

    @property
    def rows(self) -> slice:
        """Computed scales as a slice of the full grid."""
        return slice(self.row_start, self.row_stop)

    @property
    def band_rows(self) -> slice:
        """The band's scales as a slice of the computed rows."""
        return slice(self.band_start - self.row_start, self.band_stop - self.row_start)

    @property
    def band_period(self) -> np.ndarray:
        """Periods in seconds of the band's scales, shape (n_band_rows,)."""
        return self.period[self.band_start:self.band_stop]

    @property
    def band_scale(self) -> np.ndarray:
        """Scales in seconds of the band's scales, shape (n_band_rows,)."""
        return self.scale[self.band_start:self.band_stop]

    @property
    def real_dtype(self) -> type:
        return _DTYPES[self.dtype][0]

    @property
    def complex_dtype(self) -> type:
        return _DTYPES[self.dtype][1]

    @property
    def key(self) -> tuple:
        """Hashable identity: grids with equal keys give identical transforms."""
        return (self.n_times, self.dt, self.dj, self.s0, self.j1, self.pad, self.dtype,
                self.row_start, self.row_stop, self.band_start, self.band_stop)


def _validate_band(band: tuple[float, float], period: np.ndarray, coi: np.ndarray,
                   start: int, stop: int, n_times: int, dt: float, dj: float, s0: float,
                   j1_option: int | None, max_scale: float | None) -> None:
    """Raise ValueError unless the grid covers ``band`` with valid cells."""
    lo, hi = band
    span = f"[{period[0]:.4g}, {period[-1]:.4g}] s"

    def need() -> str:
        m = min_samples_for_band(dt, band, dj=dj, s0=s0, j1=j1_option, max_scale=max_scale)
        if m is None:
            return ("no recording length suffices with these options; increase "
                    "max_scale/j1 or choose a band of shorter periods")
        return (f"recording too short for the band's longest period: the band needs at "
                f"least {m} samples ({m * dt:.6g} s) at dt={dt:g} s")

    if stop == start:
        if hi < period[0]:
            raise ValueError(f"band ({lo:g}, {hi:g}) s lies below the wavelet grid's periods "
                             f"{span}; lower s0 (smallest scale) or use longer periods")
        raise ValueError(f"band ({lo:g}, {hi:g}) s contains none of the wavelet grid's "
                         f"periods {span}; {need()}")
    if period[-1] * 2.0**dj < hi:
        raise ValueError(f"band ({lo:g}, {hi:g}) s reaches beyond the wavelet grid's longest "
                         f"period {period[-1]:.4g} s; {need()}")
    if lo < period[0] / 2.0**dj:
        raise ValueError(f"band ({lo:g}, {hi:g}) s starts below the wavelet grid's shortest "
                         f"period {period[0]:.4g} s; lower s0 (smallest scale)")
    if not np.any(period[stop - 1] < coi):
        raise ValueError(f"at {n_times} samples ({n_times * dt:.6g} s) no cell of the band's "
                         f"longest period {period[stop - 1]:.4g} s lies outside the cone of "
                         f"influence; {need()}")


# ---------------------------------------------------------------------- transforms
def _as_2d_finite(data: Any, n_times: int, name: str = "data") -> np.ndarray:
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a (n_channels, n_times) array, got shape {arr.shape}")
    if arr.shape[1] != n_times:
        raise ValueError(f"{name} has {arr.shape[1]} samples but the wavelet grid was built "
                         f"for {n_times}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains NaN or infinite samples (first at channel "
                         f"{bad[0]}, sample {bad[1]}); interpolate or drop them first")
    return arr


def cwt(data: Any, grid: WaveletGrid, *, workers: int | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """Morlet wavelet transform of ``wavelet.m`` for the grid's computed rows.

    Parameters
    ----------
    data : array_like, shape (n_channels, n_times) or (n_times,)
        Finite samples; each channel is de-meaned (and zero-padded if ``grid.pad``).
    grid : WaveletGrid
    workers : int, optional
        Threads to use, one channel per thread at a time (None: the current default of
        :mod:`scipy.fft`, see :func:`scipy.fft.set_workers`; negative values count back
        from the number of CPUs, as in :mod:`scipy.fft`).
    chunk_bytes : int
        Budget of the temporaries of one batched FFT block (per thread).

    Returns
    -------
    numpy.ndarray, complex, shape (n_channels, n_rows, n_times)
        Wavelet coefficients of scales ``grid.scale[grid.rows]``.
    """
    x = _as_2d_finite(data, grid.n_times)
    out = np.empty((x.shape[0], grid.n_rows, grid.n_times), dtype=grid.complex_dtype)
    _ChannelTransform(grid, out, None, chunk_bytes).run(x, n_threads(workers))
    return out


def _filter_support(grid: WaveletGrid, full: bool) -> np.ndarray | None:
    """Frequency bins of the time smoothing that matter, or None for all of them."""
    k, m = grid.n_filter_bins, grid.n_smooth
    if full:
        if 2 * k - 1 >= m:
            return None
        return np.concatenate([np.arange(k), np.arange(m - k + 1, m)])
    if k >= m // 2 + 1:
        return None
    return np.arange(k)


def smooth_wavelet(values: np.ndarray, grid: WaveletGrid, *, weights: np.ndarray | None = None,
                   workers: int | None = None) -> np.ndarray:
    """Smoothing operator of ``smoothwavelet.m``: Gaussian in time, boxcar in scale.

    The time smoothing multiplies the FFT (over ``grid.n_smooth`` points) of each row by
    a Gaussian of standard deviation ``scale``; the scale smoothing is then applied to
    the filtered spectra (it commutes with the inverse FFT) and only the band's rows
    are transformed back. Frequency bins where every filter is below ``1e-24`` are
    skipped.

    Parameters
    ----------
    values : numpy.ndarray, shape (..., n_rows, n_times), real or complex
        One row per computed scale of ``grid`` (``grid.scale[grid.rows]``).
    grid : WaveletGrid
    weights : numpy.ndarray, shape (n_rows,), optional
        Per-row factors applied before smoothing (e.g. ``1 / scale``).
    workers : int, optional
        Threads of :mod:`scipy.fft`.

    Returns
    -------
    numpy.ndarray, shape (..., n_band_rows, n_times)
        Smoothed band rows; real for real input (the reference keeps the real part),
        complex otherwise.
    """
    n, m = grid.n_times, grid.n_smooth
    cplx = np.iscomplexobj(values)
    support = _filter_support(grid, full=cplx)
    filt = grid.time_filter if cplx else grid.time_filter[:, : m // 2 + 1]
    if support is not None:
        filt = filt[:, support]
    if weights is not None:
        filt = filt * np.asarray(weights, dtype=filt.dtype)[:, None]
    z = (sfft.fft if cplx else sfft.rfft)(values, n=m, axis=-1, workers=workers)
    if support is not None:
        z = z[..., support]
    z *= filt
    z = smooth_scale(z, grid)
    if support is not None:
        full = np.zeros(z.shape[:-1] + ((m if cplx else m // 2 + 1),), dtype=z.dtype)
        full[..., support] = z
        z = full
    if cplx:
        return sfft.ifft(z, axis=-1, overwrite_x=True, workers=workers)[..., :n]
    return sfft.irfft(z, n=m, axis=-1, overwrite_x=True, workers=workers)[..., :n]


def smooth_scale(values: np.ndarray, grid: WaveletGrid) -> np.ndarray:
    """Boxcar scale smoothing of ``smoothwavelet.m``, returning the band's rows only.

    Equivalent to ``conv2(values, kernel, 'same')`` along scales on the full grid:
    computed rows beyond the band supply the kernel's margin, and zeros are used only
    past the ends of the full grid. Acts on the second-to-last axis only, so it applies
    equally to time series and to their Fourier transforms.

    Parameters
    ----------
    values : numpy.ndarray, shape (..., n_rows, n_last)
        One row per computed scale of ``grid``.
    grid : WaveletGrid

    Returns
    -------
    numpy.ndarray, shape (..., n_band_rows, n_last)
    """
    kernel = grid.scale_kernel.astype(grid.real_dtype)
    half = (kernel.size - 1) // 2
    b0 = grid.band_start - grid.row_start
    nb = grid.n_band_rows
    n_rows = values.shape[-2]
    out = np.zeros(values.shape[:-2] + (nb, values.shape[-1]), dtype=values.dtype)
    for t, w in enumerate(kernel):
        if w == 0:
            continue
        # out[i] += w * values[b0 + i + t - half] for source rows inside [0, n_rows)
        shift = b0 + t - half
        i0 = max(0, -shift)
        i1 = min(nb, n_rows - shift)
        if i1 > i0:
            out[..., i0:i1, :] += w * values[..., i0 + shift:i1 + shift, :]
    return out


# ------------------------------------------------------------------ batched kernels
#: Temporaries of one batched FFT block, per thread: about 8 rows of 32768 complex128
#: values. Blocks of this size stay in the processor's caches between the steps that
#: touch them (product, FFT, gather; scatter, inverse FFT, ratio).
_BLOCK_BYTES = 4 * 2**20
#: Most rows per FFT block (pocketfft vectorises across rows; more gains nothing).
_MAX_BLOCK_ROWS = 8


def n_threads(workers: int | None) -> int:
    """Number of threads for ``workers``, read as :mod:`scipy.fft` reads it.

    None means the current default of :mod:`scipy.fft` (1 unless changed with
    :func:`scipy.fft.set_workers`); a negative value counts back from the number of CPUs
    (-1: all of them).
    """
    if workers is None:
        workers = sfft.get_workers()
    workers = int(workers)
    if workers < 0:
        workers = (os.cpu_count() or 1) + 1 + workers
    if workers < 1:
        raise ValueError(f"workers must be a positive number of threads or negative "
                         f"(counting back from the CPUs), got {workers}")
    return workers


def run_tasks(fn: Callable[[Any], Any], items: Iterable[Any], threads: int) -> list[Any]:
    """``[fn(item) for item in items]``, on ``threads`` threads when more than one.

    The heavy work of the tasks (NumPy element-wise loops and pocketfft) releases the
    GIL, so the threads run in parallel; results come back in the order of ``items``.
    """
    items = list(items)
    if threads <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(threads, len(items))) as pool:
        return list(pool.map(fn, items))


def block_rows(n_rows: int, row_bytes: int, chunk_bytes: int) -> int:
    """Rows of one FFT block within ``min(chunk_bytes, _BLOCK_BYTES)``, at least one."""
    budget = min(int(chunk_bytes), _BLOCK_BYTES)
    return int(max(1, min(_MAX_BLOCK_ROWS, n_rows, budget // max(row_bytes, 1))))


@dataclass(frozen=True, eq=False)
class _SmoothGroup:
    """Band rows smoothed together, on the frequency bins that matter for all of them."""

    band0: int   # band rows band0:band1 (0 = grid.band_start)
    band1: int
    src0: int    # computed rows src0:src1 (0 = grid.row_start) feeding them
    src1: int
    n_pos: int   # bins 0..n_pos-1 ...
    n_neg: int   # ... and -1..-n_neg (complex input only)
    filt: np.ndarray  # (src1 - src0, 2, n_pos): time filter * 1/scale at bins +j and -j


class SmoothPlan:
    """Frequency-domain smoothing of ``smoothwavelet.m`` organised for batched use.

    Same operator as :func:`smooth_wavelet` with ``weights = 1 / scale``: a Gaussian of
    standard deviation ``scale`` applied by FFT over ``grid.n_smooth`` points, then the
    boxcar in scale applied to the filtered spectra, then the inverse FFT of the band's
    rows only. The filter of each row is a Gaussian in frequency whose width is
    proportional to ``1 / scale``; bins where it is below ``1e-24`` are skipped. Band
    rows are smoothed in groups (about an octave each) so that each group handles only
    the bins where some row feeding it (the row and its scale-smoothing neighbours) has
    a filter weight of at least ``1e-24``; the dropped terms are negligible next to the
    round-off of the FFTs themselves.

    Spectra are kept compactly as ``Z[..., row, sign, j]``: ``sign`` 0 holds bin ``j``,
    sign 1 holds bin ``-j`` (``m - j``), for ``0 <= j < width``; ``Z[..., 1, 0]`` is unused.
    """

    def __init__(self, grid: WaveletGrid):
        m = grid.n_smooth
        self.grid = grid
        self.n, self.m = grid.n_times, m
        self.n_rows, self.n_band = grid.n_rows, grid.n_band_rows
        self.b0 = grid.band_start - grid.row_start
        kernel = grid.scale_kernel.astype(grid.real_dtype)
        self.half = (kernel.size - 1) // 2
        self.kernel = [(t, w) for t, w in enumerate(kernel) if w != 0]
        real_t = grid.real_dtype
        sinv = np.asarray(1.0 / grid.scale[grid.rows], dtype=real_t)
        tf = grid.time_filter
        max_pos, max_neg = m // 2 + 1, (m - 1) // 2
        sig = tf[:, :max_pos] >= _FILTER_FLOOR
        k_row = np.where(sig.any(axis=1), max_pos - np.argmax(sig[:, ::-1], axis=1), 1)
        groups = []
        i = 0
        while i < self.n_band:
            start = i
            need = self._need(k_row, i)
            while i < self.n_band and 2 * self._need(k_row, i) > need:
                i += 1
            src0 = max(0, start + self.b0 - self.half)
            src1 = min(self.n_rows, i - 1 + self.b0 + self.half + 1)
            n_pos, n_neg = min(need, max_pos), min(need - 1, max_neg)
            filt = np.zeros((src1 - src0, 2, n_pos), dtype=real_t)
            filt[:, 0, :] = tf[src0:src1, :n_pos]
            if n_neg > 0:
                filt[:, 1, 1:n_neg + 1] = tf[src0:src1, m - 1:m - 1 - n_neg:-1]
            # as smooth_wavelet: filter and weights multiplied in the grid's precision
            filt *= sinv[src0:src1, None, None]
            filt.setflags(write=False)
            groups.append(_SmoothGroup(start, i, src0, src1, n_pos, n_neg, filt))
        self.groups = groups
        self.width = max(g.n_pos for g in groups)
        self.n_neg = max(g.n_neg for g in groups)

    def _need(self, k_row: np.ndarray, i: int) -> int:
        lo = max(0, i + self.b0 - self.half)
        hi = min(self.n_rows, i + self.b0 + self.half + 1)
        return int(k_row[lo:hi].max())

    def gather(self, F: np.ndarray, Z: np.ndarray, complex_input: bool) -> None:
        """Copy the bins that matter of FFTs ``F[..., m]`` into ``Z[..., 2, width]``."""
        Z[..., 0, :] = F[..., :self.width]
        if complex_input and self.n_neg > 0:
            Z[..., 1, 1:self.n_neg + 1] = F[..., self.m - 1:self.m - 1 - self.n_neg:-1]

    def smooth(self, g: _SmoothGroup, Z: np.ndarray, signs: int) -> np.ndarray:
        """Filter and scale-smooth the computed rows of ``Z`` into group ``g``'s band rows.

        ``Z`` has shape (..., n_rows, 2, width); the result (..., band1 - band0, signs,
        g.n_pos), with ``signs`` 2 for complex input and 1 for real input.
        """
        src = Z[..., g.src0:g.src1, :signs, :g.n_pos] * g.filt[:, :signs, :]
        ns, nb = g.src1 - g.src0, g.band1 - g.band0
        out = np.zeros(src.shape[:-3] + (nb,) + src.shape[-2:], dtype=src.dtype)
        for t, w in self.kernel:
            # out[i] += w * values[b0 + i + t - half], rows outside the full grid are zero
            shift = g.band0 + self.b0 + t - self.half - g.src0
            i0, i1 = max(0, -shift), min(nb, ns - shift)
            if i1 > i0:
                out[..., i0:i1, :, :] += w * src[..., i0 + shift:i1 + shift, :, :]
        return out

    def scatter(self, g: _SmoothGroup, Y: np.ndarray, buf: np.ndarray) -> None:
        """Write smoothed spectra ``Y[..., 2, n_pos]`` into the zero FFT buffer ``buf``."""
        buf[..., :g.n_pos] = Y[..., 0, :]
        if g.n_neg > 0 and buf.shape[-1] == self.m:
            buf[..., self.m - g.n_neg:] = Y[..., 1, g.n_neg:0:-1]

    def clear(self, g: _SmoothGroup, buf: np.ndarray) -> None:
        """Zero again what :meth:`scatter` wrote."""
        buf[..., :g.n_pos] = 0
        if g.n_neg > 0 and buf.shape[-1] == self.m:
            buf[..., self.m - g.n_neg:] = 0


_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PLANS_LOCK = threading.Lock()


def smooth_plan(grid: WaveletGrid) -> SmoothPlan:
    """The :class:`SmoothPlan` of ``grid``, built once per grid."""
    with _PLANS_LOCK:
        plan = _PLANS.get(grid)
        if plan is None:
            plan = _PLANS[grid] = SmoothPlan(grid)
        return plan


class _ChannelTransform:
    """Wavelet transforms (and optionally smoothed auto-spectra) of channels into arrays.

    One channel at a time per thread, a block of rows at a time: the rows' transform
    ``ifft(fft(x) * daughter)`` is written to ``W[c]``; with ``S``, its power is
    transformed while still in cache, and after the last block the channel's band rows
    are smoothed into ``S[c]`` (``S(|W|^2 / scale)``, as ``smoothwavelet.m``).
    """

    def __init__(self, grid: WaveletGrid, W: np.ndarray, S: np.ndarray | None,
                 chunk_bytes: int):
        self.grid, self.W, self.S = grid, W, S
        self.plan = smooth_plan(grid) if S is not None else None
        cb = np.dtype(grid.complex_dtype).itemsize
        self.rows = block_rows(grid.n_rows, grid.n_fft * cb, chunk_bytes)
        self.local = threading.local()

    def _buffers(self):
        loc = self.local
        if not hasattr(loc, "cbuf"):
            g = self.grid
            loc.cbuf = np.zeros((self.rows, g.n_fft), dtype=g.complex_dtype)
            if self.S is not None:
                plan = self.plan
                loc.pbuf = np.zeros((self.rows, plan.m), dtype=g.real_dtype)
                loc.Z = np.zeros((g.n_rows, 1, plan.width), dtype=g.complex_dtype)
                loc.ibuf = np.zeros((self.rows, plan.m // 2 + 1), dtype=g.complex_dtype)
        return loc

    def run(self, x: np.ndarray, threads: int) -> None:
        g = self.grid
        x = x - x.mean(axis=1, keepdims=True)
        x = x.astype(g.real_dtype, copy=False)
        f = sfft.rfft(x, n=g.n_fft, axis=-1, workers=threads)  # (C, n_fft//2+1)
        run_tasks(lambda c: self.channel(c, f[c]), range(x.shape[0]), threads)

    def channel(self, c: int, f: np.ndarray) -> None:
        g, loc = self.grid, self._buffers()
        n, n_pos, R = g.n_times, f.shape[-1], self.rows
        cbuf = loc.cbuf  # columns n_pos: stay zero (negative frequencies)
        for r0 in range(0, g.n_rows, R):
            q = min(R, g.n_rows - r0)
            np.multiply(f[None, :], g.daughter[r0:r0 + q], out=cbuf[:q, :n_pos])
            w = sfft.ifft(cbuf[:q], axis=-1, workers=1)[:, :n]
            self.W[c, r0:r0 + q] = w
            if self.S is not None:
                pbuf = loc.pbuf  # columns n: stay zero (padding of the smoothing FFT)
                np.multiply(w.real, w.real, out=pbuf[:q, :n])
                pbuf[:q, :n] += w.imag**2
                F = sfft.rfft(pbuf[:q], axis=-1, workers=1)
                self.plan.gather(F, loc.Z[r0:r0 + q], complex_input=False)
        if self.S is None:
            return
        plan, ibuf = self.plan, loc.ibuf
        for grp in plan.groups:
            Y = plan.smooth(grp, loc.Z, signs=1)
            for k0 in range(0, grp.band1 - grp.band0, R):
                k1 = min(k0 + R, grp.band1 - grp.band0)
                q = k1 - k0
                plan.scatter(grp, Y[k0:k1], ibuf[:q])
                s = sfft.irfft(ibuf[:q], n=plan.m, axis=-1, workers=1)
                plan.clear(grp, ibuf[:q])
                self.S[c, grp.band0 + k0:grp.band0 + k1] = s[:, :n]
