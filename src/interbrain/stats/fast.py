"""Fast exact fits of two mixed models that simulation studies fit thousands of times.

:func:`~interbrain.stats.mixed.lmer` builds the model from a formula with patsy and
works with the full ``(q + p + 1)``-square cross-product matrix. For two model
families the REML/ML deviance reduces to ``p x p`` algebra on sufficient statistics,
which is what a power simulation (:mod:`interbrain.stats.power`) needs:

:class:`BalancedSlopeProblem`
    ``y ~ x + (1 + x | g)`` (any fixed design ``X_s`` with the same columns in the
    random part, ``Z_d = X_d``) when every group is observed at the same ``S``
    values of ``x``, once each: the growth model of a complete study. With
    ``M = (X_s' X_s)^-1``, the per-group OLS coefficients ``b_d``, their
    cross-product ``W = sum_d (b_d - b_bar)(b_d - b_bar)'``, the pooled
    within-group residual sum of squares ``RSS`` and ``A(theta) = T T' + M``::

        ldL2  = D (log|X_s'X_s| + log|A|)
        ldRX2 = p log D - log|A|
        pwrss = RSS + tr(A^-1 W)
        beta  = b_bar                       (GLS equals OLS here)
        vcov(beta) = sigma^2 A / D

:class:`InterceptProblem`
    ``y ~ X + (1 | g)`` with any fixed design and any group sizes: with
    ``w_d = theta^2 / (1 + n_d theta^2)`` and ``s_d`` the group sums of the rows of
    ``X``, ``X'V^-1 X = X'X - sum_d w_d s_d s_d'`` (``V`` in units of ``sigma^2``),
    ``ldL2 = sum_d log(1 + n_d theta^2)``.

Both are the exact deviances of lme4 (same constants), and :func:`fit_reduced`
minimises them with lmer's own optimiser (:func:`~interbrain.stats.mixed.optimise.optimise`,
same start and tolerances) and computes Satterthwaite degrees of freedom with
lmer's numerical derivatives, so estimates, standard errors, df and p-values agree
with :func:`~interbrain.stats.mixed.lmer` to optimiser tolerance (tested in
``tests/test_power.py``), at a fraction of the cost (about 3-6 ms per fit instead of
50-100 ms). No formula parsing, checks or tables: the callers build the arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg as sla
from scipy import stats as sps

from .mixed.optimise import optimise
from .mixed.problem import SINGULAR_TOL
from .mixed.satterthwaite import satterthwaite_parts

__all__ = ["BalancedSlopeProblem", "InterceptProblem", "FastFit", "fit_reduced"]

_LOG2PI = math.log(2.0 * math.pi)


@dataclass
class FastFit:
    """Result of :func:`fit_reduced`.

    Attributes
    ----------
    names : list of str
        Fixed-effect names, length ``p``.
    estimate, std_error, df, t, p : numpy.ndarray
        Per fixed effect, shape ``(p,)``; Satterthwaite df and two-sided p-values.
    theta : numpy.ndarray
        lme4's relative covariance parameters.
    sigma : float
        Residual standard deviation.
    deviance : float
        REML criterion (``reml=True``) or -2 log-likelihood, as lme4's.
    converged, singular : bool
        As :class:`~interbrain.stats.mixed.LmerResult`.
    """

    names: list
    estimate: np.ndarray
    std_error: np.ndarray
    df: np.ndarray
    t: np.ndarray
    p: np.ndarray
    theta: np.ndarray
    sigma: float
    deviance: float
    converged: bool
    singular: bool

    def row(self, name: str) -> dict:
        """``estimate, std_error, df, t, p`` of one fixed effect."""
        j = self.names.index(name)
        return {"estimate": float(self.estimate[j]), "std_error": float(self.std_error[j]),
                "df": float(self.df[j]), "t": float(self.t[j]), "p": float(self.p[j])}


class _ThetaLayout:
    """lme4's theta layout for one random-effects term with ``k`` columns."""

    def __init__(self, k: int):
        self.k = k
        cols_, rows_ = np.triu_indices(k)
        self.tril = (rows_, cols_)
        self.ntheta = k * (k + 1) // 2
        self.theta_slices = [slice(0, self.ntheta)]
        self.tril_idx = [self.tril]
        self.diag_mask = rows_ == cols_
        self.theta0 = self.diag_mask.astype(float)

    def tblocks(self, theta: np.ndarray) -> list[np.ndarray]:
        T = np.zeros((self.k, self.k))
        T[self.tril] = theta
        return [T]


