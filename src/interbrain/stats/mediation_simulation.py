"""Simulated studies with a known indirect effect, and the coverage of the mediation CI.

Model (standardised units; :func:`simulate_mediation`), dyad ``j``, session
``s = 1 .. n_sessions``, ``x = s - 1``::

    synchrony[j, s] = u_j + a_j x + e[j, s]
    measure[j, s]   = v_j + b_j synchrony[j, s] + direct x + eps[j, s]

with ``u_j, v_j, e, eps ~ N(0, 1)`` independent and ``(a_j, b_j)`` bivariate normal
with means ``(a, b)``, SDs ``(sd_a, sd_b)`` and covariance ``cov_ab``. The average
indirect effect is ``a b + cov_ab`` (Bauer, Preacher & Gil 2006). :func:`mediation_coverage`
fits many such studies with the estimator of :mod:`interbrain.stats.mediation` (the same
functions, on arrays) and reports how often the CI covers the true indirect effect and
how often it excludes 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from .._check import as_generator, check_int
from .mediation import MIN_DYADS, MIN_SESSIONS, dyad_paths, indirect_draws

__all__ = ["DEFAULT_SCENARIOS", "simulate_mediation", "mediation_coverage"]

#: Scenarios of :func:`mediation_coverage`: name -> ``(a, b, sd_a, sd_b, cov_ab)``.
DEFAULT_SCENARIOS = {
    "no effect": (0.0, 0.0, 0.2, 0.3, 0.0),
    "a only": (0.3, 0.0, 0.2, 0.3, 0.0),
    "b only": (0.0, 0.4, 0.2, 0.3, 0.0),
    "a*b, sigma_ab 0": (0.3, 0.4, 0.2, 0.3, 0.0),
    "a*b, sigma_ab > 0": (0.3, 0.4, 0.2, 0.3, 0.04),
    "sigma_ab only": (0.0, 0.0, 0.2, 0.3, 0.04),
    "a only, sigma_ab < 0": (0.3, 0.0, 0.2, 0.3, -0.04),
    "fixed slopes": (0.3, 0.4, 0.0, 0.0, 0.0),
}


def _check_slopes(sd_a: float, sd_b: float, cov_ab: float) -> None:
    if not (sd_a >= 0 and sd_b >= 0):
        raise ValueError(f"sd_a and sd_b must be >= 0, got {sd_a} and {sd_b}")
    if not abs(cov_ab) <= sd_a * sd_b + 1e-12:
        raise ValueError(f"|cov_ab| must be at most sd_a * sd_b = {sd_a * sd_b}, got "
                         f"{cov_ab}")


def _simulate_arrays(rng: np.random.Generator, n_studies: int, n_dyads: int,
                     n_sessions: int, a: float, b: float, sd_a: float, sd_b: float,
                     cov_ab: float, direct: float = 0.0):
    """Session ``x``, synchrony and measure, each of shape (n_studies, n_dyads,
    n_sessions) (module notes)."""
    _check_slopes(sd_a, sd_b, cov_ab)
    cov = np.array([[sd_a ** 2, cov_ab], [cov_ab, sd_b ** 2]])
    values, vectors = np.linalg.eigh(cov)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    slopes = np.array([a, b]) + rng.standard_normal((n_studies, n_dyads, 2)) @ root.T
    x = np.arange(n_sessions, dtype=float)
    size = (n_studies, n_dyads, n_sessions)
    sync = (rng.standard_normal(size[:2] + (1,)) + slopes[..., :1] * x
            + rng.standard_normal(size))
    meas = (rng.standard_normal(size[:2] + (1,)) + slopes[..., 1:] * sync + direct * x
            + rng.standard_normal(size))
    return np.broadcast_to(x, size), sync, meas


def simulate_mediation(n_dyads: int = 8, n_sessions: int = 6, *, a: float = 0.3,
                       b: float = 0.4, sd_a: float = 0.2, sd_b: float = 0.3,
                       cov_ab: float = 0.0, direct: float = 0.0, seed=None
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One simulated study with the average indirect effect ``a * b + cov_ab``.

    Parameters
    ----------
    n_dyads, n_sessions : int
        At least 3 dyads and :data:`~interbrain.stats.mediation.MIN_SESSIONS` sessions.
    a : float
        Mean growth of synchrony per session (SDs of synchrony's session noise).
    b : float
        Mean within-dyad effect of synchrony on the measure (measure noise SDs per
        synchrony noise SD).
    sd_a, sd_b : float
        Between-dyad SDs of the dyads' ``a_j`` and ``b_j``.
    cov_ab : float
        Covariance of ``a_j`` and ``b_j``; ``|cov_ab| <= sd_a * sd_b``.
    direct : float
        Direct effect of session on the measure (per session).
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    sessions : pandas.DataFrame
        ``dyad, session, synchrony`` (sessions numbered from 1).
    measures : pandas.DataFrame
        ``dyad, session, measure``.
    """
    check_int(n_dyads, "n_dyads", minimum=MIN_DYADS)
    check_int(n_sessions, "n_sessions", minimum=MIN_SESSIONS)
    rng = as_generator(seed)
    _, sync, meas = _simulate_arrays(rng, 1, n_dyads, n_sessions, a, b, sd_a, sd_b,
                                     cov_ab, direct)
    dyad = np.repeat(np.arange(1, n_dyads + 1), n_sessions)
    session = np.tile(np.arange(1, n_sessions + 1), n_dyads)
    return (pd.DataFrame({"dyad": dyad, "session": session, "synchrony": sync[0].ravel()}),
            pd.DataFrame({"dyad": dyad, "session": session, "measure": meas[0].ravel()}))


