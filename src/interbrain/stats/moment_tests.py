"""Is synchrony around marked moments different from the rest of the session?

For each moment label (``[moments] events``), signal and metric: per dyad-session,
the mean synchrony of the windows around its marked moments (over channel pairs and
moments) minus the mean of its null windows (:mod:`interbrain.nulls.moments`: windows
of the same length from the same session, away from every moment); per dyad, the mean
over its sessions; over dyads, the two-sided sign-flip test of their mean (moments may
raise or lower synchrony). Rows of ``models.parquet``: model ``moment_vs_null``,
term ``moment - null``, column ``moment``.
"""

from __future__ import annotations

import pandas as pd

from .segment_models import two_sided_dyad_row
from .tables import MODEL_COLUMNS

__all__ = ["moment_excess", "moment_tests"]


def moment_excess(moments: pd.DataFrame, signal: str, metric: str) -> pd.DataFrame:
    """Per dyad, session and moment label: ``moment``, ``null`` (means) and their
    difference ``excess``, with ``n_moments`` and ``n_null`` windows."""
    rows = moments[(moments["signal"] == signal) & (moments["metric"] == metric)]
    rows = rows.dropna(subset=["value"])
    real = rows[rows["pairing"] == "moment"]
    null = rows[rows["pairing"] == "moment_null"]
    keys = ["dyad", "session", "moment"]
    per_moment = real.groupby(keys + ["onset_s"], as_index=False)["value"].mean()
    a = per_moment.groupby(keys, as_index=False)["value"].agg(
        moment_mean="mean", n_moments="size")
    per_draw = null.groupby(keys + ["surrogate"], as_index=False)["value"].mean()
    b = per_draw.groupby(keys, as_index=False)["value"].agg(null="mean", n_null="size")
    out = a.merge(b, on=keys, how="inner").rename(columns={"moment_mean": "moment_value"})
    out["excess"] = out["moment_value"] - out["null"]
    return out


def moment_tests(moments: pd.DataFrame, signal: str, metric: str, *,
                 n_permutations: int = 9999, seed=0) -> pd.DataFrame:
    """The dyad-level test of each moment label (see the module notes).

    Parameters
    ----------
    moments : pandas.DataFrame
        The moments table (``synchrony_moments.parquet``).
    signal, metric : str
    n_permutations : int
        Random sign patterns when exact enumeration would need more.
    seed : int

    Returns
    -------
    pandas.DataFrame
        Rows of ``models.parquet``; none for a label with fewer than 2 dyads.
    """
    excess = moment_excess(moments, signal, metric)
    rows = []
    for label, part in excess.groupby("moment", sort=True):
        d = part.groupby("dyad")["excess"].mean().dropna().to_numpy()
        if d.size < 2:
            continue
        row = two_sided_dyad_row(
            d, model="moment_vs_null", signal=signal, metric=metric, term="moment - null",
            method=("synchrony in windows around the marked moments against null windows "
                    "of the same sessions"),
            n_obs=int(part["n_moments"].sum()), n_permutations=n_permutations, seed=seed)
        row["moment"] = label
        rows.append(row)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=MODEL_COLUMNS)
