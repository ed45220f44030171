"""How strong each simulated confound is, and how its strength changes over sessions.

``simulate_study(confounds=...)`` takes the names of the confounds to switch on
(strength 1, the same in every session) or a mapping name -> strength, or name ->
:class:`Confound` (or a dict of its fields) for a confound whose strength changes
over sessions::

    confounds=("speech",)                                  # strength 1
    confounds={"speech": 8.0, "paced_breathing": 1.0}
    confounds={"speech": Confound(8.0, profile="rising")}  # 0 in session 1 -> 8 in the last
    confounds={"shared_motion": {"strength": 2.0, "start_session": 3}}

The level of a confound in session ``k`` (1-based) of ``K`` is
:meth:`Confound.level`: ``strength`` from ``start_session`` on (``"constant"``), or
rising linearly from 0 at ``start_session`` to ``strength`` in the last session
(``"rising"``); 0 before ``start_session``. What a level means for each confound is
in :mod:`interbrain.simulate.confounds` (:func:`~.confounds.confound_parameters`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Confound", "PROFILES", "resolve_confounds"]

#: How a confound's strength changes over sessions.
PROFILES: tuple[str, ...] = ("constant", "rising")


@dataclass(frozen=True)
class Confound:
    """One switched-on confound: its strength and how it changes over sessions.

    Attributes
    ----------
    strength : float
        Factor (>= 0) on the confound's model constants at full level (1: the
        simulator's own strength; see :func:`~.confounds.confound_parameters`).
    profile : str
        ``"constant"``: ``strength`` in every session from ``start_session`` on;
        ``"rising"``: linear from 0 at ``start_session`` to ``strength`` in the last
        session.
    start_session : int
        First session (1-based) in which the confound can be present; 0 before it.
    """

    strength: float = 1.0
    profile: str = "constant"
    start_session: int = 1

    def level(self, session: int, n_sessions: int) -> float:
        """The confound's strength in session ``session`` (1-based) of ``n_sessions``."""
        if session < self.start_session:
            return 0.0
        if self.profile == "constant":
            return self.strength
        span = n_sessions - self.start_session
        return self.strength * ((session - self.start_session) / span if span > 0 else 1.0)

    def to_dict(self) -> dict[str, Any]:
        """The fields, for ``ground_truth.json``."""
        return asdict(self)


def _strength(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"confounds: the strength of {name!r} must be a number, got "
                         f"{value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"confounds: the strength of {name!r} must be a finite number "
                         f">= 0, got {value!r}")
    return value


def _spec(name: str, value: Any) -> Confound:
    if isinstance(value, Confound):
        value = value.to_dict()
    if isinstance(value, Mapping):
        unknown = set(value) - {"strength", "profile", "start_session"}
        if unknown:
            raise ValueError(f"confounds: {name!r} has unknown field(s) {sorted(unknown)}; "
                             "use strength, profile, start_session")
        strength = _strength(name, value.get("strength", 1.0))
        profile = value.get("profile", "constant")
        if profile not in PROFILES:
            raise ValueError(f"confounds: the profile of {name!r} must be one of "
                             f"{list(PROFILES)}, got {profile!r}")
        start = value.get("start_session", 1)
        if isinstance(start, bool) or not isinstance(start, int) or start < 1:
            raise ValueError(f"confounds: the start_session of {name!r} must be a session "
                             f"number >= 1, got {start!r}")
        return Confound(strength, profile, int(start))
    return Confound(_strength(name, value))


def resolve_confounds(value: Any, allowed: tuple[str, ...], n_sessions: int
                      ) -> dict[str, Confound]:
    """Check ``simulate_study(confounds=...)``.

    Parameters
    ----------
    value : None, str, sequence of str or mapping
        Names (strength 1, constant), or name -> strength, :class:`Confound` or a dict
        of its fields.
    allowed : tuple of str
        The confounds the simulator knows.
    n_sessions : int
        Sessions per dyad (``start_session`` must be one of them).

    Returns
    -------
    dict
        Name -> :class:`Confound`, in the order given.

    Raises
    ------
    ValueError
        Naming the unknown confound, the negative or non-numeric strength, the unknown
        profile or the start session outside the study.
    """
    if value is None:
        return {}
    if isinstance(value, str):
        value = (value,)
    if isinstance(value, Mapping):
        items = list(value.items())
    else:
        try:
            names = list(value)
        except TypeError:
            raise ValueError(f"confounds must be names or a mapping name -> strength, got "
                             f"{value!r}") from None
        if len(set(map(repr, names))) != len(names):
            raise ValueError(f"confounds: {names} names one twice")
        items = [(n, 1.0) for n in names]
    unknown = [n for n, _ in items if n not in allowed]
    if unknown:
        raise ValueError(f"confounds: unknown {unknown}; choose among {list(allowed)}")
    out = {name: _spec(name, spec) for name, spec in items}
    for name, spec in out.items():
        if spec.start_session > n_sessions:
            raise ValueError(f"confounds: the start_session of {name!r} "
                             f"({spec.start_session}) is after the last session "
                             f"({n_sessions})")
    return out
