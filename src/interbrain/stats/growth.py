"""Growth of synchrony over sessions (inter-brain plasticity).

Model
    ``synchrony ~ <time> + (1 + <time slope> | dyad)`` fitted by REML with
    Satterthwaite degrees of freedom (:func:`~interbrain.stats.mixed.lmer`): a random
    intercept and a random slope per dyad. Time is coded as in
    :mod:`interbrain.stats.time_codings` (``linear``: ``session``; ``log``:
    ``np.log(session)``; ``quadratic``: ``session + I(session**2)`` with a random
    linear slope)

    (the quadratic model keeps a random linear slope only: a random curvature per
    dyad needs many more sessions than psychotherapy studies have).

Extensions (keyword arguments of :func:`fit_growth`)
    ``therapist="therapist"``: a crossed random intercept ``(1 | therapist)`` when
    some therapist treats more than one dyad and there is more than one therapist
    (one therapist, or one per dyad: no term; its variance cannot be separated from
    the intercept or from the dyads' intercepts). ``covariates=["burnout"]``: fixed
    effects (e.g. therapist-level covariates; each must be constant within its
    level only if you want that interpretation, nothing forces it).
    ``condition="condition"``: a condition per session or per dyad (therapy vs
    control) with the ``time x condition`` interaction, e.g.
    ``synchrony ~ session * condition + (1 + session | dyad)``.

Fallback
    When the data cannot identify a random slope per dyad (as in lme4: at least as
    many random effects as observations, e.g. two sessions per dyad), the
    random-intercept model ``synchrony ~ <time> + (1 | dyad)`` is fitted; the
    result's ``formula`` says which.

Per-dyad slopes (:func:`dyad_slopes`)
    fixed slope (for the dyad's condition and covariates) plus the dyad's BLUP of
    the random slope, next to the dyad's own OLS slope.

Model comparison (:func:`compare_growth`)
    likelihood-ratio tests with ML refits: linear versus quadratic time (does
    synchrony curve?) and the model without versus with the therapist random
    intercept. For a variance component the null value lies on the boundary of the
    parameter space, so the chi-square(1) p-value is conservative (the 50:50
    mixture of chi-square(0) and chi-square(1) would halve it).

Everything in one call (model, slopes, comparisons, the slope permutation test) is
:func:`~interbrain.stats.growth_analysis.analyse_growth`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy

from ._util import require_columns
from .formula import formula_term, internal_names, label_formula, parse_formula
from .mixed import LmerResult, LRTResult, likelihood_ratio_test, lmer
from .slopes import dyad_ols_slopes
from .tables import mixed_model_groups, with_counts
from .time_codings import SLOPE_TIMES, TIME_CODINGS, check_time

__all__ = ["growth_formula", "fit_growth", "dyad_slopes", "compare_growth", "lrt_table",
           "comparison_rows", "LRT_COLUMNS"]


def growth_formula(time: str = "linear", *, random_slope: bool = True,
                   therapist: str | None = None, condition: str | None = None,
                   covariates=(), response: str = "synchrony") -> str:
    """The lme4 formula of a growth model.

    >>> growth_formula()
    'synchrony ~ session + (1 + session | dyad)'
    >>> growth_formula("linear", condition="condition", therapist="therapist")
    'synchrony ~ session * condition + (1 + session | dyad) + (1 | therapist)'
    """
    check_time(time)
    fixed, slope = TIME_CODINGS[time].fixed, TIME_CODINGS[time].random_slope
    if condition is not None:
        fixed = f"({fixed}) * {formula_term(condition)}" if "+" in fixed \
            else f"{fixed} * {formula_term(condition)}"
    for cov in covariates or ():
        fixed += f" + {formula_term(cov)}"
    random = f"(1 + {slope} | dyad)" if random_slope else "(1 | dyad)"
    out = f"{formula_term(response)} ~ {fixed} + {random}"
    if therapist is not None:
        out += f" + (1 | {formula_term(therapist)})"
    return out


@dataclass(frozen=True)
class _ModelData:
    """The rows a growth model is fitted on, with every column the user named under
    a name safe in a formula (``response``, ``therapist``, ``condition``,
    ``covariate_<i>`` unless it already is a plain identifier)."""

    data: pd.DataFrame
    therapist: str | None
    condition: str | None
    covariates: list[str]
    response: str
    labels: dict[str, str]


def _growth_data(sessions: pd.DataFrame, time: str, therapist, condition, covariates,
                 response: str) -> _ModelData:
    check_time(time)
    covariates = list(covariates or ())
    needed = ["dyad", "session", response] + [c for c in (therapist, condition)
                                             if c is not None] + covariates
    require_columns(sessions, needed, "sessions")
    data = sessions.dropna(subset=needed).reset_index(drop=True)
    # user column names are data, never formula text: rename them to internal names
    fixed = {c: n for c, n in ((response, "synchrony"), (therapist, "therapist"),
                               (condition, "condition")) if c is not None}
    model_names = {"dyad", "session", *fixed.values()}
    clash = [c for c in covariates if c in model_names or c in fixed]
    if clash:
        raise ValueError(f"covariate(s) {clash} have the name of a column the growth model "
                         f"uses ({sorted(model_names | set(fixed))}); rename them")
    names = {**fixed, **internal_names(covariates, "covariate_",
                                       taken=[*data.columns, *model_names])}
    if time == "log" and (data["session"] <= 0).any():
        raise ValueError("time='log' needs session numbers > 0 (log(session))")
    n_dyads = data["dyad"].nunique()
    if n_dyads < 2:
        raise ValueError(f"growth models need at least 2 dyads; got {n_dyads}")
    if data["session"].nunique() < (3 if time == "quadratic" else 2):
        raise ValueError(f"time={time!r} needs at least "
                         f"{3 if time == 'quadratic' else 2} distinct sessions; got "
                         f"{data['session'].nunique()}")
    if condition is not None and data[condition].nunique() < 2:
        raise ValueError(f"condition column {condition!r} has a single level "
                         f"({data[condition].iloc[0]!r}); a condition effect needs two")
    if therapist is not None and not 1 < data[therapist].nunique() < n_dyads:
        # one therapist, or one therapist per dyad: (1 | therapist) would duplicate the
        # intercept or the dyad intercept and is not identified
        therapist = None
    data = data[["dyad", "session", *names]].rename(columns=names)
    return _ModelData(data=data, therapist=None if therapist is None else names[therapist],
                      condition=None if condition is None else names[condition],
                      covariates=[names[c] for c in covariates],
                      response=names[response],
                      labels={n: c for c, n in names.items() if c != n})


def _fit_labelled(formula: str, model: _ModelData, reml: bool,
                  df_method: str = "satterthwaite") -> LmerResult:
    """Fit on the internal names; show the user's names in the coefficients."""
    fit = lmer(formula, model.data, reml=reml, df_method=df_method)
    if model.labels:
        fit.labels = dict(model.labels)
        rename = {t: label_formula(t, model.labels, quote=False)
                  for t in fit.coefficients.index}
        fit.coefficients = fit.coefficients.rename(index=rename)
        fit.vcov = fit.vcov.rename(index=rename, columns=rename)
    return fit


