"""Confounds of inter-brain synchrony that are not neural coupling.

Each can be switched on alone (``simulate_study(confounds=[...])``), at a strength
and with a profile over sessions (:mod:`.confound_specs`); the constants below are
those of strength 1:

``"paced_breathing"``
    A session-locked shared rhythm: both partners breathe with the same pacer
    (:data:`PACED_RATE` Hz, a relaxation exercise) for the whole session, with the
    pacer's phase drawn per dyad-session and a small personal phase wander. Deep
    slow breathing moves blood volume: the breathing component of the scalp and
    systemic path grows by :data:`PACED_GAIN`.
``"speech"``
    Speech- or movement-locked systemic changes, time-locked to the real
    interaction: at the moments of the dyad-session's speech turns (Poisson,
    :data:`SPEECH_RATE` per minute, 2-6 s each) both partners' blood pressure and
    heart rate rise and fall back (a slow response peaking about 5 s after the
    turn's onset, :data:`SPEECH_AMPLITUDE` mol/L HbO, heart rate +4 %), through the
    scalp and systemic path only; visible in the auxiliary heart rate, respiration
    and accelerometer signals.
``"shared_motion"``
    Motion bursts in both people at the same moments (laughing, nodding: Poisson,
    :data:`SHARED_MOTION_RATE` per minute, at least one), each a motion artefact in
    both recordings within 0.3 s and a burst in both accelerometers.

Pure numpy. Plans (:func:`draw_confound_plan`) are drawn per dyad-session, the
person's realisation from the person's own stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .confound_specs import Confound
from .optics import MotionEvent, add_motion_event
from .waveforms import band_limited_noise

__all__ = ["PACED_RATE", "PACED_GAIN", "SPEECH_RATE", "SPEECH_AMPLITUDE",
           "SHARED_MOTION_RATE", "draw_confound_plan", "paced_breathing", "speech_envelope",
           "speech_response",
           "shared_motion", "confound_parameters"]

#: Breathing rate of the pacer in Hz (6 breaths a minute, resonance breathing).
PACED_RATE = 0.1
#: Factor on the breathing component of the haemodynamics during paced breathing.
PACED_GAIN = 3.0
#: Speech turns per minute.
SPEECH_RATE = 4.0
#: Peak systemic HbO change of a speech turn in mol/L (before the person's gain).
SPEECH_AMPLITUDE = 0.25e-6
#: Relative heart-rate rise at the peak of a speech turn's response.
SPEECH_HEART_RATE = 0.04
#: Shared motion bursts per minute.
SHARED_MOTION_RATE = 1.0

_ALL = ("paced_breathing", "speech", "shared_motion")


def confound_parameters(specs: dict[str, Confound] | None = None) -> dict[str, Any]:
    """The models of the confounds (for ``ground_truth.json``).

    Parameters
    ----------
    specs : dict or None
        Name -> :class:`~.confound_specs.Confound`; None: every confound at strength 1.

    Returns
    -------
    dict
        Name -> its model at full level: the constants scaled by the strength
        (``breathing_gain``, ``systemic_hbo_peak_M``, ``bursts_per_minute``), the
        strength, profile, start session and what a level scales.
    """
    specs = specs if specs is not None else {name: Confound() for name in _ALL}
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        s = spec.strength
        if name == "paced_breathing":
            model = {"rate_hz": PACED_RATE, "breathing_gain": PACED_GAIN * s,
                     "phase_wander_sd_rad": 0.3,
                     "level_scales": "the breathing amplitude factor (level x "
                                     f"{PACED_GAIN}); the pacer replaces the person's own "
                                     "breathing in sessions whose level is above 0"}
        elif name == "speech":
            model = {"turns_per_minute": SPEECH_RATE, "turn_duration_s": [2.0, 6.0],
                     "systemic_hbo_peak_M": SPEECH_AMPLITUDE * s,
                     "person_gain": [0.6, 1.4], "heart_rate_rise": SPEECH_HEART_RATE,
                     "response": "turn boxcar convolved with a gamma kernel "
                                 "(shape 3, scale 1.5 s: peak ~3 s after onset, "
                                 "~5 s after a short turn's onset), scalp and "
                                 "systemic path only (short and long channels)",
                     "level_scales": f"the systemic HbO peak (level x {SPEECH_AMPLITUDE} "
                                     "M); the heart-rate rise follows the profile (level "
                                     "/ strength), not the strength; the turns are "
                                     "drawn whatever the level"}
        else:
            model = {"bursts_per_minute": SHARED_MOTION_RATE * s,
                     "jitter_s": [0.0, 0.3],
                     "artefact": "spike, as the recording's own motion artefacts",
                     "level_scales": f"the rate of bursts (level x {SHARED_MOTION_RATE} "
                                     "per minute, at least one when the level is above 0)"}
        out[name] = {**model, **spec.to_dict()}
    return out


def _poisson_onsets(rng: np.random.Generator, rate_per_min: float, duration: float,
                    margin: float, at_least: int = 0) -> list[float]:
    n = max(at_least, int(rng.poisson(rate_per_min * duration / 60.0)))
    return sorted(float(x) for x in rng.uniform(margin, max(margin, duration - margin), n))


def draw_confound_plan(rng: np.random.Generator, levels: dict[str, float],
                       duration: float) -> dict[str, Any]:
    """What a dyad-session's confounds share between the partners.

    Parameters
    ----------
    rng : numpy.random.Generator
        The dyad-session's confound stream.
    levels : dict
        Switched-on confound -> its level in this session
        (:meth:`~.confound_specs.Confound.level`).
    duration : float
        Recording length in seconds.

    Returns
    -------
    dict
        ``paced_breathing``: {``rate_hz``, ``phase_rad``}; ``speech``: list of
        {``onset``, ``duration``} (s); ``shared_motion``: list of onsets (s). Only
        the switched-on confounds, drawn in this order from ``rng`` (the draws of
        paced breathing and speech do not depend on the level).
    """
    plan: dict[str, Any] = {}
    margin = min(5.0, 0.05 * duration)
    if "paced_breathing" in levels:
        plan["paced_breathing"] = {"rate_hz": PACED_RATE,
                                   "phase_rad": round(float(rng.uniform(0, 2 * np.pi)), 6)}
    if "speech" in levels:
        onsets = _poisson_onsets(rng, SPEECH_RATE, duration, margin, at_least=1)
        plan["speech"] = [{"onset": round(o, 3),
                           "duration": round(float(rng.uniform(2.0, 6.0)), 3)}
                          for o in onsets]
    if "shared_motion" in levels:
        level = levels["shared_motion"]
        plan["shared_motion"] = [round(o, 3) for o in
                                 _poisson_onsets(rng, SHARED_MOTION_RATE * level, duration,
                                                 margin, at_least=1 if level > 0 else 0)]
    return plan


def paced_breathing(rng: np.random.Generator, plan: dict[str, Any], n_times: int,
                    sfreq: float) -> np.ndarray:
    """One person's breathing with the pacer, unit variance, shape (n_times,)."""
    t = np.arange(n_times) / sfreq
    wander = 0.3 * band_limited_noise(rng, n_times, sfreq, 0.002, 0.03)
    phase = plan["phase_rad"] + 2 * np.pi * plan["rate_hz"] * t + wander
    wave = np.sin(phase) + 0.2 * np.sin(2 * phase + 0.6)
    wave = wave - wave.mean()
    return wave / wave.std()


