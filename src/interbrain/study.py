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
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._check import check_distinct, check_name
from .errors import StudyError
from .design import (PHASES, RESERVED_COLUMNS, ROLES, Dyad, GeneralisationRecording,
                     RecordingRef, SessionRecordings)
from .preprocessing.settings import PreprocessingSettings
from .stats.settings import StatisticsSettings
from .synchrony.settings import METRICS, SIGNALS, AnalysisSettings

STANDARD_MEASURES: tuple[str, ...] = ("symptoms", "wellbeing", "session_quality", "alliance")


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


def _fail(where: str, message: str) -> StudyError:
    return StudyError(f"{where}: {message}")


def _check_keys(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(map(repr, unknown))}; "
                    f"allowed: {', '.join(sorted(allowed))}")


def _settings(cls, table: Any, where: str):
    """Build a settings dataclass from a TOML table, checking names and types."""
    if table is None:
        return cls()
    if not isinstance(table, dict):
        raise _fail(where, "must be a table")
    names = {f.name for f in fields(cls)}
    _check_keys(table, names, where)
    defaults = cls()
    values = {}
    for name, value in table.items():
        default = getattr(defaults, name)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise _fail(where, f"field '{name}' must be true or false, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise _fail(where, f"field '{name}' must be a whole number, got {value!r}")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _fail(where, f"field '{name}' must be a number, got {value!r}")
            value = float(value)
            if not math.isfinite(value):
                raise _fail(where, f"field '{name}' must be finite, got {value!r}")
        elif isinstance(default, tuple):
            if not isinstance(value, list):
                raise _fail(where, f"field '{name}' must be a list, got {value!r}")
            value = tuple(value)
        elif isinstance(default, str) and not isinstance(value, str):
            raise _fail(where, f"field '{name}' must be a string, got {value!r}")
        values[name] = value
    return replace(defaults, **values)


def _validate_analysis(a: AnalysisSettings, where: str) -> AnalysisSettings:
    band = a.band
    if (len(band) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                  for v in band)):
        raise _fail(where, f"field 'band' must be two numbers [shortest, longest] in "
                    f"seconds, got {list(band)!r}")
    lo, hi = float(band[0]), float(band[1])
    if not (0 < lo < hi):
        raise _fail(where, f"field 'band' must satisfy 0 < shortest < longest period, "
                    f"got [{lo}, {hi}]")
    bad = [s for s in a.signals if s not in SIGNALS]
    if not a.signals or bad:
        raise _fail(where, f"field 'signals' must be a non-empty list among "
                    f"{list(SIGNALS)}, got {list(a.signals)!r}")
    if a.pairs not in ("homologous", "all"):
        raise _fail(where, f"field 'pairs' must be 'homologous' or 'all', got {a.pairs!r}")
    bad = [m for m in a.metrics if m not in METRICS]
    if not a.metrics or bad:
        raise _fail(where, f"field 'metrics' must be a non-empty list among {list(METRICS)}, "
                    f"got {list(a.metrics)!r}")
    if a.window < 0:
        raise _fail(where, f"field 'window' must be 0 (none) or a duration in seconds, "
                    f"got {a.window}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for v in a.lags):
        raise _fail(where, f"field 'lags' must be a list of seconds, got {list(a.lags)!r}")
    if a.roi not in ("none", "mean_of_pairs", "region_average_signal", "both"):
        raise _fail(where, "field 'roi' must be 'none', 'mean_of_pairs', "
                    f"'region_average_signal' or 'both', got {a.roi!r}")
    for name in ("pseudo_dyads_per_dyad", "pseudo_dyads_seed"):
        value = getattr(a, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _fail(where, f"field '{name}' must be a whole number >= 0, got {value!r}")
    if a.n_surrogates < 10:
        raise _fail(where, f"field 'n_surrogates' must be at least 10, got {a.n_surrogates}")
    if a.precision not in ("float64", "float32"):
        raise _fail(where, f"field 'precision' must be 'float64' or 'float32', got "
                    f"{a.precision!r}")
    from .nulls.surrogates import SURROGATE_KINDS

    bad = [k for k in a.surrogates if k not in SURROGATE_KINDS]
    if bad:
        raise _fail(where, f"field 'surrogates' must list kinds among {list(SURROGATE_KINDS)}, "
                    f"got {list(a.surrogates)!r}")
    if a.surrogates_per_session < 2:
        raise _fail(where, "field 'surrogates_per_session' must be at least 2 (a null needs a "
                    f"spread), got {a.surrogates_per_session}")
    if a.surrogate_min_shift < 0 or a.surrogate_seed < 0:
        raise _fail(where, "fields 'surrogate_min_shift' and 'surrogate_seed' must be >= 0, "
                    f"got {a.surrogate_min_shift} and {a.surrogate_seed}")
    return replace(a, band=(lo, hi), signals=tuple(dict.fromkeys(a.signals)),
                   metrics=tuple(dict.fromkeys(a.metrics)),
                   lags=tuple(float(v) for v in a.lags),
                   surrogates=tuple(dict.fromkeys(a.surrogates)))


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{path}: not valid TOML: {exc}") from None


def _parse_dyads(entries: Any, where: str) -> tuple[Dyad, ...]:
    if not isinstance(entries, list) or not entries:
        raise _fail(where, "needs at least one [[dyads]] entry")
    dyads: list[Dyad] = []
    seen: set[str] = set()
    for k, entry in enumerate(entries, start=1):
        at = f"{where}: [[dyads]] entry {k}"
        if not isinstance(entry, dict):
            raise StudyError(f"{at}: must be a table")
        _check_keys(entry, {"id", "therapist", "patient", "condition", "covariates"}, at)
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


def _parse_therapists(entries: Any, therapist_ids: set[str], where: str
                      ) -> dict[str, dict[str, float]]:
    """``[[therapists]]``: id and therapist-level covariates (e.g. burnout)."""
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise _fail(where, "[[therapists]] must be a list of tables")
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
        raise _fail(where, "[[therapists]]: every therapist needs an entry with the same "
                    f"covariates (therapists: {', '.join(sorted(therapist_ids))})")
    return out


def _parse_statistics(table: Any, where: str) -> StatisticsSettings:
    """``[statistics]``: like the other settings tables, but ``sesoi`` may be a number
    or a table of measure = number."""
    table = dict(table or {})
    sesoi = table.pop("sesoi", None)
    settings = _settings(StatisticsSettings, table, where)
    if sesoi is not None:
        if isinstance(sesoi, dict):
            settings = replace(settings, sesoi=dict(sesoi))
        elif isinstance(sesoi, (int, float)) and not isinstance(sesoi, bool):
            settings = replace(settings, sesoi=float(sesoi))
        else:
            raise _fail(where, f"field 'sesoi' must be a number or a table of measure = "
                        f"number, got {sesoi!r}")
    try:
        settings.validate()
    except ValueError as exc:
        raise _fail(where, str(exc)) from None
    return settings


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
    if align not in ("start_time", "event", "offset"):
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


def _parse_sessions(entries: Any, root: Path, dyad_ids: set[str], where: str
                    ) -> tuple[SessionRecordings, ...]:
    if not isinstance(entries, list) or not entries:
        raise _fail(where, "needs at least one [[sessions]] entry")
    sessions: dict[tuple[str, int], SessionRecordings] = {}
    for k, entry in enumerate(entries, start=1):
        at = f"{where}: [[sessions]] entry {k}"
        if not isinstance(entry, dict):
            raise StudyError(f"{at}: must be a table")
        _check_keys(entry, {"dyad", "session", *ROLES, "recording", "channels", "align",
                            "offset", "event", "condition"}, at)
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
        sessions[(dyad, session)] = SessionRecordings(dyad, session, therapist, patient,
                                                      **_parse_alignment(entry, at),
                                                      condition=_condition(entry, at))
    return tuple(sessions[key] for key in sorted(sessions))


def _parse_generalisation(entries: Any, root: Path, dyads: tuple[Dyad, ...], where: str
                          ) -> tuple[GeneralisationRecording, ...]:
    """``[[generalisation]]``: a patient with another person, before or after treatment."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise _fail(where, "[[generalisation]] must be a list of tables")
    by_id = {d.id: d for d in dyads}
    out: dict[tuple[str, str, str], GeneralisationRecording] = {}
    for k, entry in enumerate(entries, start=1):
        at = f"{where}: [[generalisation]] entry {k}"
        if not isinstance(entry, dict):
            raise StudyError(f"{at}: must be a table")
        _check_keys(entry, {"dyad", "phase", "partner", "patient", "partner_recording",
                            "align", "offset", "event"}, at)
        dyad = entry.get("dyad")
        if dyad not in by_id:
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
        out[(dyad, phase, partner)] = GeneralisationRecording(
            dyad, phase, partner, patient, other, **_parse_alignment(entry, at))
    return tuple(out[key] for key in sorted(out))


def _parse_regions(table: Any, where: str) -> dict[str, str]:
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise _fail(where, "[regions] must be a table of channel = \"region\"")
    for channel, region in table.items():
        check_name(channel, "channel name", f"{where}: [regions]", StudyError)
        if not isinstance(region, str) or not region:
            raise _fail(where, f"[regions]: channel {channel!r} must map to a region name, "
                        f"got {region!r}")
        check_name(region, f"region of channel {channel!r}", f"{where}: [regions]",
                   StudyError)
    return dict(table)


#: Separators spreadsheet programs write instead of commas (e.g. Excel with a
#: locale whose decimal mark is a comma writes ';').
_OTHER_DELIMITERS: dict[str, str] = {";": "';'", "\t": "tab", "|": "'|'"}


def read_measures_csv(path: Path) -> pd.DataFrame:
    """Read ``measures.csv`` as text cells, checking its encoding and layout.

    The file must be UTF-8 text (a leading byte-order mark, as Excel's "CSV UTF-8"
    writes it, is accepted) with comma-separated cells (quoted as in RFC 4180 where a
    cell holds a comma), a header row first and, on every row, no more cells than the
    header has columns. Blank rows (no cell with text) are skipped, as are columns
    with neither a name nor any value (a trailing comma on every line). Values are
    not interpreted here (see :func:`load_measures`).

    Parameters
    ----------
    path : Path
        The CSV file.

    Returns
    -------
    pandas.DataFrame
        One str column per header column (names stripped of surrounding spaces, in
        file order, duplicates kept) and one row per data row, indexed by the row's
        line number in the file (the header's is usually 1). Rows with fewer cells
        than the header are completed with empty cells (missing values).

    Raises
    ------
    StudyError
        If the file is empty, not UTF-8 (naming the line of the first byte that is
        not, and the fix), holds NUL characters, looks separated by ``;``, tabs or
        ``|`` rather than commas, cannot be parsed as CSV, has a row with more cells
        than the header has columns, or a column without a name but with values.
    """
    import codecs
    import csv
    import io

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StudyError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise StudyError(f"{path}: the file is UTF-16 text; interbrain reads UTF-8: save it "
                         "as UTF-8 (in Excel: 'CSV UTF-8 (comma delimited)')")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise StudyError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at byte "
            f"{column} of the line; a file saved as Latin-1 or Windows-1252?); save it as "
            "UTF-8 (in Excel: 'CSV UTF-8 (comma delimited)')") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise StudyError(f"{path}, line {line}: holds a NUL character: not a text file (or "
                         "UTF-16 without a byte-order mark); save it as UTF-8 CSV")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise StudyError(f"{path}, line {reader.line_num}: cannot be read as CSV: "
                         f"{exc}") from None
    if not rows:
        raise StudyError(f"{path}: the file is empty; it needs a header with "
                         "'dyad', 'session' and measure columns")
    header_line, header = rows[0]
    names = [name.strip() for name in header]
    line_text = ",".join(header)
    for sep, label in _OTHER_DELIMITERS.items():
        split = {part.strip() for part in line_text.split(sep)}
        if sep in line_text and (len(header) == 1 or (
                not {"dyad", "session"} <= set(names) and {"dyad", "session"} <= split)):
            raise StudyError(
                f"{path}, line {header_line}: looks {label}-delimited (header "
                f"{line_text.strip()[:80]!r}); interbrain reads comma-separated files: "
                "save it with commas between cells (and points as decimal marks)")
    body = rows[1:]
    for line, row in body:
        if len(row) > len(names) and any(cell.strip() for cell in row[len(names):]):
            raise StudyError(f"{path}, line {line}: {len(row)} cells, but the header (line "
                             f"{header_line}) has {len(names)} columns")
    cells = [[(row[k] if k < len(row) else "") for k in range(len(names))]
             for _, row in body]
    keep = []
    for k, name in enumerate(names):
        if name:
            keep.append(k)
        elif any(r[k].strip() for r in cells):
            line = next(line for (line, _), r in zip(body, cells) if r[k].strip())
            raise StudyError(f"{path}: column {k + 1} has values (e.g. on line {line}) but "
                             f"no name in the header (line {header_line})")
    frame = pd.DataFrame([[r[k] for k in keep] for r in cells], dtype=str,
                         columns=[names[k] for k in keep],
                         index=pd.Index([line for line, _ in body], dtype=int))
    return frame


def _did_you_mean(wanted: str, names: list[str]) -> str:
    """``"; did you mean 'X'?"`` for the column closest to ``wanted``, else ``""``."""
    import difflib

    folded = {name.strip().casefold(): name for name in names}
    if wanted in folded:
        return f"; is {folded[wanted]!r} meant to be {wanted!r}? (names are case-sensitive)"
    close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.75)
    return f"; is {close[0]!r} meant to be {wanted!r}?" if close else ""


def load_measures(path: Path, sessions: tuple[SessionRecordings, ...]) -> pd.DataFrame:
    """Read and validate ``measures.csv``.

    Parameters
    ----------
    path : Path
        The CSV file: columns ``dyad``, ``session`` and one or more numeric measures.
        Empty cells are missing values; any other non-numeric cell is an error.
    sessions : tuple of SessionRecordings
        The study's sessions; every row must name one of them.

    Returns
    -------
    pandas.DataFrame
        Columns ``dyad`` (str), ``session`` (int) and one float column per measure,
        sorted by dyad and session.
    """
    raw = read_measures_csv(path)
    for required in ("dyad", "session"):
        if required not in raw.columns:
            raise StudyError(f"{path}: missing column '{required}' "
                             f"(columns are: {', '.join(raw.columns)})"
                             + _did_you_mean(required, list(raw.columns)))
    dupes = raw.columns[raw.columns.duplicated()].tolist()
    if dupes:
        raise StudyError(f"{path}: column(s) {dupes} appear more than once")
    measure_cols = [c for c in raw.columns if c not in ("dyad", "session")]
    for col in measure_cols:
        check_name(col, "column name", f"{path}, line 1 (header)", StudyError)
        if col in RESERVED_COLUMNS:
            raise StudyError(f"{path}, line 1 (header): {col!r} is a reserved name "
                             f"({', '.join(RESERVED_COLUMNS)}), not a measure name")
    check_distinct(measure_cols, "column", f"{path}, line 1 (header)", StudyError,
                   reserved=RESERVED_COLUMNS)
    if not measure_cols:
        raise StudyError(f"{path}: no measure columns besides 'dyad' and 'session'")
    known = {(s.dyad, s.session) for s in sessions}
    dyads = {s.dyad for s in sessions}
    out = {"dyad": [], "session": []} | {c: [] for c in measure_cols}
    seen: set[tuple[str, int]] = set()
    for idx, row in raw.iterrows():
        line = int(idx)  # read_measures_csv indexes rows by line number
        at = f"{path}, line {line}"
        dyad = row["dyad"].strip()
        if dyad not in dyads:
            raise StudyError(f"{at}: dyad {dyad!r} is not a dyad of study.toml")
        try:
            session = int(row["session"].strip())
        except ValueError:
            raise StudyError(f"{at}, column 'session': {row['session']!r} is not a "
                             "whole number") from None
        if (dyad, session) not in known:
            raise StudyError(f"{at}: dyad {dyad} has no session {session} in study.toml")
        if (dyad, session) in seen:
            raise StudyError(f"{at}: dyad {dyad}, session {session} appears twice")
        seen.add((dyad, session))
        out["dyad"].append(dyad)
        out["session"].append(session)
        for col in measure_cols:
            text = row[col].strip()
            if text == "" or text.upper() in ("NA", "NAN"):
                value = np.nan
            else:
                try:
                    value = float(text)
                except ValueError:
                    raise StudyError(f"{at}, column '{col}': {text!r} is not a number "
                                     "(leave the cell empty for a missing value)") from None
                if not math.isfinite(value):
                    raise StudyError(f"{at}, column '{col}': {text!r} is not finite")
            out[col].append(value)
    frame = pd.DataFrame(out)
    frame["session"] = frame["session"].astype(int)
    for col in measure_cols:
        frame[col] = frame[col].astype(float)
    return frame.sort_values(["dyad", "session"], ignore_index=True)


def load_study(path: str | Path) -> Study:
    """Load and validate a study.

    Parameters
    ----------
    path : str or Path
        A study folder (holding ``study.toml`` and optionally ``measures.csv``) or the
        ``study.toml`` file itself.

    Returns
    -------
    Study

    Raises
    ------
    StudyError
        Naming the file, the entry or line, and the field of the first problem found.
    """
    path = Path(path)
    toml_path = path / "study.toml" if path.is_dir() else path
    if not toml_path.exists():
        raise StudyError(f"{toml_path}: no study file here (a study folder needs a "
                         "study.toml; see docs/study-format.md)")
    root = toml_path.parent.resolve()
    doc = _read_toml(toml_path)
    where = str(toml_path)
    _check_keys(doc, {"study", "analysis", "preprocessing", "statistics", "engine", "regions",
                      "dyads", "therapists", "sessions", "generalisation"}, where)
    meta = doc.get("study", {})
    if not isinstance(meta, dict):
        raise _fail(where, "[study] must be a table")
    _check_keys(meta, {"name", "description"}, f"{where}: [study]")
    analysis = _validate_analysis(
        _settings(AnalysisSettings, doc.get("analysis"), f"{where}: [analysis]"),
        f"{where}: [analysis]")
    preprocessing = _settings(PreprocessingSettings, doc.get("preprocessing"),
                              f"{where}: [preprocessing]")
    try:
        preprocessing.validate()
    except ValueError as exc:
        raise _fail(f"{where}: [preprocessing]", str(exc)) from None
    dyads = _parse_dyads(doc.get("dyads"), where)
    sessions = _parse_sessions(doc.get("sessions"), root, {d.id for d in dyads}, where)
    missing = sorted({d.id for d in dyads} - {s.dyad for s in sessions})
    if missing:
        raise _fail(where, f"dyad(s) {', '.join(missing)} have no [[sessions]] entry")
    regions = _parse_regions(doc.get("regions"), where)
    statistics = _parse_statistics(doc.get("statistics"), f"{where}: [statistics]")
    therapists = _parse_therapists(doc.get("therapists"), {d.therapist for d in dyads}, where)
    engine = _settings(EngineSettings, doc.get("engine"), f"{where}: [engine]")
    generalisation = _parse_generalisation(doc.get("generalisation"), root, dyads, where)
    if engine.workers < 0:
        raise _fail(f"{where}: [engine]", f"field 'workers' must be 0 (one per core) or a "
                    f"positive number, got {engine.workers}")
    if engine.cache:
        engine = replace(engine, cache=str((root / engine.cache).resolve()))
    if statistics.pairwise_unit == "region" and statistics.pairwise and not regions:
        raise _fail(f"{where}: [statistics]", "pairwise_unit = \"region\" needs a [regions] "
                    "table mapping channels to regions of interest")
    if analysis.roi != "none" and not regions:
        raise _fail(f"{where}: [analysis]", f"roi = {analysis.roi!r} needs a [regions] table "
                    "mapping channels to regions of interest")
    measures_path = root / "measures.csv"
    if measures_path.exists():
        measures = load_measures(measures_path, sessions)
    else:
        measures = pd.DataFrame({"dyad": pd.Series(dtype=str),
                                 "session": pd.Series(dtype=int)})
    _check_covariates(statistics, therapists, dyads, measures, where)
    return Study(root=root, name=str(meta.get("name", root.name)),
                 description=str(meta.get("description", "")), analysis=analysis,
                 preprocessing=preprocessing, dyads=dyads, sessions=sessions,
                 measures=measures, regions=regions, statistics=statistics,
                 therapists=therapists, engine=engine, generalisation=generalisation)


def _check_covariates(statistics: StatisticsSettings, therapists: dict, dyads: tuple,
                      measures: pd.DataFrame, where: str) -> None:
    """Every covariate named in ``[statistics]`` is defined once, for every dyad."""
    at = f"{where}: [statistics]"
    for name in statistics.covariates:
        sources = []
        if any(name in c for c in therapists.values()):
            sources.append("[[therapists]]")
        if any(name in dict(d.covariates) for d in dyads):
            sources.append("[[dyads]] covariates")
            missing = [d.id for d in dyads if name not in dict(d.covariates)]
            if missing:
                raise _fail(at, f"covariate {name!r} is missing for dyad(s) "
                            f"{', '.join(missing)}")
        if name in measures.columns:
            sources.append("measures.csv")
        if not sources:
            raise _fail(at, f"covariate {name!r} is not defined: give it in [[therapists]], "
                        "in the covariates of [[dyads]] or as a measures.csv column")
        if len(sources) > 1:
            raise _fail(at, f"covariate {name!r} is defined in several places "
                        f"({', '.join(sources)})")
