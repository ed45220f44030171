"""Simulation-based calibration and power of the growth and outcome tests.

Studies are simulated at the level of session synchrony
(:mod:`interbrain.stats.session_simulation`: dyad random intercept and slope, therapist
intercept, session noise, an outcome measure), which takes microseconds, and every
simulated study is analysed with the package's own models:

Tests (:func:`study_tests`), each at level ``alpha``
    ``growth``: the slope of ``synchrony ~ session + (1 + session | dyad)`` (plus
    ``(1 | therapist)`` with several therapists), REML, Satterthwaite t-test, as
    :func:`~interbrain.stats.growth.fit_growth`;
    ``growth_permutation``: the dyad-level session-shuffle test
    (:func:`~interbrain.stats.permutation.slope_permutation_test`), when
    ``n_permutations > 0``;
    ``outcome_within``: the ``synchrony_within`` coefficient of
    ``outcome ~ synchrony_within + synchrony_between + session + (1 | dyad)``
    (:func:`~interbrain.stats.outcomes.fit_within_between`).
    With one therapist the two mixed models are fitted through the exact reduced
    problems of :mod:`interbrain.stats.fast` (the same numbers as ``lmer``, ~10x
    faster); with several therapists through :func:`~interbrain.stats.mixed.lmer`.

Output (:func:`power_analysis`)
    One row per scenario and test: the rejection rate (the false-positive rate when
    the planted effect is 0, the power otherwise) with its Monte Carlo confidence
    interval (Wilson), the mean estimate against the planted value and the coverage
    of the 95% confidence intervals. The default effect is an assumption (a WTC
    coherence growth of 0.01 per session against session noise of 0.03): the power
    it gives is what the simulation reports, nothing more.
"""

from __future__ import annotations

import math
import time as _time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from .._check import as_generator, check_int
from ..nulls.dyad_tests import confidence_interval
from .fast import BalancedSlopeProblem, InterceptProblem, fit_reduced
from .growth import fit_growth
from .mixed import single_blas_thread
from .outcomes import fit_within_between
from .permutation import slope_permutation_test
from .power_plot import plot_power
from .session_simulation import SessionModel, check_design, draw_sessions
from .time_codings import SLOPE_TIMES, TIME_CODINGS, check_time, time_values

__all__ = ["DEFAULT_EFFECT", "DEFAULT_OUTCOME_EFFECT", "TESTS", "study_tests",
           "power_analysis", "PowerResult", "POWER_COLUMNS", "SessionModel"]

#: Default growth of synchrony per session (WTC coherence units): an assumption.
DEFAULT_EFFECT = 0.01
#: Default within-dyad outcome effect (measure SDs per SD of session noise).
DEFAULT_OUTCOME_EFFECT = 0.3
TESTS = ("growth", "growth_permutation", "outcome_within")
POWER_COLUMNS = ["scenario", "n_dyads", "n_sessions", "n_therapists", "effect",
                 "outcome_effect", "time", "test", "planted", "alpha", "n_studies",
                 "n_tested", "rejections", "rate", "ci_low", "ci_high", "mean_estimate",
                 "sd_estimate", "mean_std_error", "coverage", "n_singular", "seconds"]


# ---------------------------------------------------------------------------
# the tests of one simulated study
# ---------------------------------------------------------------------------

def _ci_covers(est: float, se: float, df: float, planted: float, level: float = 0.95
               ) -> bool:
    if not (math.isfinite(est) and math.isfinite(se)):
        return False
    low, high = confidence_interval(est, se, df, level)
    return bool(low <= planted <= high)


