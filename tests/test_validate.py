"""`interbrain validate`, and `interbrain run`'s validation before any computation.

Each test breaks one thing in a copy of a small simulated study (2 dyads x 2 sessions,
1-minute recordings, 4 channels) and checks that both `interbrain validate STUDY` and
`interbrain run STUDY --out DIR` fail with exit status 1 and the same single message
naming the file(s) and the problem, without a traceback, and that `run` created no
output folder (validation runs before it). Failures that only show once the signals
are analysed (every channel bad after quality control) are in test_bad_input.py.
"""

from __future__ import annotations

import codecs
import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import mne
import numpy as np
import pytest
from click.testing import CliRunner

from interbrain.cli import main
from interbrain.simulate import simulate_recording, simulate_study, write_snirf
from interbrain.study import load_study
from interbrain.validation import ValidationReport, headers, validate_study

ROOT = Path(__file__).resolve().parents[1]
REAL_DYAD = ROOT / "examples" / "real-dyad"

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(scope="session")
def other_rate(tiny_study_8hz) -> Path:
    """The same design recorded at 8 Hz."""
    return tiny_study_8hz


@pytest.fixture(scope="module")
def other_montage(tmp_path_factory) -> Path:
    """The same design with 6 channels per person (other channel names)."""
    return simulate_study(tmp_path_factory.mktemp("montage") / "study", preset="demo", n_dyads=2,
                          n_sessions=2, minutes=1, band=(5.0, 15.0), n_channels=6, seed=1)


@pytest.fixture
def study(tiny_study_copy) -> Path:
    """A copy of conftest's tiny study, to break."""
    return tiny_study_copy


def _rec(study: Path, dyad: str, session: int, role: str) -> Path:
    return study / "recordings" / f"{dyad}_ses-{session:02d}_{role}.snirf"


def _esc(path: Path) -> str:
    return re.escape(str(path.resolve()))


def _toml(study: Path, old: str, new: str) -> None:
    path = study / "study.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _invoke(args: list[str]):
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"not a handled error: {result.exception!r}"
    assert "Traceback" not in result.output, result.output
    return result


def _rejected(study: Path, tmp_path: Path, pattern: str, *, single: bool = True) -> str:
    """`validate` and `run` both fail with one message matching ``pattern``; `run`
    creates no output folder. Returns the message."""
    out = tmp_path / "out"
    outputs = []
    for args in (["validate", str(study)],
                 ["run", "--no-figures", str(study), "--out", str(out), "--quiet", "--workers", "1"]):
        result = _invoke(args)
        assert result.exit_code == 1, result.output
        message = result.output.strip()
        assert message.startswith("Error: "), message
        assert re.search(pattern, message), message
        if single:
            assert "problems in the study" not in message, message
        outputs.append(message)
    assert outputs[0] == outputs[1], "run and validate report differently"
    assert not out.exists(), "a failed validation created the output folder"
    return outputs[0]


def _write_measures(study: Path, data: bytes) -> Path:
    path = study / "measures.csv"
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- a valid study

