"""What :func:`~interbrain.validation.validate_study` finds: the problems, the
recordings' headers and the pairings' time in common (:class:`ValidationReport`)."""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..study import Study


@dataclass(frozen=True)
class Problem:
    """One problem found by :func:`validate_study`.

    Attributes
    ----------
    files : tuple of str
        The file(s) or folder(s) concerned, as named in ``message``.
    message : str
        What is wrong, starting with the file(s) (the message the run would give).
    """

    files: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class RecordingHeader:
    """What :func:`validate_study` reads of one person's recording.

    Attributes
    ----------
    key : str
        The recording (:attr:`~interbrain.study.RecordingRef.key`: the path, plus
        ``#role`` for one person of a one-file dyad).
    path : Path
        The file or NIRx folder.
    format : str
        ``"snirf"``, ``"nirx"``, ``"homer"``, ``"table"`` or ``"bids"``.
    kind : str
        ``"intensity"`` (raw continuous-wave intensities), ``"od"`` (optical density)
        or ``"hb"`` (HbO/HbR).
    sfreq : float
        Sampling rate in Hz.
    n_times : int
        Number of samples.
    channels : tuple of str
        Source-detector pairs that will be analysed (long channels), e.g. ``"S1_D1"``.
    wavelengths : tuple of float
        Wavelengths in nm (empty for haemoglobin input).
    meas_date : datetime or None
        Start time of the first sample, None when the file records none.
    annotations : pandas.DataFrame
        Events: ``onset`` (seconds from the first sample), ``duration``,
        ``description``.
    """

    key: str
    path: Path
    format: str
    kind: str
    sfreq: float
    n_times: int
    channels: tuple[str, ...]
    wavelengths: tuple[float, ...]
    meas_date: datetime | None
    annotations: pd.DataFrame = field(compare=False, repr=False)

    @property
    def duration(self) -> float:
        """Duration in seconds (``n_times / sfreq``)."""
        return self.n_times / self.sfreq


@dataclass(frozen=True)
class PairingCheck:
    """The common time window of a pairing that passed the time checks.

    Attributes
    ----------
    dyad, partner_dyad : str
        Dyad of the first (therapist, or other person) and second (patient) recording.
    session : int
        Session number of the first recording (0 for ``[[generalisation]]``
        recordings).
    pairing : str
        ``"real"``, ``"pseudo"``, ``"familiarity"``, ``"other_pre"`` or
        ``"other_post"``.
    sfreq : float
        Common sampling rate in Hz.
    common_s : float
        Time both recordings cover once aligned, in seconds.
    partner_session : int, optional
        Session number of the second (patient) recording: differs from ``session``
        for familiarity pairings only. None: ``session``.
    """

    dyad: str
    partner_dyad: str
    session: int
    pairing: str
    sfreq: float
    common_s: float
    partner_session: int | None = None


