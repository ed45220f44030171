"""Dyad assembly: the two partners' signals on one time base.

A session's two recordings come from two devices (one file per person) or from one
device whose channels belong to two people (one file and a channel-to-role map,
split by :func:`split_roles`). :func:`common_rate` brings recordings to one sampling
rate (integer ratios only; anything else is an error), and :func:`overlap` finds the
samples both partners cover once their clocks are aligned:

- ``"start_time"``: by the recorded start times (``meas_date``) of the two files;
- ``"event"``: by the first occurrence of a shared trigger / annotation in both;
- ``"offset"``: by an explicit offset, in seconds, of the patient's first sample after
  the therapist's.

A session's ``crop`` (:class:`Crop`, ``crop = [start, end]`` in ``study.toml``) then
keeps a part of that common window: seconds from its start, or the first occurrence of
named events (:class:`CroppedSession` carries it with the session's recordings).
"""

from __future__ import annotations

import math
from datetime import timedelta
from dataclasses import dataclass, replace

import mne
import numpy as np
from scipy.signal import resample_poly

from ._check import check_name, check_option
from .design import ALIGN_METHODS, SessionRecordings
from .errors import RecordingError, StudyError
from .preprocessing import Preprocessed


@dataclass(frozen=True)
class Overlap:
    """The common part of two aligned recordings.

    Attributes
    ----------
    start_a, start_b : int
        First sample of the common part in each recording.
    n_times : int
        Number of common samples.
    offset : float
        Start of recording b minus start of recording a, in seconds.
    """

    start_a: int
    start_b: int
    n_times: int
    offset: float


@dataclass(frozen=True)
class Crop:
    """The part of a session's aligned common window that is analysed.

    Attributes
    ----------
    start, end : float or str
        Seconds from the start of the common window (the time both partners
        recorded, once aligned), or the name of an event: the first occurrence of that
        event in the therapist's recording (else in the patient's), in the same time.
        ``end`` must come after ``start``.
    """

    start: float | str
    end: float | str

    @classmethod
    def from_value(cls, value: object, at: str) -> Crop:
        """A ``crop = [start, end]`` of ``study.toml``, checked.

        Raises
        ------
        StudyError
            Naming ``at``: not two bounds, a bound neither a finite number of seconds
            (at least 0) nor an event name, or numeric bounds with ``end <= start``.
        """
        if not isinstance(value, list) or len(value) != 2:
            raise StudyError(f"{at}: crop must be [start, end]: two numbers of seconds from "
                             "the start of the aligned common window, or event names (e.g. "
                             f"[30.0, 330.0] or [\"start_task\", \"end_task\"]), got {value!r}")
        bounds = []
        for name, v in zip(("start", "end"), value):
            if isinstance(v, str) and v.strip():
                check_name(v, f"crop {name} event", at, StudyError)
            elif (isinstance(v, bool) or not isinstance(v, (int, float))
                  or not math.isfinite(v) or v < 0):
                raise StudyError(f"{at}: crop {name} must be seconds (a number >= 0) or an "
                                 f"event name, got {v!r}")
            bounds.append(v if isinstance(v, str) else float(v))
        if all(isinstance(v, float) for v in bounds) and bounds[1] <= bounds[0]:
            raise StudyError(f"{at}: crop = {value!r}: the end must come after the start")
        return cls(*bounds)

    def described(self) -> str:
        """``[start, end]`` as ``study.toml`` writes it."""
        return "[" + ", ".join(f"\"{v}\"" if isinstance(v, str) else f"{v:g}"
                               for v in (self.start, self.end)) + "]"

    def as_list(self) -> list:
        """``[start, end]`` (JSON-ready)."""
        return [self.start, self.end]


@dataclass(frozen=True)
class CroppedSession(SessionRecordings):
    """A session's recordings (:class:`~interbrain.design.SessionRecordings`) and the
    part of their common window that is analysed (``crop``, None: all of it)."""

    crop: Crop | None = None


def session_crop(session: object) -> Crop | None:
    """The :class:`Crop` a session (or pairing) carries; None when it has none."""
    crop = getattr(session, "crop", None)
    return crop if isinstance(crop, Crop) else None


