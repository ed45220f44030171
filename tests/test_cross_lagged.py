"""Within-dyad cross-lagged models of synchrony and a measure (stats/cross_lagged.py)."""

import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.linalg import solve_discrete_lyapunov

from interbrain.stats.cluster_robust import ClusterRobustResult, cluster_robust_ols
from interbrain.stats.cross_lagged import (CROSS_LAGGED_SIMPLIFICATIONS, CrossLaggedResult,
                                           cross_lagged_data, fit_cross_lagged)
from interbrain.stats.cross_lagged_simulation import (SCENARIOS, cross_lagged_calibration,
                                                     simulate_cross_lagged)
from interbrain.stats.cross_lagged_bootstrap import VARIABLES, bootstrap_cross_lagged
from interbrain.stats.mixed import single_blas_thread
from interbrain.stats.outcomes import fit_lagged
from interbrain.stats.tables import COUNT_COLUMNS, MODEL_COLUMNS


def _table():
    # dyad A: sessions 1-5 (4 pairs); dyad B: sessions 1, 2, 4, 5, 6 (gap at 3:
    # pairs 1->2, 4->5, 5->6 only); dyad C: 2 sessions (1 pair: dropped)
    sessions = pd.DataFrame({
        "dyad": ["A"] * 5 + ["B"] * 5 + ["C"] * 2,
        "session": [1, 2, 3, 4, 5, 1, 2, 4, 5, 6, 1, 2],
        "synchrony": [1.0, 3.0, 2.0, 5.0, 4.0, 0.0, 1.0, 2.0, 4.0, 3.0, 9.0, 9.0]})
    measures = sessions.rename(columns={"synchrony": "my score"}).assign(
        **{"my score": [10.0, 12.0, 11.0, 15.0, 13.0, 7.0, 6.0, 5.0, 1.0, 2.0, 0.0, 1.0]})
    return sessions, measures


def _by_hand(values: np.ndarray, session: np.ndarray, detrend: bool) -> np.ndarray:
    if not detrend:
        return values - values.mean()
    slope, intercept = np.polyfit(session, values, 1)
    return values - (intercept + slope * session)


@pytest.mark.parametrize("detrend", [True, False])
def test_data_pairs_exact_sessions_and_centres_within_dyad(detrend):
    sessions, measures = _table()
    data = cross_lagged_data(sessions, measures, "my score", detrend=detrend)
    assert list(data.columns) == ["dyad", "session", "synchrony_t", "measure_t",
                                  "synchrony_next", "measure_next"]
    # no gap bridged (B 2 -> 4), C has 1 pair (< 2 or 3) and is left out
    assert data["dyad"].tolist() == ["A"] * 4 + ["B"] * 3
    assert data["session"].tolist() == [1, 2, 3, 4, 1, 4, 5]
    raw = {"A": ([1, 2, 3, 4], [1, 3, 2, 5], [10, 12, 11, 15], [3, 2, 5, 4], [12, 11, 15, 13]),
           "B": ([1, 4, 5], [0, 2, 4], [7, 5, 1], [1, 4, 3], [6, 1, 2])}
    for dyad, (sess, x, y, xn, yn) in raw.items():
        got = data[data["dyad"] == dyad]
        sess = np.array(sess, float)
        for col, values in (("synchrony_t", x), ("measure_t", y), ("synchrony_next", xn),
                            ("measure_next", yn)):
            expected = _by_hand(np.array(values, float), sess, detrend)
            np.testing.assert_allclose(got[col].to_numpy(), expected, atol=1e-12)
    # detrending B's 3 pairs on sessions 1, 4, 5 leaves one df: residuals not zero
    assert data.loc[data["dyad"] == "B", "measure_next"].abs().max() > 0.1


def test_bad_input_raises_naming_the_problem():
    sessions, measures = _table()
    with pytest.raises(ValueError, match="lacks column"):
        fit_cross_lagged(sessions.drop(columns="synchrony"), measures, "my score")
    with pytest.raises(ValueError, match="lacks column"):
        fit_cross_lagged(sessions, measures, "mood")
    with pytest.raises(ValueError, match="at least 3 dyads"):
        fit_cross_lagged(sessions, measures, "my score")
    with pytest.raises(ValueError, match="df_method"):
        fit_cross_lagged(sessions, measures, "my score", df_method="kr")
    with pytest.raises(ValueError, match="one row per dyad and session"):
        cross_lagged_data(pd.concat([sessions, sessions]), measures, "my score")


