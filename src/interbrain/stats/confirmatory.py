"""The confirmatory family: the few pre-specified tests a study is about.

``[statistics.primary]`` names the primary haemoglobin signal, synchrony metric, scope
(``scope``: every channel pair, one region or a list of channel pairs) and measures. The
confirmatory family is then

* the plasticity test (:mod:`interbrain.stats.plasticity`, excess over pseudo-dyads)
  of the primary signal, metric and scope, with its dyad-level permutation p-value;
* for each primary measure, the within-dyad synchrony coefficient
  (``synchrony_within``) of its concurrent outcome model
  (:mod:`interbrain.stats.outcomes`) on the same signal, metric and scope.

Their p-values are corrected together by Holm's step-down method (family-wise error
rate at ``alpha``), in columns ``p_adjusted`` and ``correction`` of the rows marked
``family = "confirmatory"``; every other row is ``"exploratory"``, tested at
``alpha`` on its own and labelled so in tables, the report and ``methods.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from .primary import ALL_PAIRS, PrimarySettings

__all__ = ["PrimarySettings", "ALL_PAIRS", "mark_families", "confirmatory_p"]

#: The term of an outcome model in the confirmatory family.
CONFIRMATORY_OUTCOME_TERM = "synchrony_within"


def confirmatory_p(rows: pd.DataFrame) -> pd.Series:
    """The p-value each confirmatory row contributes to the family.

    The plasticity test contributes its dyad-level permutation p-value
    (``p_permutation``), an outcome coefficient its model's ``p``.
    """
    p = rows["p"].astype(float)
    if "p_permutation" in rows.columns:
        perm = pd.to_numeric(rows["p_permutation"], errors="coerce")
        p = p.where(~(rows["model"] == "plasticity") | perm.isna(), perm)
    return p


def mark_families(models: pd.DataFrame, primary: PrimarySettings, signal: str, metric: str,
                  alpha: float = 0.05) -> pd.DataFrame:
    """Mark every row confirmatory or exploratory and Holm-correct the confirmatory ones.

    Parameters
    ----------
    models : pandas.DataFrame
        Rows of ``models.parquet`` with a ``scope`` column (the channel pairs a row's
        synchrony was averaged over).
    primary : PrimarySettings
        With ``signal`` and ``metric`` resolved (see the arguments).
    signal, metric : str
        The primary signal and metric (``primary``'s, or the study's first).
    alpha : float
        Family-wise level (for the ``significant`` column of the family's rows).

    Returns
    -------
    pandas.DataFrame
        ``models`` with ``family`` (every row), ``p_family`` (the p-value each
        confirmatory row contributes), and for the confirmatory rows ``p_adjusted``
        (Holm), ``correction = "holm (confirmatory family)"`` and ``significant``.
    """
    out = models.copy()
    scope = out["scope"] if "scope" in out.columns else pd.Series(ALL_PAIRS, index=out.index)
    base = (out["signal"] == signal) & (out["metric"] == metric) & (scope == primary.scope)
    plasticity = base & (out["model"] == "plasticity")
    outcomes = base & out["model"].isin([f"outcome:{m}" for m in primary.measures]) \
        & (out["term"] == CONFIRMATORY_OUTCOME_TERM)
    family = plasticity | outcomes
    out["family"] = np.where(family, "confirmatory", "exploratory")
    if not family.any():
        return out
    p = confirmatory_p(out[family])
    finite = p.notna()
    adjusted = pd.Series(np.nan, index=p.index)
    if finite.any():
        adjusted[finite] = multipletests(p[finite].to_numpy(), alpha=alpha,
                                         method="holm")[1]
    for col, default in (("p_adjusted", np.nan), ("correction", np.nan),
                         ("significant", pd.NA), ("p_family", np.nan)):
        if col not in out.columns:
            out[col] = default
    out["correction"] = out["correction"].astype(object).where(out["correction"].notna(),
                                                               np.nan)
    out.loc[family, "p_family"] = p
    out.loc[family, "p_adjusted"] = adjusted
    out.loc[family, "correction"] = "holm (confirmatory family)"
    out["significant"] = out["significant"].astype("boolean")
    out.loc[family, "significant"] = (adjusted < alpha).where(adjusted.notna(), pd.NA)
    return out
