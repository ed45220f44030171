"""Zero-phase IIR filters of many channels at once, with SciPy's and MNE's values.

:func:`scipy.signal.filtfilt` and :func:`scipy.signal.sosfiltfilt` filter one row
after another; each output sample waits for the previous one (a chain of dependent
multiply-adds), so the processor idles most of the time. :func:`filtfilt_rows` and
:func:`sosfiltfilt_rows` run the same recurrences, with the same operations in the
same order (SciPy's direct form II transposed ``lfilter`` and its ``_sosfilt``), on
many rows side by side: a block of rows (up to 64) is copied, transposed (and padded
where MNE pads), into a work array so that one sample of every row is filtered in one
vector step; two second-order sections (or all three delays of a 3rd-order filter) are
applied in one loop over the rows, the intermediate value kept in a register. The
values are bitwise SciPy's (``tests/test_iir_filters.py``,
``tests/test_preprocessing_fast_paths.py``). :func:`mne_iir_band_pass` is MNE's
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
    if n_taps == 4:   # 3rd order (TDDR's low-pass): the statements in one loop
        z0, z1, z2 = z[0], z[1], z[2]
        b0, b1, b2, b3, a1, a2, a3 = b[0], b[1], b[2], b[3], a[1], a[2], a[3]
        for i in range(n):
            xt = x[n - 1 - i] if backward else x[i]
            for c in range(n_cols):
                xc = xt[c]
                yc = z0[c] + b0 * xc
                z0[c] = z1[c] + xc * b1 - yc * a1
                z1[c] = z2[c] + xc * b2 - yc * a2
                z2[c] = xc * b3 - yc * a3
                xt[c] = yc
        return
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
    into the states ``z`` (n_sections, 2, n_cols); ``y`` (n_cols,) is unused.
    SciPy's statements ``x_new = b0 x + z0; z0 = b1 x - a1 x_new + z1; z1 = b2 x - a2
    x_new`` for each column, two sections at a time (the second section's input is the
    first's output, kept in a register): one loop over the columns per two sections.
    ``backward``: from the last sample to the first (the reversed signal)."""
    n_cols = x.shape[1]
    n = x.shape[0]
    n_sections = sos.shape[0]
    for i in range(n):
        xt = x[n - 1 - i] if backward else x[i]
        s = 0
        while s + 1 < n_sections:
            z0, z1, w0, w1 = z[s, 0], z[s, 1], z[s + 1, 0], z[s + 1, 1]
            b0, b1, b2, a1, a2 = sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5]
            c0, c1, c2, d1, d2 = (sos[s + 1, 0], sos[s + 1, 1], sos[s + 1, 2], sos[s + 1, 4],
                                  sos[s + 1, 5])
            for c in range(n_cols):
                xc = xt[c]
                yc = b0 * xc + z0[c]                       # x_new of section s
                z0[c] = b1 * xc - a1 * yc + z1[c]
                z1[c] = b2 * xc - a2 * yc
                vc = c0 * yc + w0[c]                       # x_new of section s + 1
                w0[c] = c1 * yc - d1 * vc + w1[c]
                w1[c] = c2 * yc - d2 * vc
                xt[c] = vc
            s += 2
        if s < n_sections:
            z0, z1 = z[s, 0], z[s, 1]
            b0, b1, b2, a1, a2 = sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5]
            for c in range(n_cols):
                xc = xt[c]
                yc = b0 * xc + z0[c]
                z0[c] = b1 * xc - a1 * yc + z1[c]
                z1[c] = b2 * xc - a2 * yc
                xt[c] = yc


#: Most rows filtered side by side in one block (enough independent recurrences to keep
#: the vector units busy; the block's samples, transposed, are the work space).
_BLOCK = 64


