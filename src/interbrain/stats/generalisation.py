"""Generalisation: does a patient's synchrony with people other than the therapist
change from before to after treatment?

:func:`generalisation_table` gathers each patient's synchrony with the therapist
(first and last session) and with the other people of ``[[generalisation]]`` (before
and after treatment); :func:`fit_generalisation` fits the mixed model and its
contrasts (:class:`GeneralisationResult`).
"""

from __future__ import annotations

import pandas as pd

from ..nulls.dyad_tests import confidence_interval
from ._util import require_columns
from .formula import formula_term
from .mixed import LmerResult, lmer
from .sessions import session_synchrony
from .tables import MODEL_COLUMNS, mixed_model_groups, model_table, with_counts

__all__ = ["GENERALISATION_FORMULA", "PHASES", "PARTNER_ROLES", "GeneralisationResult",
           "fit_generalisation", "generalisation_table"]

GENERALISATION_FORMULA = "synchrony ~ phase * partner_role + (1 | patient)"
PHASES = ("pre", "post")
PARTNER_ROLES = ("therapist", "other")


class GeneralisationResult:
    """Generalisation model and its contrasts (see :func:`fit_generalisation`).

    Attributes
    ----------
    fit : LmerResult
    contrasts : pandas.DataFrame
        ``term, estimate, std_error, df, t, p``: ``post - pre | therapist``,
        ``post - pre | other`` (the generalisation question) and
        ``(post - pre | other) - (post - pre | therapist)`` (when both roles are
        present).
    """

    def __init__(self, fit: LmerResult, contrasts: pd.DataFrame):
        self.fit = fit
        self.contrasts = contrasts

    def to_frame(self, signal: str = "", metric: str = "", name: str = "generalisation",
                 ci: float = 0.95) -> pd.DataFrame:
        """Rows of ``models.parquet``: the model's coefficients, then its contrasts.

        Parameters
        ----------
        signal, metric : str
            What the model was fitted on.
        name : str
            The ``model`` column.
        ci : float
            Level of the confidence limits ``ci_low, ci_high``.

        Returns
        -------
        pandas.DataFrame
            :data:`~interbrain.stats.tables.MODEL_COLUMNS`, ``ci_low, ci_high``, and
            ``n_obs`` (recording pairs), ``n_groups`` (patients).
        """
        rows = model_table({name: self.fit}, signal, metric)
        con = self.contrasts.copy()
        con.insert(0, "model", name)
        con.insert(1, "signal", signal)
        con.insert(2, "metric", metric)
        con["method"] = "lmer REML contrast, Satterthwaite df"
        con["formula"] = self.fit.formula
        out = pd.concat([rows, con[MODEL_COLUMNS]], ignore_index=True)
        out["ci_low"], out["ci_high"] = confidence_interval(out["estimate"],
                                                            out["std_error"], out["df"],
                                                            ci)
        return with_counts(out, self.fit.nobs, mixed_model_groups(self.fit))

    def summary(self) -> str:
        """The model's summary and its contrasts, as text.

        Returns
        -------
        str
        """
        return "\n".join([self.fit.summary(), "", "Contrasts:",
                          self.contrasts.to_string(index=False)])


