"""interbrain.assembly: one-file dyads split by role, alignment, common rate, overlap.

Unit tests on constructed recordings whose true shift is known (the patient's samples
are the therapist's, starting a known number of samples later), then the same through
the whole pipeline (`interbrain run`) on small simulated SNIRF files.
"""

from __future__ import annotations

import json
import re
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from interbrain.assembly import (common_rate, crop, overlap, recording_offset, resample_to,
                                 split_roles)
from interbrain.cli import main
from interbrain.errors import RecordingError
from interbrain.io import read_recording
from interbrain.preprocessing import Preprocessed, PreprocessingSettings, preprocess_recording
from interbrain.preprocessing.chain import _annotation_table
from interbrain.simulate import simulate_recording, write_snirf

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
SFREQ = 10.0

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _signal(n: int, seed: int = 0, n_channels: int = 3) -> np.ndarray:
    """Distinct, non-periodic samples: any wrong shift gives different values."""
    return np.random.default_rng(seed).standard_normal((n_channels, n))


def _rec(source: str, hbo: np.ndarray, *, sfreq: float = SFREQ,
         meas_date: datetime | None = T0, events: list[tuple[float, str]] = (),
         channels: list[str] | None = None) -> Preprocessed:
    channels = channels or [f"S{k + 1}_D1" for k in range(hbo.shape[0])]
    qc = pd.DataFrame({"channel": channels, "bad": False, "reason": ""})
    ann = pd.DataFrame({"onset": [float(o) for o, _ in events],
                        "duration": [0.0] * len(events),
                        "description": [d for _, d in events]},
                       columns=["onset", "duration", "description"])
    return Preprocessed(source=source, channels=channels, hbo=hbo, hbr=-0.5 * hbo,
                        sfreq=sfreq, meas_date=meas_date, qc=qc, steps=[],
                        annotations=ann.astype({"onset": float, "duration": float}))


@pytest.fixture
def shifted():
    """Therapist: samples 0..599 of a signal; patient: samples 50..699 (5 s later)."""
    x = _signal(700)
    return x, _rec("t.snirf", x[:, :600]), _rec("p.snirf", x[:, 50:])


def _lined_up(a: Preprocessed, b: Preprocessed, common) -> None:
    np.testing.assert_array_equal(crop(a.hbo, common.start_a, common.n_times),
                                  crop(b.hbo, common.start_b, common.n_times))
    np.testing.assert_array_equal(crop(a.hbr, common.start_a, common.n_times),
                                  crop(b.hbr, common.start_b, common.n_times))


# --------------------------------------------------------------------------- alignment

def test_align_by_start_time(shifted):
    x, t, p = shifted
    p.meas_date = T0 + timedelta(seconds=5)
    common = overlap(t, p, align="start_time")
    assert (common.start_a, common.start_b, common.n_times) == (50, 0, 550)
    assert common.offset == 5.0
    _lined_up(t, p, common)
    # the patient started first: the roles of the two starts swap
    early = _rec("p.snirf", x[:, :650], meas_date=T0)
    late = _rec("t.snirf", x[:, 80:], meas_date=T0 + timedelta(seconds=8))
    common = overlap(late, early, align="start_time")
    assert (common.start_a, common.start_b, common.n_times) == (0, 80, 570)
    _lined_up(late, early, common)


def test_align_by_event(shifted):
    x, t, p = shifted
    p.meas_date = T0   # wrong start times: the event must win
    t.annotations = _rec("", x, events=[(2.0, "rest"), (12.0, "sync")]).annotations
    # patient: the same trigger 5 s earlier in its own clock, and a later repeat
    p.annotations = _rec("", x, events=[(30.0, "sync"), (7.0, "sync")]).annotations
    assert recording_offset(t, p, align="event", event="sync") == pytest.approx(5.0)
    common = overlap(t, p, align="event", event="sync")
    assert (common.start_a, common.start_b, common.n_times) == (50, 0, 550)
    _lined_up(t, p, common)


