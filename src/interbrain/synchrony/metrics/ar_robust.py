"""AR-prewhitened robust correlation of channel pairs (AnalyzIR ``nirs.sFC.ar_corr``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._check import check_int
from ..pairs import PairsSpec, resolve_pairs
from ._signals import CHUNK_ELEMENTS, check_signals, fisher_transform, standardise
from .prewhitening import ar_prewhiten
from .robust import bisquare_correlation

#: Default maximum AR lag of :func:`ar_robust_correlation`, in seconds: AnalyzIR's
#: ``nirs.modules.Connectivity`` default ``ar_corr(data, '4xFs', true)``, i.e. a
#: maximum order of 4 x the sampling rate.
AR_MAX_ORDER_SECONDS: float = 4.0


@dataclass(frozen=True)
class ARRobustCorrelation:
    """Result of :func:`ar_robust_correlation`.

    Attributes
    ----------
    r : numpy.ndarray, shape (n_pairs,)
        Robust correlation of the prewhitened pairs, in [-1, 1].
    z : numpy.ndarray, shape (n_pairs,)
        Fisher's ``arctanh(r)`` (``+-inf`` where ``|r| = 1``). Under the null of no
        coupling its spread is about ``1 / sqrt(n - 3)``.
    n : numpy.ndarray of int, shape (n_pairs,)
        Samples that entered each pair's correlation (past both channels' AR
        start-up transients and not screened as outliers).
    order_a, order_b : numpy.ndarray of int, shape (n_channels_a,), (n_channels_b,)
        AR order chosen by BIC for each channel of ``a`` and ``b``, in samples.
    max_order : int
        Largest AR order considered, in samples.
    pairs : numpy.ndarray of int, shape (n_pairs, 2)
        The channel pairs ``(i, j)``, in the order of the values.
    """

    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    order_a: np.ndarray
    order_b: np.ndarray
    max_order: int
    pairs: np.ndarray = field(repr=False)


def ar_robust_correlation(a: Any, b: Any, dt: float, *, pairs: PairsSpec = "homologous",
                          max_order_s: float | None = None, max_order: int | None = None,
                          robust: bool = True) -> ARRobustCorrelation:
    """AR-prewhitened robust correlation (AnalyzIR ``nirs.sFC.ar_corr``).

    Serial correlation of fNIRS signals (physiology, slow drifts) inflates the spread
    of Pearson's r between unrelated channels far beyond ``1 / sqrt(n)``, so that
    nominal p-values give many false discoveries. Santosa et al. (2017) control this
    by prewhitening each channel with its own autoregressive model and by
    down-weighting outliers (motion artefacts) with a robust correlation. Steps:

    1. per channel, :func:`ar_prewhiten`: AR model of order chosen by BIC up to
       ``max_order`` lags (least squares on the de-meaned series), innovations by
       filtering the series with ``[1, -a_1, ..., -a_p]``;
    2. per pair, the innovations past both channels' start-up transient
       (``t >= max(p_i, p_j)``) are correlated with :func:`robust_correlation`
       (Tukey bisquare, ``c = 4.685``, MAD scale) or, with ``robust=False``, with
       Pearson's r.

    Parameters
    ----------
    a, b : array_like, shape (n_channels_a, n_times), (n_channels_b, n_times)
        Finite real signals of the two partners.
    dt : float
        Sampling interval, in seconds.
    pairs : {"homologous", "all"} or sequence of (int, int)
        Channel pairs (see :mod:`interbrain.synchrony.metrics`).
    max_order_s : float, optional
        Largest AR lag, in seconds; the order is ``round(max_order_s / dt)`` samples.
    max_order : int, optional
        Largest AR lag, in samples (give either this or ``max_order_s``). Default:
        ``round(4 / dt)``, i.e. 4 x the sampling rate (:data:`AR_MAX_ORDER_SECONDS`),
        the default of AnalyzIR's connectivity module
        (``nirs.sFC.ar_corr(data, '4xFs', true)``). AnalyzIR's hyperscanning module
        has used 12 x and 18 x the sampling rate, and ``ar_corr`` called without an
        order uses 20 samples.
    robust : bool
        Tukey-bisquare robust correlation (default, as AnalyzIR) or, if False,
        Pearson's r of the innovations.

    Returns
    -------
    ARRobustCorrelation
        ``r``, ``z`` (Fisher) and ``n`` per pair, and the AR orders per channel.

    Raises
    ------
    ValueError
        Bad signals or pairs (see :func:`pearson_correlation`), both or invalid
        maximum orders, or a recording shorter than ``3 * max_order + 3`` samples.

    Notes
    -----
    Differences from AnalyzIR: the BIC compares all orders on the same equations;
    the first ``max(p_i, p_j)`` samples (the filter's start-up transient) are left out
    instead of entering the correlation; outliers are screened per pair (two channels)
    rather than across all channels of the recording; the robust standardisation
    uses the median and MAD throughout.
    """
    a, b, dt = check_signals(a, b, dt)
    idx = resolve_pairs(pairs, a.shape[0], b.shape[0])
    if max_order is not None and max_order_s is not None:
        raise ValueError("give either max_order (samples) or max_order_s (seconds), not both")
    if max_order_s is not None:
        try:
            seconds = float(max_order_s)
        except (TypeError, ValueError):
            raise ValueError(f"max_order_s must be a duration in seconds, got "
                             f"{max_order_s!r}") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"max_order_s must be a non-negative duration in seconds, got "
                             f"{max_order_s!r}")
        p = int(round(seconds / dt))
    elif max_order is not None:
        p = check_int(max_order, "max_order", minimum=0)
    else:
        p = int(round(AR_MAX_ORDER_SECONDS / dt))
    n = a.shape[1]
    if n < 3 * p + 3:
        raise ValueError(f"the maximum AR order of {p} samples ({p * dt:g} s) needs a "
                         f"recording of at least {3 * p + 3} samples, got {n} "
                         f"({n * dt:g} s); pass a smaller max_order or max_order_s")
    standardise(a, "a")
    standardise(b, "b")
    wa = ar_prewhiten(a, p)
    wb = ar_prewhiten(b, p)
    va, vb = wa.valid, wb.valid
    r = np.empty(len(idx))
    n_used = np.empty(len(idx), dtype=int)
    chunk = max(1, CHUNK_ELEMENTS // (4 * n))
    for c0 in range(0, len(idx), chunk):
        pi, pj = idx[c0:c0 + chunk, 0], idx[c0:c0 + chunk, 1]
        x, y = wa.innovations[pi], wb.innovations[pj]
        valid = va[pi] & vb[pj]
        if robust:
            r[c0:c0 + chunk], n_used[c0:c0 + chunk] = bisquare_correlation(x, y, valid)
        else:
            r[c0:c0 + chunk] = _masked_pearson(x, y, valid)
            n_used[c0:c0 + chunk] = valid.sum(axis=1)
    return ARRobustCorrelation(r=r, z=fisher_transform(r), n=n_used, order_a=wa.order,
                               order_b=wb.order, max_order=p, pairs=idx)


def _masked_pearson(x: np.ndarray, y: np.ndarray, valid: np.ndarray) -> np.ndarray:
    w = valid.astype(float)
    cnt = w.sum(axis=1)
    dx = x - ((w * x).sum(axis=1) / cnt)[:, None]
    dy = y - ((w * y).sum(axis=1) / cnt)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (w * dx * dy).sum(axis=1) / np.sqrt((w * dx * dx).sum(axis=1)
                                                * (w * dy * dy).sum(axis=1))
    return np.clip(r, -1.0, 1.0)
