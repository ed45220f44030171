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
from typing import Any

import numpy as np

from .._check import check_int
from .._files import temporary_folder
from .montage import prefrontal_montage
from .recording import (FIRST_SESSION, extinction_coefficients, keyed_rng,
                        simulate_person_recording, write_snirf)
from .signals import coupling_strength, draw_person_traits
from .study_files import (COUPLING_MODEL, GENERATOR, MEASURE_MODEL, ground_truth,
                          measures_csv, study_toml)
from .waveforms import band_limited_noise

__all__ = ["simulate_study"]

ROLES: tuple[str, str] = ("therapist", "patient")

# Stream keys: (purpose, ...) -> SeedSequence(seed, spawn_key=(purpose, ...))
_KEY_DYAD, _KEY_SESSION, _KEY_RECORDING, _KEY_PERSON = 0, 1, 2, 3
_SUB_COUPLING, _SUB_SHARED, _SUB_MEASURES = 0, 1, 2
_PERSON_THERAPIST, _PERSON_PATIENT = 0, 1


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
                   overwrite: bool = False) -> Path:
    """Write a complete simulated therapy study folder.

    Every dyad (one therapist, one patient) is recorded in every session, both
    partners at once with the same 20-channel prefrontal fNIRS montage. The partners'
    band-limited haemodynamic activity shares a common signal whose share of the
    neural in-band variance, the coupling ``c[d, k]``, rises over sessions (inter-
    brain plasticity): ``c[d, k] = clip(effect * (0.15 + g_d (k - 1) / (K - 1)
    + e[d, k]), 0, 0.9)``, ``g_d ~ N(0.45, 0.12)``, ``e[d, k] ~ N(0, 0.05)``. Session
    measures depend on ``c[d, k]`` (symptoms fall, well-being and session quality
    rise; alliance does not depend on it).

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
        Channels of the prefrontal montage (4-20; fewer than 20 keeps the most
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
    out_dir = Path(out_dir)
    _check_target(out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = temporary_folder(out_dir.parent, f".{out_dir.name}.partial-")
    try:
        _build(staging, args)
        _commit(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _build(root: Path, args: dict[str, Any]) -> None:
    seed = args["seed"]
    n_dyads, n_sessions = args["n_dyads"], args["n_sessions"]
    sfreq, band = args["sfreq"], args["band"]
    n_times = int(round(args["minutes"] * 60 * sfreq))
    montage = prefrontal_montage(args["n_channels"])
    abs_coef = extinction_coefficients(montage.wavelengths)
    (root / "recordings").mkdir()

    dyad_ids = [f"D{i + 1:02d}" for i in range(n_dyads)]
    therapist_of = [i % args["n_therapists"] for i in range(n_dyads)]
    dyads = [{"id": dyad_ids[i], "therapist": f"T{therapist_of[i] + 1:02d}",
              "patient": f"P{i + 1:02d}"} for i in range(n_dyads)]

    # --- dyad level: coupling slope and measure intercepts
    cm = COUPLING_MODEL
    slopes = np.empty(n_dyads)
    intercepts: dict[str, dict[str, float]] = {}
    for i in range(n_dyads):
        r = keyed_rng(seed, _KEY_DYAD, i)
        slopes[i] = r.normal(cm["slope_mean"], cm["slope_sd"])
        intercepts[dyad_ids[i]] = {m: float(r.normal(0.0, spec["dyad_sd"]))
                                   for m, spec in MEASURE_MODEL.items()}
    noise = np.array([[keyed_rng(seed, _KEY_SESSION, i, k, _SUB_COUPLING)
                       .normal(0.0, cm["session_noise_sd"]) for k in range(n_sessions)]
                      for i in range(n_dyads)])
    coupling = coupling_strength(args["effect"], slopes, noise, baseline=cm["baseline"],
                                 max_coupling=cm["max"])
    coupling = np.round(coupling, 6)

    # --- person traits (therapists are shared across their dyads)
    traits = {
        ("therapist", t): draw_person_traits(keyed_rng(seed, _KEY_PERSON, _PERSON_THERAPIST, t),
                                             montage.n_channels)
        for t in sorted(set(therapist_of))}
    traits.update({("patient", i): draw_person_traits(
        keyed_rng(seed, _KEY_PERSON, _PERSON_PATIENT, i), montage.n_channels)
        for i in range(n_dyads)})

    sessions: list[dict] = []
    recordings: dict[str, dict] = {}
    measure_rows: list[dict] = []
    for i, dyad in enumerate(dyad_ids):
        for k in range(n_sessions):
            number = k + 1
            c = float(coupling[i, k])
            when = _session_date(i, number)
            shared = band_limited_noise(keyed_rng(seed, _KEY_SESSION, i, k, _SUB_SHARED),
                                        n_times, sfreq, 1.0 / band[1], 1.0 / band[0])
            entry = {"dyad": dyad, "session": number}
            for r_idx, role in enumerate(ROLES):
                person_key = (role, therapist_of[i] if role == "therapist" else i)
                person = dyads[i][role]
                rel = f"recordings/{dyad}_ses-{number:02d}_{role}.snirf"
                rec = simulate_person_recording(
                    keyed_rng(seed, _KEY_RECORDING, i, k, r_idx), traits[person_key],
                    montage=montage, abs_coef=abs_coef, sfreq=sfreq, n_times=n_times,
                    band=band, shared=shared, coupling=c, meas_date=when, subject=person)
                write_snirf(rec.raw, root / rel)
                entry[role] = rel
                recordings[rel] = {"dyad": dyad, "session": number, "role": role,
                                   "person": person, "meas_date": when.isoformat(),
                                   "heart_rate_hz": round(rec.heart_rate, 4),
                                   "bad_channels": rec.bad_channels,
                                   "motion_events": rec.motion_events}
            sessions.append(entry | {"coupling": c, "meas_date": when.isoformat()})
            r = keyed_rng(seed, _KEY_SESSION, i, k, _SUB_MEASURES)
            row: dict[str, Any] = {"dyad": dyad, "session": number}
            for m, spec in MEASURE_MODEL.items():
                value = (spec["intercept"] + intercepts[dyad][m] + spec["coupling"] * c
                         + spec["session"] * k + r.normal(0.0, spec["residual_sd"]))
                row[m] = float(np.clip(value, *spec["range"]))
            measure_rows.append(row)

    toml_sessions = [{k: s[k] for k in ("dyad", "session", "therapist", "patient")}
                     for s in sessions]
    _write_text(root / "study.toml", study_toml(args, dyads, toml_sessions, montage))
    _write_text(root / "measures.csv", measures_csv(measure_rows))
    truth = ground_truth(args, dyads, slopes, coupling, intercepts, sessions,
                          recordings, montage)
    _write_text(root / "ground_truth.json", json.dumps(truth, indent=2) + "\n")
