"""Zero-phase IIR filters of many channels at once, with SciPy's and MNE's values.

:func:`scipy.signal.filtfilt` and :func:`scipy.signal.sosfiltfilt` filter one row
after another; each output sample waits for the previous one (a chain of dependent
multiply-adds), so the processor idles most of the time. :func:`filtfilt_rows` and
:func:`sosfiltfilt_rows` run the same recurrences, with the same operations in the
same order (SciPy's direct form II transposed ``lfilter`` and its ``_sosfilt``), on
all rows side by side: the rows are transposed so that one sample of every row is
filtered in one vector step. The values are bitwise SciPy's
(``tests/test_iir_filters.py``). :func:`mne_iir_band_pass` is MNE's
``Raw.filter(..., method="iir")`` (zero-phase second-order sections with MNE's
``reflect_limited`` padding) on these loops, and :func:`band_pass_raw` the whole
``Raw.filter`` call (segments between ``edge`` / ``bad_acq_skip`` annotations, the
measurement info's ``highpass`` and ``lowpass``).
"""

from __future__ import annotations

from functools import lru_cache

import mne
import numpy as np
from mne.annotations import _annotations_starts_stops
from mne.cuda import _smart_pad
from mne.filter import _check_coefficients, _filt_check_picks, _filt_update_info, create_filter
from scipy.signal import lfilter_zi, sosfilt_zi

from .._compiled import jit

__all__ = ["filtfilt_rows", "sosfiltfilt_rows", "mne_iir_band_pass", "band_pass_raw"]


@jit
def _lfilter_columns(b, a, x, z, y, backward):
    """SciPy's ``lfilter`` (``_linear_filter``, normalised coefficients) of every column
    of ``x`` (n_times, n_cols) in place, from and into the states ``z`` (order, n_cols);
    ``y`` (n_cols,) is work space. Each statement is a loop over the columns.
    ``backward``: from the last sample to the first (the reversed signal)."""
    n_taps = b.shape[0]
    last = n_taps - 2
    n_cols = x.shape[1]
    n = x.shape[0]
    for i in range(n):
        xt = x[n - 1 - i] if backward else x[i]
        z0 = z[0]
        for c in range(n_cols):
            y[c] = z0[c] + b[0] * xt[c]
        for k in range(last):
            zk, zn = z[k], z[k + 1]
            bk, ak = b[k + 1], a[k + 1]
            for c in range(n_cols):
                zk[c] = zn[c] + xt[c] * bk - y[c] * ak
        zl = z[last]
        bl, al = b[last + 1], a[last + 1]
        for c in range(n_cols):
            zl[c] = xt[c] * bl - y[c] * al
            xt[c] = y[c]


@jit
def _sosfilt_columns(sos, x, z, y, backward):
    """SciPy's ``_sosfilt`` of every column of ``x`` (n_times, n_cols) in place, from and
    into the states ``z`` (n_sections, 2, n_cols); ``y`` (n_cols,) is work space.
    SciPy's statements ``x_new = b0 x + z0; z0 = b1 x - a1 x_new + z1; z1 = b2 x - a2
    x_new``, each a loop over the columns.
    ``backward``: from the last sample to the first (the reversed signal)."""
    n_cols = x.shape[1]
    n = x.shape[0]
    for i in range(n):
        xt = x[n - 1 - i] if backward else x[i]
        for s in range(sos.shape[0]):
            z0, z1 = z[s, 0], z[s, 1]
            b0, b1, b2, a1, a2 = sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5]
            for c in range(n_cols):
                y[c] = b0 * xt[c] + z0[c]                       # x_new
            for c in range(n_cols):
                z0[c] = b1 * xt[c] - a1 * y[c] + z1[c]
            for c in range(n_cols):
                z1[c] = b2 * xt[c] - a2 * y[c]
            for c in range(n_cols):
                xt[c] = y[c]


