"""Every figure of the report as vector files for a paper: SVG and PDF at the widths
of a journal's single and double column (85 and 174 mm), with fonts sized for print.

:func:`figure_files` returns ``{file name: bytes}``; the engine writes them to the
results folder's ``figures/`` (the report writes nothing).
"""

from __future__ import annotations

import io
from typing import Callable

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from ..results import StudyResults
from . import figures
from .figures_models import outcome_figure, plasticity_figure
from .html import signal_results, signal_units
from .montage import montage_positions, spatial_figure

__all__ = ["JOURNAL_WIDTHS_MM", "FORMATS", "PRINT_STYLE", "report_figures", "figure_files"]

#: Column width name -> millimetres.
JOURNAL_WIDTHS_MM = {"single": 85, "double": 174}
#: File formats written.
FORMATS = ("svg", "pdf")
#: Matplotlib settings of the files: print-sized fonts and lines, text kept as text.
PRINT_STYLE = {"font.size": 7, "axes.titlesize": 7, "axes.labelsize": 7,
               "xtick.labelsize": 6, "ytick.labelsize": 6, "legend.fontsize": 6,
               "lines.linewidth": 1.0, "svg.fonttype": "none", "pdf.fonttype": 42}


#: No channel positions (the spatial figures are then drawn only as matrices).
_NO_POSITIONS = pd.DataFrame(columns=["channel", "x", "y"])


def _per_pair_models(results: StudyResults) -> list[str]:
    models = results.models
    return sorted(m for m in set(models["model"]) if str(m).endswith("_by_pair")) \
        if len(models) else []


def report_figures(results: StudyResults, units: list[tuple[str, str]] | None = None,
                   positions: pd.DataFrame | None = None
                   ) -> dict[str, Callable[[float], Figure | None]]:
    """The report's figures of the models by name (``plasticity_hbo_wtc``,
    ``outcomes_hbo_wtc``, ``trajectories_hbo_wtc``, ``real_vs_pseudo_hbo_wtc``, and per
    per-pair model ``spatial_growth_by_pair_hbo_wtc``): each a
    function of the width in inches that draws it (None when there is nothing to draw).

    Parameters
    ----------
    results : StudyResults
    units : list of (str, str), optional
        Only the figures of these (signal, metric) pairs (default
        :func:`~.html.signal_units`).
    positions : pandas.DataFrame, optional
        The channels' positions (default :func:`~.montage.montage_positions`).

    Returns
    -------
    dict
    """
    sessions = results.sessions
    out: dict[str, Callable[[float], Figure | None]] = {}
    per_pair = _per_pair_models(results)
    if per_pair and positions is None:
        positions = montage_positions(results)
    for signal, metric in (signal_units(results) if units is None else units):
        tag = f"{signal}_{metric}"
        growth = results.fit("growth", signal, metric)
        out[f"plasticity_{tag}"] = (
            lambda w, s=signal, m=metric: plasticity_figure(results, s, m, width_in=w))
        out[f"outcomes_{tag}"] = (
            lambda w, s=signal, m=metric: outcome_figure(results, s, m, width_in=w))
        out[f"trajectories_{tag}"] = (
            lambda w, s=signal, m=metric, g=growth: figures.trajectories_figure(
                sessions, g, s, m, width_in=w))
        if (sessions["pairing"] == "pseudo").any():
            out[f"real_vs_pseudo_{tag}"] = (
                lambda w, s=signal, m=metric: figures.real_vs_pseudo_figure(
                    sessions, s, m, width_in=w))
        for model in per_pair:
            out[f"spatial_{model}_{tag}"] = (
                lambda w, s=signal, m=metric, k=model: spatial_figure(
                    results, s, m, k, width_in=w, positions=positions
                    if positions is not None else _NO_POSITIONS))
    return out


def unit_figure_files(results: StudyResults, signal: str, metric: str,
                      positions: pd.DataFrame | None, names=None) -> dict[str, bytes]:
    """:func:`figure_files` of one signal and metric (``results`` may be reduced to
    them, :func:`~.html.signal_results`): a job for another process."""
    files: dict[str, bytes] = {}
    wanted = None if names is None else set(names)
    draws = report_figures(results, units=[(signal, metric)], positions=positions)
    for name, draw in draws.items():
        if wanted is not None and name not in wanted:
            continue
        for mm in JOURNAL_WIDTHS_MM.values():
            with matplotlib.rc_context(PRINT_STYLE):
                fig = draw(mm / 25.4)
                if fig is None:
                    break
                for fmt in FORMATS:
                    buf = io.BytesIO()
                    fig.savefig(buf, format=fmt, metadata=_metadata(fmt))
                    files[f"{name}_{mm}mm.{fmt}"] = buf.getvalue()
    return files


def figure_files(results: StudyResults, names=None, map=map) -> dict[str, bytes]:
    """Every figure of :func:`report_figures` as SVG and PDF at 85 and 174 mm wide.

    Parameters
    ----------
    results : StudyResults
    names : iterable of str, optional
        Only these figures (names of :func:`report_figures`); every one when None.
    map : callable
        Called once, as ``map(unit_figure_files, parts, signals, metrics, positions,
        names)``, one call per signal and metric with the results reduced to them
        (:func:`~.html.signal_results`); Python's ``map`` by default, or a worker pool's
        (``interbrain run`` draws them on its workers). The files are the same
        whichever map draws them.

    Returns
    -------
    dict
        ``"<figure>_<width>mm.<svg|pdf>"`` -> the file's bytes (for
        ``figures/`` of the results folder).
    """
    units = signal_units(results)
    positions = montage_positions(results) if _per_pair_models(results) else None
    names = None if names is None else sorted(set(names))
    files: dict[str, bytes] = {}
    for part in map(unit_figure_files, [signal_results(results, *u) for u in units],
                    [s for s, _ in units], [m for _, m in units],
                    [positions] * len(units), [names] * len(units)):
        files.update(part)
    return files


def _metadata(fmt: str) -> dict:
    """Reproducible files: no creation date."""
    return {"Date": None} if fmt == "svg" else {"CreationDate": None}