def speech_envelope(turns: list[dict], n_times: int, sfreq: float) -> np.ndarray:
    """1 while a speech turn lasts, 0 otherwise, shape (n_times,)."""
    t = np.arange(n_times) / sfreq
    env = np.zeros(n_times)
    for turn in turns:
        env[(t >= turn["onset"]) & (t < turn["onset"] + turn["duration"])] = 1.0
    return env


def speech_response(rng: np.random.Generator, turns: list[dict], n_times: int,
                    sfreq: float, level: float = 1.0, profile: float = 1.0
                    ) -> dict[str, np.ndarray | float]:
    """One person's systemic response to the dyad-session's speech turns.

    Parameters
    ----------
    level : float
        The session's level of the confound: factor on :data:`SPEECH_AMPLITUDE`.
    profile : float
        The session's level relative to the strength (0-1): factor on the heart-rate
        rise :data:`SPEECH_HEART_RATE`.

    Returns
    -------
    dict
        ``systemic_hbo``: shape (n_times,), mol/L; ``rate_modulation``: shape
        (n_times,), relative heart-rate change; ``envelope``: shape (n_times,), the
        turns (1 while speaking); ``gain``: the person's gain.
    """
    env = speech_envelope(turns, n_times, sfreq)
    k_t = np.arange(int(round(20 * sfreq))) / sfreq
    kernel = k_t ** 2 * np.exp(-k_t / 1.5)
    kernel /= kernel.sum()
    response = np.convolve(env, kernel)[:n_times]
    peak = response.max()
    response = response / peak if peak > 0 else response
    gain = float(rng.uniform(0.6, 1.4))
    return {"systemic_hbo": gain * (SPEECH_AMPLITUDE * level) * response,
            "rate_modulation": SPEECH_HEART_RATE * profile * gain * response,
            "envelope": env, "gain": gain}


def shared_motion(rng: np.random.Generator, onsets: list[float], od: np.ndarray,
                  sfreq: float, positions: np.ndarray) -> list[MotionEvent]:
    """Add the shared motion bursts to one person's optical density, in place.

    Each burst starts 0-0.3 s after the shared onset (drawn per person).

    Parameters
    ----------
    od : numpy.ndarray
        Shape (n_channels, n_wavelengths, n_times), changed in place.
    positions : numpy.ndarray
        Shape (n_channels, 3), channel midpoints in metres.

    Returns
    -------
    list of MotionEvent
    """
    t = np.arange(od.shape[-1]) / sfreq
    return [add_motion_event(rng, od, "spike", float(o + rng.uniform(0.0, 0.3)), t,
                             positions) for o in onsets]
