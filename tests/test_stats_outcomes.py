"""Synchrony and outcome measures (interbrain.stats.outcomes): within/between,
lagged, cross-lagged and pre-post models, confidence intervals and equivalence tests."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from interbrain.stats.cross_lagged import CrossLaggedResult, fit_cross_lagged
from interbrain.stats.cross_lagged_simulation import simulate_cross_lagged
from interbrain.stats.growth import dyad_slopes, fit_growth
from interbrain.nulls.dyad_tests import confidence_interval
from interbrain.stats.equivalence import add_equivalence, equivalence_test
from interbrain.stats.outcome_models import SIMPLIFICATIONS
from interbrain.stats.outcomes import (analyse_outcomes, fit_lagged, fit_within_between,
                                       lagged_data, outcome_rows)
from interbrain.stats.prepost import prepost_change
from interbrain.stats.result_table import result_table
from interbrain.stats.session_simulation import SessionModel, simulate_sessions


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _split(data: pd.DataFrame, measure: str = "outcome"):
    return data[["dyad", "session", "synchrony"]], data[["dyad", "session", measure]]


# ---------------------------------------------------------------------------
# confidence intervals and TOST
# ---------------------------------------------------------------------------

def test_confidence_interval_uses_t_or_normal_quantiles():
    lo, hi = confidence_interval(1.0, 0.5, 10.0)
    q = sps.t.ppf(0.975, 10)
    assert (lo, hi) == (pytest.approx(1 - q * 0.5), pytest.approx(1 + q * 0.5))
    lo, hi = confidence_interval([0.0], [1.0], [np.inf], level=0.9)
    assert hi[0] == pytest.approx(sps.norm.ppf(0.95))


def test_equivalence_test_by_hand():
    est, se, df, delta = 0.1, 0.2, 20.0, 0.6
    res = equivalence_test(est, se, df, delta)
    assert res["p_lower"] == pytest.approx(sps.t.sf((est + delta) / se, df))
    assert res["p_upper"] == pytest.approx(sps.t.cdf((est - delta) / se, df))
    assert res["p_equivalence"] == max(res["p_lower"], res["p_upper"])
    # equivalent at 0.05 exactly when the 90% CI lies within +-delta
    lo90, hi90 = confidence_interval(est, se, df, level=0.90)
    assert res["equivalent"] == bool(-delta < lo90 and hi90 < delta)
    assert res["equivalent"]
    assert not equivalence_test(0.5, 0.2, 20.0, 0.6)["equivalent"]
    with pytest.raises(ValueError, match="positive number"):
        equivalence_test(0.1, 0.2, 20.0, 0.0)


def test_add_equivalence_standardized_scale():
    coefs = pd.DataFrame({"term": ["(Intercept)", "synchrony_within"],
                          "estimate": [1.0, 2.0], "std_error": [0.5, 1.0],
                          "df": [30.0, 30.0], "t": [2.0, 2.0], "p": [0.05, 0.05]})
    out = add_equivalence(coefs, 0.2, scale="standardized", sd_response=3.0,
                          sd_predictors={"synchrony_within": 0.1})
    row = out.set_index("term").loc["synchrony_within"]
    assert row["sesoi"] == pytest.approx(0.2 * 3.0 / 0.1)
    assert row["sesoi_input"] == 0.2 and row["sesoi_scale"] == "standardized"
    assert pd.isna(out.set_index("term").loc["(Intercept)", "equivalent"])
    with pytest.raises(ValueError, match="unknown sesoi_scale"):
        add_equivalence(coefs, 0.2, scale="cohen")


# ---------------------------------------------------------------------------
# (a) within / between
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("sign", [1, -1])
def test_within_dyad_effect_is_recovered_at_its_sign(sign):
    """A within-dyad effect opposite to the between-dyad effect: the split keeps
    them apart (a pooled slope would mix them)."""
    data = simulate_sessions(12, 6, effect=0.01, outcome_effect=sign * 0.5,
                             between_effect=-sign * 0.5, seed=31)
    fit = fit_within_between(*_split(data), "outcome")
    # the measure is fitted under an internal name and shown under its own
    assert fit.formula.startswith("measure ~ synchrony_within + synchrony_between + session")
    assert fit.labelled_formula.startswith("outcome ~ synchrony_within + synchrony_between "
                                           "+ session")
    # no between-dyad variation of the effect: the ladder reaches a simpler rung
    assert fit.simplification in SIMPLIFICATIONS
    coef = fit.coefficients
    planted = sign * 0.5 * 1.0 / SessionModel().residual_sd
    w = coef.loc["synchrony_within"]
    assert np.sign(w["estimate"]) == sign and w["p"] < 0.01
    assert w["estimate"] == pytest.approx(planted, abs=3 * w["std_error"])
    assert np.sign(coef.loc["synchrony_between", "estimate"]) == -sign
    # the split is computed over the rows used: within-parts sum to 0 per dyad
    assert fit._data.groupby("dyad")["synchrony_within"].sum().abs().max() < 1e-12


def test_missing_measures_recompute_the_split_over_the_rows_used():
    data = simulate_sessions(8, 6, outcome_effect=0.5, seed=32)
    sessions, measures = _split(data)
    measures = measures.copy()
    measures.loc[measures.index[::5], "outcome"] = np.nan
    fit = fit_within_between(sessions, measures, "outcome")
    assert fit.nobs == int(measures["outcome"].notna().sum())
    assert fit._data.groupby("dyad")["synchrony_within"].sum().abs().max() < 1e-12


def test_ci_coverage_of_the_within_effect():
    """95% CIs (Satterthwaite t) of the within-dyad coefficient cover the planted
    value in about 95% of simulated studies."""
    rng = np.random.default_rng(33)
    planted = 0.3 / SessionModel().residual_sd
    covered = []
    for _ in range(120):
        data = simulate_sessions(6, 5, effect=0.01, outcome_effect=0.3, seed=rng)
        rows = outcome_rows(fit_within_between(*_split(data), "outcome"))
        w = rows.set_index("term").loc["synchrony_within"]
        covered.append(w["ci_low"] <= planted <= w["ci_high"])
    assert 0.88 <= np.mean(covered) <= 0.995


def test_equivalence_for_no_effect_in_a_large_study_and_not_for_a_large_effect():
    sesoi = 5.0   # measure units per unit synchrony (0.15 SD per SD of session noise)
    null = simulate_sessions(200, 5, effect=0.01, outcome_effect=0.0, seed=34)
    rows = outcome_rows(fit_within_between(*_split(null), "outcome"), sesoi)
    w = rows.set_index("term").loc["synchrony_within"]
    assert bool(w["equivalent"]) and w["p_equivalence"] < 0.05
    assert -sesoi < w["ci_low"] < w["ci_high"] < sesoi
    big = simulate_sessions(200, 5, effect=0.01, outcome_effect=0.5, seed=35)
    rows = outcome_rows(fit_within_between(*_split(big), "outcome"), sesoi)
    w = rows.set_index("term").loc["synchrony_within"]
    assert not bool(w["equivalent"]) and w["p"] < 0.001
    # a small study cannot claim equivalence either: its CI is too wide
    small = simulate_sessions(5, 4, outcome_effect=0.0, seed=36)
    rows = outcome_rows(fit_within_between(*_split(small), "outcome"), sesoi)
    assert not bool(rows.set_index("term").loc["synchrony_within", "equivalent"])


# ---------------------------------------------------------------------------
# (b) lagged
# ---------------------------------------------------------------------------

def _lagged_study(seed: int, gamma: float, n_dyads=14, n_sessions=6):
    """Measure at session t + 1 driven by the within-dyad synchrony at session t."""
    rng = np.random.default_rng(seed)
    data = simulate_sessions(n_dyads, n_sessions, effect=0.0, seed=rng)
    sync = data.pivot(index="dyad", columns="session", values="synchrony")
    within = sync.sub(sync.mean(axis=1), axis=0)
    m = rng.normal(0, 1, (n_dyads, 1)) + rng.normal(0, 0.5, sync.shape)
    m[:, 1:] += gamma * within.to_numpy()[:, :-1]
    measures = pd.DataFrame(m, index=sync.index, columns=sync.columns).stack()
    measures = measures.rename("symptoms").reset_index()
    return data[["dyad", "session", "synchrony"]], measures


def test_lagged_data_pairs_session_t_with_the_measure_of_t_plus_1():
    sessions, measures = _lagged_study(41, 10.0, n_dyads=4, n_sessions=5)
    measures = measures[~((measures["dyad"] == "D01") & (measures["session"] == 3))]
    lag = lagged_data(sessions, measures, "symptoms")
    assert {"symptoms_next", "synchrony_between", "synchrony_within"} <= set(lag.columns)
    # no pair for session 5 (no session 6), none for D01 session 2 (measure 3 missing)
    assert (lag["session"] <= 4).all()
    assert not ((lag["dyad"] == "D01") & (lag["session"] == 2)).any()
    row = lag[(lag["dyad"] == "D02") & (lag["session"] == 2)].iloc[0]
    expected = measures[(measures["dyad"] == "D02") & (measures["session"] == 3)]
    assert row["symptoms_next"] == expected["symptoms"].iloc[0]
    assert len(lag) == 4 * 4 - 1


@pytest.mark.parametrize("gamma", [15.0, -15.0])
def test_lagged_effect_is_recovered_and_the_concurrent_one_is_not(gamma):
    sessions, measures = _lagged_study(42, gamma)
    lagged = fit_lagged(sessions, measures, "symptoms")
    assert lagged.formula.startswith("measure_next ~ synchrony_within")
    assert lagged.labelled_formula.startswith("symptoms_next ~ synchrony_within")
    w = lagged.coefficients.loc["synchrony_within"]
    assert np.sign(w["estimate"]) == np.sign(gamma) and w["p"] < 0.01
    concurrent = fit_within_between(sessions, measures, "symptoms")
    assert concurrent.coefficients.loc["synchrony_within", "p"] > 0.01


# ---------------------------------------------------------------------------
# (c) pre-post change against the synchrony slope
# ---------------------------------------------------------------------------

def _prepost_study(seed: int, kappa: float):
    model = SessionModel(slope_sd=0.02, residual_sd=0.01)
    rng = np.random.default_rng(seed)
    data = simulate_sessions(16, 6, effect=0.01, model=model, seed=rng)
    slopes = data.groupby("dyad").apply(
        lambda g: np.polyfit(g["session"], g["synchrony"], 1)[0], include_groups=False)
    base = rng.normal(30, 5, len(slopes))
    rows = []
    for (dyad, slope), b in zip(slopes.items(), base):
        for s in range(1, 7):
            rows.append((dyad, s, b + kappa * slope * (s - 1) / 5
                         + rng.normal(0, 0.5)))
    measures = pd.DataFrame(rows, columns=["dyad", "session", "symptoms"])
    return data[["dyad", "session", "synchrony"]], measures


def test_prepost_change_is_ols_on_the_dyad_slopes():
    sessions, measures = _prepost_study(51, kappa=-300.0)
    res = prepost_change(sessions, measures, "symptoms")
    per = res.data.set_index("dyad")
    m = measures.sort_values(["dyad", "session"]).groupby("dyad")["symptoms"]
    np.testing.assert_allclose(per["change"], (m.last() - m.first()).loc[per.index])
    lr = sps.linregress(per["slope"], per["change"])
    assert res.estimate == pytest.approx(lr.slope) and res.p == pytest.approx(lr.pvalue)
    assert res.std_error == pytest.approx(lr.stderr) and res.df == 14
    assert res.estimate < 0 and res.p < 0.01 and res.slope_source == "ols"
    # growth-model slopes (fixed + BLUP) instead
    growth = prepost_change(sessions, measures, "symptoms",
                            slopes=dyad_slopes(fit_growth(sessions)))
    assert growth.slope_source == "growth" and growth.estimate < 0
    rows = outcome_rows(res, sesoi=10.0)
    assert {"ci_low", "ci_high", "p_equivalence"} <= set(rows.columns)


def test_prepost_errors():
    sessions, measures = _prepost_study(52, kappa=0.0)
    few = measures[measures["dyad"].isin(["D01", "D02"])]
    with pytest.raises(ValueError, match="at least 3"):
        prepost_change(sessions, few, "symptoms")


# ---------------------------------------------------------------------------
# every measure in one call
# ---------------------------------------------------------------------------

def test_analyse_outcomes_all_measures_and_a_user_column():
    data = simulate_sessions(10, 6, effect=0.01, outcome_effect=0.5, seed=61)
    rng = np.random.default_rng(61)
    measures = data[["dyad", "session"]].copy()
    measures["symptoms"] = -data["outcome"] + 40
    measures["wellbeing"] = data["outcome"]
    measures["session_quality"] = rng.normal(4, 1, len(data))
    measures["alliance"] = rng.normal(5, 1, len(data))
    measures["my score"] = data["outcome"] * 2
    sessions = data[["dyad", "session", "synchrony"]]
    res = analyse_outcomes(sessions, measures, sesoi={"alliance": 5.0, "symptoms": 5.0},
                           n_bootstrap=99, seed=1)
    assert not res.notes
    names = set(res.fits())
    for m in ("symptoms", "wellbeing", "session_quality", "alliance", "my score"):
        assert {f"outcome:{m}", f"cross_lagged:{m}:synchrony -> {m}",
                f"cross_lagged:{m}:{m} -> synchrony", f"prepost:{m}"} <= names
        assert isinstance(res.lagged[m], CrossLaggedResult)
    assert not any(name.startswith("lagged:") for name in names)
    assert res.within_between["my score"].formula.startswith("measure ~")
    assert res.within_between["my score"].labelled_formula.startswith("`my score` ~")
    table = res.to_frame("hbo", "wtc")
    within = table[(table["term"] == "synchrony_within")
                   & table["model"].str.startswith("outcome:")].set_index("model")
    assert within.loc["outcome:symptoms", "estimate"] < 0
    assert within.loc["outcome:wellbeing", "estimate"] > 0
    assert within.loc["outcome:my score", "estimate"] == pytest.approx(
        2 * within.loc["outcome:wellbeing", "estimate"], rel=1e-6)
    # SESOI only where given; CIs everywhere
    assert within["ci_low"].notna().all()
    assert within.loc["outcome:alliance", "sesoi"] == 5.0
    assert pd.isna(within.loc["outcome:wellbeing", "sesoi"])
    assert table["equivalent"].dtype == "boolean"
    # the cross-lagged rows, with the bias-corrected bootstrap test and interval
    cross = table[table["model"].str.startswith("cross_lagged:")]
    assert len(cross) == 10 and not table["model"].str.startswith("lagged:").any()
    assert set(cross["term"]) >= {"synchrony -> my score", "my score -> synchrony"}
    assert cross["p_bootstrap"].between(0, 1).all() and (cross["n_bootstrap"] == 99).all()
    assert (cross["ci_low_bootstrap"] < cross["ci_high_bootstrap"]).all()
    assert "cross-lagged: p_bootstrap" in res.summary()
    # the same rows through result_table
    same = result_table({"outcomes": res}, "hbo", "wtc", sesoi=res.sesoi)
    pd.testing.assert_frame_equal(same, table)
    with pytest.raises(ValueError, match="unknown measure"):
        analyse_outcomes(sessions, measures, sesoi={"mood": 1.0})


def test_analyse_outcomes_skips_models_without_data():
    data = simulate_sessions(6, 4, seed=62)
    measures = data[["dyad", "session"]].assign(
        rare=np.where(data["dyad"].isin(["D01", "D02"]), 1.0, np.nan))
    res = analyse_outcomes(data[["dyad", "session", "synchrony"]], measures)
    assert not res.fits()
    assert len(res.notes) == 3 and all("skipped" in n for n in res.notes)


def test_analyse_outcomes_fits_the_cross_lagged_models_not_the_lagged_one():
    """Issue 15: the lagged model (no earlier measure, no reverse path) is replaced by
    the cross-lagged models of both directions, with the bootstrap passed through."""
    s, m = simulate_cross_lagged(8, 6, measure_to_sync=0.5, seed=3)
    m = m.rename(columns={"measure": "mood"})
    res = analyse_outcomes(s, m, prepost=False, n_bootstrap=49, seed=5)
    direct = fit_cross_lagged(s, m, "mood", n_bootstrap=49, seed=5)
    got = res.to_frame("hbo", "wtc")
    expected = direct.to_frame("hbo", "wtc")
    got = got.loc[got["model"] == "cross_lagged:mood", list(expected.columns)]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)
    fits = res.fits()
    assert fits["cross_lagged:mood:mood -> synchrony"] is res.lagged["mood"].fits[
        "measure -> synchrony"]
    again = analyse_outcomes(s, m, prepost=False, n_bootstrap=49, seed=5).to_frame()
    pd.testing.assert_frame_equal(again, res.to_frame())
    assert not analyse_outcomes(s, m, prepost=False, lagged=False).lagged
    with pytest.raises(ValueError, match="n_bootstrap"):
        analyse_outcomes(s, m, n_bootstrap=10)
    none = analyse_outcomes(s, m, prepost=False, n_bootstrap=0).to_frame()
    assert none.loc[none["model"] == "cross_lagged:mood", "p_bootstrap"].isna().all()


def test_standardized_sesoi_scales_each_level_by_its_own_sds():
    """The within-dyad effect's bound uses within-dyad SDs of measure and synchrony, the
    between-dyad effect's the SDs of the dyad means: a measure that differs a lot
    between dyads no longer widens the within-dyad bound (issue 14: the total SD made
    "no association" too easy to claim)."""
    rng = np.random.default_rng(3)
    n_dyads, n_sessions = 8, 6
    dyad = np.repeat([f"d{i}" for i in range(n_dyads)], n_sessions)
    session = np.tile(np.arange(1, n_sessions + 1), n_dyads)
    sync = (rng.normal(0.3, 0.05, n_dyads)[np.repeat(np.arange(n_dyads), n_sessions)]
            + rng.normal(0, 0.02, len(dyad)))
    dyad_level = rng.normal(0, 10.0, n_dyads)[np.repeat(np.arange(n_dyads), n_sessions)]
    within = sync - pd.Series(sync).groupby(dyad).transform("mean").to_numpy()
    measure = dyad_level + 25.0 * within + rng.normal(0, 0.3, len(dyad))
    sessions = pd.DataFrame({"dyad": dyad, "session": session, "synchrony": sync})
    measures = pd.DataFrame({"dyad": dyad, "session": session, "m": measure})
    fit = fit_within_between(sessions, measures, "m")
    rows = outcome_rows(fit, 0.3, sesoi_scale="standardized").set_index("term")

    def pooled_within(v):
        dev = v - pd.Series(v).groupby(dyad).transform("mean").to_numpy()
        return np.sqrt((dev ** 2).sum() / (len(v) - n_dyads))

    def between(v):
        return pd.Series(v).groupby(dyad).mean().std(ddof=1)

    assert rows.loc["synchrony_within", "sesoi"] == pytest.approx(
        0.3 * pooled_within(measure) / pooled_within(sync), rel=1e-12)
    assert rows.loc["synchrony_between", "sesoi"] == pytest.approx(
        0.3 * between(measure) / between(sync), rel=1e-12)
    # the planted within-dyad effect is about 25 measure units per synchrony unit; with
    # the total SD of the measure the bound would exceed it and "equivalent" follow
    total_bound = 0.3 * np.std(measure, ddof=1) / np.std(within, ddof=1)
    assert total_bound > 25.0 > rows.loc["synchrony_within", "sesoi"]
    assert not rows.loc["synchrony_within", "equivalent"]


def test_equivalence_claims_hold_their_level_at_the_bound():
    """Calibration of the TOST of the within-dyad effect: with a true standardized
    within-dyad effect equal to the SESOI (0.3) and measures that differ a lot between
    dyads (the nuisance that inflated the old, total-SD bound), "equivalent" is
    claimed in at most about alpha = 5% of 200 studies of 8 dyads x 6 sessions (the
    total-SD bound claimed it in all of them)."""
    rng = np.random.default_rng(0)
    sesoi, n_dyads, n_sessions = 0.3, 8, 6
    b = sesoi / np.sqrt(1 - sesoi ** 2)   # within-dyad correlation of 0.3
    dyad = np.repeat([f"d{i}" for i in range(n_dyads)], n_sessions)
    session = np.tile(np.arange(1, n_sessions + 1), n_dyads)
    idx = np.repeat(np.arange(n_dyads), n_sessions)
    claims = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(200):
            x = rng.normal(0, 1, len(dyad))
            sync = rng.normal(0, 3, n_dyads)[idx] + x
            measure = rng.normal(0, 10, n_dyads)[idx] + b * x + rng.normal(0, 1, len(dyad))
            fit = fit_within_between(
                pd.DataFrame({"dyad": dyad, "session": session, "synchrony": sync}),
                pd.DataFrame({"dyad": dyad, "session": session, "m": measure}), "m")
            rows = outcome_rows(fit, sesoi, sesoi_scale="standardized").set_index("term")
            claims.append(bool(rows.loc["synchrony_within", "equivalent"]))
    # 200 studies: the upper 99% binomial limit of a 5% rate is about 0.095
    assert np.mean(claims) <= 0.095