def study_tests(sessions: np.ndarray, therapist: np.ndarray, y: np.ndarray,
                m: np.ndarray, *, time: str = "linear", n_permutations: int = 0,
                rng: np.random.Generator | None = None, general: bool = False
                ) -> dict[str, dict]:
    """The growth and outcome tests of one study given as arrays.

    Parameters
    ----------
    sessions : numpy.ndarray, shape (S,)
        Session numbers (the same for every dyad).
    therapist : numpy.ndarray of int, shape (D,)
        Therapist index of every dyad.
    y, m : numpy.ndarray, shape (D, S)
        Synchrony and measure.
    time : str
        Time coding of the growth model and the permutation test.
    n_permutations : int
        Permutations of the slope test (0: not run).
    rng : numpy.random.Generator, optional
        For the permutation test.
    general : bool
        Fit with :func:`~interbrain.stats.mixed.lmer` from data frames even when the
        fast reduced problems apply (used to check that both agree).

    Returns
    -------
    dict
        Test name -> ``estimate, std_error, df, p, singular`` (NaN/False where the
        test has no such quantity or failed).
    """
    D, S = y.shape
    check_time(time, SLOPE_TIMES)
    x = time_values(sessions, time)  # session or log(session)
    term = TIME_CODINGS[time].slope_term
    out: dict[str, dict] = {}
    several = len(np.unique(therapist)) > 1
    frame = None
    if general or several or n_permutations:
        frame = pd.DataFrame({"dyad": np.repeat(np.arange(D), S),
                              "session": np.tile(sessions, D),
                              "therapist": np.repeat(therapist, S),
                              "synchrony": y.ravel(), "outcome": m.ravel()})
    nan = float("nan")
    # growth
    try:
        if general or several:
            fit = fit_growth(frame, time=time,
                             therapist="therapist" if several else None)
            row = fit.coefficients.loc[term]
            out["growth"] = {"estimate": float(row["estimate"]),
                             "std_error": float(row["std_error"]), "df": float(row["df"]),
                             "p": float(row["p"]), "singular": bool(fit.singular)}
        else:
            Xs = np.column_stack([np.ones(S), x])
            f = fit_reduced(BalancedSlopeProblem(Xs, y), ["(Intercept)", term])
            out["growth"] = {"estimate": float(f.estimate[1]),
                             "std_error": float(f.std_error[1]), "df": float(f.df[1]),
                             "p": float(f.p[1]), "singular": f.singular}
    except (ValueError, np.linalg.LinAlgError) as exc:  # pragma: no cover - defensive
        out["growth"] = {"estimate": nan, "std_error": nan, "df": nan, "p": nan,
                         "singular": False, "error": str(exc)}
    # permutation test of the slope
    if n_permutations:
        res = slope_permutation_test(frame, time=time, n_permutations=n_permutations,
                                     seed=rng)
        out["growth_permutation"] = {"estimate": res.estimate, "std_error": nan,
                                     "df": nan, "p": res.p, "singular": False}
    # outcome: within-dyad coefficient
    try:
        if general:
            fit = fit_within_between(frame[["dyad", "session", "synchrony"]],
                                     frame[["dyad", "session", "outcome"]], "outcome")
            row = fit.coefficients.loc["synchrony_within"]
            out["outcome_within"] = {"estimate": float(row["estimate"]),
                                     "std_error": float(row["std_error"]),
                                     "df": float(row["df"]), "p": float(row["p"]),
                                     "singular": bool(fit.singular)}
        else:
            ybar = y.mean(axis=1, keepdims=True)
            X = np.column_stack([np.ones(D * S), (y - ybar).ravel(),
                                 np.repeat(ybar[:, 0], S), np.tile(sessions, D)])
            f = fit_reduced(InterceptProblem(X, m.ravel(), np.repeat(np.arange(D), S)),
                            ["(Intercept)", "synchrony_within", "synchrony_between",
                             "session"])
            out["outcome_within"] = {"estimate": float(f.estimate[1]),
                                     "std_error": float(f.std_error[1]),
                                     "df": float(f.df[1]), "p": float(f.p[1]),
                                     "singular": f.singular}
    except (ValueError, np.linalg.LinAlgError) as exc:  # pragma: no cover - defensive
        out["outcome_within"] = {"estimate": nan, "std_error": nan, "df": nan, "p": nan,
                                 "singular": False, "error": str(exc)}
    return out


# ---------------------------------------------------------------------------
# many studies
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Scenario:
    index: int
    name: str
    n_dyads: int
    n_sessions: int
    n_therapists: int
    effect: float
    outcome_effect: float
    time: str


def _run_chunk(args) -> list[dict]:
    """Tests of the studies ``seeds`` of one scenario (runs in a worker process)."""
    scen, model, seeds, n_permutations = args
    rows = []
    with single_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for ss in seeds:
            rng = as_generator(ss)
            sessions, therapist, y, m = draw_sessions(rng, scen.n_dyads, scen.n_sessions,
                                              scen.effect, scen.outcome_effect, 0.0,
                                              scen.n_therapists, None, scen.time, model)
            rows.append(study_tests(sessions, therapist, y, m, time=scen.time,
                                    n_permutations=n_permutations, rng=rng))
    return rows