def filtfilt_rows(b: np.ndarray, a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``scipy.signal.filtfilt(b, a, x, axis=-1, padlen=0)``, bitwise.

    Parameters
    ----------
    b, a : numpy.ndarray
        Numerator and denominator, the same length (>= 2).
    x : numpy.ndarray
        Signals, shape (n_rows, n_times), n_times >= 1.

    Returns
    -------
    numpy.ndarray
        Shape (n_rows, n_times).
    """
    b, a = np.asarray(b, float), np.asarray(a, float)
    if len(a) != len(b) or len(b) < 2:
        raise ValueError("filtfilt_rows needs b and a of the same length, at least 2")
    zi = lfilter_zi(b, a)
    b, a = b / a[0], a / a[0]   # _linear_filter normalises once
    work = np.array(np.asarray(x, float).T, order="C")          # (n_times, n_rows)
    y = np.empty(work.shape[1])
    _lfilter_columns(b, a, work, zi[:, None] * work[0][None, :], y, False)
    _lfilter_columns(b, a, work, zi[:, None] * work[-1][None, :], y, True)
    return np.ascontiguousarray(work.T)


def sosfiltfilt_rows(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``scipy.signal.sosfiltfilt(sos, x, axis=-1, padlen=0)``, bitwise.

    Parameters
    ----------
    sos : numpy.ndarray
        Second-order sections, shape (n_sections, 6).
    x : numpy.ndarray
        Signals, shape (n_rows, n_times), n_times >= 1.

    Returns
    -------
    numpy.ndarray
        Shape (n_rows, n_times).
    """
    return np.ascontiguousarray(_sosfiltfilt_columns(sos, x).T)


def _sosfiltfilt_columns(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """:func:`sosfiltfilt_rows` of ``x`` (n_rows, n_times), transposed: (n_times, n_rows)."""
    sos = np.ascontiguousarray(sos, dtype=float)
    zi = sosfilt_zi(sos)                                        # (n_sections, 2)
    work = np.array(np.asarray(x, float).T, order="C")
    y = np.empty(work.shape[1])
    _sosfilt_columns(sos, work, zi[:, :, None] * work[0][None, None, :], y, False)
    _sosfilt_columns(sos, work, zi[:, :, None] * work[-1][None, None, :], y, True)
    return work


@lru_cache(maxsize=16)
def _butter_band_pass(sfreq: float, l_freq: float, h_freq: float, order: int
                      ) -> tuple[np.ndarray, int]:
    """MNE's Butterworth band-pass design (second-order sections) and its ``padlen``,
    checked for stability as MNE does; designed once per process and setting (the
    design does not depend on the data)."""
    params = create_filter(None, sfreq, l_freq, h_freq, method="iir",
                           iir_params=dict(order=order, ftype="butter", output="sos"),
                           verbose="ERROR")
    _check_coefficients(params["sos"])
    sos = np.ascontiguousarray(params["sos"], dtype=float)
    sos.flags.writeable = False
    return sos, int(params["padlen"])


def mne_iir_band_pass(data: np.ndarray, sfreq: float, l_freq: float, h_freq: float, *,
                      picks: np.ndarray, order: int = 4) -> np.ndarray:
    """MNE's zero-phase Butterworth band-pass (``Raw.filter(method="iir")``), bitwise.

    The filter of ``raw.filter(l_freq, h_freq, picks=..., method="iir",
    iir_params=dict(order=order, ftype="butter", output="sos"))``: MNE's design and
    padding (``reflect_limited``, MNE's ``padlen``), then :func:`sosfiltfilt_rows`.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (n_channels, n_times); the rows ``picks`` are filtered in place.
    sfreq : float
        Sampling rate in Hz.
    l_freq, h_freq : float
        Pass band in Hz.
    picks : numpy.ndarray of int
        Rows to filter.
    order : int
        Butterworth order.

    Returns
    -------
    numpy.ndarray
        ``data``.
    """
    picks = np.asarray(picks, int)
    if picks.size == 0:
        return data
    sos, padlen = _butter_band_pass(float(sfreq), float(l_freq), float(h_freq), int(order))
    padlen = min(padlen, data.shape[1] - 1)
    ext = data[picks]
    if padlen:
        ext = _smart_pad(ext, (padlen, padlen), "reflect_limited")
    out = _sosfiltfilt_columns(sos, ext)            # (n_times + 2 padlen, rows)
    data[picks] = out[padlen:out.shape[0] - padlen].T
    return data


def band_pass_raw(raw: mne.io.BaseRaw, l_freq: float, h_freq: float, picks, *,
                  order: int = 4) -> mne.io.BaseRaw:
    """``raw.filter(l_freq, h_freq, picks=picks, method="iir", iir_params=dict(order=order,
    ftype="butter", output="sos"))``, in place, with the same values and info.

    As MNE does: each segment between annotations ``edge`` and ``bad_acq_skip`` is
    filtered on its own, and the info's ``highpass`` / ``lowpass`` are updated when
    every data channel is filtered.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Preloaded.
    l_freq, h_freq : float
        Pass band in Hz.
    picks : str, list or array
        Channels, as MNE's ``picks``.
    order : int
        Butterworth order.

    Returns
    -------
    mne.io.BaseRaw
        ``raw``.
    """
    if not raw.preload:
        raise ValueError("band_pass_raw needs preloaded data")
    update_info, rows = _filt_check_picks(raw.info, picks, l_freq, h_freq)
    onsets, ends = _annotations_starts_stops(raw, ("edge", "bad_acq_skip"), invert=True)
    for start, stop in zip(onsets, ends):
        mne_iir_band_pass(raw._data[:, start:stop], raw.info["sfreq"], l_freq, h_freq,
                          picks=rows, order=order)
    _filt_update_info(raw.info, update_info, l_freq, h_freq)
    return raw
