"""Quality control, motion correction, the preprocessing chain and channel regions."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import mne
import numpy as np
import pytest

from interbrain.errors import RecordingError
from interbrain.io import read_recording
from interbrain.preprocessing import (Preprocessed, PreprocessingSettings, channel_positions,
                                      channel_quality, detect_motion, global_signal_regression,
                                      input_kind, preprocess_recording, regions_from_montage,
                                      resolve_regions, spline_correction, wavelet_correction)
from interbrain.simulate import simulate_recording, write_snirf

REAL = Path(__file__).resolve().parents[1] / "examples" / "real-dyad" / "data"
SETTINGS = PreprocessingSettings()

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def child() -> mne.io.BaseRaw:
    return read_recording(REAL / "child")


@pytest.fixture(scope="module")
def parent() -> mne.io.BaseRaw:
    return read_recording(REAL / "parent")


@pytest.fixture(scope="module")
def child_rec(child) -> Preprocessed:
    return preprocess_recording(child, SETTINGS, source="child")


@pytest.fixture(scope="module")
def sim():
    return simulate_recording(seed=3, minutes=3)


def _set_pair(raw: mne.io.BaseRaw, pair: str, values) -> mne.io.BaseRaw:
    raw = raw.copy()
    for i, ch in enumerate(raw.ch_names):
        if ch.split(" ")[0] == pair:
            raw._data[i] = values(raw._data[i])
    return raw


# ---------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------

def test_default_settings_validate():
    assert SETTINGS.validate() is SETTINGS
    assert SETTINGS.motion_correction == "tddr" and SETTINGS.short_channel_regression
    assert not SETTINGS.global_signal_removal and SETTINGS.filter_preprocessed


@pytest.mark.parametrize("change, field", [
    ({"sci_threshold": 1.5}, "sci_threshold"),
    ({"psp_threshold": -0.1}, "psp_threshold"),
    ({"psp_window": 0.0}, "psp_window"),
    ({"max_motion_fraction": 2.0}, "max_motion_fraction"),
    ({"motion_t_motion": 0.0}, "motion_t_motion"),
    ({"motion_std_thresh": -1.0}, "motion_std_thresh"),
    ({"motion_amp_thresh": 0.0}, "motion_amp_thresh"),
    ({"max_saturated_fraction": 0.0}, "max_saturated_fraction"),
    ({"cardiac_band": (1.5, 0.7)}, "cardiac_band"),
    ({"cardiac_band": ("a", 1.5)}, "cardiac_band"),
    ({"motion_correction": "pca"}, "motion_correction"),
    ({"spline_p": 0.0}, "spline_p"),
    ({"motion_correction": "wavelet", "wavelet_name": "nope"}, "wavelet_name"),
    ({"short_channel_max_distance": 15.0}, "short_channel_max_distance"),
    ({"ppf": 0.0}, "ppf"),
    ({"l_freq": 0.6}, "l_freq"),
    ({"l_freq": float("nan")}, "l_freq"),
])
def test_invalid_settings_name_the_field(change, field, require):
    if change.get("motion_correction") == "wavelet":
        require("pywt")
    with pytest.raises(ValueError, match=field):
        replace(SETTINGS, **change).validate()


def test_settings_fields_are_toml_types():
    """Every field's default is bool, float, str or tuple (what study.toml can set)."""
    for name, value in vars(SETTINGS).items():
        assert isinstance(value, (bool, float, str, tuple)), name


def test_study_format_documents_every_setting_with_its_default():
    """docs/study-format.md's [preprocessing] example lists exactly the settings."""
    import tomllib

    text = (Path(__file__).resolve().parents[1] / "docs" / "study-format.md").read_text()
    block = re.search(r"^\[preprocessing\][^\n]*\n(.*?)\n\n", text, re.M | re.S)
    assert block, "no [preprocessing] block in docs/study-format.md"
    documented = tomllib.loads(block[1])
    defaults = {name: list(v) if isinstance(v, tuple) else v
                for name, v in vars(SETTINGS).items()}
    assert documented == defaults


# ---------------------------------------------------------------------------
# quality control
# ---------------------------------------------------------------------------

