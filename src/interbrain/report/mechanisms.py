"""The mechanism questions in the report and in ``methods.md``, read from the fitted rows.

What precedes what (cross-lagged models), what mediates (multilevel mediation), whether
two associations differ (dissociation test, with the reference's equivalence test and
its power), what is therapist-specific (therapist x time interaction, variance share,
pseudo-dyads split by therapist) and what generalises (patient-level model). Each
sentence says only what its test showed: a direction "preceded" another only when its
bias-corrected bootstrap test rejected; an indirect effect is "different from zero" only
when its Monte Carlo interval excludes 0; "no association" only when the equivalence
test rejected, else "inconclusive" with the test's power.
"""

from __future__ import annotations

import math

import pandas as pd

from ..results import StudyResults
from .wording import (format_number, format_p, is_true, join_reasons, resampling_text,
                      signal_label)

__all__ = ["MECHANISM_PREFIXES", "mechanism_entries", "mechanisms_text"]

#: ``model`` prefixes of the mechanism rows of ``models.parquet``.
MECHANISM_PREFIXES = ("cross_lagged:", "mediation:", "dissociation:", "therapist:",
                      "generalisation:patients")

_TABLE_COLUMNS = {
    "cross_lagged:": ["model", "term", "estimate", "ci_low", "ci_high", "p",
                      "estimate_corrected", "ci_low_bootstrap", "ci_high_bootstrap",
                      "p_bootstrap", "n_bootstrap", "n_obs", "n_groups", "simplification"],
    "mediation:": ["model", "term", "estimate", "ci_low", "ci_high", "std_error", "df", "p",
                   "n_groups", "simplification"],
    "dissociation:": ["model", "term", "estimate", "ci_low", "ci_high", "df", "p",
                      "sesoi", "p_equivalence", "power_equivalence", "equivalent",
                      "n_groups"],
    "therapist:": ["model", "term", "estimate", "ci_low", "ci_high", "statistic", "df_num",
                   "df", "p", "p_permutation", "n_therapists", "n_groups"],
    "generalisation:patients": ["model", "term", "estimate", "ci_low", "ci_high", "df", "p",
                                "p_permutation", "n_obs"],
}

_TITLES = {
    "cross_lagged:": "What precedes what: cross-lagged models",
    "mediation:": "Does synchrony carry the change? Multilevel mediation",
    "dissociation:": "Do two associations differ? Dissociation and equivalence",
    "therapist:": "Therapist-specific or universal?",
    "generalisation:patients": "Does growth with the therapist carry over to other people?",
}

_INTROS = {
    "cross_lagged:": (
        "Within each dyad (centred and detrended), does synchrony in session t predict the "
        "measure in session t+1 beyond the measure in session t, and the reverse? With few "
        "sessions per dyad the model-based <code>p</code> is biased (Nickell bias); judge "
        "each direction by <code>p_bootstrap</code>, the bias-corrected parametric "
        "bootstrap test, with its interval <code>ci_low_bootstrap</code>, "
        "<code>ci_high_bootstrap</code>."),
    "mediation:": (
        "Path a: growth of synchrony over sessions; path b: within-dyad synchrony and the "
        "measure, controlling session; indirect effect a*b + cov(a, b) (the mean over "
        "dyads of the product of their paths), with a 95% Monte Carlo interval and no "
        "p-value."),
    "dissociation:": (
        "Standardised within-dyad coefficients of synchrony on two measures, their "
        "difference (dyad-level sign-flip test, 95% CI by test inversion) and the "
        "equivalence test (TOST) of the reference measure's coefficient, with its power "
        "at this design."),
    "therapist:": (
        "Whether growth of synchrony differs between therapists (therapist x time "
        "interaction), the share of synchrony variance between therapists (a point "
        "estimate, no interval), and real synchrony in excess of pseudo-dyads split by "
        "therapist: this therapist with other therapists' patients (a therapist trait "
        "would be in it) and other therapists with this patient (a patient trait)."),
    "generalisation:patients": (
        "Per patient: the growth of synchrony with the therapist (slope over sessions of "
        "the excess over pseudo-dyads) and the pre-to-post change of synchrony with other "
        "people (in excess of the other people's recordings with other patients); "
        "across patients, does the first predict the second? <code>p_permutation</code>: "
        "therapy slopes permuted across patients."),
}


def _mechanism_rows(models: pd.DataFrame, prefix: str) -> pd.DataFrame:
    if models.empty or "model" not in models.columns:
        return models.iloc[:0]
    return models[models["model"].str.startswith(prefix)]


