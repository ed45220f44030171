"""Result types (interbrain.results) and the report's text, on conftest's tiny run."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from interbrain.report import methods_text, report_html
from interbrain.report.apa import apa_ci, apa_number, apa_p_clause, decimals_for
from interbrain.report.figures import excess_over_sessions, mean_ci_over_dyads
from interbrain.results import ModelKey, StudyResults, SynchronyResults, fit_key
from interbrain.stats.outcome_models import SIMPLIFICATIONS


def test_model_key_reads_as_before_and_is_never_parsed():
    key = ModelKey("growth", "hbo", "wtc")
    assert str(key) == "growth[hbo/wtc]"
    assert fit_key("growth", "hbo", "wtc") == key
    assert ModelKey.of(("growth", "hbo", "wtc")) == key and ModelKey.of(key) is key
    assert {key: 1}[ModelKey("growth", "hbo", "wtc")] == 1
    with pytest.raises(TypeError, match="not a model key"):
        ModelKey.of("growth[hbo/wtc]")
    with pytest.raises(dataclasses.FrozenInstanceError):
        key.model = "outcome:x"
    assert sorted([ModelKey("outcome:a", "hbo", "wtc"), key]) == [
        key, ModelKey("outcome:a", "hbo", "wtc")]


def test_study_results_keeps_fits_by_model_key(tiny_results):
    assert isinstance(tiny_results, StudyResults)
    assert tiny_results.fits and all(isinstance(k, ModelKey) for k in tiny_results.fits)
    growth = tiny_results.fits_of("growth")
    assert set(growth) == {ModelKey("growth", s, m)
                           for s in tiny_results.study.analysis.signals
                           for m in tiny_results.study.analysis.metrics}
    assert tiny_results.fit("growth", "hbo", "wtc") is growth[ModelKey("growth", "hbo", "wtc")]
    assert tiny_results.fit("growth", "hbo", "no such metric") is None
    # tuples given by a statistics stage become ModelKeys
    again = dataclasses.replace(tiny_results, fits={("growth", "hbo", "wtc"): "fit"})
    assert again.fits == {ModelKey("growth", "hbo", "wtc"): "fit"}


def test_results_present_themselves(tiny_results):
    assert tiny_results.to_frame() is tiny_results.models
    summary = tiny_results.summary()
    assert "2 dyad(s), 4 dyad-session(s)" in summary
    assert "growth[hbo/wtc]" in summary and "growth" in summary
    stage = SynchronyResults(tiny_results.synchrony, tiny_results.qc, tiny_results.steps,
                             tiny_results.summaries, retained=tiny_results.retained)
    assert stage.to_frame() is tiny_results.synchrony
    assert "real pairings: 2 dyad(s), 4 dyad-session(s)" in stage.summary()


def test_tables_are_the_parquet_files_of_a_run(tiny_results, tiny_run):
    tables = tiny_results.tables()
    assert set(tables) == {p.name for p in tiny_run.glob("*.parquet")}
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame.reset_index(drop=True),
                                      pd.read_parquet(tiny_run / name), check_dtype=False)
    record = json.loads(tiny_results.preprocessing_record())
    assert record == json.loads((tiny_run / "preprocessing.json").read_text())


def test_report_functions_return_text_and_write_nothing(tiny_results, tmp_path,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    methods = methods_text(tiny_results)
    html = report_html(tiny_results)
    assert list(tmp_path.iterdir()) == []
    # the study's default df method, Satterthwaite, is the one named
    assert tiny_results.study.statistics.df_method == "satterthwaite"
    assert methods.startswith("# Methods") and "Satterthwaite" in methods
    assert "`synchrony ~ session + (1 | dyad)`" in methods
    assert html.lstrip().lower().startswith("<!doctype html")
    # quality map, and per signal: trajectories, real vs pseudo, excess over sessions
    assert html.count("data:image/png;base64,") >= 1 + 3 * 2
    assert "<h3>Growth of real synchrony (not controlled for the null)</h3>" in html


def test_models_record_each_mixed_model_s_health(tiny_results):
    """df method, singular flag and convergence of every mixed-model row, equal to the
    fit's own; missing for rows that are not mixed models."""
    models = tiny_results.models
    assert {"df_method", "singular", "converged"} <= set(models.columns)
    for key, fit in tiny_results.fits_of("growth").items():
        rows = models[(models["model"] == "growth") & (models["signal"] == key.signal)
                      & (models["metric"] == key.metric)]
        assert len(rows) == len(fit.coefficients)
        assert set(rows["df_method"]) == {"Satterthwaite"} == {fit.df_method}
        assert set(rows["singular"]) == {bool(fit.singular)}
        assert set(rows["converged"]) == {bool(fit.converged)}
    others = models[models["model"].str.startswith("real_vs_")]
    assert len(others) and others["singular"].isna().all()


