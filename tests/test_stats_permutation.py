"""Permutation tests (interbrain.stats.permutation): the dyad-level slope test and maxT."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats as sps

from interbrain.stats.growth import fit_growth
from interbrain.stats.permutation import (maxt_permutation, permutation_p,
                                          permute_within_groups, sign_flip_scheme,
                                          slope_permutation_test)
from interbrain.stats.session_simulation import SessionModel, simulate_sessions
from interbrain.stats.slopes import dyad_ols_slopes


def test_permutation_p_counts_ties_and_the_observed_value():
    null = np.array([0.5, -2.0, 1.0, -1.0, 3.0])
    # |T*| >= 1: -2, 1, -1, 3 -> (1 + 4) / 6
    assert permutation_p(1.0, null) == pytest.approx(5 / 6)
    assert permutation_p(-10.0, null) == pytest.approx(1 / 6)


def test_permute_within_groups_keeps_each_groups_values():
    rng = np.random.default_rng(0)
    values = np.arange(12.0)
    groups = np.repeat(["a", "b", "c"], 4)
    out = permute_within_groups(values, groups, rng)
    for g in "abc":
        assert sorted(out[groups == g]) == sorted(values[groups == g])
    assert not np.array_equal(out, values)


def test_dyad_ols_slopes_match_polyfit_and_skip_single_sessions():
    data = simulate_sessions(5, 4, effect=0.02, seed=1)
    data = data.drop(index=data.index[(data["dyad"] == "D05") & (data["session"] > 1)])
    out = dyad_ols_slopes(data).set_index("dyad")
    for dyad, grp in data.groupby("dyad"):
        if len(grp) < 2:
            assert np.isnan(out.loc[dyad, "ols_slope"])
        else:
            assert out.loc[dyad, "ols_slope"] == pytest.approx(
                np.polyfit(grp["session"], grp["synchrony"], 1)[0], rel=1e-10)
    assert out.loc["D05", "n_sessions"] == 1
    log = dyad_ols_slopes(data, "log").set_index("dyad")
    grp = data[data["dyad"] == "D01"]
    assert log.loc["D01", "ols_slope"] == pytest.approx(
        np.polyfit(np.log(grp["session"]), grp["synchrony"], 1)[0], rel=1e-10)


def test_slope_test_finds_a_planted_slope_with_its_sign():
    for sign in (1, -1):
        data = simulate_sessions(8, 6, effect=sign * 0.03, seed=2)
        res = slope_permutation_test(data, n_permutations=999, seed=0)
        assert np.sign(res.estimate) == sign
        assert np.sign(res.statistic) == sign
        assert res.p < 0.01
        assert res.n_dyads == 8 and res.null.shape == (999,)
        assert res.p >= 1 / 1000


def test_slope_test_p_values_are_uniform_under_the_null():
    rng = np.random.default_rng(3)
    p = np.array([slope_permutation_test(simulate_sessions(6, 5, seed=rng),
                                         n_permutations=199, seed=i).p
                  for i in range(300)])
    # a valid permutation p-value: P(p <= a) <= a (up to Monte Carlo noise)
    for a in (0.05, 0.1, 0.5):
        assert np.mean(p <= a) <= a + 3 * np.sqrt(a * (1 - a) / p.size)
    assert sps.kstest(p, "uniform").pvalue > 0.001
    assert 0.4 < p.mean() < 0.6


def test_ols_t_equals_lmer_t_for_complete_balanced_data():
    """The documented identity: with a non-singular random-slope fit, lmer's
    Satterthwaite t of the slope equals the one-sample t of the dyad OLS slopes."""
    model = SessionModel(slope_sd=0.03)
    checked = 0
    for seed in range(10):
        data = simulate_sessions(8, 6, effect=0.01, model=model, seed=seed)
        fit = fit_growth(data)
        if fit.singular:
            continue
        res = slope_permutation_test(data, n_permutations=9, seed=0)
        slopes = dyad_ols_slopes(data)["ols_slope"]
        assert res.statistic == pytest.approx(fit.coefficients.loc["session", "t"],
                                              rel=1e-5)
        assert res.estimate == pytest.approx(slopes.mean(), rel=1e-12)
        assert fit.coefficients.loc["session", "df"] == pytest.approx(7, rel=1e-4)
        checked += 1
    assert checked >= 5


def test_slope_test_with_lmer_statistic_and_unbalanced_data():
    data = simulate_sessions(6, 5, effect=0.03, seed=4)
    data = data.drop(index=[3, 11, 17]).reset_index(drop=True)   # missing sessions
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = slope_permutation_test(data, n_permutations=19, seed=1, statistic="lmer_t")
        fit = fit_growth(data)
    assert res.statistic == pytest.approx(fit.coefficients.loc["session", "t"])
    assert res.formula == fit.formula
    assert res.p == pytest.approx(1 / 20)           # nothing beats a strong slope
    ols = slope_permutation_test(data, n_permutations=199, seed=1)
    assert ols.p < 0.05 and ols.n_dyads == 6


def test_slope_test_is_reproducible_and_log_time():
    data = simulate_sessions(6, 6, effect=0.03, time="log", seed=5)
    a = slope_permutation_test(data, time="log", n_permutations=99, seed=7)
    b = slope_permutation_test(data, time="log", n_permutations=99, seed=7)
    np.testing.assert_array_equal(a.null, b.null)
    assert a.term == "np.log(session)" and a.estimate > 0


def test_slope_test_errors():
    data = simulate_sessions(4, 4, seed=6)
    with pytest.raises(ValueError, match="quadratic"):
        slope_permutation_test(data, time="quadratic")
    with pytest.raises(ValueError, match="n_permutations must be a whole number >= 1"):
        slope_permutation_test(data, n_permutations=0)
    with pytest.raises(ValueError, match="unknown permutation statistic"):
        slope_permutation_test(data, statistic="z")
    with pytest.raises(ValueError, match="lacks column"):
        slope_permutation_test(data.drop(columns="synchrony"))
    one = data[data["dyad"] == "D01"]
    with pytest.raises(ValueError, match="at least 2 dyads"):
        slope_permutation_test(one)


def test_maxt_with_sign_flips_under_the_null_and_with_an_effect():
    rng = np.random.default_rng(8)
    # 10 dyads x 15 units sharing a dyad effect (correlated units)
    diffs = rng.normal(0, 1, (10, 15)) + rng.normal(0, 1, (10, 1))
    diffs[:, 0] += 2.0
    stat, data, permute = sign_flip_scheme(diffs)
    res = maxt_permutation(stat, data, permute, n_permutations=999, seed=0,
                           units=[f"u{i}" for i in range(15)])
    assert list(res.columns) == ["unit", "statistic", "p_permutation", "p_adjusted"]
    assert (res["p_adjusted"] >= res["p_permutation"] - 1e-12).all()
    assert res.loc[0, "p_adjusted"] < 0.05
    assert res["statistic"].iloc[0] == pytest.approx(sps.ttest_1samp(diffs[:, 0], 0)
                                                     .statistic)
    with pytest.raises(ValueError, match="unit labels"):
        maxt_permutation(stat, data, permute, n_permutations=9, units=["a"])
