"""Helpers shared by the statistics modules (not part of the API)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def require_columns(data: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise ValueError naming the columns of ``columns`` that ``data`` lacks.

    Parameters
    ----------
    data : pandas.DataFrame
        The table given (anything else is refused too).
    columns : iterable of str
        The columns needed.
    what : str
        What the table is, for the message (``"sessions"``, ``"measures"``).
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has "
                         f"{sorted(map(str, data.columns))}")
