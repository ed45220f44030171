"""The models of the confirmatory family of one signal, metric and unit, as a job of
their own: the plasticity test against each kind of null and the outcome models.

They are the most expensive part of the statistics stage and independent of the rest,
so :func:`~interbrain.stats.study_models.fit_models` makes one
:class:`CoreModelJob` per signal and metric (and one for a restricted primary unit)
with :func:`core_model_job`, fits them with :func:`fit_core_models` through the
caller's ``map`` (Python's by default; a run's worker processes), and fits the other
models meanwhile. A job holds only the session-level tables its models read, and
the job and its :class:`CoreModels` pickle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from .excess import pairing_sessions
from .outcomes import OutcomeAnalysis, analyse_outcomes
from .plasticity import PlasticityResult, plasticity_test
from .sessions import session_synchrony

if TYPE_CHECKING:  # study_models builds the jobs and imports this module
    from .study_models import ModelInputs

__all__ = ["CoreModelJob", "CoreModels", "core_model_job", "fit_core_models"]


@dataclass(frozen=True)
class CoreModelJob:
    """The models of the confirmatory family of one signal, metric and unit, with the
    data they need (:func:`core_model_job`).

    Attributes
    ----------
    signal, metric : str
    where : str
        The unit in notes: ``"hbo/wtc"``, or with the primary scope
        (``"hbo/wtc, region prefrontal"``).
    pairings : pandas.DataFrame or None
        Real and null synchrony per dyad-session (:func:`~interbrain.stats.excess.
        pairing_sessions`) when the plasticity tests are fitted, else None.
    real : pandas.DataFrame or None
        Real session synchrony (:func:`~interbrain.stats.sessions.session_synchrony`)
        when the outcome models are fitted, else None.
    inputs : ModelInputs
        What the statistics need of the study.
    kinds : tuple of str
        The kinds of null in the synchrony table, pseudo-dyads first.
    """

    signal: str
    metric: str
    where: str
    pairings: pd.DataFrame | None
    real: pd.DataFrame | None
    inputs: ModelInputs
    kinds: tuple[str, ...]


@dataclass
class CoreModels:
    """The fitted models of one :class:`CoreModelJob`.

    Attributes
    ----------
    plasticity : dict
        Kind of null -> :class:`~interbrain.stats.plasticity.PlasticityResult`.
    outcomes : OutcomeAnalysis or None
        The outcome analysis of every measure; None without outcome models.
    notes : list of str
        Tests not run and notes on the fits, as :func:`~interbrain.stats.study_models.
        fit_models` reports them.
    """

    plasticity: dict[str, PlasticityResult]
    outcomes: OutcomeAnalysis | None
    notes: list[str]

    def outcome_fits(self) -> dict:
        """Model name (``outcome:<measure>``, ``lagged:<measure>``, ...; not the
        pre-post models) -> fitted model; empty without outcome models."""
        if self.outcomes is None:
            return {}
        return {name: fit for name, fit in self.outcomes.fits().items()
                if not name.startswith("prepost:")}


def core_model_job(synchrony: pd.DataFrame, signal: str, metric: str, inputs: ModelInputs,
                   kinds, can_grow: bool, where: str) -> CoreModelJob:
    """The job of one signal, metric and unit.

    Parameters
    ----------
    synchrony : pandas.DataFrame
        The tidy synchrony table (or its rows of the unit).
    signal, metric, where : str
        See :class:`CoreModelJob`.
    inputs : ModelInputs
    kinds : sequence of str
        The kinds of null present.
    can_grow : bool
        Whether the design supports growth and outcome models (2 dyads and 2 session
        numbers or more).

    Returns
    -------
    CoreModelJob
    """
    plasticity = can_grow and bool(kinds)
    outcomes = bool(inputs.measure_columns) and can_grow
    return CoreModelJob(signal, metric, where,
                        pairing_sessions(synchrony, signal, metric) if plasticity else None,
                        session_synchrony(synchrony, signal, "real", metric)
                        if outcomes else None, inputs, tuple(kinds))


def _plasticity_tests(job: CoreModelJob, notes: list) -> dict[str, PlasticityResult]:
    """The plasticity test against each kind of null present (pseudo-dyads first)."""
    st, inputs = job.inputs.settings, job.inputs
    therapists = (dict(zip(inputs.dyads["dyad"], inputs.dyads["therapist"]))
                  if inputs.dyads is not None else None)
    out = {}
    for kind in job.kinds:
        try:
            out[kind] = plasticity_test(
                job.pairings, time=st.time, null=kind,
                n_permutations=st.n_permutations or 999, seed=st.seed,
                df_method=st.df_method, therapist=therapists)
        except ValueError as exc:
            notes.append(f"plasticity test against {kind} ({job.where}) not run: {exc}")
            continue
        notes += [f"plasticity against {kind} ({job.where}): {n}" for n in out[kind].notes]
    return out


def fit_core_models(job: CoreModelJob) -> CoreModels:
    """Fit the models of one job: growth of the excess over each kind of null
    (:func:`~interbrain.stats.plasticity.plasticity_test`) and the outcome analyses
    of every measure (:func:`~interbrain.stats.outcomes.analyse_outcomes`).

    Parameters
    ----------
    job : CoreModelJob

    Returns
    -------
    CoreModels
        The same in whichever process it runs (every resampling is seeded by
        ``[statistics] seed``).
    """
    st, notes = job.inputs.settings, []
    plasticity = _plasticity_tests(job, notes) if job.pairings is not None else {}
    outcomes = None
    if job.real is not None:
        outcomes = analyse_outcomes(
            job.real, job.inputs.measures, sesoi=st.sesoi_option, sesoi_scale=st.sesoi_scale,
            alpha=st.alpha, time=st.time, lagged=st.lagged, prepost=st.prepost,
            df_method=st.df_method, n_bootstrap=st.n_bootstrap, seed=st.seed)
        notes += [f"outcomes ({job.where}): {n}" for n in outcomes.notes]
    return CoreModels(plasticity, outcomes, notes)
