"""Kenward-Roger inference of lmer against R (pbkrtest 0.5-2, lmerTest 3.1-3).

The references are written by ``tests/data/pbkrtest/make_kenward_roger.R`` (see the
README there): six REML fits (balanced growth, a sparse unbalanced design with an
interior and a singular fit, random intercept only, crossed dyad and therapist
intercepts, an outcome model with a random within-dyad slope) with pbkrtest's
adjusted covariance (``vcovAdj``), lmerTest's Kenward-Roger table and pbkrtest's
``Lb_ddf`` for further contrasts.

Two comparisons: at R's theta (``lmer(..., _theta=...)``), which tests the
Kenward-Roger algebra itself and must agree to rounding, and after our own
optimisation, which can only agree as far as the two optimisers agree on theta
(about 1e-6 relative here; the REML criteria agree to 1e-10).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from interbrain.stats.growth import fit_growth
from interbrain.stats.growth_analysis import analyse_growth
from interbrain.stats.mixed import likelihood_ratio_test, lmer
from interbrain.stats.mixed.kenward_roger import lb_ddf
from interbrain.stats.tables import fit_rows, model_table

REF = Path(__file__).parent / "data" / "pbkrtest"
FITS = pd.read_csv(REF / "kr_fits.csv")
COEFS = pd.read_csv(REF / "kr_coefficients.csv")
VCOV = pd.read_csv(REF / "kr_vcov.csv")
CONTRASTS = pd.read_csv(REF / "kr_contrasts.csv")
CASES = list(dict.fromkeys(FITS["case"]))


def _case(case: str):
    fit_ref = FITS[FITS["case"] == case]
    data = pd.read_csv(REF / f"data_{case}.csv")
    coef = COEFS[COEFS["case"] == case].set_index("term")
    v = VCOV[VCOV["case"] == case]
    terms = list(coef.index)
    adjusted = v.pivot(index="row", columns="col", values="vcov_adjusted").loc[terms, terms]
    unadjusted = v.pivot(index="row", columns="col",
                         values="vcov_unadjusted").loc[terms, terms]
    return SimpleNamespace(formula=fit_ref["formula"].iloc[0], data=data,
                           theta=fit_ref["theta"].to_numpy(),
                           reml_criterion=float(fit_ref["reml_criterion"].iloc[0]),
                           coef=coef, adjusted=adjusted, unadjusted=unadjusted)


@pytest.fixture(scope="module", params=CASES)
def case(request):
    ref = _case(request.param)
    ref.name = request.param
    ref.at_r_theta = lmer(ref.formula, ref.data, df_method="kenward-roger",
                          _theta=ref.theta)
    ref.optimised = lmer(ref.formula, ref.data, df_method="kenward-roger")
    return ref


def test_reference_covers_the_designs():
    assert set(CASES) >= {"balanced", "sparse", "sparse_singular", "intercept",
                          "crossed", "outcome"}
    sparse = pd.read_csv(REF / "data_sparse.csv")
    assert len(sparse) == 18 and sparse["dyad"].nunique() == 8
    assert sparse.groupby("dyad").size().nunique() > 1          # unbalanced
    assert pd.read_csv(REF / "data_crossed.csv")["therapist"].nunique() == 3


def test_optimisers_agree_on_theta(case):
    """Checked first: the optimised comparison below is only as good as this."""
    fit = case.optimised
    assert fit.reml
    np.testing.assert_allclose(fit.theta, case.theta, rtol=5e-5,
                               atol=1e-6 * max(1.0, np.max(np.abs(case.theta))))
    assert fit.deviance == pytest.approx(case.reml_criterion, abs=1e-8)


def test_kenward_roger_at_r_theta(case):
    """The adjusted covariance, SEs, df, t and p of pbkrtest/lmerTest to rounding."""
    fit = case.at_r_theta
    got = fit.coefficients.loc[case.coef.index]
    ref = case.coef
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=1e-9)
    np.testing.assert_allclose(got["std_error"], ref["se_kr"], rtol=1e-9)
    np.testing.assert_allclose(got["df"], ref["df_kr"], rtol=1e-9)
    np.testing.assert_allclose(got["df"], ref["df_lb_ddf"], rtol=1e-9)
    np.testing.assert_allclose(got["t"], ref["t"], rtol=1e-9)
    np.testing.assert_allclose(got["p"], ref["p"], rtol=1e-8)
    scale = np.max(np.abs(case.adjusted.to_numpy()))
    np.testing.assert_allclose(fit.vcov.loc[case.coef.index, case.coef.index],
                               case.adjusted, rtol=1e-9, atol=1e-12 * scale)


def test_kenward_roger_optimised(case):
    """Our own fit: as close as the optimisers' theta allow (see the theta test)."""
    got = case.optimised.coefficients.loc[case.coef.index]
    ref = case.coef
    # estimates to 1e-5 of their standard error
    assert np.all(np.abs(got["estimate"] - ref["estimate"]) <= 1e-5 * ref["se_kr"])
    np.testing.assert_allclose(got["std_error"], ref["se_kr"], rtol=5e-6)
    np.testing.assert_allclose(got["df"], ref["df_kr"], rtol=1e-5)
    np.testing.assert_allclose(got["t"], ref["t"], rtol=5e-6)
    np.testing.assert_allclose(got["p"], ref["p"], rtol=5e-5)
    scale = np.max(np.abs(case.adjusted.to_numpy()))
    np.testing.assert_allclose(case.optimised.vcov.loc[case.coef.index, case.coef.index],
                               case.adjusted, rtol=1e-5, atol=5e-6 * scale)


