"""Synchrony and therapy outcomes, with confidence intervals and equivalence tests.

Three questions per measure column (e.g. symptoms, alliance):

(a) concurrent, within/between (:func:`fit_within_between`)
    ``measure ~ synchrony_within + synchrony_between + session + (1 | dyad)``
    (REML, Satterthwaite df), ``synchrony_between`` the dyad's mean synchrony over
    the rows used and ``synchrony_within`` the session's deviation from it. The
    within-dyad coefficient answers "in sessions where a dyad synchronises more
    than usual, is the measure higher?" free of between-dyad confounding.

(b) lagged (:func:`fit_lagged`)
    Does synchrony in session ``t`` predict the measure in session ``t + 1``? For
    every dyad and session ``t`` with synchrony, ``measure_next`` is the dyad's
    measure at session ``t + 1`` exactly (no gaps are bridged: a row whose next
    session has no measure is dropped). The within/between split is recomputed
    over the rows entering the model, and the model is
    ``measure_next ~ synchrony_within + synchrony_between + session + (1 | dyad)``
    with ``session`` the predictor session ``t``. (The current measure is not
    adjusted for: with a random intercept that would bring the dynamic-panel
    (Nickell) bias; the within-dyad coefficient of synchrony is the estimate.)

(c) pre-post change (:func:`prepost_change`)
    Per dyad, ``change`` = the measure at its last session minus the measure at its
    first session (among sessions with the measure), regressed by ordinary least
    squares across dyads on each dyad's synchrony slope: ``change ~ slope``, t-test
    with ``n_dyads - 2`` df. The slope is by default each dyad's own OLS slope of
    synchrony over sessions (``slope_source="ols"``: unshrunken, independent of the
    other dyads); pass ``slopes=dyad_slopes(growth_fit)`` to use the growth model's
    fixed slope plus BLUP instead (``slope_source="growth"``).

"No association" and equivalence
    Every coefficient gets a 95% confidence interval from the t quantile with its
    (Satterthwaite, or OLS) df: ``estimate +- t_{0.975, df} * std_error``. For the
    synchrony coefficients, given a smallest effect size of interest (SESOI)
    ``Delta > 0``, the two one-sided tests (TOST) of ``beta <= -Delta`` and
    ``beta >= Delta`` give ``p_equivalence = max(p_lower, p_upper)``;
    ``equivalent`` is ``p_equivalence < alpha`` (alpha 0.05: the 90% CI lies within
    ``+-Delta``). The SESOI is given per measure:

    * ``sesoi_scale="raw"`` (default): in units of the measure per unit of the
      synchrony predictor (per unit synchrony for (a) and (b), per unit of slope,
      i.e. synchrony per session, for (c));
    * ``sesoi_scale="standardized"``: a standardized coefficient (measure SDs per
      predictor SD), converted to raw units as
      ``Delta_raw = Delta_std * SD(response) / SD(predictor)`` with the SDs of the
      rows used (response: the measure, ``measure_next`` or ``change``; predictor:
      ``synchrony_within``, ``synchrony_between`` or the slope).

    The output always states ``sesoi`` (raw units, what the estimate was compared
    with), ``sesoi_scale`` and ``sesoi_input`` (the value given).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from .lmer import LmerResult, lmer, within_between
from .permutation import _require_columns, dyad_ols_slopes

__all__ = ["LAGGED_FORMULA", "equivalence_test", "confidence_interval",
           "fit_within_between", "lagged_data", "fit_lagged", "PrePostResult",
           "prepost_change", "add_equivalence", "OutcomeAnalysis", "analyse_outcomes"]

OUTCOME_TERMS = ("synchrony_within", "synchrony_between")
LAGGED_FORMULA = ("{measure}_next ~ synchrony_within + synchrony_between + session "
                  "+ (1 | dyad)")
SESOI_SCALES = ("raw", "standardized")
MIN_DYADS = 3


def confidence_interval(estimate, std_error, df, level: float = 0.95
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``estimate +- t_{(1+level)/2, df} * std_error`` (normal for infinite df)."""
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    df = np.asarray(df, dtype=float)
    q = np.where(np.isfinite(df), sps.t.ppf(0.5 + level / 2.0, np.where(
        np.isfinite(df) & (df > 0), df, 1.0)), sps.norm.ppf(0.5 + level / 2.0))
    q = np.where(np.isfinite(df) & (df <= 0), np.nan, q)
    return est - q * se, est + q * se


