"""The Monte Carlo significance level of wavelet coherence (``wtcsignif.m``).

:func:`coherence_threshold` simulates pairs of AR(1) red-noise series
(:mod:`.ar1`), computes their coherence on the analysis grid and reads, per scale,
the quantile of all their cells outside the cone of influence from a histogram
(:func:`surrogate_quantiles`); thresholds are looked up in and stored to an explicit
:class:`~.cache.ThresholdCache`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._check import as_generator, check_int
from ..coherence import PAIR_CHUNK_BYTES, iter_pair_coherence
from ..spectra import channel_spectra
from ..wavelet.grid import WaveletGrid
from ..wavelet.transform import DEFAULT_CHUNK_BYTES
from .ar1 import check_ar1, red_noise_pairs
from .cache import ThresholdCache
from .threshold import HISTOGRAM_BINS, SignificanceThreshold, check_monte_carlo, threshold_key


def _histogram_quantile(counts: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` per row of a histogram over [0, 1], linear inside the bin."""
    n_rows, n_bins = counts.shape
    total = counts.sum(axis=1)
    cum = np.cumsum(counts, axis=1)
    out = np.full(n_rows, np.nan)
    for r in np.flatnonzero(total > 0):
        target = q * total[r]
        j = int(np.searchsorted(cum[r], target, side="left"))
        below = cum[r, j] - counts[r, j]
        out[r] = (j + (target - below) / counts[r, j]) / n_bins
    return out


