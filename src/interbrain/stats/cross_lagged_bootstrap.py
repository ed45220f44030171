"""Bias-corrected parametric-bootstrap test of a within-dyad cross-lagged coefficient.

With few sessions per dyad, regressing the next value on the current ones after
within-dyad centring (or detrending) is biased (Nickell 1981, Econometrica 49(6)):
the dyad's mean (trend) contains the later innovations, so the centred predictors
correlate with the outcome's innovation. With feedback (the measure driving
synchrony) this bias reaches the cross-lagged coefficient of the *null* direction
(8 dyads x 6 sessions, autoregression 0.5, a reverse effect of 1.0: mean estimate
-0.14 instead of 0 after centring) and its model-based test rejects in about 25 %
of null studies (centred and detrended).

This test replicates the bias instead of ignoring it. The within-dyad process is a
VAR(1) ``z[t+1] = A z[t] + e``, ``e ~ N(0, Sigma)``, common to all dyads
(``z = (synchrony, measure)``; stable levels and linear trends are removed by the
same within-dyad transformation and need not be simulated):

1. fit the null model (the tested coefficient of ``A`` fixed at 0) to the
   transformed pairs by OLS: ``A_0``, ``Sigma`` (residual covariance, df-corrected);
2. correct ``A_0`` for its own bias by indirect inference: repeat ``iterations``
   times ``A <- A + (A_0 - mean of the estimates of A on n_calibration simulated
   studies from A)``, shrunk to stationarity;
3. simulate ``n_bootstrap`` studies from the corrected null model with the
   observed dyads and sessions (same pairs, same centring/detrending) and
   estimate the full model in each: the null distribution of the coefficient,
   centred at its bias ``b``;
4. two-sided p: ``(1 + #{|est* - b| >= |est - b|}) / (n_bootstrap + 1)``.

The observed estimate is the within-dyad OLS coefficient (that of the CR2 OLS fit).
Assumptions: Gaussian innovations and a VAR(1) common to all dyads (no between-dyad
differences in the lagged effects), stationary within-dyad fluctuations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["VARIABLES", "bootstrap_cross_lagged"]

#: Order of the variables in ``A`` (row: equation of the next value, column: predictor).
VARIABLES = ("synchrony", "measure")
_BURN_IN = 30


def _projection(session: np.ndarray, detrend: bool) -> np.ndarray:
    """Within-dyad centring (and detrending) matrix ``I - D D^+`` for these sessions."""
    s = session - session.mean()
    design = np.column_stack([np.ones_like(s), s]) if detrend else np.ones((len(s), 1))
    return np.eye(len(s)) - design @ np.linalg.pinv(design)


class _Layout:
    """The observed dyads' pair sessions and transformations."""

    def __init__(self, data: pd.DataFrame, detrend: bool):
        self.starts, self.offsets, self.projections = [], [], []
        for _, block in data.groupby("dyad", sort=True):
            session = block["session"].to_numpy(float)
            self.starts.append(session.min())
            self.offsets.append((session - session.min()).astype(int))
            self.projections.append(_projection(session, detrend))
        self.length = max(int(o.max()) for o in self.offsets) + 2
        self.n_dyads = len(self.offsets)
        self.n_pairs = sum(len(o) for o in self.offsets)

    def pairs(self, series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Transformed ``(current, next)`` pairs, each (R, n_pairs, 2), of simulated
        series (R, n_dyads, length, 2)."""
        cur, nxt = [], []
        for i, (off, proj) in enumerate(zip(self.offsets, self.projections)):
            cur.append(np.einsum("ts,rsk->rtk", proj, series[:, i, off]))
            nxt.append(np.einsum("ts,rsk->rtk", proj, series[:, i, off + 1]))
        return np.concatenate(cur, axis=1), np.concatenate(nxt, axis=1)


def _estimate(cur: np.ndarray, nxt: np.ndarray, fixed: tuple[int, int] | None
              ) -> np.ndarray:
    """OLS of each next value on both current values, (R, 2, 2); ``fixed`` = (eq,
    predictor) whose coefficient is held at 0."""
    xtx = np.einsum("rnk,rnl->rkl", cur, cur)
    out = np.empty((cur.shape[0], 2, 2))
    for eq in range(2):
        xty = np.einsum("rnk,rn->rk", cur, nxt[..., eq])
        if fixed is not None and fixed[0] == eq:
            keep = 1 - fixed[1]
            out[:, eq, fixed[1]] = 0.0
            out[:, eq, keep] = xty[:, keep] / xtx[:, keep, keep]
        else:
            out[:, eq] = np.linalg.solve(xtx, xty[..., None])[..., 0]
    return out


def _simulate(coef: np.ndarray, chol: np.ndarray, n: int, layout: _Layout,
              rng: np.random.Generator) -> np.ndarray:
    """``n`` studies of the VAR(1), (n, n_dyads, length, 2), started in the past."""
    state = np.zeros((n, layout.n_dyads, 2))
    out = np.empty((n, layout.n_dyads, layout.length, 2))
    for t in range(_BURN_IN + layout.length):
        state = state @ coef.T + rng.standard_normal(state.shape) @ chol.T
        if t >= _BURN_IN:
            out[:, :, t - _BURN_IN] = state
    return out


def _stationary(coef: np.ndarray, limit: float = 0.98) -> np.ndarray:
    radius = np.max(np.abs(np.linalg.eigvals(coef)))
    return coef * (limit / radius) if radius > limit else coef


def bootstrap_cross_lagged(data: pd.DataFrame, response: str, predictor: str, *,
                           detrend: bool = True, n_bootstrap: int = 999,
                           n_calibration: int = 200, iterations: int = 3,
                           seed=None) -> dict:
    """Bias-corrected parametric-bootstrap test of one cross-lagged coefficient.

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
        Simulated studies from the null model (at least 19).
    n_calibration, iterations : int
        Simulated studies per indirect-inference step, and the number of steps.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    dict
        ``estimate`` (the within-dyad OLS coefficient), ``bias`` (mean of the null
        distribution), ``p`` (two-sided), ``n_bootstrap``, ``null_coefficients``
        (the bias-corrected null ``A``, 2 x 2, rows and columns :data:`VARIABLES`).
    """
    if response not in VARIABLES or predictor not in VARIABLES or response == predictor:
        raise ValueError(f"response and predictor must be the two of {VARIABLES}, got "
                         f"{response!r}, {predictor!r}")
    if int(n_bootstrap) < 19:
        raise ValueError(f"n_bootstrap must be at least 19, got {n_bootstrap}")
    rng = np.random.default_rng(seed)
    eq, pred = VARIABLES.index(response), VARIABLES.index(predictor)
    layout = _Layout(data, detrend)
    data = data.sort_values(["dyad", "session"])
    cur = data[[f"{v}_t" for v in VARIABLES]].to_numpy(float)[None]
    nxt = data[[f"{v}_next" for v in VARIABLES]].to_numpy(float)[None]
    estimate = float(_estimate(cur, nxt, None)[0, eq, pred])
    target = _estimate(cur, nxt, (eq, pred))[0]
    resid = nxt[0] - cur[0] @ target.T
    dof = layout.n_pairs - layout.n_dyads * (2 if detrend else 1) - 2
    sigma = resid.T @ resid / max(dof, 1)
    chol = np.linalg.cholesky(sigma + 1e-12 * np.eye(2))
    coef = _stationary(target)
    for _ in range(iterations):
        sims = _estimate(*layout.pairs(_simulate(coef, chol, n_calibration, layout, rng)),
                         (eq, pred))
        coef = _stationary(coef + (target - sims.mean(axis=0)))
    null = _estimate(*layout.pairs(_simulate(coef, chol, int(n_bootstrap), layout, rng)),
                     None)[:, eq, pred]
    bias = float(null.mean())
    extreme = np.sum(np.abs(null - bias) >= abs(estimate - bias))
    return {"estimate": estimate, "bias": bias,
            "p": float((1 + extreme) / (int(n_bootstrap) + 1)),
            "n_bootstrap": int(n_bootstrap), "null_coefficients": coef}