def _singular_fits(text: str) -> set[str]:
    found = re.search(r"The growth fit of (.+?) was singular", text)
    return set(found.group(1).split(", ")) if found else set()


def test_methods_say_when_a_growth_fit_is_singular(tiny_results):
    fits = dict(tiny_results.fits)
    expected = {f"{k.signal.replace('hb', 'Hb').replace('o', 'O').replace('r', 'R')}/"
                f"{k.metric}" for k, f in tiny_results.fits_of("growth").items()
                if f.singular}
    assert _singular_fits(methods_text(tiny_results)) == expected
    key = ModelKey("growth", "hbo", "wtc")
    fit = fits[key]
    flipped = type(fit)(**{**vars(fit), "singular": not fit.singular})
    other = methods_text(dataclasses.replace(tiny_results, fits={**fits, key: flipped}))
    assert _singular_fits(other) == expected ^ {"HbO/wtc"}


# --------------------------------------------------------------------------- wording


def _paragraphs(methods: str) -> dict[str, str]:
    """The bold-titled paragraphs of methods.md by title (``"Inter-brain plasticity"``)."""
    out = {}
    for block in methods.split("\n\n"):
        found = re.match(r"\*\*(.+?)\.\*\*", block.strip())
        if found:
            out[found.group(1)] = " ".join(block.split())
    return out


def _plasticity_rows(results):
    models = results.models
    return models[models["model"] == "plasticity"]


def test_only_the_plasticity_test_is_called_inter_brain_plasticity(tiny_results):
    paragraphs = _paragraphs(methods_text(tiny_results))
    titles = list(paragraphs)
    # the confirmatory family first, then the plasticity test, then growth of synchrony
    assert titles.index("Confirmatory tests") < titles.index("Inter-brain plasticity") \
        < titles.index("Growth of real synchrony (exploratory)")
    claiming = {t for t, text in paragraphs.items() if "inter-brain plasticity" in text.lower()}
    assert claiming == {"Inter-brain plasticity"}
    growth = paragraphs["Growth of real synchrony (exploratory)"]
    assert "plasticity" not in growth.lower() and "not controlled for any null" in growth


def expected_methods() -> dict[str, str]:
    """Words naming each permutation method in the plasticity paragraph."""
    return {"exact": "exact dyad-level sign-flip", "monte_carlo": "random sign patterns",
            "reassign": "reassigning partners"}


def test_methods_describe_the_plasticity_test_as_fitted(tiny_results):
    rows = _plasticity_rows(tiny_results)
    assert len(rows) == 2   # HbO and HbR over every channel pair
    text = _paragraphs(methods_text(tiny_results))["Inter-brain plasticity"]
    for formula in set(rows["formula"]):
        assert f"The model fitted was `{formula}`" in text
    for simplification in set(rows["simplification"]) - {""}:
        assert simplification in text
    (df_method,) = set(rows["df_method"])
    assert f"tested with {df_method} degrees of freedom" in text
    singular = {f"{s.replace('hb', 'Hb').replace('o', 'O').replace('r', 'R')}/{m}"
                for s, m, flag in zip(rows["signal"], rows["metric"], rows["singular"]) if flag}
    found = re.search(r"The fit of (.+?) was singular", text)
    assert (set(re.split(r", | and ", found.group(1))) if found else set()) == singular
    assert ("No fit was singular" in text) == (not singular)
    (method,) = set(rows["permutation_method"])
    n = int(rows["n_permutations"].iloc[0])
    seed = tiny_results.study.statistics.seed
    expected = {
        "exact": f"an exact dyad-level sign-flip test of the dyads' excess slopes (all {n} "
                 "sign patterns), two-sided",
        "monte_carlo": f"a dyad-level sign-flip test of the dyads' excess slopes ({n} random "
                       f"sign patterns, seed {seed})",
        "reassign": f"reassigning partners within session number: {n} random "
                    f"reassignments (seed {seed})"}[method]
    headline = text.split("As exploratory checks")[0]
    assert f"the one entering the confirmatory family) is that of {expected}" in headline
    # 2 dyads: all 4 sign patterns fit in n_permutations, so the sign-flip test is exact
    assert method == "exact" and n == 4
    for other in set(expected_methods()) - {method}:
        assert expected_methods()[other] not in headline
    # the other nulls' versions, as exploratory checks, with their own permutation test
    familiarity = tiny_results.models[tiny_results.models["model"] == "plasticity:familiarity"]
    assert len(familiarity) and set(familiarity["family"]) == {"exploratory"}
    assert "familiarity pairings (`plasticity:familiarity`)" in text.split(
        "As exploratory checks")[1]


