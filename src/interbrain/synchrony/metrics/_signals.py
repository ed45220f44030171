"""Checks and standardisation of the two partners' signals, shared by the metrics."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._inputs import check_dt

#: Budget, in array elements, of one chunk of pairs' temporaries.
CHUNK_ELEMENTS = 2**21


def check_channels(x: Any, name: str, min_times: int = 3) -> np.ndarray:
    """``x`` as a finite real float array of shape (n_channels, n_times).

    Parameters
    ----------
    x : array_like
        The signals given.
    name : str
        What they are, for the messages (``"a"``, ``"b"``).
    min_times : int
        Fewest samples accepted.

    Returns
    -------
    numpy.ndarray of float

    Raises
    ------
    ValueError
        Complex, not numeric, not 2-D, without channels, too short, or with NaN or
        infinite values (the message gives how many and the first).
    """
    arr = np.asarray(x)
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real-valued, got a complex array")
    try:
        arr = np.asarray(arr, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array of shape "
                         "(n_channels, n_times)") from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (n_channels, n_times), got shape "
                         f"{arr.shape}")
    if arr.shape[0] < 1:
        raise ValueError(f"{name} has no channels (shape {arr.shape})")
    if arr.shape[1] < min_times:
        raise ValueError(f"{name} has {arr.shape[1]} samples; at least {min_times} are needed")
    bad = ~np.isfinite(arr)
    if bad.any():
        ch, t = np.argwhere(bad)[0]
        raise ValueError(f"{name} contains NaN or infinite values ({int(bad.sum())} samples; "
                         f"first in channel {ch} at sample {t}); interpolate or drop them first")
    return arr


def check_signals(a: Any, b: Any, dt: Any, min_times: int = 3
                  ) -> tuple[np.ndarray, np.ndarray, float]:
    """The two partners' signals (:func:`check_channels`) and the sampling interval.

    Parameters
    ----------
    a, b : array_like, shape (n_channels_a, n_times), (n_channels_b, n_times)
    dt : float
        Sampling interval, in seconds.
    min_times : int
        Fewest samples accepted.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, float)

    Raises
    ------
    ValueError
        Bad signals, a bad ``dt``, or different numbers of samples.
    """
    dt = check_dt(dt)
    a = check_channels(a, "a", min_times)
    b = check_channels(b, "b", min_times)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same number of samples (n_times), got "
                         f"{a.shape[1]} and {b.shape[1]}")
    return a, b, dt


def standardise(x: np.ndarray, name: str) -> np.ndarray:
    """Channels of ``x`` de-meaned and divided by their standard deviation.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_channels, n_times)
    name : str
        What they are, for the message.

    Returns
    -------
    numpy.ndarray, same shape

    Raises
    ------
    ValueError
        A channel is constant (all samples equal up to round-off).
    """
    mean = x.mean(axis=1, keepdims=True)
    d = x - mean
    sd = np.sqrt((d * d).mean(axis=1))
    # a channel whose samples are all equal up to round-off counts as constant
    scale = np.maximum(np.abs(mean[:, 0]), np.abs(x).max(axis=1))
    spread = np.where(sd > 1e-13 * scale, sd, 0.0)
    flat = ~(spread > 0)
    if flat.any():
        raise ValueError(f"{name} channel(s) {np.flatnonzero(flat).tolist()} are constant "
                         "(zero variance); synchrony is undefined for them")
    return d / sd[:, None]


def fisher_transform(r: np.ndarray) -> np.ndarray:
    """Fisher's ``arctanh(r)`` (``+-inf`` where ``|r| = 1``, without a warning)."""
    with np.errstate(divide="ignore"):
        return np.arctanh(r)
