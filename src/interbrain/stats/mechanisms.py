"""The mechanism questions of inter-brain plasticity, for one signal and metric.

The theory says repeated high synchrony changes a patient's ability to synchronise,
first with the therapist, then with other people, and that this leads to symptom
change. Besides the cross-lagged models of the outcome analysis (what precedes
what, :mod:`interbrain.stats.cross_lagged`), the run asks:

- what mediates (:func:`~interbrain.stats.mediation.fit_mediation`, every measure,
  with ``[statistics] mediation``): does synchrony carry the change of a measure over
  sessions?
- whether an association differs from another
  (:func:`~interbrain.stats.dissociation.dissociation_test`, each pair of
  ``[statistics] dissociation``), with the equivalence test of the reference and its
  power, so "not associated with alliance" is a tested claim;
- what is therapist-specific (:func:`~interbrain.stats.therapist_effects.
  therapist_effects` and :func:`~interbrain.stats.therapist_pseudo.pseudo_split`,
  with two or more therapists and ``[statistics] therapist_effects``);
- what generalises (:func:`~interbrain.stats.generalisation_patients.
  generalisation_patients`, with ``[[generalisation]]`` recordings): does a patient's
  growth of synchrony with the therapist predict their change with other people?

Each is skipped with a note when the design cannot support it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .dissociation import dissociation_test
from .equivalence import sesoi_for
from .excess import pairing_sessions
from .generalisation_patients import generalisation_patients
from .mediation import fit_mediation
from .settings import StatisticsSettings
from .therapist_effects import therapist_effects
from .therapist_pseudo import pseudo_split

__all__ = ["MechanismInputs", "mechanism_models"]


@dataclass(frozen=True)
class MechanismInputs:
    """What the mechanism models need of a study, beyond the synchrony table.

    Parameters
    ----------
    settings : StatisticsSettings
    measures : pandas.DataFrame
        ``dyad, session`` and the measure columns.
    measure_columns : tuple of str
        The outcome measures.
    dyads : pandas.DataFrame or None
        One row per dyad: ``dyad, therapist, patient`` and ``condition`` where the
        study gives one.
    partners : pandas.DataFrame or None
        ``[[generalisation]]`` partners (:func:`~interbrain.stats.
        generalisation_patients.generalisation_partners`); None without any.
    """

    settings: StatisticsSettings
    measures: pd.DataFrame
    measure_columns: tuple[str, ...]
    dyads: pd.DataFrame | None = None
    partners: pd.DataFrame | None = None


def _attempt(results: dict, notes: list, name: str, what: str, fit) -> None:
    """``results[name] = fit()``, or a note saying why ``what`` was not fitted."""
    try:
        results[name] = fit()
    except ValueError as exc:
        notes.append(f"{what} not fitted: {exc}")
        return
    notes.extend(f"{what}: {note}" for note in getattr(results[name], "notes", []))


def mechanism_models(synchrony: pd.DataFrame, real: pd.DataFrame, inputs: MechanismInputs,
                     signal: str, metric: str) -> tuple[dict, list[str]]:
    """Mediation, dissociation, therapist and generalisation models of one signal and
    metric (module notes).

    Parameters
    ----------
    synchrony : pandas.DataFrame
        The tidy synchrony table of the run (every pairing).
    real : pandas.DataFrame
        Session-level real synchrony: ``dyad, session, synchrony`` and ``therapist``.
    inputs : MechanismInputs
    signal, metric : str

    Returns
    -------
    results : dict
        Name -> result (each presents itself with ``to_frame(signal, metric)``):
        ``mediation:<measure>``, ``dissociation:<measure> vs <reference>``,
        ``therapist_effects``, ``therapist:pseudo_split``, ``generalisation:patients``.
    notes : list of str
        What was not fitted, and why; the results' own notes.
    """
    st, where = inputs.settings, f"({signal}/{metric})"
    results: dict = {}
    notes: list[str] = []
    if st.mediation:
        for measure in inputs.measure_columns:
            _attempt(results, notes, f"mediation:{measure}",
                     f"mediation of {measure!r} {where}",
                     lambda m=measure: fit_mediation(real, inputs.measures, m,
                                                     df_method=st.df_method, seed=st.seed))
    for measure, reference in st.dissociation:
        _attempt(results, notes, f"dissociation:{measure} vs {reference}",
                 f"dissociation test of {measure!r} and {reference!r} {where}",
                 lambda m=measure, r=reference: dissociation_test(
                     real, inputs.measures, m, r, sesoi=sesoi_for(st.sesoi_option, r),
                     alpha=st.alpha, n_permutations=st.n_permutations or 9999,
                     seed=st.seed, df_method=st.df_method))
    dyads = inputs.dyads
    n_therapists = dyads["therapist"].nunique() if dyads is not None else 0
    if st.therapist_effects and n_therapists >= 2:
        _attempt(results, notes, "therapist_effects", f"therapist effects {where}",
                 lambda: therapist_effects(real, time=st.time, df_method=st.df_method))
        if (synchrony["pairing"] == "pseudo").any():
            therapist_of = dict(zip(dyads["dyad"], dyads["therapist"]))
            _attempt(results, notes, "therapist:pseudo_split",
                     f"pseudo-dyads split by therapist {where}",
                     lambda: pseudo_split(pairing_sessions(synchrony, signal, metric),
                                          therapist_of,
                                          n_permutations=st.n_permutations or 9999,
                                          seed=st.seed, df_method=st.df_method,
                                          time="linear" if st.time == "quadratic"
                                          else st.time))
    if inputs.partners is not None and len(inputs.partners):
        _attempt(results, notes, "generalisation:patients",
                 f"patient-level generalisation model {where}",
                 lambda: generalisation_patients(
                     synchrony, dyads, signal, metric, partners=inputs.partners,
                     n_permutations=st.n_permutations or 9999, seed=st.seed))
    return results, notes
