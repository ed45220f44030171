"""Read one person's fNIRS recording into an MNE ``Raw`` (preloaded, or lazily)."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import h5py
import mne
import numpy as np
import scipy.io

from ..errors import RecordingError
from .bids import is_bids_nirs_name, read_bids_recording
from .homer import read_homer
from .snirf_fast import read_snirf_fast
from .snirf_timing import set_first_sample_timing, snirf_first_sample
from .table import read_table
from .table_spec import TableSpec

SUPPORTED_FORMATS: dict[str, str] = {
    "snirf": "SNIRF file, .snirf (mne.io.read_raw_snirf)",
    "nirx": "NIRx raw folder, or its .hdr file (mne.io.read_raw_nirx)",
    "homer": "Homer .nirs file (interbrain.io.read_homer)",
    "table": "preprocessed HbO/HbR table, .csv/.tsv/.mat (interbrain.io.read_table)",
    "bids": "BIDS fNIRS .snirf file with sidecars (mne_bids.read_raw_bids): a "
            "sub-*/[ses-*/]nirs/sub-*_nirs.snirf file inside a BIDS dataset",
}
EXTENSIONS: dict[str, str] = {".snirf": "snirf", ".hdr": "nirx", ".nirs": "homer",
                              ".csv": "table", ".tsv": "table", ".mat": "table"}

_RAW_TYPES = {"fnirs_cw_amplitude"}
_HB_TYPES = {"hbo", "hbr"}
_NIRS_TYPES = {"fnirs_cw_amplitude", "fnirs_od", "hbo", "hbr", "fnirs_fd_ac_amplitude",
               "fnirs_fd_phase", "fnirs_td_gated_amplitude", "fnirs_td_moments_intensity",
               "fnirs_td_moments_mean", "fnirs_td_moments_variance"}
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MEASUREMENT_FIELDS = ("sourceIndex", "detectorIndex", "wavelengthIndex", "dataType",
                       "dataTypeIndex")
_META_FIELDS = ("SubjectID", "LengthUnit", "TimeUnit")


def _indexed(group: h5py.Group, prefix: str) -> list[str]:
    """Names ``<prefix><i>`` (i >= 1) in ``group``, by index."""
    pat = re.compile(rf"^{prefix}(\d+)$")
    return sorted((k for k in group if pat.match(k)), key=lambda k: int(pat.match(k)[1]))


def _scalar_int(ds) -> int | None:
    try:
        arr = np.asarray(ds[()]).ravel()
        return int(arr[0]) if arr.size == 1 else None
    except (TypeError, ValueError):
        return None


def check_snirf(path: str | os.PathLike) -> None:
    """Check that a file is a SNIRF file MNE can read, naming what is wrong.

    Checks, with h5py, that the file is a complete HDF5 file and holds the fields
    the SNIRF specification requires and MNE's reader uses: ``/formatVersion``;
    ``/nirs`` with ``metaDataTags`` (``SubjectID``, ``LengthUnit``, ``TimeUnit``),
    ``data1`` with ``dataTimeSeries`` (n_times x n_channels), ``time`` (n_times
    values, or start and step) and one ``measurementList<k>`` per channel with
    ``sourceIndex``, ``detectorIndex``, ``wavelengthIndex``, ``dataType`` and
    ``dataTypeIndex``; ``probe`` with ``wavelengths``, ``sourcePos2D`` or
    ``sourcePos3D`` and ``detectorPos2D`` or ``detectorPos3D``; and that the
    indices point at existing sources, detectors and wavelengths.

    Parameters
    ----------
    path : path-like
        The ``.snirf`` file.

    Raises
    ------
    RecordingError
        Naming the file and the missing or inconsistent field(s).
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise RecordingError(f"{path}: empty file (0 bytes), not a SNIRF file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head != _HDF5_SIGNATURE and not h5py.is_hdf5(path):
        raise RecordingError(f"{path}: not a SNIRF file: SNIRF files are HDF5 files, and this "
                             f"one does not start with the HDF5 signature (first bytes {head!r})")
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        msg = str(exc)
        m = re.search(r"eof = (\d+).*stored_eof = (\d+)", msg)
        if m:
            raise RecordingError(f"{path}: truncated SNIRF (HDF5) file: {int(m[1])} of "
                                 f"{int(m[2])} bytes present (incomplete copy or download?)") \
                from None
        raise RecordingError(f"{path}: damaged SNIRF (HDF5) file: {msg}") from None
    with fh:
        try:
            _check_snirf_fields(path, fh)
        except RecordingError:
            raise
        except Exception as exc:  # h5py errors on damaged objects inside the file
            raise RecordingError(f"{path}: damaged SNIRF (HDF5) file: "
                                 f"{type(exc).__name__}: {exc}") from None


def _check_snirf_fields(path: Path, fh: h5py.File) -> None:
    missing: list[str] = []
    if "formatVersion" not in fh:
        missing.append("/formatVersion")
    if "nirs" not in fh:
        others = _indexed(fh, "nirs")
        if others:
            raise RecordingError(
                f"{path}: the data are in /{others[0]}; MNE's SNIRF reader reads only a group "
                "named /nirs (a file of one measurement may use /nirs); rename the group")
        raise RecordingError(f"{path}: not a valid SNIRF file: missing required group /nirs "
                             f"(top-level: {', '.join(fh) or 'nothing'})")
    nirs = fh["nirs"]
    if not isinstance(nirs, h5py.Group):
        raise RecordingError(f"{path}: /nirs must be an HDF5 group")
    if "metaDataTags" not in nirs:
        missing.append("/nirs/metaDataTags")
    else:
        missing += [f"/nirs/metaDataTags/{k}" for k in _META_FIELDS
                    if k not in nirs["metaDataTags"]]
    n_ch = n_times = None
    if "data1" not in nirs:
        missing.append("/nirs/data1")
        mlists = []
    else:
        data = nirs["data1"]
        for k in ("dataTimeSeries", "time"):
            if k not in data:
                missing.append(f"/nirs/data1/{k}")
        mlists = _indexed(data, "measurementList")
        if not mlists:
            if "measurementLists" in data:
                raise RecordingError(f"{path}: /nirs/data1/measurementLists (the SNIRF 1.1 "
                                     "array form) is not read by MNE; store one "
                                     "/nirs/data1/measurementList<k> group per channel")
            missing.append("/nirs/data1/measurementList1")
        else:
            present = {int(ml.removeprefix("measurementList")) for ml in mlists}
            missing += [f"/nirs/data1/measurementList{i}" for i in range(1, max(present) + 1)
                        if i not in present]
        for ml in mlists:
            missing += [f"/nirs/data1/{ml}/{k}" for k in _MEASUREMENT_FIELDS
                        if k not in data[ml]]
        if "dataTimeSeries" in data:
            shape = data["dataTimeSeries"].shape
            if len(shape) == 1:
                n_times, n_ch = shape[0], 1
            elif len(shape) == 2:
                n_times, n_ch = shape
            else:
                raise RecordingError(f"{path}: /nirs/data1/dataTimeSeries must be 2-D (time x "
                                     f"channel), got shape {shape}")
    if "probe" not in nirs:
        missing.append("/nirs/probe")
        probe = None
    else:
        probe = nirs["probe"]
        if "wavelengths" not in probe:
            missing.append("/nirs/probe/wavelengths")
        for who in ("source", "detector"):
            if f"{who}Pos2D" not in probe and f"{who}Pos3D" not in probe:
                missing.append(f"/nirs/probe/{who}Pos3D (or {who}Pos2D)")
    if missing:
        raise RecordingError(f"{path}: not a valid SNIRF file: missing required field"
                             f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}")

    data = nirs["data1"]
    if n_times == 0:
        raise RecordingError(f"{path}: /nirs/data1/dataTimeSeries holds no samples")
    n_t = data["time"].size
    if n_t not in (2, n_times):
        raise RecordingError(f"{path}: /nirs/data1/time has {n_t} values but dataTimeSeries "
                             f"has {n_times} samples (time must have one value per sample, or "
                             "2: start and step)")
    if len(mlists) != n_ch:
        raise RecordingError(f"{path}: /nirs/data1/dataTimeSeries has {n_ch} channels (columns) "
                             f"but there are {len(mlists)} measurementList groups")
    n_wl = probe["wavelengths"].size
    n_src = (probe["sourcePos3D"] if "sourcePos3D" in probe else probe["sourcePos2D"]).shape[0]
    n_det = (probe["detectorPos3D"] if "detectorPos3D" in probe
             else probe["detectorPos2D"]).shape[0]
    limits = {"sourceIndex": n_src, "detectorIndex": n_det}
    dtype1 = _scalar_int(data[mlists[0]]["dataType"])
    if dtype1 == 1:  # continuous-wave amplitude: wavelengthIndex is used
        limits["wavelengthIndex"] = n_wl
    if dtype1 == 99999:  # processed data: the label says what (HbO, HbR, dOD)
        lacking = [f"/nirs/data1/{ml}/dataTypeLabel" for ml in mlists
                   if "dataTypeLabel" not in data[ml]]
        if lacking:
            raise RecordingError(f"{path}: not a valid SNIRF file: processed data (dataType "
                                 f"99999) without dataTypeLabel: {', '.join(lacking[:3])}"
                                 + (" ..." if len(lacking) > 3 else ""))
    for ml in mlists:
        for field, n in limits.items():
            value = _scalar_int(data[ml][field])
            if value is None or not 1 <= value <= n:
                raise RecordingError(f"{path}: /nirs/data1/{ml}/{field} is "
                                     f"{np.asarray(data[ml][field][()]).tolist()}, outside 1..{n}")


def _check_nirx(path: Path) -> None:
    """Name the files a NIRx raw folder lacks (those MNE's reader requires)."""
    folder = path.parent if path.is_file() else path
    aurora = any(folder.glob("*config.json"))
    needed = {"hdr": "header", "wl1": "wavelength-1 intensities", "wl2": "wavelength-2 "
              "intensities"}
    if aurora:
        needed |= {"config.json": "configuration", "description.json": "description"}
    else:
        needed |= {"inf": "subject information", "set": "gain settings", "tpl": "topology",
                   "config.txt": "configuration"}
    missing = [f"*.{ext} ({what})" for ext, what in needed.items()
               if not any(folder.glob(f"*{ext}"))]
    if not (any(folder.glob("*probeInfo.mat")) or any(folder.glob("*probeInfo.json"))):
        missing.append("*_probeInfo.mat or *_probeInfo.json (probe layout)")
    if missing:
        raise RecordingError(f"{folder}: incomplete NIRx raw folder: missing "
                             + ", ".join(missing))


def in_bids_dataset(path: Path) -> bool:
    """Whether ``path`` is a recording of a BIDS dataset (read with its sidecars).

    Parameters
    ----------
    path : Path
        A recording file.

    Returns
    -------
    bool
        True for a ``sub-*/[ses-*/]nirs/sub-*_nirs.snirf`` file under a folder with a
        ``dataset_description.json`` (a BIDS dataset root).
    """
    if not is_bids_nirs_name(path):
        return False
    folder = path.parent.parent  # sub-<label> or ses-<n>
    for up in (folder.parent, folder.parent.parent):
        if (up / "dataset_description.json").is_file():
            return True
    return False


def recording_sidecars(path: str | os.PathLike) -> list[Path]:
    """Files besides ``path`` that reading it depends on: for a recording inside a BIDS
    dataset, the other files of its ``nirs`` folder (``*_channels.tsv``,
    ``*_events.tsv``, ``*_nirs.json``, ...) and the ``*_scans.tsv`` above it (its
    ``acq_time`` is the recording's start time); none otherwise.

    The engine's cache keys include them, so editing a sidecar (e.g. marking a channel
    bad) recomputes that recording.
    """
    path = Path(path)
    if path.suffix.lower() != ".snirf" or not in_bids_dataset(path):
        return []
    beside = [f for f in path.parent.iterdir()
              if f.is_file() and f != path and f.suffix.lower() != ".snirf"]
    return sorted(beside + [f for f in path.parent.parent.glob("*_scans.tsv") if f.is_file()])


def _format_of(path: Path, format: str | None) -> str:
    if format is not None:
        if format not in SUPPORTED_FORMATS:
            raise RecordingError(f"{path}: unknown format '{format}'; formats: "
                                 + ", ".join(SUPPORTED_FORMATS))
        return format
    if path.is_dir():
        if (path / "dataset_description.json").exists() or (path / "dyads.tsv").exists():
            raise RecordingError(f"{path}: a BIDS dataset root, not a recording; use "
                                 "interbrain.io.bids_sessions() to list its recordings")
        if any(path.glob("*.hdr")) or any(path.glob("*.wl1")):
            return "nirx"
        raise RecordingError(f"{path}: a folder, but not a NIRx raw folder (no .hdr or .wl1 "
                             "file)")
    suffix = path.suffix.lower()
    if suffix == ".snirf" and in_bids_dataset(path):
        return "bids"
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    raise RecordingError(
        f"{path}: unknown recording format '{suffix or '(no extension)'}'; supported: "
        + "; ".join(SUPPORTED_FORMATS.values()))


def _mat_format(path: Path) -> str:
    """'homer' or 'table' for a .mat file, by its variables."""
    try:
        names = {name for name, _, _ in scipy.io.whosmat(path)}
    except Exception:
        return "table"  # let the table reader report the problem
    if {"d", "SD"} <= names:
        return "homer"
    return "table"


def _snirf_samples_finite(path: Path, rows: int = 65536) -> bool:
    """Whether every sample of ``/nirs/data1/dataTimeSeries`` is finite, read with h5py
    in blocks of ``rows`` samples (False also when a block cannot be read)."""
    try:
        with h5py.File(path, "r") as fh:
            data = fh["nirs/data1/dataTimeSeries"]
            for start in range(0, data.shape[0], rows):
                if not np.isfinite(data[start:start + rows]).all():
                    return False
    except Exception:  # a damaged block: let MNE's reader name the problem
        return False
    return True


def _check_values(raw: mne.io.BaseRaw, path: Path, *, fmt: str = "snirf",
                  known_finite: bool = False) -> None:
    """Check the channel types and, unless ``known_finite``, that every sample is
    finite (reading the samples of a recording that is not preloaded)."""
    types = set(raw.get_channel_types())
    nirs = types & _NIRS_TYPES
    if not nirs:
        raise RecordingError(f"{path}: holds no fNIRS channels (channel types: "
                             f"{', '.join(sorted(types))})")
    if not (nirs <= _RAW_TYPES or nirs <= _HB_TYPES):
        raise RecordingError(f"{path}: holds fNIRS channels of type(s) {', '.join(sorted(nirs))};"
                             " interbrain reads raw intensities (fnirs_cw_amplitude) or "
                             "haemoglobin (hbo, hbr)")
    if known_finite:
        return
    try:
        data = raw._data if raw.preload else raw.get_data()   # read only
    except Exception as exc:  # samples of a lazily read file that cannot be read
        raise RecordingError(f"{path}: cannot be read as {SUPPORTED_FORMATS[fmt]}: "
                             f"{type(exc).__name__}: {exc}") from None
    finite = np.isfinite(data)
    if not finite.all():
        bad = np.flatnonzero(~finite.all(axis=1))
        first = int(np.flatnonzero(~finite[bad[0]])[0])
        names = [raw.ch_names[i] for i in bad[:5]]
        raise RecordingError(f"{path}: {int((~finite).sum())} NaN or infinite samples in "
                             f"channel(s) {', '.join(names)}" + (" ..." if len(bad) > 5 else "")
                             + f" (first at {raw.times[first]:.3f} s in {raw.ch_names[bad[0]]})")


def read_recording(path: str | os.PathLike, *, format: str | None = None,
                   preload: bool = True, table: TableSpec | None = None) -> mne.io.BaseRaw:
    """Read the fNIRS recording of one person.

    Parameters
    ----------
    path : path-like
        A ``.snirf`` file, a NIRx raw folder (or its ``.hdr`` file), a Homer
        ``.nirs`` file, or a table of preprocessed haemoglobin signals (``.csv``,
        ``.tsv``, ``.mat``; a ``.mat`` file with Homer's ``d`` and ``SD`` variables
        is read as Homer). See :data:`SUPPORTED_FORMATS`.
    format : {"snirf", "nirx", "homer", "table", "bids"} or None
        Overrides the format inferred from the file. ``"bids"`` reads a BIDS fNIRS
        ``.snirf`` file through :func:`mne_bids.read_raw_bids`, which also applies
        its sidecars (bad channels, events); see :mod:`interbrain.io.bids`. It is
        inferred for ``sub-*/[ses-*/]nirs/sub-*_nirs.snirf`` files inside a BIDS
        dataset (a ``dataset_description.json`` above them), so BIDS recordings
        named in ``study.toml`` get their sidecars; ``format="snirf"`` reads such a
        file without them.
    preload : bool
        True (default): the samples are read into memory. False: SNIRF files and
        NIRx folders are opened as MNE reads them with ``preload=False`` (the header;
        the samples are read once, in blocks, only to check that they are finite),
        as :mod:`interbrain.validation` does; the other formats are always preloaded.

    Returns
    -------
    raw : mne.io.BaseRaw
        Preloaded (unless ``preload=False``, see above), shape (n_channels, n_times),
        sampling rate in Hz in
        ``raw.info["sfreq"]``. Raw continuous-wave intensities (channel type
        ``fnirs_cw_amplitude``, two or more wavelengths per source-detector pair,
        adjacent) from SNIRF, NIRx, Homer and BIDS; haemoglobin concentration
        changes in mol/L (channel types ``hbo``, ``hbr``) from tables and SNIRF
        files of processed HbO/HbR.

    Raises
    ------
    RecordingError
        If the file is missing, of an unknown format, empty, truncated or
        damaged, lacks a required field (named) or file (NIRx), holds no
        raw-intensity or haemoglobin fNIRS channels, or holds NaN or infinite
        samples. The message names the file and the problem.
    """
    path = Path(path)
    if not path.exists():
        raise RecordingError(f"{path}: recording file does not exist")
    if table is not None:   # a lab's own table layout (study.toml's table = {...})
        return read_table(path, spec=table)
    fmt = _format_of(path, format)
    if fmt in ("snirf", "bids", "homer", "table") and path.is_dir():
        raise RecordingError(f"{path}: a folder, but format '{fmt}' needs a file")
    if fmt == "table" and path.suffix.lower() == ".mat" and format is None:
        fmt = _mat_format(path)
    fast = read_snirf_fast(path) if fmt == "snirf" and preload else None
    if fmt in ("snirf", "bids") and fast is None:
        check_snirf(path)
    elif fmt == "nirx":
        _check_nirx(path)
    try:
        if fmt == "snirf":
            raw = fast
            if raw is None:   # not a plain continuous-wave file: MNE's reader
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*measurement date")
                    raw = mne.io.read_raw_snirf(path, preload=preload, verbose="ERROR")
            start, first_time = snirf_first_sample(path)
            set_first_sample_timing(raw, start, event_shift=-first_time)
        elif fmt == "nirx":
            raw = mne.io.read_raw_nirx(path, preload=preload, verbose="ERROR")
        elif fmt == "homer":
            raw = read_homer(path)
        elif fmt == "table":
            raw = read_table(path)
        else:
            raw = read_bids_recording(path)
    except RecordingError:
        raise
    except Exception as exc:  # MNE/h5py/scipy raise many types for corrupt files
        raise RecordingError(f"{path}: cannot be read as {SUPPORTED_FORMATS[fmt]}: "
                             f"{type(exc).__name__}: {exc}") from None
    known_finite = not preload and fmt == "snirf" and _snirf_samples_finite(path)
    _check_values(raw, path, fmt=fmt, known_finite=known_finite)
    return raw
