"""The statistics paragraphs of ``methods.md``, read from what the run fitted.

In order: the confirmatory family, the inter-brain plasticity test (as actually fitted:
formula, degrees of freedom, singular fits, permutation test), growth of real synchrony
(exploratory, not controlled for any null), segments and moments
(:mod:`.methods_segments`), the outcome models and the rung of their ladder each used
(:mod:`.methods_outcomes`), the mechanism models (:mod:`.mechanisms`), the other models,
the degrees-of-freedom methods with their references, and the rule that every other test
is exploratory (:mod:`.methods_other`). Nothing is said about a
model that has no row in ``models.parquet``: its absence is explained from the run's
notes instead.
"""

from __future__ import annotations

import pandas as pd

from ..results import StudyResults
from .confirmatory import confirmatory_rows, missing_confirmatory, primary_of, scope_words
from .mechanisms import mechanisms_text
from .methods_other import df_paragraph, exploratory_text, other_models_text
from .methods_outcomes import outcome_text
from .methods_rows import model_rows, row_where, short_where
from .methods_segments import moments_text, segments_text
from .wording import (df_methods_of, is_true, join_reasons, join_words, metric_label,
                      null_noun, permutation_text, resampling_text, signal_label)

__all__ = ["statistics_text", "confirmatory_text", "plasticity_text", "growth_text",
           "segments_text", "moments_text", "outcome_text", "other_models_text",
           "df_paragraph", "exploratory_text"]

_TIME_TEXT = {"linear": "session number", "log": "the logarithm of the session number",
              "quadratic": "session number and its square (random linear slope)"}


def confirmatory_text(results: StudyResults) -> str:
    """The "**Confirmatory tests.**" paragraph: which tests, on what, and Holm.

    Parameters
    ----------
    results : StudyResults

    Returns
    -------
    str
    """
    signal, metric, primary = primary_of(results)
    alpha = results.study.statistics.alpha
    measures = list(primary.measures)
    text = ("**Confirmatory tests.** The confirmatory family was pre-specified in "
            f"`[statistics.primary]`: on the primary signal ({signal_label(signal)}), "
            f"synchrony metric ({metric_label(metric)}) and channel pairs "
            f"({scope_words(primary.scope)}"
            "), the plasticity test (growth over sessions of the excess of real over "
            "pseudo-dyad synchrony, below), with its dyad-level permutation p-value")
    if measures:
        text += (", and, for each primary measure (" + ", ".join(measures) + "), the "
                 "within-dyad synchrony coefficient (synchrony_within) of its concurrent "
                 "outcome model")
    else:
        text += "; no primary measures were named, so the family is this test alone"
    text += (f". The family's p-values were corrected together by Holm's (1979) step-down "
             f"method, controlling the family-wise error rate at alpha = {alpha:g} (columns "
             "`family`, `p_family`, `p_adjusted` and `significant` of models.parquet).")
    rows = confirmatory_rows(results.models, measures)
    if len(rows):
        text += (f" The family comprised {len(rows)} "
                 f"{'test' if len(rows) == 1 else 'tests'} in this run.")
        if len(rows) == 1:
            text += " (With one test, Holm's adjustment leaves its p-value unchanged.)"
    else:
        text += " No test of the family could be run in this run."
    missing = missing_confirmatory(results)
    if missing:
        text += " " + " ".join(missing)
    return text


def _formula_groups(rows: pd.DataFrame) -> list[tuple[str, str, list[str]]]:
    """``(formula, simplification, ["HbO/wtc", ...])`` of each distinct fitted model."""
    groups: dict[tuple[str, str], list[str]] = {}
    for _, row in rows.iterrows():
        key = (str(row["formula"]), str(row.get("simplification") or ""))
        where = row_where(row)
        groups.setdefault(key, [])
        if where not in groups[key]:
            groups[key].append(where)
    return [(f, s, w) for (f, s), w in groups.items()]


