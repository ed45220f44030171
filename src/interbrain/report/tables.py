"""Tables of the report for people: human column labels (Estimate, SE, 95 % CI, df, t,
p), model and term names in words, APA-style numbers (:mod:`.apa`), one mark for a
cell without a value (never ``None``, ``NA`` or ``nan``), every cell HTML-escaped, and
each table inside a box that scrolls sideways when it is wider than the page.

The rows are those of ``models.parquet`` (and the other Parquet tables); nothing is
computed here.
"""

from __future__ import annotations

import base64
from typing import Sequence

import markupsafe
import pandas as pd

from ..stats.outcome_models import SIMPLIFICATIONS
from .apa import (MISSING, apa_ci, apa_count, apa_df, apa_number, apa_p, apa_statistic,
                  decimals_for, is_missing)
from .wording import metric_label, null_noun, signal_label

__all__ = ["COLUMN_LABELS", "model_label", "term_label", "cell_text", "human_table",
           "csv_link", "RUNG_WORDS"]

#: Column of a table -> its label.
COLUMN_LABELS = {
    "model": "Model", "signal": "Signal", "metric": "Metric", "scope": "Channel pairs",
    "term": "Term", "estimate": "Estimate", "std_error": "SE", "ci": "95 % CI", "df": "df",
    "t": "t", "p": "p", "p_permutation": "p (permutation)", "p_adjusted": "p (adjusted)",
    "p_family": "p (in family)", "p_equivalence": "p (equivalence)",
    "statistic": "\u03c7\u00b2", "family": "Family", "simplification": "Random part",
    "sesoi": "SESOI", "equivalent": "Equivalent", "power_equivalence": "Power (TOST)",
    "null_kind": "Null", "n_obs": "Observations", "n_groups": "Dyads",
    "n_permutations": "Permutations", "permutation_method": "Permutation test",
    "n_dyads": "Dyads", "formula": "Formula", "unit": "Unit", "correction": "Correction",
    "significant": "Significant", "df_method": "df method", "singular": "Singular fit",
    "converged": "Converged", "real": "Real", "null": "Null mean",
    "mean_difference": "Difference", "p_method": "Test", "dyad": "Dyad",
    "session": "Session", "role": "Role", "file": "File", "channel": "Channel",
    "channels": "Channels", "bad": "Excluded", "median_sci": "Median SCI",
    "sci": "SCI", "reason": "Reason", "fixed_slope": "Group slope",
    "blup": "Dyad deviation (BLUP)", "slope": "Dyad slope (model)",
    "ols_slope": "Dyad slope (own OLS)", "n_sessions": "Sessions",
    "random_slope": "Random slope", "grp": "Group", "var1": "Effect", "var2": "With",
    "vcov": "Variance / covariance", "sdcor": "SD / correlation",
    "estimate_corrected": "Estimate (bias-corrected)", "p_bootstrap": "p (bootstrap)",
    "n_bootstrap": "Bootstrap draws", "method": "Method",
}

_P = {"p", "p_permutation", "p_adjusted", "p_family", "p_equivalence", "p_bootstrap"}
_STATISTICS = {"t", "statistic", "z"}
_COUNTS = {"n_obs", "n_groups", "n_permutations", "n_dyads", "n_sessions", "channels",
           "bad_count", "n_bootstrap", "session"}
_BOOLEANS = {"equivalent", "significant", "singular", "converged", "random_slope", "bad"}
#: Columns shown at the decimals of the row's estimate and CI.
_ESTIMATES = {"estimate", "std_error", "ci_low", "ci_high", "mean_difference",
              "estimate_corrected", "real", "null", "sesoi"}

#: ``simplification`` of a row -> the random part of the model in words.
RUNG_WORDS = {SIMPLIFICATIONS[0]: "random intercept and slope (correlated)",
              SIMPLIFICATIONS[1]: "random intercept and slope (uncorrelated)",
              SIMPLIFICATIONS[2]: "none: OLS, CR2 cluster-robust SE"}

_MODEL_WORDS = {"plasticity": "Plasticity (vs pseudo-dyads)", "growth": "Growth",
                "growth_permutation": "Growth, permutation test",
                "real_vs_pseudo": "Real vs pseudo-dyads", "generalisation": "Generalisation"}
_PREFIX_WORDS = {"plasticity": "Plasticity (vs {})", "outcome": "Outcome: {}",
                 "prepost": "Pre-post: {}", "lrt": "Likelihood-ratio test: {}",
                 "cross_lagged": "Cross-lagged: {}", "mediation": "Mediation: {}",
                 "dissociation": "Dissociation: {}"}
_TERM_WORDS = {"(Intercept)": "Intercept", "synchrony_within": "Synchrony (within dyad)",
               "synchrony_between": "Synchrony (between dyads)", "session": "Session",
               "np.log(session)": "log(session)", "I(session ** 2)": "Session\u00b2",
               "slope": "Synchrony slope"}
_WORDS = {"monte_carlo": "Monte Carlo", "exact": "exact", "reassign": "reassignment",
          "confirmatory": "confirmatory", "exploratory": "exploratory",
          "holm (confirmatory family)": "Holm (confirmatory family)", "fdr_bh": "FDR (BH)",
          "maxt": "max-T", "t": "t"}