def equivalence_test(estimate: float, std_error: float, df: float, sesoi: float, *,
                     alpha: float = 0.05, level: float = 0.95) -> dict[str, float]:
    """Two one-sided tests (TOST) of ``|beta| < sesoi`` and a confidence interval.

    Parameters
    ----------
    estimate, std_error, df : float
        The coefficient, its standard error and (Satterthwaite) df (``inf``: normal).
    sesoi : float
        Smallest effect size of interest ``Delta > 0``, in the estimate's units.
    alpha : float
        Level of each one-sided test; ``equivalent`` is ``p_equivalence < alpha``.
    level : float
        Coverage of the reported two-sided interval (0.95).

    Returns
    -------
    dict
        ``ci_low, ci_high, sesoi, p_lower, p_upper, p_equivalence, equivalent``.
    """
    if not (isinstance(sesoi, (int, float, np.floating, np.integer))
            and math.isfinite(float(sesoi)) and float(sesoi) > 0):
        raise ValueError(f"the smallest effect size of interest must be a positive "
                         f"number, got {sesoi!r}")
    lo, hi = confidence_interval(estimate, std_error, df, level)
    est, se, sesoi = float(estimate), float(std_error), float(sesoi)
    dist = sps.t(df) if math.isfinite(df) else sps.norm()
    if not (se > 0 and math.isfinite(se)):
        p_lower = p_upper = float("nan")
    else:
        p_lower = float(dist.sf((est + sesoi) / se))   # H0: beta <= -sesoi
        p_upper = float(dist.cdf((est - sesoi) / se))  # H0: beta >= +sesoi
    p_eq = max(p_lower, p_upper)
    return {"ci_low": float(lo), "ci_high": float(hi), "sesoi": sesoi,
            "p_lower": p_lower, "p_upper": p_upper, "p_equivalence": p_eq,
            "equivalent": bool(p_eq < alpha) if math.isfinite(p_eq) else False}


def _sesoi_for(sesoi, measure: str):
    if sesoi is None:
        return None
    if isinstance(sesoi, dict):
        return sesoi.get(measure)
    return sesoi


def _check_scale(scale: str) -> None:
    if scale not in SESOI_SCALES:
        raise ValueError(f"unknown sesoi_scale {scale!r}; use one of {list(SESOI_SCALES)}")


def add_equivalence(coefficients: pd.DataFrame, sesoi: float | None, *,
                    terms=OUTCOME_TERMS, scale: str = "raw", sd_response: float = 1.0,
                    sd_predictors: dict | None = None, alpha: float = 0.05,
                    level: float = 0.95) -> pd.DataFrame:
    """Coefficient table (``term`` column or index) with CI and TOST columns added.

    Adds ``ci_low, ci_high`` to every row and ``sesoi, sesoi_scale, sesoi_input,
    p_equivalence, equivalent`` to the rows of ``terms`` when ``sesoi`` is given
    (NaN / missing elsewhere). With ``scale="standardized"`` the SESOI of term ``k``
    is ``sesoi * sd_response / sd_predictors[k]``.
    """
    _check_scale(scale)
    out = coefficients.copy()
    if "term" not in out.columns:
        out = out.reset_index(names="term")
    lo, hi = confidence_interval(out["estimate"], out["std_error"], out["df"], level)
    out["ci_low"], out["ci_high"] = lo, hi
    out["sesoi"] = np.nan
    out["sesoi_scale"] = pd.Series([None] * len(out), dtype=object, index=out.index)
    out["sesoi_input"] = np.nan
    out["p_equivalence"] = np.nan
    out["equivalent"] = pd.array([pd.NA] * len(out), dtype="boolean")
    if sesoi is None:
        return out
    for i in out.index[out["term"].isin(list(terms))]:
        term = out.at[i, "term"]
        raw = float(sesoi)
        if scale == "standardized":
            sdp = (sd_predictors or {}).get(term, np.nan)
            raw = float(sesoi) * sd_response / sdp if sdp and sdp > 0 else np.nan
        if not (math.isfinite(raw) and raw > 0):
            continue
        eq = equivalence_test(out.at[i, "estimate"], out.at[i, "std_error"],
                              out.at[i, "df"], raw, alpha=alpha, level=level)
        out.at[i, "sesoi"] = raw
        out.at[i, "sesoi_scale"] = scale
        out.at[i, "sesoi_input"] = float(sesoi)
        out.at[i, "p_equivalence"] = eq["p_equivalence"]
        out.at[i, "equivalent"] = eq["equivalent"]
    return out


