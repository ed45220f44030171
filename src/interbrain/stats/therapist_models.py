"""The two therapist models of :mod:`interbrain.stats.therapist_effects`: the
therapist x time interaction in the growth of synchrony and the variance components
with a therapist intercept (see that module's notes), and the checks and internal
codes of their data (:func:`therapist_design`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from .._check import check_option, shorten
from ..nulls.dyad_tests import confidence_interval
from ._util import require_columns
from .mixed import LmerResult, likelihood_ratio_test, lmer
from .mixed.kenward_roger import lb_ddf
from .time_codings import SLOPE_TIMES, TIME_CODINGS, check_time

__all__ = ["RANDOM_SLOPE_MIN_THERAPISTS", "INTERACTION_KINDS", "OWN_THERAPIST_NOTE",
           "TherapistDesign", "therapist_design", "InteractionTest",
           "therapist_interaction", "VarianceShare", "therapist_variance", "f_test",
           "mixture_pvalue"]

#: Therapists from which the interaction is a random slope per therapist.
RANDOM_SLOPE_MIN_THERAPISTS = 5

#: ``interaction`` options of :func:`therapist_interaction`.
INTERACTION_KINDS: tuple[str, ...] = ("auto", "fixed", "random")

OWN_THERAPIST_NOTE = ("every dyad has its own therapist: a therapist's growth and level "
                      "cannot be separated from the dyad's, so no therapist x session "
                      "interaction and no therapist variance are estimated")


@dataclass(frozen=True)
class TherapistDesign:
    """Session-level synchrony under internal codes (:func:`therapist_design`).

    Attributes
    ----------
    data : pandas.DataFrame
        ``dyad, session, therapist, synchrony`` with dyads and therapists as codes.
    therapist_labels : dict
        Therapist code -> the user's id.
    dyad_labels : dict
        Dyad code -> the user's id.
    """

    data: pd.DataFrame
    therapist_labels: dict
    dyad_labels: dict

    @property
    def n_dyads(self) -> int:
        return int(self.data["dyad"].nunique())

    @property
    def n_therapists(self) -> int:
        return int(self.data["therapist"].nunique())

    @property
    def own_therapist(self) -> bool:
        """Whether every dyad has its own therapist (no therapist treats two)."""
        return self.n_therapists == self.n_dyads


def _codes(values: pd.Series, prefix: str) -> tuple[pd.Series, dict]:
    """Internal codes of user ids, sorted by their text."""
    levels = sorted(pd.unique(values), key=lambda v: (str(v), type(v).__name__))
    width = max(2, len(str(len(levels))))
    code = {v: f"{prefix}{k + 1:0{width}d}" for k, v in enumerate(levels)}
    return values.map(code), {c: v for v, c in code.items()}


def therapist_design(sessions: pd.DataFrame) -> TherapistDesign:
    """Check session-level synchrony with therapists and code its ids.

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``dyad, session, therapist, synchrony``; rows with a missing value are
        dropped.

    Returns
    -------
    TherapistDesign

    Raises
    ------
    ValueError
        Missing columns, non-numeric sessions or synchrony, fewer than 2 dyads,
        a dyad with more than one therapist, or fewer than 2 therapists.
    """
    require_columns(sessions, ["dyad", "session", "therapist", "synchrony"], "sessions")
    data = sessions[["dyad", "session", "therapist", "synchrony"]].dropna()
    for col in ("session", "synchrony"):
        try:
            data[col] = pd.to_numeric(data[col]).astype(float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"sessions column {col!r} must be numeric ({exc})") from None
        if not np.isfinite(data[col]).all():
            raise ValueError(f"sessions column {col!r} has infinite values")
    n_dyads = data["dyad"].nunique()
    if n_dyads < 2:
        raise ValueError(f"therapist effects need at least 2 dyads with synchrony; got "
                         f"{n_dyads}")
    per_dyad = data.groupby("dyad", sort=False)["therapist"].nunique()
    if (per_dyad > 1).any():
        shown = ", ".join(shorten(str(d)) for d in per_dyad.index[per_dyad > 1][:5])
        raise ValueError(f"dyad(s) {shown} have more than one therapist; each dyad must "
                         f"have a single therapist")
    n_therapists = data["therapist"].nunique()
    if n_therapists < 2:
        raise ValueError(f"therapist effects need at least 2 therapists; got "
                         f"{n_therapists}: with one therapist nothing can differ between "
                         f"therapists")
    data = data.reset_index(drop=True)
    data["therapist"], t_labels = _codes(data["therapist"], "T")
    data["dyad"], d_labels = _codes(data["dyad"], "D")
    return TherapistDesign(data=data, therapist_labels=t_labels, dyad_labels=d_labels)


# ---------------------------------------------------------------------------
# tests of several fixed-effect contrasts
# ---------------------------------------------------------------------------

def _combined_ddf(nu: np.ndarray) -> float:
    """lmerTest's ``get_Fstat_ddf``: one denominator df from the eigen-contrasts'."""
    nu = np.asarray(nu, dtype=float)
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < 1e-8):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    e = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * e / (e - nu.size)


def f_test(fit: LmerResult, L: np.ndarray) -> tuple[float, int, float, float]:
    """F test of ``L beta = 0`` with the fit's small-sample degrees of freedom.

    Satterthwaite: as lmerTest's ``contestMD`` (eigen-contrasts of ``L vcov L'``,
    each with its Satterthwaite df, combined by :func:`_combined_ddf`).
    Kenward-Roger: ``F = (L b)' (L Phi_A L')^-1 (L b) / q`` with the adjusted
    covariance ``Phi_A`` and pbkrtest's ``Lb_ddf`` (unscaled, as lmerTest).

    Parameters
    ----------
    fit : LmerResult
    L : numpy.ndarray, shape (q, p)
        Contrast matrix of full row rank over the fixed effects.

    Returns
    -------
    F, q, ddf, p : float, int, float, float
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    beta = fit.coefficients["estimate"].to_numpy()
    V = fit.vcov.to_numpy()
    q = L.shape[0]
    kr = getattr(fit, "_kenward_roger", None)
    if kr is not None:
        Lb = L @ beta
        F = float(Lb @ np.linalg.solve(L @ V @ L.T, Lb)) / q
        ddf = lb_ddf(L, kr.vcov, kr.P, kr.W)
    else:
        d, P = np.linalg.eigh(L @ V @ L.T)
        PtL = P.T @ L
        F = float(np.sum((PtL @ beta) ** 2 / d)) / q
        ddf = _combined_ddf(np.array([float(fit.contrast(row)["df"]) for row in PtL]))
    p = float(sps.f.sf(F, q, ddf)) if np.isfinite(ddf) and ddf > 0 else \
        float(sps.chi2.sf(F * q, q))
    return F, q, float(ddf), p