def test_valid_study_summary(study):
    before = sorted(p.relative_to(study) for p in study.rglob("*"))
    result = _invoke(["validate", str(study)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "no problems found" in out
    for expected in ("2 dyads (1 therapist)", "4 dyad-sessions (session numbers 1-2)",
                     "8 recordings (snirf: 8; raw intensity: 8), 4 channels per person",
                     "sampling rates: 10 Hz (8)", "durations: 60.0 s",
                     "partners in common: 60.0 s over 4 dyad-sessions; the band 5-15 s needs "
                     "at least 41.", "measures.csv: 4 rows, 4 measures"):
        assert expected in out, out
    assert sorted(p.relative_to(study) for p in study.rglob("*")) == before  # wrote nothing


def test_validation_reads_each_file_once_and_never_preprocesses(study, monkeypatch):
    """Each recording is read once, by interbrain's reader for plain SNIRF files (not
    MNE's header reader, five times slower), and never preprocessed."""
    opened, mne_reads = [], []
    reader = headers.read_recording

    def spy_reader(path, **kwargs):
        opened.append(Path(path).name)
        return reader(path, **kwargs)

    def spy_mne(*args, **kwargs):
        mne_reads.append(args)
        raise AssertionError("a plain SNIRF file needs no MNE header reader")

    def refuse(*args, **kwargs):
        raise AssertionError("validation must not preprocess")

    monkeypatch.setattr(headers, "read_recording", spy_reader)
    monkeypatch.setattr(mne.io, "read_raw_snirf", spy_mne)
    monkeypatch.setattr("interbrain.preprocessing.chain.preprocess_recording", refuse)
    monkeypatch.setattr("interbrain.engine.graph.preprocess_recording", refuse)
    report = validate_study(study)
    assert report.ok, report.message()
    assert len(opened) == len(set(opened)) == 8 and not mne_reads
    frame = report.recordings_frame()
    assert len(frame) == 8
    assert np.allclose(frame["sfreq"], 10.0) and frame["n_times"].eq(600).all()
    assert frame["n_channels"].eq(4).all()
    assert frame["wavelengths"].eq("760, 850").all()
    assert frame["start_time"].str.len().gt(0).all()
    assert {p.pairing for p in report.pairings} == {"real", "pseudo", "familiarity"}


def test_real_dyad_example_is_valid():
    report = validate_study(REAL_DYAD)
    assert report.ok, report.message()
    [header] = {h.sfreq for h in report.recordings.values()}
    assert header == pytest.approx(7.8125)
    assert [round(p.common_s, 1) for p in report.pairings] == [394.8]


def test_report_lists_every_problem(study, tmp_path):
    truncated = _rec(study, "D01", 2, "patient")
    truncated.write_bytes(truncated.read_bytes()[:5000])
    nan = _rec(study, "D02", 1, "therapist")
    with h5py.File(nan, "r+") as fh:
        fh["nirs/data1/dataTimeSeries"][10, 0] = np.nan
    _toml(study, 'patient = "recordings/D01_ses-01_patient.snirf"\n',
          'patient = "recordings/D01_ses-01_patient.snirf"\nalign = "offset"\noffset = 75.0\n')
    message = _rejected(study, tmp_path, r"^Error: 3 problems in the study ", single=False)
    lines = message.splitlines()[1:]
    assert len(lines) == 3 and all(line.startswith("- ") for line in lines)
    assert re.search(rf"{_esc(truncated)}: truncated SNIRF", message)
    assert re.search(rf"{_esc(nan)}: 1 NaN or infinite samples", message)
    assert re.search(r"D01_ses-01_therapist\.snirf and \S+D01_ses-01_patient\.snirf do not "
                     r"overlap in time", message)
    report = validate_study(study)
    frame = report.to_frame()
    assert list(frame.columns) == ["file", "problem"] and len(frame) == 3
    assert frame["file"].iloc[0] == str(truncated.resolve())
    assert not report.ok and report.study is not None


# --------------------------------------------------------------------------- unreadable files
# (moved from test_bad_input.py: these now fail at validation, before any output)

def test_truncated_snirf(study, tmp_path):
    victim = _rec(study, "D01", 2, "patient")
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    _rejected(study, tmp_path, rf"{_esc(victim)}: truncated SNIRF \(HDF5\) file: "
                               rf"{len(data) // 2} of {len(data)} bytes present")


def test_non_hdf5_snirf(study, tmp_path):
    victim = _rec(study, "D02", 1, "therapist")
    victim.write_text("exported as text by mistake\n")
    _rejected(study, tmp_path, rf"{_esc(victim)}: not a SNIRF file: SNIRF files are "
                               r"HDF5 files")


def test_snirf_missing_required_field(study, tmp_path):
    victim = _rec(study, "D02", 2, "patient")
    with h5py.File(victim, "r+") as fh:
        del fh["nirs/probe/wavelengths"]
    _rejected(study, tmp_path, rf"{_esc(victim)}: not a valid SNIRF file: missing "
                               r"required field /nirs/probe/wavelengths")


def test_snirf_zeroed_block(study, tmp_path):
    """2 KiB of the file's HDF5 structure overwritten with zeros (a damaged disk or copy)."""
    victim = _rec(study, "D01", 1, "patient")
    data = bytearray(victim.read_bytes())
    data[512:2560] = bytes(2048)
    victim.write_bytes(bytes(data))
    _rejected(study, tmp_path, rf"{_esc(victim)}: (damaged SNIRF \(HDF5\) file|cannot be "
                               r"read as SNIRF file)")


def test_snirf_time_of_the_wrong_length(study, tmp_path):
    victim = _rec(study, "D02", 1, "patient")
    with h5py.File(victim, "r+") as fh:
        del fh["nirs/data1/time"]
        fh["nirs/data1/time"] = np.arange(10) / 10.0
    _rejected(study, tmp_path, rf"{_esc(victim)}: /nirs/data1/time has 10 values but "
                               r"dataTimeSeries has 600 samples")


def test_snirf_data_of_the_wrong_shape(study, tmp_path):
    victim = _rec(study, "D01", 1, "therapist")
    with h5py.File(victim, "r+") as fh:
        data = fh["nirs/data1/dataTimeSeries"][:, :5]
        del fh["nirs/data1/dataTimeSeries"]
        fh["nirs/data1/dataTimeSeries"] = data
    _rejected(study, tmp_path, rf"{_esc(victim)}: /nirs/data1/dataTimeSeries has 5 "
                               r"channels \(columns\) but there are 8 measurementList groups")


def test_snirf_data_with_three_dimensions(study, tmp_path):
    victim = _rec(study, "D02", 2, "therapist")
    with h5py.File(victim, "r+") as fh:
        data = fh["nirs/data1/dataTimeSeries"][()]
        del fh["nirs/data1/dataTimeSeries"]
        fh["nirs/data1/dataTimeSeries"] = data.reshape(600, 4, 2)
    _rejected(study, tmp_path, rf"{_esc(victim)}: /nirs/data1/dataTimeSeries must be 2-D "
                               r"\(time x channel\), got shape \(600, 4, 2\)")


def test_nan_and_inf_samples(study, tmp_path):
    victim = _rec(study, "D01", 1, "therapist")
    with h5py.File(victim, "r+") as fh:
        fh["nirs/data1/dataTimeSeries"][100, 2] = np.nan
        fh["nirs/data1/dataTimeSeries"][200, 5] = np.inf
    _rejected(study, tmp_path, rf"{_esc(victim)}: 2 NaN or infinite samples in "
                               r"channel\(s\) .* \(first at 10\.000 s in ")


def test_nirx_folder_missing_wl2(tmp_path):
    study = tmp_path / "real-dyad"
    shutil.copytree(REAL_DYAD, study, ignore=shutil.ignore_patterns("*.nirs", "*.dat", "*.avg"))
    for f in (study / "data").rglob("*"):
        f.chmod(0o755 if f.is_dir() else 0o644)
    child = study / "data" / "child"
    (child / "NIRS-2019-09-28_002.wl2").unlink()
    _rejected(study, tmp_path, rf"{_esc(child)}: incomplete NIRx raw folder: missing "
                               r"\*\.wl2 \(wavelength-2 intensities\)")


def test_channel_map_names_a_channel_not_in_the_file(study, tmp_path):
    """A one-device session whose channel-to-role map names a pair the file lacks."""
    both = _rec(study, "D02", 2, "therapist")
    _toml(study, 'therapist = "recordings/D02_ses-02_therapist.snirf"\n'
                 'patient = "recordings/D02_ses-02_patient.snirf"\n',
          'recording = "recordings/D02_ses-02_therapist.snirf"\n'
          'channels = { therapist = ["S1_D1", "S1_D2"], patient = ["S2_D3", "S9_D9"] }\n')
    _rejected(study, tmp_path, rf"{_esc(both)}: channel\(s\) S9_D9 of the patient "
                               r"\(channel-to-role map\) are not in the recording")


# --------------------------------------------------------------------------- partners and band

def test_recording_shorter_than_the_band_allows(study, tmp_path):
    """A 5-second patient file: the band's longest period (15 s) needs about 41 s."""
    victim = _rec(study, "D02", 2, "patient")
    with h5py.File(victim, "r+") as fh:
        data, time = fh["nirs/data1/dataTimeSeries"][:50], fh["nirs/data1/time"][:50]
        del fh["nirs/data1/dataTimeSeries"], fh["nirs/data1/time"]
        fh["nirs/data1/dataTimeSeries"], fh["nirs/data1/time"] = data, time
    partner = _rec(study, "D02", 2, "therapist")
    # one message: the pseudo-dyads of the short file would only repeat it
    _rejected(study, tmp_path, rf"{_esc(partner)} and {_esc(victim)} \(5\.0 s in common; "
                               r"they last 60\.0 s and 5\.0 s\): .*recording too short "
                               r"for the band's longest period: the band needs at least "
                               r"\d+ samples \(\d+\.\d s\)")


def test_band_longer_than_the_recordings_allow(study, tmp_path):
    """1-minute recordings cannot carry a band up to 40 s periods (about 110 s needed):
    each real dyad-session is named once (its pseudo-dyads would only repeat it)."""
    _toml(study, "band = [5.0, 15.0]", "band = [5.0, 40.0]")
    message = _rejected(study, tmp_path,
                        r"\S+_therapist\.snirf and \S+_patient\.snirf \(60\.0 s in common; they "
                        r"last 60\.0 s and 60\.0 s\): band \(5, 40\) s .*recording too short "
                        r"for the band's longest period: the band needs at least \d+ samples",
                        single=False)
    assert message.startswith("Error: 4 problems in the study")


def test_band_of_very_long_periods_is_checked_without_building_its_grid(study, tmp_path):
    """A band up to 1e10 s needs about 1.3e11 samples: the check of that length must not
    build the grid's arrays (found by fuzzing: a band up to 1e5 s made `validate`
    allocate tens of GiB and the process was killed)."""
    import tracemalloc

    _toml(study, "band = [5.0, 15.0]", "band = [5.0, 10000000000.0]")
    tracemalloc.start()
    try:
        message = _rejected(study, tmp_path, r"band \(5, 1e\+10\) s .*the band needs at "
                                             r"least \d+ samples", single=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message.startswith("Error: ")
    assert peak < 200 * 2**20


def test_grid_check_raises_what_build_raises_without_its_arrays():
    import tracemalloc

    from interbrain.synchrony import WaveletGrid
    for n, band in ((3000, (2.0, 20.0)), (3000, (5.0, 100.0)), (101, (0.5, 3.0)),
                    (4, (0.2, 0.3)), (3000, (0.01, 1.0))):
        errors = []
        for fn in (WaveletGrid.build, WaveletGrid.check):
            try:
                fn(n, 0.1, band=band)
                errors.append(None)
            except ValueError as exc:
                errors.append(str(exc))
        assert errors[0] == errors[1], (n, band)
    tracemalloc.start()
    try:
        WaveletGrid.check(10**8, 0.1, band=(5.0, 100.0))     # 0.8 GB of cone alone if built
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_non_integer_sampling_rate_ratio_names_both_files(study, other_rate, tmp_path):
    victim = _rec(study, "D01", 1, "patient")
    shutil.copy(_rec(other_rate, "D01", 1, "patient"), victim)
    _rejected(study, tmp_path, rf"ses-01_\w+\.snirf \(10 Hz\) and {_esc(victim)} "
                               r"\(8 Hz\): sampling rates differ by a non-integer ratio "
                               r"\(1\.2500\)")


def test_channel_names_differ_between_partners(study, other_montage, tmp_path):
    victim = _rec(study, "D01", 1, "patient")
    shutil.copy(_rec(other_montage, "D01", 1, "patient"), victim)
    _rejected(study, tmp_path, rf"{_esc(_rec(study, 'D01', 1, 'therapist'))} and "
                               rf"{_esc(victim)}: channel names differ between the "
                               r"partners, so homologous pairs are ambiguous \(only in the "
                               r"first: .*; only in the second: .*\)")


def test_recordings_that_do_not_overlap(study, tmp_path):
    _toml(study, 'patient = "recordings/D02_ses-01_patient.snirf"\n',
          'patient = "recordings/D02_ses-01_patient.snirf"\nalign = "offset"\noffset = 90.0\n')
    _rejected(study, tmp_path,
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
    _rejected(study, tmp_path,
              rf"{_esc(_rec(study, 'D01', 2, 'therapist'))} and {_esc(victim)} do not overlap "
              r"in time: aligned by their recorded start times, the second starts \d+\.\d s after")


def test_unknown_start_time_with_start_time_alignment(study, tmp_path):
    victim = _rec(study, "D02", 1, "patient")
    with h5py.File(victim, "r+") as fh:
        tags = fh["nirs/metaDataTags"]
        del tags["MeasurementTime"]
        tags["MeasurementTime"] = b"unknown"
    _rejected(study, tmp_path, rf"{_esc(victim)}: no recorded start time to align "
                               r".*set align = \"offset\"")


def test_missing_alignment_event(study, tmp_path):
    _toml(study, 'patient = "recordings/D01_ses-02_patient.snirf"\n',
          'patient = "recordings/D01_ses-02_patient.snirf"\nalign = "event"\nevent = "sync"\n')
    _rejected(study, tmp_path, rf"{_esc(_rec(study, 'D01', 2, 'therapist'))}: no event "
                               rf"'sync', needed to align it with "
                               rf"{_esc(_rec(study, 'D01', 2, 'patient'))} \(events in the "
                               r"file: ")


def test_circular_shifts_longer_than_half_the_recording(study, tmp_path):
    _toml(study, "band = [5.0, 15.0]", 'band = [5.0, 15.0]\nsurrogates = ["circular_shift"]\n'
                                       "surrogate_min_shift = 40.0")
    message = _rejected(study, tmp_path, r"\S+_therapist\.snirf and \S+_patient\.snirf: "
                                         r"circular_shift surrogates: too few samples for "
                                         r"circular shifts of at least 400 samples",
                        single=False)
    assert message.startswith("Error: 4 problems")   # the 4 real dyad-sessions


@pytest.mark.parametrize("setting, pattern", [
    ("window = 90.0", r"window = 90 s \(\[analysis\]\) is longer than the 60\.0 s the partners "
                      r"have in common"),
    ("lags = [-50.0, 0.0, 50.0]", r"lag of 50 s \(\[analysis\] lags\) leaves 100 of the 600 "
                                  r"samples in common, too few for the band; the largest "
                                  r"\|lag\| allowed is 18\.\d+ s"),
    ("lags = [0.0, 0.04]", r"lags \[0\.0, 0\.04\] s \(\[analysis\]\) give duplicate shifts "
                           r"at 10 Hz"),
])
def test_summaries_that_do_not_fit(study, tmp_path, setting, pattern):
    """Windows and lags of the real dyad-sessions must fit in their time in common."""
    _toml(study, "band = [5.0, 15.0]", f"band = [5.0, 15.0]\n{setting}")
    message = _rejected(study, tmp_path, r"\S+_therapist\.snirf and \S+_patient\.snirf "
                                         r"\(60\.0 s in common; they last 60\.0 s and 60\.0 "
                                         rf"s\): {pattern}", single=False)
    assert message.startswith("Error: 4 problems")   # the 4 real dyad-sessions


# --------------------------------------------------------------------------- measures.csv

GOOD_MEASURES = ("dyad,session,symptoms,wellbeing\nD01,1,40,50\nD01,2,38,52\n"
                 "D02,1,41,49\nD02,2,37,\n")


def test_measures_not_utf8(study, tmp_path):
    path = _write_measures(study, "dyad,session,symptoms,notes\nD01,1,40,1\n"
                                  "D01,2,38,2\nD02,1,41,3\n".encode()
                           .replace(b"D02,1,41", b"D02,1,4\xe91"))
    _rejected(study, tmp_path, rf"{_esc(path)}, line 4: not UTF-8 text \(byte 0xe9 at byte "
                               r"8 of the line.*\); save it as UTF-8")


def test_measures_utf16(study, tmp_path):
    path = _write_measures(study, GOOD_MEASURES.encode("utf-16"))
    _rejected(study, tmp_path, rf"{_esc(path)}: the file is UTF-16 text; interbrain reads "
                               r"UTF-8: save it as UTF-8")


def test_measures_with_utf8_byte_order_mark_are_read(study):
    _write_measures(study, codecs.BOM_UTF8 + GOOD_MEASURES.encode())
    toml = study / "study.toml"   # these measures have no alliance to compare with
    toml.write_text("".join(line for line in toml.read_text().splitlines(keepends=True)
                            if not line.startswith("dissociation = ")))
    result = _invoke(["validate", str(study)])
    assert result.exit_code == 0, result.output
    measures = load_study(study).measures
    assert list(measures.columns) == ["dyad", "session", "symptoms", "wellbeing"]
    assert measures["wellbeing"].isna().sum() == 1


@pytest.mark.parametrize("sep, label", [(";", "';'"), ("\t", "tab")])
def test_measures_with_another_delimiter(study, tmp_path, sep, label):
    text = GOOD_MEASURES.replace(",", sep)
    if sep == ";":   # as Excel writes it with a decimal comma
        text = text.replace("D01;1;40", "D01;1;40,5")
    path = _write_measures(study, text.encode())
    _rejected(study, tmp_path, rf"{_esc(path)}, line 1: looks {re.escape(label)}-delimited "
                               r"\(header '.*'\); interbrain reads comma-separated files")


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", codecs.BOM_UTF8])
def test_measures_empty(study, tmp_path, content):
    path = _write_measures(study, content)
    _rejected(study, tmp_path, rf"{_esc(path)}: the file is empty; it needs a header with "
                               r"'dyad', 'session' and measure columns")


def test_measures_duplicated_row(study, tmp_path):
    path = _write_measures(study, (GOOD_MEASURES + "\nD01,2,30,30\n").encode())
    # the blank line 6 is skipped, and the line numbers stay those of the file
    _rejected(study, tmp_path, rf"{_esc(path)}, line 7: dyad D01, session 2 appears twice")


def test_measures_duplicated_column(study, tmp_path):
    path = _write_measures(study, GOOD_MEASURES.replace("wellbeing", "symptoms").encode())
    _rejected(study, tmp_path, rf"{_esc(path)}: column\(s\) \['symptoms'\] appear more than "
                               r"once")


@pytest.mark.parametrize("wrong, hint", [("sesion", "is 'sesion' meant to be 'session'\\?"),
                                         ("Session", "is 'Session' meant to be 'session'\\? "
                                                     "\\(names are case-sensitive\\)")])
def test_measures_wrong_column_name(study, tmp_path, wrong, hint):
    path = _write_measures(study, GOOD_MEASURES.replace("session", wrong, 1).encode())
    _rejected(study, tmp_path, rf"{_esc(path)}: missing column 'session' \(columns are: dyad, "
                               rf"{wrong}, symptoms, wellbeing\); {hint}")


@pytest.mark.parametrize("value", ["inf", "-Infinity"])
def test_measures_infinite_value(study, tmp_path, value):
    path = _write_measures(study, GOOD_MEASURES.replace("38,52", f"38,{value}").encode())
    _rejected(study, tmp_path, rf"{_esc(path)}, line 3, column 'wellbeing': "
                               rf"'{re.escape(value)}' is not finite")


def test_measures_row_longer_than_the_header(study, tmp_path):
    path = _write_measures(study, GOOD_MEASURES.replace("38,52", "38,52,7").encode())
    _rejected(study, tmp_path, rf"{_esc(path)}, line 3: 5 cells, but the header \(line 1\) "
                               r"has 4 columns")


def test_invalid_toml_and_measures_are_both_reported(study, tmp_path):
    _toml(study, "band = [5.0, 15.0]", "band = [15.0, 5.0]")
    path = _write_measures(study, b"dyad,session,symptoms\nD01,1,4\xff\n")
    message = _rejected(study, tmp_path, r"^Error: 2 problems in the study", single=False)
    assert re.search(r"study\.toml: \[analysis\]: field 'band' must satisfy 0 < shortest < "
                     r"longest period", message)
    assert re.search(rf"{_esc(path)}, line 2: not UTF-8 text", message)
    report = validate_study(study)
    assert report.study is None and not report.recordings
    assert report.summary() == report.message()


# --------------------------------------------------------------------------- command-line values

@pytest.mark.parametrize("args, option", [
    (["run", "{study}", "--workers", "-1"], "--workers"),
    (["demo", "--dir", "{tmp}/demo", "--minutes", "-3"], "--minutes"),
    (["demo", "--dir", "{tmp}/demo", "--workers", "-2"], "--workers"),
    (["simulate", "{tmp}/sim", "--dyads", "0"], "--dyads"),
    (["simulate", "{tmp}/sim", "--minutes", "-3"], "--minutes"),
    (["simulate", "{tmp}/sim", "--minutes", "nan"], "--minutes"),
    (["simulate", "{tmp}/sim", "--channels", "100"], "--channels"),
    (["simulate", "{tmp}/sim", "--seed", "-1"], "--seed"),
    (["power", "--dyads", "0", "--out", "{tmp}/power"], "--dyads"),
    (["power", "--sessions", "4,-2", "--out", "{tmp}/power"], "--sessions"),
    (["power", "--studies", "0", "--out", "{tmp}/power"], "--studies"),
    (["power", "--alpha", "2", "--out", "{tmp}/power"], "--alpha"),
    (["power", "--workers", "0", "--out", "{tmp}/power"], "--workers"),
    (["power", "--effect", "inf", "--out", "{tmp}/power"], "--effect"),
])
def test_bad_command_line_values(study, tmp_path, args, option):
    args = [a.format(study=study, tmp=tmp_path) for a in args]
    result = _invoke(args + (["--out", str(tmp_path / "out")] if args[0] == "run" else []))
    assert result.exit_code == 2, result.output
    assert re.search(rf"Invalid value for '{option}'", result.output), result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study"]   # nothing created


def test_zero_workers_means_one_per_core(study, tmp_path):
    """--workers 0 is accepted (one per core): the run goes on to validation, which
    fails on the broken file rather than on the option."""
    victim = _rec(study, "D01", 1, "patient")
    victim.write_text("not hdf5")
    result = _invoke(["run", "--no-figures", str(study), "--out", str(tmp_path / "out"), "--quiet",
                      "--workers", "0"])
    assert result.exit_code == 1
    assert re.search(rf"{_esc(victim)}: not a SNIRF file", result.output), result.output
    assert not (tmp_path / "out").exists()


def test_validate_missing_study_folder(tmp_path):
    result = _invoke(["validate", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_console_script_prints_no_traceback(study):
    """The installed command: one line on standard error, status 1, no traceback."""
    victim = _rec(study, "D02", 2, "patient")
    victim.write_bytes(victim.read_bytes()[:3000])
    exe = Path(sys.executable).with_name("interbrain")
    done = subprocess.run([str(exe), "validate", str(study)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert re.fullmatch(rf"Error: {_esc(victim)}: truncated SNIRF \(HDF5\) file: 3000 of \d+ "
                        r"bytes present \(incomplete copy or download\?\)\n", done.stderr), \
        done.stderr


def test_one_file_dyad_is_valid(tmp_path):
    """A one-device session (one file, a channel map) passes with the patient's channels
    under the therapist's names."""
    sim = simulate_recording(seed=5, minutes=1, n_channels=8, n_bad=0, motion=False)
    (tmp_path / "recordings").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = write_snirf(sim.raw, tmp_path / "recordings" / "dyad.snirf")
    names = list(dict.fromkeys(ch.split(" ")[0] for ch in
                               mne.io.read_raw_snirf(path, verbose="ERROR").ch_names))
    (tmp_path / "study.toml").write_text(
        "[analysis]\nband = [5.0, 15.0]\n\n[[dyads]]\nid = \"D01\"\ntherapist = \"T01\"\n"
        "patient = \"P01\"\n\n[[sessions]]\ndyad = \"D01\"\nsession = 1\n"
        "recording = \"recordings/dyad.snirf\"\n"
        f"channels = {{ therapist = {json.dumps(names[:4])}, patient = "
        f"{json.dumps(names[4:])} }}\n")
    report = validate_study(tmp_path)
    assert report.ok, report.message()
    assert set(report.recordings) == {f"{path.resolve()}#therapist",
                                      f"{path.resolve()}#patient"}
    assert {h.channels for h in report.recordings.values()} == {tuple(names[:4])}
    assert isinstance(report, ValidationReport)


def test_folder_without_study_toml(tmp_path):
    (tmp_path / "empty").mkdir()
    result = _invoke(["validate", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert re.search(rf"{re.escape(str(tmp_path / 'empty' / 'study.toml'))}: no study file "
                     r"here", result.output), result.output


@pytest.mark.parametrize("damage", ["nan", "metadata"])
def test_lazy_and_eager_reading_agree(study, damage):
    """read_recording(preload=False), as validation reads, refuses a file with the same
    message as the preloading read of the run."""
    from interbrain.errors import RecordingError
    from interbrain.io import read_recording

    victim = _rec(study, "D01", 1, "patient")
    if damage == "nan":
        with h5py.File(victim, "r+") as fh:
            fh["nirs/data1/dataTimeSeries"][300:310, 1] = np.nan
    else:
        data = bytearray(victim.read_bytes())
        data[512:2560] = bytes(2048)
        victim.write_bytes(bytes(data))
    messages = []
    for preload in (True, False):
        with pytest.raises(RecordingError) as info:
            read_recording(victim, preload=preload)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith(f"{victim}: ")
    lazy = read_recording(_rec(study, "D02", 1, "patient"), preload=False)
    assert not lazy.preload and lazy.n_times == 600
