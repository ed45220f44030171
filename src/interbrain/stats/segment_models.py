"""Segments (conditions within sessions) as a factor of the models.

A session's labelled segments (``[segments]``: talk and rest, check-in and exposure)
give one synchrony value per dyad, session and segment label
(:func:`segment_sessions`, the channel-pair mean). The **condition model**
(:func:`fit_condition_model`) crosses the segment label with session and with the
dyads' groups (their ``condition``):

- one session number: ``synchrony ~ segment * group + (1 | dyad)``: the segment
  contrast is a condition contrast, and no growth model is attempted;
- several: ``synchrony ~ <time> * segment * group + (1 + <time slope> | dyad)``
  (falling back to ``(1 | dyad)`` when the data cannot identify the random slope),

plus ``(1 | therapist)`` when some therapist treats several dyads and there are
several therapists. Labels are data: the factor is the column ``segment`` (a
categorical whose first level, the first of ``[segments] labels`` or else the first
in natural order, is the reference), groups the column ``group``; a label never enters the
formula text. ``segment_real_vs_null`` tests each label's real synchrony against its
matched pseudo-dyads or its within-session shuffled windows
(:mod:`interbrain.nulls.segment_shuffle`), and :func:`segment_contrasts` the
difference between labels of that excess, all with dyad-level sign-flip tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..nulls.dyad_tests import confidence_interval, sign_flip_method, sign_flip_test, t_test
from ..nulls.group_tests import dyad_permutation_test
from ..synchrony.summaries.segments import natural_sorted
from .mixed import LmerResult, lmer
from .tables import MODEL_COLUMNS, fit_rows, with_counts
from .time_codings import TIME_CODINGS, check_time

__all__ = ["segment_sessions", "condition_formula", "fit_condition_model",
           "segment_excess", "segment_real_vs_null", "segment_contrasts",
           "restrict_pseudo", "two_sided_dyad_row"]

#: The null of each kind of segment test: (real pairing, null pairing).
SEGMENT_NULLS: dict[str, tuple[str, str]] = {"pseudo": ("real", "pseudo"),
                                             "segment_shuffle": ("real_windows",
                                                                 "segment_shuffle")}


def segment_sessions(segments: pd.DataFrame, signal: str, metric: str,
                     pairing: str = "real") -> pd.DataFrame:
    """Synchrony of each dyad, session and segment label: the mean over channel pairs.

    Parameters
    ----------
    segments : pandas.DataFrame
        Rows per pairing, channel pair and segment (``dyad, session, segment, signal,
        pairing, metric, value``; ``synchrony_segments.parquet``).
    signal, metric, pairing : str
        Which rows.

    Returns
    -------
    pandas.DataFrame
        ``dyad, session, segment, synchrony, n_pairs``.
    """
    rows = segments[(segments["signal"] == signal) & (segments["metric"] == metric)
                    & (segments["pairing"] == pairing)].dropna(subset=["value"])
    out = (rows.groupby(["dyad", "session", "segment"], as_index=False)["value"]
           .agg(synchrony="mean", n_pairs="size"))
    return out.sort_values(["dyad", "session", "segment"], ignore_index=True)


def condition_formula(n_sessions: int, *, time: str = "linear", group: bool = False,
                      therapist: bool = False, random_slope: bool = True) -> str:
    """The lme4 formula of the condition model (internal column names only).

    >>> condition_formula(1, group=True)
    'synchrony ~ segment * group + (1 | dyad)'
    >>> condition_formula(4)
    'synchrony ~ session * segment + (1 + session | dyad)'
    """
    fixed = "segment"
    random = "(1 | dyad)"
    if n_sessions > 1:
        coding = TIME_CODINGS[check_time(time)]
        fixed = (f"({coding.fixed}) * segment" if "+" in coding.fixed
                 else f"{coding.fixed} * segment")
        if random_slope:
            random = f"(1 + {coding.random_slope} | dyad)"
    if group:
        fixed += " * group"
    out = f"synchrony ~ {fixed} + {random}"
    return out + (" + (1 | therapist)" if therapist else "")


def fit_condition_model(data: pd.DataFrame, *, labels=(), time: str = "linear",
                        df_method: str = "satterthwaite") -> LmerResult:
    """Fit the condition model (see the module notes).

    Parameters
    ----------
    data : pandas.DataFrame
        ``dyad, session, segment, synchrony`` and optionally ``group`` (the dyad's
        condition) and ``therapist``.
    labels : sequence of str
        Segment labels in model order (the first is the reference); others follow
        in natural order (numbers compared as numbers).
    time : str
        Time coding with several sessions (:data:`~interbrain.stats.time_codings.
        TIME_CODINGS`).
    df_method : {"satterthwaite", "kenward-roger"}

    Returns
    -------
    LmerResult

    Raises
    ------
    ValueError
        Fewer than 2 dyads or 2 segment labels.
    """
    data = data.dropna(subset=["synchrony"]).reset_index(drop=True)
    found = natural_sorted(set(data["segment"]))
    order = [lab for lab in labels if lab in found] + [f for f in found if f not in labels]
    if len(order) < 2:
        raise ValueError(f"a condition model needs at least 2 segment labels; got {order}")
    n_dyads = data["dyad"].nunique()
    if n_dyads < 2:
        raise ValueError(f"a condition model needs at least 2 dyads; got {n_dyads}")
    frame = pd.DataFrame({"dyad": data["dyad"].astype(str), "session": data["session"],
                          "synchrony": data["synchrony"].astype(float),
                          "segment": pd.Categorical(data["segment"], categories=order)})
    group = "group" in data.columns and data["group"].nunique() > 1
    if group:
        levels = sorted(set(data["group"].astype(str)))
        frame["group"] = pd.Categorical(data["group"].astype(str), categories=levels)
    therapist = ("therapist" in data.columns
                 and 1 < data["therapist"].nunique() < n_dyads)
    if therapist:
        frame["therapist"] = data["therapist"].astype(str)
    n_sessions = frame["session"].nunique()
    options = dict(time=time, group=group, therapist=therapist)
    slope = n_sessions > 1 and len(frame) > 2 * n_dyads
    try:
        return lmer(condition_formula(n_sessions, random_slope=slope, **options), frame,
                    df_method=df_method)
    except ValueError as exc:
        if not slope or ("random-effects" not in str(exc) and "unidentifiable" not in str(exc)):
            raise
    return lmer(condition_formula(n_sessions, random_slope=False, **options), frame,
                df_method=df_method)


def condition_rows(fit: LmerResult, signal: str, metric: str) -> pd.DataFrame:
    """Rows of ``models.parquet`` of the condition model (model ``"condition"``)."""
    out = fit_rows("condition", fit, signal, metric)
    n_sessions = fit._data["session"].nunique()
    out["method"] = ("linear mixed model of synchrony per segment (REML; segment label "
                     "as a within-session condition"
                     + (", crossed with session" if n_sessions > 1 else
                        "; one session: a condition contrast, no growth") + ")")
    return out


def restrict_pseudo(table: pd.DataFrame, design: pd.DataFrame, within: str) -> pd.DataFrame:
    """Drop the pseudo-dyad rows whose two dyads differ in group or therapist.

    Parameters
    ----------
    table : pandas.DataFrame
        Synchrony rows (``dyad, partner_dyad, session, pairing``).
    design : pandas.DataFrame
        ``dyad, session, therapist`` and optionally ``condition``.
    within : {"group", "therapist", "all"}

    Returns
    -------
    pandas.DataFrame
        ``table`` without the pseudo rows across groups (or therapists).
    """
    column = {"group": "condition", "therapist": "therapist"}.get(within)
    if column is None or column not in design.columns or table.empty:
        return table
    key = design.set_index(["dyad", "session"])[column].astype(object)
    pseudo = table["pairing"] == "pseudo"
    mine = pd.MultiIndex.from_arrays([table["dyad"], table["session"]])
    theirs = pd.MultiIndex.from_arrays([table["partner_dyad"], table["session"]])
    a = key.reindex(mine).to_numpy()
    b = key.reindex(theirs).to_numpy()
    same = np.array([x == y or (pd.isna(x) and pd.isna(y)) for x, y in zip(a, b)], bool)
    return table[~pseudo.to_numpy() | same]


def segment_excess(segments: pd.DataFrame, signal: str, metric: str, null: str
                   ) -> pd.DataFrame:
    """Real synchrony in excess of a null per dyad, session and label.

    Parameters
    ----------
    segments : pandas.DataFrame
        The segments table.
    signal, metric : str
    null : {"pseudo", "segment_shuffle"}
        Pseudo-dyads matched by label (over the therapist's recording: ``dyad``), or
        the within-session shuffled windows (against the real windows).

    Returns
    -------
    pandas.DataFrame
        ``dyad, session, segment, real, null_mean, real_minus_null, n_null``.
    """
    real_kind, null_kind = SEGMENT_NULLS[null]
    real = segment_sessions(segments, signal, metric, real_kind).rename(
        columns={"synchrony": "real"})
    rows = segments[(segments["signal"] == signal) & (segments["metric"] == metric)
                    & (segments["pairing"] == null_kind)].dropna(subset=["value"])
    draws = rows.groupby(["dyad", "partner_dyad", "session", "segment"],
                         as_index=False)["value"].mean()
    nulls = (draws.groupby(["dyad", "session", "segment"], as_index=False)["value"]
             .agg(null_mean="mean", n_null="size"))
    out = real.merge(nulls, on=["dyad", "session", "segment"], how="inner")
    out["real_minus_null"] = out["real"] - out["null_mean"]
    return out[["dyad", "session", "segment", "real", "null_mean", "real_minus_null",
                "n_null"]]


def segment_real_vs_null(excess: pd.DataFrame, signal: str, metric: str, null: str, *,
                         n_permutations: int = 9999, seed=0) -> pd.DataFrame:
    """Does real synchrony exceed its null in each segment label? One row per label.

    The dyad-level sign-flip test of :func:`~interbrain.nulls.group_tests.
    dyad_permutation_test` (one-sided, real > null) on each label's
    ``real_minus_null`` (per dyad, the mean over its sessions).

    Returns
    -------
    pandas.DataFrame
        Rows of ``models.parquet``: model ``segment_real_vs_<null>``, term
        ``real - <null>``, column ``segment``.
    """
    rows = []
    for label, part in excess.groupby("segment", sort=True):
        try:
            test = dyad_permutation_test(part, n_permutations=n_permutations, seed=seed,
                                         alternative="greater")
        except ValueError:
            continue
        row = pd.DataFrame([{
            "model": f"segment_real_vs_{null}", "signal": signal, "metric": metric,
            "term": f"real - {null}", "estimate": test.mean_difference,
            "std_error": test.std_error, "df": test.df, "t": test.t, "p": test.p,
            "method": sign_flip_method(test.p_method, "greater", _null_words(null))
            + "; per segment label", "formula": ""}], columns=MODEL_COLUMNS)
        row = with_counts(row, test.n_dyads, test.n_dyads)
        row["ci_low"], row["ci_high"] = test.ci_low, test.ci_high
        row["n_dyads"] = float(test.n_dyads)
        row["segment"] = label
        rows.append(row)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=MODEL_COLUMNS)


def two_sided_dyad_row(d: np.ndarray, *, model: str, signal: str, metric: str, term: str,
                       method: str, n_obs: int, n_permutations: int, seed) -> pd.DataFrame:
    """The row of ``models.parquet`` of a two-sided dyad-level test of a mean difference.

    Parameters
    ----------
    d : ndarray, shape (n_dyads,)
        One difference per dyad.
    model, signal, metric, term : str
        The row's keys.
    method : str
        What was compared, in words; the test's description is appended.
    n_obs : int
        Observations behind the differences (``n_obs`` of the row).
    n_permutations, seed
        Of the sign-flip test (:func:`~interbrain.nulls.dyad_tests.sign_flip_test`).

    Returns
    -------
    pandas.DataFrame
        One row: the mean difference with its SE, df, t and 95% CI (Student t over
        dyads) and ``p`` of the two-sided sign-flip test.
    """
    flips = sign_flip_test(d, n_permutations=n_permutations, seed=seed,
                           alternative="two-sided")
    test = t_test(d, "two-sided")
    lo, hi = confidence_interval(test.mean, test.std_error, test.df)
    row = pd.DataFrame([{
        "model": model, "signal": signal, "metric": metric, "term": term,
        "estimate": test.mean, "std_error": test.std_error, "df": test.df, "t": test.t,
        "p": float(flips.p),
        "method": f"{method}: " + sign_flip_method(flips.method, "two-sided", "null"),
        "formula": ""}], columns=MODEL_COLUMNS)
    row = with_counts(row, n_obs, int(d.size))
    row["ci_low"], row["ci_high"] = float(lo), float(hi)
    row["n_dyads"] = float(d.size)
    return row


def _null_words(null: str) -> str:
    return ("pseudo-dyads matched by segment label" if null == "pseudo"
            else "the same dyad's shuffled segment windows")


def segment_contrasts(excess: pd.DataFrame, signal: str, metric: str, null: str, *,
                      labels=(), n_permutations: int = 9999, seed=0) -> pd.DataFrame:
    """Does the excess over the null differ between segment labels?

    For each label other than the reference (the first of ``labels`` present, else
    the first sorted): per dyad, its mean excess in the label minus that in the
    reference (dyads with both); two-sided dyad-level sign-flip test.

    Returns
    -------
    pandas.DataFrame
        Rows of ``models.parquet``: model ``segment_contrast_vs_<null>``, term
        ``<label> - <reference>``, column ``segment`` (the label).
    """
    per_dyad = excess.groupby(["dyad", "segment"])["real_minus_null"].mean().unstack()
    found = list(per_dyad.columns)
    order = [lab for lab in labels if lab in found] + natural_sorted(f for f in found
                                                                    if f not in labels)
    rows = []
    for label in order[1:]:
        d = (per_dyad[label] - per_dyad[order[0]]).dropna().to_numpy()
        if d.size < 2:
            continue
        row = two_sided_dyad_row(
            d, model=f"segment_contrast_vs_{null}", signal=signal, metric=metric,
            term=f"{label} - {order[0]}",
            method=f"difference between segment labels of the excess over {_null_words(null)}",
            n_obs=int(d.size), n_permutations=n_permutations, seed=seed)
        row["segment"] = label
        rows.append(row)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=MODEL_COLUMNS)
