"""Results of :func:`~interbrain.stats.mixed.lmer` and of likelihood-ratio tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..formula import label_formula
from .satterthwaite import contrast_test

__all__ = ["LmerResult", "LRTResult", "DF_METHODS"]

#: ``df_method`` options of :func:`~interbrain.stats.mixed.lmer` -> lmerTest's names.
DF_METHODS = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger"}


class LmerResult:
    """A fitted linear mixed model (see :func:`lmer`).

    Attributes
    ----------
    coefficients : pandas.DataFrame
        Index: fixed-effect term (lme4 naming, ``(Intercept)``); columns
        ``estimate, std_error, df, t, p`` with Satterthwaite or Kenward-Roger df
        (:attr:`df_method`) and two-sided p.
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
        Covariance matrix of the fixed effects: lme4's ``vcov`` with
        Satterthwaite df, the Kenward-Roger adjusted one (pbkrtest's ``vcovAdj``)
        with Kenward-Roger df.
    df_method : str
        ``"Satterthwaite"`` or ``"Kenward-Roger"``: the small-sample method of the
        t-tests (``coefficients`` and :meth:`contrast`).
    simplification : str
        How the random part was simplified from the model asked for (empty when
        it was not).
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
        self.df_method = "Satterthwaite"
        self.simplification = ""
        self._kenward_roger = None
        self.__dict__.update(kw)

    @property
    def method(self) -> str:
        """The estimation and df method, e.g. ``"lmer REML, Kenward-Roger df"``
        (column ``method`` of ``models.parquet``)."""
        return f"lmer {'REML' if self.reml else 'ML'}, {self.df_method} df"

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
        """t-test of one linear combination ``L' beta`` (= 0) with the fit's
        :attr:`df_method` (Satterthwaite or Kenward-Roger).

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
        beta = self.coefficients["estimate"].to_numpy()
        if self._kenward_roger is not None:
            return self._kenward_roger.contrast(vec, beta)
        return contrast_test(vec, beta, self.vcov.to_numpy(), self._jac_vcov,
                             self._vcov_varpar)

    def summary(self) -> str:
        """A text summary in the spirit of R's ``summary(lmerTest fit)``."""
        crit = "REML criterion" if self.reml else "-2 log-likelihood"
        lines = [f"Linear mixed model fit by {'REML' if self.reml else 'ML'}; "
                 f"t-tests use {self.df_method}'s method",
                 f"Formula: {self.labelled_formula}",
                 *([f"Random part simplified: {self.simplification}"]
                   if self.simplification else []),
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
