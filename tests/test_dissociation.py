"""The alliance dissociation as a test (interbrain.stats.dissociation): the difference
of two measures' standardised within-dyad coefficients, the equivalence test of the
reference and its power (interbrain.stats.equivalence.equivalence_power)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from interbrain.stats.dissociation import (coefficient_term, difference_term,
                                           dissociation_test, within_dyad_coefficients)
from interbrain.stats.dissociation_simulation import (dissociation_calibration,
                                                      simulate_two_measures)
from interbrain.stats.equivalence import add_equivalence, equivalence_power
from interbrain.stats.tables import COUNT_COLUMNS, MODEL_COLUMNS

ALPHA = 0.05


def _bounds(n: int, rate: float = ALPHA) -> tuple[float, float]:
    """Central 99.9 % binomial range of an observed rate."""
    return (sps.binom.ppf(0.0005, n, rate) / n, sps.binom.ppf(0.9995, n, rate) / n)


# ---------------------------------------------------------------------------
# power of the TOST
# ---------------------------------------------------------------------------

def _simulated_tost(se, df, sesoi, theta, n, rng, alpha=ALPHA):
    """Rate of "equivalent" of equivalence_test's rule over simulated estimates."""
    est = rng.normal(theta, se, n)
    se_hat = se * (np.sqrt(rng.chisquare(df, n) / df) if math.isfinite(df) else 1.0)
    dist = sps.t(df) if math.isfinite(df) else sps.norm()
    p_eq = np.maximum(dist.sf((est + sesoi) / se_hat), dist.cdf((est - sesoi) / se_hat))
    return float(np.mean(p_eq < alpha))


@pytest.mark.parametrize("se, df, sesoi, theta", [
    (0.1, 7.0, 0.3, 0.0), (0.1, 7.0, 0.3, 0.15), (0.1, 7.0, 0.3, 0.3),
    (0.05, 3.0, 0.2, -0.05), (0.2, 40.0, 0.5, 0.0), (0.1, math.inf, 0.25, 0.1),
    (0.15, 1.5, 0.6, 0.0)])
def test_equivalence_power_matches_simulation(se, df, sesoi, theta):
    n = 40_000
    power = equivalence_power(se, df, sesoi, alpha=ALPHA, true_effect=theta)
    rate = _simulated_tost(se, df, sesoi, theta, n, np.random.default_rng(7))
    lo = sps.binom.ppf(0.0005, n, power) / n
    hi = sps.binom.ppf(0.9995, n, power) / n
    print(f"se {se} df {df} sesoi {sesoi} theta {theta}: power {power:.4f}, "
          f"simulated {rate:.4f}")
    assert lo <= rate <= hi


def test_equivalence_power_properties():
    # at the margin the TOST is a level-alpha test; symmetric in the true effect
    assert equivalence_power(0.1, 7, 0.3, true_effect=0.3) <= ALPHA + 1e-9
    assert equivalence_power(0.1, 7, 0.3, true_effect=0.1) == pytest.approx(
        equivalence_power(0.1, 7, 0.3, true_effect=-0.1), abs=1e-9)
    powers = [equivalence_power(se, 7, 0.3) for se in (0.02, 0.05, 0.1, 0.2, 0.4)]
    assert powers[0] > 0.99 and powers[-1] < 1e-3 and np.all(np.diff(powers) < 0)
    # known SE: a closed form
    q = sps.norm.ppf(0.95)
    assert equivalence_power(0.1, math.inf, 0.3) == pytest.approx(
        sps.norm.cdf(3 - q) - sps.norm.cdf(-3 + q))
    assert equivalence_power(0.1, 1e7, 0.3) == pytest.approx(
        equivalence_power(0.1, math.inf, 0.3), abs=1e-4)
    for bad in ({"std_error": 0.0}, {"df": 0.0}, {"sesoi": -1.0}, {"alpha": 0.5},
                {"true_effect": math.nan}):
        args = {"std_error": 0.1, "df": 7.0, "sesoi": 0.3} | bad
        with pytest.raises(ValueError):
            equivalence_power(**args)