def test_real_child_dead_channels_are_bad(child_rec):
    qc = child_rec.qc.set_index("channel")
    assert list(child_rec.qc.columns[:8]) == ["channel", "sci", "psp", "motion_fraction",
                                              "flat", "saturated", "bad", "reason"]
    assert len(qc) == 20
    for ch in ("S7_D7", "S8_D7"):
        assert qc.loc[ch, "bad"]
        assert qc.loc[ch, "sci"] < 0.1
        assert "low scalp coupling" in qc.loc[ch, "reason"]
        assert "low peak spectral power" in qc.loc[ch, "reason"]
    assert child_rec.bad_channels == {"S7_D7", "S8_D7"}
    good = qc.drop(["S7_D7", "S8_D7"])
    assert (good["reason"] == "").all() and (good["sci"] > 0.9).all()
    assert not qc["flat"].any() and not qc["saturated"].any()


def test_real_parent_low_coupling_channel(parent):
    qc = channel_quality(parent, SETTINGS).set_index("channel")
    assert qc.loc["S3_D2", "bad"] and "low scalp coupling" in qc.loc["S3_D2", "reason"]
    assert qc["bad"].sum() <= 3


@pytest.mark.parametrize("seed", [0, 5])
def test_planted_bad_channels_are_found(seed):
    sim = simulate_recording(seed=seed, minutes=3)
    qc = channel_quality(sim.raw, SETTINGS)
    assert set(qc.loc[qc["bad"], "channel"]) == set(sim.bad_channels)
    bad = qc[qc["channel"].isin(sim.bad_channels)]
    assert bad["reason"].str.contains("low scalp coupling").all()
    assert bad["reason"].str.contains("low peak spectral power").all()


def test_planted_motion_raises_motion_fraction():
    moving = simulate_recording(seed=3, minutes=3, motion=True)
    still = simulate_recording(seed=3, minutes=3, motion=False)
    qm = channel_quality(moving.raw, SETTINGS).set_index("channel")
    qs = channel_quality(still.raw, SETTINGS).set_index("channel")
    assert (qs["motion_fraction"].fillna(0) == 0).all()
    hit = set()
    for event in moving.motion_events:
        if abs(event["amplitude"]) > 0.2:
            hit |= set(event["channels"]) - set(moving.bad_channels)
    assert hit
    assert (qm.loc[sorted(hit), "motion_fraction"] > 0).sum() >= len(hit) // 2
    assert qm["motion_fraction"].sum() > qs["motion_fraction"].sum()
    untouched = moving.clean_channels
    assert (qm.loc[untouched, "motion_fraction"] == 0).all()
    # a strict max_motion_fraction turns the affected channels bad, with the reason
    strict = channel_quality(moving.raw, replace(SETTINGS, max_motion_fraction=0.001))
    moved = strict[strict["reason"].str.contains("motion-corrupted")]
    assert set(moved["channel"]) & hit


def test_flat_saturated_and_nonfinite_channels(sim):
    raw = _set_pair(sim.raw, "S1_D1", lambda x: np.full_like(x, x.mean()))
    top = float(raw.get_data().max())
    raw = _set_pair(raw, "S2_D2", lambda x: np.where(np.arange(x.size) % 4 == 0, top, x))
    raw = _set_pair(raw, "S3_D3", lambda x: np.where(np.arange(x.size) == 7, np.nan, x))
    qc = channel_quality(raw, SETTINGS).set_index("channel")
    assert qc.loc["S1_D1", "flat"] and qc.loc["S1_D1", "reason"] == "flat"
    assert np.isnan(qc.loc["S1_D1", "sci"]) and np.isnan(qc.loc["S1_D1", "psp"])
    assert qc.loc["S2_D2", "saturated"] and "saturated" in qc.loc["S2_D2", "reason"]
    assert qc.loc["S2_D2", "saturated_fraction"] == pytest.approx(0.25, abs=0.01)
    assert qc.loc["S3_D3", "reason"].startswith("non-finite values")
    assert qc["bad"].sum() == 3 + len(sim.bad_channels)
    # an explicit saturation level above the data saturates nothing
    high = channel_quality(raw, replace(SETTINGS, saturation_level=10 * top))
    assert not high["saturated"].any()
    # and the chain still runs, keeping finite values
    rec = preprocess_recording(raw, SETTINGS, source="edited.snirf")
    assert {"S1_D1", "S2_D2", "S3_D3"} <= rec.bad_channels
    assert np.isfinite(rec.hbo).all() and np.isfinite(rec.hbr).all()


