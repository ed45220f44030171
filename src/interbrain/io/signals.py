"""Which haemoglobin signals a recording will give, found cheaply before any reading
of samples: a study without ``[analysis] signals`` analyses those every recording has."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import h5py
import numpy as np

from ..errors import RecordingError
from .recording import EXTENSIONS
from .table import read_table
from .table_spec import TableSpec, channel_signals

#: Haemoglobin signals, in the order recordings hold them.
HB: tuple[str, str] = ("hbo", "hbr")
#: SNIRF ``dataTypeLabel`` values of processed haemoglobin, by signal.
_SNIRF_LABELS = {"hbo": "hbo", "hbr": "hbr", "hbt": None}


def _snirf_signals(path: Path) -> tuple[str, ...] | None:
    """Signals of a SNIRF file: both for raw intensities (dataType 1), the labelled
    ones for processed haemoglobin (dataType 99999); None when it cannot be told."""
    try:
        with h5py.File(path, "r") as fh:
            data = fh["nirs"]["data1"]
            found: set[str] = set()
            raw = False
            for name in data:
                if not name.startswith("measurementList"):
                    continue
                group = data[name]
                kind = int(np.asarray(group["dataType"][()]).ravel()[0])
                if kind != 99999:
                    raw = True
                    continue
                label = group.get("dataTypeLabel")
                if label is None:
                    continue
                text = np.asarray(label[()]).ravel()[0]
                text = (text.decode() if isinstance(text, bytes) else str(text)).lower()
                if _SNIRF_LABELS.get(text):
                    found.add(_SNIRF_LABELS[text])
    except (OSError, KeyError, ValueError, TypeError, IndexError):
        return None
    if raw:
        return HB
    return tuple(s for s in HB if s in found) or None


def _text_signals(path: Path, spec: TableSpec) -> tuple[str, ...] | None:
    """Signals of a text table, from its header line alone."""
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = next((line for line in fh if line.strip()
                           and not line.lstrip().startswith("#")), None)
        if header is None:
            return None
        columns = [c.strip() for c in next(csv.reader([header.rstrip("\r\n")],
                                                      delimiter=sep))]
        time = spec.time or next((c for c in columns if c.lower() == "time"), None)
        names = (list(spec.channels) if isinstance(spec.channels, tuple)
                 else [c for c in columns if c != time])
        found = {chrom for _, _, chrom in channel_signals(names, spec.signal, str(path),
                                                          "column", RecordingError)}
    except (OSError, UnicodeDecodeError, RecordingError, csv.Error):
        return None
    return tuple(s for s in HB if s in found) or None


def recording_signals(path: str | os.PathLike, spec: TableSpec | None = None
                      ) -> tuple[str, ...] | None:
    """The haemoglobin signals a recording gives the analysis.

    Raw-intensity and optical-density recordings (SNIRF, NIRx, Homer) give both HbO
    and HbR; a table or a SNIRF file of processed haemoglobin gives those it holds.

    Parameters
    ----------
    path : path-like
        The recording.
    spec : TableSpec or None
        The layout of a table (see :mod:`interbrain.io.table_spec`).

    Returns
    -------
    tuple of str or None
        Among ``("hbo", "hbr")``, in that order; None when the file cannot be read
        (reading it later names the problem).
    """
    path = Path(path)
    if path.is_dir():
        return HB
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt == "snirf":
        return _snirf_signals(path)
    if fmt != "table":
        return HB
    if path.suffix.lower() in (".csv", ".tsv"):
        return _text_signals(path, spec or TableSpec())
    try:
        raw = read_table(path, spec=spec)
    except (RecordingError, OSError, ValueError):
        return None if spec is not None or path.suffix.lower() != ".mat" else HB
    types = set(raw.get_channel_types())
    return tuple(s for s in HB if s in types)
