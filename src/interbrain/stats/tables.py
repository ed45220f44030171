"""Rows of ``models.parquet``: its columns, the rows of a fitted mixed model, and how
tables of different results are put together.

Every result of the statistics stage presents itself as rows of ``models.parquet``
(``to_frame()``); the columns are :data:`MODEL_COLUMNS`, then :data:`COUNT_COLUMNS`,
then columns of some results only (confidence limits, equivalence tests, permutation
counts, ...). :func:`~interbrain.stats.result_table.result_table` collects them for a
dict of results.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..nulls.dyad_tests import confidence_interval
from .mixed import LmerResult

__all__ = ["MODEL_COLUMNS", "COUNT_COLUMNS", "model_table", "mixed_model_groups",
           "with_counts", "fit_rows", "combine_tables"]

MODEL_COLUMNS = ["model", "signal", "metric", "term", "estimate", "std_error", "df", "t", "p",
                 "method", "formula"]
#: Sample-size columns of every row of ``models.parquet``, right after
#: :data:`MODEL_COLUMNS`: ``n_obs``, the observations a model was fitted to or a test
#: statistic computed from, and ``n_groups``, the dyads they come from.
COUNT_COLUMNS = ["n_obs", "n_groups"]

_BOOL_COLUMNS = ("equivalent", "significant", "singular", "converged")


def model_table(models: dict[str, LmerResult], signal: str, metric: str = "wtc",
                *, ci: float | None = None) -> pd.DataFrame:
    """Coefficient rows (:data:`MODEL_COLUMNS`) of fitted mixed models.

    Parameters
    ----------
    models : dict
        Model name -> fitted model: an :class:`~interbrain.stats.mixed.LmerResult`
        or any result with ``coefficients`` (``estimate, std_error, df, t, p`` per
        term), ``method`` and ``labelled_formula`` (e.g. a cluster-robust fit).
    signal : str
        The haemoglobin signal the models were fitted on.
    metric : str
        The synchrony metric the models were fitted on.
    ci : float, optional
        Add ``ci_low, ci_high``: the two-sided confidence interval of this level
        (e.g. 0.95) from the t quantile with the rows' ``df`` (Satterthwaite,
        Kenward-Roger, ... as the model's ``method`` says).

    Returns
    -------
    pandas.DataFrame
    """
    frames = []
    for name, result in models.items():
        coef = result.coefficients.reset_index(names="term")
        coef.insert(0, "model", name)
        coef.insert(1, "signal", signal)
        coef.insert(2, "metric", metric)
        coef["method"] = result.method
        coef["formula"] = result.labelled_formula
        frames.append(coef[MODEL_COLUMNS])
    out = (pd.concat(frames, ignore_index=True) if frames
           else pd.DataFrame(columns=MODEL_COLUMNS))
    if ci is not None:
        out["ci_low"], out["ci_high"] = confidence_interval(out["estimate"], out["std_error"],
                                                            out["df"], ci)
    return out


def mixed_model_groups(fit: LmerResult) -> int:
    """``n_groups`` of a mixed model: the number of dyads it was fitted to.

    That is the number of levels of its ``dyad`` grouping factor (``patient`` in the
    generalisation model, one patient per dyad); for a model grouped by neither, the
    largest number of levels of its grouping factors. Other factors (e.g. the
    crossed ``therapist``) are in :attr:`LmerResult.ngroups`.
    """
    groups = fit.ngroups
    for name in ("dyad", "patient"):
        if name in groups:
            return int(groups[name])
    return int(max(groups.values()))


def with_counts(out: pd.DataFrame, n_obs, n_groups) -> pd.DataFrame:
    """``out`` with the :data:`COUNT_COLUMNS` set (in place)."""
    out["n_obs"] = n_obs
    out["n_groups"] = n_groups
    return out


def fit_rows(name: str, fit: LmerResult, signal: str = "", metric: str = "", *,
             extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows of ``models.parquet`` for one fitted mixed model.

    Parameters
    ----------
    name : str
        The model's name (column ``model``).
    fit : LmerResult
        Or any result with the attributes :func:`model_table` uses and
        ``ngroups``, ``nobs``, ``df_method``, ``singular``, ``converged`` (and
        optionally ``simplification``).
    signal, metric : str
        What it was fitted on.
    extra : pandas.DataFrame, optional
        Columns to add, one row per coefficient in order (e.g. the confidence limits
        and equivalence tests of an outcome model); default: the 95% confidence
        limits ``ci_low, ci_high``.

    Returns
    -------
    pandas.DataFrame
        :data:`MODEL_COLUMNS`, the extra columns, ``n_dyads`` (levels of ``dyad`` or
        ``patient``), the model's health: ``df_method`` (the fit's, e.g.
        ``"Satterthwaite"`` or ``"Kenward-Roger"``), ``simplification`` (how the
        random part was simplified from the one asked for; empty when it was not),
        ``singular`` (a variance or correlation of the random effects on the boundary,
        lme4's ``isSingular``) and ``converged`` (the optimiser's), ``n_obs`` (the
        fit's observations) and ``n_groups`` (:func:`mixed_model_groups`).
    """
    if extra is None:
        out = model_table({name: fit}, signal, metric, ci=0.95)
    else:
        out = pd.concat([model_table({name: fit}, signal, metric),
                         extra.reset_index(drop=True)], axis=1)
    groups = fit.ngroups.get("dyad", fit.ngroups.get("patient"))
    out["n_dyads"] = float(groups) if groups is not None else np.nan
    out["df_method"] = str(fit.df_method)
    out["simplification"] = str(getattr(fit, "simplification", "") or "")
    out["singular"] = bool(fit.singular)
    out["converged"] = bool(fit.converged)
    return with_counts(out, fit.nobs, mixed_model_groups(fit))


def combine_tables(frames) -> pd.DataFrame:
    """Concatenate tidy tables.

    :data:`MODEL_COLUMNS` and :data:`COUNT_COLUMNS` first (counts as pandas' nullable
    ``Int64``, missing where a table gave none), then the union of the extra columns
    in order of appearance; boolean flags as pandas' nullable ``boolean``
    (parquet-safe).

    Parameters
    ----------
    frames : iterable of pandas.DataFrame or None
        Tables with at least :data:`MODEL_COLUMNS`; None and tables without columns
        are skipped.

    Returns
    -------
    pandas.DataFrame
    """
    frames = [f for f in frames if f is not None and len(f.columns)]
    if not frames:
        return pd.DataFrame(columns=MODEL_COLUMNS + COUNT_COLUMNS)
    frames = [f for f in frames if len(f)] or frames[:1]
    out = pd.concat(frames, ignore_index=True)
    for col in _BOOL_COLUMNS:
        if col in out.columns:
            out[col] = out[col].astype("boolean")
    for col in COUNT_COLUMNS:
        out[col] = (out[col] if col in out.columns else pd.NA)
        out[col] = pd.to_numeric(out[col]).astype("Int64")
    extra = [c for c in out.columns if c not in MODEL_COLUMNS + COUNT_COLUMNS]
    return out[MODEL_COLUMNS + COUNT_COLUMNS + extra]
