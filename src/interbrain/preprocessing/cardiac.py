"""Cardiac-band quality indices: scalp coupling index and peak spectral power.

Both indices read optical density band-passed to the cardiac band with the same FIR
filter, which :func:`cardiac_filtered` applies once (:func:`~.fir.fir_filter`, MNE's
filter on all channels at once):

- the **scalp coupling index** (SCI; Pollonini et al., 2014), the values of MNE's
  :func:`mne.preprocessing.nirs.scalp_coupling_index`
  (:func:`scalp_coupling_from_filtered`);
- the **peak spectral power** (PSP; Pollonini et al., 2016), the values of MNE-NIRS's
  :func:`mne_nirs.preprocessing.peak_power` for all windows of a few pairs at once
  (:func:`peak_spectral_power`).

The references (Pollonini et al., 2014, 2016) are listed in :mod:`.qc`.
"""

from __future__ import annotations

from functools import lru_cache

import mne
import numpy as np
from mne.preprocessing.nirs import _channel_frequencies, _validate_nirs_info
from scipy.signal import get_window

from .._compiled import jit
from .fir import fir_filter

#: Windows whose periodograms are computed together.
_WINDOWS = 512

__all__ = ["cardiac_ok", "cardiac_filtered", "scalp_coupling_from_filtered",
           "peak_spectral_power"]


def _samples(raw: mne.io.BaseRaw) -> np.ndarray:
    """The samples of ``raw``, not copied when it is preloaded (read only)."""
    return raw._data if raw.preload else raw.get_data()


def cardiac_ok(sfreq: float, band: tuple) -> bool:
    """Whether the cardiac band (plus MNE's 0.3 Hz transition) lies below Nyquist."""
    return band[1] + 0.3 < sfreq / 2


