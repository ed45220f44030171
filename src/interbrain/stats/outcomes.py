"""Synchrony and therapy outcomes, with confidence intervals and equivalence tests.

Three questions per measure column (e.g. symptoms, alliance):

(a) concurrent, within/between (:func:`fit_within_between`)
    ``measure ~ synchrony_within + synchrony_between + session
    + (1 + synchrony_within | dyad)`` (REML, Satterthwaite df by default),
    ``synchrony_between`` the dyad's mean synchrony over the rows used and
    ``synchrony_within`` the session's deviation from it. The within-dyad
    coefficient answers "in sessions where a dyad synchronises more than usual, is
    the measure higher?" free of between-dyad confounding; it is the mean of the
    dyads' within-dyad effects, which may differ between dyads (random slope).

(b) cross-lagged (:func:`~interbrain.stats.cross_lagged.fit_cross_lagged`)
    Does synchrony in session ``t`` predict the measure in session ``t + 1`` beyond
    the measure in session ``t``, and does the measure predict next-session
    synchrony beyond synchrony? Both directions, within dyad (centred and
    detrended), with the bias-corrected bootstrap ``p_bootstrap`` and interval
    (:mod:`interbrain.stats.cross_lagged`). This replaces the lagged model
    :func:`fit_lagged` (``measure_next ~ synchrony_within + synchrony_between +
    session``, no earlier measure, no reverse path), which is kept as a library
    function but no longer fitted by :func:`analyse_outcomes`: when the measure
    drives synchrony, synchrony at ``t`` carries the measure's own past and that
    model reports "synchrony predicts next-session symptoms" far too often (12-20 %
    of null studies at 8 dyads x 6 sessions, tests/test_cross_lagged.py).

The model ladder of (a) and of :func:`fit_lagged`
    Both follow a pre-specified ladder (:mod:`interbrain.stats.outcome_models`):
    (1) the model above, with a correlated random intercept and random slope of
    ``synchrony_within`` per dyad; if that fit is singular (``fit.singular``) or
    fails, (2) ``... + (1 | dyad) + (0 + synchrony_within | dyad)`` (uncorrelated);
    if that is singular too or fails, (3) the OLS fixed part with CR2
    cluster-robust standard errors by dyad and Satterthwaite df (as R's
    clubSandwich; :mod:`interbrain.stats.cluster_robust`). A random intercept alone
    would be far too liberal when the within-dyad effect differs between dyads
    (8 dyads x 6 sessions, null mean effect, between-dyad SD of the effect 0.3 or
    1.0 standardised: 10.8 % and 31.5 % false positives at alpha 0.05). The result's
    ``simplification`` says which rung was used: ``""`` for (1),
    ``"correlation of the random intercept and slope dropped (singular fit)"`` for
    (2), ``"random slope not identified (singular fit): OLS with CR2 cluster-robust
    SE by dyad, Satterthwaite df"`` for (3); its ``messages`` say why rungs were
    skipped. ``df_method`` (``"satterthwaite"`` or ``"kenward-roger"``) chooses the
    denominator df of the mixed-model rungs.

(c) pre-post change (:func:`~interbrain.stats.prepost.prepost_change`)
    Per dyad, the last-minus-first change of the measure regressed across dyads on
    the dyad's synchrony slope (:mod:`interbrain.stats.prepost`).

"No association" and equivalence
    Every coefficient gets a 95% confidence interval and, given a smallest effect
    size of interest, an equivalence test (:mod:`interbrain.stats.equivalence`);
    the cross-lagged rows have their model-based and bias-corrected intervals but no
    equivalence test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .._check import as_generator
from ._util import require_columns
from .cluster_robust import ClusterRobustResult
from .cross_lagged import fit_cross_lagged
from .equivalence import (OUTCOME_TERMS, add_equivalence, check_sesoi_scale, level_sds,
                          sesoi_for)
from .mixed import LmerResult, within_between
from .outcome_models import (FIXED_PART, RANDOM_PARTS, check_df_method,
                             fit_outcome_ladder)
from .prepost import MIN_DYADS, PrePostResult, prepost_change
from .tables import combine_tables, fit_rows

__all__ = ["OUTCOME_FORMULA", "LAGGED_FORMULA", "fit_within_between", "lagged_data",
           "fit_lagged", "outcome_rows", "outcome_fit_rows", "OutcomeAnalysis",
           "analyse_outcomes"]

#: Rung (1) of the concurrent model (``{measure}`` filled in); see the module notes.
OUTCOME_FORMULA = FIXED_PART.replace("{response}", "{measure}") + f" + {RANDOM_PARTS[0]}"
#: Rung (1) of the lagged model.
LAGGED_FORMULA = FIXED_PART.replace("{response}", "{measure}_next") + f" + {RANDOM_PARTS[0]}"
#: An outcome model's fit: a mixed model (rungs 1, 2) or the CR2 OLS (rung 3).
OutcomeFit = LmerResult | ClusterRobustResult


# ---------------------------------------------------------------------------
# (a) concurrent within/between
# ---------------------------------------------------------------------------

def _measure_columns(measures: pd.DataFrame, measure_columns) -> list[str]:
    require_columns(measures, ["dyad", "session"], "measures")
    cols = [c for c in measures.columns if c not in ("dyad", "session")] \
        if measure_columns is None else list(measure_columns)
    require_columns(measures, cols, "measures")
    if not cols:
        raise ValueError("measures has no measure columns besides 'dyad' and 'session'")
    return cols


def _check_dyads(data: pd.DataFrame, what: str, min_dyads: int = MIN_DYADS) -> None:
    n = data["dyad"].nunique()
    if n < min_dyads:
        raise ValueError(f"{what} needs at least {min_dyads} dyads with data; got {n}")


def fit_within_between(sessions: pd.DataFrame, measures: pd.DataFrame, measure: str,
                       *, df_method: str = "satterthwaite") -> OutcomeFit:
    """Concurrent model (a) for one measure, by the model ladder (module notes).

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``dyad, session, synchrony``.
    measures : pandas.DataFrame
        ``dyad, session`` and the ``measure`` column.
    measure : str
    df_method : {"satterthwaite", "kenward-roger"}
        Denominator df of the mixed-model rungs.

    Returns
    -------
    LmerResult or ClusterRobustResult
        With ``simplification`` saying which rung was used.

    Raises ValueError for missing columns or fewer than 3 dyads with data.
    """
    check_df_method(df_method)
    require_columns(sessions, ["dyad", "session", "synchrony"], "sessions")
    require_columns(measures, ["dyad", "session", measure], "measures")
    merged = sessions[["dyad", "session", "synchrony"]].merge(
        measures[["dyad", "session", measure]], on=["dyad", "session"], how="inner")
    merged = merged.dropna(subset=["synchrony", measure]).reset_index(drop=True)
    _check_dyads(merged, f"the outcome model of {measure!r}")
    # the user's measure name is data, never formula text: fitted as "measure"
    merged.columns = ["dyad", "session", "synchrony", "measure"]
    data = within_between(merged, "synchrony", "dyad")
    fit = fit_outcome_ladder("measure", data, df_method=df_method)
    fit.labels = {"measure": measure}
    return fit


# ---------------------------------------------------------------------------
# the lagged model (a library function; analyse_outcomes fits (b) instead)
# ---------------------------------------------------------------------------

def lagged_data(sessions: pd.DataFrame, measures: pd.DataFrame, measure: str, *,
                step: int = 1) -> pd.DataFrame:
    """Synchrony of session ``t`` next to the measure of session ``t + step``.

    Returns columns ``dyad, session, synchrony, <measure>_next, synchrony_between,
    synchrony_within`` (the split computed over these rows); rows whose session
    ``t + step`` has no measure are dropped.
    """
    require_columns(sessions, ["dyad", "session", "synchrony"], "sessions")
    require_columns(measures, ["dyad", "session", measure], "measures")
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
               step: int = 1, df_method: str = "satterthwaite") -> OutcomeFit:
    """Lagged model: ``measure_next ~ synchrony_within + synchrony_between +
    session`` by the model ladder (module notes; no longer fitted by
    :func:`analyse_outcomes`, which fits the cross-lagged models (b) instead).

    ``df_method`` as :func:`fit_within_between`. Raises ValueError for missing
    columns or fewer than 3 dyads with lagged pairs.
    """
    check_df_method(df_method)
    data = lagged_data(sessions, measures, measure, step=step)
    _check_dyads(data, f"the lagged model of {measure!r}")
    data = data.rename(columns={f"{measure}_next": "measure_next"})
    fit = fit_outcome_ladder("measure_next", data, df_method=df_method)
    fit.labels = {"measure_next": f"{measure}_next"}
    return fit


# ---------------------------------------------------------------------------
# (c) pre-post change against the synchrony slope
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# everything about outcomes in one call
# ---------------------------------------------------------------------------

def _lmer_rows(fit: OutcomeFit, sesoi, scale: str, response_col: str, alpha: float
               ) -> pd.DataFrame:
    data = fit._data   # the fitted frame, of a mixed model or of the CR2 OLS
    # each level's effect in that level's SDs: within-dyad SDs of measure and synchrony
    # for synchrony_within, SDs of the dyad means for synchrony_between
    sd_resp, sd_pred = {}, {}
    if response_col in data and "synchrony" in data:
        w_resp, b_resp = level_sds(data[response_col], data["dyad"])
        w_sync, b_sync = level_sds(data["synchrony"], data["dyad"])
        sd_resp = {"synchrony_within": w_resp, "synchrony_between": b_resp}
        sd_pred = {"synchrony_within": w_sync, "synchrony_between": b_sync}
    return add_equivalence(fit.coefficients, sesoi, scale=scale, sd_response=sd_resp,
                           sd_predictors=sd_pred, alpha=alpha)


def outcome_rows(fit, sesoi=None, *, sesoi_scale: str = "raw", alpha: float = 0.05
                 ) -> pd.DataFrame:
    """Coefficient rows of an outcome fit with CIs and (given a SESOI) TOST columns.

    ``fit`` is a :class:`LmerResult` or :class:`ClusterRobustResult` from
    :func:`fit_within_between` or :func:`fit_lagged`, or a :class:`PrePostResult`.
    """
    check_sesoi_scale(sesoi_scale)
    if isinstance(fit, PrePostResult):
        return fit.equivalence_rows(sesoi, sesoi_scale=sesoi_scale, alpha=alpha)
    return _lmer_rows(fit, sesoi, sesoi_scale, fit.response, alpha)


def outcome_fit_rows(name: str, fit: OutcomeFit, signal: str = "", metric: str = "", *,
                     sesoi=None, sesoi_scale: str = "raw", alpha: float = 0.05
                     ) -> pd.DataFrame:
    """Rows of ``models.parquet`` for a fitted outcome model.

    Parameters
    ----------
    name : str
        ``outcome:<measure>`` or ``lagged:<measure>``: the measure's SESOI is
        :func:`sesoi_for` of it.
    fit : LmerResult or ClusterRobustResult
        From :func:`fit_within_between` or :func:`fit_lagged`.
    signal, metric : str
        What the model was fitted on.
    sesoi, sesoi_scale, alpha
        As :func:`outcome_rows` (``sesoi`` a number or ``{measure: value}``).

    Returns
    -------
    pandas.DataFrame
        The coefficients with CI and equivalence columns, ``n_dyads``, ``n_obs``,
        ``n_groups`` (:func:`~interbrain.stats.tables.fit_rows`) and
        ``simplification`` (the rung of the model ladder, module notes). For the
        CR2 OLS rung ``method`` and ``df_method`` are its own
        (:data:`~interbrain.stats.cluster_robust.CR2_METHOD`, ``CR2_DF_METHOD``).
    """
    measure = name.partition(":")[2]
    extra = outcome_rows(fit, sesoi_for(sesoi, measure), sesoi_scale=sesoi_scale,
                         alpha=alpha)
    extra = extra.drop(columns=["term", "estimate", "std_error", "df", "t", "p"])
    rows = fit_rows(name, fit, signal, metric, extra=extra)
    if isinstance(fit, ClusterRobustResult):
        rows["method"] = fit.method
        rows["df_method"] = fit.df_method
    rows["simplification"] = getattr(fit, "simplification", "")
    return rows


@dataclass
class OutcomeAnalysis:
    """Concurrent, cross-lagged and pre-post outcome models of every measure.

    Attributes
    ----------
    within_between : dict
        Measure -> concurrent model (a) (``LmerResult`` or ``ClusterRobustResult``).
    lagged : dict
        Measure -> :class:`~interbrain.stats.cross_lagged.CrossLaggedResult` (b).
    prepost : dict
        Measure -> :class:`~interbrain.stats.prepost.PrePostResult` (c).
    sesoi, sesoi_scale, alpha
        Of the equivalence tests.
    notes : list of str
        Models skipped, and why.
    """

    within_between: dict = field(default_factory=dict)
    lagged: dict = field(default_factory=dict)
    prepost: dict = field(default_factory=dict)
    sesoi: dict | float | None = None
    sesoi_scale: str = "raw"
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)

    def fits(self) -> dict:
        """Model name -> fit: ``outcome:<m>``, ``prepost:<m>`` and, for each direction
        of the cross-lagged model, ``cross_lagged:<m>:synchrony -> <m>`` and
        ``cross_lagged:<m>:<m> -> synchrony`` (an ``LmerResult`` or
        ``ClusterRobustResult``; its bootstrap is in :attr:`lagged`)."""
        out = {f"outcome:{k}": v for k, v in self.within_between.items()}
        for measure, result in self.lagged.items():
            out.update({f"cross_lagged:{measure}:{result.term(direction)}": fit
                        for direction, fit in result.fits.items()})
        out.update({f"prepost:{k}": v for k, v in self.prepost.items()})
        return out

    def to_frame(self, signal: str = "", metric: str = "") -> pd.DataFrame:
        """Rows of ``models.parquet`` of every model, with ``ci_low, ci_high, sesoi,
        sesoi_scale, sesoi_input, p_equivalence, equivalent``; the cross-lagged rows
        (model ``cross_lagged:<m>``, terms ``synchrony -> <m>`` and ``<m> ->
        synchrony``) with ``p_bootstrap, ci_low_bootstrap, ci_high_bootstrap,
        estimate_corrected, bias_bootstrap, n_bootstrap``
        (:meth:`~interbrain.stats.cross_lagged.CrossLaggedResult.to_frame`).

        Parameters
        ----------
        signal, metric : str
            What the models were fitted on.

        Returns
        -------
        pandas.DataFrame
        """
        options = {"sesoi": self.sesoi, "sesoi_scale": self.sesoi_scale, "alpha": self.alpha}
        frames = [outcome_fit_rows(f"outcome:{m}", fit, signal, metric, **options)
                  for m, fit in self.within_between.items()]
        frames += [result.to_frame(signal, metric) for result in self.lagged.values()]
        frames += [fit.to_frame(signal, metric, name=f"prepost:{m}", **options)
                   for m, fit in self.prepost.items()]
        return combine_tables(frames)

    def summary(self) -> str:
        """The synchrony coefficients of every model and the notes, as text.

        Returns
        -------
        str
        """
        table = self.to_frame()
        rows = table[table["term"].isin([*OUTCOME_TERMS, "slope"])
                     | table["model"].str.startswith("cross_lagged:")]
        columns = ["model", "term", "estimate", "std_error", "df", "p", "ci_low", "ci_high",
                   "p_equivalence", "p_bootstrap", "ci_low_bootstrap", "ci_high_bootstrap"]
        lines = [rows.reindex(columns=columns).to_string(index=False)]
        if self.lagged:
            lines.append("cross-lagged: p_bootstrap and ci_*_bootstrap are the bias-"
                         "corrected bootstrap test and interval; use them, not p and "
                         "ci_low/ci_high, to judge the direction of an effect")
        lines += [f"note: {name} fitted with a simpler model: {fit.simplification}"
                  for name, fit in self.fits().items()
                  if getattr(fit, "simplification", "")]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def analyse_outcomes(sessions: pd.DataFrame, measures: pd.DataFrame, *,
                     measure_columns=None, sesoi: dict | float | None = None,
                     sesoi_scale: str = "raw", alpha: float = 0.05, time: str = "linear",
                     slopes: pd.DataFrame | None = None, lagged: bool = True,
                     prepost: bool = True, df_method: str = "satterthwaite",
                     n_bootstrap: int = 999, seed=None) -> OutcomeAnalysis:
    """All outcome models of every measure; models lacking data are skipped with a note.

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``dyad, session, synchrony``.
    measures : pandas.DataFrame
        ``dyad, session`` and the measure columns.
    measure_columns : sequence of str, optional
        The measures to model (default: every column but ``dyad, session``).
    sesoi : float or dict, optional
        A number (all measures) or ``{measure: value}`` (see the module notes for its
        units).
    sesoi_scale : {"raw", "standardized"}
    alpha : float
        Level of the equivalence tests.
    time : {"linear", "log", "quadratic"}
        Time coding of the pre-post model's OLS slopes (linear for quadratic).
    slopes : pandas.DataFrame, optional
        ``dyad, slope``: the pre-post model uses these (e.g. growth-model) slopes
        instead of per-dyad OLS slopes.
    lagged : bool
        Fit the cross-lagged models (b) of every measure.
    prepost : bool
        Fit the pre-post models (c).
    df_method : {"satterthwaite", "kenward-roger"}
        Denominator df of the mixed models (module notes).
    n_bootstrap : int
        Simulated studies of the cross-lagged models' bias-corrected bootstrap
        (:func:`~interbrain.stats.cross_lagged.fit_cross_lagged`; 0 to skip it,
        else at least 40).
    seed : int or numpy.random.Generator, optional
        For that bootstrap (one stream for all measures, in order).

    Returns
    -------
    OutcomeAnalysis
    """
    check_sesoi_scale(sesoi_scale)
    check_df_method(df_method)
    if isinstance(sesoi, dict):
        unknown = [k for k in sesoi if k not in measures.columns]
        if unknown:
            raise ValueError(f"sesoi names unknown measure(s) {unknown}")
    if n_bootstrap and int(n_bootstrap) < 40:
        raise ValueError(f"n_bootstrap must be 0 or at least 40, got {n_bootstrap}")
    cols = _measure_columns(measures, measure_columns)
    require_columns(sessions, ["dyad", "session", "synchrony"], "sessions")
    slope_time = "linear" if time == "quadratic" else time
    rng = as_generator(seed)
    out = OutcomeAnalysis(sesoi=sesoi, sesoi_scale=sesoi_scale, alpha=alpha)
    for measure in cols:
        for kind, fn, store, on in (
                ("outcome", lambda m: fit_within_between(sessions, measures, m,
                                                         df_method=df_method),
                 out.within_between, True),
                ("cross-lagged", lambda m: fit_cross_lagged(
                    sessions, measures, m, df_method=df_method, n_bootstrap=n_bootstrap,
                    seed=rng), out.lagged, lagged),
                ("prepost", lambda m: prepost_change(sessions, measures, m, time=slope_time,
                                                     slopes=slopes), out.prepost, prepost)):
            if not on:
                continue
            try:
                store[measure] = fn(measure)
            except ValueError as exc:
                out.notes.append(f"{kind} model of {measure!r} skipped: {exc}")
    return out
