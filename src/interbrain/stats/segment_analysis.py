"""Every model of the segments of one signal and metric: :func:`analyse_segments`.

The condition model (segment label crossed with session and group,
:func:`~interbrain.stats.segment_models.fit_condition_model`), each label's real
synchrony against its matched pseudo-dyads and its within-session shuffled windows
with the contrasts between labels of that excess
(:mod:`~interbrain.stats.segment_models`), and, with two or more session numbers, the
plasticity test per label (:func:`~interbrain.stats.plasticity.plasticity_test` on the
label's rows: model ``segment_plasticity``).
"""

from __future__ import annotations

import pandas as pd

from .excess import pairing_sessions
from .plasticity import plasticity_test
from .segment_models import (SEGMENT_NULLS, condition_rows, fit_condition_model,
                             segment_contrasts, segment_excess, segment_real_vs_null,
                             segment_sessions)
from .settings import StatisticsSettings

__all__ = ["analyse_segments", "split_segments"]


def split_segments(synchrony: pd.DataFrame, segments: pd.DataFrame | None
                   ) -> tuple[pd.DataFrame, pd.DataFrame | None, list[str]]:
    """Whole-session rows and segment rows of a synchrony table.

    A table given to the statistics may hold both (a ``segment`` column, empty or
    missing on whole-session rows). Without whole-session rows, each pairing's
    session-level synchrony is the mean of its segments' values (with a note).

    Returns
    -------
    synchrony : pandas.DataFrame
        Whole-session rows, without a ``segment`` column.
    segments : pandas.DataFrame or None
        Segment rows (``segments`` and those of ``synchrony``).
    notes : list of str
    """
    notes: list[str] = []
    if "segment" not in synchrony.columns:
        return synchrony, segments, notes
    label = synchrony["segment"].astype(object)
    is_segment = (label.notna() & (label.astype(str) != "")).to_numpy()
    found = synchrony[is_segment]
    whole = synchrony[~is_segment].drop(columns=["segment", "n_samples"], errors="ignore")
    if len(found):
        segments = found if segments is None else pd.concat([segments, found],
                                                             ignore_index=True)
    if whole.empty and len(found):
        keys = [c for c in found.columns if c not in ("segment", "n_samples", "value")]
        whole = found.groupby(keys, as_index=False, dropna=False)["value"].mean()
        notes.append("the synchrony table has no whole-session rows: a session's synchrony "
                     "is the mean of its segments' values")
    return whole.reset_index(drop=True), segments, notes


def analyse_segments(segments: pd.DataFrame, design: pd.DataFrame,
                     settings: StatisticsSettings, signal: str, metric: str, *,
                     labels=(), therapists: dict | None = None
                     ) -> tuple[list[pd.DataFrame], dict, list[str]]:
    """The segment models of one signal and metric (see the module notes).

    Parameters
    ----------
    segments : pandas.DataFrame
        The segments table (``synchrony_segments.parquet``).
    design : pandas.DataFrame
        One row per dyad-session: ``dyad, session, therapist`` and optionally
        ``condition`` (the group).
    settings : StatisticsSettings
    signal, metric : str
    labels : sequence of str
        Segment labels in model order (``[segments] labels``).
    therapists : dict, optional
        Dyad -> therapist, for the plasticity test.

    Returns
    -------
    tables : list of pandas.DataFrame
        Rows of ``models.parquet`` (with a ``segment`` column on the per-label rows).
    fits : dict
        ``("condition", signal, metric)`` -> the condition model.
    notes : list of str
    """
    where = f"{signal}/{metric}"
    tables: list[pd.DataFrame] = []
    fits: dict = {}
    notes: list[str] = []
    real = segment_sessions(segments, signal, metric)
    if real.empty:
        return tables, fits, notes
    columns = ["dyad", "session", "therapist"] + (["condition"] if "condition" in
                                                   design.columns else [])
    data = real.merge(design[columns], on=["dyad", "session"], how="left")
    data = data.rename(columns={"condition": "group"})
    n_sessions = data["session"].nunique()
    if n_sessions == 1:
        notes.append(f"segments ({where}): one session number: the segment labels are "
                     "compared as a condition contrast; no growth model is attempted")
    try:
        fit = fit_condition_model(data, labels=labels, time=settings.time,
                                  df_method=settings.df_method)
        tables.append(condition_rows(fit, signal, metric))
        fits[("condition", signal, metric)] = fit
        notes += [f"condition model ({where}): {m}" for m in fit.messages]
    except ValueError as exc:
        notes.append(f"condition model ({where}) not fitted: {exc}")
    n_perm = settings.n_permutations or 9999
    for null, (_, null_kind) in SEGMENT_NULLS.items():
        if not (segments["pairing"] == null_kind).any():
            continue
        excess = segment_excess(segments, signal, metric, null)
        if excess.empty:
            continue
        tables.append(segment_real_vs_null(excess, signal, metric, null,
                                           n_permutations=n_perm, seed=settings.seed))
        tables.append(segment_contrasts(excess, signal, metric, null, labels=labels,
                                        n_permutations=n_perm, seed=settings.seed))
    if n_sessions >= 2 and (segments["pairing"] == "pseudo").any():
        tables += _segment_plasticity(segments, signal, metric, settings, therapists, notes)
    return tables, fits, notes


def _segment_plasticity(segments: pd.DataFrame, signal: str, metric: str,
                        settings: StatisticsSettings, therapists: dict | None,
                        notes: list[str]) -> list[pd.DataFrame]:
    """The plasticity test against matched pseudo-dyads of each segment label."""
    out = []
    rows = segments[segments["pairing"].isin(["real", "pseudo"])]
    for label, part in rows.groupby("segment", sort=True):
        try:
            result = plasticity_test(
                pairing_sessions(part.drop(columns=["segment", "n_samples"], errors="ignore"), signal, metric),
                time=settings.time, null="pseudo",
                n_permutations=settings.n_permutations or 999, seed=settings.seed,
                df_method=settings.df_method, therapist=therapists)
        except ValueError as exc:
            notes.append(f"plasticity test of segment {label!r} ({signal}/{metric}) not "
                         f"run: {exc}")
            continue
        out.append(result.to_frame(signal, metric, name="segment_plasticity")
                   .assign(segment=label))
    return out
