"""Figures of the report, returned as PNG bytes.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot), so no
global backend or figure state is touched and figures can be drawn from any thread.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from scipy import stats

from .._check import as_generator
from .wording import METRIC_LABEL, SIGNAL_LABEL, null_noun

__all__ = ["SIGNAL_LABEL", "METRIC_LABEL", "growth_curve", "trajectories", "real_vs_pseudo",
           "mean_ci_over_dyads", "excess_over_sessions", "measures_vs_synchrony",
           "quality_map"]


def _ylabel(metric: str, signal: str) -> str:
    return f"{METRIC_LABEL.get(metric, metric)} ({SIGNAL_LABEL[signal]})"


def _select(sessions: pd.DataFrame, signal: str, metric: str, pairing: str | None = None
            ) -> pd.DataFrame:
    keep = (sessions["signal"] == signal) & (sessions["metric"] == metric)
    if pairing is not None:
        keep &= sessions["pairing"] == pairing
    return sessions[keep]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


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
    """
    real = _select(sessions, signal, metric, "real")
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    for dyad, grp in real.groupby("dyad"):
        ax.plot(grp["session"], grp["synchrony"], marker="o", lw=1, alpha=0.6, label=dyad)
    if growth is not None:
        x = np.linspace(real["session"].min(), real["session"].max(), 50)
        curve, complete = growth_curve(growth.coefficients["estimate"], x)
        ax.plot(x, curve, color="black", lw=3,
                label="group (fixed effects)" if complete else
                "group (fixed effects, reference level)")
    pseudo = _select(sessions, signal, metric, "pseudo")
    if len(pseudo):
        mean = pseudo.groupby("session")["synchrony"].mean()
        ax.plot(mean.index, mean.values, color="grey", ls="--", lw=2, label="pseudo-dyads (mean)")
    ax.set_xlabel("session")
    ax.set_ylabel(_ylabel(metric, signal))
    ax.set_title(f"Inter-brain synchrony over sessions, {SIGNAL_LABEL[signal]}")
    ax.legend(fontsize=7, ncol=2, frameon=False)
    return _png(fig)


def real_vs_pseudo(sessions: pd.DataFrame, signal: str, metric: str = "wtc") -> bytes:
    """Real-dyad synchrony against the pseudo-dyad distribution, per session."""
    sub = _select(sessions, signal, metric)
    session_numbers = sorted(sub["session"].unique())
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    pseudo = [sub[(sub["pairing"] == "pseudo") & (sub["session"] == s)]["synchrony"].to_numpy()
              for s in session_numbers]
    if any(len(p) for p in pseudo):
        ax.boxplot(pseudo, positions=session_numbers, widths=0.5, showfliers=False,
                   patch_artist=True, boxprops=dict(facecolor="#dddddd"))
    real = sub[sub["pairing"] == "real"]
    jitter = as_generator(0).uniform(-0.12, 0.12, len(real))
    ax.scatter(real["session"] + jitter, real["synchrony"], color="tab:red", zorder=3,
               label="real dyads")
    ax.set_xticks(session_numbers)
    ax.set_xlabel("session")
    ax.set_ylabel(_ylabel(metric, signal))
    ax.set_title("Real dyads (red) and pseudo-dyads (grey boxes)")
    return _png(fig)


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
    ax.plot(x, summary["mean"], color=color, marker="o", lw=2, ls=ls, label=label)
    ax.fill_between(x, summary["low"], summary["high"], color=color, alpha=0.2, lw=0)


