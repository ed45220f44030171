"""Ordinary least squares with CR2 cluster-robust standard errors and Satterthwaite df.

The model is ``y = X beta + e``, fitted by OLS (``beta = M X' y``, ``M = (X'X)^-1``),
with observations clustered (e.g. sessions within dyads). Its covariance is the
bias-reduced linearisation ("CR2") estimator of Bell & McCaffrey (2002, Surv.
Methodol. 28(2)) in the form of Pustejovsky & Tipton (2018, J. Bus. Econ. Stat.
36(4)), with a working model of independent, homoscedastic errors::

    V = M [sum_j X_j' A_j e_j e_j' A_j X_j] M,   A_j = (I - H_jj)^(-1/2)

``X_j``, ``e_j`` the rows and OLS residuals of cluster ``j`` and ``H_jj = X_j M X_j'``
its block of the hat matrix. ``A_j`` is the symmetric inverse square root, taken as
clubSandwich does through the eigen-decomposition with eigenvalues at or below
``1e-12`` left out (a pseudo-inverse: a cluster fitted exactly by the model, e.g.
through a cluster-level indicator, gets a singular ``I - H_jj``).

Each coefficient ``c' beta`` is tested with ``t = c' beta / sqrt(c' V c)`` on
Satterthwaite degrees of freedom (Bell & McCaffrey's; Pustejovsky & Tipton eq. 11):
with ``g_j = (I - H)_{., j} A_j X_j M c`` the part of cluster ``j`` in ``c' V c =
y' (sum_j g_j g_j') y`` and ``P_jk = g_j' g_k``, ``df = tr(P)^2 / sum_jk P_jk^2``.
This is what R's ``clubSandwich::coef_test(lm_fit, vcov = "CR2", cluster = g,
test = "Satterthwaite")`` reports (``tests/data/clubsandwich``).

:func:`cluster_robust_ols` fits a formula, :func:`cr2_test` works on the matrices;
the result is a :class:`ClusterRobustResult`, which presents itself like
:class:`~interbrain.stats.mixed.LmerResult` (``coefficients``, ``vcov``, ``nobs``,
``ngroups``, ``summary()``, ``to_frame()``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
from scipy import linalg as sla
from scipy import stats as sps

from .formula import check_term_code, is_formula_identifier, label_formula, safe_eval_env

__all__ = ["ClusterRobustResult", "cluster_robust_ols", "cr2_test", "cr2_adjustments",
           "CR2_DF_METHOD", "CR2_METHOD", "EIGEN_TOL"]

#: Eigenvalues of ``I - H_jj`` at or below this are left out of its inverse square
#: root (clubSandwich's ``matrix_power`` tolerance).
EIGEN_TOL = 1e-12
#: ``df_method`` of a :class:`ClusterRobustResult`.
CR2_DF_METHOD = "CR2, Satterthwaite (clubSandwich)"
#: ``method`` of a :class:`ClusterRobustResult`.
CR2_METHOD = "OLS, CR2 cluster-robust SE by dyad, Satterthwaite df"


def _inverse_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric (pseudo-)inverse square root: eigenvalues <= EIGEN_TOL dropped."""
    values, vectors = np.linalg.eigh(matrix)
    keep = values > EIGEN_TOL
    scaled = np.zeros_like(values)
    scaled[keep] = values[keep] ** -0.5
    return (vectors * scaled) @ vectors.T


def cr2_adjustments(X: np.ndarray, codes: np.ndarray, n_clusters: int,
                    M: np.ndarray) -> list[np.ndarray]:
    """CR2 adjustment matrices ``A_j = (I - X_j M X_j')^(-1/2)`` of every cluster.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, p)
        Design matrix.
    codes : numpy.ndarray of int, shape (n,)
        Cluster index ``0 .. n_clusters - 1`` of each row.
    n_clusters : int
    M : numpy.ndarray, shape (p, p)
        ``(X'X)^-1``.

    Returns
    -------
    list of numpy.ndarray
        ``A_j`` of shape ``(n_j, n_j)``, in cluster order.
    """
    out = []
    for j in range(n_clusters):
        Xj = X[codes == j]
        out.append(_inverse_sqrt(np.eye(len(Xj)) - Xj @ M @ Xj.T))
    return out


