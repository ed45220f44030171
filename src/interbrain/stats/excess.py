"""Real synchrony in excess of its null, per dyad-session.

The plasticity test (:mod:`interbrain.stats.plasticity`) asks whether the *excess* of
real synchrony over what the method reports for recordings that did not interact
grows over sessions. This module builds that excess from session-level synchrony of
every pairing (:func:`pairing_sessions`):

``"pseudo"``
    The null of dyad ``d`` at session ``s`` is the mean over the pseudo-dyads that
    share a recording with it: ``d``'s therapist recording with the patients of the
    other dyads of session number ``s``, and the other dyads' therapists with ``d``'s
    patient (``Y_s[d, j]``, ``j != d``, and ``Y_s[k, d]``, ``k != d``). Anything that
    raises synchrony at a session number in every pairing (habituation, cap
    placement, a paced-breathing rhythm in later sessions) is in both and cancels.
``"familiarity"``
    The same therapist and patient from different sessions: ``d``'s therapist
    recording of session ``s`` with ``d``'s patient recordings of the other sessions,
    and ``d``'s therapist recordings of the other sessions with the patient
    recording of ``s``. Person-level change over treatment cancels.
surrogate kinds
    The mean of the dyad-session's surrogate draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..nulls.draws import null_sides
from ._util import require_columns

__all__ = ["PAIRING_SESSION_COLUMNS", "pairing_sessions", "null_means", "excess_table",
           "pseudo_matrices"]

#: Columns of :func:`pairing_sessions`.
PAIRING_SESSION_COLUMNS = ["dyad", "partner_dyad", "session", "partner_session", "pairing",
                           "synchrony"]


def pairing_sessions(synchrony: pd.DataFrame, signal: str, metric: str = "wtc"
                     ) -> pd.DataFrame:
    """Session-level synchrony of every pairing: the mean over its channel pairs.

    Parameters
    ----------
    synchrony : pandas.DataFrame
        The tidy synchrony table of a run (``dyad, partner_dyad, session, signal,
        pairing, metric, value``; ``partner_session`` where familiarity pairings ran,
        ``surrogate`` where surrogates did).
    signal, metric : str
        Which rows.

    Returns
    -------
    pandas.DataFrame
        :data:`PAIRING_SESSION_COLUMNS` (and ``surrogate``, numbering the draws of a
        surrogate kind, when the table has it): one row per pairing (per surrogate
        draw). ``partner_session`` equals ``session`` where the table has none.
    """
    require_columns(synchrony, ["dyad", "partner_dyad", "session", "signal", "pairing",
                                "metric", "value"], "synchrony")
    rows = synchrony[(synchrony["signal"] == signal) & (synchrony["metric"] == metric)]
    rows = rows.dropna(subset=["value"])
    if "partner_session" not in rows.columns:
        rows = rows.assign(partner_session=rows["session"])
    keys = ["dyad", "partner_dyad", "session", "partner_session", "pairing"]
    if "surrogate" in rows.columns:
        rows = rows.assign(surrogate=rows["surrogate"].fillna(-1))
        keys.append("surrogate")
    out = rows.groupby(keys, as_index=False, sort=True)["value"].mean()
    out = out.rename(columns={"value": "synchrony"})
    if "surrogate" in out.columns and (out["surrogate"] == -1).all():
        out = out.drop(columns="surrogate")
    return out


def null_means(pairings: pd.DataFrame, null: str) -> pd.DataFrame:
    """Each dyad-session's null: the mean of the draws that share a recording with it.

    Parameters
    ----------
    pairings : pandas.DataFrame
        :func:`pairing_sessions`.
    null : str
        ``"pseudo"``, ``"familiarity"`` or a surrogate kind (a ``pairing`` value).

    Returns
    -------
    pandas.DataFrame
        ``dyad, session, null, n_null``.
    """
    require_columns(pairings, PAIRING_SESSION_COLUMNS, "pairings")
    rows = pairings[pairings["pairing"] == null]
    draws = null_sides(rows[[c for c in PAIRING_SESSION_COLUMNS if c != "pairing"]], null)
    out = draws.groupby(["dyad", "session"], as_index=False)["synchrony"].agg(
        null="mean", n_null="size")
    return out


def excess_table(pairings: pd.DataFrame, null: str = "pseudo") -> pd.DataFrame:
    """Real synchrony minus its null, per dyad-session.

    Parameters
    ----------
    pairings : pandas.DataFrame
        :func:`pairing_sessions` (rows ``pairing == "real"`` and of the null).
    null : str
        The kind of null (see the module notes).

    Returns
    -------
    pandas.DataFrame
        ``dyad, session, real, null, n_null, excess``: one row per real dyad-session
        that has at least one null draw, sorted by dyad and session.

    Raises
    ------
    ValueError
        No real rows, or no draws of ``null``.
    """
    require_columns(pairings, PAIRING_SESSION_COLUMNS, "pairings")
    real = pairings[pairings["pairing"] == "real"]
    if real.empty:
        raise ValueError("no real dyad-sessions (pairing 'real')")
    if not (pairings["pairing"] == null).any():
        raise ValueError(f"no {null!r} null pairings")
    real = real.groupby(["dyad", "session"], as_index=False)["synchrony"].mean()
    out = real.rename(columns={"synchrony": "real"}).merge(
        null_means(pairings, null), on=["dyad", "session"], how="inner")
    out["excess"] = out["real"] - out["null"]
    return out.sort_values(["dyad", "session"], ignore_index=True)


def pseudo_matrices(pairings: pd.DataFrame) -> dict[int, tuple[list, np.ndarray]] | None:
    """Every session number's complete matrix of real and pseudo-dyad synchrony.

    Parameters
    ----------
    pairings : pandas.DataFrame
        :func:`pairing_sessions`.

    Returns
    -------
    dict or None
        Session number -> ``(dyads, Y)`` with ``Y[i, j]`` the synchrony of the
        therapist recording of ``dyads[i]`` with the patient recording of
        ``dyads[j]`` (the diagonal: the real dyads), for session numbers with at
        least 2 dyads; None when some session number lacks a pseudo-dyad (a random
        subset of pseudo-dyads was computed), so partners cannot be reassigned.
    """
    real = pairings[pairings["pairing"] == "real"]
    pseudo = pairings[pairings["pairing"] == "pseudo"]
    cells = pd.concat([real, pseudo], ignore_index=True)
    out: dict[int, tuple[list, np.ndarray]] = {}
    for session, group in cells.groupby("session", sort=True):
        dyads = sorted(set(real.loc[real["session"] == session, "dyad"]))
        if len(dyads) < 2:
            continue
        index = {d: k for k, d in enumerate(dyads)}
        Y = np.full((len(dyads), len(dyads)), np.nan)
        keep = group["dyad"].isin(index) & group["partner_dyad"].isin(index)
        g = group[keep]
        Y[g["dyad"].map(index).to_numpy(), g["partner_dyad"].map(index).to_numpy()] = \
            g["synchrony"].to_numpy()
        if np.isnan(Y).any():
            return None
        out[int(session)] = (dyads, Y)
    return out
