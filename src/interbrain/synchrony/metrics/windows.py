"""Sliding windows of the windowed metrics: their length, step and start times."""

from __future__ import annotations

import numpy as np

from .._inputs import check_dt, window_samples


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
