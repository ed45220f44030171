"""Hyperscanning studies stored as BIDS fNIRS datasets (through mne-bids).

BIDS has no convention for hyperscanning yet; interbrain uses this one.

Hyperscanning convention
------------------------
- **Each person is a BIDS subject** (``sub-<label>``): every therapist and every
  patient has their own subject folder, even though the two are recorded at the
  same time. A therapist who treats several patients is one subject.
- **Therapy sessions are BIDS sessions** numbered ``ses-<n>`` (``ses-1``,
  ``ses-01``, ...; the label is read as the number ``n``). Both members of a dyad
  store the recording of their n-th session together under ``ses-<n>``. Each
  recording is a BIDS fNIRS file ``sub-<label>/ses-<n>/nirs/sub-<label>_ses-<n>_
  task-<task>[_acq-<dyad>][_run-<i>]_nirs.snirf`` with the usual sidecars
  (``*_nirs.json``, ``*_channels.tsv``, ``*_optodes.tsv``, ``*_events.tsv``).
- **A person in several dyads** (a therapist with several patients) has several
  recordings in the same ``ses-<n>``; they are told apart by the acquisition
  entity naming the dyad: ``acq-<dyad>`` (e.g.
  ``sub-T01_ses-1_task-therapy_acq-D02_nirs.snirf`` is therapist T01's first
  session with dyad D02). ``acq-`` may be used on every recording; it is needed
  only where a person has more than one recording in a session.
- **``dyads.tsv`` at the dataset root names each dyad's members**, one column per
  role, holding subject labels (with or without ``sub-``):

  ========  ===========  ===========  =========
  dyad      session      therapist    patient
  ========  ===========  ===========  =========
  D01       1            T01          P01
  D01       2            T01          P01
  D02       1            T01          P02
  ========  ===========  ===========  =========

  ``dyad`` (an alphanumeric label), ``therapist`` and ``patient`` are required.
  ``session`` is optional: with it, each row is one dyad-session (so membership
  may change between sessions, e.g. a substitute therapist); without it, each
  dyad has one row and its sessions are the ``ses-<n>`` in which its members have
  recordings (for a person in several dyads, only recordings labelled
  ``acq-<dyad>`` count), and both members must have a recording in each of
  them. Other columns are allowed and ignored.
- A recording of a dyad-session is the member's file in ``ses-<n>`` labelled
  ``acq-<dyad>``; else their only file in ``ses-<n>`` not labelled with another
  dyad. Give ``task`` when a session holds recordings of several tasks.

:func:`bids_sessions` resolves every dyad-session's two recording files.
:func:`read_bids_recording` reads one recording with
:func:`mne_bids.read_raw_bids`, which, unlike reading the ``.snirf`` file
directly, also applies the sidecars: bad channels from ``*_channels.tsv`` (in
``raw.info["bads"]``) and events from ``*_events.tsv`` (as annotations). The
signals are the same either way. Times follow BIDS: the start time is the
``acq_time`` of ``*_scans.tsv`` where it is given, and ``*_events.tsv`` onsets count
from the first sample; without them, the SNIRF file's own time origin and stimulus
onsets are used as :func:`~interbrain.io.read_recording` uses them for plain SNIRF
(see :mod:`interbrain.io.snirf_timing`).
"""

from __future__ import annotations

import os
import re
import warnings
from datetime import datetime
from pathlib import Path

import mne
import pandas as pd

from ..errors import RecordingError, StudyError
from .snirf_timing import iso_datetime_utc, set_first_sample_timing, snirf_first_sample

ROLES: tuple[str, str] = ("therapist", "patient")
_LABEL_RE = re.compile(r"^[A-Za-z0-9]+$")
_NIRS_FILE_RE = re.compile(r"^sub-[A-Za-z0-9]+_.*_nirs\.snirf$")


def is_bids_nirs_name(path: Path) -> bool:
    """Whether ``path`` is named as a BIDS fNIRS recording:
    ``.../nirs/sub-<label>_..._nirs.snirf``."""
    return path.parent.name == "nirs" and _NIRS_FILE_RE.match(path.name) is not None


