"""Autoregressive prewhitening of channels (AnalyzIR ``nirs.math.ar_fit``).

Each channel gets its own AR model, of an order chosen by BIC; its innovations are
what :func:`~interbrain.synchrony.metrics.ar_robust_correlation` correlates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.fft as sfft
from scipy import signal

from ..._check import check_int
from ._signals import check_channels, standardise


@dataclass(frozen=True)
class ARPrewhitened:
    """Channels prewhitened by their own autoregressive models.

    Attributes
    ----------
    innovations : numpy.ndarray, shape (n_channels, n_times)
        ``e[t] = y[t] - sum_k coefficients[k - 1] * y[t - k]`` of the de-meaned channel
        ``y``, with ``y[t] = 0`` before the first sample (the zero-initial-condition
        FIR filter of AnalyzIR's ``nirs.math.innovations``). The first ``order``
        samples of a channel are the filter's start-up transient, not innovations;
        :attr:`valid` marks the others.
    order : numpy.ndarray of int, shape (n_channels,)
        AR order of each channel, chosen by BIC in ``0..max_order``.
    coefficients : numpy.ndarray, shape (n_channels, max_order)
        AR coefficients ``a_1..a_max_order`` (zero beyond each channel's order).
    max_order : int
        Largest order considered, in samples.
    """

    innovations: np.ndarray = field(repr=False)
    order: np.ndarray
    coefficients: np.ndarray = field(repr=False)
    max_order: int

    @property
    def valid(self) -> np.ndarray:
        """Boolean mask, shape (n_channels, n_times): samples past each channel's order."""
        t = np.arange(self.innovations.shape[1])
        return t[None, :] >= self.order[:, None]


def lagged_gram(y: np.ndarray, p: int) -> np.ndarray:
    """Gram matrix of the forward lag regression, batched over channels.

    For ``t = p..n-1`` and columns ``y[t - i]``, ``i = 0..p``, returns
    ``G[c, i, j] = sum_t y[c, t - i] y[c, t - j]`` without building the lag matrix:
    the full lagged products ``sum_s y[s] y[s + k]`` (by FFT) minus the products at
    the two ends that the range ``t = p..n-1`` leaves out.

    Parameters
    ----------
    y : numpy.ndarray, shape (n_channels, n_times)
        De-meaned channels.
    p : int
        Largest lag, at least 1.

    Returns
    -------
    numpy.ndarray, shape (n_channels, p + 1, p + 1)
    """
    n_ch, n = y.shape
    nfft = sfft.next_fast_len(n + p + 1, real=True)
    spec = sfft.rfft(y, nfft, axis=-1)
    full = sfft.irfft(spec.real**2 + spec.imag**2, nfft, axis=-1)[:, :p + 1]  # (c, k)
    k = np.arange(p + 1)
    # head[c, k, m] = sum_{s < m} y[s] y[s + k],  m = 0..p
    s = np.arange(p)
    hp = y[:, s][:, None, :] * y[:, s[None, :] + k[:, None]]  # (c, k, s)
    head = np.concatenate([np.zeros((n_ch, p + 1, 1)), np.cumsum(hp, axis=-1)], axis=-1)
    # tail[c, k, m] = sum of the last m products y[s] y[s + k] (s = n-k-1-q, q < m)
    q = np.arange(p)
    i0 = n - 1 - k[:, None] - q[None, :]
    tp = y[:, i0] * y[:, (n - 1 - q)[None, :]]  # (c, k, q)
    tail = np.concatenate([np.zeros((n_ch, p + 1, 1)), np.cumsum(tp, axis=-1)], axis=-1)
    ii, jj = np.triu_indices(p + 1)
    kk = jj - ii
    g = np.empty((n_ch, p + 1, p + 1))
    vals = full[:, kk] - head[:, kk, p - jj] - tail[:, kk, ii]
    g[:, ii, jj] = vals
    g[:, jj, ii] = vals
    return g


def ar_prewhiten(x: Any, max_order: int) -> ARPrewhitened:
    """Fit an AR model to every channel (order by BIC) and return its innovations.

    For each channel, the de-meaned series ``y`` is regressed on its own past
    ``y[t-1..t-p]`` by least squares for every order ``p = 0..max_order``, and the
    order minimising ``BIC(p) = N log(RSS_p / N) + p log N`` (Schwarz 1978) is kept.
    As AnalyzIR's ``nirs.math.ar_fit``, the regression stacks the forward equations
    (``y[t]`` on ``y[t-1..t-p]``) and the backward ones (``y[t]`` on ``y[t+1..t+p]``),
    which share the coefficients of a stationary process; here the same
    ``N = 2 (n_times - max_order)`` equations are used for every order, so that the
    BIC values are comparable. All orders are fitted at once from one Cholesky
    factorisation of the lag Gram matrix, vectorised over channels.

    Parameters
    ----------
    x : array_like, shape (n_channels, n_times)
        Finite real signals, uniformly sampled.
    max_order : int
        Largest AR order considered, in samples (``0`` disables prewhitening apart
        from de-meaning).

    Returns
    -------
    ARPrewhitened

    Raises
    ------
    ValueError
        ``x`` not 2-D or not finite, a constant channel, a negative ``max_order``, or
        fewer than ``3 * max_order + 3`` samples.

    References
    ----------
    Barker, Aarabi & Huppert (2013); Santosa et al. (2017) (see
    :mod:`interbrain.synchrony.metrics`).
    """
    y = check_channels(x, "x")
    p = check_int(max_order, "max_order", minimum=0)
    n_ch, n = y.shape
    if n < 3 * p + 3:
        raise ValueError(f"an AR model of maximum order {p} needs at least {3 * p + 3} "
                         f"samples, the recording has {n}; lower the maximum order")
    standardise(y, "x")  # rejects constant channels
    y = y - y.mean(axis=1, keepdims=True)
    if p == 0:
        return ARPrewhitened(y, np.zeros(n_ch, dtype=int), np.zeros((n_ch, 0)), 0)
    g = lagged_gram(y, p) + lagged_gram(y[:, ::-1], p)  # forward + backward equations
    n_eq = 2 * (n - p)
    gxx, gxy, yy = g[:, 1:, 1:], g[:, 1:, 0], g[:, 0, 0]
    jitter = 1e-10 * np.trace(gxx, axis1=1, axis2=2) / p
    chol = np.linalg.cholesky(gxx + jitter[:, None, None] * np.eye(p))
    # batched solves (numpy: scipy's solve_triangular batches only from scipy 1.15)
    c = np.linalg.solve(chol, gxy[..., None])[..., 0]  # (c, p)
    rss = np.concatenate([yy[:, None], yy[:, None] - np.cumsum(c * c, axis=1)], axis=1)
    rss = np.maximum(rss, 1e-14 * yy[:, None])
    bic = n_eq * np.log(rss / n_eq) + np.arange(p + 1) * np.log(n_eq)
    order = np.argmin(bic, axis=1)
    c_sel = np.where(np.arange(p)[None, :] < order[:, None], c, 0.0)
    coef = np.linalg.solve(np.swapaxes(chol, 1, 2), c_sel[..., None])[..., 0]
    coef[np.arange(p)[None, :] >= order[:, None]] = 0.0  # exact zeros past the order
    h = np.concatenate([np.ones((n_ch, 1)), -coef], axis=1)
    e = signal.fftconvolve(y, h, mode="full", axes=-1)[:, :n]
    return ARPrewhitened(e, order, coef, p)