def test_methods_name_the_confirmatory_family_and_df_methods(tiny_results):
    paragraphs = _paragraphs(methods_text(tiny_results))
    confirmatory = paragraphs["Confirmatory tests"]
    assert "primary signal (HbO)" in confirmatory
    assert "synchrony metric (wavelet coherence)" in confirmatory
    assert "channel pairs (every channel pair)" in confirmatory
    assert "Holm's (1979) step-down method" in confirmatory
    n = int((tiny_results.models["family"] == "confirmatory").sum())
    assert n == 1 and "The family comprised 1 test in this run." in confirmatory
    assert "alpha = 0.05" in paragraphs["Exploratory tests"]
    df = paragraphs["Degrees of freedom"]
    assert "Kuznetsova et al., 2017" in df
    assert "Kenward" not in df       # Kenward-Roger's method was not used
    # another df method in the models: its reference instead
    models = tiny_results.models.copy()
    models.loc[models["model"] == "growth", "df_method"] = "Kenward-Roger"
    other = _paragraphs(methods_text(dataclasses.replace(tiny_results, models=models)))
    assert "Kenward & Roger, 1997" in other["Degrees of freedom"]
    assert "Halekoh & Højsgaard, 2014" in other["Degrees of freedom"]
    assert re.search(r"Kenward & Roger, 1997.*for the growth model",
                     other["Degrees of freedom"])


def test_methods_name_the_rung_each_outcome_model_used(tiny_results):
    """Outcome rows (faked from the growth rows: the tiny study has too few dyads) are
    described by the rung in their ``simplification`` column."""
    models = tiny_results.models
    growth = models[(models["model"] == "growth") & (models["term"] == "session")]
    fake = growth.assign(model="outcome:symptoms", term="synchrony_within",
                         simplification=SIMPLIFICATIONS[2],
                         df_method="CR2, Satterthwaite (clubSandwich)", family="exploratory")
    fake.loc[fake["signal"] == "hbr", "simplification"] = SIMPLIFICATIONS[0]
    results = dataclasses.replace(tiny_results,
                                  models=pd.concat([models, fake], ignore_index=True))
    text = _paragraphs(methods_text(results))
    outcome = text["Outcome models"]
    assert "pre-specified ladder" in outcome
    assert ("OLS with CR2 cluster-robust SE by dyad: outcome:symptoms (HbO/wtc)" in outcome)
    assert "correlated random intercept and slope per dyad: outcome:symptoms (HbR/wtc)" \
        in outcome
    assert "Bell & McCaffrey, 2002" in text["Degrees of freedom"]
    # the tiny run itself fitted none: the paragraph says why, and claims no model
    own = _paragraphs(methods_text(tiny_results))["Outcome models"]
    assert "were not modelled" in own and "needs at least 3 dyads" in own
    assert "ladder" not in own


