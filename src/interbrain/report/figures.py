"""Figures of the report: each ``*_figure`` function returns a
:class:`matplotlib.figure.Figure` of a given width (for the page, or a journal column:
:mod:`.figure_files`), and the function of the same name without the suffix its PNG.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot), so no
global backend or figure state is touched and figures can be drawn from any thread.
Colours are the Okabe-Ito palette (distinguishable with every common colour-vision
deficiency, :data:`PALETTE`); every axis says its units.
"""

from __future__ import annotations

import io

import matplotlib
import matplotlib.colors
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from scipy import stats

from .._check import as_generator
from .wording import METRIC_LABEL, SIGNAL_LABEL, null_noun

__all__ = ["SIGNAL_LABEL", "METRIC_LABEL", "PALETTE", "REAL", "NULL", "EXCESS",
           "SCREEN_WIDTH_IN", "axis_label", "png", "growth_curve", "trajectories",
           "trajectories_figure", "real_vs_pseudo", "real_vs_pseudo_figure",
           "mean_ci_over_dyads", "excess_over_sessions", "excess_figure", "quality_map"]

#: The Okabe-Ito palette (Okabe & Ito, 2008): safe for colour-blind readers.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
           "#000000")
#: Colours of real synchrony, its null and the excess of one over the other.
REAL, NULL, EXCESS = "#D55E00", "#7f7f7f", "#0072B2"
#: Width of the report's figures, inches.
SCREEN_WIDTH_IN = 9.6


def axis_label(metric: str, signal: str) -> str:
    """The label of a synchrony axis with its units: ``"wavelet coherence (HbO; 0-1)"``."""
    units = {"wtc": "0\u20131", "plv": "0\u20131"}.get(metric, "Fisher z")
    return f"{METRIC_LABEL.get(metric, metric)} ({SIGNAL_LABEL.get(signal, signal)}; {units})"


_ylabel = axis_label


def _select(sessions: pd.DataFrame, signal: str, metric: str, pairing: str | None = None
            ) -> pd.DataFrame:
    keep = (sessions["signal"] == signal) & (sessions["metric"] == metric)
    if pairing is not None:
        keep &= sessions["pairing"] == pairing
    return sessions[keep]


def png(fig: Figure) -> bytes:
    """The PNG of ``fig`` (110 dpi; trimmed when it has no layout engine)."""
    buf = io.BytesIO()
    tight = "tight" if fig.get_layout_engine() is None else None
    fig.savefig(buf, format="png", dpi=110, bbox_inches=tight)
    return buf.getvalue()


_png = png


def growth_curve(coefficients: pd.Series, session: np.ndarray) -> tuple[np.ndarray, bool]:
    """The growth model's fixed-effects curve over ``session``.

    Terms that are functions of session alone (``session``, ``np.log(session)``,
    ``I(session ** 2)``) are evaluated at ``session``; terms of other variables
    (condition, covariates, their interactions) are left at zero, i.e. the curve is
    that of the reference level.

    Returns
    -------
    curve : numpy.ndarray, shape (n,)
    complete : bool
        Whether every term was a function of session alone.
    """
    namespace = {"np": np, "I": lambda v: v, "session": np.asarray(session, dtype=float)}
    curve = np.zeros(len(session))
    complete = True
    for term, estimate in coefficients.items():
        if term == "(Intercept)":
            curve = curve + estimate
            continue
        try:
            curve = curve + estimate * eval(term, {"__builtins__": {}}, dict(namespace))
        except (NameError, SyntaxError, TypeError):
            complete = False
    return curve, complete


def trajectories(sessions: pd.DataFrame, growth, signal: str, metric: str = "wtc") -> bytes:
    """PNG of :func:`trajectories_figure`."""
    return png(trajectories_figure(sessions, growth, signal, metric))


