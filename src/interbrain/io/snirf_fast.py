"""One-pass reading of plain continuous-wave SNIRF files into the ``Raw`` MNE builds.

MNE's :func:`mne.io.read_raw_snirf` looks up every field of every
``measurementList<k>`` group several times by its path, and
:func:`~interbrain.io.check_snirf` opens them once more: for a 50-channel recording
that is about 1,000 HDF5 lookups, 0.1 s per file whatever its length, and most of the
time of reading a recording. :func:`read_snirf_fast` opens each field once, checks what
:func:`~interbrain.io.check_snirf` checks, and builds the ``Raw`` as MNE's reader does
(the same channel names, types, calibrations, locations, coordinate frame,
digitisation, subject information, sampling rate, samples and annotations; tested
equal in ``tests/test_preprocessing_speed_equality.py``).

It covers the common case, continuous-wave amplitudes (``dataType`` 1) with 3-D optode
positions and no optional subject tags; for anything else it returns None and
:func:`~interbrain.io.read_recording` takes MNE's reader (which also names every problem
of a damaged file).
"""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path

import h5py
import mne
import numpy as np
from mne._fiff._digitization import _make_dig_points
from mne._fiff.constants import FIFF
from mne._fiff.meas_info import _format_dig_points
from mne._freesurfer import get_mni_fiducials
from mne.io.snirf._snirf import (_extract_sampling_rate, _get_dataunit_scaling,
                                 _get_lengthunit_scaling)
from mne.preprocessing.nirs import _validate_nirs_info
from mne.transforms import _frame_to_str, apply_trans

__all__ = ["read_snirf_fast"]

_FIELDS = (b"sourceIndex", b"detectorIndex", b"wavelengthIndex", b"dataType")
#: The field of a measurement list that must exist but is not read.
_UNUSED_FIELD = b"dataTypeIndex"
#: Metadata tags MNE's reader turns into subject information (read by MNE's reader).
_SUBJECT_TAGS = {"lastName", "middleName", "firstName", "sex", "DateOfBirth"}
_DATE_FORMATS = ("%Y-%m-%d%H:%M:%SZ", "%Y-%m-%d%H:%M:%S", "%Y-%m-%d%H:%M:%S.%f",
                 "%Y-%m-%d%H:%M:%S.%f%z")
_LIST = re.compile(r"^measurementList(\d+)$")


class _NotPlain(Exception):
    """The file is not a plain continuous-wave SNIRF file (MNE's reader takes it)."""


def _text(group: h5py.Group, name: str) -> str | None:
    """A scalar (or one-element) byte string of ``group`` as MNE reads it."""
    if name not in group:
        return None
    value = np.atleast_1d(np.asarray(group[name][()]))
    if value.size < 1 or not isinstance(value[0], bytes):
        raise _NotPlain
    return value[0].decode("utf-8")


def _channels(data: h5py.Group, n_ch: int) -> np.ndarray:
    """The index fields of each measurement list, shape (n_ch, 4), in MNE's order.

    ``sourceIndex``, ``detectorIndex``, ``wavelengthIndex`` and ``dataType``, each read
    as one float64 through a scalar memory space (HDF5 refuses a dataset of more than
    one value, and converts integers exactly; anything else is not the plain case);
    ``dataTypeIndex`` must exist (:func:`~interbrain.io.check_snirf` asks for it) but
    is not used for continuous-wave amplitudes, so it is not read.
    """
    numbers = sorted(int(m[1]) for m in map(_LIST.match, data) if m)
    if numbers != list(range(1, n_ch + 1)):
        raise _NotPlain
    values = np.empty((n_ch, len(_FIELDS)))
    one = np.empty((), np.float64)
    scalar = h5py.h5s.create(h5py.h5s.SCALAR)
    data_id = data.id
    for k in numbers:
        group = f"measurementList{k}/".encode()   # fields opened by path: no group opens
        row = values[k - 1]
        for j, field in enumerate(_FIELDS):
            h5py.h5d.open(data_id, group + field).read(scalar, h5py.h5s.ALL, one,
                                                       h5py.h5t.NATIVE_DOUBLE)
            row[j] = one
        if not data_id.links.exists(group + _UNUSED_FIELD):
            raise _NotPlain
    if not np.all(np.abs(values) < 2.0 ** 62):   # NaN, infinite or absurd: MNE's reader
        raise _NotPlain
    return values.astype(int)   # as int() of each value: towards zero