def test_every_channel_bad_raises_naming_the_file(sim):
    raw = sim.raw.copy()
    raw._data[:] = 1.0
    with pytest.raises(RecordingError, match=r"dead\.snirf: every channel is bad.*flat 20"):
        preprocess_recording(raw, SETTINGS, source="dead.snirf")


def test_channels_marked_bad_in_the_recording_are_bad(sim):
    """info["bads"] (e.g. a BIDS channels.tsv) marks the pair, even at one wavelength."""
    good = sorted(set(sim.channels) - set(sim.bad_channels))
    raw = sim.raw.copy()
    raw.info["bads"] = [f"{good[0]} 760"]
    rec = preprocess_recording(raw, SETTINGS, source="marked.snirf")
    qc = rec.qc.set_index("channel")
    assert qc.loc[good[0], "bad"] and qc.loc[good[0], "reason"] == "marked bad in the recording"
    assert good[0] in rec.bad_channels and not qc.loc[good[1], "bad"]
    assert rec.bad_channels == set(sim.bad_channels) | {good[0]}
    assert np.isfinite(rec.hbo).all()
    quality = next(s for s in rec.steps if s["step"] == "quality_control")
    assert quality["criteria"][0].startswith("marked bad in the recording")
    # haemoglobin input too
    hb = mne.preprocessing.nirs.beer_lambert_law(
        mne.preprocessing.nirs.optical_density(sim.raw))
    hb.info["bads"] = [f"{good[0]} hbr"]
    assert preprocess_recording(hb, SETTINGS).bad_channels == {good[0]}
    # every channel marked: the error names the file and the reason
    raw.info["bads"] = list(raw.ch_names)
    with pytest.raises(RecordingError, match=r"^marked\.snirf: every channel is bad \(20 "
                       r"channel\(s\): marked bad in the recording 20"):
        preprocess_recording(raw, SETTINGS, source="marked.snirf")


def test_start_time_is_the_first_sample(sim):
    """MNE's meas_date is the time of sample 0; a cropped raw's first sample is later."""
    raw = sim.raw.copy().crop(tmin=30.0)
    assert raw.first_samp == 300
    rec = preprocess_recording(raw, SETTINGS)
    assert (rec.meas_date - sim.raw.info["meas_date"]).total_seconds() == pytest.approx(30.0)
    assert preprocess_recording(sim.raw, SETTINGS).meas_date == sim.raw.info["meas_date"]


def test_low_sampling_rate_skips_cardiac_criteria():
    sim = simulate_recording(seed=2, minutes=3, sfreq=3.0)
    notes: list[str] = []
    qc = channel_quality(sim.raw, SETTINGS, notes=notes)
    assert qc["sci"].isna().all() and qc["psp"].isna().all()
    assert any("sampling rate" in n for n in notes)


# ---------------------------------------------------------------------------
# motion detection and correction
# ---------------------------------------------------------------------------

def _smooth_signal(sfreq: float = 10.0, seconds: float = 120.0) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(seconds * sfreq)) / sfreq
    rng = np.random.default_rng(0)
    return t, 0.01 * np.sin(2 * np.pi * 0.1 * t) + 0.001 * rng.standard_normal(t.size)


def test_detect_motion_marks_a_jump_and_its_margin():
    t, x = _smooth_signal()
    x = x + 0.3 * (t >= 60.0)
    mask = detect_motion(x[None], 10.0, t_motion=0.5, t_mask=1.0, std_thresh=20,
                         amp_thresh=0.5)[0]
    flagged = t[mask]
    assert flagged.min() == pytest.approx(58.5, abs=0.2)
    assert flagged.max() == pytest.approx(60.9, abs=0.2)
    assert mask.sum() < 40
    assert not detect_motion(_smooth_signal()[1][None], 10.0).any()


def test_spline_correction_removes_a_baseline_shift():
    t, clean = _smooth_signal()
    shifted = clean + 0.3 * np.clip((t - 60.0) / 0.5, 0, 1)
    mask = detect_motion(shifted[None], 10.0)
    fixed = spline_correction(shifted[None], mask, 10.0, p=0.99)[0]
    before, after = t < 58, t > 62
    np.testing.assert_array_equal(fixed[before], shifted[before])
    step = abs(np.median(fixed[after] - clean[after]))
    assert step < 0.01     # was 0.3; what remains is the signal's change within the segment
    assert np.corrcoef(shifted, clean)[0, 1] < 0.1
    assert np.corrcoef(fixed, clean)[0, 1] > 0.8


