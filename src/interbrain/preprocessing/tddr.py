"""Temporal derivative distribution repair (TDDR) of many channels at once.

The algorithm and every floating-point operation of MNE's
:func:`mne.preprocessing.nirs.temporal_derivative_distribution_repair` (Fishburn et
al., 2019; MNE's copy of the reference implementation), in the same order, so the
result is bitwise equal to MNE's (``tests/test_preprocessing_speed_equality.py``,
``tests/test_tddr_kernel.py``). It runs faster because of changes that do not alter
any value:

- the 3rd-order Butterworth low-pass is designed once, not once per channel, and
  applied to several channels side by side (:func:`~.iir.filtfilt_rows`, bitwise
  :func:`scipy.signal.filtfilt`); the channels go through in blocks of eight, so that
  the work arrays stay small;
- the iterative Tukey-biweight estimate and the steps after it run per channel in one
  compiled loop (numba), each iteration fusing MNE's passes: one pass computes the
  absolute residuals and finds their median, one computes the new weights together
  with the two sums of the next weighted mean. The sums are numpy's pairwise
  summation (:func:`pairwise_sum`, the order of numpy's ``add.reduce`` of a contiguous
  float64 array), so each ``np.sum`` / ``np.mean`` has numpy's exact value;
- the median of the absolute residuals is found among the few residuals near the
  previous iteration's median (a median moves at most as far as the weighted mean
  ``mu`` does), counting those below; a full selection when the count shows the band
  missed. Either way it is the same order statistic (for an even count, the mean of
  the two middle ones), so exactly :func:`numpy.median`'s.

Channels that hold non-finite or huge (> 1e100) values, or fewer than three samples,
go through MNE's own per-channel function.

The loops are compiled by :func:`~.compiled.jit`: the first call in a process loads
them from numba's on-disk cache, or compiles them where there is none yet (seconds,
once; see :mod:`.compiled`).

References
----------
Fishburn FA, Ludlum RS, Vaidya CJ, Medvedev AV (2019). Temporal derivative
distribution repair (TDDR): a motion correction method for fNIRS. NeuroImage 184,
171-179.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from mne.preprocessing.nirs._tddr import _TDDR
from scipy.signal import butter

from .._compiled import jit
from .iir import filtfilt_rows

__all__ = ["tddr", "pairwise_sum", "select_median"]

#: Tukey biweight tuning constant, robust scale factor and iteration limit (MNE's).
_TUNE, _MAD_SCALE, _MAX_ITER = 4.685, 1.4826, 50
#: Largest magnitude the compiled path takes (beyond it, overflow: MNE's function).
_HUGE = 1e100
#: Fewest residuals whose first median is looked for near that of every _STEP-th.
_SAMPLED, _STEP = 2000, 16
#: Rows corrected together (their work arrays stay small).
_ROWS = 4
#: Residuals per chunk of the band search.
_CHUNK = 64
#: numpy's pairwise-summation block (``PW_BLOCKSIZE``) and unrolling.
_BLOCK, _UNROLL = 128, 8

@jit
def _value(d, w, i, products):
    """``w[i] * d[i]`` or ``d[i]``."""
    return w[i] * d[i] if products else d[i]


@jit
def _leaf_sums(d, w, products):
    """numpy's ``pairwise_sum`` of a block of n <= 128 values, for two arrays at once.

    The values are ``w[i] * d[i]`` (``products``) or ``d[i]``, and ``w[i]``; blocks of
    fewer than 8 values are summed one by one from 0, larger ones in 8 partial sums
    combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), plus the rest one by
    one (numpy/_core/src/umath/loops_utils.h.src). ``d`` and ``w`` are the block's
    views (loops from 0 over a view compile to tighter code than offsets do).
    """
    n = d.shape[0]
    if n < _UNROLL:
        s, t = 0.0, 0.0
        for i in range(n):
            s += _value(d, w, i, products)
            t += w[i]
        return s, t
    r0, r1, r2, r3 = (_value(d, w, 0, products), _value(d, w, 1, products),
                      _value(d, w, 2, products), _value(d, w, 3, products))
    r4, r5, r6, r7 = (_value(d, w, 4, products), _value(d, w, 5, products),
                      _value(d, w, 6, products), _value(d, w, 7, products))
    q0, q1, q2, q3, q4, q5, q6, q7 = w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]
    n8 = n // _UNROLL
    for b in range(1, n8):
        i = _UNROLL * b
        r0 += _value(d, w, i, products)
        r1 += _value(d, w, i + 1, products)
        r2 += _value(d, w, i + 2, products)
        r3 += _value(d, w, i + 3, products)
        r4 += _value(d, w, i + 4, products)
        r5 += _value(d, w, i + 5, products)
        r6 += _value(d, w, i + 6, products)
        r7 += _value(d, w, i + 7, products)
        q0 += w[i]
        q1 += w[i + 1]
        q2 += w[i + 2]
        q3 += w[i + 3]
        q4 += w[i + 4]
        q5 += w[i + 5]
        q6 += w[i + 6]
        q7 += w[i + 7]
    s = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    t = ((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7))
    for i in range(n8 * _UNROLL, n):
        s += _value(d, w, i, products)
        t += w[i]
    return s, t


@jit
def _weigh_block(d, w, mu, scale):
    """Tukey's biweight of the view ``d`` into the view ``w``: ``((1 - r**2) * (r < 1))
    ** 2`` with r = |d - mu| / scale, numpy's operations one by one."""
    for i in range(d.shape[0]):
        r = np.abs(d[i] - mu) / scale
        inside = 1.0 if r < 1.0 else 0.0    # the boolean as numpy multiplies it
        t = (1.0 - r * r) * inside          # NaN for r = inf, as numpy's -inf * 0
        w[i] = t * t


