"""Find a study's dyads, sessions and recordings in a data folder (``interbrain init``).

Two layouts are understood:

- a **BIDS** dataset with ``dyads.tsv`` at its root (the hyperscanning convention of
  :mod:`interbrain.io.bids`; :func:`scaffold_from_bids`);
- a **folder pattern** such as ``"{dyad}/ses-{session}/{role}.snirf"``
  (:func:`~.scaffold_pattern.scaffold_from_pattern`): placeholders ``{dyad}``,
  ``{role}`` (required), ``{session}`` (a whole number; without it every dyad has
  session 1), ``{therapist}`` and ``{patient}`` (the persons' ids, optional).

Either gives a :class:`StudyScaffold`: the dyad-sessions whose two recordings were
found, each recording's sampling rate read from its header, and what is missing or
wrong (a session with one partner only, rates that differ, file names the pattern
cannot read, ids that are not valid names). :mod:`.scaffold_files` writes it as
``study.toml`` and a ``measures.csv`` template.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import RecordingError, StudyError
from ..io import bids_sessions, read_recording

__all__ = ["ScaffoldDyad", "ScaffoldSession", "StudyScaffold", "check_rates",
           "scaffold_from_bids", "shown_path"]


@dataclass(frozen=True)
class ScaffoldDyad:
    """A dyad found: its id and its members' ids.

    Attributes
    ----------
    id, therapist, patient : str
    therapist_placeholder, patient_placeholder : bool
        The id is a stand-in (``T_<dyad>``, ``P_<dyad>``): the layout does not name
        the person.
    """

    id: str
    therapist: str
    patient: str
    therapist_placeholder: bool = False
    patient_placeholder: bool = False


@dataclass(frozen=True)
class ScaffoldSession:
    """A dyad-session whose two recordings were found.

    Attributes
    ----------
    dyad : str
    session : int
    therapist, patient : Path
        The recording files (absolute).
    problem : str
        Empty when the session can be analysed as it is; otherwise why not (e.g.
        sampling rates that are not integer multiples): written commented out.
    """

    dyad: str
    session: int
    therapist: Path
    patient: Path
    problem: str = ""


@dataclass
class StudyScaffold:
    """What ``interbrain init`` found in a data folder.

    Attributes
    ----------
    data : Path
        The data folder.
    source : str
        ``"bids"`` or ``"pattern <pattern>"``.
    dyads : list of ScaffoldDyad
        Dyads with at least one dyad-session found, in order of their ids.
    sessions : list of ScaffoldSession
        Dyad-sessions with both recordings, sorted by dyad and session.
    n_files : int
        Recording files looked at.
    rates : dict
        Recording file -> sampling rate in Hz read from its header.
    problems : list of str
        What is missing or wrong, one sentence each naming the file or dyad-session.
    notes : list of str
        What is worth knowing but needs no change (e.g. rates interbrain resamples).
    """

    data: Path
    source: str
    dyads: list[ScaffoldDyad] = field(default_factory=list)
    sessions: list[ScaffoldSession] = field(default_factory=list)
    n_files: int = 0
    rates: dict[Path, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def usable(self) -> list[ScaffoldSession]:
        """The dyad-sessions without a problem (written as ``[[sessions]]``)."""
        return [s for s in self.sessions if not s.problem]

    def to_frame(self) -> pd.DataFrame:
        """One row per dyad-session found: ``dyad, session, therapist, patient,
        sfreq_therapist, sfreq_patient, problem`` (paths relative to ``data``)."""
        rows = [{"dyad": s.dyad, "session": s.session,
                 "therapist": shown_path(s.therapist, self.data),
                 "patient": shown_path(s.patient, self.data),
                 "sfreq_therapist": self.rates.get(s.therapist, float("nan")),
                 "sfreq_patient": self.rates.get(s.patient, float("nan")),
                 "problem": s.problem} for s in self.sessions]
        return pd.DataFrame(rows, columns=["dyad", "session", "therapist", "patient",
                                           "sfreq_therapist", "sfreq_patient", "problem"])

    def summary(self) -> str:
        """What was found (dyads, sessions, files, rates) and every problem and note."""
        numbers = sorted({s.session for s in self.usable})
        rates = sorted(set(self.rates.values()))
        lines = [f"{self.data} ({self.source}): {self.n_files} recording file(s); "
                 f"{len({s.dyad for s in self.usable})} dyad(s), {len(self.usable)} "
                 "dyad-session(s) with both recordings"
                 + (f" (session numbers {', '.join(map(str, numbers))})" if numbers else ""),
                 "sampling rates: " + (", ".join(f"{r:g} Hz" for r in rates) or "none read")]
        placeholders = [d.id for d in self.dyads if d.therapist_placeholder]
        if placeholders:
            lines.append(f"therapist ids are placeholders for {len(placeholders)} dyad(s) "
                         "(T_<dyad>): give the dyads of one therapist the same id")
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def shown_path(path: Path, root: Path) -> str:
    """``path`` as messages show it: relative to ``root`` (``/``-separated) where it is
    inside it, else as it is."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def scaffold_from_bids(data: str | os.PathLike, task: str | None = None) -> StudyScaffold:
    """The dyad-sessions of a hyperscanning BIDS dataset (``dyads.tsv`` at its root).

    Parameters
    ----------
    data : path-like
        The BIDS root.
    task : str, optional
        Only recordings of this BIDS task.

    Returns
    -------
    StudyScaffold
        With the dyads' members of ``dyads.tsv`` (a dyad whose members change between
        sessions keeps its first session's, with a problem naming the change), and
        the sampling-rate checks of :func:`check_rates`. The dyad-sessions are those
        :func:`~interbrain.io.bids_sessions` resolves; when it refuses the dataset
        (a member without the recording of a session of their dyad, an ambiguous
        recording, a bad ``dyads.tsv``) its message is the one problem and nothing is
        found.
    """
    root = Path(data)
    found = StudyScaffold(data=root, source="BIDS")
    found.n_files = sum(1 for _ in root.glob("sub-*/**/nirs/sub-*_nirs.snirf"))
    try:
        entries = bids_sessions(root, task=task)
    except StudyError as exc:
        found.problems.append(str(exc))
        return found
    members: dict[str, tuple[str, str, int]] = {}
    for entry in entries:
        dyad, session = entry["dyad"], entry["session"]
        ids = (entry["therapist_subject"], entry["patient_subject"])
        if dyad not in members:
            members[dyad] = (*ids, session)
        elif members[dyad][:2] != ids:
            first = members[dyad]
            found.problems.append(
                f"dyad {dyad!r}: members change between sessions (session {first[2]}: "
                f"{first[0]} and {first[1]}; session {session}: {ids[0]} and {ids[1]}); "
                "study.toml has one therapist and one patient per dyad: session "
                f"{session} is left out")
            continue
        found.sessions.append(ScaffoldSession(dyad, session, Path(entry["therapist"]),
                                              Path(entry["patient"])))
    found.sessions.sort(key=lambda s: (s.dyad, s.session))
    found.dyads = [ScaffoldDyad(d, t, p) for d, (t, p, _) in sorted(members.items())]
    check_rates(found)
    return found


