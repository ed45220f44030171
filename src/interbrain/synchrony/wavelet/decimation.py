"""Sums over every sample from every ``step``-th sample: the quadrature of multirate coherence.

A smoothed wavelet cross-spectrum at scale ``s`` is band-limited to a few cycles per
``s``: sampled every ``step`` samples with ``step`` well below ``s / dt``, it loses
nothing. :func:`sum_weights` gives the weights ``w`` with
``sum(f[a:b]) ~= sum(w * f[::step])`` for such a smooth ``f``: ``step`` in the interior
(exact for a series band-limited below ``1 / step`` cycles per sample: the Poisson
summation formula) and local Lagrange interpolation of ``order`` points at the ends of
the range, where the sum stops between two coarse samples or the series itself stops
(one-sided stencils). :func:`decimation_step` chooses the step of a scale.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LAGRANGE_ORDER", "MULTIRATE_STEP_RATIO", "decimation_step", "largest_step",
           "sum_weights"]

#: Points of the Lagrange stencils at the ends of a summed range.
LAGRANGE_ORDER = 8
#: Largest coarse step as a fraction of the smallest scale (in samples) feeding a group.
MULTIRATE_STEP_RATIO = 0.25


def _lagrange(x: np.ndarray, p: int) -> np.ndarray:
    """Lagrange basis of nodes ``0..p-1`` at points ``x``, shape (len(x), p)."""
    c = np.ones((x.size, p))
    for i in range(p):
        for j in range(p):
            if i != j:
                c[:, i] *= (x - j) / (i - j)
    return c


def sum_weights(a: int, b: int, step: int, n_coarse: int,
                order: int = LAGRANGE_ORDER) -> np.ndarray:
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
        Points of each Lagrange stencil (even).

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
        c = _lagrange(u / step - start, p)
        np.add.at(w, start[:, None] + np.arange(p), c)

    k1 = -(-(a + p * step) // step)          # whole periods step*k1 .. step*k2 - 1,
    k2 = (b - p * step) // step              # with stencils that are never clamped
    if k2 - k1 < 1 or k2 + p - lead > n_coarse:
        add(np.arange(a, b))
        return w
    add(np.concatenate([np.arange(a, step * k1), np.arange(step * k2, b)]))
    # each whole period puts the same stencil weights around its coarse sample
    h = _lagrange(np.arange(step) / step + lead, p).sum(axis=0)
    ind = np.zeros(n_coarse)
    ind[k1:k2] = 1.0
    w += np.convolve(ind, h)[lead:lead + n_coarse]
    return w


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