def _mne_bids():
    try:
        import mne_bids  # noqa: PLC0415 (optional until BIDS is used)
    except ImportError:  # pragma: no cover - depends on the environment
        raise RecordingError("reading BIDS datasets needs mne-bids: pip install mne-bids") \
            from None
    return mne_bids


def _session_number(label: str) -> int | None:
    return int(label) if label is not None and label.isdigit() else None


def _read_dyads(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise StudyError(f"{path}: missing; a hyperscanning BIDS dataset needs dyads.tsv at its "
                         "root with columns dyad, [session,] therapist, patient")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except Exception as exc:
        raise StudyError(f"{path}: cannot be read as a tab-separated table: {exc}") from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ("dyad", *ROLES) if c not in table.columns]
    if missing:
        raise StudyError(f"{path}: column(s) {', '.join(missing)} missing (columns: "
                         f"{', '.join(table.columns)}; is it tab-separated?)")
    if table.empty:
        raise StudyError(f"{path}: no dyads (the table has no rows)")
    table = table.apply(lambda col: col.str.strip())
    table["line"] = range(2, len(table) + 2)
    has_session = "session" in table.columns
    seen: dict = {}
    for row in table.itertuples(index=False):
        at = f"{path}: line {row.line}"
        for col in ("dyad", *ROLES) + (("session",) if has_session else ()):
            if getattr(row, col) in ("", "n/a"):
                raise StudyError(f"{at}: {col} is empty")
        if not _LABEL_RE.match(row.dyad):
            raise StudyError(f"{at}: dyad label '{row.dyad}' must be alphanumeric (it is used "
                             "as the BIDS acq- label)")
        if has_session:
            label = row.session.removeprefix("ses-")
            if _session_number(label) is None:
                raise StudyError(f"{at}: session '{row.session}' is not a session number "
                                 "(e.g. 1 or ses-01)")
        key = (row.dyad, int(row.session.removeprefix("ses-")) if has_session else None)
        if key in seen:
            what = f"dyad {row.dyad}" + (f" session {key[1]}" if has_session else "")
            raise StudyError(f"{at}: {what} is listed twice (also on line {seen[key]})"
                             + ("" if has_session else "; add a 'session' column to list "
                                "dyad-sessions one per row"))
        seen[key] = row.line
        subjects = [getattr(row, r).removeprefix("sub-") for r in ROLES]
        for role, sub in zip(ROLES, subjects):
            if not _LABEL_RE.match(sub):
                raise StudyError(f"{at}: {role} '{getattr(row, role)}' is not a BIDS subject "
                                 "label (letters and digits)")
        if subjects[0] == subjects[1]:
            raise StudyError(f"{at}: therapist and patient are the same subject "
                             f"(sub-{subjects[0]})")
    for role in ROLES:
        table[role] = table[role].str.removeprefix("sub-")
    if has_session:
        table["session"] = [int(s.removeprefix("ses-")) for s in table["session"]]
    return table


def _subject_files(root: Path, sub: str, task: str | None, at: str, role: str,
                   dyad: str) -> dict[int, list]:
    """The subject's fNIRS recordings by session number."""
    mne_bids = _mne_bids()
    if not (root / f"sub-{sub}").is_dir():
        raise StudyError(f"{at}: the {role} of dyad {dyad}, subject sub-{sub}, has no folder "
                         f"{root / f'sub-{sub}'}")
    paths = mne_bids.find_matching_paths(root, subjects=sub, tasks=task, datatypes="nirs",
                                         extensions=".snirf", suffixes="nirs")
    if not paths:
        raise StudyError(f"{at}: the {role} of dyad {dyad}, subject sub-{sub}, has no fNIRS "
                         f"recording (sub-{sub}/ses-<n>/nirs/*_nirs.snirf"
                         + (f" with task-{task}" if task else "") + ")")
    by_session: dict[int, list] = {}
    for bp in paths:
        n = _session_number(bp.session)
        if n is None:
            raise StudyError(f"{bp.fpath}: " + ("no session entity" if bp.session is None else
                             f"session label '{bp.session}' is not a number")
                             + "; hyperscanning BIDS recordings are stored under ses-<n>")
        by_session.setdefault(n, []).append(bp)
    return by_session


