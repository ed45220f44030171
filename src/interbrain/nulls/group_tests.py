"""Real synchrony against its null, per dyad-session and over the dyads of a study.

:func:`null_summary` reduces the tidy synchrony table to one row per dyad-session
(x signal x metric x kind of null): the real synchrony (mean over channel pairs),
the mean and SD of the null draws (each draw averaged over channel pairs first, so
the SD is that of a session-level value), their difference and a z score.

:func:`dyad_permutation_test` tests whether real synchrony exceeds the null over
dyads: the unit of inference is the dyad (sessions of one dyad are not independent),
each dyad contributing the mean of its sessions' real-minus-null differences. Under
the null hypothesis that the real and null synchrony of a dyad are exchangeable,
each dyad's difference is as likely positive as negative, so the sign-flip
distribution of the mean difference is its exact null distribution (e.g. Nichols &
Holmes 2002). The sign-flip test and the t-test over dyads are those of
:mod:`interbrain.nulls.dyad_tests`, which the real-versus-pseudo-dyad test of
:mod:`interbrain.stats.real_vs_pseudo` uses too.

Kinds of null (the ``pairing`` value of their rows in the synchrony table):

``"pseudo"``
    Pseudo-dyads (:func:`~interbrain.nulls.pseudo_dyads.pseudo_dyad_pairings`); one
    draw per pseudo partner. A pseudo row's ``dyad`` is the therapist's dyad and
    ``partner_dyad`` the patient's.
``"familiarity"``
    Familiarity pairings
    (:func:`~interbrain.nulls.pseudo_dyads.familiarity_pairings`): the dyad's
    therapist recorded in ``session`` with its patient recorded in
    ``partner_session``. One draw per pairing, counted for both recordings' sessions
    (see :func:`null_summary`).
``"circular_shift"``, ``"phase_randomised"``
    Surrogates of one partner (:mod:`interbrain.nulls.surrogates`); rows have
    ``partner_dyad == dyad`` and an extra column ``surrogate`` numbering the draws
    (see :meth:`~interbrain.nulls.surrogate_synchrony.SurrogateSynchrony.to_frame`).

References
----------
Nichols, T. E. & Holmes, A. P. (2002). Nonparametric permutation tests for functional
neuroimaging: a primer with examples. *Human Brain Mapping* 15:1-25.

Phipson, B. & Smyth, G. K. (2010). Permutation p-values should never be zero.
*Statistical Applications in Genetics and Molecular Biology* 9:39.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._check import as_generator, check_option
from .draws import SIDES, null_sides
from .dyad_tests import (check_alternative, confidence_interval, permutation_seeds,
                         sign_flip_method, sign_flip_test, t_test)
from .surrogates import SURROGATE_KINDS

#: Kinds of null :func:`null_summary` knows, in output order.
NULL_KINDS: tuple[str, ...] = ("pseudo", "familiarity", *SURROGATE_KINDS)

#: Columns of :func:`null_summary`.
NULL_SUMMARY_COLUMNS = ["dyad", "session", "signal", "metric", "null_kind", "real", "null_mean",
                        "null_sd", "real_minus_null", "z", "n_null", "n_pairs"]

_REQUIRED = ["dyad", "partner_dyad", "session", "signal", "pairing", "metric", "value"]
_CELL = ["dyad", "session", "signal", "metric"]


def _null_draws(rows: pd.DataFrame, kind: str, pseudo_side: str) -> pd.DataFrame:
    """One row per null draw and dyad-session it counts for: ``value`` averaged over
    channel pairs (:func:`~interbrain.nulls.draws.null_sides`)."""
    if kind == "pseudo":
        keys = ["dyad", "partner_dyad", "session", "signal", "metric"]
    elif kind == "familiarity":
        if "partner_session" not in rows.columns:
            raise ValueError("rows with pairing 'familiarity' need a 'partner_session' "
                             "column (the session of the patient recording)")
        keys = ["dyad", "session", "partner_session", "signal", "metric"]
    else:
        if "surrogate" not in rows.columns or rows["surrogate"].isna().any():
            raise ValueError(f"rows with pairing {kind!r} need a 'surrogate' column "
                             "numbering the surrogates (see SurrogateSynchrony.to_frame)")
        keys = [*_CELL, "surrogate"]
    draws = rows.groupby(keys, as_index=False)["value"].mean()
    return null_sides(draws, kind, side=pseudo_side)


def null_summary(synchrony: pd.DataFrame, *, kinds: tuple[str, ...] | list[str] | None = None,
                 pseudo_side: str = "therapist") -> pd.DataFrame:
    """Real synchrony of each dyad-session against its null distribution.

    Parameters
    ----------
    synchrony : pandas.DataFrame
        Tidy synchrony table: columns ``dyad, partner_dyad, session, signal, pairing,
        metric, value`` (and usually ``pair``), ``pairing`` among ``"real"`` and
        :data:`NULL_KINDS`, plus ``surrogate`` for surrogate rows and
        ``partner_session`` for familiarity rows. Other columns and other ``pairing``
        values are ignored. NaN values are skipped.
    kinds : sequence of str, optional
        Kinds of null to summarise; default: those of :data:`NULL_KINDS` present.
    pseudo_side : {"therapist", "patient", "both"}
        Which pseudo-dyads are the null of dyad ``d``: those of ``d``'s therapist
        recording (``dyad == d``, as :func:`~interbrain.stats.real_vs_pseudo.real_vs_pseudo`
        does), of ``d``'s patient recording (``partner_dyad == d``), or both.
        Familiarity pairings are always counted from both sides (below).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`NULL_SUMMARY_COLUMNS`, one row per real dyad-session x signal
        x metric x kind, sorted by signal, metric, kind, dyad and session:

        - ``real``: mean of the real dyad's channel pairs (``n_pairs`` of them);
        - ``null_mean``, ``null_sd``: mean and SD (ddof=1) over the ``n_null`` null
          draws of the draw's mean over its channel pairs (one draw per pseudo
          partner, familiarity pairing or surrogate);
        - ``real_minus_null`` and ``z = (real - null_mean) / null_sd``.

        A dyad-session without draws of a kind has ``n_null = 0`` and NaN; with one
        draw, NaN ``null_sd`` and ``z``.

        The familiarity null of dyad-session ``(d, s)`` holds the familiarity pairings
        of both its recordings: those of the therapist recording of ``s`` (rows with
        ``dyad == d`` and ``session == s``) and those of the patient recording of
        ``s`` (``dyad == d`` and ``partner_session == s``); with every pairing
        computed and ``S`` sessions, ``n_null = 2 (S - 1)``. Each pairing is one draw
        in the null of each of its two sessions, so the draws of neighbouring
        dyad-sessions overlap; the dyad-level tests average over sessions first.

    Raises
    ------
    ValueError
        Missing columns, no real rows, an unknown kind or ``pseudo_side``,
        surrogate rows without a ``surrogate`` column or familiarity rows without a
        ``partner_session`` column.
    """
    missing = [c for c in _REQUIRED if c not in synchrony.columns]
    if missing:
        raise ValueError(f"the synchrony table lacks column(s) {', '.join(missing)}")
    check_option(pseudo_side, "pseudo_side", SIDES)
    present = set(synchrony["pairing"].unique())
    if kinds is None:
        kinds = [k for k in NULL_KINDS if k in present]
    else:
        kinds = list(kinds)
        unknown = [k for k in kinds if k not in NULL_KINDS]
        if unknown:
            raise ValueError(f"unknown kind(s) of null {', '.join(map(repr, unknown))}; use "
                             f"{', '.join(map(repr, NULL_KINDS))}")
    table = synchrony.dropna(subset=["value"])
    real_rows = table[table["pairing"] == "real"]
    if real_rows.empty:
        raise ValueError("the synchrony table has no rows of real dyads (pairing 'real')")
    real = (real_rows.groupby(_CELL, as_index=False)["value"]
            .agg(real="mean", n_pairs="size"))
    frames = []
    for kind in kinds:
        rows = table[table["pairing"] == kind]
        if rows.empty:
            stats = pd.DataFrame(columns=[*_CELL, "null_mean", "null_sd", "n_null"])
        else:
            draws = _null_draws(rows, kind, pseudo_side)
            stats = (draws.groupby(_CELL, as_index=False)["value"]
                     .agg(null_mean="mean", null_sd=lambda v: v.std(ddof=1), n_null="size"))
        merged = real.merge(stats.astype({"session": real["session"].dtype}), on=_CELL,
                            how="left")
        merged["null_kind"] = kind
        frames.append(merged)
    if not frames:
        return pd.DataFrame(columns=NULL_SUMMARY_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out["n_null"] = out["n_null"].fillna(0).astype(int)
    for col in ("null_mean", "null_sd"):
        out[col] = out[col].astype(float)
    out["real_minus_null"] = out["real"] - out["null_mean"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["z"] = out["real_minus_null"].to_numpy() / out["null_sd"].to_numpy()
    order = {k: i for i, k in enumerate(NULL_KINDS)}
    out = (out.assign(_kind=out["null_kind"].map(order))
           .sort_values(["signal", "metric", "_kind", "dyad", "session"], ignore_index=True)
           .drop(columns="_kind"))
    return out[NULL_SUMMARY_COLUMNS]


@dataclass(frozen=True, eq=False)
class DyadPermutationResult:
    """Result of :func:`dyad_permutation_test`.

    Attributes
    ----------
    statistic : str
        Column of the summary tested per session (``"real_minus_null"`` or ``"z"``).
    mean_difference : float
        Mean over dyads of each dyad's mean over sessions of ``statistic``.
    ci_low, ci_high : float
        Two-sided ``confidence`` interval of ``mean_difference`` (``ci_method``:
        ``"t"``, Student t over dyads, or ``"bootstrap"``, percentile bootstrap over
        dyads).
    std_error, t, df : float
        Standard error over dyads, one-sample t statistic and its degrees of freedom
        (describing the difference; the test is the sign-flip test, so that one
        hypothesis has one p-value).
    p : float
        Sign-flip permutation p-value for ``alternative``.
    p_method : str
        ``"exact"`` (all sign patterns) or ``"monte_carlo"``.
    n_permutations : int
        Sign patterns evaluated.
    n_dyads : int
        Dyads with at least one finite value.
    real, null : float
        Mean over dyads of the real synchrony and of the null mean (NaN when testing
        ``"z"`` from a table without them).
    differences : pandas.Series
        Per dyad mean of ``statistic``.
    """

    statistic: str
    mean_difference: float
    ci_low: float
    ci_high: float
    confidence: float
    ci_method: str
    std_error: float
    t: float
    df: float
    p: float
    p_method: str
    n_permutations: int
    n_dyads: int
    alternative: str
    real: float
    null: float
    signal: str | None = None
    metric: str | None = None
    null_kind: str | None = None
    differences: pd.Series = field(default_factory=lambda: pd.Series(dtype=float), repr=False)

    def as_dict(self) -> dict[str, Any]:
        """Every field but ``differences``."""
        out = asdict(self)
        out.pop("differences")
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row: the fields of :meth:`as_dict` (a row of ``null_tests.parquet``).

        Returns
        -------
        pandas.DataFrame
        """
        return pd.DataFrame([self.as_dict()])

    @property
    def method(self) -> str:
        """The test in words, as in ``models.parquet``."""
        return sign_flip_method(self.p_method, self.alternative, self.null_kind or "null")

    def summary(self) -> str:
        """The test in one line.

        Returns
        -------
        str
        """
        return (f"real - {self.null_kind or 'null'} ({self.statistic}): "
                f"{self.mean_difference:.4g} [{self.ci_low:.4g}, {self.ci_high:.4g}] over "
                f"{self.n_dyads} dyads; "
                f"{self.method}: p = {self.p:.3g}")