def _as_list(value, name: str, kind=float) -> list:
    vals = list(np.atleast_1d(value))
    if not vals:
        raise ValueError(f"{name} needs at least one value")
    return [kind(v) for v in vals]


@dataclass
class PowerResult:
    """Output of :func:`power_analysis`.

    Attributes
    ----------
    table : pandas.DataFrame
        :data:`POWER_COLUMNS`, one row per scenario and test.
    studies : pandas.DataFrame
        One row per simulated study and test: ``scenario, study, test, estimate,
        std_error, df, p, singular``.
    settings : dict
        The arguments (and the :class:`SessionModel`) that produced them.
    """

    table: pd.DataFrame
    studies: pd.DataFrame
    settings: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The rejection rates: :attr:`table`.

        Returns
        -------
        pandas.DataFrame
        """
        return self.table

    def summary(self) -> str:
        """One line per scenario and test: the rejection rate and its 95% CI.

        Returns
        -------
        str
        """
        return "\n".join(f"{row.scenario}, {row.test}: {row.rate:.3f} "
                         f"[{row.ci_low:.3f}, {row.ci_high:.3f}] of {row.n_tested}"
                         for row in self.table.itertuples())

    def write(self, out_dir, *, plot: bool = True) -> dict[str, Path]:
        """Write ``power.csv``, ``power.parquet``, ``power_studies.parquet`` and
        (``plot``) ``power.png`` into ``out_dir``; returns their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"csv": out / "power.csv", "parquet": out / "power.parquet",
                 "studies": out / "power_studies.parquet"}
        self.table.to_csv(paths["csv"], index=False)
        self.table.to_parquet(paths["parquet"], index=False)
        self.studies.to_parquet(paths["studies"], index=False)
        if plot:
            paths["png"] = plot_power(self.table, out / "power.png")
        return paths


def power_analysis(n_dyads=8, n_sessions=6, effect=DEFAULT_EFFECT, *,
                   outcome_effect: float = DEFAULT_OUTCOME_EFFECT, null: bool = True,
                   n_studies: int = 1000, alpha: float = 0.05, seed: int = 0,
                   n_therapists: int = 1, time: str = "linear",
                   n_permutations: int = 0, model: SessionModel | None = None,
                   n_jobs: int = 1, progress=None) -> PowerResult:
    """Rejection rates of the growth and outcome tests over simulated studies.

    Scenarios are all combinations of ``n_dyads``, ``n_sessions`` and the effects:
    with ``null=True`` first the null scenario (no growth, no outcome association:
    the rates are false-positive rates), then one scenario per value of ``effect``
    (with ``outcome_effect``: the rates are powers).

    Parameters
    ----------
    n_dyads, n_sessions : int or sequence of int
        Design(s); each at least 3.
    effect : float or sequence of float
        Planted growth of synchrony per session (``time="linear"``) or per unit of
        log-session, synchrony units (default :data:`DEFAULT_EFFECT`).
    outcome_effect : float
        Planted within-dyad association (measure SDs per SD of synchrony's session
        noise) in the effect scenarios.
    null : bool
        Include the null scenario.
    n_studies : int
        Simulated studies per scenario.
    alpha : float
        Level of every test.
    seed : int
        Seed; study ``i`` of scenario ``k`` always gets the same data, whatever
        ``n_jobs``.
    n_therapists : int
        Therapists (> 1: crossed therapist random intercept, fitted with lmer; slow).
    time : str
        ``"linear"`` or ``"log"`` for simulation and growth model.
    n_permutations : int
        Permutations of the dyad-level slope test per study (0: not run).
    model : SessionModel, optional
    n_jobs : int
        Worker processes.
    progress : callable, optional
        Called as ``progress(scenario_name, done, total)`` after each scenario.

    Returns
    -------
    PowerResult
    """
    model = model or SessionModel()
    dyads = _as_list(n_dyads, "n_dyads", int)
    sessions = _as_list(n_sessions, "n_sessions", int)
    effects = [float(e) for e in np.atleast_1d(effect if effect is not None else [])]
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    n_studies = check_int(n_studies, "n_studies", minimum=1)
    check_time(time, SLOPE_TIMES)
    pairs = ([(0.0, 0.0)] if null else []) + [(e, float(outcome_effect)) for e in effects]
    pairs = list(dict.fromkeys(pairs))
    if not pairs:
        raise ValueError("no scenario: give at least one effect or null=True")
    scenarios = []
    for d in dyads:
        for s in sessions:
            check_design(d, s, n_therapists)
            for g, o in pairs:
                name = (f"{d} dyads x {s} sessions, "
                        + ("null" if g == 0 and o == 0 else f"effect {g:g}, outcome {o:g}"))
                scenarios.append(_Scenario(len(scenarios), name, d, s, n_therapists, g,
                                           o, time))
    root = np.random.SeedSequence(seed)
    scen_seeds = root.spawn(len(scenarios))
    rows, study_rows = [], []
    pool = ProcessPoolExecutor(n_jobs) if n_jobs and n_jobs > 1 else None
    try:
        for scen, ss in zip(scenarios, scen_seeds):
            t0 = _time.perf_counter()
            seeds = ss.spawn(n_studies)
            if pool is None:
                results = _run_chunk((scen, model, seeds, n_permutations))
            else:
                chunks = np.array_split(np.arange(n_studies), n_jobs * 4)
                jobs = [(scen, model, [seeds[i] for i in c], n_permutations)
                        for c in chunks if len(c)]
                results = [r for part in pool.map(_run_chunk, jobs) for r in part]
            seconds = _time.perf_counter() - t0
            rows.extend(_summarise(scen, results, alpha, seconds, model))
            for i, res in enumerate(results):
                for test, vals in res.items():
                    study_rows.append({"scenario": scen.index, "study": i, "test": test,
                                       **{k: vals[k] for k in ("estimate", "std_error",
                                                               "df", "p", "singular")}})
            if progress is not None:
                progress(scen.name, scen.index + 1, len(scenarios))
    finally:
        if pool is not None:
            pool.shutdown()
    table = pd.DataFrame(rows, columns=POWER_COLUMNS)
    studies = pd.DataFrame(study_rows)
    settings = {"n_dyads": dyads, "n_sessions": sessions, "effect": effects,
                "outcome_effect": float(outcome_effect), "null": null,
                "n_studies": n_studies, "alpha": alpha, "seed": seed,
                "n_therapists": n_therapists, "time": time,
                "n_permutations": n_permutations, "model": asdict(model)}
    return PowerResult(table=table, studies=studies, settings=settings)


