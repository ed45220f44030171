"""The self-contained HTML report (jinja2 template; figures embedded as PNG, CSS and
script inline, no external resource): findings first (:mod:`.summary`), then per
signal and metric the figures of the models (:mod:`.figures_models`) and tables for
people (:mod:`.tables`), then the full model table (collapsed, with its CSV), data
retained, quality control and methods.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
from datetime import datetime, timezone

import jinja2
import markupsafe
import numpy as np
import pandas as pd

from ..design import ROLES
from ..results import StudyResults
from ..retained import minutes_text, retained_text
from ..stats.outcome_models import LADDER_DESCRIPTION, SIMPLIFICATIONS
from . import figures
from .apa import apa_ci, apa_number, apa_p_clause, decimals_for
from .confirmatory import confirmatory_rows, missing_confirmatory
from .figures_models import outcome_figure, plasticity_figure
from .mechanisms import mechanism_entries
from .methods import input_kinds, methods_text, software_versions
from .montage import montage_positions, spatial_figure
from .prose import markdown_html, results_paragraph
from .summary import design_notes, exploratory_findings, findings
from .tables import RUNG_WORDS, csv_link, human_table
from .wording import join_reasons

__all__ = ["report_html", "confirmatory_results", "img", "signal_entry", "signal_results"]


def img(png: bytes, alt: str = "figure") -> markupsafe.Markup:
    """An ``<img>`` with the PNG embedded (``alt`` escaped)."""
    data = base64.b64encode(png).decode("ascii")
    return markupsafe.Markup(f'<img alt="{markupsafe.escape(alt)}" '
                             f'src="data:image/png;base64,{data}">')


_img = img

#: Columns of the tables of one signal and metric.
_TERM_COLUMNS = ["term", "estimate", "std_error", "ci_low", "ci_high", "df", "t", "p"]
_PLASTICITY_COLUMNS = ["model", "term", "estimate", "std_error", "ci_low", "ci_high", "df",
                       "t", "p_permutation", "n_permutations", "permutation_method",
                       "p_adjusted", "family"]
_OUTCOME_COLUMNS = ["model", "term", "estimate", "std_error", "ci_low", "ci_high", "df", "t",
                    "p", "p_adjusted", "family", "sesoi", "p_equivalence", "equivalent",
                    "simplification"]
_NULL_TEST_COLUMNS = ["null_kind", "real", "null", "mean_difference", "ci_low", "ci_high",
                      "p", "p_method", "n_permutations", "n_dyads"]
_GROWTH_TEST_COLUMNS = ["model", "term", "estimate", "statistic", "df", "p",
                        "n_permutations"]
_ALL_COLUMNS = ["model", "signal", "metric", "scope", "term", "estimate", "std_error",
                "ci_low", "ci_high", "df", "t", "p", "family", "p_adjusted"]
_CONFIRMATORY_COLUMNS = ["model", "signal", "metric", "scope", "term", "estimate",
                         "std_error", "ci_low", "ci_high", "df", "t", "p_family",
                         "p_adjusted"]


def _columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` restricted to those of ``columns`` it has, in that order."""
    return frame[[c for c in columns if c in frame.columns]]


def _table(frame: pd.DataFrame, columns: list[str] | None = None, **options
           ) -> markupsafe.Markup:
    """A table for people (:func:`~interbrain.report.tables.human_table`)."""
    return human_table(frame, columns, **options)


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
    return markupsafe.Markup('<div class="scroll">' + view.to_html(
        index=False, border=0, classes="tbl", table_id="retained", escape=True,
        na_rep="\u2014") + "</div>")


def confirmatory_results(results: StudyResults) -> dict:
    """The findings that open the report.

    Parameters
    ----------
    results : StudyResults

    Returns
    -------
    dict
        ``items``: list of ``{"text", "anchor", "title", "key"}``, one per confirmatory
        row (the sentence of :func:`~interbrain.report.summary.findings`, the id of the
        section showing the row, the row's key in ``models.parquet``); ``exploratory``:
        the same for the main exploratory results; ``missing``: sentences on
        pre-specified tests that did not run, and why; ``table``: the confirmatory
        rows as an APA results table (None when there is none); ``notes``: the
        design notes in plain language.
    """
    def entry(f) -> dict:
        return {"text": f.text, "anchor": f.anchor, "title": f.title, "key": f.key}

    rows = confirmatory_rows(results.models, results.study.statistics.primary.measures)
    table = (_table(rows, _CONFIRMATORY_COLUMNS, table_id="confirmatory-table",
                    labels={"p_family": "p (test)", "p_adjusted": "p (Holm)"})
             if len(rows) else None)
    return {"items": [entry(f) for f in findings(results)],
            "exploratory": [entry(f) for f in exploratory_findings(results)],
            "missing": missing_confirmatory(results), "table": table,
            "notes": design_notes(results)}


