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
      case-insensitive). At least one ``hbo`` column is required; either every
      source-detector pair has both ``hbo`` and ``hbr`` or the table has ``hbo``
      only. Every cell must be a finite number.

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

Units
    Concentrations are assumed to be in mol/L (``M``; what MNE, Homer and the
    NIRS Brain AnalyzIR toolbox use) unless the file (``# unit=...`` comment,
    ``unit`` variable) or the ``unit`` argument says otherwise: one of ``M``,
    ``mM``, ``uM`` (also ``µM``, ``umol/L``), ``nM``. Values are converted to mol/L.
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
from ._matlab import load_mat, mat_string
from ._sampling import sampling_rate
from .snirf_timing import iso_datetime_utc

CHANNEL_RE = re.compile(r"^S(\d+)_D(\d+) (hbo|hbr)$", re.IGNORECASE)
UNITS = {"m": 1.0, "mol/l": 1.0, "mm": 1e-3, "mmol/l": 1e-3, "um": 1e-6, "µm": 1e-6,
         "μm": 1e-6, "umol/l": 1e-6, "µmol/l": 1e-6, "μmol/l": 1e-6, "nm": 1e-9,
         "nmol/l": 1e-9}
_MAX_PLAUSIBLE_M = 1e-3
_META_RE = re.compile(r"^#\s*(\w+)\s*[=:]\s*(.*?)\s*$")


def _meas_date(text: str | None, source: str) -> datetime | None:
    if not text:
        return None
    try:
        return iso_datetime_utc(text)
    except ValueError:
        raise RecordingError(f"{source}: meas_date '{text}' is not an ISO 8601 date and time "
                             "(e.g. 2019-09-28T16:32:27.637Z)") from None


def _unit_scale(unit: str, source: str) -> float:
    key = unit.strip().lower()
    if key not in UNITS:
        raise RecordingError(f"{source}: unknown concentration unit '{unit}'; use one of "
                             "M, mM, uM, nM")
    return UNITS[key]


def _parse_channels(names: list[str], source: str) -> list[tuple[str, str, str]]:
    """(name as given, pair, chromophore) for each channel name."""
    out = []
    for name in names:
        m = CHANNEL_RE.match(name.strip())
        if not m:
            raise RecordingError(f"{source}: column '{name}' is neither 'time' nor a channel "
                                 "name like 'S1_D1 hbo' or 'S1_D1 hbr'")
        out.append((name, f"S{int(m[1])}_D{int(m[2])}", m[3].lower()))
    seen: dict[str, str] = {}
    for name, pair, chrom in out:
        key = f"{pair} {chrom}"
        if key in seen:
            raise RecordingError(f"{source}: columns '{seen[key]}' and '{name}' are both {key}")
        seen[key] = name
    hbo = {p for _, p, c in out if c == "hbo"}
    hbr = {p for _, p, c in out if c == "hbr"}
    if not hbo:
        raise RecordingError(f"{source}: no hbo channel (columns named like 'S1_D1 hbo')")
    if hbr and hbr != hbo:
        lone = sorted(hbo ^ hbr)[0]
        has = "hbo" if lone in hbo else "hbr"
        raise RecordingError(f"{source}: {lone} has an {has} column but no "
                             f"{'hbr' if has == 'hbo' else 'hbo'} column; give both for "
                             "every pair, or hbo only")
    return out


def _make_raw(data: np.ndarray, channels: list[tuple[str, str, str]], sfreq: float,
              scale: float, source: str, where) -> mne.io.RawArray:
    """RawArray of hbo/hbr channels from a (n_times, n_channels) array."""
    data = data * scale
    peak = np.abs(data).max(axis=0)
    j = int(np.argmax(peak))
    if peak[j] >= _MAX_PLAUSIBLE_M:
        i = int(np.argmax(np.abs(data[:, j])))
        raise RecordingError(
            f"{source}: {where(i)}, column '{channels[j][0]}' is {data[i, j] / scale:g}, i.e. "
            f"{data[i, j]:g} mol/L, implausible for a haemoglobin concentration change: is the "
            "unit right? (tables are read as mol/L unless a unit is given, e.g. '# unit=uM')")
    # pairs sorted by source then detector number, hbo before hbr (MNE's order)
    pairs = sorted(dict.fromkeys(p for _, p, _ in channels),
                   key=lambda p: tuple(int(x[1:]) for x in p.split("_")))
    col = {(p, c): k for k, (_, p, c) in enumerate(channels)}
    chroms = [c for c in ("hbo", "hbr") if any(cc == c for _, _, cc in channels)]
    order = [col[(p, c)] for p in pairs for c in chroms]
    names = [f"{p} {c}" for p in pairs for c in chroms]
    info = mne.create_info(names, sfreq, ch_types=[n.split(" ")[1] for n in names])
    return mne.io.RawArray(data[:, order].T, info, verbose="ERROR")