def _ci(row: pd.Series, low: str = "ci_low", high: str = "ci_high") -> str:
    return f"[{format_number(row.get(low))}, {format_number(row.get(high))}]"


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _cross_lagged_findings(rows: pd.DataFrame, alpha: float) -> list[str]:
    out = []
    for _, row in rows.iterrows():
        p = row.get("p_bootstrap")
        if not _finite(p):
            out.append(f"{row['term']}: estimate {format_number(row['estimate'])} (model-based "
                       f"p = {format_p(row['p'])}, no bootstrap test).")
            continue
        corrected = row.get("estimate_corrected", row["estimate"])
        measure = row["model"].partition(":")[2]
        first, then = (("synchrony", measure) if row["term"] == f"synchrony -> {measure}"
                       else (measure, "synchrony"))
        verdict = (f"{first} in one session predicted {then} in the next beyond {then}'s "
                   f"own previous value" if float(p) < alpha else
                   f"no evidence that {first} predicts the next session's {then}")
        out.append(f"{row['term']}: bias-corrected estimate {format_number(corrected)}, "
                   f"bias-corrected interval (nominal 95%) "
                   f"{_ci(row, 'ci_low_bootstrap', 'ci_high_bootstrap')}, bootstrap "
                   f"p = {format_p(p)}; {verdict} (alpha {alpha:g}).")
    return out


def _mediation_findings(rows: pd.DataFrame, alpha: float) -> list[str]:
    out = []
    for _, row in rows[rows["term"].str.startswith("indirect")].iterrows():
        lo, hi = row["ci_low"], row["ci_high"]
        excludes = _finite(lo) and _finite(hi) and (lo > 0 or hi < 0)
        measure = row["model"].partition(":")[2]
        out.append(f"{measure}: indirect effect {format_number(row['estimate'])}, 95% Monte "
                   f"Carlo CI {_ci(row)}; "
                   + ("the interval excludes 0." if excludes else
                      "the interval includes 0: no evidence of mediation (not evidence of "
                      "its absence)."))
    return out


def _dissociation_findings(rows: pd.DataFrame, alpha: float) -> list[str]:
    out = []
    for model, part in rows.groupby("model", sort=False):
        diff, ref = part.iloc[-1], part.iloc[1]
        text = (f"{diff['term']}: difference of standardised coefficients "
                f"{format_number(diff['estimate'])}, 95% CI {_ci(diff)}, p = "
                f"{format_p(diff['p'])}; "
                + ("the associations differ." if _finite(diff["p"]) and diff["p"] <= alpha
                   else "no evidence that they differ."))
        if _finite(ref.get("p_equivalence")):
            power = ref.get("power_equivalence")
            power_text = (f" (at most {100 * float(power):.0f}% power)"
                          if _finite(power) else "")
            text += (f" {ref['term']}: "
                     + (f"equivalent to zero within \u00b1{format_number(ref['sesoi'])} "
                        f"(TOST p = {format_p(ref['p_equivalence'])})."
                        if is_true(ref.get("equivalent")) else
                        f"not shown to be absent: the equivalence test (\u00b1"
                        f"{format_number(ref['sesoi'])}) was inconclusive, p = "
                        f"{format_p(ref['p_equivalence'])}{power_text}."))
        else:
            text += " No equivalence test (no smallest effect of interest, sesoi)."
        out.append(text)
    return out


def _therapist_findings(rows: pd.DataFrame, alpha: float) -> list[str]:
    out = []
    test = rows[rows["term"].str.startswith("therapist x time")]
    for _, row in test.iterrows():
        out.append(f"Therapist x time interaction: p = {format_p(row['p'])}; "
                   + ("growth of synchrony differs between therapists."
                      if _finite(row["p"]) and row["p"] <= alpha else
                      "no evidence that growth differs between therapists."))
    share = rows[rows["term"] == "therapist share of synchrony variance"]
    for _, row in share.iterrows():
        out.append(f"Share of synchrony variance between therapists: "
                   f"{100 * float(row['estimate']):.1f}% (point estimate).")
    for _, row in rows[rows["term"].str.contains(" trait: ")].iterrows():
        kind = row["term"].partition(":")[0]
        out.append(f"{kind.capitalize()} in the pseudo-dyads: p = {format_p(row['p'])}"
                   + ("." if not (_finite(row["p"]) and row["p"] <= alpha) else
                      f"; pseudo-dyad synchrony carries a {kind}."))
    return out