def fit_growth(sessions: pd.DataFrame, *, time: str = "linear",
               therapist: str | None = None, condition: str | None = None,
               covariates=None, response: str = "synchrony", reml: bool = True,
               df_method: str = "satterthwaite", _formula: str | None = None
               ) -> LmerResult:
    """Growth of synchrony over sessions (inter-brain plasticity).

    Fits ``synchrony ~ <time> + (1 + <slope> | dyad)`` by REML with Satterthwaite
    degrees of freedom (see the module notes for the time codings). Without
    arguments this is ``synchrony ~ session + (1 + session | dyad)``. When the data
    cannot identify a random slope per dyad (fewer observations than
    ``2 x dyads + 1``, e.g. two sessions per dyad) the random-intercept model is
    fitted instead; the result's ``formula`` says which.

    Parameters
    ----------
    sessions : pandas.DataFrame
        Columns ``dyad``, ``session``, ``synchrony`` (output of
        :func:`~interbrain.stats.sessions.session_synchrony`) and the columns named
        below. Rows with a missing value in a used column are dropped.
    time : str
        ``"linear"`` (session), ``"log"`` (``np.log(session)``) or ``"quadratic"``
        (``session + I(session**2)``).
    therapist : str, optional
        Column of therapist ids: adds the crossed random intercept
        ``(1 | therapist)`` when it holds more than one therapist and fewer
        therapists than dyads.
    condition : str, optional
        Column of a condition (per session or per dyad): adds the condition and its
        interaction with time, ``session * condition``. The reference level is the
        first category (sorted, or the order of a pandas Categorical).
    covariates : list of str, optional
        Further fixed effects, e.g. therapist-level covariates such as burnout.
    response : str
        The response column (``"synchrony"``).
    reml : bool
        REML (default) or ML.
    df_method : {"satterthwaite", "kenward-roger"}
        Degrees of freedom (and, for Kenward-Roger, adjusted standard errors) of
        the t-tests (:func:`~interbrain.stats.mixed.lmer`); Kenward-Roger needs
        ``reml=True``.
    """
    model = _growth_data(sessions, time, therapist, condition, covariates, response)
    if _formula is not None:
        return _fit_labelled(_formula, model, reml, df_method)
    n_dyads = model.data["dyad"].nunique()
    slope = len(model.data) > 2 * n_dyads
    terms = {"therapist": model.therapist, "condition": model.condition,
             "covariates": model.covariates, "response": model.response}
    formula = growth_formula(time, random_slope=slope, **terms)
    if not slope:
        return _fit_labelled(formula, model, reml, df_method)
    try:
        return _fit_labelled(formula, model, reml, df_method)
    except ValueError as exc:
        if "random-effects" not in str(exc) and "unidentifiable" not in str(exc):
            raise
        formula = growth_formula(time, random_slope=False, **terms)
        return _fit_labelled(formula, model, reml, df_method)