def model_label(model: str) -> str:
    """``"Outcome: symptoms"`` for ``"outcome:symptoms"``, ``"Plasticity (vs familiarity
    pairings)"`` for ``"plasticity:familiarity"``."""
    model = str(model)
    if model in _MODEL_WORDS:
        return _MODEL_WORDS[model]
    prefix, sep, rest = model.partition(":")
    if sep and prefix in _PREFIX_WORDS:
        if prefix == "plasticity":
            rest = null_noun(rest)
        elif prefix == "lrt":
            rest = rest.replace("_vs_", " vs ").replace("_", " ")
        return _PREFIX_WORDS[prefix].format(rest)
    if "_by_" in model:
        what, _, unit = model.partition("_by_")
        return f"{model_label(what)}, per {unit}"
    return model.replace("_", " ")


def term_label(term: str) -> str:
    """``"Synchrony (within dyad)"`` for ``"synchrony_within"`` (others as given)."""
    return _TERM_WORDS.get(str(term), str(term))


def _decimals(row: pd.Series) -> int:
    return decimals_for(*(row.get(c) for c in ("estimate", "ci_low", "ci_high",
                                               "mean_difference", "real", "null")))


def cell_text(column: str, value, decimals: int | None = None) -> str:
    """One cell of a human table as text (:data:`MISSING` when it has no value).

    Parameters
    ----------
    column : str
        The column of the Parquet table (decides the format).
    value
        The cell.
    decimals : int, optional
        Decimals of estimate-like columns (the row's, so an estimate and its CI agree).

    Returns
    -------
    str
    """
    if column in _BOOLEANS:
        return MISSING if is_missing(value) and not isinstance(value, bool) \
            else ("yes" if bool(value) else "no")
    if value is None or value is pd.NA or (isinstance(value, str) and not value):
        return "as specified" if column == "simplification" and value == "" else MISSING
    if isinstance(value, str):
        return _text(column, value)
    if column in _P:
        return apa_p(value)
    if column == "df":
        return apa_df(value)
    if column in _STATISTICS:
        return apa_statistic(value)
    if column in _COUNTS:
        return apa_count(value)
    if isinstance(value, (int, float)) or hasattr(value, "dtype"):
        if is_missing(value):
            return MISSING
        return apa_number(value, decimals if column in _ESTIMATES else None)
    return str(value)


def _text(column: str, value: str) -> str:
    if column == "model":
        return model_label(value)
    if column in ("term", "var1", "var2"):
        return term_label(value)
    if column == "signal":
        return signal_label(value)
    if column == "metric":
        return metric_label(value)
    if column == "null_kind":
        return null_noun(value)
    if column == "simplification":
        return RUNG_WORDS.get(value, value)
    return _WORDS.get(value, value)


def _ci_pairs(columns: Sequence[str]) -> dict[str, str]:
    """``ci_low<suffix>`` -> ``ci_high<suffix>`` for the pairs among ``columns``."""
    return {c: "ci_high" + c[len("ci_low"):] for c in columns
            if c.startswith("ci_low") and "ci_high" + c[len("ci_low"):] in columns}


def human_table(rows: pd.DataFrame, columns: Sequence[str] | None = None, *,
                table_id: str | None = None, labels: dict | None = None,
                caption: str | None = None) -> markupsafe.Markup:
    """An HTML table for people from rows of a Parquet table.

    Parameters
    ----------
    rows : pandas.DataFrame
    columns : sequence of str, optional
        The columns to show, in order (those ``rows`` lacks are left out); every
        column when None. ``ci_low``/``ci_high`` (and ``ci_low_x``/``ci_high_x``)
        become one ``95 % CI`` column.
    table_id : str, optional
        ``id`` of the table.
    labels : dict, optional
        Labels that override :data:`COLUMN_LABELS`.
    caption : str, optional
        The table's caption (escaped).

    Returns
    -------
    markupsafe.Markup
        ``<div class="scroll"><table class="tbl">...</table></div>``.
    """
    columns = [c for c in (rows.columns if columns is None else columns) if c in rows.columns]
    pairs = _ci_pairs(columns)
    shown = [c for c in columns if c not in pairs.values()]
    names = dict(COLUMN_LABELS, **(labels or {}))
    header = []
    for c in shown:
        if c in pairs:
            suffix = c[len("ci_low"):].replace("_", " ").strip()
            header.append(names.get("ci", "95 % CI") + (f" ({suffix})" if suffix else ""))
        else:
            header.append(names.get(c, c.replace("_", " ").capitalize()))
    esc = markupsafe.escape
    out = ['<div class="scroll"><table class="tbl"'
           + (f' id="{esc(table_id)}"' if table_id else "") + ">"]
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header)
               + "</tr></thead><tbody>")
    for _, row in rows.iterrows():
        decimals = _decimals(row)
        cells = []
        for c in shown:
            if c in pairs:
                text = apa_ci(row[c], row[pairs[c]], decimals)
                kind = "num"
            else:
                text = cell_text(c, row[c], decimals)
                kind = "num" if _is_number(row[c]) else "txt"
            cells.append(f'<td class="{kind}">{esc(text)}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return markupsafe.Markup("".join(out))


def _is_number(value) -> bool:
    return (not isinstance(value, (str, bool))) and value is not None \
        and value is not pd.NA and hasattr(value, "__float__")


def csv_link(frame: pd.DataFrame, filename: str, text: str) -> markupsafe.Markup:
    """A link that downloads ``frame`` as CSV (embedded as a ``data:`` URI, so the
    report stays one file)."""
    data = base64.b64encode(frame.to_csv(index=False).encode("utf-8")).decode("ascii")
    return markupsafe.Markup(
        f'<a class="csv" download="{markupsafe.escape(filename)}" '
        f'href="data:text/csv;base64,{data}">{markupsafe.escape(text)}</a>')
