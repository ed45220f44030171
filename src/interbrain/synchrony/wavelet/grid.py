"""The wavelet grid: everything the transforms of one recording length share.

A :class:`WaveletGrid` holds what depends only on the recording length, the sampling
interval and the options of ``wtc.m``: scales, periods, cone of influence, the
Fourier-domain Morlet daughters and Gaussian time filters, the scale-smoothing kernel,
and optionally the subset of scales needed for one band of periods, so that the
transforms of many channels can share it and be computed batched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..._check import check_option
from .decimation import largest_step
from .fft import FFTLibrary, fft_library
from .scales import (FOURIER_FACTOR, MORLET_W0, band_row_range, check_band,
                     cone_of_influence, fast_fft_length, fft_length, grid_options, max_coi,
                     min_samples_for_band, scale_smoothing_kernel, wavelet_scales)

#: Gaussian time-filter weights below this are treated as zero. The dropped terms are
#: eight orders of magnitude below the round-off of the FFTs themselves.
FILTER_FLOOR = 1e-24

#: Precision -> (real, complex) types. ``"fast"`` computes like ``"float32"`` and makes
#: :func:`~interbrain.synchrony.band_mean_coherence` run with each scale on its own
#: coarser time grid (:mod:`interbrain.synchrony.multirate`).
_DTYPES = {"float64": (np.float64, np.complex128), "float32": (np.float32, np.complex64),
           "fast": (np.float32, np.complex64)}


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
        ``"float64"``, ``"float32"`` or ``"fast"`` (float32 arithmetic, multirate band
        means): precision of transforms and smoothing.
    band : (float, float) or None
        Shortest and longest period of the band in seconds, if any.
    scale, period : numpy.ndarray, shape (n_scales,)
        Wavelet scale and Fourier period of every scale of the full grid.
    coi : numpy.ndarray, shape (n_times,)
        Cone of influence; a cell is valid (outside the cone) where ``period < coi``.
    n_fft : int
        Length of the (padded) series transformed (with ``"fast"``: the shortest fast
        length with ``FAST_PAD_SCALES`` largest scales of zeros after the series, see
        :func:`~interbrain.synchrony.wavelet.scales.fast_fft_length`).
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
    fft : str
        FFT library of the transforms, ``"scipy"`` or ``"ducc0"``
        (:mod:`~interbrain.synchrony.wavelet.fft`).
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
    fft: str = "scipy"

    @classmethod
    def build(cls, n_times: int, dt: float, *, dj: float = 1 / 12, s0: float | None = None,
              j1: int | None = None, max_scale: float | None = None, pad: bool = True,
              band: tuple[float, float] | None = None, dtype: str = "float64",
              fft: str = "scipy") -> WaveletGrid:
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
        dtype : {"float64", "float32", "fast"}, default "float64"
            Precision of the transforms and the smoothing; ``"fast"`` is float32 with
            band means computed with each scale on a coarser time grid
            (:mod:`interbrain.synchrony.multirate`; within 1e-5 of float64 in the tests).
        fft : {"scipy", "ducc0"}, default "scipy"
            FFT library of the transforms (:mod:`~interbrain.synchrony.wavelet.fft`;
            ``"ducc0"`` is optional and computes the double-precision transforms faster,
            equal to round-off; single precision stays with scipy).

        Returns
        -------
        WaveletGrid

        Raises
        ------
        ValueError
            Invalid options (or an FFT library that is not installed); a band that lies
            outside the grid's periods, that reaches more than one scale step beyond the
            grid, or whose longest period has no cell outside the cone of influence (the
            recording is too short; the message gives the minimum number of samples).
        """
        o = _checked_options(n_times, dt, dj, s0, j1, max_scale, band, dtype, fft)
        n_times, dt, dj, s0, j1, band = o.n_times, o.dt, o.dj, o.s0, o.j1, o.band
        scale, period, kernel = o.scale, o.period, o.kernel
        band_start, band_stop, row_start, row_stop = o.band_rows + o.computed_rows
        real_t, _ = _DTYPES[dtype]
        coi = cone_of_influence(n_times, dt)

        rows = slice(row_start, row_stop)
        n_fft = fft_length(n_times, pad)
        if pad and dtype == "fast":
            # a multiple of every coarse step (:mod:`.coarse`): steps are bounded by the
            # largest computed scale
            n_fft = fast_fft_length(n_times, float(scale[row_stop - 1]), dt,
                                    multiple=largest_step(float(scale[row_stop - 1]) / dt))
        # wave_bases.m: Morlet daughter in Fourier space, zero at k <= 0.
        k_pos = np.arange(1, n_fft // 2 + 1) * ((2.0 * math.pi) / (n_fft * dt))
        k = np.concatenate([[0.0], k_pos])  # the non-negative frequencies, k[1] = 2*pi/(n*dt)
        sc = scale[rows, None]
        norm = np.sqrt(sc * k[1]) * math.pi ** (-0.25) * math.sqrt(n_fft)
        # norm * exp(-((sc * k - w0) ** 2) / 2) * (k > 0), in place in one array (the
        # same operations, so the same values; temporaries of this size are slow to
        # fault in)
        daughter = np.multiply(sc, k)
        daughter -= MORLET_W0
        np.square(daughter, out=daughter)
        np.negative(daughter, out=daughter)
        daughter /= 2.0
        np.exp(daughter, out=daughter)
        np.multiply(norm, daughter, out=daughter)
        daughter[:, 0] = 0.0                      # k = 0

        # smoothwavelet.m: Gaussian of sigma = scale in the Fourier domain.
        n_smooth = 2 ** math.ceil(math.log2(n_times))
        ks = np.arange(1, n_smooth // 2 + 1) * ((2.0 * math.pi) / n_smooth)
        ks = np.concatenate([[0.0], ks, -ks[: (n_smooth - 1) // 2][::-1]])
        snorm = scale[rows, None] / dt
        time_filter = np.multiply(-0.5 * snorm**2, ks**2)
        np.exp(time_filter, out=time_filter)
        significant = np.any(time_filter[:, : n_smooth // 2 + 1] >= FILTER_FLOOR, axis=0)
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
                   time_filter=time_filter, scale_kernel=kernel, valid=valid, fft=fft)

    @classmethod
    def check(cls, n_times: int, dt: float, *, dj: float = 1 / 12, s0: float | None = None,
              j1: int | None = None, max_scale: float | None = None,
              band: tuple[float, float] | None = None, dtype: str = "float64",
              fft: str = "scipy") -> None:
        """Raise the ValueError :meth:`build` would raise for these options, without
        computing the grid (its arrays grow with ``n_times``; this does not).

        Parameters are those of :meth:`build`.
        """
        _checked_options(n_times, dt, dj, s0, j1, max_scale, band, dtype, fft)

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
        """NumPy type of the real arrays (``numpy.float64`` or ``numpy.float32``)."""
        return _DTYPES[self.dtype][0]

    @property
    def complex_dtype(self) -> type:
        """NumPy type of the complex arrays (``numpy.complex128`` or ``numpy.complex64``)."""
        return _DTYPES[self.dtype][1]

    @property
    def fft_lib(self) -> FFTLibrary:
        """The FFT library of the grid's transforms (:attr:`fft`)."""
        return FFTLibrary(self.fft)

    @property
    def key(self) -> tuple:
        """Hashable identity: grids with equal keys give identical transforms (the FFT
        library is part of it where it changes them: ducc0 in float64)."""
        key = (self.n_times, self.dt, self.dj, self.s0, self.j1, self.pad, self.dtype,
               self.row_start, self.row_stop, self.band_start, self.band_stop)
        if self.fft == "scipy" or self.dtype != "float64":
            return key
        return key + (("fft", self.fft),)


@dataclass(frozen=True)
class _Options:
    """The checked options of a grid and its row ranges (:func:`_checked_options`)."""

    n_times: int
    dt: float
    dj: float
    s0: float
    j1: int
    band: tuple[float, float] | None
    scale: np.ndarray
    period: np.ndarray
    kernel: np.ndarray
    band_rows: tuple[int, int]
    computed_rows: tuple[int, int]


def _checked_options(n_times, dt, dj, s0, j1, max_scale, band, dtype, fft) -> _Options:
    """Every check of :meth:`WaveletGrid.build` (ValueError), with nothing of the size of
    the series computed: the scales, the band's rows and the rows computed."""
    check_option(dtype, "dtype", _DTYPES)
    fft_library(fft)
    j1_option = j1
    dj, s0, j1 = grid_options(n_times, dt, dj, s0, j1, max_scale)
    n_times = int(n_times)
    dt = float(dt)
    scale = wavelet_scales(s0, dj, j1)
    period = FOURIER_FACTOR * scale
    kernel = scale_smoothing_kernel(dj)
    half = (kernel.size - 1) // 2
    n_scales = j1 + 1
    if band is None:
        band_rows = computed = (0, n_scales)
    else:
        band = check_band(band)
        band_rows = band_row_range(period, band)
        _validate_band(band, period, band_rows[0], band_rows[1], n_times, dt, dj, s0,
                       j1_option, max_scale)
        computed = (max(0, band_rows[0] - half), min(n_scales, band_rows[1] + half))
    return _Options(n_times, dt, dj, s0, j1, band, scale, period, kernel, band_rows,
                    computed)


def _validate_band(band: tuple[float, float], period: np.ndarray, start: int, stop: int,
                   n_times: int, dt: float, dj: float, s0: float, j1_option: int | None,
                   max_scale: float | None) -> None:
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
    if not period[stop - 1] < max_coi(n_times, dt):     # no cell outside the cone
        raise ValueError(f"at {n_times} samples ({n_times * dt:.6g} s) no cell of the band's "
                         f"longest period {period[stop - 1]:.4g} s lies outside the cone of "
                         f"influence; {need()}")

