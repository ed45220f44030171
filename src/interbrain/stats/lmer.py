"""Linear mixed models fitted as R's ``lme4::lmer`` with ``lmerTest`` inference.

The model is ``y = X beta + Z b + e`` with ``b ~ N(0, sigma^2 Lambda Lambda')`` and
``e ~ N(0, sigma^2 I)``. ``Lambda(theta)`` is block diagonal: for each random-effects
term ``(expr | g)`` with ``k`` columns and ``m`` levels it holds ``I_m (x) T`` with
``T`` a lower-triangular ``k x k`` factor whose entries (column-major lower triangle,
as in lme4) are the term's part of ``theta``.

For given ``theta`` the penalised least-squares problem is solved through the
``q x q`` Cholesky factor ``L L' = Lambda' Z' Z Lambda + I`` and the ``p x p`` factor
``R_X R_X' = X' X - R_ZX' R_ZX``; ``beta`` and ``sigma`` are profiled out and the
(RE)ML deviance of Bates, Maechler, Bolker & Walker (2015, J. Stat. Softw. 67(1),
eqs. 34 and 41) is minimised over ``theta``. lme4 bounds the diagonal entries at 0;
since the deviance depends on each ``T`` only through ``T T'``, we search over
unconstrained factors and flip column signs afterwards, which reaches the same
optimum but cannot stall on the boundary (see ``_optimise``).

Denominator degrees of freedom follow Satterthwaite's method as implemented in
lmerTest (Kuznetsova, Brockhoff & Christensen 2017, J. Stat. Softw. 82(13)): the
variance parameters are ``(theta, sigma)``; their asymptotic covariance is
``A = 2 H^-1`` with ``H`` the Hessian of the (RE)ML deviance at the optimum, and for
a contrast ``l`` with ``v = l' C l`` (``C = vcov(beta)``), ``df = 2 v^2 / (g' A g)``,
``g`` the gradient of ``v`` in the variance parameters. Derivatives are numerical
(Richardson extrapolation, as numDeriv's defaults used by lmerTest).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy
from scipy import linalg as sla
from scipy import optimize
from scipy import sparse
from scipy import stats as sps

from .formula import (ModelFrame, RandomBlock, build_model, label_formula, parse_formula,
                      safe_eval_env)

try:  # tiny BLAS calls are much slower with threads on a busy machine
    from threadpoolctl import ThreadpoolController as _ThreadpoolController
except ImportError:  # pragma: no cover - optional
    _ThreadpoolController = None

__all__ = ["lmer", "LmerResult", "within_between", "likelihood_ratio_test",
           "LRTResult"]

_LOG2PI = math.log(2.0 * math.pi)
_SINGULAR_TOL = 1e-4  # lme4's isSingular() tolerance on theta's diagonal
_CONTROLLER = None


def _single_blas_thread():
    """Context limiting BLAS to one thread (the matrices here are tiny)."""
    global _CONTROLLER
    if _ThreadpoolController is None:
        return contextlib.nullcontext()
    if _CONTROLLER is None:
        try:
            _CONTROLLER = _ThreadpoolController()
        except Exception:  # pragma: no cover - defensive
            _CONTROLLER = False
    if _CONTROLLER is False:
        return contextlib.nullcontext()
    return _CONTROLLER.limit(limits=1, user_api="blas")


# ---------------------------------------------------------------------------
# penalised least squares for given theta
# ---------------------------------------------------------------------------

@dataclass
class _PLS:
    L: np.ndarray          # q x q lower Cholesky factor of Lambda'Z'Z Lambda + I
    RZX: np.ndarray        # q x p
    RX: np.ndarray         # p x p lower, RX RX' = X'V^{-1}X (unscaled)
    cu: np.ndarray
    cb: np.ndarray
    pwrss: float           # penalised weighted residual sum of squares
    ldL2: float
    ldRX2: float


class _Problem:
    """Cross-products and Lambda(theta) bookkeeping of one model.

    Everything is computed from ``P = [Z X e]'[Z X e]`` ((q+p+1) square, ``e`` the
    OLS residual of ``y``): with ``D = diag(Lambda, I)`` the lower Cholesky factor
    of ``D' P D + diag(I_q, 0)`` holds ``L``, ``R_ZX'``, ``R_X``, ``c_u'``, ``c_beta'``
    and ``sqrt(pwrss)`` as its blocks (Bates et al. 2015, sec. 3.6).
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, blocks: list[RandomBlock]):
        n, p = X.shape
        self.n, self.p = n, p
        self.X, self.y = X, y
        self.blocks = blocks
        # theta layout and Z column offsets
        self.sizes: list[tuple[int, int]] = []  # (levels m, columns k)
        self.theta_slices: list[slice] = []
        self.tril_idx: list[tuple[np.ndarray, np.ndarray]] = []
        self.col_slices: list[slice] = []
        lower: list[float] = []
        start = 0
        col = 0
        for blk in blocks:
            m, k = blk.n_levels, blk.n_cols
            self.sizes.append((m, k))
            # column-major lower triangle (R's lower.tri order)
            cols_, rows_ = np.triu_indices(k)
            self.tril_idx.append((rows_, cols_))
            nt = k * (k + 1) // 2
            self.theta_slices.append(slice(start, start + nt))
            lower.extend(0.0 if r == c else -np.inf for r, c in zip(rows_, cols_))
            start += nt
            self.col_slices.append(slice(col, col + m * k))
            col += m * k
        q = self.q = col
        self.ntheta = start
        self.lower = np.array(lower)
        self.diag_mask = np.isfinite(self.lower)
        self.all_scalar = all(k == 1 for _, k in self.sizes)
        theta0 = np.zeros(self.ntheta)
        theta0[self.diag_mask] = 1.0
        self.theta0 = theta0
        if self.all_scalar:
            self._rep = np.repeat(np.arange(len(blocks)), [m for m, _ in self.sizes])

        # Z (n x q): column = offset + level * k + c
        rows = np.repeat(np.arange(n), sum(k for _, k in self.sizes))
        cols = np.concatenate([sl.start + blk.codes[:, None] * k + np.arange(k)[None, :]
                               for blk, sl, (m, k) in zip(blocks, self.col_slices,
                                                           self.sizes)], axis=1).ravel()
        vals = np.concatenate([blk.X for blk in blocks], axis=1).ravel()
        # The PLS solution is linear in y and X beta is unpenalised: work with the OLS
        # residual e of y (beta then shifts by beta_ols), which avoids cancellation in
        # pwrss = e'e - |c_u|^2 - |c_beta|^2.
        self.beta_ols, *_ = np.linalg.lstsq(X, y, rcond=None)
        e = y - X @ self.beta_ols
        Xe = np.column_stack([X, e])
        if n * q <= 4_000_000:
            Z = np.zeros((n, q))
            np.add.at(Z, (rows, cols), vals)
            ZtZ = Z.T @ Z
        else:
            Z = sparse.csr_matrix((vals, (rows, cols)), shape=(n, q))
            ZtZ = (Z.T @ Z).toarray()
        self.Z = Z
        ZtXe = np.asarray(Z.T @ Xe)
        P = np.empty((q + p + 1, q + p + 1))
        P[:q, :q] = ZtZ
        P[:q, q:] = ZtXe
        P[q:, :q] = ZtXe.T
        P[q:, q:] = Xe.T @ Xe
        self.P = P
        self._qdiag = (np.arange(q), np.arange(q))
        self._dvec = np.ones(q + p + 1)
        self._eye_p = np.eye(p)

    # -- Lambda -------------------------------------------------------------
    def tblocks(self, theta: np.ndarray) -> list[np.ndarray]:
        out = []
        for sl, (rows_, cols_), (m, k) in zip(self.theta_slices, self.tril_idx,
                                               self.sizes):
            T = np.zeros((k, k))
            T[rows_, cols_] = theta[sl]
            out.append(T)
        return out

    def lam_diag(self, theta: np.ndarray) -> np.ndarray:
        """Diagonal of Lambda when every term is scalar."""
        return theta[self._rep]

    def lam_times(self, u: np.ndarray, Ts: list[np.ndarray]) -> np.ndarray:
        """Lambda u for a vector u."""
        out = np.empty_like(u)
        for sl, T, (m, k) in zip(self.col_slices, Ts, self.sizes):
            out[sl] = (u[sl].reshape(m, k) @ T.T).ravel()
        return out

    def _system(self, theta: np.ndarray) -> np.ndarray:
        """D' P D + diag(I_q, 0) for theta."""
        q = self.q
        if self.all_scalar:
            d = self._dvec.copy()
            d[:q] = theta[self._rep]
            A = self.P * np.outer(d, d)
        else:
            A = self.P.copy()
            R = A.shape[0]
            for sl, T, (m, k) in zip(self.col_slices, self.tblocks(theta), self.sizes):
                A[sl] = (T.T @ A[sl].reshape(m, k, R)).reshape(m * k, R)
            for sl, T, (m, k) in zip(self.col_slices, self.tblocks(theta), self.sizes):
                A[:, sl] = (A[:, sl].reshape(R, m, k) @ T).reshape(R, m * k)
        A[self._qdiag] += 1.0
        return A

    # -- PLS ------------------------------------------------------------------
    def factor(self, theta: np.ndarray) -> tuple[float, float, float, np.ndarray]:
        """(ldL2, ldRX2, pwrss, full factor) at theta."""
        q, p = self.q, self.p
        A = self._system(theta)
        try:
            F = np.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            # pwrss ~ 0 (or X'V^-1X singular): factor without the response
            try:
                F = np.linalg.cholesky(A[:-1, :-1])
            except np.linalg.LinAlgError:
                raise _NotPD() from None
            c = sla.solve_triangular(F, A[:-1, -1], lower=True, check_finite=False)
            r2 = max(float(A[-1, -1] - c @ c), 1e-300)
            F = np.block([[F, np.zeros((q + p, 1))], [c[None, :],
                                                      np.array([[math.sqrt(r2)]])]])
        dg = np.diagonal(F)
        ldL2 = 2.0 * float(np.log(dg[:q]).sum())
        ldRX2 = 2.0 * float(np.log(dg[q:q + p]).sum())
        return ldL2, ldRX2, float(dg[-1] ** 2), F

    def pls(self, theta: np.ndarray) -> _PLS:
        q, p = self.q, self.p
        ldL2, ldRX2, pwrss, F = self.factor(theta)
        return _PLS(L=F[:q, :q], RZX=F[q:q + p, :q].T, RX=F[q:q + p, q:q + p],
                    cu=F[-1, :q], cb=F[-1, q:q + p], pwrss=pwrss, ldL2=ldL2,
                    ldRX2=ldRX2)

    def beta(self, s: _PLS) -> np.ndarray:
        beta_e = sla.solve_triangular(s.RX.T, s.cb, lower=False, check_finite=False)
        return beta_e + self.beta_ols

    def conditional_modes(self, theta: np.ndarray, s: _PLS) -> tuple[np.ndarray,
                                                                     np.ndarray]:
        """Spherical u and b = Lambda u at theta."""
        beta_e = self.beta(s) - self.beta_ols
        u = sla.solve_triangular(s.L.T, s.cu - s.RZX @ beta_e, lower=False,
                                 check_finite=False)
        if self.all_scalar:
            b = self.lam_diag(theta) * u
        else:
            b = self.lam_times(u, self.tblocks(theta))
        return u, b

    def deviance(self, theta: np.ndarray, reml: bool) -> float:
        try:
            ldL2, ldRX2, pwrss, _ = self.factor(theta)
        except _NotPD:
            return np.inf
        return self.profiled(ldL2, ldRX2, pwrss, reml)

    def profiled(self, ldL2: float, ldRX2: float, pwrss: float, reml: bool) -> float:
        if reml:
            nmp = self.n - self.p
            return ldL2 + ldRX2 + nmp * (1.0 + _LOG2PI + math.log(pwrss / nmp))
        n = self.n
        return ldL2 + n * (1.0 + _LOG2PI + math.log(pwrss / n))

    def deviance_vp(self, varpar: np.ndarray, reml: bool) -> float:
        """(RE)ML deviance at (theta, sigma), sigma not profiled (lmerTest's)."""
        theta, sigma = varpar[:-1], varpar[-1]
        ldL2, ldRX2, pwrss, _ = self.factor(theta)
        s2 = sigma * sigma
        dev = ldL2 + pwrss / s2 + self.n * math.log(2.0 * math.pi * s2)
        if reml:
            dev += ldRX2 - self.p * math.log(2.0 * math.pi * s2)
        return dev

    def covbeta(self, varpar: np.ndarray) -> np.ndarray:
        theta, sigma = varpar[:-1], varpar[-1]
        q, p = self.q, self.p
        F = self.factor(theta)[3]
        RXi = sla.solve_triangular(F[q:q + p, q:q + p], self._eye_p, lower=True,
                                   check_finite=False)
        return sigma * sigma * (RXi.T @ RXi)


