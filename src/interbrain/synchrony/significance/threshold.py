"""What a significance threshold of wavelet coherence is, and what identifies it.

A :class:`SignificanceThreshold` holds, per scale of a grid's band, the quantile of
the coherence of AR(1) red-noise surrogate pairs; :func:`threshold_key` is what it
depends on (the rounded, ordered AR(1) coefficients, the grid and the Monte Carlo
options), under which :class:`~interbrain.synchrony.significance.ThresholdCache`
keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._check import check_int
from ..wavelet.grid import WaveletGrid
from .ar1 import quantize_ar1

#: Bins per scale of the coherence histogram from which the quantile is read.
HISTOGRAM_BINS = 2**14

#: Version of the method; part of every cache key (bump when the numbers change).
_METHOD_VERSION = 1

#: Minimum number of surrogate pairs.
MIN_SURROGATES = 10


@dataclass(frozen=True, eq=False)
class SignificanceThreshold:
    """Per-scale significance level of wavelet coherence against AR(1) noise.

    Attributes
    ----------
    period : numpy.ndarray, shape (n_band_rows,)
        Fourier period of each scale of the grid's band, in seconds
        (``grid.band_period``).
    scale : numpy.ndarray, shape (n_band_rows,)
        Wavelet scale of each of these scales, in seconds.
    threshold : numpy.ndarray, float64, shape (n_band_rows,)
        The ``quantile`` of the squared coherence of the surrogate pairs over all their
        cells outside the cone of influence, per scale, in (0, 1]; NaN for a scale
        without such cells. Coherence above it is significant.
    ar1 : (float, float)
        The rounded AR(1) coefficients simulated, in ascending order.
    n_surrogates : int
        Number of surrogate pairs.
    quantile : float
        Quantile level, e.g. 0.95 for a 5 % test.
    seed : int
        Seed of the random number generator.
    n_times : int
        Samples of each surrogate (the recording length).
    dt : float
        Sampling interval in seconds.
    grid_key : tuple
        :attr:`WaveletGrid.key` of the grid it was computed on.
    """

    period: np.ndarray = field(repr=False)
    scale: np.ndarray = field(repr=False)
    threshold: np.ndarray
    ar1: tuple[float, float]
    n_surrogates: int
    quantile: float
    seed: int
    n_times: int
    dt: float
    grid_key: tuple = field(repr=False)

    def exceeds(self, coherence: np.ndarray) -> np.ndarray:
        """Whether each cell's coherence is above this scale's threshold.

        Parameters
        ----------
        coherence : numpy.ndarray, shape (..., n_band_rows, n_times)

        Returns
        -------
        numpy.ndarray of bool, same shape
        """
        coherence = np.asarray(coherence)
        if coherence.ndim < 2 or coherence.shape[-2] != self.threshold.size:
            raise ValueError(f"coherence must have shape (..., {self.threshold.size}, "
                             f"n_times) to match the threshold's scales, got "
                             f"{coherence.shape}")
        return coherence > self.threshold[:, None]


def threshold_key(ar1_a: float, ar1_b: float, grid: WaveletGrid, *, n_surrogates: int = 300,
                  quantile: float = 0.95, seed: int = 0, ar1_digits: int = 2) -> tuple:
    """Cache key of a threshold: rounded, ordered coefficients, grid and Monte Carlo options.

    Parameters
    ----------
    ar1_a, ar1_b : float
        Lag-1 AR coefficients in ``[0, 1)``; rounded with :func:`quantize_ar1`.
    grid : WaveletGrid
    n_surrogates, quantile, seed, ar1_digits
        As in :func:`coherence_threshold`.

    Returns
    -------
    tuple
        Hashable, made of Python scalars and strings (its ``repr`` names the disk file).
    """
    g = sorted((quantize_ar1(ar1_a, ar1_digits), quantize_ar1(ar1_b, ar1_digits)))
    n_surrogates, quantile, seed = check_monte_carlo(n_surrogates, quantile, seed)
    return ("wtc-significance", _METHOD_VERSION, HISTOGRAM_BINS, g[0], g[1],
            tuple(grid.key), n_surrogates, quantile, seed)


def check_monte_carlo(n_surrogates: Any, quantile: Any, seed: Any) -> tuple[int, float, int]:
    """The Monte Carlo options of :func:`~interbrain.synchrony.significance.coherence_threshold`.

    Parameters
    ----------
    n_surrogates : int
        At least :data:`MIN_SURROGATES` (Grinsted uses 300).
    quantile : float
        In (0, 1).
    seed : int
        At least 0 (it is part of the cache key).

    Returns
    -------
    (int, float, int)
        The three, as Python numbers.

    Raises
    ------
    ValueError
        Naming the first invalid option.
    """
    n_surrogates = check_int(n_surrogates, "n_surrogates", minimum=MIN_SURROGATES)
    try:
        q = float(quantile)
    except (TypeError, ValueError):
        raise ValueError(f"quantile must be a number in (0, 1), got {quantile!r}") from None
    if not (0.0 < q < 1.0):
        raise ValueError(f"quantile must be in (0, 1) (0.95 for a 5 % test), got {quantile!r}")
    return n_surrogates, q, check_int(seed, "seed", minimum=0)
