"""Growth of synchrony over sessions (interbrain.stats.growth) on session-level data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from interbrain.stats import likelihood_ratio_test, lmer
from interbrain.stats.growth import (compare_growth, dyad_slopes, fit_growth, growth_formula,
                                     lrt_table)
from interbrain.stats.growth_analysis import analyse_growth
from interbrain.stats.result_table import result_table
from interbrain.stats.session_simulation import SessionModel, simulate_sessions

STRONG = SessionModel(slope_sd=0.01, residual_sd=0.02)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def test_growth_formulas():
    assert growth_formula() == "synchrony ~ session + (1 + session | dyad)"
    assert growth_formula("log") == ("synchrony ~ np.log(session) + "
                                     "(1 + np.log(session) | dyad)")
    assert growth_formula("quadratic", condition="condition") == (
        "synchrony ~ (session + I(session**2)) * condition + (1 + session | dyad)")
    assert growth_formula(therapist="therapist", covariates=["burnout"],
                          random_slope=False) == (
        "synchrony ~ session + burnout + (1 | dyad) + (1 | therapist)")
    # a column name that is not a plain identifier never becomes formula text
    with pytest.raises(ValueError, match="cannot be used as a formula term"):
        growth_formula(covariates=["my score"])
    with pytest.raises(ValueError, match="unknown time coding"):
        growth_formula("cubic")


@pytest.mark.parametrize("sign", [1, -1])
def test_linear_growth_recovers_the_planted_slope(sign):
    data = simulate_sessions(10, 6, effect=sign * 0.02, model=STRONG, seed=11)
    fit = fit_growth(data)
    assert fit.formula == "synchrony ~ session + (1 + session | dyad)"
    row = fit.coefficients.loc["session"]
    assert np.sign(row["estimate"]) == sign and row["p"] < 0.01
    assert row["estimate"] == pytest.approx(sign * 0.02, abs=3 * row["std_error"])
    assert 5 < row["df"] < 60
    # equals the general lmer call with the same formula
    direct = lmer("synchrony ~ session + (1 + session | dyad)", data)
    pd.testing.assert_frame_equal(fit.coefficients, direct.coefficients)


def test_log_time_coding():
    data = simulate_sessions(10, 8, effect=0.04, time="log", model=STRONG, seed=12)
    fit = fit_growth(data, time="log")
    assert "np.log(session)" in fit.coefficients.index
    row = fit.coefficients.loc["np.log(session)"]
    assert row["estimate"] > 0 and row["p"] < 0.01
    assert row["estimate"] == pytest.approx(0.04, abs=3 * row["std_error"])
    assert fit.loglik > fit_growth(data, time="linear").loglik  # log fits log data
    with pytest.raises(ValueError, match="sessions > 0|numbers > 0"):
        fit_growth(data.assign(session=data["session"] - 1), time="log")


def _curved(seed=13, curvature=-0.004):
    data = simulate_sessions(10, 7, effect=0.03, model=STRONG, seed=seed)
    data["synchrony"] += curvature * (data["session"] - 1) ** 2
    return data


def test_quadratic_time_coding_and_lrt_against_linear():
    data = _curved()
    fit = fit_growth(data, time="quadratic")
    assert fit.formula == ("synchrony ~ session + I(session**2) + "
                           "(1 + session | dyad)")
    quad = fit.coefficients.loc["I(session ** 2)"]
    assert quad["estimate"] < 0 and quad["p"] < 0.05
    comp = compare_growth(data)
    reduced, full, lrt = comp["quadratic_vs_linear"]
    assert lrt.df == 1 and lrt.refitted_ml and lrt.p < 0.05
    # the LRT by hand with ML fits
    ml_red = lmer(reduced.formula, reduced._data, reml=False)
    ml_full = lmer(full.formula, full._data, reml=False)
    assert lrt.chi2 == pytest.approx(2 * (ml_full.loglik - ml_red.loglik), rel=1e-6)
    assert lrt.p == pytest.approx(likelihood_ratio_test(ml_red, ml_full).p)
    # straight-line data: the quadratic term is not needed
    lin = simulate_sessions(10, 7, effect=0.03, model=STRONG, seed=14)
    assert compare_growth(lin)["quadratic_vs_linear"][2].p > 0.05


def test_dyad_slopes_are_fixed_plus_blup_and_track_the_planted_slopes():
    model = SessionModel(slope_sd=0.02, residual_sd=0.015)
    data = simulate_sessions(12, 8, effect=0.01, model=model, seed=15)
    fit = fit_growth(data)
    slopes = dyad_slopes(fit)
    assert list(slopes.columns) == ["dyad", "fixed_slope", "blup", "slope", "ols_slope",
                                    "n_sessions", "random_slope", "time", "units"]
    assert slopes["random_slope"].all() and (slopes["n_sessions"] == 8).all()
    beta = fit.coefficients.loc["session", "estimate"]
    np.testing.assert_allclose(slopes["fixed_slope"], beta, rtol=1e-6)
    blups = fit.random_effects["dyad"]["session"]
    np.testing.assert_allclose(slopes["blup"], blups.loc[slopes["dyad"]].to_numpy())
    np.testing.assert_allclose(slopes["slope"], slopes["fixed_slope"] + slopes["blup"])
    for _, row in slopes.iterrows():
        grp = data[data["dyad"] == row["dyad"]]
        assert row["ols_slope"] == pytest.approx(
            np.polyfit(grp["session"], grp["synchrony"], 1)[0], rel=1e-9)
    # shrunken slopes vary less than the OLS slopes and agree with them
    assert slopes["slope"].std() < slopes["ols_slope"].std()
    assert np.corrcoef(slopes["slope"], slopes["ols_slope"])[0, 1] > 0.9


def test_dyad_slopes_of_quadratic_and_condition_models():
    data = _curved()
    fit = fit_growth(data, time="quadratic")
    slopes = dyad_slopes(fit)
    b = fit.coefficients["estimate"]
    # average derivative b1 + 2 b2 s over sessions 1..7 (mean session 4)
    np.testing.assert_allclose(slopes["fixed_slope"],
                               b["session"] + 2 * b["I(session ** 2)"] * 4.0, rtol=1e-6)
    assert slopes["ols_slope"].isna().all()

    cond = simulate_sessions(12, 6, effect=0.01, condition_effect=0.02, model=STRONG,
                             seed=16)
    fit = fit_growth(cond, condition="condition")
    slopes = dyad_slopes(fit).merge(cond[["dyad", "condition"]].drop_duplicates())
    b = fit.coefficients["estimate"]
    therapy = slopes[slopes["condition"] == "therapy"]["fixed_slope"]
    control = slopes[slopes["condition"] == "control"]["fixed_slope"]
    np.testing.assert_allclose(control, b["session"], rtol=1e-6)
    np.testing.assert_allclose(therapy, b["session"]
                               + b["session:condition[T.therapy]"], rtol=1e-6)


def test_condition_interaction_is_recovered():
    data = simulate_sessions(16, 6, effect=0.005, condition_effect=0.02, model=STRONG,
                             seed=17)
    fit = fit_growth(data, condition="condition")
    assert fit.formula == ("synchrony ~ session * condition + (1 + session | dyad)")
    inter = fit.coefficients.loc["session:condition[T.therapy]"]
    assert inter["estimate"] > 0 and inter["p"] < 0.05
    assert inter["estimate"] == pytest.approx(0.02, abs=3 * inter["std_error"])
    # a condition that varies by session (e.g. in-person / video) works too
    per_session = data.assign(condition=np.where(data["session"] % 2 == 0, "video",
                                                 "room"))
    fit2 = fit_growth(per_session, condition="condition")
    assert "session:condition[T.video]" in fit2.coefficients.index
    with pytest.raises(ValueError, match="single level"):
        fit_growth(data.assign(condition="therapy"), condition="condition")


def test_one_therapist_has_no_therapist_term():
    data = simulate_sessions(8, 6, effect=0.01, n_therapists=1, seed=18)
    fit = fit_growth(data, therapist="therapist")
    assert "therapist" not in fit.formula
    assert "therapist" not in set(fit.variance_components["grp"])
    comp = compare_growth(data, therapist="therapist")
    assert "therapist" not in comp


def test_three_therapists_crossed_random_effect():
    model = SessionModel(therapist_sd=0.06, residual_sd=0.02)
    data = simulate_sessions(12, 6, effect=0.015, n_therapists=3, model=model, seed=19)
    assert data.groupby("therapist")["dyad"].nunique().tolist() == [4, 4, 4]
    fit = fit_growth(data, therapist="therapist")
    assert fit.formula == ("synchrony ~ session + (1 + session | dyad) "
                           "+ (1 | therapist)")
    assert fit.ngroups == {"dyad": 12, "therapist": 3}
    vc = fit.variance_components.set_index("grp")
    assert vc.loc["therapist", "vcov"] > 0
    assert set(fit.random_effects["therapist"].index) == {"T1", "T2", "T3"}
    assert fit.coefficients.loc["session", "estimate"] > 0
    # nested comparison without the therapist intercept
    comp = compare_growth(data, therapist="therapist")
    reduced, full, lrt = comp["therapist"]
    assert "therapist" not in reduced.formula and "(1 | therapist)" in full.formula
    assert lrt.df == 1 and 0 <= lrt.p <= 1
    table = lrt_table(comp, "hbo", "wtc")
    assert set(table["model"]) == {"lrt:quadratic_vs_linear", "lrt:therapist"}
    assert "conservative" in table.set_index("model").loc["lrt:therapist", "method"]


def test_therapist_level_covariate():
    model = SessionModel(therapist_sd=0.01, residual_sd=0.02)
    data = simulate_sessions(12, 6, effect=0.01, n_therapists=4, model=model, seed=20)
    burnout = {"T1": 1.0, "T2": 2.0, "T3": 3.0, "T4": 4.0}
    data["burnout"] = data["therapist"].map(burnout)
    data["synchrony"] -= 0.03 * data["burnout"]
    fit = fit_growth(data, therapist="therapist", covariates=["burnout"])
    assert "burnout" in fit.coefficients.index and "(1 | therapist)" in fit.formula
    row = fit.coefficients.loc["burnout"]
    assert row["estimate"] < 0
    assert row["estimate"] == pytest.approx(-0.03, abs=4 * row["std_error"])


def test_two_sessions_fall_back_to_random_intercept():
    data = simulate_sessions(8, 3, effect=0.02, seed=21)
    two = data[data["session"] <= 2]
    fit = fit_growth(two)
    assert fit.formula == "synchrony ~ session + (1 | dyad)"
    slopes = dyad_slopes(fit)
    assert not slopes["random_slope"].any() and (slopes["blup"] == 0).all()


def test_growth_input_errors():
    data = simulate_sessions(4, 4, seed=22)
    with pytest.raises(ValueError, match="at least 2 dyads"):
        fit_growth(data[data["dyad"] == "D01"])
    with pytest.raises(ValueError, match="lacks column"):
        fit_growth(data.drop(columns="synchrony"))
    with pytest.raises(ValueError, match="distinct sessions"):
        fit_growth(data[data["session"] <= 2], time="quadratic")


def test_analyse_growth_table():
    data = simulate_sessions(8, 6, effect=0.02, n_therapists=2, model=STRONG, seed=23)
    ga = analyse_growth(data, therapist="therapist", n_permutations=199)
    assert ga.permutation is not None and ga.permutation.p < 0.05
    table = ga.to_frame("hbo", "wtc")
    assert table.columns[:11].tolist() == ["model", "signal", "metric", "term",
                                           "estimate", "std_error", "df", "t", "p",
                                           "method", "formula"]
    models = set(table["model"])
    assert {"growth", "growth_permutation", "lrt:quadratic_vs_linear",
            "lrt:therapist"} <= models
    growth = table[(table["model"] == "growth") & (table["term"] == "session")].iloc[0]
    assert growth["ci_low"] < growth["estimate"] < growth["ci_high"]
    assert growth["ci_low"] > 0
    # quadratic: no permutation test, a note says so
    quad = analyse_growth(data, time="quadratic", n_permutations=99, compare=False)
    assert quad.permutation is None
    assert any("quadratic" in n for n in quad.notes)
    # everything goes through result_table too
    rows = result_table({"growth": ga}, "hbo", "wtc")
    assert len(rows) == len(table)
