"""Confidence intervals and equivalence tests of the outcome models' coefficients.

"No association" and equivalence
    Every coefficient gets a 95% confidence interval from the t quantile with its
    (Satterthwaite, or OLS) df: ``estimate +- t_{0.975, df} * std_error``. For the
    synchrony coefficients, given a smallest effect size of interest (SESOI)
    ``Delta > 0``, the two one-sided tests (TOST) of ``beta <= -Delta`` and
    ``beta >= Delta`` give ``p_equivalence = max(p_lower, p_upper)``;
    ``equivalent`` is ``p_equivalence < alpha`` (alpha 0.05: the 90% CI lies within
    ``+-Delta``). The SESOI is given per measure:

    * ``sesoi_scale="raw"`` (default): in units of the measure per unit of the
      synchrony predictor (per unit synchrony for (a) and (b), per unit of slope,
      i.e. synchrony per session, for (c));
    * ``sesoi_scale="standardized"``: a standardized coefficient (measure SDs per
      predictor SD), converted to raw units as
      ``Delta_raw = Delta_std * SD(response) / SD(predictor)`` with the SDs of the
      rows used (response: the measure, ``measure_next`` or ``change``; predictor:
      ``synchrony_within``, ``synchrony_between`` or the slope).

    The output always states ``sesoi`` (raw units, what the estimate was compared
    with), ``sesoi_scale`` and ``sesoi_input`` (the value given).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from .._check import check_option
from ..nulls.dyad_tests import confidence_interval
from .settings import SESOI_SCALE_OPTIONS

__all__ = ["level_sds", "OUTCOME_TERMS", "SESOI_SCALES", "equivalence_test", "sesoi_for",
           "check_sesoi_scale", "add_equivalence"]

#: The synchrony coefficients of the concurrent and lagged outcome models.
OUTCOME_TERMS = ("synchrony_within", "synchrony_between")
#: Scales a smallest effect size of interest is given on.
SESOI_SCALES = SESOI_SCALE_OPTIONS


def equivalence_test(estimate: float, std_error: float, df: float, sesoi: float, *,
                     alpha: float = 0.05, level: float = 0.95) -> dict[str, float]:
    """Two one-sided tests (TOST) of ``|beta| < sesoi`` and a confidence interval.

    Parameters
    ----------
    estimate, std_error, df : float
        The coefficient, its standard error and (Satterthwaite) df (``inf``: normal).
    sesoi : float
        Smallest effect size of interest ``Delta > 0``, in the estimate's units.
    alpha : float
        Level of each one-sided test; ``equivalent`` is ``p_equivalence < alpha``.
    level : float
        Coverage of the reported two-sided interval (0.95).

    Returns
    -------
    dict
        ``ci_low, ci_high, sesoi, p_lower, p_upper, p_equivalence, equivalent``.
    """
    if not (isinstance(sesoi, (int, float, np.floating, np.integer))
            and math.isfinite(float(sesoi)) and float(sesoi) > 0):
        raise ValueError(f"the smallest effect size of interest must be a positive "
                         f"number, got {sesoi!r}")
    lo, hi = confidence_interval(estimate, std_error, df, level)
    est, se, sesoi = float(estimate), float(std_error), float(sesoi)
    dist = sps.t(df) if math.isfinite(df) else sps.norm()
    if not (se > 0 and math.isfinite(se)):
        p_lower = p_upper = float("nan")
    else:
        p_lower = float(dist.sf((est + sesoi) / se))   # H0: beta <= -sesoi
        p_upper = float(dist.cdf((est - sesoi) / se))  # H0: beta >= +sesoi
    p_eq = max(p_lower, p_upper)
    return {"ci_low": float(lo), "ci_high": float(hi), "sesoi": sesoi,
            "p_lower": p_lower, "p_upper": p_upper, "p_equivalence": p_eq,
            "equivalent": bool(p_eq < alpha) if math.isfinite(p_eq) else False}


def sesoi_for(sesoi, measure: str):
    """The smallest effect size of interest of ``measure``: ``sesoi`` itself (one
    number for every measure), its entry in a ``{measure: value}`` dict, or None."""
    if sesoi is None:
        return None
    if isinstance(sesoi, dict):
        return sesoi.get(measure)
    return sesoi


def check_sesoi_scale(scale: object) -> str:
    """Return ``scale`` if it is one of :data:`SESOI_SCALES`, else raise ValueError."""
    return check_option(scale, "sesoi_scale", SESOI_SCALES)


def add_equivalence(coefficients: pd.DataFrame, sesoi: float | None, *,
                    terms=OUTCOME_TERMS, scale: str = "raw",
                    sd_response: float | dict = 1.0,
                    sd_predictors: dict | None = None, alpha: float = 0.05,
                    level: float = 0.95) -> pd.DataFrame:
    """Coefficient table (``term`` column or index) with CI and TOST columns added.

    Adds ``ci_low, ci_high`` to every row and ``sesoi, sesoi_scale, sesoi_input,
    p_equivalence, equivalent`` to the rows of ``terms`` when ``sesoi`` is given
    (NaN / missing elsewhere). With ``scale="standardized"`` the SESOI of term ``k``
    is ``sesoi * sd_response[k] / sd_predictors[k]`` (``sd_response`` a number, or a
    dict by term: the response's SD at the level of the term, see
    :func:`level_sds`).
    """
    check_sesoi_scale(scale)
    out = coefficients.copy()
    if "term" not in out.columns:
        out = out.reset_index(names="term")
    lo, hi = confidence_interval(out["estimate"], out["std_error"], out["df"], level)
    out["ci_low"], out["ci_high"] = lo, hi
    out["sesoi"] = np.nan
    out["sesoi_scale"] = pd.Series([None] * len(out), dtype=object, index=out.index)
    out["sesoi_input"] = np.nan
    out["p_equivalence"] = np.nan
    out["equivalent"] = pd.array([pd.NA] * len(out), dtype="boolean")
    if sesoi is None:
        return out
    for i in out.index[out["term"].isin(list(terms))]:
        term = out.at[i, "term"]
        raw = float(sesoi)
        if scale == "standardized":
            sdp = (sd_predictors or {}).get(term, np.nan)
            sdr = (sd_response.get(term, np.nan) if isinstance(sd_response, dict)
                   else sd_response)
            raw = float(sesoi) * sdr / sdp if sdp and sdp > 0 else np.nan
        if not (math.isfinite(raw) and raw > 0):
            continue
        eq = equivalence_test(out.at[i, "estimate"], out.at[i, "std_error"],
                              out.at[i, "df"], raw, alpha=alpha, level=level)
        out.at[i, "sesoi"] = raw
        out.at[i, "sesoi_scale"] = scale
        out.at[i, "sesoi_input"] = float(sesoi)
        out.at[i, "p_equivalence"] = eq["p_equivalence"]
        out.at[i, "equivalent"] = eq["equivalent"]
    return out


def level_sds(values: pd.Series, groups: pd.Series) -> tuple[float, float]:
    """Within- and between-group standard deviations of ``values``.

    The within SD pools the deviations from each group's mean (``n - n_groups``
    degrees of freedom); the between SD is the SD of the group means (one value per
    group, ``n_groups - 1`` degrees of freedom). A standardized within-dyad effect is
    scaled by within-dyad SDs of both the measure and synchrony, a between-dyad effect
    by between-dyad SDs, so that neither borrows the other level's variance (the
    total SD of a measure with large differences between dyads would make the
    within-dyad bound too wide, and "no association" too easy to claim).

    Returns
    -------
    within, between : float
        NaN where the degrees of freedom are not positive.
    """
    v = pd.Series(np.asarray(values, dtype=float))
    g = pd.Series(np.asarray(groups))
    means = v.groupby(g).transform("mean")
    n, k = len(v), int(g.nunique())
    within = (math.sqrt(float(((v - means) ** 2).sum()) / (n - k)) if n > k
              else float("nan"))
    between = float(v.groupby(g).mean().std(ddof=1)) if k > 1 else float("nan")
    return within, between
