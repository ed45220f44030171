"""Temporal precedence of synchrony and a therapy measure: within-dyad cross-lagged models.

The lagged outcome model (:func:`~interbrain.stats.outcomes.fit_lagged`) regresses
the measure of session ``t + 1`` on synchrony of session ``t`` without the measure
of session ``t``. When the measure drives synchrony (and not the reverse), synchrony
at ``t`` carries the measure's own past and the model reports "synchrony predicts
next-session symptoms" far too often. Here both directions are tested, each
controlling the outcome's own previous value:

(1) ``synchrony -> measure``:
    ``measure_next ~ measure_t + synchrony_t + (1 | dyad)``
(2) ``measure -> synchrony``:
    ``synchrony_next ~ synchrony_t + measure_t + (1 | dyad)``

Data (:func:`cross_lagged_data`)
    For every dyad and session ``t`` with synchrony and the measure at ``t`` and
    at ``t + 1`` exactly (no gaps are bridged), one row of lagged pairs. Each of
    the four columns is then centred within dyad (minus the dyad's mean over the
    rows used) and, with ``detrend``, detrended within dyad (the residuals of the
    dyad's OLS of the column on session), as Falkenström, Finkel, Sandell, Rubel &
    Holmqvist (2017, J. Consult. Clin. Psychol. 85(6):537-549) recommend for
    session-level psychotherapy data: stable between-dyad differences and each
    dyad's linear course over therapy (e.g. symptoms falling while synchrony rises)
    are removed, leaving the session-to-session fluctuations, the within-person
    part of a random-intercept cross-lagged panel model (Hamaker, Kuiper & Grasman
    2015, Psychol. Methods 20(1):102-116). Dyads with too few pairs for that (2
    pairs without detrending, 3 with) are left out: they carry no information.

Fit (:func:`fit_cross_lagged`)
    Each direction is fitted as a mixed model with a random intercept per dyad
    (REML, Satterthwaite or Kenward-Roger df). After within-dyad centring that
    variance is usually estimated at zero (a singular fit); then, or when the fit
    fails, the model is the OLS fixed part with CR2 cluster-robust standard errors
    by dyad and Satterthwaite df (:func:`~interbrain.stats.cluster_robust.
    cluster_robust_ols`). Each direction's ``simplification`` says which.

The bias of short panels and ``p_bootstrap``
    With few sessions per dyad the within-dyad centred lagged regression is biased
    (Nickell 1981); with feedback the bias reaches the cross-lagged coefficient of
    the null direction, and the model-based ``p`` is then far too liberal
    (simulated, 8 dyads x 6 sessions, autoregression 0.4, effect 1.5 running the
    other way, 200 null studies: 34 % and 27 % false positives at alpha 0.05,
    more than the lagged model's 20 %; ``p_bootstrap`` 2.0 % with 199 draws, exact
    level 4 %; :func:`~interbrain.stats.cross_lagged_simulation.
    cross_lagged_calibration`).
    Each direction therefore also gets ``p_bootstrap``, a bias-corrected parametric
    bootstrap test (:mod:`interbrain.stats.cross_lagged_bootstrap`), and
    ``bias_bootstrap``, the coefficient's mean under its null; use ``p_bootstrap``
    to judge the direction of an effect.

Bias-corrected interval
    ``ci_low_bootstrap, ci_high_bootstrap`` invert the same bootstrap test (the
    values of the coefficient it does not reject at 5%), and ``estimate_corrected``
    is the median-unbiased estimate; the interval excludes 0 exactly when
    ``p_bootstrap < 0.05``. An end is infinite when no value on that side is
    rejected: with feedback the simulated estimates stop following the coefficient
    as the process nears non-stationarity, and 8 dyads x 6 sessions then cannot
    bound it (module notes of :mod:`interbrain.stats.cross_lagged_bootstrap`).

Calibration (:func:`~interbrain.stats.cross_lagged_simulation.
cross_lagged_calibration`, tests/test_cross_lagged.py): false-positive rates of
``p_bootstrap``, power and interval coverage under several data-generating
processes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._util import require_columns
from .cluster_robust import ClusterRobustResult, cluster_robust_ols
from .cross_lagged_bootstrap import BOOTSTRAP_METHOD, bootstrap_cross_lagged
from .mixed import LmerResult, lmer
from .outcome_models import check_df_method
from .tables import combine_tables, fit_rows

__all__ = ["CROSS_LAGGED_FORMULAS", "CROSS_LAGGED_SIMPLIFICATIONS", "MIN_DYADS",
           "cross_lagged_data", "fit_cross_lagged", "CrossLaggedResult"]

#: Dyads with lagged pairs needed.
MIN_DYADS = 3
#: Direction (internal name) -> (response, cross-lagged predictor, autoregressor).
_DIRECTIONS = {"synchrony -> measure": ("measure_next", "synchrony_t", "measure_t"),
               "measure -> synchrony": ("synchrony_next", "measure_t", "synchrony_t")}
#: Mixed-model formula of each direction (internal column names).
CROSS_LAGGED_FORMULAS = {k: f"{r} ~ {a} + {x} + (1 | dyad)"
                         for k, (r, x, a) in _DIRECTIONS.items()}
#: ``simplification`` of a direction: mixed model, OLS after a singular fit, OLS
#: after a failed fit.
CROSS_LAGGED_SIMPLIFICATIONS = (
    "",
    "random intercept not identified (singular fit): OLS with CR2 cluster-robust SE "
    "by dyad, Satterthwaite df",
    "mixed model failed: OLS with CR2 cluster-robust SE by dyad, Satterthwaite df")
_LAGGED = ["synchrony_t", "measure_t", "synchrony_next", "measure_next"]


def _within_dyad(values: np.ndarray, session: np.ndarray, dyad: np.ndarray,
                 detrend: bool) -> np.ndarray:
    """``values`` (n, k) centred (and detrended on ``session``) within each ``dyad``
    (codes, rows of a dyad together)."""
    out = np.empty_like(values)
    starts = np.flatnonzero(np.diff(dyad)) + 1
    for rows in np.split(np.arange(len(dyad)), starts) if len(dyad) else ():
        # column-major, as a frame's columns are: the order of the sums
        block = np.asfortranarray(values[rows])
        if detrend:
            s = session[rows]
            design = np.column_stack([np.ones_like(s), s - s.mean()])
            coef, *_ = np.linalg.lstsq(design, block, rcond=None)
            block = block - design @ coef
        else:
            block = block - block.mean(axis=0)
        out[rows] = block
    return out


def cross_lagged_data(sessions: pd.DataFrame, measures: pd.DataFrame, measure: str, *,
                      detrend: bool = True) -> pd.DataFrame:
    """Lagged pairs of synchrony and a measure, centred (and detrended) within dyad.

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``dyad, session, synchrony``, one row per dyad-session.
    measures : pandas.DataFrame
        ``dyad, session`` and the ``measure`` column.
    measure : str
        The measure's column (any name: it is data, never formula text).
    detrend : bool
        Also remove each dyad's linear trend over session (default), not only its
        mean.

    Returns
    -------
    pandas.DataFrame
        One row per dyad and session ``t`` with synchrony and the measure at ``t``
        and at ``t + 1`` exactly: ``dyad, session`` (``t``), ``synchrony_t,
        measure_t, synchrony_next, measure_next`` (within-dyad centred, and
        detrended, over the rows returned), sorted by dyad and session. Dyads with
        fewer than 3 pairs (2 without ``detrend``) are left out.

    Raises
    ------
    ValueError
        For missing columns, non-numeric sessions or duplicated dyad-sessions.
    """
    require_columns(sessions, ["dyad", "session", "synchrony"], "sessions")
    require_columns(measures, ["dyad", "session", measure], "measures")
    both = sessions[["dyad", "session", "synchrony"]].merge(
        measures[["dyad", "session", measure]].set_axis(
            ["dyad", "session", "measure"], axis=1), on=["dyad", "session"], how="inner")
    if not pd.api.types.is_numeric_dtype(both["session"]):
        raise ValueError(f"session must be numeric, got {both['session'].dtype}")
    if both.duplicated(["dyad", "session"]).any():
        raise ValueError("sessions and measures must have one row per dyad and session")
    both = both.dropna(subset=["synchrony", "measure"]).astype(
        {"synchrony": float, "measure": float})
    both = both.sort_values(["dyad", "session"], ignore_index=True)
    dyad = pd.factorize(both["dyad"])[0]                  # -1: missing
    session = both["session"].to_numpy()
    # sessions sorted and unique within dyad: the row of t + 1, if any, follows t's
    rows = np.flatnonzero((dyad[:-1] >= 0) & (dyad[:-1] == dyad[1:])
                          & ((both["session"] - 1).to_numpy()[1:] == session[:-1]))
    min_pairs = 3 if detrend else 2
    rows = rows[np.bincount(dyad[rows], minlength=1)[dyad[rows]] >= min_pairs]
    values = both[["synchrony", "measure"]].to_numpy(float)
    lagged = np.column_stack([values[rows], values[rows + 1]])      # order of _LAGGED
    data = both[["dyad", "session"]].take(rows).reset_index(drop=True)
    data[_LAGGED] = _within_dyad(lagged, session[rows].astype(float), dyad[rows], detrend)
    return data


def _fit_direction(direction: str, data: pd.DataFrame, df_method: str
                   ) -> LmerResult | ClusterRobustResult:
    """One direction: random-intercept mixed model, else CR2 OLS (module notes)."""
    formula = CROSS_LAGGED_FORMULAS[direction]
    options = {} if df_method == "satterthwaite" else {"df_method": df_method}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = lmer(formula, data, reml=True, **options)
        why = ("singular fit" if fit.singular else
               "optimiser did not converge" if not fit.converged else "")
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
        fit, why = None, f"failed ({exc})"
    if not why:
        fit.simplification = CROSS_LAGGED_SIMPLIFICATIONS[0]
        return fit
    rung = 1 if why == "singular fit" else 2
    ols = cluster_robust_ols(formula.partition(" + (")[0], data, "dyad",
                             simplification=CROSS_LAGGED_SIMPLIFICATIONS[rung])
    ols.messages = [f"model {formula!r}: {why}"] + ols.messages
    return ols


@dataclass
class CrossLaggedResult:
    """Both directions of the cross-lagged model of one measure (module notes).

    Attributes
    ----------
    measure : str
        The user's measure name.
    fits : dict
        ``"synchrony -> measure"`` and ``"measure -> synchrony"`` (internal names)
        -> :class:`~interbrain.stats.mixed.LmerResult` or
        :class:`~interbrain.stats.cluster_robust.ClusterRobustResult`, each with
        ``simplification``.
    data : pandas.DataFrame
        The fitted rows (:func:`cross_lagged_data`).
    detrend : bool
    bootstrap : dict
        Direction (internal name) -> result of
        :func:`~interbrain.stats.cross_lagged_bootstrap.bootstrap_cross_lagged`
        (empty with ``n_bootstrap=0``).
    """

    measure: str
    fits: dict = field(default_factory=dict)
    data: pd.DataFrame | None = None
    detrend: bool = True
    bootstrap: dict = field(default_factory=dict)

    def term(self, direction: str) -> str:
        """A direction's name with the user's measure name (``synchrony -> mood``)."""
        return direction.replace("measure", self.measure)

    @property
    def simplification(self) -> dict[str, str]:
        """Direction (user's names) -> ``simplification`` of its fit."""
        return {self.term(d): f.simplification for d, f in self.fits.items()}

    def coefficient(self, direction: str) -> pd.Series:
        """``estimate, std_error, df, t, p`` of a direction's cross-lagged coefficient.

        ``direction`` is ``"synchrony -> measure"`` or ``"measure -> synchrony"``.
        """
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction must be one of {list(_DIRECTIONS)}, got "
                             f"{direction!r}")
        return self.fits[direction].coefficients.loc[_DIRECTIONS[direction][1]]

    def to_frame(self, signal: str = "", metric: str = "") -> pd.DataFrame:
        """Rows of ``models.parquet``: the cross-lagged coefficient of each direction.

        Parameters
        ----------
        signal, metric : str
            What the models were fitted on.

        Returns
        -------
        pandas.DataFrame
            Columns as :func:`~interbrain.stats.tables.fit_rows` (``model`` is
            ``cross_lagged:<measure>``, ``term`` ``synchrony -> <measure>`` or
            ``<measure> -> synchrony``, 95% ``ci_low, ci_high``, ``df_method``,
            ``singular``, ``converged``, ``simplification``, ``n_obs``,
            ``n_groups``; ``ci_low, ci_high`` are the model's), then
            ``p_bootstrap``, ``ci_low_bootstrap``, ``ci_high_bootstrap`` (95%,
            possibly infinite), ``estimate_corrected``, ``bias_bootstrap`` and
            ``n_bootstrap`` (module notes; missing without a bootstrap); ``method``
            says what each is. The autoregressive terms are in :attr:`fits`.
        """
        frames = []
        for direction, fit in self.fits.items():
            rows = fit_rows(f"cross_lagged:{self.measure}", fit, signal, metric)
            rows = rows[rows["term"] == _DIRECTIONS[direction][1]].copy()
            rows["term"] = self.term(direction)
            boot = self.bootstrap.get(direction, {})
            rows["p_bootstrap"] = boot.get("p", np.nan)
            rows["ci_low_bootstrap"] = boot.get("ci_low", np.nan)
            rows["ci_high_bootstrap"] = boot.get("ci_high", np.nan)
            rows["estimate_corrected"] = boot.get("estimate_corrected", np.nan)
            rows["bias_bootstrap"] = boot.get("bias", np.nan)
            rows["n_bootstrap"] = boot.get("n_bootstrap", 0)
            if boot:
                rows["method"] = (rows["method"] + "; "
                                  + BOOTSTRAP_METHOD.format(n=boot["n_bootstrap"]))
            frames.append(rows)
        return combine_tables(frames)

    def summary(self) -> str:
        """Both cross-lagged coefficients, the formulas and simplifications, as text."""
        table = self.to_frame()
        lines = [f"Cross-lagged models of {self.measure!r} (within-dyad centred"
                 f"{' and detrended' if self.detrend else ''}; "
                 f"{table['n_obs'].iloc[0]} lagged pairs of "
                 f"{table['n_groups'].iloc[0]} dyads)",
                 table[["term", "estimate", "std_error", "df", "p", "ci_low",
                        "ci_high", "p_bootstrap", "ci_low_bootstrap", "ci_high_bootstrap",
                        "estimate_corrected"]].to_string(index=False),
                 "p_bootstrap, ci_*_bootstrap, estimate_corrected: bias-corrected "
                 "parametric bootstrap (the model-based p and CI are too liberal with "
                 "feedback and few sessions per dyad)"]
        for direction, fit in self.fits.items():
            lines.append(f"{self.term(direction)}: {fit.labelled_formula}; {fit.method}")
            if fit.simplification:
                lines.append(f"  note: {fit.simplification}")
        return "\n".join(lines)