@jit
def _tree_sums(d, w, n, products, weigh, mu, scale):
    """numpy's pairwise sums of the first n values (see :func:`_leaf_sums`), both +0.0.

    numpy halves a block of more than 128 values at n2 = n / 2 - (n / 2) % 8 and adds
    the two halves' sums; this walks that tree without recursion (numba cannot cache
    recursive functions). With ``weigh`` each block's weights are first
    computed (:func:`_weigh_block`), so the weights and their sums take one pass.
    """
    depth = 64
    at = np.empty(depth, np.int64)
    size = np.empty(depth, np.int64)
    stage = np.zeros(depth, np.int64)
    left_s = np.empty(depth)
    left_t = np.empty(depth)
    at[0], size[0], stage[0] = 0, n, 0
    top = 1
    s, t = 0.0, 0.0
    while top > 0:
        k = top - 1
        if size[k] <= _BLOCK:
            dv, wv = d[at[k]:at[k] + size[k]], w[at[k]:at[k] + size[k]]
            if weigh:
                _weigh_block(dv, wv, mu, scale)
            s, t = _leaf_sums(dv, wv, products)
            top -= 1
            continue
        half = size[k] // 2
        half -= half % _UNROLL
        if stage[k] == 0:               # descend left
            stage[k] = 1
            at[top], size[top], stage[top] = at[k], half, 0
            top += 1
        elif stage[k] == 1:             # left done: keep it, descend right
            left_s[k], left_t[k] = s, t
            stage[k] = 2
            at[top], size[top], stage[top] = at[k] + half, size[k] - half, 0
            top += 1
        else:                           # both done
            s, t = left_s[k] + s, left_t[k] + t
            top -= 1
    return 0.0 + s, 0.0 + t


@jit
def pairwise_sum(a):
    """``numpy.sum`` of a 1-D float64 array, bitwise: ``0.0 +`` numpy's pairwise sum.

    Parameters
    ----------
    a : numpy.ndarray
        Shape (n,), float64, contiguous.

    Returns
    -------
    float
    """
    return _tree_sums(a, a, a.shape[0], False, False, 0.0, 1.0)[0]