def split_roles(raw: mne.io.BaseRaw, channels: dict[str, tuple[str, ...]], *,
                source: str = "") -> dict[str, mne.io.BaseRaw]:
    """Split a one-device hyperscanning recording into one recording per person.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        fNIRS recording holding both people's channels (``"S1_D1 760"`` etc.).
    channels : dict
        Role -> source-detector pair names (``"S1_D1"``) of that person. The k-th
        pairs of the roles are homologous; the patient's channels are renamed to the
        therapist's names so that homologous channels share a name.
    source : str
        The file, for error messages.

    Returns
    -------
    dict
        Role -> recording of that person's channels only.
    """
    roles = list(channels)
    where = source or "recording"
    lengths = {role: len(names) for role, names in channels.items()}
    if len(set(lengths.values())) != 1:
        raise RecordingError(f"{where}: the channel-to-role map lists {lengths} channels; "
                             "every role needs the same number (the k-th are homologous)")
    owner: dict[str, str] = {}
    for role, names in channels.items():
        for name in names:
            if name in owner:
                who = (f"twice for the {role}" if owner[name] == role
                       else f"for both the {owner[name]} and the {role}")
                raise RecordingError(f"{where}: channel {name} is listed {who} in the "
                                     "channel-to-role map")
            owner[name] = role
    pair_of: dict[str, list[str]] = {}
    for ch in raw.ch_names:
        pair_of.setdefault(ch.split(" ")[0], []).append(ch)
    out = {}
    reference = channels[roles[0]]
    for role in roles:
        missing = [name for name in channels[role] if name not in pair_of]
        if missing:
            raise RecordingError(f"{where}: channel(s) {', '.join(missing)} of the {role} "
                                 "(channel-to-role map) are not in the recording (its "
                                 f"channels: {', '.join(list(pair_of)[:12])}"
                                 + (" ..." if len(pair_of) > 12 else "") + ")")
        picks = [ch for name in channels[role] for ch in pair_of[name]]
        part = raw.copy().pick(picks)
        if role != roles[0]:
            rename = {ch: ref + ch[len(name):] for name, ref in zip(channels[role], reference)
                      for ch in pair_of[name]}
            part.rename_channels(rename)
        out[role] = part
    return out


def common_rate(rates: dict[str, float]) -> float:
    """The sampling rate recordings are brought to: the lowest of ``rates``.

    Parameters
    ----------
    rates : dict
        Recording name -> sampling rate in Hz.

    Raises
    ------
    RecordingError
        If a rate is not an integer multiple of the lowest one (naming both files).
    """
    low_name = min(rates, key=rates.get)
    low = rates[low_name]
    for name, rate in rates.items():
        ratio = rate / low
        if abs(ratio - round(ratio)) > 1e-6:
            raise RecordingError(
                f"{name} ({rate:g} Hz) and {low_name} ({low:g} Hz): sampling rates differ by "
                f"a non-integer ratio ({ratio:.4f}); resample one of them to a multiple of "
                "the other before the analysis")
    return low


def resample_to(rec: Preprocessed, sfreq: float) -> Preprocessed:
    """``rec`` decimated to ``sfreq`` Hz (an integer divisor of its rate).

    Uses :func:`scipy.signal.resample_poly` (polyphase FIR with anti-aliasing).
    Events (``annotations``, in seconds) and the start time are unchanged; the
    result has ``ceil(n_times / factor)`` samples.

    Raises
    ------
    RecordingError
        If ``sfreq`` is not ``rec.sfreq`` divided by a whole number (naming the file).
    """
    ratio = rec.sfreq / sfreq
    factor = int(round(ratio))
    if factor < 1 or abs(ratio - factor) > 1e-6:
        raise RecordingError(f"{rec.source} ({rec.sfreq:g} Hz): cannot be brought to "
                             f"{sfreq:g} Hz by an integer decimation factor (ratio "
                             f"{ratio:.4f})")
    if factor == 1:
        return rec
    hbo = resample_poly(rec.hbo, 1, factor, axis=1)
    hbr = resample_poly(rec.hbr, 1, factor, axis=1)
    steps = rec.steps + [resample_step(rec.sfreq, sfreq)]
    return replace(rec, hbo=hbo, hbr=hbr, sfreq=float(sfreq), steps=steps)


def resample_step(from_hz: float, to_hz: float) -> dict:
    """The record of :func:`resample_to` in a recording's preprocessing steps."""
    return {"step": "resample", "function": "scipy.signal.resample_poly",
            "from_hz": float(from_hz), "to_hz": float(to_hz),
            "factor": int(round(from_hz / to_hz))}


def _first_event(rec: Preprocessed, event: str, partner: Preprocessed) -> float:
    ann = rec.annotations
    onsets = ann.loc[ann["description"] == event, "onset"] if len(ann) else []
    if len(onsets) == 0:
        found = sorted(set(ann["description"])) if len(ann) else []
        raise RecordingError(f"{rec.source}: no event {event!r}, needed to align it with "
                             f"{partner.source} (events in the file: "
                             f"{', '.join(found) or 'none'})")
    return float(min(onsets))