def test_add_equivalence_reports_power_next_to_p_equivalence():
    coefs = pd.DataFrame({"estimate": [1.0, 0.05], "std_error": [0.5, 0.1],
                          "df": [7.0, 7.0]}, index=["(Intercept)", "synchrony_within"])
    out = add_equivalence(coefs, 0.3)
    cols = list(out.columns)
    assert cols[cols.index("p_equivalence") + 1] == "power_equivalence"
    row = out.set_index("term").loc["synchrony_within"]
    assert row["power_equivalence"] == pytest.approx(equivalence_power(0.1, 7.0, 0.3))
    assert np.isnan(out.set_index("term").loc["(Intercept)", "power_equivalence"])
    assert add_equivalence(coefs, None)["power_equivalence"].isna().all()


# ---------------------------------------------------------------------------
# the dissociation test
# ---------------------------------------------------------------------------

def test_planted_difference_detected_and_reference_equivalent():
    sessions, measures = simulate_two_measures(
        60, 10, effect_measure=-0.4, effect_reference=0.0, measure_sd=(2.0, 0.5),
        trend=(-0.3, 0.1), effect_sd=0.2, synchrony_trend=0.005, seed=3)
    res = dissociation_test(sessions, measures, "symptoms", "alliance", sesoi=0.2, seed=1)
    diff, ref, sym = res.row("difference"), res.row("reference"), res.row("measure")
    assert diff["p"] < 0.001 and diff["ci_high"] < 0
    assert diff["ci_low"] < -0.4 < diff["ci_high"]
    assert sym["p"] < 0.001 and sym["ci_low"] < -0.4 < sym["ci_high"]
    assert bool(ref["equivalent"]) and ref["power_equivalence"] > 0.5
    assert ref["power_equivalence"] == pytest.approx(
        equivalence_power(ref["std_error"], ref["df"], 0.2))
    text = res.summary()
    assert "the associations differ" in text
    assert "'alliance': equivalent to zero within +-0.2" in text
    table = res.to_frame("hbo", "wtc")
    assert list(table.columns[:len(MODEL_COLUMNS) + 2]) == MODEL_COLUMNS + COUNT_COLUMNS
    assert table["model"].eq("dissociation:symptoms vs alliance").all()
    assert list(table["term"]) == [coefficient_term("symptoms"), coefficient_term("alliance"),
                                   difference_term("symptoms", "alliance")]
    assert table["term"].iloc[0] == "synchrony -> symptoms (standardised, within dyad)"
    assert table["term"].iloc[2] == "symptoms - alliance"
    assert (table["n_obs"] == 600).all() and (table["n_groups"] == 60).all()
    assert table["sesoi"].notna().tolist() == [False, True, False]
    assert table.loc[1, "sesoi_scale"] == "standardized"
    assert "sign-flip" in table.loc[2, "method"] and "t-test" in table.loc[0, "method"]
    assert table.loc[2, "permutation_method"] == "monte_carlo"
    # the estimate is the mean of the per-dyad differences
    assert diff["estimate"] == pytest.approx(res.coefficients["difference"].mean())


def test_inconclusive_reference_states_the_power():
    sessions, measures = simulate_two_measures(8, 6, effect_measure=0.5, seed=4)
    res = dissociation_test(sessions, measures, "symptoms", "alliance", sesoi=0.2)
    ref = res.row("reference")
    if ref["p"] < ALPHA or bool(ref["equivalent"]):
        pytest.skip("this draw is not inconclusive")
    text = res.summary()
    assert "inconclusive" in text
    assert f"power {100 * ref['power_equivalence']:.0f}%" in text
    no_sesoi = dissociation_test(sessions, measures, "symptoms", "alliance").summary()
    assert "no equivalence test" in no_sesoi


