"""Control of systemic physiology: auxiliary-signal regression with lags, and the
systemic null (synchrony of the short-separation channels)."""

from __future__ import annotations

from dataclasses import replace

import h5py
import mne
import numpy as np
import pandas as pd
import pytest

from interbrain.assembly import resample_to
from interbrain.design import RecordingRef
from interbrain.engine.cache import Cache
from interbrain.errors import RecordingError, StudyError
from interbrain.io import read_recording
from interbrain.io.auxiliary import read_aux
from interbrain.nulls import Pairing
from interbrain.preprocessing import Preprocessed, PreprocessingSettings, preprocess_recording
from interbrain.preprocessing.aux_regression import lagged_regressors
from interbrain.simulate import simulate_recording, write_snirf
from interbrain.synchrony.session import pairings_synchrony
from interbrain.synchrony.settings import AnalysisSettings
from interbrain.synchrony.systemic import short_signal_notes, short_view

SFREQ = 5.0
N_TIMES = 3000   # 10 minutes


def _band_noise(rng: np.random.Generator, n: int, sfreq: float, lo: float, hi: float
                ) -> np.ndarray:
    """Unit-variance Gaussian noise with its power in [lo, hi] Hz."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sfreq)
    spectrum[(f < lo) | (f > hi)] = 0
    x = np.fft.irfft(spectrum, n)
    return x / x.std()


def _shift(x: np.ndarray, seconds: float, sfreq: float = SFREQ) -> np.ndarray:
    """``x`` at ``t - seconds`` (first value repeated)."""
    k = int(round(seconds * sfreq))
    return np.concatenate([np.full(k, x[0]), x[:len(x) - k]])


def _hb_raw(hbo: np.ndarray, hbr: np.ndarray, sfreq: float = SFREQ) -> mne.io.RawArray:
    """Haemoglobin input (mol/L), channels S1_D1, S2_D2, ..."""
    n_ch, n = hbo.shape
    names = [f"S{i + 1}_D{i + 1} {kind}" for i in range(n_ch) for kind in ("hbo", "hbr")]
    data = np.empty((2 * n_ch, n))
    data[0::2], data[1::2] = hbo, hbr
    info = mne.create_info(names, sfreq, ch_types=["hbo", "hbr"] * n_ch)
    return mne.io.RawArray(data, info, verbose="ERROR")


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


@pytest.fixture(scope="module")
def planted():
    """Two channels: channel 0 = neural + respiration 6 s earlier, channel 1 = neural."""
    rng = np.random.default_rng(7)
    neural = _band_noise(rng, N_TIMES, SFREQ, 0.02, 0.08)
    other = _band_noise(rng, N_TIMES, SFREQ, 0.02, 0.08)
    resp = _band_noise(rng, N_TIMES, SFREQ, 0.1, 0.4)
    hbo = 1e-6 * np.vstack([neural + 1.5 * _shift(resp, 6.0), other])
    hbr = -0.3 * hbo + 1e-8 * rng.standard_normal(hbo.shape)
    aux = pd.DataFrame({"respiration": resp, "accelerometer": rng.standard_normal(N_TIMES)},
                       index=np.arange(N_TIMES) / SFREQ)
    return dict(raw=_hb_raw(hbo, hbr), aux=aux, neural=neural, other=other, resp=resp)


def _run(planted, **settings) -> Preprocessed:
    return preprocess_recording(planted["raw"].copy(), PreprocessingSettings(**settings),
                                source="rec.snirf", aux=planted["aux"])


def test_aux_regression_removes_lagged_component_and_keeps_neural(planted):
    lagged = _shift(planted["resp"], 6.0)
    off = _run(planted)
    on = _run(planted, aux_regression=True, aux_channels=("respiration",))  # lags 0-8 s
    assert _corr(off.hbo[0], lagged) > 0.7            # planted: visible before
    assert abs(_corr(on.hbo[0], lagged)) < 0.05       # removed
    assert _corr(on.hbo[0], planted["neural"]) > 0.95  # the neural part stays
    assert _corr(on.hbo[1], off.hbo[1]) > 0.99         # an unaffected channel is unchanged
    assert abs(_corr(on.hbr[0], lagged)) < 0.05        # HbR is regressed too
    step = next(s for s in on.steps if s["step"] == "aux_regression")
    assert step["aux_channels"] == ["respiration"]
    assert step["lags_s"] == [0.0, 2.0, 4.0, 6.0, 8.0] and step["n_regressors"] == 5
    assert step["function"] == "mne.preprocessing.regress_artifact"
    names = [s["step"] for s in on.steps]
    assert names.index("band_pass") < names.index("aux_regression")
    assert "aux_regression" not in [s["step"] for s in off.steps]


def test_lags_matter(planted):
    lagged = _shift(planted["resp"], 6.0)
    without = _run(planted, aux_regression=True, aux_lags=(0.0, 2.0))
    with_lag = _run(planted, aux_regression=True, aux_lags=(0.0, 6.0))
    assert _corr(without.hbo[0], lagged) > 0.5      # the 6 s effect is missed at 0 and 2 s
    assert abs(_corr(with_lag.hbo[0], lagged)) < 0.05


def test_lagged_regressors_shift_and_order():
    aux = pd.DataFrame({"a": np.arange(10.0), "b": np.ones(10) * np.arange(10) ** 2})
    x, names = lagged_regressors(aux, [0.0, 0.4], sfreq=5.0)
    assert names == ["aux:a@0s", "aux:a@0.4s", "aux:b@0s", "aux:b@0.4s"]
    a = np.arange(10.0) - 4.5
    np.testing.assert_allclose(x[0], a)
    np.testing.assert_allclose(x[1], np.r_[a[0], a[0], a[:8]])
    with pytest.raises(ValueError, match="same samples"):
        lagged_regressors(aux, [0.0, 0.1], sfreq=5.0)


def test_missing_aux_is_a_clear_error(planted):
    settings = PreprocessingSettings(aux_regression=True)
    for aux in (None, pd.DataFrame(index=np.arange(N_TIMES) / SFREQ)):
        with pytest.raises(RecordingError, match=r"rec\.snirf: aux_regression = true, but "
                                                 r"the recording has no auxiliary signals"):
            preprocess_recording(planted["raw"].copy(), settings, source="rec.snirf", aux=aux)
    with pytest.raises(RecordingError, match=r"rec\.snirf: auxiliary signal\(s\) 'ppg' .*"
                                             r"'respiration', 'accelerometer'"):
        _run(planted, aux_regression=True, aux_channels=("ppg",))
    flat = planted["aux"].assign(accelerometer=1.0)
    with pytest.raises(RecordingError, match="'accelerometer' are flat"):
        preprocess_recording(planted["raw"].copy(), settings, source="rec.snirf", aux=flat)
    # off: no aux needed
    assert _run(planted).hbo.shape == (2, N_TIMES)


@pytest.mark.parametrize("table, message", [
    ({"aux_lags": [-1.0]}, r"'aux_lags' must be a non-empty list of lags in seconds, each "
                           r"in \[0, 30\]"),
    ({"aux_lags": []}, "'aux_lags' must be a non-empty list"),
    ({"aux_lags": [0, 40]}, r"each in \[0, 30\].*got \[0, 40\]"),
    ({"aux_lags": [2, 2.0]}, "'aux_lags' must not repeat a lag"),
    ({"aux_lags": ["2"]}, "'aux_lags' must be a non-empty list"),
    ({"aux_channels": ["resp", "resp"]}, "'aux_channels' must be a list of distinct"),
    ({"aux_channels": [""]}, "'aux_channels' must be a list of distinct, non-empty"),
    ({"aux_channels": "resp"}, "'aux_channels' must be a list"),
    ({"aux_regression": "yes"}, "aux_regression"),
])
def test_aux_settings_are_checked(table, message):
    with pytest.raises(StudyError, match=r"study\.toml: \[preprocessing\]: .*" + message):
        PreprocessingSettings.from_table(table, "study.toml: [preprocessing]")


def test_aux_settings_from_table():
    s = PreprocessingSettings.from_table(
        {"aux_regression": True, "aux_channels": ["respiration"], "aux_lags": [0, 5]},
        "study.toml: [preprocessing]")
    assert s.aux_regression and s.aux_channels == ("respiration",) and s.aux_lags == (0, 5)
    assert not PreprocessingSettings().aux_regression


def _add_aux(path, first_time: float, aux: dict) -> None:
    """Move the SNIRF file's samples to ``first_time`` s and add ``/nirs/auxN`` groups
    (name -> (time, values)), following the SNIRF specification."""
    with h5py.File(path, "r+") as fh:
        time = np.asarray(fh["nirs/data1/time"], float)
        del fh["nirs/data1/time"]
        fh["nirs/data1/time"] = time - time[0] + first_time
        for k, (name, (t, values)) in enumerate(aux.items(), start=1):
            group = fh.create_group(f"nirs/aux{k}")
            group["name"] = np.array([name.encode()])
            group["dataTimeSeries"] = values
            group["time"] = t


@pytest.fixture(scope="module")
def snirf_with_aux(tmp_path_factory):
    """A 1-minute simulated SNIRF file whose samples start 100 s after the origin, with
    respiration (25 Hz) and accelerometer (50 Hz) aux signals on the same origin."""
    sim = simulate_recording(seed=3, minutes=1, sfreq=10.0, n_channels=2, n_bad=0,
                             motion=False)
    path = write_snirf(sim.raw, tmp_path_factory.mktemp("aux") / "rec.snirf")
    t_resp, t_acc = np.arange(99.0, 165.0, 0.04), np.arange(95.0, 170.0, 0.02)
    _add_aux(path, 100.0, {"respiration": (t_resp, np.sin(2 * np.pi * 0.25 * t_resp)),
                           "accelerometer": (t_acc, np.cos(2 * np.pi * 0.1 * t_acc))})
    return path


def test_read_aux_aligns_to_the_samples(snirf_with_aux):
    raw = read_recording(snirf_with_aux)
    aux = read_aux(snirf_with_aux, raw)
    assert list(aux.columns) == ["respiration", "accelerometer"]
    assert len(aux) == raw.n_times
    t = 100.0 + raw.times   # the samples' times from the origin
    np.testing.assert_allclose(aux["respiration"], np.sin(2 * np.pi * 0.25 * t), atol=2e-3)
    np.testing.assert_allclose(aux["accelerometer"], np.cos(2 * np.pi * 0.1 * t), atol=2e-3)
    rec = preprocess_recording(
        raw, PreprocessingSettings(aux_regression=True, aux_channels=("respiration",),
                                   aux_lags=(0.0, 4.0)), source="rec.snirf", aux=aux)
    step = next(s for s in rec.steps if s["step"] == "aux_regression")
    assert step["aux_channels"] == ["respiration"] and step["n_regressors"] == 2


def test_read_aux_without_aux_or_coverage(tmp_path, snirf_with_aux):
    sim = simulate_recording(seed=4, minutes=1, sfreq=10.0, n_channels=2, n_bad=0,
                             motion=False)
    path = write_snirf(sim.raw, tmp_path / "plain.snirf")
    assert read_aux(path, read_recording(path)).shape[1] == 0
    short = tmp_path / "short_aux.snirf"
    short.write_bytes(snirf_with_aux.read_bytes())
    with h5py.File(short, "r+") as fh:
        del fh["nirs/aux1/time"]
        fh["nirs/aux1/time"] = np.linspace(110.0, 165.0, len(fh["nirs/aux1/dataTimeSeries"]))
    with pytest.raises(RecordingError, match=r"short_aux\.snirf: auxiliary signal "
                                             r"'respiration' covers 110\.00-165\.00 s"):
        read_aux(short, read_recording(short))


def _with_short_channel(raw: mne.io.BaseRaw, od: np.ndarray) -> mne.io.BaseRaw:
    """``raw`` plus a short channel 8 mm from the first channel's source towards its
    detector: that channel's intensity times ``exp(-od)`` (a systemic optical-density
    change, the same at both wavelengths)."""
    first = raw.ch_names[0].split(" ")[0]
    picks = [ch for ch in raw.ch_names if ch.startswith(first + " ")]
    short = raw.copy().pick(picks)
    data = short.get_data() * np.exp(-od)[None]
    short.rename_channels({ch: ch.replace(first, first.split("_")[0] + "_D99")
                           for ch in picks})
    for ch in short.info["chs"]:
        src, det = ch["loc"][3:6].copy(), ch["loc"][6:9].copy()
        ch["loc"][6:9] = src + 0.008 * (det - src) / np.linalg.norm(det - src)
        ch["loc"][0:3] = (src + ch["loc"][6:9]) / 2
    out = raw.copy()
    out.add_channels([mne.io.RawArray(data, short.info, verbose="ERROR")],
                     force_update_info=True)
    return out


def test_chain_keeps_short_channels_for_the_systemic_null(tmp_path):
    sim = simulate_recording(seed=5, minutes=2, sfreq=10.0, n_channels=3, n_bad=0,
                             motion=False)
    n = sim.raw.n_times
    systemic = 0.02 * _band_noise(np.random.default_rng(1), n, 10.0, 0.03, 0.15)
    raw = _with_short_channel(sim.raw.load_data(), systemic)
    rec = preprocess_recording(raw, PreprocessingSettings(), source="rec.snirf")
    name = sim.raw.ch_names[0].split("_")[0] + "_D99"
    assert name not in rec.channels and rec.short is not None
    assert rec.short.channels == [name] and rec.short.hbo.shape == (1, n)
    assert rec.short.sfreq == rec.sfreq and rec.short.meas_date == rec.meas_date
    # a systemic decrease of optical density at both wavelengths: HbO and HbR follow it
    assert abs(_corr(rec.short.hbo[0], systemic)) > 0.5
    steps = {s["step"]: s for s in rec.steps}
    assert steps["short_channel_regression"]["used_short_channels"] == [name]
    assert steps["short_channel_signals"]["channels"] == [name]
    assert steps["short_channel_signals"]["chain"] == ["band_pass"]
    # the cache keeps them
    cache = Cache(tmp_path / "cache")
    cache.store_recording("k", rec)
    back = cache.load_recording("k")
    np.testing.assert_array_equal(back.short.hbo, rec.short.hbo)
    assert back.short.channels == [name] and back.short.meas_date == rec.meas_date
    # ... and a resampled recording gives its short channels at its new rate
    view = short_view(resample_to(back, 5.0))
    assert view.sfreq == 5.0 and view.n_times == resample_to(back, 5.0).n_times
    # without short channels: none kept
    plain = preprocess_recording(sim.raw, PreprocessingSettings(), source="plain.snirf")
    assert plain.short is None and short_view(plain).channels == []


def _recording(rng, name: str, systemic: np.ndarray | None, n_long: int = 2) -> Preprocessed:
    """A preprocessed recording with independent long channels and, when ``systemic``
    is given, one short channel carrying it (plus noise)."""
    n = N_TIMES // 5
    qc = pd.DataFrame({"channel": [f"S{i}_D{i}" for i in range(1, n_long + 1)],
                       "bad": False, "reason": ""})
    long = np.stack([_band_noise(rng, n, SFREQ, 1 / 15, 1 / 5) for _ in range(n_long)])
    short = None
    if systemic is not None:
        noise = _band_noise(rng, n, SFREQ, 1 / 15, 1 / 5)
        s = (systemic + 0.5 * noise)[None] * 1e-6
        short = Preprocessed(source=name, channels=["S1_D99"], hbo=s, hbr=-0.4 * s,
                             sfreq=SFREQ, meas_date=None,
                             qc=pd.DataFrame({"channel": ["S1_D99"], "bad": [False],
                                              "reason": [""]}))
    return Preprocessed(source=name, channels=list(qc["channel"]), hbo=1e-6 * long,
                        hbr=-0.4e-6 * long, sfreq=SFREQ, meas_date=None, qc=qc, short=short)


def _systemic_study(n_dyads: int = 4, short_in: set | None = None, seed: int = 11):
    """Real and pseudo pairings of ``n_dyads`` dyads (one session) whose partners share
    a systemic signal in their short channels only (the long channels are independent)."""
    rng = np.random.default_rng(seed)
    recordings, refs = {}, {}
    for d in range(n_dyads):
        systemic = _band_noise(rng, N_TIMES // 5, SFREQ, 1 / 15, 1 / 5)
        for role in ("therapist", "patient"):
            ref = RecordingRef(path=f"D{d}_{role}.snirf", role=role)
            has_short = short_in is None or d in short_in
            recordings[ref.key] = _recording(rng, ref.key, systemic if has_short else None)
            refs[(d, role)] = ref
    pairings = [Pairing(f"D{a}", f"D{b}", 1, refs[(a, "therapist")], refs[(b, "patient")])
                for a in range(n_dyads) for b in range(n_dyads)]
    return pairings, recordings


def test_systemic_null_pairs_short_channels_and_shows_systemic_coupling():
    pairings, recordings = _systemic_study()
    settings = AnalysisSettings(band=(5.0, 15.0), systemic_null=True).validate()
    assert settings.signals == ("hbo", "hbr", "hbo_short", "hbr_short")
    table = pairings_synchrony(pairings, recordings, settings)["synchrony"]
    short = table[table["signal"] == "hbo_short"]
    assert set(short["channel_therapist"]) == {"S1_D99"} and len(short) == 16
    assert set(table["signal"]) == set(settings.signals)
    means = table.groupby(["signal", "pairing"])["value"].mean().unstack()
    # systemic-only coupling: it shows in the short channels, not in the long ones
    for signal in ("hbo_short", "hbr_short"):
        assert means.loc[signal, "real"] > means.loc[signal, "pseudo"] + 0.3
    for signal in ("hbo", "hbr"):
        assert abs(means.loc[signal, "real"] - means.loc[signal, "pseudo"]) < 0.1
    assert short_signal_notes(table, settings.signals) == []


def test_systemic_null_without_short_channels_gives_a_note():
    pairings, recordings = _systemic_study(n_dyads=2, short_in={0})
    settings = AnalysisSettings(band=(5.0, 15.0), signals=("hbo",), systemic_null=True)
    table = pairings_synchrony(pairings, recordings, settings.validate())["synchrony"]
    short = table[table["signal"] == "hbo_short"]
    assert set(zip(short["dyad"], short["partner_dyad"])) == {("D0", "D0")}
    pairings, recordings = _systemic_study(n_dyads=2, short_in=set())
    table = pairings_synchrony(pairings, recordings, settings.validate())["synchrony"]
    assert not (table["signal"] == "hbo_short").any()
    notes = short_signal_notes(table, settings.validate().signals)
    assert len(notes) == 1 and "short-separation channels (hbo_short)" in notes[0]


@pytest.mark.parametrize("table, message", [
    ({"signals": ["hbo_short"]}, "with at least one of"),
    ({"signals": ["hbx"]}, "field 'signals' must be a list among"),
    ({"systemic_null": "yes"}, "systemic_null"),
])
def test_analysis_settings_checked(table, message):
    with pytest.raises(StudyError, match=message):
        AnalysisSettings.from_table(table, "study.toml: [analysis]")


def test_analysis_settings_signals():
    s = AnalysisSettings.from_table({"signals": ["hbr"], "systemic_null": True}, "x")
    assert s.signals == ("hbr", "hbr_short") and replace(s).validate() == s
    assert AnalysisSettings().validate().signals == ("hbo", "hbr")
    assert AnalysisSettings(signals=("hbo", "hbo_short")).validate().signals == (
        "hbo", "hbo_short")


def _study_with_short_channels(root, n_dyads: int = 3, n_sessions: int = 2):
    """A tiny study (1-minute recordings at 10 Hz, 2 long channels and one short channel
    per person) written by hand; partners of a dyad share a systemic signal in their
    short channels only."""
    (root / "recordings").mkdir(parents=True)
    lines = ["[analysis]", "band = [5.0, 15.0]", "systemic_null = true", ""]
    measures = ["dyad,session,symptoms"]
    rng = np.random.default_rng(3)
    for d in range(1, n_dyads + 1):
        lines += ["[[dyads]]", f'id = "D{d}"', f'therapist = "T{d}"', f'patient = "P{d}"', ""]
        for ses in range(1, n_sessions + 1):
            systemic = 0.05 * _band_noise(rng, 600, 10.0, 1 / 15, 1 / 5)
            entry = ["[[sessions]]", f'dyad = "D{d}"', f"session = {ses}"]
            for r, role in enumerate(("therapist", "patient")):
                sim = simulate_recording(seed=100 * d + 10 * ses + r, minutes=1, sfreq=10.0,
                                         n_channels=2, n_bad=0, motion=False,
                                         subject=f"{role[0].upper()}{d}")
                name = f"recordings/D{d}_ses-{ses}_{role}.snirf"
                write_snirf(_with_short_channel(sim.raw.load_data(), systemic), root / name)
                entry.append(f'{role} = "{name}"')
            lines += entry + [""]
            measures.append(f"D{d},{ses},{rng.normal(30, 5):.2f}")
    (root / "study.toml").write_text("\n".join(lines))
    (root / "measures.csv").write_text("\n".join(measures) + "\n")
    return root


def test_systemic_null_in_a_study_run(tmp_path):
    """End to end through the engine (graph, recording cache, resampling, synchrony
    tasks): the short-channel signals get synchrony rows beside the long ones, real and
    pseudo, and the preprocessing record lists the short channels kept."""
    from interbrain.engine.run import analyse_synchrony
    from interbrain.study import load_study

    root = _study_with_short_channels(tmp_path / "study")
    study = load_study(root)
    assert study.analysis.signals == ("hbo", "hbr", "hbo_short", "hbr_short")
    result = analyse_synchrony(study, n_workers=1, scheduler="threads",
                               cache_dir=tmp_path / "cache")
    table = result.synchrony
    assert set(table["signal"]) == {"hbo", "hbr", "hbo_short", "hbr_short"}
    short = table[table["signal"] == "hbo_short"]
    assert set(short["pairing"]) >= {"real", "pseudo"}
    # one short channel per person (SNIRF renumbers its detector), never a long one
    long = table[table["signal"] == "hbo"]
    assert short["channel_therapist"].nunique() == 1
    assert not set(short["channel_therapist"]) & set(long["channel_therapist"])
    means = short.groupby("pairing")["value"].mean()
    assert means["real"] > means["pseudo"] + 0.2   # the shared systemic signal shows
    steps = next(iter(result.steps.values()))
    assert any(s["step"] == "short_channel_signals" for s in steps)


def test_run_with_aux_regression_and_the_systemic_null_reports_both(tmp_path):
    """A whole run (command line) of a simulated study with short channels and aux
    signals (field preset), aux regression and the systemic null on: the short-channel
    signals have their own rows and report section, and methods.md says what was done."""
    from click.testing import CliRunner

    from interbrain.cli import main
    from interbrain.simulate import simulate_study

    study = simulate_study(tmp_path / "study", n_dyads=3, n_sessions=2, minutes=1.0,
                           n_channels=4, band=(5.0, 15.0), seed=2, confounds=("speech",))
    toml = study / "study.toml"
    toml.write_text(toml.read_text()
                    .replace("[analysis]\n", "[analysis]\nsystemic_null = true\n", 1)
                    .replace("[preprocessing]\n", "[preprocessing]\naux_regression = true\n", 1))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", "--no-figures", str(study), "--out", str(out), "--quiet",
                                       "--workers", "1"])
    assert result.exit_code == 0, result.output
    models = pd.read_parquet(out / "models.parquet")
    assert {"hbo", "hbr", "hbo_short", "hbr_short"} <= set(models["signal"])
    html = (out / "report.html").read_text()
    assert "HbO, short channels (systemic null)" in html
    methods = " ".join((out / "methods.md").read_text().split())
    assert "Auxiliary signals (" in methods and "regress_artifact" in methods
    assert "As a systemic null, the short-separation channels" in methods
    assert "Short-separation channels (at most" in methods   # short-channel regression ran


def test_validate_names_every_recording_without_aux_signals(tmp_path):
    """With aux_regression on, `interbrain validate` names each recording lacking the
    auxiliary signals (in seconds, before any analysis), exit status 1."""
    from click.testing import CliRunner

    from interbrain.cli import main
    from interbrain.simulate import simulate_study

    study = simulate_study(tmp_path / "study", n_dyads=2, n_sessions=2, minutes=1.0,
                           n_channels=4, band=(5.0, 15.0), seed=1, aux=False)
    toml = study / "study.toml"
    toml.write_text(toml.read_text().replace("[preprocessing]\n",
                                             "[preprocessing]\naux_regression = true\n", 1))
    result = CliRunner().invoke(main, ["validate", str(study)])
    assert result.exit_code == 1
    assert "Error: 8 problems in the study" in result.output
    assert result.output.count("but the recording has no auxiliary signals") == 8
    assert "D01_ses-01_therapist.snirf" in result.output and "Traceback" not in result.output
