"""Simulation-based calibration and power of the growth and outcome tests.

Studies are simulated at the level of session synchrony (one value per dyad and
session; no recordings, no wavelets), which takes microseconds, and every simulated
study is analysed with the package's own models:

Synchrony (:func:`simulate_sessions`)
    ``y[d, s] = intercept + u_d + v_t(d) + (effect + c_d + w_d) * time(s) + e[d, s]``
    with ``time(s) = session - 1`` (``time="linear"``) or ``log(session)``
    (``"log"``), dyad random intercept ``u_d ~ N(0, intercept_sd^2)`` and random
    slope ``w_d ~ N(0, slope_sd^2)`` (correlation ``intercept_slope_corr``), a
    therapist random intercept ``v_t ~ N(0, therapist_sd^2)`` (dyads are assigned
    to ``n_therapists`` therapists in turn), ``c_d = condition_effect`` for the dyads
    in the ``"therapy"`` condition (every second dyad; only when
    ``condition_effect`` is given) and session noise ``e ~ N(0, residual_sd^2)``.
    ``effect`` is the mean growth of synchrony per session (per unit of
    ``log(session)``), in synchrony units.

Outcome measure
    ``m[d, s] = a_d + gamma_w (y[d, s] - ybar_d) + gamma_b (ybar_d - intercept) +
    eps[d, s]``, ``a_d ~ N(0, measure_dyad_sd^2)``, ``eps ~ N(0, measure_sd^2)``.
    The within-dyad effect is given standardised: ``outcome_effect`` measure SDs
    (``measure_sd``) per session-noise SD of synchrony (``residual_sd``), so
    ``gamma_w = outcome_effect * measure_sd / residual_sd`` (measure units per unit
    synchrony); ``between_effect`` likewise gives ``gamma_b``.

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
    faster); with several therapists through :func:`~interbrain.stats.lmer.lmer`.

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
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from .fast import BalancedSlopeProblem, InterceptProblem, fit_reduced
from .lmer import _single_blas_thread

__all__ = ["SessionModel", "DEFAULT_EFFECT", "DEFAULT_OUTCOME_EFFECT", "TESTS",
           "simulate_sessions", "study_tests", "power_analysis", "PowerResult",
           "plot_power", "POWER_COLUMNS"]

#: Default growth of synchrony per session (WTC coherence units): an assumption.
DEFAULT_EFFECT = 0.01
#: Default within-dyad outcome effect (measure SDs per SD of session noise).
DEFAULT_OUTCOME_EFFECT = 0.3
TESTS = ("growth", "growth_permutation", "outcome_within")
TIMES = ("linear", "log")
POWER_COLUMNS = ["scenario", "n_dyads", "n_sessions", "n_therapists", "effect",
                 "outcome_effect", "time", "test", "planted", "alpha", "n_studies",
                 "n_tested", "rejections", "rate", "ci_low", "ci_high", "mean_estimate",
                 "sd_estimate", "mean_std_error", "coverage", "n_singular", "seconds"]


@dataclass(frozen=True)
class SessionModel:
    """Variance components of simulated session-level synchrony and measure.

    Synchrony units are those of the metric (e.g. WTC coherence, 0-1); the defaults
    are plausible values for session-mean wavelet coherence, not estimates.

    The growth test's calibration depends on the random-slope SD: at 8 dyads x 6
    sessions and 2,000 null studies its false-positive rate at alpha = 0.05 was
    0.026 (``slope_sd = 0``), 0.034 (0.005), 0.044 (0.01, the default) and 0.047
    (0.02); the test is conservative when the dyads' slopes hardly differ (many
    singular fits), as expected of the maximal random-slope model.

    Attributes
    ----------
    intercept : float
        Mean synchrony at the first session.
    intercept_sd, slope_sd : float
        SD of the dyads' random intercepts and random slopes (per session).
    intercept_slope_corr : float
        Their correlation, in (-1, 1).
    residual_sd : float
        SD of the session-to-session noise of synchrony.
    therapist_sd : float
        SD of the therapists' random intercepts (used with several therapists).
    measure_dyad_sd, measure_sd : float
        SD of the measure's dyad intercepts and of its session noise.
    """

    intercept: float = 0.35
    intercept_sd: float = 0.04
    slope_sd: float = 0.01
    intercept_slope_corr: float = 0.0
    residual_sd: float = 0.03
    therapist_sd: float = 0.02
    measure_dyad_sd: float = 1.0
    measure_sd: float = 1.0

    def __post_init__(self):
        for name in ("intercept_sd", "slope_sd", "therapist_sd", "measure_dyad_sd"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("residual_sd", "measure_sd"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not -1 < self.intercept_slope_corr < 1:
            raise ValueError("intercept_slope_corr must lie in (-1, 1), got "
                             f"{self.intercept_slope_corr}")


def _time_of(sessions: np.ndarray, time: str) -> np.ndarray:
    if time not in TIMES:
        raise ValueError(f"unknown time coding {time!r}; use one of {list(TIMES)}")
    s = np.asarray(sessions, dtype=float)
    return s - 1.0 if time == "linear" else np.log(s)


def _check_design(n_dyads: int, n_sessions: int, n_therapists: int) -> None:
    if int(n_dyads) != n_dyads or n_dyads < 3:
        raise ValueError(f"n_dyads must be an integer >= 3, got {n_dyads}")
    if int(n_sessions) != n_sessions or n_sessions < 3:
        raise ValueError(f"n_sessions must be an integer >= 3 (a random slope per dyad "
                         f"needs more sessions than 2), got {n_sessions}")
    if int(n_therapists) != n_therapists or not 1 <= n_therapists <= n_dyads:
        raise ValueError(f"n_therapists must be an integer in [1, n_dyads], got "
                         f"{n_therapists}")


def _draw(rng: np.random.Generator, n_dyads: int, n_sessions: int, effect: float,
          outcome_effect: float, between_effect: float, n_therapists: int,
          condition_effect: float | None, time: str, model: SessionModel
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(sessions (S,), therapist index (D,), synchrony (D, S), measure (D, S))."""
    D, S = n_dyads, n_sessions
    sessions = np.arange(1, S + 1)
    x = _time_of(sessions, time)
    r = model.intercept_slope_corr
    z = rng.standard_normal((D, 2))
    u = model.intercept_sd * z[:, 0]
    w = model.slope_sd * (r * z[:, 0] + math.sqrt(1.0 - r * r) * z[:, 1])
    therapist = np.arange(D) % n_therapists
    v = (model.therapist_sd * rng.standard_normal(n_therapists))[therapist] \
        if n_therapists > 1 else np.zeros(D)
    slope = effect + w
    if condition_effect is not None:
        slope = slope + condition_effect * (np.arange(D) % 2 == 1)
    y = (model.intercept + u + v)[:, None] + slope[:, None] * x[None, :] \
        + model.residual_sd * rng.standard_normal((D, S))
    ybar = y.mean(axis=1, keepdims=True)
    gw = outcome_effect * model.measure_sd / model.residual_sd
    gb = between_effect * model.measure_sd / model.residual_sd
    m = (model.measure_dyad_sd * rng.standard_normal((D, 1)) + gw * (y - ybar)
         + gb * (ybar - model.intercept) + model.measure_sd * rng.standard_normal((D, S)))
    return sessions, therapist, y, m


