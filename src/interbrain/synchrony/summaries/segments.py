"""Labelled segments of a session (its phases or conditions) and their sample masks.

A session divides into labelled segments (``"talk"``, ``"rest"``; ``"check-in"``,
``"exposure"``) defined by a :class:`SegmentSpec` (``[segments]`` of ``study.toml``):

``source = "events"``
    from the recording's events (SNIRF stimuli, NIRx triggers, BIDS ``*_events.tsv``:
    the annotations of :class:`~interbrain.preprocessing.Preprocessed`), each mapped
    event starting a segment of its label that lasts until the next mapped event
    (``end = "next"``, the last until the end of the recording) or for the event's own
    duration (``end = "duration"``). Events are those of the therapist's recording,
    or, when it has none of the mapped events, the patient's, moved to the
    therapist's clock by the session's alignment.
``source = "table"``
    rows ``dyad, session, label, onset_s, offset_s`` (a ``segments.csv`` of the study).
``source = "fixed"``
    the same ``(label, onset_s, offset_s)`` for every session.
``source = "windows"``
    consecutive windows of ``length`` seconds from the first sample, labelled by their
    time (``"0-60 s"``, ``"60-120 s"``, ...; the last one may be shorter): the
    session's time course, each window tested against its own null.

Times are seconds from the therapist recording's first sample. A recording's
segments (:func:`recording_segments`) are those of its session on its own clock; a
pairing's segment ``L`` is the samples of its common time window at which *both*
recordings are in a segment labelled ``L`` (:func:`pairing_masks`): the whole segment
for a real dyad, and, for a pseudo-dyad, the time both unrelated recordings spent in
the same condition (pseudo-dyads matched by segment label).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..._check import check_option
from ...assembly import recording_offset
from .windows import Segment

__all__ = ["SEGMENT_PAIRINGS", "SEGMENT_SOURCES", "SEGMENT_ENDS", "SegmentSpec",
           "natural_sorted", "session_segments",
           "recording_segments", "pairing_masks"]

#: Where segments come from.
SEGMENT_SOURCES: tuple[str, ...] = ("events", "table", "fixed", "windows")
#: Pairings whose synchrony is also computed per segment.
SEGMENT_PAIRINGS: tuple[str, ...] = ("real", "pseudo")
#: How an event-defined segment ends: at the next mapped event, or after its duration.
SEGMENT_ENDS: tuple[str, ...] = ("next", "duration")


@dataclass(frozen=True)
class SegmentSpec:
    """How the sessions of a study divide into labelled segments (``[segments]``).

    Parameters
    ----------
    source : {"events", "table", "fixed"}
        See the module notes.
    events : tuple of (str, str)
        ``(event description, label)``: the events that start segments and the label
        of each (several events may share a label; the label ``""`` ends the current
        segment and starts none). Empty: every event starts a segment labelled by its
        description.
    end : {"next", "duration"}
        Event-defined segments last until the next mapped event (or the end of the
        recording), or for the event's duration (zero-duration events give none).
    min_duration : float
        Segments shorter than this many seconds are dropped.
    fixed : tuple of (str, float, float)
        ``(label, onset_s, offset_s)`` of every session (``source = "fixed"``).
    table : tuple of (str, int, str, float, float)
        ``(dyad, session, label, onset_s, offset_s)`` rows (``source = "table"``).
    labels : tuple of str
        The labels in the order the models use (the first is the reference level).
    shuffle_window : float
        Seconds of the windows of the within-session segment-shuffling null (0: no
        such null).
    shuffle_draws : int
        Other windows each window is paired with in that null (0: all of them).
    length : float
        Seconds per window (``source = "windows"``).
    """

    source: str = "events"
    events: tuple[tuple[str, str], ...] = ()
    end: str = "next"
    min_duration: float = 0.0
    fixed: tuple[tuple[str, float, float], ...] = ()
    table: tuple[tuple[str, int, str, float, float], ...] = ()
    labels: tuple[str, ...] = ()
    shuffle_window: float = 0.0
    shuffle_draws: int = 0
    length: float = 0.0

    def __post_init__(self) -> None:
        check_option(self.source, "segments source", SEGMENT_SOURCES)
        check_option(self.end, "segments end", SEGMENT_ENDS)
        if not (math.isfinite(self.min_duration) and self.min_duration >= 0):
            raise ValueError(f"min_duration must be a number of seconds >= 0, got "
                             f"{self.min_duration!r}")
        if self.source == "windows" and not (math.isfinite(self.length)
                                              and self.length > 0):
            raise ValueError(f"source 'windows' needs a length > 0 seconds, got "
                             f"{self.length!r}")
        if not (math.isfinite(self.shuffle_window) and self.shuffle_window >= 0):
            raise ValueError(f"shuffle_window must be a number of seconds >= 0, got "
                             f"{self.shuffle_window!r}")

    def label_order(self, found=()) -> list[str]:
        """The labels in model order: :attr:`labels`, then any other ``found`` in
        natural order (``"60-120 s"`` before ``"120-180 s"``)."""
        order = [lab for lab in self.labels if lab]
        return order + natural_sorted({str(f) for f in found} - set(order))


def natural_sorted(labels) -> list[str]:
    """``labels`` sorted with their runs of digits compared as numbers."""
    def key(label: str):
        return [(0, float(part), "") if part.replace(".", "", 1).isdigit() else (1, 0.0, part)
                for part in re.split(r"(\d+(?:\.\d+)?)", str(label)) if part]
    return sorted(labels, key=key)


def _event_segments(spec: SegmentSpec, annotations: pd.DataFrame, duration: float,
                    shift: float = 0.0) -> list[Segment]:
    """Segments from a recording's events (``onset`` in seconds from its first sample,
    moved by ``shift`` onto the therapist's clock)."""
    if annotations is None or len(annotations) == 0:
        return []
    mapping = dict(spec.events)
    ann = annotations.sort_values("onset", kind="stable")
    marks = []
    for onset, dur, desc in zip(ann["onset"], ann["duration"], ann["description"]):
        desc = str(desc)
        if mapping and desc not in mapping:
            continue
        marks.append((float(onset) + shift, float(dur), mapping.get(desc, desc)))
    out = []
    for k, (onset, dur, label) in enumerate(marks):
        if not label:
            continue
        if spec.end == "duration":
            offset = onset + dur
        else:
            offset = marks[k + 1][0] if k + 1 < len(marks) else duration
        out.append(Segment(onset, min(offset, duration), label))
    return out


