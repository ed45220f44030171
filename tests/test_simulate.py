"""Tests of interbrain.simulate: the simulated study folder and its signals."""

from __future__ import annotations

import csv
import datetime as dt
import json
import tomllib
from pathlib import Path

import mne
import numpy as np
import pytest
from mne.preprocessing.nirs import (beer_lambert_law, optical_density,
                                    scalp_coupling_index,
                                    temporal_derivative_distribution_repair)
from scipy.signal import butter, sosfiltfilt

from interbrain.simulate import (prefrontal_montage, simulate_recording, simulate_study,
                                 write_snirf)
from interbrain.simulate import folder as study_module
from interbrain.study import load_study
from interbrain.simulate.signals import (band_limited_noise, coupling_strength,
                                         mix_coupled)

SMALL = dict(n_dyads=3, n_sessions=2, minutes=2.0, n_therapists=2, seed=7)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _read(path: Path) -> mne.io.BaseRaw:
    return mne.io.read_raw_snirf(path, preload=True, verbose="ERROR")


@pytest.fixture(scope="module")
def small_study(tmp_path_factory) -> Path:
    return simulate_study(tmp_path_factory.mktemp("sim") / "study", **SMALL)


@pytest.fixture(scope="module")
def coupling_studies(tmp_path_factory) -> dict[float, Path]:
    """Two 10-minute studies, same seed, with and without coupling."""
    base = tmp_path_factory.mktemp("coupling")
    return {effect: simulate_study(base / f"effect{effect}", n_dyads=3, n_sessions=2,
                                   minutes=10.0, effect=effect, seed=3)
            for effect in (0.0, 1.0)}


# ---------------------------------------------------------------------------
# Montage
# ---------------------------------------------------------------------------

def test_montage_geometry():
    m = prefrontal_montage()
    assert m.n_channels == 20
    assert m.channels[0] == "S1_D1"
    assert len(set(m.sources)) == 8 and len(set(m.detectors)) == 8
    assert len(set(m.channels)) == 20
    d = m.distances()
    assert np.all((d > 0.027) & (d < 0.033)), d
    # head coordinates in metres: forehead is in front (+y) and above the ear plane
    mid = m.midpoints()
    assert np.all(mid[:, 1] > 0.05) and np.all(mid[:, 2] > 0.02)
    assert np.all(np.abs(mid) < 0.15)
    # mirror symmetry: every channel has a homologue at -x
    for p in mid:
        mirrored = p * np.array([-1, 1, 1])
        assert np.min(np.linalg.norm(mid - mirrored, axis=1)) < 1e-9
    assert set(m.regions.values()) == {"left_dlpfc", "left_fpc", "medial_pfc",
                                       "right_fpc", "right_dlpfc"}
    assert m.regions["S1_D1"] == "left_dlpfc" and m.regions["S8_D8"] == "right_dlpfc"
    assert m.channel_names()[:3] == ["S1_D1 760", "S1_D1 850", "S1_D2 760"]
    sub = prefrontal_montage(6)
    assert sub.n_channels == 6 and set(sub.channels) <= set(m.channels)
    assert list(sub.channels) == [c for c in m.channels if c in sub.channels]
    with pytest.raises(ValueError, match="n_channels"):
        prefrontal_montage(21)


# ---------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------

def test_band_limited_noise_stays_in_band():
    rng = np.random.default_rng(0)
    x = band_limited_noise(rng, 6000, 10.0, 1 / 40, 1 / 10, size=(3,))
    assert x.shape == (3, 6000)
    np.testing.assert_allclose(x.std(axis=1), 1.0)
    f = np.fft.rfftfreq(6000, 0.1)
    power = np.abs(np.fft.rfft(x, axis=1)) ** 2
    inside = (f >= 1 / 45) & (f <= 1 / 9)
    assert power[:, inside].sum() / power.sum() > 0.95