def test_align_by_offset(shifted):
    x, t, p = shifted
    p.meas_date = None   # offsets need no start times
    for offset in (5.0, 5.04, 4.96):   # rounded to the nearest sample
        common = overlap(t, p, align="offset", offset=offset)
        assert (common.start_a, common.start_b, common.n_times) == (50, 0, 550)
        _lined_up(t, p, common)
    # a negative offset: the patient's recording started before the therapist's
    common = overlap(p, t, align="offset", offset=-5.0)
    assert (common.start_a, common.start_b, common.n_times) == (0, 50, 550)
    _lined_up(p, t, common)
    # offset 0 aligns the first samples; the common part is the shorter recording
    common = overlap(t, _rec("q.snirf", x[:, :400]), align="offset", offset=0.0)
    assert (common.start_a, common.start_b, common.n_times) == (0, 0, 400)


def test_overlap_crops_to_the_common_part():
    x = _signal(1000)
    a = _rec("a.snirf", x[:, 100:700])                                  # 60 s
    b = _rec("b.snirf", x[:, 400:], meas_date=T0 + timedelta(seconds=30))  # 60 s, 30 s later
    common = overlap(a, b)
    assert (common.start_a, common.start_b, common.n_times) == (300, 0, 300)   # 30 s
    _lined_up(a, b, common)
    # b inside a
    inner = _rec("c.snirf", x[:, 200:400], meas_date=T0 + timedelta(seconds=10))
    common = overlap(a, inner)
    assert (common.start_a, common.start_b, common.n_times) == (100, 0, 200)
    _lined_up(a, inner, common)


def test_recordings_that_do_not_overlap_name_both_files():
    x = _signal(600)
    a, b = _rec("/data/t.snirf", x), _rec("/data/p.snirf", x,
                                          meas_date=T0 + timedelta(minutes=2))
    message = (r"/data/t\.snirf and /data/p\.snirf do not overlap in time: aligned by their "
               r"recorded start times, the second starts 120\.0 s after the first; the first "
               r"lasts 60\.0 s and the second 60\.0 s")
    with pytest.raises(RecordingError, match=message):
        overlap(a, b)
    with pytest.raises(RecordingError, match=r"/data/t\.snirf and /data/p\.snirf do not overlap"
                       r" in time: aligned by the given offset, the second starts 60\.0 s "
                       r"before the first"):
        overlap(a, b, align="offset", offset=-60.0)
    # (a shared event lies in both recordings, so event alignment always overlaps)
    # touching end to start is not an overlap either
    with pytest.raises(RecordingError, match="do not overlap"):
        overlap(a, b, align="offset", offset=60.0)


def test_alignment_errors_name_the_files():
    x = _signal(600)
    a = _rec("/data/t.snirf", x, events=[(3.0, "start"), (4.0, "rest")])
    b = _rec("/data/p.nirs", x, meas_date=None)
    with pytest.raises(RecordingError, match=r"^/data/p\.nirs: no recorded start time to align "
                       r"/data/t\.snirf and /data/p\.nirs on .*align = \"offset\""):
        overlap(a, b, align="start_time")
    with pytest.raises(RecordingError, match=r"^/data/t\.snirf: no event 'sync', needed to align "
                       r"it with /data/p\.nirs \(events in the file: rest, start\)"):
        overlap(a, b, align="event", event="sync")
    with pytest.raises(RecordingError, match=r"^/data/p\.nirs: no event 'start', needed to "
                       r"align it with /data/t\.snirf \(events in the file: none\)"):
        overlap(a, b, align="event", event="start")
    with pytest.raises(RecordingError, match=r"/data/t\.snirf \(10\.0 Hz\) and /data/p\.nirs "
                       r"\(5\.0 Hz\): sampling rates differ"):
        overlap(a, _rec("/data/p.nirs", x, sfreq=5.0), align="offset")


# --------------------------------------------------------------------------- common rate

def test_common_rate_is_the_lowest_integer_divisor():
    assert common_rate({"a.snirf": 10.0, "b.snirf": 5.0, "c.snirf": 10.0}) == 5.0
    assert common_rate({"a": 7.8125, "b": 3.90625}) == 3.90625
    assert common_rate({"a": 10.0}) == 10.0


