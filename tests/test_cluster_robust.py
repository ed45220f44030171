"""CR2 cluster-robust OLS against R's clubSandwich (tests/data/clubsandwich)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interbrain.stats.cluster_robust import (ClusterRobustResult, cluster_robust_ols,
                                             cr2_adjustments, cr2_test)
from interbrain.stats.mixed import within_between

REF = Path(__file__).parent / "data" / "clubsandwich"
EXPECTED = pd.read_csv(REF / "expected_cr2.csv")
CASES = list(EXPECTED[["dataset", "formula"]].drop_duplicates().itertuples(index=False))


def _data(name: str) -> pd.DataFrame:
    return within_between(pd.read_csv(REF / f"data_{name}.csv"), "synchrony", "dyad")


@pytest.mark.parametrize("dataset, formula", CASES, ids=[f"{d}:{f}" for d, f in CASES])
def test_matches_clubsandwich(dataset, formula):
    fit = cluster_robust_ols(formula, _data(dataset), "dyad")
    exp = EXPECTED[(EXPECTED["dataset"] == dataset) & (EXPECTED["formula"] == formula)]
    exp = exp.set_index("term")
    assert list(fit.coefficients.index) == list(exp.index)
    for col in ("estimate", "std_error", "df", "t", "p"):
        np.testing.assert_allclose(fit.coefficients[col].to_numpy(), exp[col].to_numpy(),
                                   rtol=1e-8, atol=0, err_msg=f"{dataset} {col}")
    vcov = np.array([[float(v) for v in row.split()] for row in exp["vcov_row"]])
    np.testing.assert_allclose(fit.vcov.to_numpy(), vcov, rtol=1e-8, atol=1e-14)


def test_sparse_data_is_unbalanced_and_site_needs_pseudo_inverse():
    sparse = _data("sparse")
    sizes = sparse.groupby("dyad").size()
    assert sparse["dyad"].nunique() == 8 and sizes.min() == 2 and sizes.max() == 6
    site = _data("site")
    X = np.column_stack([np.ones(len(site)), site["synchrony_within"],
                         site["synchrony_between"], site["session"], site["site"]])
    codes = pd.factorize(site["dyad"], sort=True)[0]
    M = np.linalg.inv(X.T @ X)
    A = cr2_adjustments(X, codes, site["dyad"].nunique(), M)
    IH0 = np.eye(int((codes == 0).sum())) - X[codes == 0] @ M @ X[codes == 0].T
    assert np.linalg.eigvalsh(IH0).min() < 1e-12   # singular: pseudo-inverse needed
    projector = np.linalg.pinv(IH0, rcond=1e-10, hermitian=True) @ IH0
    np.testing.assert_allclose(A[0] @ IH0 @ A[0], projector,
                               atol=1e-8)


def test_result_presents_itself():
    fit = cluster_robust_ols("measure ~ synchrony_within + synchrony_between + session",
                             _data("sparse"), "dyad", simplification="because")
    assert isinstance(fit, ClusterRobustResult)
    assert fit.nobs == len(_data("sparse")) and fit.ngroups == {"dyad": 8}
    assert not fit.singular and fit.converged and not fit.reml
    assert fit.df_method == "CR2, Satterthwaite (clubSandwich)"
    assert "CR2" in fit.method and fit.simplification == "because"
    fit.labels = {"measure": "session quality"}
    assert fit.labelled_formula.startswith("`session quality` ~")
    frame = fit.to_frame()
    assert list(frame["term"]) == ["(Intercept)", "synchrony_within",
                                   "synchrony_between", "session"]
    assert (frame["n_groups"] == 8).all()
    text = fit.summary()
    assert "session quality" in text and "because" in text and "synchrony_within" in text


def test_homoscedastic_independent_errors_match_ols_closely():
    # one observation per cluster: CR2 is the HC2 estimator; with a single
    # coefficient (intercept) HC2 is the usual variance and df = n - 1
    rng = np.random.default_rng(0)
    y = rng.normal(size=12)
    res = cr2_test(np.ones((12, 1)), y, np.arange(12))
    np.testing.assert_allclose(res["std_error"][0], y.std(ddof=1) / np.sqrt(12))
    np.testing.assert_allclose(res["df"][0], 11.0)


@pytest.mark.parametrize("formula, data, cluster, match", [
    ("measure ~ synchrony + nothere", None, "dyad", "not found"),
    ("measure ~ synchrony + (1 | dyad)", None, "dyad", "random-effects"),
    ("measure ~ synchrony + session", None, "nope", "cluster column"),
    ("measure ~ synchrony + __import__('os')", None, "dyad", "not allowed"),
    ("measure ~ synchrony + I(2 * synchrony)", None, "dyad", "rank deficient"),
])
def test_bad_input(formula, data, cluster, match):
    data = _data("sparse") if data is None else data
    with pytest.raises(ValueError, match=match):
        cluster_robust_ols(formula, data, cluster)


def test_single_cluster_and_missing_values_refused():
    data = _data("sparse")
    with pytest.raises(ValueError, match="two clusters"):
        cluster_robust_ols("measure ~ synchrony", data.assign(dyad="a"), "dyad")
    data.loc[3, "measure"] = np.nan
    with pytest.raises(ValueError, match="missing"):
        cluster_robust_ols("measure ~ synchrony", data, "dyad")
