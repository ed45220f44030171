"""A loaded study (:class:`Study`) and where it runs (:class:`EngineSettings`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .._check import settings_from_table
from ..design import Dyad, GeneralisationRecording, SessionRecordings
from ..errors import StudyError
from ..preprocessing.settings import PreprocessingSettings
from ..stats.settings import StatisticsSettings
from ..synchrony.settings import AnalysisSettings
from ..nulls.moments import MomentSpec
from ..synchrony.summaries.segments import SegmentSpec


@dataclass(frozen=True)
class EngineSettings:
    """Where and how a study runs (``[engine]``); command-line options override them.

    Parameters
    ----------
    scheduler : str
        ``"processes"``: the embedded process pool (faster, as MNE's preprocessing
        partly holds Python's GIL); ``"threads"``: the embedded threaded scheduler;
        otherwise the address of an existing dask.distributed scheduler
        (``"tcp://host:8786"``) to run the graph on. Empty: ``interbrain run`` uses
        processes with more than one worker and threads with one
        (:func:`~interbrain.engine.graph.default_scheduler`);
        :func:`~interbrain.engine.run_study` uses threads.
    workers : int
        Threads or processes of the embedded scheduler; 0 for one per core.
    cache : str
        Folder of the cache of intermediate products, relative to ``study.toml``;
        empty for ``OUT/.cache``.
    """

    scheduler: str = ""
    workers: int = 0
    cache: str = ""

    @classmethod
    def from_table(cls, table: object, where: str) -> "EngineSettings":
        """The settings of an ``[engine]`` table of ``study.toml``, checked.

        Parameters
        ----------
        table : dict or None
            The table as read; None for the defaults.
        where : str
            The file and table, for messages (``"<path>: [engine]"``).

        Returns
        -------
        EngineSettings
            ``cache`` as written (the loader resolves it against the study folder).

        Raises
        ------
        StudyError
            Naming ``where`` and the first unknown, mistyped or invalid field.
        """
        settings = settings_from_table(cls, table, where, StudyError)
        if settings.workers < 0:
            raise StudyError(f"{where}: field 'workers' must be 0 (one per core) or a "
                             f"positive number, got {settings.workers}")
        return settings


@dataclass(frozen=True)
class Study:
    """A validated study.

    Attributes
    ----------
    root : Path
        Folder of ``study.toml``; relative recording paths are resolved against it.
    dyads : tuple of Dyad
    sessions : tuple of SessionRecordings
        Sorted by dyad and session number.
    measures : pandas.DataFrame
        One row per dyad and session (columns ``dyad``, ``session`` and one float
        column per measure); empty when the study has no ``measures.csv``.
    regions : dict
        Channel name (``"S1_D1"``) -> region-of-interest label.
    statistics : StatisticsSettings
        What the statistics stage fits (``[statistics]``).
    therapists : dict
        Therapist id -> {covariate name: value} (``[[therapists]]``).
    engine : EngineSettings
        Scheduler, workers and cache folder (``[engine]``).
    generalisation : tuple of GeneralisationRecording
        Recordings of patients with other people before and after treatment.
    segments : SegmentSpec or None
        How sessions divide into labelled segments (``[segments]``); None: no segments.
    moments : MomentSpec or None
        Marked moments and their windows (``[moments]``); None: none.
    """

    root: Path
    name: str
    description: str
    analysis: AnalysisSettings
    preprocessing: PreprocessingSettings
    dyads: tuple[Dyad, ...]
    sessions: tuple[SessionRecordings, ...]
    measures: pd.DataFrame = field(compare=False)
    regions: dict[str, str] = field(default_factory=dict)
    statistics: StatisticsSettings = field(default_factory=StatisticsSettings)
    therapists: dict[str, dict[str, float]] = field(default_factory=dict, compare=False)
    engine: EngineSettings = field(default_factory=EngineSettings)
    generalisation: tuple[GeneralisationRecording, ...] = ()
    segments: SegmentSpec | None = None
    moments: MomentSpec | None = None

    @property
    def measure_columns(self) -> list[str]:
        """Names of the outcome measures of ``measures.csv`` (its columns but
        ``dyad``, ``session`` and those used as covariates)."""
        return [c for c in self.measures.columns
                if c not in ("dyad", "session", *self.statistics.covariates)]

    @property
    def n_therapists(self) -> int:
        """Number of distinct therapists."""
        return len({d.therapist for d in self.dyads})

    def design(self) -> pd.DataFrame:
        """The study design, one row per dyad-session.

        Returns
        -------
        pandas.DataFrame
            Columns ``dyad``, ``session``, ``therapist``, ``patient``, ``condition``
            (only when any dyad or session has one) and one column per covariate of
            ``statistics.covariates`` (therapist, dyad or ``measures.csv``
            covariates).
        """
        dyads = {d.id: d for d in self.dyads}
        rows = []
        for s in self.sessions:
            d = dyads[s.dyad]
            row = {"dyad": s.dyad, "session": s.session, "therapist": d.therapist,
                   "patient": d.patient, "condition": s.condition or d.condition}
            row.update(self.therapists.get(d.therapist, {}))
            row.update(dict(d.covariates))
            rows.append(row)
        frame = pd.DataFrame(rows)
        if frame["condition"].isna().all():
            frame = frame.drop(columns="condition")
        session_covariates = [c for c in self.statistics.covariates
                              if c in self.measures.columns]
        if session_covariates:
            frame = frame.merge(self.measures[["dyad", "session", *session_covariates]],
                                on=["dyad", "session"], how="left")
        keep = ["dyad", "session", "therapist", "patient"]
        keep += ["condition"] if "condition" in frame.columns else []
        return frame[keep + list(self.statistics.covariates)]

    @property
    def session_numbers(self) -> list[int]:
        """Sorted distinct session numbers."""
        return sorted({s.session for s in self.sessions})

    def dyad(self, dyad_id: str) -> Dyad:
        """The dyad with id ``dyad_id``."""
        for d in self.dyads:
            if d.id == dyad_id:
                return d
        raise KeyError(dyad_id)
