"""The confirmatory family in words: which tests it holds, one sentence per result, and
why a pre-specified test is missing (for the report's "Confirmatory results" and the
"Confirmatory tests" paragraph of ``methods.md``).

The family is marked in ``models.parquet`` by the statistics stage
(:func:`~interbrain.stats.confirmatory.mark_families`): rows with ``family ==
"confirmatory"``, their ``p_family``, ``p_adjusted`` (Holm) and ``significant``.
"""

from __future__ import annotations

import pandas as pd

from ..results import StudyResults
from ..stats.confirmatory import CONFIRMATORY_OUTCOME_TERM
from ..stats.outcome_models import SIMPLIFICATIONS
from ..stats.primary import ALL_PAIRS, PrimarySettings
from .wording import (format_number, format_p, format_signed, is_true, join_reasons,
                      null_label, where_label)

__all__ = ["primary_of", "scope_words", "confirmatory_rows", "row_title", "row_anchor",
           "confirmatory_sentence", "missing_confirmatory", "RUNG_LABEL", "slope_units"]

#: ``simplification`` of an outcome row -> the rung of the model ladder in words.
RUNG_LABEL = {SIMPLIFICATIONS[0]: "correlated random intercept and slope per dyad",
              SIMPLIFICATIONS[1]: "uncorrelated random intercept and slope per dyad",
              SIMPLIFICATIONS[2]: "OLS with CR2 cluster-robust SE by dyad"}

_SLOPE_UNITS = {"session": "per session", "np.log(session)": "per unit of log(session)"}


def slope_units(term: str) -> str:
    """The units of a growth or plasticity slope term (``"per session"``)."""
    return _SLOPE_UNITS.get(str(term), f"per unit of {term}")


def primary_of(results: StudyResults) -> tuple[str, str, PrimarySettings]:
    """The primary signal, metric and ``[statistics.primary]`` settings of a run.

    Returns
    -------
    signal, metric : str
        ``[statistics.primary]``'s, or the study's first signal and metric.
    primary : PrimarySettings
    """
    study = results.study
    primary = study.statistics.primary
    return (primary.signal or study.analysis.signals[0],
            primary.metric or study.analysis.metrics[0], primary)


def scope_words(scope: str) -> str:
    """A ``scope`` of ``models.parquet`` (the channel pairs a row is computed over) in
    words (``"every channel pair"``)."""
    if scope == ALL_PAIRS:
        return "every channel pair"
    if scope.startswith("region "):
        return f"the channel pairs within region {scope[len('region '):]}"
    if scope.startswith("pairs "):
        return f"the channel pairs {scope[len('pairs '):]}"
    return scope


def confirmatory_rows(models: pd.DataFrame, measures=()) -> pd.DataFrame:
    """The rows of the confirmatory family: the plasticity test first, then the outcome
    coefficients in the order of ``measures``.

    Parameters
    ----------
    models : pandas.DataFrame
        ``models.parquet`` (with ``family``; without it there is no family).
    measures : sequence of str
        The primary measures, in their order of ``[statistics.primary]``.

    Returns
    -------
    pandas.DataFrame
    """
    if "family" not in models.columns:
        return models.iloc[:0]
    rows = models[models["family"] == "confirmatory"]
    rank = {name: k for k, name in enumerate(
        ["plasticity", *(f"outcome:{m}" for m in measures)])}
    order = rows["model"].map(lambda m: rank.get(m, len(rank)))
    return rows.assign(_order=order).sort_values(["_order", "model"], kind="stable") \
        .drop(columns="_order")


def row_title(row: pd.Series) -> str:
    """``"Inter-brain plasticity (HbO, wavelet coherence, all pairs)"``, or for an outcome
    row ``"Within-dyad association of synchrony with symptoms (...)"``."""
    where = where_label(row["signal"], row["metric"], row.get("scope", ALL_PAIRS))
    model = str(row["model"])
    if model == "plasticity":
        return f"Inter-brain plasticity ({where})"
    measure = model.partition(":")[2]
    return f"Within-dyad association of synchrony with {measure} ({where})"


def row_anchor(row: pd.Series) -> str:
    """The id of the report section a confirmatory row is shown in."""
    section = "plasticity" if str(row["model"]).startswith("plasticity") else "outcomes"
    return f"{section}-{row['signal']}-{row['metric']}"


