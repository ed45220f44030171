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
Assumptions: Gaussian innovations and a VAR(1) common to all dyads (no between-dyad
differences in the lagged effects), stationary within-dyad fluctuations.
"""

from __future__ import annotations

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


def _projection(session: np.ndarray, detrend: bool) -> np.ndarray:
    """Within-dyad centring (and detrending) matrix ``I - D D^+`` for these sessions."""
    s = session - session.mean()
    design = np.column_stack([np.ones_like(s), s]) if detrend else np.ones((len(s), 1))
    return np.eye(len(s)) - design @ np.linalg.pinv(design)


class _Layout:
    """The observed dyads' pair sessions and transformations."""

    def __init__(self, data: pd.DataFrame, detrend: bool):
        self.offsets, self.projections = [], []
        for _, block in data.groupby("dyad", sort=True):
            session = block["session"].to_numpy(float)
            self.offsets.append((session - session.min()).astype(int))
            self.projections.append(_projection(session, detrend))
        self.length = max(int(o.max()) for o in self.offsets) + 2
        self.n_dyads = len(self.offsets)
        self.n_pairs = sum(len(o) for o in self.offsets)
        self.dof = self.n_pairs - self.n_dyads * (2 if detrend else 1) - 2

    def pairs(self, series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Transformed ``(current, next)`` pairs, each (R, n_pairs, 2), of simulated
        series (R, n_dyads, length, 2)."""
        cur, nxt = [], []
        for i, (off, proj) in enumerate(zip(self.offsets, self.projections)):
            cur.append(np.einsum("ts,rsk->rtk", proj, series[:, i, off]))
            nxt.append(np.einsum("ts,rsk->rtk", proj, series[:, i, off + 1]))
        return np.concatenate(cur, axis=1), np.concatenate(nxt, axis=1)


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


def _cross_t(cur: np.ndarray, nxt: np.ndarray, fixed: tuple[int, int], value: float,
             dof: int) -> np.ndarray:
    """``(estimate - value) / SE`` of coefficient ``fixed`` = (eq, predictor) of the
    full OLS, (R,); SE the classical one with ``dof`` residual df."""
    eq, pred = fixed
    xtx = np.einsum("rnk,rnl->rkl", cur, cur)
    xty = np.einsum("rnk,rn->rk", cur, nxt[..., eq])
    coef = np.linalg.solve(xtx, xty[..., None])[..., 0]
    resid = nxt[..., eq] - np.einsum("rnk,rk->rn", cur, coef)
    scale = np.einsum("rn,rn->r", resid, resid) / max(dof, 1)
    inverse = np.linalg.inv(xtx)[:, pred, pred]
    return (coef[:, pred] - value) / np.sqrt(scale * inverse)


def _radius(coef: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(coef))))


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


def _simulate(coef: np.ndarray, chol: np.ndarray, n: int, layout: _Layout,
              rng: np.random.Generator) -> np.ndarray:
    """``n`` studies of the VAR(1), (n, n_dyads, length, 2), each dyad started from
    the stationary distribution."""
    sigma = chol @ chol.T
    gamma = np.linalg.solve(np.eye(4) - np.kron(coef, coef), sigma.ravel()).reshape(2, 2)
    start = np.linalg.cholesky((gamma + gamma.T) / 2 + 1e-12 * np.eye(2))
    noise = rng.standard_normal((layout.length, n, layout.n_dyads, 2))
    out = np.empty((n, layout.n_dyads, layout.length, 2))
    state = noise[0] @ start.T
    out[:, :, 0] = state
    for t in range(1, layout.length):
        state = state @ coef.T + noise[t] @ chol.T
        out[:, :, t] = state
    return out


class _Inversion:
    """The test of ``A[eq, pred] = c`` for any ``c``, with common random numbers."""

    def __init__(self, data: pd.DataFrame, eq: int, pred: int, detrend: bool,
                 n_bootstrap: int, n_calibration: int, iterations: int,
                 rng: np.random.Generator):
        self.layout = _Layout(data, detrend)
        data = data.sort_values(["dyad", "session"])
        self.cur = data[[f"{v}_t" for v in VARIABLES]].to_numpy(float)[None]
        self.nxt = data[[f"{v}_next" for v in VARIABLES]].to_numpy(float)[None]
        self.fixed = (eq, pred)
        self.estimate = float(_estimate(self.cur, self.nxt, None)[0, eq, pred])
        self.n_bootstrap, self.n_calibration = n_bootstrap, n_calibration
        self.seeds = rng.integers(2 ** 63, size=iterations + 1)
        self.cache: dict[float, np.ndarray] = {}
        self.raw: dict[float, np.ndarray] = {}
        self.null_coefficients: dict[float, np.ndarray] = {}

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
        for seed in self.seeds[:-1]:
            series = _simulate(coef, chol, self.n_calibration, self.layout,
                               np.random.default_rng(seed))
            sims = _estimate(*self.layout.pairs(series), self.fixed, c)
            coef = _stationary(coef + (target - sims.mean(axis=0)), self.fixed)
        series = _simulate(coef, chol, self.n_bootstrap, self.layout,
                           np.random.default_rng(self.seeds[-1]))
        cur, nxt = self.layout.pairs(series)
        out = np.sort(_cross_t(cur, nxt, self.fixed, c, self.layout.dof))
        self.raw[c] = _estimate(cur, nxt, None)[:, self.fixed[0], self.fixed[1]]
        self.cache[c], self.null_coefficients[c] = out, coef
        return out

    def observed(self, c: float) -> float:
        """The observed ``(estimate - c) / SE``."""
        return float(_cross_t(self.cur, self.nxt, self.fixed, c, self.layout.dof)[0])

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