def _read_text(path: Path) -> tuple[np.ndarray, list, float, dict, object]:
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
    lower = [c.lower() for c in columns]
    sfreq_meta = meta.get("sfreq")
    sfreq = None
    if sfreq_meta is not None:
        try:
            sfreq = float(sfreq_meta)
            if not (np.isfinite(sfreq) and sfreq > 0):
                raise ValueError
        except ValueError:
            raise RecordingError(f"{path}: '# sfreq={sfreq_meta}' is not a positive number "
                                 "(Hz)") from None
    if "time" in lower:
        k = lower.index("time")
        rate = sampling_rate(values[:, k], source=f"{path}: column '{columns[k]}'",
                             line_of=lambda i: f"line {line_no[i + 1]}")
        if sfreq is not None and abs(rate - sfreq) > 1e-3 * sfreq:
            raise RecordingError(f"{path}: '# sfreq={sfreq_meta}' disagrees with the time "
                                 f"column ({rate:g} Hz)")
        sfreq = rate
        values = np.delete(values, k, axis=1)
        columns = columns[:k] + columns[k + 1:]
    elif sfreq is None:
        raise RecordingError(f"{path}: no 'time' column (seconds) and no '# sfreq=<Hz>' comment "
                             "line: the sampling rate is unknown")
    if not columns:
        raise RecordingError(f"{path}: no channel columns (named like 'S1_D1 hbo')")
    return values, columns, sfreq, meta, where


def _read_mat(path: Path) -> tuple[np.ndarray, list, float, dict, object]:
    mat = load_mat(path, "table (.mat with data, sfreq, channels)")
    missing = [k for k in ("data", "sfreq", "channels") if k not in mat]
    if missing:
        found = ", ".join(sorted(k for k in mat if not k.startswith("__"))) or "none"
        raise RecordingError(f"{path}: missing variable(s) {', '.join(missing)} (a table .mat "
                             f"needs data, sfreq, channels; found: {found})")
    data = np.asarray(mat["data"])
    if data.dtype.kind not in "biuf" or data.ndim != 2 or data.size == 0:
        raise RecordingError(f"{path}: data must be a numeric n_times x n_channels matrix, "
                             f"got {data.dtype} of shape {data.shape}")
    data = data.astype(float)
    sf = np.asarray(mat["sfreq"])
    if sf.dtype.kind not in "biuf" or sf.size != 1 or not np.isfinite(sf).all() or sf.item() <= 0:
        raise RecordingError(f"{path}: sfreq must be one positive number (Hz)")
    sfreq = float(sf.item())
    cells = np.asarray(mat["channels"])
    if cells.dtype.kind in "US":  # a char matrix, one name per row
        names = [str(r).strip() for r in cells.ravel()]
    else:
        names = [mat_string(c) for c in cells.ravel()]
        if any(n is None for n in names):
            raise RecordingError(f"{path}: channels must be a cell array of strings")
    if len(names) != data.shape[1]:
        hint = (" (data must be time x channel: transpose it)"
                if len(names) == data.shape[0] else "")
        raise RecordingError(f"{path}: data has {data.shape[1]} columns but channels has "
                             f"{len(names)} names{hint}")
    if data.shape[0] < 2:
        raise RecordingError(f"{path}: data has {data.shape[0]} sample(s); need at least 2")

    def where(i: int) -> str:
        return f"data row {i + 1}"

    bad = np.argwhere(~np.isfinite(data))
    if bad.size:
        i, j = (int(x) for x in bad[0])
        raise RecordingError(f"{path}: {where(i)}, channel '{names[j]}' ({j + 1}) is "
                             f"{data[i, j]} ({len(bad)} non-finite value(s))")
    meta = {key: mat_string(mat[key]) for key in ("unit", "meas_date") if key in mat}
    return data, names, sfreq, meta, where


def read_table(path: str | os.PathLike, *, unit: str | None = None) -> mne.io.RawArray:
    """Read preprocessed HbO/HbR signals of one person from a table.

    Parameters
    ----------
    path : path-like
        A ``.csv``, ``.tsv`` or ``.mat`` file in the layout of the module docstring.
    unit : str or None
        Concentration unit of the values (``"M"``, ``"mM"``, ``"uM"``, ``"nM"``);
        overrides the file's; None uses the file's, else mol/L.

    Returns
    -------
    raw : mne.io.RawArray
        Preloaded, channel types ``hbo`` and ``hbr`` in mol/L, named
        ``"S<source>_D<detector> hbo|hbr"``, shape (n_channels, n_times), pairs
        sorted by source then detector number, ``hbo`` before ``hbr``; sampling rate in Hz in
        ``raw.info["sfreq"]``; ``meas_date`` from the file, else None.

    Raises
    ------
    RecordingError
        If the file cannot be parsed, a column name is not a channel name, a cell
        is empty or not a finite number (row and column named), the times are not
        uniform (rows named), there is no hbo channel, a pair lacks its hbo or hbr
        partner, or the values are implausible for the unit.
    """
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"{path}: table file does not exist")
    if path.suffix.lower() == ".mat":
        data, names, sfreq, meta, where = _read_mat(path)
    elif path.suffix.lower() in (".csv", ".tsv"):
        if path.stat().st_size == 0:
            raise RecordingError(f"{path}: empty file (0 bytes)")
        data, names, sfreq, meta, where = _read_text(path)
    else:
        raise RecordingError(f"{path}: a table must be .csv, .tsv or .mat, got "
                             f"'{path.suffix}'")
    use = unit if unit is not None else meta.get("unit")
    scale = _unit_scale(use, str(path)) if use else 1.0
    when = _meas_date(meta.get("meas_date"), str(path))
    channels = _parse_channels(names, str(path))
    raw = _make_raw(data, channels, sfreq, scale, str(path), where)
    if when is not None:
        raw.set_meas_date(when)
    return raw
