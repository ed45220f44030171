"""The dyads a study needs for a target power of the plasticity test.

Standardised effect ``d`` (:func:`effect_from_d`)
    The plasticity effect is the growth of the real coupling (real minus pseudo-dyad
    synchrony) per unit of time. Hyperscanning studies report standardised effects
    around d = 0.2-0.3; here ``d`` is the **total growth over the treatment (first to
    last session) in SDs of real dyad-session synchrony**::

        effect = d * sd_sync / (x_S - x_1)
        sd_sync = sqrt(patient_sd^2 + 2 recording_sd^2 + coupling_sd^2 + residual_sd^2
                       [+ therapist_sd^2 with several therapists])

    ``x`` the simulation's time (``session - 1`` or ``log(session)``), ``sd_sync``
    the SD across dyads of real synchrony at one session number under
    :class:`~interbrain.stats.pairing_simulation.PairingModel` (the variance of
    every random effect of a real pairing except the session-number effect, which
    all dyads share, and the dyads' slopes, which are 0 at the first session). With
    the defaults and 6 sessions, d = 0.3 is a growth of 0.0033 per session.

Search (:func:`dyads_for_power`)
    The power at ``n`` dyads is the rejection rate of the test over ``n_studies``
    simulated studies (seeded by ``(seed, n)``, so a point is reproducible). The
    number of dyads is doubled from ``start`` until the power reaches the target
    (or ``max_dyads``), then bisected between the last ``n`` below the target and
    the first at or above it, until the bracket is at most 5 % of ``n`` wide
    (``precision``; 0: down to neighbours): the answer is the bracket's upper end,
    the smallest evaluated ``n`` with power >= target above an evaluated ``n`` below
    it, reported with the Monte Carlo (Wilson) 95 % interval of its power. Power need
    not be monotone in ``n`` by Monte Carlo error; the table of every evaluated
    point shows how close the answer is (use more studies where the interval
    straddles the target).

Fast exact path
    With every dyad-session scanned, one therapist and Satterthwaite df, the
    plasticity test is computed from the simulated arrays directly: each
    dyad-session's excess is real synchrony minus the mean of the ``2 (n - 1)``
    pseudo-dyads sharing a recording with it (:mod:`~interbrain.stats.excess`), the
    model ``excess ~ time + (1 + time | dyad)`` by the exact reduced REML fit of
    :mod:`~interbrain.stats.fast` and the sign-flip test of the dyads' OLS slopes
    (:func:`~interbrain.nulls.dyad_tests.sign_flip_test`, the same random numbers as
    :func:`~interbrain.stats.power.study_tests`): the same numbers as
    :func:`~interbrain.stats.plasticity.plasticity_test` (tested), fast enough for
    hundreds of dyads. Other designs go through
    :func:`~interbrain.stats.power.study_tests`.
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from .._check import as_generator, check_int
from ..nulls.dyad_tests import sign_flip_test
from .fast import BalancedSlopeProblem, fit_reduced
from .mixed import single_blas_thread
from .pairing_simulation import PairingModel, draw_pairings
from .power import study_tests
from .session_simulation import check_design, simulated_time
from .time_codings import SLOPE_TIMES, TIME_CODINGS, check_time, time_values

__all__ = ["FIELD_EFFECT_SIZES", "SEARCH_TESTS", "SEARCH_COLUMNS", "synchrony_sd",
           "effect_from_d", "d_from_effect", "fast_plasticity", "plasticity_power",
           "dyads_for_power", "DyadSearch", "DyadSearches", "dyads_for_their_effects",
           "describe_d"]

#: Standardised effects typical of hyperscanning studies (the field's d = 0.2-0.3).
FIELD_EFFECT_SIZES = (0.2, 0.3)
#: Tests a dyad search can target.
SEARCH_TESTS = ("plasticity_permutation", "plasticity")
#: Columns of :attr:`DyadSearch.table` (one row per evaluated number of dyads).
SEARCH_COLUMNS = ["d", "effect", "n_dyads", "n_sessions", "test", "target", "n_tested",
                  "rejections", "power", "ci_low", "ci_high", "reached"]


def synchrony_sd(model: PairingModel, n_therapists: int = 1) -> float:
    """SD across dyads of real synchrony at one session number (see the module notes).

    Parameters
    ----------
    model : PairingModel
    n_therapists : int
        With more than one, the therapists' effects vary between dyads and count.

    Returns
    -------
    float
        Synchrony units.
    """
    var = (model.patient_sd ** 2 + 2 * model.recording_sd ** 2 + model.coupling_sd ** 2
           + model.residual_sd ** 2 + (model.therapist_sd ** 2 if n_therapists > 1 else 0))
    return math.sqrt(var)


def _span(n_sessions: int, time: str) -> float:
    x = simulated_time(np.array([1.0, float(n_sessions)]), check_time(time, SLOPE_TIMES))
    return float(x[1] - x[0])


def effect_from_d(d: float, model: PairingModel, n_sessions: int, time: str = "linear",
                  n_therapists: int = 1) -> float:
    """Growth of the real coupling per unit of time for a standardised effect ``d``.

    Parameters
    ----------
    d : float
        Total growth over sessions ``1 .. n_sessions`` in SDs of real dyad-session
        synchrony (:func:`synchrony_sd`).
    model : PairingModel
    n_sessions : int
        At least 2.
    time : {"linear", "log"}
    n_therapists : int

    Returns
    -------
    float
        Synchrony units per session (per unit of log(session)).
    """
    if not math.isfinite(d):
        raise ValueError(f"d must be finite, got {d}")
    check_int(n_sessions, "n_sessions", minimum=2)
    return d * synchrony_sd(model, n_therapists) / _span(n_sessions, time)


def d_from_effect(effect: float, model: PairingModel, n_sessions: int,
                  time: str = "linear", n_therapists: int = 1) -> float:
    """The standardised effect of a growth ``effect`` (inverse of :func:`effect_from_d`)."""
    check_int(n_sessions, "n_sessions", minimum=2)
    return effect * _span(n_sessions, time) / synchrony_sd(model, n_therapists)


def fast_plasticity(arrays: dict, *, time: str = "linear", n_permutations: int = 0,
                    rng: np.random.Generator | None = None) -> dict[str, dict]:
    """The plasticity test of a complete one-therapist study from its arrays.

    Parameters
    ----------
    arrays : dict
        :func:`~interbrain.stats.pairing_simulation.draw_pairings` with every
        dyad-session scanned.
    time : {"linear", "log"}
    n_permutations : int
        Sign flips of the permutation p (0: only the model's p; otherwise at least
        99 are used, as :func:`~interbrain.stats.power.study_tests`).
    rng : numpy.random.Generator, optional

    Returns
    -------
    dict
        ``"plasticity"`` (and ``"plasticity_permutation"``): ``estimate, std_error,
        df, p, singular``.
    """
    Y = arrays["Y"]
    S, D, _ = Y.shape
    if not bool(arrays["scanned"].all()) or np.isnan(Y).any():
        raise ValueError("the fast plasticity test needs every dyad-session scanned")
    idx = np.arange(D)
    real = Y[:, idx, idx]                                     # (S, D)
    pool = Y.sum(axis=2) + Y.sum(axis=1) - 2.0 * real         # rows + columns, no diagonal
    excess = (real - pool / (2.0 * (D - 1))).T                # (D, S)
    x = time_values(arrays["sessions"], time)
    term = TIME_CODINGS[time].slope_term
    fit = fit_reduced(BalancedSlopeProblem(np.column_stack([np.ones(S), x]), excess),
                      ["(Intercept)", term])
    row = {"estimate": float(fit.estimate[1]), "std_error": float(fit.std_error[1]),
           "df": float(fit.df[1]), "p": float(fit.p[1]), "singular": bool(fit.singular)}
    out = {"plasticity": row}
    if n_permutations:
        rng = rng if rng is not None else np.random.default_rng(0)
        perm_rng = as_generator(int(rng.integers(2 ** 32)))
        xc = x - x.mean()
        slopes = excess @ xc / float(xc @ xc)
        flips = sign_flip_test(slopes, n_permutations=max(99, n_permutations),
                               seed=perm_rng, alternative="two-sided")
        out["plasticity_permutation"] = {**row, "p": float(flips.p)}
    return out


def _power_chunk(args) -> list[float]:
    n_dyads, n_sessions, effect, model, seeds, time, n_permutations, n_therapists, \
        n_scanned, test = args
    fast = n_therapists == 1 and n_scanned is None
    ps = []
    with single_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for ss in seeds:
            rng = as_generator(ss)
            arrays = draw_pairings(rng, n_dyads, n_sessions, effect=effect,
                                   n_therapists=n_therapists, time=time, model=model,
                                   n_scanned=n_scanned)
            try:
                if fast:
                    res = fast_plasticity(arrays, time=time, n_permutations=n_permutations,
                                          rng=rng)
                else:
                    res = study_tests(arrays, time=time, n_permutations=n_permutations,
                                      rng=rng, tests=("plasticity", test))
                ps.append(res[test]["p"])
            except (ValueError, np.linalg.LinAlgError):
                ps.append(np.nan)
    return ps


def plasticity_power(n_dyads: int, n_sessions: int, effect: float, *,
                     model: PairingModel | None = None,
                     test: str = "plasticity_permutation",
                     n_studies: int = 1000, alpha: float = 0.05, seed: int = 0,
                     time: str = "linear", n_permutations: int = 199,
                     n_therapists: int = 1, n_scanned: int | None = None,
                     pool: ProcessPoolExecutor | None = None) -> dict:
    """Rejection rate of the plasticity test at one design (see the module notes).

    Returns
    -------
    dict
        ``n_tested, rejections, power, ci_low, ci_high`` (Wilson 95 %).
    """
    model = model or PairingModel()
    check_design(n_dyads, n_sessions, n_therapists)
    if test not in SEARCH_TESTS:
        raise ValueError(f"test must be one of {list(SEARCH_TESTS)}, got {test!r}")
    if test == "plasticity_permutation" and not n_permutations:
        raise ValueError("the permutation test needs n_permutations > 0")
    seeds = np.random.SeedSequence([int(seed), int(n_dyads)]).spawn(
        check_int(n_studies, "n_studies", minimum=1))
    extra = (time, n_permutations, n_therapists, n_scanned, test)
    if pool is None:
        ps = _power_chunk((n_dyads, n_sessions, effect, model, seeds, *extra))
    else:
        chunks = [c for c in np.array_split(np.arange(n_studies), 16) if len(c)]
        jobs = [(n_dyads, n_sessions, effect, model, [seeds[i] for i in c], *extra)
                for c in chunks]
        ps = [p for part in pool.map(_power_chunk, jobs) for p in part]
    p = np.asarray(ps, dtype=float)
    p = p[np.isfinite(p)]
    k, n = int((p < alpha).sum()), int(p.size)
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson") if n else (np.nan,
                                                                              np.nan)
    return {"n_tested": n, "rejections": k, "power": k / n if n else np.nan,
            "ci_low": float(lo), "ci_high": float(hi)}


@dataclass
class DyadSearch:
    """Result of :func:`dyads_for_power`.

    Attributes
    ----------
    n_dyads : int or None
        Smallest number of dyads found with power >= target (None: not reached
        within ``max_dyads``).
    power, ci_low, ci_high : float
        Its power and Monte Carlo 95 % (Wilson) interval (NaN when not reached).
    table : pandas.DataFrame
        :data:`SEARCH_COLUMNS`, every evaluated point in the order evaluated.
    settings : dict
    """

    n_dyads: int | None
    power: float
    ci_low: float
    ci_high: float
    table: pd.DataFrame
    settings: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Every evaluated point: :attr:`table`."""
        return self.table

    def summary(self) -> str:
        """The answer in one line."""
        s = self.settings
        what = f"d = {s['d']:.3g}" if s.get("d") is not None else "effect"
        head = (f"{what} (growth {s['effect']:.4g} {TIME_CODINGS[s['time']].units}), "
                f"{s['n_sessions']} sessions, {s['test']} at alpha {s['alpha']:g}: ")
        if self.n_dyads is None:
            top = self.table.iloc[-1]
            return (head + f"power {s['target']:g} not reached with {int(top.n_dyads)} "
                    f"dyads (power {top.power:.3f} [{top.ci_low:.3f}, {top.ci_high:.3f}])")
        low = s["bracket"][0]
        below = (f"; {low} dyads: below" if low is not None and low >= 3
                 else "")
        return (head + f"{self.n_dyads} dyads for power >= {s['target']:g}: power "
                f"{self.power:.3f} [{self.ci_low:.3f}, {self.ci_high:.3f}] over "
                f"{s['n_studies']} studies{below}")


