"""The outcome-model paragraph of ``methods.md``: the ladder, the rung each fitted
model used, the models not fitted with the reasons the run noted."""

from __future__ import annotations

import pandas as pd

from ..results import StudyResults
from ..stats.outcome_models import LADDER_DESCRIPTION
from ..stats.outcomes import OUTCOME_FORMULA
from .confirmatory import RUNG_LABEL
from .methods_rows import model_rows, row_where
from .wording import is_true, join_reasons, join_words

__all__ = ["outcome_text"]


def _rung_summary(rows: pd.DataFrame) -> str:
    """``"symptoms (HbO/wtc): correlated ...; ..."``: the ladder rung of each model."""
    parts: dict[str, list[str]] = {}
    for _, row in rows.drop_duplicates(["model", "signal", "metric", "scope"]
                                       if "scope" in rows.columns else
                                       ["model", "signal", "metric"]).iterrows():
        rung = RUNG_LABEL.get(row.get("simplification") or "",
                              str(row.get("simplification")))
        where = row_where(row)
        parts.setdefault(rung, []).append(f"{row['model']} ({where})")
    order = list(RUNG_LABEL.values())
    ranked = sorted(parts.items(),
                    key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    return "; ".join(f"{rung}: {', '.join(models)}" for rung, models in ranked)


def _skip_reasons(notes, marker: str) -> list[str]:
    """The reasons of the notes containing ``marker`` (text after ``"skipped: "``),
    without repeats."""
    reasons = [n.split("skipped: ", 1)[-1] for n in notes if marker in n]
    general = [n for n in notes if n.startswith("Growth and outcome models need")]
    return list(dict.fromkeys(general + reasons))


def outcome_text(results: StudyResults) -> str:
    """The outcome-model paragraph: the ladder and the rung each model used."""
    study, st = results.study, results.study.statistics
    measures = ", ".join(study.measure_columns)
    if not measures:
        return ""
    fitted = model_rows(results, lambda m: m.startswith("outcome:"))
    if fitted.empty:
        return ("**Outcome models.** The session measures (" + measures + ") were not "
                "modelled: " + join_reasons(_skip_reasons(results.notes, "outcome model of"))
                + ".")
    names = list(dict.fromkeys(m.partition(":")[2] for m in fitted["model"]))
    text = (f"**Outcome models.** Each session measure with an outcome model "
            f"({join_words(names)}; of {measures}) was modelled as "
            f"`{OUTCOME_FORMULA.format(measure='measure')}`, where synchrony_between is "
            "the dyad's mean synchrony and synchrony_within the session's deviation from it "
            "(Curran & Bauer, 2011), fitted by REML. The random part followed a "
            f"pre-specified ladder: {LADDER_DESCRIPTION}.")
    if len(model_rows(results, lambda m: m.startswith("prepost:"))):
        text += (" Each dyad's change of the measure from its first to its last session was "
                 "regressed on its synchrony slope.")
    text += " Rungs used: " + _rung_summary(fitted) + "."
    singular = list(dict.fromkeys(f"{m} ({row_where(r)})" for m, (_, r) in zip(
        fitted["model"], fitted.iterrows()) if is_true(r.get("singular"))))
    if singular:
        text += (f" The fit of {join_words(singular)} was singular (a random-effect "
                 "variance or correlation on the boundary of its range); its coefficients "
                 "are reported from that fit (column `singular`).")
    skipped = _skip_reasons([n for n in results.notes if "skipped" in n],
                            "model of")
    if skipped:
        text += " Not fitted: " + join_reasons(skipped) + "."
    text += " All coefficients are reported with 95% confidence intervals"
    sesoi = st.sesoi_option
    tested = ("p_equivalence" in fitted.columns
              and pd.to_numeric(fitted["p_equivalence"], errors="coerce").notna().any())
    if sesoi is not None and tested:
        text += (f"; absence of association was tested by two one-sided tests (TOST) "
                 f"against a smallest effect size of interest of {sesoi} "
                 f"({st.sesoi_scale} units, alpha {st.alpha}"
                 + ("; standardized within dyads by the pooled within-dyad SDs of "
                    "measure and synchrony, between dyads by the SDs of the dyad means"
                    if st.sesoi_scale == "standardized" else "") + ")")
    return text + "."
