"""Read haemoglobin signals preprocessed elsewhere, from a table.

For users whose preprocessing (optical density, motion correction, Beer-Lambert
law, filtering) was done in another tool, :func:`read_table` reads the resulting
oxy- and deoxy-haemoglobin signals of one person. Two layouts are accepted.

Text table (``.csv``, comma-separated, or ``.tsv``, tab-separated)
    One header line, then one line per sample. Columns:

    - ``time``: sample times in seconds, uniformly spaced. It may be left out when
      a ``# sfreq=<Hz>`` comment line gives the sampling rate instead (when both
      are given they must agree to 0.1 %).
    - one column per channel, named ``S<source>_D<detector> hbo`` or
      ``S<source>_D<detector> hbr`` (e.g. ``S1_D1 hbo``; the chromophore is
      case-insensitive). Either every source-detector pair has both ``hbo`` and
      ``hbr``, or the table has one signal (``hbo`` only or ``hbr`` only; it is
      analysed with the signal it has). Every cell must be a finite number.

    Lines starting with ``#`` are comments. Three comments before the header are
    read: ``# sfreq=<Hz>``, ``# unit=<unit>`` (see units below) and
    ``# meas_date=<ISO 8601 date and time>`` (start of the recording, e.g.
    ``2019-09-28T16:32:27.637Z``; UTC when no time zone is given; needed to align
    the two partners by start time), e.g.::

        # unit=uM
        # meas_date=2019-09-28T16:32:27.637Z
        time,S1_D1 hbo,S1_D1 hbr,S1_D2 hbo,S1_D2 hbr
        0.0,0.132,-0.041,0.087,-0.020
        0.1,0.135,-0.043,0.090,-0.021

MATLAB file (``.mat``, v4-v7)
    Variables ``data`` (n_times x n_channels), ``sfreq`` (sampling rate in Hz, a
    scalar), ``channels`` (cell array of the n_channels names, as above), and
    optionally ``unit`` (a string, as below) and ``meas_date`` (a string, as above).

A lab's own layout (a variable ``oxyData``, a column ``t``, channels without names,
plain names such as ``CH1`` holding HbO) is read with a
:class:`~interbrain.io.table_spec.TableSpec` (``table = {...}`` in ``study.toml``;
see :mod:`interbrain.io.table_spec`).

Units
    Concentrations are assumed to be in mol/L (``M``; what MNE, Homer and the
    NIRS Brain AnalyzIR toolbox use) unless the ``unit`` argument (``unit`` of the
    spec, of ``[defaults]`` or of the session in ``study.toml``) or the file (``#
    unit=...`` comment, ``unit`` variable) says otherwise: one of ``M``, ``mM``,
    ``uM`` (also ``µM``, ``umol/L``), ``nM``. Values are converted to mol/L.
    Because haemoglobin concentration changes are of the order of micromoles per
    litre, a table whose values reach 1 mmol/L or more after conversion is
    rejected as having a wrong unit.

The result has no optode positions (``loc`` is NaN); ``meas_date`` is None unless
given.
"""

from __future__ import annotations

import csv
import os
import re
from datetime import datetime
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from ..errors import RecordingError
from ._sampling import sampling_rate
from .snirf_timing import iso_datetime_utc
from .table_mat import read_mat_table
from .table_spec import (UNIT_NAMES, TableSpec, channel_order, channel_signals, check_unit,
                         unit_scale)

_MAX_PLAUSIBLE_M = 1e-3
_META_RE = re.compile(r"^#\s*(\w+)\s*[=:]\s*(.*?)\s*$")
#: Where each format takes its unit from, for the message of an implausible value.
_UNIT_HINT = {
    "text": "a '# unit=uM' line above the header, or table = { unit = \"uM\" } (or unit = "
            "\"uM\") in [defaults] or the session of study.toml",
    "mat": "a 'unit' variable in the file (e.g. 'uM'), or table = { unit = \"uM\" } (or "
           "unit = \"uM\") in [defaults] or the session of study.toml",
}


def _meas_date(text: str | None, source: str) -> datetime | None:
    if not text:
        return None
    try:
        return iso_datetime_utc(text)
    except ValueError:
        raise RecordingError(f"{source}: meas_date '{text}' is not an ISO 8601 date and time "
                             "(e.g. 2019-09-28T16:32:27.637Z)") from None