def test_coupling_strength_and_mixing():
    c = coupling_strength(1.0, np.array([0.45, 0.3]), np.zeros((2, 3)))
    np.testing.assert_allclose(c, [[0.15, 0.375, 0.6], [0.15, 0.3, 0.45]])
    assert np.all(coupling_strength(0.0, np.array([0.45]), np.ones((1, 4))) == 0)
    assert coupling_strength(5.0, np.array([0.45]), np.zeros((1, 2))).max() == 0.9
    rng = np.random.default_rng(1)
    s = band_limited_noise(rng, 20000, 10.0, 1 / 40, 1 / 10)
    own = band_limited_noise(rng, 20000, 10.0, 1 / 40, 1 / 10, size=(2,))
    a, b = mix_coupled(s, own, 0.5)
    assert abs(np.corrcoef(a, b)[0, 1] - 0.5) < 0.1


# ---------------------------------------------------------------------------
# Arguments and folder handling
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(minutes=0), "minutes"),
    (dict(minutes=51), "minutes"),
    (dict(n_dyads=1), "n_dyads"),
    (dict(n_sessions=1), "n_sessions"),
    (dict(n_dyads=2.5), "n_dyads"),
    (dict(n_channels=3), "n_channels"),
    (dict(n_channels=21), "n_channels"),
    (dict(n_therapists=0), "n_therapists"),
    (dict(n_dyads=2, n_therapists=3), "n_therapists"),
    (dict(effect=-0.1), "effect"),
    (dict(effect=float("nan")), "effect"),
    (dict(band=(40.0, 10.0)), "band"),
    (dict(band=(1.0, 10.0)), "band"),
    (dict(band=(10.0,)), "band"),
    (dict(minutes=1.0, band=(10.0, 40.0)), "longest period"),
    (dict(sfreq=2.0), "sfreq"),
    (dict(seed=-1), "seed"),
    (dict(seed=1.5), "seed"),
])
def test_invalid_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_study(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_target_folder_rules(tmp_path, small_study):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        simulate_study(foreign, **SMALL)
    with pytest.raises(ValueError, match="refusing"):
        simulate_study(foreign, overwrite=True, **SMALL)
    assert (foreign / "notes.txt").read_text() == "keep me"
    # an empty folder is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    small = dict(SMALL, n_dyads=2, n_channels=4)
    assert simulate_study(empty, **small) == empty
    assert (empty / "study.toml").exists()
    # a simulated study is replaced with overwrite=True, and only then
    with pytest.raises(ValueError, match="not empty"):
        simulate_study(empty, **small)
    (empty / "recordings" / "stale.snirf").write_bytes(b"x")
    simulate_study(empty, overwrite=True, **dict(small, seed=8))
    assert not (empty / "recordings" / "stale.snirf").exists()
    assert "seed 8" in (empty / "study.toml").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "foreign"]


def test_no_half_written_study_on_error(tmp_path, monkeypatch):
    calls = []
    original = study_module.write_snirf

    def failing(raw, path):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        return original(raw, path)

    monkeypatch.setattr(study_module, "write_snirf", failing)
    with pytest.raises(OSError, match="disk full"):
        simulate_study(tmp_path / "out", **SMALL)
    assert list(tmp_path.iterdir()) == []  # neither the study nor a staging folder


# ---------------------------------------------------------------------------
# The study folder
# ---------------------------------------------------------------------------

