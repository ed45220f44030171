"""AR(1) red noise: the lag-1 coefficient of ``ar1nv.m`` and red-noise surrogates.

The null model of Grinsted's ``wtcsignif.m``: two independent stationary AR(1)
processes with the observed lag-1 autocorrelations. :func:`ar1_coefficient` estimates
them, :func:`quantize_ar1` rounds them for the cache key and the simulation, and
:func:`ar1_surrogates` draws pairs of series (the ones
:func:`~interbrain.synchrony.significance.coherence_threshold` uses).
"""

from __future__ import annotations

import decimal
import math
from typing import Any

import numpy as np
from scipy.signal import lfilter

from ..._check import as_generator


def ar1_coefficient(x: Any, *, axis: int = -1) -> tuple[Any, Any]:
    """Lag-1 autoregressive coefficient and innovation standard deviation (``ar1nv.m``).

    The estimator of ``ar1nv.m`` (Eric Breitenberger), which ``wtc.m`` uses by
    default: with the de-meaned series ``x`` of ``N`` samples,
    ``c0 = sum(x**2) / N``, ``c1 = sum(x[:-1] * x[1:]) / (N - 1)``, ``g = c1 / c0`` and
    ``a = sqrt((1 - g**2) * c0)``.

    Parameters
    ----------
    x : array_like, shape (..., n_times) for ``axis=-1``
        Finite samples; one series per position along the other axes.
    axis : int, default -1
        The time axis.

    Returns
    -------
    g : float or numpy.ndarray
        Lag-1 autocorrelation estimate (dimensionless; shape of ``x`` without ``axis``,
        a float for a 1-D series). It can fall slightly outside ``(-1, 1)`` for short
        or strongly trending series.
    a : float or numpy.ndarray
        Standard deviation of the innovations, in the units of ``x`` (0 where
        ``|g| >= 1``).

    Raises
    ------
    ValueError
        Fewer than 3 samples, NaN or infinite samples, or a constant series.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        raise ValueError("x must be a series of samples, got a scalar")
    arr = np.moveaxis(arr, axis, -1)
    n = arr.shape[-1]
    if n < 3:
        raise ValueError(f"an AR(1) estimate needs at least 3 samples, got {n}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("x contains NaN or infinite samples; interpolate or drop them first")
    arr = arr - arr.mean(axis=-1, keepdims=True)
    c0 = np.einsum("...t,...t->...", arr, arr) / n
    c1 = np.einsum("...t,...t->...", arr[..., :-1], arr[..., 1:]) / (n - 1)
    if np.any(c0 <= 0):
        raise ValueError("x is constant (zero variance); its AR(1) coefficient is undefined")
    g = c1 / c0
    a = np.sqrt(np.maximum(1.0 - g**2, 0.0) * c0)
    if g.ndim == 0:
        return float(g), float(a)
    return g, a


def check_ar1(g: Any, name: str) -> float:
    """``g`` as a lag-1 AR coefficient in ``[0, 1)``, or a ValueError naming ``name``."""
    try:
        g = float(g)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1), got {g!r}") from None
    if not (math.isfinite(g) and 0.0 <= g < 1.0):
        raise ValueError(f"{name} (lag-1 AR coefficient) must be in [0, 1), got {g}; a "
                         "negative estimate means the series is not red noise: pass a "
                         "coefficient in [0, 1) explicitly (0 for white noise)")
    return g


def quantize_ar1(g: float, digits: int = 2) -> float:
    """Round an AR(1) coefficient for the cache key (and the simulation).

    ``1 - g`` is rounded to ``digits`` significant digits: for ``g <= 0.9`` this is
    rounding ``g`` to ``digits`` decimals (0.734 -> 0.73), and closer to 1 it keeps the
    decorrelation time ``-dt / log(g)`` to about ``10**(1 - digits)`` relative precision
    (0.99537 -> 0.9954, 0.99951 -> 0.99951), which plain rounding to decimals would
    lump together or round up to 1.

    Parameters
    ----------
    g : float
        Lag-1 AR coefficient in ``[0, 1)``.
    digits : int, default 2
        Significant digits of ``1 - g`` kept (at least 1).

    Returns
    -------
    float
        The rounded coefficient, in ``[0, 1)``.

    Raises
    ------
    ValueError
        ``g`` outside ``[0, 1)`` or ``digits < 1``.
    """
    g = check_ar1(g, "ar1")
    if int(digits) != digits or digits < 1:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    rest = decimal.Decimal(f"{1.0 - g:.{int(digits) - 1}e}")
    return float(decimal.Decimal(1) - rest)


def _red_noise(innovations: np.ndarray, g: float) -> np.ndarray:
    """Stationary AR(1) series ``x[t] = g x[t-1] + e[t]`` along the last axis (in place)."""
    innovations[..., 0] /= math.sqrt(1.0 - g * g)
    return lfilter([1.0], [1.0, -g], innovations, axis=-1)


def red_noise_pairs(rng: np.random.Generator, n_pairs: int, n_times: int, g_a: float,
                    g_b: float) -> np.ndarray:
    """The next ``n_pairs`` surrogate pairs from ``rng``, shape (n_pairs, 2, n_times)."""
    e = rng.standard_normal((n_pairs, 2, n_times))
    out = np.empty_like(e)
    out[:, 0] = _red_noise(e[:, 0], g_a)
    out[:, 1] = _red_noise(e[:, 1], g_b)
    return out


def ar1_surrogates(ar1_a: float, ar1_b: float, n_times: int, n_surrogates: int, *,
                   seed: int = 0) -> np.ndarray:
    """Pairs of independent stationary AR(1) series with unit innovations.

    These are exactly the surrogates :func:`coherence_threshold` uses for the same
    (already rounded and ordered) coefficients and seed, drawn all at once; it draws
    them a chunk at a time from the same stream, which gives identical series.

    Parameters
    ----------
    ar1_a, ar1_b : float
        Lag-1 AR coefficients in ``[0, 1)`` of the first and second series of each pair.
    n_times : int
        Samples per series.
    n_surrogates : int
        Number of pairs.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    numpy.ndarray, float64, shape (n_surrogates, 2, n_times)
        ``[k, 0]`` and ``[k, 1]`` are the two series of pair ``k`` (dimensionless).
    """
    g_a = check_ar1(ar1_a, "ar1_a")
    g_b = check_ar1(ar1_b, "ar1_b")
    if int(n_times) != n_times or n_times < 1:
        raise ValueError(f"n_times must be a positive integer, got {n_times!r}")
    if int(n_surrogates) != n_surrogates or n_surrogates < 1:
        raise ValueError(f"n_surrogates must be a positive integer, got {n_surrogates!r}")
    rng = as_generator(seed)
    return red_noise_pairs(rng, int(n_surrogates), int(n_times), g_a, g_b)
