"""Permutation tests of the patient-level generalisation model, for few patients.

:func:`slope_permutation`: the t of one regressor in an OLS with covariates, its values
permuted across units (within strata); :func:`two_sample_permutation`: the pooled
two-sample t, group labels permuted. Both enumerate every permutation when that is
feasible (8 patients: ``8! = 40320`` orders, ``C(8, 4) = 70`` splits), else draw them
(``p = (1 + b) / (1 + B)``, Phipson & Smyth 2010).
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import NamedTuple

import numpy as np

from ..nulls.dyad_tests import t_pvalue
from .permutation import permutation_p

__all__ = ["ENUMERATION_LIMIT", "PermutationTest", "slope_permutation",
           "two_sample_permutation"]

#: All permutations are enumerated when there are at most
#: ``max(n_permutations, ENUMERATION_LIMIT)`` of them.
ENUMERATION_LIMIT = 50_000
_TOL = 1e-9


class PermutationTest(NamedTuple):
    """A statistic with its t-test and its permutation p-value."""

    estimate: float
    std_error: float
    df: float
    t: float
    p_t: float
    p: float
    n_permutations: int
    exact: bool

    @property
    def method(self) -> str:
        """``"exact"`` (all permutations) or ``"monte_carlo"``."""
        return "exact" if self.exact else "monte_carlo"


def _exact_p(observed: float, null: np.ndarray) -> float:
    """Fraction of all permutations (the observed one among them) at least as extreme."""
    tol = _TOL * max(1.0, abs(observed))
    return float(np.count_nonzero(np.abs(null) >= abs(observed) - tol) / null.size)


@functools.lru_cache(maxsize=8)
def _all_orders(m: int) -> np.ndarray:
    """Every permutation of ``range(m)``, shape (m!, m) (read-only, cached)."""
    out = np.array(list(itertools.permutations(range(m))), dtype=np.intp).reshape(-1, m)
    out.setflags(write=False)
    return out


def _strata_orders(strata: np.ndarray, n_permutations: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, bool]:
    """Index orders permuting positions within strata: all of them, or a random draw."""
    codes = np.unique(strata, return_inverse=True)[1].ravel()
    groups = [np.flatnonzero(codes == g) for g in np.unique(codes)]
    total = math.prod(math.factorial(len(g)) for g in groups)
    n = len(codes)
    if total <= max(n_permutations, ENUMERATION_LIMIT):
        orders = np.empty((total, n), dtype=np.intp)
        per_group = [g[_all_orders(len(g))] for g in groups]
        counts = [len(p) for p in per_group]
        combos = np.indices(counts).reshape(len(counts), -1).T
        for k, (g, perms) in enumerate(zip(groups, per_group)):
            orders[:, g] = perms[combos[:, k]]
        return orders, True
    orders = np.tile(np.arange(n, dtype=np.intp), (n_permutations, 1))
    for g in groups:
        keys = rng.random((n_permutations, len(g)))
        orders[:, g] = g[np.argsort(keys, axis=1)]
    return orders, False


def _slope_t(X: np.ndarray, y: np.ndarray, M: np.ndarray, df: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slope, standard error and t of each row of ``X`` (B, n) in ``y ~ x + Z``, with
    ``M`` the residual-maker of ``Z``."""
    xr = X @ M
    yr = M @ y
    sxx = np.einsum("ij,ij->i", xr, xr)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = (xr @ yr) / sxx
        rss = np.maximum(yr @ yr - b * b * sxx, 0.0)
        se = np.sqrt(rss / df / sxx)
        t = b / se
    return b, se, t


