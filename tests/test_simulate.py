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
from interbrain.simulate import pair as study_module  # writes the SNIRF files
from interbrain.study import load_study
from interbrain.simulate.signals import (band_limited_noise, coupling_strength,
                                         mix_coupled)

SMALL = dict(n_dyads=3, n_sessions=2, minutes=2.0, n_therapists=2, seed=7, preset="demo")


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
                                   minutes=10.0, effect=effect, seed=3, preset="demo")
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

    def failing(raw, path, **kwargs):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        return original(raw, path, **kwargs)

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
                          n_channels=4, seed=0, preset="demo")
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
                           band=(5.0, 15.0), n_channels=n_channels, seed=1, preset="demo")
    regions = load_study(study).regions
    raw = mne.io.read_raw_snirf(study / "recordings" / "D01_ses-01_patient.snirf",
                                verbose=False)
    channels = {name.split()[0] for name in raw.ch_names}
    assert set(regions) == channels


# ---------------------------------------------------------------------------
# Realism: presets, regional lagged coupling, short channels, aux, confounds,
# sparse scanning, generalisation (issue 16)
# ---------------------------------------------------------------------------

TINY_FIELD = dict(n_dyads=2, n_sessions=2, minutes=1, band=(5.0, 15.0), n_channels=4,
                  n_therapists=2, seed=3)


@pytest.fixture(scope="module")
def field_study(tmp_path_factory) -> Path:
    """The default (field) preset with every confound and generalisation recordings."""
    return simulate_study(tmp_path_factory.mktemp("field") / "study", **TINY_FIELD,
                          confounds=["paced_breathing", "speech", "shared_motion"],
                          generalisation=True)


def _truth(root: Path) -> dict:
    return json.loads((root / "ground_truth.json").read_text())


def test_demo_preset_writes_the_original_study(tmp_path):
    """Same seed and arguments: the numbers of the simulator before presets existed."""
    import hashlib

    root = simulate_study(tmp_path / "d", n_dyads=2, n_sessions=2, minutes=1,
                          band=(5.0, 15.0), n_channels=4, seed=1, preset="demo")
    truth = _truth(root)
    assert truth["coupling"] == {"D01": [0.102754, 0.61004], "D02": [0.187927, 0.606697]}
    digest = hashlib.sha256((root / "measures.csv").read_bytes()).hexdigest()
    assert digest == "12ccf562742e4a2ee102ac29404acdc8a18aa3a46f33be5099405e02c4c722c2"
    assert truth["preset"] == "demo" and truth["coupling_model"]["regions"] == "all"
    assert "short_channels" not in truth and "aux" not in truth
    raw = _read(root / "recordings" / "D01_ses-01_patient.snirf")
    assert len(raw.ch_names) == 8


def test_field_preset_has_small_planted_effects(tmp_path):
    """Planted coupling and its growth of the default preset are a fraction of the
    demo's (same seed); measured effect sizes: see the report of issue 16."""
    kw = dict(n_dyads=6, n_sessions=3, minutes=1, band=(5.0, 15.0), n_channels=4, seed=2,
              short_channels=False, aux=False)
    demo = _truth(simulate_study(tmp_path / "demo", preset="demo", **kw))
    field = _truth(simulate_study(tmp_path / "field", **kw))
    c_demo = np.array(list(demo["coupling"].values()))
    c_field = np.array(list(field["coupling"].values()))
    assert c_field.mean() < 0.6 * c_demo.mean()
    growth = {name: np.mean(c[:, -1] - c[:, 0]) for name, c in
              (("demo", c_demo), ("field", c_field))}
    assert growth["demo"] > 0.3 and abs(growth["field"]) < 0.25 * growth["demo"]
    assert field["coupling_model"]["slope_mean"] < demo["coupling_model"]["slope_mean"] / 4
    assert field["preset"] == "field" and field["coupling_model"]["therapist_slope_sd"] > 0


def test_every_planted_component_is_recorded(field_study):
    truth = _truth(field_study)
    opts = truth["options"]
    assert opts["short_channels"] and opts["aux"] and opts["generalisation"]
    assert opts["confounds"] == ["paced_breathing", "speech", "shared_motion"]
    assert set(truth["therapist_growth"]) == {"T01", "T02"}
    for d in truth["dyads"].values():
        assert 1.0 <= d["lag_s"] <= 3.0 and d["leader"] in ("therapist", "patient")
    assert truth["coupling_model"]["regions"] == ["medial_pfc", "right_dlpfc"]
    assert set(truth["confounds"]) == set(opts["confounds"])
    session = truth["sessions"][0]
    plan = session["confounds"]
    assert plan["paced_breathing"]["rate_hz"] == 0.1 and plan["speech"] and plan["shared_motion"]
    rec = truth["recordings"][session["patient"]]
    assert rec["short_channels"] and rec["aux"] and "speech_gain" in rec
    assert any(ev["shared"] for ev in rec["motion_events"])
    assert len(truth["generalisation"]["recordings"]) == 4


