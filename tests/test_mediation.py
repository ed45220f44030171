"""Multilevel 1-1-1 mediation (stats/mediation.py): recovery, calibration, input."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from interbrain.stats.mediation import MIN_SESSIONS, dyad_paths, fit_mediation
from interbrain.stats.mediation_simulation import (DEFAULT_SCENARIOS, mediation_coverage,
                                                   simulate_mediation)
from interbrain.stats.mixed import lmer
from interbrain.stats.tables import MODEL_COLUMNS

N_STUDIES = 300
TERMS = ["a: session -> synchrony", "b: synchrony -> measure", "cov(a, b)",
         "indirect (a*b + cov)", "direct: session -> measure", "total: session -> measure"]


def _rows(result):
    return result.to_frame().set_index("term")


def test_planted_indirect_effect_is_recovered():
    truth = 0.5 * 0.5 + 0.05
    sessions, measures = simulate_mediation(80, 6, a=0.5, b=0.5, sd_a=0.2, sd_b=0.3,
                                            cov_ab=0.05, direct=0.2, seed=1)
    rows = _rows(fit_mediation(sessions, measures, "measure", seed=2))
    assert list(rows.index) == TERMS
    ind = rows.loc["indirect (a*b + cov)"]
    assert ind["ci_low"] > 0
    assert ind["ci_low"] <= truth <= ind["ci_high"]
    assert abs(ind["estimate"] - truth) < 0.1
    assert np.isnan(ind["p"]) and "Monte Carlo CI, 20000 draws" in ind["method"]
    assert abs(rows.loc["a: session -> synchrony", "estimate"] - 0.5) < 0.1
    assert abs(rows.loc["direct: session -> measure", "estimate"] - 0.2) < 0.15
    # per dyad, total = direct + a*b; so over dyads total = direct + indirect
    assert rows.loc["total: session -> measure", "estimate"] == pytest.approx(
        rows.loc["direct: session -> measure", "estimate"] + ind["estimate"])
    assert (rows["n_groups"] == 80).all() and (rows["n_obs"] == 480).all()


def test_rows_have_model_columns_and_the_a_path_equals_the_growth_model():
    sessions, measures = simulate_mediation(10, 6, sd_a=0.4, seed=3)
    result = fit_mediation(sessions, measures, "measure", seed=4)
    table = result.to_frame("HbO", "wtc")
    assert list(table.columns[:len(MODEL_COLUMNS)]) == MODEL_COLUMNS
    assert (table["model"] == "mediation:measure").all()
    assert (table[["signal", "metric"]] == ["HbO", "wtc"]).all().all()
    assert "indirect" in result.summary()
    # complete balanced sessions: the random-slope growth model gives the same a path
    growth = lmer("synchrony ~ session + (1 + session | dyad)", sessions)
    assert not growth.singular
    a_row = table.set_index("term").loc["a: session -> synchrony"]
    ref = growth.coefficients.loc["session"]
    assert a_row["estimate"] == pytest.approx(ref["estimate"], rel=1e-4)
    assert a_row["std_error"] == pytest.approx(ref["std_error"], rel=1e-3)
    assert a_row["df"] == pytest.approx(ref["df"], rel=1e-2)


def test_dataframe_and_array_paths_agree():
    sessions, measures = simulate_mediation(6, 7, seed=5)
    result = fit_mediation(sessions, measures, "measure", seed=0)
    shape = (6, 7)
    arrays = [frame[col].to_numpy(float).reshape(shape) for frame, col in (
        (sessions, "session"), (sessions, "synchrony"), (measures, "measure"))]
    paths = dyad_paths(*arrays)
    for key in ("a", "b", "direct", "total"):
        np.testing.assert_allclose(result.paths[key].to_numpy(), paths[key])
    # one dyad by hand: y ~ 1 + x + m
    x, m, y = (v[0] for v in arrays)
    coef = np.linalg.lstsq(np.column_stack([np.ones_like(x), x, m]), y, rcond=None)[0]
    assert paths["b"][0] == pytest.approx(coef[2])
    assert paths["direct"][0] == pytest.approx(coef[1])


def test_no_indirect_effect_false_positive_rate():
    scenarios = {k: DEFAULT_SCENARIOS[k] for k in ("no effect", "a only", "b only")}
    table = mediation_coverage(N_STUDIES, 8, 6, scenarios=scenarios, n_draws=4000,
                               seed=20)
    print(table[["scenario", "coverage", "excludes_zero"]].to_string(index=False))
    upper = sps.binom.ppf(0.999, N_STUDIES, 0.05) / N_STUDIES
    assert (table["indirect"] == 0).all()
    assert (table["excludes_zero"] <= upper).all(), table


@pytest.mark.parametrize("n_dyads", [8, 20])
def test_coverage_of_the_monte_carlo_interval(n_dyads):
    table = mediation_coverage(N_STUDIES, n_dyads, 6, n_draws=4000, seed=30 + n_dyads)
    print(table[["scenario", "indirect", "coverage", "excludes_zero", "coverage_a",
                 "coverage_b"]].to_string(index=False))
    low = sps.binom.ppf(0.001, N_STUDIES, 0.95) / N_STUDIES
    high = sps.binom.ppf(0.999, N_STUDIES, 0.95) / N_STUDIES
    assert table["coverage"].between(low, high).all(), table
    assert table[["coverage_a", "coverage_b"]].stack().between(low, high).all(), table


@pytest.mark.parametrize("name", ['mood") + Q("x', "session quality", "a`b 'c' \"d\"",
                                  "Zufriedenheit ü 😀", "measure", "synchrony", "1 + x"])
def test_hostile_measure_names(name):
    sessions, measures = simulate_mediation(5, 6, seed=6)
    measures = measures.rename(columns={"measure": name})
    result = fit_mediation(sessions, measures, name, seed=1, n_draws=500)
    table = result.to_frame()
    assert (table["model"] == f"mediation:{name}").all()
    assert f"b: synchrony -> {name}" in set(table["term"])
    reference = fit_mediation(sessions, measures.set_axis(
        ["dyad", "session", "measure"], axis=1), "measure", seed=1, n_draws=500)
    np.testing.assert_allclose(table["estimate"], reference.to_frame()["estimate"])


def test_dyads_with_too_few_sessions_are_left_out_and_said_so():
    sessions, measures = simulate_mediation(5, 6, seed=7)
    measures.loc[(measures["dyad"] == 2) & (measures["session"] > MIN_SESSIONS - 1),
                 "measure"] = np.nan
    result = fit_mediation(sessions, measures, "measure", seed=1, n_draws=500)
    assert result.n_dyads == 4 and 2 not in result.paths.index
    assert "1 dyad(s) left out" in result.simplification
    assert (result.to_frame()["simplification"] == result.simplification).all()


def test_bad_input_messages():
    sessions, measures = simulate_mediation(5, 6, seed=8)
    with pytest.raises(ValueError, match="lacks column"):
        fit_mediation(sessions.drop(columns="synchrony"), measures, "measure")
    with pytest.raises(ValueError, match="lacks column"):
        fit_mediation(sessions, measures, "mood")
    with pytest.raises(ValueError, match="at least 3 dyads"):
        fit_mediation(sessions[sessions["dyad"] <= 2], measures, "measure")
    with pytest.raises(ValueError, match="one row per dyad and session"):
        fit_mediation(pd.concat([sessions, sessions.head(1)]), measures, "measure")
    with pytest.raises(ValueError, match="must be numeric"):
        fit_mediation(sessions, measures.assign(measure="high"), "measure")
    with pytest.raises(ValueError, match="ci must lie"):
        fit_mediation(sessions, measures, "measure", ci=95)
    with pytest.raises(ValueError, match="df_method"):
        fit_mediation(sessions, measures, "measure", df_method="wald")
    with pytest.raises(ValueError, match="must be a pandas DataFrame"):
        fit_mediation(sessions.to_numpy(), measures, "measure")
    with pytest.raises(ValueError, match="cov_ab"):
        simulate_mediation(8, 6, sd_a=0.1, sd_b=0.1, cov_ab=0.5)
