"""Generalisation at the patient level: does a patient's growth of synchrony with the
therapist predict the change of their synchrony with other people?

The theory of generalisation is a statement about patients: what a patient learns with
the therapist carries over to other people. So each patient gets two numbers
(:func:`patient_generalisation_table`):

``therapy_slope``
    The growth of synchrony with the therapist: the OLS slope over sessions of the
    dyad's session-level synchrony in excess of the pseudo-dyad null of the same
    session (:func:`~interbrain.stats.excess.excess_table`), or of real synchrony when
    the run has no pseudo-dyads.
``other_change``
    The change of synchrony with other people (``[[generalisation]]``) from before to
    after treatment: post minus pre per partner, averaged over the patient's partners;
    minus the change of the pseudo-generalisation null (the patient's recordings with
    other patients' partners, and the patient's partners' recordings with other
    patients; :func:`~interbrain.nulls.pseudo_dyads.pseudo_generalisation_pairings`)
    when the run has it.

:func:`generalisation_patients` regresses ``other_change`` on ``therapy_slope`` across
patients (OLS; with the condition and a patient-level partner kind as covariates where
they vary) and tests the slope by its OLS t and by permuting the therapy slopes across
patients (within conditions); it also gives the mean change with other people and the
differences between conditions and between partner kinds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._check import check_int
from ..design import GeneralisationRecording
from ..nulls.dyad_tests import confidence_interval, sign_flip_test, t_test
from ..nulls.pseudo_dyads import PSEUDO_OTHER_KINDS
from ._util import require_columns
from .excess import excess_table, pairing_sessions
from .generalisation_tests import slope_permutation, two_sample_permutation
from .slopes import dyad_ols_slopes
from .tables import MODEL_COLUMNS, with_counts

__all__ = ["MODEL_NAME", "PATIENT_COLUMNS", "PatientGeneralisationResult",
           "generalisation_partners", "patient_generalisation_table",
           "generalisation_patients"]

#: The ``model`` column of the rows of :class:`PatientGeneralisationResult`.
MODEL_NAME = "generalisation:patients"
#: Columns of :attr:`PatientGeneralisationResult.data` (one row per patient).
PATIENT_COLUMNS = ["dyad", "patient", "condition", "partner_kind", "therapy_slope",
                   "n_sessions", "other_pre", "other_post", "null_change", "other_change",
                   "n_partners"]
_OTHER_KINDS = ("other_pre", "other_post")


def generalisation_partners(recordings: Sequence[GeneralisationRecording]) -> pd.DataFrame:
    """The partners of a study's ``[[generalisation]]`` recordings.

    Parameters
    ----------
    recordings : sequence of GeneralisationRecording
        ``study.generalisation``.

    Returns
    -------
    pandas.DataFrame
        ``dyad, partner, partner_kind, task``: one row per patient and partner.
    """
    rows = {(g.dyad, g.partner): (g.partner_kind, g.task) for g in recordings}
    return pd.DataFrame([(d, p, k, t) for (d, p), (k, t) in sorted(rows.items())],
                        columns=["dyad", "partner", "partner_kind", "task"])


def _therapy_slopes(pairs: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per-dyad slope of (excess) session synchrony with the therapist, and its basis."""
    if (pairs["pairing"] == "pseudo").any():
        sessions = excess_table(pairs, "pseudo")
        basis = "real synchrony in excess of the pseudo-dyad null of the same session"
        slopes = dyad_ols_slopes(sessions, value="excess")
    else:
        real = pairs[pairs["pairing"] == "real"]
        sessions = real.groupby(["dyad", "session"], as_index=False)["synchrony"].mean()
        basis = "real synchrony (no pseudo-dyads in the run)"
        slopes = dyad_ols_slopes(sessions, value="synchrony")
    return slopes.rename(columns={"ols_slope": "therapy_slope"}), basis


def _null_change(pairs: pd.DataFrame) -> pd.Series | None:
    """Per dyad: post minus pre of the pseudo-generalisation null (both sides)."""
    rows = pairs[pairs["pairing"].isin(PSEUDO_OTHER_KINDS)]
    if rows.empty:
        return None
    draws = pd.concat([rows[["dyad", "pairing", "synchrony"]],
                       rows[["partner_dyad", "pairing", "synchrony"]].rename(
                           columns={"partner_dyad": "dyad"})], ignore_index=True)
    means = draws.groupby(["dyad", "pairing"])["synchrony"].mean().unstack("pairing")
    means = means.reindex(columns=list(PSEUDO_OTHER_KINDS))
    return means[PSEUDO_OTHER_KINDS[1]] - means[PSEUDO_OTHER_KINDS[0]]


