"""Satterthwaite degrees of freedom of fixed-effect contrasts, as lmerTest.

Kuznetsova, Brockhoff & Christensen (2017, J. Stat. Softw. 82(13)): the variance
parameters are ``(theta, sigma)``; their asymptotic covariance is ``A = 2 H^-1`` with
``H`` the Hessian of the (RE)ML deviance at the optimum, and for a contrast ``l`` with
``v = l' C l`` (``C = vcov(beta)``), ``df = 2 v^2 / (g' A g)``, ``g`` the gradient of
``v`` in the variance parameters. Derivatives are numerical (Richardson
extrapolation, as numDeriv's defaults used by lmerTest).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from .derivatives import hessian, jacobian
from .problem import NotPositiveDefinite

__all__ = ["satterthwaite_parts", "contrast_test"]


def satterthwaite_parts(prob, theta: np.ndarray, sigma: float, reml: bool
                         ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Asymptotic covariance ``A`` of the variance parameters ``(theta, sigma)`` and
    the Jacobian of ``vcov(beta)`` in them (lmerTest's Satterthwaite ingredients).

    ``prob`` provides ``deviance_vp(varpar, reml)`` and ``covbeta(varpar)``
    (:class:`Problem` or a reduced problem of :mod:`interbrain.stats.fast`).
    Returns ``A`` (r x r), ``jac`` (r x p x p) and notes on the Hessian; when the
    derivatives fail, zeros (the t-tests then fall back to normal quantiles).
    """
    messages: list[str] = []
    varpar = np.append(theta, sigma)
    try:
        H = hessian(lambda vp: prob.deviance_vp(vp, reml), varpar)
        evals, evecs = np.linalg.eigh((H + H.T) / 2.0)
        tol = 1e-8
        if np.any(evals < -tol):
            messages.append("Hessian of the deviance has negative eigenvalue(s): "
                            + " ".join(f"{e:.1e}" for e in evals[evals < -tol]))
        if np.any(np.abs(evals) <= tol):
            messages.append("Hessian of the deviance has eigenvalue(s) close to zero: "
                            + " ".join(f"{e:.1e}" for e in evals[np.abs(evals) <= tol]))
        pos = evals > tol
        A = 2.0 * (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
        jac = jacobian(prob.covbeta, varpar)
    except (NotPositiveDefinite, np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
        messages.append(f"Satterthwaite degrees of freedom unavailable ({exc}); "
                        "using normal (z) tests")
        p = prob.p
        A = np.zeros((len(varpar), len(varpar)))
        jac = np.zeros((len(varpar), p, p))
    return A, jac, messages


def contrast_test(L, beta, C, jac, A) -> pd.Series:
    est = float(L @ beta)
    var = float(L @ C @ L)
    se = math.sqrt(var) if var > 0 else float("nan")
    g = np.array([float(L @ J @ L) for J in jac])
    denom = float(g @ A @ g)
    df = 2.0 * var * var / denom if denom > 0 else float("inf")
    t = est / se if se > 0 else float("nan")
    p = 2.0 * sps.t.sf(abs(t), df) if np.isfinite(df) else 2.0 * sps.norm.sf(abs(t))
    return pd.Series({"estimate": est, "std_error": se, "df": df, "t": t, "p": p})
