"""When a SNIRF recording's first sample was taken, and where its events fall.

MNE's SNIRF reader takes the time origin (``/nirs/metaDataTags/MeasurementDate`` and
``MeasurementTime``) for the first sample and stimulus onsets as seconds from the
first sample; it puts 2000-01-01 where the origin is missing or not parsed, and drops
a time zone. In SNIRF, ``/nirs/data1/time`` and stimulus onsets count from the
origin, and the first sample need not be at 0. :func:`snirf_first_sample` reads the
first sample's start time and its time from the origin, and
:func:`set_first_sample_timing` gives a ``Raw`` that start time (``None`` without a
valid origin, so that aligning two recordings on start times fails clearly instead
of on a made-up date) and its events in seconds from the first sample. :func:`iso_datetime_utc` reads the
ISO 8601 start times of other formats (BIDS ``acq_time``, tables' ``meas_date``).
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone

import h5py
import mne
import numpy as np

_SNIRF_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_SNIRF_TIME = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})(\.\d+)?"
                         r"(Z|z|[+-]\d{2}(?::?\d{2})?)?$")
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "\u03bcs": 1e-6, "\u00b5s": 1e-6}


def snirf_string(group: h5py.Group, name: str) -> str | None:
    """The scalar string ``name`` of an HDF5 group, stripped; None if absent or not scalar."""
    if name not in group:
        return None
    value = np.asarray(group[name][()]).ravel()
    if value.size != 1:
        return None
    value = value[0]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip()


def snirf_start_time(date: str | None, time: str | None) -> datetime | None:
    """The time origin of a SNIRF file from ``MeasurementDate`` and ``MeasurementTime``.

    The SNIRF specification stores the date as ``YYYY-MM-DD`` and the time as ISO
    8601 ``hh:mm:ss[.s][TZD]`` (``TZD``: ``Z``, ``+hh:mm`` or ``-hh:mm``), or either as
    ``"unknown"``. A time without zone is taken as UTC (as MNE does).

    Returns
    -------
    datetime or None
        Timezone-aware (UTC); None when either is missing, ``"unknown"`` or not in
        that format.
    """
    if not date or not time:
        return None
    d, t = _SNIRF_DATE.match(date), _SNIRF_TIME.match(time)
    if d is None or t is None:
        return None
    zone = timezone.utc
    if t[5] and t[5] not in "Zz":
        digits = t[5][1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
        zone = timezone((1 if t[5][0] == "+" else -1) * timedelta(minutes=minutes))
    try:
        start = datetime(int(d[1]), int(d[2]), int(d[3]), int(t[1]), int(t[2]), int(t[3]),
                         tzinfo=zone)
    except ValueError:
        return None
    if t[4]:
        start += timedelta(seconds=float(t[4]))
    return start.astimezone(timezone.utc)


def snirf_first_sample(path: str | os.PathLike) -> tuple[datetime | None, float]:
    """When a SNIRF file's first sample was taken, and its time from the origin.

    Parameters
    ----------
    path : path-like
        A ``.snirf`` file (already checked by :func:`~interbrain.io.check_snirf`).

    Returns
    -------
    start : datetime or None
        The time origin (``MeasurementDate`` + ``MeasurementTime``, UTC) plus
        ``first_time``; None when the origin is not valid.
    first_time : float
        ``/nirs/data1/time[0]`` in seconds (``TimeUnit`` applied): stimulus onsets
        count from the origin, so they are this much later than from the first sample.
    """
    with h5py.File(path, "r") as fh:
        tags = fh["nirs/metaDataTags"]
        origin = snirf_start_time(snirf_string(tags, "MeasurementDate"),
                                  snirf_string(tags, "MeasurementTime"))
        unit = _TIME_UNITS.get(snirf_string(tags, "TimeUnit") or "s", 1.0)
        first_time = float(np.asarray(fh["nirs/data1/time"][0])) * unit
    start = None if origin is None else origin + timedelta(seconds=first_time)
    return start, first_time


def iso_datetime_utc(text: str) -> datetime:
    """An ISO 8601 date and time (``YYYY-MM-DDThh:mm:ss[.ffffff][Z|+hh:mm]``) in UTC.

    A time without zone is taken as UTC, as MNE and mne-bids take it.

    Raises
    ------
    ValueError
        If ``text`` is not an ISO 8601 date and time.
    """
    when = datetime.fromisoformat(text.strip())
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def set_first_sample_timing(raw: mne.io.BaseRaw, meas_date: datetime | None, *,
                            event_shift: float = 0.0) -> None:
    """Give ``raw`` its first sample's start time and events counted from that sample.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Changed in place.
    meas_date : datetime or None
        The time of the first sample (None when unknown).
    event_shift : float
        Seconds added to every event onset once it counts from the first sample
        (``-first_time`` for SNIRF stimulus onsets, which count from the origin).
    """
    ann = raw.annotations
    onsets = np.asarray(ann.onset, float) + event_shift
    if ann.orig_time is not None:
        onsets = onsets - raw.first_time
    events = mne.Annotations(onsets, ann.duration, ann.description, orig_time=None)
    raw.set_annotations(None)
    raw.set_meas_date(meas_date)
    raw.set_annotations(events, emit_warning=False)
