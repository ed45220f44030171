"""The two recordings of one pairing of a simulated study: a therapy session
(therapist and patient) or a generalisation recording (patient and another person).

:func:`simulate_pair` simulates both people of a pairing with the planted coupling
and the switched-on confounds and writes their SNIRF files; what was planted in each
recording is returned for ``ground_truth.json``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .confounds import (PACED_GAIN, draw_confound_plan, paced_breathing, speech_envelope,
                        speech_response)
from .coupling import channel_coupling, shared_components
from .montage import Montage
from .phases import annotations
from .recording import RecordingOptions, simulate_person_recording, write_snirf
from .signals import PersonTraits
from .streams import KEY_AUX, KEY_CONFOUND, KEY_RECORDING, KEY_SHORT, keyed_rng

__all__ = ["StudyContext", "Person", "simulate_pair", "session_levels"]

# last element of a person's (KEY_CONFOUND, dyad, session, role, ...) key
_SUB_PACED, _SUB_SPEECH, _SUB_MOTION = 0, 1, 2


@dataclass(frozen=True)
class StudyContext:
    """What every recording of a study shares.

    Attributes
    ----------
    seed : int
    n_times : int
    sfreq : float
        Sampling rate in Hz.
    band : tuple of float
        Shortest and longest period in seconds of the neural activity.
    montage : Montage
        The long channels.
    file_montage : Montage or None
        The montage with short channels, or None without them.
    abs_coef : numpy.ndarray
        Shape (n_wavelengths, 2).
    options : dict
        The resolved realism options (:func:`~.presets.resolve_options`).
    segments : list of dict
        The phases of every recording (``label``, ``onset``, ``duration`` in s;
        :func:`~.phases.phase_segments`), written as SNIRF stimuli; empty without
        phases.
    coupling_mask : numpy.ndarray or None
        Shape (n_times,): the factor (0-1) on the coupling over time
        (:func:`~.phases.coupling_mask`); None: the coupling is the same throughout.
    """

    seed: int
    n_times: int
    sfreq: float
    band: tuple[float, float]
    montage: Montage
    file_montage: Montage | None
    abs_coef: np.ndarray
    options: dict
    segments: tuple = ()
    coupling_mask: np.ndarray | None = None


@dataclass(frozen=True)
class Person:
    """One person of a pairing: traits, subject id, file and its role slot."""

    role: str            # "therapist" / "patient" (the slot of the shared signal)
    traits: PersonTraits
    subject: str
    path: str            # relative to the study folder
    slot: int            # 0 or 1: the role index in stream keys


def _haemodynamics(ctx: StudyContext, plan: dict, levels: dict[str, tuple[float, float]],
                   key: tuple[int, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Arguments of simulate_haemoglobin for the confounds, and what they planted."""
    args: dict[str, Any] = {}
    planted: dict[str, Any] = {}
    if "paced_breathing" in plan and levels["paced_breathing"][0] > 0:
        rng = keyed_rng(ctx.seed, KEY_CONFOUND, *key, _SUB_PACED)
        args["respiration"] = paced_breathing(rng, plan["paced_breathing"], ctx.n_times,
                                              ctx.sfreq)
        args["respiration_gain"] = PACED_GAIN * levels["paced_breathing"][0]
    if "speech" in plan:
        rng = keyed_rng(ctx.seed, KEY_CONFOUND, *key, _SUB_SPEECH)
        level, fraction = levels["speech"]
        resp = speech_response(rng, plan["speech"], ctx.n_times, ctx.sfreq, level=level,
                               profile=fraction)
        args["systemic_extra"] = resp["systemic_hbo"]
        args["rate_modulation"] = resp["rate_modulation"]
        planted["speech_gain"] = round(resp["gain"], 6)
    return args, planted


def session_levels(specs: dict, session: int, n_sessions: int
                   ) -> dict[str, tuple[float, float]]:
    """Each switched-on confound's level in a session and its level relative to the
    strength (the profile alone), from name -> :class:`~.confound_specs.Confound`."""
    return {name: (spec.level(session, n_sessions),
                   replace(spec, strength=1.0).level(session, n_sessions))
            for name, spec in specs.items()}


