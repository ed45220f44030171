"""Rows of ``models.parquet`` for the methods paragraphs: which rows a paragraph is
written from, and where (signal, metric, channel pairs) each was fitted."""

from __future__ import annotations

import pandas as pd

from ..results import StudyResults
from ..stats.primary import ALL_PAIRS
from .wording import signal_label

__all__ = ["short_where", "row_where", "model_rows"]


def short_where(signal: str, metric: str) -> str:
    """``"HbO/wtc"``."""
    return f"{signal_label(signal)}/{metric}"


def row_where(row: pd.Series) -> str:
    """``"HbO/wtc"``, or ``"HbO/wtc in region X"`` for a row over some channel pairs
    only."""
    where = short_where(row["signal"], row["metric"])
    scope = row.get("scope")
    if isinstance(scope, str) and scope != ALL_PAIRS:
        where += f" in {scope}"
    return where


def model_rows(results: StudyResults, test) -> pd.DataFrame:
    """Rows of ``models.parquet`` whose ``model`` passes ``test`` (a callable on the
    model name)."""
    models = results.models
    if models.empty or "model" not in models.columns:
        return models.iloc[:0]
    return models[models["model"].map(test)]