class BalancedSlopeProblem(_ThetaLayout):
    """``y ~ X_s + (X_s | g)`` for groups all observed at the same design rows.

    Parameters
    ----------
    Xs : numpy.ndarray, shape (S, p)
        The design of one group (e.g. columns ``1, session``), the same for every
        group, ``S > p``.
    Y : numpy.ndarray, shape (D, S)
        The response, one row per group, columns in the order of ``Xs``' rows.
    """

    def __init__(self, Xs: np.ndarray, Y: np.ndarray):
        Xs = np.asarray(Xs, dtype=float)
        Y = np.asarray(Y, dtype=float)
        S, p = Xs.shape
        if Y.ndim != 2 or Y.shape[1] != S:
            raise ValueError(f"Y must be groups x {S}, got shape {Y.shape}")
        if S <= p:
            raise ValueError(f"need more observations per group ({S}) than columns ({p})")
        super().__init__(p)
        D = Y.shape[0]
        self.D, self.S, self.p = D, S, p
        self.n = D * S
        XtX = Xs.T @ Xs
        self.M = np.linalg.inv(XtX)
        self.ld_xtx = float(np.linalg.slogdet(XtX)[1])
        B = Y @ Xs @ self.M                     # D x p per-group OLS coefficients
        R = Y - B @ Xs.T
        self.rss = float((R * R).sum())
        self.bbar = B.mean(axis=0)
        dev = B - self.bbar
        self.W = dev.T @ dev
        self.log_d = math.log(D)
        if p == 2:
            self._m00, self._m01, self._m11 = (float(self.M[0, 0]), float(self.M[0, 1]),
                                               float(self.M[1, 1]))
            self._w00, self._w01, self._w11 = (float(self.W[0, 0]), float(self.W[0, 1]),
                                               float(self.W[1, 1]))

    def interior_theta(self, reml: bool) -> np.ndarray | None:
        """The optimum in closed form when it lies inside the parameter space.

        Without constraints the (RE)ML estimates are ``Sigma = W / (D - 1)`` (ML:
        ``W / D``) for the covariance of the ``b_d`` and ``sigma^2 = RSS / (D (S -
        p))``; when ``Sigma / sigma^2 - M`` is positive definite this is the
        optimum of the constrained problem too and ``theta`` is its Cholesky
        factor. Returns None otherwise (the optimum is on the boundary).
        """
        if self.rss <= 0:
            return None
        sigma2 = self.rss / (self.D * (self.S - self.p))
        G = self.W / ((self.D - 1 if reml else self.D) * sigma2) - self.M
        try:
            T = np.linalg.cholesky(G)
        except np.linalg.LinAlgError:
            return None
        theta = T[self.tril]
        if np.any(theta[self.diag_mask] < 1e-3) or not np.all(np.isfinite(theta)):
            return None  # too close to the boundary: let the optimiser decide
        return theta

    def _a(self, theta: np.ndarray) -> np.ndarray:
        T = np.zeros((self.k, self.k))
        T[self.tril] = theta
        return T @ T.T + self.M

    def _parts(self, theta: np.ndarray) -> tuple[float, float, np.ndarray | None]:
        """(log|A|, pwrss, A) at theta (A is None on the scalar two-column path)."""
        if self.p == 2:  # random intercept and slope: scalar algebra, no array calls
            t0, t1, t2 = float(theta[0]), float(theta[1]), float(theta[2])
            a = t0 * t0 + self._m00
            b = t0 * t1 + self._m01
            d = t1 * t1 + t2 * t2 + self._m11
            det = a * d - b * b
            if not det > 0.0:
                raise np.linalg.LinAlgError("A(theta) is not positive definite")
            tr = (d * self._w00 - 2.0 * b * self._w01 + a * self._w11) / det
            return math.log(det), self.rss + tr, None
        T = np.zeros((self.k, self.k))
        T[self.tril] = theta
        A = T @ T.T + self.M
        c = np.linalg.cholesky(A)
        ld_a = 2.0 * float(np.log(np.diagonal(c)).sum())
        z = sla.solve_triangular(c, self.W, lower=True, check_finite=False)
        z = sla.solve_triangular(c, z.T, lower=True, check_finite=False)
        return ld_a, self.rss + float(np.trace(z)), A

    def _logdets(self, ld_a: float) -> tuple[float, float]:
        return self.D * (self.ld_xtx + ld_a), self.p * self.log_d - ld_a

    def deviance(self, theta: np.ndarray, reml: bool) -> float:
        ld_a, pwrss, _ = self._parts(theta)
        ldl2, ldrx2 = self._logdets(ld_a)
        return _profiled(ldl2, ldrx2, pwrss, self.n, self.p, reml)

    def deviance_vp(self, varpar: np.ndarray, reml: bool) -> float:
        ld_a, pwrss, _ = self._parts(varpar[:-1])
        ldl2, ldrx2 = self._logdets(ld_a)
        return _unprofiled(ldl2, ldrx2, pwrss, varpar[-1], self.n, self.p, reml)

    def covbeta(self, varpar: np.ndarray) -> np.ndarray:
        return varpar[-1] ** 2 * self._a(varpar[:-1]) / self.D

    def solution(self, theta: np.ndarray, reml: bool
                 ) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(beta, vcov(beta), sigma, deviance) at theta."""
        ld_a, pwrss, _ = self._parts(theta)
        ldl2, ldrx2 = self._logdets(ld_a)
        sigma2 = pwrss / (self.n - self.p if reml else self.n)
        dev = _profiled(ldl2, ldrx2, pwrss, self.n, self.p, reml)
        return self.bbar.copy(), sigma2 * self._a(theta) / self.D, math.sqrt(sigma2), dev


class InterceptProblem(_ThetaLayout):
    """``y ~ X + (1 | g)``: any fixed design, any group sizes.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, p)
        Fixed-effects design (full column rank).
    y : numpy.ndarray, shape (n,)
    codes : numpy.ndarray of int, shape (n,)
        Group index of every row, ``0 .. m - 1``.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, codes: np.ndarray):
        super().__init__(1)
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        codes = np.asarray(codes, dtype=np.intp)
        n, p = X.shape
        self.n, self.p = n, p
        m = int(codes.max()) + 1
        self.beta_ols, *_ = np.linalg.lstsq(X, y, rcond=None)
        e = y - X @ self.beta_ols
        self.XtX = X.T @ X
        self.Xte = X.T @ e
        self.ee = float(e @ e)
        self.counts = np.bincount(codes, minlength=m).astype(float)
        self.Sx = np.zeros((m, p))
        np.add.at(self.Sx, codes, X)
        self.Se = np.bincount(codes, weights=e, minlength=m)
        self.balanced = bool(np.all(self.counts == self.counts[0]))
        if self.balanced:
            # X'V^-1X = L (I - w K) L' with L L' = X'X and K = L^-1 Sx'Sx L^-T
            # = U diag(lam) U': every quantity is a sum over the p eigenvalues.
            L = np.linalg.cholesky(self.XtX)
            Li = np.linalg.inv(L)
            lam, U = np.linalg.eigh(Li @ (self.Sx.T @ self.Sx) @ Li.T)
            self._lam = lam
            self._V = U.T @ Li                       # xvx^-1 = V' diag(1/d) V
            self._a = self._V @ self.Xte
            self._b = self._V @ (self.Sx.T @ self.Se)
            self._sese = float(self.Se @ self.Se)
            self._ld_xtx = 2.0 * float(np.log(np.diagonal(L)).sum())
            self._n0, self._m = float(self.counts[0]), float(m)

    def _parts(self, theta: np.ndarray):
        """(ldL2, ldRX2, pwrss, state); ``state`` feeds :meth:`_inverse` and
        :meth:`_shift`."""
        t2 = float(theta[0]) ** 2
        if self.balanced:
            w = t2 / (1.0 + self._n0 * t2)
            ldl2 = self._m * math.log1p(self._n0 * t2)
            d = 1.0 - w * self._lam
            if not np.all(d > 0):
                raise np.linalg.LinAlgError("X'V^-1X is not positive definite")
            q = self._a - w * self._b
            ldrx2 = self._ld_xtx + float(np.log(d).sum())
            pwrss = max(self.ee - w * self._sese - float((q * q / d).sum()), 1e-300)
            return ldl2, ldrx2, pwrss, (d, q)
        w = t2 / (1.0 + self.counts * t2)
        ldl2 = float(np.log1p(self.counts * t2).sum())
        xvx = self.XtX - (self.Sx * w[:, None]).T @ self.Sx
        c = self.Xte - self.Sx.T @ (w * self.Se)
        eve = self.ee - float(w @ (self.Se * self.Se))
        R = np.linalg.cholesky(xvx)
        ldrx2 = 2.0 * float(np.log(np.diagonal(R)).sum())
        z = np.linalg.solve(R, c)  # R is lower triangular; p is small
        pwrss = max(eve - float(z @ z), 1e-300)
        return ldl2, ldrx2, pwrss, (R, z)

    def _inverse(self, state) -> np.ndarray:
        """(X'V^-1X)^-1."""
        if self.balanced:
            d = state[0]
            return (self._V.T / d) @ self._V
        Ri = sla.solve_triangular(state[0], np.eye(self.p), lower=True,
                                  check_finite=False)
        return Ri.T @ Ri

    def _shift(self, state) -> np.ndarray:
        """beta - beta_ols."""
        if self.balanced:
            d, q = state
            return self._V.T @ (q / d)
        R, z = state
        return sla.solve_triangular(R.T, z, lower=False, check_finite=False)

    def deviance(self, theta: np.ndarray, reml: bool) -> float:
        ldl2, ldrx2, pwrss, _ = self._parts(theta)
        return _profiled(ldl2, ldrx2, pwrss, self.n, self.p, reml)

    def deviance_vp(self, varpar: np.ndarray, reml: bool) -> float:
        ldl2, ldrx2, pwrss, _ = self._parts(varpar[:-1])
        return _unprofiled(ldl2, ldrx2, pwrss, varpar[-1], self.n, self.p, reml)

    def covbeta(self, varpar: np.ndarray) -> np.ndarray:
        return varpar[-1] ** 2 * self._inverse(self._parts(varpar[:-1])[3])

    def solution(self, theta: np.ndarray, reml: bool
                 ) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(beta, vcov(beta), sigma, deviance) at theta."""
        ldl2, ldrx2, pwrss, state = self._parts(theta)
        beta = self.beta_ols + self._shift(state)
        sigma2 = pwrss / (self.n - self.p if reml else self.n)
        dev = _profiled(ldl2, ldrx2, pwrss, self.n, self.p, reml)
        return beta, sigma2 * self._inverse(state), math.sqrt(sigma2), dev


def _profiled(ldl2: float, ldrx2: float, pwrss: float, n: int, p: int,
              reml: bool) -> float:
    """lme4's profiled REML criterion / ML deviance."""
    if reml:
        nmp = n - p
        return ldl2 + ldrx2 + nmp * (1.0 + _LOG2PI + math.log(pwrss / nmp))
    return ldl2 + n * (1.0 + _LOG2PI + math.log(pwrss / n))


