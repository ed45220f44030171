"""Fitting a linear mixed model: :func:`lmer` and :func:`likelihood_ratio_test`."""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import pandas as pd
import patsy
from scipy import linalg as sla
from scipy import stats as sps

from ..formula import parse_formula, safe_eval_env
from .kenward_roger import kenward_roger
from .model_frame import ModelFrame, build_model, check_fixed_design, check_random_effects
from .optimise import optimise
from .problem import SINGULAR_TOL, Problem
from .results import DF_METHODS, LmerResult, LRTResult
from .satterthwaite import contrast_test, satterthwaite_parts

try:  # tiny BLAS calls are much slower with threads on a busy machine
    from threadpoolctl import ThreadpoolController as _ThreadpoolController
except ImportError:  # pragma: no cover - optional
    _ThreadpoolController = None

__all__ = ["lmer", "fit_frame", "likelihood_ratio_test", "single_blas_thread"]

_CONTROLLER = None


def single_blas_thread():
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


def lmer(formula: str, data: pd.DataFrame, reml: bool = True, *,
         df_method: str = "satterthwaite", _theta=None) -> LmerResult:
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
    df_method : {"satterthwaite", "kenward-roger"}
        Small-sample inference of the fixed effects' t-tests, as lmerTest's
        ``summary(fit, ddf = ...)``. ``"satterthwaite"`` (default): standard errors
        from ``vcov`` and Satterthwaite degrees of freedom. ``"kenward-roger"``:
        the Kenward-Roger adjusted covariance (pbkrtest's ``vcovAdj``; ``vcov``
        and the standard errors are the adjusted ones) and Kenward-Roger degrees
        of freedom (:mod:`.kenward_roger`). Kenward-Roger needs a REML fit:
        ``reml=False`` with it is a ValueError (as lmerTest; refit by REML).
    _theta : array-like, optional
        Private (tests): evaluate the model at these relative covariance parameters
        (lme4's ``theta``, in lme4's term order) instead of optimising.

    Returns
    -------
    LmerResult
        Fixed effects with Satterthwaite or Kenward-Roger t-tests (lmerTest),
        variance components, log-likelihood, conditional modes, ...
    """
    method = check_df_method(df_method, reml)
    parsed = parse_formula(formula)
    frame = build_model(parsed, data)
    env = safe_eval_env()
    check_fixed_design(frame)
    check_random_effects(frame)
    with single_blas_thread():
        return fit_frame(frame, bool(reml), formula, data, env, _theta,
                         df_method=method)


def check_df_method(df_method: str, reml: bool) -> str:
    """lmerTest's name (``"Satterthwaite"`` or ``"Kenward-Roger"``) of a
    ``df_method`` option of :func:`lmer`; ValueError for others and for
    Kenward-Roger with an ML fit."""
    key = df_method.strip().lower() if isinstance(df_method, str) else None
    if key not in DF_METHODS:
        raise ValueError(f"df_method must be one of {sorted(DF_METHODS)}, got "
                         f"{df_method!r}")
    method = DF_METHODS[key]
    if method == "Kenward-Roger" and not reml:
        raise ValueError("df_method='kenward-roger' needs a REML fit (reml=True): "
                         "Kenward-Roger's adjustment is derived for REML estimates of "
                         "the variance parameters (lmerTest refuses ML fits too)")
    return method


def fit_frame(frame: ModelFrame, reml: bool, formula: str, data: pd.DataFrame,
              env: patsy.EvalEnvironment, theta_fixed=None, *,
              df_method: str = "Satterthwaite") -> LmerResult:
    """Fit the model of ``frame`` (checked by :func:`lmer`) by REML or ML.

    ``theta_fixed`` evaluates the model at given relative covariance parameters
    instead of optimising; ``formula``, ``data`` and ``env`` are kept on the result
    (for refits, per-dyad slopes and labels). ``df_method`` is ``"Satterthwaite"``
    or ``"Kenward-Roger"`` (checked by :func:`lmer`).
    """
    # lme4 orders the terms by decreasing number of levels (stable)
    order = sorted(range(len(frame.blocks)), key=lambda i: -frame.blocks[i].n_levels)
    blocks = [frame.blocks[i] for i in order]
    prob = Problem(frame.X, frame.y, blocks)

    if theta_fixed is None:
        theta, dev, ok, opt_msg = optimise(prob, reml)
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
    singular = bool(np.any(theta[prob.diag_mask] < SINGULAR_TOL))
    if singular:
        messages.append("boundary (singular) fit: a random-effect variance is "
                        "(close to) zero or a correlation is +-1")

    kr = None
    if df_method == "Kenward-Roger":
        try:
            kr = kenward_roger(prob, theta, sigma, C)
        except (np.linalg.LinAlgError, ValueError) as exc:
            # as lmerTest's contest1D: fall back to Satterthwaite
            messages.append(f"Kenward-Roger adjustment unavailable ({exc}); using "
                            "Satterthwaite's method instead")
            warnings.warn(f"lmer({formula!r}): unable to compute Kenward-Roger t-tests"
                          f" ({exc}); using Satterthwaite instead", RuntimeWarning,
                          stacklevel=3)
            df_method = "Satterthwaite"
    A = jac = None
    if kr is None:
        # Satterthwaite (lmerTest): variance parameters (theta, sigma)
        A, jac, notes = satterthwaite_parts(prob, theta, sigma, reml)
        messages.extend(notes)

    names = frame.fixed_names
    rows = []
    for j in range(p):
        L = np.zeros(p)
        L[j] = 1.0
        rows.append(contrast_test(L, beta, C, jac, A) if kr is None
                    else kr.contrast(L, beta))
    coefs = pd.DataFrame(rows, index=pd.Index(names, name="term"))
    coefs = coefs[["estimate", "std_error", "df", "t", "p"]]
    vcov = pd.DataFrame(C if kr is None else kr.vcov_adjusted, index=names,
                        columns=names)

    vc, ranef, ngroups = varcorr_ranef(prob, theta, sigma, b)
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
        messages=messages, response=frame.response_name, df_method=df_method,
        _data=data, _eval_env=env, _jac_vcov=jac, _vcov_varpar=A, _kenward_roger=kr,
    )


def varcorr_ranef(prob: Problem, theta: np.ndarray, sigma: float, b: np.ndarray):
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
