"""The pre-specified model ladder of the concurrent and lagged outcome models.

When the within-dyad effect of synchrony on a measure differs between dyads, a
model with only a random intercept treats the dyads' differing slopes as
independent session noise and its test of the mean within-dyad effect is far too
liberal (simulated, 8 dyads x 6 sessions, null mean effect: 10.8 % false positives
at alpha 0.05 with a between-dyad SD of the effect of 0.3, 31.5 % with 1.0, in
standardised units). The outcome models therefore fit, in this order,

1. ``response ~ synchrony_within + synchrony_between + session
   + (1 + synchrony_within | dyad)`` (REML; correlated random intercept and slope);
2. if that fit is singular (a variance at zero or the correlation at +-1) or fails:
   ``... + (1 | dyad) + (0 + synchrony_within | dyad)`` (uncorrelated);
3. if that is singular too or fails: the OLS fixed part
   ``response ~ synchrony_within + synchrony_between + session`` with CR2
   cluster-robust standard errors by dyad and Satterthwaite degrees of freedom
   (:mod:`interbrain.stats.cluster_robust`, as R's clubSandwich), which is valid
   whatever the dyads' slopes and intercepts are.

The rung used is recorded on the result's ``simplification`` attribute (``""`` for
rung 1, :data:`SIMPLIFICATIONS`) and the reasons in its ``messages``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .._check import check_option
from .cluster_robust import ClusterRobustResult, cluster_robust_ols
from .mixed import LmerResult, lmer

__all__ = ["FIXED_PART", "RANDOM_PARTS", "SIMPLIFICATIONS", "DF_METHODS",
           "LADDER_DESCRIPTION", "ladder_formulas", "check_df_method", "fit_outcome_ladder"]

#: Fixed part of the concurrent and lagged outcome models (``{response}`` filled in).
FIXED_PART = "{response} ~ synchrony_within + synchrony_between + session"
#: Random-effects parts of rungs 1 and 2.
RANDOM_PARTS = ("(1 + synchrony_within | dyad)",
                "(1 | dyad) + (0 + synchrony_within | dyad)")
#: ``simplification`` of the result of each rung.
SIMPLIFICATIONS = (
    "",
    "correlation of the random intercept and slope dropped (singular fit)",
    "random slope not identified (singular fit): OLS with CR2 cluster-robust SE by "
    "dyad, Satterthwaite df")
#: Denominator-df methods of the mixed-model rungs (``lmer``'s ``df_method``).
DF_METHODS = ("satterthwaite", "kenward-roger")
#: One sentence on the ladder, for methods text.
LADDER_DESCRIPTION = (
    "a random intercept and a random slope of synchrony_within per dyad (correlated); "
    "if that fit was singular, uncorrelated; if still singular, OLS with CR2 "
    "cluster-robust standard errors by dyad and Satterthwaite degrees of freedom "
    "(Pustejovsky & Tipton, 2018)")


def check_df_method(df_method: object) -> str:
    """Return ``df_method`` if it is one of :data:`DF_METHODS`, else raise ValueError."""
    return check_option(df_method, "df_method", DF_METHODS)


def ladder_formulas(response: str) -> tuple[str, str, str]:
    """The formulas of rungs 1, 2 and 3 for the (internal) response column."""
    fixed = FIXED_PART.format(response=response)
    return (f"{fixed} + {RANDOM_PARTS[0]}", f"{fixed} + {RANDOM_PARTS[1]}", fixed)


def _try_lmer(formula: str, data: pd.DataFrame, df_method: str
              ) -> tuple[LmerResult | None, str]:
    """Fit one mixed rung; ``(fit, "")`` when usable, else ``(None, why not)``."""
    options = {} if df_method == "satterthwaite" else {"df_method": df_method}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = lmer(formula, data, reml=True, **options)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
        return None, f"failed ({exc})"
    if fit.singular:
        return None, "singular fit"
    if not fit.converged:
        return None, "optimiser did not converge"
    return fit, ""


def fit_outcome_ladder(response: str, data: pd.DataFrame, *,
                       df_method: str = "satterthwaite"
                       ) -> LmerResult | ClusterRobustResult:
    """Fit the outcome model ladder (module notes) and return the first usable rung.

    Parameters
    ----------
    response : str
        Internal name of the response column (``measure`` or ``measure_next``).
    data : pandas.DataFrame
        Columns ``dyad``, ``synchrony_within``, ``synchrony_between``, ``session``
        and ``response``, one row per dyad-session.
    df_method : {"satterthwaite", "kenward-roger"}
        Denominator df of the mixed-model rungs; rung 3 always uses the CR2
        Satterthwaite df.

    Returns
    -------
    LmerResult or ClusterRobustResult
        With ``simplification`` (:data:`SIMPLIFICATIONS`) and the reasons for
        skipped rungs first in ``messages``.
    """
    check_df_method(df_method)
    formulas = ladder_formulas(response)
    notes: list[str] = []
    for rung in (0, 1):
        fit, why = _try_lmer(formulas[rung], data, df_method)
        if fit is not None:
            fit.simplification = SIMPLIFICATIONS[rung]
            fit.messages = notes + list(fit.messages)
            return fit
        notes.append(f"model {formulas[rung]!r}: {why}")
    fit = cluster_robust_ols(formulas[2], data, "dyad", simplification=SIMPLIFICATIONS[2])
    fit.messages = notes + fit.messages
    return fit
