"""Does synchrony's within-dyad association differ between two measures?

"Synchrony was associated with symptoms but not with alliance", judged from one
p < .05 and one p > .05, is not a test of a dissociation: the difference between
significant and not significant is not itself significant (Gelman & Stern 2006),
and a non-significant coefficient is not evidence of no association. This module
tests the dissociation directly and says, with an equivalence test and its power,
what the reference measure's coefficient shows.

Standardised within-dyad coefficients (:func:`within_dyad_coefficients`)
    For every dyad ``i`` with at least :data:`MIN_SESSIONS` sessions with
    synchrony and both measures, the OLS of each measure on
    ``1 + session + synchrony`` over that dyad's sessions gives its within-dyad
    coefficient ``gamma_i`` (the session's linear trend is the dyad's own, so that
    a dyad's course over therapy, e.g. symptoms falling while synchrony rises, is
    not counted as association). It is standardised as
    ``b_i = gamma_i * SD_w(synchrony) / SD_w(measure)``, with ``SD_w`` the pooled
    within-dyad SD over the rows used (:func:`~interbrain.stats.equivalence.
    level_sds`, the same scale as ``sesoi_scale="standardized"`` of the outcome
    models): measure SDs per SD of synchrony, comparable between measures on any
    scale. A measure's coefficient is the mean of its ``b_i`` over dyads, with a
    one-sample t-test and t interval over dyads (df = dyads - 1): the
    summary-statistics test of a mean within-dyad effect, valid whether or not the
    effect differs between dyads.

The difference (:func:`dissociation_test`)
    Per dyad ``d_i = b_i(measure) - b_i(reference)`` (both from the same sessions);
    the estimate is their mean. Its test is the dyad-level sign-flip permutation
    test (:func:`~interbrain.nulls.dyad_tests.sign_flip_test`): exact when every
    ``d_i`` is symmetric about 0 under the null hypothesis, e.g. when the two
    standardised measures are exchangeable given synchrony (all ``2**n`` sign
    patterns at up to 13 dyads, else ``n_permutations`` random ones). ``p`` is
    twice the smaller one-sided p (at most 1) and the 95% CI inverts the two
    one-sided tests at ``alpha / 2`` each (Hartigan 1969), so that 0 lies outside
    the CI exactly when ``p <= alpha``. With 5 dyads or fewer the CI is unbounded
    (no sign pattern is rarer than 1/32). ``std_error`` and ``t`` of this row are
    the one-sample t statistics of the ``d_i``, for information.
    A naive cluster bootstrap would be anti-conservative with 8 dyads; the
    sign-flip test was checked by simulation instead.

Calibration (:func:`~interbrain.stats.dissociation_simulation.
dissociation_calibration`, 8 dyads x 6 sessions, 1000 studies each, alpha 0.05;
the exact test can reject at most 12/256 = 4.7 % of sign patterns)
    Equal standardised coefficients: both 0, 4.3 % false positives of the
    difference; both 0.3 with noise correlation -0.5, 3.8 %; both 0.3 with
    different scales (noise SD 1 vs 5), trends over sessions and between-dyad
    effect SD 0.3, 3.6 %. Coverage of the difference's CI with 0.4 vs 0 (effect
    SD 0.3): 96.6 %, power 19.6 %. The coefficients' t-tests: 3.5-3.6 % false
    positives, coverage 96.3-97.0 %; the TOST at its margin (true coefficient =
    sesoi = 0.3) declared equivalence in 1.3 %.

``power_equivalence`` is optimistic at 8 dyads
    It takes the observed SE as the true one; with 7 df the SE is itself noisy and
    the per-dyad coefficients have heavy tails, so over 1000 null studies (sesoi
    0.5) its mean was 33 % while the TOST declared equivalence in 23 %. Read it as
    "even at face value the test had only X % power", not as a precise number.

Sign
    The difference is of signed coefficients: it tests whether the associations
    are equal, so a positive association with one measure and an equally strong
    negative one with the other differ. Where the measures' polarities differ (high
    symptoms are bad, high alliance good), reverse one before the test if the
    question is "is one association stronger". A comparison of magnitudes
    (``|beta_1| - |beta_2|``) is not offered: its null hypothesis is composite and
    neither the sign-flip test nor a bootstrap of 8 dyads is calibrated for it.

Equivalence of the reference
    Given ``sesoi`` (standardised units, as the coefficients), the reference
    measure's coefficient gets the TOST of
    :func:`~interbrain.stats.equivalence.equivalence_test` (t-based, df = dyads -
    1) and ``power_equivalence`` (:func:`~interbrain.stats.equivalence.
    equivalence_power`: its power at the observed SE if the true coefficient were
    0), so that "not associated" is claimed only when the TOST rejects, and
    otherwise the report can say how likely the test was to succeed.

References
----------
Gelman, A. & Stern, H. (2006). The difference between "significant" and "not
significant" is not itself statistically significant. *The American
Statistician* 60:328-331.

Hartigan, J. A. (1969). Using subsample values as typical values. *Journal of the
American Statistical Association* 64:1303-1317.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._check import check_int
from ..nulls.dyad_tests import sign_flip_test, t_test
from ._util import require_columns
from .equivalence import add_equivalence, level_sds
from .outcome_models import check_df_method
from .tables import MODEL_COLUMNS, combine_tables, with_counts

__all__ = ["MIN_DYADS", "MIN_SESSIONS", "within_dyad_coefficients", "DissociationResult",
           "dissociation_test", "coefficient_term", "difference_term"]

#: Dyads needed.
MIN_DYADS = 3
#: Sessions a dyad needs (with synchrony and both measures): three coefficients per
#: measure and at least one residual degree of freedom.
MIN_SESSIONS = 4
_INTERNAL = ["dyad", "session", "synchrony", "measure", "reference"]


def coefficient_term(measure: str) -> str:
    """``term`` of a measure's standardised coefficient in ``models.parquet``."""
    return f"synchrony -> {measure} (standardised, within dyad)"


