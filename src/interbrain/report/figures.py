"""Figures of the report (matplotlib, Agg backend), returned as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SIGNAL_LABEL = {"hbo": "HbO", "hbr": "HbR"}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def trajectories(sessions: pd.DataFrame, growth, signal: str) -> bytes:
    """Per-dyad synchrony over sessions and the group growth curve.

    Parameters
    ----------
    sessions : pandas.DataFrame
        Session-level synchrony (``dyad, session, signal, pairing, synchrony``).
    growth : LmerResult
        The fitted growth model; its fixed effects give the group line.
    signal : str
    """
    real = sessions[(sessions["signal"] == signal) & (sessions["pairing"] == "real")]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for dyad, grp in real.groupby("dyad"):
        ax.plot(grp["session"], grp["synchrony"], marker="o", lw=1, alpha=0.6, label=dyad)
    x = np.linspace(real["session"].min(), real["session"].max(), 50)
    coef = growth.coefficients["estimate"]
    ax.plot(x, coef["(Intercept)"] + coef["session"] * x, color="black", lw=3,
            label="group (fixed effects)")
    pseudo = sessions[(sessions["signal"] == signal) & (sessions["pairing"] == "pseudo")]
    if len(pseudo):
        mean = pseudo.groupby("session")["synchrony"].mean()
        ax.plot(mean.index, mean.values, color="grey", ls="--", lw=2, label="pseudo-dyads (mean)")
    ax.set_xlabel("session")
    ax.set_ylabel(f"wavelet coherence ({SIGNAL_LABEL[signal]})")
    ax.set_title(f"Inter-brain synchrony over sessions, {SIGNAL_LABEL[signal]}")
    ax.legend(fontsize=7, ncol=2, frameon=False)
    return _png(fig)


def real_vs_pseudo(sessions: pd.DataFrame, signal: str) -> bytes:
    """Real-dyad synchrony against the pseudo-dyad distribution, per session."""
    sub = sessions[sessions["signal"] == signal]
    session_numbers = sorted(sub["session"].unique())
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    pseudo = [sub[(sub["pairing"] == "pseudo") & (sub["session"] == s)]["synchrony"].to_numpy()
              for s in session_numbers]
    if any(len(p) for p in pseudo):
        ax.boxplot(pseudo, positions=session_numbers, widths=0.5, showfliers=False,
                   patch_artist=True, boxprops=dict(facecolor="#dddddd"))
    real = sub[sub["pairing"] == "real"]
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(real))
    ax.scatter(real["session"] + jitter, real["synchrony"], color="tab:red", zorder=3,
               label="real dyads")
    ax.set_xticks(session_numbers)
    ax.set_xlabel("session")
    ax.set_ylabel(f"wavelet coherence ({SIGNAL_LABEL[signal]})")
    ax.set_title("Real dyads (red) and pseudo-dyads (grey boxes)")
    return _png(fig)


def measures_vs_synchrony(sessions: pd.DataFrame, measures: pd.DataFrame, signal: str) -> bytes:
    """Within-dyad association of each measure with synchrony.

    Both synchrony and the measure are centred on their dyad means, so each panel
    shows the within-dyad part that the outcome models estimate.
    """
    real = sessions[(sessions["signal"] == signal) & (sessions["pairing"] == "real")]
    data = real.merge(measures, on=["dyad", "session"])
    cols = [c for c in measures.columns if c not in ("dyad", "session")]
    fig, axes = plt.subplots(1, len(cols), figsize=(3.2 * len(cols), 3.2), squeeze=False)
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
    fig, ax = plt.subplots(figsize=(max(6, 0.3 * table.shape[1] + 2),
                                    max(3, 0.14 * table.shape[0] + 1.5)))
    im = ax.imshow(table.to_numpy(dtype=float), aspect="auto", cmap="viridis", vmin=0, vmax=1,
                   interpolation="nearest")
    rows, cols = np.nonzero(bad.to_numpy(dtype=float) > 0)
    ax.scatter(cols, rows, marker="x", color="red", s=12, label="bad")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=90, fontsize=6)
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=5)
    fig.colorbar(im, ax=ax, label="scalp coupling index")
    ax.set_title("Channel quality (red x: excluded)")
    return _png(fig)
