"""Sampling rate of a recording's sample times, as the Homer and table readers
share it."""

from __future__ import annotations

import numpy as np

from ..errors import RecordingError

_STEP_TOLERANCE = 0.1  # a time step may differ from the median step by 10 %


def sampling_rate(times: np.ndarray, *, source: str, line_of=None) -> float:
    """Sampling rate of uniformly spaced sample times.

    Parameters
    ----------
    times : numpy.ndarray
        Sample times in seconds, shape (n_times,), n_times >= 2.
    source : str
        Names the file and column for error messages.
    line_of : callable or None
        Maps a 0-based sample index to a description of where it is in the file
        (e.g. ``"line 12"``); the default says ``"sample <i + 1>"``.

    Returns
    -------
    float
        ``(n_times - 1) / (times[-1] - times[0])`` in Hz, rounded to 6 decimals.

    Raises
    ------
    RecordingError
        If there are fewer than 2 samples, or a step is not positive or differs
        from the median step by more than 10 %.
    """
    line_of = line_of or (lambda i: f"sample {i + 1}")
    times = np.asarray(times, dtype=float)
    if times.size < 2:
        raise RecordingError(f"{source}: need at least 2 samples, got {times.size}")
    if not np.all(np.isfinite(times)):
        i = int(np.flatnonzero(~np.isfinite(times))[0])
        raise RecordingError(f"{source}: time at {line_of(i)} is {times[i]}")
    steps = np.diff(times)
    step = float(np.median(steps))
    if step <= 0:
        raise RecordingError(f"{source}: times do not increase (median step {step:g} s)")
    bad = np.flatnonzero(np.abs(steps - step) > _STEP_TOLERANCE * step)
    if bad.size:
        i = int(bad[0])
        raise RecordingError(
            f"{source}: non-uniform time steps: from {line_of(i)} (t={times[i]:g} s) to "
            f"{line_of(i + 1)} (t={times[i + 1]:g} s) the step is {steps[i]:g} s, but the median "
            f"step is {step:g} s ({bad.size} irregular step(s); missing or repeated samples?)")
    return float(np.round((times.size - 1) / (times[-1] - times[0]), 6))