def _generalisation_findings(rows: pd.DataFrame, alpha: float) -> list[str]:
    out = []
    for _, row in rows[rows["term"] == "therapy_slope -> other_change"].iterrows():
        p = row.get("p_permutation", row["p"])
        out.append(f"Growth with the therapist predicting change with other people: "
                   f"{format_number(row['estimate'])}, 95% CI {_ci(row)}, permutation p = "
                   f"{format_p(p)}; "
                   + ("patients whose synchrony with the therapist grew more changed more "
                      "with other people." if _finite(p) and p <= alpha else
                      "no evidence of such a link."))
    return out


_FINDINGS = {"cross_lagged:": _cross_lagged_findings, "mediation:": _mediation_findings,
             "dissociation:": _dissociation_findings, "therapist:": _therapist_findings,
             "generalisation:patients": _generalisation_findings}


def mechanism_entries(rows: pd.DataFrame, alpha: float, table) -> list[dict]:
    """The report's mechanism subsections of one signal and metric.

    Parameters
    ----------
    rows : pandas.DataFrame
        The rows of ``models.parquet`` of that signal and metric.
    alpha : float
        The level of the tests.
    table : callable
        DataFrame -> HTML table.

    Returns
    -------
    list of dict
        ``title, intro, findings, table`` of each question that has rows.
    """
    entries = []
    for prefix, title in _TITLES.items():
        mine = _mechanism_rows(rows, prefix)
        if mine.empty:
            continue
        columns = [c for c in _TABLE_COLUMNS[prefix] if c in mine.columns]
        entries.append({"title": title, "intro": _INTROS[prefix],
                        "anchor": prefix.rstrip(":").replace(":", "-"),
                        "findings": _FINDINGS[prefix](mine, alpha),
                        "table": table(mine[columns])})
    return entries


def _fitted_on(rows: pd.DataFrame) -> str:
    where = sorted({f"{signal_label(s)}/{m}" for s, m in zip(rows["signal"], rows["metric"])})
    return ", ".join(where)


def _cross_lagged_fit(rows: pd.DataFrame) -> str:
    """How the cross-lagged models were fitted, from their rows' ``method``."""
    mixed = rows["method"].astype(str).str.contains("lmer")
    both = ("with a random intercept per dyad where identified (lmer, REML) and otherwise "
            "by OLS with CR2 cluster-robust standard errors by dyad")
    if mixed.all():
        return "with a random intercept per dyad (lmer, REML)"
    if not mixed.any():
        return ("by OLS with CR2 cluster-robust standard errors by dyad (a random intercept "
                "per dyad was not identified)")
    return both


def _notes_about(results: StudyResults, marker: str) -> list[str]:
    """The reasons (text after ``"not fitted: "``) of the notes about ``marker``; the
    same reason for several signals once."""
    return list(dict.fromkeys(n.split("not fitted: ", 1)[-1] for n in results.notes
                              if marker in n and "not fitted" in n))


