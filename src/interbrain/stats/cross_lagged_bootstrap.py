"""Bias-corrected parametric-bootstrap test and interval of a cross-lagged coefficient.

With few sessions per dyad, regressing the next value on the current ones after
within-dyad centring (or detrending) is biased (Nickell 1981, Econometrica 49(6)):
the dyad's mean (trend) contains the later innovations, so the centred predictors
correlate with the outcome's innovation. With feedback (the measure driving
synchrony) this bias reaches the cross-lagged coefficient of the *null* direction
(8 dyads x 6 sessions, autoregression 0.5, a reverse effect of 1.0: mean estimate
-0.14 instead of 0 after centring) and its model-based test rejects in about 25 %
of null studies (centred and detrended). The bias also depends on the coefficients
themselves (an estimate moves by only about half a true change), so an interval of
``estimate - bias`` +- the bootstrap spread covers too rarely (simulated: 0.78-0.90
at 8 x 6); the interval here inverts the test instead.

The within-dyad process is a VAR(1) ``z[t+1] = A z[t] + e``, ``e ~ N(0, Sigma)``,
common to all dyads (``z = (synchrony, measure)``; stable levels and linear trends
are removed by the same within-dyad transformation and need not be simulated).

Test of ``A[response, predictor] = c`` (:func:`bootstrap_cross_lagged`)
    1. fit the model with that coefficient fixed at ``c`` to the transformed pairs
       by OLS: ``A_c``, ``Sigma_c`` (residual covariance, df-corrected);
    2. correct the other three coefficients of ``A_c`` for their bias by indirect
       inference: ``iterations`` times ``A <- A + (A_c - mean of the (equally
       constrained) estimates on n_calibration simulated studies from A)``, shrunk
       to stationarity (the free coefficients only);
    3. simulate ``n_bootstrap`` studies from the corrected model with the observed
       dyads and sessions (same pairs, same centring/detrending; each dyad started
       from the stationary distribution), fit the full model by OLS in each and
       compute ``T = (estimate - c) / SE`` (classical OLS SE with the within-dyad
       residual df): the distribution of ``T`` when the coefficient is ``c``;
    4. equal-tailed two-sided p: ``min(1, 2 (1 + #{T* >= T} or #{T* <= T}, the
       smaller) / (n_bootstrap + 1))`` with ``T`` the observed one.

    ``p`` is the test at ``c = 0``. The same random numbers are used for every
    ``c``, so the simulated distribution moves smoothly with ``c``. The studentized
    ``T`` matters: with strongly correlated innovations (synchrony and measure
    related within a session, correlation 0.9) the raw coefficient's spread depends
    on the estimated ``Sigma`` and a test of the raw estimate rejected 13-17 % of
    null studies at a nominal 4 % (300 studies of 8 x 6; ``T``: 5.7 and 6.3 %).

Interval (test inversion)
    The ``level`` interval is the set of ``c`` that the test does not reject at
    ``1 - level``: its ends are where the observed ``T`` (a function of ``c``)
    equals the ``k``-th largest (smallest) simulated one, ``k`` the number of draws
    the test needs beyond it, found by bracketing and regula falsi. It excludes 0
    exactly when ``p < 1 - level`` (up to the root's tolerance), and covers the
    true coefficient as often as the test holds its level at it. An end is
    infinite when no value within 64 bootstrap SDs on that side is rejected.
    ``estimate_corrected`` is the median-unbiased estimate: the ``c`` at which the
    median simulated ``T`` equals the observed one.

The observed estimate is the within-dyad OLS coefficient (that of the CR2 OLS fit).

Computation: the innovations of each seed are drawn once and reused for every ``c``;
a simulated study's transformed pairs are a linear map of its innovations (the
VAR(1) started from its stationary distribution, then the within-dyad projection),
applied to all studies of a step at once, and each OLS fit needs only the sums of
cross-products of the pairs (closed-form 2 x 2 solves, vectorised over studies).
Assumptions: Gaussian innovations and a VAR(1) common to all dyads (no between-dyad
differences in the lagged effects), stationary within-dyad fluctuations.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .._check import as_generator

__all__ = ["VARIABLES", "BOOTSTRAP_METHOD", "bootstrap_cross_lagged"]

#: Order of the variables in ``A`` (row: equation of the next value, column: predictor).
VARIABLES = ("synchrony", "measure")
#: What ``p_bootstrap`` and the bootstrap interval are (for the ``method`` text).
BOOTSTRAP_METHOD = (
    "p_bootstrap: bias-corrected parametric bootstrap test of the OLS t statistic "
    "(within-dyad VAR(1) with the coefficient fixed, the other coefficients corrected "
    "for their short-panel bias by indirect inference, {n} simulated studies, "
    "equal-tailed); ci_low_bootstrap, "
    "ci_high_bootstrap: 95% interval by inverting that test; estimate_corrected: its "
    "median-unbiased estimate")
_LIMIT = 0.98
_MAX_STEPS = 8
_EYE2, _EYE4 = np.eye(2), np.eye(4)


def _projection(session: np.ndarray, detrend: bool) -> np.ndarray:
    """Within-dyad centring (and detrending) matrix ``I - D D^+`` for these sessions."""
    s = session - session.mean()
    design = np.column_stack([np.ones_like(s), s]) if detrend else np.ones((len(s), 1))
    return np.eye(len(s)) - design @ np.linalg.pinv(design)


class _Layout:
    """The observed dyads' pair sessions and transformations (``dyad``: each pair's
    dyad number, ``session``: its session ``t``).

    ``select[0, i]`` (``select[1, i]``) maps dyad ``i``'s simulated series over
    ``length`` sessions to its transformed current (next) values, (2, n_dyads,
    max_pairs, length); a dyad with fewer pairs has zero rows (they add nothing).
    """

    def __init__(self, dyad: np.ndarray, session: np.ndarray, detrend: bool):
        offsets, projections, known = [], [], {}
        order = np.argsort(dyad, kind="stable")
        for rows in np.split(order, np.flatnonzero(np.diff(dyad[order])) + 1):
            sessions = session[rows]
            offsets.append((sessions - sessions.min()).astype(int))
            key = sessions.tobytes()
            if key not in known:
                known[key] = _projection(sessions, detrend)
            projections.append(known[key])
        self.length = max(int(o.max()) for o in offsets) + 2
        self.n_dyads = len(offsets)
        self.n_pairs = sum(len(o) for o in offsets)
        self.dof = self.n_pairs - self.n_dyads * (2 if detrend else 1) - 2
        self.max_pairs = max(len(o) for o in offsets)
        self.select = np.zeros((2, self.n_dyads, self.max_pairs, self.length))
        for i, (off, proj) in enumerate(zip(offsets, projections)):
            self.select[0, i, :len(off), off] = proj
            self.select[1, i, :len(off), off + 1] = proj
        lag = np.subtract.outer(np.arange(self.length), np.arange(self.length))
        self.lag, self.future = np.maximum(lag, 0), lag < 0

    def pair_map(self, coef: np.ndarray, chol: np.ndarray, start: np.ndarray,
                 blocks: list[int]) -> np.ndarray:
        """The linear map from a dyad's innovations to its transformed pairs.

        The VAR(1) started from ``start @ e[0]`` is ``z[t] = A^t start e[0] +
        sum_{1 <= s <= t} A^(t - s) chol e[s]``. Returns (n_dyads, len(blocks) *
        max_pairs, 2 length): for each dyad, the rows of the blocks (0, 1: current
        synchrony, measure; 2, 3: next synchrony, measure), each ``max_pairs``
        rows, times the dyad's innovations ``e`` flattened (session, variable).
        """
        powers = [np.eye(2)]
        for _ in range(self.length - 1):
            powers.append(coef @ powers[-1])
        powers = np.stack(powers)
        series = (powers @ chol)[self.lag]                  # (t, s, k, j)
        series[self.future] = 0.0
        series[:, 0] = powers @ start
        series = series.transpose(0, 2, 1, 3).reshape(self.length, 4 * self.length)
        pairs = (self.select @ series).reshape(2, self.n_dyads, self.max_pairs, 2,
                                               2 * self.length)
        pairs = pairs.transpose(1, 0, 3, 2, 4).reshape(self.n_dyads, 4, self.max_pairs,
                                                        2 * self.length)
        return pairs[:, blocks].reshape(self.n_dyads, -1, 2 * self.length)


def _estimate(cur: np.ndarray, nxt: np.ndarray, fixed: tuple[int, int] | None,
              value: float = 0.0) -> np.ndarray:
    """OLS of each next value on both current values, (R, 2, 2); ``fixed`` = (eq,
    predictor) whose coefficient is held at ``value``."""
    xtx = np.einsum("rnk,rnl->rkl", cur, cur)
    out = np.empty((cur.shape[0], 2, 2))
    for eq in range(2):
        if fixed is not None and fixed[0] == eq:
            pred, keep = fixed[1], 1 - fixed[1]
            y = nxt[..., eq] - value * cur[..., pred]
            out[:, eq, pred] = value
            out[:, eq, keep] = np.einsum("rn,rn->r", cur[..., keep], y) / xtx[:, keep, keep]
        else:
            xty = np.einsum("rnk,rn->rk", cur, nxt[..., eq])
            out[:, eq] = np.linalg.solve(xtx, xty[..., None])[..., 0]
    return out


def _radius(coef: np.ndarray) -> float:
    """Spectral radius of a 2 x 2 matrix (largest modulus of its eigenvalues)."""
    (a, b), (c, d) = coef.tolist()
    half, det = (a + d) / 2, a * d - b * c
    disc = half * half - det
    if disc < 0:                       # complex pair: |lambda|^2 = det
        return math.sqrt(det)
    return abs(half) + math.sqrt(disc)


def _stationary(coef: np.ndarray, fixed: tuple[int, int]) -> np.ndarray:
    """``coef`` with its free coefficients shrunk (by a common factor) until its
    spectral radius is at most 0.98; the ``fixed`` one is kept."""
    if _radius(coef) <= _LIMIT:
        return coef
    free = np.ones((2, 2), bool)
    free[fixed] = False
    low, high = 0.0, 1.0
    for _ in range(30):
        mid = (low + high) / 2
        low, high = (mid, high) if _radius(np.where(free, coef * mid, coef)) <= _LIMIT \
            else (low, mid)
    return np.where(free, coef * low, coef)


def _innovations(seed: int, n: int, layout: _Layout) -> np.ndarray:
    """The standard normal innovations of ``n`` simulated studies, (n_dyads, 2 length,
    n): dyad, (session, variable), study."""
    noise = np.random.default_rng(seed).standard_normal(
        (layout.length, n, layout.n_dyads, 2))
    return np.ascontiguousarray(noise.transpose(2, 0, 3, 1)).reshape(
        layout.n_dyads, 2 * layout.length, n)


def _simulate_pairs(coef: np.ndarray, chol: np.ndarray, innovations: np.ndarray,
                    layout: _Layout, blocks: list[int]) -> np.ndarray:
    """Transformed pairs of the VAR(1) studies driven by ``innovations``
    (:func:`_innovations`), each dyad started from the stationary distribution:
    (len(blocks), n_dyads, max_pairs, n) (blocks of :meth:`_Layout.pair_map`)."""
    sigma = chol @ chol.T
    kron = (coef[:, None, :, None] * coef[None, :, None, :]).reshape(4, 4)
    gamma = np.linalg.solve(_EYE4 - kron, sigma.ravel()).reshape(2, 2)
    start = np.linalg.cholesky((gamma + gamma.T) / 2 + 1e-12 * _EYE2)
    pairs = layout.pair_map(coef, chol, start, blocks) @ innovations
    return pairs.reshape(layout.n_dyads, len(blocks), layout.max_pairs, -1).swapaxes(0, 1)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum over dyads and pairs of ``a * b``, (n,), for pairs (n_dyads, max_pairs, n)."""
    return np.einsum("ipr,ipr->r", a, b)