def trajectories_figure(sessions: pd.DataFrame, growth, signal: str, metric: str = "wtc",
                        width_in: float = 6.4) -> Figure:
    """Per-dyad synchrony over sessions and the group growth curve.

    Parameters
    ----------
    sessions : pandas.DataFrame
        Session-level synchrony (``dyad, session, signal, metric, pairing,
        synchrony``).
    growth : LmerResult or None
        The fitted growth model; its fixed effects give the group line (none drawn
        when None).
    signal, metric : str
    width_in : float
        Width of the figure, inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    real = _select(sessions, signal, metric, "real")
    fig = Figure(figsize=(width_in, width_in * 0.62), layout="constrained")
    ax = fig.subplots()
    dyads = list(dict.fromkeys(real["dyad"]))
    for k, (dyad, grp) in enumerate(real.groupby("dyad", sort=False)):
        color = PALETTE[k % len(PALETTE)] if len(dyads) <= len(PALETTE) else EXCESS
        ax.plot(grp["session"], grp["synchrony"], marker="o", ms=3, lw=1, alpha=0.7,
                color=color, label=dyad if len(dyads) <= len(PALETTE) else None)
    if growth is not None and len(real):
        x = np.linspace(real["session"].min(), real["session"].max(), 50)
        curve, complete = growth_curve(growth.coefficients["estimate"], x)
        ax.plot(x, curve, color="black", lw=2.5,
                label="group (fixed effects)" if complete else
                "group (fixed effects, reference level)")
    pseudo = _select(sessions, signal, metric, "pseudo")
    if len(pseudo):
        mean = pseudo.groupby("session")["synchrony"].mean()
        ax.plot(mean.index, mean.values, color=NULL, ls="--", lw=2, label="pseudo-dyads (mean)")
    ax.set_xlabel("session number")
    if len(real):
        ax.set_xticks(sorted(real["session"].unique()))
    ax.set_ylabel(axis_label(metric, signal))
    ax.set_title(f"Synchrony per dyad over sessions, {SIGNAL_LABEL.get(signal, signal)}",
                 fontsize="medium")
    ax.legend(fontsize="x-small", ncol=2, frameon=False)
    return fig


def real_vs_pseudo(sessions: pd.DataFrame, signal: str, metric: str = "wtc") -> bytes:
    """PNG of :func:`real_vs_pseudo_figure`."""
    return png(real_vs_pseudo_figure(sessions, signal, metric))


def real_vs_pseudo_figure(sessions: pd.DataFrame, signal: str, metric: str = "wtc",
                          width_in: float = 6.4) -> Figure:
    """Real-dyad synchrony (points) against the pseudo-dyad distribution (boxes), per
    session.

    Returns
    -------
    matplotlib.figure.Figure
    """
    sub = _select(sessions, signal, metric)
    session_numbers = sorted(sub["session"].unique())
    fig = Figure(figsize=(width_in, width_in * 0.62), layout="constrained")
    ax = fig.subplots()
    pseudo = [sub[(sub["pairing"] == "pseudo") & (sub["session"] == s)]["synchrony"].to_numpy()
              for s in session_numbers]
    if any(len(p) for p in pseudo):
        ax.boxplot(pseudo, positions=session_numbers, widths=0.5, showfliers=False,
                   patch_artist=True, boxprops=dict(facecolor="#dddddd"),
                   medianprops=dict(color=NULL))
    real = sub[sub["pairing"] == "real"]
    jitter = as_generator(0).uniform(-0.12, 0.12, len(real))
    ax.scatter(real["session"] + jitter, real["synchrony"], color=REAL, s=14, zorder=3,
               label="real dyads")
    ax.set_xticks(session_numbers)
    ax.set_xlabel("session number")
    ax.set_ylabel(axis_label(metric, signal))
    ax.set_title("Real dyads (points) and pseudo-dyads (grey boxes)", fontsize="medium")
    return fig


def mean_ci_over_dyads(frame: pd.DataFrame, column: str, level: float = 0.95
                       ) -> pd.DataFrame:
    """Per session: the mean of ``column`` over dyads and its Student-t confidence interval.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``session`` and ``column``, one row per dyad-session.
    column : str
    level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Indexed by session: ``mean, low, high, n`` (``low, high`` NaN with one dyad).
    """
    grouped = frame.groupby("session")[column]
    out = pd.DataFrame({"mean": grouped.mean(), "sd": grouped.std(ddof=1),
                        "n": grouped.count()})
    half = stats.t.ppf(0.5 + level / 2, np.maximum(out["n"] - 1, 1)) \
        * out["sd"] / np.sqrt(out["n"])
    half = half.where(out["n"] > 1)
    out["low"], out["high"] = out["mean"] - half, out["mean"] + half
    return out[["mean", "low", "high", "n"]]


def _band(ax, summary: pd.DataFrame, color: str, label: str, ls: str = "-") -> None:
    """A mean line with its confidence band (error bars where the band is undefined)."""
    x = summary.index.to_numpy(dtype=float)
    ax.plot(x, summary["mean"], color=color, marker="o", ms=4, lw=1.5, ls=ls, label=label)
    ax.fill_between(x, summary["low"], summary["high"], color=color, alpha=0.2, lw=0)


def excess_over_sessions(excess: pd.DataFrame, signal: str, metric: str = "wtc",
                         null_kind: str = "pseudo") -> bytes:
    """PNG of :func:`excess_figure`."""
    return png(excess_figure(excess, signal, metric, null_kind))


def excess_figure(excess: pd.DataFrame, signal: str, metric: str = "wtc",
                  null_kind: str = "pseudo", *, width_in: float = SCREEN_WIDTH_IN,
                  title: str | None = None, fit_line: tuple[float, float] | None = None
                  ) -> Figure:
    """Real and null synchrony per session, and the excess the plasticity test models.

    Left: the mean over dyads of real synchrony and of its null (the mean of the
    null's draws sharing a recording with each dyad-session), with 95 % confidence
    intervals over dyads (Student t). Right: the excess (real minus null) of each dyad
    (thin lines) and its mean with the 95 % confidence interval; the plasticity test
    asks whether this grows over sessions. Panels side by side from 5 inches wide,
    else one above the other.

    Parameters
    ----------
    excess : pandas.DataFrame
        ``excess.parquet``: ``signal, metric, null_kind, dyad, session, real, null,
        excess``.
    signal, metric : str
    null_kind : str
        Which null the excess is over.
    width_in : float
        Width of the figure, inches.
    title : str, optional
        The figure's title (the plasticity model's estimate).
    fit_line : (intercept, slope), optional
        The plasticity model's fixed effects, drawn as its line over the excess.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = excess[(excess["signal"] == signal) & (excess["metric"] == metric)
                  & (excess["null_kind"] == null_kind)]
    units = axis_label(metric, signal)
    noun = null_noun(null_kind)
    wide = width_in >= 5
    fig = Figure(figsize=(width_in, width_in * (0.4 if wide else 1.5)), layout="constrained")
    left, right = fig.subplots(1, 2) if wide else fig.subplots(2, 1)
    _band(left, mean_ci_over_dyads(rows, "real"), REAL, "real dyads")
    _band(left, mean_ci_over_dyads(rows, "null"), NULL, noun, ls="--")
    left.set_ylabel(units)
    left.set_title("Real and null synchrony (mean, 95% CI over dyads)", fontsize="small")
    left.legend(fontsize="x-small", frameon=False)
    for _, grp in rows.groupby("dyad"):
        right.plot(grp["session"], grp["excess"], color=EXCESS, lw=0.8, alpha=0.35)
    _band(right, mean_ci_over_dyads(rows, "excess"), EXCESS, "mean excess (95% CI)")
    if fit_line is not None and len(rows):
        x = np.linspace(rows["session"].min(), rows["session"].max(), 20)
        right.plot(x, fit_line[0] + fit_line[1] * x, color="black", lw=1.5,
                   label="plasticity model (fixed effects)")
    right.axhline(0.0, color="black", lw=0.8, ls=":")
    right.set_ylabel(f"excess over {noun}\n{units}")
    right.set_title("Excess of real over null synchrony (thin: dyads)", fontsize="small")
    right.legend(fontsize="x-small", frameon=False)
    for ax in (left, right):
        ax.set_xlabel("session number")
        ax.set_xticks(sorted(rows["session"].unique()))
    if title:
        fig.suptitle(title, fontsize="medium")
    return fig


