"""The mechanism models in the statistics stage, the report and methods.md (issue 15).

Session-level simulated studies (every pairing, :mod:`interbrain.stats.pairing_simulation`)
go through :func:`~interbrain.stats.study_models.fit_models` as a run's synchrony table
would; the rows of each mechanism model must appear, skipped models must say why, and
the report's sentences must not claim more than the rows show.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from interbrain.report.mechanisms import mechanism_entries, mechanisms_text
from interbrain.stats.generalisation_simulation import simulate_generalisation
from interbrain.stats.pairing_simulation import simulate_pairings
from interbrain.stats.settings import StatisticsSettings
from interbrain.stats.study_models import ModelInputs, fit_models

SETTINGS = dict(n_permutations=199, n_bootstrap=99, compare=False, pairwise=(), seed=3,
                sesoi=0.3)


def _inputs(n_therapists: int, *, settings=None, seed=0):
    study = simulate_pairings(8, 6, effect=0.02, n_therapists=n_therapists, seed=seed,
                              familiarity=False, measure="symptoms")
    synchrony = study.pairings.rename(columns={"synchrony": "value"}).assign(
        signal="hbo", metric="wtc", pair="S1_D1-S1_D1")
    rng = np.random.default_rng(seed)
    measures = study.measures.assign(alliance=rng.normal(5, 0.5, len(study.measures)))
    design = study.sessions[["dyad", "session", "therapist"]].assign(
        patient=lambda d: "P" + d["dyad"])
    dyads = design.drop_duplicates("dyad")[["dyad", "therapist", "patient"]]
    st = StatisticsSettings(**{**SETTINGS, **(settings or {})})
    return synchrony, ModelInputs(settings=st, design=design, measures=measures,
                                  measure_columns=("symptoms", "alliance"),
                                  signals=("hbo",), metrics=("wtc",), pseudo_dyads=True,
                                  dyads=dyads.reset_index(drop=True))


@pytest.fixture(scope="module")
def four_therapists():
    synchrony, inputs = _inputs(4, settings={"dissociation": (("symptoms", "alliance"),)})
    return inputs, fit_models(inputs, synchrony)


def test_every_mechanism_model_has_rows(four_therapists):
    _, results = four_therapists
    models = set(results.models["model"])
    for name in ("cross_lagged:symptoms", "cross_lagged:alliance", "mediation:symptoms",
                 "mediation:alliance", "dissociation:symptoms vs alliance",
                 "therapist:interaction", "therapist:variance", "therapist:pseudo_split"):
        assert name in models, name
    assert not any(m.startswith("lagged:") for m in models)   # the old lagged model is gone
    rows = results.models
    mechanism = rows[rows["model"].str.match(r"^(cross_lagged|mediation|dissociation|therapist):")]
    assert (mechanism["family"] == "exploratory").all()
    lagged = rows[rows["model"] == "cross_lagged:symptoms"]
    assert set(lagged["term"]) == {"synchrony -> symptoms", "symptoms -> synchrony"}
    assert lagged["p_bootstrap"].between(0, 1).all()
    assert (lagged["n_bootstrap"] == 99).all()
    indirect = rows[(rows["model"] == "mediation:symptoms")
                    & rows["term"].str.startswith("indirect")]
    assert len(indirect) == 1 and np.isnan(indirect["p"].iloc[0])
    assert indirect["ci_low"].iloc[0] < indirect["ci_high"].iloc[0]
    reference = rows[(rows["model"] == "dissociation:symptoms vs alliance")
                     & rows["term"].str.contains("alliance \\(")]
    assert reference["power_equivalence"].between(0, 1).all()


def test_one_therapist_per_dyad_has_no_therapist_terms():
    synchrony, inputs = _inputs(8)
    results = fit_models(inputs, synchrony)
    models = set(results.models["model"])
    assert not {"therapist:interaction", "therapist:variance"} & models
    assert "therapist:pseudo_split" in models   # the two sides of the pseudo-dyads
    terms = results.models.loc[results.models["model"] == "therapist:pseudo_split", "term"]
    assert not terms.str.contains("trait|their other patients").any()
    assert any("every dyad has its own therapist" in n for n in results.notes)
    growth = results.models[results.models["model"] == "growth"]
    assert not growth["formula"].str.contains("therapist").any()


def test_one_therapist_and_no_mediation_asked():
    synchrony, inputs = _inputs(1, settings={"mediation": False, "lagged": False})
    results = fit_models(inputs, synchrony)
    models = set(results.models["model"])
    assert not {m for m in models if m.startswith(("mediation:", "therapist:",
                                                   "cross_lagged:"))}


def test_patient_level_generalisation_from_the_synchrony_table():
    sim = simulate_generalisation(8, 6, transfer=0.0, seed=2)
    synchrony = sim.synchrony.assign(signal="hbo", pair="S1_D1-S1_D1")
    real = synchrony[synchrony["pairing"] == "real"]
    design = real[["dyad", "session"]].drop_duplicates().merge(sim.dyads, on="dyad")
    measures = design[["dyad", "session"]].assign(symptoms=1.0)
    inputs = ModelInputs(settings=StatisticsSettings(**SETTINGS), design=design,
                         measures=measures, measure_columns=(), signals=("hbo",),
                         metrics=("wtc",), pseudo_dyads=True, dyads=sim.dyads,
                         generalisation=True, partners=sim.partners)
    results = fit_models(inputs, synchrony)
    rows = results.models[results.models["model"] == "generalisation:patients"]
    slope = rows[rows["term"] == "therapy_slope -> other_change"]
    assert len(slope) == 1 and 0 < slope["p_permutation"].iloc[0] <= 1


def _study_results(inputs, results):
    study = SimpleNamespace(statistics=inputs.settings,
                            measure_columns=list(inputs.measure_columns))
    return SimpleNamespace(study=study, models=results.models, notes=results.notes)


def test_report_sentences_follow_the_rows(four_therapists):
    inputs, results = four_therapists
    entries = mechanism_entries(results.models, 0.05, lambda frame: frame)
    titles = [e["title"] for e in entries]
    assert any("cross-lagged" in t for t in titles) and any("mediation" in t.lower()
                                                            for t in titles)
    for entry in entries:
        assert entry["findings"], entry["title"]
    lagged = next(e for e in entries if "cross-lagged" in e["title"])
    for line, (_, row) in zip(lagged["findings"],
                              results.models[results.models["model"].str.startswith(
                                  "cross_lagged:")].iterrows()):
        assert ("in the next beyond" in line) == (row["p_bootstrap"] < 0.05)
        assert ("no evidence that" in line) == (row["p_bootstrap"] >= 0.05)
    text = mechanisms_text(_study_results(inputs, results))
    assert text.startswith("**Mechanisms of change (exploratory).**")
    for phrase in ("bias-corrected parametric bootstrap (99 simulated studies",
                   "Monte Carlo", "sign-flip", "therapist x time interaction"):
        assert phrase in text


def test_dissociation_wording_claims_only_what_was_tested():
    rows = pd.DataFrame({
        "model": ["dissociation:s vs a"] * 3, "signal": "hbo", "metric": "wtc",
        "term": ["synchrony -> s (standardised, within dyad)",
                 "synchrony -> a (standardised, within dyad)", "s - a"],
        "estimate": [0.5, 0.0, 0.5], "ci_low": [0.1, -0.3, -0.1], "ci_high": [0.9, 0.3, 1.1],
        "p": [0.01, 0.9, 0.08], "sesoi": [np.nan, 0.3, np.nan],
        "p_equivalence": [np.nan, 0.2, np.nan], "power_equivalence": [np.nan, 0.31, np.nan],
        "equivalent": [None, False, None]})
    (entry,) = mechanism_entries(rows, 0.05, lambda frame: frame)
    (line,) = entry["findings"]
    assert "no evidence that they differ" in line
    assert "inconclusive" in line and "at most 31% power" in line
    assert "equivalent to zero" not in line


def test_cross_lagged_wording_follows_the_bootstrap_test():
    rows = pd.DataFrame({
        "model": ["cross_lagged:my score"] * 2, "signal": "hbo", "metric": "wtc",
        "term": ["synchrony -> my score", "my score -> synchrony"],
        "estimate": [0.3, 0.1], "ci_low": [0.1, -0.2], "ci_high": [0.5, 0.4],
        "p": [0.001, 0.01], "p_bootstrap": [0.01, 0.4], "estimate_corrected": [0.28, 0.05],
        "ci_low_bootstrap": [0.05, -0.3], "ci_high_bootstrap": [0.5, 0.4]})
    (entry,) = mechanism_entries(rows, 0.05, lambda frame: frame)
    first, second = entry["findings"]
    assert "synchrony in one session predicted my score in the next" in first
    assert "no evidence that my score predicts the next session's synchrony" in second
    assert "bootstrap p = .400" in second   # the model-based p (.01) is not the verdict


@pytest.mark.parametrize("line, message", [
    ('dissociation = [["symptoms", "nope"]]',
     "[statistics] dissociation ['symptoms', 'nope']: measure(s) ['nope'] are not outcome "
     "measures of measures.csv"),
    ('dissociation = [["symptoms", "symptoms"]]', "pairs of two different measure names"),
    ('dissociation = "symptoms"', "pairs of two different measure names"),
    ('n_bootstrap = 10', "field 'n_bootstrap' must be a whole number >= 99"),
    ('mediation = "yes"', "mediation"),
])
def test_bad_mechanism_settings_are_named(tiny_study_copy, load_error, line, message):
    error = load_error(tiny_study_copy, 'dissociation = [["symptoms", "alliance"]]', line)
    assert str(tiny_study_copy / "study.toml") in error and message in error, error