def test_wavelet_correction_removes_a_spike(require):
    require("pywt")
    t, clean = _smooth_signal()
    spiky = clean + 0.2 * np.exp(-((t - 60.0) / 0.3) ** 2)
    fixed = wavelet_correction(spiky[None], iqr=1.5, wavelet="db2")[0]
    near = np.abs(t - 60.0) < 1.0
    assert np.abs(fixed - clean)[near].max() < 0.5 * np.abs(spiky - clean)[near].max()
    assert np.abs(fixed - clean)[~near].std() < 0.01


@pytest.mark.parametrize("method", ["tddr", "spline", "wavelet", "none"])
def test_chain_with_each_motion_correction(sim, method, require):
    if method == "wavelet":
        require("pywt")
    rec = preprocess_recording(sim.raw, replace(SETTINGS, motion_correction=method),
                               source="sim.snirf")
    step = next(s for s in rec.steps if s["step"] == "motion_correction")
    assert step["method"] == method
    assert rec.hbo.shape == (20, sim.raw.n_times) == rec.hbr.shape
    good = [i for i, c in enumerate(rec.channels) if c not in rec.bad_channels]
    from scipy.signal import butter, sosfiltfilt
    sos = butter(4, [0.01, 0.5], btype="band", fs=rec.sfreq, output="sos")
    planted = sosfiltfilt(sos, sim.hbo, axis=1)
    r = [np.corrcoef(rec.hbo[i], planted[i])[0, 1] for i in good]
    assert np.median(r) > 0.8


# ---------------------------------------------------------------------------
# the chain
# ---------------------------------------------------------------------------

def test_steps_record_the_chain_and_are_json(child_rec):
    names = [s["step"] for s in child_rec.steps]
    assert names == ["input", "optical_density", "quality_control", "motion_correction",
                     "short_channel_regression", "beer_lambert_law", "band_pass", "regions"]
    qc_step = child_rec.steps[2]
    assert qc_step["sci_threshold"] == SETTINGS.sci_threshold
    assert qc_step["psp_threshold"] == SETTINGS.psp_threshold
    assert qc_step["motion_std_thresh"] == SETTINGS.motion_std_thresh
    scr = child_rec.steps[4]
    assert scr["skipped"] and "no short channels" in scr["reason"]
    assert child_rec.steps[5]["ppf"] == SETTINGS.ppf
    json.dumps(child_rec.steps, allow_nan=False)


def test_short_channels_are_regressed_and_dropped(sim):
    raw = sim.raw.copy()
    short = ["S4_D4", "S5_D5"]
    for ch in raw.info["chs"]:
        if ch["ch_name"].split(" ")[0] in short:
            ch["loc"][6:9] = ch["loc"][3:6] + np.array([0.008, 0.0, 0.0])
            ch["loc"][0:3] = 0.5 * (ch["loc"][3:6] + ch["loc"][6:9])
    good = [c for c in short if c not in sim.bad_channels]
    rec = preprocess_recording(raw, SETTINGS, source="short.snirf")
    assert not set(short) & set(rec.channels) and len(rec.channels) == 18
    assert not set(short) & set(rec.qc["channel"])
    step = next(s for s in rec.steps if s["step"] == "short_channel_regression")
    assert step.get("skipped") is (None if good else True)
    if good:
        assert step["used_short_channels"] == good
    plain = preprocess_recording(raw, replace(SETTINGS, short_channel_regression=False))
    step = next(s for s in plain.steps if s["step"] == "short_channel_regression")
    assert step["skipped"] and plain.channels == rec.channels
    if good:
        assert not np.allclose(plain.hbo, rec.hbo)


