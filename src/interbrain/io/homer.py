"""Read Homer ``.nirs`` files (raw continuous-wave intensities).

A ``.nirs`` file is a MATLAB file (format v4 to v7, as written by Homer2, NIRx
NIRStar/nirsLAB, Artinis OxySoft and others) holding:

``d``
    Raw intensities, shape (n_times, n_measurements).
``t``
    Sample times in seconds, shape (n_times,) or (n_times, 1); uniform steps.
``SD``
    The probe, a struct with ``Lambda`` (wavelengths in nm), ``MeasList``
    (n_measurements x 4: source index, detector index, unused, wavelength index,
    all 1-based), ``SrcPos`` and ``DetPos`` (n_sources x 3 and n_detectors x 3
    optode positions) and ``SpatialUnit`` (``'mm'`` or ``'cm'``).
``s`` (optional)
    Stimuli, shape (n_times, n_conditions): a positive value marks the onset of
    a trial of that condition (Homer marks disabled trials with negative values;
    they are left out). Condition names come from ``CondNames`` when present.
``aux`` (optional)
    Auxiliary signals; not read.

MATLAB v7.3 files (HDF5) are not supported: re-save them with ``save(..., '-v7')``
or convert them to SNIRF (Homer3 does both).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import mne
import numpy as np
from mne.io.constants import FIFF

from ..errors import RecordingError
from ._matlab import load_mat, mat_string
from ._sampling import sampling_rate

# SI metres per unit of SD.SpatialUnit
_LENGTH_UNITS = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}
# Plausible median source-detector distance in metres (short channels excluded)
_PLAUSIBLE_DISTANCE_M = (0.005, 0.08)


def _field(sd: np.ndarray, name: str):
    names = sd.dtype.names or ()
    return sd[0, 0][name] if name in names else None


def _numeric(path: Path, name: str, value, ndim: int) -> np.ndarray:
    """A finite-size numeric array of ``ndim`` dimensions, or a RecordingError."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" or arr.size == 0:
        raise RecordingError(f"{path}: {name} must be a non-empty numeric array, "
                             f"got {arr.dtype} of shape {arr.shape}")
    arr = arr.astype(float)
    if ndim == 1:
        if arr.ndim > 2 or (arr.ndim == 2 and min(arr.shape) != 1):
            raise RecordingError(f"{path}: {name} must be a vector, got shape {arr.shape}")
        return arr.ravel()
    if arr.ndim != 2:
        raise RecordingError(f"{path}: {name} must be a 2-D array, got shape {arr.shape}")
    return arr


def _length_scale(path: Path, sd: np.ndarray, src: np.ndarray, det: np.ndarray,
                  meas: np.ndarray, spatial_unit: str | None) -> float:
    """Metres per unit of the optode positions."""
    unit = spatial_unit
    if unit is None:
        value = _field(sd, "SpatialUnit")
        unit = mat_string(value) if value is not None else None
    dist = np.linalg.norm(src[meas[:, 0] - 1] - det[meas[:, 1] - 1], axis=1)
    median = float(np.median(dist)) if dist.size else float("nan")
    if not unit:
        for cand in ("mm", "cm", "m"):
            metres = median * _LENGTH_UNITS[cand]
            if _PLAUSIBLE_DISTANCE_M[0] <= metres <= _PLAUSIBLE_DISTANCE_M[1]:
                warnings.warn(f"{path}: SD.SpatialUnit is missing; assuming '{cand}' from the "
                              f"median source-detector distance ({median:g} {cand})",
                              RuntimeWarning, stacklevel=3)
                return _LENGTH_UNITS[cand]
        raise RecordingError(f"{path}: SD.SpatialUnit is missing and the median source-detector "
                             f"distance ({median:g}) fits none of mm, cm, m; set SD.SpatialUnit")
    unit = unit.lower()
    if unit not in _LENGTH_UNITS:
        raise RecordingError(f"{path}: SD.SpatialUnit '{unit}' is not one of "
                             f"{', '.join(_LENGTH_UNITS)}")
    return _LENGTH_UNITS[unit]


