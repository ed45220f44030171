"""Simulated sessions with phases (issue 17 item 7): labelled segments written as SNIRF
stimuli in both partners' files, and the planted coupling in one segment type only,
recovered by windowed band coherence over the segments.

One tiny study (2 dyads x 2 sessions x 4 min, 4 channels, the demo preset: zero-lag
coupling in every channel, no short channels or auxiliary signals) with phases talk
60 s / rest 60 s cycled (talk 0-60, rest 60-120, talk 120-180, rest 180-240 s) and the
coupling planted in talk only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import mne
import numpy as np
import pytest
from click.testing import CliRunner

from interbrain.cli import main
from interbrain.simulate import simulate_study
from interbrain.synchrony import WaveletGrid, channel_spectra
from interbrain.synchrony.summaries import segments_from_annotations, windowed_band_coherence

PHASES = [("talk", 60.0), ("rest", 60.0)]
BAND = (5.0, 15.0)
DESIGN = dict(n_dyads=2, n_sessions=2, minutes=4.0, n_channels=4, band=BAND,
              preset="demo", effect=5.0, seed=4)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    return simulate_study(tmp_path_factory.mktemp("phases") / "study", phases=PHASES,
                          coupling_phases=("talk",), **DESIGN)


def _read(path: Path) -> mne.io.BaseRaw:
    return mne.io.read_raw_snirf(path, preload=True, verbose="ERROR")


def _hbo(raw: mne.io.BaseRaw) -> np.ndarray:
    od = mne.preprocessing.nirs.optical_density(raw, verbose="ERROR")
    hb = mne.preprocessing.nirs.beer_lambert_law(od, ppf=6.0)
    return hb.copy().pick("hbo").get_data()


def test_phases_are_stimuli_in_both_files_and_in_ground_truth(study):
    truth = json.loads((study / "ground_truth.json").read_text(encoding="utf-8"))
    phases = truth["phases"]
    assert phases["pattern"] == [["talk", 60.0], ["rest", 60.0]]
    assert phases["coupling_phases"] == ["talk"]
    expected = [("talk", 0.0), ("rest", 60.0), ("talk", 120.0), ("rest", 180.0)]
    assert [(s["label"], s["onset"]) for s in phases["segments"]] == expected
    assert all(s["duration"] == 60.0 for s in phases["segments"])
    for session in truth["sessions"]:
        for role in ("therapist", "patient"):
            ann = _read(study / session[role]).annotations
            assert list(ann.description) == [label for label, _ in expected]
            np.testing.assert_allclose(ann.onset, [onset for _, onset in expected])
            np.testing.assert_allclose(ann.duration, 60.0)


def _talk_minus_rest(root: Path) -> list[float]:
    """Per dyad-session: band-mean wavelet coherence of HbO (homologous channel pairs,
    whole-recording maps averaged over each phase's segments, read from the files'
    stimuli) in talk minus that in rest."""
    truth = json.loads((root / "ground_truth.json").read_text(encoding="utf-8"))
    out = []
    for session in truth["sessions"]:
        a, b = _read(root / session["therapist"]), _read(root / session["patient"])
        hbo_a, hbo_b = _hbo(a), _hbo(b)
        grid = WaveletGrid.build(hbo_a.shape[1], 1.0 / a.info["sfreq"], band=BAND)
        segments = segments_from_annotations(a.annotations, t0=a.first_time)
        values, windows = windowed_band_coherence(
            channel_spectra(hbo_a, grid), channel_spectra(hbo_b, grid), windows=segments)
        per_window = np.nanmean(values, axis=0)
        talk = per_window[(windows["label"] == "talk").to_numpy()].mean()
        rest = per_window[(windows["label"] == "rest").to_numpy()].mean()
        out.append(float(talk - rest))
    return out


def test_coupling_only_in_the_planted_phase(study, tmp_path):
    # seed 4: talk minus rest 0.06-0.09 in each dyad-session (mean 0.075); with the
    # coupling in both phases (same seed) -0.04 to 0.08 (mean 0.002)
    planted = _talk_minus_rest(study)
    both = _talk_minus_rest(simulate_study(tmp_path / "both", phases=PHASES, **DESIGN))
    assert min(planted) > 0.03
    assert np.mean(planted) > 0.05
    assert np.mean(planted) - np.mean(both) > 0.04


def test_phases_without_coupling_phases_couple_every_phase(tmp_path):
    root = simulate_study(tmp_path / "all", phases=[("a", 30.0), ("b", 45.0)],
                          **{**DESIGN, "n_dyads": 2, "minutes": 2.0})
    truth = json.loads((root / "ground_truth.json").read_text(encoding="utf-8"))
    assert truth["phases"]["coupling_phases"] == ["a", "b"]
    # cycled to fill 120 s, the last segment cut at the end
    assert [(s["label"], s["onset"], s["duration"]) for s in truth["phases"]["segments"]] \
        == [("a", 0.0, 30.0), ("b", 30.0, 45.0), ("a", 75.0, 30.0), ("b", 105.0, 15.0)]


@pytest.mark.parametrize("kwargs, message", [
    (dict(coupling_phases=("talk",)), "coupling_phases needs phases"),
    (dict(phases=[("talk", 20.0)], coupling_phases=("rest",)),
     "coupling_phases: ['rest'] not among the phase labels ['talk']"),
    (dict(phases=[("talk", 0.0)]), "the duration of 'talk' must be a positive number"),
    (dict(phases=[("", 10.0)]), "each label must be a non-empty string"),
    (dict(phases=[("talk", 600.0)]), "fills the whole recording"),
    (dict(phases=["talk"]), "phases must be a list of (label, seconds) pairs"),
    (dict(phases=[]), "phases is empty"),
])
def test_bad_phases_are_named(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        simulate_study(tmp_path / "s", n_dyads=2, n_sessions=2, minutes=1.0, n_channels=4,
                       band=(5.0, 15.0), **kwargs)


def test_command_line_plants_phases_and_confounds_with_strength(tmp_path):
    """``interbrain simulate --phase --coupling-phase --confound NAME=S:rising``."""
    out = tmp_path / "study"
    result = CliRunner().invoke(main, [
        "simulate", str(out), "--dyads", "2", "--sessions", "2", "--minutes", "2",
        "--channels", "4", "--phase", "talk=60", "--phase", "rest=60",
        "--coupling-phase", "talk", "--confound", "speech=8:rising",
        "--confound", "paced_breathing"])
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["phases"]["pattern"] == [["talk", 60.0], ["rest", 60.0]]
    assert truth["phases"]["coupling_phases"] == ["talk"]
    assert truth["confounds"]["speech"]["strength"] == 8.0
    assert truth["confounds"]["speech"]["profile"] == "rising"
    assert truth["confounds"]["paced_breathing"]["strength"] == 1.0
    for bad, message in ((["--confound", "speech=x"], "the strength after '=' must be"),
                         (["--confound", "bogus"], "unknown ['bogus']"),
                         (["--phase", "talk"], "must be LABEL=SECONDS")):
        result = CliRunner().invoke(main, ["simulate", str(tmp_path / "bad"), *bad])
        assert result.exit_code != 0 and message in result.output, result.output
        assert not (tmp_path / "bad").exists()