def test_study_layout(small_study):
    root = small_study
    assert sorted(p.name for p in root.iterdir()) == [
        "ground_truth.json", "measures.csv", "recordings", "study.toml"]
    names = sorted(p.name for p in (root / "recordings").iterdir())
    assert names == sorted(f"D0{d}_ses-0{k}_{r}.snirf" for d in (1, 2, 3) for k in (1, 2)
                           for r in ("therapist", "patient"))
    doc = tomllib.loads((root / "study.toml").read_text())
    assert doc["study"]["name"] == "Simulated psychotherapy hyperscanning study"
    assert doc["study"]["description"] == "Written by interbrain simulate (seed 7, effect 1.0)"
    assert doc["analysis"] == {"band": [10.0, 40.0], "signals": ["hbo", "hbr"],
                               "pairs": "homologous", "exclude_coi": True,
                               "pseudo_dyads": True}
    assert doc["preprocessing"] == {"sci_threshold": 0.7, "motion_correction": "tddr",
                                    "ppf": 6.0, "l_freq": 0.01, "h_freq": 0.5}
    assert list(doc["regions"]) == list(prefrontal_montage().channels)
    assert doc["dyads"] == [{"id": "D01", "therapist": "T01", "patient": "P01"},
                            {"id": "D02", "therapist": "T02", "patient": "P02"},
                            {"id": "D03", "therapist": "T01", "patient": "P03"}]
    assert doc["sessions"][1] == {"dyad": "D01", "session": 2,
                                  "therapist": "recordings/D01_ses-02_therapist.snirf",
                                  "patient": "recordings/D01_ses-02_patient.snirf"}
    assert len(doc["sessions"]) == 6
    with open(root / "measures.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["dyad", "session", "symptoms", "wellbeing",
                             "session_quality", "alliance"]
    assert [(r["dyad"], r["session"]) for r in rows] == [
        (f"D0{d}", str(k)) for d in (1, 2, 3) for k in (1, 2)]
    truth = json.loads((root / "ground_truth.json").read_text())
    assert truth["seed"] == 7 and truth["arguments"]["n_therapists"] == 2
    assert truth["therapists"] == {"D01": "T01", "D02": "T02", "D03": "T01"}
    assert set(truth["coupling"]) == {"D01", "D02", "D03"}
    assert all(len(v) == 2 and all(0 <= c <= 0.9 for c in v)
               for v in truth["coupling"].values())
    assert truth["measures"]["coefficients"]["alliance"]["coupling"] == 0.0
    rec = truth["recordings"]["recordings/D02_ses-01_patient.snirf"]
    assert 1 <= len(rec["bad_channels"]) <= 3
    assert rec["motion_events"] and all(ev["channels"] for ev in rec["motion_events"])
    assert truth["interbrain_version"]


def test_loader_reads_study(small_study):
    from interbrain.study import load_study

    study = load_study(small_study)
    assert [d.therapist for d in study.dyads] == ["T01", "T02", "T01"]
    assert len(study.sessions) == 6
    assert study.measures.shape == (6, 6)
    assert study.regions["S1_D1"] == "left_dlpfc"


def test_snirf_round_trip(small_study):
    montage = prefrontal_montage()
    rec = simulate_recording(seed=5, minutes=2.0, subject="P09",
                             meas_date=dt.datetime(2026, 1, 12, 9, tzinfo=dt.timezone.utc))
    path = write_snirf(rec.raw, small_study.parent / "one.snirf")
    raw = _read(path)
    assert raw.ch_names == montage.channel_names()
    assert raw.info["sfreq"] == 10.0
    assert set(raw.get_channel_types()) == {"fnirs_cw_amplitude"}
    np.testing.assert_allclose(raw.get_data(), rec.raw.get_data(), rtol=1e-6)
    assert raw.info["meas_date"] == dt.datetime(2026, 1, 12, 9, tzinfo=dt.timezone.utc)
    assert raw.info["subject_info"]["his_id"] == "P09"
    for a, b in zip(rec.raw.info["chs"], raw.info["chs"]):
        np.testing.assert_allclose(a["loc"][:10], b["loc"][:10], atol=1e-12)
    src = np.array([ch["loc"][3:6] for ch in raw.info["chs"][::2]])
    np.testing.assert_allclose(src, montage.source_positions(), atol=1e-12)
    np.testing.assert_allclose(mne.preprocessing.nirs.source_detector_distances(raw.info),
                               np.repeat(montage.distances(), 2), atol=1e-12)
    # a study file: same session date for both partners, subject ids
    t = _read(small_study / "recordings" / "D02_ses-02_therapist.snirf")
    p = _read(small_study / "recordings" / "D02_ses-02_patient.snirf")
    assert t.info["meas_date"] == p.info["meas_date"] == dt.datetime(
        2026, 1, 13, 9, tzinfo=dt.timezone.utc)
    assert t.info["subject_info"]["his_id"] == "T02"
    assert p.info["subject_info"]["his_id"] == "P02"
    assert t.n_times == 1200


