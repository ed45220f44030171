"""methods.md says what ran, never more (issue 18, item 4).

Each statistics paragraph is written from the rows of ``models.parquet`` and the run's
notes: a model with no rows is not described (it is named as not fitted, with the
reason the run noted); a resampling test is called exact only when its rows say every
sign pattern (or permutation) was enumerated, otherwise "Monte Carlo with N random ...";
resampling to a common rate, skipped short-channel regression, crops and singular fits
are stated from the chains (``preprocessing.json``) and the rows.

Fixtures: the tiny run of tests/conftest.py (2 dyads: every sign-flip test enumerates its
4 sign patterns; too few dyads for outcome and mechanism models), and the session-level
simulation of tests/test_mechanisms_stage.py (8 dyads x 6 sessions through
:func:`~interbrain.stats.study_models.fit_models`: every mechanism model fitted; with
``n_permutations = 199 < 2**8`` the sign-flip tests are Monte Carlo, with 999 exact).
"""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from interbrain.assembly import resample_step
from interbrain.report import methods_text
from interbrain.report.mechanisms import mechanisms_text
from interbrain.report.methods import null_tests_text, preprocessing_text
from interbrain.report.wording import resampling_kinds, resampling_text
from interbrain.stats.pairing_simulation import simulate_pairings
from interbrain.stats.settings import StatisticsSettings
from interbrain.stats.study_models import ModelInputs, fit_models

#: A sentence of methods.md that describes a fitted model -> the ``model`` prefix whose
#: rows it needs in models.parquet.
CLAIMS = {
    "The model fitted was `excess ~": "plasticity",
    "Growth of real synchrony over sessions was modelled": "growth",
    "permuting the session order within each dyad": "growth_permutation",
    "Real synchrony was compared with each null": "real_vs_",
    "Rungs used:": "outcome:",
    "Each dyad's change of the measure from its first to its last session": "prepost:",
    "Temporal precedence was examined": "cross_lagged:",
    "Multilevel 1-1-1 mediation": "mediation:",
    "differs from that with another": "dissociation:",
    "tested by the therapist x time interaction": "therapist:",
    "were tested over dyads and corrected for multiple comparisons": "_by_",
}


def _mechanism_fit(n_permutations: int, **settings):
    """Every model of a session-level simulated study (8 dyads x 6 sessions, two
    therapists), as the statistics stage fits them."""
    study = simulate_pairings(8, 6, effect=0.02, n_therapists=2, seed=0,
                              familiarity=False, measure="symptoms")
    synchrony = study.pairings.rename(columns={"synchrony": "value"}).assign(
        signal="hbo", metric="wtc", pair="S1_D1-S1_D1")
    rng = np.random.default_rng(0)
    measures = study.measures.assign(alliance=rng.normal(5, 0.5, len(study.measures)))
    design = study.sessions[["dyad", "session", "therapist"]].assign(
        patient=lambda d: "P" + d["dyad"])
    dyads = design.drop_duplicates("dyad")[["dyad", "therapist", "patient"]]
    st = StatisticsSettings(**{"n_permutations": n_permutations, "n_bootstrap": 40,
                               "compare": False, "pairwise": (), "seed": 3, "sesoi": 0.3,
                               "dissociation": (("symptoms", "alliance"),), **settings})
    inputs = ModelInputs(settings=st, design=design, measures=measures,
                         measure_columns=("symptoms", "alliance"), signals=("hbo",),
                         metrics=("wtc",), pseudo_dyads=True,
                         dyads=dyads.reset_index(drop=True))
    _mechanism_fit.synchrony = synchrony
    return inputs, fit_models(inputs, synchrony)


@pytest.fixture(scope="module")
def monte_carlo():
    """n_permutations = 199 < 2**8 sign patterns: Monte Carlo sign-flip tests."""
    return _mechanism_fit(199)


@pytest.fixture(scope="module")
def exact():
    """n_permutations = 999 >= 2**8 sign patterns: exact sign-flip tests."""
    return _mechanism_fit(999)


def _as_run(tiny_results, fitted):
    """The tiny run with the models, fits, notes and null tests of ``fitted``."""
    _, res = fitted
    return dataclasses.replace(tiny_results, models=res.models, fits=res.fits,
                               notes=res.notes, null_tests=res.null_tests)


def _only_rows(inputs, res):
    study = SimpleNamespace(statistics=inputs.settings,
                            measure_columns=list(inputs.measure_columns))
    return SimpleNamespace(study=study, models=res.models, notes=res.notes,
                           null_tests=res.null_tests)


