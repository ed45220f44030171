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