def _solve_2x2(xx: tuple, xy: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OLS coefficients of both predictors from ``xx = (x0 x0, x0 x1, x1 x1)`` and
    ``xy = (x0 y, x1 y)``, each (n,), and the determinant of ``X'X``."""
    det = xx[0] * xx[2] - xx[1] * xx[1]
    return (xx[2] * xy[0] - xx[1] * xy[1]) / det, (xx[0] * xy[1] - xx[1] * xy[0]) / det, det


class _Inversion:
    """The test of ``A[eq, pred] = c`` for any ``c``, with common random numbers.

    Every tested ``c`` uses the same innovations (drawn once per seed); a simulated
    study's transformed pairs are a linear map of them (:meth:`_Layout.pair_map`),
    and the OLS fits use the sums of cross-products of the pairs, for all studies
    at once.
    """

    def __init__(self, data: pd.DataFrame, eq: int, pred: int, detrend: bool,
                 n_bootstrap: int, n_calibration: int, iterations: int,
                 rng: np.random.Generator):
        dyad = pd.factorize(data["dyad"], sort=True)[0]
        session = data["session"].to_numpy(float)
        self.layout = _Layout(dyad, session, detrend)
        order = np.lexsort((session, dyad))             # by dyad, then session
        # (1, n_pairs, 2), column-major like the frame's columns (the sums' order)
        self.cur, self.nxt = (np.asfortranarray(np.column_stack(
            [data[f"{v}_{when}"].to_numpy(float) for v in VARIABLES])[order])[None]
            for when in ("t", "next"))
        self.fixed = (eq, pred)
        self.estimate = float(_estimate(self.cur, self.nxt, None)[0, eq, pred])
        self.n_bootstrap, self.n_calibration = n_bootstrap, n_calibration
        self.seeds = rng.integers(2 ** 63, size=iterations + 1)
        self.innovations = [_innovations(seed, n_calibration, self.layout)
                            for seed in self.seeds[:-1]]
        self.innovations.append(_innovations(self.seeds[-1], n_bootstrap, self.layout))
        # the observed T = (estimate - c) / se, SE the classical one with the
        # within-dyad residual df
        xtx = np.einsum("rnk,rnl->rkl", self.cur, self.cur)
        xty = np.einsum("rnk,rn->rk", self.cur, self.nxt[..., eq])
        coef = np.linalg.solve(xtx, xty[..., None])[..., 0]
        resid = self.nxt[..., eq] - np.einsum("rnk,rk->rn", self.cur, coef)
        scale = np.einsum("rn,rn->r", resid, resid) / max(self.layout.dof, 1)
        self.observed_coef = coef[:, pred]
        self.observed_se = np.sqrt(scale * np.linalg.inv(xtx)[:, pred, pred])
        self.cache: dict[float, np.ndarray] = {}
        self.raw: dict[float, np.ndarray] = {}
        self.null_coefficients: dict[float, np.ndarray] = {}

    def _mean_constrained(self, coef: np.ndarray, chol: np.ndarray,
                          innovations: np.ndarray, c: float) -> np.ndarray:
        """Mean over the simulated studies of their OLS estimates with ``A[eq, pred]``
        held at ``c``, 2 x 2 (:func:`_estimate` with ``fixed``)."""
        eq, pred = self.fixed
        keep, other = 1 - pred, 1 - eq
        cur0, cur1, nxt0, nxt1 = _simulate_pairs(coef, chol, innovations, self.layout,
                                                 [0, 1, 2, 3])
        cur, nxt = (cur0, cur1), (nxt0, nxt1)
        xx = (_cross(cur0, cur0), _cross(cur0, cur1), _cross(cur1, cur1))
        out = np.empty((2, 2))
        out[eq, pred] = c
        out[eq, keep] = np.mean((_cross(cur[keep], nxt[eq]) - c * xx[1])
                                / xx[2 * keep])
        b0, b1, _ = _solve_2x2(xx, (_cross(cur0, nxt[other]), _cross(cur1, nxt[other])))
        out[other] = b0.mean(), b1.mean()
        return out

    def _t_and_raw(self, coef: np.ndarray, chol: np.ndarray, c: float
                   ) -> tuple[np.ndarray, np.ndarray]:
        """``T = (estimate - c) / SE`` and the raw estimate of ``A[eq, pred]`` on the
        ``n_bootstrap`` studies, each (n_bootstrap,)."""
        eq, pred = self.fixed
        cur0, cur1, nxt = _simulate_pairs(coef, chol, self.innovations[-1], self.layout,
                                          [0, 1, 2 + eq])
        xx = (_cross(cur0, cur0), _cross(cur0, cur1), _cross(cur1, cur1))
        b0, b1, det = _solve_2x2(xx, (_cross(cur0, nxt), _cross(cur1, nxt)))
        resid = nxt - b0 * cur0 - b1 * cur1
        scale = _cross(resid, resid) / max(self.layout.dof, 1)
        inverse = xx[2 - 2 * pred] / det
        raw = (b0, b1)[pred]
        return (raw - c) / np.sqrt(scale * inverse), raw

    def sims(self, c: float) -> np.ndarray:
        """The sorted ``T`` of ``A[eq, pred]`` on ``n_bootstrap`` studies simulated
        with it fixed at ``c`` (steps 1-3 of the module notes); their raw estimates
        go to :attr:`raw`."""
        c = float(c)
        if c in self.cache:
            return self.cache[c]
        target = _estimate(self.cur, self.nxt, self.fixed, c)[0]
        resid = self.nxt[0] - self.cur[0] @ target.T
        sigma = resid.T @ resid / max(self.layout.dof, 1)
        chol = np.linalg.cholesky(sigma + 1e-12 * np.eye(2))
        coef = _stationary(target, self.fixed)
        for innovations in self.innovations[:-1]:
            mean = self._mean_constrained(coef, chol, innovations, c)
            coef = _stationary(coef + (target - mean), self.fixed)
        t, raw = self._t_and_raw(coef, chol, c)
        out = np.sort(t)
        self.raw[c] = raw
        self.cache[c], self.null_coefficients[c] = out, coef
        return out

    def observed(self, c: float) -> float:
        """The observed ``(estimate - c) / SE``."""
        return float(((self.observed_coef - c) / self.observed_se)[0])

    def p(self, c: float) -> float:
        """Equal-tailed two-sided p of ``A[eq, pred] = c`` (step 4)."""
        sims, t = self.sims(c), self.observed(c)
        tail = min(np.sum(sims >= t), np.sum(sims <= t))
        return float(min(1.0, 2 * (1 + tail) / (self.n_bootstrap + 1)))

    def solve(self, statistic, start: float, step: float, tol: float) -> float:
        """The ``c`` where ``statistic(sims(c))`` equals :meth:`observed` (their
        difference increasing in ``c``): bracketed from ``start`` by steps of ``step`` doubling
        (``step`` > 0 searches upwards, < 0 downwards), then regula falsi (Illinois).
        +-inf when no ``c`` within ``64 |step|`` of ``start`` brackets it."""
        gap = lambda c: statistic(self.sims(c)) - self.observed(c)  # noqa: E731
        a, fa = start, gap(start)
        if abs(fa) <= tol:
            return a
        step = abs(step) * (1.0 if fa < 0 else -1.0)
        for _ in range(_MAX_STEPS - 1):
            b = a + step
            fb = gap(b)
            if abs(fb) <= tol:
                return b
            if np.sign(fb) != np.sign(fa):
                break
            a, fa, step = b, fb, 2 * step
        else:
            return np.inf if step > 0 else -np.inf
        side = 0
        for _ in range(_MAX_STEPS):
            c = (a * fb - b * fa) / (fb - fa)
            fc = gap(c)
            if abs(fc) <= tol:
                return c
            if np.sign(fc) == np.sign(fb):
                b, fb = c, fc
                fa, side = (fa / 2, 1) if side == 1 else (fa, 1)
            else:
                a, fa = c, fc
                fb, side = (fb / 2, -1) if side == -1 else (fb, -1)
        return c


def bootstrap_cross_lagged(data: pd.DataFrame, response: str, predictor: str, *,
                           detrend: bool = True, n_bootstrap: int = 999,
                           n_calibration: int = 200, iterations: int = 3,
                           level: float = 0.95, interval: bool = True,
                           seed=None) -> dict:
    """Bias-corrected parametric-bootstrap test and interval of one cross-lagged
    coefficient (module notes).

    Parameters
    ----------
    data : pandas.DataFrame
        Output of :func:`~interbrain.stats.cross_lagged.cross_lagged_data`:
        ``dyad, session, synchrony_t, measure_t, synchrony_next, measure_next``,
        transformed with the same ``detrend``.
    response, predictor : {"synchrony", "measure"}
        The equation (next value of ``response``) and the tested predictor (current
        value of ``predictor``); they must differ.
    detrend : bool
        Whether ``data`` was detrended (the simulated studies are treated alike).
    n_bootstrap : int
        Simulated studies per tested value (at least 19; with ``interval``, more
        than ``2 / (1 - level) - 1``: 40 for a 95% interval).
    n_calibration, iterations : int
        Simulated studies per indirect-inference step, and the number of steps.
    level : float
        Of the interval (0.95: a 95% interval).
    interval : bool
        Also compute the interval and the median-unbiased estimate (about 8 more
        tested values); False: the test of 0 only.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    dict
        ``estimate`` (the within-dyad OLS coefficient), ``bias`` (mean estimate when
        the coefficient is 0, minus 0), ``p`` (two-sided, equal-tailed, of ``T``),
        ``ci_low, ci_high`` (NaN when the secant search did not converge or without
        ``interval``), ``estimate_corrected`` (median-unbiased), ``level``,
        ``n_bootstrap``, ``null_coefficients`` (the bias-corrected ``A`` of the test
        of 0, 2 x 2, rows and columns :data:`VARIABLES`).

    Raises
    ------
    ValueError
        For unknown variables, too few bootstrap studies or a level outside (0, 1).
    """
    if response not in VARIABLES or predictor not in VARIABLES or response == predictor:
        raise ValueError(f"response and predictor must be the two of {VARIABLES}, got "
                         f"{response!r}, {predictor!r}")
    if int(n_bootstrap) < 19:
        raise ValueError(f"n_bootstrap must be at least 19, got {n_bootstrap}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    n_bootstrap = int(n_bootstrap)
    # c is not rejected while at least `needed` simulated estimates lie on each side
    # of the observed one (the p of the module notes is then >= 1 - level)
    needed = int(np.ceil((1 - level) / 2 * (n_bootstrap + 1) - 1 - 1e-9))
    if interval and needed < 1:
        raise ValueError(f"n_bootstrap = {n_bootstrap} is too few for a {level:.0%} "
                         "interval: it needs more than 2 / (1 - level) - 1")
    test = _Inversion(data, VARIABLES.index(response), VARIABLES.index(predictor),
                      detrend, n_bootstrap, n_calibration, iterations, as_generator(seed))
    null = test.sims(0.0)
    raw = test.raw[0.0]
    out = {"estimate": test.estimate, "bias": float(raw.mean()), "p": test.p(0.0),
           "ci_low": np.nan, "ci_high": np.nan, "estimate_corrected": np.nan,
           "level": float(level), "n_bootstrap": n_bootstrap,
           "null_coefficients": test.null_coefficients[0.0]}
    if not interval:
        return out
    spread = float(np.std(raw))
    tol = 0.005 * float(np.std(null))
    median = test.solve(lambda s: s[n_bootstrap // 2], test.estimate - float(np.median(raw)),
                        spread, tol)
    centre = median if np.isfinite(median) else 0.0
    out["estimate_corrected"] = median if np.isfinite(median) else np.nan
    # lower end: the observed T is the needed-th largest simulated one
    out["ci_low"] = test.solve(lambda s: s[n_bootstrap - needed], centre - 2 * spread,
                               spread, tol)
    out["ci_high"] = test.solve(lambda s: s[needed - 1], centre + 2 * spread, spread, tol)
    return out