def cr2_test(X: np.ndarray, y: np.ndarray, clusters) -> dict:
    """OLS fit with CR2 covariance and per-coefficient Satterthwaite t-tests.

    Parameters
    ----------
    X : array-like, shape (n, p)
        Full-rank design matrix (include the intercept column yourself).
    y : array-like, shape (n,)
        Response.
    clusters : array-like, shape (n,)
        Cluster label of each row (at least two clusters).

    Returns
    -------
    dict
        ``estimate`` (p,), ``vcov`` (p, p), ``std_error``, ``df``, ``t``, ``p`` (p,)
        (two-sided), ``residuals`` (n,), ``n_clusters``.

    Raises
    ------
    ValueError
        For mismatched shapes, non-finite values, fewer than two clusters, no more
        rows than columns or a rank-deficient design.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must be (n, p) with n = len(y) = {y.shape[0]}; got shape "
                         f"{X.shape}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("X and y must be finite")
    codes, levels = pd.factorize(pd.Series(np.asarray(clusters)), sort=True)
    if len(codes) != len(y) or (codes < 0).any():
        raise ValueError("clusters must give one non-missing label per row")
    n, p = X.shape
    J = len(levels)
    if J < 2:
        raise ValueError("cluster-robust standard errors need at least two clusters; "
                         f"got {J}")
    if n <= p or np.linalg.matrix_rank(X) < p:
        raise ValueError(f"the design ({n} rows, {p} columns) is rank deficient")
    _, R = np.linalg.qr(X)
    Rinv = sla.solve_triangular(R, np.eye(p))
    M = Rinv @ Rinv.T
    beta = M @ (X.T @ y)
    resid = y - X @ beta
    adjust = cr2_adjustments(X, codes, J, M)
    # E_j = M X_j' A_j (p x n_j); cluster j's contribution to the estimating equation
    E = [M @ X[codes == j].T @ adjust[j] for j in range(J)]
    scores = np.column_stack([E[j] @ resid[codes == j] for j in range(J)])  # p x J
    vcov = scores @ scores.T
    se = np.sqrt(np.diagonal(vcov))
    # Satterthwaite: P_i = diag(|E_j[i]|^2) - H_i' H_i, H_i[:, j] = (E_j X_j L)[i],
    # L L' = M (clubSandwich's get_GH / get_P_array with an identity working model)
    L = np.linalg.cholesky(M)
    H = np.stack([E[j] @ X[codes == j] @ L for j in range(J)], axis=2)  # p x p x J
    diag_part = np.stack([(E[j] ** 2).sum(axis=1) for j in range(J)], axis=1)  # p x J
    df = np.empty(p)
    for i in range(p):
        P = -H[i].T @ H[i]
        P[np.diag_indices(J)] += diag_part[i]
        df[i] = np.trace(P) ** 2 / (P ** 2).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        t = beta / se
    pval = 2.0 * sps.t.sf(np.abs(t), df)
    return {"estimate": beta, "vcov": vcov, "std_error": se, "df": df, "t": t,
            "p": pval, "residuals": resid, "n_clusters": J}


# ---------------------------------------------------------------------------
# formula interface and result
# ---------------------------------------------------------------------------

def _design(formula: str, data: pd.DataFrame, cluster: str):
    if not isinstance(formula, str) or "~" not in formula or "|" in formula:
        raise ValueError(f"formula must be 'response ~ terms' without random-effects "
                         f"terms, got {formula!r}")
    if not isinstance(data, pd.DataFrame) or data.empty:
        raise ValueError("data must be a non-empty pandas DataFrame")
    if cluster not in data.columns:
        raise ValueError(f"cluster column {cluster!r} not found in data")
    try:
        desc = patsy.ModelDesc.from_formula(formula)
    except patsy.PatsyError as exc:
        raise ValueError(f"cannot parse formula {formula!r}: {exc}") from None
    codes = [f.code for t in desc.lhs_termlist + desc.rhs_termlist for f in t.factors]
    used = [cluster]
    for code in codes:
        for name, _quoted in check_term_code(code):
            if name not in data.columns:
                raise ValueError(f"column {name!r} (in term {code!r}) not found in data")
            used.append(name)
    bad = [c for c in dict.fromkeys(used) if data[c].isna().any()]
    if bad:
        raise ValueError(f"column(s) {bad} have missing values; remove them first")
    try:
        y_mat, X_mat = patsy.dmatrices(formula, data, eval_env=safe_eval_env(),
                                       NA_action="raise", return_type="matrix")
    except patsy.PatsyError as exc:
        raise ValueError(f"cannot build model matrix for {formula!r}: {exc}") from None
    if y_mat.shape[1] != 1:
        raise ValueError(f"the response of {formula!r} must be one numeric column")
    names = ["(Intercept)" if nm == "Intercept" else nm
             for nm in X_mat.design_info.column_names]
    response = desc.lhs_termlist[0].factors[0].code
    return np.asarray(y_mat, float)[:, 0], np.asarray(X_mat, float), names, response


class ClusterRobustResult:
    """An OLS fit with CR2 cluster-robust covariance (see :func:`cluster_robust_ols`).

    Presents itself like :class:`~interbrain.stats.mixed.LmerResult` for the table
    code.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        Index: term (``(Intercept)``, ...); columns ``estimate, std_error, df, t, p``
        with CR2 standard errors, Satterthwaite df and two-sided p.
    vcov : pandas.DataFrame
        CR2 covariance matrix of the coefficients.
    nobs : int
    ngroups : dict[str, int]
        ``{cluster: number of clusters}``.
    formula : str
        The fixed-effects formula fitted.
    labels : dict[str, str]
        Internal column name -> the user's name (see ``LmerResult.labels``).
    response : str
    residuals : pandas.Series
        OLS residuals.
    simplification : str
        Why this model was fitted instead of a mixed model ("" when it was asked for).
    messages : list[str]
    singular, converged, reml : bool
        Always False, True, False (no variance components are estimated).
    df_method, method : str
    """

    singular = False
    converged = True
    reml = False
    df_method = CR2_DF_METHOD

    def __init__(self, *, coefficients: pd.DataFrame, vcov: pd.DataFrame, nobs: int,
                 ngroups: dict, formula: str, response: str, residuals: pd.Series,
                 data: pd.DataFrame, cluster: str, simplification: str = "",
                 messages: list | None = None, labels: dict | None = None):
        self.coefficients = coefficients
        self.vcov = vcov
        self.nobs = int(nobs)
        self.ngroups = dict(ngroups)
        self.formula = formula
        self.response = response
        self.residuals = residuals
        self._data = data
        self.cluster = cluster
        self.simplification = simplification
        self.messages = list(messages or [])
        self.labels = dict(labels or {})
        self.method = CR2_METHOD.replace("by dyad", f"by {cluster}")

    @property
    def labelled_formula(self) -> str:
        """:attr:`formula` with internal column names shown as the user's names."""
        return label_formula(self.formula, self.labels)

    @property
    def fixed_effects(self) -> pd.Series:
        return self.coefficients["estimate"]

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table with a ``term`` column and the method.

        Returns
        -------
        pandas.DataFrame
            ``term, estimate, std_error, df, t, p, method, df_method, formula,
            n_obs, n_groups``.
        """
        out = self.coefficients.reset_index(names="term")
        out["method"] = self.method
        out["df_method"] = self.df_method
        out["formula"] = self.labelled_formula
        out["n_obs"] = self.nobs
        out["n_groups"] = self.ngroups[self.cluster]
        return out

    def summary(self) -> str:
        """A text summary: formula, method, counts and the coefficient table."""
        lines = [f"{self.method}",
                 f"Formula: {self.labelled_formula}",
                 f"Observations: {self.nobs}; clusters ({self.cluster}): "
                 f"{self.ngroups[self.cluster]}"]
        if self.simplification:
            lines.append(f"Simplification: {self.simplification}")
        lines += ["", "Coefficients:", self.coefficients.to_string()]
        if self.messages:
            lines += ["", *self.messages]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<ClusterRobustResult {self.formula!r} nobs={self.nobs} "
                f"{self.cluster}={self.ngroups[self.cluster]}>")


def cluster_robust_ols(formula: str, data: pd.DataFrame, cluster: str = "dyad", *,
                       simplification: str = "") -> ClusterRobustResult:
    """OLS with CR2 cluster-robust SEs and Satterthwaite df, as clubSandwich.

    Parameters
    ----------
    formula : str
        ``response ~ terms`` in patsy syntax without random-effects terms, e.g.
        ``"measure ~ synchrony_within + synchrony_between + session"``. Terms are
        checked as in :func:`~interbrain.stats.mixed.lmer` (column names, literals,
        arithmetic, the allowed functions) and evaluated in
        :func:`~interbrain.stats.formula.safe_eval_env`.
    data : pandas.DataFrame
        One row per observation; missing values in the used columns are an error.
    cluster : str
        Column with the cluster (e.g. dyad) of each row; a plain identifier.
    simplification : str
        Recorded on the result (why this model was chosen).

    Returns
    -------
    ClusterRobustResult

    Raises
    ------
    ValueError
        For an unknown column, missing values, a rank-deficient design or fewer
        than two clusters.
    """
    if not is_formula_identifier(cluster):
        raise ValueError(f"cluster must name a column with a plain name, got {cluster!r}")
    y, X, names, response = _design(formula, data, cluster)
    res = cr2_test(X, y, data[cluster].to_numpy())
    coefs = pd.DataFrame({k: res[k] for k in ("estimate", "std_error", "df", "t", "p")},
                         index=pd.Index(names, name="term"))
    vcov = pd.DataFrame(res["vcov"], index=names, columns=names)
    return ClusterRobustResult(
        coefficients=coefs, vcov=vcov, nobs=len(y), ngroups={cluster: res["n_clusters"]},
        formula=formula, response=response,
        residuals=pd.Series(res["residuals"], index=data.index, name="residuals"),
        data=data, cluster=cluster, simplification=simplification)
