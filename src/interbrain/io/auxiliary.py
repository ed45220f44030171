"""Auxiliary signals of a SNIRF recording (respiration, PPG / heart rate, accelerometer).

SNIRF stores them as ``/nirs/auxN/{name, dataTimeSeries, time}``, with ``time`` on the
same origin (and ``TimeUnit``) as ``/nirs/data1/time``. :func:`read_aux` reads them with
MNE-NIRS's :func:`mne_nirs.io.snirf.read_snirf_aux_data`, which interpolates each one
linearly to the requested times, and puts them on the recording's samples: MNE-NIRS
interpolates at ``raw.times`` (0 at the first sample), whereas SNIRF counts aux times
from the origin, so the times asked for are the first sample's time from the origin plus
``raw.times``, in the file's time unit.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import h5py
import mne
import numpy as np
import pandas as pd

from ..errors import RecordingError
from .snirf_timing import snirf_first_sample, snirf_string

#: Seconds per SNIRF ``TimeUnit``.
TIME_UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "\u03bcs": 1e-6, "\u00b5s": 1e-6}


def _aux_spans(path: Path) -> dict[str, tuple[float, float]]:
    """Name -> first and last ``time`` of each aux signal, in the file's unit."""
    spans = {}
    with h5py.File(path, "r") as fh:
        group = fh["nirs"] if "nirs" in fh else fh.get("nirs1")
        if group is None:
            return {}
        for key in sorted(k for k in group if k.startswith("aux")):
            name = snirf_string(group[key], "name") or key
            time = np.asarray(group[key]["time"], float).ravel()
            spans[name] = (float(time[0]), float(time[-1])) if time.size else (np.nan, np.nan)
    return spans


def read_aux(path: str | os.PathLike, raw: mne.io.BaseRaw) -> pd.DataFrame:
    """The auxiliary signals of a recording, on its samples.

    Parameters
    ----------
    path : path-like
        The recording file. Only SNIRF files (``.snirf``, also inside BIDS) hold
        auxiliary signals; other formats give an empty table.
    raw : mne.io.BaseRaw
        The recording as read from ``path`` (:func:`~interbrain.io.read_recording`), shape
        (n_channels, n_times).

    Returns
    -------
    pandas.DataFrame
        One column per auxiliary signal (its SNIRF ``name``), one row per sample of
        ``raw``, index: seconds from the first sample (``raw.times``). No columns when
        the file has no auxiliary signals.

    Raises
    ------
    RecordingError
        Naming the file, when an auxiliary signal does not cover the recording (within
        one sample; MNE-NIRS would extrapolate), holds non-finite values or has more
        than one column.
    """
    path = Path(path)
    times = pd.Index(np.asarray(raw.times, float), name="times")
    empty = pd.DataFrame(index=times)
    if path.suffix.lower() != ".snirf":
        return empty
    from mne_nirs.io.snirf import read_snirf_aux_data

    spans = _aux_spans(path)
    if not spans:
        return empty
    _, first_time = snirf_first_sample(path)
    with h5py.File(path, "r") as fh:
        tags = fh["nirs/metaDataTags"] if "nirs/metaDataTags" in fh else None
        unit = TIME_UNIT_SECONDS.get((snirf_string(tags, "TimeUnit") if tags is not None else None)
                               or "s", 1.0)
    wanted = (first_time + times.to_numpy()) / unit   # aux times: the file's origin and unit
    tolerance = 1.0 / (float(raw.info["sfreq"]) * unit)
    for name, (lo, hi) in spans.items():
        if not (lo <= wanted[0] + tolerance and hi >= wanted[-1] - tolerance):
            raise RecordingError(
                f"{path}: auxiliary signal {name!r} covers {lo * unit:.2f}-{hi * unit:.2f} s "
                f"of the file's time, the recording {wanted[0] * unit:.2f}-"
                f"{wanted[-1] * unit:.2f} s; it must cover the whole recording")
    try:
        # MNE-NIRS only uses raw.times: ask for the samples' times on the aux time base
        table = read_snirf_aux_data(str(path), SimpleNamespace(times=wanted))
    except Exception as exc:   # h5py / scipy / pandas raise many types for odd aux groups
        raise RecordingError(f"{path}: the auxiliary signals cannot be read "
                             f"(mne_nirs.io.snirf.read_snirf_aux_data): "
                             f"{type(exc).__name__}: {exc}") from None
    table.index = times
    bad = [str(c) for c in table.columns if not np.all(np.isfinite(table[c].to_numpy(float)))]
    if bad:
        raise RecordingError(f"{path}: auxiliary signal(s) {', '.join(map(repr, bad))} hold "
                             "non-finite values")
    return table
