"""Permutation tests: the dyad-level slope test and Westfall-Young maxT.

Slope test
    :func:`slope_permutation_test` asks whether synchrony changes over sessions
    without assuming normality. Under the null hypothesis the sessions of a dyad are
    exchangeable, so the synchrony values of each dyad are shuffled across that
    dyad's sessions (independently for every dyad; the dyad a value belongs to never
    changes) and the statistic is recomputed. The p-value is
    ``(1 + #{|T*| >= |T|}) / (1 + B)`` over ``B`` seeded permutations.

    The default statistic (``"ols_t"``) is the one-sample t statistic of the dyads'
    ordinary-least-squares slopes, ``mean(b_d) / (sd(b_d) / sqrt(D))``: the
    "summary statistics" approach to the random-slope model. For complete, balanced
    data (every dyad observed at the same sessions) the fixed slope of
    ``synchrony ~ session + (1 + session | dyad)`` is exactly the mean of the
    per-dyad OLS slopes and, unless the random-slope variance is estimated at zero,
    lmer's Satterthwaite t equals this t; with unbalanced data they differ only in
    how the dyads are weighted. It costs microseconds per permutation (all
    permutations are evaluated as one matrix product), so 9,999 permutations are
    cheap. ``statistic="lmer_t"`` refits the growth model for every permutation and
    uses lmer's t of the slope (about 10 ms per refit: 999 permutations take ~10 s).

maxT
    :func:`maxt_permutation` is Westfall & Young's (1993) single-step maxT
    adjustment for many units (channel pairs, regions): the same permutation is
    applied to every unit at once (so their dependence is kept), and the adjusted
    p-value of unit ``k`` is ``(1 + #{b : max_j |T*_bj| >= |T_k|}) / (1 + B)``. It
    controls the family-wise error rate under the complete null (and, with subset
    pivotality, strongly). :func:`sign_flip_scheme` (dyad-level real-minus-pseudo
    differences) and :func:`session_shuffle_scheme` (per-unit growth slopes) build
    the statistic and the permutation for the two uses in this package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from .._check import as_generator, check_int, check_option
from ..nulls.dyad_tests import one_sample_t, random_signs
from ._util import require_columns
from .growth import fit_growth
from .slopes import ols_slopes, packed_by_dyad
from .tables import with_counts
from .time_codings import SLOPE_TIMES, TIME_CODINGS, check_time, time_values

__all__ = ["PermutationResult", "slope_permutation_test", "permute_within_groups",
           "maxt_permutation", "sign_flip_scheme", "session_shuffle_scheme",
           "permutation_p", "SLOPE_STATISTICS"]

_TOL = 1e-12  # relative tolerance for ties between |T*| and |T|
#: Statistics of :func:`slope_permutation_test`.
SLOPE_STATISTICS = ("ols_t", "lmer_t")


def permutation_p(observed: float, null: np.ndarray) -> float:
    """Two-sided permutation p-value ``(1 + #{|T*| >= |T|}) / (1 + B)``.

    Parameters
    ----------
    observed : float
        The observed statistic ``T``.
    null : numpy.ndarray
        The ``B`` permutation statistics ``T*``.

    Returns
    -------
    float
        Ties within round-off count as exceedances.
    """
    null = np.asarray(null, dtype=float)
    obs = abs(float(observed))
    tol = _TOL * max(1.0, obs)
    return float((1 + np.count_nonzero(np.abs(null) >= obs - tol)) / (1 + null.size))


def permute_within_groups(values: np.ndarray, groups: np.ndarray,
                          rng: np.random.Generator) -> np.ndarray:
    """A copy of ``values`` with its entries shuffled within each group.

    Parameters
    ----------
    values, groups : numpy.ndarray
        One entry each per observation.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
    """
    values = np.asarray(values)
    out = values.copy()
    codes = pd.factorize(pd.Series(groups), sort=False)[0]
    for g in np.unique(codes):
        idx = np.flatnonzero(codes == g)
        out[idx] = values[rng.permutation(idx)]
    return out


# ---------------------------------------------------------------------------
# the slope permutation test
# ---------------------------------------------------------------------------

@dataclass
class PermutationResult:
    """A permutation test of the growth slope (see :func:`slope_permutation_test`).

    Attributes
    ----------
    estimate : float
        The slope: mean of the per-dyad OLS slopes (``"ols_t"``) or lmer's fixed
        slope (``"lmer_t"``), per session (``time="linear"``) or per unit of
        ``log(session)``.
    statistic : float
        The observed t statistic.
    p : float
        Two-sided permutation p-value ``(1 + #{|T*| >= |T|}) / (1 + B)``.
    null : numpy.ndarray
        The ``B`` permutation statistics.
    n_obs : int or None
        Observations the statistic is computed from: the dyads' slopes
        (``"ols_t"``) or the sessions of the refitted growth model (``"lmer_t"``).
    """

    estimate: float
    statistic: float
    p: float
    n_permutations: int
    n_dyads: int
    seed: int | None
    time: str
    statistic_name: str
    term: str
    method: str
    formula: str = ""
    null: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    n_obs: int | None = None

    def to_frame(self, signal: str = "", metric: str = "",
                 name: str = "growth_permutation") -> pd.DataFrame:
        """One row of ``models.parquet``.

        Parameters
        ----------
        signal, metric : str
            What the test was computed on.
        name : str
            The ``model`` column.

        Returns
        -------
        pandas.DataFrame
            The model columns (``t`` and ``statistic`` the observed t, no standard
            error or df), ``statistic, n_permutations, n_dyads`` and ``n_obs``
            (:attr:`n_obs`, else the dyads), ``n_groups`` (the dyads).
        """
        row = pd.DataFrame([{
            "model": name, "signal": signal, "metric": metric, "term": self.term,
            "estimate": self.estimate, "std_error": np.nan, "df": np.nan,
            "t": self.statistic, "p": self.p, "method": self.method,
            "formula": self.formula, "statistic": self.statistic,
            "n_permutations": self.n_permutations, "n_dyads": self.n_dyads}])
        n_obs = self.n_obs if self.n_obs is not None else self.n_dyads
        return with_counts(row, n_obs, self.n_dyads)

    def summary(self) -> str:
        """The test in one line.

        Returns
        -------
        str
        """
        return (f"slope {self.estimate:.4g} ({self.term}) over {self.n_dyads} dyads: "
                f"t = {self.statistic:.3g}, permutation p = {self.p:.3g} "
                f"({self.method})")


def _permuted_orders(n_valid: np.ndarray, width: int, n_perm: int,
                     rng: np.random.Generator) -> np.ndarray:
    """(B, D, S) indices permuting the first n_valid[d] slots of each row."""
    keys = rng.random((n_perm, len(n_valid), width))
    keys[:, np.arange(width)[None, :] >= n_valid[:, None]] = np.inf
    return np.argsort(keys, axis=-1, kind="stable")


def slope_permutation_test(sessions: pd.DataFrame, *, time: str = "linear",
                           n_permutations: int = 999, seed: int | None = 0,
                           statistic: str = "ols_t", value: str = "synchrony",
                           therapist: str | None = None,
                           batch: int = 1000) -> PermutationResult:
    """Dyad-level permutation test of the growth slope of synchrony.

    The synchrony values of each dyad are shuffled across that dyad's sessions,
    independently per dyad, ``n_permutations`` times (seeded); the statistic is
    recomputed each time and ``p = (1 + #{|T*| >= |T|}) / (1 + B)``. No distribution
    is assumed, only that a dyad's sessions are exchangeable under the null
    hypothesis of no change over sessions.

    Parameters
    ----------
    sessions : pandas.DataFrame
        Columns ``dyad``, ``session`` and ``value`` (e.g. from
        :func:`~interbrain.stats.sessions.session_synchrony`).
    time : str
        ``"linear"`` (slope per session) or ``"log"`` (per unit of log-session).
        A quadratic trajectory has no single slope: test its curvature with
        :func:`~interbrain.stats.growth.compare_growth` instead.
    n_permutations : int
        ``B``; 999 by default.
    seed : int or None
        Seed (or generator) of the permutations (:func:`interbrain._check.as_generator`).
    statistic : str
        ``"ols_t"`` (default): t statistic of the per-dyad OLS slopes (equal to
        lmer's t for complete balanced data, see the module notes); ``"lmer_t"``:
        lmer's Satterthwaite t of the slope, refitting the growth model per
        permutation (slow: ~10 ms per permutation).
    therapist : str, optional
        With ``"lmer_t"``: passed to :func:`~interbrain.stats.growth.fit_growth`.

    Returns
    -------
    PermutationResult
    """
    check_option(statistic, "permutation statistic", SLOPE_STATISTICS)
    check_time(time)
    if time not in SLOPE_TIMES:
        raise ValueError("the slope permutation test needs time='linear' or 'log'; a "
                         "quadratic trajectory has no single slope (compare linear and "
                         "quadratic models with compare_growth)")
    n_permutations = check_int(n_permutations, "n_permutations", minimum=1)
    require_columns(sessions, ["dyad", "session", value], "sessions")
    data = sessions.dropna(subset=["dyad", "session", value]).reset_index(drop=True)
    x = time_values(data["session"], time)
    dyads, X, Y = packed_by_dyad(data, x, value)
    slopes = ols_slopes(X, Y)
    usable = np.isfinite(slopes)
    if usable.sum() < 2:
        raise ValueError(f"the slope permutation test needs at least 2 dyads with 2 or "
                         f"more sessions; got {int(usable.sum())} of {len(dyads)} dyads")
    rng = as_generator(seed)
    n_valid = np.isfinite(Y).sum(axis=1)
    term = TIME_CODINGS[time].slope_term

    if statistic == "ols_t":
        X, Y, n_valid = X[usable], Y[usable], n_valid[usable]
        est, _, t_obs, n = one_sample_t(slopes[usable])
        null = np.empty(n_permutations)
        done = 0
        while done < n_permutations:
            b = min(batch, n_permutations - done)
            order = _permuted_orders(n_valid, Y.shape[1], b, rng)
            Yp = np.take_along_axis(np.broadcast_to(Y, order.shape), order, axis=-1)
            sl = ols_slopes(np.broadcast_to(X, order.shape), Yp)
            null[done:done + b] = one_sample_t(sl, axis=1)[2]
            done += b
        method = (f"within-dyad session permutation (B = {n_permutations}, seed = "
                  f"{seed}); statistic: one-sample t of per-dyad OLS slopes")
        return PermutationResult(estimate=float(est), statistic=float(t_obs),
                                 p=permutation_p(t_obs, null),
                                 n_permutations=n_permutations, n_dyads=int(n),
                                 seed=seed, time=time, statistic_name=statistic,
                                 term=term, method=method, null=null, n_obs=int(n))

    # lmer_t: refit the growth model on every permutation
    fit = fit_growth(data, time=time, therapist=therapist, response=value)
    t_obs = float(fit.coefficients.loc[term, "t"])
    est = float(fit.coefficients.loc[term, "estimate"])
    groups = data["dyad"].to_numpy()
    y = data[value].to_numpy(dtype=float)
    null = np.empty(n_permutations)
    perm = data.copy()
    for b in range(n_permutations):
        perm[value] = permute_within_groups(y, groups, rng)
        null[b] = float(fit_growth(perm, time=time, therapist=therapist, response=value,
                                   _formula=fit.formula).coefficients.loc[term, "t"])
    method = (f"within-dyad session permutation (B = {n_permutations}, seed = {seed}); "
              "statistic: lmer Satterthwaite t of the slope, refitted per permutation")
    return PermutationResult(estimate=est, statistic=t_obs, p=permutation_p(t_obs, null),
                             n_permutations=n_permutations,
                             n_dyads=int(fit.ngroups.get("dyad", len(dyads))), seed=seed,
                             time=time, statistic_name=statistic, term=term,
                             method=method, formula=fit.formula, null=null,
                             n_obs=int(fit.nobs))


# ---------------------------------------------------------------------------
# Westfall-Young maxT
# ---------------------------------------------------------------------------

def maxt_permutation(statistic: Callable[[Any], np.ndarray], data: Any,
                     permute: Callable[[Any, np.random.Generator], Any], *,
                     n_permutations: int = 999, seed: int | None = 0,
                     units=None) -> pd.DataFrame:
    """Westfall-Young single-step maxT adjusted p-values.

    Parameters
    ----------
    statistic : callable
        ``statistic(data) -> array (U,)``: one test statistic per unit (NaN for a
        unit that cannot be tested; it is ignored in the maxima).
    data : object
        Whatever ``statistic`` and ``permute`` work on.
    permute : callable
        ``permute(data, rng) -> data``: one draw of the permutation scheme, applied
        to all units jointly (e.g. the same sign flip of a dyad for every channel
        pair, the same session shuffle of a dyad for every pair).
    n_permutations : int
        ``B``.
    seed : int or None
    units : sequence, optional
        Labels of the units (default ``0 .. U-1``).

    Returns
    -------
    pandas.DataFrame
        ``unit, statistic, p_permutation, p_adjusted``: the per-unit permutation
        p ``(1 + #{|T*_k| >= |T_k|}) / (1 + B)`` and the maxT adjusted p
        ``(1 + #{max_j |T*_j| >= |T_k|}) / (1 + B)`` (never below the former).
    """
    n_permutations = check_int(n_permutations, "n_permutations", minimum=1)
    t_obs = np.atleast_1d(np.asarray(statistic(data), dtype=float))
    if t_obs.ndim != 1:
        raise ValueError(f"statistic must return one value per unit, got shape "
                         f"{t_obs.shape}")
    u = t_obs.size
    labels = list(range(u)) if units is None else list(units)
    if len(labels) != u:
        raise ValueError(f"{len(labels)} unit labels for {u} statistics")
    rng = as_generator(seed)
    a_obs = np.abs(t_obs)
    thresh = a_obs - _TOL * np.maximum(1.0, a_obs)
    exceed_unit = np.zeros(u)
    exceed_max = np.zeros(u)
    for _ in range(n_permutations):
        tb = np.abs(np.asarray(statistic(permute(data, rng)), dtype=float))
        if tb.shape != (u,):
            raise ValueError(f"statistic returned shape {tb.shape} on permuted data, "
                             f"expected ({u},)")
        finite = np.isfinite(tb)
        m = tb[finite].max() if finite.any() else -np.inf
        exceed_unit += np.where(finite, tb >= thresh, False)
        exceed_max += m >= thresh
    p_perm = (1.0 + exceed_unit) / (1.0 + n_permutations)
    p_adj = (1.0 + exceed_max) / (1.0 + n_permutations)
    nan = ~np.isfinite(t_obs)
    p_perm[nan] = np.nan
    p_adj[nan] = np.nan
    return pd.DataFrame({"unit": labels, "statistic": t_obs, "p_permutation": p_perm,
                         "p_adjusted": p_adj})


def sign_flip_scheme(differences: np.ndarray
                     ) -> tuple[Callable, np.ndarray, Callable]:
    """Statistic and permutation for dyad-level differences (dyads x units).

    Returns ``(statistic, data, permute)`` for :func:`maxt_permutation`: the
    statistic is the one-sample t of each unit's column (NaN-aware); a permutation
    multiplies each dyad's row by a random sign, the same for all units (under the
    null hypothesis each dyad's real-minus-pseudo differences are symmetric about 0).
    """
    d = np.asarray(differences, dtype=float)
    if d.ndim != 2:
        raise ValueError(f"differences must be dyads x units, got shape {d.shape}")

    def stat(x: np.ndarray) -> np.ndarray:
        return one_sample_t(x, axis=0)[2]

    def permute(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return x * random_signs(rng, (x.shape[0], 1))

    return stat, d, permute


def session_shuffle_scheme(times: np.ndarray, values: np.ndarray
                           ) -> tuple[Callable, np.ndarray, Callable]:
    """Statistic and permutation for per-unit growth slopes.

    ``times`` (dyads x slots) holds each dyad's session times packed to the left
    (NaN padded), ``values`` (dyads x slots x units) the synchrony of every unit.
    The statistic is, per unit, the one-sample t of the per-dyad OLS slopes; a
    permutation shuffles each dyad's values across its sessions, the same shuffle
    for all units of the dyad.
    """
    X = np.asarray(times, dtype=float)
    Y = np.asarray(values, dtype=float)
    if X.ndim != 2 or Y.ndim != 3 or Y.shape[:2] != X.shape:
        raise ValueError(f"times must be dyads x slots and values dyads x slots x units; "
                         f"got {X.shape} and {Y.shape}")
    n_valid = np.isfinite(X).sum(axis=1)

    def stat(y: np.ndarray) -> np.ndarray:
        return one_sample_t(ols_slopes(X, y), axis=0)[2]

    def permute(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        order = _permuted_orders(n_valid, X.shape[1], 1, rng)[0]
        return np.take_along_axis(y, order[:, :, None], axis=1)

    return stat, Y, permute
