"""The confirmatory tests of one simulated study, and their rejection rates over many.

Used by the simulation-based power analysis (:mod:`interbrain.stats.power`) and the
calibration benchmark (``benchmarks/calibration.py``) so that both fit exactly the
models an analysis fits. Tests of one :class:`~interbrain.stats.pairing_simulation.PairingStudy`
(:func:`run_tests`), each giving ``estimate, std_error, df, p, singular,
simplification``:

``growth``
    naive growth of real synchrony, ``session`` of
    :func:`~interbrain.stats.growth.fit_growth` (real dyads only; a session-locked
    confound makes it grow too).
``plasticity`` / ``plasticity_familiarity``
    :func:`~interbrain.stats.plasticity.plasticity_test` with the pseudo-dyad or
    the familiarity null: growth of real minus null synchrony, model-based p.
``plasticity_permutation``
    its dyad-level permutation p-value, the one the confirmatory family uses
    (sign flips of the dyads' excess slopes; the estimate is the same as
    ``plasticity``).
``plasticity_reassign``
    the permutation p-value with partners reassigned within session number
    (``permutation="reassign"``; kept to show why it is not the default).
``outcome_ladder``
    ``synchrony_within`` of :func:`~interbrain.stats.outcomes.fit_within_between`
    (random slope of ``synchrony_within`` -> uncorrelated -> OLS with CR2
    cluster-robust errors).
``outcome_intercept``
    ``synchrony_within`` of the random-intercept model ``measure ~ synchrony_within
    + synchrony_between + session + (1 | dyad)`` (the model before the ladder, kept
    for comparison).

:func:`rejection_rows` turns the per-study results into rejection rates with Wilson
95% Monte Carlo intervals, mean estimates, 95%-CI coverage of the planted value and
the shares of singular fits and of simplified models.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from ..nulls.dyad_tests import confidence_interval
from .growth import fit_growth
from .mixed import lmer, within_between
from .outcomes import fit_within_between
from .pairing_simulation import PairingStudy
from .plasticity import plasticity_test

__all__ = ["CALIBRATED_TESTS", "OLD_OUTCOME_FORMULA", "run_tests", "rejection_rows",
           "REJECTION_COLUMNS"]

CALIBRATED_TESTS = ("growth", "plasticity", "plasticity_familiarity",
                    "plasticity_permutation", "plasticity_reassign", "outcome_ladder",
                    "outcome_intercept")
OLD_OUTCOME_FORMULA = ("measure ~ synchrony_within + synchrony_between + session "
                       "+ (1 | dyad)")
REJECTION_COLUMNS = ["test", "df_method", "planted", "alpha", "n_studies", "n_tested",
                     "rejections", "rate", "ci_low", "ci_high", "mean_estimate",
                     "sd_estimate", "mean_std_error", "coverage", "share_singular",
                     "share_simplified", "simplifications", "n_errors"]
_NAN = float("nan")


def _df_kwargs(df_method: str | None) -> dict:
    """Pass ``df_method`` only when one is asked for (None: the package default)."""
    return {} if df_method is None else {"df_method": df_method}


def _row(estimate, std_error, df, p, singular=False, simplification=None) -> dict:
    return {"estimate": float(estimate), "std_error": float(std_error), "df": float(df),
            "p": float(p), "singular": bool(singular),
            "simplification": "" if simplification in (None, "", "none")
            else str(simplification), "error": ""}


def _failed(exc: Exception) -> dict:
    return {"estimate": _NAN, "std_error": _NAN, "df": _NAN, "p": _NAN, "singular": False,
            "simplification": "", "error": f"{type(exc).__name__}: {exc}"}


def _coefficient_row(fit, term: str) -> dict:
    row = fit.coefficients.loc[term]
    return _row(row["estimate"], row["std_error"], row["df"], row["p"],
                getattr(fit, "singular", False), getattr(fit, "simplification", None))


def _old_outcome(sessions: pd.DataFrame, measures: pd.DataFrame, measure: str,
                 df_method: str | None):
    data = sessions[["dyad", "session", "synchrony"]].merge(
        measures[["dyad", "session", measure]], on=["dyad", "session"])
    data = data.dropna().rename(columns={measure: "measure"}).reset_index(drop=True)
    data = within_between(data, "synchrony", "dyad")
    return lmer(OLD_OUTCOME_FORMULA, data, reml=True, **_df_kwargs(df_method))


def run_tests(study: PairingStudy, tests=("growth", "plasticity", "outcome_ladder"), *,
              time: str = "linear", df_method: str | None = None,
              n_permutations: int = 999, seed=0, measure: str = "outcome"
              ) -> dict[str, dict]:
    """The tests ``tests`` (names of :data:`CALIBRATED_TESTS`) of one study.

    Parameters
    ----------
    study : PairingStudy
    tests : sequence of str
    time : str
        Time coding of the growth and plasticity models.
    df_method : str, optional
        ``"satterthwaite"`` or ``"kenward-roger"`` for every mixed model; None: the
        package default.
    n_permutations : int
        Permutations of the plasticity test (at least 99; the familiarity null's
        sign-flip test always uses 99, its p-value is not reported).
    seed : int or numpy.random.SeedSequence
        Seed of the permutations.
    measure : str
        The measure column of ``study.measures``.

    When therapists (``study.sessions["therapist"]``) are several and some treat more
    than one dyad, the growth and plasticity models get the crossed
    ``(1 | therapist)``.

    Returns
    -------
    dict
        Test name -> ``estimate, std_error, df, p, singular, simplification, error``
        (NaN / empty where a test failed; ``error`` says why).
    """
    unknown = [t for t in tests if t not in CALIBRATED_TESTS]
    if unknown:
        raise ValueError(f"unknown test(s) {unknown}; use {list(CALIBRATED_TESTS)}")
    out: dict[str, dict] = {}
    kw = _df_kwargs(df_method)
    therapists = study.sessions.drop_duplicates("dyad").set_index("dyad")["therapist"] \
        if "therapist" in study.sessions else None
    # a therapist term only where a therapist treats several dyads (one therapist per
    # dyad: the term would duplicate the dyad intercept and is not identified)
    several = therapists is not None and 1 < therapists.nunique() < len(therapists)
    if "growth" in tests:
        try:
            fit = fit_growth(study.sessions, time=time,
                             therapist="therapist" if several else None, **kw)
            term = "session" if time == "linear" else fit.coefficients.index[1]
            out["growth"] = _coefficient_row(fit, term)
        except (ValueError, np.linalg.LinAlgError) as exc:
            out["growth"] = _failed(exc)
    perm = "plasticity_permutation" in tests
    for name, null in (("plasticity", "pseudo"), ("plasticity_familiarity", "familiarity")):
        if name not in tests and not (perm and null == "pseudo"):
            continue
        try:
            res = plasticity_test(study.pairings, time=time, null=null,
                                  n_permutations=n_permutations if null == "pseudo" else 99,
                                  seed=seed, therapist=therapists if several else None,
                                  **kw)
            row = _row(res.estimate, res.std_error, res.df, res.p, res.singular,
                       res.simplification)
            if name in tests:
                out[name] = row
            if perm and null == "pseudo":
                out["plasticity_permutation"] = {**row, "p": float(res.p_permutation)}
        except (ValueError, np.linalg.LinAlgError) as exc:
            if name in tests:
                out[name] = _failed(exc)
            if perm and null == "pseudo":
                out["plasticity_permutation"] = _failed(exc)
    if "plasticity_reassign" in tests:
        try:
            res = plasticity_test(study.pairings, time=time, null="pseudo",
                                  n_permutations=n_permutations, seed=seed,
                                  therapist=therapists if several else None,
                                  permutation="reassign", **kw)
            out["plasticity_reassign"] = {
                **_row(res.estimate, res.std_error, res.df, res.p, res.singular,
                       res.simplification), "p": float(res.p_permutation)}
        except (ValueError, np.linalg.LinAlgError) as exc:
            out["plasticity_reassign"] = _failed(exc)
    if "outcome_ladder" in tests:
        try:
            fit = fit_within_between(study.sessions, study.measures, measure, **kw)
            out["outcome_ladder"] = _coefficient_row(fit, "synchrony_within")
        except (ValueError, np.linalg.LinAlgError) as exc:
            out["outcome_ladder"] = _failed(exc)
    if "outcome_intercept" in tests:
        try:
            fit = _old_outcome(study.sessions, study.measures, measure, df_method)
            out["outcome_intercept"] = _coefficient_row(fit, "synchrony_within")
        except (ValueError, np.linalg.LinAlgError) as exc:
            out["outcome_intercept"] = _failed(exc)
    return out


def _covers(est: float, se: float, df: float, planted: float) -> bool:
    if not (math.isfinite(est) and math.isfinite(se) and math.isfinite(df)):
        return False
    low, high = confidence_interval(est, se, df, 0.95)
    return bool(low <= planted <= high)


def rejection_rows(results: list[dict], planted: dict[str, float], *,
                   alpha: float = 0.05, df_method: str | None = None) -> list[dict]:
    """Rejection rate of every test over studies, with its Wilson 95% interval.

    Parameters
    ----------
    results : list of dict
        One :func:`run_tests` output per study.
    planted : dict
        Test name -> the planted value of its estimate (0 under the null).
    alpha : float
        Level of the tests.
    df_method : str, optional
        Recorded in the rows.

    Returns
    -------
    list of dict
        :data:`REJECTION_COLUMNS`, one per test found in ``results``: ``rate`` is
        the false-positive rate where the planted value is 0, the power otherwise;
        ``coverage`` the share of 95% CIs (t with the test's df) covering the planted
        value (NaN for the permutation p); ``share_singular`` and
        ``share_simplified`` among the studies tested; ``simplifications`` the
        counts of each simplification used.
    """
    rows = []
    names = [t for t in CALIBRATED_TESTS if any(t in r for r in results)]
    for test in names:
        vals = [r[test] for r in results if test in r]
        p = np.array([v["p"] for v in vals], dtype=float)
        est = np.array([v["estimate"] for v in vals], dtype=float)
        se = np.array([v["std_error"] for v in vals], dtype=float)
        ok = np.isfinite(p)
        k, n = int((p[ok] < alpha).sum()), int(ok.sum())
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson") if n else (_NAN, _NAN)
        cover = ([_covers(v["estimate"], v["std_error"], v["df"], planted[test])
                  for v, good in zip(vals, ok) if good]
                 if test != "plasticity_permutation" else [])
        simp = pd.Series([v["simplification"] for v, good in zip(vals, ok)
                          if good and v["simplification"]], dtype=object)
        counts = "; ".join(f"{k_}: {c}" for k_, c in simp.value_counts().items())
        rows.append({
            "test": test, "df_method": df_method or "default", "planted": planted[test],
            "alpha": alpha, "n_studies": len(vals), "n_tested": n, "rejections": k,
            "rate": k / n if n else _NAN, "ci_low": float(lo), "ci_high": float(hi),
            "mean_estimate": float(np.mean(est[ok])) if n else _NAN,
            "sd_estimate": float(np.std(est[ok], ddof=1)) if n > 1 else _NAN,
            "mean_std_error": float(np.mean(se[ok])) if n else _NAN,
            "coverage": float(np.mean(cover)) if cover else _NAN,
            "share_singular": (float(np.mean([v["singular"] for v, g in zip(vals, ok) if g]))
                               if n else _NAN),
            "share_simplified": len(simp) / n if n else _NAN,
            "simplifications": counts, "n_errors": int(sum(bool(v["error"]) for v in vals))})
    return rows