def _meas_date(tags: h5py.Group) -> datetime.datetime:
    """The measurement date as MNE's reader parses it (2000-01-01 when it cannot)."""
    date, time = _text(tags, "MeasurementDate"), _text(tags, "MeasurementTime")
    when = datetime.datetime(2000, 1, 1, 0, 0, 0)
    if date is not None and time is not None:
        for code in _DATE_FORMATS:
            try:
                when = datetime.datetime.strptime(date + time, code)
            except ValueError:
                continue
            break
    return when.replace(tzinfo=datetime.timezone.utc)


def _dig(probe: h5py.Group, info: mne.Info, coord_frame: int, length_scaling: float):
    """Digitisation points as MNE's reader makes them."""
    if "landmarkPos3D" not in probe:
        dig = get_mni_fiducials("fsaverage", verbose=False)
        for fid in dig:
            fid["r"] = apply_trans(np.eye(4), fid["r"])
            fid["coord_frame"] = FIFF.FIFFV_COORD_HEAD
        for ii, ch in enumerate(info["chs"], 1):
            dig.append(dict(kind=FIFF.FIFFV_POINT_EEG, r=ch["loc"][0:3], ident=ii,
                            coord_frame=FIFF.FIFFV_COORD_HEAD))
        return _format_dig_points(dig)
    diglocs = np.array(probe["landmarkPos3D"][()])
    diglocs /= length_scaling   # as MNE's reader does
    names = np.array(probe["landmarkLabels"][()]) if "landmarkLabels" in probe else \
        np.array(None)
    names = [] if names.ndim == 0 or names.size == 0 else np.atleast_1d(names)
    fiducials = {"lpa": None, "nasion": None, "rpa": None}
    aliases = {b"lpa": "lpa", b"al": "lpa", b"nasion": "nasion", b"nz": "nasion",
               b"rpa": "rpa", b"ar": "rpa"}
    extra = {}
    for idx, name in enumerate(names):
        if not isinstance(name, bytes):
            raise _NotPlain
        key = aliases.get(name.lower())
        if key is None:
            extra[f"EEG{len(extra) + 1:03d}"] = diglocs[idx, :3]
        else:
            fiducials[key] = diglocs[idx, :3]
    add_missing = (coord_frame == FIFF.FIFFV_COORD_HEAD
                   and all(v is None for v in fiducials.values()))
    return _make_dig_points(nasion=fiducials["nasion"], lpa=fiducials["lpa"],
                            rpa=fiducials["rpa"], hpi=None, dig_ch_pos=extra,
                            coord_frame=_frame_to_str[int(coord_frame)],
                            add_missing_fiducials=add_missing)


def _annotations(nirs: h5py.Group) -> mne.Annotations:
    annot = mne.Annotations([], [], [])
    for key in nirs:
        if "stim" not in key:
            continue
        data = np.atleast_2d(np.array(nirs[key]["data"][()]))
        if data.shape[1] < 2:
            continue
        name = np.atleast_1d(np.array(nirs[key]["name"][()]))[0]
        annot.append(data[:, 0], data[:, 1], name.decode("UTF-8"))
    return annot