def _make_raw(data: np.ndarray, channels: list[tuple[str, str, str]], sfreq: float,
              unit: tuple[str, str], source: str, where, fmt: str) -> mne.io.RawArray:
    """RawArray of hbo/hbr channels from a (n_times, n_channels) array; ``unit`` is
    (unit, where it came from)."""
    scale = unit_scale(unit[0])
    data = data * scale
    peak = np.abs(data).max(axis=0)
    j = int(np.argmax(peak))
    if peak[j] >= _MAX_PLAUSIBLE_M:
        i = int(np.argmax(np.abs(data[:, j])))
        what = "column" if fmt == "text" else "channel"
        raise RecordingError(
            f"{source}: {where(i)}, {what} '{channels[j][0]}' is {data[i, j] / scale:g}, i.e. "
            f"{data[i, j]:g} mol/L read in {unit[0]} ({unit[1]}), implausible for a "
            f"haemoglobin concentration change: is the unit right? Give the unit as "
            f"{_UNIT_HINT[fmt]}; accepted: {UNIT_NAMES}")
    # channels in MNE's order (by source then detector number), hbo before hbr
    pairs = channel_order([p for _, p, _ in channels])
    col = {(p, c): k for k, (_, p, c) in enumerate(channels)}
    chroms = [c for c in ("hbo", "hbr") if any(cc == c for _, _, cc in channels)]
    order = [col[(p, c)] for p in pairs for c in chroms]
    names = [f"{p} {c}" for p in pairs for c in chroms]
    info = mne.create_info(names, sfreq, ch_types=[n.split(" ")[1] for n in names])
    return mne.io.RawArray(data[:, order].T, info, verbose="ERROR")


def _read_text(path: Path, spec: TableSpec) -> tuple[np.ndarray, list, float, dict, object]:
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    meta: dict[str, str] = {}
    line_no: list[int] = []  # file line number (1-based) of each non-comment, non-blank line
    header = ""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for n, line in enumerate(fh, start=1):
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                m = _META_RE.match(stripped)
                if m and not line_no:
                    meta[m[1].lower()] = m[2]
                continue
            if not line_no:
                header = line
            line_no.append(n)
    if not line_no:
        raise RecordingError(f"{path}: empty table (no header line)")
    if len(line_no) == 1:
        raise RecordingError(f"{path}: the table has a header but no data rows")
    try:
        frame = pd.read_csv(path, sep=sep, comment="#", skip_blank_lines=True, dtype=str,
                            keep_default_na=False, quoting=csv.QUOTE_MINIMAL,
                            encoding="utf-8-sig")
    except Exception as exc:
        raise RecordingError(f"{path}: cannot be parsed as a "
                             f"{'tab' if sep == chr(9) else 'comma'}-separated table: "
                             f"{type(exc).__name__}: {exc}") from None
    if len(frame) != len(line_no) - 1:  # pragma: no cover - guards the line mapping
        raise RecordingError(f"{path}: unexpected table layout ({len(frame)} rows parsed, "
                             f"{len(line_no) - 1} data lines)")

    def where(i: int) -> str:
        return f"line {line_no[i + 1]} (data row {i + 1})"

    columns = [c.strip() for c in next(csv.reader([header.rstrip("\r\n")], delimiter=sep))]
    if len(columns) != frame.shape[1]:  # pragma: no cover - guards the header parse
        raise RecordingError(f"{path}: unexpected header layout ({len(columns)} names, "
                             f"{frame.shape[1]} columns parsed)")
    if len(columns) == 1 and sep == "," and "\t" in columns[0]:
        raise RecordingError(f"{path}: the header holds tabs: a tab-separated table needs the "
                             ".tsv extension")
    values = np.empty(frame.shape, dtype=float)
    for j, name in enumerate(columns):
        text = frame.iloc[:, j].str.strip()
        num = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(num))
        if bad.size:
            i = int(bad[0])
            cell = text.iloc[i]
            what = ("missing (fewer fields than the header)" if not isinstance(cell, str)
                    else "empty" if cell == "" else f"'{cell}' is not a finite number")
            raise RecordingError(f"{path}: {where(i)}, column '{name}': {what}"
                                 + (f" ({bad.size} such cells in this column)"
                                    if bad.size > 1 else ""))
        values[:, j] = num
    if spec.data is not None:
        raise RecordingError(f"{path}: the table spec's 'data' names a .mat variable; a "
                             f"text table's columns are named by 'channels' (and 'time')")
    sfreq_meta = meta.get("sfreq")
    sfreq = None
    if isinstance(spec.sfreq, float):
        sfreq_meta, sfreq = f"{spec.sfreq:g} (table sfreq in study.toml)", spec.sfreq
    elif isinstance(spec.sfreq, str):
        raise RecordingError(f"{path}: the table spec's sfreq = {spec.sfreq!r} names a "
                             "variable; in a text table give a number of Hz, or a time "
                             "column with time = \"<column>\"")
    elif sfreq_meta is not None:
        try:
            sfreq = float(sfreq_meta)
            if not (np.isfinite(sfreq) and sfreq > 0):
                raise ValueError
        except ValueError:
            raise RecordingError(f"{path}: '# sfreq={sfreq_meta}' is not a positive number "
                                 "(Hz)") from None
        sfreq_meta = f"'# sfreq={sfreq_meta}'"
    time_col = _column(columns, spec.time, path, "time") if spec.time else (
        next((c for c in columns if c.lower() == "time"), None))
    if time_col is not None:
        k = columns.index(time_col)
        rate = sampling_rate(values[:, k], source=f"{path}: column '{columns[k]}'",
                             line_of=lambda i: f"line {line_no[i + 1]}")
        if sfreq is not None and abs(rate - sfreq) > 1e-3 * sfreq:
            raise RecordingError(f"{path}: {sfreq_meta} disagrees with the time "
                                 f"column ({rate:g} Hz)")
        sfreq = rate
    elif sfreq is None:
        raise RecordingError(f"{path}: no 'time' column (seconds) and no '# sfreq=<Hz>' comment "
                             "line: the sampling rate is unknown (or name them in study.toml: "
                             "table = { time = \"<column>\" } or table = { sfreq = 10.0 })")
    if isinstance(spec.channels, str):
        raise RecordingError(f"{path}: the table spec's channels = {spec.channels!r} names a "
                             ".mat variable; in a text table give the list of columns to read")
    keep = ([_column(columns, c, path, "channels") for c in spec.channels]
            if spec.channels else [c for c in columns if c != time_col])
    values = values[:, [columns.index(c) for c in keep]]
    columns = keep
    if not columns:
        raise RecordingError(f"{path}: no channel columns (named like 'S1_D1 hbo')")
    return values, columns, sfreq, meta, where


