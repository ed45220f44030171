"""The entries of ``study.toml`` that describe the study's people and recordings.

``[[dyads]]``, ``[[therapists]]``, ``[[sessions]]``, ``[[generalisation]]`` and
``[regions]``, each checked (names by :data:`~interbrain._check.NAME_RULE`, recording
files by existence) into the records of :mod:`interbrain.design`. Every problem is a
:class:`~interbrain.errors.StudyError` naming the file, the entry and the field.
"""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from typing import Any

from .._check import check_distinct, check_keys, check_name
from ..assembly import CroppedSession
from ..design import (ALIGN_METHODS, PHASES, RESERVED_COLUMNS, ROLES, Dyad,
                      GeneralisationRecording, RecordingRef, SessionRecordings)
from ..errors import StudyError
from .inputs import session_inputs, table_refs, with_defaults


def parse_dyads(entries: Any, where: str) -> tuple[Dyad, ...]:
    """``[[dyads]]``: id, therapist, patient, optional condition and covariates.

    Parameters
    ----------
    entries : list of dict
        The ``[[dyads]]`` tables as read.
    where : str
        The ``study.toml`` path, for messages.

    Returns
    -------
    tuple of Dyad
        In file order.
    """
    if not isinstance(entries, list) or not entries:
        raise StudyError(f"{where}: needs at least one [[dyads]] entry")
    dyads: list[Dyad] = []
    seen: set[str] = set()
    for k, entry in enumerate(entries, start=1):
        at = f"{where}: [[dyads]] entry {k}"
        if not isinstance(entry, dict):
            raise StudyError(f"{at}: must be a table")
        check_keys(entry, {"id", "therapist", "patient", "condition", "covariates"}, at,
                   StudyError)
        for key in ("id", "therapist", "patient"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise StudyError(f"{at}: field '{key}' is missing or not a non-empty string")
            check_name(entry[key], f"field '{key}'", at, StudyError)
        if entry["id"] in seen:
            raise StudyError(f"{at}: dyad id {entry['id']!r} is listed twice")
        if entry["therapist"] == entry["patient"]:
            raise StudyError(f"{at}: therapist and patient are the same person "
                             f"{entry['therapist']!r}")
        seen.add(entry["id"])
        condition = _condition(entry, at)
        covariates = tuple(_covariates(entry.get("covariates", {}), f"{at}: covariates").items())
        dyads.append(Dyad(entry["id"], entry["therapist"], entry["patient"], condition,
                          covariates))
    return tuple(dyads)


def _condition(entry: dict, at: str) -> str | None:
    value = entry.get("condition")
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise StudyError(f"{at}: field 'condition' must be a non-empty string, got {value!r}")
    if value is not None:
        check_name(value, "condition", at, StudyError)
    return value


def _covariates(table: Any, at: str) -> dict[str, float]:
    """A table of named numeric covariates."""
    if not isinstance(table, dict):
        raise StudyError(f"{at}: must be a table of name = number")
    out = {}
    for name, value in table.items():
        check_name(name, "covariate name", at, StudyError)
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value)):
            raise StudyError(f"{at}: covariate {name!r} must be a finite number, got "
                             f"{value!r}")
        if name in RESERVED_COLUMNS:
            raise StudyError(f"{at}: {name!r} is a reserved name, not a covariate name")
        out[str(name)] = float(value)
    check_distinct(out, "covariate name", at, StudyError, reserved=RESERVED_COLUMNS)
    return out


def parse_therapists(entries: Any, therapist_ids: set[str], where: str
                     ) -> dict[str, dict[str, float]]:
    """``[[therapists]]``: id and therapist-level covariates (e.g. burnout).

    Parameters
    ----------
    entries : list of dict or None
        The ``[[therapists]]`` tables as read; None when the study has none.
    therapist_ids : set of str
        The therapists of the dyads; each entry must name one, and, when there are
        entries, every therapist needs one, with the same covariates.
    where : str
        The ``study.toml`` path, for messages.

    Returns
    -------
    dict
        Therapist id -> {covariate name: value}.
    """
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise StudyError(f"{where}: [[therapists]] must be a list of tables")
    out: dict[str, dict[str, float]] = {}
    for k, entry in enumerate(entries, start=1):
        at = f"{where}: [[therapists]] entry {k}"
        if not isinstance(entry, dict):
            raise StudyError(f"{at}: must be a table")
        tid = entry.get("id")
        if not isinstance(tid, str) or not tid:
            raise StudyError(f"{at}: field 'id' is missing or not a non-empty string")
        check_name(tid, "field 'id'", at, StudyError)
        if tid not in therapist_ids:
            raise StudyError(f"{at}: therapist {tid!r} is not the therapist of any dyad")
        if tid in out:
            raise StudyError(f"{at}: therapist {tid!r} is listed twice")
        out[tid] = _covariates({n: v for n, v in entry.items() if n != "id"}, at)
    names = [set(c) for c in out.values()]
    if names and any(n != names[0] for n in names) or (out and len(out) < len(therapist_ids)):
        raise StudyError(f"{where}: [[therapists]]: every therapist needs an entry with "
                         f"the same covariates (therapists: {', '.join(sorted(therapist_ids))})")
    return out


