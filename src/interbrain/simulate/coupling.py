"""The planted inter-brain coupling of a simulated study.

Per dyad ``d`` with therapist ``t``: a growth slope ``g_d = N(slope_mean, slope_sd) +
u_t`` (``u_t ~ N(0, therapist_slope_sd)``, the therapist's own growth), a lag in
seconds and a leader (therapist or patient). Per dyad-session: the coupling
``c[d, k]`` (:func:`~interbrain.simulate.signals.coupling_strength`) and a
band-limited shared signal. The leader's brain carries the shared signal ``lag``
seconds before the follower's; only the channels of the coupling regions carry it.

:func:`planted_coupling` gives back, from a study folder, the coupling components
that were planted in a dyad-session.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .montage import Montage
from .signals import coupling_strength
from .streams import (KEY_DYAD, KEY_LAG, KEY_SCANNED, KEY_SESSION, KEY_THERAPIST,
                      SUB_COUPLING, SUB_SHARED, keyed_rng)
from .waveforms import band_limited_noise

__all__ = ["draw_dyad_coupling", "shared_components", "channel_coupling",
           "scanned_sessions", "planted_coupling"]


def draw_dyad_coupling(seed: int, n_dyads: int, n_sessions: int, therapist_of: list[int],
                       model: dict[str, float], effect: float, lag: tuple[float, float],
                       leader: str, sfreq: float, measure_sds: dict[str, float]
                       ) -> dict[str, Any]:
    """Draw every dyad's slope, lag, leader, measure intercepts and the coupling.

    Parameters
    ----------
    seed : int
    n_dyads, n_sessions : int
    therapist_of : list of int
        Therapist index of each dyad, shape (n_dyads,).
    model : dict
        ``baseline``, ``slope_mean``, ``slope_sd``, ``therapist_slope_sd``,
        ``session_noise_sd``, ``max``.
    effect : float
        Overall scale of the coupling.
    lag : tuple of float
        Range in seconds of the dyads' lags (drawn uniformly).
    leader : str
        ``"therapist"``, ``"patient"`` or ``"mixed"`` (drawn per dyad, 50 %).
    sfreq : float
        Sampling rate in Hz (lags are whole samples).
    measure_sds : dict
        Measure name -> standard deviation of the dyad intercepts.

    Returns
    -------
    dict
        ``slopes`` (n_dyads,), ``therapist_slopes`` (n_therapists,), ``coupling``
        (n_dyads, n_sessions), ``lag_samples`` (n_dyads,), ``lag_s`` (n_dyads,),
        ``leaders`` (list of str), ``intercepts`` (dyad index -> {measure: value}).
    """
    n_therapists = max(therapist_of) + 1
    u = np.array([keyed_rng(seed, KEY_THERAPIST, t).normal(0.0, model["therapist_slope_sd"])
                  for t in range(n_therapists)])
    slopes = np.empty(n_dyads)
    intercepts: dict[int, dict[str, float]] = {}
    lag_samples = np.zeros(n_dyads, int)
    leaders: list[str] = []
    for i in range(n_dyads):
        r = keyed_rng(seed, KEY_DYAD, i)
        slopes[i] = r.normal(model["slope_mean"], model["slope_sd"])
        intercepts[i] = {m: float(r.normal(0.0, sd)) for m, sd in measure_sds.items()}
        if model["therapist_slope_sd"] > 0:
            slopes[i] += u[therapist_of[i]]
        r = keyed_rng(seed, KEY_LAG, i)
        seconds = r.uniform(lag[0], lag[1]) if lag[1] > lag[0] else lag[0]
        lag_samples[i] = int(round(seconds * sfreq))
        first = "therapist" if r.random() < 0.5 else "patient"
        leaders.append(first if leader == "mixed" else leader)
    noise = np.array([[keyed_rng(seed, KEY_SESSION, i, k, SUB_COUPLING)
                       .normal(0.0, model["session_noise_sd"]) for k in range(n_sessions)]
                      for i in range(n_dyads)])
    coupling = coupling_strength(effect, slopes, noise, baseline=model["baseline"],
                                 max_coupling=model["max"])
    return dict(slopes=slopes, therapist_slopes=u, coupling=np.round(coupling, 6),
                        lag_samples=lag_samples, lag_s=lag_samples / sfreq,
                        leaders=leaders, intercepts=intercepts)


def shared_components(rng: np.random.Generator, n_times: int, sfreq: float,
                      band: tuple[float, float], lag_samples: int, leader: str
                      ) -> dict[str, np.ndarray]:
    """The shared signal as the therapist's and the patient's brain carry it.

    Parameters
    ----------
    rng : numpy.random.Generator
        The dyad-session's stream.
    n_times : int
    sfreq : float
        Sampling rate in Hz.
    band : tuple of float
        Shortest and longest period in seconds.
    lag_samples : int
        How many samples the follower's copy trails the leader's (0: the same
        signal in both, the simulator's original zero-lag coupling).
    leader : str
        ``"therapist"`` or ``"patient"``.

    Returns
    -------
    dict
        ``therapist``, ``patient``: shape (n_times,), unit variance (about);
        ``follower(t) = leader(t - lag)``.
    """
    if lag_samples == 0:
        s = band_limited_noise(rng, n_times, sfreq, 1.0 / band[1], 1.0 / band[0])
        return {"therapist": s, "patient": s}
    base = band_limited_noise(rng, n_times + lag_samples, sfreq, 1.0 / band[1],
                              1.0 / band[0])
    first, second = base[lag_samples:], base[:n_times]
    follower = "patient" if leader == "therapist" else "therapist"
    return {leader: first, follower: second}


def channel_coupling(c: float, montage: Montage, regions: tuple[str, ...] | str
                     ) -> float | np.ndarray:
    """Coupling of each channel: ``c`` in the coupling regions, 0 elsewhere.

    Returns the scalar ``c`` itself when every channel is coupled (``"all"``).
    """
    if regions == "all":
        return c
    return np.array([c if montage.regions[ch] in regions else 0.0
                     for ch in montage.channels])


def scanned_sessions(seed: int, n_dyads: int, n_sessions: int, missing: float
                     ) -> list[list[int]]:
    """Session numbers scanned per dyad when a fraction ``missing`` is not.

    Each dyad misses ``round(missing * n_sessions)`` sessions (at most
    ``n_sessions - 2``), drawn among sessions 2 to ``n_sessions``: the first
    session and at least one more are always scanned.
    """
    out = []
    for i in range(n_dyads):
        n_missing = min(int(round(missing * n_sessions)), n_sessions - 2)
        skip: set[int] = set()
        if n_missing:
            r = keyed_rng(seed, KEY_SCANNED, i)
            skip = {int(k) for k in r.choice(np.arange(2, n_sessions + 1), n_missing,
                                             replace=False)}
        out.append([k for k in range(1, n_sessions + 1) if k not in skip])
    return out


def planted_coupling(study: str | os.PathLike, dyad: str, session: int
                     ) -> dict[str, Any]:
    """The coupling components planted in one dyad-session of a simulated study.

    Regenerates them from the study's seed and ``ground_truth.json``.

    Parameters
    ----------
    study : path-like
        Folder written by :func:`~interbrain.simulate.simulate_study`.
    dyad : str
        Dyad id (``"D01"``).
    session : int
        Session number (1, 2, ...).

    Returns
    -------
    dict
        ``therapist``, ``patient``: shape (n_times,), the unit-variance shared
        signal as each brain carries it (in the coupled channels, with weight
        ``sqrt(coupling)``); ``times`` (s); ``coupling``; ``lag_s``; ``leader``;
        ``channels``: the coupled channels (montage names).
    """
    truth = json.loads((Path(study) / "ground_truth.json").read_text(encoding="utf-8"))
    args = truth["arguments"]
    ids = list(truth["dyads"])
    if dyad not in ids:
        raise ValueError(f"no dyad {dyad!r} in {study} (dyads: {ids})")
    if not 1 <= int(session) <= args["n_sessions"]:
        raise ValueError(f"session must be 1 to {args['n_sessions']}, got {session!r}")
    i, k = ids.index(dyad), int(session) - 1
    info = truth["dyads"][dyad]
    sfreq = float(args["sfreq"])
    n_times = int(round(args["minutes"] * 60 * sfreq))
    lag_samples = int(round(info["lag_s"] * sfreq))
    comps = shared_components(keyed_rng(args["seed"], KEY_SESSION, i, k, SUB_SHARED),
                              n_times, sfreq, tuple(args["band"]), lag_samples,
                              info["leader"])
    return {**comps, "times": np.arange(n_times) / sfreq,
            "coupling": truth["coupling"][dyad][k], "lag_s": info["lag_s"],
            "leader": info["leader"], "channels": truth["coupling_model"]["channels"]}
