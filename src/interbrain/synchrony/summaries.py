"""Summaries of wavelet coherence: per time window, per region of interest, per time lag.

Three ways to condense the coherence maps of :mod:`interbrain.synchrony.coherence` into
numbers a therapy study can model:

Per time window
    :func:`windowed_band_coherence` averages each channel pair's coherence map over the
    band's scales and the cells whose time falls in a window: consecutive windows of a
    fixed length (per minute, say) or explicit segments such as the annotated phases of
    a session (:func:`segments_from_annotations` turns ``mne.Annotations`` into
    segments).

Per region of interest (ROI), in two flavours that answer different questions and are
labelled in the output column ``roi_method``
    ``"mean_of_pairs"`` (:func:`region_mean_of_pairs`): the average of the channel-pair
    values whose channels lie in regions ``(region_a, region_b)``;
    ``"region_average_signal"`` (:func:`region_signal_coherence`): the coherence of the
    region-averaged signals, one signal per region and partner. Averaging signals first
    cancels channel noise that is independent across channels, so the two flavours
    generally differ; the first is bounded by the channel-pair coherences, the second is
    not.

Per time lag
    :func:`lagged_band_coherence` shifts partner B against partner A and
    :func:`leader` reports, for each pair, the lag of maximal coherence.

All times and lags are in seconds. Cell ``k`` of a coherence map (sample ``k``) is at
time ``k * dt`` after the recording's first sample.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .coherence import (ChannelSpectra, band_coherence, band_mean_coherence, channel_spectra,
                        iter_pair_coherence)
from .pairs import PairsSpec, resolve_pairs
from .wavelet import WaveletGrid, min_samples_for_band

__all__ = [
    "ROI_METHODS",
    "Segment",
    "lagged_band_coherence",
    "leader",
    "region_mean_of_pairs",
    "region_signal_coherence",
    "segments_from_annotations",
    "windowed_band_coherence",
]

#: Values of the ``roi_method`` column of the region-of-interest summaries.
ROI_METHODS: tuple[str, ...] = ("mean_of_pairs", "region_average_signal")

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


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def _seconds(value: Any, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a time in seconds, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be a finite time in seconds, got {value!r}")
    return out


def _positive_seconds(value: Any, name: str) -> float:
    out = _seconds(value, name)
    if out <= 0:
        raise ValueError(f"{name} must be a positive duration in seconds, got {value!r}")
    return out


def _first_sample_at_or_after(t: float, dt: float) -> int:
    """Index of the first sample whose time ``k * dt`` is >= ``t`` (within tolerance)."""
    return int(math.ceil(t / dt - _SAMPLE_TOL))


def _fmt(t: float) -> str:
    return f"{t:.6g}"


# ---------------------------------------------------------------------------
# segments and windows
# ---------------------------------------------------------------------------

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
    t0 = _seconds(t0, "t0")
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
        length = _positive_seconds(windows, "window length")
        w = int(round(length / dt))
        if w < 1:
            raise ValueError(f"window of {length} s is shorter than one sample (dt={dt} s)")
        if w > n_times:
            raise ValueError(f"window of {length} s ({w} samples) is longer than the "
                             f"recording ({_fmt(duration)} s, {n_times} samples)")
        if step is None:
            s = w
        else:
            step_s = _positive_seconds(step, "step")
            s = int(round(step_s / dt))
            if s < 1:
                raise ValueError(f"step of {step_s} s is shorter than one sample (dt={dt} s)")
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
        onset = _seconds(items[0], f"onset of segment {k}")
        offset = _seconds(items[1], f"offset of segment {k}")
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
    grid: WaveletGrid = spec_a.grid
    if spec_b.grid is not grid and spec_b.grid.key != grid.key:
        raise ValueError("the two ChannelSpectra were computed on different wavelet grids; "
                         "use one grid for both")
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


# ---------------------------------------------------------------------------
# regions of interest
# ---------------------------------------------------------------------------

def _check_regions(regions: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(regions, Mapping):
        raise ValueError("regions must be a mapping of channel name -> region name, got "
                         f"{type(regions).__name__}")
    out = {}
    for ch, reg in regions.items():
        if not isinstance(reg, str) or not reg:
            raise ValueError(f"regions: channel {ch!r} must map to a region name, got {reg!r}")
        out[str(ch)] = reg
    return out


def _bad_sets(bad_channels: Any) -> tuple[frozenset[str], frozenset[str]]:
    """Bad channels of partner a and b: one collection for both or ``{"a": .., "b": ..}``."""
    if bad_channels is None:
        return frozenset(), frozenset()
    if isinstance(bad_channels, str):
        raise ValueError("bad_channels must be a collection of channel names (a set), or a "
                         f"mapping {{'a': ..., 'b': ...}}, not the string {bad_channels!r}")
    if isinstance(bad_channels, Mapping):
        extra = set(bad_channels) - {"a", "b"}
        if extra:
            raise ValueError("bad_channels as a mapping must have keys 'a' and/or 'b' (one "
                             f"collection per partner), got {sorted(map(str, extra))}")
        sets = []
        for key in ("a", "b"):
            val = bad_channels.get(key, ())
            if isinstance(val, str):
                raise ValueError(f"bad_channels[{key!r}] must be a collection of channel "
                                 f"names, not the string {val!r}")
            sets.append(frozenset(str(c) for c in val))
        return sets[0], sets[1]
    both = frozenset(str(c) for c in bad_channels)
    return both, both


def _region_order(regions: Mapping[str, str], present: Iterable[str]) -> list[str]:
    """Regions in order of first appearance in ``regions``, restricted to ``present``."""
    present = set(present)
    return [r for r in dict.fromkeys(regions.values()) if r in present]


def region_mean_of_pairs(values: Any, pair_channels: Sequence[tuple[str, str]],
                         regions: Mapping[str, str], *, bad_channels: Any = None,
                         columns: Sequence[Any] | None = None, column_name: str = "window"
                         ) -> pd.DataFrame:
    """Region-of-interest synchrony as the mean of channel-pair values.

    Every channel pair ``(ch_a, ch_b)`` whose channels both have a region contributes
    to the region pair ``(regions[ch_a], regions[ch_b])``; the value of a region pair is
    the mean of its finite pair values. Homologous region pairs (``region_a ==
    region_b``) come from channel pairs within one region, which include the homologous
    channel pairs and, with ``pairs="all"`` upstream, the other within-region pairs.

    Parameters
    ----------
    values : array_like of float, shape (n_pairs,) or (n_pairs, n_columns)
        One value per channel pair (e.g. :func:`~interbrain.synchrony.band_coherence`),
        or per pair and window/lag (e.g. :func:`windowed_band_coherence`,
        :func:`lagged_band_coherence`).
    pair_channels : sequence of (str, str), length n_pairs
        Channel names of each pair: partner A's channel, partner B's channel.
    regions : mapping of str to str
        Channel name -> region name (the same montage on both partners). Channels
        without a region (e.g. short-separation channels) belong to no region; pairs
        with such a channel are left out.
    bad_channels : collection of str or mapping, optional
        Channels to leave out: one set for both partners, or ``{"a": set, "b": set}``.
        A pair with a bad channel on either side is left out.
    columns : sequence, optional
        Labels of the columns of a 2-D ``values`` (window labels, lags in seconds);
        default 0, 1, ...
    column_name : str, default "window"
        Name of the output column holding ``columns`` (2-D ``values`` only).

    Returns
    -------
    pandas.DataFrame
        One row per region pair (and column of ``values``), region pairs in order of
        first appearance of their regions in ``regions``. Columns ``region_a``,
        ``region_b``, ``homologous`` (bool), [``column_name``], ``value`` (mean of the
        finite pair values, NaN if there is none), ``n_pairs`` (finite pair values
        averaged), ``n_channels_a`` and ``n_channels_b`` (distinct channels of those
        pairs on each side) and ``roi_method`` (``"mean_of_pairs"``).

    Raises
    ------
    ValueError
        ``values`` not 1-D/2-D, a length mismatch with ``pair_channels`` or ``columns``,
        a malformed ``regions``, or no pair with both channels in a region.
    """
    regions = _check_regions(regions)
    vals = np.asarray(values, dtype=np.float64)
    one_d = vals.ndim == 1
    if one_d:
        vals = vals[:, None]
    if vals.ndim != 2:
        raise ValueError(f"values must have shape (n_pairs,) or (n_pairs, n_columns), got "
                         f"{np.shape(values)}")
    names = [tuple(p) for p in pair_channels]
    if any(len(p) != 2 for p in names):
        raise ValueError("pair_channels must be a sequence of (channel_a, channel_b) names")
    names = [(str(a), str(b)) for a, b in names]
    if len(names) != vals.shape[0]:
        raise ValueError(f"{len(names)} pair_channels for {vals.shape[0]} rows of values")
    if columns is None:
        columns = list(range(vals.shape[1]))
    else:
        columns = list(columns)
        if one_d or len(columns) != vals.shape[1]:
            raise ValueError(f"columns must label the {vals.shape[1]} columns of a 2-D "
                             f"values, got {len(columns)} labels")
    bad_a, bad_b = _bad_sets(bad_channels)
    groups: dict[tuple[str, str], list[int]] = {}
    for k, (ca, cb) in enumerate(names):
        if ca in bad_a or cb in bad_b:
            continue
        ra, rb = regions.get(ca), regions.get(cb)
        if ra is None or rb is None:
            continue
        groups.setdefault((ra, rb), []).append(k)
    if not groups:
        raise ValueError("no channel pair has both channels in a region (after leaving out "
                         "bad channels); check that the pair channel names match the keys of "
                         f"regions (e.g. {next(iter(regions), None)!r} vs "
                         f"{names[0] if names else None!r})")
    order = {r: i for i, r in enumerate(dict.fromkeys(regions.values()))}
    rows = []
    for ra, rb in sorted(groups, key=lambda g: (order[g[0]], order[g[1]])):
        ks = np.asarray(groups[(ra, rb)])
        for c, label in enumerate(columns):
            v = vals[ks, c]
            ok = np.isfinite(v)
            row: dict[str, Any] = {"region_a": ra, "region_b": rb, "homologous": ra == rb}
            if not one_d:
                row[column_name] = label
            row.update({
                "value": float(v[ok].mean()) if ok.any() else math.nan,
                "n_pairs": int(ok.sum()),
                "n_channels_a": len({names[k][0] for k in ks[ok]}),
                "n_channels_b": len({names[k][1] for k in ks[ok]}),
                "roi_method": "mean_of_pairs",
            })
            rows.append(row)
    return pd.DataFrame(rows)


def _region_signals(x: np.ndarray, channels: list[str], regions: dict[str, str],
                    bad: frozenset[str], standardize: bool, side: str
                    ) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Average of the good channels of each region: signals and channel counts."""
    unknown = sorted(set(regions) - set(channels))
    if unknown:
        raise ValueError(f"regions names channel(s) {unknown[:5]} that partner {side} does not "
                         f"have (its channels: {channels[:5]}{' ...' if len(channels) > 5 else ''}"
                         "); fix the channel names, or drop missing channels from regions")
    unknown_bad = sorted(bad - set(channels))
    if unknown_bad:
        raise ValueError(f"bad channel(s) {unknown_bad[:5]} of partner {side} are not among "
                         "its channels")
    members: dict[str, list[int]] = {}
    counts: dict[str, int] = {}
    for i, ch in enumerate(channels):
        reg = regions.get(ch)
        if reg is None:
            continue
        counts.setdefault(reg, 0)
        if ch in bad:
            continue
        members.setdefault(reg, []).append(i)
        counts[reg] += 1
    signals = {}
    for reg, rows in members.items():
        sub = x[rows]
        if standardize:
            sd = sub.std(axis=1, keepdims=True)
            if np.any(sd == 0):
                ch = channels[rows[int(np.flatnonzero(sd[:, 0] == 0)[0])]]
                raise ValueError(f"channel {ch!r} of partner {side} is constant and cannot be "
                                 "standardised; mark it bad")
            sub = (sub - sub.mean(axis=1, keepdims=True)) / sd
        signals[reg] = sub.mean(axis=0)
    return signals, counts


