"""Simulated studies for the cross-lagged models, and their calibration.

:func:`simulate_cross_lagged` draws session-level synchrony and a measure that
influence each other over sessions (a VAR(1) of within-dyad fluctuations on top of
dyad levels and linear trends); :func:`cross_lagged_calibration` runs the bias-
corrected bootstrap test and interval of :mod:`interbrain.stats.cross_lagged` on
many such studies under several data-generating processes (:data:`SCENARIOS`) and
reports, per direction, the rejection rate of ``p_bootstrap`` (false-positive rate
where no effect runs that way, power where one does) and the coverage of the
interval. ``benchmarks/calibration.py`` can call it with 1000 studies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from .._check import as_generator
from .cross_lagged import cross_lagged_data
from .cross_lagged_bootstrap import bootstrap_cross_lagged
from .session_simulation import simulate_sessions

__all__ = ["SCENARIOS", "simulate_cross_lagged", "cross_lagged_calibration"]

#: Data-generating processes of :func:`cross_lagged_calibration`: name ->
#: :func:`simulate_cross_lagged` arguments, or ``"session_simulation"`` for
#: :func:`~interbrain.stats.session_simulation.simulate_sessions` with a concurrent
#: within-dyad effect of 0.5 (the run's default simulation: no lagged effect).
SCENARIOS = {
    "no effects": {"autoregression": 0.4},
    "synchrony -> measure only": {"autoregression": 0.4, "sync_to_measure": 0.5},
    "measure -> synchrony only": {"autoregression": 0.4, "measure_to_sync": 0.5},
    "strong measure -> synchrony only": {"autoregression": 0.4, "measure_to_sync": 1.5,
                                         "trend_sd": 0.0},
    "concurrent only": {"autoregression": 0.4, "concurrent": 0.6},
    "concurrent only (session simulation)": "session_simulation",
    "trends only": {"autoregression": 0.0, "trend_sd": 1.0, "trend_correlation": 0.8},
}
_DIRECTIONS = {"synchrony -> measure": ("measure", "synchrony", "sync_to_measure"),
               "measure -> synchrony": ("synchrony", "measure", "measure_to_sync")}


def simulate_cross_lagged(n_dyads: int = 8, n_sessions: int = 6, *,
                          sync_to_measure: float = 0.0, measure_to_sync: float = 0.0,
                          autoregression: float = 0.5, concurrent: float = 0.0,
                          intercept_sd: float = 1.0, trend_sd: float = 0.3,
                          trend_correlation: float = 0.0, seed=None
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Session-level study with synchrony and a measure influencing each other.

    Each dyad ``i`` has a stable level and a linear course over sessions for each
    variable, plus within-dyad fluctuations ``s, m`` following a stationary VAR(1)
    started 50 sessions before the first::

        s[t] = autoregression * s[t-1] + measure_to_sync * m[t-1] + e_s[t]
        m[t] = autoregression * m[t-1] + sync_to_measure * s[t-1] + e_m[t]
        synchrony[i, t] = a_i + b_i * t + s[t],   measure[i, t] = c_i + d_i * t + m[t]

    with innovations ``e_s, e_m ~ N(0, 1)`` correlated ``concurrent`` (synchrony
    and measure related within a session, no lagged effect), ``a_i, c_i ~ N(0,
    intercept_sd^2)`` independent and ``b_i, d_i ~ N(0, trend_sd^2)`` correlated
    ``trend_correlation`` (dyads whose synchrony rises over therapy improving
    more); sessions ``t = 1 .. n_sessions``.

    Parameters
    ----------
    n_dyads, n_sessions : int
    sync_to_measure, measure_to_sync : float
        Cross-lagged effects (per unit of the fluctuations).
    autoregression : float
        Autoregressive coefficient of both fluctuations.
    concurrent : float
        Correlation of the two innovations of a session, in (-1, 1).
    intercept_sd, trend_sd : float
        Between-dyad SDs of the levels and of the slopes per session.
    trend_correlation : float
        Correlation of a dyad's synchrony and measure slopes, in [-1, 1].
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    sessions : pandas.DataFrame
        ``dyad, session, synchrony`` (``n_dyads * n_sessions`` rows).
    measures : pandas.DataFrame
        ``dyad, session, measure``.

    Raises
    ------
    ValueError
        For a non-stationary VAR(1) or correlations out of range.
    """
    if not -1 < concurrent < 1 or not -1 <= trend_correlation <= 1:
        raise ValueError(f"concurrent must be in (-1, 1) and trend_correlation in [-1, 1], "
                         f"got {concurrent}, {trend_correlation}")
    rng = as_generator(seed)
    burn = 50
    coef = np.array([[autoregression, measure_to_sync], [sync_to_measure, autoregression]])
    if np.max(np.abs(np.linalg.eigvals(coef))) >= 1:
        raise ValueError("the VAR(1) of synchrony and measure must be stationary")
    chol = np.linalg.cholesky(np.array([[1.0, concurrent], [concurrent, 1.0]]))
    # one draw of all innovations: the same numbers as a draw per session
    innovations = rng.standard_normal((burn + n_sessions, n_dyads, 2)) @ chol.T
    state = np.zeros((n_dyads, 2))
    series = np.empty((n_sessions, n_dyads, 2))
    for t in range(burn + n_sessions):
        state = state @ coef.T + innovations[t]
        if t >= burn:
            series[t - burn] = state
    session = np.arange(1, n_sessions + 1, dtype=float)
    level = rng.normal(0, intercept_sd, (n_dyads, 2))
    z = rng.standard_normal((n_dyads, 2))
    trend = trend_sd * np.column_stack(
        [z[:, 0], trend_correlation * z[:, 0]
         + np.sqrt(1 - trend_correlation ** 2) * z[:, 1]])
    values = series + level[None] + trend[None] * session[:, None, None]
    dyad = np.tile(np.arange(1, n_dyads + 1), n_sessions)
    sess = np.repeat(session.astype(int), n_dyads)
    sessions = pd.DataFrame({"dyad": dyad, "session": sess,
                             "synchrony": values[..., 0].ravel()})
    measures = pd.DataFrame({"dyad": dyad, "session": sess,
                             "measure": values[..., 1].ravel()})
    order = ["dyad", "session"]
    return (sessions.sort_values(order, ignore_index=True),
            measures.sort_values(order, ignore_index=True))