# ---------------------------------------------------------------------------
# per-dyad slopes
# ---------------------------------------------------------------------------

def _time_from_formula(formula: str) -> str:
    fixed = parse_formula(formula).fixed_rhs
    if "I(session**2)" in fixed.replace(" ", ""):
        return "quadratic"
    if "np.log(session)" in fixed.replace(" ", ""):
        return "log"
    return "linear"


def _fixed_derivative(fit: LmerResult, time: str, h: float = 1e-4) -> np.ndarray:
    """d(X beta)/d(time) for every row of the fitted data (central differences).

    Time is the session (linear, quadratic) or log(session) (log); the fixed part
    is re-evaluated with the session moved by +-h (or multiplied by exp(+-h)).
    """
    rhs = parse_formula(fit.formula).fixed_rhs
    data = fit._data
    info = patsy.dmatrix(rhs, data, eval_env=fit._eval_env, NA_action="raise",
                         return_type="matrix").design_info
    s = data["session"].astype(float)
    up, down = data.copy(), data.copy()
    if time == "log":
        up["session"], down["session"] = s * math.exp(h), s * math.exp(-h)
    else:
        up["session"], down["session"] = s + h, s - h
    Xu = np.asarray(patsy.build_design_matrices([info], up)[0])
    Xd = np.asarray(patsy.build_design_matrices([info], down)[0])
    beta = fit.coefficients["estimate"].to_numpy()
    return (Xu - Xd) @ beta / (2.0 * h)


def dyad_slopes(fit: LmerResult, time: str | None = None) -> pd.DataFrame:
    """Per-dyad synchrony slopes of a growth model: fixed slope plus BLUP.

    Parameters
    ----------
    fit : LmerResult
        A model from :func:`fit_growth`.
    time : str, optional
        The time coding of ``fit`` (read from its formula by default).

    Returns
    -------
    pandas.DataFrame
        One row per dyad: ``dyad, fixed_slope, blup, slope, ols_slope, n_sessions,
        random_slope, time, units``. ``fixed_slope`` is the derivative of the fixed
        part with respect to time averaged over the dyad's sessions (for linear and
        log time without a condition: the fixed slope itself; with a condition:
        the slope of the dyad's condition; quadratic: the average slope over the
        dyad's sessions); ``blup`` the dyad's conditional mode of the random slope
        (0 when the model has no random slope, ``random_slope`` False); ``slope``
        their sum; ``ols_slope`` the dyad's own least-squares slope (linear and
        log time; NaN for quadratic).
    """
    time = check_time(time or _time_from_formula(fit.formula))
    data = fit._data
    slope_term = TIME_CODINGS[time].random_slope
    deriv = pd.Series(_fixed_derivative(fit, time), index=data.index)
    fixed = deriv.groupby(data["dyad"].to_numpy()).mean()
    ranef = fit.random_effects.get("dyad")
    random_slope = ranef is not None and slope_term in ranef.columns
    blup = (ranef[slope_term] if random_slope
            else pd.Series(0.0, index=fixed.index)).reindex(fixed.index).fillna(0.0)
    out = pd.DataFrame({"dyad": fixed.index, "fixed_slope": fixed.to_numpy(),
                        "blup": blup.to_numpy()})
    out["slope"] = out["fixed_slope"] + out["blup"]
    response = fit.response if fit.response in data.columns else "synchrony"
    if time in SLOPE_TIMES:
        ols = dyad_ols_slopes(data, time, value=response).set_index("dyad")
        out["ols_slope"] = out["dyad"].map(ols["ols_slope"])
    else:
        out["ols_slope"] = np.nan
    out["n_sessions"] = out["dyad"].map(data.groupby("dyad").size()).astype(int)
    out["random_slope"] = random_slope
    out["time"] = time
    out["units"] = TIME_CODINGS[time].units
    return out