def _claims_match_rows(methods: str, models) -> None:
    flat = " ".join(methods.split())
    for phrase, prefix in CLAIMS.items():
        has_rows = models["model"].str.contains(prefix, regex=False).any() if \
            prefix.startswith("_") else models["model"].str.startswith(prefix).any()
        assert (phrase in flat) == has_rows, (phrase, prefix, has_rows)
    # every model named in backticks exists
    for name in re.findall(r"`([a-z_]+:[a-z_]+)`", flat):
        assert name in set(models["model"]), name


def test_tiny_run_names_only_models_it_fitted(tiny_results):
    _claims_match_rows(methods_text(tiny_results), tiny_results.models)
    flat = " ".join(methods_text(tiny_results).split())
    # 2 dyads: no outcome model; the paragraph names each as not fitted, with the reason
    assert not tiny_results.models["model"].str.startswith("outcome:").any()
    assert "were not modelled: the outcome model of 'symptoms' needs at least 3 dyads" in flat
    assert "Cross-lagged models were not fitted: the cross-lagged model of" in flat
    assert "Mediation was not estimated: the mediation model of 'symptoms' needs" in flat
    # each reason once, though noted for HbO and for HbR
    assert flat.count("the mediation model of 'symptoms' needs") == 1


def test_a_run_with_every_model_names_each(tiny_results, monte_carlo):
    run = _as_run(tiny_results, monte_carlo)
    models = run.models
    assert models["model"].str.startswith("mediation:").any()
    _claims_match_rows(methods_text(run), models)


def test_switched_off_and_absent_models_are_not_described(tiny_results):
    inputs, res = _mechanism_fit(199, mediation=False, dissociation=())
    assert not res.models["model"].str.startswith(("mediation:", "dissociation:")).any()
    text = mechanisms_text(_only_rows(inputs, res))
    assert text.startswith("**Mechanisms of change (exploratory).** Temporal precedence")
    assert "mediation" not in text.lower() and "dissociation" not in text.lower()
    # a study without measures.csv: no outcome, cross-lagged or mediation model is
    # fitted, and methods.md says nothing of them
    statistics = tiny_results.study.statistics
    study = dataclasses.replace(
        tiny_results.study, measures=tiny_results.study.measures.iloc[:0, :0],
        statistics=dataclasses.replace(
            statistics, primary=dataclasses.replace(statistics.primary, measures=())))
    assert study.measure_columns == []
    no_measures = dataclasses.replace(inputs, measure_columns=(),
                                      measures=inputs.measures[["dyad", "session"]])
    res = fit_models(no_measures, _mechanism_fit.synchrony)
    assert not res.models["model"].str.startswith(
        ("outcome:", "cross_lagged:", "mediation:", "prepost:")).any()
    run = dataclasses.replace(tiny_results, study=study, models=res.models, fits=res.fits,
                              notes=res.notes, null_tests=res.null_tests)
    flat = " ".join(methods_text(run).split())
    assert "**Outcome models.**" not in flat and "Temporal precedence" not in flat
    for word in ("mediation", "outcome model"):
        assert word not in flat.lower(), re.findall(f".{{200}}{word}.{{200}}", flat.lower())
    _claims_match_rows(flat, res.models)


def test_exact_only_where_every_pattern_was_enumerated(monte_carlo, exact, tiny_results):
    for (inputs, res), kind in ((monte_carlo, "monte_carlo"), (exact, "exact")):
        rows = res.models[res.models["model"].str.startswith(
            ("real_vs_", "dissociation:", "therapist:pseudo_split"))]
        kinds = {k for k, _ in resampling_kinds(rows)}
        assert kinds == {kind}
        text = " ".join((mechanisms_text(_only_rows(inputs, res)) + " "
                         + null_tests_text(_only_rows(inputs, res))).split())
        if kind == "exact":
            assert "exact over all 256 sign patterns" in text and "Monte Carlo with" not in text
        else:
            assert "exact" not in text.replace("bias-corrected", "")
            assert "Monte Carlo with 199 random sign patterns" in text
    # the tiny run: 2 dyads, all 4 sign patterns enumerated; the within-dyad session
    # permutations of the growth slope are always random draws
    flat = " ".join(methods_text(tiny_results).split())
    assert "one-sided sign-flip permutation test, exact over all 4 sign patterns" in flat
    n = int(tiny_results.models.loc[tiny_results.models["model"] == "growth_permutation",
                                    "n_permutations"].iloc[0])
    assert f"a Monte Carlo permutation test with {n} random permutations" in flat


