"""Validation of a study before any computation (``interbrain validate``).

:func:`validate_study` checks everything that needs no signal analysis, so that a bad
file is reported in seconds rather than after the preprocessing of every recording:

- ``study.toml`` and ``measures.csv``, as :func:`~interbrain.study.load_study` reads
  them (its first problem; when ``study.toml`` is invalid, ``measures.csv`` is still
  checked for its encoding, separator and header; the recordings are checked only once
  both are valid);
- every recording's header, read as MNE reads it with ``preload=False``
  (:func:`~interbrain.io.read_recording`): the file is readable in its format, holds
  raw-intensity (two or more wavelengths per source-detector pair) or HbO/HbR
  channels, long channels (not only short ones), a sampling rate and a duration, and
  finite samples (read once, in blocks, with h5py for SNIRF files); with a
  channel-to-role map, that the map's channels are in the file;
- per session number (the unit the engine brings to one sampling rate), that every
  rate is an integer multiple of the lowest (:func:`~interbrain.assembly.common_rate`);
- per pairing the engine will compute (real dyads, ``[[generalisation]]`` recordings
  and pseudo-dyads): that the partners overlap in time once aligned as the session
  says (start times, a shared event or an offset; :func:`~interbrain.assembly.overlap`),
  that the time they have in common is long enough for the band's longest period (the
  wavelet grid's rule, :func:`~interbrain.synchrony.wavelet.min_samples_for_band`),
  that the optional ``window`` and ``lags`` and circular-shift surrogates of a real
  dyad-session fit in it, and, with ``pairs = "homologous"``, that both partners have
  the same channels.

Every problem is kept, each naming its file(s); where the run checks the same thing,
the message is the one it would give. No preprocessing runs and no output is written.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from .assembly import common_rate, overlap
from .errors import RecordingError, StudyError
from .design import ROLES, RecordingRef
from .study import Study, load_study, read_measures_csv

__all__ = ["Problem", "RecordingHeader", "PairingCheck", "ValidationReport",
           "recording_header", "validate_study"]


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
        Session number (0 for ``[[generalisation]]`` recordings).
    pairing : str
        ``"real"``, ``"pseudo"``, ``"other_pre"`` or ``"other_post"``.
    sfreq : float
        Common sampling rate in Hz.
    common_s : float
        Time both recordings cover once aligned, in seconds.
    """

    dyad: str
    partner_dyad: str
    session: int
    pairing: str
    sfreq: float
    common_s: float


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


# --------------------------------------------------------------------------- headers

def _format_name(path: Path) -> str:
    from .io.recording import EXTENSIONS, _in_bids_dataset

    if path.is_dir():
        return "nirx"
    suffix = path.suffix.lower()
    if suffix == ".snirf" and _in_bids_dataset(path):
        return "bids"
    return EXTENSIONS.get(suffix, suffix.lstrip(".") or "unknown")