def _recording_path(rel: Any, root: Path, at: str, what: str) -> Path:
    if not isinstance(rel, str) or not rel:
        raise StudyError(f"{at}: field '{what}' is missing")
    path = (root / rel).resolve()
    if not path.exists():
        raise StudyError(f"{at}: {what.replace('_', ' ')} '{rel}' does not exist (looked for "
                         f"{path})")
    return path


def _parse_session_files(entry: dict, root: Path, at: str
                         ) -> tuple[RecordingRef, RecordingRef]:
    if "recording" in entry:
        # one device, both people: a channel-to-role map says whose channels are whose
        if any(role in entry for role in ROLES):
            raise StudyError(f"{at}: give either 'recording' (one file of both people, with "
                             "'channels') or 'therapist' and 'patient' files, not both")
        path = _recording_path(entry["recording"], root, at, "recording")
        table = entry.get("channels")
        if not isinstance(table, dict) or set(table) != set(ROLES):
            raise StudyError(f"{at}: a one-file session needs a channel-to-role map "
                             "'channels = {therapist = [...], patient = [...]}'")
        names = {}
        for role in ROLES:
            value = table[role]
            if (not isinstance(value, list) or not value
                    or not all(isinstance(v, str) and v for v in value)):
                raise StudyError(f"{at}: channels.{role} must be a non-empty list of "
                                 "source-detector pair names such as \"S1_D1\"")
            for name in value:
                check_name(name, f"channels.{role} name", at, StudyError)
            names[role] = tuple(value)
        if len(names["therapist"]) != len(names["patient"]):
            raise StudyError(f"{at}: channels.therapist lists {len(names['therapist'])} and "
                             f"channels.patient {len(names['patient'])} channels; the k-th of "
                             "each are homologous, so the counts must match")
        shared = sorted(set(names["therapist"]) & set(names["patient"]))
        if shared:
            raise StudyError(f"{at}: channel(s) {', '.join(shared)} are listed for both "
                             "therapist and patient")
        return (RecordingRef(path, "therapist", names["therapist"]),
                RecordingRef(path, "patient", names["patient"]))
    if "channels" in entry:
        raise StudyError(f"{at}: 'channels' (a channel-to-role map) goes with a one-file "
                         "'recording'")
    refs = []
    for role in ROLES:
        if not isinstance(entry.get(role), str) or not entry[role]:
            raise StudyError(f"{at}: field '{role}' (the {role}'s recording file) is missing")
        refs.append(RecordingRef(_recording_path(entry[role], root, at,
                                                 f"the {role}'s recording file"), role))
    return refs[0], refs[1]


def _parse_alignment(entry: dict, at: str) -> dict:
    align = entry.get("align", "start_time")
    if align not in ALIGN_METHODS:
        raise StudyError(f"{at}: field 'align' must be 'start_time', 'event' or 'offset', "
                         f"got {align!r}")
    offset = entry.get("offset", 0.0)
    if isinstance(offset, bool) or not isinstance(offset, (int, float)) or not math.isfinite(
            offset):
        raise StudyError(f"{at}: field 'offset' must be a number of seconds, got {offset!r}")
    if "offset" in entry and align != "offset":
        raise StudyError(f"{at}: field 'offset' needs align = \"offset\"")
    event = entry.get("event")
    if align == "event" and (not isinstance(event, str) or not event):
        raise StudyError(f"{at}: align = \"event\" needs 'event', the description of the "
                         "trigger both recordings share")
    if event is not None and align != "event":
        raise StudyError(f"{at}: field 'event' needs align = \"event\"")
    return {"align": align, "offset": float(offset), "event": event}


