"""interbrain.io: readers for SNIRF, NIRx, Homer .nirs, tables and BIDS, and their errors."""

from __future__ import annotations

import re
import shutil
import warnings
from datetime import datetime, timezone
from pathlib import Path

import h5py
import mne
import numpy as np
import pytest
import scipy.io
from mne.preprocessing.nirs import (optical_density, scalp_coupling_index,
                                    source_detector_distances)

from interbrain.errors import RecordingError, StudyError
from interbrain.io import bids_sessions, check_snirf, read_homer, read_recording, read_table

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "examples" / "real-dyad" / "data"
NIRS_NAME = "NIRS-2019-09-28_002"
FIXTURES = Path(__file__).resolve().parent / "data" / "io"


def _raises(match: str):
    return pytest.raises(RecordingError, match=match)


@pytest.fixture(scope="session")
def sim_study(tiny_study) -> Path:
    """conftest's tiny study: 2 dyads x 2 sessions, 1 min, 4 channels; one therapist for
    both dyads. Read only."""
    return tiny_study


@pytest.fixture
def snirf(sim_study, tmp_path) -> Path:
    """A writable copy of one simulated SNIRF recording."""
    return Path(shutil.copy(sim_study / "recordings" / "D01_ses-01_patient.snirf",
                            tmp_path / "rec.snirf"))


# --------------------------------------------------------------------------- dispatch

def test_reads_snirf_and_nirx_preloaded(sim_study):
    raw = read_recording(sim_study / "recordings" / "D01_ses-01_therapist.snirf")
    assert raw.preload and set(raw.get_channel_types()) == {"fnirs_cw_amplitude"}
    nirx = read_recording(REAL / "parent")
    assert nirx.preload and nirx.info["sfreq"] == 7.8125
    via_hdr = read_recording(REAL / "parent" / f"{NIRS_NAME}.hdr")
    np.testing.assert_array_equal(via_hdr.get_data(), nirx.get_data())


def test_unknown_format(tmp_path):
    path = tmp_path / "rec.xyz"
    path.write_text("1,2,3\n")
    with _raises(rf"{re.escape(str(path))}: unknown recording format '\.xyz'; supported: "
                 r"SNIRF"):
        read_recording(path)
    with _raises(rf"{re.escape(str(path))}: unknown format 'edf'; formats: snirf, nirx, homer"):
        read_recording(path, format="edf")
    with _raises("recording file does not exist"):
        read_recording(tmp_path / "missing.snirf")
    (tmp_path / "folder").mkdir()
    with _raises("a folder, but not a NIRx raw folder"):
        read_recording(tmp_path / "folder")


def test_format_overrides_extension(sim_study, tmp_path):
    src = sim_study / "recordings" / "D01_ses-01_patient.snirf"
    renamed = Path(shutil.copy(src, tmp_path / "rec.dat"))
    raw = read_recording(renamed, format="snirf")
    np.testing.assert_array_equal(raw.get_data(), read_recording(src).get_data())
    homer_as_mat = Path(shutil.copy(FIXTURES / "homer_small.nirs", tmp_path / "homer.mat"))
    assert read_recording(homer_as_mat).ch_names[0] == "S1_D1 760"  # .mat with d, SD: Homer


# --------------------------------------------------------------------------- SNIRF errors