def _attributable(bp, dyad: str, dyad_labels: set[str]) -> bool:
    return bp.acquisition is None or bp.acquisition == dyad or bp.acquisition not in dyad_labels


def _pick(files: dict[int, list], n: int, dyad: str, dyad_labels: set[str], sub: str,
          role: str, at: str, task: str | None):
    cands = files.get(n, [])
    labelled = [bp for bp in cands if bp.acquisition == dyad]
    usable = labelled or [bp for bp in cands if _attributable(bp, dyad, dyad_labels)]
    if len(usable) == 1:
        return usable[0]
    what = f"the {role} of dyad {dyad}, sub-{sub},"
    if not usable:
        others = f" (only recordings of other dyads: {', '.join(bp.basename for bp in cands)})" \
            if cands else ""
        found = ", ".join(str(k) for k in sorted(files)) or "none"
        raise StudyError(f"{at}: {what} has no recording for session {n} (ses-{n})"
                         + (f" with task-{task}" if task else "") + others
                         + f"; sessions found: {found}")
    hint = ("; name the dyad in the acquisition entity (acq-" + dyad + ")"
            + ("" if task else " or pass task=..."))
    raise StudyError(f"{at}: {what} has {len(usable)} recordings for session {n}: "
                     + ", ".join(bp.basename for bp in usable) + hint)


def bids_sessions(bids_root: str | os.PathLike, *, task: str | None = None) -> list[dict]:
    """Resolve the two recording files of every dyad-session of a BIDS dataset.

    See the module docstring for the hyperscanning convention (each person a
    subject, sessions ``ses-<n>``, ``dyads.tsv`` at the root).

    Parameters
    ----------
    bids_root : path-like
        Root of the BIDS dataset (holding ``dyads.tsv``).
    task : str or None
        Only recordings of this BIDS task (``task-<task>``); None accepts any task
        but fails where a session holds recordings of several.

    Returns
    -------
    list of dict
        One dict per dyad-session, in ``dyads.tsv`` row order, sessions ascending,
        with keys ``dyad`` (str), ``session`` (int), ``therapist`` and ``patient``
        (:class:`~pathlib.Path` of the ``.snirf`` files), ``therapist_subject`` and
        ``patient_subject`` (BIDS subject labels without ``sub-``).

    Raises
    ------
    StudyError
        If ``dyads.tsv`` is missing or invalid (line named), a subject has no
        folder or no fNIRS recordings, a member lacks a recording of a session of
        their dyad, or a recording is ambiguous. Messages name the ``dyads.tsv``
        line, the dyad, the subject and the session.
    """
    root = Path(bids_root)
    if not root.is_dir():
        raise StudyError(f"{root}: BIDS root folder does not exist")
    table_path = root / "dyads.tsv"
    table = _read_dyads(table_path)
    dyad_labels = set(table["dyad"])
    has_session = "session" in table.columns
    n_dyads = {sub: table.loc[(table[list(ROLES)] == sub).any(axis=1), "dyad"].nunique()
               for sub in set(table["therapist"]) | set(table["patient"])}
    cache: dict[tuple, dict] = {}
    out = []
    for row in table.itertuples(index=False):
        at = f"{table_path}: line {row.line} (dyad {row.dyad})"
        files = {}
        for role in ROLES:
            sub = getattr(row, role)
            if (sub, task) not in cache:
                cache[(sub, task)] = _subject_files(root, sub, task, at, role, row.dyad)
            files[role] = cache[(sub, task)]
        if has_session:
            sessions = [row.session]
        else:
            sessions = set()
            for role in ROLES:
                sub = getattr(row, role)
                for n, bps in files[role].items():
                    if any(bp.acquisition == row.dyad or (
                            n_dyads[sub] == 1 and _attributable(bp, row.dyad, dyad_labels))
                           for bp in bps):
                        sessions.add(n)
            if not sessions:
                raise StudyError(f"{at}: no recordings attributable to dyad {row.dyad}: both "
                                 "members are in several dyads, so their recordings must be "
                                 f"labelled acq-{row.dyad}")
        for n in sorted(sessions):
            entry = {"dyad": row.dyad, "session": int(n)}
            for role in ROLES:
                sub = getattr(row, role)
                bp = _pick(files[role], n, row.dyad, dyad_labels, sub, role, at, task)
                entry[role] = Path(bp.fpath)
            for role in ROLES:
                entry[f"{role}_subject"] = getattr(row, role)
            out.append(entry)
    return out


