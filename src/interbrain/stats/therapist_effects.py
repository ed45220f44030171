"""Therapist-specific or universal? Growth and level of synchrony between therapists.

With two or more therapists, each treating one or more dyads, two questions about
real (session-level) synchrony:

Does growth differ between therapists? (:func:`therapist_interaction`)
    ``"fixed"`` (the default with fewer than :data:`RANDOM_SLOPE_MIN_THERAPISTS`
    therapists): therapist as a factor and its interaction with time,
    ``synchrony ~ session * C(therapist) + (1 + session | dyad)`` (REML), and the
    F test of the ``K - 1`` interaction terms with Satterthwaite denominator degrees
    of freedom (lmerTest's ``contestMD``: the eigen-decomposition of
    ``L vcov L'``, one Satterthwaite df per eigen-contrast, combined by moment
    matching) or Kenward-Roger's (the adjusted covariance and pbkrtest's
    ``Lb_ddf``, unscaled F, as lmerTest). Each therapist's own slope is a contrast of
    the same fit.

    ``"random"`` (five or more therapists): a random slope per therapist,
    ``(1 + session | therapist)`` next to ``(1 + session | dyad)``, tested against
    ``(1 | therapist)`` by a likelihood-ratio test of ML fits. The slope variance
    is 0 on the boundary of its range under the null, so the reference is the
    50:50 mixture of chi-square(1) and chi-square(2) (Self & Liang 1987; Stram &
    Lee 1994: variance and covariance added), not chi-square(2). With few therapists
    this reference is still approximate, and conservative: 0 rejections in 100
    simulated null studies of 6 therapists x 2 dyads x 6 sessions at alpha 0.05
    (:func:`~interbrain.stats.therapist_simulation.interaction_calibration`); the
    fixed-effects F test rejected 9 of 200 null studies of 4 therapists x 3 dyads
    x 6 sessions (0.045).

How much of synchrony's variance lies between therapists? (:func:`therapist_variance`)
    ``synchrony ~ <time> + (1 | therapist) + (1 | dyad)`` (REML); the therapist
    share is ``var_therapist / (var_therapist + var_dyad + var_residual)``. It is a
    point estimate: with a handful of therapists no interval with a coverage we
    could show is offered.

One therapist per dyad
    The therapist is then the dyad: a therapist's growth or level cannot be told
    from the dyad's, so neither model is fitted and the result carries a note
    (:func:`therapist_effects`). :func:`~interbrain.stats.growth.fit_growth` and
    :func:`~interbrain.stats.growth.compare_growth` likewise leave out
    ``(1 | therapist)`` and its likelihood-ratio test there.

Therapist ids are data: the models see internal codes (``T01``, ``T02``, ...;
dyads ``D001``, ...) and the rows of ``models.parquet`` show the user's ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._check import check_option
from .tables import combine_tables, with_counts
from .therapist_models import (INTERACTION_KINDS, OWN_THERAPIST_NOTE,
                               RANDOM_SLOPE_MIN_THERAPISTS, InteractionTest, VarianceShare,
                               therapist_design, therapist_interaction, therapist_variance)
from .time_codings import SLOPE_TIMES, TIME_CODINGS, check_time

__all__ = ["TherapistEffectsResult", "therapist_effects"]


# ---------------------------------------------------------------------------
# (a) + (b) together
# ---------------------------------------------------------------------------

def _shown(formula: str) -> str:
    return formula.replace("C(therapist)", "therapist")


@dataclass
class TherapistEffectsResult:
    """Result of :func:`therapist_effects`.

    Attributes
    ----------
    interaction : InteractionTest or None
        None when every dyad has its own therapist.
    variance : VarianceShare or None
        None when every dyad has its own therapist.
    n_dyads, n_therapists, n_obs : int
    time : str
    notes : list of str
    """

    interaction: InteractionTest | None
    variance: VarianceShare | None
    n_dyads: int
    n_therapists: int
    n_obs: int
    time: str
    notes: list[str] = field(default_factory=list)

    def to_frame(self, signal: str = "", metric: str = "") -> pd.DataFrame:
        """Rows of ``models.parquet``.

        ``therapist:interaction``: the interaction test (term ``therapist x time
        interaction (growth differs between therapists)``; fixed effects:
        ``statistic`` F with ``df_num`` and ``df``, and one row per therapist with
        its slope, term ``growth per session, therapist <id>``; random slope:
        ``statistic`` the likelihood-ratio chi-square, ``estimate`` the SD of the
        therapists' slopes). ``therapist:variance``: the therapist's and the dyad's
        share of the variance of synchrony (point estimates, no interval) and the
        three variance components. No rows when every dyad has its own therapist.

        Parameters
        ----------
        signal, metric : str
            What the models were fitted on.

        Returns
        -------
        pandas.DataFrame
        """
        frames = []
        it = self.interaction
        units = TIME_CODINGS[self.time if self.time in SLOPE_TIMES else "linear"].units
        if it is not None:
            formula = _shown(it.full.formula)
            if it.reduced is not None:
                formula = f"reduced: {it.reduced.formula} | full: {formula}"
            rows = [{"term": "therapist x time interaction (growth differs between "
                             "therapists)",
                     "estimate": it.estimate, "std_error": np.nan, "df": it.df,
                     "t": np.nan, "p": it.p, "statistic": it.statistic,
                     "df_num": it.df_num, "method": it.method}]
            for r in it.slopes.to_dict("records"):
                rows.append({"term": f"growth {units}, therapist {r['therapist']}",
                             "estimate": r["estimate"], "std_error": r["std_error"],
                             "df": r["df"], "t": r["t"], "p": r["p"],
                             "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                             "method": f"contrast of the same fit, {it.full.method}"})
            frame = pd.DataFrame(rows).assign(
                model="therapist:interaction", signal=signal, metric=metric,
                formula=formula, interaction=it.kind, n_therapists=self.n_therapists,
                df_method=str(it.full.df_method), singular=bool(it.full.singular),
                converged=bool(it.full.converged),
                simplification=str(it.full.simplification or ""))
            frames.append(with_counts(frame, self.n_obs, self.n_dyads))
        v = self.variance
        if v is not None:
            method = ("REML variance components; point estimate, no interval (few "
                      "therapists)")
            rows = [("therapist share of synchrony variance", v.therapist_share),
                    ("dyad share of synchrony variance", v.dyad_share),
                    ("therapist variance", v.therapist_variance),
                    ("dyad variance", v.dyad_variance),
                    ("residual variance", v.residual_variance)]
            frame = pd.DataFrame({"term": [r[0] for r in rows],
                                  "estimate": [r[1] for r in rows]}).assign(
                model="therapist:variance", signal=signal, metric=metric,
                std_error=np.nan, df=np.nan, t=np.nan, p=np.nan, method=method,
                formula=_shown(v.fit.formula), n_therapists=self.n_therapists,
                singular=bool(v.fit.singular), converged=bool(v.fit.converged))
            frames.append(with_counts(frame, self.n_obs, self.n_dyads))
        return combine_tables(frames)

    def summary(self) -> str:
        """The tests and the variance share in words, with the notes.

        Returns
        -------
        str
        """
        lines = [f"therapist effects: {self.n_therapists} therapists, {self.n_dyads} "
                 f"dyads, {self.n_obs} dyad-sessions"]
        it = self.interaction
        if it is not None and it.kind == "fixed":
            lines.append(f"therapist x time interaction: F({it.df_num:.0f}, {it.df:.3g}) "
                         f"= {it.statistic:.3g}, p = {it.p:.3g}")
            for r in it.slopes.to_dict("records"):
                lines.append(f"  therapist {r['therapist']}: growth {r['estimate']:+.4g} "
                             f"[{r['ci_low']:.4g}, {r['ci_high']:.4g}]")
        elif it is not None:
            lines.append(f"therapists' random slope: SD {it.estimate:.4g}, "
                         f"chi2 = {it.statistic:.3g}, p = {it.p:.3g} (mixture reference)")
        if self.variance is not None:
            lines.append(f"therapist share of synchrony variance: "
                         f"{self.variance.therapist_share:.3g} (point estimate); dyad "
                         f"share {self.variance.dyad_share:.3g}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def therapist_effects(sessions: pd.DataFrame, *, time: str = "linear",
                      df_method: str = "satterthwaite", seed=None,
                      interaction: str = "auto") -> TherapistEffectsResult:
    """Therapist-specific or universal: the therapist x time interaction in the
    growth of synchrony and the share of its variance between therapists.

    See the module notes.

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``dyad, session, therapist, synchrony`` (one row per dyad-session; rows with
        a missing value are dropped). Therapist and dyad ids may be any text.
    time : {"linear", "log", "quadratic"}
        Time coding; the interaction needs a single slope, so quadratic time tests
        it with linear time (a note says so).
    df_method : {"satterthwaite", "kenward-roger"}
        Denominator df of the fixed-effects F test.
    seed : None
        Accepted for the API shared with the other tests; these tests draw no
        random numbers.
    interaction : {"auto", "fixed", "random"}
        See :func:`therapist_interaction`.

    Returns
    -------
    TherapistEffectsResult
        Without tests, and with a note, when every dyad has its own therapist.

    Raises
    ------
    ValueError
        Fewer than 2 therapists (the message says so), a dyad with two therapists,
        missing columns, non-numeric values, an unknown option.
    """
    design = therapist_design(sessions)
    time = check_time(time)
    check_option(interaction, "interaction", INTERACTION_KINDS)
    notes: list[str] = []
    common = {"n_dyads": design.n_dyads, "n_therapists": design.n_therapists,
              "n_obs": len(design.data), "time": time}
    if design.own_therapist:
        return TherapistEffectsResult(interaction=None, variance=None,
                                      notes=[OWN_THERAPIST_NOTE], **common)
    slope_time = time
    if time not in SLOPE_TIMES:
        notes.append("quadratic time has no single slope: the therapist x time "
                     "interaction uses linear time")
        slope_time = "linear"
    it = therapist_interaction(design, time=slope_time, df_method=df_method,
                               interaction=interaction)
    notes += it.notes
    if it.kind == "fixed" and design.n_therapists >= RANDOM_SLOPE_MIN_THERAPISTS:
        notes.append(f"{design.n_therapists} therapists: fixed therapist effects as "
                     f"asked (interaction='fixed')")
    if it.kind == "random" and design.n_therapists < RANDOM_SLOPE_MIN_THERAPISTS:
        notes.append(f"a random slope per therapist from {design.n_therapists} "
                     f"therapists is poorly estimated")
    variance = therapist_variance(design, time=time)
    if variance.fit.singular:
        notes.append("variance components: singular fit (a variance estimated as 0)")
    if math.isnan(variance.therapist_share):
        notes.append("variance components are all 0: no share")
    return TherapistEffectsResult(interaction=it, variance=variance, notes=notes,
                                  **common)
