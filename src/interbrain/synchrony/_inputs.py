"""Checks of the numbers and arrays passed to the synchrony functions.

One implementation of each check that several modules of :mod:`interbrain.synchrony`
make, with the messages their callers rely on.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def check_dt(dt: Any) -> float:
    """``dt`` as a positive, finite sampling interval in seconds.

    Parameters
    ----------
    dt : object
        The sampling interval given.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``dt`` is not a number, not finite or not positive.
    """
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"sampling interval dt must be a positive number of seconds, "
                         f"got {dt!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"sampling interval dt must be a positive number of seconds, got {dt!r}")
    return value


def seconds(value: Any, name: str) -> float:
    """``value`` as a finite time in seconds.

    Parameters
    ----------
    value : object
        The time given.
    name : str
        What it is, for the message (``"t0"``, ``"onset of segment 2"``).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``value`` is not a number or not finite.
    """
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a time in seconds, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be a finite time in seconds, got {value!r}")
    return out


def positive_seconds(value: Any, name: str) -> float:
    """``value`` as a positive, finite duration in seconds.

    Parameters
    ----------
    value : object
        The duration given.
    name : str
        What it is, for the message (``"window"``, ``"step"``).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``value`` is not a number, not finite or not positive.
    """
    out = seconds(value, name)
    if out <= 0:
        raise ValueError(f"{name} must be a positive duration in seconds, got {value!r}")
    return out


def as_channels(data: Any, name: str = "data", n_times: int | None = None) -> np.ndarray:
    """``data`` as a finite float64 array of shape (n_channels, n_times).

    Parameters
    ----------
    data : array_like, shape (n_channels, n_times) or (n_times,)
        Samples; a 1-D array is one channel.
    name : str
        What it is, for the messages.
    n_times : int, optional
        Number of samples required (e.g. those a wavelet grid was built for).

    Returns
    -------
    numpy.ndarray, float64, shape (n_channels, n_times)
        ``data`` itself when it already is such an array.

    Raises
    ------
    ValueError
        Not 1-D or 2-D, another number of samples than ``n_times``, or NaN or
        infinite samples (the message gives the first).
    """
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a (n_channels, n_times) array, got shape {arr.shape}")
    if n_times is not None and arr.shape[1] != n_times:
        raise ValueError(f"{name} has {arr.shape[1]} samples but the wavelet grid was built "
                         f"for {n_times}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains NaN or infinite samples (first at channel "
                         f"{bad[0]}, sample {bad[1]}); interpolate or drop them first")
    return arr


def window_samples(n_times: int, dt: float, window: float, step: float | None,
                   min_samples: int = 1) -> tuple[int, int, int]:
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
        Fewest samples a window may have (at least one).

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
    if w < 1:
        raise ValueError(f"window of {window} s is shorter than one sample (dt={dt} s)")
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