def mixture_pvalue(chi2: float, df_low: int, df_high: int) -> float:
    """p-value of a likelihood-ratio statistic against the 50:50 mixture of
    chi-square(``df_low``) and chi-square(``df_high``) (chi-square(0): a point mass
    at 0)."""
    low = float(chi2 <= 0) if df_low == 0 else float(sps.chi2.sf(chi2, df_low))
    if df_low == 0 and chi2 > 0:
        low = 0.0
    return 0.5 * low + 0.5 * float(sps.chi2.sf(chi2, df_high))


# ---------------------------------------------------------------------------
# (a) therapist x session interaction
# ---------------------------------------------------------------------------

@dataclass
class InteractionTest:
    """Result of :func:`therapist_interaction`.

    Attributes
    ----------
    kind : {"fixed", "random"}
    statistic : float
        F (fixed) or the likelihood-ratio chi-square (random).
    df_num : float
        Numerator df of F (``K - 1``) or the parameters added (2).
    df : float
        Denominator df of F (NaN for the random slope).
    p : float
    estimate : float
        NaN (fixed) or the SD of the therapists' slopes in the full ML fit (random).
    method : str
    full : LmerResult
    reduced : LmerResult or None
        The random-slope test's null model.
    slopes : pandas.DataFrame
        Fixed: each therapist's slope (``therapist, estimate, std_error, df, t, p,
        ci_low, ci_high``); random: empty.
    notes : list of str
    """

    kind: str
    statistic: float
    df_num: float
    df: float
    p: float
    estimate: float
    method: str
    full: LmerResult
    reduced: LmerResult | None
    slopes: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _fit_with_fallback(formula: str, data: pd.DataFrame, slope: str, reml: bool,
                       df_method: str = "satterthwaite") -> LmerResult:
    """Fit; when the dyads' random slope is not identified, the dyad intercept only."""
    dyad_slope = f"(1 + {slope} | dyad)"
    if len(data) > 2 * data["dyad"].nunique():
        try:
            return lmer(formula, data, reml=reml, df_method=df_method)
        except ValueError as exc:
            if "random-effects" not in str(exc) and "unidentifiable" not in str(exc):
                raise
    fit = lmer(formula.replace(dyad_slope, "(1 | dyad)"), data, reml=reml,
               df_method=df_method)
    fit.simplification = "random slope per dyad not identified: random intercept per dyad"
    return fit


