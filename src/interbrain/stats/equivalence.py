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

Power of the equivalence test
    A TOST that does not reject says nothing unless it had a fair chance to.
    :func:`equivalence_power` gives its power at a standard error and df (exact: the
    estimate normal about the true effect, its squared SE scaled chi-square with
    ``df`` degrees of freedom, integrated numerically, as Owen's Q in PowerTOST);
    :func:`add_equivalence` reports it as ``power_equivalence``, the power to
    declare equivalence if the true effect were 0, taking the observed SE as the
    true one (a property of the design and its noise, not of the estimate).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import integrate, special
from scipy import stats as sps

from .._check import check_option
from ..nulls.dyad_tests import confidence_interval
from .settings import SESOI_SCALE_OPTIONS

__all__ = ["level_sds", "OUTCOME_TERMS", "SESOI_SCALES", "equivalence_test", "sesoi_for",
           "check_sesoi_scale", "add_equivalence", "equivalence_power"]

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
    p_equivalence, power_equivalence, equivalent`` to the rows of ``terms`` when ``sesoi`` is given
    (NaN / missing elsewhere). With ``scale="standardized"`` the SESOI of term ``k``
    is ``sesoi * sd_response[k] / sd_predictors[k]`` (``sd_response`` a number, or a
    dict by term: the response's SD at the level of the term, see
    :func:`level_sds`). ``power_equivalence`` is :func:`equivalence_power` of the
    row's SE and df at a true effect of 0.
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
    out["power_equivalence"] = np.nan
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
        se, df = float(out.at[i, "std_error"]), float(out.at[i, "df"])
        if math.isfinite(se) and se > 0 and df > 0:
            out.at[i, "power_equivalence"] = equivalence_power(se, df, raw, alpha=alpha)
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


def equivalence_power(std_error: float, df: float, sesoi: float, alpha: float = 0.05,
                      true_effect: float = 0.0) -> float:
    """Power of the TOST of :func:`equivalence_test` at a standard error and df.

    The estimate is taken as ``N(true_effect, std_error^2)`` and its estimated
    standard error as ``std_error * sqrt(V / df)`` with ``V ~ chi2(df)``,
    independent (a t-based coefficient: a mean over dyads, an OLS or
    Satterthwaite-df coefficient). Equivalence is declared when both one-sided
    tests reject at ``alpha``, i.e. when ``|estimate| < sesoi - q * se_hat`` with
    ``q = t_{1 - alpha, df}``; its probability, conditional on ``se_hat``, is a
    difference of two normal probabilities, integrated over the distribution of
    ``se_hat`` (over the quantiles of ``V``; exact up to the quadrature's error,
    about 1e-8: PowerTOST's "exact" power via Owen's Q). With ``df = inf`` the SE
    is known and the power is ``Phi((sesoi - true_effect) / se - q)
    - Phi((-sesoi - true_effect) / se + q)`` (0 when negative).

    Parameters
    ----------
    std_error : float
        The estimate's (true) standard error, in the units of ``sesoi``; > 0.
    df : float
        Degrees of freedom of the estimated standard error, > 0 (``inf``: known).
    sesoi : float
        Smallest effect size of interest ``Delta > 0``.
    alpha : float
        Level of each one-sided test, in (0, 0.5).
    true_effect : float
        The true coefficient (0: the power to show that a null effect is null).

    Returns
    -------
    float
        The probability, in [0, 1], that :func:`equivalence_test` declares
        ``equivalent``.

    Examples
    --------
    >>> round(equivalence_power(0.1, float("inf"), 0.3), 3)
    0.825
    """
    se, df, theta = float(std_error), float(df), float(true_effect)
    if not (math.isfinite(se) and se > 0):
        raise ValueError(f"std_error must be a positive number, got {std_error!r}")
    if not (df > 0):
        raise ValueError(f"df must be > 0 (inf for a known standard error), got {df!r}")
    if not (isinstance(sesoi, (int, float, np.floating, np.integer))
            and math.isfinite(float(sesoi)) and float(sesoi) > 0):
        raise ValueError(f"the smallest effect size of interest must be a positive "
                         f"number, got {sesoi!r}")
    if not (isinstance(alpha, (int, float, np.floating)) and 0 < float(alpha) < 0.5):
        raise ValueError(f"alpha must lie in (0, 0.5), got {alpha!r}")
    if not math.isfinite(theta):
        raise ValueError(f"true_effect must be finite, got {true_effect!r}")
    delta = float(sesoi)
    upper, lower = (delta - theta) / se, (-delta - theta) / se
    q = float(sps.t.ppf(1.0 - alpha, df) if math.isfinite(df)
              else sps.norm.ppf(1.0 - alpha))

    def declared(u: float) -> float:
        """P(equivalent | estimated SE = u * std_error)."""
        return max(0.0, float(special.ndtr(upper - q * u) - special.ndtr(lower + q * u)))

    if not math.isfinite(df):
        return declared(1.0)
    u_max = delta / (q * se)     # an estimated SE beyond which equivalence is impossible
    # integrate over the quantile p of V ~ chi2(df) (u = sqrt(V / df)): a bounded,
    # smooth integrand on [0, P(V < df u_max^2)] however peaked the density of V is
    p_max = float(special.chdtr(df, df * u_max * u_max))

    def integrand(p: float) -> float:
        return declared(math.sqrt(float(special.chdtri(df, 1.0 - p)) / df))

    if p_max <= 0:
        return 0.0
    power, _ = integrate.quad(integrand, 0.0, p_max, limit=200, epsabs=1e-10,
                              epsrel=1e-8)
    return float(min(1.0, max(0.0, power)))
