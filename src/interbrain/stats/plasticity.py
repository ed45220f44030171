"""Inter-brain plasticity: does real synchrony grow over sessions *beyond its null*?

Growth of real synchrony alone (:mod:`interbrain.stats.growth`) is not evidence of
plasticity: anything that raises synchrony at a session number in every pairing
(habituation to the caps, better optode placement, paced breathing in later sessions
of an anxiety treatment: a shared 0.1 Hz rhythm that wavelet coherence counts
whatever its phase) makes it grow. The plasticity test asks whether the *excess* of
real synchrony over its null grows (:mod:`interbrain.stats.excess`):

Model
    ``excess ~ <time> + (1 + <time> | dyad)`` (plus ``(1 | therapist)`` with several
    therapists), REML, with Satterthwaite or Kenward-Roger degrees of freedom, as the
    growth model (:func:`~interbrain.stats.growth.fit_growth`, including its
    random-intercept fallback when a random slope is not identified). The estimate
    is the growth of the excess per session (per unit of ``log(session)``).

Dyad-level permutation test (``p_permutation``)
    The excess values share recordings (every pseudo-dyad reuses a real dyad's
    recordings), so the mixed model's p-value leans on a model of their dependence;
    a test at the level of dyads does not. The default
    (``permutation="sign_flip"``) is the sign-flip test of the dyads' least-squares
    slopes of the excess on time (:func:`~interbrain.nulls.dyad_tests.
    sign_flip_test`, two-sided on their mean; exact over all ``2**n_dyads`` sign
    patterns when they fit in ``n_permutations``, Monte Carlo with
    ``(1 + b) / (1 + B)`` otherwise): valid when the dyads' slopes are independent and
    symmetric about zero under the null, whatever their spread.

    ``permutation="reassign"`` **reassigns partners within session number** instead
    (every pseudo-dyad of every session number must have been computed): each
    permutation pairs each therapist recording of a session number with a randomly
    chosen patient recording of that session number (a uniformly random permutation
    per session number, independently across session numbers), recomputes each
    pairing's excess over the pseudo-dyads that share a recording with it, and the
    statistic is the one-sample t over dyads (therapist rows) of their slopes. Its
    permutation distribution is exact when real pairs are exchangeable with pseudo
    pairs (no coupling at all), but real dyads whose coupling changes over sessions
    in different directions (a growth that varies between dyads around a mean of
    zero, the null of no plasticity) have more spread in their slopes than permuted
    pairings can show, so the test rejects too often under that null: 7.8 % at alpha
    5 % in 1,000 simulated 8 x 6 studies (docs/statistics.md, "Calibration"). It is
    kept for comparison and is not the default.

Only this test's result is called "inter-brain plasticity" in the report and
``methods.md``; the growth of real synchrony alone is "growth of synchrony".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._check import as_generator, check_int, check_option
from ..nulls.dyad_tests import confidence_interval, one_sample_t, sign_flip_test
from .excess import excess_table, pseudo_matrices
from .growth import fit_growth
from .mixed import LmerResult
from .permutation import permutation_p
from .slopes import dyad_ols_slopes
from .tables import mixed_model_groups
from .time_codings import SLOPE_TIMES, TIME_CODINGS, check_time, time_values

__all__ = ["PlasticityResult", "plasticity_test", "reassigned_partner_statistics",
           "excess_slopes"]

#: Dyad-level permutation tests of :func:`plasticity_test`.
PERMUTATIONS: tuple[str, ...] = ("sign_flip", "reassign")

_PERMUTATION_METHODS = {
    "reassign": "partners reassigned within session number (Monte Carlo), two-sided",
    "exact": "dyad-level sign-flip of excess slopes (exact), two-sided",
    "monte_carlo": "dyad-level sign-flip of excess slopes (Monte Carlo), two-sided",
}


@dataclass
class PlasticityResult:
    """Result of :func:`plasticity_test`.

    Attributes
    ----------
    null : str
        The kind of null the excess is over.
    time : str
        Time coding of the model.
    term : str
        The fixed-effect term tested (``"session"`` or ``"np.log(session)"``).
    estimate, std_error, df, t, p : float
        Growth of the excess per unit of time, from the mixed model (two-sided p).
    ci_low, ci_high : float
        Its 95 % confidence interval (t quantile with ``df``).
    p_permutation : float
        The dyad-level permutation p-value (two-sided; see the module notes).
    permutation_method : str
        ``"reassign"``, ``"exact"`` or ``"monte_carlo"`` (see the module notes).
    n_permutations : int
        Permutations (sign patterns) evaluated.
    fit : LmerResult
        The mixed model of the excess.
    excess : pandas.DataFrame
        ``dyad, session, real, null, n_null, excess`` (:func:`~interbrain.stats.
        excess.excess_table`).
    notes : list of str
    """

    null: str
    time: str
    term: str
    estimate: float
    std_error: float
    df: float
    t: float
    p: float
    ci_low: float
    ci_high: float
    p_permutation: float
    permutation_method: str
    n_permutations: int
    fit: LmerResult
    excess: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def n_dyads(self) -> int:
        """Dyads with an excess in at least one session."""
        return int(self.excess["dyad"].nunique())

    @property
    def singular(self) -> bool:
        """Whether the mixed model's fit is singular."""
        return bool(self.fit.singular)

    @property
    def simplification(self) -> str:
        """How the model was simplified from the random-slope model ("" if not)."""
        if "(1 + " not in self.fit.formula:
            return "random slope not identified: random intercept per dyad only"
        return getattr(self.fit, "simplification", "")

    @property
    def method(self) -> str:
        """The test in words, as in ``models.parquet``."""
        return (f"growth of real minus {self.null} synchrony per dyad-session; "
                f"{self.fit.method}; permutation: "
                f"{_PERMUTATION_METHODS[self.permutation_method]}")

    def to_frame(self, signal: str = "", metric: str = "", name: str | None = None
                 ) -> pd.DataFrame:
        """One row of ``models.parquet``.

        Parameters
        ----------
        signal, metric : str
            What the test was computed on.
        name : str, optional
            The ``model`` column: ``"plasticity"`` against pseudo-dyads,
            ``"plasticity:<null>"`` against another null by default.

        Returns
        -------
        pandas.DataFrame
            :data:`~interbrain.stats.tables.MODEL_COLUMNS`, ``n_obs`` (dyad-sessions),
            ``n_groups`` (dyads), ``ci_low, ci_high, p_permutation,
            permutation_method, n_permutations, null_kind, n_dyads, df_method,
            singular, converged, simplification``.
        """
        if name is None:
            name = "plasticity" if self.null == "pseudo" else f"plasticity:{self.null}"
        row = {"model": name, "signal": signal, "metric": metric, "term": self.term,
               "estimate": self.estimate, "std_error": self.std_error, "df": self.df,
               "t": self.t, "p": self.p, "method": self.method,
               "formula": self.fit.labelled_formula, "n_obs": int(self.fit.nobs),
               "n_groups": mixed_model_groups(self.fit), "ci_low": self.ci_low,
               "ci_high": self.ci_high, "p_permutation": self.p_permutation,
               "permutation_method": self.permutation_method,
               "n_permutations": self.n_permutations, "null_kind": self.null,
               "n_dyads": float(self.n_dyads),
               "df_method": getattr(self.fit, "df_method", "Satterthwaite"),
               "singular": self.singular, "converged": bool(self.fit.converged),
               "simplification": self.simplification}
        return pd.DataFrame([row])

    def summary(self) -> str:
        """The test in one line.

        Returns
        -------
        str
        """
        return (f"plasticity (excess over {self.null}): {self.estimate:+.4g} "
                f"{TIME_CODINGS[self.time].units} [{self.ci_low:.4g}, {self.ci_high:.4g}], "
                f"t({self.df:.3g}) = {self.t:.3g}, p = {self.p:.3g}; permutation "
                f"({self.permutation_method}) p = {self.p_permutation:.3g}; "
                f"{self.n_dyads} dyads")


