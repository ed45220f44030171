"""Temporal derivative distribution repair (TDDR) of many channels at once.

The algorithm and every floating-point operation of MNE's
:func:`mne.preprocessing.nirs.temporal_derivative_distribution_repair` (Fishburn et
al., 2019; MNE's copy of the reference implementation), in the same order, so the
result is bitwise equal to MNE's (``tests/test_preprocessing_speed_equality.py``). It
runs faster because of three changes that do not alter any value:

- the 3rd-order Butterworth low-pass is designed once, not once per channel, and
  applied to all channels in one call of :func:`scipy.signal.filtfilt`;
- a few channels iterate together (2-D arrays, each row with MNE's operations and its
  own stopping rule), so Python's overhead is paid once per iteration of the group;
- the robust standard deviation's median of absolute residuals is found among the
  few residuals near a guess, counting those below: the previous iteration's median
  (a median moves at most as far as the weighted mean ``mu`` does), or in the first
  iteration the 45% and 55% quantiles of every 16th residual; a full
  :func:`numpy.partition` when the count shows the guess missed. The value is the
  same order statistic, so it is exactly :func:`numpy.median`'s.

Channels that hold non-finite values, or fewer than three samples, go through MNE's
own per-channel function.

References
----------
Fishburn FA, Ludlum RS, Vaidya CJ, Medvedev AV (2019). Temporal derivative
distribution repair (TDDR): a motion correction method for fNIRS. NeuroImage 184,
171-179.
"""

from __future__ import annotations

import numpy as np
from mne.preprocessing.nirs._tddr import _TDDR
from scipy.signal import butter, filtfilt

__all__ = ["tddr"]

#: Tukey biweight tuning constant, robust scale factor and iteration limit (MNE's).
_TUNE, _MAD_SCALE, _MAX_ITER = 4.685, 1.4826, 50
#: Samples (rows x times) iterated together.
_BLOCK = 200_000
#: Fewest samples for which the first median is looked for near a subsample's.
_SAMPLED = 2000


def _order_stats(dev: np.ndarray, kth: list[int]) -> np.ndarray:
    """:func:`numpy.median` of each row of ``dev`` from its order statistics ``kth``."""
    part = np.partition(dev, kth, axis=-1)[:, kth]
    return part[:, 0] if len(kth) == 1 else (part[:, 0] + part[:, 1]) / 2