def dyads_for_power(effect: float, *, target: float = 0.8, n_sessions: int = 6,
                    model: PairingModel | None = None, d: float | None = None,
                    test: str = "plasticity_permutation", n_studies: int = 1000,
                    alpha: float = 0.05, seed: int = 0, time: str = "linear",
                    n_permutations: int = 199, n_therapists: int = 1, start: int = 4,
                    max_dyads: int = 500, precision: float = 0.05, n_jobs: int = 1,
                    progress=None) -> DyadSearch:
    """Smallest number of dyads whose plasticity test reaches a target power.

    Parameters
    ----------
    effect : float
        Planted growth of the real coupling per unit of time (synchrony units;
        :func:`effect_from_d` converts a standardised ``d``).
    target : float
        Power wanted, in (0, 1).
    n_sessions : int
    model : PairingModel, optional
        Variance components (e.g. :func:`~interbrain.stats.power_from_run.
        pairing_model_from_run`).
    d : float, optional
        The standardised effect ``effect`` came from (recorded in the table only).
    test : {"plasticity_permutation", "plasticity"}
        The dyad-level sign-flip p (the confirmatory one) or the model's p.
    n_studies : int
        Simulated studies per evaluated number of dyads.
    alpha : float
    seed : int
    time : {"linear", "log"}
    n_permutations : int
        Sign flips per study (at least 99 are used).
    n_therapists : int
        Therapists (dyad ``i`` has therapist ``i mod n_therapists``; more than one
        takes the slow general path).
    start, max_dyads : int
        First number of dyads tried and the largest (at least 3).
    precision : float
        Bisection stops when the bracket is at most ``max(1, precision * n)`` dyads
        wide (0: down to neighbours ``n - 1, n``); the answer is its upper end.
    n_jobs : int
        Worker processes.
    progress : callable, optional
        Called as ``progress(n_dyads, power_row)`` after each point.

    Returns
    -------
    DyadSearch
    """
    model = model or PairingModel()
    if not 0 < target < 1:
        raise ValueError(f"target must lie in (0, 1), got {target}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if not math.isfinite(effect):
        raise ValueError(f"effect must be finite, got {effect}")
    if not 0 <= precision < 1:
        raise ValueError(f"precision must lie in [0, 1), got {precision}")
    check_time(time, SLOPE_TIMES)
    max_dyads = check_int(max_dyads, "max_dyads", minimum=3)
    start = min(check_int(start, "start", minimum=3), max_dyads)
    n_therapists = check_int(n_therapists, "n_therapists", minimum=1, maximum=start)
    rows: list[dict] = []
    done: dict[int, bool] = {}
    pool = ProcessPoolExecutor(n_jobs) if n_jobs and n_jobs > 1 else None

    def evaluate(n: int) -> bool:
        res = plasticity_power(n, n_sessions, effect, model=model, test=test,
                               n_studies=n_studies, alpha=alpha, seed=seed, time=time,
                               n_permutations=n_permutations, n_therapists=n_therapists,
                               pool=pool)
        ok = bool(res["power"] >= target)
        rows.append({"d": d if d is not None else np.nan, "effect": effect, "n_dyads": n,
                     "n_sessions": n_sessions, "test": test, "target": target, **res,
                     "reached": ok})
        done[n] = ok
        if progress is not None:
            progress(n, rows[-1])
        return ok

    try:
        low, high, n = None, None, start
        while True:                                    # doubling
            if evaluate(n):
                high = n
                break
            low = n
            if n >= max_dyads:
                break
            n = min(2 * n, max_dyads)
        if high is not None:
            low = low if low is not None else max(2, n_therapists - 1)
            while high - low > max(1.0, precision * high):   # bisection
                mid = (low + high) // 2
                if evaluate(mid):
                    high = mid
                else:
                    low = mid
    finally:
        if pool is not None:
            pool.shutdown()
    table = pd.DataFrame(rows, columns=SEARCH_COLUMNS)
    settings = {"effect": effect, "d": d, "target": target, "n_sessions": n_sessions,
                "test": test, "n_studies": n_studies, "alpha": alpha, "seed": seed,
                "time": time, "n_permutations": n_permutations,
                "n_therapists": n_therapists,
                "start": start, "max_dyads": max_dyads, "precision": precision,
                "bracket": (low, high)}
    if high is None:
        return DyadSearch(None, np.nan, np.nan, np.nan, table, settings)
    best = table[table["n_dyads"] == high].iloc[-1]
    return DyadSearch(int(high), float(best.power), float(best.ci_low),
                      float(best.ci_high), table, settings)


def describe_d(d: float, model: PairingModel, n_sessions: int, time: str = "linear",
               n_therapists: int = 1) -> str:
    """The conversion of ``d`` into a growth per unit of time, in one line."""
    effect = effect_from_d(d, model, n_sessions, time, n_therapists)
    return (f"d = {d:g}: growth {effect:.4g} {TIME_CODINGS[time].units} = {d:g} x SD "
            f"{synchrony_sd(model, n_therapists):.4g} of real dyad-session synchrony over "
            f"{n_sessions} sessions")


@dataclass
class DyadSearches:
    """:func:`dyads_for_their_effects`: one :class:`DyadSearch` per effect."""

    searches: list[DyadSearch]

    def to_frame(self) -> pd.DataFrame:
        """Every evaluated point of every search (:data:`SEARCH_COLUMNS`)."""
        return pd.concat([s.table for s in self.searches], ignore_index=True)

    def summary(self) -> str:
        """The evaluated points, then one line per effect."""
        table = self.to_frame().drop(columns=["test", "target", "n_sessions"])
        return "\n".join([table.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
                          *(s.summary() for s in self.searches),
                          "power = rejection rate over the simulated studies; ci = 95% "
                          "Monte Carlo (Wilson) interval"])

    def write(self, out_dir) -> list:
        """Write ``power_search.csv`` and ``power_search.parquet``; returns the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "power_search.csv", out / "power_search.parquet"]
        self.to_frame().to_csv(paths[0], index=False)
        self.to_frame().to_parquet(paths[1], index=False)
        return paths


def dyads_for_their_effects(effects=None, ds=None, **kwargs) -> DyadSearches:
    """:func:`dyads_for_power` for each raw effect, or each standardised ``d``
    (converted by :func:`effect_from_d` with ``kwargs``' model, sessions, time and
    therapists; default :data:`FIELD_EFFECT_SIZES` when neither is given)."""
    if effects is not None and ds is not None:
        raise ValueError("give effects or ds, not both")
    if effects is None:
        ds = list(FIELD_EFFECT_SIZES if ds is None else ds)
        conv = {k: kwargs[k] for k in ("n_sessions", "time", "n_therapists") if k in kwargs}
        effects = [effect_from_d(d, kwargs.get("model") or PairingModel(),
                                 conv.pop("n_sessions", 6), **conv) for d in ds]
    ds = ds if ds is not None else [None] * len(effects)
    return DyadSearches([dyads_for_power(g, d=d, **kwargs) for g, d in zip(effects, ds)])
