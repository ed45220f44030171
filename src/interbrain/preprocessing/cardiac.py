"""Cardiac-band quality indices: scalp coupling index and peak spectral power.

Both indices read optical density band-passed to the cardiac band with the same FIR
filter, which :func:`cardiac_filtered` applies once (:func:`~.fir.fir_filter`, MNE's
filter on all channels at once):

- the **scalp coupling index** (SCI; Pollonini et al., 2014), the values of MNE's
  :func:`mne.preprocessing.nirs.scalp_coupling_index`
  (:func:`scalp_coupling_from_filtered`);
- the **peak spectral power** (PSP; Pollonini et al., 2016), the values of MNE-NIRS's
  :func:`mne_nirs.preprocessing.peak_power` for all windows and pairs at once
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

__all__ = ["cardiac_ok", "cardiac_filtered", "scalp_coupling_from_filtered",
           "peak_spectral_power"]


def _samples(raw: mne.io.BaseRaw) -> np.ndarray:
    """The samples of ``raw``, not copied when it is preloaded (read only)."""
    return raw._data if raw.preload else raw.get_data()


def cardiac_ok(sfreq: float, band: tuple) -> bool:
    """Whether the cardiac band (plus MNE's 0.3 Hz transition) lies below Nyquist."""
    return band[1] + 0.3 < sfreq / 2


def cardiac_filtered(raw_od: mne.io.BaseRaw, band: tuple, *, trans_bandwidth: float = 0.3
                     ) -> tuple[np.ndarray, np.ndarray]:
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

    Returns
    -------
    picks : numpy.ndarray of int
        The fNIRS channels, in MNE's pair order (both wavelengths of a pair together).
    filtered : numpy.ndarray, shape (n_channels, n_times)
        The recording with the rows ``picks`` band-passed.
    """
    picks = _validate_nirs_info(raw_od.info)
    filtered = fir_filter(_samples(raw_od), raw_od.info["sfreq"], band[0], band[1],
                          picks=picks, l_trans_bandwidth=trans_bandwidth,
                          h_trans_bandwidth=trans_bandwidth)
    return picks, filtered


def scalp_coupling_from_filtered(raw_od: mne.io.BaseRaw, picks: np.ndarray,
                                 filtered: np.ndarray) -> np.ndarray:
    """Scalp coupling index of each channel from the cardiac-band optical density.

    The values of :func:`mne.preprocessing.nirs.scalp_coupling_index` (the minimum
    correlation between the wavelengths of each source-detector pair, non-finite
    correlations counted as 0, 0 for a channel of zero variance), from the output of
    :func:`cardiac_filtered` (tested equal to MNE to 1e-12).

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
    zero = np.std(_samples(raw_od)[picks], axis=-1) == 0
    rows = filtered[picks]
    sci = np.zeros(len(picks))
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
        best = -np.inf
        for m in range(length):
            zr = 0.54 * yr[m + 1] - 0.23 * (yr[m] + yr[m + 2])
            zi = 0.54 * yi[m + 1] - 0.23 * (yi[m] + yi[m + 2])
            power = scale[m] * factor[r] * (zr * zr + zi * zi)
            if power > best or power != power:
                best = power
                if power != power:
                    break
        out[r] = best


def _peak_cross_periodogram(c1: np.ndarray, c2: np.ndarray, sd1: np.ndarray,
                            sd2: np.ndarray, sfreq: float, gain: float) -> np.ndarray:
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

    Returns
    -------
    numpy.ndarray
        Shape (...,).
    """
    length = c1.shape[-1]
    if length < 2:   # one value: nothing left after the detrend
        return np.zeros(c1.shape[:-1])
    first, second, scale = _window_dft(length, float(sfreq))
    one = c1.reshape(-1, length) @ first
    two = c2.reshape(-1, length) @ second
    norm = (np.where(sd1 == 0, 1.0, sd1) * np.where(sd2 == 0, 1.0, sd2)).reshape(-1)
    factor = gain ** 2 / (norm * norm)
    out = np.empty(one.shape[0])
    _windowed_peaks(one, two, factor, scale, out)
    return out.reshape(c1.shape[:-1])


def peak_spectral_power(raw_od: mne.io.BaseRaw, *, time_window: float = 10.0,
                        l_freq: float = 0.7, h_freq: float = 1.5,
                        l_trans_bandwidth: float = 0.3, h_trans_bandwidth: float = 0.3,
                        filtered: np.ndarray | None = None,
                        picks: np.ndarray | None = None) -> np.ndarray:
    """Peak spectral power of each channel and time window (Pollonini et al., 2016).

    The values of :func:`mne_nirs.preprocessing.peak_power` (same filter, windows,
    normalisation and periodogram, including its last window one sample short when the
    recording is a whole number of windows), computed for all windows and channel pairs
    at once: mne-nirs loops over windows and pairs in Python, which dominated the
    preprocessing of long recordings (tested equal to mne-nirs to 1e-12 relative). The
    periodogram of each window pair's cross-correlation comes from the two windows'
    DFTs (:func:`_peak_cross_periodogram`), without the correlation.

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
    first, second = filtered[picks[0::2]], filtered[picks[1::2]]
    # mne-nirs ends each window at min(start + size, n_times - 1)
    lengths = np.minimum(np.arange(1, n_windows + 1) * size, n_times - 1) - \
        np.arange(n_windows) * size
    peaks = np.empty((len(first), n_windows))
    for length in np.unique(lengths):
        cols = np.flatnonzero(lengths == length)
        if length == size and cols.size == cols[-1] + 1:   # whole windows: a view
            c1 = first[:, :cols.size * size].reshape(len(first), cols.size, size)
            c2 = second[:, :cols.size * size].reshape(len(first), cols.size, size)
        else:
            idx = (cols * size)[:, None] + np.arange(length)[None, :]
            c1, c2 = first[:, idx], second[:, idx]       # (pairs, windows, length)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd1 = c1.std(axis=-1, keepdims=True)
            sd2 = c2.std(axis=-1, keepdims=True)
        peaks[:, cols] = _peak_cross_periodogram(c1, c2, sd1, sd2, sfreq, gain=1.0 / size)
    scores[0::2] = peaks
    scores[1::2] = peaks
    return scores[np.argsort(picks)]