def _condition_names(mat: dict, n: int) -> list[str]:
    names = [str(k + 1) for k in range(n)]
    cond = mat.get("CondNames")
    if cond is not None:
        cells = np.asarray(cond).ravel()
        got = [mat_string(c) for c in cells]
        if len(got) == n and all(got):
            names = got
    return names


def read_homer(path: str | os.PathLike, *, spatial_unit: str | None = None) -> mne.io.RawArray:
    """Read a Homer ``.nirs`` file of raw continuous-wave intensities.

    Parameters
    ----------
    path : path-like
        The ``.nirs`` file (MATLAB v4-v7; see the module docstring for its fields).
    spatial_unit : {"mm", "cm", "m"} or None
        Unit of ``SD.SrcPos`` and ``SD.DetPos``; None uses ``SD.SpatialUnit`` (when
        that is missing too, the unit is inferred from the median source-detector
        distance, with a warning).

    Returns
    -------
    raw : mne.io.RawArray
        Preloaded intensities, channel type ``fnirs_cw_amplitude`` and MNE names
        ``"S<source>_D<detector> <wavelength>"``, shape (2 * n_pairs, n_times); the
        wavelengths of each source-detector pair are adjacent and ascending, pairs
        sorted by source then detector number (the order of MNE's NIRx reader).
        ``loc[3:6]`` is the source position, ``loc[6:9]`` the detector position,
        ``loc[0:3]`` their midpoint (metres, coordinate frame unknown: the file does
        not say), ``loc[9]`` the wavelength in nm. Stimulus onsets are annotations
        of duration 0 named by condition, in seconds from the first sample.
        ``meas_date`` is None (``.nirs`` files do not store the start time, so the
        partners of a dyad must be aligned by event or offset, not start time).

    Raises
    ------
    RecordingError
        If the file is empty, not a MATLAB file, truncated, or lacks or has
        inconsistent ``d``, ``t`` or ``SD`` fields. The message names the file and
        the field.
    """
    path = Path(path)
    mat = load_mat(path, "Homer .nirs file")
    missing = [k for k in ("d", "t", "SD") if k not in mat]
    if missing:
        found = ", ".join(sorted(k for k in mat if not k.startswith("__"))) or "none"
        raise RecordingError(f"{path}: not a Homer .nirs file: missing variable(s) "
                             f"{', '.join(missing)} (found: {found})")
    sd = np.asarray(mat["SD"])
    if sd.dtype.names is None or sd.size != 1:
        raise RecordingError(f"{path}: SD must be a MATLAB struct")
    for name in ("Lambda", "MeasList", "SrcPos", "DetPos"):
        if _field(sd, name) is None:
            raise RecordingError(f"{path}: SD.{name} is missing")

    d = _numeric(path, "d", mat["d"], 2)
    t = _numeric(path, "t", mat["t"], 1)
    wavelengths = _numeric(path, "SD.Lambda", _field(sd, "Lambda"), 1)
    meas = _numeric(path, "SD.MeasList", _field(sd, "MeasList"), 2)
    src = _numeric(path, "SD.SrcPos", _field(sd, "SrcPos"), 2)
    det = _numeric(path, "SD.DetPos", _field(sd, "DetPos"), 2)

    if meas.shape[1] < 4:
        raise RecordingError(f"{path}: SD.MeasList must have 4 columns (source, detector, "
                             f"unused, wavelength index), got {meas.shape[1]}")
    if np.any(meas[:, [0, 1, 3]] != np.round(meas[:, [0, 1, 3]])):
        raise RecordingError(f"{path}: SD.MeasList holds non-integer indices")
    meas = meas.astype(int)
    for arr, name in ((src, "SD.SrcPos"), (det, "SD.DetPos")):
        if arr.shape[1] not in (2, 3):
            raise RecordingError(f"{path}: {name} must be n x 3 (or n x 2), got {arr.shape}")
    if src.shape[1] == 2:
        src = np.column_stack([src, np.zeros(len(src))])
    if det.shape[1] == 2:
        det = np.column_stack([det, np.zeros(len(det))])
    if d.shape[0] != t.size and d.shape[1] == t.size:
        raise RecordingError(f"{path}: d is {d.shape[0]} x {d.shape[1]} but t has {t.size} "
                             "samples: d must be time x measurement (transpose it)")
    if d.shape[0] != t.size:
        raise RecordingError(f"{path}: d has {d.shape[0]} samples (rows) but t has {t.size}")
    if d.shape[1] != meas.shape[0]:
        raise RecordingError(f"{path}: d has {d.shape[1]} columns but SD.MeasList has "
                             f"{meas.shape[0]} rows; they must match one to one")
    for col, name, n in ((0, "source", len(src)), (1, "detector", len(det)),
                         (3, "wavelength", wavelengths.size)):
        bad = np.flatnonzero((meas[:, col] < 1) | (meas[:, col] > n))
        if bad.size:
            raise RecordingError(f"{path}: SD.MeasList row {bad[0] + 1} has {name} index "
                                 f"{meas[bad[0], col]}, outside 1..{n}")

    sfreq = sampling_rate(t, source=f"{path}: t")
    scale = _length_scale(path, sd, src, det, meas, spatial_unit)
    src, det = src * scale, det * scale

    # one entry per source-detector pair, wavelengths ascending
    pairs: dict[tuple[int, int], dict[float, int]] = {}
    for col, (s, dt, _, w) in enumerate(meas[:, :4]):
        lam = float(wavelengths[w - 1])
        per = pairs.setdefault((int(s), int(dt)), {})
        if lam in per:
            raise RecordingError(f"{path}: SD.MeasList rows {per[lam] + 1} and {col + 1} are "
                                 f"both S{s}_D{dt} at {lam:g} nm")
        per[lam] = col
    all_lams = sorted({float(x) for x in wavelengths[np.unique(meas[:, 3]) - 1]})
    order, names, locs = [], [], []
    for (s, dt), per in sorted(pairs.items()):
        if sorted(per) != all_lams:
            raise RecordingError(
                f"{path}: pair S{s}_D{dt} is measured at {', '.join(f'{x:g}' for x in sorted(per))}"
                f" nm, not at every wavelength ({', '.join(f'{x:g}' for x in all_lams)} nm)")
        for lam in all_lams:
            order.append(per[lam])
            names.append(f"S{s}_D{dt} {lam:g}")
            loc = np.full(12, np.nan)
            loc[3:6], loc[6:9] = src[s - 1], det[dt - 1]
            loc[0:3] = 0.5 * (loc[3:6] + loc[6:9])
            loc[9] = lam
            locs.append(loc)

    info = mne.create_info(names, sfreq, ch_types="fnirs_cw_amplitude")
    for ch, loc in zip(info["chs"], locs):
        ch["loc"][:] = loc
        ch["coord_frame"] = FIFF.FIFFV_COORD_UNKNOWN
    raw = mne.io.RawArray(d[:, order].T, info, verbose="ERROR")

    if "s" in mat:
        s = np.asarray(mat["s"])
        if s.size and s.ndim == 2 and s.shape[0] == t.size and s.dtype.kind in "biuf":
            conds = _condition_names(mat, s.shape[1])
            onsets, descs = [], []
            for k in range(s.shape[1]):
                idx = np.flatnonzero(s[:, k] > 0)
                onsets.extend((t[idx] - t[0]).tolist())
                descs.extend([conds[k]] * idx.size)
            if onsets:
                raw.set_annotations(mne.Annotations(onsets, [0.0] * len(onsets), descs))
        elif s.size:
            raise RecordingError(f"{path}: s must be a numeric n_times x n_conditions array "
                                 f"({t.size} rows), got shape {s.shape}")
    return raw
