"""``[segments]`` and ``[moments]`` of ``study.toml``: labelled segments (phases,
conditions) of sessions, and marked moments.

:func:`parse_segments` checks the table and returns the
:class:`~interbrain.synchrony.summaries.segments.SegmentSpec` the engine computes
synchrony per segment with; with ``source = "table"`` it reads the segments table
(``segments.csv``: ``dyad, session, label, onset_s, offset_s``). :func:`parse_moments`
returns the :class:`~interbrain.nulls.moments.MomentSpec` of ``[moments]``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from .._check import check_keys, check_name
from ..design import SessionRecordings
from ..errors import StudyError
from ..nulls.moments import MomentSpec
from ..synchrony.summaries.segments import SEGMENT_ENDS, SEGMENT_SOURCES, SegmentSpec

__all__ = ["SEGMENT_KEYS", "parse_segments", "read_segments_table", "parse_moments"]

#: Fields of ``[segments]``.
SEGMENT_KEYS: tuple[str, ...] = ("source", "events", "end", "min_duration", "labels",
                                 "table", "fixed", "shuffle_window", "shuffle_draws",
                                 "length")
#: Columns of the segments table.
TABLE_COLUMNS: tuple[str, ...] = ("dyad", "session", "label", "onset_s", "offset_s")


def _number(value: object, what: str, where: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StudyError(f"{where}: {what} must be a number of seconds, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        raise StudyError(f"{where}: {what} must be a finite number"
                         + (f" >= {minimum:g}" if minimum is not None else "")
                         + f", got {value!r}")
    return value


def _span(label, onset, offset, what: str, where: str) -> tuple[str, float, float]:
    label = check_name(label, f"{what} label", where, StudyError)
    onset = _number(onset, f"{what} onset", where, minimum=0.0)
    offset = _number(offset, f"{what} offset", where)
    if offset <= onset:
        raise StudyError(f"{where}: {what} {label!r} ends ({offset:g} s) before it starts "
                         f"({onset:g} s)")
    return label, onset, offset


def read_segments_table(path: Path, sessions: tuple[SessionRecordings, ...]
                        ) -> tuple[tuple[str, int, str, float, float], ...]:
    """Rows of a segments table (CSV with a header ``dyad,session,label,onset_s,offset_s``).

    Parameters
    ----------
    path : Path
    sessions : tuple of SessionRecordings
        Every row must name one of their dyad-sessions.

    Returns
    -------
    tuple of (dyad, session, label, onset_s, offset_s)

    Raises
    ------
    StudyError
        Naming the file and line: a missing column, a dyad-session not in the study, a
        label that breaks the name rule, a time that is not a number, or a segment
        ending before it starts.
    """
    if not path.is_file():
        raise StudyError(f"{path}: no such segments table (see [segments] table)")
    known = {(s.dyad, s.session) for s in sessions}
    rows = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in TABLE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise StudyError(f"{path}: missing column(s) {', '.join(missing)}; a segments "
                             f"table has the columns {', '.join(TABLE_COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            where = f"{path}: line {line}"
            try:
                session = int(str(row["session"]).strip())
            except ValueError:
                raise StudyError(f"{where}: session must be a whole number, got "
                                 f"{row['session']!r}") from None
            dyad = str(row["dyad"]).strip()
            if (dyad, session) not in known:
                raise StudyError(f"{where}: dyad {dyad!r} session {session} is not a "
                                 "[[sessions]] entry of study.toml")
            try:
                onset, offset = float(row["onset_s"]), float(row["offset_s"])
            except (TypeError, ValueError):
                raise StudyError(f"{where}: onset_s and offset_s must be numbers of "
                                 f"seconds, got {row['onset_s']!r}, {row['offset_s']!r}"
                                 ) from None
            label, onset, offset = _span(row["label"], onset, offset, "segment", where)
            rows.append((dyad, session, label, onset, offset))
    if not rows:
        raise StudyError(f"{path}: the segments table has no rows")
    return tuple(rows)


def parse_segments(table: object, root: Path, sessions: tuple[SessionRecordings, ...],
                   where: str) -> SegmentSpec | None:
    """The ``[segments]`` table of ``study.toml``, checked.

    Parameters
    ----------
    table : dict or None
        The table as read; None when the study has none (no segments).
    root : Path
        The study folder (``table`` is relative to it).
    sessions : tuple of SessionRecordings
        The study's sessions (rows of the segments table must name one).
    where : str
        The file, for messages.

    Returns
    -------
    SegmentSpec or None

    Raises
    ------
    StudyError
        Naming ``[segments]`` and the field at fault.
    """
    if table is None:
        return None
    at = f"{where}: [segments]"
    if not isinstance(table, dict):
        raise StudyError(f"{at}: must be a table")
    check_keys(table, SEGMENT_KEYS, at, StudyError)
    source = table.get("source", "events")
    if source not in SEGMENT_SOURCES:
        raise StudyError(f"{at}: source must be one of {', '.join(map(repr, SEGMENT_SOURCES))}"
                         f", got {source!r}")
    end = table.get("end", "next")
    if end not in SEGMENT_ENDS:
        raise StudyError(f"{at}: end must be one of {', '.join(map(repr, SEGMENT_ENDS))}, "
                         f"got {end!r}")
    events = table.get("events", {})
    if not isinstance(events, dict):
        raise StudyError(f"{at}: events must be a table of event name = label, e.g. "
                         "events = { \"1\" = \"rest\", \"2\" = \"talk\" }")
    mapped = []
    for name, label in events.items():
        check_name(name, "event name", f"{at} events", StudyError)
        if label != "":
            check_name(label, f"label of event {name!r}", f"{at} events", StudyError)
        mapped.append((str(name), str(label)))
    fixed = table.get("fixed", [])
    if not isinstance(fixed, list) or not all(isinstance(f, dict) for f in fixed):
        raise StudyError(f"{at}: fixed must be a list of tables, e.g. fixed = [{{ label = "
                         "\"rest\", onset = 0, offset = 300 }]")
    spans = []
    for k, entry in enumerate(fixed):
        check_keys(entry, ("label", "onset", "offset"), f"{at} fixed[{k}]", StudyError)
        spans.append(_span(entry.get("label"), entry.get("onset"), entry.get("offset"),
                           "segment", f"{at} fixed[{k}]"))
    if source == "fixed" and not spans:
        raise StudyError(f"{at}: source = \"fixed\" needs fixed = [{{ label = ..., onset = "
                         "..., offset = ... }, ...]")
    rows: tuple = ()
    if source == "table":
        name = table.get("table", "segments.csv")
        if not isinstance(name, str) or not name:
            raise StudyError(f"{at}: table must be the path of a CSV file, got {name!r}")
        rows = read_segments_table(root / name, sessions)
    elif "table" in table:
        raise StudyError(f"{at}: table is read only with source = \"table\"")
    labels = table.get("labels", [])
    if not isinstance(labels, list):
        raise StudyError(f"{at}: labels must be a list of segment labels")
    labels = [check_name(lab, "label", f"{at} labels", StudyError) for lab in labels]
    if len(set(labels)) != len(labels):
        raise StudyError(f"{at}: labels lists a label twice")
    length = 0.0
    if source == "windows":
        length = _number(table.get("length"), "length (seconds per window)", at, 0.0)
        if length <= 0:
            raise StudyError(f"{at}: source = \"windows\" needs length > 0 seconds")
    elif "length" in table:
        raise StudyError(f"{at}: length is read only with source = \"windows\"")
    draws = table.get("shuffle_draws", 0)
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 0:
        raise StudyError(f"{at}: shuffle_draws must be a whole number >= 0, got {draws!r}")
    return SegmentSpec(
        source=source, events=tuple(mapped), end=end,
        min_duration=_number(table.get("min_duration", 0.0), "min_duration", at, 0.0),
        fixed=tuple(spans), table=rows, labels=tuple(labels),
        shuffle_window=_number(table.get("shuffle_window", 0.0), "shuffle_window", at, 0.0),
        shuffle_draws=draws, length=length)


def parse_moments(table: object, where: str) -> MomentSpec | None:
    """The ``[moments]`` table of ``study.toml``, checked.

    ``events`` (list of event names, at least one), ``window`` (``[start, end]``
    seconds from the marker, default ``[-30, 30]``), ``n_null`` (null windows per
    dyad-session and signal, default 50) and ``seed`` (default 0).

    Returns
    -------
    MomentSpec or None
        None when the study has no ``[moments]``.

    Raises
    ------
    StudyError
        Naming ``[moments]`` and the field at fault.
    """
    if table is None:
        return None
    at = f"{where}: [moments]"
    if not isinstance(table, dict):
        raise StudyError(f"{at}: must be a table")
    check_keys(table, ("events", "window", "n_null", "seed"), at, StudyError)
    events = table.get("events")
    if not isinstance(events, list) or not events:
        raise StudyError(f"{at}: events must be a list of event names, e.g. events = "
                         "[\"rupture\"]")
    events = [check_name(e, "event name", f"{at} events", StudyError) for e in events]
    window = table.get("window", [-30.0, 30.0])
    if (not isinstance(window, list) or len(window) != 2
            or any(isinstance(w, bool) or not isinstance(w, (int, float)) for w in window)):
        raise StudyError(f"{at}: window must be [start, end] in seconds from the marker, "
                         f"got {window!r}")
    for name in ("n_null", "seed"):
        value = table.get(name, 50 if name == "n_null" else 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < (
                1 if name == "n_null" else 0):
            raise StudyError(f"{at}: {name} must be a whole number >= "
                             f"{1 if name == 'n_null' else 0}, got {value!r}")
    try:
        return MomentSpec(events=tuple(events), window=(float(window[0]), float(window[1])),
                          n_null=table.get("n_null", 50), seed=table.get("seed", 0))
    except ValueError as exc:
        raise StudyError(f"{at}: {exc}") from None