def test_global_signal_removal(sim):
    base = preprocess_recording(sim.raw, SETTINGS)
    rec = preprocess_recording(sim.raw, replace(SETTINGS, global_signal_removal=True))
    good = np.array([c not in base.bad_channels for c in base.channels])
    assert any(s["step"] == "global_signal_removal" and not s.get("skipped")
               for s in rec.steps)
    for before, after in ((base.hbo, rec.hbo), (base.hbr, rec.hbr)):
        g = before[good].mean(axis=0)
        r = [abs(np.corrcoef(row, g)[0, 1]) for row in after]
        assert max(r) < 1e-6
    np.testing.assert_allclose(global_signal_regression(base.hbo, good),
                               rec.hbo, rtol=1e-9, atol=1e-15)


def test_optical_density_input_starts_at_quality_control(sim):
    od = mne.preprocessing.nirs.optical_density(sim.raw)
    assert input_kind(od) == "od"
    rec = preprocess_recording(od, SETTINGS, source="od.fif")
    assert rec.steps[1] == {"step": "optical_density", "skipped": True,
                            "reason": "the input already is optical density"}
    assert rec.bad_channels == set(sim.bad_channels)
    assert rec.qc["saturated_fraction"].isna().all()


def test_haemoglobin_input_skips_to_the_band_pass(sim):
    od = mne.preprocessing.nirs.optical_density(sim.raw)
    hb = mne.preprocessing.nirs.beer_lambert_law(od, ppf=6.0)
    hb._data[hb.ch_names.index("S2_D2 hbo"), 50:60] = np.nan
    rec = preprocess_recording(hb, SETTINGS, source="table.csv")
    qc = rec.qc.set_index("channel")
    assert qc["sci"].isna().all() and qc["psp"].isna().all()
    assert qc["motion_fraction"].isna().all()
    assert rec.bad_channels == {"S2_D2"}
    assert qc.loc["S2_D2", "reason"] == "non-finite values"
    skipped = next(s for s in rec.steps if s["step"] == "skipped")["skipped"]
    assert {"optical_density", "beer_lambert_law", "motion_correction"} <= set(skipped)
    assert any(s["step"] == "band_pass" and not s.get("skipped") for s in rec.steps)
    assert np.isfinite(rec.hbo).all()
    raw_only = preprocess_recording(hb, replace(SETTINGS, filter_preprocessed=False))
    step = next(s for s in raw_only.steps if s["step"] == "band_pass")
    assert step["skipped"]
    i = raw_only.channels.index("S1_D1")
    np.testing.assert_allclose(raw_only.hbo[i], hb.get_data(["S1_D1 hbo"])[0])


def test_haemoglobin_without_hbr_is_analysed_with_hbo_alone(sim):
    od = mne.preprocessing.nirs.optical_density(sim.raw)
    hb = mne.preprocessing.nirs.beer_lambert_law(od).pick("hbo")
    rec = preprocess_recording(hb, SETTINGS, source="only_hbo.csv")
    assert rec.signals == ("hbo",)
    assert np.isfinite(rec.signal("hbo")).all()
    with pytest.raises(RecordingError, match=r"only_hbo.csv.*signals = \['hbo'\]"):
        rec.signal("hbr")


def test_annotations_are_kept_relative_to_the_first_sample(sim):
    raw = sim.raw.copy()
    raw.set_annotations(mne.Annotations([12.5, 40.0], [0.0, 3.0], ["start", "talk"],
                                        orig_time=raw.info["meas_date"]))
    rec = preprocess_recording(raw, SETTINGS)
    assert list(rec.annotations["description"]) == ["start", "talk"]
    np.testing.assert_allclose(rec.annotations["onset"], [12.5, 40.0])
    assert preprocess_recording(sim.raw, SETTINGS).annotations.empty


# ---------------------------------------------------------------------------
# regions
# ---------------------------------------------------------------------------

def test_channel_positions(sim):
    pos = channel_positions(sim.raw)
    assert list(pos.columns) == ["channel", "source", "detector", "x", "y", "z"]
    assert pos.loc[0, ["channel", "source", "detector"]].tolist() == ["S1_D1", 1, 1]
    assert pos[["x", "y", "z"]].notna().all().all()
    assert (pos["y"] > 0.05).all()                 # on the forehead, in metres
    assert (pos.loc[pos["source"] <= 4, "x"] < 0).all()   # sources 1-4 on the left
    info = mne.create_info(["S1_D1 760", "S1_D1 850"], 10.0, "fnirs_cw_amplitude")
    bare = mne.io.RawArray(np.ones((2, 100)), info, verbose="ERROR")
    assert channel_positions(bare)[["x", "y", "z"]].isna().all().all()
    with pytest.raises(ValueError, match="no optode positions"):
        regions_from_montage(bare)


