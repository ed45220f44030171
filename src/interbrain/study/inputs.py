"""What ``study.toml`` says about a session's inputs besides its files: ``[defaults]``
(study-wide ``align``, ``offset``, ``event``, ``unit``, ``table``, ``crop``), and each
session's table layout (:class:`~interbrain.io.table_spec.TableSpec`) and crop
(:class:`~interbrain.assembly.Crop`), its own values over the defaults."""

from __future__ import annotations

from typing import Any

from .._check import check_keys
from ..assembly import Crop
from ..design import GeneralisationRecording, RecordingRef, SessionRecordings
from ..errors import StudyError
from ..io.recording import EXTENSIONS
from ..io.signals import HB, recording_signals
from ..io.table_spec import TableRecordingRef, TableSpec, check_unit, recording_table
from ..synchrony.settings import AnalysisSettings

#: Keys of ``[defaults]``: study-wide values of the ``[[sessions]]`` fields of that name.
DEFAULT_KEYS: tuple[str, ...] = ("align", "offset", "event", "unit", "table", "crop")
_ALIGN_KEYS = ("align", "offset", "event")


def parse_defaults(table: Any, where: str) -> dict:
    """``[defaults]``: study-wide ``align``, ``offset``, ``event``, ``unit``, ``table``
    and ``crop`` of the ``[[sessions]]`` (checked when a session uses them); unknown
    keys are errors."""
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise StudyError(f"{where}: [defaults] must be a table")
    at = f"{where}: [defaults]"
    check_keys(table, set(DEFAULT_KEYS), at, StudyError)
    session_inputs(table, at)   # checked once, named as the defaults
    align = table.get("align", "start_time")
    wrong = [k for k in ("offset", "event") if k in table and align != k]
    if wrong:
        key = wrong[0]
        raise StudyError(f"{at}: {key} needs align = \"{key}\" in [defaults] too")
    if align == "event" and not isinstance(table.get("event"), str):
        raise StudyError(f"{at}: align = \"event\" needs 'event', the description of the "
                         "trigger every recording shares")
    return dict(table)


def with_defaults(entry: dict, defaults: dict) -> dict:
    """A session's fields over ``[defaults]``: the defaults' ``offset`` and ``event`` go
    with the defaults' ``align``, so a session with an ``align`` of its own drops them;
    ``table`` merges key by key."""
    out = {k: v for k, v in defaults.items() if k in _ALIGN_KEYS}
    if "align" in entry:
        out = {}
    return {**out, **entry}


def session_inputs(entry: dict, at: str) -> tuple[TableSpec | None, Crop | None]:
    """The table layout (``table``, with ``unit``) and ``crop`` of an entry."""
    spec = TableSpec.from_table(entry["table"], at) if "table" in entry else None
    if "unit" in entry:
        unit = check_unit(entry["unit"], f"{at}: unit")
        if spec is not None and spec.unit is not None and spec.unit != unit:
            raise StudyError(f"{at}: unit = {unit!r} and table.unit = {spec.unit!r} differ; "
                             "give one")
        spec = TableSpec(unit=unit).over(spec) if spec is not None else TableSpec(unit=unit)
    crop = Crop.from_value(entry["crop"], at) if "crop" in entry else None
    return spec, crop


def table_refs(refs: tuple[RecordingRef, RecordingRef], own: TableSpec | None,
                default: TableSpec | None, at: str) -> tuple[RecordingRef, ...]:
    """The session's recordings with their table layout (session over defaults); the
    defaults' layout applies to tables only, a session's own to tables only too."""
    out = []
    for ref in refs:
        is_table = not ref.path.is_dir() and EXTENSIONS.get(ref.path.suffix.lower()) == "table"
        if own is not None and not is_table:
            raise StudyError(f"{at}: table / unit describe .csv, .tsv or .mat tables; "
                             f"'{ref.path.name}' is not one")
        spec = own.over(default) if own is not None else default
        out.append(TableRecordingRef(ref.path, ref.role, ref.channels, spec)
                   if spec is not None and is_table else ref)
    return tuple(out)


def analysed_signals(table: Any, analysis: AnalysisSettings,
                     sessions: tuple[SessionRecordings, ...],
                     generalisation: tuple[GeneralisationRecording, ...], where: str
                     ) -> AnalysisSettings:
    """``[analysis]`` with ``signals`` the recordings have.

    Without ``signals`` in ``[analysis]``, the signals every recording has (an HbO-only
    study analyses HbO); with it, each signal named must be in every recording.

    Parameters
    ----------
    table : dict or None
        ``[analysis]`` as read.
    analysis : AnalysisSettings
        As checked from it.
    sessions, generalisation
        The study's ``[[sessions]]`` and ``[[generalisation]]`` recordings.
    where : str
        ``study.toml``, for messages.

    Raises
    ------
    StudyError
        Naming the recording that lacks a signal ``[analysis]`` asks for, or two
        recordings without a signal in common.
    """
    given = isinstance(table, dict) and "signals" in table
    refs = ([r for s in sessions for r in (s.therapist, s.patient)]
            + [r for g in generalisation for r in (g.patient, g.other)])
    have: dict[str, tuple[str, ...]] = {}
    for ref in refs:
        if str(ref.path) not in have:
            found = recording_signals(ref.path, recording_table(ref))
            if found is not None:
                have[str(ref.path)] = found
    if given:
        for path, found in have.items():
            lacking = [s for s in analysis.signals if s in HB and s not in found]
            if lacking:
                raise StudyError(
                    f"{where}: [analysis] signals = {list(analysis.signals)}, but {path} has "
                    f"no {' or '.join(s.upper() for s in lacking)} (it has "
                    f"{', '.join(s.upper() for s in found)}); analyse the signals every "
                    f"recording has (signals = {[s for s in analysis.signals if s in found]}"
                    "), or leave signals out to analyse those")
        return analysis
    common = [s for s in HB if all(s in found for found in have.values())]
    if not common:
        first = {s: next(p for p, f in have.items() if s in f) for s in HB
                 if any(s in f for f in have.values())}
        raise StudyError(f"{where}: the recordings have no haemoglobin signal in common: "
                         + "; ".join(f"{p} has {s.upper()} only" for s, p in first.items())
                         + "; every recording needs the signals analysed")
    if tuple(common) == tuple(s for s in analysis.signals if s in HB):
        return analysis
    return AnalysisSettings.from_table({**(table or {}), "signals": common},
                                       f"{where}: [analysis]")