def slope_permutation(y: np.ndarray, x: np.ndarray, Z: np.ndarray, strata: np.ndarray, *,
                      n_permutations: int, rng: np.random.Generator) -> PermutationTest:
    """OLS slope of ``y`` on ``x`` adjusted for ``Z``; t-test and permutation of ``x``.

    Parameters
    ----------
    y, x : numpy.ndarray, shape (n,)
        Outcome and regressor, finite.
    Z : numpy.ndarray, shape (n, k)
        Covariates, the intercept included; full column rank.
    strata : numpy.ndarray, shape (n,)
        ``x`` is permuted within strata (one stratum: across all units).
    n_permutations : int
        Permutations drawn when enumeration is not feasible.
    rng : numpy.random.Generator

    Returns
    -------
    PermutationTest
        Two-sided; ``df = n - k - 1``.

    Raises
    ------
    ValueError
        Non-finite values, ``x`` constant given ``Z``, or ``df < 1``.
    """
    y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(x))):
        raise ValueError("the outcome and the regressor must be finite")
    n, k = Z.shape
    df = n - k - 1
    if df < 1 or np.linalg.matrix_rank(Z) < k:
        raise ValueError(f"{n} units are too few for a slope and {k} covariate columns "
                         "(or the covariates are collinear)")
    M = np.eye(n) - Z @ np.linalg.pinv(Z)
    b, se, t = (v.item() for v in _slope_t(x[None, :], y, M, df))
    if not np.isfinite(t):
        raise ValueError("the regressor does not vary (given the covariates): no slope")
    orders, exact = _strata_orders(np.asarray(strata), n_permutations, rng)
    null = np.concatenate([_slope_t(x[o], y, M, df)[2] for o in np.array_split(
        orders, max(1, len(orders) // 8192))])
    p = _exact_p(t, null) if exact else permutation_p(t, null)
    return PermutationTest(b, se, float(df), t, float(t_pvalue(t, df)), p, len(orders),
                           exact)


def _pooled_t(y: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference in means (group 1 - group 0), pooled standard error, t; one row of
    ``G`` (B, n) of 0/1 labels per split."""
    n1 = G.sum(axis=1)
    n0 = G.shape[1] - n1
    s1, s0 = G @ y, (1 - G) @ y
    q1, q0 = G @ (y * y), (1 - G) @ (y * y)
    m1, m0 = s1 / n1, s0 / n0
    ss = (q1 - n1 * m1 * m1) + (q0 - n0 * m0 * m0)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(np.maximum(ss, 0.0) / (G.shape[1] - 2) * (1 / n1 + 1 / n0))
        d = m1 - m0
        t = d / se
    return d, se, t


def two_sample_permutation(y: np.ndarray, group: np.ndarray, *, n_permutations: int,
                           rng: np.random.Generator) -> PermutationTest:
    """Pooled-variance two-sample t of ``y`` between ``group`` True and False, and the
    permutation p from permuting the labels.

    Parameters
    ----------
    y : numpy.ndarray, shape (n,)
        Finite values, ``n >= 3``.
    group : numpy.ndarray of bool, shape (n,)
        At least one unit in each group.
    n_permutations : int
    rng : numpy.random.Generator

    Returns
    -------
    PermutationTest
        Two-sided; ``estimate`` is mean(True) - mean(False), ``df = n - 2``.
    """
    y = np.asarray(y, dtype=float)
    g = np.asarray(group, dtype=bool)
    n, n1 = len(y), int(g.sum())
    if n < 3 or n1 < 1 or n1 == n or not np.all(np.isfinite(y)):
        raise ValueError("a two-sample test needs finite values, at least 3 units and "
                         "one in each group")
    d, se, t = (v.item() for v in _pooled_t(y, g[None, :].astype(float)))
    total = math.comb(n, n1)
    if total <= max(n_permutations, ENUMERATION_LIMIT):
        G = np.zeros((total, n))
        for k, idx in enumerate(itertools.combinations(range(n), n1)):
            G[k, list(idx)] = 1.0
        exact = True
    else:
        keys = rng.random((n_permutations, n))
        G = (np.argsort(np.argsort(keys, axis=1), axis=1) < n1).astype(float)
        exact = False
    null = _pooled_t(y, G)[2]
    if not np.isfinite(t):
        p = 1.0
    else:
        null = np.where(np.isfinite(null), null, 0.0)
        p = _exact_p(t, null) if exact else permutation_p(t, null)
    p_t = float(t_pvalue(t, n - 2)) if np.isfinite(t) else 1.0
    return PermutationTest(d, se, float(n - 2), t, p_t, p, len(G), exact)
