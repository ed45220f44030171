"""Rows of ``models.parquet`` for results of any of the study's analyses.

:func:`result_rows` turns one result into rows (each kind of result presents itself
with ``to_frame()``; a bare fitted model or likelihood-ratio comparison is turned
into rows here), :func:`result_table` a dict of them, with the columns of
:mod:`interbrain.stats.tables`.
"""

from __future__ import annotations

import pandas as pd

from .cluster_robust import ClusterRobustResult
from .cross_lagged import CrossLaggedResult
from .dissociation import DissociationResult
from .generalisation import GeneralisationResult
from .growth import comparison_rows
from .generalisation_patients import PatientGeneralisationResult
from .growth_analysis import GrowthAnalysis
from .mediation import MediationResult
from .mixed import LmerResult, LRTResult
from .outcomes import OutcomeAnalysis, outcome_fit_rows
from .permutation import PermutationResult
from .prepost import PrePostResult
from .real_vs_pseudo import RealVsPseudoResult
from .tables import COUNT_COLUMNS, MODEL_COLUMNS, combine_tables, fit_rows
from .therapist_effects import TherapistEffectsResult
from .therapist_pseudo import PseudoSplitResult

#: Results of the mechanism models, each giving its rows with ``to_frame(signal,
#: metric)`` (its model names are its own).
_MECHANISM_RESULTS = (CrossLaggedResult, MediationResult, DissociationResult,
                      TherapistEffectsResult, PseudoSplitResult)

__all__ = ["result_rows", "result_table"]


def _tidy_rows(name: str, table: pd.DataFrame, signal: str, metric: str) -> pd.DataFrame:
    missing = [c for c in MODEL_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"table {name!r} lacks model column(s) {missing}")
    out = table.copy()
    if signal:
        out["signal"] = out["signal"].replace("", signal).fillna(signal)
    if metric:
        out["metric"] = out["metric"].replace("", metric).fillna(metric)
    if "n_dyads" in out.columns:   # a test over dyads (e.g. per-unit tests)
        for col in COUNT_COLUMNS:
            out[col] = out[col].fillna(out["n_dyads"]) if col in out.columns \
                else out["n_dyads"]
    return out


def result_rows(name: str, result, signal: str = "", metric: str = "", *,
                sesoi=None, sesoi_scale: str = "raw", alpha: float = 0.05
                ) -> pd.DataFrame:
    """Rows of ``models.parquet`` for one result of any of the study's analyses.

    Parameters
    ----------
    name : str
        The result's name (column ``model``; for a fitted model named
        ``outcome:<measure>`` also the measure of its
        equivalence test).
    result
        A fitted model (:class:`~interbrain.stats.mixed.LmerResult`: coefficients with
        95% CIs, or for outcome models the equivalence columns; an outcome model's
        :class:`~interbrain.stats.cluster_robust.ClusterRobustResult` likewise), a
        likelihood-ratio
        comparison ``(reduced, full, LRTResult)`` from
        :func:`~interbrain.stats.growth.compare_growth`, a
        :class:`~interbrain.stats.permutation.PermutationResult`, a
        :class:`~interbrain.stats.prepost.PrePostResult`, a
        :class:`~interbrain.stats.generalisation.GeneralisationResult`, a
        :class:`~interbrain.stats.real_vs_pseudo.RealVsPseudoResult`, a
        :class:`~interbrain.stats.growth_analysis.GrowthAnalysis` /
        the results of the mechanism models (cross-lagged, mediation, dissociation,
        therapist effects, pseudo-dyads split by therapist, patient-level
        generalisation) /
        :class:`~interbrain.stats.outcomes.OutcomeAnalysis`, or an already tidy table
        (e.g. :func:`~interbrain.stats.multiple.pairwise_tests`).
    signal, metric : str
        What it was computed on.
    sesoi : float or dict, optional
        Smallest effect size of interest of the outcome models: a number or a
        ``{measure: value}`` dict (see :mod:`interbrain.stats.equivalence`).
    sesoi_scale : {"raw", "standardized"}
    alpha : float
        Level of the equivalence tests.

    Returns
    -------
    pandas.DataFrame
        The first columns are always :data:`~interbrain.stats.tables.MODEL_COLUMNS`,
        then :data:`~interbrain.stats.tables.COUNT_COLUMNS`: ``n_obs``, the
        observations the model was fitted to or the test statistic computed from, and
        ``n_groups``, the dyads they come from. For mixed models (and their
        likelihood-ratio tests and contrasts) ``n_obs`` is the fit's ``nobs``
        (dyad-sessions, or recording pairs in the generalisation model) and
        ``n_groups`` is :func:`~interbrain.stats.tables.mixed_model_groups`; for tests
        over per-dyad summaries (slopes, mean differences, pre-post changes: the slope
        permutation test with its OLS t, the real-versus-pseudo test, the pre-post
        OLS, tidy tables with an ``n_dyads`` column such as the per-unit tests) both
        are the number of dyads. Extra columns depend on the result (``ci_low,
        ci_high``, ``sesoi, sesoi_scale, sesoi_input, p_equivalence, equivalent``,
        ``statistic``, ``p_adjusted, correction``, ...).

    Raises
    ------
    ValueError
        For a result of another kind, or a table without the model columns.
    """
    options = {"sesoi": sesoi, "sesoi_scale": sesoi_scale, "alpha": alpha}
    if isinstance(result, (LmerResult, ClusterRobustResult)):
        kind, _, measure = name.partition(":")
        if kind in ("outcome", "lagged") and measure:
            return outcome_fit_rows(name, result, signal, metric, **options)
        if isinstance(result, ClusterRobustResult) and kind != "cross_lagged":
            raise ValueError(f"a cluster-robust OLS fit ({name!r}) is turned into rows "
                             "only as an outcome model, named 'outcome:<measure>', "
                             "'lagged:<measure>' or 'cross_lagged:<measure>:<direction>'")
        return fit_rows(name, result, signal, metric)
    if isinstance(result, tuple) and len(result) == 3 and isinstance(result[2], LRTResult):
        return comparison_rows(name, result, signal, metric)
    if isinstance(result, PrePostResult):
        return result.to_frame(signal, metric, name=name, **options)
    if isinstance(result, _MECHANISM_RESULTS):
        return result.to_frame(signal, metric)
    if isinstance(result, (PermutationResult, GeneralisationResult, GrowthAnalysis,
                           RealVsPseudoResult, PatientGeneralisationResult)):
        return result.to_frame(signal, metric, name=name)
    if isinstance(result, OutcomeAnalysis):
        return result.to_frame(signal, metric)
    if isinstance(result, pd.DataFrame):
        return _tidy_rows(name, result, signal, metric)
    raise ValueError(f"cannot turn {type(result).__name__} ({name!r}) into model rows")


def result_table(results: dict, signal: str = "", metric: str = "", *, sesoi=None,
                 sesoi_scale: str = "raw", alpha: float = 0.05) -> pd.DataFrame:
    """Rows of ``models.parquet`` for a dict name -> result (see :func:`result_rows`).

    Returns
    -------
    pandas.DataFrame
        The rows of every result, in order, put together by
        :func:`~interbrain.stats.tables.combine_tables`.
    """
    return combine_tables([result_rows(name, res, signal, metric, sesoi=sesoi,
                                       sesoi_scale=sesoi_scale, alpha=alpha)
                           for name, res in results.items()])
