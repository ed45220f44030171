"""Figures that are the models: the outcome models' within-dyad term as an
added-variable (partial-residual) plot of the fitted model, and the plasticity model's
excess over sessions, each titled with the model's estimate from ``models.parquet``.

The outcome panel of a measure draws what its model estimates. The model is
``measure ~ synchrony_within + synchrony_between + session + (random part)``; each
point is a dyad-session's partial residual of the within-dyad term,

    measure - b_between * synchrony_between - b_session * session,

centred on the dyad's mean (which removes the intercept, the dyad's random intercept
and anything else constant within a dyad), against ``synchrony_within`` (synchrony
minus the dyad's mean). The line is the model's estimate of ``synchrony_within``
through the origin and the band its 95 % CI; the title carries the estimate, its CI
and p from the row of ``models.parquet``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..results import StudyResults
from ..stats.confirmatory import CONFIRMATORY_OUTCOME_TERM
from ..stats.mixed.model_frame import within_between
from ..stats.primary import ALL_PAIRS
from .apa import apa_ci, apa_number, apa_p_clause, decimals_for
from .confirmatory import slope_units
from .figures import EXCESS, PALETTE, REAL, SCREEN_WIDTH_IN, axis_label, excess_figure

__all__ = ["outcome_rows", "outcome_data", "partial_residuals", "outcome_title", "outcome_figure",
           "plasticity_title", "plasticity_figure"]


def outcome_rows(models: pd.DataFrame, signal: str, metric: str) -> pd.DataFrame:
    """The ``synchrony_within`` rows of the concurrent outcome models of ``signal`` and
    ``metric`` over every channel pair, one per measure."""
    if models.empty:
        return models
    keep = (models["model"].str.startswith("outcome:") & (models["signal"] == signal)
            & (models["metric"] == metric) & (models["term"] == CONFIRMATORY_OUTCOME_TERM))
    if "scope" in models.columns:
        keep &= models["scope"].fillna(ALL_PAIRS) == ALL_PAIRS
    return models[keep]


def outcome_data(results: StudyResults, signal: str, metric: str, measure: str
                 ) -> pd.DataFrame:
    """The data of the outcome model of ``measure``: real session synchrony joined with
    the measure, split into its within- and between-dyad parts, as the model was
    fitted (:func:`~interbrain.stats.outcomes.fit_within_between`).

    Returns
    -------
    pandas.DataFrame
        ``dyad, session, synchrony, measure, synchrony_between, synchrony_within``.
    """
    sessions = results.sessions
    real = sessions[(sessions["signal"] == signal) & (sessions["metric"] == metric)
                    & (sessions["pairing"] == "real")]
    measures = results.study.measures
    if measure not in measures.columns:
        raise ValueError(f"no measure {measure!r} in the study's measures")
    merged = real[["dyad", "session", "synchrony"]].merge(
        measures[["dyad", "session", measure]], on=["dyad", "session"], how="inner")
    merged = merged.dropna(subset=["synchrony", measure]).reset_index(drop=True)
    merged.columns = ["dyad", "session", "synchrony", "measure"]
    return within_between(merged, "synchrony", "dyad")


def partial_residuals(data: pd.DataFrame, coefficients: pd.Series) -> np.ndarray:
    """The partial residual of ``synchrony_within`` centred on the dyad's mean."""
    other = np.zeros(len(data))
    for term in ("synchrony_between", "session"):
        if term in coefficients.index:
            other += coefficients[term] * data[term].to_numpy(dtype=float)
    partial = data["measure"].to_numpy(dtype=float) - other
    return partial - pd.Series(partial).groupby(data["dyad"].to_numpy()).transform(
        "mean").to_numpy()


def outcome_title(row: pd.Series) -> str:
    """``"symptoms\\nb = -4.51 [-49.29, 40.27]\\np = .758"`` from the row."""
    d = decimals_for(row["estimate"], row["ci_low"], row["ci_high"])
    return (f"{str(row['model']).partition(':')[2]}\nb = {apa_number(row['estimate'], d)} "
            f"{apa_ci(row['ci_low'], row['ci_high'], d)}\n{apa_p_clause(row['p'])}")