def test_non_integer_rate_ratio_names_both_files():
    with pytest.raises(RecordingError, match=r"^/data/a\.snirf \(10 Hz\) and /data/b\.snirf "
                       r"\(4 Hz\): sampling rates differ by a non-integer ratio \(2\.5000\)"):
        common_rate({"/data/a.snirf": 10.0, "/data/b.snirf": 4.0})
    with pytest.raises(RecordingError, match=r"/data/b\.snirf \(7\.8125 Hz\) and /data/a\.snirf "
                       r"\(7\.81 Hz\): sampling rates differ by a non-integer ratio"):
        common_rate({"/data/a.snirf": 7.81, "/data/b.snirf": 7.8125})
    rec = _rec("/data/a.snirf", _signal(100))
    with pytest.raises(RecordingError, match=r"^/data/a\.snirf \(10 Hz\): cannot be brought to "
                       r"4 Hz by an integer decimation factor"):
        resample_to(rec, 4.0)
    with pytest.raises(RecordingError, match=r"cannot be brought to 20 Hz"):
        resample_to(rec, 20.0)


def test_resampling_an_integer_ratio_to_the_common_rate():
    """10 Hz and 5 Hz recordings of the same slow signal: both at 5 Hz, lined up."""
    t10 = np.arange(1200) / 10.0
    slow = np.vstack([np.sin(2 * np.pi * t10 / 17.0), np.cos(2 * np.pi * t10 / 23.0)])
    a = _rec("a.snirf", slow, events=[(12.0, "sync")])
    b = _rec("b.snirf", slow[:, 100::2], sfreq=5.0, meas_date=T0 + timedelta(seconds=10))
    rate = common_rate({a.source: a.sfreq, b.source: b.sfreq})
    assert rate == 5.0
    a5, b5 = resample_to(a, rate), resample_to(b, rate)
    assert b5 is b   # already at the common rate
    assert a5.sfreq == 5.0 and a5.n_times == 600 and a5.hbo.shape == (2, 600)
    assert a5.steps[-1] == {"step": "resample", "function": "scipy.signal.resample_poly",
                            "from_hz": 10.0, "to_hz": 5.0, "factor": 2}
    # away from the edges, decimation keeps a slow signal (periods of 17 and 23 s)
    np.testing.assert_allclose(a5.hbo[:, 20:-20], slow[:, ::2][:, 20:-20], atol=2e-3)
    np.testing.assert_allclose(a5.hbr, -0.5 * a5.hbo, atol=1e-12)
    # events and the start time are unchanged, so alignment still holds
    assert a5.annotations.equals(a.annotations) and a5.meas_date == a.meas_date
    common = overlap(a5, b5)
    assert (common.start_a, common.start_b, common.n_times) == (50, 0, 550)
    np.testing.assert_allclose(crop(a5.hbo, 50, 550)[:, 20:-20],
                               crop(b5.hbo, 0, 550)[:, 20:-20], atol=2e-3)


# --------------------------------------------------------------------------- one-file dyads

def _two_person_raw(n_times: int = 200) -> mne.io.RawArray:
    pairs = ["S1_D1", "S2_D1", "S3_D2", "S4_D2", "S5_D3"]
    names = [f"{p} {w}" for p in pairs for w in (760, 850)]
    info = mne.create_info(names, SFREQ, ch_types="fnirs_cw_amplitude")
    for ch in info["chs"]:
        ch["loc"][9] = float(ch["ch_name"].split(" ")[1])
    data = 1.0 + 0.01 * _signal(n_times, seed=4, n_channels=len(names))
    raw = mne.io.RawArray(data, info, verbose="ERROR")
    raw.set_meas_date(T0)
    raw.set_annotations(mne.Annotations([3.0], [0.0], ["sync"]))
    return raw


def test_split_one_file_by_channel_map():
    raw = _two_person_raw()
    parts = split_roles(raw, {"therapist": ("S1_D1", "S2_D1"),
                              "patient": ("S4_D2", "S3_D2")}, source="dyad.snirf")
    assert set(parts) == {"therapist", "patient"}
    t, p = parts["therapist"], parts["patient"]
    assert t.ch_names == ["S1_D1 760", "S1_D1 850", "S2_D1 760", "S2_D1 850"]
    # the k-th patient channel takes the name of the k-th therapist channel
    assert p.ch_names == t.ch_names
    np.testing.assert_array_equal(t.get_data(), raw.get_data(picks=t.ch_names))
    np.testing.assert_array_equal(
        p.get_data(), raw.get_data(picks=["S4_D2 760", "S4_D2 850", "S3_D2 760", "S3_D2 850"]))
    # both keep the file's start time and events (one clock: offset 0)
    assert t.info["meas_date"] == p.info["meas_date"] == T0
    assert list(p.annotations.description) == ["sync"]
    assert "S5_D3 760" not in t.ch_names + p.ch_names   # unlisted channels are dropped
    # the original is untouched
    assert raw.ch_names[0] == "S1_D1 760" and len(raw.ch_names) == 10