# ---------------------------------------------------------------------------
# (a) concurrent within/between
# ---------------------------------------------------------------------------

def _measure_columns(measures: pd.DataFrame, measure_columns) -> list[str]:
    _require_columns(measures, ["dyad", "session"], "measures")
    cols = [c for c in measures.columns if c not in ("dyad", "session")] \
        if measure_columns is None else list(measure_columns)
    _require_columns(measures, cols, "measures")
    if not cols:
        raise ValueError("measures has no measure columns besides 'dyad' and 'session'")
    return cols


def _check_dyads(data: pd.DataFrame, what: str, min_dyads: int = MIN_DYADS) -> None:
    n = data["dyad"].nunique()
    if n < min_dyads:
        raise ValueError(f"{what} needs at least {min_dyads} dyads with data; got {n}")


def fit_within_between(sessions: pd.DataFrame, measures: pd.DataFrame, measure: str
                       ) -> LmerResult:
    """Concurrent model (a) for one measure (see the module notes).

    Raises ValueError for missing columns or fewer than 3 dyads with data.
    """
    _require_columns(sessions, ["dyad", "session", "synchrony"], "sessions")
    _require_columns(measures, ["dyad", "session", measure], "measures")
    merged = sessions[["dyad", "session", "synchrony"]].merge(
        measures[["dyad", "session", measure]], on=["dyad", "session"], how="inner")
    merged = merged.dropna(subset=["synchrony", measure]).reset_index(drop=True)
    _check_dyads(merged, f"the outcome model of {measure!r}")
    # the user's measure name is data, never formula text: fitted as "measure"
    merged.columns = ["dyad", "session", "synchrony", "measure"]
    data = within_between(merged, "synchrony", "dyad")
    fit = lmer("measure ~ synchrony_within + synchrony_between + session + (1 | dyad)",
               data, reml=True)
    fit.labels = {"measure": measure}
    return fit


# ---------------------------------------------------------------------------
# (b) lagged
# ---------------------------------------------------------------------------

def lagged_data(sessions: pd.DataFrame, measures: pd.DataFrame, measure: str, *,
                step: int = 1) -> pd.DataFrame:
    """Synchrony of session ``t`` next to the measure of session ``t + step``.

    Returns columns ``dyad, session, synchrony, <measure>_next, synchrony_between,
    synchrony_within`` (the split computed over these rows); rows whose session
    ``t + step`` has no measure are dropped.
    """
    _require_columns(sessions, ["dyad", "session", "synchrony"], "sessions")
    _require_columns(measures, ["dyad", "session", measure], "measures")
    nxt = measures[["dyad", "session", measure]].dropna(subset=[measure]).copy()
    nxt["session"] = nxt["session"] - step
    nxt = nxt.rename(columns={measure: f"{measure}_next"})
    data = sessions[["dyad", "session", "synchrony"]].dropna(subset=["synchrony"]).merge(
        nxt, on=["dyad", "session"], how="inner")
    data = data.sort_values(["dyad", "session"], ignore_index=True)
    if data.empty:
        return data.assign(synchrony_between=[], synchrony_within=[])
    return within_between(data, "synchrony", "dyad")


def fit_lagged(sessions: pd.DataFrame, measures: pd.DataFrame, measure: str, *,
               step: int = 1) -> LmerResult:
    """Lagged model (b): ``measure_next ~ synchrony_within + synchrony_between +
    session + (1 | dyad)`` (see the module notes).

    Raises ValueError for missing columns or fewer than 3 dyads with lagged pairs.
    """
    data = lagged_data(sessions, measures, measure, step=step)
    _check_dyads(data, f"the lagged model of {measure!r}")
    data = data.rename(columns={f"{measure}_next": "measure_next"})
    fit = lmer("measure_next ~ synchrony_within + synchrony_between + session + (1 | dyad)",
               data, reml=True)
    fit.labels = {"measure_next": f"{measure}_next"}
    return fit


# ---------------------------------------------------------------------------
# (c) pre-post change against the synchrony slope
# ---------------------------------------------------------------------------