def surrogate_quantiles(g_a: float, g_b: float, grid: WaveletGrid, n_surrogates: int,
                        quantile: float, seed: int, *, workers: int | None,
                        chunk_bytes: int) -> np.ndarray:
    """Per-scale quantile of the coherence of red-noise pairs outside the cone of influence.

    Parameters
    ----------
    g_a, g_b : float
        Lag-1 AR coefficients simulated (already rounded and ordered).
    grid : WaveletGrid
        The analysis grid; only its band's scales are computed.
    n_surrogates : int
        Surrogate pairs, drawn a chunk at a time from ``numpy.random.default_rng(seed)``.
    quantile : float
        Quantile level in (0, 1).
    seed : int
    workers : int or None
        Threads of :mod:`scipy.fft`.
    chunk_bytes : int
        Budget in bytes of one chunk of surrogates, transforms and spectra.

    Returns
    -------
    numpy.ndarray, float64, shape (n_band_rows,)
        NaN for a scale without a cell outside the cone of influence.
    """
    n, nb, n_bins = grid.n_times, grid.n_band_rows, HISTOGRAM_BINS
    valid = grid.valid
    n_valid = valid.sum(axis=1)
    # Histogram bin offset of every valid cell, in the row-major order of coh[valid].
    offsets = np.repeat(np.arange(nb, dtype=np.intp) * n_bins, n_valid)
    counts = np.zeros(nb * n_bins, dtype=np.int64)
    cb = np.dtype(grid.complex_dtype).itemsize
    rb = np.dtype(grid.real_dtype).itemsize
    # What one surrogate pair holds while its chunk is alive: innovations and series
    # (float64), two transforms and two smoothed spectra.
    per_pair = 2 * n * (2 * 8 + grid.n_rows * cb + nb * rb)
    step = int(max(1, min(n_surrogates, chunk_bytes // max(per_pair, 1))))
    rng = as_generator(seed)
    for start in range(0, n_surrogates, step):
        k = min(step, n_surrogates - start)
        x = red_noise_pairs(rng, k, n, g_a, g_b)
        spec_a = channel_spectra(x[:, 0], grid, workers=workers, chunk_bytes=chunk_bytes)
        spec_b = channel_spectra(x[:, 1], grid, workers=workers, chunk_bytes=chunk_bytes)
        del x
        diagonal = np.repeat(np.arange(k, dtype=np.intp)[:, None], 2, axis=1)
        for _, coh in iter_pair_coherence(spec_a, spec_b, diagonal, workers=workers,
                                          chunk_bytes=PAIR_CHUNK_BYTES):
            cells = coh[:, valid]  # (m, sum(n_valid)), row-major per pair
            if not np.all(np.isfinite(cells)):
                raise FloatingPointError("non-finite surrogate coherence; this should not "
                                         "happen for AR(1) noise")
            idx = (cells * n_bins).astype(np.intp)
            np.clip(idx, 0, n_bins - 1, out=idx)
            idx += offsets
            counts += np.bincount(idx.ravel(), minlength=nb * n_bins)
    return _histogram_quantile(counts.reshape(nb, n_bins), quantile)


def _resolve_grid(dt: float, n_times: int, grid: WaveletGrid | None,
                  options: dict[str, Any]) -> WaveletGrid:
    given = {k: v for k, v in options.items() if v is not None}
    if grid is not None:
        if not isinstance(grid, WaveletGrid):
            raise ValueError(f"grid must be a WaveletGrid, got {type(grid).__name__}")
        if given:
            raise ValueError(f"give either grid or grid options, not both (got grid and "
                             f"{', '.join(sorted(given))})")
        if grid.n_times != n_times or grid.dt != float(dt):
            raise ValueError(f"the grid was built for {grid.n_times} samples at dt="
                             f"{grid.dt:g} s, but n_times={n_times} and dt={float(dt):g} s "
                             "were given")
        return grid
    given.setdefault("dj", 1 / 12)
    given.setdefault("dtype", "float64")
    return WaveletGrid.build(n_times, dt, **given)


def coherence_threshold(dt: float, n_times: int, ar1_a: float, ar1_b: float, *,
                        grid: WaveletGrid | None = None,
                        band: tuple[float, float] | None = None, dj: float | None = None,
                        s0: float | None = None, j1: int | None = None,
                        max_scale: float | None = None, pad: bool | None = None,
                        dtype: str | None = None, n_surrogates: int = 300,
                        quantile: float = 0.95, seed: int = 0, ar1_digits: int = 2,
                        cache: ThresholdCache | None = None, workers: int | None = None,
                        chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> SignificanceThreshold:
    """Monte Carlo significance level of wavelet coherence, per scale (``wtcsignif.m``).

    Simulates ``n_surrogates`` pairs of independent stationary AR(1) series of
    ``n_times`` samples with coefficients ``ar1_a`` and ``ar1_b`` (rounded with
    :func:`quantize_ar1`), computes their wavelet coherence on the grid and returns,
    per scale, the ``quantile`` of the coherence over all pairs and all cells outside
    the cone of influence (Grinsted et al. 2004, Sec. 4; Torrence & Compo 1998 for the
    red-noise model). The module docstring lists the deliberate differences from
    ``wtcsignif.m``.

    Parameters
    ----------
    dt : float
        Sampling interval in seconds.
    n_times : int
        Samples of the recording (and of each surrogate).
    ar1_a, ar1_b : float
        Lag-1 AR coefficients in ``[0, 1)`` of the two series, e.g. from
        :func:`ar1_coefficient`. The order does not matter.
    grid : WaveletGrid, optional
        The analysis grid (built for ``n_times`` and ``dt``). Give it, or the grid
        options below, not both.
    band, dj, s0, j1, max_scale, pad, dtype
        Options of :meth:`WaveletGrid.build` (defaults as there: ``dj = 1/12``,
        ``s0 = 2 dt``, ``pad = True``, ``dtype = "float64"``). With a ``band`` (in
        seconds) only its scales are computed, which is much faster.
    n_surrogates : int, default 300
        Number of surrogate pairs (at least 10).
    quantile : float, default 0.95
        Quantile level in (0, 1); 0.95 gives Grinsted's 5 % significance level.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`: the same inputs give the same
        threshold.
    ar1_digits : int, default 2
        Significant digits of ``1 - g`` kept when rounding the coefficients (two
        decimals for ``g <= 0.9``), see :func:`quantize_ar1`.
    cache : ThresholdCache, optional
        Where to look the threshold up and store it. Without one it is always computed.
    workers : int, optional
        Threads of :mod:`scipy.fft`.
    chunk_bytes : int
        Budget in bytes of the surrogates, transforms and spectra of one chunk of
        surrogate pairs (default 256 MiB).

    Returns
    -------
    SignificanceThreshold
        ``threshold`` of shape (n_band_rows,) for the scales ``grid.band_period``
        (all scales without a band). From a cache, the identical object is returned.

    Raises
    ------
    ValueError
        An AR coefficient outside ``[0, 1)``, ``n_surrogates < 10``, ``quantile``
        outside ``(0, 1)``, a negative or non-integer ``seed``, a grid that does not
        match ``n_times`` and ``dt``, both a grid and grid options, or invalid grid
        options (e.g. a recording too short for the band).
    """
    g_a = check_ar1(ar1_a, "ar1_a")
    g_b = check_ar1(ar1_b, "ar1_b")
    n_surrogates, quantile, seed = check_monte_carlo(n_surrogates, quantile, seed)
    n_times = check_int(n_times, "n_times")
    grid = _resolve_grid(dt, n_times, grid, dict(band=band, dj=dj, s0=s0, j1=j1,
                                                 max_scale=max_scale, pad=pad, dtype=dtype))
    key = threshold_key(g_a, g_b, grid, n_surrogates=n_surrogates, quantile=quantile,
                        seed=seed, ar1_digits=ar1_digits)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    q_a, q_b = key[3], key[4]
    thr = surrogate_quantiles(q_a, q_b, grid, n_surrogates, quantile, seed, workers=workers,
                              chunk_bytes=int(chunk_bytes))
    period = np.array(grid.band_period)
    scale = np.array(grid.band_scale)
    for arr in (period, scale, thr):
        arr.setflags(write=False)
    result = SignificanceThreshold(period=period, scale=scale, threshold=thr, ar1=(q_a, q_b),
                                   n_surrogates=n_surrogates, quantile=quantile, seed=seed,
                                   n_times=grid.n_times, dt=grid.dt, grid_key=tuple(grid.key))
    if cache is not None:
        cache.put(key, result)
    return result