def difference_term(measure: str, reference: str) -> str:
    """``term`` of the difference of the two coefficients."""
    return f"{measure} - {reference}"


def _paired_rows(sessions: pd.DataFrame, measures: pd.DataFrame, measure, reference
                 ) -> pd.DataFrame:
    """Sessions with synchrony and both measures, internal column names."""
    require_columns(sessions, ["dyad", "session", "synchrony"], "sessions")
    require_columns(measures, ["dyad", "session"], "measures")
    for name, role in ((measure, "measure"), (reference, "reference")):
        if isinstance(name, str) and name in ("dyad", "session"):
            raise ValueError(f"{role} {name!r} is an id column of measures, not a measure")
    if measure == reference:
        raise ValueError(f"measure and reference are the same column ({measure!r}); "
                         "the test compares two different measures")
    require_columns(measures, [measure, reference], "measures")
    right = measures[["dyad", "session", measure, reference]]
    right = right.set_axis(["dyad", "session", "measure", "reference"], axis=1)
    data = sessions[["dyad", "session", "synchrony"]].merge(right, on=["dyad", "session"],
                                                           how="inner")
    if data.duplicated(["dyad", "session"]).any():
        raise ValueError("sessions and measures must have one row per dyad and session")
    for col, name in (("session", "session"), ("synchrony", "synchrony"),
                      ("measure", measure), ("reference", reference)):
        if not (pd.api.types.is_numeric_dtype(data[col])
                and not pd.api.types.is_bool_dtype(data[col])):
            raise ValueError(f"column {name!r} must be numeric, got {data[col].dtype}")
    data = data.astype({c: float for c in _INTERNAL[1:]})
    keep = np.isfinite(data[_INTERNAL[1:]].to_numpy()).all(axis=1)
    return data[keep].sort_values(["dyad", "session"], ignore_index=True)