def _column(columns: list[str], name: str, path: Path, key: str) -> str:
    """The column ``name`` (named by the spec's ``key``), case-sensitively."""
    if name not in columns:
        raise RecordingError(f"{path}: no column '{name}' (table {key} in study.toml); the "
                             f"columns are: {', '.join(columns)}")
    return name


def read_table(path: str | os.PathLike, *, unit: str | None = None,
               spec: TableSpec | None = None) -> mne.io.RawArray:
    """Read preprocessed HbO and/or HbR signals of one person from a table.

    Parameters
    ----------
    path : path-like
        A ``.csv``, ``.tsv`` or ``.mat`` file in the layout of the module docstring,
        or in the layout ``spec`` describes.
    unit : str or None
        Concentration unit of the values (``"M"``, ``"mM"``, ``"uM"``, ``"nM"``);
        overrides the spec's and the file's; None uses the spec's, else the file's,
        else mol/L.
    spec : TableSpec or None
        A lab's own layout: the variables or columns of the samples, times and
        channel names, the signal unnamed channels hold, the rate and the unit (see
        :mod:`interbrain.io.table_spec`); None: interbrain's layout.

    Returns
    -------
    raw : mne.io.RawArray
        Preloaded, channel types ``hbo`` and/or ``hbr`` in mol/L, named
        ``"<channel> hbo|hbr"`` (``S<source>_D<detector>``, the names the spec gives,
        or ``ch1``, ``ch2``, ... generated when the file names none), shape
        (n_channels, n_times); ``S<s>_D<d>`` channels sorted by source then detector
        number, ``hbo`` before ``hbr``; sampling rate in Hz in ``raw.info["sfreq"]``;
        ``meas_date`` from the file, else None.

    Raises
    ------
    RecordingError
        If the file cannot be parsed, a variable or column the spec names is missing
        (the file's are listed), a column name is not a channel name, a cell is empty
        or not a finite number (row and column named), the times are not uniform
        (rows named), a channel has HbO but not HbR (or the reverse) while others have
        both, or the values are implausible for the unit (the message says which unit
        was assumed and where to give it). Every message names the file.
    """
    path = Path(path)
    spec = spec or TableSpec()
    if not path.is_file():
        raise RecordingError(f"{path}: table file does not exist")
    if path.suffix.lower() == ".mat":
        data, names, sfreq, meta, where, signal = read_mat_table(path, spec)
        fmt = "mat"
    elif path.suffix.lower() in (".csv", ".tsv"):
        if path.stat().st_size == 0:
            raise RecordingError(f"{path}: empty file (0 bytes)")
        data, names, sfreq, meta, where = _read_text(path, spec)
        signal, fmt = spec.signal, "text"
    else:
        raise RecordingError(f"{path}: a table must be .csv, .tsv or .mat, got "
                             f"'{path.suffix}'")
    if unit is not None:
        use = (check_unit(unit, str(path), RecordingError), "given")
    elif spec.unit is not None:
        use = (spec.unit, "the table's unit in study.toml")
    elif meta.get("unit"):
        origin = "'# unit=' line" if fmt == "text" else "the file's 'unit' variable"
        use = (check_unit(meta["unit"], f"{path}: {origin}", RecordingError), origin)
    else:
        use = ("M", "no unit given, so mol/L was assumed")
    when = _meas_date(meta.get("meas_date"), str(path))
    channels = channel_signals(names, signal, str(path),
                               "column" if fmt == "text" else "channel", RecordingError)
    raw = _make_raw(data, channels, sfreq, use, str(path), where, fmt)
    if when is not None:
        raw.set_meas_date(when)
    return raw
