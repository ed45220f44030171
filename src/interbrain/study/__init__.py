"""Study description: ``study.toml`` and ``measures.csv``.

A study folder holds

- ``study.toml``: the dyads (therapist and patient ids), the sessions (per dyad and
  session number, the recording file of each role) and the analysis settings;
- ``measures.csv`` (optional): one row per dyad and session with the session
  questionnaires (``symptoms``, ``wellbeing``, ``session_quality``, ``alliance`` and
  any other numeric column).

:func:`load_study` reads and validates both. Every problem is reported as a
:class:`~interbrain.errors.StudyError` naming the file, the entry or line, and the
field. The format is documented in ``docs/study-format.md``.

Modules: :mod:`.model` (:class:`Study`, :class:`EngineSettings`), :mod:`.toml`
(:func:`load_study`), :mod:`.entries` (dyads, therapists, sessions, generalisation
recordings, regions), :mod:`.measures` (``measures.csv``). Each stage's settings
class reads its own table (``from_table``).
"""

from ..design import (PHASES, RESERVED_COLUMNS, ROLES, Dyad, GeneralisationRecording,
                      RecordingRef, SessionRecordings)
from ..preprocessing.settings import PreprocessingSettings
from ..stats.settings import StatisticsSettings
from ..synchrony.settings import AnalysisSettings
from .measures import STANDARD_MEASURES, load_measures, read_measures_csv
from .model import EngineSettings, Study
from .toml import load_study

__all__ = [
    "load_study", "Study", "EngineSettings", "read_measures_csv", "load_measures",
    "STANDARD_MEASURES", "AnalysisSettings", "PreprocessingSettings", "StatisticsSettings",
    "Dyad", "RecordingRef", "SessionRecordings", "GeneralisationRecording", "ROLES",
    "PHASES", "RESERVED_COLUMNS",
]
