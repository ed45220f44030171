"""Simulated studies with synchrony and two measures, and the calibration of the
dissociation test (:mod:`interbrain.stats.dissociation`).

Model (:func:`simulate_two_measures`)
    Synchrony ``y[d, s] = intercept + u_d + g_d * tau_s + e[d, s]`` with
    ``tau_s = s - mean(s)``, ``u_d ~ N(0, intercept_sd^2)``, the dyad's growth
    ``g_d ~ N(synchrony_trend, slope_sd^2)`` and ``e ~ N(0, residual_sd^2)``
    (:class:`~interbrain.stats.session_simulation.SessionModel`'s variance
    components). Each measure ``k`` (measure, reference)::

        m_k[d, s] = a_kd + h_kd * tau_s + gamma_kd * (y[d, s] - ybar_d) + sd_k * eps_k[d, s]

    with ``a_kd ~ N(0, sd_k^2)``, its own course ``h_kd ~ N(sd_k * trend_k,
    (sd_k * trend_sd)^2)``, ``gamma_kd = gamma_k + sd_k * effect_sd * z_kd /
    SD_w(y)`` (the within-dyad effect differs between dyads by ``effect_sd``
    measure-noise SDs per within-dyad SD of synchrony) and the two measures'
    noise correlated ``noise_corr``.

    ``effect_measure`` and ``effect_reference`` are the true standardised
    within-dyad coefficients, the estimand of the dissociation test:
    ``gamma_k * SD_w(y) / SD_w(m_k)`` with ``SD_w`` the expected pooled within-dyad
    SDs at this number of sessions (``SD_w(y)^2 = c E[g^2] + residual_sd^2``,
    ``SD_w(m_k)^2 = c E[h^2] + 2 c E[h] gamma_k E[g] + E[gamma_kd^2] SD_w(y)^2 +
    sd_k^2``, ``c = sum(tau^2) / (n_sessions - 1)``); ``gamma_k`` is solved for. So
    measures with different within-dyad variances, trends or noise can have
    equal standardised coefficients: the null hypothesis of the test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from .._check import as_generator, check_int
from .dissociation import dissociation_test
from .session_simulation import SessionModel

__all__ = ["simulate_two_measures", "dissociation_calibration"]


def _pair(value, name: str) -> tuple[float, float]:
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or not all(math.isfinite(float(v)) for v in pair):
        raise ValueError(f"{name} must be a number or a pair of numbers, got {value!r}")
    return float(pair[0]), float(pair[1])


def _raw_effect(beta: float, var_y: float, c: float, trend: float, trend_sd: float,
                effect_sd: float, growth: float) -> float:
    """``gamma / sd_k`` giving the standardised coefficient ``beta`` (module notes;
    in units of the measure's noise SD)."""
    if beta == 0:
        return 0.0
    rest = c * (trend ** 2 + trend_sd ** 2) + 1.0 + effect_sd ** 2
    q = c * trend * growth / math.sqrt(var_y)
    b2 = beta * beta
    kappa = (b2 * q + math.copysign(math.sqrt(b2 * b2 * q * q + (1 - b2) * b2 * rest), beta)
             ) / (1 - b2)
    return kappa / math.sqrt(var_y)


def simulate_two_measures(n_dyads: int = 8, n_sessions: int = 6, *,
                          effect_measure: float = 0.0, effect_reference: float = 0.0,
                          effect_sd: float = 0.0, measure_sd=(1.0, 1.0),
                          trend=(0.0, 0.0), trend_sd: float = 0.0, noise_corr: float = 0.3,
                          synchrony_trend: float = 0.0, model: SessionModel | None = None,
                          measure: str = "symptoms", reference: str = "alliance", seed=None
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One simulated study with synchrony and two measures (module notes).

    Parameters
    ----------
    n_dyads, n_sessions : int
        Every dyad has sessions ``1 .. n_sessions``.
    effect_measure, effect_reference : float
        True standardised within-dyad coefficients of the two measures, in (-1, 1).
    effect_sd : float
        Between-dyad SD of the within-dyad effects (measure-noise SDs per
        within-dyad SD of synchrony).
    measure_sd : float or (float, float)
        Session-noise SD of each measure (the measures' scales).
    trend, trend_sd : (float, float) and float
        Mean course of each measure per session and its between-dyad SD, in units
        of the measure's noise SD.
    noise_corr : float
        Correlation of the two measures' session noise, in (-1, 1).
    synchrony_trend : float
        Mean growth of synchrony per session (synchrony units).
    model : SessionModel, optional
        Synchrony's ``intercept, intercept_sd, slope_sd, residual_sd``.
    measure, reference : str
        The measures' column names.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    sessions : pandas.DataFrame
        ``dyad, session, synchrony``.
    measures : pandas.DataFrame
        ``dyad, session, <measure>, <reference>``.
    """
    model = model or SessionModel()
    D = check_int(n_dyads, "n_dyads", minimum=3)
    S = check_int(n_sessions, "n_sessions", minimum=3)
    betas = _pair((effect_measure, effect_reference), "effects")
    if not all(abs(b) < 1 for b in betas):
        raise ValueError(f"standardised coefficients must lie in (-1, 1), got {betas}")
    sds, trends = _pair(measure_sd, "measure_sd"), _pair(trend, "trend")
    if not all(s > 0 for s in sds):
        raise ValueError(f"measure_sd must be > 0, got {measure_sd!r}")
    if not (effect_sd >= 0 and trend_sd >= 0 and -1 < noise_corr < 1):
        raise ValueError("effect_sd and trend_sd must be >= 0 and noise_corr in (-1, 1)")
    if measure == reference:
        raise ValueError("measure and reference must have different names")
    rng = as_generator(seed)
    tau = np.arange(1, S + 1) - (S + 1) / 2.0
    c = float(tau @ tau) / (S - 1)
    var_y = c * (synchrony_trend ** 2 + model.slope_sd ** 2) + model.residual_sd ** 2
    g = synchrony_trend + model.slope_sd * rng.standard_normal(D)
    y = (model.intercept + model.intercept_sd * rng.standard_normal(D))[:, None] \
        + g[:, None] * tau + model.residual_sd * rng.standard_normal((D, S))
    yc = y - y.mean(axis=1, keepdims=True)
    z = rng.standard_normal((2, D, S))
    noise = np.stack([z[0], noise_corr * z[0] + math.sqrt(1 - noise_corr ** 2) * z[1]])
    values = []
    for k in range(2):
        gamma = _raw_effect(betas[k], var_y, c, trends[k], trend_sd, effect_sd,
                            synchrony_trend)
        gamma_d = gamma + effect_sd * rng.standard_normal(D) / math.sqrt(var_y)
        h = trends[k] + trend_sd * rng.standard_normal(D)
        a = rng.standard_normal(D)
        values.append(sds[k] * (a[:, None] + h[:, None] * tau + gamma_d[:, None] * yc
                                + noise[k]))
    dyads = [f"D{i + 1:02d}" for i in range(D)]
    index = {"dyad": np.repeat(dyads, S), "session": np.tile(np.arange(1, S + 1), D)}
    sessions = pd.DataFrame({**index, "synchrony": y.ravel()})
    measures = pd.DataFrame({**index, measure: values[0].ravel(),
                             reference: values[1].ravel()})
    return sessions, measures


def dissociation_calibration(n_studies: int = 300, *, seed: int = 0, alpha: float = 0.05,
                             sesoi: float | None = None, n_permutations: int = 999,
                             **simulation) -> dict[str, float]:
    """Rejection rates and coverage of :func:`dissociation_test` over simulated studies.

    Parameters
    ----------
    n_studies : int
        Simulated studies (e.g. 300 in the tests, 1000 in the benchmarks).
    seed : int
    alpha : float
    sesoi : float, optional
        Passed on: adds the rate of ``equivalent`` and the mean ``power_equivalence``
        of the reference.
    n_permutations : int
        Random sign patterns beyond 13 dyads.
    **simulation
        Arguments of :func:`simulate_two_measures` (design and effects).

    Returns
    -------
    dict
        ``n_studies``; ``reject_difference`` (sign-flip ``p <= alpha``),
        ``cover_difference`` (the true difference ``effect_measure -
        effect_reference`` in the 95% CI), ``reject_measure``, ``reject_reference``
        (t-test ``p < alpha``), ``cover_measure``, ``cover_reference``, with a
        ``sesoi`` ``equivalent_reference`` and ``power_reference`` (mean
        ``power_equivalence``), and the binomial bounds ``lower, upper`` (central
        99.9 %) of a rate of ``alpha`` over ``n_studies``.
    """
    n_studies = check_int(n_studies, "n_studies", minimum=1)
    truth = {"measure": float(simulation.get("effect_measure", 0.0)),
             "reference": float(simulation.get("effect_reference", 0.0))}
    truth["difference"] = truth["measure"] - truth["reference"]
    names = (simulation.pop("measure", "symptoms"), simulation.pop("reference", "alliance"))
    counts = {key: 0 for key in ("reject_difference", "cover_difference", "reject_measure",
                                 "reject_reference", "cover_measure", "cover_reference",
                                 "equivalent_reference")}
    power = 0.0
    for seq in np.random.SeedSequence(seed).spawn(n_studies):
        data_seed, test_seed = seq.spawn(2)
        sessions, measures = simulate_two_measures(measure=names[0], reference=names[1],
                                                   seed=np.random.default_rng(data_seed),
                                                   **simulation)
        res = dissociation_test(sessions, measures, *names, sesoi=sesoi, alpha=alpha,
                                n_permutations=n_permutations, seed=test_seed)
        for which in ("measure", "reference", "difference"):
            row = res.row(which)
            rejected = row["p"] <= alpha if which == "difference" else row["p"] < alpha
            counts[f"reject_{which}"] += bool(rejected)
            counts[f"cover_{which}"] += bool(row["ci_low"] <= truth[which] <= row["ci_high"])
        if sesoi is not None:
            ref = res.row("reference")
            counts["equivalent_reference"] += bool(ref["equivalent"])
            power += float(ref["power_equivalence"])
    out = {key: value / n_studies for key, value in counts.items()}
    if sesoi is None:
        del out["equivalent_reference"]
    else:
        out["power_reference"] = power / n_studies
    out["n_studies"] = float(n_studies)
    out["lower"] = float(sps.binom.ppf(0.0005, n_studies, alpha)) / n_studies
    out["upper"] = float(sps.binom.ppf(0.9995, n_studies, alpha)) / n_studies
    return out
