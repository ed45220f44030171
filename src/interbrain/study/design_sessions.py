"""The dyad-sessions of a study analysed from a synchrony table computed elsewhere
(``interbrain stats``), where no recording is read.

``[[sessions]]`` entries then need only ``dyad`` and ``session`` (and may give a
``condition``); recording fields, when given, are neither required nor read. The
dyad-sessions of the synchrony table's real rows are added where ``[[sessions]]``
does not list them, so a study.toml with ``[[dyads]]`` alone is enough. Each session's
:class:`~interbrain.design.RecordingRef` is :data:`NOT_RECORDED`: nothing reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._check import check_keys, check_name
from ..design import ROLES, RecordingRef, SessionRecordings
from ..errors import StudyError

__all__ = ["NOT_RECORDED", "parse_design_sessions"]

#: The path of the recordings of a session whose synchrony was computed elsewhere.
NOT_RECORDED = Path("(synchrony computed elsewhere)")
_RECORDING_FIELDS = {*ROLES, "recording", "channels", "align", "offset", "event"}


def _session(dyad: str, number: int, condition: str | None) -> SessionRecordings:
    return SessionRecordings(dyad, number, RecordingRef(NOT_RECORDED, "therapist"),
                             RecordingRef(NOT_RECORDED, "patient"), condition=condition)


def parse_design_sessions(entries: Any, dyad_ids: set[str], where: str,
                          found: Iterable[tuple[str, int]] = ()
                          ) -> tuple[SessionRecordings, ...]:
    """``[[sessions]]`` without recordings, completed by the dyad-sessions ``found``.

    Parameters
    ----------
    entries : list of dict or None
        The ``[[sessions]]`` tables as read (None: none).
    dyad_ids : set of str
        The ids of ``[[dyads]]``; every entry must name one.
    where : str
        The ``study.toml`` path, for messages.
    found : iterable of (str, int)
        Dyad-sessions of the synchrony table; those of dyads in ``dyad_ids`` that
        ``[[sessions]]`` does not list are added (others are left to the table's
        own check, which names its line).

    Returns
    -------
    tuple of SessionRecordings
        Sorted by dyad and session number.

    Raises
    ------
    StudyError
        Naming ``where``, the entry and the field: an unknown field, a dyad not in
        ``[[dyads]]``, a session that is not a positive whole number, a dyad-session
        listed twice, a condition that is not a name.
    """
    if entries is not None and not isinstance(entries, list):
        raise StudyError(f"{where}: [[sessions]] must be a list of tables")
    sessions: dict[tuple[str, int], SessionRecordings] = {}
    for k, entry in enumerate(entries or [], start=1):
        at = f"{where}: [[sessions]] entry {k}"
        if not isinstance(entry, dict):
            raise StudyError(f"{at}: must be a table")
        check_keys(entry, {"dyad", "session", "condition", *_RECORDING_FIELDS}, at,
                   StudyError)
        dyad, number = entry.get("dyad"), entry.get("session")
        if not isinstance(dyad, str) or dyad not in dyad_ids:
            raise StudyError(f"{at}: dyad {dyad!r} is not listed in [[dyads]]")
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise StudyError(f"{at}: field 'session' must be a positive whole number, "
                             f"got {number!r}")
        if (dyad, number) in sessions:
            raise StudyError(f"{at}: session {number} of dyad {dyad} is listed twice")
        condition = entry.get("condition")
        if condition is not None:
            if not isinstance(condition, str) or not condition.strip():
                raise StudyError(f"{at}: field 'condition' must be a non-empty string")
            check_name(condition, "condition", at, StudyError)
        sessions[(dyad, number)] = _session(dyad, number, condition)
    for dyad, number in found:
        if dyad in dyad_ids and (dyad, int(number)) not in sessions:
            sessions[(dyad, int(number))] = _session(dyad, int(number), None)
    return tuple(sessions[key] for key in sorted(sessions))
