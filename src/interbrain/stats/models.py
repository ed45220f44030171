"""The study's models: synchrony growth, outcomes, and real versus pseudo-dyads.

Each function takes the tidy synchrony table (one row per dyad x session x channel
pair x signal x pairing, see :mod:`interbrain.engine`) or its session-level summary
and returns fitted models; :func:`model_table` turns them into the rows of
``models.parquet``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from .formula import formula_term
from .lmer import LmerResult, lmer

OUTCOME_FORMULA = "{measure} ~ synchrony_within + synchrony_between + session + (1 | dyad)"
MODEL_COLUMNS = ["model", "signal", "metric", "term", "estimate", "std_error", "df", "t", "p",
                 "method", "formula"]
#: Sample-size columns of every row of ``models.parquet``, right after
#: :data:`MODEL_COLUMNS` (see :func:`result_rows`).
COUNT_COLUMNS = ["n_obs", "n_groups"]


def session_synchrony(synchrony: pd.DataFrame, signal: str, pairing: str = "real",
                      metric: str = "wtc") -> pd.DataFrame:
    """Average synchrony of each dyad-session over its channel pairs.

    Parameters
    ----------
    synchrony : pandas.DataFrame
        The tidy synchrony table (columns ``dyad, session, pair, signal, pairing,
        value``).
    signal : str
        ``"hbo"`` or ``"hbr"``.
    pairing : str
        ``"real"`` or ``"pseudo"``; pseudo rows are averaged per therapist dyad.
    metric : str
        The synchrony metric (``"wtc"``, ``"pearson"``, ...).

    Returns
    -------
    pandas.DataFrame
        Columns ``dyad, session, synchrony, n_pairs``.
    """
    rows = synchrony[(synchrony["signal"] == signal) & (synchrony["pairing"] == pairing)
                     & (synchrony["metric"] == metric)]
    out = (rows.groupby(["dyad", "session"], as_index=False)["value"]
           .agg(synchrony="mean", n_pairs="size"))
    return out.sort_values(["dyad", "session"], ignore_index=True)


def real_vs_pseudo(synchrony: pd.DataFrame, signal: str, metric: str = "wtc"
                   ) -> dict[str, float]:
    """Do real dyads synchronise more than pseudo-dyads?

    Per dyad, the mean synchrony of its real sessions and the mean synchrony of the
    pseudo-dyads its therapist recordings formed; the dyad-level differences are
    tested with a paired t-test and an exact sign-flip permutation test (all
    ``2**n_dyads`` sign patterns, or 20,000 random ones beyond 16 dyads).

    Returns
    -------
    dict
        ``real, pseudo, difference, std_error, df, t, p, p_permutation, n_dyads``.
    """
    real = session_synchrony(synchrony, signal, "real", metric)
    pseudo = session_synchrony(synchrony, signal, "pseudo", metric)
    real = real.groupby("dyad")["synchrony"].mean()
    pseudo = pseudo.groupby("dyad")["synchrony"].mean()
    both = pd.concat({"real": real, "pseudo": pseudo}, axis=1).dropna()
    diff = (both["real"] - both["pseudo"]).to_numpy()
    n = diff.size
    if n < 2:
        raise ValueError("real versus pseudo-dyads needs at least 2 dyads with both")
    mean = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(n))
    t = mean / se if se > 0 else math.copysign(math.inf, mean) if mean else 0.0
    p = float(2 * sps.t.sf(abs(t), n - 1)) if np.isfinite(t) else 0.0
    if n <= 16:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    else:
        signs = np.random.default_rng(0).choice((1.0, -1.0), size=(20_000, n))
    null = np.abs(signs @ diff) / n
    p_perm = float(np.mean(null >= abs(mean) - 1e-15))
    return {"real": float(both["real"].mean()), "pseudo": float(both["pseudo"].mean()),
            "difference": mean, "std_error": se, "df": float(n - 1), "t": float(t), "p": p,
            "p_permutation": p_perm, "n_dyads": n}


def model_table(models: dict[str, LmerResult], signal: str, metric: str = "wtc",
                *, ci: float | None = None) -> pd.DataFrame:
    """Rows of ``models.parquet`` for fitted mixed models.

    Parameters
    ----------
    models : dict
        Model name -> fitted model.
    signal : str
        The haemoglobin signal the models were fitted on.
    metric : str
        The synchrony metric the models were fitted on.
    ci : float, optional
        Add ``ci_low, ci_high``: the two-sided confidence interval of this level
        (e.g. 0.95) from the Satterthwaite t quantile.
    """
    if ci is not None:
        from .outcomes import confidence_interval

        out = model_table(models, signal, metric)
        out["ci_low"], out["ci_high"] = confidence_interval(out["estimate"],
                                                            out["std_error"], out["df"],
                                                            ci)
        return out
    frames = []
    for name, result in models.items():
        coef = result.coefficients.reset_index(names="term")
        coef.insert(0, "model", name)
        coef.insert(1, "signal", signal)
        coef.insert(2, "metric", metric)
        coef["method"] = ("lmer REML, Satterthwaite df" if result.reml
                          else "lmer ML, Satterthwaite df")
        coef["formula"] = result.labelled_formula
        frames.append(coef[MODEL_COLUMNS])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=MODEL_COLUMNS)


def real_vs_pseudo_table(test: dict[str, float], signal: str, metric: str = "wtc"
                         ) -> pd.DataFrame:
    """Rows of ``models.parquet`` for :func:`real_vs_pseudo`."""
    return pd.DataFrame([
        {"model": "real_vs_pseudo", "signal": signal, "metric": metric, "term": "real - pseudo",
         "estimate": test["difference"], "std_error": test["std_error"], "df": test["df"],
         "t": test["t"], "p": test["p"], "method": "paired t-test over dyads",
         "formula": ""},
        {"model": "real_vs_pseudo", "signal": signal, "metric": metric, "term": "real - pseudo",
         "estimate": test["difference"], "std_error": test["std_error"], "df": np.nan,
         "t": np.nan, "p": test["p_permutation"],
         "method": "exact sign-flip permutation over dyads", "formula": ""},
    ], columns=MODEL_COLUMNS)


# ---------------------------------------------------------------------------
# designs beyond the first study
# ---------------------------------------------------------------------------

GENERALISATION_FORMULA = "synchrony ~ phase * partner_role + (1 | patient)"
PHASES = ("pre", "post")
PARTNER_ROLES = ("therapist", "other")


def attach_covariates(sessions: pd.DataFrame, table: pd.DataFrame, on: str = "dyad",
                      columns=None) -> pd.DataFrame:
    """``sessions`` with columns of ``table`` (one row per ``on`` value) added.

    For example the therapist of each dyad and therapist-level covariates
    (``table`` with ``dyad, therapist, burnout``) before
    ``fit_growth(..., therapist="therapist", covariates=["burnout"])``. Raises
    ValueError when ``table`` repeats a key or lacks a value for a key of
    ``sessions``.
    """
    for frame, what in ((sessions, "sessions"), (table, "table")):
        if on not in frame.columns:
            raise ValueError(f"{what} lacks the key column {on!r}")
    cols = [c for c in table.columns if c != on] if columns is None else list(columns)
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing}")
    if table[on].duplicated().any():
        raise ValueError(f"table has several rows for some {on!r} values: "
                         f"{sorted(table.loc[table[on].duplicated(), on].astype(str))[:5]}")
    clash = [c for c in cols if c in sessions.columns]
    if clash:
        raise ValueError(f"sessions already has column(s) {clash}")
    out = sessions.merge(table[[on] + cols], on=on, how="left", validate="many_to_one")
    lacking = sorted(out.loc[out[cols].isna().any(axis=1), on].astype(str).unique())
    if lacking:
        raise ValueError(f"no {cols} for {on} {lacking[:5]}")
    return out


class GeneralisationResult:
    """Generalisation model and its contrasts (see :func:`fit_generalisation`).

    Attributes
    ----------
    fit : LmerResult
    contrasts : pandas.DataFrame
        ``term, estimate, std_error, df, t, p``: ``post - pre | therapist``,
        ``post - pre | other`` (the generalisation question) and
        ``(post - pre | other) - (post - pre | therapist)`` (when both roles are
        present).
    """

    def __init__(self, fit: LmerResult, contrasts: pd.DataFrame):
        self.fit = fit
        self.contrasts = contrasts

    def table(self, signal: str = "", metric: str = "", name: str = "generalisation",
              ci: float = 0.95) -> pd.DataFrame:
        from .outcomes import confidence_interval

        rows = model_table({name: self.fit}, signal, metric)
        con = self.contrasts.copy()
        con.insert(0, "model", name)
        con.insert(1, "signal", signal)
        con.insert(2, "metric", metric)
        con["method"] = "lmer REML contrast, Satterthwaite df"
        con["formula"] = self.fit.formula
        out = pd.concat([rows, con[MODEL_COLUMNS]], ignore_index=True)
        out["ci_low"], out["ci_high"] = confidence_interval(out["estimate"],
                                                            out["std_error"], out["df"],
                                                            ci)
        return out


def fit_generalisation(pairings: pd.DataFrame, *, partner: str | None = None
                       ) -> GeneralisationResult:
    """Does a patient's synchrony with partners other than the therapist change
    from before to after treatment?

    Fits ``synchrony ~ phase * partner_role + (1 | patient)`` by REML with
    Satterthwaite df, ``phase`` coded ``pre`` (reference) / ``post`` and
    ``partner_role`` ``therapist`` (reference) / ``other``. So ``phase[T.post]`` is
    the pre-to-post change with the therapist, and the generalisation question is
    the contrast ``post - pre | other`` = ``phase[T.post] +
    phase[T.post]:partner_role[T.other]``; the interaction asks whether the change
    with others differs from the change with the therapist. With only ``other``
    partners the model is ``synchrony ~ phase + (1 | patient)``.

    Parameters
    ----------
    pairings : pandas.DataFrame
        One row per recording pair: ``patient``, ``partner_role`` (``"therapist"``
        or ``"other"``), ``phase`` (``"pre"`` or ``"post"``), ``synchrony``.
    partner : str, optional
        Column of partner ids: adds a crossed ``(1 | partner)`` when it holds more
        than one partner.
    """
    needed = ["patient", "partner_role", "phase", "synchrony"] + ([partner] if partner
                                                                   else [])
    missing = [c for c in needed if c not in pairings.columns]
    if missing:
        raise ValueError(f"pairings lacks column(s) {missing}; it has "
                         f"{sorted(map(str, pairings.columns))}")
    data = pairings.dropna(subset=needed).reset_index(drop=True)
    for col, allowed in (("phase", PHASES), ("partner_role", PARTNER_ROLES)):
        bad = sorted(set(data[col].astype(str)) - set(allowed))
        if bad:
            raise ValueError(f"{col} must be one of {list(allowed)}; got {bad}")
        data[col] = pd.Categorical(data[col].astype(str), categories=list(allowed))
    if set(data["phase"]) != set(PHASES):
        raise ValueError("the generalisation model needs both 'pre' and 'post' rows")
    if "other" not in set(data["partner_role"]):
        raise ValueError("the generalisation model needs rows with partner_role 'other'")
    n_patients = data["patient"].nunique()
    if n_patients < 2:
        raise ValueError(f"the generalisation model needs at least 2 patients; got "
                         f"{n_patients}")
    both_roles = set(data["partner_role"]) == set(PARTNER_ROLES)
    if not both_roles:
        data["partner_role"] = data["partner_role"].astype(str)
    formula = GENERALISATION_FORMULA if both_roles else \
        "synchrony ~ phase + (1 | patient)"
    if partner and data[partner].nunique() > 1:
        formula += f" + (1 | {formula_term(partner)})"
    fit = lmer(formula, data, reml=True)
    post, inter = "phase[T.post]", "phase[T.post]:partner_role[T.other]"
    rows = []
    if both_roles:
        rows.append(("post - pre | therapist", {post: 1.0}))
        rows.append(("post - pre | other", {post: 1.0, inter: 1.0}))
        rows.append(("(post - pre | other) - (post - pre | therapist)", {inter: 1.0}))
    else:
        rows.append(("post - pre | other", {post: 1.0}))
    con = pd.DataFrame([{"term": name, **fit.contrast(L).to_dict()} for name, L in rows])
    return GeneralisationResult(fit, con)


# ---------------------------------------------------------------------------
# any result -> rows of models.parquet
# ---------------------------------------------------------------------------

_BOOL_COLUMNS = ("equivalent", "significant")


def mixed_model_groups(fit: LmerResult) -> int:
    """``n_groups`` of a mixed model: the number of dyads it was fitted to.

    That is the number of levels of its ``dyad`` grouping factor (``patient`` in the
    generalisation model, one patient per dyad); for a model grouped by neither, the
    largest number of levels of its grouping factors. Other factors (e.g. the
    crossed ``therapist``) are in :attr:`LmerResult.ngroups`.
    """
    groups = fit.ngroups
    for name in ("dyad", "patient"):
        if name in groups:
            return int(groups[name])
    return int(max(groups.values()))


def _with_counts(out: pd.DataFrame, n_obs, n_groups) -> pd.DataFrame:
    out["n_obs"] = n_obs
    out["n_groups"] = n_groups
    return out


def _lmer_result_rows(name: str, fit: LmerResult, signal: str, metric: str, sesoi,
                      sesoi_scale: str, alpha: float) -> pd.DataFrame:
    from .outcomes import _sesoi_for, outcome_rows

    base = model_table({name: fit}, signal, metric)
    kind, _, measure = name.partition(":")
    if kind in ("outcome", "lagged") and measure:
        extra = outcome_rows(fit, _sesoi_for(sesoi, measure), sesoi_scale=sesoi_scale,
                             alpha=alpha)
        extra = extra.drop(columns=["term", "estimate", "std_error", "df", "t", "p"])
        return pd.concat([base, extra.reset_index(drop=True)], axis=1)
    return model_table({name: fit}, signal, metric, ci=0.95)


def _permutation_rows(name, res, signal, metric) -> pd.DataFrame:
    return pd.DataFrame([{
        "model": name, "signal": signal, "metric": metric, "term": res.term,
        "estimate": res.estimate, "std_error": np.nan, "df": np.nan,
        "t": res.statistic, "p": res.p, "method": res.method, "formula": res.formula,
        "statistic": res.statistic, "n_permutations": res.n_permutations,
        "n_dyads": res.n_dyads}])


def _prepost_rows(name, res, signal, metric, sesoi, sesoi_scale, alpha) -> pd.DataFrame:
    from .outcomes import _sesoi_for, outcome_rows

    rows = outcome_rows(res, _sesoi_for(sesoi, res.measure), sesoi_scale=sesoi_scale,
                        alpha=alpha)
    rows.insert(0, "model", name)
    rows.insert(1, "signal", signal)
    rows.insert(2, "metric", metric)
    rows["method"] = res.method
    rows["formula"] = res.formula
    rows["n_dyads"] = res.n_dyads
    return rows[MODEL_COLUMNS + [c for c in rows.columns if c not in MODEL_COLUMNS]]


def result_rows(name: str, result, signal: str = "", metric: str = "", *,
                sesoi=None, sesoi_scale: str = "raw", alpha: float = 0.05
                ) -> pd.DataFrame:
    """Rows of ``models.parquet`` for one result of any of the study's analyses.

    ``result`` may be a fitted model (:class:`LmerResult`: coefficients with 95%
    CIs; for names ``outcome:<measure>`` and ``lagged:<measure>`` also the
    equivalence columns), a likelihood-ratio comparison ``(reduced, full,
    LRTResult)`` from :func:`~interbrain.stats.growth.compare_growth`, a
    :class:`~interbrain.stats.permutation.PermutationResult`, a
    :class:`~interbrain.stats.outcomes.PrePostResult`, a
    :class:`GeneralisationResult`, the dict of :func:`real_vs_pseudo`, a
    :class:`~interbrain.stats.growth.GrowthAnalysis` /
    :class:`~interbrain.stats.outcomes.OutcomeAnalysis`, or an already tidy table
    (e.g. :func:`~interbrain.stats.multiple.pairwise_tests`).

    The first columns are always :data:`MODEL_COLUMNS`, then :data:`COUNT_COLUMNS`:
    ``n_obs``, the observations the model was fitted to or the test statistic
    computed from, and ``n_groups``, the dyads they come from. For mixed models
    (and their likelihood-ratio tests and contrasts) ``n_obs`` is the fit's
    ``nobs`` (dyad-sessions, or recording pairs in the generalisation model) and
    ``n_groups`` is :func:`mixed_model_groups`; for tests over per-dyad summaries
    (slopes, mean differences, pre-post changes: the slope permutation test with
    its OLS t, :func:`real_vs_pseudo`, the pre-post OLS, tidy tables with an
    ``n_dyads`` column such as the per-unit tests) both are the number of dyads.
    Extra columns depend on the result (``ci_low, ci_high``, ``sesoi, sesoi_scale,
    sesoi_input, p_equivalence, equivalent``, ``statistic``, ``p_adjusted,
    correction``, ...).
    ``sesoi`` is a number or a ``{measure: value}`` dict (see
    :mod:`interbrain.stats.outcomes`).
    """
    from .growth import GrowthAnalysis, lrt_table
    from .lmer import LRTResult
    from .outcomes import OutcomeAnalysis, PrePostResult
    from .permutation import PermutationResult

    if isinstance(result, LmerResult):
        out = _lmer_result_rows(name, result, signal, metric, sesoi, sesoi_scale, alpha)
        groups = result.ngroups.get("dyad", result.ngroups.get("patient"))
        out["n_dyads"] = float(groups) if groups is not None else np.nan
        out = _with_counts(out, result.nobs, mixed_model_groups(result))
    elif isinstance(result, tuple) and len(result) == 3 and isinstance(result[2],
                                                                       LRTResult):
        key = name[4:] if name.startswith("lrt:") else name
        full = result[1]
        out = _with_counts(lrt_table({key: result}, signal, metric), full.nobs,
                           mixed_model_groups(full))
    elif isinstance(result, PermutationResult):
        n_obs = result.n_obs if result.n_obs is not None else result.n_dyads
        out = _with_counts(_permutation_rows(name, result, signal, metric), n_obs,
                           result.n_dyads)
    elif isinstance(result, PrePostResult):
        out = _with_counts(_prepost_rows(name, result, signal, metric, sesoi, sesoi_scale,
                                         alpha), result.n_dyads, result.n_dyads)
    elif isinstance(result, GeneralisationResult):
        out = _with_counts(result.table(signal, metric, name=name), result.fit.nobs,
                           mixed_model_groups(result.fit))
    elif isinstance(result, GrowthAnalysis):
        out = result.table(signal, metric, name=name)
    elif isinstance(result, OutcomeAnalysis):
        out = result.table(signal, metric)
    elif isinstance(result, dict) and "difference" in result and "p_permutation" in result:
        out = _with_counts(real_vs_pseudo_table(result, signal, metric), result["n_dyads"],
                           result["n_dyads"])
    elif isinstance(result, pd.DataFrame):
        missing = [c for c in MODEL_COLUMNS if c not in result.columns]
        if missing:
            raise ValueError(f"table {name!r} lacks model column(s) {missing}")
        out = result.copy()
        if signal:
            out["signal"] = out["signal"].replace("", signal).fillna(signal)
        if metric:
            out["metric"] = out["metric"].replace("", metric).fillna(metric)
        if "n_dyads" in out.columns:   # a test over dyads (e.g. per-unit tests)
            for col in COUNT_COLUMNS:
                out[col] = out[col].fillna(out["n_dyads"]) if col in out.columns \
                    else out["n_dyads"]
    else:
        raise ValueError(f"cannot turn {type(result).__name__} ({name!r}) into model rows")
    return out


def combine_tables(frames) -> pd.DataFrame:
    """Concatenate tidy tables: ``MODEL_COLUMNS`` and ``COUNT_COLUMNS`` first (counts
    as pandas' nullable ``Int64``, missing where a table gave none), then the union
    of the extra columns; boolean flags as pandas' nullable ``boolean``
    (parquet-safe)."""
    frames = [f for f in frames if f is not None and len(f.columns)]
    if not frames:
        return pd.DataFrame(columns=MODEL_COLUMNS + COUNT_COLUMNS)
    frames = [f for f in frames if len(f)] or frames[:1]
    out = pd.concat(frames, ignore_index=True)
    for col in _BOOL_COLUMNS:
        if col in out.columns:
            out[col] = out[col].astype("boolean")
    for col in COUNT_COLUMNS:
        out[col] = (out[col] if col in out.columns else pd.NA)
        out[col] = pd.to_numeric(out[col]).astype("Int64")
    extra = [c for c in out.columns if c not in MODEL_COLUMNS + COUNT_COLUMNS]
    return out[MODEL_COLUMNS + COUNT_COLUMNS + extra]


def result_table(results: dict, signal: str = "", metric: str = "", *, sesoi=None,
                 sesoi_scale: str = "raw", alpha: float = 0.05) -> pd.DataFrame:
    """Rows of ``models.parquet`` for a dict name -> result (see :func:`result_rows`)."""
    return combine_tables([result_rows(name, res, signal, metric, sesoi=sesoi,
                                       sesoi_scale=sesoi_scale, alpha=alpha)
                           for name, res in results.items()])