def recording_offset(a: Preprocessed, b: Preprocessed, *, align: str = "start_time",
                     offset: float = 0.0, event: str | None = None) -> float:
    """Start of recording ``b`` minus start of recording ``a``, in seconds.

    Parameters
    ----------
    a, b : Preprocessed
        The therapist's and the patient's recordings.
    align : str
        ``"start_time"``, ``"event"`` or ``"offset"`` (see the module docstring).
    offset : float
        With ``align="offset"``: seconds the patient's first sample comes after the
        therapist's (negative if before).
    event : str
        With ``align="event"``: description of the shared trigger.
    """
    check_option(align, "align", ALIGN_METHODS)
    if align == "offset":
        return float(offset)
    if align == "event":
        if not event:
            raise ValueError("align='event' needs the event's name")
        # the event is at a-time t_a and b-time t_b: t_a = offset + t_b
        return _first_event(a, event, b) - _first_event(b, event, a)
    if a.meas_date is None or b.meas_date is None:   # align == "start_time"
        missing = a.source if a.meas_date is None else b.source
        raise RecordingError(f"{missing}: no recorded start time to align {a.source} and "
                             f"{b.source} on (Homer .nirs files store none; in SNIRF "
                             "files /nirs/metaDataTags/MeasurementDate and MeasurementTime "
                             "are missing, 'unknown' or not ISO 8601); set align = "
                             "\"offset\" (offset = 0 aligns their first samples) or "
                             "align = \"event\"")
    return (b.meas_date - a.meas_date).total_seconds()


def overlap(a: Preprocessed, b: Preprocessed, *, align: str = "start_time",
            offset: float = 0.0, event: str | None = None, crop: Crop | None = None
            ) -> Overlap:
    """The samples both partners cover once their clocks are aligned.

    Both recordings must already share a sampling rate (:func:`resample_to`).

    Parameters
    ----------
    a, b : Preprocessed
        The therapist's and the patient's recordings.
    align, offset, event
        As :func:`recording_offset`.
    crop : Crop or None
        Keep only this part of the common window (see :class:`Crop`).

    Raises
    ------
    RecordingError
        If the recordings do not overlap (naming both files), rates differ, or the
        crop lies outside the common window or names an event neither has.
    """
    if not math.isclose(a.sfreq, b.sfreq, rel_tol=1e-9):
        raise RecordingError(f"{a.source} ({a.sfreq} Hz) and {b.source} ({b.sfreq} Hz): "
                             "sampling rates differ; bring them to a common rate first")
    shift = recording_offset(a, b, align=align, offset=offset, event=event)
    lag = int(round(shift * a.sfreq))
    start_a, start_b = max(lag, 0), max(-lag, 0)
    n = min(a.n_times - start_a, b.n_times - start_b)
    if n <= 0:
        how = {"start_time": "by their recorded start times",
               "event": f"on their first {event!r} event",
               "offset": "by the given offset"}.get(align, "")
        raise RecordingError(
            f"{a.source} and {b.source} do not overlap in time: aligned {how}, the second "
            f"starts {abs(shift):.1f} s {'after' if shift >= 0 else 'before'} the first; the "
            f"first lasts {a.n_times / a.sfreq:.1f} s and the second "
            f"{b.n_times / b.sfreq:.1f} s")
    if crop is not None:
        first, stop = _crop_samples(crop, a, b, start_a, start_b, n)
        start_a, start_b, n = start_a + first, start_b + first, stop - first
    return Overlap(start_a, start_b, n, shift)


def _crop_time(value: float | str, a: Preprocessed, b: Preprocessed, start_a: int,
               start_b: int) -> float:
    """Seconds from the start of the common window of a crop bound."""
    if not isinstance(value, str):
        return float(value)
    for rec, first in ((a, start_a), (b, start_b)):
        ann = rec.annotations
        onsets = ann.loc[ann["description"] == value, "onset"] if len(ann) else []
        if len(onsets):
            return float(min(onsets)) - first / rec.sfreq
    found = sorted(set(a.annotations["description"]) | set(b.annotations["description"]))
    raise RecordingError(f"{a.source} and {b.source}: crop: no event {value!r} in either "
                         f"recording (their events: {', '.join(found) or 'none'})")