def excess_slopes(excess: pd.DataFrame, time: str = "linear") -> pd.Series:
    """Each dyad's least-squares slope of its excess on time.

    Parameters
    ----------
    excess : pandas.DataFrame
        ``dyad, session, excess``.
    time : {"linear", "log"}

    Returns
    -------
    pandas.Series
        Indexed by dyad; dyads with fewer than 2 distinct sessions are left out.
    """
    slopes = dyad_ols_slopes(excess, time, value="excess").set_index("dyad")["ols_slope"]
    return slopes.dropna().rename("slope")


def reassigned_partner_statistics(matrices: dict, time: str, n_permutations: int, rng
                                  ) -> tuple[float, np.ndarray]:
    """The observed and permuted t statistics of the partner-reassignment test.

    Parameters
    ----------
    matrices : dict
        Session number -> ``(dyads, Y)`` (:func:`~interbrain.stats.excess.
        pseudo_matrices`).
    time : {"linear", "log"}
    n_permutations : int
        Random reassignments ``B``.
    rng : numpy.random.Generator

    Returns
    -------
    observed : float
        t over dyads of the real pairings' excess slopes.
    permuted : numpy.ndarray, shape (B,)
        The same statistic for each reassignment (NaN where it is undefined).
    """
    dyads = sorted({d for ds, _ in matrices.values() for d in ds})
    row = {d: k for k, d in enumerate(dyads)}
    sessions = sorted(matrices)
    x = time_values(np.array(sessions, dtype=float), time)
    D, S, B = len(dyads), len(sessions), n_permutations
    present = np.zeros((D, S), dtype=bool)
    for s_idx, s in enumerate(sessions):
        present[[row[d] for d in matrices[s][0]], s_idx] = True
    n_present = present.sum(axis=1)
    xbar = np.where(n_present > 0, (present * x).sum(axis=1) / np.maximum(n_present, 1), 0.0)
    xc = np.where(present, x[None, :] - xbar[:, None], 0.0)
    sxx = (xc ** 2).sum(axis=1)
    keep = sxx > 1e-12
    weights = np.where(keep[:, None], xc / np.where(keep, sxx, 1.0)[:, None], 0.0)
    excess = np.zeros((B + 1, D, S))
    for s_idx, s in enumerate(sessions):
        ds, Y = matrices[s]
        n = len(ds)
        rows = np.array([row[d] for d in ds])
        perm = np.vstack([np.arange(n), np.argsort(rng.random((B, n)), axis=1)])
        cells = Y[np.arange(n)[None, :], perm]                     # (B + 1, n)
        pool = Y.sum(axis=1)[None, :] + Y.sum(axis=0)[perm] - 2.0 * cells
        excess[:, rows, s_idx] = cells - pool / (2.0 * (n - 1))
    slopes = np.einsum("bds,ds->bd", excess, weights)[:, keep]
    if slopes.shape[1] < 2:
        raise ValueError("the permutation test needs at least 2 dyads with excess "
                         "synchrony in 2 or more sessions")
    _, _, t, _ = one_sample_t(slopes, axis=1)
    t = np.asarray(t, dtype=float)
    return float(t[0]), t[1:]


