"""Sums over every sample from every ``step``-th sample: the quadrature of multirate coherence.

A smoothed wavelet cross-spectrum at scale ``s`` is band-limited to a few cycles per
``s``: sampled every ``step`` samples with ``step`` well below ``s / dt``, it loses
nothing. :func:`sum_weights` gives the weights ``w`` with
``sum(f[a:b]) ~= sum(w * f[::step])`` for such a smooth ``f``: ``step`` in the interior
(exact for a series band-limited below ``1 / step`` cycles per sample: the Poisson
summation formula) and local interpolation stencils of ``order`` points at the ends of
the range, where the sum stops between two coarse samples or the series itself stops
(one-sided stencils). :func:`decimation_step` chooses the step of a scale.

The end stencils are the best linear predictors (kriging) of a fine sample from ``order``
coarse samples for a series whose spectrum is a Gaussian of standard deviation
:func:`stencil_width` cycles per coarse sample (:data:`SPECTRAL_SPREAD` cycles per scale,
the spread of a smoothed cross-spectrum's frequencies), constrained to be exact for
straight lines (so that constants sum exactly). Polynomial (Lagrange) stencils are the
limit of a vanishing width: they fit the low frequencies exactly but amplify the content
near the coarse Nyquist frequency. With steps of up to :data:`MULTIRATE_STEP_RATIO` of the
scale these keep band means within 2.3e-5 of the exact path in ``benchmarks/multirate_error.py``,
where 8-point Lagrange stencils at a third of the scale lost 4e-5.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MIN_STENCIL_WIDTH", "MULTIRATE_STEP_RATIO", "SPECTRAL_SPREAD", "STENCIL_ORDER",
           "STENCIL_WIDTH",
           "decimation_step", "end_stencil", "equal_runs", "largest_step", "stencil_width",
           "sum_weights"]

#: Points of the interpolation stencils at the ends of a summed range.
STENCIL_ORDER = 12
#: Spread of a smoothed cross-spectrum's frequencies (weighted by the time filter), in
#: cycles per scale: the width the end stencils are designed for (:func:`stencil_width`;
#: tuned with ``benchmarks/multirate_error.py``).
SPECTRAL_SPREAD = 0.16
#: Narrowest stencil width, in cycles per coarse sample: below it the kriging system is
#: too ill-conditioned for float64 (a stencil misses its own nodes by more than 1e-9);
#: series that smooth (scales of more than 2.7 steps) are summed as if this wide.
MIN_STENCIL_WIDTH = 0.06
#: Default width of the end stencils, in cycles per coarse sample: the spread at a step
#: of half the scale.
STENCIL_WIDTH = SPECTRAL_SPREAD * 0.5
#: Largest coarse step as a fraction of the smallest scale (in samples) feeding a row;
#: the coarse FFT must also hold the row's filter bins (:func:`decimation_step`).
MULTIRATE_STEP_RATIO = 0.4


def stencil_width(step: int, sigma: float) -> float:
    """Width of the end stencils of series smoothed at scales of ``sigma`` samples or more
    seen every ``step`` samples: :data:`SPECTRAL_SPREAD` per scale, in cycles per coarse
    sample, and at least :data:`MIN_STENCIL_WIDTH`.

    Parameters
    ----------
    step : int
        Fine samples per coarse sample.
    sigma : float
        Smallest scale summed, in samples.

    Returns
    -------
    float
    """
    return max(MIN_STENCIL_WIDTH, SPECTRAL_SPREAD * step / sigma)


def end_stencil(x: np.ndarray, p: int, width: float = STENCIL_WIDTH) -> np.ndarray:
    """Weights of coarse samples ``0..p-1`` predicting a series at points ``x``.

    The kriging predictor of a stationary series with Gaussian covariance
    ``exp(-2 pi^2 width^2 lag^2)`` (a Gaussian spectrum of standard deviation ``width``
    cycles per coarse sample), constrained to reproduce straight lines exactly.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_points,)
        Positions in coarse samples (inside or near ``[0, p - 1]``).
    p : int
        Coarse samples of the stencil.
    width : float
        Spectral standard deviation, in cycles per coarse sample.

    Returns
    -------
    numpy.ndarray, float64, shape (n_points, p)
        Each row sums to 1.
    """
    x = np.asarray(x, dtype=np.float64)
    nodes = np.arange(p, dtype=np.float64)
    if p == 1:
        return np.ones((x.size, 1))
    scale = -2.0 * (math.pi * width) ** 2
    centre = (p - 1) / 2.0
    trend = np.stack([np.ones(p), nodes - centre])                     # (2, p)
    system = np.zeros((p + 2, p + 2))
    system[:p, :p] = np.exp(scale * (nodes[:, None] - nodes[None, :]) ** 2)
    system[:p, p:] = trend.T
    system[p:, :p] = trend
    rhs = np.concatenate([np.exp(scale * (nodes[:, None] - x[None, :]) ** 2),
                          np.stack([np.ones(x.size), x - centre])])
    return np.linalg.solve(system, rhs)[:p].T


def sum_weights(a: int, b: int, step: int, n_coarse: int,
                order: int = STENCIL_ORDER, width: float = STENCIL_WIDTH) -> np.ndarray:
    """Weights of coarse samples whose weighted sum is the sum over fine samples ``a:b``.

    Parameters
    ----------
    a, b : int
        The fine samples summed, ``a <= u < b`` (``0 <= a <= b``).
    step : int
        Fine samples per coarse sample; coarse sample ``k`` is fine sample ``step * k``.
    n_coarse : int
        Coarse samples available, ``0..n_coarse-1``; stencils never leave them.
    order : int
        Points of each end stencil (:func:`end_stencil`, even).
    width : float
        Spectral width the end stencils are designed for, in cycles per coarse sample
        (:func:`stencil_width` of the scales summed).

    Returns
    -------
    numpy.ndarray, float64, shape (n_coarse,)
        ``sum(f[u] for u in range(a, b)) ~= w @ f[::step][:n_coarse]``; every weight is
        ``step`` in the interior of the range, and ``w`` is the indicator of ``a:b``
        when ``step`` is 1.
    """
    w = np.zeros(n_coarse)
    if b <= a or n_coarse == 0:
        return w
    if step == 1:
        w[a:min(b, n_coarse)] = 1.0
        return w
    p = min(order, n_coarse)
    lead = p // 2 - 1

    def add(u: np.ndarray) -> None:
        start = np.clip(u // step - lead, 0, n_coarse - p)
        c = end_stencil(u / step - start, p, width)
        np.add.at(w, start[:, None] + np.arange(p), c)

    k1 = -(-(a + p * step) // step)          # whole periods step*k1 .. step*k2 - 1,
    k2 = (b - p * step) // step              # with stencils that are never clamped
    if k2 - k1 < 1 or k2 + p - lead > n_coarse:
        add(np.arange(a, b))
        return w
    add(np.concatenate([np.arange(a, step * k1), np.arange(step * k2, b)]))
    # each whole period puts the same stencil weights around its coarse sample
    h = end_stencil(np.arange(step) / step + lead, p, width).sum(axis=0)
    ind = np.zeros(n_coarse)
    ind[k1:k2] = 1.0
    w += np.convolve(ind, h)[lead:lead + n_coarse]
    return w


def equal_runs(values, start: int, stop: int) -> list[tuple[int, int, int]]:
    """Runs ``(a, b, v)`` of equal ``values[i]`` over ``start <= i < stop`` (rows that
    share a step or a split; ``values`` indexable by row)."""
    runs: list[list] = []
    for i in range(start, stop):
        if runs and runs[-1][2] == values[i]:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1, values[i]])
    return [tuple(r) for r in runs]


def largest_step(sigma: float, ratio: float = MULTIRATE_STEP_RATIO) -> int:
    """Largest power of two at most ``max(1, ratio * sigma)``: the bound on a group's step.

    Parameters
    ----------
    sigma : float
        Smallest time-smoothing width (wavelet scale) feeding the rows, in samples.
    ratio : float
        Largest step as a fraction of ``sigma``.

    Returns
    -------
    int
    """
    return 2 ** max(0, math.floor(math.log2(max(ratio * sigma, 1.0))))


def decimation_step(sigma: float, m: int, n_bins: int, ratio: float) -> int:
    """Largest power-of-two step for a smoothed cross-spectrum of Gaussian width ``sigma``.

    Parameters
    ----------
    sigma : float
        Smallest time-smoothing width (wavelet scale) feeding the rows, in samples.
    m : int
        Length of the smoothing FFT (a power of two).
    n_bins : int
        Frequency bins the smoothed rows keep (positive and negative together): the
        coarse FFT must hold them without overlap.
    ratio : float
        Largest step as a fraction of ``sigma``.

    Returns
    -------
    int
        A power of two dividing ``m``, ``1 <= step <= largest_step(sigma, ratio)``, with
        ``m // step > n_bins``.
    """
    step = largest_step(sigma, ratio)
    while step > 1 and (m % step or m // step <= n_bins):
        step //= 2
    return int(step)
