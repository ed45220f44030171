"""Sliding windows of the windowed metrics: their length, step and start times."""

from __future__ import annotations

import numpy as np

from .._inputs import check_dt, positive_seconds


def window_samples(n_times: int, dt: float, window: float, step: float | None,
                   min_samples: int) -> tuple[int, int, int]:
    """Window and step in samples and the number of windows.

    Parameters
    ----------
    n_times : int
        Samples of the recording.
    dt : float
        Sampling interval, in seconds.
    window : float
        Window length, in seconds (rounded to whole samples).
    step : float or None
        Time between window starts, in seconds (None: ``window``).
    min_samples : int
        Fewest samples a window may have.

    Returns
    -------
    (int, int, int)
        Window and step in samples, and the number of whole windows.

    Raises
    ------
    ValueError
        A window or step that is not positive, shorter than ``min_samples`` (or a
        sample), or a window longer than the recording.
    """
    window = positive_seconds(window, "window")
    w = int(round(window / dt))
    if w < min_samples:
        raise ValueError(f"window of {window} s is {w} samples at dt={dt} s; at least "
                         f"{min_samples} samples are needed")
    if w > n_times:
        raise ValueError(f"window of {window} s ({w} samples) is longer than the recording "
                         f"({n_times * dt:g} s, {n_times} samples)")
    if step is None:
        s = w
    else:
        step = positive_seconds(step, "step")
        s = int(round(step / dt))
        if s < 1:
            raise ValueError(f"step of {step} s is shorter than one sample (dt={dt} s)")
    return w, s, 1 + (n_times - w) // s


def window_starts(n_times: int, dt: float, window: float, step: float | None = None
                  ) -> np.ndarray:
    """Start times of the sliding windows of the windowed metrics.

    Windows are ``round(window / dt)`` samples long and start every
    ``round(step / dt)`` samples from the first sample; only whole windows are used
    (samples after the last whole window are not analysed).

    Parameters
    ----------
    n_times : int
        Number of samples of the recording.
    dt : float
        Sampling interval, in seconds.
    window : float
        Window length, in seconds.
    step : float, optional
        Time between window starts, in seconds (default: ``window``, non-overlapping).

    Returns
    -------
    numpy.ndarray of float, shape (n_windows,)
        Time of each window's first sample, in seconds after the recording's first
        sample. The window ``k`` covers ``[starts[k], starts[k] + w * dt)``.

    Raises
    ------
    ValueError
        ``dt``, ``window`` or ``step`` are not positive, or the window is longer than
        the recording.
    """
    dt = check_dt(dt)
    if int(n_times) != n_times or n_times < 1:
        raise ValueError(f"n_times must be a positive integer, got {n_times!r}")
    _, s, n_win = window_samples(int(n_times), dt, window, step, 1)
    return np.arange(n_win) * (s * dt)