def _study(scenario, n_dyads: int, n_sessions: int, rng: np.random.Generator):
    if scenario == "session_simulation":
        data = simulate_sessions(n_dyads, n_sessions, effect=0.01, outcome_effect=0.5,
                                 measure="measure", seed=rng)
        return data[["dyad", "session", "synchrony"]], data[["dyad", "session", "measure"]]
    return simulate_cross_lagged(n_dyads, n_sessions, seed=rng, **scenario)


def cross_lagged_calibration(n_studies: int, *, scenarios: dict | None = None,
                             n_dyads: int = 8, n_sessions: int = 6,
                             n_bootstrap: int = 999, n_calibration: int = 200,
                             interval: bool = True, alpha: float = 0.05,
                             seed=0) -> pd.DataFrame:
    """Rejection rates and interval coverage of the bias-corrected bootstrap.

    For each scenario, ``n_studies`` simulated studies; in each, both directions'
    bias-corrected bootstrap test of 0 (``p_bootstrap`` of
    :func:`~interbrain.stats.cross_lagged.fit_cross_lagged`, centred and detrended
    within dyad) and, with ``interval``, its 95% interval.

    Parameters
    ----------
    n_studies : int
        Simulated studies per scenario (e.g. 1000 for the benchmark).
    scenarios : dict, optional
        Name -> :func:`simulate_cross_lagged` arguments or ``"session_simulation"``
        (default :data:`SCENARIOS`).
    n_dyads, n_sessions : int
        Design of every study (8 x 6 by default).
    n_bootstrap, n_calibration : int
        Of :func:`~interbrain.stats.cross_lagged_bootstrap.bootstrap_cross_lagged`.
    interval : bool
        Also the intervals (about ten times the time of the tests).
    alpha : float
        Level of the tests.
    seed : int or numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        One row per scenario and direction: ``scenario, direction, planted`` (the
        true cross-lagged coefficient), ``n_studies``, ``rejection_rate`` (of
        ``p_bootstrap < alpha``: the false-positive rate where ``planted`` is 0, the
        power elsewhere), ``rate_low, rate_high`` (the central 99% range of the
        rejection rate over ``n_studies`` of a test holding its exact level: ``alpha``
        rounded down to the discrete p of ``n_bootstrap`` draws, 0.048 with 999;
        meaningful where ``planted`` is 0), ``mean_estimate`` (the within-dyad
        OLS estimate), ``mean_corrected`` (median-unbiased estimate), ``coverage``
        (of ``planted`` by the interval), ``unbounded`` (share of intervals with an
        infinite end).
    """
    rng = as_generator(seed)
    scenarios = SCENARIOS if scenarios is None else scenarios
    # the exact level of p < alpha with n_bootstrap draws (p is discrete)
    nominal = 2 * np.ceil(alpha / 2 * (n_bootstrap + 1) - 1 - 1e-9) / (n_bootstrap + 1)
    low, high = sps.binom.ppf([0.005, 0.995], n_studies, nominal) / n_studies
    rows = []
    for name, scenario in scenarios.items():
        tally = {d: [] for d in _DIRECTIONS}
        for _ in range(int(n_studies)):
            data = cross_lagged_data(*_study(scenario, n_dyads, n_sessions, rng), "measure")
            for direction, (response, predictor, _) in _DIRECTIONS.items():
                boot = bootstrap_cross_lagged(data, response, predictor,
                                              n_bootstrap=n_bootstrap,
                                              n_calibration=n_calibration,
                                              interval=interval, seed=rng)
                tally[direction].append((boot["p"], boot["estimate"],
                                         boot["estimate_corrected"], boot["ci_low"],
                                         boot["ci_high"]))
        for direction, (*_, effect) in _DIRECTIONS.items():
            p, est, corrected, lo, hi = np.array(tally[direction], float).T
            planted = 0.0 if scenario == "session_simulation" else \
                float(scenario.get(effect, 0.0))
            rows.append({"scenario": name, "direction": direction, "planted": planted,
                         "n_studies": int(n_studies), "rejection_rate": np.mean(p < alpha),
                         "rate_low": low, "rate_high": high,
                         "mean_estimate": est.mean(),
                         "mean_corrected": np.nanmean(corrected) if interval else np.nan,
                         "coverage": np.mean((lo <= planted) & (planted <= hi))
                         if interval else np.nan,
                         "unbounded": np.mean(np.isinf(lo) | np.isinf(hi))
                         if interval else np.nan})
    return pd.DataFrame(rows)