def _summarise(scen: _Scenario, results: list[dict], alpha: float, seconds: float,
               model: SessionModel) -> list[dict]:
    rows = []
    gw = scen.outcome_effect * model.measure_sd / model.residual_sd
    planted = {"growth": scen.effect, "growth_permutation": scen.effect,
               "outcome_within": gw}
    for test in TESTS:
        vals = [r[test] for r in results if test in r]
        if not vals:
            continue
        p = np.array([v["p"] for v in vals], dtype=float)
        est = np.array([v["estimate"] for v in vals], dtype=float)
        se = np.array([v["std_error"] for v in vals], dtype=float)
        ok = np.isfinite(p)
        k, n = int((p[ok] < alpha).sum()), int(ok.sum())
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson") if n else \
            (np.nan, np.nan)
        cover = [_ci_covers(v["estimate"], v["std_error"], v["df"], planted[test])
                 for v in vals if math.isfinite(v["std_error"])]
        rows.append({
            "scenario": scen.name, "n_dyads": scen.n_dyads,
            "n_sessions": scen.n_sessions, "n_therapists": scen.n_therapists,
            "effect": scen.effect, "outcome_effect": scen.outcome_effect,
            "time": scen.time, "test": test, "planted": planted[test], "alpha": alpha,
            "n_studies": len(results), "n_tested": n, "rejections": k,
            "rate": k / n if n else np.nan, "ci_low": float(lo), "ci_high": float(hi),
            "mean_estimate": float(np.nanmean(est)) if n else np.nan,
            "sd_estimate": float(np.nanstd(est, ddof=1)) if n > 1 else np.nan,
            "mean_std_error": float(np.nanmean(se)) if np.isfinite(se).any() else np.nan,
            "coverage": float(np.mean(cover)) if cover else np.nan,
            "n_singular": (int(sum(bool(v["singular"]) for v in vals))
                           if test != "growth_permutation" else np.nan),
            "seconds": seconds})
    return rows
