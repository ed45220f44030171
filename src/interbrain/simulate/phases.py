"""Phases of a simulated session: labelled segments, their event markers and the
segments that carry the planted coupling.

``simulate_study(phases=[("talk", 60.0), ("rest", 60.0)], coupling_phases=("talk",))``
cuts every recording into segments by cycling through the pattern from the start of
the recording until it ends (the last segment is cut at the end). Each segment's
onset is written as a SNIRF stimulus (``/nirs/stimN``, ``name`` the label, ``data``
rows ``[onset, duration, 1.0]`` in seconds from the start of the recording) in both
partners' files, so MNE reads them back as annotations. The planted coupling is
present only in the segments whose label is in ``coupling_phases`` (default: every
label): the coupling ``c`` of a dyad-session is multiplied by a mask that is 1 in
those segments and 0 elsewhere, with raised-cosine ramps of :data:`RAMP_S` seconds
centred on each boundary. The neural mixture ``sqrt(c m(t)) s + sqrt(1 - c m(t)) n``
keeps unit variance throughout.

Pure numpy (the annotations are made by :func:`annotations`, which imports MNE).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["RAMP_S", "resolve_phases", "phase_segments", "coupling_mask", "annotations"]

#: Length in seconds of the ramp of the coupling mask at each phase boundary.
RAMP_S = 2.0


def resolve_phases(phases: Any, coupling_phases: Any, duration: float
                   ) -> dict[str, Any] | None:
    """Check ``simulate_study(phases=..., coupling_phases=...)``.

    Parameters
    ----------
    phases : None or sequence of (str, float)
        Labels and durations in seconds, cycled to fill the recording.
    coupling_phases : None, str or sequence of str
        Labels whose segments carry the coupling; None: every label.
    duration : float
        Recording length in seconds.

    Returns
    -------
    dict or None
        ``pattern`` (list of [label, seconds]), ``coupling_phases`` (list of labels);
        None without phases.

    Raises
    ------
    ValueError
        For a malformed pattern, a non-positive duration, a label that is not a
        non-empty string, a first phase longer than the recording, or a coupling
        phase that is not in the pattern.
    """
    if phases is None:
        if coupling_phases is not None:
            raise ValueError("coupling_phases needs phases (the labelled segments of a "
                             "session)")
        return None
    try:
        pattern = [(label, seconds) for label, seconds in phases]
    except (TypeError, ValueError):
        raise ValueError("phases must be a list of (label, seconds) pairs, got "
                         f"{phases!r}") from None
    if not pattern:
        raise ValueError("phases is empty: give at least one (label, seconds) pair")
    checked = []
    for label, seconds in pattern:
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"phases: each label must be a non-empty string, got "
                             f"{label!r}")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not math.isfinite(seconds) or seconds <= 0:
            raise ValueError(f"phases: the duration of {label!r} must be a positive "
                             f"number of seconds, got {seconds!r}")
        checked.append([label, float(seconds)])
    if checked[0][1] >= duration:
        raise ValueError(f"phases: the first phase ({checked[0][0]!r}, "
                         f"{checked[0][1]:g} s) fills the whole recording ({duration:g} s); "
                         "shorten the phases or record longer")
    labels = list(dict.fromkeys(label for label, _ in checked))
    if coupling_phases is None:
        chosen = labels
    else:
        if isinstance(coupling_phases, str):
            coupling_phases = (coupling_phases,)
        chosen = list(coupling_phases)
        unknown = [c for c in chosen if c not in labels]
        if unknown:
            raise ValueError(f"coupling_phases: {unknown} not among the phase labels "
                             f"{labels}")
    return {"pattern": checked, "coupling_phases": chosen}


def phase_segments(pattern: list[list], duration: float) -> list[dict[str, Any]]:
    """The segments of a recording: the pattern cycled from 0 to ``duration``.

    Returns
    -------
    list of dict
        ``label``, ``onset`` (s), ``duration`` (s; the last one cut at the end).
    """
    out: list[dict[str, Any]] = []
    onset, i = 0.0, 0
    while onset < duration - 1e-9:
        label, seconds = pattern[i % len(pattern)]
        length = min(seconds, duration - onset)
        out.append({"label": label, "onset": round(onset, 6), "duration": round(length, 6)})
        onset += seconds
        i += 1
    return out


def coupling_mask(segments: list[dict], labels: list[str], n_times: int, sfreq: float,
                  ramp_s: float = RAMP_S) -> np.ndarray:
    """1 in the segments whose label is in ``labels``, 0 elsewhere, ramped.

    Returns
    -------
    numpy.ndarray
        Shape (n_times,), values in [0, 1]; each boundary is a raised-cosine ramp of
        ``ramp_s`` seconds centred on it.
    """
    t = np.arange(n_times) / sfreq
    mask = np.zeros(n_times)
    half = ramp_s / 2.0
    for seg in segments:
        if seg["label"] not in labels:
            continue
        start, stop = seg["onset"], seg["onset"] + seg["duration"]
        up = np.clip((t - (start - half)) / ramp_s, 0.0, 1.0) if start > 0 else \
            np.ones(n_times)
        down = np.clip(((stop + half) - t) / ramp_s, 0.0, 1.0) if stop < t[-1] else \
            np.ones(n_times)
        window = np.minimum(up, down) * ((t >= start - half) & (t < stop + half))
        mask = np.maximum(mask, 0.5 - 0.5 * np.cos(np.pi * window))
    return mask


def annotations(segments: list[dict]):
    """The segments as :class:`mne.Annotations` (one per segment: its label, onset and
    duration), which ``write_raw_snirf`` writes as the file's stimuli."""
    import mne

    return mne.Annotations(onset=[s["onset"] for s in segments],
                           duration=[s["duration"] for s in segments],
                           description=[s["label"] for s in segments])
