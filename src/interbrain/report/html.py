"""The self-contained HTML report (jinja2 template, figures embedded as PNG)."""

from __future__ import annotations

import base64
import itertools
from datetime import datetime, timezone

import jinja2
import markupsafe
import numpy as np
import pandas as pd

from ..design import ROLES
from ..results import StudyResults
from ..retained import minutes_text, retained_text
from ..stats.outcome_models import LADDER_DESCRIPTION
from . import figures
from .mechanisms import mechanism_entries
from .confirmatory import (confirmatory_rows, confirmatory_sentence, missing_confirmatory,
                           row_anchor)
from .methods import methods_text, software_versions
from .wording import join_reasons

__all__ = ["report_html", "confirmatory_results"]


def _img(png: bytes) -> markupsafe.Markup:
    data = base64.b64encode(png).decode("ascii")
    return markupsafe.Markup(f'<img alt="figure" src="data:image/png;base64,{data}">')


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return ""
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1 else f"{value:.3f}"
    return str(value)


def _table(frame: pd.DataFrame) -> markupsafe.Markup:
    html = frame.to_html(index=False, border=0, classes="tbl", na_rep="",
                         float_format=_fmt, escape=True)
    return markupsafe.Markup(html)


_TERM_COLUMNS = ["term", "estimate", "std_error", "ci_low", "ci_high", "df", "t", "p"]
_PLASTICITY_COLUMNS = ["model", "scope", "null_kind", "term", "estimate", "ci_low", "ci_high",
                       "std_error", "df", "t", "p", "p_permutation", "permutation_method",
                       "n_permutations", "family", "p_adjusted", "formula", "df_method",
                       "singular", "simplification"]
_OUTCOME_COLUMNS = ["model", "scope"] + _TERM_COLUMNS + ["family", "p_adjusted", "sesoi",
                                                        "p_equivalence",
                                                        "power_equivalence", "equivalent",
                                                        "simplification"]
_NULL_TEST_COLUMNS = ["null_kind", "real", "null", "mean_difference", "ci_low", "ci_high",
                      "p", "p_method", "n_permutations", "n_dyads"]


