"""Pre-post change of a therapy measure against each dyad's synchrony slope.

(c) pre-post change (:func:`prepost_change`)
    Per dyad, ``change`` = the measure at its last session minus the measure at its
    first session (among sessions with the measure), regressed by ordinary least
    squares across dyads on each dyad's synchrony slope: ``change ~ slope``, t-test
    with ``n_dyads - 2`` df. The slope is by default each dyad's own OLS slope of
    synchrony over sessions (``slope_source="ols"``: unshrunken, independent of the
    other dyads); pass ``slopes=dyad_slopes(growth_fit)`` to use the growth model's
    fixed slope plus BLUP instead (``slope_source="growth"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from ..nulls.dyad_tests import t_pvalue
from ._util import require_columns
from .equivalence import add_equivalence, check_sesoi_scale, sesoi_for
from .slopes import dyad_ols_slopes
from .tables import MODEL_COLUMNS, with_counts

__all__ = ["MIN_DYADS", "PrePostResult", "prepost_change"]

#: Fewest dyads an outcome model is fitted to.
MIN_DYADS = 3


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
        """The slope's row: ``term, estimate, std_error, df, t, p``."""
        return pd.DataFrame([{"term": "slope", "estimate": self.estimate,
                              "std_error": self.std_error, "df": self.df, "t": self.t,
                              "p": self.p}])

    def equivalence_rows(self, sesoi: float | None = None, *, sesoi_scale: str = "raw",
                         alpha: float = 0.05) -> pd.DataFrame:
        """The slope's coefficient row with CI and (given a SESOI) TOST columns.

        Parameters
        ----------
        sesoi : float, optional
            Smallest effect size of interest of this measure.
        sesoi_scale : {"raw", "standardized"}
            ``"standardized"``: measure SDs per SD of the slopes (of the dyads used).
        alpha : float
            Level of the equivalence test.

        Returns
        -------
        pandas.DataFrame
            See :func:`~interbrain.stats.equivalence.add_equivalence`.
        """
        check_sesoi_scale(sesoi_scale)
        d = self.data
        return add_equivalence(self.coefficients(), sesoi, terms=("slope",),
                               scale=sesoi_scale,
                               sd_response=float(d["change"].std(ddof=1)),
                               sd_predictors={"slope": float(d["slope"].std(ddof=1))},
                               alpha=alpha)

    def to_frame(self, signal: str = "", metric: str = "", name: str | None = None, *,
                 sesoi=None, sesoi_scale: str = "raw", alpha: float = 0.05
                 ) -> pd.DataFrame:
        """The row of ``models.parquet``, with CI and (given a SESOI) TOST columns.

        Parameters
        ----------
        signal, metric : str
            What the slopes were computed on.
        name : str, optional
            The ``model`` column (default ``prepost:<measure>``).
        sesoi : float or dict, optional
            Smallest effect size of interest: a number or ``{measure: value}``.
        sesoi_scale : {"raw", "standardized"}
        alpha : float
            Level of the equivalence test.

        Returns
        -------
        pandas.DataFrame
            The model columns, the equivalence columns of :func:`add_equivalence`,
            ``n_dyads`` and ``n_obs = n_groups = n_dyads``.
        """
        rows = self.equivalence_rows(sesoi_for(sesoi, self.measure), sesoi_scale=sesoi_scale,
                                     alpha=alpha)
        rows.insert(0, "model", name or f"prepost:{self.measure}")
        rows.insert(1, "signal", signal)
        rows.insert(2, "metric", metric)
        rows["method"] = self.method
        rows["formula"] = self.formula
        rows["n_dyads"] = self.n_dyads
        rows = rows[MODEL_COLUMNS + [c for c in rows.columns if c not in MODEL_COLUMNS]]
        return with_counts(rows, self.n_dyads, self.n_dyads)

    def summary(self) -> str:
        """The regression in one line.

        Returns
        -------
        str
        """
        return (f"{self.formula} over {self.n_dyads} dyads: slope {self.estimate:.4g} "
                f"(SE {self.std_error:.4g}), t({self.df:g}) = {self.t:.3g}, "
                f"p = {self.p:.3g}")


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
    require_columns(measures, ["dyad", "session", measure], "measures")
    m = measures[["dyad", "session", measure]].dropna(subset=[measure])
    m = m.sort_values(["dyad", "session"])
    g = m.groupby("dyad")
    per = pd.DataFrame({"first": g[measure].first(), "last": g[measure].last(),
                        "n_measured": g.size()})
    per = per[per["n_measured"] >= 2]
    per["change"] = per["last"] - per["first"]
    if slopes is None:
        require_columns(sessions, ["dyad", "session", "synchrony"], "sessions")
        sl = dyad_ols_slopes(sessions, time).set_index("dyad")["ols_slope"]
        source = "ols"
    else:
        require_columns(slopes, ["dyad", "slope"], "slopes")
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
    p = float(t_pvalue(t, df))
    return PrePostResult(measure=measure, estimate=b, std_error=se, df=float(df), t=t,
                         p=p, intercept=a, n_dyads=n, slope_source=source, time=time,
                         data=per[["dyad", "first", "last", "change", "slope"]])