def plasticity_test(pairings: pd.DataFrame, *, time: str = "linear", null: str = "pseudo",
                    n_permutations: int = 999, seed=0, df_method: str = "satterthwaite",
                    therapist: pd.Series | dict | None = None,
                    permutation: str = "sign_flip") -> PlasticityResult:
    """Does the excess of real synchrony over its null grow over sessions?

    See the module notes for the model and the permutation test.

    Parameters
    ----------
    pairings : pandas.DataFrame
        Session-level synchrony of every pairing
        (:func:`~interbrain.stats.excess.pairing_sessions`): ``dyad, partner_dyad,
        session, partner_session, pairing, synchrony``.
    time : {"linear", "log", "quadratic"}
        Time coding; ``"quadratic"`` has no single slope, so the test uses linear
        time (a note says so).
    null : str
        ``"pseudo"`` (pseudo-dyads of the same session number, the default and the
        headline test), ``"familiarity"`` or a surrogate kind.
    n_permutations : int
        Permutations ``B`` (at least 99).
    seed : int, SeedSequence, Generator or None
        Seed of the permutations.
    df_method : {"satterthwaite", "kenward-roger"}
        Degrees of freedom of the mixed model's t-test.
    therapist : pandas.Series or dict, optional
        Dyad -> therapist id: a crossed ``(1 | therapist)`` when there are several.
    permutation : {"sign_flip", "reassign"}
        The dyad-level permutation test (see the module notes): sign flips of the
        dyads' excess slopes (default), or partners reassigned within session number
        (against pseudo-dyads only; it falls back to sign flips, with a note, when
        not every pseudo-dyad was computed).

    Returns
    -------
    PlasticityResult

    Raises
    ------
    ValueError
        No real rows or null draws, fewer than 2 dyads or 2 session numbers with an
        excess, too few permutations.
    """
    n_permutations = check_int(n_permutations, "n_permutations", minimum=99)
    check_option(permutation, "permutation", PERMUTATIONS)
    notes = []
    time = check_time(time)
    if time not in SLOPE_TIMES:
        notes.append("quadratic time has no single slope: the plasticity test uses "
                     "linear time")
        time = "linear"
    excess = excess_table(pairings, null)
    if excess["dyad"].nunique() < 2 or excess["session"].nunique() < 2:
        raise ValueError(f"the plasticity test needs at least 2 dyads and 2 session "
                         f"numbers with real and {null!r} synchrony; got "
                         f"{excess['dyad'].nunique()} dyad(s) and "
                         f"{excess['session'].nunique()} session number(s)")
    frame = excess.copy()
    therapist_col = None
    if therapist is not None:
        frame["therapist"] = frame["dyad"].map(dict(therapist))
        therapist_col = "therapist"
    fit = fit_growth(frame, time=time, therapist=therapist_col, response="excess",
                     df_method=df_method)
    term = TIME_CODINGS[time].slope_term
    coef = fit.coefficients.loc[term]
    low, high = confidence_interval(coef["estimate"], coef["std_error"], coef["df"], 0.95)
    rng = as_generator(seed)
    reassign = permutation == "reassign" and null == "pseudo"
    matrices = pseudo_matrices(pairings) if reassign else None
    if matrices:
        observed, permuted = reassigned_partner_statistics(matrices, time, n_permutations,
                                                           rng)
        permuted = permuted[np.isfinite(permuted)]
        p_perm, method, n_done = permutation_p(observed, permuted), "reassign", permuted.size
    else:
        if reassign:
            notes.append("not every pseudo-dyad was computed: partners cannot be "
                         "reassigned, the permutation test flips the signs of the "
                         "dyads' excess slopes")
        slopes = excess_slopes(excess, time)
        if slopes.size < 2:
            raise ValueError("the permutation test needs at least 2 dyads with excess "
                             "synchrony in 2 or more sessions")
        flips = sign_flip_test(slopes.to_numpy(), n_permutations=n_permutations, seed=rng,
                               alternative="two-sided")
        p_perm, method, n_done = flips.p, flips.method, flips.n_permutations
    return PlasticityResult(
        null=null, time=time, term=term, estimate=float(coef["estimate"]),
        std_error=float(coef["std_error"]), df=float(coef["df"]), t=float(coef["t"]),
        p=float(coef["p"]), ci_low=float(low), ci_high=float(high),
        p_permutation=float(p_perm), permutation_method=method,
        n_permutations=int(n_done), fit=fit, excess=excess,
        notes=notes + list(fit.messages))