def _crop_samples(crop: Crop, a: Preprocessed, b: Preprocessed, start_a: int, start_b: int,
                  n: int) -> tuple[int, int]:
    """First and stop sample, within the common window, of ``crop``."""
    lo = _crop_time(crop.start, a, b, start_a, start_b)
    hi = _crop_time(crop.end, a, b, start_a, start_b)
    length = n / a.sfreq
    where = (f"{a.source} and {b.source}: crop = {crop.described()} (seconds from the "
             f"start of the {length:.1f} s both recorded once aligned")
    if isinstance(crop.start, str) or isinstance(crop.end, str):
        where += f"; from {lo:.1f} s to {hi:.1f} s"
    if not hi > lo:
        raise RecordingError(f"{where}): the end must come after the start")
    if lo < 0 or hi > length + 0.5 / a.sfreq:
        raise RecordingError(f"{where}): outside the recording, which the common window "
                             f"ends at {length:.1f} s")
    first = int(round(lo * a.sfreq))
    return first, min(int(round(hi * a.sfreq)), n)


def crop(data: np.ndarray, start: int, n_times: int) -> np.ndarray:
    """``data[:, start:start + n_times]``; shape (n_channels, n_times)."""
    return data[:, start:start + n_times]


def crop_step(rec: Preprocessed, first: int, n_times: int, crop: Crop) -> dict:
    """The record of :func:`crop_recordings` in a recording's preprocessing steps."""
    return {"step": "crop", "function": "interbrain.assembly.crop_recordings",
            "crop": crop.as_list(), "from_s": first / rec.sfreq,
            "to_s": (first + n_times) / rec.sfreq, "seconds": n_times / rec.sfreq,
            "reason": "crop of the session in study.toml, applied after alignment"}


def _cropped(rec: Preprocessed, first: int, n_times: int, crop: Crop) -> Preprocessed:
    ann = rec.annotations.copy()
    ann["onset"] = ann["onset"] - first / rec.sfreq
    start = (rec.meas_date + timedelta(seconds=first / rec.sfreq)
             if rec.meas_date is not None else None)
    return replace(rec, hbo=rec.hbo[:, first:first + n_times],
                   hbr=rec.hbr[:, first:first + n_times], meas_date=start,
                   annotations=ann.reset_index(drop=True),
                   steps=rec.steps + [crop_step(rec, first, n_times, crop)])


def crop_recordings(a: Preprocessed, b: Preprocessed, crop: Crop, *,
                    align: str = "start_time", offset: float = 0.0,
                    event: str | None = None) -> tuple[Preprocessed, Preprocessed]:
    """A session's two recordings cut to the part of their common window ``crop`` keeps.

    The results start together (their first samples are simultaneous: align them with
    ``align="offset"``, ``offset=0``) and last as long; start times advance and event
    onsets shift with the cut, and each gets a ``crop`` step (seconds of its own
    recording kept). Pseudo-dyads of cropped recordings then pair the same part of
    every session.

    Parameters
    ----------
    a, b : Preprocessed
        The therapist's and the patient's recordings, at one sampling rate.
    crop : Crop
        The part kept.
    align, offset, event
        How the two are aligned (as :func:`overlap`).

    Raises
    ------
    RecordingError
        As :func:`overlap`, naming both files.
    """
    common = overlap(a, b, align=align, offset=offset, event=event, crop=crop)
    return (_cropped(a, common.start_a, common.n_times, crop),
            _cropped(b, common.start_b, common.n_times, crop))


def apply_crops(pairings: list, recordings: dict[str, Preprocessed]
                ) -> tuple[list, dict[str, Preprocessed]]:
    """Cut the recordings of every pairing that has a ``crop`` (real dyads of sessions
    with ``crop`` in ``study.toml``) to their cropped common window.

    Each such pairing's two recordings are replaced in ``recordings`` by their cropped
    parts (:func:`crop_recordings`), so every other pairing of those recordings (the
    pseudo-dyads of the session number) pairs the cropped parts too, and the pairing
    is then aligned on their first samples (``align="offset"``, ``offset=0``).

    Parameters
    ----------
    pairings : list
        Pairings with ``therapist.key``, ``patient.key``, ``align``, ``offset``,
        ``event`` and ``crop`` (:class:`Crop` or None) attributes (dataclasses).
    recordings : dict
        Recording key -> recording, at one sampling rate.

    Returns
    -------
    pairings : list
        As given, the cropped ones re-aligned (and their ``crop`` None).
    recordings : dict
        A new dict, cropped recordings replaced.
    """
    recordings = dict(recordings)
    out = []
    for p in pairings:
        crop = session_crop(p)
        if crop is None:
            out.append(p)
            continue
        t, q = p.therapist.key, p.patient.key
        recordings[t], recordings[q] = crop_recordings(
            recordings[t], recordings[q], crop, align=p.align, offset=p.offset, event=p.event)
        out.append(replace(p, align="offset", offset=0.0, event=None, crop=None))
    return out, recordings