def _unprofiled(ldl2: float, ldrx2: float, pwrss: float, sigma: float, n: int, p: int,
                reml: bool) -> float:
    """(RE)ML deviance at (theta, sigma) with sigma not profiled (lmerTest's)."""
    s2 = sigma * sigma
    dev = ldl2 + pwrss / s2 + n * math.log(2.0 * math.pi * s2)
    if reml:
        dev += ldrx2 - p * math.log(2.0 * math.pi * s2)
    return dev


def fit_reduced(prob: BalancedSlopeProblem | InterceptProblem, names, *,
                reml: bool = True, satterthwaite: bool = True) -> FastFit:
    """Fit a reduced problem as :func:`~interbrain.stats.mixed.lmer` would.

    Parameters
    ----------
    prob : BalancedSlopeProblem or InterceptProblem
    names : sequence of str
        Names of the ``p`` fixed effects (in the order of the design's columns).
    reml : bool
        REML (default) or ML.
    satterthwaite : bool
        Compute Satterthwaite df (default); ``False`` gives normal (z) tests and
        skips the numerical derivatives.
    """
    theta = prob.interior_theta(reml) if hasattr(prob, "interior_theta") else None
    ok = True
    if theta is None:
        theta, _, ok, _ = optimise(prob, reml)
    theta = np.where(prob.diag_mask & (np.abs(theta) < 1e-14), 0.0, theta)
    beta, C, sigma, dev = prob.solution(theta, reml)
    p = prob.p
    if satterthwaite:
        A, jac, _ = satterthwaite_parts(prob, theta, sigma, reml)
    else:
        A, jac = np.zeros((len(theta) + 1,) * 2), np.zeros((len(theta) + 1, p, p))
    # lmerTest's contest1D for every unit contrast at once (see lmer._contest1d)
    var = np.diagonal(C).copy()
    se = np.where(var > 0, np.sqrt(np.abs(var)), np.nan)
    g = np.stack([np.diagonal(J) for J in jac], axis=0)      # r x p: d var_j / d vp
    denom = np.einsum("rj,rs,sj->j", g, A, g)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(denom > 0, 2.0 * var * var / denom, np.inf)
        t = np.where(se > 0, beta / se, np.nan)
    pval = np.where(np.isfinite(df), 2.0 * sps.t.sf(np.abs(t), np.where(
        np.isfinite(df), df, 1.0)), 2.0 * sps.norm.sf(np.abs(t)))
    return FastFit(names=list(names), estimate=np.asarray(beta, float), std_error=se,
                   df=df, t=t, p=pval, theta=theta, sigma=float(sigma),
                   deviance=float(dev), converged=bool(ok),
                   singular=bool(np.any(theta[prob.diag_mask] < SINGULAR_TOL)))