def cardiac_filtered(raw_od: mne.io.BaseRaw, band: tuple, *, trans_bandwidth: float = 0.3,
                     picks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Optical density band-passed to the cardiac band, once for SCI and PSP.

    The filter of :func:`mne.preprocessing.nirs.scalp_coupling_index` and of
    :func:`mne_nirs.preprocessing.peak_power` (their call of
    :func:`mne.filter.filter_data`: default FIR, ``trans_bandwidth`` Hz transitions,
    here through :func:`~.fir.fir_filter`, which gives the same values), so both
    indices are computed from one filtered copy instead of one each.

    Parameters
    ----------
    raw_od : mne.io.BaseRaw
        Optical density, channels in source-detector pairs.
    band : (float, float)
        Cardiac band in Hz.
    trans_bandwidth : float
        Width of both transition bands in Hz.
    picks : numpy.ndarray of int, optional
        ``_validate_nirs_info(raw_od.info)`` when the caller has it; validated here
        when None.

    Returns
    -------
    picks : numpy.ndarray of int
        The fNIRS channels, in MNE's pair order (both wavelengths of a pair together).
    filtered : numpy.ndarray, shape (n_channels, n_times)
        The recording with the rows ``picks`` band-passed.
    """
    picks = _validate_nirs_info(raw_od.info) if picks is None else picks
    filtered = fir_filter(_samples(raw_od), raw_od.info["sfreq"], band[0], band[1],
                          picks=picks, l_trans_bandwidth=trans_bandwidth,
                          h_trans_bandwidth=trans_bandwidth)
    return picks, filtered


@jit
def _row_spread(x, rows, out):
    """Largest minus smallest value of each row ``rows`` of ``x`` (NaN propagates)."""
    for k in range(rows.shape[0]):
        row = x[rows[k]]
        lo, hi = row[0], row[0]
        for v in row:
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        out[k] = hi - lo


def _zero_std(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``numpy.std(x[rows], axis=-1) == 0``, without computing most deviations.

    A row whose values span more than 1e-140 has a deviation from its mean of more
    than half that, whose square divided by n (n < 1e15 samples) is not zero: its
    standard deviation is positive. The others (flat rows, NaN, tiny spreads) get
    numpy's.
    """
    if x.shape[1] == 0:
        return np.std(x[rows], axis=-1) == 0
    spread = np.empty(len(rows))
    _row_spread(x, np.ascontiguousarray(rows, np.int64), spread)
    out = np.zeros(len(rows), bool)
    check = ~(spread > 1e-140)
    if check.any():
        out[check] = np.std(x[rows[check]], axis=-1) == 0
    return out


@jit
def _pair_correlations(x, first, second, out):
    """``numpy.corrcoef(x[first[k]], x[second[k]])[0, 1]`` of every k, 0 where it is not
    finite: centred sums of products (eight partial sums each), clipped to [-1, 1]."""
    n = x.shape[1]
    for k in range(first.shape[0]):
        a, b = x[first[k]], x[second[k]]
        sa = np.zeros(8)
        sb = np.zeros(8)
        for i in range(n - n % 8):
            sa[i % 8] += a[i]
            sb[i % 8] += b[i]
        ta, tb = sa.sum(), sb.sum()
        for i in range(n - n % 8, n):
            ta += a[i]
            tb += b[i]
        ma, mb = ta / n, tb / n
        saa = np.zeros(8)
        sbb = np.zeros(8)
        sab = np.zeros(8)
        for i in range(n - n % 8):
            da, db = a[i] - ma, b[i] - mb
            j = i % 8
            saa[j] += da * da
            sbb[j] += db * db
            sab[j] += da * db
        taa, tbb, tab = saa.sum(), sbb.sum(), sab.sum()
        for i in range(n - n % 8, n):
            da, db = a[i] - ma, b[i] - mb
            taa += da * da
            tbb += db * db
            tab += da * db
        if taa == 0.0 or tbb == 0.0:   # 0 / 0 or x / 0: not finite, so 0
            c = 0.0
        else:
            c = tab / np.sqrt(taa) / np.sqrt(tbb)
        if not np.isfinite(c):
            c = 0.0
        out[k] = min(max(c, -1.0), 1.0)


def scalp_coupling_from_filtered(raw_od: mne.io.BaseRaw, picks: np.ndarray,
                                 filtered: np.ndarray) -> np.ndarray:
    """Scalp coupling index of each channel from the cardiac-band optical density.

    The values of :func:`mne.preprocessing.nirs.scalp_coupling_index` (the minimum
    correlation between the wavelengths of each source-detector pair, non-finite
    correlations counted as 0, 0 for a channel of zero variance), from the output of
    :func:`cardiac_filtered` (tested equal to MNE to 1e-12). With two wavelengths all
    pairs' correlations are computed in one compiled pass (:func:`_pair_correlations`);
    with more, one :func:`numpy.corrcoef` per pair of wavelengths, as MNE.

    Parameters
    ----------
    raw_od : mne.io.BaseRaw
        The unfiltered optical density.
    picks, filtered : numpy.ndarray
        From :func:`cardiac_filtered`.

    Returns
    -------
    numpy.ndarray, shape (len(picks),)
        In channel order.
    """
    freqs = _channel_frequencies(raw_od.info)
    n_wl = len(np.unique(freqs))
    picks = np.asarray(picks, np.int64)
    zero = _zero_std(_samples(raw_od), picks)
    sci = np.zeros(len(picks))
    if n_wl == 2 and len(picks) % 2 == 0 and filtered.dtype == np.float64:
        corr = np.empty(len(picks) // 2)
        _pair_correlations(filtered, picks[0::2].copy(), picks[1::2].copy(), corr)
        sci[0::2] = corr
        sci[1::2] = corr
    else:
        rows = filtered[picks]
        ii, jj = np.triu_indices(n_wl, k=1)
        for gg in range(0, len(picks), n_wl):
            group = rows[gg:gg + n_wl]
            corr = np.zeros(len(ii))
            for k, (i, j) in enumerate(zip(ii, jj)):
                with np.errstate(invalid="ignore", divide="ignore"):
                    c = np.corrcoef(group[i], group[j])[0][1]
                if np.isfinite(c):
                    corr[k] = c
            sci[gg:gg + n_wl] = corr.min()
    sci[zero] = 0
    return sci[np.argsort(picks)]


@lru_cache(maxsize=8)
def _window_dft(length: int, sfreq: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What :func:`_peak_cross_periodogram` needs for windows of ``length`` samples.

    The first ``length`` terms of the N-point DFT (N = 2 length - 1, the length of the
    full cross-correlation) of a window, as real matrices [cos | -sin] of shape
    (length, 2 length): the first window delayed by ``length - 1`` samples (the lag
    of the correlation's first value), the second not (angles from exact integer
    products mod N); and :func:`scipy.signal.periodogram`'s density scale of each of
    these frequencies with the periodic Hamming window of N samples (one-sided:
    doubled but at 0 Hz; N is odd, so there is no Nyquist term)."""
    n = 2 * length - 1
    t, m = np.arange(length)[:, None], np.arange(length)[None, :]
    bases = []
    for delay in (length - 1, 0):
        angle = 2 * np.pi * (((t + delay) * m) % n) / n
        bases.append(np.concatenate([np.cos(angle), -np.sin(angle)], axis=1))
    window = get_window("hamming", n)
    scale = np.full(length, 2.0 / (sfreq * np.sum(window * window)))
    scale[0] /= 2
    return bases[0], bases[1], scale


@jit
def _largest_power(yr, yi, count, scale, factor):
    """Largest ``scale[m] * factor * |Z[m]|^2`` over ``m < count``, NaN if any is NaN:
    ``Z[m] = 0.54 Y[m] - 0.23 (Y[m - 1] + Y[m + 1])`` (the periodic Hamming window
    applied to the DFT terms), with ``Y[m]`` at ``yr[m + 1] + i yi[m + 1]``."""
    best = -np.inf
    for m in range(count):
        zr = 0.54 * yr[m + 1] - 0.23 * (yr[m] + yr[m + 2])
        zi = 0.54 * yi[m + 1] - 0.23 * (yi[m] + yi[m + 2])
        power = scale[m] * factor * (zr * zr + zi * zi)
        if power > best or power != power:
            best = power
            if power != power:
                break
    return best


@jit
def _windowed_peaks(one, two, factor, scale, out):
    """Largest periodogram value of each row from its two windows' DFT terms.

    ``one`` and ``two``: (rows, 2 L) real | imaginary parts of A[m] (delayed) and B[m],
    m < L. Y[m] = A[m] conj(B[m]) is the N-point DFT of the cross-correlation; the
    constant detrend sets Y[0] = 0; the periodic Hamming window ``0.54 - 0.46 cos(2 pi
    t / N)`` makes the windowed term ``0.54 Y[m] - 0.23 (Y[m - 1] + Y[m + 1])``
    (circular, with Y[-1] = conj(Y[1]) and Y[L] = conj(Y[L - 1]) since the
    correlation is real). Power: ``scale[m] * factor[row] * |.|**2``; the maximum
    over m, NaN if a term is NaN (numpy's ``max``)."""
    length = scale.shape[0]
    yr = np.empty(length + 2)
    yi = np.empty(length + 2)
    for r in range(one.shape[0]):
        a, b = one[r], two[r]
        yr[1], yi[1] = 0.0, 0.0            # Y[0], after the detrend
        for m in range(1, length):
            ar, ai, br, bi = a[m], a[length + m], b[m], b[length + m]
            yr[m + 1] = ar * br + ai * bi
            yi[m + 1] = ai * br - ar * bi
        yr[0], yi[0] = yr[2], -yi[2]                               # Y[-1]
        yr[length + 1], yi[length + 1] = yr[length], -yi[length]   # Y[L]
        out[r] = _largest_power(yr, yi, length, scale, factor[r])


def _peak_cross_periodogram(c1: np.ndarray, c2: np.ndarray, sd1: np.ndarray,
                            sd2: np.ndarray, sfreq: float, gain: float,
                            n_low: int = 0) -> np.ndarray:
    """Largest value of :func:`scipy.signal.periodogram` (``window="hamming"``) of
    ``gain * numpy.correlate(c1 / sd1, c2 / sd2, "full")`` for each pair of rows.

    The full cross-correlation of two windows of L samples has N = 2L - 1 values, so
    its N-point DFT is exactly ``exp(-2 pi i (L - 1) m / N) A[m] conj(B[m])`` (A, B the
    N-point DFTs of the windows): two matrix products (:func:`_window_dft`; N is often
    prime, where FFTs are slow) and :func:`_windowed_peaks`, without the correlation.
    The standard deviations (0 counted as 1) scale the power. Equal to SciPy's
    periodogram of the correlation to about 1e-15 relative.

    Parameters
    ----------
    c1, c2 : numpy.ndarray
        Windows, shape (..., L), L >= 1.
    sd1, sd2 : numpy.ndarray
        Their standard deviations, shape (..., 1).
    sfreq : float
        Sampling rate in Hz.
    gain : float
        Factor of the cross-correlation.
    n_low : int
        When positive: the number of lowest frequencies (of the N-point DFT) that hold
        the signal (a band-passed one); the peak is looked for among them first
        (:func:`_low_peaks`), and rows where the rest might hold a larger value get
        every frequency.

    Returns
    -------
    numpy.ndarray
        Shape (...,).
    """
    length = c1.shape[-1]
    if length < 2:   # one value: nothing left after the detrend
        return np.zeros(c1.shape[:-1])
    first, second, scale = _window_dft(length, float(sfreq))
    a, b = c1.reshape(-1, length), c2.reshape(-1, length)
    norm = (np.where(sd1 == 0, 1.0, sd1) * np.where(sd2 == 0, 1.0, sd2)).reshape(-1)
    factor = gain ** 2 / (norm * norm)
    out = np.empty(a.shape[0])
    todo = np.arange(a.shape[0])
    if 3 <= n_low < 0.7 * length:   # the lowest n_low frequencies first
        cols = np.r_[0:n_low, length:length + n_low]
        ok = np.empty(a.shape[0], np.bool_)
        _low_peaks(a @ first[:, cols], b @ second[:, cols], factor, scale,
                   np.einsum("ij,ij->i", a, a) * (2 * length - 1),
                   np.einsum("ij,ij->i", b, b) * (2 * length - 1), out, ok)
        todo = np.flatnonzero(~ok)
    if todo.size:   # every frequency
        one = (a if todo.size == len(a) else a[todo]) @ first
        two = (b if todo.size == len(b) else b[todo]) @ second
        rest = np.empty(todo.size)
        _windowed_peaks(one, two, factor[todo], scale, rest)
        out[todo] = rest
    return out.reshape(c1.shape[:-1])


@jit
def _low_peaks(one, two, factor, scale, energy1, energy2, out, ok):
    """:func:`_windowed_peaks` from the lowest M frequencies only, where that suffices.

    ``one``, ``two``: (rows, 2 M) real | imaginary parts of A[m], B[m], m < M. The
    exact powers of m < M - 1 (they need Y up to M - 1) give the largest of them; the
    others are bounded by Parseval's theorem: the N-point DFT of a window of energy
    E holds N E in all, |A[0]|^2 + 2 sum_{m >= 1} |A[m]|^2, so every |A[k]|^2 with
    k >= M is at most (N E - the known part) / 2 (``energy1`` = N E; likewise B),
    so |Y[k]| <= sqrt(RA RB) / 2 and |Z[m]| <= 0.54 |Y[m]| + 0.23 (|Y[m - 1]| +
    |Y[m + 1]|) with the known |Y| where known. ``ok[r]``: the largest known power
    exceeds that bound (with a margin for rounding), so it is the largest of all, in
    ``out[r]``; else the row needs every frequency."""
    m_count = one.shape[1] // 2
    top = scale.max()
    mag = np.empty(m_count)
    yr = np.empty(m_count + 1)
    yi = np.empty(m_count + 1)
    for r in range(one.shape[0]):
        a, b = one[r], two[r]
        known1 = a[0] * a[0] + a[m_count] * a[m_count]
        known2 = b[0] * b[0] + b[m_count] * b[m_count]
        yr[1], yi[1] = 0.0, 0.0            # Y[0], after the detrend
        mag[0] = 0.0
        for m in range(1, m_count):
            ar, ai, br, bi = a[m], a[m_count + m], b[m], b[m_count + m]
            yr[m + 1] = ar * br + ai * bi
            yi[m + 1] = ai * br - ar * bi
            p1, p2 = ar * ar + ai * ai, br * br + bi * bi
            known1 += 2 * p1
            known2 += 2 * p2
            mag[m] = np.sqrt(p1 * p2)
        yr[0], yi[0] = yr[2], -yi[2]       # Y[-1] = conj(Y[1])
        best = _largest_power(yr, yi, m_count - 1, scale, factor[r])
        out[r] = best
        rest1 = max(energy1[r] - known1, 0.0) + 1e-9 * energy1[r]
        rest2 = max(energy2[r] - known2, 0.0) + 1e-9 * energy2[r]
        bound = np.sqrt(rest1 * rest2) / 2          # |Y[k]|, k >= M
        last = mag[m_count - 1]
        z = max(0.54 * last + 0.23 * (mag[m_count - 2] + bound),
                0.77 * bound + 0.23 * max(last, bound))
        limit = top * factor[r] * z * z
        ok[r] = best != best or best > limit * (1 + 1e-6)


def _windows(x: np.ndarray, rows: np.ndarray, idx: np.ndarray, whole: bool) -> np.ndarray:
    """The windows ``idx`` (n_windows, length) of the rows ``rows`` of ``x``, shape
    (len(rows), n_windows, length): a view for one row of whole windows from 0."""
    if whole:
        span = idx.size
        if len(rows) == 1:
            return x[rows[0], :span].reshape(1, *idx.shape)
        return np.stack([x[r, :span] for r in rows]).reshape(len(rows), *idx.shape)
    return x[rows[:, None, None], idx[None]]


def peak_spectral_power(raw_od: mne.io.BaseRaw, *, time_window: float = 10.0,
                        l_freq: float = 0.7, h_freq: float = 1.5,
                        l_trans_bandwidth: float = 0.3, h_trans_bandwidth: float = 0.3,
                        filtered: np.ndarray | None = None,
                        picks: np.ndarray | None = None) -> np.ndarray:
    """Peak spectral power of each channel and time window (Pollonini et al., 2016).

    The values of :func:`mne_nirs.preprocessing.peak_power` (same filter, windows,
    normalisation and periodogram, including its last window one sample short when the
    recording is a whole number of windows), computed for all windows of a few channel
    pairs at once (about 512 windows, which stay in the processor's cache): mne-nirs
    loops over windows and pairs in Python, which dominated the preprocessing of long
    recordings (tested equal to mne-nirs to 1e-12 relative). The periodogram of each
    window pair's cross-correlation comes from the two windows' DFTs
    (:func:`_peak_cross_periodogram`), without the correlation.

    Parameters
    ----------
    raw_od : mne.io.BaseRaw
        Optical density, channels in source-detector pairs (two wavelengths each).
    time_window : float
        Window length in seconds.
    l_freq, h_freq, l_trans_bandwidth, h_trans_bandwidth : float
        The cardiac band-pass (Hz), as :func:`mne.filter.filter_data`.
    filtered : numpy.ndarray, shape (n_channels, n_times), optional
        The recording already band-passed with these settings (:func:`cardiac_filtered`,
        shared with the scalp coupling index); filtered here if not given.
    picks : numpy.ndarray of int, optional
        The fNIRS channels in MNE's pair order, as :func:`cardiac_filtered` returns
        them (found here if not given).

    Returns
    -------
    numpy.ndarray, shape (n_channels, n_windows)
        Each pair's value on both of its channels, in channel order.
    """
    picks = _validate_nirs_info(raw_od.info) if picks is None else picks
    sfreq = raw_od.info["sfreq"]
    if filtered is None:
        filtered = fir_filter(_samples(raw_od), sfreq, l_freq, h_freq, picks=picks,
                              l_trans_bandwidth=l_trans_bandwidth,
                              h_trans_bandwidth=h_trans_bandwidth)
    n_times = filtered.shape[1]
    size = int(np.ceil(time_window * sfreq))
    n_windows = n_times // size
    scores = np.zeros((len(picks), n_windows))
    if n_windows == 0:
        return scores
    # mne-nirs ends each window at min(start + size, n_times - 1)
    lengths = np.minimum(np.arange(1, n_windows + 1) * size, n_times - 1) - \
        np.arange(n_windows) * size
    n_pairs = len(picks) // 2
    peaks = np.empty((n_pairs, n_windows))
    # a few pairs at a time (about _WINDOWS windows): their windows stay in cache
    step = max(1, _WINDOWS // n_windows)
    for length in np.unique(lengths):
        cols = np.flatnonzero(lengths == length)
        whole = length == size and cols.size == cols[-1] + 1   # windows 0.. in a row
        # the DFT terms (of 2 length - 1 points) up to the band's upper transition edge,
        # and 3 more: where the band-passed windows' peak is (checked, see _low_peaks)
        n_low = int(np.ceil((h_freq + h_trans_bandwidth) * (2 * length - 1) / sfreq)) + 3
        idx = (cols * size)[:, None] + np.arange(length)[None, :]
        for p0 in range(0, n_pairs, step):
            pairs = np.arange(p0, min(p0 + step, n_pairs))
            c1, c2 = (_windows(filtered, picks[2 * pairs + k], idx, whole) for k in (0, 1))
            with np.errstate(invalid="ignore", divide="ignore"):
                sd1 = c1.std(axis=-1, keepdims=True)
                sd2 = c2.std(axis=-1, keepdims=True)
            peaks[p0:p0 + len(pairs), cols] = _peak_cross_periodogram(
                c1, c2, sd1, sd2, sfreq, gain=1.0 / size, n_low=n_low)
    scores[0::2] = peaks
    scores[1::2] = peaks
    return scores[np.argsort(picks)]
