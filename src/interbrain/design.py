"""The records a study is made of: dyads, recordings, sessions.

Plain, validated-elsewhere dataclasses that every stage may import (they import
nothing of interbrain): the loader (:mod:`interbrain.study`) builds them from
``study.toml``, the null controls pair them, the engine schedules them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROLES: tuple[str, str] = ("therapist", "patient")
#: How the two recordings of a session are put on one time base (see
#: :mod:`interbrain.assembly`).
ALIGN_METHODS: tuple[str, ...] = ("start_time", "event", "offset")
#: Column names of the design that covariates and measures cannot take.
RESERVED_COLUMNS: tuple[str, ...] = ("dyad", "session", "therapist", "patient",
                                     "condition", "synchrony")


@dataclass(frozen=True)
class Dyad:
    """A therapist-patient dyad.

    Attributes
    ----------
    id, therapist, patient : str
    condition : str or None
        The dyad's condition (e.g. ``"therapy"`` or ``"control"``), unless given per
        session.
    covariates : tuple of (str, float)
        Dyad-level covariates (name, value).
    """

    id: str
    therapist: str
    patient: str
    condition: str | None = None
    covariates: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class RecordingRef:
    """One person's recording: a file, and the channels of that person in it.

    Attributes
    ----------
    path : Path
        Absolute path of the file (or NIRx folder).
    role : str
        ``"therapist"`` or ``"patient"``.
    channels : tuple of str or None
        With a one-device recording of both people: this person's source-detector
        pairs, homologous in order to the other role's; None when the file holds
        one person only.
    """

    path: Path
    role: str
    channels: tuple[str, ...] | None = None

    @property
    def key(self) -> str:
        """Unique name: the path, plus ``#role`` when the file holds both people."""
        return str(self.path) if self.channels is None else f"{self.path}#{self.role}"

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class SessionRecordings:
    """The two recordings of one dyad in one session.

    Attributes
    ----------
    therapist, patient : RecordingRef
    align : str
        How the two are put on one time base: ``"start_time"``, ``"event"`` or
        ``"offset"`` (see :mod:`interbrain.assembly`).
    offset : float
        With ``align="offset"``: seconds the patient's first sample comes after the
        therapist's.
    event : str or None
        With ``align="event"``: the shared trigger's description.
    condition : str or None
        The session's condition, when conditions vary within dyads (otherwise the
        dyad's).
    """

    dyad: str
    session: int
    therapist: RecordingRef
    patient: RecordingRef
    align: str = "start_time"
    offset: float = 0.0
    event: str | None = None
    condition: str | None = None

    def recording(self, role: str) -> RecordingRef:
        """The recording of ``role`` (``"therapist"`` or ``"patient"``)."""
        return self.therapist if role == "therapist" else self.patient


#: Phases of a generalisation recording: before or after the treatment.
PHASES: tuple[str, str] = ("pre", "post")


@dataclass(frozen=True)
class GeneralisationRecording:
    """A patient recorded with someone other than the therapist (``[[generalisation]]``).

    Does synchrony learnt with the therapist carry over to other people? Each entry
    pairs the patient's recording with another person's, made together before or
    after the treatment.

    Attributes
    ----------
    dyad : str
        The patient's dyad.
    phase : str
        ``"pre"`` or ``"post"`` (treatment).
    partner : str
        The other person's id.
    patient, other : RecordingRef
        The patient's and the other person's recording (``other.role`` is
        ``"partner"``).
    align, offset, event
        As for :class:`SessionRecordings`.
    task : str
        What the two did together (e.g. ``"conversation"``); the same before and
        after treatment for one partner. Empty when not given.
    partner_kind : str
        Who the other person is to the patient (e.g. ``"friend"``, ``"stranger"``).
        Empty when not given.
    """

    dyad: str
    phase: str
    partner: str
    patient: RecordingRef
    other: RecordingRef
    align: str = "start_time"
    offset: float = 0.0
    event: str | None = None
    task: str = ""
    partner_kind: str = ""