def fit_generalisation(pairings: pd.DataFrame, *, partner: str | None = None
                       ) -> GeneralisationResult:
    """Does a patient's synchrony with partners other than the therapist change
    from before to after treatment?

    Fits ``synchrony ~ phase * partner_role + (1 | patient)`` by REML with
    Satterthwaite df, ``phase`` coded ``pre`` (reference) / ``post`` and
    ``partner_role`` ``therapist`` (reference) / ``other``. So ``phase[T.post]`` is
    the pre-to-post change with the therapist, and the generalisation question is
    the contrast ``post - pre | other`` = ``phase[T.post] +
    phase[T.post]:partner_role[T.other]``; the interaction asks whether the change
    with others differs from the change with the therapist. With only ``other``
    partners the model is ``synchrony ~ phase + (1 | patient)``.

    Parameters
    ----------
    pairings : pandas.DataFrame
        One row per recording pair: ``patient``, ``partner_role`` (``"therapist"``
        or ``"other"``), ``phase`` (``"pre"`` or ``"post"``), ``synchrony``.
    partner : str, optional
        Column of partner ids: adds a crossed ``(1 | partner)`` when it holds more
        than one partner.

    Returns
    -------
    GeneralisationResult

    Raises
    ------
    ValueError
        Missing columns, unknown phases or roles, no ``pre`` or ``post`` rows, no
        ``other`` partners, or fewer than 2 patients.
    """
    needed = ["patient", "partner_role", "phase", "synchrony"] + ([partner] if partner
                                                                   else [])
    require_columns(pairings, needed, "pairings")
    data = pairings.dropna(subset=needed).reset_index(drop=True)
    for col, allowed in (("phase", PHASES), ("partner_role", PARTNER_ROLES)):
        bad = sorted(set(data[col].astype(str)) - set(allowed))
        if bad:
            raise ValueError(f"{col} must be one of {list(allowed)}; got {bad}")
        data[col] = pd.Categorical(data[col].astype(str), categories=list(allowed))
    if set(data["phase"]) != set(PHASES):
        raise ValueError("the generalisation model needs both 'pre' and 'post' rows")
    if "other" not in set(data["partner_role"]):
        raise ValueError("the generalisation model needs rows with partner_role 'other'")
    n_patients = data["patient"].nunique()
    if n_patients < 2:
        raise ValueError(f"the generalisation model needs at least 2 patients; got "
                         f"{n_patients}")
    both_roles = set(data["partner_role"]) == set(PARTNER_ROLES)
    if not both_roles:
        data["partner_role"] = data["partner_role"].astype(str)
    formula = GENERALISATION_FORMULA if both_roles else \
        "synchrony ~ phase + (1 | patient)"
    if partner and data[partner].nunique() > 1:
        formula += f" + (1 | {formula_term(partner)})"
    fit = lmer(formula, data, reml=True)
    post, inter = "phase[T.post]", "phase[T.post]:partner_role[T.other]"
    rows = []
    if both_roles:
        rows.append(("post - pre | therapist", {post: 1.0}))
        rows.append(("post - pre | other", {post: 1.0, inter: 1.0}))
        rows.append(("(post - pre | other) - (post - pre | therapist)", {inter: 1.0}))
    else:
        rows.append(("post - pre | other", {post: 1.0}))
    con = pd.DataFrame([{"term": name, **fit.contrast(L).to_dict()} for name, L in rows])
    return GeneralisationResult(fit, con)


def generalisation_table(synchrony: pd.DataFrame, dyads: pd.DataFrame, signal: str,
                         metric: str = "wtc") -> pd.DataFrame:
    """Each patient's synchrony with the therapist and with other people, pre and post.

    With the therapist, ``pre`` is the dyad's first session and ``post`` its last; with
    other people, the ``[[generalisation]]`` recordings (pairings ``other_pre`` and
    ``other_post``). Synchrony is the mean over channel pairs.

    Parameters
    ----------
    synchrony : pandas.DataFrame
        The tidy synchrony table.
    dyads : pandas.DataFrame
        One row per dyad: ``dyad, therapist, patient`` (ids).
    signal, metric : str
        Which rows to use.

    Returns
    -------
    pandas.DataFrame
        Columns ``dyad, patient, partner, partner_role, phase, synchrony`` (the input of
        :func:`fit_generalisation`).
    """
    require_columns(dyads, ["dyad", "therapist", "patient"], "dyads")
    therapist_of = dict(zip(dyads["dyad"], dyads["therapist"]))
    patient_of = dict(zip(dyads["dyad"], dyads["patient"]))
    rows = synchrony[(synchrony["signal"] == signal) & (synchrony["metric"] == metric)]
    others = rows[rows["pairing"].isin(["other_pre", "other_post"])]
    others = (others.groupby(["dyad", "partner_dyad", "pairing"], as_index=False)["value"]
              .mean())
    frame = pd.DataFrame({"dyad": others["dyad"], "partner": others["partner_dyad"],
                          "partner_role": "other",
                          "phase": others["pairing"].str.removeprefix("other_"),
                          "synchrony": others["value"]})
    real = session_synchrony(synchrony, signal, "real", metric)
    first = real.groupby("dyad")["session"].transform("min")
    last = real.groupby("dyad")["session"].transform("max")
    ends = real[(real["session"] == first) | (real["session"] == last)]
    ends = ends[first[ends.index] != last[ends.index]]
    therapist = pd.DataFrame({
        "dyad": ends["dyad"], "partner": [therapist_of[d] for d in ends["dyad"]],
        "partner_role": "therapist",
        "phase": ["pre" if s == f else "post" for s, f in zip(ends["session"],
                                                              first[ends.index])],
        "synchrony": ends["synchrony"]})
    out = pd.concat([therapist, frame], ignore_index=True)
    out.insert(1, "patient", [patient_of[d] for d in out["dyad"]])
    return out.sort_values(["dyad", "partner_role", "partner", "phase"], ignore_index=True)