def mediation_coverage(n_studies: int = 1000, n_dyads: int = 8, n_sessions: int = 6, *,
                       scenarios: dict | None = None, n_draws: int = 20000,
                       ci: float = 0.95, chunk: int = 50, seed=0) -> pd.DataFrame:
    """Coverage of the Monte Carlo CI of the indirect effect over simulated studies.

    Parameters
    ----------
    n_studies : int
        Simulated studies per scenario.
    n_dyads, n_sessions : int
        The design.
    scenarios : dict, optional
        Name -> ``(a, b, sd_a, sd_b, cov_ab)``; default :data:`DEFAULT_SCENARIOS`.
    n_draws : int
        Monte Carlo draws per study.
    ci : float
        Level of the CI.
    chunk : int
        Studies fitted at once (memory: ``chunk * n_draws`` values).
    seed : int or numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        One row per scenario: ``scenario, a, b, sd_a, sd_b, cov_ab, indirect`` (true
        ``a b + cov_ab``), ``n_studies, n_dyads, n_sessions``, ``mean_estimate``,
        ``coverage`` (CI contains the true value), ``excludes_zero`` (CI excludes 0:
        the false-positive rate when ``indirect`` is 0, power otherwise),
        ``miss_low, miss_high`` (CI entirely below / above the true value), the
        coverage of the t intervals of ``a`` and ``b`` (``coverage_a``,
        ``coverage_b``) and ``coverage_low, coverage_high``: the central 99% range of
        the coverage of an exact ``ci`` interval over ``n_studies`` (binomial).
    """
    n_studies = check_int(n_studies, "n_studies", minimum=1)
    chunk = check_int(chunk, "chunk", minimum=1)
    rng = as_generator(seed)
    tail = (1.0 - ci) / 2.0
    q = sps.t.ppf(1.0 - tail, n_dyads - 1)
    rows = []
    for name, (a, b, sd_a, sd_b, cov_ab) in (scenarios or DEFAULT_SCENARIOS).items():
        truth = a * b + cov_ab
        est, low, high, cover_a, cover_b = [], [], [], [], []
        for start in range(0, n_studies, chunk):
            size = min(chunk, n_studies - start)
            paths = dyad_paths(*_simulate_arrays(rng, size, n_dyads, n_sessions, a, b,
                                                 sd_a, sd_b, cov_ab))
            draws, _ = indirect_draws(paths["a"], paths["b"], n_draws, rng)
            est.append(np.mean(paths["a"] * paths["b"], axis=-1))
            lo, hi = np.quantile(draws, [tail, 1.0 - tail], axis=-1)
            low.append(lo)
            high.append(hi)
            for key, true, store in (("a", a, cover_a), ("b", b, cover_b)):
                mean = paths[key].mean(-1)
                se = paths[key].std(-1, ddof=1) / np.sqrt(n_dyads)
                store.append(np.abs(mean - true) <= q * se)
        est, low, high = (np.concatenate(v) for v in (est, low, high))
        rows.append({"scenario": name, "a": a, "b": b, "sd_a": sd_a, "sd_b": sd_b,
                     "cov_ab": cov_ab, "indirect": truth, "n_studies": n_studies,
                     "n_dyads": n_dyads, "n_sessions": n_sessions,
                     "mean_estimate": float(np.mean(est)),
                     "coverage": float(np.mean((low <= truth) & (truth <= high))),
                     "excludes_zero": float(np.mean((low > 0) | (high < 0))),
                     "miss_low": float(np.mean(high < truth)),
                     "miss_high": float(np.mean(low > truth)),
                     "coverage_a": float(np.mean(np.concatenate(cover_a))),
                     "coverage_b": float(np.mean(np.concatenate(cover_b)))})
    out = pd.DataFrame(rows)
    out["coverage_low"] = sps.binom.ppf(0.005, n_studies, ci) / n_studies
    out["coverage_high"] = sps.binom.ppf(0.995, n_studies, ci) / n_studies
    return out