def _study(seed, **effects):
    s, m = simulate_cross_lagged(40, 10, autoregression=0.3, seed=seed, **effects)
    return s, m.rename(columns={"measure": "session quality"})


def test_synchrony_driving_the_measure_is_found_in_that_direction_only():
    result = fit_cross_lagged(*_study(1, sync_to_measure=0.5), "session quality")
    assert isinstance(result, CrossLaggedResult)
    forward = result.coefficient("synchrony -> measure")
    backward = result.coefficient("measure -> synchrony")
    assert forward["p"] < 0.001 and 0.3 < forward["estimate"] < 0.7
    assert backward["p"] > 0.05
    table = result.to_frame("HbO", "wtc")
    assert table["p_bootstrap"].tolist()[0] < 0.01 < 0.05 < table["p_bootstrap"].tolist()[1]
    assert (table["n_bootstrap"] == 999).all()
    # the bootstrap's estimate is the within-dyad OLS one (that of the CR2 fit)
    np.testing.assert_allclose(result.bootstrap["synchrony -> measure"]["estimate"],
                               forward["estimate"], rtol=1e-8)
    assert list(table.columns[:13]) == MODEL_COLUMNS + COUNT_COLUMNS
    for col in ("ci_low", "ci_high", "df_method", "singular", "converged",
                "simplification"):
        assert col in table.columns
    assert table["term"].tolist() == ["synchrony -> session quality",
                                      "session quality -> synchrony"]
    assert (table["model"] == "cross_lagged:session quality").all()
    assert (table["n_groups"] == 40).all() and (table["n_obs"] == 360).all()
    assert set(table["simplification"]) <= set(CROSS_LAGGED_SIMPLIFICATIONS)
    assert (table["ci_low"] < table["estimate"]).all()
    # the bias-corrected interval (test inversion) around the median-unbiased estimate
    for col in ("ci_low_bootstrap", "ci_high_bootstrap", "estimate_corrected"):
        assert col in table.columns
    assert (table["ci_low_bootstrap"] < table["estimate_corrected"]).all()
    assert (table["estimate_corrected"] < table["ci_high_bootstrap"]).all()
    forward_row = table.iloc[0]
    assert forward_row["ci_low_bootstrap"] < 0.5 < forward_row["ci_high_bootstrap"]
    assert forward_row["ci_low_bootstrap"] > 0          # p_bootstrap < 0.01
    assert table.iloc[1]["ci_low_bootstrap"] < 0 < table.iloc[1]["ci_high_bootstrap"]
    assert table["method"].str.contains("p_bootstrap: bias-corrected parametric").all()
    assert table["method"].str.contains("ci_low_bootstrap, ci_high_bootstrap").all()
    fit = result.fits["synchrony -> measure"]
    assert "`session quality_next` ~ `session quality_t` + synchrony_t" in \
        fit.labelled_formula
    text = result.summary()
    assert "synchrony -> session quality" in text and "lagged pairs of 40 dyads" in text


def test_the_measure_driving_synchrony_is_found_in_that_direction_only():
    result = fit_cross_lagged(*_study(2, measure_to_sync=0.5), "session quality")
    assert result.coefficient("measure -> synchrony")["p"] < 0.001
    assert result.coefficient("synchrony -> measure")["p"] > 0.05
    table = result.to_frame()
    assert table["p_bootstrap"].tolist()[1] < 0.01 < 0.05 < table["p_bootstrap"].tolist()[0]


