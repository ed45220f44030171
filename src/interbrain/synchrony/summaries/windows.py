"""Wavelet coherence per time window: fixed-length windows or annotated segments."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .._inputs import positive_seconds, seconds, window_samples
from ..coherence import iter_pair_coherence
from ..pairs import PairsSpec, resolve_pairs
from ..spectra import ChannelSpectra, check_same_grid

#: Tolerance, in samples, when converting times in seconds to sample indices (absorbs
#: floating-point error such as ``0.3 / 0.1 = 2.9999999999999996``).
_SAMPLE_TOL = 1e-6


class Segment(NamedTuple):
    """A time segment of a recording.

    Attributes
    ----------
    onset_s : float
        Start, in seconds after the recording's first sample (inclusive).
    offset_s : float
        End, in seconds after the recording's first sample (exclusive).
    label : str
        Name of the segment (e.g. the phase of the session).
    """

    onset_s: float
    offset_s: float
    label: str


def _first_sample_at_or_after(t: float, dt: float) -> int:
    """Index of the first sample whose time ``k * dt`` is >= ``t`` (within tolerance)."""
    return int(math.ceil(t / dt - _SAMPLE_TOL))


def _fmt(t: float) -> str:
    return f"{t:.6g}"


def segments_from_annotations(onsets: Any, durations: Any = None, descriptions: Any = None,
                              *, t0: float = 0.0, include: Collection[str] | None = None,
                              drop_empty: bool = True) -> list[Segment]:
    """Segments ``(onset_s, offset_s, label)`` from annotations.

    Parameters
    ----------
    onsets : mne.Annotations or array_like of float, shape (n_annotations,)
        Either an ``mne.Annotations``-like object (anything with ``onset``,
        ``duration`` and ``description`` attributes; then ``durations`` and
        ``descriptions`` must be omitted), or the onsets in seconds.
    durations : array_like of float, shape (n_annotations,)
        Durations in seconds (required with plain onsets).
    descriptions : array_like of str, shape (n_annotations,), optional
        Labels; default ``"segment 0"``, ``"segment 1"``, ...
    t0 : float, default 0.0
        Time, in the annotations' time base, of the recording's first sample; it is
        subtracted from the onsets. For MNE annotations with an ``orig_time`` (the usual
        case for a loaded file) pass ``raw.first_time``, so that onsets become times
        after the first sample of ``raw`` (the time base of :func:`windowed_band_coherence`).
    include : collection of str, optional
        Keep only annotations whose description is in ``include`` (e.g. the names of the
        session phases, leaving out ``"BAD_motion"`` or stimulus markers).
    drop_empty : bool, default True
        Drop zero-duration annotations (event markers). With False they raise.

    Returns
    -------
    list of Segment
        In the order of the annotations.

    Raises
    ------
    ValueError
        Mismatched lengths, non-finite or negative durations, or (with
        ``drop_empty=False``) a zero duration.
    """
    if hasattr(onsets, "onset") and hasattr(onsets, "duration"):
        if durations is not None or descriptions is not None:
            raise ValueError("give either an Annotations-like object or onsets, durations "
                             "and descriptions, not both")
        ann = onsets
        onsets = ann.onset
        durations = ann.duration
        descriptions = getattr(ann, "description", None)
    if durations is None:
        raise ValueError("durations (seconds) are required with plain onsets")
    on = np.atleast_1d(np.asarray(onsets, dtype=np.float64))
    du = np.atleast_1d(np.asarray(durations, dtype=np.float64))
    if on.ndim != 1 or du.shape != on.shape:
        raise ValueError(f"onsets and durations must be 1-D of the same length, got shapes "
                         f"{on.shape} and {du.shape}")
    if descriptions is None:
        desc = [f"segment {k}" for k in range(on.size)]
    else:
        desc = [str(d) for d in np.atleast_1d(np.asarray(descriptions, dtype=object))]
        if len(desc) != on.size:
            raise ValueError(f"{len(desc)} descriptions for {on.size} onsets")
    if not (np.all(np.isfinite(on)) and np.all(np.isfinite(du))):
        raise ValueError("onsets and durations must be finite numbers of seconds")
    if np.any(du < 0):
        k = int(np.flatnonzero(du < 0)[0])
        raise ValueError(f"annotation {k} ({desc[k]!r}) has a negative duration {du[k]} s")
    t0 = seconds(t0, "t0")
    keep = None if include is None else {str(x) for x in include}
    out = []
    for k in range(on.size):
        if keep is not None and desc[k] not in keep:
            continue
        if du[k] == 0:
            if drop_empty:
                continue
            raise ValueError(f"annotation {k} ({desc[k]!r}) has zero duration; it cannot be "
                             "a segment (use drop_empty=True to skip event markers)")
        onset = float(on[k]) - t0
        out.append(Segment(onset, onset + float(du[k]), desc[k]))
    return out


def _window_bounds(n_times: int, dt: float, windows: Any, step: float | None
                   ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Labels, requested onsets/offsets (s) and sample bounds ``[start, stop)`` of windows."""
    duration = n_times * dt
    if isinstance(windows, (int, float, np.integer, np.floating)) and not isinstance(
            windows, bool):
        length = positive_seconds(windows, "window length")
        w, s, _ = window_samples(n_times, dt, length, step)
        starts = [0]
        # the last window is the first one reaching the end (or the last one starting
        # inside the recording when step > window)
        while starts[-1] + w < n_times and starts[-1] + s < n_times:
            starts.append(starts[-1] + s)
        start = np.asarray(starts, dtype=np.intp)
        stop = np.minimum(start + w, n_times)
        labels = [f"{_fmt(a * dt)}-{_fmt(b * dt)} s" for a, b in zip(start, stop)]
        return labels, start * dt, stop * dt, np.stack([start, stop], axis=1)
    if step is not None:
        raise ValueError("step applies only to windows given as a length in seconds, not to "
                         "explicit segments")
    if isinstance(windows, (str, bytes)) or not isinstance(windows, Iterable):
        raise ValueError("windows must be a window length in seconds or a sequence of "
                         f"(onset_s, offset_s[, label]) segments, got {windows!r}")
    if isinstance(windows, pd.DataFrame):
        cols = [c for c in ("onset_s", "offset_s", "label") if c in windows.columns]
        windows = list(windows[cols].itertuples(index=False, name=None))
    segs = list(windows)
    if not segs:
        raise ValueError("windows is an empty sequence of segments")
    labels, onsets, offsets, bounds = [], [], [], []
    for k, seg in enumerate(segs):
        try:
            items = tuple(seg)
        except TypeError:
            raise ValueError(f"segment {k} must be (onset_s, offset_s[, label]), "
                             f"got {seg!r}") from None
        if len(items) not in (2, 3):
            raise ValueError(f"segment {k} must be (onset_s, offset_s[, label]), got {seg!r}")
        onset = seconds(items[0], f"onset of segment {k}")
        offset = seconds(items[1], f"offset of segment {k}")
        label = str(items[2]) if len(items) == 3 else f"segment {k}"
        name = f"segment {k} ({label!r}, {_fmt(onset)}-{_fmt(offset)} s)"
        if offset <= onset:
            raise ValueError(f"{name} ends before it starts")
        tol = _SAMPLE_TOL * dt
        if onset < -tol or offset > duration + tol:
            raise ValueError(f"{name} lies outside the recording, which spans "
                             f"0-{_fmt(duration)} s ({n_times} samples at dt={dt:g} s); "
                             "crop the segment or shift the onsets (see t0 of "
                             "segments_from_annotations)")
        start = max(0, _first_sample_at_or_after(onset, dt))
        stop = min(n_times, _first_sample_at_or_after(offset, dt))
        if stop <= start:
            raise ValueError(f"{name} contains no sample at dt={dt:g} s")
        labels.append(label)
        onsets.append(onset)
        offsets.append(offset)
        bounds.append((start, stop))
    return (labels, np.asarray(onsets), np.asarray(offsets),
            np.asarray(bounds, dtype=np.intp).reshape(-1, 2))


