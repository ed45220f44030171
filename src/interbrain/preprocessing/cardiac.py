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
from scipy.fft import irfft, next_fast_len, rfft
from scipy.signal import get_window

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
def _periodogram_basis(n: int, sfreq: float) -> tuple[np.ndarray, np.ndarray]:
    """The linear map from a series of ``n`` samples to the real and imaginary parts
    of its one-sided DFT after :func:`scipy.signal.periodogram`'s constant detrend and
    periodic Hamming window, shape (n, 2 * (n // 2 + 1)), and the density scale of
    each frequency (one-sided: doubled but at 0 Hz and Nyquist)."""
    window = get_window("hamming", n)
    k = np.arange(n // 2 + 1)
    angle = 2 * np.pi * (np.outer(np.arange(n), k) % n) / n
    basis = window[:, None] * np.concatenate([np.cos(angle), -np.sin(angle)], axis=1)
    basis -= basis.mean(axis=0, keepdims=True)   # the detrend, folded in
    scale = np.full(k.size, 2.0 / (sfreq * np.sum(window * window)))
    scale[0] /= 2
    if n % 2 == 0:
        scale[-1] /= 2
    return basis, scale


def _peak_periodogram(series: np.ndarray, n: int, sfreq: float, gain: float = 1.0
                      ) -> np.ndarray:
    """Largest value of :func:`scipy.signal.periodogram` (``window="hamming"``) of the
    first ``n`` values of each row of ``gain * series`` (shape (..., n_fft), n_fft >= n),
    computed as one matrix product (equal to SciPy's FFT to about 1e-14 relative)."""
    n_fft = series.shape[-1]
    basis, scale = _periodogram_basis(n, float(sfreq))
    if n_fft > n:   # the values after the n-th are left out by zero rows
        basis = np.concatenate([basis, np.zeros((n_fft - n, basis.shape[1]))])
    spectra = series.reshape(-1, n_fft) @ basis
    half = scale.size
    power = spectra[:, :half] ** 2
    power += spectra[:, half:] ** 2
    power *= scale * gain ** 2
    return power.max(axis=-1).reshape(series.shape[:-1])


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
    preprocessing of long recordings (tested equal to mne-nirs to 1e-10). The
    cross-correlations are batched FFT convolutions, and their periodograms one matrix
    product (:func:`_peak_periodogram`).

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
        n_full = 2 * length - 1          # np.correlate(c1, c2, "full") by FFT
        n_fft = next_fast_len(n_full, real=True)
        both = np.zeros((2,) + c1.shape[:-1] + (n_fft,))
        np.divide(c1, np.where(sd1 == 0, 1.0, sd1), out=both[0, ..., :length])
        np.divide(c2[..., ::-1], np.where(sd2 == 0, 1.0, sd2), out=both[1, ..., :length])
        spectra = rfft(both, axis=-1)
        xcorr = irfft(spectra[0] * spectra[1], n_fft, axis=-1)
        peaks[:, cols] = _peak_periodogram(xcorr, n_full, sfreq, gain=1.0 / size)
    scores[0::2] = peaks
    scores[1::2] = peaks
    return scores[np.argsort(picks)]
