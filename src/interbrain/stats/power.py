"""Simulation-based calibration and power of the growth, plasticity and outcome tests.

Studies are simulated with every pairing of recordings
(:mod:`interbrain.stats.pairing_simulation`: person and recording effects, real
coupling with dyad-specific growth, an outcome measure whose within-dyad association
with synchrony varies between dyads), about a millisecond per study, and every
simulated study is analysed with the models an analysis run fits:

Tests (:func:`study_tests`), each at level ``alpha``
    ``growth``: the slope of ``synchrony ~ session + (1 + session | dyad)`` on the
    real dyads (plus ``(1 | therapist)`` with several therapists), REML,
    :func:`~interbrain.stats.growth.fit_growth`;
    ``growth_permutation``: the dyad-level session-shuffle test
    (:func:`~interbrain.stats.permutation.slope_permutation_test`), when
    ``n_permutations > 0``;
    ``outcome_within``: the ``synchrony_within`` coefficient of the outcome ladder
    (:func:`~interbrain.stats.outcomes.fit_within_between`: random slope of
    ``synchrony_within`` -> uncorrelated -> OLS with CR2 cluster-robust errors);
    ``plasticity``: growth of real minus pseudo-dyad synchrony
    (:func:`~interbrain.stats.plasticity.plasticity_test`, model p) and
    ``plasticity_permutation`` its dyad-level sign-flip p (the confirmatory one),
    when ``n_permutations > 0``. The growth model of a complete design with one therapist and Satterthwaite
    df is fitted through the exact reduced problem of :mod:`interbrain.stats.fast`
    (the same numbers as ``fit_growth``, ~10x faster); everything else through the
    package's own functions (:func:`~interbrain.stats.simulated_tests.run_tests`).

Assumptions
    The planted growth ``effect`` is the growth of the real coupling per session (no
    session-locked confound: real synchrony grows by the same amount). The
    within-dyad outcome effect varies between dyads with SD ``outcome_effect_sd``
    (default :data:`DEFAULT_OUTCOME_EFFECT_SD`, standardised units as
    ``outcome_effect``): an assumption, not an estimate; with SD 0 the power is that
    of identical dyads, which psychotherapy dyads are not.

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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from .._check import as_generator, check_int
from ..nulls.dyad_tests import confidence_interval
from .fast import BalancedSlopeProblem, fit_reduced
from .mixed import single_blas_thread
from .pairing_simulation import PairingModel, PairingStudy, draw_pairings, pairing_frames
from .permutation import slope_permutation_test
from .power_plot import plot_power
from .session_simulation import SessionModel, check_design
from .simulated_tests import run_tests
from .time_codings import SLOPE_TIMES, TIME_CODINGS, check_time, time_values

__all__ = ["DEFAULT_EFFECT", "DEFAULT_OUTCOME_EFFECT", "DEFAULT_OUTCOME_EFFECT_SD",
           "TESTS", "study_tests", "power_analysis", "pairing_model", "PowerResult",
           "POWER_COLUMNS", "SessionModel", "PairingModel"]

#: Default growth of synchrony per session (WTC coherence units): an assumption.
DEFAULT_EFFECT = 0.01
#: Default within-dyad outcome effect (measure SDs per SD of session noise).
DEFAULT_OUTCOME_EFFECT = 0.3
#: Default SD across dyads of the within-dyad outcome effect: an assumption.
DEFAULT_OUTCOME_EFFECT_SD = 0.3
TESTS = ("growth", "growth_permutation", "outcome_within", "plasticity",
         "plasticity_permutation")
POWER_COLUMNS = ["scenario", "n_dyads", "n_sessions", "n_therapists", "effect",
                 "outcome_effect", "time", "test", "planted", "alpha", "n_studies",
                 "n_tested", "rejections", "rate", "ci_low", "ci_high", "mean_estimate",
                 "sd_estimate", "mean_std_error", "coverage", "n_singular", "seconds"]
_NAN = float("nan")


def pairing_model(model: SessionModel | PairingModel | None = None, *,
                  outcome_effect_sd: float | None = None) -> PairingModel:
    """The :class:`PairingModel` a power analysis simulates.

    A :class:`SessionModel` (the variance components of real-dyad synchrony) maps
    onto it: ``intercept``, ``slope_sd``, ``residual_sd``, ``therapist_sd``, the
    measure's SDs and ``outcome_effect_sd`` keep their meaning, ``intercept_sd``
    becomes the SD of the dyads' real coupling (``coupling_sd``); person and
    recording effects of the pairings keep :class:`PairingModel`'s defaults.
    ``outcome_effect_sd``, when given, replaces the model's.

    Raises
    ------
    ValueError
        For a :class:`SessionModel` with ``intercept_slope_corr != 0`` (not simulated
        with pairings).
    """
    if model is None:
        model = PairingModel()
    elif isinstance(model, SessionModel):
        if model.intercept_slope_corr != 0:
            raise ValueError("the power simulation with pairings has no intercept-slope "
                             "correlation; use intercept_slope_corr=0")
        model = PairingModel(intercept=model.intercept, coupling_sd=model.intercept_sd,
                             slope_sd=model.slope_sd, residual_sd=model.residual_sd,
                             therapist_sd=model.therapist_sd,
                             measure_dyad_sd=model.measure_dyad_sd,
                             measure_sd=model.measure_sd,
                             outcome_effect_sd=model.outcome_effect_sd)
    elif not isinstance(model, PairingModel):
        raise ValueError(f"model must be a PairingModel or SessionModel, got "
                         f"{type(model).__name__}")
    if outcome_effect_sd is not None:
        model = replace(model, outcome_effect_sd=float(outcome_effect_sd))
    return model


# ---------------------------------------------------------------------------
# the tests of one simulated study
# ---------------------------------------------------------------------------

def _ci_covers(est: float, se: float, df: float, planted: float, level: float = 0.95
               ) -> bool:
    if not (math.isfinite(est) and math.isfinite(se)):
        return False
    low, high = confidence_interval(est, se, df, level)
    return bool(low <= planted <= high)


def _fast_growth(y: np.ndarray, x: np.ndarray, term: str) -> dict:
    Xs = np.column_stack([np.ones(y.shape[1]), x])
    f = fit_reduced(BalancedSlopeProblem(Xs, y), ["(Intercept)", term])
    return {"estimate": float(f.estimate[1]), "std_error": float(f.std_error[1]),
            "df": float(f.df[1]), "p": float(f.p[1]), "singular": f.singular}


def study_tests(arrays: dict, *, time: str = "linear", n_permutations: int = 0,
                rng: np.random.Generator | None = None, general: bool = False,
                tests=TESTS, df_method: str = "satterthwaite") -> dict[str, dict]:
    """The growth, outcome and plasticity tests of one study.

    Parameters
    ----------
    arrays : dict
        One study as :func:`~interbrain.stats.pairing_simulation.draw_pairings`
        returns it.
    time : str
        Time coding of the growth and plasticity models and the permutation test.
    n_permutations : int
        Permutations of the slope test and the plasticity test (0: neither
        permutation test is run; the plasticity model p is).
    rng : numpy.random.Generator, optional
        For the permutation tests.
    general : bool
        Fit growth with :func:`~interbrain.stats.growth.fit_growth` even when the
        fast reduced problem applies (used to check that both agree).
    tests : sequence of str
        Names of :data:`TESTS` to run.
    df_method : {"satterthwaite", "kenward-roger"}
        Degrees of freedom of every mixed model (the fast path is Satterthwaite's).

    Returns
    -------
    dict
        Test name -> ``estimate, std_error, df, p, singular`` (NaN/False where the
        test has no such quantity or failed).
    """
    check_time(time, SLOPE_TIMES)
    rng = rng if rng is not None else np.random.default_rng(0)
    term = TIME_CODINGS[time].slope_term
    out: dict[str, dict] = {}
    several = len(np.unique(arrays["therapist"])) > 1
    fast = (bool(arrays["scanned"].all()) and not several and not general
            and df_method == "satterthwaite")
    if set(tests) - {"growth"} or not fast:
        pairings, sessions, measures = pairing_frames(arrays, familiarity=False)
        study = PairingStudy(pairings, sessions, measures, arrays["scanned"])
    if "growth" in tests:
        if fast:
            try:
                D = arrays["Y"].shape[1]
                y = arrays["Y"][:, np.arange(D), np.arange(D)].T
                out["growth"] = _fast_growth(y, time_values(arrays["sessions"], time), term)
            except (ValueError, np.linalg.LinAlgError) as exc:  # pragma: no cover
                out["growth"] = {"estimate": _NAN, "std_error": _NAN, "df": _NAN,
                                 "p": _NAN, "singular": False, "error": str(exc)}
        else:
            out["growth"] = run_tests(study, ("growth",), time=time,
                                      df_method=df_method)["growth"]
    if n_permutations and "growth_permutation" in tests:
        res = slope_permutation_test(sessions, time=time, n_permutations=n_permutations,
                                     seed=rng,
                                     therapist="therapist" if several else None)
        out["growth_permutation"] = {"estimate": res.estimate, "std_error": _NAN,
                                     "df": _NAN, "p": res.p, "singular": False}
    rest = [name for name, on in (("outcome_ladder", "outcome_within" in tests),
                                  ("plasticity", "plasticity" in tests),
                                  ("plasticity_permutation",
                                   n_permutations and "plasticity_permutation" in tests))
            if on]
    if rest:
        res = run_tests(study, rest, time=time, df_method=df_method,
                        n_permutations=max(99, n_permutations),
                        seed=int(rng.integers(2 ** 32)))
        for name, vals in res.items():
            out["outcome_within" if name == "outcome_ladder" else name] = vals
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
    n_scanned: int | None = None


def _run_chunk(args) -> list[dict]:
    """Tests of the studies ``seeds`` of one scenario (runs in a worker process)."""
    scen, model, seeds, n_permutations, tests, df_method = args
    rows = []
    with single_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for ss in seeds:
            rng = as_generator(ss)
            arrays = draw_pairings(rng, scen.n_dyads, scen.n_sessions, effect=scen.effect,
                                   outcome_effect=scen.outcome_effect,
                                   n_therapists=scen.n_therapists, time=scen.time,
                                   model=model, n_scanned=scen.n_scanned)
            rows.append(study_tests(arrays, time=scen.time, n_permutations=n_permutations,
                                    rng=rng, tests=tests, df_method=df_method))
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
                   outcome_effect: float = DEFAULT_OUTCOME_EFFECT,
                   outcome_effect_sd: float | None = DEFAULT_OUTCOME_EFFECT_SD,
                   null: bool = True, n_studies: int = 1000, alpha: float = 0.05,
                   seed: int = 0, n_therapists: int = 1, time: str = "linear",
                   n_permutations: int = 0, n_scanned: int | None = None,
                   tests=TESTS, df_method: str = "satterthwaite",
                   model: SessionModel | PairingModel | None = None,
                   n_jobs: int = 1, progress=None) -> PowerResult:
    """Rejection rates of the growth, outcome and plasticity tests over simulated studies.

    Scenarios are all combinations of ``n_dyads``, ``n_sessions`` and the effects:
    with ``null=True`` first the null scenario (no growth, no outcome association:
    the rates are false-positive rates), then one scenario per value of ``effect``
    (with ``outcome_effect``: the rates are powers).

    Parameters
    ----------
    n_dyads, n_sessions : int or sequence of int
        Design(s); each at least 3.
    effect : float or sequence of float
        Planted growth of the real coupling (and so of real synchrony) per session
        (``time="linear"``) or per unit of log-session, synchrony units (default
        :data:`DEFAULT_EFFECT`).
    outcome_effect : float
        Planted mean within-dyad association (measure SDs per SD of synchrony's
        session noise) in the effect scenarios.
    outcome_effect_sd : float or None
        SD across dyads of the within-dyad association, same units (default
        :data:`DEFAULT_OUTCOME_EFFECT_SD`, an assumption; it applies to the null
        scenario too, whose mean effect is 0); None keeps the model's.
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
        ``"linear"`` or ``"log"`` for simulation, growth and plasticity models.
    n_permutations : int
        Permutations of the dyad-level slope test and of the plasticity test per study
        (0: neither is run; the plasticity test uses at least 99).
    n_scanned : int, optional
        Sparse scanning: dyad-sessions kept per study (at least 2 per dyad).
    tests : sequence of str
        Names of :data:`TESTS` to run (the permutation tests need
        ``n_permutations > 0``).
    df_method : {"satterthwaite", "kenward-roger"}
        Degrees of freedom of the mixed models.
    model : PairingModel or SessionModel, optional
        Variance components (:func:`pairing_model`).
    n_jobs : int
        Worker processes.
    progress : callable, optional
        Called as ``progress(scenario_name, done, total)`` after each scenario.

    Returns
    -------
    PowerResult
    """
    model = pairing_model(model, outcome_effect_sd=outcome_effect_sd)
    dyads = _as_list(n_dyads, "n_dyads", int)
    sessions = _as_list(n_sessions, "n_sessions", int)
    effects = [float(e) for e in np.atleast_1d(effect if effect is not None else [])]
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    n_studies = check_int(n_studies, "n_studies", minimum=1)
    check_time(time, SLOPE_TIMES)
    tests = tuple(tests)
    unknown = [t for t in tests if t not in TESTS]
    if unknown or not tests:
        raise ValueError(f"tests must name some of {list(TESTS)}, got {list(tests)}")
    pairs = ([(0.0, 0.0)] if null else []) + [(e, float(outcome_effect)) for e in effects]
    pairs = list(dict.fromkeys(pairs))
    if not pairs:
        raise ValueError("no scenario: give at least one effect or null=True")
    scenarios = []
    for d in dyads:
        for s in sessions:
            check_design(d, s, n_therapists)
            if n_scanned is not None:
                check_int(n_scanned, "n_scanned (at least 2 sessions per dyad)",
                          minimum=2 * d, maximum=d * s)
            for g, o in pairs:
                name = (f"{d} dyads x {s} sessions, "
                        + (f"{n_scanned} scanned, " if n_scanned is not None else "")
                        + ("null" if g == 0 and o == 0 else f"effect {g:g}, outcome {o:g}"))
                scenarios.append(_Scenario(len(scenarios), name, d, s, n_therapists, g,
                                           o, time, n_scanned))
    root = np.random.SeedSequence(seed)
    scen_seeds = root.spawn(len(scenarios))
    rows, study_rows = [], []
    pool = ProcessPoolExecutor(n_jobs) if n_jobs and n_jobs > 1 else None
    try:
        for scen, ss in zip(scenarios, scen_seeds):
            t0 = _time.perf_counter()
            seeds = ss.spawn(n_studies)
            extra = (n_permutations, tests, df_method)
            if pool is None:
                results = _run_chunk((scen, model, seeds, *extra))
            else:
                chunks = np.array_split(np.arange(n_studies), n_jobs * 4)
                jobs = [(scen, model, [seeds[i] for i in c], *extra)
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
                "n_permutations": n_permutations, "n_scanned": n_scanned,
                "tests": list(tests), "df_method": df_method, "model": asdict(model)}
    return PowerResult(table=table, studies=studies, settings=settings)


def _summarise(scen: _Scenario, results: list[dict], alpha: float, seconds: float,
               model: PairingModel) -> list[dict]:
    rows = []
    gw = scen.outcome_effect * model.measure_sd / model.residual_sd
    planted = {"growth": scen.effect, "growth_permutation": scen.effect,
               "outcome_within": gw, "plasticity": scen.effect,
               "plasticity_permutation": scen.effect}
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
                 for v in vals if math.isfinite(v["std_error"])
                 and test != "plasticity_permutation"]
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
