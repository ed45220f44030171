"""``measures.csv``: the session questionnaires, one row per dyad and session.

:func:`read_measures_csv` checks the file's encoding and layout (UTF-8, commas, a
header) and returns its cells as text; :func:`load_measures` checks the columns and
values against the study's sessions. Every problem is a
:class:`~interbrain.errors.StudyError` naming the file and line.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .._check import check_distinct, check_name
from ..design import RESERVED_COLUMNS, SessionRecordings
from ..errors import StudyError

#: The questionnaires of a therapy study's sessions (any other numeric column is a
#: measure too).
STANDARD_MEASURES: tuple[str, ...] = ("symptoms", "wellbeing", "session_quality", "alliance")

#: Separators spreadsheet programs write instead of commas (e.g. Excel with a
#: locale whose decimal mark is a comma writes ';').
_OTHER_DELIMITERS: dict[str, str] = {";": "';'", "\t": "tab", "|": "'|'"}


def read_measures_csv(path: Path) -> pd.DataFrame:
    """Read ``measures.csv`` as text cells, checking its encoding and layout.

    The file must be UTF-8 text (a leading byte-order mark, as Excel's "CSV UTF-8"
    writes it, is accepted) with comma-separated cells (quoted as in RFC 4180 where a
    cell holds a comma), a header row first and, on every row, no more cells than the
    header has columns. Blank rows (no cell with text) are skipped, as are columns
    with neither a name nor any value (a trailing comma on every line). Values are
    not interpreted here (see :func:`load_measures`).

    Parameters
    ----------
    path : Path
        The CSV file.

    Returns
    -------
    pandas.DataFrame
        One str column per header column (names stripped of surrounding spaces, in
        file order, duplicates kept) and one row per data row, indexed by the row's
        line number in the file (the header's is usually 1). Rows with fewer cells
        than the header are completed with empty cells (missing values).

    Raises
    ------
    StudyError
        If the file is empty, not UTF-8 (naming the line of the first byte that is
        not, and the fix), holds NUL characters, looks separated by ``;``, tabs or
        ``|`` rather than commas, cannot be parsed as CSV, has a row with more cells
        than the header has columns, or a column without a name but with values.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StudyError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise StudyError(f"{path}: the file is UTF-16 text; interbrain reads UTF-8: save it "
                         "as UTF-8 (in Excel: 'CSV UTF-8 (comma delimited)')")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise StudyError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at byte "
            f"{column} of the line; a file saved as Latin-1 or Windows-1252?); save it as "
            "UTF-8 (in Excel: 'CSV UTF-8 (comma delimited)')") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise StudyError(f"{path}, line {line}: holds a NUL character: not a text file (or "
                         "UTF-16 without a byte-order mark); save it as UTF-8 CSV")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise StudyError(f"{path}, line {reader.line_num}: cannot be read as CSV: "
                         f"{exc}") from None
    if not rows:
        raise StudyError(f"{path}: the file is empty; it needs a header with "
                         "'dyad', 'session' and measure columns")
    header_line, header = rows[0]
    names = [name.strip() for name in header]
    line_text = ",".join(header)
    for sep, label in _OTHER_DELIMITERS.items():
        split = {part.strip() for part in line_text.split(sep)}
        if sep in line_text and (len(header) == 1 or (
                not {"dyad", "session"} <= set(names) and {"dyad", "session"} <= split)):
            raise StudyError(
                f"{path}, line {header_line}: looks {label}-delimited (header "
                f"{line_text.strip()[:80]!r}); interbrain reads comma-separated files: "
                "save it with commas between cells (and points as decimal marks)")
    body = rows[1:]
    for line, row in body:
        if len(row) > len(names) and any(cell.strip() for cell in row[len(names):]):
            raise StudyError(f"{path}, line {line}: {len(row)} cells, but the header (line "
                             f"{header_line}) has {len(names)} columns")
    cells = [[(row[k] if k < len(row) else "") for k in range(len(names))]
             for _, row in body]
    keep = []
    for k, name in enumerate(names):
        if name:
            keep.append(k)
        elif any(r[k].strip() for r in cells):
            line = next(line for (line, _), r in zip(body, cells) if r[k].strip())
            raise StudyError(f"{path}: column {k + 1} has values (e.g. on line {line}) but "
                             f"no name in the header (line {header_line})")
    frame = pd.DataFrame([[r[k] for k in keep] for r in cells], dtype=str,
                         columns=[names[k] for k in keep],
                         index=pd.Index([line for line, _ in body], dtype=int))
    return frame