def _select(table: pd.DataFrame, signal, metric, null_kind) -> tuple[pd.DataFrame, dict]:
    chosen = {}
    for col, value in (("signal", signal), ("metric", metric), ("null_kind", null_kind)):
        if col not in table.columns:
            chosen[col] = value
            continue
        if value is not None:
            table = table[table[col] == value]
            chosen[col] = value
            continue
        values = table[col].dropna().unique()
        if len(values) > 1:
            raise ValueError(f"the summary holds several {col} values ({', '.join(map(str, values))}); "
                             f"choose one with {col}=... or use dyad_permutation_tests")
        chosen[col] = values[0] if len(values) else None
    return table, chosen


def dyad_permutation_test(summary: pd.DataFrame, *, n_permutations: int = 10_000,
                          seed: int = 0, alternative: str = "greater",
                          statistic: str = "real_minus_null", confidence: float = 0.95,
                          ci_method: str = "t", n_bootstrap: int = 10_000,
                          signal: str | None = None, metric: str | None = None,
                          null_kind: str | None = None) -> DyadPermutationResult:
    """Does real synchrony exceed its null over dyads? Sign-flip test at the dyad level.

    Each dyad contributes ``d_i``, the mean over its sessions of ``statistic``
    (default ``real_minus_null``; sessions where it is NaN are skipped); the test
    statistic is ``mean(d_i)`` and its null distribution that of ``mean(s_i d_i)``
    over random signs (:func:`~interbrain.nulls.dyad_tests.sign_flip_test`: exact
    enumeration when ``2**n_dyads <= n_permutations``, Monte Carlo with
    ``p = (1 + b) / (1 + n_permutations)`` otherwise).

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`null_summary` (columns ``dyad`` and ``statistic``; with
        ``signal``, ``metric``, ``null_kind`` one value each, or chosen below).
    n_permutations : int, default 10000
        Random sign patterns when exact enumeration would need more.
    seed : int
        Seed of the random sign patterns and of the bootstrap (the two children of
        :func:`~interbrain.nulls.dyad_tests.permutation_seeds`).
    alternative : {"greater", "less", "two-sided"}
        ``"greater"``: real exceeds null.
    statistic : {"real_minus_null", "z"}
        Per-session value averaged per dyad.
    confidence : float, default 0.95
        Level of the two-sided confidence interval.
    ci_method : {"t", "bootstrap"}
        Student t interval over dyads, or percentile bootstrap over dyads
        (``n_bootstrap`` resamples; unreliable with few dyads).
    signal, metric, null_kind : str, optional
        Rows to test when the summary holds several.

    Returns
    -------
    DyadPermutationResult

    Raises
    ------
    ValueError
        Fewer than 2 dyads with a finite value, several signals/metrics/kinds not
        chosen, or invalid options.
    """
    check_alternative(alternative)
    check_option(statistic, "statistic", ("real_minus_null", "z"))
    check_option(ci_method, "ci_method", ("t", "bootstrap"))
    if not (0 < confidence < 1):
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    for col in ("dyad", statistic):
        if col not in summary.columns:
            raise ValueError(f"the summary lacks column {col!r} (use null_summary)")
    table, chosen = _select(summary, signal, metric, null_kind)
    values = table[["dyad", statistic]].copy()
    values[statistic] = values[statistic].astype(float)
    values = values[np.isfinite(values[statistic])]
    per_dyad = values.groupby("dyad")[statistic].mean().sort_index()
    d = per_dyad.to_numpy()
    if d.size < 2:
        raise ValueError(f"a test over dyads needs at least 2 dyads with a finite {statistic}, "
                         f"got {d.size}")
    perm_seed, boot_seed = permutation_seeds(seed)
    flips = sign_flip_test(d, n_permutations=n_permutations, seed=perm_seed,
                           alternative=alternative)
    test = t_test(d, alternative)
    if ci_method == "t":
        lo, hi = confidence_interval(test.mean, test.std_error, test.df, confidence)
    else:
        rng = as_generator(boot_seed)
        means = np.empty(n_bootstrap)
        for start in range(0, n_bootstrap, 4096):
            b = min(4096, n_bootstrap - start)
            means[start:start + b] = d[rng.integers(0, d.size, size=(b, d.size))].mean(axis=1)
        alpha = 1 - confidence
        lo, hi = (float(v) for v in np.quantile(means, [alpha / 2, 1 - alpha / 2]))
    kept = table[table["dyad"].isin(per_dyad.index)]
    real = null = math.nan
    if statistic == "real_minus_null" and {"real", "null_mean"} <= set(kept.columns):
        rows = kept[np.isfinite(kept["real_minus_null"].astype(float))]
        real = float(rows.groupby("dyad")["real"].mean().mean())
        null = float(rows.groupby("dyad")["null_mean"].mean().mean())
    return DyadPermutationResult(
        statistic=statistic, mean_difference=test.mean, ci_low=float(lo), ci_high=float(hi),
        confidence=confidence, ci_method=ci_method, std_error=test.std_error, t=test.t,
        df=test.df, p=float(flips.p), p_method=flips.method,
        n_permutations=flips.n_permutations, n_dyads=int(d.size), alternative=alternative, real=real, null=null,
        signal=chosen["signal"], metric=chosen["metric"], null_kind=chosen["null_kind"],
        differences=per_dyad.rename("difference"))


def dyad_permutation_tests(summary: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """:func:`dyad_permutation_test` for every signal x metric x kind of null.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`null_summary`.
    **options
        Passed on (``n_permutations``, ``seed``, ``alternative``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per combination with at least 2 dyads, the fields of
        :meth:`DyadPermutationResult.as_dict` as columns.
    """
    keys = [c for c in ("signal", "metric", "null_kind") if c in summary.columns]
    rows = []
    groups = summary.groupby(keys, sort=True) if keys else [((), summary)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        chosen = dict(zip(keys, key))
        try:
            result = dyad_permutation_test(part, **options, **chosen)
        except ValueError as exc:
            if "at least 2 dyads" in str(exc):
                continue
            raise
        rows.append(result.as_dict())
    columns = [f for f in DyadPermutationResult.__dataclass_fields__ if f != "differences"]
    return pd.DataFrame(rows, columns=columns)