def _plasticity_reasons(results: StudyResults, kind: str = "") -> str:
    """Why the plasticity test (against ``kind``, or any null) did not run, from the
    run's notes."""
    reasons = [n for n in results.notes if f"plasticity test against {kind}" in n
               or n.startswith(("Growth and outcome models need", "No pseudo-dyads"))]
    if not results.study.analysis.pseudo_dyads:
        reasons.insert(0, "no pseudo-dyads were computed ([analysis] pseudo_dyads is false)")
    if not reasons:
        reasons = ["no null pairings (pseudo-dyads, familiarity pairings or surrogates) were "
                   "computed, so real synchrony had no null to exceed"]
    return join_reasons(reasons)


def plasticity_text(results: StudyResults) -> str:
    """The "**Inter-brain plasticity.**" paragraph: the plasticity test as it was run.

    Parameters
    ----------
    results : StudyResults

    Returns
    -------
    str
        Why it was not run, when ``models`` has no plasticity rows.
    """
    rows = model_rows(results, lambda m: m == "plasticity" or m.startswith("plasticity:"))
    if rows.empty:
        return ("**Inter-brain plasticity.** Not tested in this run: "
                f"{_plasticity_reasons(results)}.")
    study = results.study
    st = study.statistics
    main = rows[rows["model"] == "plasticity"]
    others = rows[rows["model"] != "plasticity"]
    slope = "np.log(session)" if (rows["term"] == "np.log(session)").any() else "session"
    therapist = " + (1 | therapist)" if study.n_therapists > 1 else ""
    text = ("**Inter-brain plasticity.** Growth of real synchrony alone is not evidence of "
            "inter-brain plasticity: anything that raises synchrony at a session number in "
            "every pairing (habituation to the caps, optode placement, a breathing rhythm "
            "shared by everyone in later sessions) makes it grow. Inter-brain plasticity was "
            "therefore tested as growth of the excess of real synchrony over its null: per "
            "dyad-session, the excess is real synchrony (mean over channel pairs) minus the "
            "mean synchrony of the pseudo-dyads sharing a recording with it (its therapist "
            "with the other dyads' patients of the same session number, and the other dyads' "
            "therapists with its patient), so that what raises synchrony in every pairing of "
            "a session number cancels. The pre-specified model was "
            f"`excess ~ {slope} + (1 + {slope} | dyad){therapist}` (REML), reduced to a random "
            "intercept per dyad when the random slope is not identified.")
    if st.time == "quadratic":
        text += " Quadratic time has no single slope: the test used linear session number."
    if main.empty:
        text += (" The test against pseudo-dyads did not run ("
                 + _plasticity_reasons(results, "pseudo") + ").")
    else:
        fitted = []
        for formula, simplification, where in _formula_groups(main):
            fitted.append(f"`{formula}` for {join_words(where)}"
                          + (f" ({simplification})" if simplification else ""))
        text += " The model fitted was " + "; ".join(fitted) + "."
        dfs = df_methods_of(main)
        if dfs:
            text += f" Its slope was tested with {' and '.join(dfs)} degrees of freedom."
        singular = [row_where(r) for _, r in main.iterrows() if is_true(r.get("singular"))]
        if singular:
            text += (f" The fit of {join_words(singular)} was singular (a random-effect "
                     "variance on the boundary of its range), so its random part is not "
                     "identified as written; its slope test is reported from that fit "
                     "(column `singular`).")
        else:
            text += " No fit was singular."
        perms = main[["permutation_method", "n_permutations"]].drop_duplicates()
        text += (" Because the excess values share recordings, the mixed model's p-value "
                 "leans on a model of their dependence; the test's p-value (the one entering "
                 "the confirmatory family) is that of "
                 + "; and of ".join(permutation_text(m, n, st.seed, what="pseudo-dyads")
                                    for m, n in perms.itertuples(index=False))
                 + ". The mixed model's estimate and 95% confidence interval describe the "
                 "size of the growth.")
    if len(others):
        kinds = list(dict.fromkeys(others["null_kind"].dropna()))
        methods = others[["permutation_method", "n_permutations"]].drop_duplicates()
        text += (" As exploratory checks, the same model was fitted to the excess over "
                 + join_words(f"{null_noun(k)} (`plasticity:{k}`)" for k in kinds)
                 + " instead of pseudo-dyads, tested with "
                 + "; or ".join(permutation_text(m, n, st.seed)
                                for m, n in methods.itertuples(index=False)) + ".")
    return text