class _NotPD(Exception):
    pass


# ---------------------------------------------------------------------------
# numerical derivatives (Richardson extrapolation as numDeriv)
# ---------------------------------------------------------------------------

_ZERO_TOL = math.sqrt(np.finfo(float).eps / 7e-7)


def _richardson(a: list, r: int, v: float = 2.0):
    a = list(a)
    for m in range(1, r):
        f = v ** (2 * m)
        a = [(a[k + 1] * f - a[k]) / (f - 1.0) for k in range(len(a) - 1)]
    return a[0]


def _jacobian(func, x: np.ndarray, d: float = 1e-4, eps: float = 1e-4,
              r: int = 4, v: float = 2.0) -> np.ndarray:
    """Jacobian of array-valued func: shape (len(x),) + func(x).shape."""
    x = np.asarray(x, dtype=float)
    h0 = np.abs(d * x) + eps * (np.abs(x) < _ZERO_TOL)
    out = []
    for i in range(len(x)):
        h = h0[i]
        approx = []
        for _ in range(r):
            xp = x.copy()
            xm = x.copy()
            xp[i] += h
            xm[i] -= h
            approx.append((func(xp) - func(xm)) / (2.0 * h))
            h /= v
        out.append(_richardson(approx, r, v))
    return np.array(out)