def outcome_figure(results: StudyResults, signal: str, metric: str, *,
                   width_in: float = SCREEN_WIDTH_IN) -> Figure | None:
    """One added-variable panel per outcome model of ``signal`` and ``metric`` (module
    notes); None when there is no outcome model.

    Parameters
    ----------
    results : StudyResults
    signal, metric : str
    width_in : float
        Width of the figure, inches; panels are at least 3 inches wide (1.6 below 5 inches).

    Returns
    -------
    matplotlib.figure.Figure or None
    """
    rows = outcome_rows(results.models, signal, metric)
    panels = []
    for _, row in rows.iterrows():
        measure = str(row["model"]).partition(":")[2]
        fit = results.fit(str(row["model"]), signal, metric)
        if fit is None or measure not in results.study.measures.columns:
            continue
        panels.append((row, measure, outcome_data(results, signal, metric, measure),
                       fit.coefficients["estimate"]))
    if not panels:
        return None
    # panels of 3 inches on the page, of 1.6 inches in a journal column
    ncols = max(1, min(len(panels), int(width_in // (3.0 if width_in > 5 else 1.6))))
    nrows = math.ceil(len(panels) / ncols)
    panel_w = width_in / ncols
    fig = Figure(figsize=(width_in, nrows * panel_w * 1.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, (row, measure, data, coefficients) in zip(axes, panels):
        x = data["synchrony_within"].to_numpy(dtype=float)
        y = partial_residuals(data, coefficients)
        dyads = list(dict.fromkeys(data["dyad"]))
        colors = {d: PALETTE[k % len(PALETTE)] for k, d in enumerate(dyads)} \
            if len(dyads) <= len(PALETTE) else {d: EXCESS for d in dyads}
        ax.scatter(x, y, s=12, c=[colors[d] for d in data["dyad"]], alpha=0.8, lw=0)
        span = np.linspace(min(x.min(), 0.0), max(x.max(), 0.0), 20) if len(x) else \
            np.zeros(2)
        low, high = float(row["ci_low"]), float(row["ci_high"])
        if np.isfinite(low) and np.isfinite(high):
            ax.fill_between(span, np.minimum(low * span, high * span),
                            np.maximum(low * span, high * span), color=REAL, alpha=0.15,
                            lw=0, label="95% CI")
        ax.plot(span, float(row["estimate"]) * span, color=REAL, lw=2,
                label="model estimate")
        ax.axhline(0.0, color="black", lw=0.5, ls=":")
        ax.set_title(outcome_title(row), fontsize="small")
        ax.set_xlabel(f"synchrony \u2212 dyad mean\n{axis_label(metric, signal)}",
                      fontsize="small")
        ax.set_ylabel(f"{measure}, adjusted\n(measure units, within dyad)", fontsize="small")
    axes[0].legend(fontsize="x-small", frameon=False)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig


def plasticity_title(row: pd.Series) -> str:
    """``"Plasticity: excess +0.012 per session [0.004, 0.020],\\npermutation p = .006"``."""
    d = decimals_for(row["estimate"], row["ci_low"], row["ci_high"])
    p = row.get("p_permutation")
    test = apa_p_clause(p, "permutation p") if pd.notna(p) else apa_p_clause(row["p"])
    return (f"Plasticity: excess {apa_number(row['estimate'], d, signed=True)} "
            f"{slope_units(row['term'])} {apa_ci(row['ci_low'], row['ci_high'], d)},\n{test}")


def plasticity_figure(results: StudyResults, signal: str, metric: str,
                      null_kind: str = "pseudo", *, width_in: float = SCREEN_WIDTH_IN
                      ) -> Figure | None:
    """Real and null synchrony over sessions with their CIs, each dyad's excess and the
    plasticity model's line, titled with the model's estimate (its row of
    ``models.parquet``); None without an excess table for that null.

    Returns
    -------
    matplotlib.figure.Figure or None
    """
    excess = results.excess
    if not len(excess) or not ((excess["signal"] == signal) & (excess["metric"] == metric)
                               & (excess["null_kind"] == null_kind)).any():
        return None
    model = "plasticity" if null_kind == "pseudo" else f"plasticity:{null_kind}"
    models = results.models
    rows = models[(models["model"] == model) & (models["signal"] == signal)
                  & (models["metric"] == metric)] if len(models) else models
    if "scope" in rows.columns:
        rows = rows[rows["scope"].fillna(ALL_PAIRS) == ALL_PAIRS]
    title, line = None, None
    if len(rows):
        row = rows.iloc[0]
        title = plasticity_title(row)
        fit = results.fit(model, signal, metric)
        if (fit is not None and "(Intercept)" in fit.coefficients.index
                and str(row["term"]) == "session"):
            line = (float(fit.coefficients.loc["(Intercept)", "estimate"]),
                    float(row["estimate"]))
    return excess_figure(excess, signal, metric, null_kind, width_in=width_in, title=title,
                         fit_line=line)