def simulate_sessions(n_dyads: int = 8, n_sessions: int = 6, *, effect: float = 0.0,
                      outcome_effect: float = 0.0, between_effect: float = 0.0,
                      n_therapists: int = 1, condition_effect: float | None = None,
                      time: str = "linear", model: SessionModel | None = None,
                      measure: str = "outcome", seed=None) -> pd.DataFrame:
    """One simulated study at the level of session synchrony (see the module notes).

    Parameters
    ----------
    n_dyads, n_sessions : int
        Design: every dyad has sessions ``1 .. n_sessions``.
    effect : float
        Mean growth of synchrony per session (``time="linear"``) or per unit of
        ``log(session)`` (``"log"``), synchrony units.
    outcome_effect, between_effect : float
        Within- and between-dyad association of the measure with synchrony,
        standardised (measure SDs per SD of synchrony's session noise).
    n_therapists : int
        Therapists; dyad ``i`` is treated by therapist ``i mod n_therapists``.
    condition_effect : float, optional
        Adds a ``condition`` column (``"control"`` for even, ``"therapy"`` for odd
        dyads) and this extra growth per session in the therapy condition.
    time : str
        ``"linear"`` or ``"log"``.
    model : SessionModel, optional
        Variance components (defaults of :class:`SessionModel`).
    measure : str
        Name of the measure column.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    pandas.DataFrame
        ``n_dyads * n_sessions`` rows: ``dyad`` (``"D01"`` ...), ``session`` (int),
        ``therapist`` (``"T1"`` ...), ``synchrony``, the measure, and ``condition``
        when ``condition_effect`` is given.
    """
    model = model or SessionModel()
    _check_design(n_dyads, n_sessions, n_therapists)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    sessions, therapist, y, m = _draw(rng, n_dyads, n_sessions, effect, outcome_effect,
                                      between_effect, n_therapists, condition_effect,
                                      time, model)
    width = len(str(n_dyads))
    dyads = np.array([f"D{i + 1:0{max(2, width)}d}" for i in range(n_dyads)])
    out = pd.DataFrame({
        "dyad": np.repeat(dyads, n_sessions),
        "session": np.tile(sessions, n_dyads),
        "therapist": np.repeat([f"T{t + 1}" for t in therapist], n_sessions),
        "synchrony": y.ravel(), measure: m.ravel()})
    if condition_effect is not None:
        out["condition"] = np.repeat(np.where(np.arange(n_dyads) % 2 == 1, "therapy",
                                              "control"), n_sessions)
    return out


