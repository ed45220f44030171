"""Where on the head: the per-pair results on the montage.

Channel positions come from a recording's optode positions through MNE (the midpoint
of each source-detector channel, ``info["chs"][k]["loc"][:3]``, head coordinates),
projected to 2-D as MNE's topographic maps do (azimuthal equidistant projection about
the vertex). Homologous pairs (the same channel in both partners) are drawn at their
channel, coloured by the per-pair estimate (a diverging, colour-blind-safe map centred
on zero) with the pairs significant after the per-pair correction ringed; other pairs
(all-to-all) as an inter-brain matrix, therapist channel by patient channel.

The numbers are the per-pair rows of ``models.parquet`` (``<model>_by_pair``, column
``unit`` the pair); nothing is computed but the projection.
"""

from __future__ import annotations

import math
from pathlib import Path

import mne
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..results import StudyResults
from .figures import SCREEN_WIDTH_IN
from .tables import model_label
from .wording import is_true, where_label

__all__ = ["position_file", "channel_positions", "montage_positions", "pair_effects",
           "spatial_figure"]

#: Diverging colour map of the effects (purple-orange: safe for colour-blind readers).
CMAP = "PuOr_r"


def position_file(results: StudyResults) -> Path | None:
    """The first session's therapist recording (its optode positions are the
    montage's), or None when it is not a file MNE reads positions from."""
    for entry in results.study.sessions:
        path = Path(entry.therapist.path)
        if path.suffix.lower() in (".snirf", ".nirs", ".hdr") and path.exists():
            return path
    return None


def channel_positions(path: str | Path) -> pd.DataFrame:
    """2-D positions of a recording's channels.

    Parameters
    ----------
    path : str or Path
        A recording MNE reads (SNIRF, NIRx, Homer).

    Returns
    -------
    pandas.DataFrame
        ``channel`` (``"S1_D1"``, without wavelength or chromophore), ``x, y`` (the
        projected midpoints; unit: radians of arc from the vertex); empty when the
        file has no positions.
    """
    raw = mne.io.read_raw(path, preload=False, verbose="error")
    rows = {}
    for ch in raw.info["chs"]:
        name = ch["ch_name"].split(" ")[0]
        loc = np.asarray(ch["loc"][:3], dtype=float)
        if name in rows or not np.all(np.isfinite(loc)) or not np.any(loc):
            continue
        radius = float(np.linalg.norm(loc))
        polar = math.acos(max(-1.0, min(1.0, loc[2] / radius)))
        azimuth = math.atan2(loc[1], loc[0])
        rows[name] = (polar * math.cos(azimuth), polar * math.sin(azimuth))
    return pd.DataFrame([(k, x, y) for k, (x, y) in rows.items()],
                        columns=["channel", "x", "y"])


def montage_positions(results: StudyResults) -> pd.DataFrame | None:
    """:func:`channel_positions` of :func:`position_file`; None when there is no such
    file or MNE cannot read positions from it."""
    path = position_file(results)
    if path is None:
        return None
    try:
        return channel_positions(path)
    except (OSError, ValueError, RuntimeError, KeyError):
        return None


def pair_effects(results: StudyResults, signal: str, metric: str, model: str
                 ) -> pd.DataFrame:
    """The per-pair rows of ``model`` (e.g. ``"growth_by_pair"``) with each pair's two
    channels.

    Returns
    -------
    pandas.DataFrame
        ``pair, channel_therapist, channel_patient, estimate, p_adjusted,
        significant``.
    """
    models = results.models
    rows = models[(models["model"] == model) & (models["signal"] == signal)
                  & (models["metric"] == metric)] if len(models) else models
    sync = results.synchrony
    if not len(rows) or not {"pair", "channel_therapist", "channel_patient"} <= set(
            sync.columns):
        return pd.DataFrame(columns=["pair", "channel_therapist", "channel_patient",
                                     "estimate", "p_adjusted", "significant"])
    channels = sync[["pair", "channel_therapist", "channel_patient"]].drop_duplicates("pair")
    out = rows.rename(columns={"unit": "pair"})[["pair", "estimate", "p_adjusted",
                                                 "significant"]]
    return out.merge(channels, on="pair", how="inner")