def test_beer_lambert_round_trip(tmp_path):
    """SNIRF -> optical_density -> beer_lambert_law(ppf=6) recovers planted HbO/HbR."""
    rec = simulate_recording(seed=11, minutes=3.0)
    raw = _read(write_snirf(rec.raw, tmp_path / "rec.snirf"))
    hb = beer_lambert_law(optical_density(raw, verbose="ERROR"), ppf=6.0)
    assert len(rec.clean_channels) >= 3
    corr = {"hbo": [], "hbr": []}
    for ch in rec.clean_channels:
        i = rec.channels.index(ch)
        for kind, planted in (("hbo", rec.hbo[i]), ("hbr", rec.hbr[i])):
            got = hb.get_data(picks=[f"{ch} {kind}"])[0]
            corr[kind].append(np.corrcoef(got, planted)[0, 1])
            # same scale: the difference is a constant plus sensor noise
            assert np.std(got - planted) < 0.2 * np.std(planted)
    for kind in corr:
        assert np.median(corr[kind]) > 0.99, corr[kind]
        assert min(corr[kind]) > 0.97, corr[kind]
    assert np.std(rec.hbo[rec.channels.index(rec.clean_channels[0])]) > 1e-7  # ~1e-7-1e-6 M


def test_scalp_coupling_index_separates_bad_channels(small_study):
    truth = json.loads((small_study / "ground_truth.json").read_text())
    good, bad = [], []
    for rel, info in truth["recordings"].items():
        od = optical_density(_read(small_study / rel), verbose="ERROR")
        sci = scalp_coupling_index(od, l_freq=0.7, h_freq=1.5, verbose="ERROR")
        for k, name in enumerate(od.ch_names[::2]):
            ch = name.split(" ")[0]
            value = min(sci[2 * k], sci[2 * k + 1])
            (bad if ch in info["bad_channels"] else good).append(value)
    assert len(bad) >= 12
    assert max(bad) < 0.7
    assert np.mean(np.array(good) > 0.7) > 0.9


# ---------------------------------------------------------------------------
# Reproducibility
# ---------------------------------------------------------------------------

def test_same_arguments_same_files(tmp_path, small_study):
    again = simulate_study(tmp_path / "again", **SMALL)
    first, second = _files(small_study), _files(again)
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], name  # SNIRF files byte-identical too
    other = simulate_study(tmp_path / "other", **dict(SMALL, seed=8))
    assert _files(other)["measures.csv"] != first["measures.csv"]


def test_streams_do_not_depend_on_study_size(tmp_path):
    kw = dict(n_sessions=2, minutes=2.0, n_channels=8, seed=4)
    two = _files(simulate_study(tmp_path / "two", n_dyads=2, **kw))
    three = _files(simulate_study(tmp_path / "three", n_dyads=3, **kw))
    for name in two:
        if name.startswith("recordings/"):
            assert two[name] == three[name], name
    t2 = json.loads(two["ground_truth.json"])
    t3 = json.loads(three["ground_truth.json"])
    assert t2["coupling"]["D02"] == t3["coupling"]["D02"]


# ---------------------------------------------------------------------------
# Planted effects
# ---------------------------------------------------------------------------

def _band_hbo(path: Path) -> tuple[list[str], np.ndarray]:
    od = optical_density(_read(path), verbose="ERROR")
    od = temporal_derivative_distribution_repair(od, verbose="ERROR")
    hb = beer_lambert_law(od, ppf=6.0)
    hbo = hb.get_data(picks="hbo")
    sos = butter(4, [1 / 40, 1 / 10], btype="bandpass", fs=hb.info["sfreq"], output="sos")
    return [c.split(" ")[0] for c in hb.ch_names[::2]], sosfiltfilt(sos, hbo, axis=1)