def _hessian(func, x: np.ndarray, d: float = 0.1, eps: float = 1e-4, r: int = 4,
             v: float = 2.0) -> np.ndarray:
    """Hessian of a scalar function (numDeriv::genD's scheme)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    f0 = func(x)
    h0 = np.abs(d * x) + eps * (np.abs(x) < _ZERO_TOL)
    H = np.zeros((n, n))
    for i in range(n):
        h = h0.copy()
        approx = []
        for _ in range(r):
            e = np.zeros(n)
            e[i] = h[i]
            approx.append((func(x + e) - 2.0 * f0 + func(x - e)) / h[i] ** 2)
            h = h / v
        H[i, i] = _richardson(approx, r, v)
    for i in range(n):
        for j in range(i):
            h = h0.copy()
            approx = []
            for _ in range(r):
                e = np.zeros(n)
                e[i] = h[i]
                e[j] = h[j]
                approx.append((func(x + e) - 2.0 * f0 + func(x - e)
                               - H[i, i] * h[i] ** 2 - H[j, j] * h[j] ** 2)
                              / (2.0 * h[i] * h[j]))
                h = h / v
            H[i, j] = H[j, i] = _richardson(approx, r, v)
    return H


# ---------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------

class LmerResult:
    """A fitted linear mixed model (see :func:`lmer`).

    Attributes
    ----------
    coefficients : pandas.DataFrame
        Index: fixed-effect term (lme4 naming, ``(Intercept)``); columns
        ``estimate, std_error, df, t, p`` with Satterthwaite df and two-sided p.
    variance_components : pandas.DataFrame
        As R's ``as.data.frame(VarCorr(fit))``: ``grp, var1, var2, vcov, sdcor``.
    loglik : float
        REML (``reml=True``) or ML log-likelihood, as lme4's ``logLik``.
    reml : bool
    nobs : int
    ngroups : dict[str, int]
        Number of levels of each grouping factor.
    formula : str
    converged : bool
    singular : bool
        A variance parameter is on the boundary (lme4's ``isSingular``).
    theta : numpy.ndarray
        Relative covariance factor parameters (lme4's ``getME(fit, "theta")``).
    sigma : float
        Residual standard deviation.
    fitted, residuals : pandas.Series
        Conditional fitted values ``X beta + Z b`` and ``y`` minus them.
    random_effects : dict[str, pandas.DataFrame]
        Conditional modes (BLUPs) per grouping factor: one row per level, one
        column per random effect (lme4's ``ranef``).
    vcov : pandas.DataFrame
        Covariance matrix of the fixed effects.
    aic, bic : float
    messages : list[str]
        Notes on the fit (singular fit, Hessian problems, optimiser messages).
    labels : dict[str, str]
        Internal column name -> the user's name, for columns the caller renamed to
        internal names before fitting (e.g. a measure called ``session quality``
        fitted as ``measure``); empty when none was.
    """

    def __init__(self, **kw):
        self.labels = {}
        self.__dict__.update(kw)

    @property
    def labelled_formula(self) -> str:
        """:attr:`formula` with internal column names shown as the user's names
        (between backticks where they are not plain identifiers)."""
        return label_formula(self.formula, self.labels)

    @property
    def fixed_effects(self) -> pd.Series:
        return self.coefficients["estimate"]

    @property
    def npar(self) -> int:
        """Number of parameters: fixed effects, theta and sigma."""
        return len(self.coefficients) + len(self.theta) + 1

    @property
    def deviance(self) -> float:
        """-2 log-likelihood (the REML criterion for a REML fit)."""
        return -2.0 * self.loglik

    def contrast(self, L) -> pd.Series:
        """Satterthwaite t-test of one linear combination ``L' beta`` (= 0).

        ``L`` is a vector over the fixed effects, or a dict ``{term: weight}``.
        Returns ``estimate, std_error, df, t, p`` (as lmerTest's ``contest1D``).
        """
        names = list(self.coefficients.index)
        if isinstance(L, dict):
            unknown = [k for k in L if k not in names]
            if unknown:
                raise ValueError(f"unknown fixed-effect term(s) {unknown}; terms are "
                                 f"{names}")
            vec = np.array([float(L.get(nm, 0.0)) for nm in names])
        else:
            vec = np.asarray(L, dtype=float).ravel()
            if vec.shape != (len(names),):
                raise ValueError(f"contrast needs {len(names)} weights (terms {names}),"
                                 f" got {vec.shape[0]}")
        return _contest1d(vec, self.coefficients["estimate"].to_numpy(),
                          self.vcov.to_numpy(), self._jac_vcov, self._vcov_varpar)

    def summary(self) -> str:
        """A text summary in the spirit of R's ``summary(lmerTest fit)``."""
        crit = "REML criterion" if self.reml else "-2 log-likelihood"
        lines = [f"Linear mixed model fit by {'REML' if self.reml else 'ML'}; "
                 "t-tests use Satterthwaite's method",
                 f"Formula: {self.labelled_formula}",
                 f"{crit}: {self.deviance:.4f}   AIC: {self.aic:.4f}   "
                 f"BIC: {self.bic:.4f}",
                 f"Observations: {self.nobs}; groups: "
                 + ", ".join(f"{g} {n}" for g, n in self.ngroups.items()),
                 "", "Random effects:",
                 self.variance_components.to_string(index=False), "",
                 "Fixed effects:", self.coefficients.to_string()]
        if self.messages:
            lines += ["", *self.messages]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<LmerResult {self.formula!r} {'REML' if self.reml else 'ML'} "
                f"loglik={self.loglik:.4f} nobs={self.nobs}>")


def _contest1d(L, beta, C, jac, A) -> pd.Series:
    est = float(L @ beta)
    var = float(L @ C @ L)
    se = math.sqrt(var) if var > 0 else float("nan")
    g = np.array([float(L @ J @ L) for J in jac])
    denom = float(g @ A @ g)
    df = 2.0 * var * var / denom if denom > 0 else float("inf")
    t = est / se if se > 0 else float("nan")
    p = 2.0 * sps.t.sf(abs(t), df) if np.isfinite(df) else 2.0 * sps.norm.sf(abs(t))
    return pd.Series({"estimate": est, "std_error": se, "df": df, "t": t, "p": p})


# ---------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------

def _check_design(frame: ModelFrame) -> None:
    X = frame.X
    n, p = X.shape
    if p == 0:
        return
    if n <= p:
        raise ValueError(f"singular fixed-effects design: {p} columns but only {n} "
                         "observations")
    scale = np.sqrt((X * X).sum(axis=0))
    zero = scale == 0
    if zero.any():
        bad = [frame.fixed_names[j] for j in np.nonzero(zero)[0]]
        raise ValueError(f"singular fixed-effects design: column(s) {bad} are all "
                         "zero")
    _, R, piv = sla.qr(X / scale, mode="economic", pivoting=True, check_finite=False)
    d = np.abs(np.diagonal(R))
    tol = d[0] * max(n, p) * np.finfo(float).eps * 1e3
    rank = int((d > tol).sum())
    if rank < p:
        bad = [frame.fixed_names[j] for j in piv[rank:]]
        raise ValueError(
            f"singular fixed-effects design (rank {rank} < {p} columns): "
            f"{bad} linearly dependent on the other columns "
            f"({frame.fixed_names}); drop or recode them")


def _check_random(frame: ModelFrame) -> None:
    n = len(frame.y)
    for blk in frame.blocks:
        if blk.n_levels >= n:
            raise ValueError(
                f"grouping factor {blk.group!r} has {blk.n_levels} levels for {n} "
                f"observations; the number of levels must be smaller than the "
                f"number of observations")
        if blk.n_levels * blk.n_cols >= n:
            raise ValueError(
                f"random-effects term {blk.term} has {blk.n_levels * blk.n_cols} "
                f"random effects for {n} observations; the random-effects "
                "parameters and the residual variance are probably unidentifiable")


_GRAD_TOL = 1e-3  # max |d deviance / d theta| accepted as converged


def _max_abs_gradient(f, x: np.ndarray, h: float = 1e-6) -> float:
    g = np.empty(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2.0 * h)
    return float(np.max(np.abs(g))) if np.all(np.isfinite(g)) else np.inf


def _canonical_theta(prob: _Problem, theta: np.ndarray) -> np.ndarray:
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


def _optimise(prob: _Problem, reml: bool) -> tuple[np.ndarray, float, bool, str]:
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
    if not ok and _max_abs_gradient(f, best_x) > _GRAD_TOL:
        nm = optimize.minimize(f, best_x, method="Nelder-Mead",
                               options={"xatol": 1e-9, "fatol": 1e-13,
                                        "maxfev": 1000 * prob.ntheta,
                                        "adaptive": True})
        if nm.fun <= best_f:
            best_x, best_f = np.asarray(nm.x, dtype=float), float(nm.fun)
        msg = f"{msg}; Nelder-Mead: {nm.message}"
    if not ok:
        # accept a stationary point (lme4 checks the gradient likewise)
        ok = _max_abs_gradient(f, best_x) <= _GRAD_TOL
    ok = ok and bool(np.isfinite(best_f))
    return _canonical_theta(prob, best_x), best_f, ok, msg


def lmer(formula: str, data: pd.DataFrame, reml: bool = True, *, _theta=None
         ) -> LmerResult:
    """Fit a linear mixed model by REML (default) or ML, as ``lme4::lmer``.

    Parameters
    ----------
    formula : str
        lme4-style formula, e.g. ``"ibs ~ session + (1 + session | dyad)"``; the fixed
        part and the left of each ``|`` use patsy syntax (``C(cond)``, ``a*b``,
        ``I(x**2)``, ``np.log(x)``, ``0 + x``). Crossed and nested (``a/b``)
        grouping factors and several terms per factor are supported. The formula
        is parsed and every term checked before anything is evaluated: terms may
        read columns of ``data`` (bare or ``Q("a name")``) and call patsy's and
        NumPy's elementwise functions (``stats.formula.ALLOWED_FUNCTIONS``,
        ``ALLOWED_NUMPY``), nothing else; they never see Python's builtins or the
        caller's variables.
    data : pandas.DataFrame
        One row per observation. Missing values in the columns the model uses are
        an error (they are not dropped silently).
    reml : bool
        REML (``True``, lme4's default) or maximum likelihood.
    _theta : array-like, optional
        Private (tests): evaluate the model at these relative covariance parameters
        (lme4's ``theta``, in lme4's term order) instead of optimising.

    Returns
    -------
    LmerResult
        Fixed effects with Satterthwaite t-tests (lmerTest), variance components,
        log-likelihood, conditional modes, ...
    """
    parsed = parse_formula(formula)
    frame = build_model(parsed, data)
    env = safe_eval_env()
    _check_design(frame)
    _check_random(frame)
    with _single_blas_thread():
        return _fit(frame, bool(reml), formula, data, env, _theta)


def _fit(frame: ModelFrame, reml: bool, formula: str, data: pd.DataFrame,
         env: patsy.EvalEnvironment, theta_fixed=None) -> LmerResult:
    # lme4 orders the terms by decreasing number of levels (stable)
    order = sorted(range(len(frame.blocks)), key=lambda i: -frame.blocks[i].n_levels)
    blocks = [frame.blocks[i] for i in order]
    prob = _Problem(frame.X, frame.y, blocks)

    if theta_fixed is None:
        theta, dev, ok, opt_msg = _optimise(prob, reml)
    else:
        theta = np.asarray(theta_fixed, dtype=float).ravel()
        if theta.shape != (prob.ntheta,):
            raise ValueError(f"theta needs {prob.ntheta} values, got {theta.shape[0]}")
        ok, opt_msg = True, "theta given, not optimised"
    theta = np.where(prob.diag_mask & (np.abs(theta) < 1e-14), 0.0, theta)
    s = prob.pls(theta)
    dev = prob.profiled(s.ldL2, s.ldRX2, s.pwrss, reml)
    n, p = prob.n, prob.p
    sigma2 = s.pwrss / (n - p if reml else n)
    sigma = math.sqrt(sigma2)
    beta = prob.beta(s)
    u, b = prob.conditional_modes(theta, s)
    Zb = prob.Z @ b
    fitted = frame.X @ beta + np.asarray(Zb).ravel()
    resid = frame.y - fitted
    RXi = sla.solve_triangular(s.RX, np.eye(p), lower=True, check_finite=False)
    C = sigma2 * (RXi.T @ RXi)

    messages: list[str] = []
    if not ok:
        messages.append(f"optimiser did not report convergence: {opt_msg}")
        warnings.warn(f"lmer({formula!r}): optimiser did not converge ({opt_msg})",
                      RuntimeWarning, stacklevel=3)
    singular = bool(np.any(theta[prob.diag_mask] < _SINGULAR_TOL))
    if singular:
        messages.append("boundary (singular) fit: a random-effect variance is "
                        "(close to) zero or a correlation is +-1")

    # Satterthwaite (lmerTest): variance parameters (theta, sigma)
    A, jac, notes = _satterthwaite_parts(prob, theta, sigma, reml)
    messages.extend(notes)

    names = frame.fixed_names
    rows = []
    for j in range(p):
        L = np.zeros(p)
        L[j] = 1.0
        rows.append(_contest1d(L, beta, C, jac, A))
    coefs = pd.DataFrame(rows, index=pd.Index(names, name="term"))
    coefs = coefs[["estimate", "std_error", "df", "t", "p"]]
    vcov = pd.DataFrame(C, index=names, columns=names)

    vc, ranef, ngroups = _varcorr_ranef(prob, theta, sigma, b)
    loglik = -0.5 * dev
    npar = p + prob.ntheta + 1
    return LmerResult(
        coefficients=coefs, variance_components=vc, loglik=float(loglik), reml=reml,
        nobs=int(n), ngroups=ngroups, formula=formula, converged=bool(ok),
        singular=singular, theta=theta, sigma=float(sigma),
        fitted=pd.Series(fitted, index=frame.index, name="fitted"),
        residuals=pd.Series(resid, index=frame.index, name="residuals"),
        random_effects=ranef, vcov=vcov,
        aic=float(-2.0 * loglik + 2.0 * npar),
        bic=float(-2.0 * loglik + math.log(n) * npar),
        messages=messages, response=frame.response_name,
        _data=data, _eval_env=env, _jac_vcov=jac, _vcov_varpar=A,
    )


def _satterthwaite_parts(prob, theta: np.ndarray, sigma: float, reml: bool
                         ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Asymptotic covariance ``A`` of the variance parameters ``(theta, sigma)`` and
    the Jacobian of ``vcov(beta)`` in them (lmerTest's Satterthwaite ingredients).

    ``prob`` provides ``deviance_vp(varpar, reml)`` and ``covbeta(varpar)``
    (:class:`_Problem` or a reduced problem of :mod:`interbrain.stats.fast`).
    Returns ``A`` (r x r), ``jac`` (r x p x p) and notes on the Hessian; when the
    derivatives fail, zeros (the t-tests then fall back to normal quantiles).
    """
    messages: list[str] = []
    varpar = np.append(theta, sigma)
    try:
        H = _hessian(lambda vp: prob.deviance_vp(vp, reml), varpar)
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
        jac = _jacobian(prob.covbeta, varpar)
    except (_NotPD, np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
        messages.append(f"Satterthwaite degrees of freedom unavailable ({exc}); "
                        "using normal (z) tests")
        p = prob.p
        A = np.zeros((len(varpar), len(varpar)))
        jac = np.zeros((len(varpar), p, p))
    return A, jac, messages


def _varcorr_ranef(prob: _Problem, theta: np.ndarray, sigma: float, b: np.ndarray):
    rows = []
    ranef: dict[str, pd.DataFrame] = {}
    ngroups: dict[str, int] = {}
    seen: dict[str, int] = {}
    Ts = prob.tblocks(theta)
    for blk, T, sl in zip(prob.blocks, Ts, prob.col_slices):
        grp = blk.group
        name = grp if grp not in seen else f"{grp}.{seen[grp]}"
        seen[grp] = seen.get(grp, 0) + 1
        ngroups.setdefault(grp, blk.n_levels)
        S = sigma * sigma * (T @ T.T)
        sd = np.sqrt(np.diagonal(S))
        k = blk.n_cols
        for i in range(k):
            rows.append((name, blk.names[i], None, S[i, i], sd[i]))
        for i in range(k):
            for j in range(i + 1, k):
                corr = S[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 \
                    else float("nan")
                rows.append((name, blk.names[i], blk.names[j], S[i, j], corr))
        df = pd.DataFrame(b[sl].reshape(blk.n_levels, k), index=blk.levels,
                          columns=blk.names)
        if grp in ranef:
            ranef[grp] = pd.concat([ranef[grp], df], axis=1)
        else:
            ranef[grp] = df
    rows.append(("Residual", None, None, sigma * sigma, sigma))
    cols = list(zip(*rows))
    vc = pd.DataFrame({"grp": pd.Series(cols[0], dtype=object),
                       "var1": pd.Series(cols[1], dtype=object),
                       "var2": pd.Series(cols[2], dtype=object),
                       "vcov": np.array(cols[3], dtype=float),
                       "sdcor": np.array(cols[4], dtype=float)})
    return vc, ranef, ngroups


# ---------------------------------------------------------------------------
# likelihood-ratio test
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LRTResult:
    """Likelihood-ratio test of two nested models (both fitted by ML)."""

    chi2: float
    df: int
    p: float
    loglik_reduced: float
    loglik_full: float
    refitted_ml: bool
    note: str = ""


def likelihood_ratio_test(reduced: LmerResult, full: LmerResult) -> LRTResult:
    """Likelihood-ratio (chi-square) test of ``reduced`` nested in ``full``.

    The test needs maximum-likelihood fits: a model fitted by REML is refitted with
    ``reml=False`` first (as lme4's ``anova``) and ``refitted_ml`` / ``note`` say so.
    Nesting itself is not checked; the full model must have more parameters.
    """
    if reduced.nobs != full.nobs:
        raise ValueError(f"models were fitted to different numbers of observations "
                         f"({reduced.nobs} and {full.nobs})")
    refitted = []
    models = []
    for name, m in (("reduced", reduced), ("full", full)):
        if m.reml:
            refitted.append(name)
            m = lmer(m.formula, m._data, reml=False)
        models.append(m)
    red, ful = models
    df = ful.npar - red.npar
    if df <= 0:
        raise ValueError(f"the full model ({full.formula!r}, {ful.npar} parameters) "
                         f"must have more parameters than the reduced model "
                         f"({reduced.formula!r}, {red.npar} parameters)")
    chi2 = max(0.0, 2.0 * (ful.loglik - red.loglik))
    p = float(sps.chi2.sf(chi2, df))
    note = ""
    if refitted:
        note = ("refitted " + " and ".join(refitted)
                + " model(s) with ML (reml=False) instead of REML for the "
                  "likelihood-ratio test")
    return LRTResult(chi2=float(chi2), df=int(df), p=p, loglik_reduced=red.loglik,
                     loglik_full=ful.loglik, refitted_ml=bool(refitted), note=note)


# ---------------------------------------------------------------------------
# within/between decomposition
# ---------------------------------------------------------------------------

def within_between(data: pd.DataFrame, column: str, group: str) -> pd.DataFrame:
    """Split ``column`` into its group mean and the deviation from it.

    Returns a copy of ``data`` with ``{column}_between`` (mean of ``column`` in the
    row's ``group``, R's ``ave(x, g)``) and ``{column}_within`` (``column`` minus
    that mean) added.
    """
    for col in (column, group):
        if col not in data.columns:
            raise ValueError(f"column {col!r} not found in data; available columns: "
                             f"{sorted(map(str, data.columns))}")
    if not pd.api.types.is_numeric_dtype(data[column]):
        raise ValueError(f"column {column!r} must be numeric, got {data[column].dtype}")
    out = data.copy()
    between = out.groupby(group, sort=False, dropna=False)[column].transform("mean")
    out[f"{column}_between"] = between
    out[f"{column}_within"] = out[column] - between
    return out
