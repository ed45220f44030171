"""Which dyad-sessions a null pairing counts for.

A pseudo-dyad or familiarity pairing brings together two recordings, each of them
the recording of one real dyad-session; the pairing is a draw of the null of both
(:func:`null_sides`). A surrogate draw keeps one dyad-session's two recordings and
counts for that dyad-session only.

``"pseudo"``
    A row's ``dyad`` is the therapist's dyad and ``partner_dyad`` the patient's (same
    session number): the therapist side counts for ``(dyad, session)``, the patient
    side for ``(partner_dyad, session)``.
``"familiarity"``
    The dyad's therapist recorded in ``session`` with its patient recorded in
    ``partner_session``: the therapist side counts for ``(dyad, session)``, the patient
    side for ``(dyad, partner_session)``.
surrogate kinds
    ``(dyad, session)``.
"""

from __future__ import annotations

import pandas as pd

from .._check import check_option

__all__ = ["SIDES", "null_sides"]

#: Which recordings' dyad-sessions a pseudo-dyad counts for.
SIDES: tuple[str, ...] = ("therapist", "patient", "both")


def null_sides(draws: pd.DataFrame, kind: str, *, side: str = "both") -> pd.DataFrame:
    """One row per null draw and dyad-session it counts for.

    Parameters
    ----------
    draws : pandas.DataFrame
        One row per pairing (or surrogate draw) of kind ``kind``: ``dyad, session``,
        ``partner_dyad`` for pseudo-dyads, ``partner_session`` for familiarity
        pairings, and any value and key columns (carried along).
    kind : str
        ``"pseudo"``, ``"familiarity"`` or a surrogate kind.
    side : {"both", "therapist", "patient"}
        For pseudo-dyads: count each draw for both recordings' dyad-sessions
        (default), or only for the therapist's or the patient's. Familiarity
        pairings always count for both; surrogates for their own dyad-session.

    Returns
    -------
    pandas.DataFrame
        The columns of ``draws`` less ``partner_dyad`` and ``partner_session``, with
        ``dyad, session`` the dyad-session the draw counts for: the therapist sides
        first, then the patient sides.

    Raises
    ------
    ValueError
        An unknown ``side``, or a column the kind needs is missing.
    """
    check_option(side, "side", SIDES)
    drop = [c for c in ("partner_dyad", "partner_session") if c in draws.columns]
    if kind == "pseudo":
        if "partner_dyad" not in draws.columns:
            raise ValueError("pseudo-dyad draws need a 'partner_dyad' column (the patient's "
                             "dyad)")
        out = []
        if side in ("therapist", "both"):
            out.append(draws.drop(columns=drop))
        if side in ("patient", "both"):
            out.append(draws.drop(columns=[c for c in drop if c != "partner_dyad"]
                                  + ["dyad"]).rename(columns={"partner_dyad": "dyad"}))
        return pd.concat(out, ignore_index=True)
    if kind == "familiarity":
        if "partner_session" not in draws.columns:
            raise ValueError("rows with pairing 'familiarity' need a 'partner_session' "
                             "column (the session of the patient recording)")
        therapist = draws.drop(columns=drop)
        patient = draws.drop(columns=[c for c in drop if c != "partner_session"]
                             + ["session"]).rename(columns={"partner_session": "session"})
        return pd.concat([therapist, patient], ignore_index=True)
    return draws.drop(columns=drop)
