"""The fraction of a pair's band coherence above its AR(1) significance threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..coherence import pair_coherence
from ..spectra import channel_spectra
from ..wavelet.grid import WaveletGrid
from .ar1 import ar1_coefficient
from .cache import ThresholdCache
from .monte_carlo import coherence_threshold
from .threshold import SignificanceThreshold


def significant_fraction(coherence: Any, threshold: SignificanceThreshold | Any,
                         valid: Any) -> Any:
    """Fraction of in-band cells outside the cone of influence above the threshold.

    Parameters
    ----------
    coherence : array_like, shape (..., n_band_rows, n_times)
        Squared coherence of the band's scales, e.g. from
        :func:`~interbrain.synchrony.coherence.pair_coherence`.
    threshold : SignificanceThreshold or array_like, shape (n_band_rows,)
        Significance level per scale.
    valid : array_like of bool, shape (n_band_rows, n_times)
        Cells to count, normally ``grid.valid`` (in band and outside the cone of
        influence).

    Returns
    -------
    float or numpy.ndarray, shape (...)
        Fraction (0-1) of the ``valid`` cells whose coherence exceeds its scale's
        threshold; NaN coherence counts as not significant. Under the null hypothesis
        it is about ``1 - quantile`` on average.

    Raises
    ------
    ValueError
        Mismatched shapes or no valid cell.
    """
    coh = np.asarray(coherence)
    thr = np.asarray(threshold.threshold if isinstance(threshold, SignificanceThreshold)
                     else threshold, dtype=np.float64)
    mask = np.asarray(valid)
    if mask.dtype != bool:
        raise ValueError(f"valid must be a boolean mask, got dtype {mask.dtype}")
    if coh.ndim < 2 or mask.shape != coh.shape[-2:] or thr.shape != (coh.shape[-2],):
        raise ValueError(f"coherence (..., n_band_rows, n_times) {coh.shape}, threshold "
                         f"(n_band_rows,) {thr.shape} and valid (n_band_rows, n_times) "
                         f"{mask.shape} do not match")
    n_cells = int(mask.sum())
    if n_cells == 0:
        raise ValueError("valid selects no cell (recording too short for the band?)")
    above = coh > thr[:, None]
    frac = (above & mask).sum(axis=(-2, -1)) / n_cells
    return float(frac) if np.ndim(frac) == 0 else frac


@dataclass(frozen=True)
class BandSignificance:
    """Band coherence of one pair and how much of it is significant.

    Attributes
    ----------
    coherence : float
        Mean squared coherence over the band's cells outside the cone of influence.
    fraction : float
        Fraction of those cells above the significance threshold (0-1).
    ar1 : (float, float)
        Lag-1 AR coefficients used for ``x`` and ``y`` (estimated or given, before
        rounding).
    threshold : SignificanceThreshold
        The per-scale threshold.
    """

    coherence: float
    fraction: float
    ar1: tuple[float, float]
    threshold: SignificanceThreshold


def band_significance(x: Any, y: Any, dt: float, *, band: tuple[float, float],
                      ar1: tuple[float, float] | None = None, n_surrogates: int = 300,
                      quantile: float = 0.95, seed: int = 0, ar1_digits: int = 2,
                      cache: ThresholdCache | None = None, dj: float = 1 / 12,
                      s0: float | None = None, j1: int | None = None,
                      max_scale: float | None = None, pad: bool = True,
                      dtype: str = "float64", workers: int | None = None) -> BandSignificance:
    """Band coherence of two series and the fraction of it above the AR(1) threshold.

    Builds the band-restricted grid, estimates each series' AR(1) coefficient with
    :func:`ar1_coefficient` (unless given), gets the threshold from ``cache`` or
    computes it with :func:`coherence_threshold`, and evaluates the pair's coherence.

    Parameters
    ----------
    x, y : array_like, shape (n_times,)
        The two series, sampled every ``dt`` seconds, finite.
    dt : float
        Sampling interval in seconds.
    band : (float, float)
        Shortest and longest period in seconds.
    ar1 : (float, float), optional
        Lag-1 AR coefficients of ``x`` and ``y`` in ``[0, 1)``; estimated if omitted.
    n_surrogates, quantile, seed, ar1_digits, cache
        As in :func:`coherence_threshold`.
    dj, s0, j1, max_scale, pad, dtype
        Wavelet options, as in :meth:`WaveletGrid.build`.
    workers : int, optional
        Threads of :mod:`scipy.fft`.

    Returns
    -------
    BandSignificance

    Raises
    ------
    ValueError
        Series of different lengths or with NaN, a recording too short for the band,
        or an AR(1) estimate outside ``[0, 1)`` (pass ``ar1`` explicitly then).
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.ndim != 1 or ya.ndim != 1 or xa.size != ya.size:
        raise ValueError(f"x and y must be 1-D series of the same length, got shapes "
                         f"{xa.shape} and {ya.shape}")
    grid = WaveletGrid.build(xa.size, dt, dj=dj, s0=s0, j1=j1, max_scale=max_scale, pad=pad,
                             band=band, dtype=dtype)
    if ar1 is None:
        ar1 = (ar1_coefficient(xa)[0], ar1_coefficient(ya)[0])
    g = (float(ar1[0]), float(ar1[1]))
    thr = coherence_threshold(dt, xa.size, g[0], g[1], grid=grid, n_surrogates=n_surrogates,
                              quantile=quantile, seed=seed, ar1_digits=ar1_digits,
                              cache=cache, workers=workers)
    spec = channel_spectra(np.stack([xa, ya]), grid, workers=workers)
    coh = pair_coherence(spec, spec, [(0, 1)], workers=workers)[0]
    mean = float(coh[grid.valid].mean(dtype=np.float64))
    return BandSignificance(coherence=mean,
                            fraction=significant_fraction(coh, thr, grid.valid),
                            ar1=g, threshold=thr)