def test_bootstrap_is_reproducible_and_can_be_skipped():
    s, m = simulate_cross_lagged(8, 6, sync_to_measure=0.5, seed=5)
    a = fit_cross_lagged(s, m, "measure", n_bootstrap=99, seed=1).to_frame()
    b = fit_cross_lagged(s, m, "measure", n_bootstrap=99, seed=1).to_frame()
    pd.testing.assert_frame_equal(a, b)
    none = fit_cross_lagged(s, m, "measure", n_bootstrap=0).to_frame()
    assert none["p_bootstrap"].isna().all() and (none["n_bootstrap"] == 0).all()
    assert none["ci_low_bootstrap"].isna().all()
    assert not none["method"].str.contains("bootstrap").any()
    with pytest.raises(ValueError, match="n_bootstrap"):
        fit_cross_lagged(s, m, "measure", n_bootstrap=5)
    with pytest.raises(ValueError, match="too few for a 95% interval"):
        fit_cross_lagged(s, m, "measure", n_bootstrap=39)
    data = cross_lagged_data(s, m, "measure")
    with pytest.raises(ValueError, match="level"):
        bootstrap_cross_lagged(data, "measure", "synchrony", level=95)
    with pytest.raises(ValueError, match="two of"):
        bootstrap_cross_lagged(data, "measure", "measure")


def test_simulator_plants_concurrent_and_trend_correlations():
    s, m = simulate_cross_lagged(2000, 2, autoregression=0.0, concurrent=0.8,
                                 intercept_sd=0.0, trend_sd=0.0, seed=4)
    assert np.corrcoef(s["synchrony"], m["measure"])[0, 1] == pytest.approx(0.8, abs=0.03)
    s, m = simulate_cross_lagged(2000, 2, autoregression=0.0, intercept_sd=0.0,
                                 trend_sd=1.0, trend_correlation=-0.9, seed=4)
    slope = lambda frame, col: frame.pivot(index="dyad", columns="session",  # noqa: E731
                                           values=col).diff(axis=1)[2]
    # slope difference of the two sessions = trend + difference of unit innovations
    assert np.corrcoef(slope(s, "synchrony"), slope(m, "measure"))[0, 1] == \
        pytest.approx(-0.9 / 3, abs=0.05)
    with pytest.raises(ValueError, match="concurrent"):
        simulate_cross_lagged(concurrent=1.0)
    with pytest.raises(ValueError, match="stationary"):
        simulate_cross_lagged(sync_to_measure=1.0, measure_to_sync=1.0)


def test_centred_data_fall_back_to_cr2_ols_and_say_so():
    s, m = simulate_cross_lagged(8, 6, seed=3)
    result = fit_cross_lagged(s, m, "measure")
    for direction, fit in result.fits.items():
        # within-dyad centring leaves no between-dyad variance for the intercept
        assert isinstance(fit, ClusterRobustResult)
        assert fit.simplification == CROSS_LAGGED_SIMPLIFICATIONS[1]
        assert "singular fit" in fit.messages[0]


# ---------------------------------------------------------------------------
# the old lagged model and the model-based p, where the measure drives synchrony
# ---------------------------------------------------------------------------

N_STUDIES = 60
#: the setting in which the old lagged model is fooled (8 dyads x 6 sessions); the
#: bootstrap's calibration here is scenario "strong measure -> synchrony only" below
SETTING = {"autoregression": 0.4, "trend_sd": 0.0}
EFFECT = 1.5


def test_lagged_model_and_model_based_p_are_fooled_where_the_measure_drives_synchrony():
    """60 null studies (synchrony -> measure is 0, measure -> synchrony 1.5): the old
    lagged model and the model-based p (the CR2 OLS fit_cross_lagged falls back to)
    reject far more often than the 99.5% binomial limit of a 5% test; p_bootstrap
    does not (test below)."""
    start = time.perf_counter()
    rejections = {"lagged model": 0, "CR2 synchrony -> measure": 0}
    with single_blas_thread():
        for i in range(N_STUDIES):
            s, m = simulate_cross_lagged(8, 6, seed=i, measure_to_sync=EFFECT, **SETTING)
            ols = cluster_robust_ols("measure_next ~ measure_t + synchrony_t",
                                     cross_lagged_data(s, m, "measure"))
            rejections["CR2 synchrony -> measure"] += ols.coefficients["p"].iloc[-1] < 0.05
            old = fit_lagged(s, m, "measure")
            rejections["lagged model"] += old.coefficients.loc["synchrony_within", "p"] < 0.05
    rates = {k: v / N_STUDIES for k, v in rejections.items()}
    print(f"\nfalse-positive rates over {N_STUDIES} null studies: "
          + ", ".join(f"{k}: {v:.3f}" for k, v in rates.items())
          + f" ({time.perf_counter() - start:.1f} s)")
    limit = sps.binom.ppf(0.995, N_STUDIES, 0.05) / N_STUDIES
    assert rates["lagged model"] > limit and rates["CR2 synchrony -> measure"] > limit