def read_bids_recording(path: str | os.PathLike) -> mne.io.BaseRaw:
    """Read one BIDS fNIRS recording with its sidecars.

    Parameters
    ----------
    path : path-like
        A ``sub-<label>[/ses-<n>]/nirs/*_nirs.snirf`` file inside a BIDS dataset.

    Returns
    -------
    raw : mne.io.BaseRaw
        Preloaded, as :func:`mne_bids.read_raw_bids` returns it: the SNIRF signals,
        bad channels from ``*_channels.tsv`` in ``raw.info["bads"]``, events from
        ``*_events.tsv`` as annotations (onsets in seconds from the first sample).
        ``raw.info["meas_date"]`` is the ``acq_time`` of the recording's row in
        ``*_scans.tsv``; without one, the SNIRF time origin plus the time of the
        first sample, or None when the file has no valid origin. Without an
        ``*_events.tsv``, the SNIRF stimuli are the events, their onsets moved to
        count from the first sample.

    Raises
    ------
    RecordingError
        If the file name is not a BIDS fNIRS name or mne-bids cannot read it (the
        message names the file).
    """
    path = Path(path)
    mne_bids = _mne_bids()
    layout = ("not a BIDS fNIRS recording (expected "
              "sub-<label>/[ses-<n>/]nirs/sub-<label>_..._nirs.snirf)")
    if not is_bids_nirs_name(path):
        raise RecordingError(f"{path}: {layout}")
    try:
        bp = mne_bids.get_bids_path_from_fname(path, verbose="ERROR")
    except Exception as exc:
        raise RecordingError(f"{path}: not a BIDS file name ({exc})") from None
    if bp.subject is None or bp.suffix != "nirs" or bp.extension != ".snirf":
        raise RecordingError(f"{path}: {layout}")
    bp.update(datatype="nirs")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "no events.tsv found"
            raw = mne_bids.read_raw_bids(bp, verbose="ERROR")
            raw.load_data(verbose="ERROR")
    except Exception as exc:
        raise RecordingError(f"{path}: cannot be read by mne_bids.read_raw_bids: "
                             f"{type(exc).__name__}: {exc}") from None
    start, first_time = snirf_first_sample(path)
    meas_date = _scans_acq_time(path, bp) or start
    events_tsv = path.with_name(path.name[:-len("_nirs.snirf")] + "_events.tsv")
    set_first_sample_timing(raw, meas_date,
                            event_shift=0.0 if events_tsv.is_file() else -first_time)
    return raw


def _scans_acq_time(path: Path, bp) -> datetime | None:
    """The ``acq_time`` of ``path``'s row in its ``*_scans.tsv`` (UTC when it names no
    zone, as mne-bids reads it); None if not given or ``n/a``."""
    name = f"sub-{bp.subject}" + (f"_ses-{bp.session}" if bp.session else "") + "_scans.tsv"
    scans = path.parent.parent / name
    if not scans.is_file():
        return None
    try:
        table = pd.read_csv(scans, sep="\t", dtype=str, keep_default_na=False)
    except Exception as exc:
        raise RecordingError(f"{scans}: cannot be read as a BIDS scans table: {exc}") from None
    if "filename" not in table or "acq_time" not in table:
        return None
    rows = table.loc[table["filename"].str.strip() == f"nirs/{path.name}", "acq_time"]
    values = [v.strip() for v in rows if v.strip() and v.strip().lower() != "n/a"]
    if not values:
        return None
    try:
        return iso_datetime_utc(values[0])
    except ValueError:
        raise RecordingError(f"{scans}: acq_time of nirs/{path.name} is {values[0]!r}, not "
                             "a date and time YYYY-MM-DDThh:mm:ss[.ffffff][Z]") from None
