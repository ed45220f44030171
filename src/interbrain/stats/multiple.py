"""Many channel pairs or regions: per-unit tests and multiple-comparison control.

:func:`adjust_pvalues`
    Benjamini-Hochberg false discovery rate (``"fdr_bh"``), Bonferroni or Holm
    (family-wise error rate), by ``statsmodels.stats.multitest.multipletests``;
    NaN p-values are left out of the family and stay NaN.

:func:`pairwise_tests`
    One test per unit (channel pair, or region pair), each on dyad-level summaries
    so that the dyad is the unit of replication:

    * ``test="growth"``: per dyad and unit, the OLS slope of synchrony over
      sessions (real dyads); per unit, a one-sample t-test of those slopes
      (``df = n_dyads - 1``), the summary-statistics version of the random-slope
      model (identical t for complete balanced data, see
      :mod:`interbrain.stats.permutation`).
    * ``test="real_vs_pseudo"``: per dyad and unit, mean real synchrony minus mean
      pseudo-dyad synchrony (pseudo rows carry the dyad of their therapist, as in
      :func:`~interbrain.stats.real_vs_pseudo.real_vs_pseudo`); per unit, a paired
      (one-sample) t-test of the differences.

    ``correction`` picks the adjustment reported in ``p_adjusted``: ``"fdr_bh"``,
    ``"bonferroni"`` or ``"holm"`` of the t-test p-values, or ``"maxt"``:
    Westfall-Young single-step maxT over units with the same t statistics and a
    permutation applied jointly to all units (dyad sign flips of the differences,
    or within-dyad session shuffles for the slopes); ``p_permutation`` then holds
    the per-unit permutation p-values. The ``correction`` column says which was
    used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from .._check import check_option
from ..nulls.dyad_tests import one_sample_t, t_pvalue
from ._util import require_columns
from .permutation import maxt_permutation, session_shuffle_scheme, sign_flip_scheme
from .settings import CORRECTION_OPTIONS, PAIRWISE_OPTIONS
from .slopes import ols_slopes
from .tables import MODEL_COLUMNS
from .time_codings import SLOPE_TIMES, TIME_CODINGS, check_time, time_values

__all__ = ["ADJUSTMENTS", "CORRECTIONS", "adjust_pvalues", "add_adjusted",
           "pairwise_tests", "PAIRWISE_COLUMNS"]

#: Corrections of :func:`pairwise_tests` (``[statistics] correction``).
CORRECTIONS = CORRECTION_OPTIONS
#: Those that adjust p-values (:func:`adjust_pvalues`); ``"maxt"`` permutes instead.
ADJUSTMENTS = tuple(c for c in CORRECTIONS if c != "maxt")
#: Per-unit tests (``[statistics] pairwise``).
PAIRWISE_TESTS = PAIRWISE_OPTIONS
PAIRWISE_COLUMNS = MODEL_COLUMNS + ["unit", "n_dyads", "p_adjusted", "correction",
                                    "p_permutation", "significant"]
REGION_UNIT = ["region_therapist", "region_patient"]


def adjust_pvalues(p, method: str = "fdr_bh") -> np.ndarray:
    """Adjusted p-values over one family.

    Parameters
    ----------
    p : array-like
        p-values in [0, 1]; NaN entries are not part of the family and stay NaN.
    method : str
        ``"fdr_bh"`` (Benjamini-Hochberg), ``"bonferroni"`` or ``"holm"``.
    """
    if method not in ADJUSTMENTS:
        raise ValueError(f"unknown p-value adjustment {method!r}; use one of "
                         f"{list(ADJUSTMENTS)} (or correction='maxt' in pairwise_tests)")
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    if ok.any():
        out[ok] = multipletests(p[ok], method=method)[1]
    return out


def add_adjusted(table: pd.DataFrame, method: str = "fdr_bh", *, by=None,
                 p: str = "p") -> pd.DataFrame:
    """``table`` with ``p_adjusted`` and ``correction`` columns, adjusting column
    ``p`` over all rows or within each group of the ``by`` columns."""
    require_columns(table, [p] + ([by] if isinstance(by, str) else list(by or [])),
                     "table")
    out = table.copy()
    if by is None:
        out["p_adjusted"] = adjust_pvalues(out[p].to_numpy(float), method)
    else:
        out["p_adjusted"] = np.nan
        for _, idx in out.groupby(by, sort=False, dropna=False).groups.items():
            out.loc[idx, "p_adjusted"] = adjust_pvalues(out.loc[idx, p].to_numpy(float),
                                                        method)
    out["correction"] = method
    return out


def _unit_columns(unit) -> list[str]:
    if unit == "region":
        return list(REGION_UNIT)
    if isinstance(unit, str):
        return [unit]
    cols = list(unit)
    if not cols:
        raise ValueError("unit needs at least one column")
    return cols


def _unit_labels(frame: pd.DataFrame, cols: list[str]) -> pd.Series:
    if len(cols) == 1:
        return frame[cols[0]].astype(str)
    return frame[cols].astype(str).agg("-".join, axis=1)


def _growth_arrays(real: pd.DataFrame, time: str):
    """Dyads, units, times (D x S, packed) and values (D x S x U)."""
    per = real.groupby(["dyad", "session", "unit"], as_index=False)["value"].mean()
    dyads = sorted(per["dyad"].unique())
    units = sorted(per["unit"].unique())
    sess = per[["dyad", "session"]].drop_duplicates().sort_values(["dyad", "session"])
    sess["slot"] = sess.groupby("dyad").cumcount()
    width = int(sess["slot"].max()) + 1
    d_idx = pd.Index(dyads)
    X = np.full((len(dyads), width), np.nan)
    X[d_idx.get_indexer(sess["dyad"]), sess["slot"].to_numpy()] = time_values(
        sess["session"], time)
    per = per.merge(sess, on=["dyad", "session"])
    Y = np.full((len(dyads), width, len(units)), np.nan)
    Y[d_idx.get_indexer(per["dyad"]), per["slot"].to_numpy(),
      pd.Index(units).get_indexer(per["unit"])] = per["value"].to_numpy(float)
    return dyads, units, X, Y


def _rvp_differences(rows: pd.DataFrame):
    per = rows.groupby(["dyad", "unit", "pairing"])["value"].mean().unstack("pairing")
    for col in ("real", "pseudo"):
        if col not in per.columns:
            raise ValueError(f"real versus pseudo-dyad tests need {col!r} rows for this "
                             "signal and metric")
    diff = (per["real"] - per["pseudo"]).unstack("unit")
    return list(diff.index), list(diff.columns), diff.to_numpy(float)


def pairwise_tests(synchrony: pd.DataFrame, *, signal: str, metric: str = "wtc",
                   test: str = "growth", unit="pair", correction: str = "fdr_bh",
                   time: str = "linear", n_permutations: int = 999,
                   seed: int | None = 0, alpha: float = 0.05,
                   min_dyads: int = 3) -> pd.DataFrame:
    """A growth or real-versus-pseudo test per channel pair (or region), adjusted.

    Parameters
    ----------
    synchrony : pandas.DataFrame
        The tidy synchrony table: ``dyad, session, signal, pairing, metric, value``
        and the unit column(s).
    signal, metric : str
        Which rows to test.
    test : str
        ``"growth"`` or ``"real_vs_pseudo"`` (see the module notes).
    unit : str or list of str
        Column(s) defining a unit: ``"pair"`` (default), ``"region"`` (the pair of
        ``region_therapist`` and ``region_patient``; channel pairs are averaged
        within a region pair first) or any columns.
    correction : str
        ``"fdr_bh"``, ``"bonferroni"``, ``"holm"`` or ``"maxt"``.
    time : str
        Growth slope per session (``"linear"``) or per log-session (``"log"``).
    n_permutations, seed : int
        For ``correction="maxt"``.
    alpha : float
        ``significant`` is ``p_adjusted < alpha``.
    min_dyads : int
        Units with fewer dyads are not tested (NaN).

    Returns
    -------
    pandas.DataFrame
        :data:`PAIRWISE_COLUMNS`: the model columns (``model`` is
        ``"growth_by_<unit>"`` or ``"real_vs_pseudo_by_<unit>"``; ``estimate`` the
        mean slope or difference; ``df = n_dyads - 1``; ``p`` the t-test p) plus
        ``unit, n_dyads, p_adjusted, correction, p_permutation, significant``.
    """
    check_option(test, "pairwise test", PAIRWISE_TESTS)
    check_option(correction, "correction", CORRECTIONS)
    check_time(time)
    if test == "growth" and time not in SLOPE_TIMES:
        raise ValueError("pairwise growth tests need time='linear' or 'log'")
    cols = _unit_columns(unit)
    require_columns(synchrony, ["dyad", "session", "signal", "pairing", "metric",
                                 "value"] + cols, "synchrony")
    rows = synchrony[(synchrony["signal"] == signal) & (synchrony["metric"] == metric)]
    rows = rows.dropna(subset=cols + ["value"])
    if rows.empty:
        raise ValueError(f"no synchrony rows for signal {signal!r} and metric {metric!r}")
    rows = rows.assign(unit=_unit_labels(rows, cols).to_numpy())
    unit_name = "region" if unit == "region" else "_".join(cols)

    if test == "growth":
        real = rows[rows["pairing"] == "real"]
        if real.empty:
            raise ValueError("pairwise growth tests need real-dyad rows")
        dyads, units, X, Y = _growth_arrays(real, time)
        per_dyad = ols_slopes(X, Y)                 # D x U
        stat, data, permute = session_shuffle_scheme(X, Y)
        term = TIME_CODINGS[time].slope_term
        model = f"growth_by_{unit_name}"
        method = "one-sample t-test of per-dyad OLS slopes (df = n_dyads - 1)"
    else:
        dyads, units, per_dyad = _rvp_differences(rows)
        stat, data, permute = sign_flip_scheme(per_dyad)
        term = "real - pseudo"
        model = f"real_vs_pseudo_by_{unit_name}"
        method = "paired t-test over dyads of mean real minus mean pseudo synchrony"
    if len(dyads) < min_dyads:
        raise ValueError(f"pairwise tests need at least {min_dyads} dyads; got {len(dyads)}")

    mean, se, t, n = one_sample_t(per_dyad, axis=0)
    testable = n >= max(min_dyads, 2)
    t = np.where(testable, t, np.nan)
    df = np.where(testable, n - 1.0, np.nan)
    p = np.where(testable, t_pvalue(t, df), np.nan)
    p_perm = np.full(len(units), np.nan)
    if correction == "maxt":
        def masked(x):
            return np.where(testable, stat(x), np.nan)
        mt = maxt_permutation(masked, data, permute, n_permutations=n_permutations,
                              seed=seed, units=units)
        p_adj = mt["p_adjusted"].to_numpy()
        p_perm = mt["p_permutation"].to_numpy()
        method += (f"; Westfall-Young maxT over {int(testable.sum())} units "
                   f"(B = {n_permutations}, seed = {seed})")
    else:
        p_adj = adjust_pvalues(p, correction)
    out = pd.DataFrame({
        "model": model, "signal": signal, "metric": metric, "term": term,
        "estimate": np.where(testable, mean, np.nan), "std_error": np.where(testable, se,
                                                                            np.nan),
        "df": df, "t": t, "p": p, "method": method, "formula": "", "unit": units,
        "n_dyads": n.astype(int), "p_adjusted": p_adj, "correction": correction,
        "p_permutation": p_perm})
    out["significant"] = pd.array(np.where(np.isfinite(p_adj), p_adj < alpha, False),
                                  dtype="boolean")
    out.loc[~np.isfinite(p_adj), "significant"] = pd.NA
    return out[PAIRWISE_COLUMNS]