# ---------------------------------------------------------------------------
# calibration of p_bootstrap under every data-generating process, power, coverage
# ---------------------------------------------------------------------------

def _nominal(n_bootstrap: int, alpha: float = 0.05) -> float:
    """Exact level of ``p_bootstrap < alpha`` with this many draws (the p is discrete)."""
    needed = int(np.ceil(alpha / 2 * (n_bootstrap + 1) - 1 - 1e-9))
    return 2 * needed / (n_bootstrap + 1)


def test_p_bootstrap_holds_its_level_under_every_process_and_finds_the_effect():
    """100 studies of 8 dyads x 6 sessions per scenario of SCENARIOS: no effects, an
    effect one way only (each way; 0.5 and a strong 1.5), concurrent effects only
    (correlated innovations; the run's session simulation), trends only. Each null
    direction's rejection rate lies below the binomial limit of its nominal level
    (Bonferroni over the 11 null rates, 1% in all), their pooled rate within the two-sided 99% limits, and the planted
    effects are found more often than any calibrated test would."""
    start = time.perf_counter()
    n_studies, n_bootstrap = 100, 99
    with single_blas_thread():
        table = cross_lagged_calibration(n_studies, n_bootstrap=n_bootstrap,
                                         interval=False, seed=11)
    print("\n" + table[["scenario", "direction", "planted", "rejection_rate",
                        "mean_estimate"]].round(3).to_string(index=False)
          + f"\n({time.perf_counter() - start:.1f} s)")
    assert set(table["scenario"]) == set(SCENARIOS)
    nominal = _nominal(n_bootstrap)
    null = table[table["planted"] == 0]
    assert len(null) == 2 * len(SCENARIOS) - 3
    # each of the 11 null rates below its 1 - 0.01 / 11 binomial quantile
    high = sps.binom.ppf(1 - 0.01 / len(null), n_studies, nominal) / n_studies
    assert (null["rejection_rate"] <= high).all(), null
    n_tests = n_studies * len(null)
    low, high = sps.binom.ppf([0.005, 0.995], n_tests, nominal) / n_tests
    assert low <= null["rejection_rate"].mean() <= high
    power = table[table["planted"] != 0].set_index("scenario")["rejection_rate"]
    assert (power > sps.binom.ppf(0.995, n_studies, 0.05) / n_studies).all(), power
    assert power["strong measure -> synchrony only"] > 0.8


def test_bias_corrected_interval_covers_the_planted_effect():
    """80 studies (8 x 6, synchrony -> measure 0.5, autoregression 0.4): the 95%
    interval of each direction covers the true coefficient (0.5 and 0) at least as
    often as the 0.5% binomial quantile of 95% coverage allows, and excludes 0
    exactly when p_bootstrap < 0.05."""
    n_studies, n_bootstrap = 80, 99
    rng = np.random.default_rng(12)
    covered, agree, unbounded = {"synchrony": 0, "measure": 0}, 0, 0
    truth = {"measure": 0.5, "synchrony": 0.0}   # response -> planted coefficient
    with single_blas_thread():
        for _ in range(n_studies):
            data = cross_lagged_data(*simulate_cross_lagged(
                8, 6, autoregression=0.4, sync_to_measure=0.5, seed=rng), "measure")
            for response, predictor in (("measure", "synchrony"), ("synchrony", "measure")):
                boot = bootstrap_cross_lagged(data, response, predictor,
                                              n_bootstrap=n_bootstrap, seed=rng)
                covered[response] += boot["ci_low"] <= truth[response] <= boot["ci_high"]
                agree += (boot["p"] < 0.05) == (not boot["ci_low"] <= 0 <= boot["ci_high"])
                unbounded += np.isinf(boot["ci_low"]) or np.isinf(boot["ci_high"])
    print(f"\ncoverage: {covered} of {n_studies}; p and interval agree in {agree} of "
          f"{2 * n_studies}; {unbounded} intervals with an infinite end")
    minimum = sps.binom.ppf(0.005, n_studies, 0.95)
    assert min(covered.values()) >= minimum
    assert agree >= 2 * n_studies - 2