def test_aux_signals_read_back_with_mne_nirs(field_study):
    from mne_nirs.io.snirf import read_snirf_aux_data

    from interbrain.simulate import AUX_CHANNELS

    truth = _truth(field_study)
    session = truth["sessions"][0]
    aux = {}
    for role in ("therapist", "patient"):
        path = field_study / session[role]
        raw = _read(path)
        aux[role] = read_snirf_aux_data(str(path), raw)
        assert list(aux[role].columns) == list(AUX_CHANNELS)
        assert len(aux[role]) == raw.n_times
        assert 40 < aux[role]["heart_rate"].mean() < 100
        assert abs(aux[role]["accel_z"].mean() - 1.0) < 0.1
    # paced breathing: both belts follow the same pacer
    r = np.corrcoef(aux["therapist"]["respiration"], aux["patient"]["respiration"])[0, 1]
    assert r > 0.7, r
    # shared motion bursts: both accelerometers move at every shared onset
    t = aux["patient"].index.to_numpy()
    for role in ("therapist", "patient"):
        acc = aux[role][["accel_x", "accel_y", "accel_z"]].to_numpy()
        jolt = np.linalg.norm(acc - np.median(acc, axis=0), axis=1)
        for onset in session["confounds"]["shared_motion"]:
            near = (t >= onset) & (t <= onset + 1.0)
            assert jolt[near].max() > 5 * np.median(jolt), (role, onset)


def test_short_channels_in_files_and_regressed(field_study):
    from interbrain.preprocessing.chain import preprocess_recording
    from interbrain.preprocessing.settings import PreprocessingSettings

    truth = _truth(field_study)
    short = truth["short_channels"]
    assert short["source_detector_distance_m"] == [0.008] * len(short["channels"])
    assert set(short["regions"].values()) == {"medial_pfc"}
    path = field_study / truth["sessions"][0]["therapist"]
    raw = _read(path)
    dist = dict(zip([c.split()[0] for c in raw.ch_names],
                    mne.preprocessing.nirs.source_detector_distances(raw.info)))
    for name in short["names_in_file"]:
        assert abs(dist[name] - 0.008) < 1e-9
    assert all(d > 0.02 for c, d in dist.items() if c not in short["names_in_file"])
    # [regions] names the long channels as the file does
    regions = load_study(field_study).regions
    assert set(regions) == set(dist) - set(short["names_in_file"])
    pre = preprocess_recording(raw, PreprocessingSettings(), source=str(path))
    step = next(s for s in pre.steps if s["step"] == "short_channel_regression")
    assert not step.get("skipped") and step["used_short_channels"]
    assert set(pre.channels) == set(regions)


@pytest.mark.parametrize("leader", ["therapist", "patient"])
def test_lagged_coupling_leader_first(tmp_path, leader):
    from interbrain.simulate import planted_coupling

    root = simulate_study(tmp_path / "s", n_dyads=2, n_sessions=2, minutes=1,
                          band=(5.0, 15.0), n_channels=8, seed=4, lag=1.5, leader=leader,
                          coupling_regions=["medial_pfc"], short_channels=False, aux=False)
    truth = _truth(root)
    assert truth["coupling_model"]["channels"] == [
        ch for ch in prefrontal_montage(8).channels
        if prefrontal_montage(8).regions[ch] == "medial_pfc"]
    comp = planted_coupling(root, "D02", 2)
    assert comp["leader"] == leader and comp["lag_s"] == 1.5
    follower = "patient" if leader == "therapist" else "therapist"
    a, b = comp[leader], comp[follower]
    lags = np.arange(-40, 41)       # samples at 10 Hz: +-4 s
    n = a.size
    xcorr = [np.corrcoef(a[max(0, -k):n - max(0, k)], b[max(0, k):n - max(0, -k)])[0, 1]
             for k in lags]         # k > 0: the follower later
    assert lags[int(np.argmax(xcorr))] == 15
    assert max(xcorr) > 0.99


def test_sparse_scanning_drops_sessions(tmp_path):
    root = simulate_study(tmp_path / "s", n_dyads=2, n_sessions=4, minutes=1,
                          band=(5.0, 15.0), n_channels=4, seed=5, missing_sessions=0.5,
                          short_channels=False, aux=False)
    truth = _truth(root)
    study = load_study(root)
    assert len(study.sessions) == 4 and len(study.measures) == 4
    for dyad, missing in truth["missing_sessions"].items():
        assert len(missing) == 2 and 1 not in missing
        scanned = {s.session for s in study.sessions if s.dyad == dyad}
        assert scanned.isdisjoint(missing) and len(scanned) == 2
    assert len(list((root / "recordings").iterdir())) == 8


def test_generalisation_entries_load(field_study):
    study = load_study(field_study)
    entries = sorted(study.generalisation, key=lambda g: (g.dyad, g.phase))
    assert [(g.dyad, g.phase, g.partner) for g in entries] == [
        ("D01", "post", "F01"), ("D01", "pre", "F01"), ("D02", "post", "F02"),
        ("D02", "pre", "F02")]
    assert {g.task for g in entries} == {"conversation"}
    assert {g.partner_kind for g in entries} == {"friend"}
    for g in entries:
        assert g.patient.path.exists() and g.other.path.exists()
    truth = _truth(field_study)["generalisation"]
    assert truth["transfer"] == 0.5
    assert all(0 <= r["coupling"] <= 0.9 for r in truth["recordings"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(preset="huge"), "preset"),
    (dict(coupling_regions=["nowhere"]), "coupling_regions"),
    (dict(coupling_regions=["left_dlpfc"], n_channels=4), "no channel"),
    (dict(lag=(3.0, 1.0)), "lag"),
    (dict(leader="both"), "leader"),
    (dict(confounds=["coffee"]), "confounds"),
    (dict(missing_sessions=1.0), "missing_sessions"),
    (dict(short_channels="yes"), "short_channels"),
])
def test_invalid_realism_options(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_study(tmp_path / "out", **{**TINY_FIELD, **kwargs})
    assert not (tmp_path / "out").exists()