def within_dyad_coefficients(sessions: pd.DataFrame, measures: pd.DataFrame,
                             measure: str, reference: str
                             ) -> tuple[pd.DataFrame, dict[str, float], list[str]]:
    """Per-dyad standardised within-dyad coefficients of two measures (module notes).

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``dyad, session, synchrony``, one row per dyad-session.
    measures : pandas.DataFrame
        ``dyad, session`` and the two measure columns (any names).
    measure, reference : str
        The two measures' columns.

    Returns
    -------
    coefficients : pandas.DataFrame
        One row per dyad used: ``dyad, n_sessions, measure, reference, difference``
        (standardised coefficients, measure SDs per SD of synchrony, and their
        difference).
    scales : dict
        ``n_obs`` (the rows used) and the pooled within-dyad SDs ``synchrony,
        measure, reference`` over them.
    notes : list of str
        The dyads left out and why.

    Raises
    ------
    ValueError
        For missing or non-numeric columns, the same measure twice, duplicated
        dyad-sessions, fewer than :data:`MIN_DYADS` usable dyads or a measure
        without within-dyad variation.
    """
    data = _paired_rows(sessions, measures, measure, reference)
    notes: list[str] = []
    sizes = data.groupby("dyad", sort=True)["session"].transform("size")
    few = sorted(map(str, data.loc[sizes < MIN_SESSIONS, "dyad"].unique()))
    if few:
        notes.append(f"dyads left out (fewer than {MIN_SESSIONS} sessions with synchrony "
                     f"and both measures): {', '.join(few)}")
    data = data[sizes >= MIN_SESSIONS].reset_index(drop=True)
    raw, kept = [], []
    values = data[["session", "synchrony", "measure", "reference"]].to_numpy()
    codes, dyads = pd.factorize(data["dyad"])     # rows sorted: each dyad contiguous
    starts = np.flatnonzero(np.diff(codes, prepend=-1))
    for dyad, start, stop in zip(dyads, starts, [*starts[1:], len(data)]):
        s, y, m = values[start:stop, 0], values[start:stop, 1], values[start:stop, 2:]
        x = np.column_stack([np.ones_like(s), s - s.mean(), y])
        coef, _, rank, _ = np.linalg.lstsq(x, m, rcond=None)
        if rank < 3:
            notes.append(f"dyad {dyad!s} left out: its synchrony is constant or a linear "
                         "function of session")
            continue
        raw.append(coef[2])
        kept.append((dyad, stop - start))
    n = len(kept)
    if n < MIN_DYADS:
        raise ValueError(f"the dissociation test of {measure!r} and {reference!r} needs at "
                         f"least {MIN_DYADS} dyads with {MIN_SESSIONS} or more sessions with "
                         f"synchrony and both measures; got {n}")
    used = data["dyad"].isin([d for d, _ in kept]).to_numpy()
    codes = pd.factorize(data["dyad"][used])[0]
    scales = {col: level_sds(values[used, i], codes)[0]
              for i, col in enumerate(("session", "synchrony", "measure", "reference"))
              if i > 0}
    scales["n_obs"] = float(used.sum())
    for col, name in (("measure", measure), ("reference", reference)):
        if not scales[col] > 0:
            raise ValueError(f"measure {name!r} does not vary within dyads")
    gamma = np.asarray(raw)
    b = gamma * scales["synchrony"] / np.array([scales["measure"], scales["reference"]])
    out = pd.DataFrame({"dyad": [d for d, _ in kept], "n_sessions": [k for _, k in kept],
                        "measure": b[:, 0], "reference": b[:, 1],
                        "difference": b[:, 0] - b[:, 1]})
    return out, scales, notes