def _partner_correlation(root: Path, dyad: str, session: int) -> float:
    truth = json.loads((root / "ground_truth.json").read_text())
    out = {}
    for role in ("therapist", "patient"):
        rel = f"recordings/{dyad}_ses-{session:02d}_{role}.snirf"
        names, data = _band_hbo(root / rel)
        out[role] = (data, set(truth["recordings"][rel]["bad_channels"]))
    keep = [i for i, ch in enumerate(names)
            if ch not in out["therapist"][1] | out["patient"][1]]
    r = [np.corrcoef(out["therapist"][0][i], out["patient"][0][i])[0, 1] for i in keep]
    return float(np.mean(r))


def test_coupling_recoverable_from_band_passed_hbo(coupling_studies):
    coupled, uncoupled = coupling_studies[1.0], coupling_studies[0.0]
    truth = json.loads((coupled / "ground_truth.json").read_text())
    assert all(c == 0 for v in json.loads(
        (uncoupled / "ground_truth.json").read_text())["coupling"].values() for c in v)
    high = [_partner_correlation(coupled, d, 2) for d in ("D01", "D02", "D03")]
    zero = [_partner_correlation(uncoupled, d, k) for d in ("D01", "D02", "D03")
            for k in (1, 2)]
    c_last = [truth["coupling"][d][1] for d in ("D01", "D02", "D03")]
    assert min(c_last) > 0.4
    assert np.mean(high) > 0.3, high
    assert abs(np.mean(zero)) < 0.1, zero
    assert np.mean(high) > np.mean(zero) + 0.25
    # coupling rises from session 1 to 2 and so does the partner correlation
    low = [_partner_correlation(coupled, d, 1) for d in ("D01", "D02", "D03")]
    assert np.mean(high) > np.mean(low)


def test_measures_follow_coupling(tmp_path):
    root = simulate_study(tmp_path / "m", n_dyads=8, n_sessions=6, minutes=2.0,
                          n_channels=4, seed=0)
    truth = json.loads((root / "ground_truth.json").read_text())
    with open(root / "measures.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 48
    c = np.array([truth["coupling"][r["dyad"]][int(r["session"]) - 1] for r in rows])
    session = np.array([int(r["session"]) for r in rows], float)
    dyad = np.array([r["dyad"] for r in rows])
    # coupling rises over sessions on average (positive slopes)
    assert c[session == 6].mean() > c[session == 1].mean() + 0.2

    def within(x):  # remove dyad means (dyad random intercepts)
        x = np.asarray(x, float)
        return x - np.array([x[dyad == d].mean() for d in dyad])

    design = np.column_stack([within(c), within(session)])
    coefs = {}
    for m in ("symptoms", "wellbeing", "session_quality", "alliance"):
        y = within([float(r[m]) for r in rows])
        coefs[m] = np.linalg.lstsq(design, y, rcond=None)[0][0]
    model = truth["measures"]["coefficients"]
    assert coefs["symptoms"] < -10 and model["symptoms"]["coupling"] < 0
    assert coefs["wellbeing"] > 3 and coefs["session_quality"] > 1
    assert abs(coefs["alliance"]) < 2
    symptoms_1 = np.mean([float(r["symptoms"]) for r in rows if r["session"] == "1"])
    assert 35 < symptoms_1 < 45


@pytest.mark.parametrize("n_channels", [4, 7, 20])
def test_regions_name_the_channels_of_the_recordings(n_channels, tmp_path):
    """[regions] of a simulated study names channels as the SNIRF files have them
    (a file renumbers the optodes of a montage subset)."""
    import mne

    study = simulate_study(tmp_path / "s", n_dyads=2, n_sessions=2, minutes=1,
                           band=(5.0, 15.0), n_channels=n_channels, seed=1)
    regions = load_study(study).regions
    raw = mne.io.read_raw_snirf(study / "recordings" / "D01_ses-01_patient.snirf",
                                verbose=False)
    channels = {name.split()[0] for name in raw.ch_names}
    assert set(regions) == channels