def _holm(row: pd.Series, alpha: float) -> str:
    adjusted = row.get("p_adjusted")
    text = f" (Holm-adjusted {format_p(adjusted)})"
    significant = row.get("significant")
    if significant is None or significant is pd.NA:
        return text
    return text + ("; significant" if is_true(significant) else "; not significant") \
        + f" at family-wise alpha {alpha:g}"


def confirmatory_sentence(row: pd.Series, alpha: float = 0.05) -> str:
    """One confirmatory row in words and numbers.

    Parameters
    ----------
    row : pandas.Series
        A row of ``models.parquet`` with ``family == "confirmatory"``.
    alpha : float
        The family-wise level.

    Returns
    -------
    str
        E.g. ``"Inter-brain plasticity (HbO, wavelet coherence, all pairs): the excess
        of real over pseudo-dyad synchrony grew by +0.012 per session [0.004, 0.02],
        permutation p = .006 (Holm-adjusted .012); significant at family-wise alpha
        0.05."``
    """
    ci = f"[{format_number(row.get('ci_low'))}, {format_number(row.get('ci_high'))}]"
    estimate = row["estimate"]
    if str(row["model"]) == "plasticity":
        verb = "grew by" if pd.notna(estimate) and estimate >= 0 else "changed by"
        p = row.get("p_family", row.get("p_permutation"))
        return (f"{row_title(row)}: the excess of real over "
                f"{null_label(row.get('null_kind') or 'pseudo')} synchrony {verb} "
                f"{format_signed(estimate)} {slope_units(row['term'])} {ci}, permutation "
                f"p = {format_p(p)}{_holm(row, alpha)}.")
    measure = str(row["model"]).partition(":")[2]
    rung = RUNG_LABEL.get(row.get("simplification") or "", row.get("simplification"))
    p = row.get("p_family", row["p"])
    return (f"{row_title(row)}: {format_signed(estimate)} {measure} per unit of synchrony "
            f"above the dyad's own mean {ci}, p = {format_p(p)}{_holm(row, alpha)} "
            f"(model: {rung}).")


def _notes_about(notes, where: str, keys) -> list[str]:
    """Notes on ``where`` (``"(hbo/wtc)"``) containing one of ``keys``, and the notes on
    the whole design."""
    general = ("Growth and outcome models need", "No pseudo-dyads",
               "the primary channel pairs (")
    out = [n for n in notes if n.startswith(general)
           or (where in n and any(k in n for k in keys))]
    return list(dict.fromkeys(out))


def missing_confirmatory(results: StudyResults) -> list[str]:
    """Sentences on each pre-specified confirmatory test that has no row, and why.

    Parameters
    ----------
    results : StudyResults

    Returns
    -------
    list of str
        Empty when every test of the family was run.
    """
    signal, metric, primary = primary_of(results)
    models = results.models
    where = f"{signal}/{metric}" + ("" if primary.scope == ALL_PAIRS
                                    else f", {primary.scope}")
    if models.empty or not {"model", "signal", "metric", "term"} <= set(models.columns):
        base = pd.DataFrame(columns=["model", "term"])
    else:
        base = models[(models["signal"] == signal) & (models["metric"] == metric)
                      & (models["scope"] == primary.scope if "scope" in models.columns
                         else True)]
    label = where_label(signal, metric, primary.scope)
    out = []
    if not (base["model"] == "plasticity").any():
        reasons = _notes_about(results.notes, f"({where})", ("plasticity test against pseudo",))
        if not results.study.analysis.pseudo_dyads:
            reasons.insert(0, "no pseudo-dyads were computed ([analysis] pseudo_dyads is "
                              "false)")
        out.append(f"The plasticity test ({label}) was not run: "
                   + join_reasons(reasons) + ".")
    for measure in primary.measures:
        present = base[(base["model"] == f"outcome:{measure}")
                       & (base["term"] == CONFIRMATORY_OUTCOME_TERM)]
        if len(present):
            continue
        reasons = _notes_about(results.notes, f"({where})", (f"outcome model of {measure!r}",))
        out.append(f"The outcome model of {measure} ({label}) was not fitted: "
                   + join_reasons(reasons) + ".")
    return out
