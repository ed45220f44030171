"""The closing statistics paragraphs of ``methods.md``: other models (generalisation,
per-unit tests), the degrees-of-freedom methods used with their references, and the rule
that every test outside the confirmatory family is exploratory."""

from __future__ import annotations

from ..results import StudyResults
from .methods_rows import model_rows
from .wording import df_methods_of, df_text, join_reasons, join_words, resampling_text

__all__ = ["other_models_text", "df_paragraph", "exploratory_text"]

_CORRECTION_TEXT = {
    "fdr_bh": "the Benjamini-Hochberg false discovery rate",
    "bonferroni": "Bonferroni's family-wise correction",
    "holm": "Holm's family-wise correction",
    "maxt": "a Westfall-Young max-statistic permutation (family-wise error rate)",
}

#: Per-unit tests of ``[statistics] pairwise`` -> the test, as stats/multiple.py runs it.
_PAIRWISE_TEST = {"growth": "one-sample t-test of the dyads' OLS slopes",
                  "real_vs_pseudo": "paired t-test over dyads of real minus pseudo-dyad "
                                    "synchrony"}


def other_models_text(results: StudyResults) -> str:
    """Generalisation and per-unit tests, as fitted (empty when neither was asked for)."""
    study, st = results.study, results.study.statistics
    parts = []
    if study.generalisation:
        if len(model_rows(results, lambda m: m == "generalisation")):
            n_other = len({(g.dyad, g.partner) for g in study.generalisation})
            parts.append(
                f"Whether synchrony generalises beyond the therapist was asked with "
                f"{len(study.generalisation)} recordings of patients with {n_other} other "
                "partner(s) before and after treatment: synchrony (mean over channel pairs) "
                "was modelled as `synchrony ~ phase * partner_role + (1 | patient)` (with "
                "the therapist: first and last session), and the pre-to-post change with "
                "other people was tested as a contrast with Satterthwaite df. (The "
                "comparison with the change with the therapist confounds partner with task: "
                "therapy sessions against the generalisation task.)")
        else:
            reasons = [n for n in results.notes if "generalisation model" in n]
            parts.append("The generalisation model was not fitted: "
                         + join_reasons(reasons) + ".")
    unit = "channel pair" if st.pairwise_unit == "pair" else "region pair"
    run = [t for t in st.pairwise
           if len(model_rows(results, lambda m, t=t: m.startswith(f"{t}_by_")))]
    if run:
        per_unit = model_rows(results, lambda m: "_by_" in m)
        corrections = list(dict.fromkeys(per_unit["correction"].dropna())
                           if "correction" in per_unit.columns else [st.correction])
        text = (f"Per {unit}, " + join_words(f"{t.replace('_', ' ')} ({_PAIRWISE_TEST[t]})"
                                              if t in _PAIRWISE_TEST else t.replace("_", " ")
                                              for t in run)
                + " were tested over dyads and corrected for multiple comparisons with "
                + join_words(_CORRECTION_TEXT.get(c, str(c)) for c in corrections))
        if "maxt" in corrections:
            kinds = resampling_text(per_unit[per_unit["correction"] == "maxt"],
                                    "permutations")
            text += f" ({kinds}, seed {st.seed})" if kinds else ""
        parts.append(text + ".")
    skipped = [n for n in results.notes if n.startswith(f"per-{st.pairwise_unit} ")]
    if skipped and len(run) < len(st.pairwise):
        parts.append(f"The per-{unit.replace(' ', '-')} tests were not run: "
                     + join_reasons(n.split("skipped: ", 1)[-1] for n in skipped) + ".")
    return ("**Other models.** " + " ".join(parts)) if parts else ""


_MODEL_KIND = (("plasticity", "the plasticity tests"), ("growth", "the growth model"),
               ("condition", "the condition model of the segments"),
               ("outcome:", "the concurrent outcome models"),
               ("cross_lagged:", "the cross-lagged models"),
               ("therapist:interaction", "the therapist x time interaction"),
               ("generalisation", "the generalisation model"))


def _df_label(label: str, method: str) -> str:
    """Which outcome models a df method was used for: the OLS rung or the mixed ones."""
    if "outcome models" not in label:
        return label
    return label + (" fitted by OLS (last rung of the ladder)" if method.startswith("CR2")
                    else " fitted as mixed models")


def df_paragraph(results: StudyResults) -> str:
    """The degrees-of-freedom methods actually used, with their references."""
    models = results.models
    if models.empty or "df_method" not in models.columns:
        return ""
    uses: dict[str, list[str]] = {}
    for prefix, label in _MODEL_KIND:
        rows = models[models["model"].str.startswith(prefix)]
        for method in df_methods_of(rows):
            uses.setdefault(method, []).append(_df_label(label, method))
    if not uses:
        return ""
    text = ("**Degrees of freedom.** Fixed effects were tested by t-tests with small-sample "
            "degrees of freedom, because z-tests are anti-conservative with few dyads: "
            + "; ".join(f"{df_text(method)} for {join_words(labels)}"
                        for method, labels in uses.items()) + ".")
    configured = results.study.statistics.df_method
    if configured == "kenward-roger" and "Satterthwaite" in uses:
        text += (" (`[statistics] df_method` was Kenward-Roger; where its adjustment could not "
                 "be computed, Satterthwaite's method was used instead, as lmerTest does.)")
    return text


def exploratory_text(results: StudyResults) -> str:
    """The sentence that every test outside the confirmatory family is exploratory."""
    alpha = results.study.statistics.alpha
    per_unit = len(model_rows(results, lambda m: "_by_" in m))
    return (f"**Exploratory tests.** Every other test reported here, in report.html and in "
            f"models.parquet (`family = \"exploratory\"`) is exploratory: tested at alpha = "
            f"{alpha:g} on its own, without correction for the number of tests"
            + (" (the per-unit tests are corrected among themselves, as stated)"
               if per_unit else "") + ", and to be read as hypothesis-generating.")