def parse_sessions(entries: Any, root: Path, dyad_ids: set[str], where: str,
                   defaults: dict | None = None) -> tuple[SessionRecordings, ...]:
    """``[[sessions]]``: each dyad-session's two recordings and how to align them.

    Parameters
    ----------
    entries : list of dict
        The ``[[sessions]]`` tables as read.
    root : Path
        The study folder, against which recording paths are resolved (each must
        exist).
    dyad_ids : set of str
        The ids of ``[[dyads]]``; each entry must name one.
    where : str
        The ``study.toml`` path, for messages.
    defaults : dict or None
        ``[defaults]`` (:func:`parse_defaults`): values of fields a session leaves out.

    Returns
    -------
    tuple of SessionRecordings
        Sorted by dyad and session number; a session with a ``crop`` is a
        :class:`~interbrain.assembly.CroppedSession`, a table recording with a layout
        (``table``, ``unit``) a :class:`~interbrain.io.table_spec.TableRecordingRef`.
    """
    defaults = defaults or {}
    default_spec, default_crop = session_inputs(defaults, f"{where}: [defaults]")
    if not isinstance(entries, list) or not entries:
        raise StudyError(f"{where}: needs at least one [[sessions]] entry")
    sessions: dict[tuple[str, int], SessionRecordings] = {}
    for k, entry in enumerate(entries, start=1):
        at = f"{where}: [[sessions]] entry {k}"
        if not isinstance(entry, dict):
            raise StudyError(f"{at}: must be a table")
        check_keys(entry, {"dyad", "session", *ROLES, "recording", "channels", "align",
                            "offset", "event", "condition", "unit", "table", "crop"}, at,
                   StudyError)
        dyad = entry.get("dyad")
        if not isinstance(dyad, str):
            raise StudyError(f"{at}: field 'dyad' is missing or not a string")
        if dyad not in dyad_ids:
            raise StudyError(f"{at}: dyad {dyad!r} is not listed in [[dyads]]")
        session = entry.get("session")
        if isinstance(session, bool) or not isinstance(session, int) or session < 1:
            raise StudyError(f"{at}: field 'session' must be a positive whole number, "
                             f"got {session!r}")
        at = f"{at} (dyad {dyad}, session {session})"
        if (dyad, session) in sessions:
            raise StudyError(f"{at}: session {session} of dyad {dyad} is listed twice")
        therapist, patient = _parse_session_files(entry, root, at)
        own_spec, crop = session_inputs(entry, at)
        therapist, patient = table_refs((therapist, patient), own_spec, default_spec, at)
        crop = crop or default_crop
        record = SessionRecordings(dyad, session, therapist, patient,
                                   **_parse_alignment(with_defaults(entry, defaults), at),
                                   condition=_condition(entry, at))
        if crop is not None:
            record = CroppedSession(**{f.name: getattr(record, f.name)
                                       for f in fields(SessionRecordings)}, crop=crop)
        sessions[(dyad, session)] = record
    return tuple(sessions[key] for key in sorted(sessions))