def region_signal_coherence(a: Any, b: Any, dt: float, *, channels: Sequence[str],
                            regions: Mapping[str, str], band: tuple[float, float],
                            pairs: str | Sequence[tuple[str, str]] = "homologous",
                            channels_b: Sequence[str] | None = None,
                            bad_channels: Any = None, standardize: bool = False,
                            exclude_coi: bool = True, dj: float = 1 / 12,
                            s0: float | None = None, j1: int | None = None,
                            max_scale: float | None = None, pad: bool = True,
                            dtype: str = "float64", workers: int | None = None
                            ) -> pd.DataFrame:
    """Region-of-interest synchrony as the coherence of region-averaged signals.

    For each partner and region, the good channels of the region are averaged sample by
    sample into one region signal; the band-averaged wavelet coherence
    (:func:`~interbrain.synchrony.band_coherence`) of region signals is then computed
    for the requested region pairs.

    Parameters
    ----------
    a, b : array_like, shape (n_channels_a, n_times), (n_channels_b, n_times)
        Signals of the two partners (one chromophore), sampled every ``dt`` seconds.
    dt : float
        Sampling interval in seconds.
    channels : sequence of str, length n_channels_a
        Channel names of the rows of ``a`` (and of ``b`` unless ``channels_b``).
    regions : mapping of str to str
        Channel name -> region name. Channels of the data without a region belong to no
        region; a channel of ``regions`` missing from a partner's channels raises.
    band : (float, float)
        Shortest and longest period in seconds.
    pairs : {"homologous", "all"} or sequence of (str, str), default "homologous"
        Region pairs: each region with itself, every ``(region_a, region_b)``, or an
        explicit list of region names.
    channels_b : sequence of str, optional
        Channel names of the rows of ``b`` if they differ from ``channels``.
    bad_channels : collection of str or mapping, optional
        Channels left out of the averages: one set for both partners, or
        ``{"a": set, "b": set}``.
    standardize : bool, default False
        z-score each channel before averaging, so that every channel weighs the same
        whatever its amplitude (otherwise large-amplitude channels dominate).
    exclude_coi : bool, default True
        Average only the cells outside the cone of influence.
    dj, s0, j1, max_scale, pad, dtype
        Wavelet options, as in :func:`~interbrain.synchrony.wtc`.
    workers : int, optional
        Threads of :mod:`scipy.fft`.

    Returns
    -------
    pandas.DataFrame
        One row per region pair: ``region_a``, ``region_b``, ``homologous`` (bool),
        ``value`` (band-mean coherence; NaN when a region has no good channel in a
        partner or its average is constant), ``n_channels_a`` and ``n_channels_b``
        (good channels averaged) and ``roi_method`` (``"region_average_signal"``).

    Raises
    ------
    ValueError
        Mismatched channel names and rows, a ``regions`` channel missing from the data,
        an unknown bad channel, an unknown region in explicit ``pairs``, no region in
        the data, or the errors of :func:`~interbrain.synchrony.band_coherence`
        (different lengths, non-finite samples, a recording too short for the band).
    """
    regions = _check_regions(regions)
    same = a is b and channels_b is None
    xa = np.asarray(a, dtype=np.float64)
    xb = xa if same else np.asarray(b, dtype=np.float64)
    for x, side in ((xa, "a"), (xb, "b")):
        if x.ndim != 2:
            raise ValueError(f"{side} must be a (n_channels, n_times) array, got shape "
                             f"{x.shape}")
    if xa.shape[1] != xb.shape[1]:
        raise ValueError(f"a and b must have the same number of samples, got {xa.shape[1]} "
                         f"and {xb.shape[1]}")
    ch_a = [str(c) for c in channels]
    ch_b = ch_a if channels_b is None else [str(c) for c in channels_b]
    for chs, x, side in ((ch_a, xa, "a"), (ch_b, xb, "b")):
        if len(chs) != x.shape[0]:
            raise ValueError(f"{len(chs)} channel names for the {x.shape[0]} rows of {side}")
        if len(set(chs)) != len(chs):
            raise ValueError(f"duplicate channel names in partner {side}")
    bad_a, bad_b = _bad_sets(bad_channels)
    sig_a, cnt_a = _region_signals(xa, ch_a, regions, bad_a, standardize, "a")
    if same and bad_a == bad_b:
        sig_b, cnt_b = sig_a, cnt_a
    else:
        sig_b, cnt_b = _region_signals(xb, ch_b, regions, bad_b, standardize, "b")
    regs_a = _region_order(regions, cnt_a)
    regs_b = _region_order(regions, cnt_b)
    if not regs_a or not regs_b:
        raise ValueError("no channel of the data has a region; check that channel names "
                         "match the keys of regions")
    if isinstance(pairs, str):
        if pairs == "homologous":
            rpairs = [(r, r) for r in regs_a if r in cnt_b]
            if not rpairs:
                raise ValueError("the partners share no region")
        elif pairs == "all":
            rpairs = [(ra, rb) for ra in regs_a for rb in regs_b]
        else:
            raise ValueError(f"pairs must be 'homologous', 'all' or a list of (region_a, "
                             f"region_b), got {pairs!r}")
    else:
        rpairs = []
        for p in pairs:
            p = tuple(p)
            if len(p) != 2:
                raise ValueError(f"region pair {p!r} must be (region_a, region_b)")
            ra, rb = str(p[0]), str(p[1])
            if ra not in cnt_a:
                raise ValueError(f"unknown region {ra!r} of partner a; its regions: {regs_a}")
            if rb not in cnt_b:
                raise ValueError(f"unknown region {rb!r} of partner b; its regions: {regs_b}")
            rpairs.append((ra, rb))
    names_a = [r for r in regs_a if r in sig_a]
    names_b = [r for r in regs_b if r in sig_b]
    defined = [(ra, rb) for ra, rb in rpairs if ra in sig_a and rb in sig_b]
    values: dict[tuple[str, str], float] = {}
    if defined:
        arr_a = np.stack([sig_a[r] for r in names_a])
        arr_b = arr_a if sig_b is sig_a else np.stack([sig_b[r] for r in names_b])
        ia = {r: i for i, r in enumerate(names_a)}
        ib = {r: i for i, r in enumerate(names_b)}
        idx = np.array([(ia[ra], ib[rb]) for ra, rb in defined], dtype=np.intp)
        with np.errstate(divide="ignore", invalid="ignore"):
            coh = band_coherence(arr_a, arr_b, dt, band=band, pairs=idx,
                                 exclude_coi=exclude_coi, dj=dj, s0=s0, j1=j1,
                                 max_scale=max_scale, pad=pad, dtype=dtype, workers=workers)
        values = {p: float(v) for p, v in zip(defined, coh)}
    rows = [{"region_a": ra, "region_b": rb, "homologous": ra == rb,
             "value": values.get((ra, rb), math.nan),
             "n_channels_a": cnt_a[ra], "n_channels_b": cnt_b[rb],
             "roi_method": "region_average_signal"} for ra, rb in rpairs]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# time-lagged coherence