def fit_cross_lagged(sessions: pd.DataFrame, measures: pd.DataFrame, measure: str, *,
                     detrend: bool = True, df_method: str = "satterthwaite",
                     n_bootstrap: int = 999, seed=None) -> CrossLaggedResult:
    """Cross-lagged models of synchrony and one measure, both directions.

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``dyad, session, synchrony``.
    measures : pandas.DataFrame
        ``dyad, session`` and the ``measure`` column.
    measure : str
    detrend : bool
        Remove each dyad's linear trend as well as its mean (default).
    df_method : {"satterthwaite", "kenward-roger"}
        Denominator df of the mixed models (the CR2 OLS always uses its own
        Satterthwaite df).
    n_bootstrap : int
        Simulated studies of the bias-corrected bootstrap test of each direction
        and of each value tried for its interval (module notes); 0 to skip it,
        else at least 40.
    seed : int or numpy.random.Generator, optional
        For the bootstrap.

    Returns
    -------
    CrossLaggedResult

    Raises
    ------
    ValueError
        For missing columns, an unknown ``df_method`` or fewer than 3 dyads with
        lagged pairs.
    """
    check_df_method(df_method)
    data = cross_lagged_data(sessions, measures, measure, detrend=detrend)
    n = data["dyad"].nunique()
    if n < MIN_DYADS:
        raise ValueError(f"the cross-lagged model of {measure!r} needs at least "
                         f"{MIN_DYADS} dyads with {3 if detrend else 2} or more lagged "
                         f"pairs (sessions t and t + 1 with synchrony and the measure); "
                         f"got {n}")
    labels = {"measure_t": f"{measure}_t", "measure_next": f"{measure}_next"}
    out = CrossLaggedResult(measure=measure, data=data, detrend=detrend)
    for direction in _DIRECTIONS:
        fit = _fit_direction(direction, data, df_method)
        fit.labels = labels
        out.fits[direction] = fit
    rng = np.random.default_rng(seed)
    for direction, (response, predictor, _) in _DIRECTIONS.items() if n_bootstrap else ():
        out.bootstrap[direction] = bootstrap_cross_lagged(
            data, response.partition("_")[0], predictor.partition("_")[0],
            detrend=detrend, n_bootstrap=n_bootstrap, seed=rng)
    return out
