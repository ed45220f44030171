"""Bad recordings through the whole pipeline: a clear error, and no results left behind.

Each test breaks one thing in a copy of a small simulated study (2 dyads x 2 sessions,
1-minute recordings, 4 channels), runs `interbrain run STUDY --out DIR`, and checks
that the command fails with a message naming the file(s) and the problem, and that
DIR holds no result files (only the cache of intermediate products and the log).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from interbrain.cli import main
from interbrain.engine import run_study
from interbrain.errors import RecordingError
from interbrain.simulate import simulate_study
from interbrain.study import load_study

ROOT = Path(__file__).resolve().parents[1]
REAL_DYAD = ROOT / "examples" / "real-dyad"
#: What a failed run may leave in the results folder: the cache and the log.
NOT_RESULTS = {".cache", "interbrain.log"}

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return simulate_study(tmp_path_factory.mktemp("base") / "study", n_dyads=2, n_sessions=2,
                          minutes=1, band=(5.0, 15.0), n_channels=4, seed=1)


@pytest.fixture(scope="module")
def other_rate(tmp_path_factory) -> Path:
    """The same design recorded at 8 Hz."""
    return simulate_study(tmp_path_factory.mktemp("rate") / "study", n_dyads=2, n_sessions=2,
                          minutes=1, band=(5.0, 15.0), n_channels=4, seed=1, sfreq=8.0)


@pytest.fixture(scope="module")
def other_montage(tmp_path_factory) -> Path:
    """The same design with 6 channels per person (other channel names)."""
    return simulate_study(tmp_path_factory.mktemp("montage") / "study", n_dyads=2,
                          n_sessions=2, minutes=1, band=(5.0, 15.0), n_channels=6, seed=1)


@pytest.fixture
def study(base, tmp_path) -> Path:
    return Path(shutil.copytree(base, tmp_path / "study"))


def _rec(study: Path, dyad: str, session: int, role: str) -> Path:
    return study / "recordings" / f"{dyad}_ses-{session:02d}_{role}.snirf"


def _fails(study: Path, out: Path, pattern: str) -> str:
    """Run the CLI; it must fail with ``pattern`` and leave no results in ``out``."""
    result = CliRunner().invoke(main, ["run", str(study), "--out", str(out), "--quiet",
                                       "--workers", "1"])
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"not a handled error: {result.exception!r}"
    message = result.output.strip()
    assert re.search(pattern, message), message
    left = {p.name for p in out.iterdir()} if out.exists() else set()
    assert left <= NOT_RESULTS, f"partial results left behind: {sorted(left - NOT_RESULTS)}"
    log = out / "interbrain.log"
    if log.exists():
        assert re.search(pattern, log.read_text())
    return message


def _toml(study: Path, old: str, new: str) -> None:
    path = study / "study.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _esc(path: Path) -> str:
    return re.escape(str(path.resolve()))


# --------------------------------------------------------------------------- unreadable files

def test_truncated_snirf(study, tmp_path):
    victim = _rec(study, "D01", 2, "patient")
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    _fails(study, tmp_path / "out", rf"{_esc(victim)}: truncated SNIRF \(HDF5\) file: "
                                    rf"{len(data) // 2} of {len(data)} bytes present")


def test_non_hdf5_snirf(study, tmp_path):
    victim = _rec(study, "D02", 1, "therapist")
    victim.write_text("exported as text by mistake\n")
    _fails(study, tmp_path / "out", rf"{_esc(victim)}: not a SNIRF file: SNIRF files are "
                                    r"HDF5 files")


def test_snirf_missing_required_field(study, tmp_path):
    victim = _rec(study, "D02", 2, "patient")
    with h5py.File(victim, "r+") as fh:
        del fh["nirs/probe/wavelengths"]
    _fails(study, tmp_path / "out", rf"{_esc(victim)}: not a valid SNIRF file: missing "
                                    r"required field /nirs/probe/wavelengths")


def test_nan_and_inf_samples(study, tmp_path):
    victim = _rec(study, "D01", 1, "therapist")
    with h5py.File(victim, "r+") as fh:
        fh["nirs/data1/dataTimeSeries"][100, 2] = np.nan
        fh["nirs/data1/dataTimeSeries"][200, 5] = np.inf
    _fails(study, tmp_path / "out", rf"{_esc(victim)}: 2 NaN or infinite samples in "
                                    r"channel\(s\) .* \(first at 10\.000 s in ")


def test_nirx_folder_missing_wl2(tmp_path):
    study = tmp_path / "real-dyad"
    shutil.copytree(REAL_DYAD, study, ignore=shutil.ignore_patterns("*.nirs", "*.dat", "*.avg"))
    for f in (study / "data").rglob("*"):
        f.chmod(0o755 if f.is_dir() else 0o644)
    child = study / "data" / "child"
    (child / "NIRS-2019-09-28_002.wl2").unlink()
    _fails(study, tmp_path / "out", rf"{_esc(child)}: incomplete NIRx raw folder: missing "
                                    r"\*\.wl2 \(wavelength-2 intensities\)")


# --------------------------------------------------------------------------- unusable data

def test_every_channel_bad(study, tmp_path):
    victim = _rec(study, "D02", 2, "patient")
    with h5py.File(victim, "r+") as fh:
        fh["nirs/data1/dataTimeSeries"][...] = 1.0   # a disconnected cap: flat everywhere
    _fails(study, tmp_path / "out", rf"{_esc(victim)}: every channel is bad \(4 channel\(s\): "
                                    r"flat 4.*\); nothing to analyse")


def test_recording_shorter_than_the_band_allows(study, tmp_path):
    """A 5-second patient file: the band's longest period (15 s) needs about 41 s."""
    victim = _rec(study, "D02", 2, "patient")
    with h5py.File(victim, "r+") as fh:
        data, time = fh["nirs/data1/dataTimeSeries"][:50], fh["nirs/data1/time"][:50]
        del fh["nirs/data1/dataTimeSeries"], fh["nirs/data1/time"]
        fh["nirs/data1/dataTimeSeries"], fh["nirs/data1/time"] = data, time
    partner = _rec(study, "D02", 2, "therapist")
    _fails(study, tmp_path / "out", rf"{_esc(partner)} and {_esc(victim)} \(5\.0 s in common; "
                                    r"they last 60\.0 s and 5\.0 s\): .*recording too short "
                                    r"for the band's longest period: the band needs at least "
                                    r"\d+ samples \(\d+\.\d s\)")