def _plasticity(results: StudyResults, rows: pd.DataFrame, signal: str, metric: str
                ) -> dict:
    """The "Inter-brain plasticity" subsection of one signal and metric."""
    mine = rows[rows["model"].str.match(r"^plasticity(:|$)")]
    entry = {"anchor": f"plasticity-{signal}-{metric}"}
    if len(mine):
        entry["table"] = _table(mine, _PLASTICITY_COLUMNS,
                                labels={"p_adjusted": "p (Holm)"})
    excess = results.excess
    if len(excess):
        excess = excess[(excess["signal"] == signal) & (excess["metric"] == metric)]
        kinds = list(dict.fromkeys(excess["null_kind"]))
        if kinds:
            kind = "pseudo" if "pseudo" in kinds else kinds[0]
            fig = plasticity_figure(results, signal, metric, kind)
            if fig is not None:
                entry["figure"] = img(figures.png(fig), "plasticity: real and null "
                                                        "synchrony over sessions")
                entry["figure_null"] = kind
    if not len(mine):
        where = f"({signal}/{metric}"
        reasons = [n for n in results.notes if ("plasticity" in n and where in n)
                   or n.startswith(("Growth and outcome models need", "No pseudo-dyads"))]
        entry["why_not"] = join_reasons(reasons or ["no null pairings were computed"])
    return entry


def _growth(results: StudyResults, rows: pd.DataFrame, signal: str, metric: str,
            growth) -> dict:
    """The growth subsection's tables."""
    entry = {"growth_df": growth.df_method, "growth_formula": growth.labelled_formula,
             "growth": _table(rows[rows["model"] == "growth"], _TERM_COLUMNS),
             "growth_vc": _table(growth.variance_components)}
    extra = rows[rows["model"].str.startswith(("growth_permutation", "lrt:"))]
    if len(extra):
        entry["growth_tests"] = _table(extra, _GROWTH_TEST_COLUMNS)
    slopes = results.slopes
    if len(slopes):
        mine = slopes[(slopes["signal"] == signal) & (slopes["metric"] == metric)]
        entry["slopes"] = _table(mine, ["dyad", "fixed_slope", "blup", "slope",
                                        "ols_slope", "n_sessions", "random_slope"])
    return entry


_SEGMENT_COLUMNS = ["model", "segment", "moment", "term", "estimate", "std_error", "ci_low",
                    "ci_high", "df", "t", "p"]


def _segment_tables(rows: pd.DataFrame) -> dict:
    """Tables of the condition model, the per-label tests and the moments (models
    ``condition``, ``segment_*``, ``moment_vs_null``) among one signal's ``rows``."""
    out = {}
    condition = rows[rows["model"] == "condition"]
    if len(condition):
        out["condition"] = _table(condition, _SEGMENT_COLUMNS)
        out["condition_formula"] = str(condition["formula"].iloc[0]) \
            if "formula" in condition.columns else ""
    labels = rows[rows["model"].str.startswith("segment_")]
    if len(labels):
        out["segment_tests"] = _table(labels, _SEGMENT_COLUMNS)
    moments = rows[rows["model"] == "moment_vs_null"]
    if len(moments):
        out["moments"] = _table(moments, _SEGMENT_COLUMNS)
    return out


#: Columns of the synchrony table that the section of a signal reads (the channels of
#: each pair, for the per-pair figures).
_PAIR_COLUMNS = ["pair", "channel_therapist", "channel_patient"]


def signal_units(results: StudyResults) -> list[tuple[str, str]]:
    """The (signal, metric) pairs with rows in ``results.sessions`` (e.g. not a systemic
    null without short channels; the notes say so), in the order of the study's
    metrics, then signals: the report's sections and figures."""
    sessions, analysis = results.sessions, results.study.analysis
    return [(signal, metric) for metric, signal in itertools.product(
        analysis.metrics, analysis.signals)
        if ((sessions["signal"] == signal) & (sessions["metric"] == metric)).any()]