def quality_map(qc: pd.DataFrame) -> bytes:
    """Channel quality of every recording: the scalp coupling index where it was
    computed (grey where it is not defined: haemoglobin input, dead channels), kept and
    excluded channels otherwise; excluded channels marked with a red x.

    Parameters
    ----------
    qc : pandas.DataFrame
        ``qc.parquet``: ``dyad, session, role, channel, sci, bad``.

    Returns
    -------
    bytes
        PNG.
    """
    qc = qc.copy()
    qc["recording"] = qc["dyad"] + " s" + qc["session"].astype(str) + " " + qc["role"].str[0]
    recordings = list(dict.fromkeys(qc["recording"]))
    channels = list(dict.fromkeys(qc["channel"]))
    index = qc.drop_duplicates(["recording", "channel"]).set_index(["recording", "channel"])
    sci = index["sci"].astype(float).unstack().reindex(index=recordings, columns=channels)
    bad = index["bad"].astype(float).unstack().reindex(index=recordings, columns=channels)
    has_sci = bool(np.isfinite(sci.to_numpy()).any())
    fig = Figure(figsize=(max(6, 0.3 * len(channels) + 2), max(3, 0.14 * len(recordings) + 1.5)))
    ax = fig.subplots()
    if has_sci:
        cmap = matplotlib.colormaps["viridis"].with_extremes(bad="lightgrey")
        values = np.ma.masked_invalid(sci.to_numpy(dtype=float))
        im = ax.imshow(values, aspect="auto", cmap=cmap, vmin=0, vmax=1,
                       interpolation="nearest")
        fig.colorbar(im, ax=ax, label="scalp coupling index (grey: not defined)")
        title = "Channel quality (x: excluded)"
    else:
        cmap = matplotlib.colors.ListedColormap(["#b7dfb9", "#f4b6b0"])
        present = np.where(np.isnan(bad.to_numpy(dtype=float)), np.nan,
                           bad.to_numpy(dtype=float))
        ax.imshow(np.ma.masked_invalid(present), aspect="auto", cmap=cmap, vmin=0, vmax=1,
                  interpolation="nearest")
        title = ("Channel quality: kept (green) and excluded (x); no scalp coupling "
                 "index for haemoglobin input")
    rows, cols = np.nonzero(np.nan_to_num(bad.to_numpy(dtype=float)) > 0)
    if len(rows):
        ax.scatter(cols, rows, marker="x", color=REAL, s=12, label="bad")
    ax.set_xticks(range(len(channels)), channels, rotation=90, fontsize=6)
    ax.set_yticks(range(len(recordings)), recordings, fontsize=5)
    ax.set_title(title, fontsize=8 if not has_sci else None)
    return _png(fig)
