"""Inter-brain synchrony metrics besides wavelet coherence, batched over channel pairs.

Every metric takes the two partners' recordings ``a`` and ``b`` as arrays of shape
``(n_channels, n_times)`` sampled every ``dt`` seconds (the same number of samples on
both sides, channel counts may differ) and a pair specification:

* ``"homologous"``: ``(i, i)`` for every channel (both sides need the same number of
  channels);
* ``"all"``: every ``(i, j)`` in row-major order (``i`` of ``a`` varies slowest);
* an explicit sequence of ``(i, j)`` index pairs (``i`` indexes ``a``, ``j`` ``b``).

It returns one value per pair, in the order of the pairs, or one value per pair and
time window for the windowed variants.

Metrics
-------
:func:`pearson_correlation`
    Pearson's r over the whole recording or in sliding windows; optional Fisher z.
:func:`ar_robust_correlation`
    The AR-prewhitened robust correlation of the NIRS Brain AnalyzIR toolbox
    (``nirs.sFC.ar_corr``; Santosa et al. 2017): each channel is prewhitened with its
    own autoregressive model (order chosen by BIC) and the innovations are correlated
    with Tukey-bisquare robust regressions.
:func:`phase_locking_value`
    Phase-locking value in a band of periods (Lachaux et al. 1999).
:func:`compute_metric`
    One entry point for all of them by name (:data:`METRICS`).

References
----------
Fisher, R. A. (1915). Frequency distribution of the values of the correlation
coefficient in samples from an indefinitely large population. *Biometrika* 10:507-521.

Santosa, H., Aarabi, A., Perlman, S. B. & Huppert, T. J. (2017). Characterization and
correction of the false-discovery rates in resting state connectivity using functional
near-infrared spectroscopy. *Journal of Biomedical Optics* 22(5):055002.

Barker, J. W., Aarabi, A. & Huppert, T. J. (2013). Autoregressive model based algorithm
for correcting motion and serially correlated errors in fNIRS. *Biomedical Optics
Express* 4(8):1366-1379.

Shevlyakov, G. & Smirnov, P. (2011). Robust estimation of the correlation coefficient:
an attempt of survey. *Austrian Journal of Statistics* 40(1&2):147-156.

Beaton, A. E. & Tukey, J. W. (1974). The fitting of power series, meaning polynomials,
illustrated on band-spectroscopic data. *Technometrics* 16:147-185.

Schwarz, G. (1978). Estimating the dimension of a model. *Annals of Statistics*
6:461-464.

Lachaux, J.-P., Rodriguez, E., Martinerie, J. & Varela, F. J. (1999). Measuring phase
synchrony in brain signals. *Human Brain Mapping* 8:194-208.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.fft as sfft
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal
from .pairs import PairsSpec, resolve_pairs

__all__ = [
    "AR_MAX_ORDER_SECONDS",
    "METRICS",
    "TUKEY_C",
    "ARPrewhitened",
    "ARRobustCorrelation",
    "ar_prewhiten",
    "ar_robust_correlation",
    "compute_metric",
    "pearson_correlation",
    "phase_locking_value",
    "robust_correlation",
    "window_starts",
]

#: Names accepted by :func:`compute_metric`.
METRICS: tuple[str, ...] = ("pearson", "ar_robust_correlation", "plv")

#: Tuning constant of Tukey's bisquare (95 % efficiency at the normal distribution).
TUKEY_C: float = 4.685

#: Default maximum AR lag of :func:`ar_robust_correlation`, in seconds: AnalyzIR's
#: ``nirs.modules.Connectivity`` default ``ar_corr(data, '4xFs', true)``, i.e. a
#: maximum order of 4 x the sampling rate.
AR_MAX_ORDER_SECONDS: float = 4.0

#: Normal-consistency factor of the median absolute deviation (1 / 0.6745).
_MAD_TO_SD = 1.482602218505602

#: Budget, in array elements, of one chunk of pairs' temporaries.
_CHUNK_ELEMENTS = 2**21



# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------

def _check_dt(dt: Any) -> float:
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"sampling interval dt must be a positive number of seconds, "
                         f"got {dt!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"sampling interval dt must be a positive number of seconds, got {dt!r}")
    return value


def _check_channels(x: Any, name: str, min_times: int = 3) -> np.ndarray:
    arr = np.asarray(x)
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real-valued, got a complex array")
    try:
        arr = np.asarray(arr, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array of shape "
                         "(n_channels, n_times)") from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (n_channels, n_times), got shape "
                         f"{arr.shape}")
    if arr.shape[0] < 1:
        raise ValueError(f"{name} has no channels (shape {arr.shape})")
    if arr.shape[1] < min_times:
        raise ValueError(f"{name} has {arr.shape[1]} samples; at least {min_times} are needed")
    bad = ~np.isfinite(arr)
    if bad.any():
        ch, t = np.argwhere(bad)[0]
        raise ValueError(f"{name} contains NaN or infinite values ({int(bad.sum())} samples; "
                         f"first in channel {ch} at sample {t}); interpolate or drop them first")
    return arr


def _check_signals(a: Any, b: Any, dt: Any, min_times: int = 3
                   ) -> tuple[np.ndarray, np.ndarray, float]:
    dt = _check_dt(dt)
    a = _check_channels(a, "a", min_times)
    b = _check_channels(b, "b", min_times)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same number of samples (n_times), got "
                         f"{a.shape[1]} and {b.shape[1]}")
    return a, b, dt


def _check_not_flat(x: np.ndarray, name: str, spread: np.ndarray) -> None:
    flat = ~(spread > 0)
    if flat.any():
        raise ValueError(f"{name} channel(s) {np.flatnonzero(flat).tolist()} are constant "
                         "(zero variance); synchrony is undefined for them")


def _positive_seconds(value: Any, name: str) -> float:
    """``value`` as a positive, finite duration in seconds, or a ValueError naming it."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a duration in seconds, got {value!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive duration in seconds, got {value!r}")
    return value