def _is_multiple(rate: float, low: float) -> bool:
    ratio = rate / low
    return abs(ratio - round(ratio)) <= 1e-6


def check_rates(found: StudyScaffold) -> None:
    """Read every recording's sampling rate from its header and list the differences.

    Adds to ``found.rates``; a header that cannot be read is a problem (its session
    is marked and written commented out). Partners at rates that are not integer
    multiples of each other are a problem (interbrain cannot bring them to one rate;
    the session is marked and written commented out); rates that are integer
    multiples are a note (interbrain resamples to the lowest). Rates of one session
    number's recordings across dyads: a note when they are integer multiples of the
    lowest, a problem when not.
    """
    marked = []
    for s in found.sessions:
        problem = ""
        for path in (s.therapist, s.patient):
            if path in found.rates:
                continue
            try:
                raw = read_recording(path, format="snirf" if path.suffix.lower() == ".snirf"
                                     else None, preload=False)
                found.rates[path] = float(raw.info["sfreq"])
            except (RecordingError, StudyError, OSError, ValueError) as exc:
                problem = f"cannot read the header of {shown_path(path, found.data)}: {exc}"
        where = f"dyad {s.dyad!r} session {s.session}"
        if problem:
            found.problems.append(f"{where}: {problem}")
        else:
            rt, rp = found.rates[s.therapist], found.rates[s.patient]
            if rt != rp:
                lo = min(rt, rp)
                text = (f"{where}: sampling rates differ: therapist {rt:g} Hz "
                        f"({shown_path(s.therapist, found.data)}), patient {rp:g} Hz "
                        f"({shown_path(s.patient, found.data)})")
                if _is_multiple(max(rt, rp), lo):
                    found.notes.append(f"{text}; interbrain resamples both to {lo:g} Hz")
                else:
                    problem = (f"sampling rates {rt:g} Hz (therapist) and {rp:g} Hz "
                               "(patient) are not integer multiples of one another")
                    found.problems.append(f"{text}: not integer multiples, so interbrain "
                                          "cannot bring them to one rate; resample one "
                                          "(the session is written commented out)")
        marked.append(ScaffoldSession(s.dyad, s.session, s.therapist, s.patient, problem))
    found.sessions = marked
    by_number: dict[int, set[float]] = defaultdict(set)
    for s in found.usable:
        by_number[s.session] |= {found.rates[s.therapist], found.rates[s.patient]}
    for number, rates in sorted(by_number.items()):
        if len(rates) > 1:
            lo = min(rates)
            fits = all(_is_multiple(r, lo) for r in rates)
            text = (f"session {number}: recordings at "
                    f"{', '.join(f'{r:g}' for r in sorted(rates))} Hz; ")
            if fits:
                found.notes.append(text + f"its real and pseudo-dyads are analysed at {lo:g} Hz")
            else:
                found.problems.append(text + "not all integer multiples of the lowest, so "
                                      "the session number's recordings cannot be brought to "
                                      "one rate (interbrain validate and run will refuse)")