def test_ci_inverts_the_sign_flip_test_exactly():
    """At 8 dyads the CI limits are Hartigan's subset means (the 6th smallest and
    largest of the 255 means of non-empty subsets) and 0 is outside the CI exactly
    when p <= 0.05."""
    agree = 0
    for seed in range(15):
        sessions, measures = simulate_two_measures(8, 6, effect_measure=0.6, seed=seed)
        res = dissociation_test(sessions, measures, "symptoms", "alliance")
        d = res.coefficients["difference"].to_numpy()
        means = np.sort([d[list(f)].mean() for k in range(1, 9)
                         for f in itertools.combinations(range(8), k)])
        row = res.row("difference")
        assert row["ci_low"] == pytest.approx(means[5], abs=1e-8)
        assert row["ci_high"] == pytest.approx(means[-6], abs=1e-8)
        assert (row["p"] <= 0.05) == (not row["ci_low"] <= 0 <= row["ci_high"])
        assert row["n_permutations"] == 256 and row["permutation_method"] == "exact"
        agree += row["p"] <= 0.05
    assert agree > 0     # some draws reject, so both branches were checked


def test_few_dyads_give_an_unbounded_interval():
    sessions, measures = simulate_two_measures(5, 6, effect_measure=0.5, seed=1)
    row = dissociation_test(sessions, measures, "symptoms", "alliance").row("difference")
    assert row["ci_low"] == -np.inf and row["ci_high"] == np.inf
    assert row["p"] >= 2 / 32


@pytest.mark.parametrize("scenario", [
    {"effect_measure": 0.3, "effect_reference": 0.3, "noise_corr": -0.5},
    # unequal within-dyad variances: scales, trends, heterogeneous effects; the
    # reference's coefficient is at the margin of its equivalence test
    {"effect_measure": 0.3, "effect_reference": 0.3, "measure_sd": (1.0, 5.0),
     "trend": (-0.5, 0.0), "trend_sd": 0.3, "effect_sd": 0.3, "synchrony_trend": 0.01,
     "sesoi": 0.3},
], ids=["equal-associations", "unequal-within-dyad-variances"])
def test_difference_false_positive_rate(scenario):
    """Equal standardised associations (8 dyads x 6 sessions): the difference's
    sign-flip test rejects at rate alpha, the coefficients' intervals cover, and a
    TOST at its margin declares equivalence at most at rate alpha."""
    n = 200
    rates = dissociation_calibration(n, seed=21, **scenario)
    lo, hi = _bounds(n)
    print(scenario, {k: round(v, 3) for k, v in rates.items()})
    assert lo <= rates["reject_difference"] <= hi
    assert 1 - rates["cover_measure"] <= hi and 1 - rates["cover_reference"] <= hi
    if "sesoi" in scenario:
        assert rates["equivalent_reference"] <= hi


def test_difference_ci_coverage_and_reference_tests_under_a_planted_difference():
    n = 200
    rates = dissociation_calibration(n, seed=5, effect_measure=0.4, effect_reference=0.0,
                                     effect_sd=0.3, sesoi=0.4)
    _, hi = _bounds(n)
    print({k: round(v, 3) for k, v in rates.items()})
    assert 1 - rates["cover_difference"] <= hi
    assert rates["reject_reference"] <= hi           # its t-test holds alpha
    assert rates["reject_difference"] > 2 * ALPHA    # and the test has some power


# ---------------------------------------------------------------------------
# names and bad input
# ---------------------------------------------------------------------------

HOSTILE = ["sym ptoms ~ x + (1|dyad)", "__import__('os').system('x')", "synchrony",
           "`alliance`", "Ällianz €", 0, "dyad_x", "C(session)", "1e3", ""]


