"""Within-dyad cross-lagged models of synchrony and a measure (stats/cross_lagged.py)."""

import time

import numpy as np
import pandas as pd
import pytest

from interbrain.stats.cluster_robust import ClusterRobustResult, cluster_robust_ols
from interbrain.stats.cross_lagged import (CROSS_LAGGED_SIMPLIFICATIONS, CrossLaggedResult,
                                           cross_lagged_data, fit_cross_lagged,
                                           simulate_cross_lagged)
from interbrain.stats.cross_lagged_bootstrap import bootstrap_cross_lagged
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
    with pytest.raises(ValueError, match="n_bootstrap"):
        fit_cross_lagged(s, m, "measure", n_bootstrap=5)


def test_centred_data_fall_back_to_cr2_ols_and_say_so():
    s, m = simulate_cross_lagged(8, 6, seed=3)
    result = fit_cross_lagged(s, m, "measure")
    for direction, fit in result.fits.items():
        # within-dyad centring leaves no between-dyad variance for the intercept
        assert isinstance(fit, ClusterRobustResult)
        assert fit.simplification == CROSS_LAGGED_SIMPLIFICATIONS[1]
        assert "singular fit" in fit.messages[0]


# ---------------------------------------------------------------------------
# calibration: 200 null studies per direction, the effect running the other way
# ---------------------------------------------------------------------------

N_STUDIES = 200
#: 99 % quantile of Binomial(200, 0.05) / 200
MAX_RATE = 0.09
#: the setting in which the old lagged model is fooled (8 dyads x 6 sessions)
SETTING = {"autoregression": 0.4, "trend_sd": 0.0}
EFFECT = 1.5
_FORMULA = {"synchrony -> measure": "measure_next ~ measure_t + synchrony_t",
            "measure -> synchrony": "synchrony_next ~ synchrony_t + measure_t"}


def _null_rates(setting=SETTING, effect=EFFECT, n_studies=N_STUDIES):
    """False-positive rates at alpha 0.05 of the null direction (bootstrap ``p`` and
    the CR2 OLS ``p`` fit_cross_lagged falls back to) and of the lagged model."""
    rejections = dict.fromkeys(["bootstrap synchrony -> measure", "CR2 synchrony -> measure",
                                "bootstrap measure -> synchrony", "CR2 measure -> synchrony",
                                "lagged model"], 0)
    drives = {"synchrony -> measure": "measure_to_sync", "measure -> synchrony":
              "sync_to_measure"}
    with single_blas_thread():
        for i in range(n_studies):
            for k, (direction, cause) in enumerate(drives.items()):
                s, m = simulate_cross_lagged(8, 6, seed=10_000 * k + i,
                                             **{cause: effect}, **setting)
                data = cross_lagged_data(s, m, "measure")
                response, _, predictor = _FORMULA[direction].partition(" ~ ")
                boot = bootstrap_cross_lagged(data, response.split("_")[0],
                                              predictor.split(" + ")[1].split("_")[0],
                                              n_bootstrap=199, seed=i)
                rejections[f"bootstrap {direction}"] += boot["p"] < 0.05
                ols = cluster_robust_ols(_FORMULA[direction], data)
                rejections[f"CR2 {direction}"] += ols.coefficients["p"].iloc[-1] < 0.05
                if k == 0:
                    old = fit_lagged(s, m, "measure")
                    rejections["lagged model"] += \
                        old.coefficients.loc["synchrony_within", "p"] < 0.05
    return {k: v / n_studies for k, v in rejections.items()}


def test_null_direction_is_calibrated_where_the_lagged_model_is_fooled():
    start = time.perf_counter()
    rates = _null_rates()
    print(f"\nfalse-positive rates over {N_STUDIES} null studies per direction "
          f"(8 dyads x 6 sessions, effect {EFFECT} the other way, {SETTING}): "
          + ", ".join(f"{k}: {v:.3f}" for k, v in rates.items())
          + f" ({time.perf_counter() - start:.1f} s)")
    assert rates["lagged model"] > 0.15       # the old model is fooled here
    assert rates["bootstrap synchrony -> measure"] <= MAX_RATE
    assert rates["bootstrap measure -> synchrony"] <= MAX_RATE
