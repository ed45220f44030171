"""Write a complete simulated psychotherapy hyperscanning study folder.

:func:`simulate_study` writes::

    OUT/study.toml                     dyads, sessions, analysis settings, regions
    OUT/measures.csv                   session questionnaires, one row per dyad x session
    OUT/ground_truth.json              everything that was planted
    OUT/recordings/D01_ses-01_therapist.snirf
    OUT/recordings/D01_ses-01_patient.snirf
    ...

Each SNIRF file holds one person's raw continuous-wave intensities (MNE channel type
``fnirs_cw_amplitude``, volts) of the 20-channel prefrontal montage of
:mod:`interbrain.simulate.montage` at 760 and 850 nm, named ``"S1_D1 760"``,
``"S1_D1 850"``, ... (the two wavelengths of a pair adjacent), with optode positions
in metres in MNE head coordinates. Therapist and patient of a session share
``meas_date`` (simultaneous recording).

Randomness
----------
All draws come from ``numpy.random.SeedSequence(seed)`` children identified by a
fixed key (``SeedSequence(seed, spawn_key=key)`` is the child that nested
``spawn()`` calls would give), one per purpose, dyad, session and role. Results
therefore do not depend on the order in which recordings are simulated, and e.g. the
dyad slopes do not change when the recordings are made longer.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shutil
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._check import check_int
from .._files import temporary_folder
from .confound_specs import Confound, resolve_confounds
from .coupling import draw_dyad_coupling, scanned_sessions
from .montage import prefrontal_montage, with_short_channels
from .pair import Person, StudyContext, session_levels, simulate_pair
from .phases import coupling_mask, phase_segments, resolve_phases
from .presets import CONFOUNDS, resolve_options
from .recording import FIRST_SESSION, extinction_coefficients
from .signals import draw_person_traits
from .streams import (KEY_GENERALISATION, KEY_PERSON, KEY_SESSION, PERSON_OTHER,
                      PERSON_PATIENT, PERSON_THERAPIST, SUB_COUPLING, SUB_MEASURES,
                      SUB_SHARED, keyed_rng)
from .study_files import GENERATOR, MEASURE_MODEL, ground_truth, measures_csv, study_toml

__all__ = ["simulate_study"]

ROLES: tuple[str, str] = ("therapist", "patient")
#: Phases of the generalisation recordings; their session slot in stream keys is
#: 1000 + index (never a session index, whatever the study's size).
PHASES: tuple[str, str] = ("pre", "post")
_PHASE_SLOT = 1000


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------

def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                         np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _validate(n_dyads, n_sessions, minutes, sfreq, n_channels, n_therapists, effect,
              band, seed) -> dict[str, Any]:
    args: dict[str, Any] = {}
    args["n_dyads"] = check_int(n_dyads, "n_dyads", minimum=2, maximum=99)
    args["n_sessions"] = check_int(n_sessions, "n_sessions", minimum=2, maximum=99)
    minutes = _number("minutes", minutes)
    if not 0 < minutes <= 50:
        raise ValueError(f"minutes must be in (0, 50], got {minutes}")
    args["minutes"] = minutes
    sfreq = _number("sfreq", sfreq)
    if not 4.0 <= sfreq <= 100.0:
        raise ValueError(f"sfreq must be between 4 and 100 Hz (the heart beat, up to "
                         f"~1.5 Hz, must be sampled), got {sfreq}")
    args["sfreq"] = sfreq
    args["n_channels"] = check_int(n_channels, "n_channels", minimum=4, maximum=20)
    args["n_therapists"] = check_int(n_therapists, "n_therapists", minimum=1,
                                    maximum=args["n_dyads"])
    effect = _number("effect", effect)
    if not 0.0 <= effect <= 5.0:
        raise ValueError(f"effect must be between 0 (no coupling) and 5, got {effect}")
    args["effect"] = effect
    try:
        lo, hi = band
    except (TypeError, ValueError):
        raise ValueError(f"band must be two periods (shortest, longest) in seconds, "
                         f"got {band!r}") from None
    lo, hi = _number("band[0]", lo), _number("band[1]", hi)
    if not 0 < lo < hi:
        raise ValueError(f"band must satisfy 0 < shortest < longest period, got "
                         f"({lo}, {hi})")
    if lo < 2.0:
        raise ValueError(f"band: the shortest period must be at least 2 s (the "
                         f"synchrony band is haemodynamic, slower than breathing), "
                         f"got {lo}")
    duration = minutes * 60.0
    if hi > duration / 3.0:
        raise ValueError(f"band: the longest period ({hi} s) must fit at least 3 times "
                         f"in a recording of {minutes} min ({duration:g} s); record "
                         f"longer or choose a shorter band")
    args["band"] = (lo, hi)
    args["seed"] = check_int(seed, "seed", minimum=0)
    return args


# ---------------------------------------------------------------------------
# Folder handling
# ---------------------------------------------------------------------------

def _is_simulated_study(path: Path) -> bool:
    try:
        doc = json.loads((path / "ground_truth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("generator") == GENERATOR


def _check_target(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise ValueError(f"{out_dir}: folder is not empty; choose an empty or new "
                             "folder, or pass overwrite=True to replace a simulated study")
        if not _is_simulated_study(out_dir):
            raise ValueError(f"{out_dir}: refusing to overwrite a folder that does not "
                             "hold a study written by interbrain simulate (no "
                             "ground_truth.json from it); delete it yourself")


def _commit(staging: Path, out_dir: Path) -> None:
    """Move the finished staging folder to ``out_dir``, replacing what is there."""
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    if not any(out_dir.iterdir()):
        out_dir.rmdir()
        os.replace(staging, out_dir)
        return
    trash = temporary_folder(out_dir.parent, f".{out_dir.name}.old-")
    trash.rmdir()
    os.replace(out_dir, trash)
    try:
        os.replace(staging, out_dir)
    except BaseException:
        os.replace(trash, out_dir)
        raise
    shutil.rmtree(trash, ignore_errors=True)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# The study
# ---------------------------------------------------------------------------

def _session_date(dyad_index: int, session: int) -> _dt.datetime:
    """Deterministic session start: weekly sessions, dyads spread over the week."""
    i = dyad_index
    return FIRST_SESSION + _dt.timedelta(weeks=session - 1 + i // 25, days=i % 5,
                                         hours=2 * ((i // 5) % 5))


def simulate_study(out_dir: str | os.PathLike, *, n_dyads: int = 8, n_sessions: int = 6,
                   minutes: float = 10.0, sfreq: float = 10.0, n_channels: int = 20,
                   n_therapists: int = 1, effect: float = 1.0,
                   band: tuple[float, float] = (10.0, 40.0), seed: int = 0,
                   overwrite: bool = False, preset: str = "field",
                   coupling_regions: Sequence[str] | str | None = None,
                   lag: float | tuple[float, float] | None = None, leader: str | None = None,
                   therapist_slope_sd: float | None = None, short_channels: bool | None = None,
                   aux: bool | None = None,
                   confounds: Sequence[str] | Mapping[str, Any] | None = None,
                   missing_sessions: float | None = None,
                   generalisation: bool | None = None,
                   generalisation_transfer: float | None = None,
                   phases: Sequence[tuple[str, float]] | None = None,
                   coupling_phases: Sequence[str] | str | None = None) -> Path:
    """Write a complete simulated therapy study folder.

    Every dyad (one therapist, one patient) is recorded in every session (unless
    ``missing_sessions``), both partners at once with the same prefrontal fNIRS
    montage. The partners' band-limited haemodynamic activity shares a common signal
    whose share of the neural in-band variance, the coupling ``c[d, k]``, rises over
    sessions (inter-brain plasticity): ``c[d, k] = clip(effect * (baseline + g_d
    (k - 1) / (K - 1) + e[d, k]), 0, max)``, ``g_d ~ N(slope_mean, slope_sd) + u_t``
    with ``u_t ~ N(0, therapist_slope_sd)`` the growth of the dyad's therapist,
    ``e[d, k] ~ N(0, session_noise_sd)``: the ``coupling_model`` of the preset
    (:data:`~interbrain.simulate.presets.PRESETS`). Session measures depend on
    ``c[d, k]`` (symptoms fall, well-being and session quality rise; alliance does
    not depend on it). ``ground_truth.json`` records every planted component.

    Parameters
    ----------
    out_dir : path-like
        Study folder to create; must be new or empty unless ``overwrite``.
    n_dyads : int
        Number of therapist-patient dyads (2-99).
    n_sessions : int
        Sessions per dyad (2-99), one week apart.
    minutes : float
        Duration of each recording in minutes, in (0, 50].
    sfreq : float
        Sampling rate in Hz (4-100).
    n_channels : int
        Long channels of the prefrontal montage (4-20; fewer than 20 keeps the most
        medial ones).
    n_therapists : int
        Number of therapists (1 to ``n_dyads``), assigned to dyads round-robin.
    effect : float
        Scale of the planted coupling (0 to 5); 0 plants no coupling at all.
    band : tuple of float
        Shortest and longest period in seconds of the simulated neural activity (and
        the synchrony band written to ``study.toml``).
    seed : int
        Seed; the same arguments write the same files.
    overwrite : bool
        Replace ``out_dir`` if it holds a study written by this function (any other
        non-empty folder is refused).
    preset : str
        ``"field"`` (effect sizes as the field sees them, d about 0.2-0.3, and the
        realism options below) or ``"demo"`` (the large effects, d = 1.7 real versus
        pseudo and 1.3 growth, of the original simulator, with none of the options:
        the same files as before presets existed). See
        :mod:`interbrain.simulate.presets`.
    coupling_regions : sequence of str, or "all", or None
        Regions of the montage whose channels carry the coupling (``"medial_pfc"``,
        ``"left_fpc"``, ``"right_fpc"``, ``"left_dlpfc"``, ``"right_dlpfc"``).
    lag : float or tuple of float or None
        Lag in seconds of the follower behind the leader, or a range from which each
        dyad's lag is drawn uniformly (0 to 10 s; rounded to whole samples).
    leader : str or None
        Who leads: ``"therapist"``, ``"patient"`` or ``"mixed"`` (drawn per dyad).
    therapist_slope_sd : float or None
        Standard deviation of the therapists' own growth of coupling.
    short_channels : bool or None
        One short-separation channel (8 mm) per region, carrying the scalp and
        systemic component (which the long channels carry attenuated).
    aux : bool or None
        Respiration, PPG, heart rate and 3-axis accelerometer in each SNIRF file's
        ``aux`` groups.
    confounds : sequence of str, mapping or None
        Any of ``"paced_breathing"``, ``"speech"``, ``"shared_motion"`` (see
        :mod:`interbrain.simulate.confounds`) at strength 1 in every session, or a
        mapping name -> strength (>= 0, a factor on the confound's model constants,
        e.g. ``{"speech": 8.0}``), or name ->
        :class:`~interbrain.simulate.confound_specs.Confound` (or a dict of its
        fields ``strength``, ``profile`` ``"constant"``/``"rising"``,
        ``start_session``) for a confound whose strength changes over sessions
        (``"rising"``: linear from 0 at ``start_session`` to the strength in the
        last session). ``ground_truth.json`` records the strengths and each
        session's level.
    missing_sessions : float or None
        Fraction of each dyad's sessions not scanned (left out of ``study.toml``
        and ``measures.csv``), in [0, 1); the first session and one more are
        always scanned.
    generalisation : bool or None
        Record each patient with another person (``F01``, ...; a friend, task
        ``"conversation"``) a week before the first and a week after the last
        session (``[[generalisation]]`` entries).
    generalisation_transfer : float or None
        Share (0-1) of the dyad's growth of coupling that carries over to the other
        person: ``c_other = clip(effect * (baseline + transfer * g_d * [post] + e),
        0, max)``.
    phases : sequence of (str, float) or None
        Labels and durations in seconds of the phases of every recording (e.g.
        ``[("talk", 60.0), ("rest", 60.0)]``), cycled from the start to fill it;
        each segment's onset is written as a SNIRF stimulus (name: the label) in
        both partners' files and listed in ``ground_truth.json`` (``phases``). None:
        no phases (the files are as without this option).
    coupling_phases : sequence of str, str or None
        Phase labels whose segments carry the planted coupling (none elsewhere);
        None: every phase (see :mod:`interbrain.simulate.phases`).

    Returns
    -------
    Path
        The study folder.

    Raises
    ------
    ValueError
        For invalid arguments or a non-empty ``out_dir``. On any error nothing is
        left behind: the study is built in a hidden sibling folder and moved into
        place only when complete.
    """
    args = _validate(n_dyads, n_sessions, minutes, sfreq, n_channels, n_therapists,
                     effect, band, seed)
    montage = prefrontal_montage(args["n_channels"])
    specs = resolve_confounds(confounds, CONFOUNDS, args["n_sessions"])
    opts = resolve_options(
        preset, tuple(dict.fromkeys(prefrontal_montage().regions.values())),
        coupling_regions=coupling_regions, lag=lag, leader=leader,
        therapist_slope_sd=therapist_slope_sd, short_channels=short_channels, aux=aux,
        confounds=None if confounds is None else tuple(specs),
        missing_sessions=missing_sessions,
        generalisation=generalisation, generalisation_transfer=generalisation_transfer)
    opts["confound_specs"] = specs if confounds is not None else \
        {name: Confound() for name in opts["confounds"]}
    opts["phases"] = resolve_phases(phases, coupling_phases, args["minutes"] * 60.0)
    regions = opts["coupling_regions"]
    if regions != "all" and not any(montage.regions[ch] in regions
                                    for ch in montage.channels):
        raise ValueError(f"coupling_regions {list(regions)}: no channel of the "
                         f"{montage.n_channels}-channel montage lies there (its regions: "
                         f"{sorted(set(montage.regions.values()))})")
    out_dir = Path(out_dir)
    _check_target(out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = temporary_folder(out_dir.parent, f".{out_dir.name}.partial-")
    try:
        _build(staging, args, opts, montage)
        _commit(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _build(root: Path, args: dict[str, Any], opts: dict[str, Any], montage) -> None:
    seed = args["seed"]
    n_dyads, n_sessions = args["n_dyads"], args["n_sessions"]
    sfreq = args["sfreq"]
    n_times = int(round(args["minutes"] * 60 * sfreq))
    segments, mask = [], None
    if opts["phases"] is not None:
        segments = phase_segments(opts["phases"]["pattern"], n_times / sfreq)
        mask = coupling_mask(segments, opts["phases"]["coupling_phases"], n_times, sfreq)
    ctx = StudyContext(seed=seed, n_times=n_times,
                       sfreq=sfreq, band=args["band"], montage=montage,
                       file_montage=with_short_channels(montage)
                       if opts["short_channels"] else None,
                       abs_coef=extinction_coefficients(montage.wavelengths), options=opts,
                       segments=tuple(segments), coupling_mask=mask)
    (root / "recordings").mkdir()

    therapist_of = [i % args["n_therapists"] for i in range(n_dyads)]
    dyads = [{"id": f"D{i + 1:02d}", "therapist": f"T{therapist_of[i] + 1:02d}",
              "patient": f"P{i + 1:02d}"} for i in range(n_dyads)]
    cm = opts["coupling_model"]
    planted = draw_dyad_coupling(seed, n_dyads, n_sessions, therapist_of, cm,
                                 args["effect"], opts["lag"], opts["leader"], sfreq,
                                 {m: spec["dyad_sd"] for m, spec in MEASURE_MODEL.items()})
    coupling = planted["coupling"]
    scanned = scanned_sessions(seed, n_dyads, n_sessions, opts["missing_sessions"])

    # person traits (therapists are shared across their dyads)
    n_ch = montage.n_channels
    traits = {("therapist", t): draw_person_traits(
        keyed_rng(seed, KEY_PERSON, PERSON_THERAPIST, t), n_ch) for t in sorted(set(therapist_of))}
    traits.update({("patient", i): draw_person_traits(
        keyed_rng(seed, KEY_PERSON, PERSON_PATIENT, i), n_ch) for i in range(n_dyads)})

    sessions: list[dict] = []
    recordings: dict[str, dict] = {}
    measure_rows: list[dict] = []
    for i, d in enumerate(dyads):
        for k in range(n_sessions):
            number = k + 1
            if number not in scanned[i]:
                continue
            c = float(coupling[i, k])
            when = _session_date(i, number)
            people = tuple(Person(role, traits[(role, therapist_of[i] if r == 0 else i)],
                                  d[role], f"recordings/{d['id']}_ses-{number:02d}_{role}.snirf",
                                  r) for r, role in enumerate(ROLES))
            recs, shared = simulate_pair(
                root, ctx, people, coupling=c, lag_samples=int(planted["lag_samples"][i]),
                leader=planted["leaders"][i], shared_key=(KEY_SESSION, i, k, SUB_SHARED),
                confound_key=(i, k), meas_date=when,
                info={"dyad": d["id"], "session": number},
                levels=session_levels(opts["confound_specs"], number, n_sessions))
            recordings.update(recs)
            sessions.append({"dyad": d["id"], "session": number,
                             **{p.role: p.path for p in people}, "coupling": c,
                             "meas_date": when.isoformat(), **shared})
            r = keyed_rng(seed, KEY_SESSION, i, k, SUB_MEASURES)
            row: dict[str, Any] = {"dyad": d["id"], "session": number}
            for m, spec in MEASURE_MODEL.items():
                value = (spec["intercept"] + planted["intercepts"][i][m]
                         + spec["coupling"] * c + spec["session"] * k
                         + r.normal(0.0, spec["residual_sd"]))
                row[m] = float(np.clip(value, *spec["range"]))
            measure_rows.append(row)

    generalisation = (_generalisation(root, ctx, dyads, planted, traits, args)
                      if opts["generalisation"] else [])
    toml_sessions = [{k: s[k] for k in ("dyad", "session", "therapist", "patient")}
                     for s in sessions]
    _write_text(root / "study.toml", study_toml(args, dyads, toml_sessions, montage,
                                                opts, generalisation))
    _write_text(root / "measures.csv", measures_csv(measure_rows))
    truth = ground_truth(args, opts, dyads, planted, sessions, recordings, ctx,
                         generalisation, scanned, segments)
    _write_text(root / "ground_truth.json", json.dumps(truth, indent=2) + "\n")


def _generalisation(root: Path, ctx: StudyContext, dyads: list[dict], planted: dict,
                    traits: dict, args: dict) -> list[dict]:
    """Simulate and write every patient's recordings with another person."""
    cm = ctx.options["coupling_model"]
    transfer = ctx.options["generalisation_transfer"]
    n_sessions = args["n_sessions"]
    out = []
    for i, d in enumerate(dyads):
        other = f"F{i + 1:02d}"
        other_traits = draw_person_traits(keyed_rng(ctx.seed, KEY_PERSON, PERSON_OTHER, i),
                                          ctx.montage.n_channels)
        for j, phase in enumerate(PHASES):
            noise = keyed_rng(ctx.seed, KEY_GENERALISATION, i, j, SUB_COUPLING).normal(
                0.0, cm["session_noise_sd"])
            growth = transfer * planted["slopes"][i] if phase == "post" else 0.0
            c = round(float(np.clip(args["effect"] * (cm["baseline"] + growth + noise),
                                    0.0, cm["max"])), 6)
            when = (_session_date(i, 0) if phase == "pre"
                    else _session_date(i, n_sessions + 1))
            stem = f"recordings/{d['id']}_{phase}"
            people = (Person("therapist", other_traits, other, f"{stem}_{other}.snirf", 0),
                      Person("patient", traits[("patient", i)], d["patient"],
                             f"{stem}_patient.snirf", 1))
            recs, shared = simulate_pair(
                root, ctx, people, coupling=c, lag_samples=int(planted["lag_samples"][i]),
                leader=planted["leaders"][i],
                shared_key=(KEY_GENERALISATION, i, j, SUB_SHARED),
                confound_key=(i, _PHASE_SLOT + j), meas_date=when,
                info={"dyad": d["id"], "phase": phase},
                levels=session_levels(ctx.options["confound_specs"],
                                      1 if phase == "pre" else n_sessions, n_sessions))
            for rec in recs.values():
                rec["role"] = "partner" if rec["person"] == other else "patient"
            out.append({"dyad": d["id"], "phase": phase, "partner": other,
                        "patient": people[1].path, "partner_recording": people[0].path,
                        "task": "conversation", "partner_kind": "friend", "coupling": c,
                        "meas_date": when.isoformat(), "recordings": recs, **shared})
    return out