def _window_samples(n_times: int, dt: float, window: float, step: float | None,
                    min_samples: int) -> tuple[int, int, int]:
    """Window and step in samples and the number of windows."""
    window = _positive_seconds(window, "window")
    w = int(round(window / dt))
    if w < min_samples:
        raise ValueError(f"window of {window} s is {w} samples at dt={dt} s; at least "
                         f"{min_samples} samples are needed")
    if w > n_times:
        raise ValueError(f"window of {window} s ({w} samples) is longer than the recording "
                         f"({n_times * dt:g} s, {n_times} samples)")
    if step is None:
        s = w
    else:
        step = _positive_seconds(step, "step")
        s = int(round(step / dt))
        if s < 1:
            raise ValueError(f"step of {step} s is shorter than one sample (dt={dt} s)")
    return w, s, 1 + (n_times - w) // s


def window_starts(n_times: int, dt: float, window: float, step: float | None = None
                  ) -> np.ndarray:
    """Start times of the sliding windows of the windowed metrics.

    Windows are ``round(window / dt)`` samples long and start every
    ``round(step / dt)`` samples from the first sample; only whole windows are used
    (samples after the last whole window are not analysed).

    Parameters
    ----------
    n_times : int
        Number of samples of the recording.
    dt : float
        Sampling interval, in seconds.
    window : float
        Window length, in seconds.
    step : float, optional
        Time between window starts, in seconds (default: ``window``, non-overlapping).

    Returns
    -------
    numpy.ndarray of float, shape (n_windows,)
        Time of each window's first sample, in seconds after the recording's first
        sample. The window ``k`` covers ``[starts[k], starts[k] + w * dt)``.

    Raises
    ------
    ValueError
        ``dt``, ``window`` or ``step`` are not positive, or the window is longer than
        the recording.
    """
    dt = _check_dt(dt)
    if int(n_times) != n_times or n_times < 1:
        raise ValueError(f"n_times must be a positive integer, got {n_times!r}")
    _, s, n_win = _window_samples(int(n_times), dt, window, step, 1)
    return np.arange(n_win) * (s * dt)