def _did_you_mean(wanted: str, names: list[str]) -> str:
    """``"; did you mean 'X'?"`` for the column closest to ``wanted``, else ``""``."""
    folded = {name.strip().casefold(): name for name in names}
    if wanted in folded:
        return f"; is {folded[wanted]!r} meant to be {wanted!r}? (names are case-sensitive)"
    close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.75)
    return f"; is {close[0]!r} meant to be {wanted!r}?" if close else ""


def load_measures(path: Path, sessions: tuple[SessionRecordings, ...]) -> pd.DataFrame:
    """Read and validate ``measures.csv``.

    Parameters
    ----------
    path : Path
        The CSV file: columns ``dyad``, ``session`` and one or more numeric measures.
        Empty cells are missing values; any other non-numeric cell is an error.
    sessions : tuple of SessionRecordings
        The study's sessions; every row must name one of them.

    Returns
    -------
    pandas.DataFrame
        Columns ``dyad`` (str), ``session`` (int) and one float column per measure,
        sorted by dyad and session.
    """
    raw = read_measures_csv(path)
    for required in ("dyad", "session"):
        if required not in raw.columns:
            raise StudyError(f"{path}: missing column '{required}' "
                             f"(columns are: {', '.join(raw.columns)})"
                             + _did_you_mean(required, list(raw.columns)))
    dupes = raw.columns[raw.columns.duplicated()].tolist()
    if dupes:
        raise StudyError(f"{path}: column(s) {dupes} appear more than once")
    measure_cols = [c for c in raw.columns if c not in ("dyad", "session")]
    for col in measure_cols:
        check_name(col, "column name", f"{path}, line 1 (header)", StudyError)
        if col in RESERVED_COLUMNS:
            raise StudyError(f"{path}, line 1 (header): {col!r} is a reserved name "
                             f"({', '.join(RESERVED_COLUMNS)}), not a measure name")
    check_distinct(measure_cols, "column", f"{path}, line 1 (header)", StudyError,
                   reserved=RESERVED_COLUMNS)
    if not measure_cols:
        raise StudyError(f"{path}: no measure columns besides 'dyad' and 'session'")
    known = {(s.dyad, s.session) for s in sessions}
    dyads = {s.dyad for s in sessions}
    out = {"dyad": [], "session": []} | {c: [] for c in measure_cols}
    seen: set[tuple[str, int]] = set()
    for idx, row in raw.iterrows():
        line = int(idx)  # read_measures_csv indexes rows by line number
        at = f"{path}, line {line}"
        dyad = row["dyad"].strip()
        if dyad not in dyads:
            raise StudyError(f"{at}: dyad {dyad!r} is not a dyad of study.toml")
        try:
            session = int(row["session"].strip())
        except ValueError:
            raise StudyError(f"{at}, column 'session': {row['session']!r} is not a "
                             "whole number") from None
        if (dyad, session) not in known:
            raise StudyError(f"{at}: dyad {dyad} has no session {session} in study.toml")
        if (dyad, session) in seen:
            raise StudyError(f"{at}: dyad {dyad}, session {session} appears twice")
        seen.add((dyad, session))
        out["dyad"].append(dyad)
        out["session"].append(session)
        for col in measure_cols:
            text = row[col].strip()
            if text == "" or text.upper() in ("NA", "NAN"):
                value = np.nan
            else:
                try:
                    value = float(text)
                except ValueError:
                    raise StudyError(f"{at}, column '{col}': {text!r} is not a number "
                                     "(leave the cell empty for a missing value)") from None
                if not math.isfinite(value):
                    raise StudyError(f"{at}, column '{col}': {text!r} is not finite")
            out[col].append(value)
    frame = pd.DataFrame(out)
    frame["session"] = frame["session"].astype(int)
    for col in measure_cols:
        frame[col] = frame[col].astype(float)
    return frame.sort_values(["dyad", "session"], ignore_index=True)
