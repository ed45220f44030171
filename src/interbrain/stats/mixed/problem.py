"""The penalised least-squares problem of a linear mixed model for given ``theta``.

The model is ``y = X beta + Z b + e`` with ``b ~ N(0, sigma^2 Lambda Lambda')`` and
``e ~ N(0, sigma^2 I)``. ``Lambda(theta)`` is block diagonal: for each random-effects
term ``(expr | g)`` with ``k`` columns and ``m`` levels it holds ``I_m (x) T`` with
``T`` a lower-triangular ``k x k`` factor whose entries (column-major lower triangle,
as in lme4) are the term's part of ``theta``.

For given ``theta`` the penalised least-squares problem is solved through the
``q x q`` Cholesky factor ``L L' = Lambda' Z' Z Lambda + I`` and the ``p x p`` factor
``R_X R_X' = X' X - R_ZX' R_ZX``; ``beta`` and ``sigma`` are profiled out and the
(RE)ML deviance of Bates, Maechler, Bolker & Walker (2015, J. Stat. Softw. 67(1),
eqs. 34 and 41) is what :func:`~interbrain.stats.mixed.optimise.optimise` minimises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg as sla
from scipy import sparse

from .model_frame import RandomBlock

__all__ = ["LOG2PI", "SINGULAR_TOL", "PLSFactors", "Problem", "NotPositiveDefinite"]

LOG2PI = math.log(2.0 * math.pi)
#: lme4's ``isSingular()`` tolerance on theta's diagonal.
SINGULAR_TOL = 1e-4


@dataclass
class PLSFactors:
    L: np.ndarray          # q x q lower Cholesky factor of Lambda'Z'Z Lambda + I
    RZX: np.ndarray        # q x p
    RX: np.ndarray         # p x p lower, RX RX' = X'V^{-1}X (unscaled)
    cu: np.ndarray
    cb: np.ndarray
    pwrss: float           # penalised weighted residual sum of squares
    ldL2: float
    ldRX2: float


class Problem:
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
                raise NotPositiveDefinite() from None
            c = sla.solve_triangular(F, A[:-1, -1], lower=True, check_finite=False)
            r2 = max(float(A[-1, -1] - c @ c), 1e-300)
            F = np.block([[F, np.zeros((q + p, 1))], [c[None, :],
                                                      np.array([[math.sqrt(r2)]])]])
        dg = np.diagonal(F)
        ldL2 = 2.0 * float(np.log(dg[:q]).sum())
        ldRX2 = 2.0 * float(np.log(dg[q:q + p]).sum())
        return ldL2, ldRX2, float(dg[-1] ** 2), F

    def pls(self, theta: np.ndarray) -> PLSFactors:
        q, p = self.q, self.p
        ldL2, ldRX2, pwrss, F = self.factor(theta)
        return PLSFactors(L=F[:q, :q], RZX=F[q:q + p, :q].T, RX=F[q:q + p, q:q + p],
                    cu=F[-1, :q], cb=F[-1, q:q + p], pwrss=pwrss, ldL2=ldL2,
                    ldRX2=ldRX2)

    def beta(self, s: PLSFactors) -> np.ndarray:
        beta_e = sla.solve_triangular(s.RX.T, s.cb, lower=False, check_finite=False)
        return beta_e + self.beta_ols

    def conditional_modes(self, theta: np.ndarray, s: PLSFactors) -> tuple[np.ndarray,
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
        except NotPositiveDefinite:
            return np.inf
        return self.profiled(ldL2, ldRX2, pwrss, reml)

    def profiled(self, ldL2: float, ldRX2: float, pwrss: float, reml: bool) -> float:
        if reml:
            nmp = self.n - self.p
            return ldL2 + ldRX2 + nmp * (1.0 + LOG2PI + math.log(pwrss / nmp))
        n = self.n
        return ldL2 + n * (1.0 + LOG2PI + math.log(pwrss / n))

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


class NotPositiveDefinite(Exception):
    pass