def _partner_changes(pairs: pd.DataFrame, kinds: dict) -> pd.DataFrame:
    """``dyad, partner, partner_kind, pre, post, change`` of partners with both phases."""
    rows = pairs[pairs["pairing"].isin(_OTHER_KINDS)]
    wide = (rows.groupby(["dyad", "partner_dyad", "pairing"])["synchrony"].mean()
            .unstack("pairing").reindex(columns=list(_OTHER_KINDS)).dropna())
    out = pd.DataFrame({"dyad": wide.index.get_level_values(0),
                        "partner": wide.index.get_level_values(1),
                        "pre": wide["other_pre"].to_numpy(),
                        "post": wide["other_post"].to_numpy()})
    out["change"] = out["post"] - out["pre"]
    out.insert(2, "partner_kind", [kinds.get((d, p), "") for d, p in
                                   zip(out["dyad"], out["partner"])])
    return out


def patient_generalisation_table(synchrony: pd.DataFrame, dyads: pd.DataFrame,
                                 signal: str, metric: str = "wtc", *,
                                 partners: pd.DataFrame | None = None
                                 ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Each patient's therapy slope and change of synchrony with other people.

    Parameters
    ----------
    synchrony : pandas.DataFrame
        The tidy synchrony table of a run (``dyad, partner_dyad, session, signal,
        pairing, metric, value``): pairings ``real`` (and ``pseudo``), ``other_pre``,
        ``other_post`` (and ``pseudo_other_pre``, ``pseudo_other_post``).
    dyads : pandas.DataFrame
        One row per dyad: ``dyad, therapist, patient`` and optionally ``condition``.
    signal, metric : str
        Which rows.
    partners : pandas.DataFrame, optional
        ``dyad, partner, partner_kind`` (:func:`generalisation_partners`).

    Returns
    -------
    patients : pandas.DataFrame
        :data:`PATIENT_COLUMNS`, one row per patient with a therapy slope or a change
        with other people (NaN where one is missing). ``other_pre``/``other_post``
        are means over the partners with both phases; ``other_change`` is their
        difference minus ``null_change`` (0 without pseudo-generalisation rows).
        ``partner_kind`` is the patient's partners' kind when they share one, else
        ``""``.
    partner_changes : pandas.DataFrame
        ``dyad, partner, partner_kind, pre, post, change`` (raw, without the null).
    bases : dict
        ``"therapy_slope"`` and ``"other_change"``: what each was computed from.

    Raises
    ------
    ValueError
        Missing columns, a dyad listed twice, a patient in several dyads with data,
        or no rows of ``signal`` and ``metric``.
    """
    require_columns(dyads, ["dyad", "therapist", "patient"], "dyads")
    if dyads["dyad"].duplicated().any():
        raise ValueError(f"dyads lists dyad(s) twice: "
                         f"{sorted(map(str, dyads.loc[dyads['dyad'].duplicated(), 'dyad']))}")
    kinds = {}
    if partners is not None:
        require_columns(partners, ["dyad", "partner", "partner_kind"], "partners")
        kinds = {(d, p): str(k) for d, p, k in zip(partners["dyad"], partners["partner"],
                                                   partners["partner_kind"].fillna(""))}
    pairs = pairing_sessions(synchrony, signal, metric)
    if pairs.empty:
        raise ValueError(f"the synchrony table has no rows of signal {signal!r} and "
                         f"metric {metric!r}")
    pairs = pairs[pairs["dyad"].isin(set(dyads["dyad"]))]
    slopes, slope_basis = ((pd.DataFrame(columns=["dyad", "therapy_slope", "n_sessions"]),
                            "") if not (pairs["pairing"] == "real").any()
                           else _therapy_slopes(pairs))
    changes = _partner_changes(pairs, kinds)
    null = _null_change(pairs)
    per = changes.groupby("dyad").agg(other_pre=("pre", "mean"), other_post=("post", "mean"),
                                      n_partners=("change", "size"))
    if null is None:
        per["null_change"] = 0.0
        change_basis = "real synchrony with other people (no pseudo-generalisation pairings)"
    else:
        per["null_change"] = null.reindex(per.index)
        change_basis = ("real synchrony with other people in excess of the "
                        "pseudo-generalisation null of the same phase")
    per["other_change"] = per["other_post"] - per["other_pre"] - per["null_change"]
    kind_of = changes.groupby("dyad")["partner_kind"].agg(
        lambda k: k.iloc[0] if k.nunique() == 1 else "")
    out = dyads.set_index("dyad").reindex(
        sorted(set(slopes["dyad"]) | set(per.index), key=str))
    out = out.assign(condition=(out["condition"].fillna("").astype(str)
                                if "condition" in out.columns else ""))
    out = out.join(slopes.set_index("dyad")[["therapy_slope", "n_sessions"]]).join(per)
    out["partner_kind"] = kind_of.reindex(out.index).astype(object).fillna("")
    out = out.reset_index(names="dyad")
    have = out["other_change"].notna()
    repeated = out.loc[have, "patient"][out.loc[have, "patient"].duplicated()]
    if len(repeated):
        raise ValueError(f"patient(s) {sorted(map(str, set(repeated)))} have generalisation "
                         "data in several dyads; the patient-level model needs one dyad "
                         "per patient")
    out["n_sessions"] = out["n_sessions"].fillna(0).astype(int)
    out["n_partners"] = out["n_partners"].fillna(0).astype(int)
    return (out[PATIENT_COLUMNS], changes,
            {"therapy_slope": slope_basis, "other_change": change_basis})


class PatientGeneralisationResult:
    """The patient-level generalisation model (see :func:`generalisation_patients`).

    Attributes
    ----------
    data : pandas.DataFrame
        One row per patient (:data:`PATIENT_COLUMNS`).
    tests : pandas.DataFrame
        One row per term: ``term, estimate, std_error, df, t, p, p_permutation,
        permutation_method, n_permutations, n_obs, method, formula``.
    bases : dict
        What ``therapy_slope`` and ``other_change`` were computed from.
    notes : list of str
        Patients left out and why.
    """

    def __init__(self, data: pd.DataFrame, tests: pd.DataFrame, bases: dict,
                 notes: list[str]):
        self.data = data
        self.tests = tests
        self.bases = bases
        self.notes = notes

    def to_frame(self, signal: str = "", metric: str = "", name: str = MODEL_NAME,
                 ci: float = 0.95) -> pd.DataFrame:
        """Rows of ``models.parquet`` (model ``"generalisation:patients"``).

        Parameters
        ----------
        signal, metric : str
            What the model was fitted on.
        name : str
            The ``model`` column.
        ci : float
            Level of ``ci_low, ci_high`` (t quantile with the row's df).

        Returns
        -------
        pandas.DataFrame
            :data:`~interbrain.stats.tables.MODEL_COLUMNS`, ``ci_low, ci_high``,
            ``n_obs, n_groups`` (patients), ``p_permutation, permutation_method,
            n_permutations``. ``p`` is the OLS (t-test) p-value, ``p_permutation``
            the permutation test's.
        """
        t = self.tests
        out = pd.DataFrame({"model": name, "signal": signal, "metric": metric,
                            **{c: t[c].to_numpy() for c in MODEL_COLUMNS[3:]}})
        out = out[MODEL_COLUMNS]
        out["ci_low"], out["ci_high"] = confidence_interval(out["estimate"], out["std_error"],
                                                            out["df"], ci)
        out = with_counts(out, t["n_obs"].to_numpy(), t["n_obs"].to_numpy())
        for col in ("p_permutation", "permutation_method", "n_permutations"):
            out[col] = t[col].to_numpy()
        return out

    def summary(self) -> str:
        """The patients' numbers, the tests and the notes, as text.

        Returns
        -------
        str
        """
        cols = ["term", "estimate", "std_error", "df", "t", "p", "p_permutation", "n_obs"]
        lines = [f"Patient-level generalisation ({len(self.data)} patients)",
                 f"therapy_slope: OLS slope per session of {self.bases['therapy_slope']}",
                 f"other_change: post - pre, mean over partners, of "
                 f"{self.bases['other_change']}", "",
                 self.tests[cols].to_string(index=False)]
        if self.notes:
            lines += ["", "Notes:"] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)


def _dummies(values: pd.Series) -> np.ndarray:
    """Treatment-coded indicator columns (the first sorted level the reference)."""
    levels = sorted(set(values))
    return np.column_stack([(values == lev).to_numpy(float) for lev in levels[1:]]) \
        if len(levels) > 1 else np.empty((len(values), 0))


def _row(term, estimate, se, df, t, p, perm, n_obs, method, formula) -> dict:
    return {"term": term, "estimate": estimate, "std_error": se, "df": df, "t": t, "p": p,
            "p_permutation": perm.p if perm else np.nan,
            "permutation_method": perm.method if perm else "",
            "n_permutations": perm.n_permutations if perm else 0,
            "n_obs": n_obs, "method": method, "formula": formula}


def _reference(levels: list[str], preferred: str) -> str:
    return preferred if preferred in levels else sorted(levels)[0]


def _group_contrasts(values: pd.Series, y: pd.Series, what: str, preferred: str,
                     n_permutations: int, rng: np.random.Generator) -> list[dict]:
    """Each level of ``values`` against the reference: two-sample t and label permutation."""
    levels = sorted(set(values))
    ref = _reference(levels, preferred)
    rows = []
    for level in (lev for lev in levels if lev != ref):
        keep = values.isin([ref, level]).to_numpy()
        group = (values[keep] == level).to_numpy()
        if group.sum() < 1 or (~group).sum() < 1 or keep.sum() < 3:
            continue
        test = two_sample_permutation(y.to_numpy(float)[keep], group,
                                      n_permutations=n_permutations, rng=rng)
        rows.append(_row(f"other_change: {what} {level} - {ref}", test.estimate,
                         test.std_error, test.df, test.t, test.p_t, test, int(keep.sum()),
                         f"difference in mean other_change between patients of {what} "
                         f"{level!r} and {ref!r}: pooled-variance two-sample t-test; "
                         f"permutation p from permuting the {what} labels across patients "
                         f"({test.method}, {test.n_permutations})", f"other_change ~ {what}"))
    return rows


def _kind_contrasts(changes: pd.DataFrame, null_change: pd.Series, n_permutations: int,
                    rng: np.random.Generator) -> list[dict]:
    """Partner kinds against the reference: paired within patients who have both kinds,
    else between patients."""
    per = changes.groupby(["dyad", "partner_kind"])["change"].mean().unstack()
    per = per.sub(null_change.reindex(per.index).fillna(0.0), axis=0)
    ref = _reference(list(per.columns), "stranger")
    rows = []
    for level in (c for c in per.columns if c != ref):
        both = per[[ref, level]].dropna()
        if len(both) >= 3:
            d = (both[level] - both[ref]).to_numpy()
            tt = t_test(d, "two-sided")
            perm = sign_flip_test(d, n_permutations=n_permutations, seed=rng,
                                  alternative="two-sided")
            rows.append(_row(f"other_change: partner_kind {level} - {ref}", tt.mean,
                             tt.std_error, tt.df, tt.t, tt.p, perm, tt.n,
                             "within-patient difference in other_change between partners "
                             f"of kind {level!r} and {ref!r}: one-sample t-test over "
                             f"patients; sign-flip permutation p ({perm.method}, "
                             f"{perm.n_permutations})",
                             "other_change ~ partner_kind + (patient)"))
            continue
        single = per[per.notna().sum(axis=1) == 1]
        kind = single.notna().idxmax(axis=1)
        y = single.max(axis=1, skipna=True)
        rows += _group_contrasts(kind[kind.isin([ref, level])],
                                 y[kind.isin([ref, level])], "partner_kind", ref,
                                 n_permutations, rng)
    return rows


def generalisation_patients(synchrony: pd.DataFrame, dyads: pd.DataFrame, signal: str,
                            metric: str = "wtc", *, partners: pd.DataFrame | None = None,
                            n_permutations: int = 9999, seed=None
                            ) -> PatientGeneralisationResult:
    """Does each patient's growth of synchrony with the therapist predict the change
    of their synchrony with other people?

    Fits ``other_change ~ therapy_slope`` (OLS) across patients
    (:func:`patient_generalisation_table`), adding the condition where patients with a
    therapy slope differ in it (e.g. a waiting-list control) and the partner kind where
    each patient has partners of one kind and the kinds differ. The slope is tested
    by its OLS t (df ``n - k``) and by permutation: the therapy slopes are permuted
    across patients (within conditions), the t recomputed; all permutations are
    enumerated when there are at most ``max(n_permutations, 50000)`` (8 patients:
    40320), else ``n_permutations`` are drawn (``p = (1 + b) / (1 + B)``). Also
    tested: the mean ``other_change`` (one-sample t; sign-flip permutation), the
    difference in ``other_change`` between conditions (two-sample t; permuted
    condition labels) and between partner kinds (within patients who had both, else
    between patients).

    Parameters
    ----------
    synchrony : pandas.DataFrame
        The tidy synchrony table of a run.
    dyads : pandas.DataFrame
        One row per dyad: ``dyad, therapist, patient`` and optionally ``condition``
        (the reference level is ``"control"`` where present, else the first sorted).
    signal : str
    metric : str
    partners : pandas.DataFrame, optional
        ``dyad, partner, partner_kind`` (:func:`generalisation_partners`); without
        it no partner kinds.
    n_permutations : int
        Permutations drawn where enumeration would need more (at least 1).
    seed : int, SeedSequence, Generator or None
        Seed of the drawn permutations.

    Returns
    -------
    PatientGeneralisationResult

    Raises
    ------
    ValueError
        Bad input (see :func:`patient_generalisation_table`), no patient with a
        change with other people, or fewer patients with both numbers than the model
        has coefficients plus one.
    """
    n_permutations = check_int(n_permutations, "n_permutations", minimum=1)
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    data, changes, bases = patient_generalisation_table(synchrony, dyads, signal, metric,
                                                        partners=partners)
    notes = []
    has_change = data["other_change"].notna()
    if not has_change.any():
        raise ValueError("no patient has synchrony with another person both before and "
                         "after treatment (pairings other_pre and other_post"
                         + (", with a pseudo-generalisation null of both phases)"
                            if bases["other_change"].startswith("real synchrony with other "
                                                                "people in excess") else ")"))
    for d in data.loc[~has_change, "dyad"]:
        notes.append(f"dyad {d}: no change with other people (pre and post recordings with "
                     "one partner, and the null of both phases, are needed)")
    fit = data[has_change & data["therapy_slope"].notna()].reset_index(drop=True)
    for d in data.loc[has_change & data["therapy_slope"].isna(), "dyad"]:
        notes.append(f"dyad {d}: no therapy slope (fewer than 2 sessions with the "
                     "therapist); left out of the slope model")
    covariates, terms = [], ["therapy_slope"]
    if fit["condition"].nunique() > 1:
        covariates.append(_dummies(fit["condition"]))
        terms.append("condition")
    if (fit["partner_kind"] != "").all() and fit["partner_kind"].nunique() > 1:
        covariates.append(_dummies(fit["partner_kind"]))
        terms.append("partner_kind")
    Z = np.column_stack([np.ones(len(fit))] + covariates)
    if len(fit) < Z.shape[1] + 2:
        raise ValueError(f"the patient-level model other_change ~ {' + '.join(terms)} "
                         f"needs at least {Z.shape[1] + 2} patients with a therapy slope "
                         f"and a change with other people; got {len(fit)}")
    slope = slope_permutation(fit["other_change"].to_numpy(float),
                              fit["therapy_slope"].to_numpy(float), Z,
                              fit["condition"].to_numpy(), n_permutations=n_permutations,
                              rng=rng)
    within = " within conditions" if "condition" in terms else ""
    rows = [_row("therapy_slope -> other_change", slope.estimate, slope.std_error, slope.df,
                 slope.t, slope.p_t, slope, len(fit),
                 f"OLS of other_change on therapy_slope across patients, t-test; "
                 f"permutation p from permuting therapy slopes across patients{within} "
                 f"({slope.method}, {slope.n_permutations}); therapy_slope: per-dyad OLS "
                 f"slope per session of "
                 f"{bases['therapy_slope']}; other_change: post - pre, mean over partners, "
                 f"of {bases['other_change']}", f"other_change ~ {' + '.join(terms)}")]
    y = data.loc[has_change, "other_change"]
    tt = t_test(y.to_numpy(float), "two-sided")
    flip = sign_flip_test(y.to_numpy(float), n_permutations=n_permutations, seed=rng,
                          alternative="two-sided")
    rows.append(_row("other_change (mean)", tt.mean, tt.std_error, tt.df, tt.t, tt.p, flip,
                     tt.n, "mean over patients of other_change (post - pre, mean over "
                     f"partners, of {bases['other_change']}): one-sample t-test; "
                     f"sign-flip permutation p ({flip.method}, {flip.n_permutations})",
                     "other_change ~ 1"))
    cond = data.loc[has_change, "condition"]
    if cond.nunique() > 1 and (cond != "").all():
        rows += _group_contrasts(cond, y, "condition", "control", n_permutations, rng)
    if changes["partner_kind"].nunique() > 1 and (changes["partner_kind"] != "").all():
        rows += _kind_contrasts(changes[changes["dyad"].isin(set(data.loc[has_change,
                                                                           "dyad"]))],
                                data.set_index("dyad")["null_change"], n_permutations, rng)
    return PatientGeneralisationResult(data, pd.DataFrame(rows), bases, notes)