def parse_generalisation(entries: Any, root: Path, dyads: tuple[Dyad, ...], where: str
                         ) -> tuple[GeneralisationRecording, ...]:
    """``[[generalisation]]``: a patient with another person, before or after treatment.

    Parameters
    ----------
    entries : list of dict or None
        The ``[[generalisation]]`` tables as read; None when the study has none.
    root : Path
        The study folder, against which recording paths are resolved.
    dyads : tuple of Dyad
        The study's dyads; each entry must name one.
    where : str
        The ``study.toml`` path, for messages.

    Returns
    -------
    tuple of GeneralisationRecording
        Sorted by dyad, phase and partner.

    Notes
    -----
    Optional fields ``task`` (what the two did together) and ``partner_kind`` (who
    the other person is, e.g. ``"friend"`` or ``"stranger"``) are names (empty when
    not given). A patient's ``pre`` and ``post`` recordings with one partner must
    give the same task (the same task before and after treatment) and the same
    partner kind.
    """
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise StudyError(f"{where}: [[generalisation]] must be a list of tables")
    by_id = {d.id: d for d in dyads}
    out: dict[tuple[str, str, str], GeneralisationRecording] = {}
    numbers: dict[tuple[str, str, str], int] = {}
    for k, entry in enumerate(entries, start=1):
        at = f"{where}: [[generalisation]] entry {k}"
        if not isinstance(entry, dict):
            raise StudyError(f"{at}: must be a table")
        check_keys(entry, {"dyad", "phase", "partner", "patient", "partner_recording",
                            "align", "offset", "event", "task", "partner_kind"}, at,
                   StudyError)
        dyad = entry.get("dyad")
        if not isinstance(dyad, str) or dyad not in by_id:
            raise StudyError(f"{at}: dyad {dyad!r} is not listed in [[dyads]]")
        phase = entry.get("phase")
        if phase not in PHASES:
            raise StudyError(f"{at}: field 'phase' must be 'pre' or 'post', got {phase!r}")
        partner = entry.get("partner")
        if not isinstance(partner, str) or not partner.strip():
            raise StudyError(f"{at}: field 'partner' (the other person's id) is missing or "
                             "not a non-empty string")
        check_name(partner, "field 'partner'", at, StudyError)
        if partner == by_id[dyad].patient:
            raise StudyError(f"{at}: the partner {partner!r} is the patient themself")
        at = f"{at} (dyad {dyad}, {phase}, partner {partner})"
        if (dyad, phase, partner) in out:
            raise StudyError(f"{at}: listed twice")
        patient = RecordingRef(_recording_path(entry.get("patient"), root, at,
                                               "patient"), "patient")
        other = RecordingRef(_recording_path(entry.get("partner_recording"), root, at,
                                             "partner_recording"), "partner")
        labels = {field: _optional_name(entry, field, at) for field in ("task",
                                                                         "partner_kind")}
        out[(dyad, phase, partner)] = GeneralisationRecording(
            dyad, phase, partner, patient, other, **_parse_alignment(entry, at), **labels)
        numbers[(dyad, phase, partner)] = k
    _check_same_task(out, numbers, where)
    return tuple(out[key] for key in sorted(out))


def _optional_name(entry: dict, field: str, at: str) -> str:
    """An optional name field of a ``[[generalisation]]`` entry; ``""`` when absent."""
    if field not in entry:
        return ""
    value = entry[field]
    if not isinstance(value, str) or not value.strip():
        raise StudyError(f"{at}: field '{field}' must be a non-empty string, got {value!r}")
    return check_name(value, f"field '{field}'", at, StudyError)


def _check_same_task(out: dict, numbers: dict, where: str) -> None:
    """Each patient's ``pre`` and ``post`` recordings with one partner: the same task
    (and partner kind)."""
    for (dyad, phase, partner), pre in sorted(out.items()):
        post = out.get((dyad, "post", partner))
        if phase != "pre" or post is None:
            continue
        entries = (f"[[generalisation]] entries {numbers[(dyad, 'pre', partner)]} (pre) "
                   f"and {numbers[(dyad, 'post', partner)]} (post) of dyad {dyad!r} with "
                   f"partner {partner!r}")
        if pre.task != post.task:
            raise StudyError(
                f"{where}: {entries} give different tasks: {pre.task!r} before and "
                f"{post.task!r} after treatment; a change with the partner is only "
                "interpretable with the same task before and after (an empty task means "
                "'task' was not given)")
        if pre.partner_kind != post.partner_kind:
            raise StudyError(
                f"{where}: {entries} give different partner kinds: "
                f"{pre.partner_kind!r} before and {post.partner_kind!r} after treatment; "
                "one partner is one kind of person")


def parse_regions(table: Any, where: str) -> dict[str, str]:
    """``[regions]``: channel name -> region-of-interest label.

    Parameters
    ----------
    table : dict or None
        The table as read; None when the study has none.
    where : str
        The ``study.toml`` path, for messages.

    Returns
    -------
    dict
        Channel (``"S1_D1"``) -> region; empty without a ``[regions]`` table.
    """
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise StudyError(f"{where}: [regions] must be a table of channel = \"region\"")
    for channel, region in table.items():
        check_name(channel, "channel name", f"{where}: [regions]", StudyError)
        if not isinstance(region, str) or not region:
            raise StudyError(f"{where}: [regions]: channel {channel!r} must map to a region "
                             f"name, got {region!r}")
        check_name(region, f"region of channel {channel!r}", f"{where}: [regions]",
                   StudyError)
    return dict(table)
