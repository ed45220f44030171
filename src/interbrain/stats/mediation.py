"""Multilevel 1-1-1 mediation: does synchrony carry the change of a measure over sessions?

The model of Kenny, Korchmaros & Bolger (2003) and Bauer, Preacher & Gil (2006), with
session ``x`` (the "treatment": time in therapy), synchrony ``m`` (mediator) and a
measure ``y`` (outcome), all observed per dyad ``j`` and session ``i``::

    m_ij = d_mj + a_j x_ij + e_mij                      (a path: growth of synchrony)
    y_ij = d_yj + b_j m_ij + c'_j x_ij + e_yij          (b path, direct effect c')

with dyad-specific slopes ``(a_j, b_j)`` of means ``(a, b)`` and covariance
``sigma_ab``. The average indirect effect is ``E[a_j b_j] = a b + sigma_ab`` (BPG 2006,
eq. 9); the direct effect is ``c' = E[c'_j]`` and the total effect of session on the
measure ``E[c'_j + a_j b_j]``. Because every dyad has its own intercepts ``d_mj,
d_yj``, ``b_j`` is a purely within-dyad effect of synchrony (the dyad's mean synchrony,
the between-dyad part, is absorbed by ``d_yj``; it plays no part in the indirect
effect) controlling session.

Estimation: dyad-level slopes (two-stage)
    Each dyad's paths are estimated by OLS on its complete sessions (synchrony and the
    measure observed): ``a_j`` from ``m ~ 1 + x``, ``b_j`` and ``c'_j`` from ``y ~ 1 +
    x + m``, ``tau_j`` from ``y ~ 1 + x`` (so ``tau_j = c'_j + a_j b_j`` exactly, per
    dyad). Given the dyad's synchrony, the error of ``b_j`` has mean zero whatever the
    error of ``a_j``, so ``a_j b_j`` estimates the dyad's indirect effect without bias
    and the sample covariance of the ``(a_j, b_j)`` estimates is unbiased for
    ``sigma_ab`` (KKB 2003). The rows of :meth:`MediationResult.to_frame` are

    - ``a``, ``b``, ``direct``, ``total``: the mean over dyads of the dyads'
      estimates, tested with the one-sample t-test across dyads (df = dyads - 1);
      for complete, balanced sessions the ``a`` row equals the random-slope growth
      model ``synchrony ~ session + (1 + session | dyad)`` (REML) when that fit is not
      singular (same estimate, standard error and Satterthwaite df);
    - ``cov(a, b)``: the sample covariance (ddof 1) of the dyads' ``(a_j, b_j)``;
    - ``indirect (a*b + cov)``: the mean over dyads of ``a_j b_j`` (``= a b +
      (n - 1)/n cov``; unbiased for ``a b + sigma_ab``, and ``total = direct +
      indirect`` exactly).

    With the stacked mixed model of BPG (2006) the random part (two intercepts and
    two or three slopes per dyad, with their covariances) is not identified from 8
    dyads; the dyad-level slopes need no variance components and no fallback. A dyad
    needs at least :data:`MIN_SESSIONS` complete sessions and synchrony that varies
    around its linear trend; dyads without are left out and ``simplification`` says
    so. At least 3 dyads must remain.

Inference on the indirect effect: Monte Carlo CI
    Monte Carlo draws of ``(a, b, sigma_ab)`` (Preacher & Selig 2012) from their
    small-sample distribution: the dyads' ``(a_j, b_j)`` pairs are treated as a sample
    from a bivariate normal distribution, whose mean and covariance given the sample
    follow the normal-inverse-Wishart distribution of the Jeffreys prior (Gelman et
    al. 2013, Bayesian Data Analysis, sect. 3.6): ``Sigma ~ Inv-Wishart(n - 1,
    S)``, ``(a, b) | Sigma ~ N(mean, Sigma / n)``, ``S`` the dyads' cross-product
    matrix. Each draw gives ``a b + Sigma_ab``; the CI is the percentile interval of
    ``n_draws`` draws. The means' draws are bivariate t with ``n - 1`` df (the
    one-sample t-tests' distribution) and the covariance's draws carry its own
    uncertainty; normal-theory draws (the usual MC CI) are far off at 8 dyads. The
    ``cov(a, b)`` row gets the percentile interval of its draws. Neither has a p-value
    (``p`` is NaN): judge the indirect effect by whether its CI excludes 0.

Calibration
    :func:`~interbrain.stats.mediation_simulation.mediation_coverage` (studies from
    :func:`~interbrain.stats.mediation_simulation.simulate_mediation`, standardised
    units, 6 sessions, SDs of a_j and b_j 0.2 and 0.3 unless fixed, 2,000 studies per
    scenario, 20,000 draws per study, seed 11; the 99% binomial range of an exact 95%
    interval is 0.937-0.962). Coverage of the 95% CI of the indirect effect, and in
    brackets the rate at which it excludes 0 (false positives where the truth is 0,
    power otherwise), for 8 dyads / 20 dyads:

    =============================  ========  =====================  =====================
    scenario (a, b, sigma_ab)      truth     8 dyads                20 dyads
    =============================  ========  =====================  =====================
    0, 0, 0                        0         0.942 (0.058)          0.957 (0.044)
    0.3, 0, 0                      0         0.948 (0.052)          0.961 (0.040)
    0, 0.4, 0                      0         0.942 (0.059)          0.947 (0.054)
    0.3, 0.4, 0                    0.12      0.960 (0.101)          0.954 (0.279)
    0.3, 0.4, 0.04                 0.16      0.958 (0.199)          0.953 (0.526)
    0, 0, 0.04                     0.04      0.946 (0.094)          0.952 (0.118)
    0.3, 0, -0.04                  -0.04     0.946 (0.076)          0.962 (0.089)
    0.3, 0.4, 0 (fixed slopes)     0.12      0.964 (0.146)          0.951 (0.414)
    =============================  ========  =====================  =====================

    The t intervals of ``a`` and ``b`` covered 0.943-0.962. At 8 dyads the false-
    positive rate is near 0.05 at the upper edge of the binomial range (0.052-0.059)
    and power is low: the dyad-level slopes use no shrinkage, and ``b_j`` from 6
    sessions is noisy (its error is t-like with 3 df). Tested: complete, balanced
    sessions and normal random slopes; unbalanced or missing sessions were not
    simulated.

References
----------
Bauer, D. J., Preacher, K. J. & Gil, K. M. (2006). Conceptualizing and testing random
indirect effects and moderated mediation in multilevel models. *Psychological Methods*
11(2):142-163.

Kenny, D. A., Korchmaros, J. D. & Bolger, N. (2003). Lower level mediation in
multilevel models. *Psychological Methods* 8(2):115-128.

Preacher, K. J. & Selig, J. P. (2012). Advantages of Monte Carlo confidence intervals
for indirect effects. *Communication Methods and Measures* 6(2):77-98.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._check import as_generator, check_int
from ..nulls.dyad_tests import confidence_interval, one_sample_t, t_pvalue
from ._util import require_columns
from .formula import label_formula
from .outcome_models import check_df_method
from .tables import MODEL_COLUMNS, combine_tables, with_counts

__all__ = ["MIN_DYADS", "MIN_SESSIONS", "PATH_METHOD", "dyad_paths",
           "indirect_draws", "MediationResult", "fit_mediation"]

#: Dyads (with enough sessions) the mediation model needs.
MIN_DYADS = 3
#: Complete sessions (synchrony and measure) a dyad needs: 3 coefficients + 1 df.
MIN_SESSIONS = 4
#: ``method`` of the path rows.
PATH_METHOD = ("per-dyad OLS paths (two-stage, Kenny et al. 2003); mean over dyads, "
               "one-sample t-test across dyads, df = dyads - 1")
_MC_METHOD = ("Monte Carlo CI, {n} draws (Preacher & Selig 2012) from the "
              "normal-inverse-Wishart distribution of the dyads' per-dyad OLS (a_j, b_j) "
              "(Jeffreys prior), percentile interval; no p-value")
#: Relative size below which a dyad's synchrony is taken not to vary around its trend.
_COLLINEAR_TOL = 1e-10


def dyad_paths(x, m, y) -> dict[str, np.ndarray]:
    """Per-dyad OLS paths of session ``x``, synchrony ``m`` and measure ``y``.

    Parameters
    ----------
    x, m, y : array_like, shape (..., n_dyads, n_sessions)
        Session, synchrony and measure of each dyad's sessions; NaN-padded (a
        session with any of the three missing is left out).

    Returns
    -------
    dict of numpy.ndarray, shape (..., n_dyads)
        ``a`` (slope of ``m`` on ``x``), ``b`` and ``direct`` (slopes of ``y`` on
        ``m`` and ``x`` together), ``total`` (slope of ``y`` on ``x``) and
        ``n_sessions`` (complete sessions). NaN for dyads with fewer than
        :data:`MIN_SESSIONS` complete sessions, a constant session or synchrony
        that is (numerically) a linear function of session.
    """
    x, m, y = (np.asarray(v, dtype=float) for v in (x, m, y))
    ok = np.isfinite(x) & np.isfinite(m) & np.isfinite(y)
    k = ok.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = []
        for v in (x, m, y):
            v0 = np.where(ok, v, 0.0)
            centred.append(np.where(ok, v0 - (v0.sum(-1) / k)[..., None], 0.0))
        xc, mc, yc = centred
        sxx = (xc * xc).sum(-1)
        a = (xc * mc).sum(-1) / sxx
        r = mc - a[..., None] * xc
        srr = (r * r).sum(-1)
        b = (r * yc).sum(-1) / srr
        total = (xc * yc).sum(-1) / sxx
    bad = (k < MIN_SESSIONS) | ~(sxx > 0) | ~(srr > _COLLINEAR_TOL * (mc * mc).sum(-1))
    out = {"a": a, "b": b, "direct": total - a * b, "total": total}
    out = {key: np.where(bad, np.nan, val) for key, val in out.items()}
    out["n_sessions"] = k
    return out


def indirect_draws(a, b, n_draws: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo draws of ``a b + sigma_ab`` and of ``sigma_ab`` (module notes).

    Parameters
    ----------
    a, b : array_like, shape (..., n_dyads)
        The dyads' path estimates (finite; at least 3 dyads).
    n_draws : int
    rng : numpy.random.Generator

    Returns
    -------
    indirect, covariance : numpy.ndarray, shape (..., n_draws)
        Draws of the average indirect effect and of the slopes' covariance; NaN for a
        batch whose ``(a_j, b_j)`` cross-product matrix is singular.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = a.shape[-1]
    ac, bc = a - a.mean(-1, keepdims=True), b - b.mean(-1, keepdims=True)
    saa, sbb, sab = ((u * v).sum(-1)[..., None] for u, v in ((ac, ac), (bc, bc), (ac, bc)))
    det = saa * sbb - sab * sab
    with np.errstate(invalid="ignore", divide="ignore"):
        # Cholesky factor L of S^-1 = [[sbb, -sab], [-sab, saa]] / det
        l11 = np.sqrt(sbb / det)
        l21 = -sab / det / l11
        l22 = np.sqrt(saa / det - l21 * l21)
        shape = np.broadcast_shapes(saa.shape[:-1] + (n_draws,))
        # Bartlett: W = L A A' L' ~ Wishart(n - 1, S^-1), A lower triangular
        a11 = np.sqrt(rng.chisquare(n - 1, shape))
        a22 = np.sqrt(rng.chisquare(n - 2, shape))
        a21 = rng.standard_normal(shape)
        g11, g21, g22 = l11 * a11, l21 * a11 + l22 * a21, l22 * a22
        w11, w12, w22 = g11 * g11, g11 * g21, g21 * g21 + g22 * g22
        wdet = w11 * w22 - w12 * w12
        s11, s12, s22 = w22 / wdet, -w12 / wdet, w11 / wdet   # Sigma = W^-1
        # (a, b) | Sigma ~ N(mean, Sigma / n)
        c11 = np.sqrt(s11 / n)
        c21 = s12 / n / c11
        c22 = np.sqrt(np.maximum(s22 / n - c21 * c21, 0.0))
        z1, z2 = rng.standard_normal(shape), rng.standard_normal(shape)
        mu_a = a.mean(-1, keepdims=True) + c11 * z1
        mu_b = b.mean(-1, keepdims=True) + c21 * z1 + c22 * z2
    ok = det > 0
    return np.where(ok, mu_a * mu_b + s12, np.nan), np.where(ok, s12, np.nan)


def _packed(data: pd.DataFrame) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """Dyads and their ``session, synchrony, measure`` as NaN-padded rows."""
    data = data.sort_values(["dyad", "session"], kind="stable")
    slot = data.groupby("dyad", sort=False).cumcount().to_numpy()
    dyads = list(pd.unique(data["dyad"]))
    row = pd.Index(dyads).get_indexer(data["dyad"])
    width = int(slot.max()) + 1 if len(data) else 0
    out = []
    for col in ("session", "synchrony", "measure"):
        arr = np.full((len(dyads), width), np.nan)
        arr[row, slot] = data[col].to_numpy(dtype=float)
        out.append(arr)
    return dyads, *out


def _complete_rows(sessions: pd.DataFrame, measures: pd.DataFrame, measure: str
                   ) -> pd.DataFrame:
    """Dyad-sessions with synchrony and the measure (internal name ``measure``)."""
    require_columns(sessions, ["dyad", "session", "synchrony"], "sessions")
    require_columns(measures, ["dyad", "session", measure], "measures")
    left = sessions[["dyad", "session", "synchrony"]]
    right = measures[["dyad", "session", measure]].set_axis(
        ["dyad", "session", "measure"], axis=1)
    for what, table in (("sessions", left), ("measures", right)):
        if table.duplicated(["dyad", "session"]).any():
            raise ValueError(f"{what} must have one row per dyad and session")
        for col in table.columns[1:]:
            if not pd.api.types.is_numeric_dtype(table[col]):
                name = measure if col == "measure" else col
                raise ValueError(f"column {name!r} of {what} must be numeric, got "
                                 f"{table[col].dtype}")
    both = left.merge(right, on=["dyad", "session"], how="inner")
    keep = np.isfinite(both[["session", "synchrony", "measure"]].to_numpy(float)).all(1)
    return both[keep].reset_index(drop=True)


@dataclass
class MediationResult:
    """Multilevel 1-1-1 mediation of one measure's change by synchrony (module notes).

    Attributes
    ----------
    measure : str
        The user's measure name.
    paths : pandas.DataFrame
        One row per dyad used (index ``dyad``): ``a, b, direct, total, n_sessions``.
    indirect_draws, covariance_draws : numpy.ndarray, shape (n_draws,)
        Monte Carlo draws of ``a b + sigma_ab`` and of ``sigma_ab``.
    ci : float
        Level of the confidence intervals.
    simplification : str
        Dyads left out (too few complete sessions); empty when none was.
    notes : list[str]
    """

    measure: str
    paths: pd.DataFrame
    indirect_draws: np.ndarray
    covariance_draws: np.ndarray
    ci: float = 0.95
    simplification: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def n_dyads(self) -> int:
        return len(self.paths)

    @property
    def n_obs(self) -> int:
        return int(self.paths["n_sessions"].sum())

    def _terms(self) -> dict[str, str]:
        m = self.measure
        return {"a": "a: session -> synchrony", "b": f"b: synchrony -> {m}",
                "cov": "cov(a, b)", "indirect": "indirect (a*b + cov)",
                "direct": f"direct: session -> {m}", "total": f"total: session -> {m}"}

    def _path_row(self, key: str) -> dict:
        mean, se, t, n = (float(v) for v in one_sample_t(self.paths[key].to_numpy()))
        df = n - 1.0
        low, high = confidence_interval(mean, se, df, self.ci)
        return {"estimate": mean, "std_error": se, "df": df, "t": t,
                "p": float(t_pvalue(t, df)), "ci_low": float(low), "ci_high": float(high),
                "method": PATH_METHOD}

    def _draw_row(self, estimate: float, draws: np.ndarray) -> dict:
        tail = (1.0 - self.ci) / 2.0
        low, high = np.quantile(draws, [tail, 1.0 - tail])
        return {"estimate": estimate, "std_error": float(np.std(draws, ddof=1)),
                "df": np.nan, "t": np.nan, "p": np.nan, "ci_low": float(low),
                "ci_high": float(high), "method": _MC_METHOD.format(n=draws.size)}

    def to_frame(self, signal: str = "", metric: str = "") -> pd.DataFrame:
        """Rows of ``models.parquet``: the paths, ``cov(a, b)``, the indirect, direct
        and total effects.

        Parameters
        ----------
        signal, metric : str
            What synchrony was computed on.

        Returns
        -------
        pandas.DataFrame
            :data:`~interbrain.stats.tables.MODEL_COLUMNS` (``model`` is
            ``mediation:<measure>``; ``p`` NaN for ``cov(a, b)`` and the indirect
            effect, whose inference is the Monte Carlo CI), ``n_obs`` (complete
            dyad-sessions used), ``n_groups`` (dyads used), ``ci_low, ci_high`` (level
            :attr:`ci`), ``ci_level``, ``simplification``.
        """
        a, b = self.paths["a"].to_numpy(), self.paths["b"].to_numpy()
        cov = float(np.cov(a, b, ddof=1)[0, 1])
        rows = {"a": self._path_row("a"), "b": self._path_row("b"),
                "cov": self._draw_row(cov, self.covariance_draws),
                "indirect": self._draw_row(float(np.mean(a * b)), self.indirect_draws),
                "direct": self._path_row("direct"), "total": self._path_row("total")}
        labels = {"measure": self.measure}
        formula = label_formula("per dyad: synchrony ~ session; measure ~ session + "
                                "synchrony", labels)
        out = pd.DataFrame([{"model": f"mediation:{self.measure}", "signal": signal,
                             "metric": metric, "term": self._terms()[key], **row,
                             "formula": formula} for key, row in rows.items()])
        out = with_counts(out, self.n_obs, self.n_dyads)
        out["ci_level"] = self.ci
        out["simplification"] = self.simplification
        extra = ["ci_low", "ci_high", "ci_level", "simplification"]
        return combine_tables([out[MODEL_COLUMNS + ["n_obs", "n_groups"] + extra]])

    def summary(self) -> str:
        """The effects, their intervals and the notes, as text."""
        table = self.to_frame()
        lines = [f"Multilevel 1-1-1 mediation of {self.measure!r} over sessions by "
                 f"synchrony ({self.n_dyads} dyads, {self.n_obs} complete sessions)",
                 table[["term", "estimate", "std_error", "df", "p", "ci_low",
                        "ci_high"]].to_string(index=False),
                 f"paths: {PATH_METHOD}",
                 f"indirect, cov: {_MC_METHOD.format(n=self.indirect_draws.size)}"]
        if self.simplification:
            lines.append(f"note: {self.simplification}")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def fit_mediation(sessions: pd.DataFrame, measures: pd.DataFrame, measure: str, *,
                  df_method: str = "satterthwaite", n_draws: int = 20000,
                  ci: float = 0.95, seed=None) -> MediationResult:
    """Multilevel 1-1-1 mediation of a measure's change over sessions by synchrony.

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``dyad, session, synchrony``, one row per dyad-session.
    measures : pandas.DataFrame
        ``dyad, session`` and the ``measure`` column.
    measure : str
        The measure's column (any text: it is data, never formula text).
    df_method : {"satterthwaite", "kenward-roger"}
        Accepted for the signature shared with the outcome models and checked, but
        it changes nothing: the dyad-level t-tests have ``dyads - 1`` df (for
        complete, balanced sessions the Satterthwaite df of the non-singular
        random-slope growth model, tested for the ``a`` path).
    n_draws : int
        Monte Carlo draws for the CIs of the indirect effect and ``cov(a, b)``.
    ci : float
        Level of all confidence intervals, in (0, 1).
    seed : int or numpy.random.Generator, optional
        For the Monte Carlo draws.

    Returns
    -------
    MediationResult

    Raises
    ------
    ValueError
        For missing or non-numeric columns, duplicated dyad-sessions, fewer than 3
        dyads with :data:`MIN_SESSIONS` complete sessions, slopes without spread, or
        bad options.
    """
    check_df_method(df_method)
    n_draws = check_int(n_draws, "n_draws", minimum=100)
    if not (isinstance(ci, (int, float)) and 0 < ci < 1):
        raise ValueError(f"ci must lie in (0, 1), got {ci!r}")
    rng = as_generator(seed)
    data = _complete_rows(sessions, measures, measure)
    dyads, x, m, y = _packed(data)
    paths = pd.DataFrame(dyad_paths(x, m, y), index=pd.Index(dyads, name="dyad"))
    dropped = [d for d, ok in zip(dyads, np.isfinite(paths["a"])) if not ok]
    paths = paths.dropna(subset=["a", "b", "direct", "total"])
    if len(paths) < MIN_DYADS:
        raise ValueError(f"the mediation model of {measure!r} needs at least {MIN_DYADS} "
                         f"dyads with {MIN_SESSIONS} or more sessions with both synchrony "
                         f"and the measure (and synchrony varying around its trend); "
                         f"got {len(paths)}")
    simplification = ""
    if dropped:
        simplification = (f"{len(dropped)} dyad(s) left out (fewer than {MIN_SESSIONS} "
                          f"complete sessions or synchrony without variation around its "
                          f"trend): {', '.join(map(str, dropped))}")
    indirect, covariance = indirect_draws(paths["a"].to_numpy(), paths["b"].to_numpy(),
                                          n_draws, rng)
    if not np.isfinite(indirect).all():
        raise ValueError(f"the mediation model of {measure!r}: the dyads' a and b slopes "
                         f"have no spread or are collinear; the Monte Carlo CI is "
                         f"undefined")
    paths["n_sessions"] = paths["n_sessions"].astype(int)
    return MediationResult(measure=measure, paths=paths, indirect_draws=indirect,
                           covariance_draws=covariance, ci=float(ci),
                           simplification=simplification)