@dataclass
class PrePostResult:
    """OLS across dyads of the pre-post change of a measure on the synchrony slope.

    ``estimate`` is the change in the measure per unit of synchrony slope; the
    t-test has ``df = n_dyads - 2``. ``data`` holds the per-dyad ``dyad, first,
    last, change, slope``.
    """

    measure: str
    estimate: float
    std_error: float
    df: float
    t: float
    p: float
    intercept: float
    n_dyads: int
    slope_source: str
    time: str
    data: pd.DataFrame = field(repr=False)

    @property
    def formula(self) -> str:
        return f"change({self.measure}) ~ slope"

    @property
    def method(self) -> str:
        src = ("per-dyad OLS synchrony slopes" if self.slope_source == "ols"
               else "growth-model slopes (fixed + BLUP)")
        return (f"OLS across dyads of last-minus-first change on {src}, t-test "
                f"(df = n_dyads - 2)")

    def coefficients(self) -> pd.DataFrame:
        return pd.DataFrame([{"term": "slope", "estimate": self.estimate,
                              "std_error": self.std_error, "df": self.df, "t": self.t,
                              "p": self.p}])


def prepost_change(sessions: pd.DataFrame, measures: pd.DataFrame, measure: str, *,
                   time: str = "linear", slopes: pd.DataFrame | None = None
                   ) -> PrePostResult:
    """Pre-post change (c) of ``measure`` against each dyad's synchrony slope.

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``dyad, session, synchrony``.
    measures : pandas.DataFrame
        ``dyad, session`` and ``measure``.
    time : str
        Time coding of the OLS slopes (``"linear"`` or ``"log"``).
    slopes : pandas.DataFrame, optional
        ``dyad`` and ``slope`` columns (e.g. :func:`~interbrain.stats.growth.
        dyad_slopes`): used instead of the per-dyad OLS slopes.
    """
    _require_columns(measures, ["dyad", "session", measure], "measures")
    m = measures[["dyad", "session", measure]].dropna(subset=[measure])
    m = m.sort_values(["dyad", "session"])
    g = m.groupby("dyad")
    per = pd.DataFrame({"first": g[measure].first(), "last": g[measure].last(),
                        "n_measured": g.size()})
    per = per[per["n_measured"] >= 2]
    per["change"] = per["last"] - per["first"]
    if slopes is None:
        _require_columns(sessions, ["dyad", "session", "synchrony"], "sessions")
        sl = dyad_ols_slopes(sessions, time).set_index("dyad")["ols_slope"]
        source = "ols"
    else:
        _require_columns(slopes, ["dyad", "slope"], "slopes")
        sl = slopes.set_index("dyad")["slope"]
        source = "growth"
    per["slope"] = sl.reindex(per.index)
    per = per.dropna(subset=["change", "slope"]).reset_index(names="dyad")
    n = len(per)
    if n < MIN_DYADS:
        raise ValueError(f"the pre-post model of {measure!r} needs at least {MIN_DYADS} "
                         f"dyads with two measured sessions and a synchrony slope; got {n}")
    x = per["slope"].to_numpy(float)
    y = per["change"].to_numpy(float)
    xc = x - x.mean()
    sxx = float(xc @ xc)
    if sxx <= 0:
        raise ValueError("the synchrony slopes are identical in every dyad; the pre-post "
                         "regression is undefined")
    b = float(xc @ (y - y.mean()) / sxx)
    a = float(y.mean() - b * x.mean())
    resid = y - a - b * x
    df = n - 2
    s2 = float(resid @ resid) / df
    se = math.sqrt(s2 / sxx)
    t = b / se if se > 0 else math.copysign(math.inf, b) if b else float("nan")
    p = float(2 * sps.t.sf(abs(t), df)) if math.isfinite(t) else \
        (0.0 if math.isinf(t) else float("nan"))
    return PrePostResult(measure=measure, estimate=b, std_error=se, df=float(df), t=t,
                         p=p, intercept=a, n_dyads=n, slope_source=source, time=time,
                         data=per[["dyad", "first", "last", "change", "slope"]])


# ---------------------------------------------------------------------------
# everything about outcomes in one call
# ---------------------------------------------------------------------------

