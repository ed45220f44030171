"""Minimising the profiled (RE)ML deviance over ``theta``, as lme4 does.

lme4 bounds the diagonal entries of each relative covariance factor ``T`` at 0;
since the deviance depends on each ``T`` only through ``T T'``, we search over
unconstrained factors and flip column signs afterwards, which reaches the same
optimum but cannot stall on the boundary (see :func:`optimise`).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from .problem import Problem

__all__ = ["GRAD_TOL", "max_abs_gradient", "canonical_theta", "optimise"]

GRAD_TOL = 1e-3  # max |d deviance / d theta| accepted as converged


def max_abs_gradient(f, x: np.ndarray, h: float = 1e-6) -> float:
    g = np.empty(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2.0 * h)
    return float(np.max(np.abs(g))) if np.all(np.isfinite(g)) else np.inf


def canonical_theta(prob: Problem, theta: np.ndarray) -> np.ndarray:
    """Flip column signs of each factor T so that its diagonal is >= 0.

    The deviance depends on each term's T only through T T', which does not change
    when a column of T changes sign.
    """
    out = theta.copy()
    for sl, (rows_, cols_), T in zip(prob.theta_slices, prob.tril_idx,
                                     prob.tblocks(theta)):
        signs = np.where(np.diagonal(T) < 0, -1.0, 1.0)
        out[sl] = (T * signs[None, :])[rows_, cols_]
    return out


def optimise(prob: Problem, reml: bool) -> tuple[np.ndarray, float, bool, str]:
    """Minimise the profiled deviance over theta; returns theta with diagonal >= 0.

    One parameter: bounded Brent search on [0, upper] (plus the boundary theta = 0).
    Several: L-BFGS-B (numerical gradient, tight tolerances) from lme4's start
    (diagonal 1, off-diagonal 0) over the *unconstrained* lower-triangular factors,
    then column signs are flipped so that diagonals are >= 0. This is the same
    optimum as lme4's bounded problem (the deviance depends on T T' only), but
    avoids the spurious stationary points on the boundary (theta_ii = 0 with a
    non-zero theta_ji) where a bounded quasi-Newton search can stop. Nelder-Mead
    polishes when L-BFGS-B does not report convergence.
    """
    f = lambda th: prob.deviance(th, reml)  # noqa: E731
    if prob.ntheta == 1:
        g = lambda t: f(np.array([t]))  # noqa: E731
        upper = 10.0
        while upper < 1e8 and g(upper) < g(upper / 2.0):
            upper *= 10.0
        res = optimize.minimize_scalar(g, bounds=(0.0, upper), method="bounded",
                                       options={"xatol": 1e-10, "maxiter": 1000})
        best_x, best_f = float(res.x), float(res.fun)
        f0 = g(0.0)
        if f0 <= best_f:
            best_x, best_f = 0.0, f0
        ok = bool(res.success) and np.isfinite(best_f)
        return np.array([best_x]), best_f, ok, str(res.message)

    opts = {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000, "maxfun": 50000}
    res = optimize.minimize(f, prob.theta0, method="L-BFGS-B", options=opts)
    best_x, best_f = np.asarray(res.x, dtype=float), float(res.fun)
    ok, msg = bool(res.success), str(res.message)
    if not ok:
        # typically an abnormal line-search end at the limit of precision: restart
        res2 = optimize.minimize(f, best_x, method="L-BFGS-B", options=opts)
        if res2.fun <= best_f:
            best_x, best_f = np.asarray(res2.x, dtype=float), float(res2.fun)
        ok, msg = bool(res2.success), f"L-BFGS-B: {msg}; restarted: {res2.message}"
    if not ok and max_abs_gradient(f, best_x) > GRAD_TOL:
        nm = optimize.minimize(f, best_x, method="Nelder-Mead",
                               options={"xatol": 1e-9, "fatol": 1e-13,
                                        "maxfev": 1000 * prob.ntheta,
                                        "adaptive": True})
        if nm.fun <= best_f:
            best_x, best_f = np.asarray(nm.x, dtype=float), float(nm.fun)
        msg = f"{msg}; Nelder-Mead: {nm.message}"
    if not ok:
        # accept a stationary point (lme4 checks the gradient likewise)
        ok = max_abs_gradient(f, best_x) <= GRAD_TOL
    ok = ok and bool(np.isfinite(best_f))
    return canonical_theta(prob, best_x), best_f, ok, msg