def _row_medians(dev: np.ndarray, guess: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """``numpy.median(dev, axis=1)``, searching first near ``guess``.

    Each row's median is looked for among its values within ``radius`` (plus a few
    ulps) of ``guess``: the values below that band are counted, and the order
    statistics are taken from the band's values alone when the count shows they lie
    in it; rows where it does not (or without a finite guess) are partitioned whole.
    Either way the value is the same order statistic, so the result is bitwise
    :func:`numpy.median`'s (for an even count, the mean of the two middle values).

    Parameters
    ----------
    dev : numpy.ndarray
        Finite values, shape (n_rows, n), n >= 1.
    guess, radius : numpy.ndarray
        Shape (n_rows,): a value near each median and how far the median may lie
        from it.

    Returns
    -------
    numpy.ndarray
        Shape (n_rows,).
    """
    n_rows, n = dev.shape
    kth = [n // 2 - 1, n // 2] if n % 2 == 0 else [n // 2]
    out = np.empty(n_rows)
    todo = np.ones(n_rows, bool)
    with np.errstate(invalid="ignore"):
        known = np.isfinite(guess) & np.isfinite(radius)
    if not known.all() and n >= _SAMPLED:
        # no guess: the 45% and 55% quantiles of every 16th value bracket the median
        # (almost always; the count below checks it)
        guess, radius = guess.copy(), radius.copy()
        sample = dev[~known, ::16]
        m = sample.shape[1]
        edges = np.partition(sample, [int(0.45 * m), int(0.55 * m)], axis=1)
        low, high = edges[:, int(0.45 * m)], edges[:, int(0.55 * m)]
        guess[~known], radius[~known] = (low + high) / 2, (high - low) / 2
        known = np.isfinite(guess) & np.isfinite(radius)
    if known.any():
        rows = np.flatnonzero(known)
        pad = 4 * np.spacing(np.maximum(np.abs(guess[rows]), radius[rows])) + radius[rows]
        lo, hi = (guess[rows] - pad)[:, None], (guess[rows] + pad)[:, None]
        sub = dev if rows.size == n_rows else dev[rows]
        below = np.count_nonzero(sub < lo, axis=1)
        band = sub >= lo
        band &= sub <= hi
        size = np.count_nonzero(band, axis=1)
        fits = (below <= kth[0]) & (kth[-1] - below < size)
        if fits.any():
            which = np.flatnonzero(fits)
            if which.size < rows.size:
                sub, band, below, size = sub[which], band[which], below[which], size[which]
            # the band's values of each fitting row, left-aligned, +inf after them
            values = sub[band]
            line = np.repeat(np.arange(which.size), size)
            slot = np.arange(values.size) - np.repeat(np.cumsum(size) - size, size)
            packed = np.full((which.size, int(size.max())), np.inf)
            packed[line, slot] = values
            packed.sort(axis=1)
            first = packed[np.arange(which.size), kth[0] - below]
            if len(kth) == 1:
                out[rows[which]] = first
            else:
                out[rows[which]] = (first + packed[np.arange(which.size), kth[1] - below]) / 2
            todo[rows[which]] = False
    if todo.any():
        out[todo] = _order_stats(dev[todo], kth)
    return out


def _robust_weights(deriv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MNE's Step 3 (iterative Tukey-biweight estimate) for every row of ``deriv``.

    Each row iterates as in MNE's ``_TDDR`` (same operations, same stopping rules: a
    zero robust standard deviation keeps the previous weights, a relative change of the
    weighted mean below ``sqrt(eps)`` or 50 iterations keep the new ones); rows that
    have stopped leave the working arrays.

    Parameters
    ----------
    deriv : numpy.ndarray
        Temporal derivatives of the low-passed signals, shape (n_rows, n), finite.

    Returns
    -------
    weights : numpy.ndarray
        Shape (n_rows, n).
    mu : numpy.ndarray
        The final weighted mean of each row, shape (n_rows,).
    """
    n_rows, n = deriv.shape
    eps = np.sqrt(np.finfo(deriv.dtype).eps)
    weights, mu_out = np.empty_like(deriv), np.empty(n_rows)
    rows = np.arange(n_rows)
    d = deriv
    w = np.ones_like(deriv)
    mu = np.full(n_rows, np.inf)
    median = np.full(n_rows, np.nan)
    mu_prev = np.full(n_rows, np.nan)
    for iteration in range(_MAX_ITER):
        mu0 = mu
        mu = np.sum(w * d, axis=1) / np.sum(w, axis=1)
        dev = np.abs(d - mu[:, None])
        median = _row_medians(dev, median, np.abs(mu - mu_prev))
        mu_prev = mu
        sigma = _MAD_SCALE * median
        flat = sigma == 0          # MNE breaks before new weights
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(dev, (sigma * _TUNE)[:, None], out=dev)
        np.square(dev, out=dev)
        np.subtract(1, dev, out=dev)
        np.maximum(dev, 0.0, out=dev)     # r >= 1 <=> 1 - r**2 <= 0: weight 0
        new_w = np.square(dev, out=dev)
        converged = np.abs(mu - mu0) < eps * np.maximum(np.abs(mu), np.abs(mu0))
        new_w[flat] = w[flat]
        done = flat | converged | (iteration == _MAX_ITER - 1)
        if done.any():
            weights[rows[done]] = new_w[done]
            mu_out[rows[done]] = mu[done]
            keep = ~done
            rows, d, mu, median, mu_prev = (rows[keep], d[keep], mu[keep], median[keep],
                                            mu_prev[keep])
            new_w = new_w[keep]
            if rows.size == 0:
                break
        w = new_w
    return weights, mu_out


def tddr(data: np.ndarray, sfreq: float) -> np.ndarray:
    """Temporal derivative distribution repair of every row of ``data``.

    Parameters
    ----------
    data : numpy.ndarray
        Optical density (unitless) or haemoglobin, shape (n_channels, n_times).
    sfreq : float
        Sampling rate in Hz.

    Returns
    -------
    numpy.ndarray
        The corrected signals, shape (n_channels, n_times), equal to MNE's
        ``temporal_derivative_distribution_repair`` applied to each row.
    """
    data = np.asarray(data, dtype=float)
    data = data.reshape(1, -1) if data.ndim == 1 else data   # read only
    out = np.empty_like(data)
    n_times = data.shape[1]
    finite = np.isfinite(data).all(axis=1) & (n_times >= 3)
    for i in np.flatnonzero(~finite):
        out[i] = _TDDR(data[i], sfreq)
    rows = np.flatnonzero(finite)
    if rows.size == 0:
        return out
    signal = data if rows.size == len(data) else data[rows]
    means = np.array([np.mean(row) for row in signal])
    signal = signal - means[:, None]
    cutoff = 0.5 * 2 / sfreq
    if cutoff < 1:
        b, a = butter(3, cutoff)
        low = filtfilt(b, a, signal, padlen=0, axis=-1)
    else:
        low = signal
    high = signal - low
    deriv = np.diff(low, axis=-1)
    block = max(1, _BLOCK // n_times)   # rows iterated together (their arrays in cache)
    for first in range(0, rows.size, block):
        part = slice(first, first + block)
        w, mu = _robust_weights(deriv[part])
        new_deriv = w * (deriv[part] - mu[:, None])
        corrected = np.cumsum(np.concatenate([np.zeros((len(w), 1)), new_deriv], axis=1),
                              axis=1)
        corrected = corrected - np.array([np.mean(row) for row in corrected])[:, None]
        out[rows[part]] = corrected + high[part] + means[part, None]
    return out
