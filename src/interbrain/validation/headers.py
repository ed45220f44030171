"""The headers of a study's recordings, read as the preprocessing chain will see them
(without preprocessing a signal; files are read one at a time and dropped)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import mne
import numpy as np

from ..assembly import split_roles
from ..design import ROLES, RecordingRef
from ..errors import RecordingError
from ..io import read_recording
from ..io.table_spec import recording_table
from ..io.recording import EXTENSIONS, in_bids_dataset
from ..preprocessing import HB_SIGNALS, input_kind, pair_names
from ..io.auxiliary import read_aux
from ..preprocessing.aux_regression import select_aux
from ..preprocessing.chain import annotation_table, short_pairs
from ..preprocessing.qc import fnirs_picks
from ..study import Study
from .report import RecordingHeader, ValidationReport


def _format_name(path: Path) -> str:
    if path.is_dir():
        return "nirx"
    suffix = path.suffix.lower()
    if suffix == ".snirf" and in_bids_dataset(path):
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
        pair has fewer than two wavelengths, a haemoglobin channel lacks a signal the
        others have, or
        every channel is a short channel (naming ``key``).
    """
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
        present = [t for t in HB_SIGNALS if any(f"{c} {t}" in have for c in names)]
        lacking = [c for c in names if any(f"{c} {t}" not in have for t in present)]
        if lacking:
            raise RecordingError(f"{key}: channel(s) {', '.join(lacking[:6])} lack an "
                                 f"{' or '.join(t.upper() for t in present)} signal (every "
                                 "channel needs the same signals: both, or HbO only, or HbR "
                                 "only)")
        channels, wavelengths = names, ()
    else:
        single = [c for c in names if rows[c] < 2]
        if single:
            raise RecordingError(f"{key}: source-detector pair(s) {', '.join(single[:6])} "
                                 "have one wavelength; converting to HbO/HbR needs two per "
                                 "pair")
        short = set(short_pairs(picked, short_channel_max_distance))
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
                           meas_date=start, annotations=annotation_table(raw))


def _recording_entries(study: Study) -> list[tuple[RecordingRef, RecordingRef]]:
    """(recording, partner) of every recording the study names, in study order."""
    out = []
    for s in study.sessions:
        out += [(s.therapist, s.patient), (s.patient, s.therapist)]
    for g in study.generalisation:
        out += [(g.patient, g.other), (g.other, g.patient)]
    return out


def _open(ref: RecordingRef, report: ValidationReport) -> mne.io.BaseRaw | None:
    """``ref``'s file as :func:`~interbrain.io.read_recording` reads it, or None (with
    the problem in ``report``). A NIRx folder is opened as MNE reads it with
    ``preload=False`` (its header); files are read whole: a plain SNIRF file by
    interbrain's own reader (MNE's ``Raw``, in a fifth of the time of MNE's header
    reader and ``check_snirf``; its samples are checked for finite values either way),
    the other formats always are."""
    try:
        return read_recording(ref.path, preload=not ref.path.is_dir(),
                              table=recording_table(ref))
    except RecordingError as exc:
        report.add(str(exc), ref.path)
    except Exception as exc:  # a reader's failure the io layer does not name
        report.add(f"{ref.path}: cannot be read: {type(exc).__name__}: {exc}", ref.path)
    return None


def read_headers(study: Study, report: ValidationReport) -> None:
    """Read the header of every recording ``study`` names into ``report``.

    Parameters
    ----------
    study : Study
        The loaded study.
    report : ValidationReport
        Gets one :class:`~.report.RecordingHeader` per readable recording in
        ``recordings`` and one problem per recording that cannot be read or checked.
    """
    entries = _recording_entries(study)
    # a file is kept open only while a second recording (a one-device dyad's other
    # role) still needs it; the others are read, checked and dropped one at a time
    keys = {ref.key: ref.path for ref, _ in entries if ref.key not in report.recordings}
    uses = Counter(keys.values())
    opened: dict[Path, mne.io.BaseRaw | None] = {}
    for ref, partner in entries:
        if ref.key in report.recordings or keys.pop(ref.key, None) is None:
            continue   # read already (a recording in two entries)
        uses[ref.path] -= 1
        if ref.path in opened:
            raw = opened[ref.path] if uses[ref.path] else opened.pop(ref.path)
        else:
            raw = _open(ref, report)
            if uses[ref.path]:
                opened[ref.path] = raw
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
            if study.preprocessing.aux_regression:   # the signals the chain will regress
                select_aux(read_aux(ref.path, raw), study.preprocessing.aux_channels,
                           str(ref.path))
        except RecordingError as exc:
            report.add(str(exc), ref.path)
        except Exception as exc:
            report.add(f"{ref.key}: cannot be checked: {type(exc).__name__}: {exc}", ref.path)