def _interaction_kind(interaction: str, n_therapists: int) -> str:
    check_option(interaction, "interaction", INTERACTION_KINDS)
    if interaction != "auto":
        return interaction
    return "random" if n_therapists >= RANDOM_SLOPE_MIN_THERAPISTS else "fixed"


def therapist_interaction(sessions: pd.DataFrame | TherapistDesign, *,
                          time: str = "linear", df_method: str = "satterthwaite",
                          interaction: str = "auto") -> InteractionTest:
    """Does the growth of synchrony differ between therapists?

    See the module notes for the two tests.

    Parameters
    ----------
    sessions : pandas.DataFrame or TherapistDesign
        ``dyad, session, therapist, synchrony`` (one row per dyad-session).
    time : {"linear", "log"}
        Time coding of the growth (:mod:`~interbrain.stats.time_codings`).
    df_method : {"satterthwaite", "kenward-roger"}
        Denominator df of the fixed-effects F test.
    interaction : {"auto", "fixed", "random"}
        ``"auto"``: fixed effects with fewer than
        :data:`RANDOM_SLOPE_MIN_THERAPISTS` therapists, a random slope otherwise.

    Returns
    -------
    InteractionTest

    Raises
    ------
    ValueError
        Bad input (:func:`therapist_design`), quadratic time, or every dyad with its
        own therapist (nothing to separate).
    """
    design = sessions if isinstance(sessions, TherapistDesign) else \
        therapist_design(sessions)
    time = check_time(time, SLOPE_TIMES)
    if design.own_therapist:
        raise ValueError(OWN_THERAPIST_NOTE)
    kind = _interaction_kind(interaction, design.n_therapists)
    data = design.data
    if time == "log" and (data["session"] <= 0).any():
        raise ValueError("time='log' needs session numbers > 0 (log(session))")
    if data["session"].nunique() < 2:
        raise ValueError("growth needs at least 2 distinct sessions")
    coding = TIME_CODINGS[time]
    slope = coding.random_slope
    if kind == "fixed":
        return _fixed_interaction(design, coding.fixed, slope, df_method)
    return _random_interaction(design, coding.fixed, slope)


def _fixed_interaction(design: TherapistDesign, fixed: str, slope: str,
                       df_method: str) -> InteractionTest:
    data = design.data
    formula = f"synchrony ~ {fixed} * C(therapist) + (1 + {slope} | dyad)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = _fit_with_fallback(formula, data, slope, True, df_method)
    names = list(fit.coefficients.index)
    codes = sorted(data["therapist"].unique())
    inter = [f"{slope}:C(therapist)[T.{c}]" for c in codes[1:]]
    missing = [n for n in inter if n not in names]
    if missing:  # pragma: no cover - patsy's naming is fixed
        raise RuntimeError(f"interaction terms {missing} not in {names}")
    L = np.zeros((len(inter), len(names)))
    for k, name in enumerate(inter):
        L[k, names.index(name)] = 1.0
    F, q, ddf, p = f_test(fit, L)
    rows = []
    for k, code in enumerate(codes):
        weights = {slope: 1.0}
        if k:
            weights[inter[k - 1]] = 1.0
        res = fit.contrast(weights)
        low, high = confidence_interval(res["estimate"], res["std_error"], res["df"])
        rows.append({"therapist": design.therapist_labels[code], **res.to_dict(),
                     "ci_low": float(low), "ci_high": float(high)})
    method = (f"F test of the {q} therapist x time interaction terms, {fit.method} "
              f"({'unscaled F, pbkrtest Lb_ddf' if fit.df_method == 'Kenward-Roger' else 'lmerTest contestMD'})")
    return InteractionTest(kind="fixed", statistic=F, df_num=float(q), df=ddf, p=p,
                           estimate=float("nan"), method=method, full=fit, reduced=None,
                           slopes=pd.DataFrame(rows), notes=list(fit.messages))