@dataclass
class ValidationReport:
    """What :func:`validate_study` found.

    Attributes
    ----------
    root : Path
        The study folder.
    study : Study or None
        The loaded study; None when ``study.toml`` or ``measures.csv`` is invalid.
    problems : list of Problem
        Every problem found, in the order checked; empty when the study is valid.
    recordings : dict
        Recording key -> :class:`RecordingHeader`, for the recordings that could be
        read.
    pairings : list of PairingCheck
        The pairings whose partners overlap, with their time in common.
    band_need : dict
        Common sampling rate in Hz -> seconds the band's longest period needs in
        common (None when no length suffices).
    """

    root: Path
    study: Study | None = None
    problems: list[Problem] = field(default_factory=list)
    recordings: dict[str, RecordingHeader] = field(default_factory=dict)
    pairings: list[PairingCheck] = field(default_factory=list)
    band_need: dict[float, float | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def add(self, message: str, *files: str | os.PathLike) -> None:
        """Record a problem (a message already recorded is not repeated)."""
        if any(p.message == message for p in self.problems):
            return
        self.problems.append(Problem(tuple(str(f) for f in files), message))

    def to_frame(self) -> pd.DataFrame:
        """The problems as a table.

        Returns
        -------
        pandas.DataFrame
            One row per problem: ``file`` (the file or files concerned, joined by
            ``"; "``) and ``problem`` (the message).
        """
        return pd.DataFrame({"file": ["; ".join(p.files) for p in self.problems],
                             "problem": [p.message for p in self.problems]},
                            columns=["file", "problem"])

    def recordings_frame(self) -> pd.DataFrame:
        """The recordings read, one row each.

        Returns
        -------
        pandas.DataFrame
            Columns ``recording`` (key), ``format``, ``kind``, ``sfreq`` (Hz),
            ``n_times``, ``duration_s`` (seconds), ``n_channels``, ``wavelengths``
            (nm, comma-separated) and ``start_time`` (ISO 8601, empty if none).
        """
        rows = [{"recording": h.key, "format": h.format, "kind": h.kind, "sfreq": h.sfreq,
                 "n_times": h.n_times, "duration_s": h.duration,
                 "n_channels": len(h.channels),
                 "wavelengths": ", ".join(f"{w:g}" for w in h.wavelengths),
                 "start_time": h.meas_date.isoformat() if h.meas_date else ""}
                for h in self.recordings.values()]
        return pd.DataFrame(rows, columns=["recording", "format", "kind", "sfreq", "n_times",
                                           "duration_s", "n_channels", "wavelengths",
                                           "start_time"])

    def message(self) -> str:
        """All problems as one message: the problem itself when there is one, else a
        count and one line per problem."""
        if len(self.problems) == 1:
            return self.problems[0].message
        lines = [f"{len(self.problems)} problems in the study {self.root}:"]
        lines += [f"- {p.message}" for p in self.problems]
        return "\n".join(lines)

    def summary(self) -> str:
        """A short account of what was checked (dyads, sessions, recordings, rates,
        durations, time in common, measures) and of the problems, if any."""
        if self.study is None:
            return self.message()
        s = self.study
        lines = [f"study {s.name!r} ({self.root}): "
                 + ("no problems found" if self.ok else _n(len(self.problems), "problem"))]
        lines.append(f"  {_n(len(s.dyads), 'dyad')} ({_n(s.n_therapists, 'therapist')}), "
                     f"{_n(len(s.sessions), 'dyad-session')} (session numbers "
                     f"{_span(s.session_numbers)})"
                     + (f", {_n(len(s.generalisation), 'generalisation pair')}"
                        if s.generalisation else ""))
        heads = list(self.recordings.values())
        if heads:
            formats = Counter(h.format for h in heads)
            kinds = Counter({"intensity": "raw intensity", "od": "optical density",
                             "hb": "HbO/HbR"}[h.kind] for h in heads)
            n_ch = sorted({len(h.channels) for h in heads})
            lines.append(f"  {_n(len(heads), 'recording')} ({_counts(formats)}; "
                         f"{_counts(kinds)}), {_span(n_ch)} channels per person")
            rates = Counter(round(h.sfreq, 6) for h in heads)
            lines.append("  sampling rates: " + ", ".join(
                f"{r:g} Hz ({n})" for r, n in sorted(rates.items())))
            lines.append(f"  durations: {_seconds([h.duration for h in heads])}")
        real = [p.common_s for p in self.pairings if p.pairing == "real"]
        if real:
            need = ", ".join(f"{v:.1f} s at {r:g} Hz" for r, v in sorted(self.band_need.items())
                             if v is not None)
            lines.append(f"  partners in common: {_seconds(real)} over "
                         f"{_n(len(real), 'dyad-session')}; the band "
                         f"{s.analysis.band[0]:g}-{s.analysis.band[1]:g} s needs at least "
                         f"{need or 'more than any recording'}")
        n_pseudo = sum(p.pairing == "pseudo" for p in self.pairings)
        if n_pseudo:
            lines.append(f"  pseudo-dyads: {n_pseudo}")
        n_familiarity = sum(p.pairing == "familiarity" for p in self.pairings)
        if n_familiarity:
            lines.append(f"  familiarity pairings: {n_familiarity}")
        if len(s.measures):
            cols = s.measure_columns
            lines.append(f"  measures.csv: {_n(len(s.measures), 'row')}, "
                         f"{_n(len(cols), 'measure')} ({', '.join(cols)})")
        else:
            lines.append("  measures.csv: none")
        if not self.ok:
            lines.append(self.message())
        return "\n".join(lines)


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _span(values: list) -> str:
    values = sorted(values)
    if not values:
        return "none"
    return f"{values[0]:g}" if values[0] == values[-1] else f"{values[0]:g}-{values[-1]:g}"


def _counts(counter: Counter) -> str:
    return ", ".join(f"{name}: {n}" for name, n in sorted(counter.items()))


def _seconds(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    if math.isclose(lo, hi, abs_tol=0.05):
        return f"{lo:.1f} s"
    return f"{lo:.1f}-{hi:.1f} s (median {float(np.median(values)):.1f} s)"