def windowed_band_coherence(spec_a: ChannelSpectra, spec_b: ChannelSpectra,
                            pairs: PairsSpec = "homologous", *, windows: Any,
                            step: float | None = None, exclude_coi: bool = True,
                            workers: int | None = None, chunk_bytes: int | None = None
                            ) -> tuple[np.ndarray, pd.DataFrame]:
    """Band-averaged coherence of channel pairs in time windows or segments.

    The value of a window is the mean coherence over the band's scales and the cells
    (samples) ``k`` whose time ``k * dt`` falls in the window, keeping with
    ``exclude_coi`` only cells outside the cone of influence (``grid.valid``). A window
    whose cells all lie in the cone of influence has no valid cell: its value is NaN
    and its ``n_cells`` is 0. Because each window's value is a plain mean over its own
    cells, the ``n_cells``-weighted mean of the values of windows that tile the
    recording equals the whole-recording band mean of :func:`band_mean_coherence`.

    Coherence maps are computed a chunk of pairs at a time
    (:func:`~interbrain.synchrony.iter_pair_coherence`); the maps of all pairs are never
    held at once. The maps themselves are those of the whole recording: each window is
    a window of the whole-recording coherence, not the coherence of the cropped window.

    Parameters
    ----------
    spec_a, spec_b : ChannelSpectra
        Spectra of the two partners on the same grid (normally built with ``band``).
    pairs : {"homologous", "all"} or sequence of (int, int), default "homologous"
        Channel pairs, see :func:`~interbrain.synchrony.resolve_pairs`.
    windows : float or sequence of (onset_s, offset_s[, label])
        A window length in seconds (rounded to whole samples), giving consecutive
        windows from the first sample every ``step`` seconds; the last window is the
        first one that reaches the end of the recording and may be shorter (its
        ``n_samples`` says so). With ``step`` longer than the window, the samples
        between windows are not used. Or explicit segments in seconds after the first sample,
        ``[onset_s, offset_s)``, e.g. from :func:`segments_from_annotations` (a
        DataFrame with columns ``onset_s``, ``offset_s`` and optionally ``label`` also
        works); they may overlap or leave gaps.
    step : float, optional
        Time between window starts in seconds (default: the window length, i.e.
        windows tile the recording). Only with a window length.
    exclude_coi : bool, default True
        Use only cells outside the cone of influence.
    workers : int, optional
        Threads of :mod:`scipy.fft`.
    chunk_bytes : int, optional
        Budget of one chunk of pairs' temporaries, in bytes (default: that of
        :func:`~interbrain.synchrony.iter_pair_coherence`).

    Returns
    -------
    values : numpy.ndarray of float64, shape (n_pairs, n_windows)
        Mean coherence; NaN for a window without valid cells, or for a pair with a
        channel without power (a constant channel).
    windows : pandas.DataFrame, n_windows rows
        Columns ``window`` (0, 1, ...), ``label``, ``onset_s`` and ``offset_s`` (as
        requested, seconds), ``start_sample`` and ``stop_sample`` (the samples
        ``[start, stop)`` used), ``n_samples``, ``n_cells`` (cells averaged: band rows
        times samples, outside the cone of influence with ``exclude_coi``) and
        ``n_cells_total`` (band rows times samples).

    Raises
    ------
    ValueError
        Different grids, bad pairs, a window length shorter than a sample or longer than
        the recording, a segment outside the recording (``[0, n_times * dt]``), ending
        before it starts, or containing no sample.
    """
    grid = check_same_grid(spec_a, spec_b)
    idx = resolve_pairs(pairs, spec_a.n_channels, spec_b.n_channels)
    labels, onsets, offsets, bounds = _window_bounds(grid.n_times, grid.dt, windows, step)
    n_win = len(labels)
    if exclude_coi:
        mask = np.asarray(grid.valid)
    else:
        mask = np.ones((grid.n_band_rows, grid.n_times), dtype=bool)
    col_cells = mask.sum(axis=0)  # valid cells per sample, shape (n_times,)
    n_cells = np.array([int(col_cells[a:b].sum()) for a, b in bounds], dtype=np.int64)
    values = np.full((len(idx), n_win), np.nan)
    kwargs: dict[str, Any] = {"workers": workers}
    if chunk_bytes is not None:
        kwargs["chunk_bytes"] = chunk_bytes
    has_cells = n_cells > 0
    if len(idx) and has_cells.any():
        for sl, coh in iter_pair_coherence(spec_a, spec_b, idx, **kwargs):
            # per-sample sums over the band's valid cells, shape (n_chunk, n_times);
            # np.where drops invalid cells (and any NaN there) before summing.
            colsum = np.where(mask, coh, 0.0).sum(axis=1, dtype=np.float64)
            for w in np.flatnonzero(has_cells):
                a, b = bounds[w]
                values[sl, w] = colsum[:, a:b].sum(axis=1) / n_cells[w]
    table = pd.DataFrame({
        "window": np.arange(n_win),
        "label": labels,
        "onset_s": onsets.astype(np.float64),
        "offset_s": offsets.astype(np.float64),
        "start_sample": bounds[:, 0].astype(np.int64),
        "stop_sample": bounds[:, 1].astype(np.int64),
        "n_samples": (bounds[:, 1] - bounds[:, 0]).astype(np.int64),
        "n_cells": n_cells,
        "n_cells_total": ((bounds[:, 1] - bounds[:, 0]) * grid.n_band_rows).astype(np.int64),
    })
    return values, table