def _reference_bias(data: pd.DataFrame, eq: int, pred: int, null: np.ndarray, seed: int,
                    n_bootstrap: int, iterations: int = 3) -> float:
    """The mean OLS estimate of A[eq, pred] on the bootstrap studies, simulated step by
    step as the module notes describe (VAR(1) recursion from the stationary
    distribution, then per-dyad detrending of the observed sessions' pairs), with
    the random numbers bootstrap_cross_lagged draws (its last seed)."""
    cur = data[["synchrony_t", "measure_t"]].to_numpy(float)
    nxt = data[["synchrony_next", "measure_next"]].to_numpy(float)
    keep = 1 - pred
    target = np.empty((2, 2))
    target[eq, pred] = 0.0
    target[eq, keep] = cur[:, keep] @ nxt[:, eq] / (cur[:, keep] @ cur[:, keep])
    target[1 - eq] = np.linalg.lstsq(cur, nxt[:, 1 - eq], rcond=None)[0]
    resid = nxt - cur @ target.T
    groups = [block["session"].to_numpy(float) for _, block in data.groupby("dyad")]
    dof = len(data) - 2 * len(groups) - 2
    chol = np.linalg.cholesky(resid.T @ resid / dof + 1e-12 * np.eye(2))
    gamma = solve_discrete_lyapunov(null, chol @ chol.T)
    start = np.linalg.cholesky(gamma)
    last_seed = np.random.default_rng(seed).integers(2 ** 63, size=iterations + 1)[-1]
    length = max(int(s.max() - s.min()) for s in groups) + 2
    noise = np.random.default_rng(last_seed).standard_normal(
        (length, n_bootstrap, len(groups), 2))
    series = [noise[0] @ start.T]
    for t in range(1, length):
        series.append(series[-1] @ null.T + noise[t] @ chol.T)
    series = np.stack(series, axis=2)                     # (study, dyad, session, 2)
    xs, ys = [], []
    for i, sessions in enumerate(groups):
        off = (sessions - sessions.min()).astype(int)
        design = np.column_stack([np.ones_like(sessions), sessions])
        hat = design @ np.linalg.pinv(design)
        xs.append(series[:, i, off] - hat @ series[:, i, off])
        ys.append(series[:, i, off + 1, eq] - series[:, i, off + 1, eq] @ hat.T)
    x, y = np.concatenate(xs, axis=1), np.concatenate(ys, axis=1)
    return float(np.mean([np.linalg.lstsq(x[r], y[r], rcond=None)[0][pred]
                          for r in range(n_bootstrap)]))


@pytest.mark.parametrize("response, predictor", [("measure", "synchrony"),
                                                 ("synchrony", "measure")])
def test_bootstrap_studies_match_a_step_by_step_simulation(response, predictor):
    """The vectorised simulation (innovations mapped linearly to the detrended pairs)
    equals the VAR(1) recursion and per-dyad detrending written out, on a study with
    a gap and dyads of different lengths."""
    s, m = simulate_cross_lagged(5, 7, sync_to_measure=0.4, seed=21)
    drop = ((s["dyad"] == 2) & (s["session"] == 4)) | ((s["dyad"] == 4) & (s["session"] > 5))
    data = cross_lagged_data(s[~drop], m[~drop], "measure")
    boot = bootstrap_cross_lagged(data, response, predictor, n_bootstrap=49,
                                  n_calibration=20, interval=False, seed=3)
    eq, pred = VARIABLES.index(response), VARIABLES.index(predictor)
    expected = _reference_bias(data, eq, pred, boot["null_coefficients"], 3, 49)
    assert boot["bias"] == pytest.approx(expected, rel=1e-8)