def test_contrasts_follow_kenward_roger(case):
    """LmerResult.contrast and lb_ddf (one- and two-row L) against pbkrtest's Lb_ddf."""
    fit = case.at_r_theta
    kr = fit._kenward_roger
    for row in CONTRASTS[CONTRASTS["case"] == case.name].itertuples():
        weights = np.array(row.weights.split(), dtype=float)
        if row.q == 1:
            res = fit.contrast(weights)
            assert res["df"] == pytest.approx(row.df, rel=1e-9)
            assert res["std_error"] ** 2 == pytest.approx(row.var_kr, rel=1e-9)
            assert res["t"] == pytest.approx(res["estimate"] / np.sqrt(row.var_kr),
                                             rel=1e-9)
        else:
            L = weights.reshape(int(row.q), -1)
            assert lb_ddf(L, kr.vcov, kr.P, kr.W) == pytest.approx(row.df, rel=1e-9)
    terms = list(case.coef.index)
    assert fit.contrast({terms[-1]: 1.0})["df"] == pytest.approx(
        case.coef.loc[terms[-1], "df_kr"], rel=1e-9)


def test_adjusted_se_not_below_unadjusted_where_pbkrtest_is_not(case):
    got = case.optimised.coefficients.loc[case.coef.index, "std_error"]
    unadjusted = np.sqrt(np.diagonal(case.optimised._kenward_roger.vcov))
    ref = case.coef
    for term, se_unadj, se_kr in zip(ref.index, ref["se_unadjusted"], ref["se_kr"]):
        j = list(case.coef.index).index(term)
        if se_kr >= se_unadj * (1 - 1e-12):
            assert got[term] >= unadjusted[j] * (1 - 1e-9), term
        if se_kr > se_unadj * (1 + 1e-6):      # a real adjustment: ours adjusts too
            assert got[term] > unadjusted[j] * (1 + 1e-7), term
    np.testing.assert_allclose(unadjusted, ref["se_unadjusted"], rtol=5e-6)


def test_balanced_design_has_no_adjustment():
    """Balanced random intercept and slope: KR is exact, SE unadjusted, df = dyads - 1."""
    ref = _case("balanced")
    fit = lmer(ref.formula, ref.data, df_method="kenward-roger")
    unadjusted = np.sqrt(np.diagonal(fit._kenward_roger.vcov))
    np.testing.assert_allclose(fit.coefficients["std_error"], unadjusted, rtol=1e-10)
    np.testing.assert_allclose(fit.coefficients["df"], 7.0, rtol=1e-8)


def test_satterthwaite_unchanged():
    """The default path: lme4's vcov and lmerTest's Satterthwaite df at R's theta."""
    for name in CASES:
        ref = _case(name)
        default = lmer(ref.formula, ref.data, _theta=ref.theta)
        explicit = lmer(ref.formula, ref.data, _theta=ref.theta,
                        df_method="Satterthwaite")
        pd.testing.assert_frame_equal(default.coefficients, explicit.coefficients)
        assert default.df_method == "Satterthwaite"
        assert default.method == "lmer REML, Satterthwaite df"
        assert default._kenward_roger is None
        got = default.coefficients.loc[ref.coef.index]
        np.testing.assert_allclose(got["std_error"], ref.coef["se_unadjusted"], rtol=1e-9)
        np.testing.assert_allclose(default.vcov.loc[ref.coef.index, ref.coef.index],
                                   ref.unadjusted, rtol=1e-9,
                                   atol=1e-12 * np.max(np.abs(ref.unadjusted.to_numpy())))
        # Satterthwaite df from numerical derivatives (numDeriv in lmerTest)
        np.testing.assert_allclose(got["df"], ref.coef["df_satterthwaite"], rtol=1e-6)
        np.testing.assert_allclose(got["p"], ref.coef["p_satterthwaite"], rtol=1e-6)


