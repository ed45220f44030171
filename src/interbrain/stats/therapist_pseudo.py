"""Pseudo-dyads split by therapist: is synchrony a therapist trait or a patient trait?

The pseudo-dyad null of a dyad-session (:mod:`interbrain.stats.excess`) mixes two
kinds of pairings: the dyad's therapist recording with other patients, and other
therapists' recordings with the dyad's patient. With several therapists they split
into (dyad ``d`` of therapist ``T`` at session number ``s``; pseudo pairings of the
same session number only):

``other_patients`` (i)
    ``T``'s recording of ``d`` with the patients of *other therapists'* dyads:
    ``Y_s[d, j]`` for ``therapist(j) != T``.
``other_therapists`` (ii)
    *Other therapists'* recordings with ``d``'s patient: ``Y_s[k, d]`` for
    ``therapist(k) != T``.
``own_patients`` (iii)
    ``T``'s recording of ``d`` with ``T``'s other patients: ``Y_s[d, j]`` for
    ``j != d`` and ``therapist(j) == T`` (dyads whose therapist treats another dyad).

If synchrony is a **therapist trait** (a therapist who synchronises with anyone),
split (i) carries it: real synchrony exceeds (i) no more for that therapist's dyads
than for others, while it exceeds (ii) by the trait. If it is a **patient trait**,
split (ii) carries it. For each split (:func:`pseudo_split`):

Mean excess
    Real minus the split's mean, per dyad-session; each dyad's mean over its
    sessions; their mean over dyads, with a t interval and the two-sided dyad-level
    sign-flip test (:func:`~interbrain.nulls.dyad_tests.sign_flip_test`).
Growth of the excess
    As the plasticity test (:mod:`interbrain.stats.plasticity`): ``excess ~ <time>
    + (1 + <time> | dyad)`` (plus ``(1 | therapist)``), REML with Satterthwaite or
    Kenward-Roger df, and the sign-flip test of the dyads' least-squares slopes of
    the excess (``p_permutation``).

Which person carries it (:func:`trait_contrast`, :func:`trait_tests`)
    Per real dyad-session the contrast ``c`` = (the dyad's therapist recording with
    every other patient) - (every other therapist recording with the dyad's
    patient), the two halves of the ordinary pseudo-dyad null. In an additive model
    of pseudo synchrony it is ``(tau_T - pi_d)(1 + 1/(D - 1))`` plus a constant and
    noise: a therapist trait ``tau`` moves it *between therapists*, a patient trait
    ``pi`` *between dyads of the same therapist*, and real coupling and anything
    shared by a session number cancel. Therapist test: Satterthwaite's quasi-F of
    the balanced analysis of variance (therapists against dyads within therapists
    and therapist x session), or, unbalanced, the F test of the therapist terms of
    ``c ~ therapist + (1 | dyad) + (1 | therapist:session)``. Patient test: the
    nested least-squares F of dyads added to therapist-session cells. Both need a
    therapist with two or more dyads.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from .._check import as_generator, check_int, check_option
from ..nulls.dyad_tests import confidence_interval, one_sample_t, sign_flip_test
from ._util import require_columns
from .excess import PAIRING_SESSION_COLUMNS
from .growth import fit_growth
from .plasticity import excess_slopes
from .tables import combine_tables, with_counts
from .therapist_traits import therapists_of_dyads, trait_contrast, trait_tests
from .time_codings import SLOPE_TIMES, TIME_CODINGS, check_time

__all__ = ["SPLITS", "SPLIT_TERMS", "split_excess", "PseudoSplitResult",
           "pseudo_split"]

#: The splits of the pseudo-dyads, in order.
SPLITS: tuple[str, ...] = ("other_patients", "other_therapists", "own_patients")

#: What the excess over each split is (the ``term`` of its rows).
SPLIT_TERMS = {
    "other_patients": "real - (this therapist x other therapists' patients)",
    "other_therapists": "real - (other therapists x this patient)",
    "own_patients": "real - (this therapist x their other patients)",
}

_TRAIT_TERMS = {
    "therapist": ("therapist trait: (this therapist x every other patient) - (every "
                  "other therapist recording x this patient), between therapists"),
    "patient": ("patient trait: (this therapist x every other patient) - (every other "
                "therapist recording x this patient), between dyads of the same "
                "therapist"),
}


def split_excess(pairings: pd.DataFrame, therapist_of) -> pd.DataFrame:
    """Real synchrony in excess of each split of its pseudo-dyads, per dyad-session.

    Parameters
    ----------
    pairings : pandas.DataFrame
        :func:`~interbrain.stats.excess.pairing_sessions` (rows ``pairing`` ``"real"``
        and ``"pseudo"`` are used).
    therapist_of : dict
        Dyad -> therapist id (any hashable; ids are data).

    Returns
    -------
    pandas.DataFrame
        ``dyad, therapist, session, split, real, null, n_null, excess``: one row per
        real dyad-session and split with at least one pseudo pairing in the split.

    Raises
    ------
    ValueError
        Missing columns, no real or no pseudo pairings, a dyad without a therapist,
        fewer than 2 therapists.
    """
    require_columns(pairings, PAIRING_SESSION_COLUMNS, "pairings")
    real = pairings[pairings["pairing"] == "real"]
    pseudo = pairings[(pairings["pairing"] == "pseudo")
                      & (pairings["session"] == pairings["partner_session"])
                      & (pairings["dyad"] != pairings["partner_dyad"])]
    if real.empty or pseudo.empty:
        raise ValueError("pairings need real and pseudo pairings (column 'pairing')")
    th = therapists_of_dyads(pairings, therapist_of)
    n_therapists = len({th[d] for d in real["dyad"].unique()})
    if n_therapists < 2:
        raise ValueError(f"splitting pseudo-dyads by therapist needs at least 2 "
                         f"therapists; got {n_therapists}")
    real = real.groupby(["dyad", "session"], as_index=False)["synchrony"].mean()
    own = pseudo["dyad"].map(th) == pseudo["partner_dyad"].map(th)
    sides = {"other_patients": (pseudo[~own], "dyad"),
             "other_therapists": (pseudo[~own], "partner_dyad"),
             "own_patients": (pseudo[own], "dyad")}
    frames = []
    for split, (rows, key) in sides.items():
        null = rows.groupby([key, "session"], as_index=False)["synchrony"].agg(
            null="mean", n_null="size").rename(columns={key: "dyad"})
        out = real.rename(columns={"synchrony": "real"}).merge(null, on=["dyad", "session"])
        out["split"] = split
        frames.append(out)
    out = pd.concat(frames, ignore_index=True)
    out["excess"] = out["real"] - out["null"]
    out["therapist"] = out["dyad"].map(th)
    out["split"] = pd.Categorical(out["split"], categories=list(SPLITS))
    out["_order"] = out["dyad"].astype(str)
    out = out.sort_values(["split", "_order", "session"], ignore_index=True)
    return out[["dyad", "therapist", "session", "split", "real", "null", "n_null",
                "excess"]]


@dataclass
class PseudoSplitResult:
    """Result of :func:`pseudo_split`.

    Attributes
    ----------
    excess : pandas.DataFrame
        :func:`split_excess`.
    rows : pandas.DataFrame
        The tests (see :meth:`to_frame`), without signal and metric.
    time : str
    notes : list of str
    """

    excess: pd.DataFrame
    rows: pd.DataFrame
    time: str
    notes: list[str] = field(default_factory=list)

    def by_therapist(self) -> pd.DataFrame:
        """Each therapist's mean null and excess per split (means over their dyads
        of the dyads' means).

        Returns
        -------
        pandas.DataFrame
            ``therapist, split, null, excess, n_dyads``.
        """
        dyad = self.excess.groupby(["therapist", "split", "dyad"], observed=True)[
            ["null", "excess"]].mean().reset_index()
        out = dyad.groupby(["therapist", "split"], observed=True).agg(
            null=("null", "mean"), excess=("excess", "mean"), n_dyads=("dyad", "size"))
        return out.reset_index()

    def to_frame(self, signal: str = "", metric: str = "") -> pd.DataFrame:
        """Rows of ``models.parquet`` (model ``therapist:pseudo_split``).

        Per split: the mean excess (term :data:`SPLIT_TERMS`; ``p`` the sign-flip
        test, ``ci_low, ci_high`` the t interval) and its growth (term ``growth of
        <term>``; ``p`` the mixed model's, ``p_permutation`` the sign-flip test of the
        dyads' slopes); then the therapist-trait and patient-trait F tests
        (``statistic`` F, ``df_num``, ``df``).

        Parameters
        ----------
        signal, metric : str

        Returns
        -------
        pandas.DataFrame
        """
        out = self.rows.copy()
        out.insert(1, "signal", signal)
        out.insert(2, "metric", metric)
        return combine_tables([out])

    def summary(self) -> str:
        """One line per row, then the notes.

        Returns
        -------
        str
        """
        lines = ["pseudo-dyads split by therapist:"]
        for r in self.rows.to_dict("records"):
            if np.isfinite(r.get("statistic", np.nan)):
                lines.append(f"  {r['term']}: F({r['df_num']:.0f}, {r['df']:.0f}) = "
                             f"{r['statistic']:.3g}, p = {r['p']:.3g}")
            else:
                extra = (f", permutation p = {r['p_permutation']:.3g}"
                         if np.isfinite(r.get("p_permutation", np.nan)) else "")
                lines.append(f"  {r['term']}: {r['estimate']:+.4g} [{r['ci_low']:.4g}, "
                             f"{r['ci_high']:.4g}], p = {r['p']:.3g}{extra}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _two_sided_sign_flip(values: np.ndarray, n_permutations: int, rng
                         ) -> tuple[float, str, int]:
    """``p, method, n_permutations`` of the two-sided dyad-level sign-flip test of
    ``values`` (NaN, "", 0 with fewer than 2 dyads)."""
    if values.size < 2:
        return np.nan, "", 0
    flips = sign_flip_test(values, n_permutations=n_permutations, seed=rng,
                           alternative="two-sided")
    return flips.p, flips.method, flips.n_permutations


def _mean_row(split: str, excess: pd.DataFrame, n_permutations: int, rng) -> dict:
    means = excess.groupby("dyad")["excess"].mean().to_numpy()
    mean, se, t, n = (float(np.asarray(v)) for v in one_sample_t(means))
    low, high = confidence_interval(mean, se, n - 1)
    p, how, done = _two_sided_sign_flip(means, n_permutations, rng)
    return {"term": SPLIT_TERMS[split], "estimate": mean, "std_error": se,
            "df": n - 1.0, "t": t, "p": p, "ci_low": float(low), "ci_high": float(high),
            "method": (f"mean over dyads of the dyad's mean excess; p: dyad-level "
                       f"sign-flip permutation test ({how}), two-sided; CI: t over dyads"),
            "formula": "", "n_obs": len(excess), "n_groups": int(n),
            "p_permutation": p, "permutation_method": how, "n_permutations": done}


def _growth_row(split: str, excess: pd.DataFrame, time: str, n_permutations: int, rng,
                df_method: str, growth_model: bool) -> tuple[dict, list[str]]:
    slopes = excess_slopes(excess, time).to_numpy()
    term = f"growth {TIME_CODINGS[time].units} of {SPLIT_TERMS[split]}"
    p_perm, how, done = _two_sided_sign_flip(slopes, n_permutations, rng)
    row = {"term": term, "p_permutation": p_perm, "permutation_method": how,
           "n_permutations": done, "n_obs": len(excess), "n_groups": int(slopes.size)}
    perm_text = f"permutation: dyad-level sign-flip of excess slopes ({how}), two-sided"
    if not growth_model or excess["dyad"].nunique() < 2 or excess["session"].nunique() < 2:
        mean, se, t, n = (float(np.asarray(v)) for v in one_sample_t(slopes))
        low, high = confidence_interval(mean, se, n - 1)
        row.update(estimate=mean, std_error=se, df=n - 1.0, t=t,
                   p=float(2 * sps.t.sf(abs(t), n - 1)) if n >= 2 else np.nan,
                   ci_low=float(low), ci_high=float(high), formula="",
                   method=f"mean of the dyads' least-squares slopes, t over dyads; "
                          f"{perm_text}")
        return row, []
    codes = {t: f"T{k + 1:03d}" for k, t in enumerate(
        sorted(excess["therapist"].unique(), key=str))}
    frame = excess.assign(therapist=excess["therapist"].map(codes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = fit_growth(frame, time=time, therapist="therapist", response="excess",
                         df_method=df_method)
    coef = fit.coefficients.loc[TIME_CODINGS[time].slope_term]
    low, high = confidence_interval(coef["estimate"], coef["std_error"], coef["df"])
    row.update(estimate=float(coef["estimate"]), std_error=float(coef["std_error"]),
               df=float(coef["df"]), t=float(coef["t"]), p=float(coef["p"]),
               ci_low=float(low), ci_high=float(high), formula=fit.labelled_formula,
               method=f"growth of the excess per dyad-session; {fit.method}; {perm_text}",
               singular=bool(fit.singular), converged=bool(fit.converged))
    return row, [f"{split}: {m}" for m in fit.messages]


def pseudo_split(pairings: pd.DataFrame, therapist_of, *, n_permutations: int = 9999,
                 seed=None, df_method: str = "satterthwaite", time: str = "linear",
                 growth_model: bool = True) -> PseudoSplitResult:
    """Real synchrony in excess of the therapist splits of its pseudo-dyads.

    See the module notes.

    Parameters
    ----------
    pairings : pandas.DataFrame
        :func:`~interbrain.stats.excess.pairing_sessions`: ``dyad`` (the therapist
        recording's dyad), ``partner_dyad`` (the patient recording's dyad),
        ``session, partner_session, pairing, synchrony``.
    therapist_of : dict or pandas.Series
        Dyad -> therapist id, for every dyad of ``pairings``. Ids may be any text.
    n_permutations : int
        Sign patterns of the dyad-level tests (all of them when ``2**n_dyads`` is at
        most this).
    seed : int, SeedSequence, Generator or None
        Seed of the sign patterns.
    df_method : {"satterthwaite", "kenward-roger"}
        Degrees of freedom of the growth models.
    time : {"linear", "log"}
        Time coding of the growth (quadratic: linear time, with a note).
    growth_model : bool
        Fit the mixed model of the excess' growth (False: the mean of the dyads'
        least-squares slopes with a t-test, much faster, for simulations).

    Returns
    -------
    PseudoSplitResult

    Raises
    ------
    ValueError
        Missing columns, no real or pseudo pairings, a dyad without a therapist,
        fewer than 2 therapists, a bad option.
    """
    n_permutations = check_int(n_permutations, "n_permutations", minimum=99)
    check_option(df_method, "df_method", ("satterthwaite", "kenward-roger"))
    time = check_time(time)
    notes: list[str] = []
    if time not in SLOPE_TIMES:
        notes.append("quadratic time has no single slope: growth uses linear time")
        time = "linear"
    excess = split_excess(pairings, therapist_of)
    rng = as_generator(seed)
    rows = []
    for split in SPLITS:
        part = excess[excess["split"] == split]
        if part.empty:
            notes.append(f"no {SPLIT_TERMS[split].split(' - ', 1)[1]} pseudo-dyads "
                         f"(no therapist treats two dyads)" if split == "own_patients"
                         else f"split {split} is empty")
            continue
        rows.append(_mean_row(split, part, n_permutations, rng))
        row, messages = _growth_row(split, part, time, n_permutations, rng, df_method,
                                    growth_model)
        rows.append(row)
        notes += messages
    traits, trait_notes = trait_tests(trait_contrast(pairings, therapist_of), df_method)
    notes += trait_notes
    if not traits:
        notes.append("no therapist treats two dyads: a therapist trait cannot be told "
                     "from a patient trait")
    for kind, res in traits.items():
        rows.append({"term": _TRAIT_TERMS[kind], "estimate": np.nan, "std_error": np.nan,
                     "df": res["df"], "t": np.nan, "p": res["p"], "statistic": res["F"],
                     "df_num": res["df_num"], "formula": res["formula"],
                     "method": res["method"],
                     "n_obs": res["n_obs"], "n_groups": res["n_dyads"]})
    table = pd.DataFrame(rows)
    table.insert(0, "model", "therapist:pseudo_split")
    table["n_therapists"] = excess["therapist"].nunique()
    table = with_counts(table, table["n_obs"], table["n_groups"])
    return PseudoSplitResult(excess=excess, rows=table, time=time, notes=notes)
