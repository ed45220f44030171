"""Kenward-Roger small-sample inference for fixed effects, as R's pbkrtest.

Kenward & Roger (1997, Biometrics 53(3), 983-997), in the form of pbkrtest 0.5-2
(Halekoh & Hojsgaard 2014, J. Stat. Softw. 59(9)): ``vcovAdj`` for the adjusted
covariance of ``beta`` and ``Lb_ddf`` for the denominator degrees of freedom of a
contrast; lmerTest's ``summary(fit, ddf = "Kenward-Roger")`` reports the standard
errors from the adjusted covariance and these degrees of freedom.

The marginal covariance of ``y`` is written linearly in the variance parameters,
``Sigma = sum_k gamma_k G_k``: for each random-effects term the entries of its
covariance matrix (variances and covariances, lower triangle column by column as
``VarCorr``), then the residual variance, with ``G_k = d Sigma / d gamma_k``
(``Z_t (I_m (x) E_ij) Z_t'`` for term ``t`` and entry ``(i, j)``, and ``I_n``).
With ``Phi = (X' Sigma^-1 X)^-1`` (lme4's ``vcov``), ``P_k = -X' Sigma^-1 G_k
Sigma^-1 X`` and ``Q_kl = X' Sigma^-1 G_k Sigma^-1 G_l Sigma^-1 X``::

    I_kl = tr(Sigma^-1 G_k Sigma^-1 G_l) - 2 tr(Phi Q_kl) + tr(Phi P_k Phi P_l)
    W    = 2 I^-1           (generalised inverse when I is near singular)
    U    = sum_kl W_kl (Q_kl - P_k Phi P_l)
    Phi_A = Phi + 2 Phi U Phi

(``I`` is twice the expected REML information of ``gamma``; the second-derivative
terms of Kenward and Roger vanish because ``Sigma`` is linear in ``gamma``.)
The degrees of freedom of a contrast matrix ``L`` (``q x p``) follow Kenward and
Roger's moment matching with ``Theta = L' (L Phi L')^-1 L`` (:func:`lb_ddf`).

Only REML fits are supported (Kenward and Roger's derivation is for REML; lmerTest
refuses ML fits, pbkrtest refits them by REML).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg as sla
from scipy import stats as sps

__all__ = ["KenwardRoger", "kenward_roger", "marginal_covariance", "lb_ddf"]

#: pbkrtest's threshold on the smallest absolute eigenvalue of ``I`` below which
#: ``W`` is computed with a generalised inverse.
GINV_THRESHOLD = 1e-10


@dataclass(frozen=True)
class KenwardRoger:
    """Kenward-Roger ingredients of one REML fit (see the module notes).

    Attributes
    ----------
    vcov : numpy.ndarray
        ``Phi``, the unadjusted covariance of ``beta``, shape ``(p, p)``.
    vcov_adjusted : numpy.ndarray
        ``Phi_A``, the Kenward-Roger adjusted covariance, shape ``(p, p)``
        (pbkrtest's ``vcovAdj``).
    P : numpy.ndarray
        ``P_k``, shape ``(r, p, p)`` for the ``r`` variance parameters.
    W : numpy.ndarray
        ``W = 2 I^-1``, shape ``(r, r)``: the asymptotic covariance of the variance
        parameters ``gamma``.
    condition : float
        Smallest absolute eigenvalue of ``I`` (pbkrtest's ``condi``); below
        :data:`GINV_THRESHOLD` a generalised inverse was used.
    """

    vcov: np.ndarray
    vcov_adjusted: np.ndarray
    P: np.ndarray
    W: np.ndarray
    condition: float

    def ddf(self, L) -> float:
        """Denominator degrees of freedom of ``L beta`` (:func:`lb_ddf`)."""
        return lb_ddf(L, self.vcov, self.P, self.W)

    def contrast(self, L, beta) -> pd.Series:
        """t-test of one contrast ``l' beta = 0`` as lmerTest's ``contest1D`` with
        ``ddf = "Kenward-Roger"``.

        Parameters
        ----------
        L : array-like, shape (p,)
            Weights of the fixed effects.
        beta : array-like, shape (p,)
            Fixed-effect estimates.

        Returns
        -------
        pandas.Series
            ``estimate, std_error, df, t, p``: the standard error from
            :attr:`vcov_adjusted`, Kenward-Roger df and the two-sided p-value.
        """
        vec = np.asarray(L, dtype=float).ravel()
        est = float(vec @ np.asarray(beta, dtype=float))
        var = float(vec @ self.vcov_adjusted @ vec)
        se = math.sqrt(var) if var > 0 else float("nan")
        df = self.ddf(vec)
        t = est / se if se > 0 else float("nan")
        if np.isfinite(df) and df > 0:
            p = 2.0 * sps.t.sf(abs(t), df)
        else:
            p = float("nan")
        return pd.Series({"estimate": est, "std_error": se, "df": df, "t": t, "p": p})


def marginal_covariance(prob, theta: np.ndarray, sigma: float
                        ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """``Sigma = Var(y)`` of a fitted model and its derivatives (pbkrtest's
    ``get_SigmaG``).

    Parameters
    ----------
    prob : Problem
        The model (:class:`~interbrain.stats.mixed.problem.Problem`: ``Z``,
        ``blocks``, ``tblocks(theta)``).
    theta : numpy.ndarray, shape (ntheta,)
        lme4's relative covariance parameters at the optimum.
    sigma : float
        Residual standard deviation.

    Returns
    -------
    Sigma : numpy.ndarray, shape (n, n)
    G : list of numpy.ndarray, each (n, n)
        ``d Sigma / d gamma_k``: per term the entries ``(i, j), i >= j`` of its
        covariance matrix (column by column), then the residual variance.
    gamma : numpy.ndarray, shape (r,)
        The variance parameters (``VarCorr`` entries, then ``sigma^2``).
    """
    Z = prob.Z.toarray() if hasattr(prob.Z, "toarray") else np.asarray(prob.Z)
    n = Z.shape[0]
    s2 = sigma * sigma
    G: list[np.ndarray] = []
    gamma: list[float] = []
    Sigma = s2 * np.eye(n)
    for sl, T, (m, k), (rows_, cols_) in zip(prob.col_slices, prob.tblocks(theta),
                                             prob.sizes, prob.tril_idx):
        Zt = Z[:, sl]
        # the columns of component c are c, c + k, c + 2k, ... (level-major)
        comps = [Zt[:, c::k] for c in range(k)]
        S = s2 * (T @ T.T)
        for i, j in zip(rows_, cols_):
            Gk = comps[i] @ comps[j].T
            if i != j:
                Gk = Gk + Gk.T
            G.append(Gk)
            gamma.append(float(S[i, j]))
            Sigma += S[i, j] * Gk
    G.append(np.eye(n))
    gamma.append(s2)
    return Sigma, G, np.array(gamma)


def kenward_roger(prob, theta: np.ndarray, sigma: float, vcov: np.ndarray
                  ) -> KenwardRoger:
    """Kenward-Roger adjusted covariance of ``beta`` (pbkrtest's ``vcovAdj``).

    Parameters
    ----------
    prob : Problem
        The model (``X``, ``Z`` and the random-effects layout).
    theta : numpy.ndarray, shape (ntheta,)
        Relative covariance parameters of the REML fit.
    sigma : float
        Residual standard deviation of the REML fit.
    vcov : numpy.ndarray, shape (p, p)
        ``Phi``, the unadjusted covariance of ``beta`` (lme4's ``vcov``).

    Returns
    -------
    KenwardRoger

    Raises
    ------
    numpy.linalg.LinAlgError
        When ``Sigma`` is not positive definite (``sigma = 0``).
    """
    X = np.asarray(prob.X, dtype=float)
    Phi = np.asarray(vcov, dtype=float)
    Sigma, G, _ = marginal_covariance(prob, theta, sigma)
    chol = sla.cho_factor(Sigma, lower=True, check_finite=False)
    Sinv = sla.cho_solve(chol, np.eye(Sigma.shape[0]), check_finite=False)
    Sinv = (Sinv + Sinv.T) / 2.0
    SinvX = Sinv @ X                                   # n x p
    H = [Gk @ Sinv for Gk in G]                        # G_k Sigma^-1
    O = np.stack([Hk @ X for Hk in H])                 # r x n x p
    SinvO = np.einsum("ij,rjp->rip", Sinv, O)          # Sigma^-1 G_k Sigma^-1 X
    P = -np.einsum("rnp,nq->rpq", O, SinvX)
    P = (P + np.transpose(P, (0, 2, 1))) / 2.0         # forceSymmetric
    Q = np.einsum("rnp,snq->rspq", O, SinvO)           # Q[k, l] = O_k' Sigma^-1 O_l
    K = np.einsum("rij,sji->rs", H, H)                 # tr(H_k H_l)
    PhiP = np.einsum("ij,rjk->rik", Phi, P)            # Phi P_k
    info = (K - 2.0 * np.einsum("ij,rsij->rs", Phi, Q)
            + np.einsum("rij,sji->rs", PhiP, PhiP))
    info = (info + info.T) / 2.0
    condition = float(np.min(np.abs(np.linalg.eigvalsh(info))))
    if condition > GINV_THRESHOLD:
        W = 2.0 * np.linalg.inv(info)
    else:
        # MASS::ginv: singular values above sqrt(eps) times the largest
        W = 2.0 * np.linalg.pinv(info, rcond=math.sqrt(np.finfo(float).eps))
    W = (W + W.T) / 2.0
    # U = sum_kl W_kl (Q_kl - P_k Phi P_l)
    PPhiP = np.einsum("rij,sjk->rsik", P, PhiP)
    U = np.einsum("rs,rsij->ij", W, Q - PPhiP)
    U = (U + U.T) / 2.0
    adjusted = Phi + 2.0 * Phi @ U @ Phi
    return KenwardRoger(vcov=Phi, vcov_adjusted=(adjusted + adjusted.T) / 2.0, P=P,
                        W=W, condition=condition)


def lb_ddf(L, vcov: np.ndarray, P: np.ndarray, W: np.ndarray) -> float:
    """Kenward-Roger denominator degrees of freedom of ``L beta`` (pbkrtest's
    ``Lb_ddf``).

    Parameters
    ----------
    L : array-like, shape (p,) or (q, p)
        Contrast vector or matrix of full row rank ``q``.
    vcov : numpy.ndarray, shape (p, p)
        ``Phi``, the unadjusted covariance of ``beta``.
    P : numpy.ndarray, shape (r, p, p)
        ``P_k`` (:attr:`KenwardRoger.P`).
    W : numpy.ndarray, shape (r, r)
        ``W`` (:attr:`KenwardRoger.W`).

    Returns
    -------
    float
        The denominator degrees of freedom of the scaled F test (the t-test's df
        when ``q = 1``).
    """
    Lm = np.atleast_2d(np.asarray(L, dtype=float))
    V0 = np.asarray(vcov, dtype=float)
    if Lm.shape[1] != V0.shape[0]:
        raise ValueError(f"L needs {V0.shape[0]} columns (one per fixed effect), got "
                         f"{Lm.shape[1]}")
    q = Lm.shape[0]
    Theta = Lm.T @ np.linalg.solve(Lm @ V0 @ Lm.T, Lm)
    ThetaV0 = Theta @ V0
    u = np.einsum("ij,rjk,kl->ril", ThetaV0, P, V0)     # Theta V0 P_k V0
    tr = np.einsum("rii->r", u)
    cross = np.einsum("rij,sji->rs", u, u)              # tr(u_k u_l)
    A1 = np.float64(np.sum(W * np.outer(tr, tr)))
    A2 = np.float64(np.sum(W * cross))
    with np.errstate(divide="ignore", invalid="ignore"):
        B = (A1 + 6.0 * A2) / (2.0 * q)
        g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
        denom = 3 * q + 2 * (1 - g)
        c1, c2, c3 = g / denom, (q - g) / denom, (q + 2 - g) / denom
        V0_ = 1.0 + c1 * B
        V1 = 1.0 - c2 * B
        V2 = 1.0 - c3 * B
        V0_ = 0.0 if abs(V0_) < 1e-10 else V0_
        num = 1.0 - A2 / q
        ratio = 1.0 if (abs(num) < 1e-14 and abs(V1) < 1e-14) else num / V1
        rho = ratio ** 2 * V0_ / V2 / q
        return float(4.0 + (q + 2) / (q * rho - 1.0))