@jit
def _select(buf, m, k):
    """The k-th smallest of ``buf[:m]`` (0-based), partially reordering ``buf``: every
    value after index k is then >= the k-th.

    Quickselect with a median-of-three pivot and branch-free partitions (a swap every
    step, the boundary advanced by the comparison: residuals compare unpredictably, and
    mispredicted branches cost more than the swaps): first the values below the pivot,
    then, when k lies beyond them, those equal to it (many equal values cost one round).
    What is left after 64 rounds is sorted.
    """
    lo, hi = 0, m - 1
    rounds = 0
    while hi > lo:
        rounds += 1
        if rounds > 64:
            buf[lo:hi + 1].sort()
            return buf[k]
        mid = (lo + hi) >> 1
        a, b, c = buf[lo], buf[mid], buf[hi]
        if a > b:
            a, b = b, a
        if b > c:
            b = c if a <= c else a
        pivot = b
        store = lo                      # [lo, store) < pivot
        for i in range(lo, hi + 1):
            v = buf[i]
            buf[i] = buf[store]
            buf[store] = v
            store += v < pivot
        if k < store:
            hi = store - 1
            continue
        equal = store                   # [store, equal) == pivot
        for i in range(store, hi + 1):
            v = buf[i]
            buf[i] = buf[equal]
            buf[equal] = v
            equal += v <= pivot
        if k < equal:
            return pivot
        lo = equal
    return buf[k]


@jit
def _median_of(buf, m, k0, even):
    """:func:`numpy.median`'s value from the order statistics k0 (and k0 + 1)."""
    a = _select(buf, m, k0)
    if not even:
        return 0.0 + a       # numpy's mean of one value (turns -0.0 into 0.0)
    b = buf[k0 + 1]          # after selection every later value is >= a
    for j in range(k0 + 2, m):
        if buf[j] < b:
            b = buf[j]
    return (0.0 + ((0.0 + a) + b)) / 2


