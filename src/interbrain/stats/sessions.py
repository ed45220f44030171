"""Session-level synchrony: the channel-pair mean of each dyad-session, the table the
models are fitted to (``sessions.parquet``), and the design columns joined to it."""

from __future__ import annotations

import pandas as pd

__all__ = ["SESSION_COLUMNS", "session_synchrony", "attach_covariates"]

#: Columns of ``sessions.parquet``.
SESSION_COLUMNS = ["dyad", "session", "signal", "metric", "pairing", "synchrony", "n_pairs"]


def session_synchrony(synchrony: pd.DataFrame, signal: str, pairing: str = "real",
                      metric: str = "wtc") -> pd.DataFrame:
    """Average synchrony of each dyad-session over its channel pairs.

    Parameters
    ----------
    synchrony : pandas.DataFrame
        The tidy synchrony table (columns ``dyad, session, pair, signal, pairing,
        metric, value``).
    signal : str
        ``"hbo"`` or ``"hbr"``.
    pairing : str
        ``"real"``, ``"pseudo"``, ``"familiarity"`` or a kind of surrogate. Pseudo
        rows are averaged per therapist dyad (their ``dyad``), over every pseudo
        partner; familiarity rows per dyad and session of the therapist recording
        (their ``session``), over every partner session (``partner_session``).
        Either way the mean is over all rows, pooled: every channel pair of every
        partner recording counts once (a partner recording with more good channel
        pairs weighs more), and ``n_pairs`` counts them all.
    metric : str
        The synchrony metric (``"wtc"``, ``"pearson"``, ...).

    Returns
    -------
    pandas.DataFrame
        Columns ``dyad, session, synchrony, n_pairs``, sorted by dyad and session: one
        row per dyad and session (of the therapist recording) with rows of
        ``pairing``.
    """
    rows = synchrony[(synchrony["signal"] == signal) & (synchrony["pairing"] == pairing)
                     & (synchrony["metric"] == metric)]
    out = (rows.groupby(["dyad", "session"], as_index=False)["value"]
           .agg(synchrony="mean", n_pairs="size"))
    return out.sort_values(["dyad", "session"], ignore_index=True)


def attach_covariates(sessions: pd.DataFrame, table: pd.DataFrame, on: str = "dyad",
                      columns=None) -> pd.DataFrame:
    """``sessions`` with columns of ``table`` (one row per ``on`` value) added.

    For example the therapist of each dyad and therapist-level covariates
    (``table`` with ``dyad, therapist, burnout``) before
    ``fit_growth(..., therapist="therapist", covariates=["burnout"])``.

    Parameters
    ----------
    sessions : pandas.DataFrame
        One row per dyad-session, with the key column ``on``.
    table : pandas.DataFrame
        One row per key.
    on : str
        The key column.
    columns : list of str, optional
        Columns of ``table`` to add (default all but the key).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ValueError
        ``table`` repeats a key or lacks a value for a key of ``sessions``, a column
        is missing, or ``sessions`` already has one of the columns.
    """
    for frame, what in ((sessions, "sessions"), (table, "table")):
        if on not in frame.columns:
            raise ValueError(f"{what} lacks the key column {on!r}")
    cols = [c for c in table.columns if c != on] if columns is None else list(columns)
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing}")
    if table[on].duplicated().any():
        raise ValueError(f"table has several rows for some {on!r} values: "
                         f"{sorted(table.loc[table[on].duplicated(), on].astype(str))[:5]}")
    clash = [c for c in cols if c in sessions.columns]
    if clash:
        raise ValueError(f"sessions already has column(s) {clash}")
    out = sessions.merge(table[[on] + cols], on=on, how="left", validate="many_to_one")
    lacking = sorted(out.loc[out[cols].isna().any(axis=1), on].astype(str).unique())
    if lacking:
        raise ValueError(f"no {cols} for {on} {lacking[:5]}")
    return out
