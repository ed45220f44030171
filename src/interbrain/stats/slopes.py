"""Per-dyad ordinary-least-squares slopes of synchrony over sessions.

A dyad's OLS slope is the "summary statistic" of its trajectory: the one-sample t of
the dyads' slopes is the summary-statistics version of the random-slope growth model
(:mod:`.permutation`, :mod:`.multiple`), and the pre-post outcome model regresses each
dyad's change on it (:mod:`.outcomes`). The slopes of all dyads (and of all channel
pairs) are computed at once from arrays packed to the left (:func:`packed_by_dyad`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._util import require_columns
from .time_codings import time_values

__all__ = ["packed_by_dyad", "ols_slopes", "dyad_ols_slopes"]


def packed_by_dyad(sessions: pd.DataFrame, x: np.ndarray, value: str
                   ) -> tuple[list, np.ndarray, np.ndarray]:
    """Each dyad's times and values as rows packed to the left.

    Parameters
    ----------
    sessions : pandas.DataFrame
        Columns ``dyad`` and ``value``, one row per dyad-session.
    x : numpy.ndarray
        The time of each row (e.g. :func:`~interbrain.stats.time_codings.time_values`).
    value : str
        The column of values.

    Returns
    -------
    dyads : list
        In order of first appearance after sorting by dyad.
    X, Y : numpy.ndarray, shape (n_dyads, max sessions per dyad)
        Times (sorted within each dyad) and values, NaN padded; rows with a missing
        time or value are left out.
    """
    frame = pd.DataFrame({"dyad": sessions["dyad"].to_numpy(), "x": x,
                          "y": sessions[value].to_numpy(dtype=float)})
    frame = frame[np.isfinite(frame["x"]) & np.isfinite(frame["y"])]
    frame = frame.sort_values(["dyad", "x"], kind="stable")
    frame["slot"] = frame.groupby("dyad", sort=False).cumcount()
    dyads = list(pd.unique(frame["dyad"]))
    width = int(frame["slot"].max()) + 1 if len(frame) else 0
    row = pd.Index(dyads).get_indexer(frame["dyad"])
    X = np.full((len(dyads), width), np.nan)
    Y = np.full((len(dyads), width), np.nan)
    X[row, frame["slot"].to_numpy()] = frame["x"].to_numpy()
    Y[row, frame["slot"].to_numpy()] = frame["y"].to_numpy()
    return dyads, X, Y


def ols_slopes(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """OLS slopes of ``Y`` on ``X`` over the session axis, NaN-aware.

    Parameters
    ----------
    X : numpy.ndarray, shape (..., S)
        Times.
    Y : numpy.ndarray, shape (..., S) or (D, S, U) with ``X`` (D, S)
        Values; the second form gives one slope per dyad and unit.

    Returns
    -------
    numpy.ndarray
        Shape (...) or (D, U); NaN where fewer than two distinct times are observed.
    """
    if Y.ndim == X.ndim + 1:
        X = X[..., None]
        ax = -2
    else:
        ax = -1
    m = np.isfinite(X) & np.isfinite(Y)
    n = m.sum(axis=ax, keepdims=True)
    x0 = np.where(m, X, 0.0)
    y0 = np.where(m, Y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        xbar = x0.sum(axis=ax, keepdims=True) / n
        xc = np.where(m, X - xbar, 0.0)
        sxx = (xc * xc).sum(axis=ax)
        sxy = (xc * y0).sum(axis=ax)
        b = sxy / sxx
    scale = (x0 * x0).sum(axis=ax)
    return np.where(sxx > 1e-12 * scale, b, np.nan)


def dyad_ols_slopes(sessions: pd.DataFrame, time: str = "linear",
                    value: str = "synchrony") -> pd.DataFrame:
    """Ordinary-least-squares slope of ``value`` over time, separately per dyad.

    Parameters
    ----------
    sessions : pandas.DataFrame
        Columns ``dyad``, ``session`` and ``value``.
    time : str
        ``"linear"`` (per session) or ``"log"`` (per unit of ``log(session)``).
    value : str
        The column of values.

    Returns
    -------
    pandas.DataFrame
        ``dyad, ols_slope, n_sessions``; the slope is NaN for a dyad with fewer than
        two distinct sessions.
    """
    require_columns(sessions, ["dyad", "session", value], "sessions")
    x = time_values(sessions["session"], time)
    dyads, X, Y = packed_by_dyad(sessions, x, value)
    return pd.DataFrame({"dyad": dyads, "ols_slope": ols_slopes(X, Y),
                         "n_sessions": np.isfinite(Y).sum(axis=1)})