def simulate_pair(root: Path, ctx: StudyContext, people: tuple[Person, Person], *,
                  coupling: float, lag_samples: int, leader: str,
                  shared_key: tuple[int, ...], confound_key: tuple[int, ...],
                  meas_date: _dt.datetime, info: dict[str, Any],
                  levels: dict[str, tuple[float, float]] | None = None
                  ) -> tuple[dict[str, dict], dict[str, Any]]:
    """Simulate and write the two recordings of one pairing.

    Parameters
    ----------
    root : Path
        The study folder being written.
    ctx : StudyContext
    people : tuple of Person
        The person in the therapist's slot, then the patient.
    coupling : float
        The pairing's coupling ``c``.
    lag_samples : int
        Lag of the follower in samples.
    leader : str
        ``"therapist"`` or ``"patient"`` slot.
    shared_key : tuple of int
        Key of the pairing's shared-signal stream.
    confound_key : tuple of int
        Key (after ``KEY_CONFOUND``) of the pairing's confound plan; the people's
        recording streams use it with their slot appended.
    meas_date : datetime
    info : dict
        Written into each recording's entry of ``ground_truth.json``.
    levels : dict or None
        Switched-on confound -> (level, level relative to the strength) in this
        pairing (:func:`session_levels`); None: every switched-on confound at 1.

    Returns
    -------
    recordings : dict
        Relative path -> what was planted in that recording.
    pairing : dict
        What the two share: ``confounds`` (the plan).
    """
    opts = ctx.options
    comps = shared_components(keyed_rng(ctx.seed, *shared_key), ctx.n_times, ctx.sfreq,
                              ctx.band, lag_samples, leader)
    c = channel_coupling(coupling, ctx.montage, opts["coupling_regions"])
    if ctx.coupling_mask is not None:   # coupling only in the coupling phases
        c = np.multiply.outer(np.broadcast_to(np.asarray(c, float),
                                              (ctx.montage.n_channels,)), ctx.coupling_mask)
    if levels is None:
        levels = {name: (1.0, 1.0) for name in opts["confounds"]}
    plan = (draw_confound_plan(keyed_rng(ctx.seed, KEY_CONFOUND, *confound_key),
                               {name: level for name, (level, _) in levels.items()},
                               ctx.n_times / ctx.sfreq)
            if opts["confounds"] else {})
    speech = speech_envelope(plan["speech"], ctx.n_times, ctx.sfreq) \
        if "speech" in plan else None
    out: dict[str, dict] = {}
    for person in people:
        key = (*confound_key, person.slot)
        haemo, planted = _haemodynamics(ctx, plan, levels, key)
        options = RecordingOptions(
            short_montage=ctx.file_montage,
            short_rng=keyed_rng(ctx.seed, KEY_SHORT, *key) if ctx.file_montage else None,
            aux_rng=keyed_rng(ctx.seed, KEY_AUX, *key) if opts["aux"] else None,
            motion_rng=keyed_rng(ctx.seed, KEY_CONFOUND, *key, _SUB_MOTION),
            haemodynamics=haemo, shared_motion=plan.get("shared_motion", []),
            speech=speech)
        rec = simulate_person_recording(
            keyed_rng(ctx.seed, KEY_RECORDING, *key), person.traits, montage=ctx.montage,
            abs_coef=ctx.abs_coef, sfreq=ctx.sfreq, n_times=ctx.n_times, band=ctx.band,
            shared=comps[person.role], coupling=c, meas_date=meas_date,
            subject=person.subject, options=options)
        if ctx.segments:
            rec.raw.set_annotations(annotations(list(ctx.segments)))
        write_snirf(rec.raw, root / person.path, **({"aux": rec.aux} if rec.aux else {}))
        entry = {**info, "role": person.role, "person": person.subject,
                 "meas_date": meas_date.isoformat(),
                 "heart_rate_hz": round(rec.heart_rate, 4),
                 "bad_channels": rec.bad_channels, "motion_events": rec.motion_events}
        if rec.short_channels:
            entry["short_channels"] = rec.short_channels
        if rec.aux:
            entry["aux"] = list(rec.aux)
        out[person.path] = entry | planted
    shared: dict[str, Any] = {"confounds": plan} if plan else {}
    if plan:
        shared["confound_levels"] = {name: round(level, 6)
                                     for name, (level, _) in levels.items()}
    return out, shared