def mechanisms_text(results: StudyResults) -> str:
    """The "**Mechanisms of change.**" paragraph of ``methods.md``: each mechanism model
    as the run fitted it, or why it was not fitted.

    Parameters
    ----------
    results : StudyResults

    Returns
    -------
    str
        Markdown; empty when no mechanism model was asked for or could be fitted.
    """
    st, models = results.study.statistics, results.models
    parts = []
    rows = _mechanism_rows(models, "cross_lagged:")
    if len(rows):
        n_boot = rows["n_bootstrap"].max() if "n_bootstrap" in rows.columns else 0
        parts.append(
            "Temporal precedence was examined with cross-lagged models in both directions "
            "(the measure in session t+1 on synchrony in session t controlling the measure "
            "in session t, and synchrony in session t+1 on the measure in session t "
            "controlling synchrony in session t), on lagged pairs centred and detrended "
            "within dyad (Falkenstr\u00f6m et al., 2017), "
            + _cross_lagged_fit(rows) + ". "
            "Because the within-dyad lagged regression is biased with few sessions per dyad "
            "(Nickell, 1981), each direction was tested by a bias-corrected parametric "
            f"bootstrap ({int(n_boot)} simulated studies from the fitted null model, "
            "p_bootstrap) and its interval obtained by inverting that test (nominal 95%; "
            "in simulation it covered 89-91% of non-zero effects) "
            f"({_fitted_on(rows)}).")
    elif results.study.measure_columns:
        reasons = [n.split("skipped: ", 1)[-1] for n in results.notes
                   if "cross-lagged model of" in n and "skipped" in n]
        if reasons:
            parts.append("Cross-lagged models were not fitted: " + join_reasons(reasons)
                         + ".")
    rows = _mechanism_rows(models, "mediation:")
    if len(rows):
        parts.append(
            "Multilevel 1-1-1 mediation of each measure's change over sessions by synchrony "
            "(Kenny, Korchmaros & Bolger, 2003; Bauer, Preacher & Gil, 2006) was estimated "
            "from each dyad's own least-squares paths (a: synchrony on session; b: the "
            "measure on synchrony controlling session); the average indirect effect "
            "a*b + cov(a, b) is the mean over dyads of the product of their paths, with a "
            "95% Monte Carlo confidence interval (Preacher & Selig, 2012) from the "
            "normal-inverse-Wishart distribution of the dyads' paths; it has no p-value "
            f"({_fitted_on(rows)}).")
    elif st.mediation and results.study.measure_columns:
        reasons = _notes_about(results, "mediation of")
        if reasons:
            parts.append("Mediation was not estimated: " + join_reasons(reasons) + ".")
    rows = _mechanism_rows(models, "dissociation:")
    if len(rows):
        pairs = sorted(set(rows["model"].str.partition(":")[2]))
        kinds = resampling_text(rows[rows["term"].str.contains(" - ", regex=False)])
        sesoi = st.sesoi_option
        parts.append(
            f"Whether synchrony's association with one measure differs from that with "
            f"another ({', '.join(pairs)}) was tested on standardised within-dyad "
            "coefficients (each dyad's least-squares coefficient of the measure on "
            "synchrony controlling session, scaled by the pooled within-dyad SDs): the "
            "mean over dyads of their difference, by a two-sided dyad-level sign-flip test"
            + (f" ({kinds})" if kinds else "") + ", with a 95% CI by test inversion"
            + (f"; the reference measure's coefficient was tested for equivalence to zero "
               f"within \u00b1{sesoi if not isinstance(sesoi, dict) else 'the sesoi'} "
               "(TOST) and the power of that test at the observed standard error is "
               "reported, an upper bound with few dyads" if sesoi is not None else
               "; no smallest effect of interest (sesoi) was given, so absence of an "
               "association was not tested")
            + ".")
    elif st.dissociation:
        reasons = _notes_about(results, "dissociation test")
        if reasons:
            parts.append("The dissociation test was not run: " + join_reasons(reasons) + ".")
    rows = _mechanism_rows(models, "therapist:")
    if len(rows):
        text = ("With several therapists, whether growth of synchrony is therapist-specific "
                "was tested by the therapist x time interaction")
        kinds = set(rows.get("interaction", pd.Series(dtype=object)).dropna())
        if "fixed" in kinds:
            text += (" (fixed therapist effects and their interactions with time, F test "
                     "with small-sample df)")
        if "random" in kinds:
            text += (" (a random slope per therapist, likelihood-ratio test against a "
                     "50:50 mixture of chi-square distributions, conservative with few "
                     "therapists)")
        text += (", the share of synchrony variance between therapists was estimated (a "
                 "point estimate, without interval)")
        split = rows[rows["model"] == "therapist:pseudo_split"]
        if len(split):
            kinds = resampling_text(split)
            text += (", and real synchrony was compared with pseudo-dyads split into the "
                     "therapist with other therapists' patients and other therapists with "
                     "the patient (dyad-level sign-flip tests"
                     + (f", {kinds}" if kinds else "") + ")")
        parts.append(text + ".")
    else:
        reasons = _notes_about(results, "therapist effects")
        if reasons:
            parts.append("Therapist effects were not estimated: " + join_reasons(reasons)
                         + ".")
    rows = _mechanism_rows(models, "generalisation:patients")
    if len(rows):
        parts.append(
            "Whether a patient's growth of synchrony with the therapist predicts the change "
            "of their synchrony with other people was tested across patients: the change "
            "from before to after treatment with other people (in excess of the other "
            "people's recordings paired with other patients) regressed on the patient's "
            "slope over sessions of synchrony in excess of pseudo-dyads, by OLS with a "
            "permutation test of the slopes across patients"
            + (f" ({kinds})" if (kinds := resampling_text(rows, "permutations")) else "")
            + ".")
    if not parts:
        return ""
    return "**Mechanisms of change (exploratory).** " + " ".join(parts)