def spatial_figure(results: StudyResults, signal: str, metric: str,
                   model: str = "growth_by_pair", *, width_in: float = SCREEN_WIDTH_IN,
                   positions: pd.DataFrame | None = None) -> Figure | None:
    """The per-pair estimates of ``model`` on the montage (homologous pairs) or as an
    inter-brain matrix (other pairs); None without per-pair rows (or, for the montage,
    without positions).

    Parameters
    ----------
    results : StudyResults
    signal, metric, model : str
    width_in : float
        Width of the figure, inches.
    positions : pandas.DataFrame, optional
        :func:`channel_positions`; read from :func:`position_file` when None.

    Returns
    -------
    matplotlib.figure.Figure or None
    """
    effects = pair_effects(results, signal, metric, model)
    if not len(effects):
        return None
    finite = effects["estimate"].abs()
    limit = float(finite.max()) if finite.notna().any() and finite.max() > 0 else 1.0
    title = f"{model_label(model)} ({where_label(signal, metric)})"
    fig = Figure(figsize=(width_in, min(width_in * 0.8, 5.0)), layout="constrained")
    ax = fig.subplots()
    homologous = (effects["channel_therapist"] == effects["channel_patient"]).all()
    if homologous:
        if positions is None:
            path = position_file(results)
            positions = channel_positions(path) if path is not None else None
        if positions is None or not len(positions):
            return None
        data = effects.merge(positions, left_on="channel_therapist", right_on="channel")
        if not len(data):
            return None
        ax.scatter(positions["x"], positions["y"], s=12, color="#cccccc", zorder=1)
        art = ax.scatter(data["x"], data["y"], c=data["estimate"], cmap=CMAP, vmin=-limit,
                         vmax=limit, s=160, edgecolors="#555555", linewidths=0.5, zorder=2)
        ring = data[[is_true(v) for v in data["significant"]]]
        ax.scatter(ring["x"], ring["y"], s=320, facecolors="none", edgecolors="black",
                   linewidths=1.8, zorder=3, label="significant (corrected)")
        for _, row in data.iterrows():
            ax.annotate(row["channel"], (row["x"], row["y"]), textcoords="offset points",
                        xytext=(0, 9), ha="center", fontsize="x-small")
        radius = max(1.35, 1.15 * float(np.hypot(positions["x"], positions["y"]).max()))
        angle = np.linspace(0, 2 * np.pi, 200)
        ax.plot(radius * np.cos(angle), radius * np.sin(angle), color="black", lw=1)
        ax.plot([-0.12 * radius, 0.0, 0.12 * radius],
                [0.99 * radius, 1.1 * radius, 0.99 * radius], color="black", lw=1)
        ax.set_xlim(-1.15 * radius, 1.15 * radius)
        ax.set_ylim(-1.05 * radius, 1.15 * radius)
        ax.set_aspect("equal")
        ax.set_xlabel("left \u2190 \u2192 right (rad of arc from vertex)")
        ax.set_ylabel("back \u2190 \u2192 front (rad of arc from vertex)")
        if len(ring):
            ax.legend(fontsize="x-small", frameon=False, loc="lower right")
    else:
        matrix = effects.pivot_table(index="channel_therapist", columns="channel_patient",
                                     values="estimate", aggfunc="first")
        art = ax.imshow(matrix.to_numpy(dtype=float), cmap=CMAP, vmin=-limit, vmax=limit,
                        aspect="auto", interpolation="nearest")
        ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=90, fontsize="x-small")
        ax.set_yticks(range(matrix.shape[0]), matrix.index, fontsize="x-small")
        rows_, cols_ = matrix.index.tolist(), matrix.columns.tolist()
        for _, row in effects.iterrows():
            if is_true(row["significant"]):
                ax.scatter(cols_.index(row["channel_patient"]),
                           rows_.index(row["channel_therapist"]), marker="*", s=40,
                           color="black")
        ax.set_xlabel("patient channel")
        ax.set_ylabel("therapist channel")
    fig.colorbar(art, ax=ax, label="per-pair estimate (units of the model)", shrink=0.8)
    ax.set_title(title + "\nringed or starred: significant after correction",
                 fontsize="small")
    return fig
