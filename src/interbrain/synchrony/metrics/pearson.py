"""Pearson correlation of channel pairs, over the recording or in sliding windows."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..pairs import PairsSpec, resolve_pairs
from ._signals import CHUNK_ELEMENTS, check_signals, fisher_transform, standardise
from .windows import window_samples


def pearson_correlation(a: Any, b: Any, dt: float, *, pairs: PairsSpec = "homologous",
                        window: float | None = None, step: float | None = None,
                        fisher_z: bool = False) -> np.ndarray:
    """Pearson correlation of channel pairs, over the recording or in sliding windows.

    Parameters
    ----------
    a, b : array_like, shape (n_channels_a, n_times), (n_channels_b, n_times)
        Finite real signals of the two partners (any unit; the metric is invariant to
        positive scaling and offset of each channel).
    dt : float
        Sampling interval, in seconds.
    pairs : {"homologous", "all"} or sequence of (int, int)
        Channel pairs (see :mod:`interbrain.synchrony.metrics`).
    window : float, optional
        Window length, in seconds (rounded to whole samples, at least 3). Without it,
        one correlation over the whole recording.
    step : float, optional
        Time between window starts, in seconds (default: ``window``). The start times
        are given by :func:`window_starts`.
    fisher_z : bool
        Return Fisher's ``z = arctanh(r)`` instead of ``r`` (``+-inf`` where
        ``|r| = 1``); its standard error under the null is about ``1 / sqrt(n - 3)``
        for ``n`` independent samples.

    Returns
    -------
    numpy.ndarray of float
        Shape ``(n_pairs,)`` without ``window``; ``(n_pairs, n_windows)`` with it. NaN
        for a window in which a channel is constant.

    Raises
    ------
    ValueError
        Signals not 2-D, not finite, of different lengths or with a constant channel;
        bad pairs; a window longer than the recording.

    Notes
    -----
    ``r = sum((x - mean x)(y - mean y)) / sqrt(sum((x - mean x)^2) sum((y - mean y)^2))``,
    computed in each window with the window's own means (two-pass, as
    :func:`numpy.corrcoef`). Fisher (1915) for the z transform.
    """
    a, b, dt = check_signals(a, b, dt)
    idx = resolve_pairs(pairs, a.shape[0], b.shape[0])
    n = a.shape[1]
    # global standardisation: checks for constant channels and keeps the sums well scaled
    za, zb = standardise(a, "a"), standardise(b, "b")
    if window is None:
        w, s, n_win = n, n, 1
    else:
        w, s, n_win = window_samples(n, dt, window, step, 3)
    r = np.empty((len(idx), n_win))
    chunk = max(1, CHUNK_ELEMENTS // (n_win * w))
    for c0 in range(0, len(idx), chunk):
        p = idx[c0:c0 + chunk]
        xw = sliding_window_view(za[p[:, 0]], w, axis=-1)[:, ::s]
        yw = sliding_window_view(zb[p[:, 1]], w, axis=-1)[:, ::s]
        dx = xw - xw.mean(axis=-1, keepdims=True)
        dy = yw - yw.mean(axis=-1, keepdims=True)
        sxy = np.einsum("pwk,pwk->pw", dx, dy)
        sxx = np.einsum("pwk,pwk->pw", dx, dx)
        syy = np.einsum("pwk,pwk->pw", dy, dy)
        with np.errstate(divide="ignore", invalid="ignore"):
            r[c0:c0 + chunk] = sxy / np.sqrt(sxx * syy)
    r = np.clip(r, -1.0, 1.0)
    if fisher_z:
        r = fisher_transform(r)
    return r[:, 0] if window is None else r