def _work(n_times: int, n_rows: int) -> np.ndarray:
    """Work space of the filters, shape (n_times, width): the rows split into equal
    blocks of at most ``_BLOCK``. Allocated by numpy, which asks the kernel for huge
    pages for large arrays (fewer page faults than numba's own allocation)."""
    n_blocks = -(-n_rows // _BLOCK)
    return np.empty((n_times, -(-n_rows // n_blocks)))


@jit
def _gather(x, rows, r0, padlen, work):
    """Rows ``rows[r0:r0 + width]`` of ``x`` into the columns of ``work`` (n_times + 2
    padlen, width), padded as MNE's ``_smart_pad(..., "reflect_limited")`` (``2 x[0] -
    x[k]`` and ``2 x[-1] - x[-k]``, padlen < n_times); columns past the last row are 0."""
    n = x.shape[1]
    width = work.shape[1]
    for c in range(width):
        if r0 + c >= rows.shape[0]:
            for t in range(work.shape[0]):
                work[t, c] = 0.0
            continue
        row = x[rows[r0 + c]]
        for t in range(n):
            work[padlen + t, c] = row[t]
        first, last = row[0], row[n - 1]
        for j in range(padlen):
            work[j, c] = 2 * first - row[padlen - j]
            work[padlen + n + j, c] = 2 * last - row[n - 2 - j]


@jit
def _scatter(work, padlen, rows, r0, out):
    """The unpadded samples of the columns of ``work`` back into rows of ``out``."""
    n = out.shape[1]
    for c in range(min(work.shape[1], rows.shape[0] - r0)):
        row = out[rows[r0 + c]]
        for t in range(n):
            row[t] = work[padlen + t, c]


@jit
def _sosfiltfilt_blocks(sos, zi, x, rows, padlen, work, out):
    """Forward-backward ``_sosfilt`` (:func:`_sosfilt_columns`) of the rows ``rows`` of
    ``x`` padded by ``padlen`` on both sides, ``work.shape[1]`` rows at a time in
    ``work`` (n_times + 2 padlen, width), into the same rows of ``out`` (which may be
    ``x``)."""
    m = work.shape[0]
    width = work.shape[1]
    z = np.empty((sos.shape[0], 2, width))
    y = np.empty(width)
    for r0 in range(0, rows.shape[0], width):
        _gather(x, rows, r0, padlen, work)
        for at, backward in ((0, False), (m - 1, True)):
            for s in range(sos.shape[0]):
                for q in range(2):
                    for c in range(width):
                        z[s, q, c] = zi[s, q] * work[at, c]
            _sosfilt_columns(sos, work, z, y, backward)
        _scatter(work, padlen, rows, r0, out)


@jit
def _filtfilt_blocks(b, a, zi, x, work, out):
    """Forward-backward ``lfilter`` (:func:`_lfilter_columns`) of every row of ``x``,
    ``work.shape[1]`` rows at a time in ``work`` (n_times, width), into ``out``."""
    m = work.shape[0]
    width = work.shape[1]
    rows = np.arange(x.shape[0])
    z = np.empty((zi.shape[0], width))
    y = np.empty(width)
    for r0 in range(0, x.shape[0], width):
        _gather(x, rows, r0, 0, work)
        for at, backward in ((0, False), (m - 1, True)):
            for k in range(zi.shape[0]):
                for c in range(width):
                    z[k, c] = zi[k] * work[at, c]
            _lfilter_columns(b, a, work, z, y, backward)
        _scatter(work, 0, rows, r0, out)


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
    x = np.ascontiguousarray(x, dtype=float)
    out = np.empty_like(x)
    if x.size:
        _filtfilt_blocks(b, a, np.ascontiguousarray(zi, dtype=float), x,
                         _work(x.shape[1], len(x)), out)
    return out


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
    x = np.ascontiguousarray(x, dtype=float)
    out = np.empty_like(x)
    if x.size:
        sos = np.ascontiguousarray(sos, dtype=float)
        _sosfiltfilt_blocks(sos, np.ascontiguousarray(sosfilt_zi(sos), dtype=float), x,
                            np.arange(len(x)), 0, _work(x.shape[1], len(x)), out)
    return out


@lru_cache(maxsize=16)
def _sos_zi_of(key: bytes, n_sections: int) -> np.ndarray:
    out = np.ascontiguousarray(sosfilt_zi(np.frombuffer(key, float).reshape(n_sections, 6)))
    out.flags.writeable = False
    return out


def _sos_zi(sos: np.ndarray) -> np.ndarray:
    """:func:`scipy.signal.sosfilt_zi` of ``sos``, once per filter."""
    return _sos_zi_of(np.ascontiguousarray(sos, float).tobytes(), len(sos))


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
    n = data.shape[1]
    padlen = max(min(padlen, n - 1), 0)
    # the rows, padded as MNE's _smart_pad(..., "reflect_limited") pads them (the same
    # operations: 2 x[0] - x[k], 2 x[-1] - x[-k]; padlen < n, so no zeros), filtered a
    # block of rows at a time (transposed into a work array) and written back
    if not (data.dtype == np.float64 and data.strides[1] == data.itemsize):
        work = np.ascontiguousarray(data, dtype=float)
        data[:] = mne_iir_band_pass(work, sfreq, l_freq, h_freq, picks=picks, order=order)
        return data
    _sosfiltfilt_blocks(sos, _sos_zi(sos), data, picks.astype(np.int64), padlen,
                        _work(n + 2 * padlen, picks.size), data)
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
