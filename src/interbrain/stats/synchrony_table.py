"""A synchrony table computed elsewhere (``interbrain stats``): read and checked.

The table has the columns of a run's ``synchrony.parquet`` (:data:`REQUIRED`,
:data:`OPTIONAL`), one row per dyad, session, channel pair, signal, pairing and metric
(and segment, and surrogate draw). :func:`read_synchrony_table` reads a CSV or Parquet
file and refuses, with one message naming the file, the line (CSV; the row for
Parquet) and the column, a missing or unknown column, an empty or non-numeric value,
a value outside the vocabulary (signal, metric, pairing), a real row whose
``partner_dyad`` is another dyad, a familiarity row within one session, and a row
given twice. :func:`check_dyads` refuses dyads the study does not list.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import pandas as pd

from ..errors import StudyError
from ..nulls import NULL_KINDS
from ..nulls.segment_shuffle import SHUFFLE_PAIRINGS
from ..synchrony.settings import METRICS, SHORT_SIGNALS, SIGNALS

__all__ = ["REQUIRED", "OPTIONAL", "PAIRINGS", "SEGMENT_PAIRINGS", "read_synchrony_table",
           "check_dyads"]

#: Columns every table needs.
REQUIRED: tuple[str, ...] = ("dyad", "session", "signal", "pairing", "value")
#: Columns a table may have, and what a missing one means.
OPTIONAL: dict[str, str] = {
    "partner_dyad": "the dyad of the patient recording; needed on pseudo-dyad rows "
                    "(missing: the row's dyad)",
    "partner_session": "the session of the patient recording; needed on familiarity "
                       "rows (missing: the row's session)",
    "pair": "the channel pair, e.g. S1_D1 (missing: one value per dyad-session, 'all')",
    "metric": "the synchrony metric (missing: the first of [analysis] metrics)",
    "segment": "the segment label (empty: the whole session)",
    "surrogate": "the draw of a surrogate null (rows circular_shift, phase_randomised)",
    "channel_therapist": "the therapist's channel", "channel_patient": "the patient's channel",
    "region_therapist": "the therapist channel's region",
    "region_patient": "the patient channel's region",
    "n_samples": "samples a segment's value was computed from"}
#: The ``pairing`` vocabulary: real dyads and the null pairings.
PAIRINGS: tuple[str, ...] = ("real", *NULL_KINDS)
#: Pairings of segment rows only: a dyad-session's own segment windows and their
#: within-session shuffles (:mod:`interbrain.nulls.segment_shuffle`).
SEGMENT_PAIRINGS: tuple[str, ...] = tuple(SHUFFLE_PAIRINGS)
_TEXT = ("dyad", "partner_dyad", "signal", "pairing", "pair", "metric", "segment",
         "channel_therapist", "channel_patient", "region_therapist", "region_patient")
_KEY = ("dyad", "partner_dyad", "session", "partner_session", "signal", "pairing",
        "metric", "pair", "segment", "surrogate")


def _read(path: Path) -> tuple[pd.DataFrame, str]:
    """The table as text cells (CSV) or as stored (Parquet), indexed by line / row."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:
            raise StudyError(f"{path}: cannot be read as Parquet: {exc}") from None
        frame.index = range(1, len(frame) + 1)
        return frame, "row"
    if suffix not in (".csv", ".tsv"):
        raise StudyError(f"{path}: a synchrony table is a .csv, .tsv or .parquet file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            header = next(reader, None)
            rows, lines = [], []
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    raise StudyError(f"{path}: line {reader.line_num}: {len(cells)} cells, "
                                     f"the header has {len(header)} columns")
                rows.append([c.strip() for c in cells])
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise StudyError(f"{path}: not UTF-8 text") from None
    except csv.Error as exc:
        raise StudyError(f"{path}: not a valid CSV file: {exc}") from None
    if header is None:
        raise StudyError(f"{path}: empty file")
    return pd.DataFrame(rows, columns=[h.strip() for h in header], index=lines,
                        dtype=object), "line"


def _shown(value) -> str:
    """A cell in a message: text quoted, numbers as numbers."""
    return repr(value) if isinstance(value, str) else f"{value:g}" if isinstance(
        value, float) else str(value)


def _problem(path: Path, unit: str, at, column: str, text: str) -> StudyError:
    return StudyError(f"{path}: {unit} {at}, column {column}: {text}")


def _whole_numbers(frame: pd.DataFrame, column: str, path: Path, unit: str,
                   minimum: int) -> pd.Series:
    out = pd.to_numeric(frame[column], errors="coerce")
    bad = out.isna() | (out != out.round()) | (out < minimum)
    if bad.any():
        at = bad.idxmax()
        raise _problem(path, unit, at, column, f"{frame.at[at, column]!r} is not a whole "
                       f"number >= {minimum}")
    return out.astype(int)


def read_synchrony_table(path: str | os.PathLike, *, metric: str = "wtc") -> pd.DataFrame:
    """Read and check a synchrony table computed elsewhere.

    Parameters
    ----------
    path : path-like
        A ``.csv`` (comma-separated, UTF-8, a header row), ``.tsv`` or ``.parquet``
        file with the columns :data:`REQUIRED` and any of :data:`OPTIONAL`; a run's
        ``synchrony.parquet`` is one.
    metric : str
        The metric of every row when the table has no ``metric`` column.

    Returns
    -------
    pandas.DataFrame
        The columns of a run's synchrony table (``partner_dyad``,
        ``partner_session``, ``pair`` and ``metric`` filled in where missing; an empty
        ``segment`` as missing), indexed by the line (CSV) or row (Parquet) each row
        came from.

    Raises
    ------
    StudyError
        Naming ``path``, the line or row and the column of the first problem: a
        missing or unknown column, an empty cell (a required column; ``partner_dyad``
        on a pseudo-dyad row), a value that is not a finite number (``value``) or a
        whole number (``session``, ``partner_session``, ``surrogate``), a signal,
        metric or pairing outside the vocabulary (:data:`PAIRINGS`; on segment rows
        also :data:`SEGMENT_PAIRINGS`), a real row with
        another ``partner_dyad`` or ``partner_session``, a familiarity row within one
        session, or a row given twice (both lines named).
    """
    path = Path(path)
    frame, unit = _read(path)
    columns = list(frame.columns)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise StudyError(f"{path}: column(s) {', '.join(missing)} missing (columns: "
                         f"{', '.join(columns)}); a synchrony table needs "
                         f"{', '.join(REQUIRED)} and may have {', '.join(OPTIONAL)}")
    unknown = [c for c in columns if c not in REQUIRED and c not in OPTIONAL]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if unknown or twice:
        raise StudyError(f"{path}: " + (f"column {twice[0]!r} appears twice" if twice else
                         f"unknown column {unknown[0]!r}") + f"; a synchrony table has "
                         f"{', '.join(REQUIRED)} and may have {', '.join(OPTIONAL)}")
    if frame.empty:
        raise StudyError(f"{path}: no rows")
    for column in [c for c in _TEXT if c in columns]:
        text = frame[column].astype(object)
        empty = text.isna() | (text.astype(str).str.strip() == "")
        frame[column] = text.where(~empty, None).map(lambda v: v if v is None else str(v))
        if column in REQUIRED and empty.any():
            raise _problem(path, unit, empty.idxmax(), column, "empty")
    values = pd.to_numeric(frame["value"], errors="coerce")
    bad = values.isna() | ~values.map(lambda v: math.isfinite(v) if v == v else False)
    if bad.any():
        at = bad.idxmax()
        shown = frame.at[at, "value"]
        raise _problem(path, unit, at, "value", "empty (NaN)" if shown is None or str(shown)
                       .strip().lower() in ("", "nan", "na", "n/a") else
                       f"{shown!r} is not a finite number")
    frame["value"] = values.astype(float)
    frame["session"] = _whole_numbers(frame, "session", path, unit, 1)
    if "metric" not in columns:
        frame["metric"] = metric
    labelled = (frame["segment"].notna() if "segment" in columns
                else pd.Series(False, index=frame.index))
    for column, vocabulary in (("signal", SIGNALS + SHORT_SIGNALS), ("metric", METRICS),
                               ("pairing", PAIRINGS)):
        if column == "metric" and frame[column].isna().any():
            raise _problem(path, unit, frame[column].isna().idxmax(), column, "empty")
        outside = ~frame[column].isin(vocabulary)
        if column == "pairing":
            outside &= ~(labelled & frame[column].isin(SEGMENT_PAIRINGS))
            if outside.any() and frame.at[outside.idxmax(), column] in SEGMENT_PAIRINGS:
                raise _problem(path, unit, outside.idxmax(), column,
                               f"{frame.at[outside.idxmax(), column]!r} rows need a segment")
        if outside.any():
            at = outside.idxmax()
            raise _problem(path, unit, at, column, f"{frame.at[at, column]!r} is not one of "
                           f"{', '.join(vocabulary)}")
    real = frame["pairing"] == "real"
    if "partner_dyad" not in columns:
        frame["partner_dyad"] = None
    # pseudo-dyads pair two dyads; every other pairing one dyad's own recordings
    lacking = frame["partner_dyad"].isna() & (frame["pairing"] == "pseudo")
    if lacking.any():
        raise _problem(path, unit, lacking.idxmax(), "partner_dyad",
                       f"empty on a {frame.at[lacking.idxmax(), 'pairing']} row: it names "
                       "the dyad of the patient recording")
    frame["partner_dyad"] = frame["partner_dyad"].fillna(frame["dyad"])
    if "partner_session" in columns:
        given = frame["partner_session"].map(lambda v: v is not None and str(v).strip() != "")
        frame.loc[~given, "partner_session"] = frame.loc[~given, "session"]
        frame["partner_session"] = _whole_numbers(frame, "partner_session", path, unit, 1)
    else:
        frame["partner_session"] = frame["session"]
    for column, what in (("partner_dyad", "dyad"), ("partner_session", "session")):
        other = real & (frame[column] != frame[what])
        if other.any():
            raise _problem(path, unit, other.idxmax(), column, f"a real row pairs its own "
                           f"{what}'s recordings: {frame.at[other.idxmax(), column]!r} is "
                           f"not its {what} {frame.at[other.idxmax(), what]!r}")
    same = (frame["pairing"] == "familiarity") & (frame["partner_session"] == frame["session"])
    if same.any():
        raise _problem(path, unit, same.idxmax(), "partner_session", "a familiarity row "
                       "pairs recordings of two different sessions of its dyad")
    if "pair" not in columns:
        frame["pair"] = "all"
    if "surrogate" in columns:
        draws = frame["surrogate"].map(lambda v: v is not None and str(v).strip() != "")
        frame["surrogate"] = pd.to_numeric(frame["surrogate"].where(draws), errors="coerce")
    key = [c for c in _KEY if c in frame.columns]
    repeated = frame.duplicated(key, keep=False)
    if repeated.any():
        first = frame[repeated].astype(str).groupby(key).groups
        where = next(iter(first.values()))
        raise StudyError(f"{path}: {unit}s {where[0]} and {where[1]}: the same row twice ("
                         + ", ".join(f"{c} {_shown(frame.at[where[0], c])}" for c in key
                                     if frame.at[where[0], c] is not None) + ")")
    if "segment" in frame.columns and frame["segment"].isna().all():
        frame = frame.drop(columns="segment")
    if "segment" in frame.columns and "n_samples" not in frame.columns:
        frame["n_samples"] = float("nan")   # the segments' lengths are not known
    return frame


def check_dyads(table: pd.DataFrame, path: str | os.PathLike, dyads) -> None:
    """Refuse a row whose ``dyad`` or ``partner_dyad`` is not among ``dyads``.

    Parameters
    ----------
    table : pandas.DataFrame
        As :func:`read_synchrony_table` returns it (indexed by line or row).
    path : path-like
        The table's file, for the message.
    dyads : collection of str
        The study's dyad ids.

    Raises
    ------
    StudyError
        Naming the file, the line or row, the column and the dyad.
    """
    unit = "row" if Path(path).suffix.lower() == ".parquet" else "line"
    known = set(dyads)
    for column in ("dyad", "partner_dyad"):
        unknown = ~table[column].isin(known)
        if unknown.any():
            at = unknown.idxmax()
            raise _problem(Path(path), unit, at, column, f"dyad {table.at[at, column]!r} is "
                           "not a dyad of study.toml ([[dyads]]: "
                           + ", ".join(sorted(known)[:10]) + ")")