def recording_header(raw: mne.io.BaseRaw, *, key: str, path: Path,
                     short_channel_max_distance: float = 0.015) -> RecordingHeader:
    """Describe one person's recording as the preprocessing chain will see it.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (preloaded or not), with its first sample's start time (as
        :func:`~interbrain.io.read_recording` returns it); with a one-file dyad, this
        person's part (:func:`~interbrain.assembly.split_roles`).
    key : str
        Name of the recording in messages.
    path : Path
        Its file or folder.
    short_channel_max_distance : float
        Source-detector distance in metres up to which a channel is a short channel
        (not analysed).

    Returns
    -------
    RecordingHeader

    Raises
    ------
    RecordingError
        If the recording holds no fNIRS channels, a raw-intensity or optical-density
        pair has fewer than two wavelengths, a haemoglobin pair lacks HbO or HbR, or
        every channel is a short channel (naming ``key``).
    """
    from .preprocessing.chain import _annotation_table, _short_pairs
    from .preprocessing.qc import fnirs_picks, input_kind, pair_names

    try:
        kind = input_kind(raw)
    except ValueError as exc:
        raise RecordingError(f"{key}: {exc}") from None
    start = raw.info["meas_date"]
    if start is not None and raw.first_samp:
        start = start + timedelta(seconds=raw.first_time)   # as the chain does
    picked = fnirs_picks(raw, kind)
    names = pair_names(picked)
    rows = Counter(ch.split(" ")[0] for ch in picked.ch_names)
    if kind == "hb":
        have = set(picked.ch_names)
        lacking = [c for c in names if f"{c} hbo" not in have or f"{c} hbr" not in have]
        if lacking:
            raise RecordingError(f"{key}: channel(s) {', '.join(lacking[:6])} lack an HbO or "
                                 "an HbR signal (every source-detector pair needs both)")
        channels, wavelengths = names, ()
    else:
        single = [c for c in names if rows[c] < 2]
        if single:
            raise RecordingError(f"{key}: source-detector pair(s) {', '.join(single[:6])} "
                                 "have one wavelength; converting to HbO/HbR needs two per "
                                 "pair")
        short = set(_short_pairs(picked, short_channel_max_distance))
        channels = [c for c in names if c not in short]
        if not channels:
            raise RecordingError(f"{key}: every channel is a short channel (source-"
                                 f"detector distance at most {short_channel_max_distance} "
                                 "m); nothing to analyse")
        wavelengths = tuple(sorted({float(ch["loc"][9]) for ch in picked.info["chs"]
                                    if np.isfinite(ch["loc"][9]) and ch["loc"][9] > 0}))
    return RecordingHeader(key=key, path=path, format=_format_name(path), kind=kind,
                           sfreq=float(raw.info["sfreq"]), n_times=int(raw.n_times),
                           channels=tuple(channels), wavelengths=wavelengths,
                           meas_date=start, annotations=_annotation_table(raw))


def _recording_entries(study: Study) -> list[tuple[RecordingRef, RecordingRef]]:
    """(recording, partner) of every recording the study names, in study order."""
    out = []
    for s in study.sessions:
        out += [(s.therapist, s.patient), (s.patient, s.therapist)]
    for g in study.generalisation:
        out += [(g.patient, g.other), (g.other, g.patient)]
    return out


def _read_headers(study: Study, report: ValidationReport) -> None:
    from .assembly import split_roles
    from .io import read_recording

    opened: dict[Path, mne.io.BaseRaw | None] = {}
    for ref, partner in _recording_entries(study):
        if ref.key in report.recordings:
            continue
        if ref.path not in opened:
            try:
                opened[ref.path] = read_recording(ref.path, preload=False)
            except RecordingError as exc:
                report.add(str(exc), ref.path)
                opened[ref.path] = None
            except Exception as exc:  # a reader's failure the io layer does not name
                report.add(f"{ref.path}: cannot be read: {type(exc).__name__}: {exc}",
                           ref.path)
                opened[ref.path] = None
        raw = opened[ref.path]
        if raw is None:
            continue
        try:
            if ref.channels is not None:
                both = sorted((ref, partner), key=lambda r: ROLES.index(r.role))
                raw = split_roles(raw, {r.role: r.channels for r in both},
                                  source=str(ref.path))[ref.role]
            report.recordings[ref.key] = recording_header(
                raw, key=ref.key, path=ref.path,
                short_channel_max_distance=study.preprocessing.short_channel_max_distance)
        except RecordingError as exc:
            report.add(str(exc), ref.path)
        except Exception as exc:
            report.add(f"{ref.key}: cannot be checked: {type(exc).__name__}: {exc}", ref.path)


# --------------------------------------------------------------------------- pairings

