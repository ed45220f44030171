"""Each control against the confound it is for (issue 16 item 3), on the smallest design.

A strong speech-locked systemic confound (strength 8, ``confounds={"speech": 8.0}``:
2 uM peak HbO at each speech turn, in both partners at the moments of the real
interaction) and no neural coupling, in a tiny study (4 dyads x 2 sessions x 3 min x
4 long channels, field preset: short channels and auxiliary signals); the same
confound growing over the sessions (``{"strength": 8.0, "profile": "rising"}``: none
in session 1, 8x in session 2); and their twin: the same seed with no confound (the
simulator's streams are keyed per purpose, so the twin differs only by the
confound). Each is analysed by the pipeline's two stages with short-channel
regression off and on. The confound raises real-minus-pseudo synchrony of the long
channels without the control, short-channel regression brings it back to the twin's,
and the systemic null (the short channels analysed like the long ones) shows it
whatever the long channels' preprocessing; growing over sessions, it raises naive
growth without the control. The rates over many studies are measured by
``benchmarks/validation.py`` (``docs/validation.md``); these tests assert on the
estimates of one deterministic study and its twin (seed 0: real minus pseudo 0.068
off, 0.012 on, twin -0.004; naive growth of the growing confound 0.027 off, -0.024 on,
twin -0.043 off, -0.036 on; over seeds 0-2 the constant confound raised the mean
real-minus-pseudo synchrony 0.07-0.19 above the twin's without the control and left
it within 0.016 of it with the control).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from interbrain.engine import analyse_synchrony
import interbrain.simulate.confounds as confounds_module
from interbrain.simulate import simulate_study
from interbrain.simulate.confound_specs import Confound
from interbrain.stats.study_models import fit_models
from interbrain.study import load_study

SEED = 0
STRENGTH = 8.0          # factor on the simulator's speech amplitude
#: the same confound growing over the sessions: 0 in session 1, 8x in session 2
RISING = {"strength": STRENGTH, "profile": "rising"}
DESIGN = dict(n_dyads=4, n_sessions=2, minutes=3.0, n_channels=4, effect=0.0,
              preset="field", seed=SEED)
SHORT_REGRESSION = {"off": "false", "on": "true"}


def _with_arm(base: str, short_regression: str) -> str:
    """study.toml with the arm's preprocessing: no auxiliary regression, short-channel
    regression as given; HbO and its short channels; every pseudo-dyad; no
    familiarity pairings and no measure models (not needed here)."""
    text = base.replace("[preprocessing]\n", "[preprocessing]\nshort_channel_regression = "
                        f"{short_regression}\naux_regression = false\n", 1)
    text = text.replace('signals = ["hbo", "hbr"]', 'signals = ["hbo"]', 1)
    text = text.replace("[analysis]\n", "[analysis]\nsystemic_null = true\n"
                        "familiarity = false\n", 1)
    return re.sub(r"\[statistics\].*?(?=\[regions\])", "", text, count=1, flags=re.S)


def _estimates(study_dir: Path, short_regression: str) -> dict[str, float]:
    """The real_vs_pseudo estimate (mean over dyads of real minus pseudo synchrony)
    of HbO and of its short channels, and the naive growth of HbO (``growth``)."""
    toml = study_dir / "study.toml"
    base = toml.read_text(encoding="utf-8")
    try:
        toml.write_text(_with_arm(base, short_regression), encoding="utf-8")
        study = load_study(study_dir)
        synchrony = analyse_synchrony(study, n_workers=1, scheduler="threads").synchrony
        models = fit_models(study, synchrony).models
    finally:
        toml.write_text(base, encoding="utf-8")
    rows = models[(models["model"] == "real_vs_pseudo") & (models["term"] == "real - pseudo")]
    out = dict(zip(rows["signal"], rows["estimate"].astype(float)))
    growth = models[(models["model"] == "growth") & (models["signal"] == "hbo")
                    & (models["term"] == "session")]
    out["growth"] = float(growth["estimate"].iloc[0])
    return out


@pytest.fixture(scope="module")
def estimates(tmp_path_factory) -> dict:
    """(study, arm) -> {signal: real_vs_pseudo estimate, "growth": naive growth}; and
    the ground truths."""
    root = tmp_path_factory.mktemp("confounds")
    speech = simulate_study(root / "speech", confounds={"speech": STRENGTH}, **DESIGN)
    rising = simulate_study(root / "rising", confounds={"speech": RISING}, **DESIGN)
    twin = simulate_study(root / "twin", confounds=(), **DESIGN)
    for folder in (speech, rising, twin):
        (folder / "measures.csv").unlink()
    out = {(name, arm): _estimates(folder, flag)
           for name, folder in (("speech", speech), ("twin", twin))
           for arm, flag in SHORT_REGRESSION.items()}
    out.update({("rising", arm): _estimates(rising, flag)
                for arm, flag in SHORT_REGRESSION.items()})
    out["truth"] = json.loads((speech / "ground_truth.json").read_text(encoding="utf-8"))
    out["rising truth"] = json.loads((rising / "ground_truth.json").read_text(
        encoding="utf-8"))
    return out


def test_the_confound_is_planted_as_recorded(estimates):
    truth = estimates["truth"]
    speech = truth["confounds"]["speech"]
    assert speech["systemic_hbo_peak_M"] == pytest.approx(STRENGTH * 0.25e-6)
    plans = [s["confounds"]["speech"] for s in truth["sessions"]]
    assert len(plans) == 4 * 2 and all(len(turns) >= 1 for turns in plans)
    assert all(s["coupling"] == 0.0 for s in truth["sessions"])   # nothing neural


def test_speech_confound_fools_real_vs_pseudo_without_its_control(estimates):
    # no short-channel (and no auxiliary) regression: real dyads share the speech-locked
    # systemic changes, pseudo-dyads do not; no neural coupling was planted
    off = estimates[("speech", "off")]["hbo"]
    twin = estimates[("twin", "off")]["hbo"]
    assert off > 0.05
    assert off - twin > 0.05


def test_short_channel_regression_removes_speech_confound(estimates):
    on = estimates[("speech", "on")]["hbo"]
    off = estimates[("speech", "off")]["hbo"]
    twin = estimates[("twin", "on")]["hbo"]
    assert abs(on - twin) < 0.03          # back to the no-confound study's value
    assert off - on > 0.04                # and the control is what removed it


def test_controls_do_not_move_a_study_without_confound(estimates):
    off, on = estimates[("twin", "off")]["hbo"], estimates[("twin", "on")]["hbo"]
    assert abs(off - on) < 0.01
    assert abs(on) < 0.05


def test_systemic_null_shows_the_confound_in_the_scalp(estimates):
    # the short channels are never regressed: their real-minus-pseudo synchrony shows
    # the shared systemic changes in both arms, and stays near 0 without the confound
    for arm in SHORT_REGRESSION:
        assert estimates[("speech", arm)]["hbo_short"] > 0.3
        assert abs(estimates[("twin", arm)]["hbo_short"]) < 0.05
    assert estimates[("speech", "off")]["hbo_short"] == pytest.approx(
        estimates[("speech", "on")]["hbo_short"], abs=1e-9)


def test_strength_is_an_argument_and_recorded(estimates):
    # no module constant was patched: the strength is the argument, recorded
    speech = estimates["truth"]["confounds"]["speech"]
    assert speech["strength"] == STRENGTH and speech["profile"] == "constant"
    assert confounds_module.SPEECH_AMPLITUDE == pytest.approx(0.25e-6)
    levels = [s["confound_levels"]["speech"] for s in estimates["truth"]["sessions"]]
    assert levels == [STRENGTH] * 8
    rising = estimates["rising truth"]
    assert rising["confounds"]["speech"]["profile"] == "rising"
    by_session = {(s["dyad"], s["session"]): s["confound_levels"]["speech"]
                  for s in rising["sessions"]}
    assert {v for (_, k), v in by_session.items() if k == 1} == {0.0}
    assert {v for (_, k), v in by_session.items() if k == 2} == {STRENGTH}


def test_growing_speech_confound_inflates_naive_growth_without_its_control(estimates):
    # speech-locked systemic changes absent in session 1 and 8x in session 2: real
    # synchrony grows without any neural coupling, and real minus pseudo with it;
    # short-channel regression removes the growth (no-confound twin: ~0)
    off, on = estimates[("rising", "off")], estimates[("rising", "on")]
    twin = estimates[("twin", "off")]["growth"]
    assert off["growth"] - on["growth"] > 0.03
    assert off["growth"] - twin > 0.05
    assert abs(on["growth"] - estimates[("twin", "on")]["growth"]) < 0.03


@pytest.mark.parametrize("confounds, message", [
    ({"coffee": 1.0}, "unknown ['coffee']"),
    ({"speech": -1.0}, "strength of 'speech' must be a finite number >= 0"),
    ({"speech": "loud"}, "strength of 'speech' must be a number"),
    ({"speech": {"strength": 2.0, "profile": "falling"}}, "profile of 'speech'"),
    ({"speech": {"strength": 2.0, "start_session": 5}}, "start_session of 'speech' (5) "
                                                        "is after the last session"),
    ({"speech": {"amplitude": 2.0}}, "unknown field(s) ['amplitude']"),
])
def test_bad_confound_input_is_named(tmp_path, confounds, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        simulate_study(tmp_path / "s", n_dyads=2, n_sessions=2, minutes=1.0,
                       n_channels=4, band=(5.0, 15.0), confounds=confounds)


def test_session_levels_of_a_profile():
    rising = Confound(4.0, profile="rising", start_session=2)
    assert [rising.level(k, 5) for k in range(1, 6)] == [0.0, 0.0, 4 / 3, 8 / 3, 4.0]
    late = Confound(2.0, start_session=3)
    assert [late.level(k, 4) for k in range(1, 5)] == [0.0, 0.0, 2.0, 2.0]