def _random_interaction(design: TherapistDesign, fixed: str, slope: str
                        ) -> InteractionTest:
    data = design.data
    full_formula = (f"synchrony ~ {fixed} + (1 + {slope} | dyad) "
                    f"+ (1 + {slope} | therapist)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        full = _fit_with_fallback(full_formula, data, slope, False)
        reduced_formula = full.formula.replace(f"(1 + {slope} | therapist)",
                                               "(1 | therapist)")
        reduced = lmer(reduced_formula, data, reml=False)
    lrt = likelihood_ratio_test(reduced, full)
    p = mixture_pvalue(lrt.chi2, lrt.df - 1, lrt.df)
    vc = full.variance_components
    row = vc[(vc["grp"] == "therapist") & (vc["var1"] == slope) & vc["var2"].isna()]
    sd = float(row["sdcor"].iloc[0]) if len(row) else float("nan")
    method = (f"likelihood-ratio test of the therapists' random slope (variance and "
              f"covariance), ML fits, reference 50:50 mixture of chi-square({lrt.df - 1}) "
              f"and chi-square({lrt.df}) (boundary; conservative with few "
              f"therapists); estimate: SD of the therapists' slopes (ML)")
    return InteractionTest(kind="random", statistic=lrt.chi2, df_num=float(lrt.df),
                           df=float("nan"), p=p, estimate=sd, method=method, full=full,
                           reduced=reduced, slopes=pd.DataFrame(),
                           notes=list(full.messages))


# ---------------------------------------------------------------------------
# (b) share of the variance between therapists
# ---------------------------------------------------------------------------

@dataclass
class VarianceShare:
    """Result of :func:`therapist_variance`: REML variance components (synchrony
    units squared) and the therapist's and dyad's shares of their total."""

    therapist_variance: float
    dyad_variance: float
    residual_variance: float
    fit: LmerResult

    @property
    def total(self) -> float:
        return self.therapist_variance + self.dyad_variance + self.residual_variance

    @property
    def therapist_share(self) -> float:
        return self.therapist_variance / self.total if self.total > 0 else float("nan")

    @property
    def dyad_share(self) -> float:
        return self.dyad_variance / self.total if self.total > 0 else float("nan")


def therapist_variance(sessions: pd.DataFrame | TherapistDesign, *,
                       time: str = "linear") -> VarianceShare:
    """Variance components of ``synchrony ~ <time> + (1 | therapist) + (1 | dyad)``.

    Parameters
    ----------
    sessions : pandas.DataFrame or TherapistDesign
        ``dyad, session, therapist, synchrony``.
    time : {"linear", "log", "quadratic"}
        The fixed part (:mod:`~interbrain.stats.time_codings`).

    Returns
    -------
    VarianceShare
        Point estimates (no interval).

    Raises
    ------
    ValueError
        Bad input, or every dyad with its own therapist.
    """
    design = sessions if isinstance(sessions, TherapistDesign) else \
        therapist_design(sessions)
    time = check_time(time)
    if design.own_therapist:
        raise ValueError(OWN_THERAPIST_NOTE)
    if time == "log" and (design.data["session"] <= 0).any():
        raise ValueError("time='log' needs session numbers > 0 (log(session))")
    formula = f"synchrony ~ {TIME_CODINGS[time].fixed} + (1 | therapist) + (1 | dyad)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = lmer(formula, design.data)
    vc = fit.variance_components.set_index("grp")["vcov"]
    return VarianceShare(therapist_variance=float(vc["therapist"]),
                         dyad_variance=float(vc["dyad"]),
                         residual_variance=float(vc["Residual"]), fit=fit)