def _seed_sequence(seed) -> np.random.SeedSequence:
    """A fixed seed for every sign-flip test of one call (so that the p-value is
    monotone in the shift when the CI is found)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    return np.random.SeedSequence(None if seed is None
                                  else check_int(seed, "seed", minimum=0))


def _inverted_sign_flip(d: np.ndarray, alpha: float, n_permutations: int,
                        seed: np.random.SeedSequence) -> tuple[float, float, float, bool, int]:
    """Two-sided p (twice the smaller one-sided p) and the ``1 - alpha`` CI that
    inverts the two one-sided sign-flip tests at ``alpha / 2`` each (the same sign
    patterns throughout, so that each one-sided p is monotone in the shift)."""

    def p_side(delta: float, side: str):
        return sign_flip_test(d - delta, n_permutations=n_permutations, seed=seed,
                              alternative=side)

    greater, less = p_side(0.0, "greater"), p_side(0.0, "less")
    p = min(1.0, 2.0 * min(greater.p, less.p))
    lo_d, hi_d = float(d.min()), float(d.max())
    width = max(hi_d - lo_d, abs(hi_d), 1e-12)

    def bound(side: str) -> float:
        # "greater": p(delta) rises with delta; the lower limit is where it exceeds
        # alpha / 2. "less": falls; the upper limit is where it drops to alpha / 2.
        inside, outside = (hi_d, lo_d - width) if side == "greater" else (lo_d, hi_d + width)
        if p_side(outside, side).p > alpha / 2:
            return -math.inf if side == "greater" else math.inf
        for _ in range(200):
            mid = 0.5 * (inside + outside)
            if p_side(mid, side).p > alpha / 2:
                inside = mid
            else:
                outside = mid
            if abs(inside - outside) <= 1e-10 * width:
                break
        return inside

    return p, bound("greater"), bound("less"), greater.exact, greater.n_permutations


@dataclass
class DissociationResult:
    """Result of :func:`dissociation_test` (module notes).

    Attributes
    ----------
    measure, reference : str
        The two measures (user's names).
    coefficients : pandas.DataFrame
        Per dyad: ``dyad, n_sessions, measure, reference, difference``
        (:func:`within_dyad_coefficients`).
    table : pandas.DataFrame
        One row per term (the two coefficients, the difference): ``term, estimate,
        std_error, df, t, p, ci_low, ci_high, method`` and the equivalence columns.
    scales : dict
        ``n_obs`` and the pooled within-dyad SDs of synchrony and both measures.
    sesoi : float or None
        Smallest effect size of interest (standardised units).
    alpha : float
    exact : bool
        Whether all sign patterns were enumerated.
    n_permutations : int
        Sign patterns evaluated.
    notes : list of str
    """

    measure: str
    reference: str
    coefficients: pd.DataFrame
    table: pd.DataFrame
    scales: dict
    sesoi: float | None = None
    alpha: float = 0.05
    exact: bool = True
    n_permutations: int = 0
    notes: list = field(default_factory=list)

    @property
    def model(self) -> str:
        """``model`` in ``models.parquet``: ``dissociation:<measure> vs <reference>``."""
        return f"dissociation:{self.measure} vs {self.reference}"

    def row(self, which: str) -> pd.Series:
        """The table row of ``"measure"``, ``"reference"`` or ``"difference"``."""
        terms = {"measure": coefficient_term(self.measure),
                 "reference": coefficient_term(self.reference),
                 "difference": difference_term(self.measure, self.reference)}
        if which not in terms:
            raise ValueError(f"which must be one of {list(terms)}, got {which!r}")
        return self.table.iloc[list(terms).index(which)]

    def to_frame(self, signal: str = "", metric: str = "") -> pd.DataFrame:
        """Rows of ``models.parquet``: both coefficients and their difference.

        Parameters
        ----------
        signal, metric : str
            What synchrony was computed on.

        Returns
        -------
        pandas.DataFrame
            :data:`~interbrain.stats.tables.MODEL_COLUMNS` (``model``
            ``dissociation:<measure> vs <reference>``; ``term``
            ``synchrony -> <m> (standardised, within dyad)`` for each measure and
            ``<measure> - <reference>``), ``n_obs`` (dyad-sessions used),
            ``n_groups`` (dyads), ``ci_low, ci_high``, the equivalence columns
            (``sesoi, sesoi_scale, sesoi_input, p_equivalence, power_equivalence,
            equivalent``; filled for the reference's coefficient when ``sesoi``
            was given), ``permutation_method`` and ``n_permutations`` (the
            difference's sign-flip test).
        """
        out = self.table.copy()
        out.insert(0, "model", self.model)
        out.insert(1, "signal", signal)
        out.insert(2, "metric", metric)
        out["formula"] = (f"per dyad (OLS): measure ~ 1 + session + synchrony; "
                          f"measures {self.measure!r}, {self.reference!r}")
        rest = [c for c in out.columns if c not in MODEL_COLUMNS]
        out = with_counts(out[MODEL_COLUMNS + rest], int(self.scales["n_obs"]),
                          len(self.coefficients))
        return combine_tables([out])

    def summary(self) -> str:
        """What was shown, in words, and the table.

        "The associations differ" only when the difference's test rejects;
        "equivalent to zero within +-sesoi" only when the reference's TOST rejects;
        otherwise "inconclusive" with the equivalence test's power.
        """
        a = self.alpha
        m, r, d = self.row("measure"), self.row("reference"), self.row("difference")
        n = len(self.coefficients)

        def coef_text(row, name):
            side = "positive" if row["estimate"] > 0 else "negative"
            verdict = (f"associated ({side}, p = {row['p']:.3g})" if row["p"] < a
                       else f"not shown to be associated (p = {row['p']:.3g}; "
                            "not evidence of no association)")
            return (f"synchrony and {name!r}: standardised within-dyad coefficient "
                    f"{row['estimate']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}], "
                    f"{verdict}")

        lines = [f"Dissociation test of {self.measure!r} vs {self.reference!r} "
                 f"({n} dyads, {int(self.scales['n_obs'])} sessions)",
                 coef_text(m, self.measure), coef_text(r, self.reference)]
        diff = (f"difference {d['estimate']:.3f} [{d['ci_low']:.3f}, {d['ci_high']:.3f}], "
                f"sign-flip p = {d['p']:.3g}: ")
        lines.append(diff + ("the associations differ" if d["p"] <= a else
                             "the associations are not shown to differ"))
        if r["p"] >= a:
            if self.sesoi is None:
                lines.append(f"{self.reference!r}: inconclusive (no smallest effect size "
                             "of interest given, so no equivalence test)")
            elif pd.notna(r["equivalent"]) and bool(r["equivalent"]):
                lines.append(f"{self.reference!r}: equivalent to zero within "
                             f"+-{self.sesoi:g} (TOST p = {r['p_equivalence']:.3g})")
            else:
                lines.append(f"{self.reference!r}: inconclusive: neither associated nor "
                             f"shown equivalent to zero within +-{self.sesoi:g} (TOST p = "
                             f"{r['p_equivalence']:.3g}; equivalence test power "
                             f"{100 * r['power_equivalence']:.0f}%)")
        lines.append(self.table[["term", "estimate", "std_error", "df", "p", "ci_low",
                                 "ci_high"]].to_string(index=False))
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def dissociation_test(sessions: pd.DataFrame, measures: pd.DataFrame, measure: str,
                      reference: str, *, sesoi: float | None = None, alpha: float = 0.05,
                      n_permutations: int = 9999, seed=None,
                      df_method: str = "satterthwaite") -> DissociationResult:
    """Test whether synchrony's within-dyad association differs between two measures.

    Parameters
    ----------
    sessions : pandas.DataFrame
        ``dyad, session, synchrony``, one row per dyad-session.
    measures : pandas.DataFrame
        ``dyad, session`` and the measure columns.
    measure : str
        The measure with the association (e.g. symptoms).
    reference : str
        The measure it is compared with (e.g. alliance); its coefficient gets the
        equivalence test.
    sesoi : float, optional
        Smallest effect size of interest of the reference's coefficient, a
        standardised within-dyad coefficient (measure SDs per SD of synchrony).
    alpha : float
        Level of the tests in :meth:`DissociationResult.summary` and of the TOST
        (the CIs are 95% whatever ``alpha``; the difference's p does not depend on
        it).
    n_permutations : int
        Random sign patterns when enumerating all ``2**n`` would need more.
    seed : int, numpy.random.SeedSequence, numpy.random.Generator or None
        Seed of the random sign patterns (unused when they are enumerated).
    df_method : {"satterthwaite", "kenward-roger"}
        Accepted for a uniform interface with the outcome models; unused (the
        coefficients are means over dyads, df = dyads - 1).

    Returns
    -------
    DissociationResult

    Raises
    ------
    ValueError
        For missing or non-numeric columns, the same measure twice, fewer than 3
        usable dyads, a bad ``alpha`` or ``sesoi``.
    """
    check_df_method(df_method)
    if not (isinstance(alpha, (int, float, np.floating)) and 0 < float(alpha) < 0.5):
        raise ValueError(f"alpha must lie in (0, 0.5), got {alpha!r}")
    if sesoi is not None and not (isinstance(sesoi, (int, float, np.floating, np.integer))
                                  and math.isfinite(float(sesoi)) and float(sesoi) > 0):
        raise ValueError(f"the smallest effect size of interest must be a positive "
                         f"number, got {sesoi!r}")
    per_dyad, scales, notes = within_dyad_coefficients(sessions, measures, measure,
                                                       reference)
    seq = _seed_sequence(seed)
    d = per_dyad["difference"].to_numpy()
    p, lo, hi, exact, n_patterns = _inverted_sign_flip(d, 0.05, n_permutations, seq)
    n = len(per_dyad)
    t_method = ("mean over dyads of per-dyad OLS coefficients (measure ~ 1 + session + "
                "synchrony), standardised by the pooled within-dyad SDs of measure and "
                f"synchrony; one-sample t-test over {n} dyads (df = {n - 1}), 95% t "
                "interval")
    rows = []
    for col, name in (("measure", measure), ("reference", reference)):
        test = t_test(per_dyad[col].to_numpy())
        rows.append({"term": col, "estimate": test.mean,
                     "std_error": test.std_error, "df": test.df, "t": test.t, "p": test.p,
                     "method": t_method})
    diff = t_test(d)
    kind = "exact" if exact else "monte_carlo"
    rows.append({"term": "difference", "estimate": diff.mean,
                 "std_error": diff.std_error, "df": diff.df, "t": diff.t, "p": p,
                 "method": (f"mean over dyads of the per-dyad differences of the "
                            f"standardised within-dyad coefficients; two-sided dyad-level "
                            f"sign-flip permutation test ({kind}, {n_patterns} sign "
                            f"patterns; p = twice the smaller one-sided p), 95% CI by "
                            f"inverting it; std_error and t: one-sample t of the "
                            f"differences")})
    table = pd.DataFrame(rows)
    # internal term names while testing (user names may coincide as text)
    table = add_equivalence(table, sesoi, terms=("reference",), alpha=float(alpha))
    table["term"] = [coefficient_term(measure), coefficient_term(reference),
                     difference_term(measure, reference)]
    last = len(table) - 1
    table.loc[last, ["ci_low", "ci_high"]] = [lo, hi]
    table["sesoi_scale"] = np.where(table["sesoi"].notna(), "standardized", None)
    table["permutation_method"] = [None, None, kind]
    table["n_permutations"] = [np.nan, np.nan, float(n_patterns)]
    return DissociationResult(measure=measure, reference=reference, coefficients=per_dyad,
                              table=table, scales=scales,
                              sesoi=None if sesoi is None else float(sesoi),
                              alpha=float(alpha), exact=exact, n_permutations=n_patterns,
                              notes=notes)