def _columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` restricted to those of ``columns`` it has, in that order."""
    return frame[[c for c in columns if c in frame.columns]]


def _sampling(row: pd.Series) -> str:
    """The analysed rate in Hz, and each resampled recording's own rate."""
    text = f"{row['sfreq_analysed']:g}"
    changed = [f"{role} {row[f'sfreq_{role}']:g} \u2192 {row['sfreq_analysed']:g}"
               for role in ROLES if row[f"resampled_{role}"]]
    return text + (f" ({'; '.join(changed)})" if changed else "")


def _retained_table(retained: pd.DataFrame, measure_columns) -> markupsafe.Markup:
    """The "Data retained" table: one row per dyad-session (see ``retained.parquet``)."""
    view = pd.DataFrame({"dyad": retained["dyad"], "session": retained["session"]})
    for role in ROLES:
        view[f"{role} file"] = retained[f"file_{role}"]
    for role in ROLES:
        view[f"{role} channels kept"] = [
            f"{k} / {n}" for k, n in zip(retained[f"channels_kept_{role}"],
                                         retained[f"channels_total_{role}"])]
    view["channel pairs"] = retained["channel_pairs"]
    view["minutes analysed"] = [minutes_text(m) for m in retained["minutes_analysed"]]
    for role in ROLES:
        view[f"{role} minutes recorded"] = [minutes_text(m)
                                             for m in retained[f"minutes_{role}"]]
    view["cut to overlap"] = np.where(retained["cut"], "yes", "")
    view["sampling rate (Hz)"] = [_sampling(row) for _, row in retained.iterrows()]
    if measure_columns:
        view["measures present"] = [
            present if has_row else "none (no measures.csv row)"
            for present, has_row in zip(retained["measures_present"],
                                        retained["measures_row"])]
    return markupsafe.Markup(view.to_html(index=False, border=0, classes="tbl",
                                          table_id="retained", escape=True))


def confirmatory_results(results: StudyResults) -> dict:
    """The "Confirmatory results" section: one sentence per confirmatory row.

    Parameters
    ----------
    results : StudyResults

    Returns
    -------
    dict
        ``items``: list of ``{"text", "anchor"}`` (the sentence and the id of the
        section showing the row); ``missing``: sentences on pre-specified tests that
        did not run, and why.
    """
    alpha = results.study.statistics.alpha
    rows = confirmatory_rows(results.models, results.study.statistics.primary.measures)
    items = [{"text": confirmatory_sentence(row, alpha), "anchor": row_anchor(row)}
             for _, row in rows.iterrows()]
    return {"items": items, "missing": missing_confirmatory(results)}


def _plasticity(results: StudyResults, rows: pd.DataFrame, signal: str, metric: str
                ) -> dict:
    """The "Inter-brain plasticity" subsection of one signal and metric."""
    mine = rows[rows["model"].str.match(r"^plasticity(:|$)")]
    entry = {"anchor": f"plasticity-{signal}-{metric}"}
    if len(mine):
        entry["table"] = _table(_columns(mine, _PLASTICITY_COLUMNS))
    excess = results.excess
    if len(excess):
        excess = excess[(excess["signal"] == signal) & (excess["metric"] == metric)]
        kinds = list(dict.fromkeys(excess["null_kind"]))
        if kinds:
            kind = "pseudo" if "pseudo" in kinds else kinds[0]
            entry["figure"] = _img(figures.excess_over_sessions(excess, signal, metric, kind))
            entry["figure_null"] = kind
    if not len(mine):
        where = f"({signal}/{metric}"
        reasons = [n for n in results.notes if ("plasticity" in n and where in n)
                   or n.startswith(("Growth and outcome models need", "No pseudo-dyads"))]
        entry["why_not"] = join_reasons(reasons or ["no null pairings were computed"])
    return entry


def report_html(results: StudyResults) -> str:
    """The self-contained HTML report of a run (``report.html``).

    Parameters
    ----------
    results : StudyResults

    Returns
    -------
    str
        HTML text, figures embedded as PNG; the caller writes it.
    """
    study = results.study
    signals = []
    sessions = results.sessions
    for metric, signal in itertools.product(study.analysis.metrics, study.analysis.signals):
        if not ((sessions["signal"] == signal) & (sessions["metric"] == metric)).any():
            continue   # e.g. a systemic null without short channels (the notes say so)
        growth = results.fit("growth", signal, metric)
        entry = {"name": f"{figures.SIGNAL_LABEL[signal]}, {figures.METRIC_LABEL[metric]}",
                 "anchor": f"{signal}-{metric}",
                 "trajectories": _img(figures.trajectories(sessions, growth, signal, metric))}
        rows = results.models[(results.models["signal"] == signal)
                              & (results.models["metric"] == metric)]
        entry["plasticity"] = _plasticity(results, rows, signal, metric)
        if growth is not None:
            entry["growth_df"] = growth.df_method
            entry["growth"] = _table(_columns(rows[rows["model"] == "growth"], _TERM_COLUMNS))
            entry["growth_vc"] = _table(growth.variance_components)
            entry["growth_formula"] = growth.labelled_formula
            extra = rows[rows["model"].str.startswith(("growth_permutation", "lrt:"))]
            if len(extra):
                entry["growth_tests"] = _table(_columns(extra, ["model"] + _TERM_COLUMNS))
            slopes = results.slopes
            if len(slopes):
                mine = slopes[(slopes["signal"] == signal) & (slopes["metric"] == metric)]
                entry["slopes"] = _table(mine.drop(columns=["signal", "metric"]))
        outcome = rows[rows["model"].str.startswith(("outcome:", "prepost:"))
                       & rows["term"].isin(["synchrony_within", "synchrony_between", "slope"])]
        if len(outcome):
            entry["outcomes"] = _table(_columns(outcome, _OUTCOME_COLUMNS))
        pairwise = rows[rows["model"].str.contains("_by_")]
        if len(pairwise):
            entry["pairwise"] = [
                {"model": model, "correction": part["correction"].iloc[0],
                 "n_units": int(part["p"].notna().sum()),
                 "n_significant": int(part["significant"].fillna(False).sum()),
                 "table": _table(_columns(part.sort_values("p_adjusted").head(10),
                                          ["unit", "estimate", "t", "df", "p", "p_adjusted"]))}
                for model, part in pairwise.groupby("model", sort=True)]
        entry["mechanisms"] = mechanism_entries(rows, study.statistics.alpha, _table)
        general = rows[rows["model"] == "generalisation"]
        if len(general):
            entry["generalisation"] = _table(_columns(general, _TERM_COLUMNS))
        tests = results.null_tests
        if len(tests):
            mine = tests[(tests["signal"] == signal) & (tests["metric"] == metric)]
            entry["null_tests"] = _table(_columns(mine, _NULL_TEST_COLUMNS))
        if (sessions["pairing"] == "pseudo").any():
            entry["real_vs_pseudo"] = _img(figures.real_vs_pseudo(sessions, signal, metric))
            entry["rvp"] = results.real_vs_pseudo.get((signal, metric))
        if study.measure_columns and growth is not None:
            entry["measures"] = _img(figures.measures_vs_synchrony(
                sessions, study.measures, signal, metric))
        signals.append(entry)
    qc = results.qc
    qc_summary = (qc.groupby(["dyad", "session", "role", "file"], as_index=False)
                  .agg(channels=("channel", "size"), bad=("bad", "sum"),
                       median_sci=("sci", "median")))
    bad_list = qc[qc["bad"]][["dyad", "session", "role", "channel", "sci", "reason"]]
    retained = getattr(results, "retained", pd.DataFrame())
    measure_columns = study.measure_columns
    env = jinja2.Environment(loader=jinja2.PackageLoader("interbrain.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    template = env.get_template("report.html.j2")
    return template.render(
        study=study, signals=signals, models=_table(results.models),
        qc_map=_img(figures.quality_map(qc)), qc_summary=_table(qc_summary),
        bad_list=_table(bad_list), n_bad=int(qc["bad"].sum()), n_channels=len(qc),
        retained=_retained_table(retained, measure_columns) if len(retained) else None,
        retained_text=retained_text(retained, measure_columns) if len(retained) else "",
        methods=methods_text(results), notes=results.notes, versions=software_versions(),
        confirmatory=confirmatory_results(results), ladder=LADDER_DESCRIPTION,
        created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        timings={k: f"{v:.1f} s" for k, v in results.timings.items()})