# ---------------------------------------------------------------------------
# the tests of one simulated study
# ---------------------------------------------------------------------------

def _ci_covers(est: float, se: float, df: float, planted: float, level: float = 0.95
               ) -> bool:
    if not (math.isfinite(est) and math.isfinite(se)):
        return False
    q = sps.t.ppf(0.5 + level / 2, df) if math.isfinite(df) else \
        sps.norm.ppf(0.5 + level / 2)
    return bool(abs(est - planted) <= q * se)


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
        Fit with :func:`~interbrain.stats.lmer.lmer` from data frames even when the
        fast reduced problems apply (used to check that both agree).

    Returns
    -------
    dict
        Test name -> ``estimate, std_error, df, p, singular`` (NaN/False where the
        test has no such quantity or failed).
    """
    D, S = y.shape
    x = _time_of(sessions, time) + (1.0 if time == "linear" else 0.0)  # session / log
    term = "session" if time == "linear" else "np.log(session)"
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
            from .growth import fit_growth
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
        from .permutation import slope_permutation_test
        res = slope_permutation_test(frame, time=time, n_permutations=n_permutations,
                                     seed=rng)
        out["growth_permutation"] = {"estimate": res.estimate, "std_error": nan,
                                     "df": nan, "p": res.p, "singular": False}
    # outcome: within-dyad coefficient
    try:
        if general:
            from .outcomes import fit_within_between
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
    with _single_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for ss in seeds:
            rng = np.random.default_rng(ss)
            sessions, therapist, y, m = _draw(rng, scen.n_dyads, scen.n_sessions,
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
    n_studies = int(n_studies)
    if n_studies < 1:
        raise ValueError(f"n_studies must be at least 1, got {n_studies}")
    if time not in TIMES:
        raise ValueError(f"unknown time coding {time!r}; use one of {list(TIMES)}")
    pairs = ([(0.0, 0.0)] if null else []) + [(e, float(outcome_effect)) for e in effects]
    pairs = list(dict.fromkeys(pairs))
    if not pairs:
        raise ValueError("no scenario: give at least one effect or null=True")
    scenarios = []
    for d in dyads:
        for s in sessions:
            _check_design(d, s, n_therapists)
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


# ---------------------------------------------------------------------------
# figure
# ---------------------------------------------------------------------------

_TEST_LABELS = {"growth": "growth (lmer, Satterthwaite)",
                "growth_permutation": "growth (dyad permutation)",
                "outcome_within": "outcome, within-dyad (lmer)"}


def plot_power(table: pd.DataFrame, path) -> Path:
    """Rejection rate with Monte Carlo 95% CIs against the design, as a PNG.

    The x axis is the number of dyads (or of sessions, or the effect, whichever
    varies); one panel for the null scenario (false-positive rates, with ``alpha``
    marked) and one for the effect scenarios (power), one line per test and effect.
    """
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    t = table.copy()
    t["is_null"] = (t["effect"] == 0) & (t["outcome_effect"] == 0)
    xcol = next((c for c in ("n_dyads", "n_sessions") if t[c].nunique() > 1),
                "n_dyads")
    panels = [(True, "No effect: false-positive rate"), (False, "Planted effect: power")]
    panels = [pp for pp in panels if (t["is_null"] == pp[0]).any()]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2),
                             squeeze=False)
    alpha = float(t["alpha"].iloc[0]) if len(t) else 0.05
    for ax, (is_null, title) in zip(axes[0], panels):
        sub = t[t["is_null"] == is_null]
        for (test, eff, oeff, other), grp in sub.groupby(
                ["test", "effect", "outcome_effect",
                 "n_sessions" if xcol == "n_dyads" else "n_dyads"], sort=False):
            grp = grp.sort_values(xcol)
            label = _TEST_LABELS.get(test, test)
            if not is_null:
                label += (f", effect {oeff:g}" if test == "outcome_within"
                          else f", effect {eff:g}")
            label += f" ({other} {'sessions' if xcol == 'n_dyads' else 'dyads'})"
            yerr = np.vstack([grp["rate"] - grp["ci_low"], grp["ci_high"] - grp["rate"]])
            ax.errorbar(grp[xcol], grp["rate"], yerr=yerr, marker="o", capsize=3,
                        label=label)
        ax.axhline(alpha, color="grey", ls="--", lw=1, label=f"alpha = {alpha:g}")
        if not is_null:
            ax.axhline(0.8, color="grey", ls=":", lw=1, label="0.8")
        ax.set_ylim(0, 1.0 if not is_null else max(0.2, float(sub["ci_high"].max())
                                                   + 0.02))
        ax.set_xticks(sorted(t[xcol].unique()))
        ax.set_xlabel("dyads" if xcol == "n_dyads" else "sessions per dyad")
        ax.set_ylabel("rejection rate")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    n = int(t["n_studies"].max()) if len(t) else 0
    fig.suptitle(f"Simulation-based calibration and power ({n} studies per point, "
                 "95% Monte Carlo CIs)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