def test_split_errors_name_the_file():
    raw = _two_person_raw()
    with pytest.raises(RecordingError, match=r"^dyad\.snirf: channel\(s\) S9_D9 of the patient "
                       r"\(channel-to-role map\) are not in the recording \(its channels: "
                       r"S1_D1, S2_D1, S3_D2, S4_D2, S5_D3\)"):
        split_roles(raw, {"therapist": ("S1_D1",), "patient": ("S9_D9",)}, source="dyad.snirf")
    with pytest.raises(RecordingError, match=r"^dyad\.snirf: the channel-to-role map lists "
                       r"\{'therapist': 2, 'patient': 1\} channels"):
        split_roles(raw, {"therapist": ("S1_D1", "S2_D1"), "patient": ("S3_D2",)},
                    source="dyad.snirf")
    with pytest.raises(RecordingError, match=r"^dyad\.snirf: channel S1_D1 is listed for both "
                       r"the therapist and the patient"):
        split_roles(raw, {"therapist": ("S1_D1", "S2_D1"), "patient": ("S3_D2", "S1_D1")},
                    source="dyad.snirf")
    with pytest.raises(RecordingError, match=r"^dyad\.snirf: channel S3_D2 is listed twice for "
                       r"the patient"):
        split_roles(raw, {"therapist": ("S1_D1", "S2_D1"), "patient": ("S3_D2", "S3_D2")},
                    source="dyad.snirf")


def test_split_simulated_recording_preprocesses_per_person():
    sim = simulate_recording(seed=1, minutes=1, n_channels=8, n_bad=0, motion=False,
                             meas_date=T0)
    first, second = sim.channels[:4], sim.channels[4:]
    parts = split_roles(sim.raw, {"therapist": tuple(first), "patient": tuple(second)},
                        source="dyad.snirf")
    settings = PreprocessingSettings()
    t = preprocess_recording(parts["therapist"], settings, source="dyad.snirf#therapist")
    p = preprocess_recording(parts["patient"], settings, source="dyad.snirf#patient")
    assert t.channels == p.channels == first
    assert t.meas_date == p.meas_date == T0
    # the patient's signals are those of its own channels, preprocessed alone
    alone = preprocess_recording(sim.raw.copy().pick(
        [ch for ch in sim.raw.ch_names if ch.split(" ")[0] in second]), settings, source="x")
    np.testing.assert_allclose(p.hbo, alone.hbo)
    common = overlap(t, p)
    assert (common.start_a, common.start_b, common.n_times) == (0, 0, t.n_times)


# --------------------------------------------------------------------------- start times

def test_start_time_is_the_first_sample_of_a_cropped_raw():
    """MNE's meas_date is sample 0's time; a cropped raw starts first_time later."""
    sim = simulate_recording(seed=2, minutes=1, n_channels=4, n_bad=0, motion=False,
                             meas_date=T0)
    raw = sim.raw.copy()
    raw.set_annotations(mne.Annotations([20.0], [0.0], ["sync"]))
    cropped = raw.copy().crop(tmin=12.0)
    assert cropped.first_samp == 120
    settings = PreprocessingSettings()
    whole = preprocess_recording(raw, settings, source="whole")
    part = preprocess_recording(cropped, settings, source="part")
    assert part.meas_date == T0 + timedelta(seconds=12)
    assert _annotation_table(cropped)["onset"].tolist() == [8.0]
    assert part.annotations["onset"].tolist() == [8.0]
    for align in ("start_time", "event"):
        common = overlap(whole, part, align=align, event="sync")
        assert (common.start_a, common.start_b) == (120, 0)


# --------------------------------------------------------------------------- whole pipeline