def _fisher(r: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.arctanh(r)


# ---------------------------------------------------------------------------
# Pearson correlation
# ---------------------------------------------------------------------------

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
        Channel pairs (see the module docstring).
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
    a, b, dt = _check_signals(a, b, dt)
    idx = resolve_pairs(pairs, a.shape[0], b.shape[0])
    n = a.shape[1]
    # global standardisation: checks for constant channels and keeps the sums well scaled
    za, zb = _standardise(a, "a"), _standardise(b, "b")
    if window is None:
        w, s, n_win = n, n, 1
    else:
        w, s, n_win = _window_samples(n, dt, window, step, 3)
    r = np.empty((len(idx), n_win))
    chunk = max(1, _CHUNK_ELEMENTS // (n_win * w))
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
        r = _fisher(r)
    return r[:, 0] if window is None else r


def _standardise(x: np.ndarray, name: str) -> np.ndarray:
    mean = x.mean(axis=1, keepdims=True)
    d = x - mean
    sd = np.sqrt((d * d).mean(axis=1))
    # a channel whose samples are all equal up to round-off counts as constant
    scale = np.maximum(np.abs(mean[:, 0]), np.abs(x).max(axis=1))
    spread = np.where(sd > 1e-13 * scale, sd, 0.0)
    _check_not_flat(x, name, spread)
    return d / sd[:, None]


# ---------------------------------------------------------------------------
# AR prewhitening
# ---------------------------------------------------------------------------

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


def _check_order(max_order: Any) -> int:
    if (isinstance(max_order, bool) or not isinstance(max_order, (int, np.integer))
            or max_order < 0):
        raise ValueError(f"max_order must be a non-negative whole number of samples, "
                         f"got {max_order!r}")
    return int(max_order)


def _lagged_gram(y: np.ndarray, p: int) -> np.ndarray:
    """Gram matrix of the forward lag regression, batched over channels.

    For ``t = p..n-1`` and columns ``y[t - i]``, ``i = 0..p``, returns
    ``G[c, i, j] = sum_t y[c, t - i] y[c, t - j]`` without building the lag matrix:
    the full lagged products ``sum_s y[s] y[s + k]`` (by FFT) minus the products at
    the two ends that the range ``t = p..n-1`` leaves out.
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
    Barker, Aarabi & Huppert (2013); Santosa et al. (2017) (see the module docstring).
    """
    y = _check_channels(x, "x")
    p = _check_order(max_order)
    n_ch, n = y.shape
    if n < 3 * p + 3:
        raise ValueError(f"an AR model of maximum order {p} needs at least {3 * p + 3} "
                         f"samples, the recording has {n}; lower the maximum order")
    _standardise(y, "x")  # rejects constant channels
    y = y - y.mean(axis=1, keepdims=True)
    if p == 0:
        return ARPrewhitened(y, np.zeros(n_ch, dtype=int), np.zeros((n_ch, 0)), 0)
    g = _lagged_gram(y, p) + _lagged_gram(y[:, ::-1], p)  # forward + backward equations
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


# ---------------------------------------------------------------------------
# robust correlation
# ---------------------------------------------------------------------------

def _masked_median(v: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median of each row over the samples where ``mask`` is true (at least one)."""
    cnt = mask.sum(axis=-1)
    srt = np.sort(np.where(mask, v, np.inf), axis=-1)
    lo = np.take_along_axis(srt, ((cnt - 1) // 2)[:, None], axis=-1)[:, 0]
    hi = np.take_along_axis(srt, (cnt // 2)[:, None], axis=-1)[:, 0]
    return 0.5 * (lo + hi)


def _robust_standardise(x: np.ndarray, valid: np.ndarray, c: float
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Median/MAD standardisation per row and the mask of samples within ``c`` MADs."""
    med = _masked_median(x, valid)
    d = x - med[:, None]
    mad = _MAD_TO_SD * _masked_median(np.abs(d), valid)
    sd = np.sqrt(np.where(valid, d * d, 0.0).sum(axis=1) / valid.sum(axis=1))
    scale = np.where(mad > 0, mad, sd)
    scale = np.where(scale > 0, scale, 1.0)  # constant rows: all zero, never outliers
    u = d / scale[:, None]
    return u, valid & (np.abs(u) < c)


def _irls_slope(x: np.ndarray, y: np.ndarray, prior: np.ndarray, c: float, max_iter: int,
                tol: float) -> np.ndarray:
    """Tukey-bisquare IRLS slope of ``y`` on ``x`` (with intercept), row by row.

    ``x`` and ``y`` are robustly standardised (median 0, MAD 1), so the one-pass
    weighted moments below do not suffer from cancellation.
    """
    dot = lambda u, v: np.einsum("ij,ij->i", u, v)  # noqa: E731
    xx, xy = x * x, x * y
    w = prior.astype(float)
    not_prior = ~prior
    yscale = np.sqrt(dot(w, y * y) / np.maximum(w.sum(axis=1), 1.0))
    floor = 1e-12 * np.maximum(yscale, 1e-300)  # exact fits: residuals ~0, all weights 1
    b_prev = np.full(x.shape[0], np.inf)
    b = np.zeros(x.shape[0])
    res = np.empty_like(x)
    for _ in range(max_iter + 1):
        sw = w.sum(axis=1)
        mx, my = dot(w, x) / sw, dot(w, y) / sw
        with np.errstate(divide="ignore", invalid="ignore"):
            b = (dot(w, xy) - sw * mx * my) / (dot(w, xx) - sw * mx * mx)
        if np.all(np.abs(b - b_prev) <= tol * np.maximum(np.abs(b), 1.0)):
            break
        b_prev = b
        np.multiply(x, b[:, None], out=res)
        np.subtract(y, res, out=res)
        res -= (my - b * mx)[:, None]
        np.abs(res, out=res)
        s = np.maximum(_masked_median(res, prior) * _MAD_TO_SD, floor)
        # bisquare weights (1 - u^2)^2 for |u| < 1, else 0, with u = res / (c s)
        res /= (c * s)[:, None]
        np.square(res, out=res)
        np.subtract(1.0, res, out=res)
        np.maximum(res, 0.0, out=res)
        np.square(res, out=w)
        w[not_prior] = 0.0
    return b


def _robust_corr(x: np.ndarray, y: np.ndarray, valid: np.ndarray, c: float = TUKEY_C,
                 max_iter: int = 50, tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Robust correlation of paired rows; returns ``(r, n_used)``."""
    ux, keep_x = _robust_standardise(x, valid, c)
    uy, keep_y = _robust_standardise(y, valid, c)
    prior = keep_x & keep_y
    n_used = prior.sum(axis=1)
    r = np.full(x.shape[0], np.nan)
    ok = n_used >= 3
    if ok.any():
        xs, ys, pr = ux[ok], uy[ok], prior[ok]
        both = _irls_slope(np.concatenate([xs, ys]), np.concatenate([ys, xs]),
                           np.concatenate([pr, pr]), c, max_iter, tol)
        b_yx, b_xy = both[:len(xs)], both[len(xs):]
        prod = b_yx * b_xy
        rr = np.where(prod > 0, np.sign(b_yx) * np.sqrt(np.abs(prod)), 0.0)
        r[ok] = np.clip(rr, -1.0, 1.0)
    return r, n_used


def robust_correlation(x: Any, y: Any, *, valid: Any = None, c: float = TUKEY_C,
                       max_iter: int = 50) -> np.ndarray:
    """Tukey-bisquare robust correlation of paired rows of ``x`` and ``y``.

    1. Each row is standardised by its median and normalised MAD, and samples more
       than ``c`` robust standard deviations from the median in either series get
       weight zero (the screening of gross outliers, e.g. motion spikes, that
       AnalyzIR's ``robust_corrcoef`` does with marginal bisquare weights; a hard
       rejection is used here because smooth marginal weights bias ``r`` towards 0).
    2. ``y`` is regressed on ``x`` and ``x`` on ``y`` (with intercepts) by
       iteratively reweighted least squares with Tukey's bisquare weights
       ``w = (1 - (res / (c s))^2)^2`` (0 beyond ``c s``), where ``s`` is the
       normalised median absolute residual, re-estimated at each iteration
       (Beaton & Tukey 1974), starting from least squares.
    3. ``r = sign(b_yx) sqrt(b_yx b_xy)`` (0 when the slopes disagree in sign), the
       geometric mean of the two weighted-regression slopes (Shevlyakov & Smirnov
       2011, eq. 6; as AnalyzIR). If both fits end with the same weights this is the
       weighted Pearson correlation; unlike the weighted Pearson correlation with the
       final weights, it is consistent for the correlation of Gaussian data and has
       the null spread of Pearson's r (within about 3 %).

    Parameters
    ----------
    x, y : array_like, shape (n_rows, n_times)
        Finite real series; row ``k`` of ``x`` is correlated with row ``k`` of ``y``.
    valid : array_like of bool, shape (n_rows, n_times), optional
        Samples to use (default: all).
    c : float
        Bisquare tuning constant, in robust standard deviations (default 4.685, 95 %
        efficiency at the normal distribution).
    max_iter : int
        Maximum IRLS iterations (MATLAB ``robustfit``'s default, 50).

    Returns
    -------
    numpy.ndarray of float, shape (n_rows,)
        Robust r in [-1, 1]; NaN where fewer than 3 samples are left.
    """
    x = _check_channels(x, "x")
    y = _check_channels(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if valid is None:
        mask = np.ones(x.shape, dtype=bool)
    else:
        mask = np.asarray(valid, dtype=bool)
        if mask.shape != x.shape:
            raise ValueError(f"valid must have the shape of x {x.shape}, got {mask.shape}")
    if not (math.isfinite(c) and c > 0):
        raise ValueError(f"tuning constant c must be positive, got {c!r}")
    r = np.full(x.shape[0], np.nan)
    has = mask.sum(axis=1) >= 3
    if has.any():
        r[has] = _robust_corr(x[has], y[has], mask[has], c, max_iter)[0]
    return r


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
        Channel pairs (see the module docstring).
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
    a, b, dt = _check_signals(a, b, dt)
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
        p = _check_order(max_order)
    else:
        p = int(round(AR_MAX_ORDER_SECONDS / dt))
    n = a.shape[1]
    if n < 3 * p + 3:
        raise ValueError(f"the maximum AR order of {p} samples ({p * dt:g} s) needs a "
                         f"recording of at least {3 * p + 3} samples, got {n} "
                         f"({n * dt:g} s); pass a smaller max_order or max_order_s")
    _standardise(a, "a")
    _standardise(b, "b")
    wa = ar_prewhiten(a, p)
    wb = ar_prewhiten(b, p)
    va, vb = wa.valid, wb.valid
    r = np.empty(len(idx))
    n_used = np.empty(len(idx), dtype=int)
    chunk = max(1, _CHUNK_ELEMENTS // (4 * n))
    for c0 in range(0, len(idx), chunk):
        pi, pj = idx[c0:c0 + chunk, 0], idx[c0:c0 + chunk, 1]
        x, y = wa.innovations[pi], wb.innovations[pj]
        valid = va[pi] & vb[pj]
        if robust:
            r[c0:c0 + chunk], n_used[c0:c0 + chunk] = _robust_corr(x, y, valid)
        else:
            r[c0:c0 + chunk] = _masked_pearson(x, y, valid)
            n_used[c0:c0 + chunk] = valid.sum(axis=1)
    return ARRobustCorrelation(r=r, z=_fisher(r), n=n_used, order_a=wa.order,
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


# ---------------------------------------------------------------------------
# phase-locking value
# ---------------------------------------------------------------------------

def _check_band(band: Any, dt: float, n: int) -> tuple[float, float]:
    try:
        shortest, longest = (float(v) for v in band)
    except (TypeError, ValueError):
        raise ValueError(f"band must be (shortest, longest) period in seconds, got "
                         f"{band!r}") from None
    if not (math.isfinite(shortest) and math.isfinite(longest) and 0 < shortest < longest):
        raise ValueError(f"band must be (shortest, longest) periods in seconds with "
                         f"0 < shortest < longest, got {band!r}")
    if shortest <= 2 * dt:
        raise ValueError(f"band's shortest period {shortest:g} s must be longer than the "
                         f"Nyquist period 2*dt = {2 * dt:g} s")
    if longest > n * dt:
        raise ValueError(f"band's longest period {longest:g} s is longer than the recording "
                         f"({n * dt:g} s, {n} samples)")
    return shortest, longest


def _unit_phasors(x: np.ndarray, sos: np.ndarray, padlen: int) -> np.ndarray:
    filt = signal.sosfiltfilt(sos, x, axis=-1, padtype="odd", padlen=padlen)
    z = signal.hilbert(filt, axis=-1)
    amp = np.abs(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(amp > 0, z / amp, 0.0)


def phase_locking_value(a: Any, b: Any, dt: float, *, band: tuple[float, float],
                        pairs: PairsSpec = "homologous", filter_order: int = 4,
                        window: float | None = None, step: float | None = None
                        ) -> np.ndarray:
    """Phase-locking value of channel pairs in a band of periods (Lachaux et al. 1999).

    Each channel is band-passed with a zero-phase Butterworth filter
    (:func:`scipy.signal.butter` of order ``filter_order`` between the frequencies
    ``1 / longest`` and ``1 / shortest`` Hz, second-order sections, applied forwards
    and backwards by :func:`scipy.signal.sosfiltfilt`, so the magnitude response is
    squared and the phase is zero), its instantaneous phase ``phi`` is taken from the
    analytic signal (:func:`scipy.signal.hilbert`), and

    ``PLV = |mean_t exp(i (phi_a(t) - phi_b(t)))|``

    over the whole recording or over each window. PLV is 1 for a constant phase
    difference (whatever the lag) and about ``sqrt(pi / (4 n_eff))`` for independent
    signals, where ``n_eff`` is the number of independent phase samples (about the
    duration times the bandwidth), so PLVs of short windows or narrow bands are
    biased upwards.

    Parameters
    ----------
    a, b : array_like, shape (n_channels_a, n_times), (n_channels_b, n_times)
        Finite real signals of the two partners.
    dt : float
        Sampling interval, in seconds.
    band : (float, float)
        Shortest and longest period of the band, in seconds (``2 dt < shortest <
        longest <= n_times dt``), i.e. frequencies ``1/longest`` to ``1/shortest`` Hz.
    pairs : {"homologous", "all"} or sequence of (int, int)
        Channel pairs (see the module docstring).
    filter_order : int
        Order of the Butterworth prototype (the band-pass has ``2 * filter_order``
        poles, doubled again by the forward-backward filtering).
    window : float, optional
        Window length, in seconds (at least 2 samples); the whole recording is
        filtered first and the phase differences are averaged per window, so windows
        have no filter edge effects of their own. Windows should span several
        periods of the band.
    step : float, optional
        Time between window starts, in seconds (default: ``window``); start times by
        :func:`window_starts`.

    Returns
    -------
    numpy.ndarray of float
        PLV in [0, 1], shape ``(n_pairs,)`` without ``window``, ``(n_pairs,
        n_windows)`` with it.

    Raises
    ------
    ValueError
        Bad signals or pairs (see :func:`pearson_correlation`), a band outside
        ``(2 dt, n_times dt]``, a bad filter order, a window longer than the
        recording.

    Notes
    -----
    Before filtering, each series is de-meaned and extended at both ends by odd
    reflection over ``min(3 * longest / dt, n_times - 1)`` samples, which shortens
    the filter's edge transients. The Hilbert transform still has edge effects of
    about one period at each end.
    """
    a, b, dt = _check_signals(a, b, dt)
    idx = resolve_pairs(pairs, a.shape[0], b.shape[0])
    n = a.shape[1]
    shortest, longest = _check_band(band, dt, n)
    if isinstance(filter_order, bool) or int(filter_order) != filter_order or filter_order < 1:
        raise ValueError(f"filter_order must be a positive integer, got {filter_order!r}")
    if window is None:
        w, s, n_win = n, n, 1
    else:
        w, s, n_win = _window_samples(n, dt, window, step, 2)
    za, zb = _standardise(a, "a"), _standardise(b, "b")
    sos = signal.butter(int(filter_order), [1.0 / longest, 1.0 / shortest], btype="bandpass",
                        fs=1.0 / dt, output="sos")
    padlen = min(n - 1, int(round(3 * longest / dt)))
    ua = _unit_phasors(za, sos, padlen)
    ub = _unit_phasors(zb, sos, padlen)
    plv = np.empty((len(idx), n_win))
    chunk = max(1, _CHUNK_ELEMENTS // (2 * n))
    for c0 in range(0, len(idx), chunk):
        p = idx[c0:c0 + chunk]
        prod = ua[p[:, 0]] * np.conj(ub[p[:, 1]])
        if window is None:
            plv[c0:c0 + chunk, 0] = np.abs(prod.mean(axis=-1))
        else:
            wins = sliding_window_view(prod, w, axis=-1)[:, ::s]
            plv[c0:c0 + chunk] = np.abs(wins.mean(axis=-1))
    plv = np.clip(plv, 0.0, 1.0)
    return plv[:, 0] if window is None else plv


# ---------------------------------------------------------------------------
# dispatcher
# ---------------------------------------------------------------------------

def _ar_metric(a: Any, b: Any, dt: float, *, pairs: PairsSpec = "homologous",
               max_order_s: float | None = None, max_order: int | None = None,
               robust: bool = True, fisher_z: bool = False) -> np.ndarray:
    res = ar_robust_correlation(a, b, dt, pairs=pairs, max_order_s=max_order_s,
                                max_order=max_order, robust=robust)
    return res.z if fisher_z else res.r


_DISPATCH: dict[str, Callable[..., np.ndarray]] = {
    "pearson": pearson_correlation,
    "ar_robust_correlation": _ar_metric,
    "plv": phase_locking_value,
}


def compute_metric(name: str, a: Any, b: Any, dt: float, *, pairs: PairsSpec = "homologous",
                   **options: Any) -> np.ndarray:
    """Compute a synchrony metric by name.

    Parameters
    ----------
    name : str
        One of :data:`METRICS`:

        * ``"pearson"``: :func:`pearson_correlation`; options ``window``, ``step``
          (seconds), ``fisher_z``;
        * ``"ar_robust_correlation"``: :func:`ar_robust_correlation`; options
          ``max_order_s`` (seconds), ``max_order`` (samples), ``robust``, and
          ``fisher_z`` (return ``z`` instead of ``r``, default False);
        * ``"plv"``: :func:`phase_locking_value`; option ``band`` = (shortest,
          longest) period in seconds (required), ``filter_order``, ``window``,
          ``step``.
    a, b : array_like, shape (n_channels_a, n_times), (n_channels_b, n_times)
        Finite real signals of the two partners.
    dt : float
        Sampling interval, in seconds.
    pairs : {"homologous", "all"} or sequence of (int, int)
        Channel pairs (see the module docstring).
    **options
        Options of the metric, as listed above.

    Returns
    -------
    numpy.ndarray of float
        One value per pair, shape ``(n_pairs,)``, or ``(n_pairs, n_windows)`` for a
        windowed metric (window start times from :func:`window_starts`).

    Raises
    ------
    ValueError
        Unknown metric name, unknown or missing options, or the metric's own errors.
    """
    try:
        fn = _DISPATCH[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown synchrony metric {name!r}; choose one of "
                         f"{', '.join(METRICS)} (wavelet coherence is "
                         "interbrain.synchrony.band_coherence)") from None
    params = inspect.signature(fn).parameters
    accepted = [k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
                and k != "pairs"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for metric {name!r}; "
                         f"accepted: {', '.join(accepted)}")
    missing = [k for k in accepted if params[k].default is inspect.Parameter.empty
               and k not in options]
    if missing:
        raise ValueError(f"metric {name!r} needs option(s) {', '.join(missing)}"
                         + (" (band = (shortest, longest) period in seconds)"
                            if "band" in missing else ""))
    return fn(a, b, dt, pairs=pairs, **options)
