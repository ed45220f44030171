"""Multiple comparisons across channel pairs / regions (interbrain.stats.multiple)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from interbrain.stats.multiple import (PAIRWISE_COLUMNS, add_adjusted, adjust_pvalues,
                                       pairwise_tests)


# ---------------------------------------------------------------------------
# p-value adjustment
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["fdr_bh", "bonferroni", "holm"])
def test_adjust_equals_statsmodels(method):
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.01, size=10)])
    expected = multipletests(p, method=method)[1]
    np.testing.assert_allclose(adjust_pvalues(p, method), expected, rtol=0, atol=0)


def test_adjust_leaves_nan_out_of_the_family():
    p = np.array([0.01, np.nan, 0.04, 0.03, np.nan, 0.2])
    out = adjust_pvalues(p, "fdr_bh")
    assert np.isnan(out[[1, 4]]).all()
    ok = np.isfinite(p)
    np.testing.assert_allclose(out[ok], multipletests(p[ok], method="fdr_bh")[1])
    # BH by hand: sorted p 0.01 0.03 0.04 0.2 (m = 4) -> 0.04 0.0533 0.0533 0.2
    np.testing.assert_allclose(out[ok], [0.04, 0.16 / 3, 0.16 / 3, 0.2])


def test_adjust_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown p-value adjustment"):
        adjust_pvalues([0.1], "maxt")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adjust_pvalues([0.1, 1.5])


def test_add_adjusted_within_groups():
    rng = np.random.default_rng(2)
    table = pd.DataFrame({"signal": np.repeat(["hbo", "hbr"], 15),
                          "p": rng.uniform(size=30)})
    out = add_adjusted(table, "fdr_bh", by="signal")
    for sig, grp in out.groupby("signal"):
        np.testing.assert_allclose(grp["p_adjusted"],
                                   multipletests(grp["p"], method="fdr_bh")[1])
    assert (out["correction"] == "fdr_bh").all()
    whole = add_adjusted(table, "holm")
    np.testing.assert_allclose(whole["p_adjusted"], multipletests(table["p"],
                                                                  method="holm")[1])
    with pytest.raises(ValueError, match="lacks column"):
        add_adjusted(table, by="metric")


# ---------------------------------------------------------------------------
# per-unit tests on a tidy synchrony table
# ---------------------------------------------------------------------------

def _synchrony_table(rng, n_dyads=8, n_sessions=5, n_pairs=12, grow=(), slope=0.03,
                     real_minus_pseudo=(), gap=0.05):
    """Tidy table: real rows for every pair, pseudo rows (therapist's dyad) too.

    Pairs in ``grow`` get a mean slope ``slope`` per session; pairs in
    ``real_minus_pseudo`` have real synchrony ``gap`` above pseudo synchrony.
    """
    rows = []
    for d in range(n_dyads):
        dyad_level = rng.normal(0, 0.03)
        for k in range(n_pairs):
            pair_slope = (slope if k in grow else 0.0) + rng.normal(0, 0.005)
            for s in range(1, n_sessions + 1):
                base = 0.3 + dyad_level + rng.normal(0, 0.02)
                real = base + pair_slope * (s - 1) + (gap if k in real_minus_pseudo
                                                      else 0.0)
                rows.append((f"D{d}", s, f"P{k:02d}", "real", real))
                rows.append((f"D{d}", s, f"P{k:02d}", "pseudo",
                             0.3 + dyad_level + rng.normal(0, 0.02)))
    out = pd.DataFrame(rows, columns=["dyad", "session", "pair", "pairing", "value"])
    out["signal"] = "hbo"
    out["metric"] = "wtc"
    return out


def test_growth_by_pair_matches_one_sample_t_and_bh():
    rng = np.random.default_rng(3)
    sync = _synchrony_table(rng, grow={0, 1, 2})
    res = pairwise_tests(sync, signal="hbo", test="growth", correction="fdr_bh")
    assert list(res.columns) == PAIRWISE_COLUMNS
    assert len(res) == 12 and (res["n_dyads"] == 8).all()
    # per-unit t-test of per-dyad OLS slopes, by hand
    real = sync[sync["pairing"] == "real"]
    for _, row in res.iterrows():
        sub = real[real["pair"] == row["unit"]]
        slopes = [np.polyfit(g["session"], g["value"], 1)[0]
                  for _, g in sub.groupby("dyad")]
        tt = sps.ttest_1samp(slopes, 0.0)
        assert row["estimate"] == pytest.approx(np.mean(slopes), rel=1e-10)
        assert row["t"] == pytest.approx(tt.statistic, rel=1e-8)
        assert row["p"] == pytest.approx(tt.pvalue, rel=1e-8)
        assert row["df"] == 7
    np.testing.assert_allclose(res["p_adjusted"], multipletests(res["p"],
                                                                method="fdr_bh")[1])
    sig = set(res.loc[res["significant"].astype(bool), "unit"])
    assert {"P00", "P01", "P02"} <= sig
    assert (res.set_index("unit").loc[["P00", "P01", "P02"], "estimate"] > 0).all()
    assert len(sig - {"P00", "P01", "P02"}) <= 1


def test_real_vs_pseudo_by_pair_is_a_paired_t_test():
    rng = np.random.default_rng(4)
    sync = _synchrony_table(rng, real_minus_pseudo={5, 6})
    res = pairwise_tests(sync, signal="hbo", test="real_vs_pseudo", correction="holm")
    per = sync.groupby(["pair", "dyad", "pairing"])["value"].mean().unstack("pairing")
    for _, row in res.iterrows():
        diff = (per.loc[row["unit"], "real"] - per.loc[row["unit"], "pseudo"]).to_numpy()
        tt = sps.ttest_1samp(diff, 0.0)
        assert row["t"] == pytest.approx(tt.statistic, rel=1e-8)
        assert row["p"] == pytest.approx(tt.pvalue, rel=1e-8)
    np.testing.assert_allclose(res["p_adjusted"], multipletests(res["p"],
                                                                method="holm")[1])
    top = res.nsmallest(2, "p")["unit"]
    assert set(top) == {"P05", "P06"}


def test_region_units_average_channel_pairs_first():
    rng = np.random.default_rng(5)
    sync = _synchrony_table(rng, n_pairs=4, grow={0, 1})
    regions = {"P00": ("L", "L"), "P01": ("L", "L"), "P02": ("R", "R"), "P03": ("R", "R")}
    sync["region_therapist"] = sync["pair"].map(lambda p: regions[p][0])
    sync["region_patient"] = sync["pair"].map(lambda p: regions[p][1])
    res = pairwise_tests(sync, signal="hbo", unit="region")
    assert list(res["unit"]) == ["L-L", "R-R"]
    assert res["model"].iloc[0] == "growth_by_region"
    assert res.set_index("unit").loc["L-L", "p"] < 0.05


def test_maxt_adjusted_p_is_at_least_the_unit_p_and_finds_planted_units():
    rng = np.random.default_rng(6)
    sync = _synchrony_table(rng, grow={0, 1})
    res = pairwise_tests(sync, signal="hbo", test="growth", correction="maxt",
                         n_permutations=499, seed=1)
    assert (res["correction"] == "maxt").all()
    assert (res["p_adjusted"] >= res["p_permutation"] - 1e-12).all()
    # adjusted p is monotone in |t|
    order = np.argsort(-np.abs(res["t"].to_numpy()))
    assert np.all(np.diff(res["p_adjusted"].to_numpy()[order]) >= -1e-12)
    assert res.set_index("unit").loc[["P00", "P01"], "p_adjusted"].max() < 0.05
    # reproducible with the seed
    again = pairwise_tests(sync, signal="hbo", test="growth", correction="maxt",
                           n_permutations=499, seed=1)
    pd.testing.assert_frame_equal(res, again)


@pytest.mark.parametrize("test", ["growth", "real_vs_pseudo"])
def test_maxt_controls_the_familywise_error_rate(test):
    """Complete null, 12 correlated units (shared dyad and session effects): the
    chance of any adjusted p < 0.05 stays near 0.05 (BH would also be valid here,
    uncorrected tests would reject far more often)."""
    rng = np.random.default_rng(7)
    n_sim, hits, hits_raw = 80, 0, 0
    for _ in range(n_sim):
        sync = _synchrony_table(rng, n_dyads=6, n_sessions=4, n_pairs=12)
        res = pairwise_tests(sync, signal="hbo", test=test, correction="maxt",
                             n_permutations=99, seed=int(rng.integers(1 << 30)))
        hits += bool((res["p_adjusted"] < 0.05).any())
        hits_raw += bool((res["p"] < 0.05).any())
    # binomial(80, 0.05): P(X >= 10) < 0.01
    assert hits / n_sim <= 0.12
    assert hits_raw > hits


def test_pairwise_errors():
    rng = np.random.default_rng(8)
    sync = _synchrony_table(rng, n_dyads=3, n_pairs=2)
    with pytest.raises(ValueError, match="unknown pairwise test"):
        pairwise_tests(sync, signal="hbo", test="anova")
    with pytest.raises(ValueError, match="unknown correction"):
        pairwise_tests(sync, signal="hbo", correction="sidak")
    with pytest.raises(ValueError, match="no synchrony rows"):
        pairwise_tests(sync, signal="hbr")
    with pytest.raises(ValueError, match="at least 4 dyads"):
        pairwise_tests(sync, signal="hbo", min_dyads=4)