@jit
def select_median(x):
    """``numpy.median`` of a 1-D float64 array without NaN, bitwise (a copy is sorted).

    Parameters
    ----------
    x : numpy.ndarray
        Shape (n,), n >= 1, no NaN.

    Returns
    -------
    float
    """
    n = x.shape[0]
    buf = x.copy()
    return _median_of(buf, n, (n - 1) // 2, n % 2 == 0)


@jit
def _band_select(d, mu, lo, hi, k0, even, buf):
    """The median of ``abs(d - mu)`` if its middle order statistics lie in [lo, hi].

    One pass counts the residuals below ``lo`` and packs those in the band into
    ``buf``, 64 at a time: a chunk is packed only when its count found some in the
    band (branch free: every value stored, the end advanced for band values only).
    Returns NaN when the count shows the band misses the middle order statistics.
    """
    n = d.shape[0]
    below, m = 0, 0
    for start in range(0, n, _CHUNK):
        dv = d[start:min(start + _CHUNK, n)]
        inside = 0
        for i in range(dv.shape[0]):
            v = np.abs(dv[i] - mu)
            below += v < lo
            inside += (v >= lo) & (v <= hi)
        if inside:
            for i in range(dv.shape[0]):    # branch free: store, advance if inside
                v = np.abs(dv[i] - mu)
                buf[m] = v
                m += (v >= lo) & (v <= hi)
    k1 = k0 + 1 if even else k0
    if below <= k0 and k1 - below < m:
        return _median_of(buf, m, k0 - below, even)
    return np.nan


@jit
def _residual_median(d, mu, guess, radius, buf):
    """``numpy.median(numpy.abs(d - mu))``, searching first within ``radius`` of ``guess``.

    Without a guess (NaN), the band is the 45% to 55% quantiles of every 16th residual
    (for at least 2000 residuals). The residuals below the band are counted and those
    inside it kept in ``buf``; when the count shows the middle order statistics lie in
    the band they are selected from it alone, otherwise from all residuals.
    """
    n = d.shape[0]
    even = n % 2 == 0
    k0 = (n - 1) // 2
    if not (np.isfinite(guess) and np.isfinite(radius)) and n >= _SAMPLED:
        m = 0
        for i in range(0, n, _STEP):
            buf[m] = np.abs(d[i] - mu)
            m += 1
        low = _select(buf, m, int(0.45 * m))
        high = _select(buf, m, int(0.55 * m))
        guess, radius = (low + high) / 2, (high - low) / 2
    if np.isfinite(guess) and np.isfinite(radius):
        pad = radius + 4 * np.spacing(max(abs(guess), radius))
        value = _band_select(d, mu, guess - pad, guess + pad, k0, even, buf)
        if not np.isnan(value):
            return value
    for i in range(n):
        buf[i] = np.abs(d[i] - mu)
    return _median_of(buf, n, k0, even)


@jit
def _repair_row(low, signal, mean, out, d, w, buf):
    """MNE's ``_TDDR`` from its low-passed signal on, for one channel.

    Parameters
    ----------
    low, signal : numpy.ndarray
        The low-passed and the mean-removed signal, shape (n_times,), n_times >= 3.
    mean : float
        The removed mean.
    out : numpy.ndarray
        Shape (n_times,): receives the corrected signal.
    d, w, buf : numpy.ndarray
        Work space, shape (n_times - 1,).
    """
    n = d.shape[0]
    for i in range(n):                       # Step 1: temporal derivative
        d[i] = low[i + 1] - low[i]
    eps = np.sqrt(np.finfo(np.float64).eps)
    for i in range(n):                       # Step 2: weights 1
        w[i] = 1.0
    swd, sw = _tree_sums(d, w, n, True, False, 0.0, 1.0)
    mu = np.inf
    median, mu_prev = np.nan, np.nan
    for _ in range(_MAX_ITER):               # Step 3: iterative robust weights
        mu0 = mu
        mu = swd / sw
        median = _residual_median(d, mu, median, abs(mu - mu_prev), buf)
        mu_prev = mu
        sigma = _MAD_SCALE * median
        if sigma == 0:
            break                            # the previous weights stay
        swd, sw = _tree_sums(d, w, n, True, True, mu, sigma * _TUNE)
        largest = abs(mu)                    # Python's max(abs(mu), abs(mu0))
        if abs(mu0) > largest:
            largest = abs(mu0)
        if abs(mu - mu0) < eps * largest:
            break
    # Steps 4 and 5: corrected derivative, integrated from 0; then centred
    acc = 0.0
    out[0] = acc
    for i in range(n):
        acc = acc + w[i] * (d[i] - mu)
        out[i + 1] = acc
    centre = _tree_sums(out, out, n + 1, False, False, 0.0, 1.0)[0] / (n + 1)
    for i in range(n + 1):                   # + the high frequencies + the mean
        out[i] = ((out[i] - centre) + (signal[i] - low[i])) + mean


@jit
def _repair_rows(low, signal, means, out):
    """:func:`_repair_row` of every row, shapes (n_rows, n_times)."""
    n = low.shape[1] - 1
    d, w, buf = np.empty(n), np.empty(n), np.empty(n)
    for r in range(low.shape[0]):
        _repair_row(low[r], signal[r], means[r], out[r], d, w, buf)


@jit
def _plain_rows(data, huge, out):
    """Whether every value of each row is at most ``huge`` in magnitude (NaN: no)."""
    for r in range(data.shape[0]):
        ok = True
        for v in data[r]:
            if not abs(v) <= huge:
                ok = False
                break
        out[r] = ok


@lru_cache(maxsize=8)
def _low_pass(cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """MNE's 3rd-order Butterworth low-pass of TDDR, ``butter(3, cutoff)`` (designed
    once per rate)."""
    b, a = butter(3, cutoff)
    b.flags.writeable = a.flags.writeable = False
    return b, a


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
    plain = np.zeros(len(data), bool)     # finite, no overflow
    if n_times >= 3:
        _plain_rows(np.ascontiguousarray(data), _HUGE, plain)
    for i in np.flatnonzero(~plain):
        out[i] = _TDDR(data[i], sfreq)
    rows = np.flatnonzero(plain)
    if rows.size == 0:
        return out
    cutoff = 0.5 * 2 / sfreq
    low_pass = _low_pass(cutoff) if cutoff < 1 else None
    every = rows.size == len(data)
    for first in range(0, rows.size, _ROWS):   # a few rows at a time: small work arrays
        block = rows[first:first + _ROWS]
        signal = data[block]
        means = np.array([np.mean(row) for row in signal])
        signal -= means[:, None]
        # scipy's filtfilt(..., padlen=0), bitwise
        low = signal if low_pass is None else filtfilt_rows(*low_pass, signal)
        if every:   # straight into the result's rows
            _repair_rows(low, signal, means, out[first:first + len(block)])
            continue
        repaired = np.empty_like(signal)
        _repair_rows(low, signal, means, repaired)
        out[block] = repaired
    return out