def test_hostile_measure_names_give_the_same_result():
    sessions, measures = simulate_two_measures(8, 6, effect_measure=0.4, seed=9)
    plain = dissociation_test(sessions, measures, "symptoms", "alliance", sesoi=0.3, seed=1)
    for a, b in zip(HOSTILE, HOSTILE[1:] + HOSTILE[:1]):
        renamed = measures.rename(columns={"symptoms": a, "alliance": b})
        res = dissociation_test(sessions, renamed, a, b, sesoi=0.3, seed=1)
        table = res.to_frame()
        assert table["term"].tolist() == [coefficient_term(a), coefficient_term(b),
                                          difference_term(a, b)]
        assert table["model"].iloc[0] == f"dissociation:{a} vs {b}"
        cols = ["estimate", "std_error", "p", "ci_low", "ci_high", "p_equivalence"]
        np.testing.assert_allclose(table[cols].to_numpy(float),
                                   plain.to_frame()[cols].to_numpy(float))
        assert isinstance(res.summary(), str)
    # names equal as text but different columns: the TOST is still the reference's only
    renamed = measures.rename(columns={"symptoms": 0, "alliance": "0"})
    table = dissociation_test(sessions, renamed, 0, "0", sesoi=0.3).to_frame()
    assert table["sesoi"].notna().tolist() == [False, True, False]


def test_bad_input():
    sessions, measures = simulate_two_measures(6, 6, seed=2)
    with pytest.raises(ValueError, match="lacks column"):
        dissociation_test(sessions, measures, "symptoms", "mood")
    with pytest.raises(ValueError, match="lacks column"):
        dissociation_test(sessions.drop(columns="synchrony"), measures, "symptoms",
                          "alliance")
    with pytest.raises(ValueError, match="same column"):
        dissociation_test(sessions, measures, "symptoms", "symptoms")
    with pytest.raises(ValueError, match="id column"):
        dissociation_test(sessions, measures, "dyad", "alliance")
    few = ~measures["dyad"].isin(["D01", "D02", "D03", "D04"])
    with pytest.raises(ValueError, match="at least 3 dyads"):
        dissociation_test(sessions, measures[few], "symptoms", "alliance")
    # dyads with fewer than 4 complete sessions are left out, with a note
    short = measures.copy()
    short.loc[(short["dyad"] == "D01") & (short["session"] > 3), "alliance"] = np.nan
    res = dissociation_test(sessions, short, "symptoms", "alliance")
    assert len(res.coefficients) == 5 and any("D01" in note for note in res.notes)
    text = measures.assign(alliance=measures["alliance"].astype(str))
    with pytest.raises(ValueError, match="must be numeric"):
        dissociation_test(sessions, text, "symptoms", "alliance")
    with pytest.raises(ValueError, match="one row per dyad and session"):
        dissociation_test(sessions, pd.concat([measures, measures.iloc[:1]]), "symptoms",
                          "alliance")
    constant = measures.assign(alliance=measures.groupby("dyad")["alliance"].transform("mean"))
    with pytest.raises(ValueError, match="does not vary within dyads"):
        dissociation_test(sessions, constant, "symptoms", "alliance")
    for bad in ({"alpha": 0.0}, {"alpha": 0.7}, {"sesoi": 0.0}, {"sesoi": "0.2"},
                {"df_method": "wald"}):
        with pytest.raises(ValueError):
            dissociation_test(sessions, measures, "symptoms", "alliance", **bad)
    with pytest.raises(ValueError):
        dissociation_test(sessions, measures, "symptoms", "alliance").row("other")
    with pytest.raises(ValueError, match="seed"):
        dissociation_test(sessions, measures, "symptoms", "alliance", seed=-1)
    assert np.isfinite(dissociation_test(sessions, measures, "symptoms", "alliance",
                                         seed=np.random.default_rng(1)).row("difference")["p"])
    with pytest.raises(ValueError, match=r"\(-1, 1\)"):
        simulate_two_measures(effect_measure=1.0)
    with pytest.raises(ValueError):
        within_dyad_coefficients(sessions, "not a table", "symptoms", "alliance")