def signal_results(results: StudyResults, signal: str, metric: str) -> StudyResults:
    """What :func:`signal_entry` reads of ``results`` for one signal and metric: the
    same results with only the fits of that signal and metric, the synchrony table
    reduced to the channels of each pair (its first row per pair) and no quality
    control, retained data or synchrony summaries; small enough to send to another
    process.

    Parameters
    ----------
    results : StudyResults
    signal, metric : str

    Returns
    -------
    StudyResults
    """
    sync = results.synchrony
    columns = [c for c in _PAIR_COLUMNS if c in sync.columns]
    pairs = sync[columns].drop_duplicates("pair") if "pair" in columns else sync[columns][:0]
    return dataclasses.replace(
        results, synchrony=pairs, qc=results.qc[:0], summaries={},
        retained=pd.DataFrame(), null_summary=pd.DataFrame(),
        fits={k: v for k, v in results.fits.items()
              if (k.signal, k.metric) == (signal, metric)})


def signal_entry(results: StudyResults, signal: str, metric: str,
                 positions: pd.DataFrame | None = None) -> dict:
    """Everything the report shows for one signal and metric: figures (PNG) and tables.

    Parameters
    ----------
    results : StudyResults
        The run's, or :func:`signal_results` of them (the same entry).
    signal, metric : str
    positions : pandas.DataFrame, optional
        The montage's channels (:func:`~interbrain.report.montage.channel_positions`).

    Returns
    -------
    dict
        The template's fields of the section.
    """
    study, sessions = results.study, results.sessions
    growth = results.fit("growth", signal, metric)
    entry = {"name": f"{figures.SIGNAL_LABEL.get(signal, signal)}, "
                     f"{figures.METRIC_LABEL.get(metric, metric)}",
             "anchor": f"{signal}-{metric}", "signal": signal, "metric": metric,
             "trajectories": img(figures.trajectories(sessions, growth, signal, metric),
                                 "synchrony per dyad over sessions")}
    rows = results.models[(results.models["signal"] == signal)
                          & (results.models["metric"] == metric)]
    entry["plasticity"] = _plasticity(results, rows, signal, metric)
    if growth is not None:
        entry.update(_growth(results, rows, signal, metric, growth))
    outcome = rows[rows["model"].str.startswith(("outcome:", "prepost:"))
                   & rows["term"].isin(["synchrony_within", "synchrony_between", "slope"])]
    if len(outcome):
        concurrent = outcome["model"].str.startswith("outcome:")
        if "simplification" in outcome.columns:
            outcome = outcome.assign(simplification=outcome["simplification"].where(
                ~(concurrent & (outcome["simplification"].fillna("") == "")),
                RUNG_WORDS[SIMPLIFICATIONS[0]]))
        entry["outcomes"] = _table(outcome, _OUTCOME_COLUMNS,
                                   labels={"p_adjusted": "p (Holm)"})
        fig = outcome_figure(results, signal, metric)
        if fig is not None:
            entry["outcome_figure"] = img(figures.png(fig), "outcome models: added-variable "
                                                            "plots of the within-dyad term")
    pairwise = rows[rows["model"].str.contains("_by_")]
    if len(pairwise):
        entry["pairwise"] = [
            {"model": model, "correction": part["correction"].iloc[0],
             "n_units": int(part["p"].notna().sum()),
             "n_significant": int(part["significant"].fillna(False).sum()),
             "table": _table(part.sort_values("p_adjusted").head(10),
                             ["unit", "estimate", "t", "df", "p", "p_adjusted"]),
             "figure": _spatial(results, signal, metric, model, positions)}
            for model, part in pairwise.groupby("model", sort=True)]
    entry["mechanisms"] = mechanism_entries(rows, study.statistics.alpha, _table)
    entry.update(_segment_tables(rows))
    general = rows[rows["model"] == "generalisation"]
    if len(general):
        entry["generalisation"] = _table(general, _TERM_COLUMNS)
    tests = results.null_tests
    if len(tests):
        mine = tests[(tests["signal"] == signal) & (tests["metric"] == metric)]
        entry["null_tests"] = _table(mine, _NULL_TEST_COLUMNS)
    if (sessions["pairing"] == "pseudo").any():
        entry["real_vs_pseudo"] = img(figures.real_vs_pseudo(sessions, signal, metric),
                                      "real dyads and pseudo-dyads per session")
        entry["rvp"] = rvp = results.real_vs_pseudo.get((signal, metric))
        if rvp is not None:
            d = decimals_for(rvp.real, rvp.pseudo, rvp.difference, rvp.ci_low, rvp.ci_high)
            entry["rvp_text"] = {
                "real": apa_number(rvp.real, d), "pseudo": apa_number(rvp.pseudo, d),
                "difference": apa_number(rvp.difference, d, signed=True),
                "ci": apa_ci(rvp.ci_low, rvp.ci_high, d), "p": apa_p_clause(rvp.p_permutation)}
    return entry


