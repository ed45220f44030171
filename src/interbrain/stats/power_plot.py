"""Figure of a power analysis: rejection rates with Monte Carlo confidence intervals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["plot_power"]

_TEST_LABELS = {"growth": "growth of real synchrony (lmer)",
                "growth_permutation": "growth (dyad permutation)",
                "outcome_within": "outcome, within-dyad (ladder)",
                "plasticity": "plasticity vs pseudo-dyads (lmer)",
                "plasticity_permutation": "plasticity (partner reassignment)"}


def plot_power(table: pd.DataFrame, path) -> Path:
    """Rejection rate with Monte Carlo 95% CIs against the design, as a PNG.

    The x axis is the number of dyads (or of sessions, or the effect, whichever
    varies); one panel for the null scenario (false-positive rates, with ``alpha``
    marked) and one for the effect scenarios (power), one line per test and effect.
    """
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    t = table.copy()
    t["is_null"] = (t["effect"] == 0) & (t["outcome_effect"] == 0)
    xcol = next((c for c in ("n_dyads", "n_sessions") if t[c].nunique() > 1),
                "n_dyads")
    panels = [(True, "No effect: false-positive rate"), (False, "Planted effect: power")]
    panels = [pp for pp in panels if (t["is_null"] == pp[0]).any()]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2),
                             squeeze=False)
    alpha = float(t["alpha"].iloc[0]) if len(t) else 0.05
    for ax, (is_null, title) in zip(axes[0], panels):
        sub = t[t["is_null"] == is_null]
        for (test, eff, oeff, other), grp in sub.groupby(
                ["test", "effect", "outcome_effect",
                 "n_sessions" if xcol == "n_dyads" else "n_dyads"], sort=False):
            grp = grp.sort_values(xcol)
            label = _TEST_LABELS.get(test, test)
            if not is_null:
                label += (f", effect {oeff:g}" if test == "outcome_within"
                          else f", effect {eff:g}")
            label += f" ({other} {'sessions' if xcol == 'n_dyads' else 'dyads'})"
            yerr = np.vstack([grp["rate"] - grp["ci_low"], grp["ci_high"] - grp["rate"]])
            ax.errorbar(grp[xcol], grp["rate"], yerr=yerr, marker="o", capsize=3,
                        label=label)
        ax.axhline(alpha, color="grey", ls="--", lw=1, label=f"alpha = {alpha:g}")
        if not is_null:
            ax.axhline(0.8, color="grey", ls=":", lw=1, label="0.8")
        ax.set_ylim(0, 1.0 if not is_null else max(0.2, float(sub["ci_high"].max())
                                                   + 0.02))
        ax.set_xticks(sorted(t[xcol].unique()))
        ax.set_xlabel("dyads" if xcol == "n_dyads" else "sessions per dyad")
        ax.set_ylabel("rejection rate")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    n = int(t["n_studies"].max()) if len(t) else 0
    fig.suptitle(f"Simulation-based calibration and power ({n} studies per point, "
                 "95% Monte Carlo CIs)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