def test_regions_of_the_simulated_prefrontal_montage(sim, tmp_path):
    regions = regions_from_montage(sim.raw)
    assert list(regions) == sim.channels
    assert regions["S4_D3"] == "Fp1" and regions["S5_D6"] == "Fp2"
    assert set(regions.values()) <= {"Fp1", "Fpz", "Fp2", "AF7", "AF5", "AF3", "AF1", "AFz",
                                     "AF2", "AF4", "AF6", "AF8", "F7", "F5", "F3", "F1",
                                     "Fz", "F2", "F4", "F6", "F8", "FC5", "FC6"}
    left = [regions[c] for c in sim.channels if int(c[1]) <= 4]
    assert all(label[-1] in "13579" for label in left)
    # the same labels from the SNIRF file
    path = write_snirf(sim.raw, tmp_path / "sim.snirf")
    assert regions_from_montage(read_recording(path)) == regions
    rec = preprocess_recording(sim.raw, SETTINGS)
    assert rec.regions == regions


def test_regions_follow_the_fiducials_of_a_larger_head(sim):
    big = sim.raw.copy()
    with big.info._unlock():
        for ch in big.info["chs"]:
            ch["loc"][:9] *= 1.1
        for d in big.info["dig"]:
            d["r"] = d["r"] * 1.1
    same = sum(a == b for a, b in zip(regions_from_montage(big).values(),
                                      regions_from_montage(sim.raw).values()))
    assert same >= 18


def test_real_nirx_positions_are_rejected_clearly(child, child_rec):
    """This NIRStar 15 probeInfo stores optodes in a vendor frame, not MNI: MNE puts
    them about 0.3 m from the head's origin, so no 10-20 label can be trusted."""
    with pytest.raises(ValueError, match=r"not on a head.*\[regions\]"):
        regions_from_montage(child)
    assert child_rec.regions == {}
    step = child_rec.steps[-1]
    assert step["step"] == "regions" and step["skipped"]


def test_resolve_regions(sim, child):
    channels = sim.channels
    user = {"S1_D1": "left", "S8_D8": "right"}
    assert resolve_regions(channels, user, sim.raw) == user
    assert resolve_regions(channels, None, sim.raw) == regions_from_montage(sim.raw)
    assert resolve_regions(channels[:2], {}, {"S1_D1": "FC5", "S9_D9": "Cz"}) == {
        "S1_D1": "FC5"}
    assert resolve_regions(channels, None) == {}
    with pytest.raises(ValueError, match="S9_D9"):
        resolve_regions(channels, {"S1_D1": "left", "S9_D9": "right"})
    with pytest.raises(ValueError, match="S1_D1"):
        resolve_regions(channels, {"S1_D1": ""})
    # the real recording: user regions work, montage regions cannot be derived
    names = ["S1_D1", "S1_D2"]
    assert resolve_regions(names, {"S1_D1": "lateral"}, child) == {"S1_D1": "lateral"}
    with pytest.raises(ValueError, match="not on a head"):
        resolve_regions(names, None, child)


# ---------------------------------------------------------------------------
# peak spectral power, vectorised
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("crop_s", [None, 177.35])
def test_peak_spectral_power_equals_mne_nirs(sim, child, crop_s):
    """All windows at once give mne-nirs' peak_power, also for a recording that is not
    a whole number of windows, a flat pair and the real NIRx child (with dead
    channels)."""
    from mne.preprocessing.nirs import optical_density
    from mne_nirs.preprocessing import peak_power

    from interbrain.preprocessing.qc import peak_spectral_power

    raw = sim.raw.copy()
    if crop_s is not None:
        raw.crop(0, crop_s)
    raw = _set_pair(raw, raw.ch_names[0].split(" ")[0], lambda x: np.full_like(x, x[0]))
    for recording in (raw, child):
        od = optical_density(recording.copy().load_data(), verbose="ERROR")
        with np.errstate(invalid="ignore", divide="ignore"):
            _, expected, _ = peak_power(od, time_window=10.0, threshold=-np.inf,
                                        verbose="ERROR")
            got = peak_spectral_power(od, time_window=10.0)
        assert got.shape == np.asarray(expected).shape
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
