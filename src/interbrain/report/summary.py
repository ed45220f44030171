"""The findings that open the report: each confirmatory result in words and numbers
(estimate, 95 % CI, the test and its p-value, the Holm-adjusted p), the main
exploratory results of the primary signal and metric, and the notes on the design in
plain language with what was done about each.

Every number comes from one row of ``models.parquet`` (:attr:`Finding.row`), formatted
by :mod:`.apa`; nothing is computed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from ..results import StudyResults
from ..stats.confirmatory import CONFIRMATORY_OUTCOME_TERM
from .apa import apa_ci, apa_df, apa_number, apa_p_clause, apa_statistic, decimals_for
from .confirmatory import (confirmatory_rows, missing_confirmatory, primary_of,
                           row_anchor, slope_units)
from .wording import is_true, null_noun, where_label

__all__ = ["Finding", "DesignNote", "findings", "exploratory_findings", "design_notes",
           "ROW_KEY"]

#: Columns that identify a row of ``models.parquet`` (with ``scope`` where present).
ROW_KEY = ("model", "signal", "metric", "term", "scope")


@dataclass(frozen=True)
class Finding:
    """One result of the summary.

    Attributes
    ----------
    title : str
        What was tested (``"Inter-brain plasticity (HbO, wavelet coherence, all
        pairs)"``).
    text : str
        The result in words and numbers.
    anchor : str
        The id of the report section with its details.
    row : pandas.Series
        The row of ``models.parquet`` every number of ``text`` comes from.
    family : str
        ``"confirmatory"`` or ``"exploratory"``.
    """

    title: str
    text: str
    anchor: str
    row: pd.Series = field(repr=False)
    family: str = "confirmatory"

    @property
    def key(self) -> dict:
        """The columns identifying :attr:`row` (:data:`ROW_KEY`)."""
        return {k: str(self.row[k]) for k in ROW_KEY if k in self.row.index}


@dataclass(frozen=True)
class DesignNote:
    """A note on the design in plain language: what happened, and what was done."""

    title: str
    text: str
    action: str


def _holm(row: pd.Series, alpha: float) -> str:
    adjusted = apa_p_clause(row.get("p_adjusted"), "Holm-adjusted p")
    significant = row.get("significant")
    if significant is None or significant is pd.NA:
        return f" ({adjusted})"
    verdict = "significant" if is_true(significant) else "not significant"
    return f" ({adjusted}; {verdict} at family-wise \u03b1 = {alpha:g})"


def _plasticity_finding(row: pd.Series, alpha: float) -> Finding:
    where = where_label(row["signal"], row["metric"], row.get("scope"))
    noun = null_noun(row.get("null_kind") or "pseudo")
    d = decimals_for(row["estimate"], row["ci_low"], row["ci_high"])
    numbers = (f"{apa_number(row['estimate'], d, signed=True)} {slope_units(row['term'])} "
               f"{apa_ci(row['ci_low'], row['ci_high'], d)}, "
               f"{apa_p_clause(row.get('p_family', row.get('p_permutation')), 'permutation p')}"
               f"{_holm(row, alpha)}")
    if is_true(row.get("significant")):
        lead = (f"Synchrony grew faster than in {noun}" if row["estimate"] > 0 else
                f"Synchrony grew more slowly than in {noun}")
    else:
        lead = (f"No evidence that synchrony grew faster than in {noun} "
                "(growth of the excess of real over null synchrony)")
    return Finding(f"Inter-brain plasticity ({where})", f"{lead}: {numbers}.",
                   row_anchor(row), row)


def _outcome_finding(row: pd.Series, alpha: float) -> Finding:
    where = where_label(row["signal"], row["metric"], row.get("scope"))
    measure = str(row["model"]).partition(":")[2]
    d = decimals_for(row["estimate"], row["ci_low"], row["ci_high"])
    p = row.get("p_family", row.get("p"))
    numbers = (f"b = {apa_number(row['estimate'], d)} per unit of synchrony "
               f"{apa_ci(row['ci_low'], row['ci_high'], d)}, t({apa_df(row['df'])}) = "
               f"{apa_statistic(row['t'])}, {apa_p_clause(p)}{_holm(row, alpha)}")
    if is_true(row.get("significant")):
        direction = "higher" if row["estimate"] > 0 else "lower"
        lead = (f"In sessions with more synchrony than the dyad's own average, {measure} "
                f"was {direction}")
    else:
        lead = f"No evidence that {measure} went with synchrony within dyads"
    return Finding(f"Synchrony and {measure} within dyads ({where})", f"{lead}: {numbers}.",
                   row_anchor(row), row)


def findings(results: StudyResults) -> list[Finding]:
    """The confirmatory results, in the family's order (plasticity first).

    Parameters
    ----------
    results : StudyResults

    Returns
    -------
    list of Finding
    """
    alpha = results.study.statistics.alpha
    rows = confirmatory_rows(results.models, results.study.statistics.primary.measures)
    out = []
    for _, row in rows.iterrows():
        if str(row["model"]).startswith("plasticity"):
            out.append(_plasticity_finding(row, alpha))
        elif str(row["term"]) == CONFIRMATORY_OUTCOME_TERM:
            out.append(_outcome_finding(row, alpha))
    return out


def exploratory_findings(results: StudyResults) -> list[Finding]:
    """The main exploratory results of the primary signal and metric: the growth of
    real synchrony (not controlled for a null) and real versus pseudo-dyads.

    Returns
    -------
    list of Finding
        Family ``"exploratory"``.
    """
    signal, metric, _ = primary_of(results)
    models = results.models
    if models.empty:
        return []
    mine = models[(models["signal"] == signal) & (models["metric"] == metric)]
    if "scope" in mine.columns:
        mine = mine[mine["scope"].fillna("") == mine["scope"].fillna("").iloc[0]] \
            if len(mine) else mine
    where = where_label(signal, metric)
    out = []
    growth = mine[(mine["model"] == "growth") & (mine["term"] != "(Intercept)")]
    for _, row in growth.head(1).iterrows():
        d = decimals_for(row["estimate"], row["ci_low"], row["ci_high"])
        out.append(Finding(
            f"Growth of real synchrony ({where})",
            f"Real synchrony changed by {apa_number(row['estimate'], d, signed=True)} "
            f"{slope_units(row['term'])} {apa_ci(row['ci_low'], row['ci_high'], d)}, "
            f"t({apa_df(row['df'])}) = {apa_statistic(row['t'])}, {apa_p_clause(row['p'])} "
            "(not controlled for any null).", f"{signal}-{metric}", row, "exploratory"))
    rvp = mine[mine["model"] == "real_vs_pseudo"]
    for _, row in rvp.head(1).iterrows():
        d = decimals_for(row["estimate"], row["ci_low"], row["ci_high"])
        out.append(Finding(
            f"Real dyads versus pseudo-dyads ({where})",
            f"Real dyads' synchrony minus pseudo-dyads': "
            f"{apa_number(row['estimate'], d, signed=True)} "
            f"{apa_ci(row['ci_low'], row['ci_high'], d)}, "
            f"{apa_p_clause(row['p'], 'sign-flip permutation p')}.",
            f"real-vs-pseudo-{signal}-{metric}", row, "exploratory"))
    return out


# --------------------------------------------------------------------------- notes

_SINGULAR = re.compile(r"^(?P<what>.+?) \((?P<where>[^()]*)\): boundary \(singular\) fit")
_SKIPPED = re.compile(r"^(?P<what>.+?) \((?P<where>[^()]*)\)(?:: (?P<model>.+?))? "
                      r"(?:skipped|not fitted|not run): (?P<reason>.+)$")
_QUOTED = re.compile(r"'[^']*'")

_SINGULAR_ACTION = {
    "growth": ("The model was kept as fitted: its fixed effects (the growth curve) are "
               "unaffected; its standard errors assume the variance is zero, so the slope "
               "permutation test, which makes no such assumption, is the check on it."),
    "plasticity": ("The model gives the estimate and its CI only; the plasticity test "
                   "itself is the dyad-level permutation test, which does not use the "
                   "random effects."),
}


def _where_words(where: str) -> str:
    signal, _, metric = where.partition("/")
    return where_label(signal, metric) if metric else where


def _singular_note(what: str, wheres: list[str]) -> DesignNote:
    kind = "plasticity" if what.startswith("plasticity") else what.split()[0]
    action = _SINGULAR_ACTION.get(kind, "The model was kept as fitted and reported as "
                                        "singular in the tables.")
    return DesignNote(
        f"Singular fit: {what} ({'; '.join(_where_words(w) for w in wheres)})",
        "A random-effect variance was estimated at zero (or a correlation at \u00b11): the "
        "dyads did not differ detectably in that part of the model, as is common with "
        "few dyads or sessions.", action)


def _grouped(subjects: dict[str, list[str]]) -> str:
    """``"model a (HbO, ...; HbR, ...); model b (...)"``."""
    return "; ".join(f"{model} ({'; '.join(_where_words(w) for w in dict.fromkeys(wheres))})"
                     for model, wheres in subjects.items())


def design_notes(results: StudyResults) -> list[DesignNote]:
    """The run's notes (:attr:`StudyResults.notes`) in plain language: singular fits
    one by one, models not fitted grouped by their reason, the rest as written; and
    confirmatory tests that did not run.

    Returns
    -------
    list of DesignNote
    """
    out: list[DesignNote] = []
    singular: dict[str, list[str]] = {}
    skipped: dict[str, dict[str, list[str]]] = {}
    for note in results.notes:
        match = _SINGULAR.match(note)
        if match:
            singular.setdefault(match["what"], []).append(match["where"])
            continue
        match = _SKIPPED.match(note)
        if match:
            reason = _QUOTED.sub("\u2026", match["reason"].strip().rstrip("."))
            model = _QUOTED.sub(lambda m: m.group(0)[1:-1], match["model"] or match["what"])
            skipped.setdefault(reason, {}).setdefault(model, []).append(match["where"])
            continue
        out.append(DesignNote("Note", note, ""))
    out = [_singular_note(what, wheres) for what, wheres in singular.items()] + out
    for reason, subjects in skipped.items():
        out.append(DesignNote(
            f"Not fitted for this design ({sum(map(len, subjects.values()))})",
            f"{_grouped(subjects)}: {reason}.",
            "These models are absent from the tables; nothing was fitted in their place."))
    for text in missing_confirmatory(results):
        out.insert(0, DesignNote("Confirmatory test not run", text,
                                 "The confirmatory family holds only the tests that ran."))
    return out