def session_segments(spec: SegmentSpec, dyad: str, session: int, therapist,
                     patient, offset: float = 0.0) -> list[Segment]:
    """The labelled segments of one session, on the therapist recording's clock.

    Parameters
    ----------
    spec : SegmentSpec
    dyad : str
    session : int
    therapist, patient : Preprocessed
        The session's recordings (their ``annotations``, ``n_times`` and ``sfreq``).
    offset : float
        Start of the patient's recording minus the therapist's, in seconds (the
        session's alignment, :attr:`interbrain.assembly.Overlap.offset`).

    Returns
    -------
    list of Segment
        Sorted by onset; segments shorter than ``spec.min_duration`` and parts outside
        the therapist's recording are dropped.
    """
    duration = therapist.n_times / therapist.sfreq
    if spec.source == "events":
        segs = _event_segments(spec, therapist.annotations, duration)
        if not segs:
            segs = _event_segments(spec, patient.annotations, duration, shift=offset)
    elif spec.source == "fixed":
        segs = [Segment(float(a), float(b), str(lab)) for lab, a, b in spec.fixed]
    elif spec.source == "windows":
        edges = np.append(np.arange(0.0, duration, spec.length), duration)
        segs = [Segment(float(a), float(b), f"{a:g}-{b:g} s")
                for a, b in zip(edges[:-1], edges[1:])]
    else:
        segs = [Segment(float(a), float(b), str(lab)) for d, s, lab, a, b in spec.table
                if d == dyad and int(s) == int(session)]
    out = []
    for seg in segs:
        onset, end = max(seg.onset_s, 0.0), min(seg.offset_s, duration)
        if end - onset >= max(spec.min_duration, 0.0) and end > onset:
            out.append(Segment(onset, end, seg.label))
    return sorted(out, key=lambda s: (s.onset_s, s.offset_s, s.label))


def recording_segments(spec: SegmentSpec, real_pairings, recordings: dict
                       ) -> dict[str, list]:
    """Each recording's segments on its own clock.

    Parameters
    ----------
    spec : SegmentSpec
    real_pairings : iterable of PairedRecordings
        The real dyad-sessions (their dyad, session, recordings and alignment).
    recordings : dict
        Recording key -> :class:`~interbrain.preprocessing.Preprocessed`.

    Returns
    -------
    dict
        Recording key -> list of :class:`~interbrain.synchrony.summaries.Segment` in
        seconds from that recording's first sample.
    """
    out: dict[str, list] = {}
    for p in real_pairings:
        t_key, p_key = p.therapist.key, p.patient.key
        offset = recording_offset(recordings[t_key], recordings[p_key], align=p.align,
                                  offset=p.offset, event=p.event)
        segs = session_segments(spec, p.dyad, p.session, recordings[t_key],
                                recordings[p_key], offset)
        out[t_key] = segs
        out[p_key] = [Segment(s.onset_s - offset, s.offset_s - offset, s.label) for s in segs]
    return out


def _label_masks(segments, start: int, n: int, dt: float) -> dict[str, np.ndarray]:
    """Label -> boolean mask of the samples ``start .. start + n`` in its segments."""
    times = (start + np.arange(n)) * dt
    masks: dict[str, np.ndarray] = {}
    for seg in segments:
        inside = (times >= seg.onset_s - 1e-9) & (times < seg.offset_s - 1e-9)
        if seg.label in masks:
            masks[seg.label] |= inside
        else:
            masks[seg.label] = inside
    return masks


def pairing_masks(segments_t, segments_p, start_t: int, start_p: int, n: int,
                  dt: float) -> dict[str, np.ndarray]:
    """Samples of a pairing's common window in each label, for both recordings.

    Parameters
    ----------
    segments_t, segments_p : list of Segment
        The therapist's and the patient's recording's segments, each on its own clock.
    start_t, start_p : int
        First sample of the common window in each recording.
    n : int
        Samples of the common window.
    dt : float
        Sampling interval in seconds.

    Returns
    -------
    dict
        Label -> boolean mask, shape (n,): samples at which both recordings are in a
        segment of that label; labels with no such sample are left out.
    """
    mt = _label_masks(segments_t, start_t, n, dt)
    mp = _label_masks(segments_p, start_p, n, dt)
    out = {}
    for label in mt:
        if label in mp:
            both = mt[label] & mp[label]
            if both.any():
                out[label] = both
    return out