def test_resampling_text_reads_the_rows():
    rows = pd.DataFrame({"method": ["dyad-level sign-flip permutation test (exact), "
                                    "one-sided: real > null", "x (B = 99, seed = 1)",
                                    "lmer REML"],
                         "n_permutations": [8, np.nan, np.nan]})
    assert resampling_kinds(rows) == [("exact", 8), ("monte_carlo", 99)]
    assert resampling_text(rows.iloc[:1]) == "exact over all 8 sign patterns"
    assert resampling_text(rows.iloc[2:]) == ""      # nothing recorded: nothing claimed


def _preprocessing(results, steps) -> str:
    return " ".join(preprocessing_text(dataclasses.replace(results, steps=steps)).split())


def test_resampling_skipped_short_channels_and_crops_are_stated(tiny_results):
    steps = {k: list(v) for k, v in tiny_results.steps.items()}
    text = _preprocessing(tiny_results, steps)
    # the tiny study's recordings have no short channels: the chains' own reason
    reasons = {s.get("reason") for chain in steps.values() for s in chain
               if s.get("step") == "short_channel_regression" and s.get("skipped")}
    assert reasons == {"the recording has no short channels"}
    assert (f"Short-channel regression was not applied to {len(steps)} of {len(steps)} "
            f"recordings (the recording has no short channels: {len(steps)} recordings)"
            in text)
    assert "resampled" not in text and "crop" not in text
    # two recordings brought from 10 Hz to 5 Hz, as the engine records it, and one
    # chain whose regression was switched off
    keys = list(steps)
    for key in keys[:2]:
        steps[key] = steps[key] + [resample_step(10.0, 5.0)]
    steps[keys[2]] = [{**s, "reason": "short_channel_regression = false"}
                      if s.get("step") == "short_channel_regression" else s
                      for s in steps[keys[2]]]
    for key in keys[:2]:
        steps[key] = steps[key] + [{"step": "crop", "seconds": 30.0}]
    text = _preprocessing(tiny_results, steps)
    assert (f"2 of {len(keys)} recordings were resampled after preprocessing, from 10 Hz to "
            "5 Hz, by integer decimation with a polyphase anti-aliasing FIR filter "
            "(scipy.signal.resample_poly)") in text
    # rates equal but for round-off are one rate; another rate is counted apart
    steps[keys[0]] = steps[keys[0]] + [resample_step(10.0, 10.0 / 1.0000000000000002 / 2)]
    steps[keys[3]] = steps[keys[3]] + [resample_step(20.0, 5.0)]
    text = _preprocessing(tiny_results, steps)
    assert (f"3 of {len(keys)} recordings were resampled after preprocessing (2 from 10 Hz "
            "to 5 Hz and 1 from 20 Hz to 5 Hz)") in text
    assert "short_channel_regression = false: 1 recording" in text
    assert "Sessions with a `crop` in study.toml were cut" in text


def test_singular_fits_are_stated(tiny_results):
    models = tiny_results.models
    flat = " ".join(methods_text(tiny_results).split())
    singular = models[models["singular"].fillna(False).astype(bool)]
    assert len(singular)      # HbR's plasticity and growth fits of the tiny run
    for model in set(singular["model"]) & {"plasticity", "growth"}:
        title = {"plasticity": "The fit of HbR/wtc was singular",
                 "growth": "The growth fit of HbR/wtc was singular"}[model]
        assert title in flat


def test_nothing_claims_every_session(tiny_results):
    flat = " ".join(methods_text(tiny_results).split())
    assert "every session" not in flat.replace("in every session (", "")


def test_fft_library_is_named_only_where_it_computed(tiny_results):
    """ducc0 is named where it computed the transforms (float64), nowhere else."""
    def text(**changes):
        study = dataclasses.replace(
            tiny_results.study,
            analysis=dataclasses.replace(tiny_results.study.analysis, **changes))
        return " ".join(methods_text(dataclasses.replace(tiny_results, study=study)).split())
    assert "in double precision (FFTs by ducc0)." in text(precision="float64", fft="ducc0")
    assert "ducc0" not in text(precision="float64")
    assert "ducc0" not in text(precision="float32", fft="ducc0")
    assert "ducc0" not in text(fft="ducc0")   # the default precision, "fast"