# ---------------------------------------------------------------------------

def _lag_samples(lags: Any, dt: float) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(lags, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("lags must be a non-empty 1-D sequence of seconds")
    if not np.all(np.isfinite(arr)):
        raise ValueError("lags must be finite numbers of seconds")
    k = np.round(arr / dt).astype(np.int64)
    if np.unique(k).size != k.size:
        raise ValueError(f"lags {arr.tolist()} s give duplicate shifts at dt={dt:g} s "
                         "(lags are rounded to whole samples)")
    return k


def lagged_band_coherence(a: Any, b: Any, dt: float, *, band: tuple[float, float],
                          lags: Any, pairs: PairsSpec = "homologous",
                          exclude_coi: bool = True, dj: float = 1 / 12,
                          s0: float | None = None, j1: int | None = None,
                          max_scale: float | None = None, pad: bool = True,
                          dtype: str = "float64", workers: int | None = None,
                          chunk_bytes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Band-averaged wavelet coherence with partner B shifted in time against partner A.

    At lag ``k`` (seconds, rounded to ``m = round(k / dt)`` samples) sample ``t`` of A is
    compared with sample ``t + m`` of B: ``a(t)`` with ``b(t + k)``. A positive lag
    therefore means B lags (follows) A; if B repeats A with a delay ``d``, coherence is
    maximal near ``k = d``.

    Every lag uses the same number of samples, ``n' = n_times - L`` with
    ``L = max |m|``, so values are comparable across lags and all lags share one
    wavelet grid (built once): A uses samples ``[s, s + n')`` and B
    ``[s + m, s + m + n')`` with ``s = floor((L - m) / 2)``, which keeps the compared
    stretch centred on the recording at every lag.

    Parameters
    ----------
    a, b : array_like, shape (n_channels_a, n_times), (n_channels_b, n_times)
        Finite signals of the two partners, sampled every ``dt`` seconds.
    dt : float
        Sampling interval in seconds.
    band : (float, float)
        Shortest and longest period in seconds.
    lags : array_like of float, shape (n_lags,)
        Lags in seconds, e.g. ``np.arange(-5, 6)``; rounded to whole samples.
    pairs : {"homologous", "all"} or sequence of (int, int), default "homologous"
        Channel pairs, see :func:`~interbrain.synchrony.resolve_pairs`.
    exclude_coi : bool, default True
        Average only the cells outside the cone of influence.
    dj, s0, j1, max_scale, pad, dtype
        Wavelet options, as in :func:`~interbrain.synchrony.wtc`.
    workers : int, optional
        Threads of :mod:`scipy.fft`.
    chunk_bytes : int, optional
        Budget of one chunk of pairs' temporaries, in bytes.

    Returns
    -------
    values : numpy.ndarray of float64, shape (n_pairs, n_lags)
        Band-mean coherence of each pair at each lag (NaN for a constant channel).
    lags : numpy.ndarray of float64, shape (n_lags,)
        The lags used, in seconds (``m * dt``), in the order given.

    Raises
    ------
    ValueError
        Signals not 2-D, of different lengths or not finite; bad pairs; duplicate lags
        after rounding; lags so large that the ``n_times - max|lag|`` samples left are
        too short for the band (the message gives the largest lag allowed).

    Notes
    -----
    Wavelet coherence is insensitive to a constant phase difference at each scale, so a
    delay does not lower it by rotating phases. It lowers it only because the
    cross-spectrum is smoothed in time with a Gaussian of standard deviation equal to
    the scale: misaligning two broadband signals by ``d`` decorrelates their wavelet
    coefficients at scale ``s`` by a factor of about ``exp(-d**2 / (4 s**2))``. The lag
    profile is therefore broad, with a width of the order of the band's scales (roughly
    its periods): for the 10-40 s band, a 2 s misalignment of band-limited noise lowers
    the coherence by only a few hundredths, yet the maximum still sits at the true delay
    when the signals are broadband within the band. For a narrowband (nearly periodic)
    signal the coherence is almost flat across lags and the location of its maximum is
    not informative; a time-domain measure (windowed Pearson correlation of the shifted
    signals) is then sensitive to the delay, but ambiguous modulo the period.
    """
    dt_f = float(dt)
    if not (math.isfinite(dt_f) and dt_f > 0):
        raise ValueError(f"sampling interval dt must be a positive number of seconds, got {dt!r}")
    xa = np.asarray(a, dtype=np.float64)
    xb = np.asarray(b, dtype=np.float64)
    if xa.ndim == 1:
        xa = xa[None, :]
    if xb.ndim == 1:
        xb = xb[None, :]
    for x, side in ((xa, "a"), (xb, "b")):
        if x.ndim != 2:
            raise ValueError(f"{side} must be a (n_channels, n_times) array, got shape "
                             f"{x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{side} contains NaN or infinite samples; interpolate or drop "
                             "them first")
    n = xa.shape[1]
    if xb.shape[1] != n:
        raise ValueError(f"a and b must have the same number of samples, got {n} and "
                         f"{xb.shape[1]}")
    idx = resolve_pairs(pairs, xa.shape[0], xb.shape[0])
    shifts = _lag_samples(lags, dt_f)
    L = int(np.abs(shifts).max())
    n_used = n - L
    need = min_samples_for_band(dt_f, band, dj=dj, s0=s0, j1=j1, max_scale=max_scale)
    if n_used < max(4, need or 4):
        allowed = n - max(4, need or 4)
        extra = (f"; the band needs at least {need} samples ({need * dt_f:.6g} s), so the "
                 f"largest |lag| allowed is {max(allowed, 0) * dt_f:.6g} s"
                 if need is not None else "")
        raise ValueError(f"lag of {L * dt_f:.6g} s leaves {n_used} of the recording's {n} "
                         f"samples ({n * dt_f:.6g} s){extra}")
    grid = WaveletGrid.build(n_used, dt_f, dj=dj, s0=s0, j1=j1, max_scale=max_scale,
                             pad=pad, band=band, dtype=dtype)
    # only the channels some pair uses
    used_a, inv_a = np.unique(idx[:, 0], return_inverse=True)
    used_b, inv_b = np.unique(idx[:, 1], return_inverse=True)
    local = np.stack([inv_a.ravel(), inv_b.ravel()], axis=1).astype(np.intp)
    sub_a, sub_b = xa[used_a], xb[used_b]
    kwargs: dict[str, Any] = {"workers": workers}
    if chunk_bytes is not None:
        kwargs["chunk_bytes"] = chunk_bytes
    values = np.full((len(idx), shifts.size), np.nan)
    if len(idx):
        for c, m in enumerate(shifts):
            s = (L - int(m)) // 2
            spec_a = channel_spectra(sub_a[:, s:s + n_used], grid, workers=workers)
            spec_b = channel_spectra(sub_b[:, s + m:s + m + n_used], grid, workers=workers)
            with np.errstate(divide="ignore", invalid="ignore"):
                values[:, c] = band_mean_coherence(spec_a, spec_b, local,
                                                   exclude_coi=exclude_coi, **kwargs)
    return values, shifts * dt_f


def leader(values: Any, lags: Any) -> pd.DataFrame:
    """For each pair, the lag of maximal coherence and which partner leads.

    Parameters
    ----------
    values : array_like of float, shape (n_pairs, n_lags)
        Lagged coherence, as returned by :func:`lagged_band_coherence`.
    lags : array_like of float, shape (n_lags,)
        The lags in seconds (positive: B lags A).

    Returns
    -------
    pandas.DataFrame, n_pairs rows
        ``pair`` (row index of ``values``), ``best_lag_s`` (lag of the maximum; the
        first one in ``lags`` order on ties; NaN if all values are NaN), ``max_value``,
        ``zero_lag_value`` (value at lag 0, NaN if 0 is not among the lags),
        ``gain`` (``max_value - zero_lag_value``) and ``leader``: ``"a"`` when the best
        lag is positive (B follows A), ``"b"`` when negative, ``"none"`` at lag 0, and
        missing (``pd.isna``) when all values of the pair are NaN.

    Raises
    ------
    ValueError
        Shapes that do not match.

    Notes
    -----
    See :func:`lagged_band_coherence` for how broad the lag profile of wavelet
    coherence is: compare ``gain`` with the variability of the values (e.g. across
    surrogate pairs) before interpreting a leader.
    """
    vals = np.asarray(values, dtype=np.float64)
    lag = np.asarray(lags, dtype=np.float64)
    if vals.ndim == 1:
        vals = vals[None, :]
    if vals.ndim != 2 or lag.ndim != 1 or vals.shape[1] != lag.size:
        raise ValueError(f"values must have shape (n_pairs, n_lags) matching lags of shape "
                         f"(n_lags,), got {np.shape(values)} and {np.shape(lags)}")
    zero = np.flatnonzero(np.isclose(lag, 0.0, rtol=0.0, atol=1e-12))
    rows = []
    for p in range(vals.shape[0]):
        v = vals[p]
        ok = np.isfinite(v)
        z = float(v[zero[0]]) if zero.size else math.nan
        if not ok.any():
            rows.append({"pair": p, "best_lag_s": math.nan, "max_value": math.nan,
                         "zero_lag_value": z, "gain": math.nan, "leader": None})
            continue
        k = int(np.nanargmax(v))
        best = float(lag[k])
        rows.append({"pair": p, "best_lag_s": best, "max_value": float(v[k]),
                     "zero_lag_value": z, "gain": float(v[k]) - z,
                     "leader": "a" if best > 0 else ("b" if best < 0 else "none")})
    return pd.DataFrame(rows)