def _raw(fh: h5py.File, path: Path) -> mne.io.RawArray:
    """The whole reading, raising :class:`_NotPlain` where the file leaves the plain case."""
    if "formatVersion" not in fh or "nirs" not in fh:
        raise _NotPlain
    nirs = fh["nirs"]
    if not isinstance(nirs, h5py.Group) or "data2" in nirs:
        raise _NotPlain
    for group in ("metaDataTags", "data1", "probe"):
        if not isinstance(nirs.get(group), h5py.Group):
            raise _NotPlain
    tags, data, probe = nirs["metaDataTags"], nirs["data1"], nirs["probe"]
    if (not {"SubjectID", "LengthUnit", "TimeUnit"} <= set(tags) or set(tags) & _SUBJECT_TAGS
            or _text(tags, "ManufacturerName") == "Gowerlabs"):
        raise _NotPlain
    if not {"dataTimeSeries", "time"} <= set(data) or "wavelengths" not in probe:
        raise _NotPlain
    if not {"sourcePos3D", "detectorPos3D"} <= set(probe):
        raise _NotPlain
    series = data["dataTimeSeries"]
    if series.ndim != 2 or series.shape[0] == 0 or data["time"].size not in (2,
                                                                             series.shape[0]):
        raise _NotPlain
    n_times, n_ch = series.shape
    table = _channels(data, n_ch)
    src, det, wl_idx, dtype = table[:, 0], table[:, 1], table[:, 2], table[:, 3]
    wavelengths = [int(w) for w in np.array(probe["wavelengths"][()]).ravel()]
    src_pos = np.array(probe["sourcePos3D"][()], dtype=float)
    det_pos = np.array(probe["detectorPos3D"][()], dtype=float)
    if (not np.all(dtype == 1) or len(wavelengths) < 2 or src_pos.ndim != 2
            or det_pos.ndim != 2 or src_pos.shape[1] < 3 or det_pos.shape[1] < 3
            or src.min() < 1 or src.max() > len(src_pos) or det.min() < 1
            or det.max() > len(det_pos) or wl_idx.min() < 1 or wl_idx.max() > len(wavelengths)):
        raise _NotPlain
    unit = data["measurementList1"].get("dataUnit")
    scale = _get_dataunit_scaling("" if unit is None else
                                  np.array(unit[()]).item().decode("utf-8"))
    with mne.utils.use_log_level("ERROR"):
        sfreq = _extract_sampling_rate(fh, None)
    names = [f"S{s}_D{d} {wavelengths[w - 1]}" for s, d, w in zip(src, det, wl_idx)]
    info = mne.create_info(names, sfreq, ch_types="fnirs_cw_amplitude")
    subject = _text(tags, "SubjectID")
    length_scaling = _get_lengthunit_scaling(_text(tags, "LengthUnit"))
    src_pos *= length_scaling
    det_pos *= length_scaling
    coord_frame = (int(tags["MNE_coordFrame"][0]) if "MNE_coordFrame" in tags
                   else FIFF.FIFFV_COORD_UNKNOWN)
    for ch, s, d, w in zip(info["chs"], src, det, wl_idx):
        ch["cal"] = scale
        loc = ch["loc"]
        loc[3:6] = src_pos[s - 1, :]
        loc[6:9] = det_pos[d - 1, :]
        loc[0:3] = (loc[3:6] + loc[6:9]) / 2
        ch["coord_frame"] = coord_frame
        loc[9] = wavelengths[w - 1]
    with info._unlock():
        info["subject_info"] = {"his_id": subject, "first_name": subject.split("_")[0]}
        info["dig"] = _dig(probe, info, coord_frame, length_scaling)
        info["meas_date"] = _meas_date(tags)
    samples = np.empty((n_ch, n_times))
    cals = np.array([ch["cal"] for ch in info["chs"]])
    np.multiply(series[()].T, cals.reshape(-1, 1), out=samples, casting="unsafe")
    raw = mne.io.RawArray(samples, info, copy="auto", verbose="ERROR")
    raw.set_annotations(_annotations(nirs), emit_warning=False)
    _validate_nirs_info(raw.info)
    return raw


def read_snirf_fast(path: str | os.PathLike) -> mne.io.RawArray | None:
    """Read a plain continuous-wave SNIRF file as :func:`mne.io.read_raw_snirf` would.

    Parameters
    ----------
    path : path-like
        A ``.snirf`` file.

    Returns
    -------
    mne.io.RawArray or None
        Preloaded, shape (n_channels, n_times), equal to MNE's reader's ``Raw``
        (``preload=True``) in samples, ``info`` and annotations; None when the file is
        not the plain case (any data type but continuous-wave amplitude, 2-D positions
        only, optional subject tags, several data blocks, a field missing or out of
        range, a damaged file), to be read by MNE's reader.
    """
    try:
        with h5py.File(path, "r") as fh:
            return _raw(fh, Path(path))
    except Exception:   # anything unusual: MNE's reader and check_snirf name it
        return None