def test_bad_df_method_and_ml():
    ref = _case("intercept")
    with pytest.raises(ValueError, match=r"df_method must be one of \['kenward-roger', "
                                         r"'satterthwaite'\], got 'kr'"):
        lmer(ref.formula, ref.data, df_method="kr")
    with pytest.raises(ValueError, match="df_method must be one of"):
        lmer(ref.formula, ref.data, df_method=None)
    with pytest.raises(ValueError, match="needs a REML fit"):
        lmer(ref.formula, ref.data, reml=False, df_method="kenward-roger")
    ml = lmer(ref.formula, ref.data, reml=False)
    assert ml.method == "lmer ML, Satterthwaite df"
    assert lmer(ref.formula, ref.data, df_method="Kenward-Roger").df_method == \
        "Kenward-Roger"


def test_result_presents_its_method():
    ref = _case("sparse")
    fit = lmer(ref.formula, ref.data, df_method="kenward-roger")
    assert fit.df_method == "Kenward-Roger"
    assert fit.method == "lmer REML, Kenward-Roger df"
    assert fit.simplification == ""
    assert "t-tests use Kenward-Roger's method" in fit.summary()
    rows = fit_rows("growth", fit, "hbo", "wtc")
    assert set(rows["method"]) == {"lmer REML, Kenward-Roger df"}
    assert set(rows["df_method"]) == {"Kenward-Roger"}
    assert set(rows["simplification"]) == {""}
    np.testing.assert_allclose(rows["std_error"], fit.coefficients["std_error"])
    fit.simplification = "random slope dropped (singular)"
    assert "random slope dropped" in fit.summary()
    assert set(fit_rows("growth", fit)["simplification"]) == \
        {"random slope dropped (singular)"}


def test_tables_take_any_result_with_the_attributes():
    """model_table / fit_rows use only the documented attributes (e.g. a CR2 fit)."""
    coef = pd.DataFrame({"estimate": [1.0, 0.5], "std_error": [0.2, 0.1],
                         "df": [6.0, 5.5], "t": [5.0, 5.0], "p": [0.002, 0.004]},
                        index=pd.Index(["(Intercept)", "x"], name="term"))
    other = SimpleNamespace(coefficients=coef, vcov=pd.DataFrame(np.eye(2)), nobs=40,
                            ngroups={"dyad": 8}, formula="y ~ x + (1 | dyad)",
                            labelled_formula="y ~ x + (1 | dyad)", singular=False,
                            converged=True, reml=True, df_method="CR2 Satterthwaite",
                            method="lmer REML, CR2 cluster-robust SE",
                            simplification="random slope dropped")
    rows = fit_rows("outcome", other, "hbo", "wtc")
    assert list(rows["method"]) == ["lmer REML, CR2 cluster-robust SE"] * 2
    assert set(rows["df_method"]) == {"CR2 Satterthwaite"}
    assert set(rows["simplification"]) == {"random slope dropped"}
    assert list(rows["n_obs"]) == [40, 40] and list(rows["n_groups"]) == [8, 8]
    del other.simplification
    assert set(fit_rows("outcome", other)["simplification"]) == {""}
    assert list(model_table({"m": other}, "hbo")["method"]) == [other.method] * 2


def test_likelihood_ratio_refits_and_growth_plumbing():
    ref = _case("balanced")
    full = lmer(ref.formula, ref.data, df_method="kenward-roger")
    reduced = lmer("y ~ session + (1 | dyad)", ref.data, df_method="kenward-roger")
    lrt = likelihood_ratio_test(reduced, full)
    assert lrt.refitted_ml and lrt.df == 2 and 0.0 <= lrt.p <= 1.0

    sessions = ref.data.rename(columns={"y": "synchrony"})
    growth = fit_growth(sessions, df_method="kenward-roger")
    assert growth.df_method == "Kenward-Roger"
    np.testing.assert_allclose(growth.coefficients.to_numpy(),
                               full.coefficients.to_numpy(), rtol=1e-10)
    assert fit_growth(sessions).df_method == "Satterthwaite"
    with pytest.raises(ValueError, match="needs a REML fit"):
        fit_growth(sessions, reml=False, df_method="kenward-roger")
    analysis = analyse_growth(sessions, compare=False, n_permutations=0,
                              df_method="kenward-roger")
    assert analysis.fit.df_method == "Kenward-Roger"
    table = analysis.to_frame("hbo", "wtc")
    assert set(table["df_method"].dropna()) == {"Kenward-Roger"}