_COMPARISONS = {"lrt:quadratic_vs_linear": "linear against quadratic time",
                "lrt:therapist": "with against without the therapist random intercept"}


def growth_text(results: StudyResults) -> str:
    """The growth-of-real-synchrony paragraph (exploratory, not null-controlled)."""
    study, st = results.study, results.study.statistics
    fits = results.fits_of("growth")
    growth = sorted({fit.labelled_formula for fit in fits.values()})
    if not growth:
        reasons = [n for n in results.notes if n.startswith(("Growth and outcome models need",
                                                              "growth model ("))]
        return ("**Growth of real synchrony (exploratory).** Not fitted: "
                + join_reasons(reasons) + ".")
    text = (f"**Growth of real synchrony (exploratory).** Growth of real synchrony over "
            f"sessions was modelled with {_TIME_TEXT[st.time]} as time, as `{growth[0]}`: a "
            "linear mixed model with a random intercept"
            + (" and a random slope" if "| dyad)" in growth[0] and "(1 +" in growth[0] else "")
            + " per dyad")
    if "therapist" in growth[0]:
        text += (f", and a crossed random intercept of the therapist "
                 f"({study.n_therapists} therapists)")
    dfs = list(dict.fromkeys(str(fit.df_method) for fit in fits.values()))
    text += (", fitted by restricted maximum likelihood (REML), with "
             + " and ".join(dfs) + " degrees of freedom. This model is not controlled for "
             "any null: synchrony that rises over sessions in every pairing makes it grow, "
             "so it measures growth of synchrony, not inter-brain coupling, and is "
             "exploratory.")
    singular = sorted(short_where(key.signal, key.metric)
                      for key, fit in fits.items() if fit.singular)
    if singular:
        text += (f" The growth fit of {', '.join(singular)} was singular (a variance or "
                 "correlation of the random effects estimated on the boundary of its range, "
                 "e.g. a slope correlation of -1 or +1, or a zero variance), so its random "
                 "part is not identified as written; its fixed-effect tests are reported "
                 "from that fit (column `singular` of models.parquet).")
    if len(growth) > 1:
        text += (" (Where the data could not identify every term, the model was reduced: "
                 + "; ".join(f"`{f}`" for f in growth[1:]) + ".)")
    permuted = model_rows(results, lambda m: m == "growth_permutation")
    if len(permuted):
        kinds = resampling_text(permuted, "permutations")
        text += (" Without distributional assumptions, the slope was also tested by "
                 "permuting the session order within each dyad (a "
                 + (kinds.replace("Monte Carlo with", "Monte Carlo permutation test with", 1)
                    if kinds.startswith("Monte Carlo") else
                    f"permutation test, {kinds}" if kinds else "permutation test")
                 + f", seed {st.seed}; two-sided p = (1 + b) / (1 + B)).")
    compared = set(model_rows(results, lambda m: m.startswith("lrt:"))["model"])
    comparisons = [text_ for name, text_ in _COMPARISONS.items() if name in compared]
    if comparisons:
        text += (" Nested models were compared by likelihood-ratio tests of maximum-likelihood "
                 f"refits ({'; '.join(comparisons)}).")
    return text


def statistics_text(results: StudyResults) -> str:
    """The statistics paragraphs of ``methods.md``, as the run fitted them.

    Parameters
    ----------
    results : StudyResults

    Returns
    -------
    str
        Markdown paragraphs separated by blank lines, starting
        ``**Confirmatory tests.**``.
    """
    parts = [confirmatory_text(results), plasticity_text(results), growth_text(results),
             segments_text(results), moments_text(results), outcome_text(results),
             mechanisms_text(results), other_models_text(results), df_paragraph(results),
             exploratory_text(results)]
    return "\n\n".join(p for p in parts if p)