def excess_over_sessions(excess: pd.DataFrame, signal: str, metric: str = "wtc",
                         null_kind: str = "pseudo") -> bytes:
    """Real and null synchrony per session, and the excess the plasticity test models.

    Left: the mean over dyads of real synchrony and of its null (the mean of the
    null's draws sharing a recording with each dyad-session), with 95 % confidence
    intervals over dyads (Student t). Right: the excess (real minus null) of each dyad
    (thin lines) and its mean with the 95 % confidence interval; the plasticity test
    asks whether this grows over sessions.

    Parameters
    ----------
    excess : pandas.DataFrame
        ``excess.parquet``: ``signal, metric, null_kind, dyad, session, real, null,
        excess``.
    signal, metric : str
    null_kind : str
        Which null the excess is over.

    Returns
    -------
    bytes
        PNG.
    """
    rows = excess[(excess["signal"] == signal) & (excess["metric"] == metric)
                  & (excess["null_kind"] == null_kind)]
    units = _ylabel(metric, signal)
    noun = null_noun(null_kind)
    fig = Figure(figsize=(9.6, 3.8))
    left, right = fig.subplots(1, 2)
    _band(left, mean_ci_over_dyads(rows, "real"), "tab:red", "real dyads")
    _band(left, mean_ci_over_dyads(rows, "null"), "grey", noun, ls="--")
    left.set_ylabel(units)
    left.set_title("Real and null synchrony (mean, 95% CI over dyads)", fontsize=9)
    left.legend(fontsize=7, frameon=False)
    for _, grp in rows.groupby("dyad"):
        right.plot(grp["session"], grp["excess"], color="tab:blue", lw=0.8, alpha=0.35)
    _band(right, mean_ci_over_dyads(rows, "excess"), "tab:blue", "mean excess")
    right.axhline(0.0, color="black", lw=0.8, ls=":")
    right.set_ylabel(f"excess over {noun}\n{units}")
    right.set_title("Excess of real over null synchrony (thin: dyads)", fontsize=9)
    right.legend(fontsize=7, frameon=False)
    for ax in (left, right):
        ax.set_xlabel("session number")
        ax.set_xticks(sorted(rows["session"].unique()))
    return _png(fig)


def measures_vs_synchrony(sessions: pd.DataFrame, measures: pd.DataFrame, signal: str,
                          metric: str = "wtc") -> bytes:
    """Within-dyad association of each measure with synchrony.

    Both synchrony and the measure are centred on their dyad means, so each panel
    shows the within-dyad part that the outcome models estimate.
    """
    real = _select(sessions, signal, metric, "real")
    data = real.merge(measures, on=["dyad", "session"])
    cols = [c for c in measures.columns if c not in ("dyad", "session")]
    fig = Figure(figsize=(3.2 * len(cols), 3.2))
    axes = fig.subplots(1, len(cols), squeeze=False)
    for ax, col in zip(axes[0], cols):
        sub = data.dropna(subset=[col])
        x = sub["synchrony"] - sub.groupby("dyad")["synchrony"].transform("mean")
        y = sub[col] - sub.groupby("dyad")[col].transform("mean")
        ax.scatter(x, y, s=14, alpha=0.7)
        if len(sub) > 2 and np.ptp(x) > 0:
            slope, icpt = np.polyfit(x, y, 1)
            xx = np.linspace(x.min(), x.max(), 10)
            ax.plot(xx, icpt + slope * xx, color="black")
        ax.set_xlabel("synchrony (within dyad)")
        ax.set_title(col)
    axes[0][0].set_ylabel("measure (within dyad)")
    return _png(fig)


def quality_map(qc: pd.DataFrame) -> bytes:
    """Scalp coupling index of every channel of every recording; bad channels marked."""
    qc = qc.copy()
    qc["recording"] = qc["dyad"] + " s" + qc["session"].astype(str) + " " + qc["role"].str[0]
    table = qc.pivot_table(index="recording", columns="channel", values="sci", sort=False)
    bad = qc.pivot_table(index="recording", columns="channel", values="bad", sort=False)
    fig = Figure(figsize=(max(6, 0.3 * table.shape[1] + 2), max(3, 0.14 * table.shape[0] + 1.5)))
    ax = fig.subplots()
    im = ax.imshow(table.to_numpy(dtype=float), aspect="auto", cmap="viridis", vmin=0, vmax=1,
                   interpolation="nearest")
    rows, cols = np.nonzero(bad.to_numpy(dtype=float) > 0)
    ax.scatter(cols, rows, marker="x", color="red", s=12, label="bad")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=90, fontsize=6)
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=5)
    fig.colorbar(im, ax=ax, label="scalp coupling index")
    ax.set_title("Channel quality (red x: excluded)")
    return _png(fig)