# ---------------------------------------------------------------------------
# nested model comparisons
# ---------------------------------------------------------------------------

def compare_growth(sessions: pd.DataFrame, *, time: str = "linear",
                   therapist: str | None = None, condition: str | None = None,
                   covariates=None, response: str = "synchrony"
                   ) -> dict[str, tuple[LmerResult, LmerResult, LRTResult]]:
    """Likelihood-ratio tests of nested growth models (ML refits).

    * ``"quadratic_vs_linear"``: ``time="linear"`` nested in ``time="quadratic"``
      (same random part: random intercept and linear slope per dyad, or the
      intercept-only fallback for both), when there are at least 3 distinct
      sessions. For ``time="log"`` the comparison is still linear vs quadratic
      session (log and linear are not nested).
    * ``"therapist"``: the model without ``(1 | therapist)`` nested in the model
      with it, when ``therapist`` names a column with more than one therapist. The
      p-value is conservative (boundary, see the module notes).

    Returns
    -------
    dict
        Name -> ``(reduced, full, LRTResult)``.
    """
    out: dict[str, tuple[LmerResult, LmerResult, LRTResult]] = {}
    kw = {"therapist": therapist, "condition": condition, "covariates": covariates,
          "response": response}
    model = _growth_data(sessions, "linear", therapist, condition, covariates, response)
    th = model.therapist
    if model.data["session"].nunique() >= 3:
        full = fit_growth(sessions, time="quadratic", **kw)
        random_slope = "(1 + session | dyad)" in full.formula
        reduced_formula = growth_formula("linear", random_slope=random_slope,
                                         therapist=th, condition=model.condition,
                                         covariates=model.covariates,
                                         response=model.response)
        reduced = fit_growth(sessions, time="linear", **kw, _formula=reduced_formula)
        out["quadratic_vs_linear"] = (reduced, full,
                                      likelihood_ratio_test(reduced, full))
    if th is not None:
        full = fit_growth(sessions, time=time, **kw)
        reduced_formula = full.formula.replace(f" + (1 | {th})", "")
        reduced = fit_growth(sessions, time=time, **kw, _formula=reduced_formula)
        out["therapist"] = (reduced, full, likelihood_ratio_test(reduced, full))
    return out


LRT_COLUMNS = ["model", "signal", "metric", "term", "estimate", "std_error", "df", "t",
               "p", "method", "formula", "statistic", "loglik_reduced", "loglik_full"]


def lrt_table(comparisons: dict, signal: str = "", metric: str = "") -> pd.DataFrame:
    """Rows of ``models.parquet`` for :func:`compare_growth`.

    ``model`` is ``"lrt:<name>"``, ``term`` names the tested addition, ``statistic``
    the chi-square, ``df`` its degrees of freedom and ``p`` its p-value; ``formula``
    holds both formulas (``reduced: ... | full: ...``); ``estimate`` and
    ``std_error`` are empty.
    """
    rows = []
    terms = {"quadratic_vs_linear": "I(session ** 2)", "therapist": "(1 | therapist)"}
    for name, (reduced, full, lrt) in comparisons.items():
        method = "likelihood-ratio test, ML refits, chi-square"
        if name == "therapist":
            method += " (conservative: variance on the boundary)"
        rows.append({"model": f"lrt:{name}", "signal": signal, "metric": metric,
                     "term": terms.get(name, name), "estimate": np.nan,
                     "std_error": np.nan, "df": float(lrt.df), "t": np.nan,
                     "p": lrt.p, "method": method,
                     "formula": (f"reduced: {reduced.labelled_formula} | "
                                 f"full: {full.labelled_formula}"),
                     "statistic": lrt.chi2, "loglik_reduced": lrt.loglik_reduced,
                     "loglik_full": lrt.loglik_full})
    return pd.DataFrame(rows, columns=LRT_COLUMNS)


def comparison_rows(name: str, comparison: tuple, signal: str = "", metric: str = ""
                    ) -> pd.DataFrame:
    """Rows of ``models.parquet`` for one comparison of :func:`compare_growth`.

    Parameters
    ----------
    name : str
        ``"lrt:<comparison>"`` (or the comparison's name).
    comparison : tuple
        ``(reduced, full, LRTResult)``.
    signal, metric : str
        What the models were fitted on.

    Returns
    -------
    pandas.DataFrame
        :func:`lrt_table`'s row with ``n_obs`` and ``n_groups`` of the full model.
    """
    key = name[4:] if name.startswith("lrt:") else name
    full = comparison[1]
    return with_counts(lrt_table({key: comparison}, signal, metric), full.nobs,
                       mixed_model_groups(full))