def report_html(results: StudyResults, *, methods: str | None = None,
                synchrony_source: str | None = None, map=map) -> str:
    """The self-contained HTML report of a run (``report.html``).

    Parameters
    ----------
    results : StudyResults
    methods : str, optional
        The methods text (Markdown) the page shows, as prose and as Markdown; default
        :func:`~interbrain.report.methods.methods_text` of ``results`` (a
        statistics-only run passes its own,
        :func:`~interbrain.report.statistics_only.statistics_only_methods_text`).
    synchrony_source : str, optional
        For a statistics-only run: the synchrony table's file. The header then names it
        instead of the band and channel pairs, and the quality-control section says
        that no recording was read.
    map : callable
        Called once, as ``map(signal_entry, parts, signals, metrics, positions)``
        (``parts``: :func:`signal_results` of each signal and metric shown), to draw the
        sections of the signals; returns them in order. Python's ``map`` by default;
        a run passes one that draws them in its worker processes while this process
        draws the rest. The page is the same whichever map draws them.

    Returns
    -------
    str
        HTML text, figures embedded as PNG, no external resource; the caller writes
        it.
    """
    study = results.study
    positions = montage_positions(results)
    units = signal_units(results)
    entries = iter(map(signal_entry, [signal_results(results, *unit) for unit in units],
                       [signal for signal, _ in units], [metric for _, metric in units],
                       [positions] * len(units)))
    qc = results.qc
    qc_summary = (qc.groupby(["dyad", "session", "role", "file"], as_index=False)
                  .agg(channels=("channel", "size"), excluded=("bad", "sum"),
                       median_sci=("sci", "median")))
    bad_list = qc[qc["bad"]][["dyad", "session", "role", "channel", "sci", "reason"]]
    retained = getattr(results, "retained", pd.DataFrame())
    measure_columns = study.measure_columns
    models = results.models
    methods = methods_text(results) if methods is None else methods
    env = jinja2.Environment(loader=jinja2.PackageLoader("interbrain.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    template = env.get_template("report.html.j2")
    # everything but the signals' sections first: they may be drawn elsewhere meanwhile
    fields = dict(
        synchrony_source=synchrony_source,
        models=_table(models, _ALL_COLUMNS, table_id="all-terms"),
        models_csv=csv_link(models, "models.csv", "models.csv (every column)"),
        n_models=len(models),
        qc_map=_quality_section(qc, results.steps),
        qc_summary=_table(qc_summary, labels={"excluded": "Excluded"}),
        bad_list=_table(bad_list), n_bad=int(qc["bad"].sum()), n_channels=len(qc),
        retained=_retained_table(retained, measure_columns) if len(retained) else None,
        retained_text=retained_text(retained, measure_columns) if len(retained) else "",
        methods=methods, methods_html=markdown_html(methods),
        results_paragraph=results_paragraph(results),
        notes=results.notes, versions=software_versions(),
        confirmatory=confirmatory_results(results), ladder=LADDER_DESCRIPTION,
        timings={k: f"{v:.1f} s" for k, v in results.timings.items()})
    signals = list(entries)
    return template.render(
        study=study, signals=signals, **fields,
        created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def _spatial(results: StudyResults, signal: str, metric: str, model: str,
             positions: pd.DataFrame | None) -> markupsafe.Markup | None:
    """The per-pair estimates on the montage or as a matrix (None when not drawable)."""
    if not model.endswith("_by_pair"):
        return None
    fig = spatial_figure(results, signal, metric, model,
                         positions=positions if positions is not None else pd.DataFrame(
                             columns=["channel", "x", "y"]))
    return img(figures.png(fig), f"{model} on the montage") if fig is not None else None


def _quality_section(qc: pd.DataFrame, steps: dict) -> markupsafe.Markup:
    """The quality map, after a sentence on what quality control could judge for each
    input kind (haemoglobin input: non-finite and flat signals only, no scalp coupling
    index)."""
    kinds = input_kinds(steps)
    hb = kinds.get("haemoglobin", [])
    text = ""
    if hb:
        whole = len(hb) == len(steps)
        text = ("<p>" + ("The recordings hold" if whole else
                         f"{len(hb)} of {len(steps)} recordings hold")
                + " haemoglobin concentrations computed elsewhere: quality control checked "
                "them for non-finite and flat signals (and channels marked bad in the file) "
                "only; the scalp coupling index, peak spectral power and motion fraction are "
                "not defined for them" + (" (grey in the map)" if not whole else "")
                + ".</p>")
    if not len(qc):
        return markupsafe.Markup(text + "<p>No channel was checked.</p>")
    return markupsafe.Markup(text) + img(figures.quality_map(qc), "channel quality")