def test_no_plasticity_claim_without_plasticity_rows(tiny_results):
    models = tiny_results.models
    models = models[~models["model"].str.startswith("plasticity")].assign(
        family="exploratory")
    reason = "plasticity test against pseudo (hbo/wtc) not run: the test needs 2 dyads"
    results = dataclasses.replace(
        tiny_results, models=models,
        fits={k: f for k, f in tiny_results.fits.items()
              if not k.model.startswith("plasticity")},
        excess=pd.DataFrame(), notes=[*tiny_results.notes, reason])
    methods = methods_text(results)
    paragraphs = _paragraphs(methods)
    assert paragraphs["Inter-brain plasticity"].startswith(
        "**Inter-brain plasticity.** Not tested in this run:")
    assert reason in paragraphs["Inter-brain plasticity"]
    assert "excess ~" not in methods and "reassign" not in methods
    assert "was not run: " + reason in paragraphs["Confirmatory tests"]
    assert "No test of the family could be run" in paragraphs["Confirmatory tests"]
    html = report_html(results)
    assert "No confirmatory test could be run in this run." in html
    assert f"Not tested: {reason}" in html.replace("&#39;", "'")


# --------------------------------------------------------------------------- report


def test_report_opens_with_the_confirmatory_results(tiny_results):
    """Findings first (issue 18): the confirmatory results in words and APA numbers,
    before the sections of each signal."""
    html = report_html(tiny_results)
    start = html.index('<h3 id="confirmatory">Confirmatory results</h3>')
    assert html.index('<h2 id="findings">') < start < html.index('<h2 id="hbo-wtc">')
    section = html[start:html.index("</ul>", start)]
    row = _plasticity_rows(tiny_results).query("signal == 'hbo'").iloc[0]
    assert row["family"] == "confirmatory"
    d = decimals_for(row["estimate"], row["ci_low"], row["ci_high"])
    assert ("Inter-brain plasticity (HbO, wavelet coherence, all pairs).</span> "
            '<span class="result">') in section
    assert (f"{apa_number(row['estimate'], d, signed=True)} per session "
            f"{apa_ci(row['ci_low'], row['ci_high'], d)}, permutation "
            f"{apa_p_clause(row['p_permutation'])} (Holm-adjusted "
            f"{apa_p_clause(row['p_adjusted'])}") in section
    assert section.count("<li") == 1          # one sentence per confirmatory row
    assert 'href="#plasticity-hbo-wtc"' in section
    assert '<h3 id="plasticity-hbo-wtc">Inter-brain plasticity</h3>' in html
    assert '<h3 id="plasticity-hbr-wtc">Inter-brain plasticity</h3>' in html


def test_report_shows_one_p_value_per_hypothesis(tiny_results):
    html = report_html(tiny_results)
    assert len(tiny_results.null_tests) and "<th>p_t</th>" not in html
    assert "a t-test (p_t)" not in html and "paired t-test" not in html
    test = tiny_results.real_vs_pseudo[("hbo", "wtc")]
    d = decimals_for(test.real, test.pseudo, test.difference, test.ci_low, test.ci_high)
    assert (f"difference {apa_number(test.difference, d, signed=True)}, 95% CI "
            f"{apa_ci(test.ci_low, test.ci_high, d)}") in html
    assert f"{apa_p_clause(test.p_permutation)} (exploratory)" in html
    # the all-terms note no longer claims a random-intercept outcome model
    assert "synchrony_between + session + (1 | dyad)" not in html
    assert "<code>simplification</code>" in html


def test_mean_ci_over_dyads_is_the_student_t_interval():
    frame = pd.DataFrame({"session": [1, 1, 1, 2, 2, 3],
                          "excess": [0.1, 0.3, 0.2, 0.0, 0.4, 0.5]})
    out = mean_ci_over_dyads(frame, "excess")
    first = np.array([0.1, 0.3, 0.2])
    half = stats.t.ppf(0.975, 2) * first.std(ddof=1) / np.sqrt(3)
    assert out.loc[1, "mean"] == pytest.approx(0.2)
    assert out.loc[1, "low"] == pytest.approx(0.2 - half)
    assert out.loc[1, "high"] == pytest.approx(0.2 + half)
    assert list(out["n"]) == [3, 2, 1]
    assert np.isnan(out.loc[3, "low"]) and out.loc[3, "mean"] == 0.5


def test_excess_figure_is_a_png(tiny_results):
    png = excess_over_sessions(tiny_results.excess, "hbo", "wtc")
    assert png.startswith(b"\x89PNG")
