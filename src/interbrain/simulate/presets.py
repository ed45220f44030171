"""Named presets of the simulator and the checking of its realism options.

Two presets:

``"field"`` (the default)
    Effect sizes as hyperscanning studies see them (real versus pseudo-dyads and
    growth of synchrony over sessions around d = 0.2-0.3, see
    ``ground_truth.json``), coupling confined to the medial prefrontal and right
    dorsolateral prefrontal regions with a lag of 1-3 s and a leader (therapist or
    patient) drawn per dyad, therapist-specific growth, one short-separation channel
    per region and auxiliary signals (respiration, PPG, heart rate, accelerometer)
    in every SNIRF file. No confounds, every session scanned, no generalisation
    recordings unless asked for.
``"demo"``
    The large effects of the original simulator (d = 1.7 real versus pseudo, 1.3
    growth): zero-lag coupling of the same strength in every channel of both
    partners, no short channels, no auxiliary signals, no therapist-specific
    growth. With the same arguments and seed it writes the same recordings,
    ``study.toml`` and ``measures.csv`` as the simulator before presets existed.

Every option of a preset can be overridden by an argument of
:func:`~interbrain.simulate.simulate_study`.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["PRESETS", "CONFOUNDS", "LEADERS", "resolve_options"]

#: Confounds that can be switched on (``confounds=...``).
CONFOUNDS: tuple[str, ...] = ("paced_breathing", "speech", "shared_motion")
#: Who leads the lagged coupling: one for every dyad, or drawn per dyad ("mixed").
LEADERS: tuple[str, ...] = ("therapist", "patient", "mixed")

_DEMO_COUPLING = {"baseline": 0.15, "slope_mean": 0.45, "slope_sd": 0.12,
                  "therapist_slope_sd": 0.0, "session_noise_sd": 0.05, "max": 0.9}
_FIELD_COUPLING = {"baseline": 0.15, "slope_mean": 0.012, "slope_sd": 0.04,
                   "therapist_slope_sd": 0.02, "session_noise_sd": 0.04, "max": 0.9}

#: The presets: option -> value. ``coupling_model`` holds the parameters of
#: :func:`~interbrain.simulate.signals.coupling_strength` (``slope_d = N(slope_mean,
#: slope_sd) + u_t``, ``u_t ~ N(0, therapist_slope_sd)`` per therapist).
PRESETS: dict[str, dict[str, Any]] = {
    "field": {"coupling_model": _FIELD_COUPLING,
              "coupling_regions": ("medial_pfc", "right_dlpfc"),
              "lag": (1.0, 3.0), "leader": "mixed", "short_channels": True, "aux": True,
              "confounds": (), "missing_sessions": 0.0, "generalisation": False,
              "generalisation_transfer": 0.5},
    "demo": {"coupling_model": _DEMO_COUPLING, "coupling_regions": "all",
             "lag": (0.0, 0.0), "leader": "mixed", "short_channels": False, "aux": False,
             "confounds": (), "missing_sessions": 0.0, "generalisation": False,
             "generalisation_transfer": 0.5},
}


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def _seconds_range(value: Any) -> tuple[float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"lag must be a number of seconds or a range (shortest, "
                         f"longest), got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo <= hi <= 10.0):
        raise ValueError(f"lag must satisfy 0 <= shortest <= longest <= 10 s, got "
                         f"({lo}, {hi})")
    return lo, hi


def _names(name: str, value: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    try:
        out = tuple(value)
    except TypeError:
        raise ValueError(f"{name} must be a list of names, got {value!r}") from None
    unknown = [v for v in out if v not in allowed]
    if unknown:
        raise ValueError(f"{name}: unknown {unknown}; choose among {list(allowed)}")
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: {list(out)} names one twice")
    return out


def resolve_options(preset: str, regions: tuple[str, ...], **overrides: Any
                    ) -> dict[str, Any]:
    """The realism options of a study: the preset's, overridden where not None.

    Parameters
    ----------
    preset : str
        A key of :data:`PRESETS`.
    regions : tuple of str
        The regions of the montage (allowed values of ``coupling_regions``).
    **overrides
        ``coupling_regions`` (region names, or ``"all"``), ``lag`` (seconds, or a
        range from which each dyad's lag is drawn uniformly), ``leader``,
        ``therapist_slope_sd``, ``short_channels``, ``aux``, ``confounds``,
        ``missing_sessions`` (fraction of sessions not scanned, in [0, 1)),
        ``generalisation``, ``generalisation_transfer``; None keeps the preset's.

    Returns
    -------
    dict
        Checked options, with ``preset`` and ``coupling_model`` (a copy).

    Raises
    ------
    ValueError
        For an unknown preset or option value.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {list(PRESETS)}, got {preset!r}")
    base = PRESETS[preset]
    unknown = set(overrides) - set(base) - {"therapist_slope_sd"}
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}")
    opts = {k: (overrides[k] if overrides.get(k) is not None else v)
            for k, v in base.items()}
    model = dict(base["coupling_model"])
    sd = overrides.get("therapist_slope_sd")
    if sd is not None:
        if isinstance(sd, bool) or not isinstance(sd, (int, float)) \
                or not (math.isfinite(sd) and 0 <= sd <= 1):
            raise ValueError(f"therapist_slope_sd must be a number in [0, 1], got {sd!r}")
        model["therapist_slope_sd"] = float(sd)
    out: dict[str, Any] = {"preset": preset, "coupling_model": model}
    if opts["coupling_regions"] == "all":
        out["coupling_regions"] = "all"
    else:
        out["coupling_regions"] = _names("coupling_regions", opts["coupling_regions"],
                                         tuple(regions))
        if not out["coupling_regions"]:
            raise ValueError("coupling_regions is empty: name at least one region of "
                             f"the montage ({list(regions)}) or 'all'")
    out["lag"] = _seconds_range(opts["lag"])
    if opts["leader"] not in LEADERS:
        raise ValueError(f"leader must be one of {list(LEADERS)}, got {opts['leader']!r}")
    out["leader"] = opts["leader"]
    for flag in ("short_channels", "aux", "generalisation"):
        out[flag] = _flag(flag, opts[flag])
    out["confounds"] = _names("confounds", opts["confounds"], CONFOUNDS)
    missing = opts["missing_sessions"]
    if isinstance(missing, bool) or not isinstance(missing, (int, float)) \
            or not (math.isfinite(missing) and 0.0 <= missing < 1.0):
        raise ValueError(f"missing_sessions must be a fraction in [0, 1), got {missing!r}")
    out["missing_sessions"] = float(missing)
    transfer = opts["generalisation_transfer"]
    if isinstance(transfer, bool) or not isinstance(transfer, (int, float)) \
            or not (math.isfinite(transfer) and 0.0 <= transfer <= 1.0):
        raise ValueError(f"generalisation_transfer must be in [0, 1], got {transfer!r}")
    out["generalisation_transfer"] = float(transfer)
    return out