def test_band_longer_than_the_recordings_allow(study, tmp_path):
    """1-minute recordings cannot carry a band up to 40 s periods (about 110 s needed)."""
    _toml(study, "band = [5.0, 15.0]", "band = [5.0, 40.0]")
    _fails(study, tmp_path / "out", r"\S+_therapist\.snirf and \S+_patient\.snirf \(60\.0 s in "
                                    r"common; they last 60\.0 s and 60\.0 s\): band "
                                    r"\(5, 40\) s .*recording too short for the band's longest "
                                    r"period: the band needs at least \d+ samples")


# --------------------------------------------------------------------------- partners disagree

def test_non_integer_sampling_rate_ratio_names_both_files(study, other_rate, tmp_path):
    victim = _rec(study, "D01", 1, "patient")
    shutil.copy(_rec(other_rate, "D01", 1, "patient"), victim)
    _fails(study, tmp_path / "out", rf"ses-01_\w+\.snirf \(10 Hz\) and {_esc(victim)} "
                                    r"\(8 Hz\): sampling rates differ by a non-integer ratio "
                                    r"\(1\.2500\)")


def test_channel_names_differ_between_partners(study, other_montage, tmp_path):
    victim = _rec(study, "D01", 1, "patient")
    shutil.copy(_rec(other_montage, "D01", 1, "patient"), victim)
    _fails(study, tmp_path / "out", rf"{_esc(_rec(study, 'D01', 1, 'therapist'))} and "
                                    rf"{_esc(victim)}: channel names differ between the "
                                    r"partners, so homologous pairs are ambiguous \(only in the "
                                    r"first: .*; only in the second: .*\)")


def test_recordings_that_do_not_overlap(study, tmp_path):
    _toml(study, 'patient = "recordings/D02_ses-01_patient.snirf"\n',
          'patient = "recordings/D02_ses-01_patient.snirf"\nalign = "offset"\noffset = 90.0\n')
    _fails(study, tmp_path / "out",
           rf"{_esc(_rec(study, 'D02', 1, 'therapist'))} and "
           rf"{_esc(_rec(study, 'D02', 1, 'patient'))} do not overlap in time: aligned by the "
           r"given offset, the second starts 90\.0 s after the first; the first lasts 60\.0 s "
           r"and the second 60\.0 s")


def test_start_times_that_do_not_overlap(study, tmp_path):
    victim = _rec(study, "D01", 2, "patient")
    with h5py.File(victim, "r+") as fh:
        tags = fh["nirs/metaDataTags"]
        del tags["MeasurementTime"]
        tags["MeasurementTime"] = b"11:30:00Z"   # its clock was set wrong: 2.5 h later
    _fails(study, tmp_path / "out",
           rf"{_esc(_rec(study, 'D01', 2, 'therapist'))} and {_esc(victim)} do not overlap "
           r"in time: aligned by their recorded start times, the second starts \d+\.\d s after")


def test_unknown_start_time_with_start_time_alignment(study, tmp_path):
    victim = _rec(study, "D02", 1, "patient")
    with h5py.File(victim, "r+") as fh:
        tags = fh["nirs/metaDataTags"]
        del tags["MeasurementTime"]
        tags["MeasurementTime"] = b"unknown"
    _fails(study, tmp_path / "out", rf"{_esc(victim)}: no recorded start time to align "
                                    r".*set align = \"offset\"")


# --------------------------------------------------------------------------- earlier results

def test_failed_rerun_keeps_earlier_results_whole(study, tmp_path):
    out = tmp_path / "out"
    run_study(load_study(study), out, n_workers=1)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert {"synchrony.parquet", "qc.parquet", "report.html", "preprocessing.json"} <= set(before)
    victim = _rec(study, "D01", 1, "patient")
    victim.write_bytes(victim.read_bytes()[:1000])
    with pytest.raises(RecordingError, match=rf"{_esc(victim)}: truncated SNIRF"):
        run_study(load_study(study), out, n_workers=1)
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before
    assert not [p for p in out.iterdir() if p.name.startswith(".partial")]