def _lmer_rows(fit: LmerResult, sesoi, scale: str, response_col: str, alpha: float
               ) -> pd.DataFrame:
    data = fit._data
    sd_resp = float(data[response_col].std(ddof=1)) if response_col in data else np.nan
    sd_pred = {t: float(data[t].std(ddof=1)) for t in OUTCOME_TERMS if t in data}
    if "synchrony_between" in data:  # SD of the dyad means, one value per dyad
        sd_pred["synchrony_between"] = float(
            data.groupby("dyad")["synchrony_between"].first().std(ddof=1))
    return add_equivalence(fit.coefficients, sesoi, scale=scale, sd_response=sd_resp,
                           sd_predictors=sd_pred, alpha=alpha)


def outcome_rows(fit, sesoi=None, *, sesoi_scale: str = "raw", alpha: float = 0.05
                 ) -> pd.DataFrame:
    """Coefficient rows of an outcome fit with CIs and (given a SESOI) TOST columns.

    ``fit`` is a :class:`LmerResult` from :func:`fit_within_between` or
    :func:`fit_lagged`, or a :class:`PrePostResult`.
    """
    _check_scale(sesoi_scale)
    if isinstance(fit, PrePostResult):
        d = fit.data
        return add_equivalence(fit.coefficients(), sesoi, terms=("slope",),
                               scale=sesoi_scale,
                               sd_response=float(d["change"].std(ddof=1)),
                               sd_predictors={"slope": float(d["slope"].std(ddof=1))},
                               alpha=alpha)
    return _lmer_rows(fit, sesoi, sesoi_scale, fit.response, alpha)


@dataclass
class OutcomeAnalysis:
    """Concurrent, lagged and pre-post outcome models of every measure."""

    within_between: dict = field(default_factory=dict)
    lagged: dict = field(default_factory=dict)
    prepost: dict = field(default_factory=dict)
    sesoi: dict | float | None = None
    sesoi_scale: str = "raw"
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)

    def fits(self) -> dict:
        """Model name -> fit: ``outcome:<m>``, ``lagged:<m>``, ``prepost:<m>``."""
        out = {f"outcome:{k}": v for k, v in self.within_between.items()}
        out.update({f"lagged:{k}": v for k, v in self.lagged.items()})
        out.update({f"prepost:{k}": v for k, v in self.prepost.items()})
        return out

    def table(self, signal: str = "", metric: str = "") -> pd.DataFrame:
        """Rows of ``models.parquet`` with ``ci_low, ci_high, sesoi, sesoi_scale,
        sesoi_input, p_equivalence, equivalent``."""
        from .models import result_table

        return result_table(self.fits(), signal, metric, sesoi=self.sesoi,
                            sesoi_scale=self.sesoi_scale, alpha=self.alpha)


def analyse_outcomes(sessions: pd.DataFrame, measures: pd.DataFrame, *,
                     measure_columns=None, sesoi: dict | float | None = None,
                     sesoi_scale: str = "raw", alpha: float = 0.05, time: str = "linear",
                     slopes: pd.DataFrame | None = None, lagged: bool = True,
                     prepost: bool = True) -> OutcomeAnalysis:
    """All outcome models of every measure; models lacking data are skipped with a note.

    ``sesoi`` is a number (all measures) or a dict ``{measure: value}`` (see the
    module notes for its units); ``slopes`` (``dyad, slope``) switches the pre-post
    model from per-dyad OLS slopes to the given (e.g. growth-model) slopes. The
    OLS slopes follow ``time`` (``"linear"`` or ``"log"``; linear for quadratic).
    """
    _check_scale(sesoi_scale)
    if isinstance(sesoi, dict):
        unknown = [k for k in sesoi if k not in measures.columns]
        if unknown:
            raise ValueError(f"sesoi names unknown measure(s) {unknown}")
    cols = _measure_columns(measures, measure_columns)
    _require_columns(sessions, ["dyad", "session", "synchrony"], "sessions")
    slope_time = "linear" if time == "quadratic" else time
    out = OutcomeAnalysis(sesoi=sesoi, sesoi_scale=sesoi_scale, alpha=alpha)
    for measure in cols:
        for kind, fn, store, on in (
                ("outcome", lambda m: fit_within_between(sessions, measures, m),
                 out.within_between, True),
                ("lagged", lambda m: fit_lagged(sessions, measures, m), out.lagged, lagged),
                ("prepost", lambda m: prepost_change(sessions, measures, m, time=slope_time,
                                                     slopes=slopes), out.prepost, prepost)):
            if not on:
                continue
            try:
                store[measure] = fn(measure)
            except ValueError as exc:
                out.notes.append(f"{kind} model of {measure!r} skipped: {exc}")
    return out