def test_truncated_snirf(snirf):
    data = snirf.read_bytes()
    snirf.write_bytes(data[: len(data) // 2])
    with _raises(rf"{re.escape(str(snirf))}: truncated SNIRF \(HDF5\) file: "
                 rf"{len(data) // 2} of {len(data)} bytes present"):
        read_recording(snirf)


def test_non_hdf5_snirf(tmp_path):
    path = tmp_path / "notes.snirf"
    path.write_text("this is not HDF5")
    with _raises(rf"{re.escape(str(path))}: not a SNIRF file: SNIRF files are HDF5 files"):
        read_recording(path)
    empty = tmp_path / "empty.snirf"
    empty.touch()
    with _raises(rf"{re.escape(str(empty))}: empty file \(0 bytes\)"):
        read_recording(empty)


@pytest.mark.parametrize("field, reported", [
    ("nirs/data1/measurementList1", "/nirs/data1/measurementList1"),
    ("nirs/data1/measurementList3/wavelengthIndex", "/nirs/data1/measurementList3/wavelengthIndex"),
    ("nirs/data1/measurementList2/dataTypeIndex", "/nirs/data1/measurementList2/dataTypeIndex"),
    ("nirs/probe/wavelengths", "/nirs/probe/wavelengths"),
    ("nirs/probe/detectorPos3D", r"/nirs/probe/detectorPos3D \(or detectorPos2D\)"),
    ("nirs/data1/time", "/nirs/data1/time"),
    ("nirs/data1/dataTimeSeries", "/nirs/data1/dataTimeSeries"),
    ("nirs/metaDataTags", "/nirs/metaDataTags"),
    ("nirs/metaDataTags/TimeUnit", "/nirs/metaDataTags/TimeUnit"),
    ("formatVersion", "/formatVersion"),
])
def test_snirf_missing_required_field(snirf, field, reported):
    with h5py.File(snirf, "r+") as fh:
        del fh[field]
    with _raises(rf"{re.escape(str(snirf))}: not a valid SNIRF file: missing required field "
                 rf"{reported}$"):
        read_recording(snirf)


def test_snirf_inconsistent_fields(snirf):
    with h5py.File(snirf, "r+") as fh:
        del fh["nirs/data1/measurementList2/sourceIndex"]
        fh["nirs/data1/measurementList2/sourceIndex"] = 99
    with _raises(r"/nirs/data1/measurementList2/sourceIndex is 99, outside 1\.\.\d+"):
        check_snirf(snirf)
    with h5py.File(snirf, "r+") as fh:
        fh.move("nirs", "nirs1")
    with _raises(r"the data are in /nirs1; MNE's SNIRF reader reads only a group named /nirs"):
        read_recording(snirf)


def test_snirf_nan_and_inf_samples(snirf):
    with h5py.File(snirf, "r+") as fh:
        ts = fh["nirs/data1/dataTimeSeries"]
        ts[20, 1] = np.nan
        ts[30, 1] = np.inf
        ts[40, 3] = np.nan
    raw = mne.io.read_raw_snirf(snirf, verbose="ERROR")
    with _raises(rf"{re.escape(str(snirf))}: 3 NaN or infinite samples in channel\(s\) "
                 rf"{raw.ch_names[1]}, {raw.ch_names[3]} \(first at 2\.000 s in "
                 rf"{raw.ch_names[1]}\)"):
        read_recording(snirf)


def _set_tag(fh: h5py.File, name: str, value: str) -> None:
    tags = fh["nirs/metaDataTags"]
    if name in tags:
        del tags[name]
    tags[name] = value.encode()


def test_snirf_start_time_and_events_count_from_the_time_origin(snirf):
    """SNIRF time and stimulus onsets count from MeasurementDate/Time, not the first sample."""
    with h5py.File(snirf, "r+") as fh:
        time = fh["nirs/data1/time"][:]
        del fh["nirs/data1/time"]
        fh["nirs/data1/time"] = time + 12.0          # first sample 12 s after the origin
        stim = fh.create_group("nirs/stim1")
        stim["name"] = b"sync"
        stim["data"] = np.array([[17.0, 1.0, 1.0], [40.0, 1.0, 1.0]])
        _set_tag(fh, "MeasurementTime", "10:00:00.5+01:00")
    raw = read_recording(snirf)
    assert raw.info["meas_date"] == datetime(2026, 1, 5, 9, 0, 12, 500000, tzinfo=timezone.utc)
    np.testing.assert_allclose(raw.annotations.onset, [5.0, 28.0])
    assert list(raw.annotations.description) == ["sync", "sync"]
    # the shorthand time = [start, step] form, in milliseconds
    with h5py.File(snirf, "r+") as fh:
        del fh["nirs/data1/time"]
        fh["nirs/data1/time"] = np.array([2000.0, 100.0])
        _set_tag(fh, "TimeUnit", "ms")
        _set_tag(fh, "MeasurementTime", "09:00:00Z")
    raw = read_recording(snirf)
    assert raw.info["meas_date"] == datetime(2026, 1, 5, 9, 0, 2, tzinfo=timezone.utc)
    np.testing.assert_allclose(raw.annotations.onset, [15.0, 38.0])


@pytest.mark.parametrize("field, value", [
    ("MeasurementTime", "unknown"), ("MeasurementDate", "unknown"),
    ("MeasurementTime", "nine o'clock"), ("MeasurementDate", None)])
def test_snirf_without_a_valid_start_time_has_none(snirf, field, value):
    """Not MNE's stand-in date (2000-01-01), which would 'align' any two such files."""
    with h5py.File(snirf, "r+") as fh:
        if value is None:
            del fh[f"nirs/metaDataTags/{field}"]
        else:
            _set_tag(fh, field, value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raw = read_recording(snirf)
    assert raw.info["meas_date"] is None


# --------------------------------------------------------------------------- NIRx errors

def test_nirx_folder_missing_wl2(tmp_path):
    folder = Path(shutil.copytree(REAL / "parent", tmp_path / "parent",
                                  ignore=shutil.ignore_patterns("*.nirs", "*.dat")))
    for f in folder.iterdir():
        f.chmod(0o644)
    (folder / f"{NIRS_NAME}.wl2").unlink()
    with _raises(rf"{re.escape(str(folder))}: incomplete NIRx raw folder: missing "
                 r"\*\.wl2 \(wavelength-2 intensities\)$"):
        read_recording(folder)


# --------------------------------------------------------------------------- Homer .nirs

@pytest.mark.parametrize("person", ["parent", "child"])
def test_homer_export_matches_nirx_reader(person):
    nirx = read_recording(REAL / person)
    homer = read_recording(REAL / person / f"{NIRS_NAME}.nirs")
    assert homer.preload
    assert homer.ch_names == nirx.ch_names
    assert homer.info["sfreq"] == nirx.info["sfreq"] == 7.8125
    assert set(homer.get_channel_types()) == {"fnirs_cw_amplitude"}
    np.testing.assert_array_equal(homer.get_data(), nirx.get_data())
    # .nirs positions are in cm in another frame; the distances agree (metres)
    np.testing.assert_allclose(source_detector_distances(homer.info),
                               source_detector_distances(nirx.info), atol=1e-6)
    assert [ch["loc"][9] for ch in homer.info["chs"][:2]] == [760.0, 850.0]
    sci = scalp_coupling_index(optical_density(homer, verbose="ERROR"), verbose="ERROR")
    sci_nirx = scalp_coupling_index(optical_density(nirx, verbose="ERROR"), verbose="ERROR")
    np.testing.assert_allclose(sci, sci_nirx, atol=1e-10)
    if person == "child":  # the known dead channels
        dead = [i for i, n in enumerate(homer.ch_names) if n.split()[0] in ("S7_D7", "S8_D7")]
        assert sci[dead].max() < 0.2


def test_homer_fixture_order_units_stimuli():
    raw = read_homer(FIXTURES / "homer_small.nirs")
    assert raw.ch_names == ["S1_D1 760", "S1_D1 850", "S2_D1 760", "S2_D1 850",
                            "S2_D2 760", "S2_D2 850"]
    assert raw.get_data()[2].mean() > 1.9  # the brighter S2_D1 760 column, moved
    loc = raw.info["chs"][2]["loc"]  # S2_D1: source (30, 0, 0) mm, detector (0, 30, 0) mm
    np.testing.assert_allclose(loc[3:6], [0.03, 0, 0])
    np.testing.assert_allclose(loc[6:9], [0, 0.03, 0])
    np.testing.assert_allclose(loc[0:3], [0.015, 0.015, 0])
    assert raw.info["sfreq"] == 10.0
    np.testing.assert_allclose(raw.annotations.onset, [5.0, 10.0, 15.0])
    assert list(raw.annotations.description) == ["rest", "talk", "rest"]
    scipy_od = optical_density(raw, verbose="ERROR")
    assert np.isfinite(scipy_od.get_data()).all()


def test_homer_empty_and_corrupt(tmp_path):
    empty = tmp_path / "empty.nirs"
    empty.touch()
    with _raises(rf"{re.escape(str(empty))}: empty file \(0 bytes\); expected a Homer \.nirs"):
        read_recording(empty)
    garbage = tmp_path / "garbage.nirs"
    garbage.write_bytes(b"\x00\x01not a MATLAB file" * 20)
    with _raises(rf"{re.escape(str(garbage))}: cannot be read as a Homer \.nirs file"):
        read_recording(garbage)
    half = tmp_path / "half.nirs"
    data = (REAL / "parent" / f"{NIRS_NAME}.nirs").read_bytes()
    half.write_bytes(data[: len(data) // 2])
    with _raises(rf"{re.escape(str(half))}: cannot be read as a Homer \.nirs file"):
        read_recording(half)


def test_homer_missing_and_inconsistent_fields(tmp_path):
    mat = scipy.io.loadmat(FIXTURES / "homer_small.nirs")
    path = tmp_path / "bad.nirs"
    scipy.io.savemat(path, {"d": mat["d"], "t": mat["t"]}, appendmat=False)
    with _raises(rf"{re.escape(str(path))}: not a Homer \.nirs file: missing variable\(s\) SD"):
        read_recording(path)
    scipy.io.savemat(path, {"d": mat["d"][:, :5], "t": mat["t"], "SD": mat["SD"]},
                     appendmat=False)
    with _raises("d has 5 columns but SD.MeasList has 6 rows"):
        read_recording(path)
    t = mat["t"].copy()
    t[100:] += 0.5
    scipy.io.savemat(path, {"d": mat["d"], "t": t, "SD": mat["SD"]}, appendmat=False)
    with _raises(r": t: non-uniform time steps: from sample 100 \(t=9\.9 s\) to sample 101"):
        read_recording(path)


# --------------------------------------------------------------------------- tables

def test_table_fixtures():
    tsv = read_recording(FIXTURES / "table_uM.tsv")
    assert tsv.preload and tsv.info["sfreq"] == 10.0 and tsv.n_times == 300
    assert tsv.ch_names == ["S1_D1 hbo", "S1_D1 hbr", "S2_D1 hbo", "S2_D1 hbr",
                            "S2_D2 hbo", "S2_D2 hbr"]
    assert tsv.get_channel_types() == ["hbo", "hbr"] * 3
    assert tsv.info["meas_date"] == datetime(2019, 9, 28, 16, 32, 27, 637000,
                                             tzinfo=timezone.utc)
    first = (FIXTURES / "table_uM.tsv").read_text().splitlines()[4].split("\t")
    np.testing.assert_allclose(tsv.get_data()[:, 0], np.array(first[1:], float) * 1e-6)
    csv = read_recording(FIXTURES / "table_sfreq.csv")  # hbr, hbo columns -> hbo, hbr
    assert csv.ch_names == ["S1_D1 hbo", "S1_D1 hbr", "S1_D2 hbo", "S1_D2 hbr"]
    assert csv.info["sfreq"] == 10.0 and np.abs(csv.get_data()).max() < 1e-5
    assert csv.info["meas_date"] is None
    mat = read_recording(FIXTURES / "table.mat")
    assert mat.ch_names == ["S1_D1 hbo", "S1_D1 hbr", "S2_D1 hbo", "S2_D1 hbr"]
    assert 1e-8 < np.abs(mat.get_data()).max() < 1e-5  # micromol/L -> mol/L
    # the unit argument overrides the file's
    in_nm = read_table(FIXTURES / "table_uM.tsv", unit="nM")
    np.testing.assert_allclose(in_nm.get_data(), tsv.get_data() * 1e-3)


def _write_table(path: Path, rows: list[str], header="time,S1_D1 hbo,S1_D1 hbr") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _rows(n=20, sfreq=10.0) -> list[str]:
    return [f"{i / sfreq:.2f},{1e-6 * np.sin(i):.3e},{-3e-7 * np.sin(i):.3e}" for i in range(n)]


def test_table_non_uniform_time(tmp_path):
    rows = _rows()
    del rows[7]  # a dropped sample: 0.6 s -> 0.8 s
    path = _write_table(tmp_path / "t.csv", rows)
    with _raises(rf"{re.escape(str(path))}: column 'time': non-uniform time steps: from line 8 "
                 r"\(t=0\.6 s\) to line 9 \(t=0\.8 s\) the step is 0\.2 s, but the median step "
                 r"is 0\.1 s"):
        read_recording(path)


def test_table_non_numeric_cell(tmp_path):
    rows = _rows()
    rows[4] = rows[4].split(",")[0] + ",oops," + rows[4].split(",")[2]
    path = _write_table(tmp_path / "t.csv", ["# unit=M", *rows][1:])
    with _raises(rf"{re.escape(str(path))}: line 6 \(data row 5\), column 'S1_D1 hbo': "
                 r"'oops' is not a finite number"):
        read_recording(path)
    rows = _rows()
    rows[2] = rows[2].rsplit(",", 1)[0] + ","
    path = _write_table(tmp_path / "t2.csv", rows)
    with _raises(r"line 4 \(data row 3\), column 'S1_D1 hbr': empty"):
        read_recording(path)


def test_table_layout_errors(tmp_path):
    path = _write_table(tmp_path / "a.csv", _rows(), header="time,S1_D1 hbr,S1_D2 hbr")
    assert set(read_recording(path).get_channel_types()) == {"hbr"}   # HbR only is read
    path = _write_table(tmp_path / "b.csv", _rows(), header="time,S1_D1 hbo,Fp1")
    with _raises(r"column 'Fp1' is neither 'time' nor a channel name like 'S1_D1 hbo'"):
        read_recording(path)
    path = _write_table(tmp_path / "c.csv", _rows(), header="time,S1_D1 hbo,S1_D2 hbr")
    with _raises(r"S1_D1 has an hbo column but no hbr column"):
        read_recording(path)
    path = _write_table(tmp_path / "d.csv", [r.split(",", 1)[1] for r in _rows()],
                        header="S1_D1 hbo,S1_D1 hbr")
    with _raises(r"no 'time' column \(seconds\) and no '# sfreq=<Hz>' comment"):
        read_recording(path)
    rows = [f"{i / 10:.1f},{np.sin(i):.3f},{-0.3 * np.sin(i):.3f}" for i in range(20)]
    path = _write_table(tmp_path / "e.csv", rows)  # micromol/L read as mol/L
    with _raises(r"implausible for a haemoglobin concentration change: is the unit right\?"):
        read_recording(path)
    assert read_table(path, unit="uM").get_data().max() < 1e-5
    hbo_only = read_recording(_write_table(tmp_path / "f.csv", [r.rsplit(",", 1)[0]
                                                                   for r in _rows()],
                                           header="time,S1_D1 hbo"))
    assert hbo_only.get_channel_types() == ["hbo"]


def test_table_mat_errors(tmp_path):
    path = tmp_path / "t.mat"
    scipy.io.savemat(path, {"data": np.zeros((4, 50)), "sfreq": 10.0,
                            "channels": np.array([["S1_D1 hbo"], ["S1_D1 hbr"], ["S2_D1 hbo"],
                                                  ["S2_D1 hbr"]], dtype=object)})
    with _raises(r"data has 50 columns but channels has 4 names \(data must be time x "
                 r"channel: transpose it\)"):
        read_recording(path)
    scipy.io.savemat(path, {"data": np.zeros((50, 4)), "sfreq": 10.0})
    with _raises(rf"{re.escape(str(path))}: missing variable\(s\) channels"):
        read_recording(path)


# --------------------------------------------------------------------------- BIDS

@pytest.fixture(scope="module")
def bids_root(sim_study, tmp_path_factory, write_bids) -> Path:
    """The simulated study as a hyperscanning BIDS dataset (T01 treats both patients)."""
    return write_bids(sim_study, tmp_path_factory.mktemp("bids") / "ds")


def test_bids_sessions(bids_root, sim_study):
    sessions = bids_sessions(bids_root, task="therapy")
    assert [(s["dyad"], s["session"]) for s in sessions] == [("D01", 1), ("D01", 2),
                                                              ("D02", 1), ("D02", 2)]
    last = sessions[-1]
    assert last["therapist"] == (bids_root / "sub-T01" / "ses-02" / "nirs" /
                                 "sub-T01_ses-02_task-therapy_acq-D02_nirs.snirf")
    assert last["patient"].name == "sub-P02_ses-02_task-therapy_nirs.snirf"
    assert (last["therapist_subject"], last["patient_subject"]) == ("T01", "P02")
    assert bids_sessions(bids_root) == sessions  # one task: task= may be left out
    raw = read_recording(last["therapist"], format="bids")
    assert raw.preload
    direct = read_recording(sim_study / "recordings" / "D02_ses-02_therapist.snirf")
    np.testing.assert_allclose(raw.get_data(), direct.get_data())
    assert raw.ch_names == direct.ch_names


def test_bids_sessions_with_session_column(bids_root, tmp_path):
    root = Path(shutil.copytree(bids_root, tmp_path / "ds"))
    (root / "dyads.tsv").write_text("dyad\tsession\ttherapist\tpatient\n"
                                    "D01\t1\tT01\tP01\nD02\tses-02\tT01\tP02\n")
    got = bids_sessions(root)
    assert [(s["dyad"], s["session"], s["therapist"].name) for s in got] == [
        ("D01", 1, "sub-T01_ses-01_task-therapy_acq-D01_nirs.snirf"),
        ("D02", 2, "sub-T01_ses-02_task-therapy_acq-D02_nirs.snirf")]


def test_bids_bad_channels_are_bad_in_quality_control(bids_root, tmp_path):
    """Channels marked bad in *_channels.tsv are excluded like any other bad channel."""
    from interbrain.preprocessing import PreprocessingSettings, preprocess_recording

    root = Path(shutil.copytree(bids_root, tmp_path / "ds"))
    nirs = root / "sub-P01" / "ses-01" / "nirs"
    channels = next(nirs.glob("*_channels.tsv"))
    table = channels.read_text().splitlines()
    header = table[0].split("\t")
    status = header.index("status")
    row = table[3].split("\t")            # the second pair's first wavelength
    row[status] = "bad"
    table[3] = "\t".join(row)
    channels.write_text("\n".join(table) + "\n")
    raw = read_recording(next(nirs.glob("*_nirs.snirf")), format="bids")
    assert raw.info["bads"] == [row[0]]
    # inside a BIDS dataset the format is inferred, so study.toml's files get their
    # sidecars too; format="snirf" reads the bare file
    assert read_recording(next(nirs.glob("*_nirs.snirf"))).info["bads"] == [row[0]]
    assert read_recording(next(nirs.glob("*_nirs.snirf")), format="snirf").info["bads"] == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = preprocess_recording(raw, PreprocessingSettings(), source="bids")
    pair = row[0].split(" ")[0]
    assert pair in rec.bad_channels
    reason = rec.qc.set_index("channel").loc[pair, "reason"]
    assert reason.startswith("marked bad in the recording")


def test_bids_start_time_and_events_follow_bids_then_snirf(bids_root, tmp_path):
    """scans.tsv acq_time and events.tsv (onsets from the first sample) where given;
    otherwise the SNIRF origin + first-sample time and SNIRF stimuli, as for plain SNIRF."""
    root = Path(shutil.copytree(bids_root, tmp_path / "ds"))
    nirs = root / "sub-P01" / "ses-01" / "nirs"
    path = next(nirs.glob("*_nirs.snirf"))
    with h5py.File(path, "r+") as fh:
        time = fh["nirs/data1/time"][:]
        del fh["nirs/data1/time"]
        fh["nirs/data1/time"] = time + 5.0          # first sample 5 s after the origin
        for name in [k for k in fh["nirs"] if k.startswith("stim")]:
            del fh["nirs"][name]
        stim = fh.create_group("nirs/stim1")
        stim["name"] = b"sync"
        stim["data"] = np.array([[15.0, 1.0, 1.0]])  # 10 s after the first sample
        _set_tag(fh, "MeasurementTime", "09:00:00Z")
    as_snirf = read_recording(path, format="snirf")
    first = datetime(2026, 1, 5, 9, 0, 5, tzinfo=timezone.utc)
    assert as_snirf.info["meas_date"] == first
    np.testing.assert_allclose(as_snirf.annotations.onset, [10.0])

    scans = root / "sub-P01" / "ses-01" / "sub-P01_ses-01_scans.tsv"
    events = path.with_name(path.name.replace("_nirs.snirf", "_events.tsv"))
    scans.write_text(f"filename\tacq_time\nnirs/{path.name}\tn/a\n")
    events.unlink(missing_ok=True)
    raw = read_recording(path, format="bids")
    assert raw.info["meas_date"] == first
    np.testing.assert_allclose(raw.annotations.onset, [10.0])
    assert list(raw.annotations.description) == ["sync"]

    scans.write_text(f"filename\tacq_time\nnirs/{path.name}\t2026-01-05T09:00:07\n")
    events.write_text("onset\tduration\ttrial_type\n3.5\t1.0\tstart\n")
    raw = read_recording(path, format="bids")
    assert raw.info["meas_date"] == datetime(2026, 1, 5, 9, 0, 7, tzinfo=timezone.utc)
    np.testing.assert_allclose(raw.annotations.onset, [3.5])
    assert list(raw.annotations.description) == ["start"]

    scans.write_text(f"filename\tacq_time\nnirs/{path.name}\tmorning\n")
    with pytest.raises(RecordingError, match=re.escape(str(path)) + ".*morning"):
        read_recording(path, format="bids")

    # no valid origin and no acq_time: no start time (not MNE's 2000-01-01)
    scans.write_text(f"filename\tacq_time\nnirs/{path.name}\tn/a\n")
    with h5py.File(path, "r+") as fh:
        _set_tag(fh, "MeasurementDate", "unknown")
    assert read_recording(path, format="bids").info["meas_date"] is None


def test_bids_scans_table_errors_name_the_file(tmp_path):
    """mne-bids refuses most bad scans tables first; interbrain's own reading of
    acq_time names the table and the value too."""
    from types import SimpleNamespace

    from interbrain.io.bids import _scans_acq_time

    nirs = tmp_path / "sub-P01" / "ses-01" / "nirs"
    nirs.mkdir(parents=True)
    path = nirs / "sub-P01_ses-01_task-therapy_nirs.snirf"
    bp = SimpleNamespace(subject="P01", session="01")
    scans = tmp_path / "sub-P01" / "ses-01" / "sub-P01_ses-01_scans.tsv"
    assert _scans_acq_time(path, bp) is None                    # no scans table
    scans.write_text(f"filename\tacq_time\nnirs/{path.name}\t2026-01-05T10:00:07+01:00\n")
    assert _scans_acq_time(path, bp) == datetime(2026, 1, 5, 9, 0, 7, tzinfo=timezone.utc)
    scans.write_text(f"filename\tacq_time\nnirs/{path.name}\t5 Jan 2026\n")
    with pytest.raises(RecordingError, match=re.escape(
            f"{scans}: acq_time of nirs/{path.name} is '5 Jan 2026', not a date and time")):
        _scans_acq_time(path, bp)
    scans.write_bytes(b"filename\tacq_time\n\xff\xfe\x00bad\t\"unclosed\n")
    with pytest.raises(RecordingError, match=re.escape(f"{scans}: cannot be read as a BIDS "
                                                       "scans table")):
        _scans_acq_time(path, bp)


def test_study_of_bids_recordings_applies_and_tracks_their_sidecars(bids_root, sim_study,
                                                                     tmp_path):
    """A study.toml naming BIDS files: QC honours *_channels.tsv, and editing it
    recomputes only that recording."""
    from interbrain.engine.graph import recording_task
    from interbrain.study import load_study

    root = Path(shutil.copytree(bids_root, tmp_path / "ds"))
    study_dir = tmp_path / "study"
    study_dir.mkdir()
    shutil.copy(sim_study / "measures.csv", study_dir)
    toml = (sim_study / "study.toml").read_text()
    for s in bids_sessions(root):
        for role in ("therapist", "patient"):
            name = f'"recordings/{s["dyad"]}_ses-{s["session"]:02d}_{role}.snirf"'
            assert name in toml
            toml = toml.replace(name, f'"{s[role].as_posix()}"')
    (study_dir / "study.toml").write_text(toml)
    study = load_study(study_dir)
    session = next(s for s in study.sessions if s.dyad == "D01" and s.session == 1)
    cache = str(tmp_path / "cache")
    before = recording_task(session.patient, session.therapist, study.preprocessing, cache)
    pair = before.qc.loc[~before.qc["bad"], "channel"].iloc[0]
    channels = next(session.patient.path.parent.glob("*_channels.tsv"))
    table = channels.read_text().splitlines()
    status = table[0].split("\t").index("status")
    line = next(i for i, text in enumerate(table) if text.startswith(pair + " "))
    row = table[line].split("\t")
    row[status] = "bad"
    table[line] = "\t".join(row)
    channels.write_text("\n".join(table) + "\n")
    after = recording_task(session.patient, session.therapist, study.preprocessing, cache)
    assert after.cache_key != before.cache_key  # the sidecar is part of the key
    assert after.qc.set_index("channel").loc[pair, "bad"]
    other = recording_task(session.therapist, session.patient, study.preprocessing, cache)
    again = recording_task(session.therapist, session.patient, study.preprocessing, cache)
    assert other.cache_key == again.cache_key


def test_bids_errors(bids_root, tmp_path):
    root = Path(shutil.copytree(bids_root, tmp_path / "ds"))
    table = root / "dyads.tsv"
    table.write_text("dyad\ttherapist\tpatient\nD01\tT01\tP01\nD02\tT01\tP09\n")
    with pytest.raises(StudyError, match=rf"{re.escape(str(table))}: line 3 \(dyad D02\): the "
                       r"patient of dyad D02, subject sub-P09, has no folder"):
        bids_sessions(root)
    table.write_text("dyad\ttherapist\tpatient\nD01\tT01\tP01\nD02\tT01\tP02\n")
    for f in (root / "sub-P02" / "ses-02" / "nirs").glob("*_nirs.*"):
        f.unlink()
    with pytest.raises(StudyError, match=rf"{re.escape(str(table))}: line 3 \(dyad D02\): the "
                       r"patient of dyad D02, sub-P02, has no recording for session 2 \(ses-2\)"
                       r"; sessions found: 1"):
        bids_sessions(root)
    table.write_text("dyad\tsession\ttherapist\tpatient\nD01\t3\tT01\tP01\n")
    with pytest.raises(StudyError, match=r"line 2 \(dyad D01\): the therapist of dyad D01, "
                       r"sub-T01, has no recording for session 3 \(ses-3\)"):
        bids_sessions(root)
    table.write_text("dyad\tthe_therapist\tpatient\nD01\tT01\tP01\n")
    with pytest.raises(StudyError, match=r"column\(s\) therapist missing"):
        bids_sessions(root)
    table.unlink()
    with pytest.raises(StudyError, match=r"dyads\.tsv: missing"):
        bids_sessions(root)
    with _raises("a BIDS dataset root, not a recording"):
        read_recording(root)
    loose = Path(shutil.copy(root / "sub-P01" / "ses-01" / "nirs" /
                             "sub-P01_ses-01_task-therapy_nirs.snirf", tmp_path / "x.snirf"))
    with _raises(r"not a BIDS fNIRS recording"):
        read_recording(loose, format="bids")


def test_table_header_comments(tmp_path):
    body = "\n".join(["time,S1_D1 hbo,S1_D1 hbr", *_rows()])
    path = tmp_path / "a.csv"
    path.write_text("# sfreq=20\n" + body + "\n")
    with _raises(r"'# sfreq=20' disagrees with the time column \(10 Hz\)"):
        read_recording(path)
    path.write_text("# meas_date=yesterday\n" + body + "\n")
    with _raises(r"meas_date 'yesterday' is not an ISO 8601 date and time"):
        read_recording(path)
    path.write_text("# unit=furlongs\n" + body + "\n")
    with _raises(r"unknown concentration unit 'furlongs'"):
        read_recording(path)
    path.write_text("# meas_date=2024-01-02 10:00:00\n# unit=mM\n" + body + "\n")
    raw = read_recording(path)
    assert raw.info["meas_date"] == datetime(2024, 1, 2, 10, tzinfo=timezone.utc)