def _stand_in(header: RecordingHeader, rate: float):
    """A signal-less :class:`~interbrain.preprocessing.Preprocessed` with the header's
    timing, brought to ``rate`` Hz as :func:`~interbrain.assembly.resample_to` would
    (``ceil(n_times / factor)`` samples)."""
    from .preprocessing import Preprocessed

    factor = max(int(round(header.sfreq / rate)), 1)
    n = -(-header.n_times // factor)
    qc = pd.DataFrame({"channel": pd.Series(dtype=str), "bad": pd.Series(dtype=bool)})
    empty = np.empty((0, n))
    return Preprocessed(source=header.key, channels=list(header.channels), hbo=empty,
                        hbr=empty, sfreq=float(rate), meas_date=header.meas_date, qc=qc,
                        annotations=header.annotations)


class _BandRule:
    """Whether a common window of n samples is long enough for the band, by the wavelet
    grid's own rule (:meth:`~interbrain.synchrony.wavelet.WaveletGrid.build`, as the
    engine builds it); the minimum length is computed once per sampling rate."""

    def __init__(self, band: tuple[float, float], precision: str) -> None:
        self.band, self.precision = band, precision
        self.need: dict[float, int | None] = {}

    def _build(self, n: int, dt: float) -> str | None:
        from .synchrony.wavelet import WaveletGrid

        try:
            WaveletGrid.build(n, dt, band=self.band, dtype=self.precision)
        except ValueError as exc:
            return str(exc)
        return None

    def problem(self, n: int, rate: float) -> str | None:
        """The grid's message for n samples at ``rate`` Hz, or None if they suffice."""
        from .synchrony.wavelet import min_samples_for_band

        dt = 1.0 / rate
        if rate not in self.need:
            m = min_samples_for_band(dt, self.band)
            # a band the grid refuses at every length (e.g. below its shortest period)
            self.need[rate] = m if m is not None and self._build(m, dt) is None else None
        m = self.need[rate]
        if m is not None and n >= m:
            return None
        return self._build(n, dt)

    def seconds(self) -> dict[float, float | None]:
        return {rate: (m / rate if m is not None else None) for rate, m in self.need.items()}


def _summary_problem(settings, n: int, rate: float, band: _BandRule) -> str | None:
    """Whether the optional summaries of a real dyad-session (``window``, ``lags``) fit
    in its ``n`` common samples at ``rate`` Hz (as
    :func:`~interbrain.synchrony.summaries.windowed_band_coherence` and
    :func:`~interbrain.synchrony.summaries.lagged_band_coherence` require)."""
    dt = 1.0 / rate
    if settings.window > 0 and int(round(settings.window / dt)) > n:
        return (f"window = {settings.window:g} s ([analysis]) is longer than the "
                f"{n * dt:.1f} s the partners have in common")
    if settings.lags:
        shifts = np.round(np.asarray(settings.lags, dtype=float) / dt).astype(np.int64)
        if np.unique(shifts).size != shifts.size:
            return (f"lags {list(settings.lags)} s ([analysis]) give duplicate shifts at "
                    f"{rate:g} Hz (lags are rounded to whole samples)")
        longest = int(np.abs(shifts).max())
        if band.problem(n - longest, rate) is not None:
            need = band.need.get(rate)
            allowed = (f"; the largest |lag| allowed is {max(n - need, 0) * dt:.6g} s"
                       if need is not None else "")
            return (f"lag of {longest * dt:.6g} s ([analysis] lags) leaves {n - longest} of "
                    f"the {n} samples in common, too few for the band{allowed}")
    return None


def _pairings(study: Study) -> list:
    from .nulls.pseudo_dyads import (generalisation_pairings, pseudo_dyad_pairings,
                                     real_pairings)

    pairings = real_pairings(study) + generalisation_pairings(study)
    if study.analysis.pseudo_dyads:
        pairings += pseudo_dyad_pairings(
            study, max_per_dyad=study.analysis.pseudo_dyads_per_dyad or None,
            seed=study.analysis.pseudo_dyads_seed)
    return pairings


def _check_pairings(study: Study, report: ValidationReport) -> None:
    from .engine.pairs import channel_pairs
    from .nulls.surrogates import min_shift_samples

    heads = report.recordings
    pairings = _pairings(study)
    # the engine brings the recordings of one session number to one rate
    groups: dict[int, list[str]] = {}
    for p in pairings:
        keys = groups.setdefault(p.session, [])
        keys += [k for k in (p.therapist.key, p.patient.key) if k in heads and k not in keys]
    rates: dict[int, float | None] = {}
    for session, keys in groups.items():
        try:
            rates[session] = common_rate({k: heads[k].sfreq for k in keys}) if keys else None
        except RecordingError as exc:
            report.add(str(exc), *keys)
            rates[session] = None
    band = _BandRule(study.analysis.band, study.analysis.precision)
    settings = study.analysis
    for p in pairings:
        t_key, p_key = p.therapist.key, p.patient.key
        if t_key not in heads or p_key not in heads:
            continue   # already reported
        named = {f for problem in report.problems for f in problem.files}
        if p.pairing == "pseudo" and {str(p.therapist.path), str(p.patient.path),
                                      t_key, p_key} & named:
            continue   # a pseudo-dyad of a recording with a problem would repeat it
        rate = rates.get(p.session) or heads[t_key].sfreq
        a, b = _stand_in(heads[t_key], rate), _stand_in(heads[p_key], rate)
        try:
            channel_pairs(a, b, settings.pairs)
        except RecordingError as exc:
            report.add(str(exc), t_key, p_key)
        if rates.get(p.session) is None:
            continue
        try:
            common = overlap(a, b, align=p.align, offset=p.offset, event=p.event)
        except RecordingError as exc:
            report.add(str(exc), t_key, p_key)
            continue
        n, dt = common.n_times, 1.0 / rate
        where = (f"{t_key} and {p_key} ({n * dt:.1f} s in common; they last "
                 f"{a.n_times * dt:.1f} s and {b.n_times * dt:.1f} s)")
        message = band.problem(n, rate)
        if message is not None:
            report.add(f"{where}: {message}", t_key, p_key)
            continue
        summary = _summary_problem(settings, n, rate, band) if p.pairing == "real" else None
        if summary is not None:
            report.add(f"{where}: {summary}", t_key, p_key)
            continue
        if p.pairing == "real" and "circular_shift" in settings.surrogates:
            try:
                min_shift_samples(n, dt, band=settings.band,
                                  min_shift_s=settings.surrogate_min_shift or None)
            except ValueError as exc:
                report.add(f"{p.therapist} and {p.patient}: circular_shift surrogates: {exc}",
                           t_key, p_key)
                continue
        report.pairings.append(PairingCheck(p.dyad, p.partner_dyad, p.session, p.pairing,
                                            float(rate), n * dt))
    report.band_need = band.seconds()


# --------------------------------------------------------------------------- entry point

def _study_files(path: Path) -> tuple[Path, Path]:
    toml = path / "study.toml" if path.is_dir() else path
    return toml, toml.parent.resolve() / "measures.csv"


def validate_study(study: Study | str | os.PathLike) -> ValidationReport:
    """Check a study without analysing it.

    Parameters
    ----------
    study : Study or path-like
        A loaded study, or a study folder (or its ``study.toml``), which is then
        loaded here: a problem of ``study.toml`` or ``measures.csv`` is reported (the
        first of each file; ``measures.csv`` is checked for its encoding, separator
        and header even when ``study.toml`` is invalid) and, without a study, the
        recordings are not checked.

    Returns
    -------
    ValidationReport
        ``problems`` lists every problem found, each naming its file(s); empty when
        the study can be analysed as far as can be told without analysing signals.

    Notes
    -----
    Recordings are opened as MNE reads them with ``preload=False`` (SNIRF files also
    with h5py, to check that their samples are finite without loading them; Homer
    files, tables and BIDS recordings are read whole); nothing is preprocessed and
    nothing is written. See the module docstring for the list of checks.
    """
    if isinstance(study, Study):
        report = ValidationReport(root=study.root, study=study)
    else:
        path = Path(study)
        toml, measures = _study_files(path)
        report = ValidationReport(root=toml.parent.resolve())
        try:
            report.study = load_study(path)
        except StudyError as exc:
            message = str(exc)
            in_measures = message.startswith(str(measures))
            report.add(message, measures if in_measures else toml)
            if not in_measures and measures.is_file():
                try:
                    read_measures_csv(measures)
                except StudyError as csv_exc:
                    report.add(str(csv_exc), measures)
            return report
    _read_headers(report.study, report)
    _check_pairings(report.study, report)
    return report