def _person(raw: mne.io.BaseRaw, start: int, stop: int | None, meas_date: datetime,
            events: list[tuple[float, str]], path: Path) -> Path:
    """Samples start:stop of ``raw`` as a new SNIRF recording starting at ``meas_date``."""
    info = raw.info.copy()
    part = mne.io.RawArray(raw.get_data()[:, start:stop], info, verbose="ERROR")
    part.set_meas_date(meas_date)
    if events:
        part.set_annotations(mne.Annotations([o for o, _ in events], [1.0] * len(events),
                                             [d for _, d in events]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return write_snirf(part, path)


def _study_toml(root: Path, sessions: list[str]) -> None:
    # a high-pass at 0.05 Hz and no motion correction: the filters' start-up differs
    # little between two files that start at different samples
    (root / "study.toml").write_text(
        "[analysis]\nband = [5.0, 15.0]\npseudo_dyads = false\nmetrics = [\"pearson\"]\n"
        "\n[preprocessing]\nl_freq = 0.05\nmotion_correction = \"none\"\n"
        "\n[[dyads]]\nid = \"D01\"\ntherapist = \"T01\"\npatient = \"P01\"\n\n"
        + "\n".join(sessions))


def _run(study: Path, out: Path) -> Path:
    result = CliRunner().invoke(main, ["run", "--no-figures", str(study), "--out", str(out), "--quiet",
                                       "--workers", "1"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def source_raw() -> mne.io.BaseRaw:
    sim = simulate_recording(seed=7, minutes=1.5, n_channels=4, n_bad=0, motion=False)
    return sim.raw


@pytest.fixture(scope="module")
def aligned_study(source_raw, tmp_path_factory) -> Path:
    """One dyad, four sessions; the patient file holds the therapist's samples from 6 s on.

    Session 1 says so by start times, 2 by a shared trigger, 3 by an offset; session 4
    (control) aligns on start times that wrongly say both started together.
    """
    root = tmp_path_factory.mktemp("aligned")
    rec = root / "recordings"
    rec.mkdir()
    later = T0 + timedelta(seconds=6)
    sessions = []
    specs = {1: (later, [], [], ""),
             2: (T0, [(2.0, "rest"), (16.0, "sync")], [(10.0, "sync"), (40.0, "sync")],
                 'align = "event"\nevent = "sync"\n'),
             3: (T0, [], [], 'align = "offset"\noffset = 6.0\n'),
             4: (T0, [], [], "")}
    for k, (patient_start, t_events, p_events, align) in specs.items():
        _person(source_raw, 0, 750, T0, t_events, rec / f"ses-{k}_therapist.snirf")
        _person(source_raw, 60, None, patient_start, p_events, rec / f"ses-{k}_patient.snirf")
        sessions.append(f"[[sessions]]\ndyad = \"D01\"\nsession = {k}\n"
                        f"therapist = \"recordings/ses-{k}_therapist.snirf\"\n"
                        f"patient = \"recordings/ses-{k}_patient.snirf\"\n{align}")
    _study_toml(root, sessions)
    return _run(root, root / "results")


def test_pipeline_aligns_by_start_time_event_and_offset(aligned_study):
    sync = pd.read_parquet(aligned_study / "synchrony.parquet")
    qc = pd.read_parquet(aligned_study / "qc.parquet")
    assert (sync["metric"] == "pearson").all()
    real = sync[sync["pairing"] == "real"]       # (familiarity pairings: other sessions)
    values = {k: rows.sort_values(["signal", "pair"])["value"].to_numpy()
              for k, rows in real.groupby("session")}
    # the three ways of aligning give the same common part, hence the same values
    assert len(values[1]) == 2 * 4   # hbo, hbr x 4 channels
    np.testing.assert_array_equal(values[2], values[1])
    np.testing.assert_array_equal(values[3], values[1])
    # the same samples on both sides: correlation near 1 (the two files differ only in
    # where preprocessing's filters start); misaligned by 6 s, it is lost
    assert values[1].min() > 0.9 and values[1].mean() > 0.97
    assert values[4].mean() < 0.3
    np.testing.assert_allclose(qc.loc[qc["role"] == "therapist", "duration_s"], 75.0)
    np.testing.assert_allclose(qc.loc[qc["role"] == "patient", "duration_s"], 84.0)


def test_pipeline_resamples_an_integer_ratio(source_raw, tmp_path):
    """A 10 Hz therapist and a 5 Hz patient recording: analysed at 5 Hz."""
    rec = tmp_path / "recordings"
    rec.mkdir()
    _person(source_raw, 0, 750, T0, [], rec / "t.snirf")
    raw5 = source_raw.copy().resample(5.0, verbose="ERROR")
    _person(raw5, 30, None, T0 + timedelta(seconds=6), [], rec / "p.snirf")
    _study_toml(tmp_path, ["[[sessions]]\ndyad = \"D01\"\nsession = 1\n"
                           "therapist = \"recordings/t.snirf\"\npatient = \"recordings/p.snirf\"\n"])
    out = _run(tmp_path, tmp_path / "results")
    qc = pd.read_parquet(out / "qc.parquet")
    assert sorted(set(qc["sfreq"].round(6))) == [5.0, 10.0]
    sync = pd.read_parquet(out / "synchrony.parquet")
    assert len(sync) == 8 and sync["value"].min() > 0.95
    # the resampling is on record with the therapist's chain; the patient's has none
    chain = json.loads((out / "preprocessing.json").read_text())["recordings"]
    assert chain["recordings/t.snirf"][-1] == {
        "step": "resample", "function": "scipy.signal.resample_poly",
        "from_hz": pytest.approx(10.0), "to_hz": pytest.approx(5.0), "factor": 2}
    assert all(step["step"] != "resample" for step in chain["recordings/p.snirf"])


def test_pipeline_one_file_dyad(tmp_path):
    sim = simulate_recording(seed=5, minutes=1, n_channels=8, n_bad=0, motion=False)
    (tmp_path / "recordings").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = write_snirf(sim.raw, tmp_path / "recordings" / "dyad.snirf")
    names = list(dict.fromkeys(ch.split(" ")[0] for ch in read_recording(path).ch_names))
    assert len(names) == 8   # (the SNIRF writer numbers sources and detectors anew)
    t_chan, p_chan = names[:4], names[4:]
    _study_toml(tmp_path, [
        "[[sessions]]\ndyad = \"D01\"\nsession = 1\nrecording = \"recordings/dyad.snirf\"\n"
        f"channels = {{ therapist = {json.dumps(t_chan)}, patient = {json.dumps(p_chan)} }}\n"])
    out = _run(tmp_path, tmp_path / "results")
    qc = pd.read_parquet(out / "qc.parquet")
    assert len(qc) == 8
    for role in ("therapist", "patient"):
        rows = qc[qc["role"] == role]
        assert rows["channel"].tolist() == t_chan   # the patient's take the therapist's names
        assert set(rows["file"]) == {"recordings/dyad.snirf"}
    sync = pd.read_parquet(out / "synchrony.parquet")
    assert sorted(set(sync["pair"])) == sorted(t_chan)
    # the applied chain of each person, under the file's name and the role
    chain = json.loads((out / "preprocessing.json").read_text())["recordings"]
    assert set(chain) == {"recordings/dyad.snirf#therapist", "recordings/dyad.snirf#patient"}
    steps = [s["step"] for s in chain["recordings/dyad.snirf#patient"]]
    assert steps[:3] == ["input", "optical_density", "quality_control"]
    assert {"motion_correction", "beer_lambert_law", "band_pass"} <= set(steps)
    html = (out / "report.html").read_text()
    assert "Quality control" in html and "recordings/dyad.snirf" in html


def test_pipeline_event_alignment_error_names_the_file(source_raw, tmp_path):
    rec = tmp_path / "recordings"
    rec.mkdir()
    _person(source_raw, 0, 750, T0, [(5.0, "sync")], rec / "t.snirf")
    _person(source_raw, 60, None, T0, [(1.0, "start")], rec / "p.snirf")
    _study_toml(tmp_path, ["[[sessions]]\ndyad = \"D01\"\nsession = 1\n"
                           "therapist = \"recordings/t.snirf\"\npatient = \"recordings/p.snirf\"\n"
                           "align = \"event\"\nevent = \"sync\"\n"])
    out = tmp_path / "results"
    result = CliRunner().invoke(main, ["run", "--no-figures", str(tmp_path), "--out", str(out), "--quiet",
                                       "--workers", "1"])
    assert result.exit_code != 0
    assert re.search(r"p\.snirf: no event 'sync', needed to align it with \S*t\.snirf "
                     r"\(events in the file: start\)", result.output), result.output
    assert not (out / "synchrony.parquet").exists()
