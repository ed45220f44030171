"""Codings of time (the session) in the growth models and slope tests.

=============  ============================  ==================  ====================
``time``       fixed part                    random slope        slope (per unit of)
=============  ============================  ==================  ====================
``linear``     ``session``                   ``session``         session
``log``        ``np.log(session)``           ``np.log(session)`` log(session)
``quadratic``  ``session + I(session**2)``   ``session``         none (a curve)
=============  ============================  ==================  ====================

Every module that takes a ``time`` argument (:mod:`.growth`, :mod:`.permutation`,
:mod:`.multiple`, :mod:`.power`, ``[statistics] time``) reads it from here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._check import check_option

__all__ = ["TimeCoding", "TIME_CODINGS", "SLOPE_TIMES", "check_time", "time_values"]


class TimeCoding(NamedTuple):
    """One coding of time: the terms of the growth model and the slope's units."""

    fixed: str
    random_slope: str
    slope_term: str
    units: str


#: Time coding -> its terms (see the module notes).
TIME_CODINGS: dict[str, TimeCoding] = {
    "linear": TimeCoding("session", "session", "session", "per session"),
    "log": TimeCoding("np.log(session)", "np.log(session)", "np.log(session)",
                      "per unit of log(session)"),
    "quadratic": TimeCoding("session + I(session**2)", "session", "session",
                            "per session (average derivative over the dyad's sessions)"),
}

#: Codings whose trajectory has a single slope (those of the slope tests).
SLOPE_TIMES: tuple[str, ...] = ("linear", "log")


def check_time(time: object, allowed=tuple(TIME_CODINGS)) -> str:
    """Return ``time`` if it is one of ``allowed`` (default every coding), else raise
    ValueError naming the codings."""
    return check_option(time, "time coding", allowed)


def time_values(session, time: str = "linear") -> np.ndarray:
    """The time variable of a slope: session number (linear) or its logarithm (log).

    Parameters
    ----------
    session : array_like
        Session numbers (> 0 for ``"log"``).
    time : {"linear", "log"}

    Returns
    -------
    numpy.ndarray
        Floats, NaN where ``session`` is.

    Raises
    ------
    ValueError
        An unknown coding, ``"quadratic"`` (no single slope), or a session number
        <= 0 with ``"log"``.
    """
    check_time(time)
    s = np.asarray(session, dtype=float)
    if time not in SLOPE_TIMES:
        raise ValueError("a quadratic trajectory has no single slope; use time='linear' "
                         "or 'log'")
    if time == "log":
        if np.any(s[np.isfinite(s)] <= 0):
            raise ValueError("time='log' needs session numbers > 0 (log(session))")
        return np.log(s)
    return s
