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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._files import temporary_folder
from .montage import Montage, prefrontal_montage
from .signals import (AMPLITUDES, HBR_SYSTEMIC_RATIO, MotionEvent, PersonTraits,
                      band_limited_noise, coupling_strength, draw_person_traits,
                      haemoglobin_to_od, motion_artefacts, od_to_intensity,
                      pink_noise, simulate_haemoglobin)

__all__ = ["simulate_study", "simulate_recording", "SimulatedRecording", "write_snirf",
           "extinction_coefficients", "COUPLING_MODEL", "MEASURE_MODEL", "GENERATOR"]

GENERATOR = "interbrain.simulate"
ROLES: tuple[str, str] = ("therapist", "patient")
PPF = 6.0
FIRST_SESSION = _dt.datetime(2026, 1, 5, 9, 0, 0, tzinfo=_dt.timezone.utc)

#: Parameters of the planted coupling ``c[d, k]`` (see :func:`coupling_strength`).
COUPLING_MODEL: dict[str, float] = {
    "baseline": 0.15,          # b0
    "slope_mean": 0.45,        # g_d ~ N(slope_mean, slope_sd)
    "slope_sd": 0.12,
    "session_noise_sd": 0.05,  # e[d, k] ~ N(0, session_noise_sd)
    "max": 0.9,
}

#: Session measures: ``value = intercept + dyad_intercept + coupling * c[d, k]
#: + session * (k - 1) + residual``, clipped to ``range`` and rounded to 2 decimals.
MEASURE_MODEL: dict[str, dict[str, Any]] = {
    "symptoms": {"description": "test-anxiety score (higher = worse)",
                 "intercept": 43.0, "coupling": -20.0, "session": -0.5,
                 "dyad_sd": 4.0, "residual_sd": 1.5, "range": [10.0, 80.0]},
    "wellbeing": {"description": "well-being score, 0-25 (higher = better)",
                  "intercept": 11.0, "coupling": 12.0, "session": 0.1,
                  "dyad_sd": 2.5, "residual_sd": 1.0, "range": [0.0, 25.0]},
    "session_quality": {"description": "rated session quality, 1-7",
                        "intercept": 4.0, "coupling": 2.5, "session": 0.0,
                        "dyad_sd": 0.5, "residual_sd": 0.4, "range": [1.0, 7.0]},
    "alliance": {"description": "working alliance, 1-7 (independent of coupling)",
                 "intercept": 5.0, "coupling": 0.0, "session": 0.0,
                 "dyad_sd": 0.6, "residual_sd": 0.4, "range": [1.0, 7.0]},
}

# Stream keys: (purpose, ...) -> SeedSequence(seed, spawn_key=(purpose, ...))
_KEY_DYAD, _KEY_SESSION, _KEY_RECORDING, _KEY_PERSON = 0, 1, 2, 3
_SUB_COUPLING, _SUB_SHARED, _SUB_MEASURES = 0, 1, 2
_PERSON_THERAPIST, _PERSON_PATIENT = 0, 1


def _rng(seed: int, *key: int) -> np.random.Generator:
    """Independent generator for ``key`` (the child nested ``spawn()`` would give)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=tuple(key)))


def extinction_coefficients(wavelengths) -> np.ndarray:
    """MNE's absorption coefficients of HbO and HbR at the given wavelengths.

    Parameters
    ----------
    wavelengths : sequence of float
        Wavelengths in nm.

    Returns
    -------
    numpy.ndarray
        Shape (n_wavelengths, 2), columns HbO, HbR: ``0.2303 *`` the molar
        extinction coefficients (cm^-1 / M) of Prahl's table that
        :func:`mne.preprocessing.nirs.beer_lambert_law` uses.
    """
    freqs = np.asarray(wavelengths, float)
    try:
        from mne.preprocessing.nirs._beer_lambert_law import _load_absorption
        return np.asarray(_load_absorption(freqs), float)
    except ImportError:  # private helper moved: read MNE's table the same way
        import mne
        from scipy.interpolate import interp1d
        from scipy.io import loadmat
        table = loadmat(Path(mne.__file__).parent / "data" / "extinction_coef.mat")
        a = table["extinct_coef"]
        hbo = interp1d(a[:, 0], a[:, 1], kind="linear")(freqs)
        hbr = interp1d(a[:, 0], a[:, 2], kind="linear")(freqs)
        return np.stack([hbo, hbr], axis=1) * 0.2303


# ---------------------------------------------------------------------------
# One recording
# ---------------------------------------------------------------------------

@dataclass
class SimulatedRecording:
    """One simulated recording and what was planted in it.

    Attributes
    ----------
    raw : mne.io.RawArray
        Raw intensities in volts, channel type ``fnirs_cw_amplitude``, shape
        (2 * n_channels, n_times); names ``"S1_D1 760"``, ``"S1_D1 850"``, ...
    hbo, hbr : numpy.ndarray
        Planted haemoglobin concentration changes in mol/L, shape
        (n_channels, n_times), without sensor noise and motion artefacts.
    neural : numpy.ndarray
        The unit-variance band-limited neural mixture, shape (n_channels, n_times).
    channels : list of str
        Channel names ``"S1_D1"``, shape (n_channels,).
    bad_channels : list of str
        Channels planted with poor scalp coupling.
    motion_events : list of dict
        ``kind``, ``onset`` (s), ``duration`` (s), ``amplitude`` (OD) and
        ``channels`` (names) of each motion artefact, sorted by onset.
    heart_rate : float
        Mean heart rate in Hz.
    """

    raw: Any
    hbo: np.ndarray
    hbr: np.ndarray
    neural: np.ndarray
    channels: list[str]
    bad_channels: list[str]
    motion_events: list[dict] = field(default_factory=list)
    heart_rate: float = float("nan")

    @property
    def clean_channels(self) -> list[str]:
        """Good channels that no motion artefact touches."""
        touched = {ch for ev in self.motion_events for ch in ev["channels"]}
        return [ch for ch in self.channels
                if ch not in self.bad_channels and ch not in touched]


def _make_raw(intensity: np.ndarray, montage: Montage, sfreq: float,
              meas_date: _dt.datetime, subject: str):
    """Build the MNE RawArray of one recording (positions, date, subject)."""
    import mne

    names = montage.channel_names()
    n_wl = len(montage.wavelengths)
    data = intensity.reshape(len(montage.channels) * n_wl, -1)
    with mne.utils.use_log_level("ERROR"):
        info = mne.create_info(names, sfreq, ch_types="fnirs_cw_amplitude")
        for i, ch in enumerate(info["chs"]):
            ch["loc"][9] = float(montage.wavelengths[i % n_wl])
        raw = mne.io.RawArray(data, info, verbose="ERROR")
        raw.set_montage(montage.to_dig_montage(), verbose="ERROR")
        src, det = montage.source_positions(), montage.detector_positions()
        for i, ch in enumerate(raw.info["chs"]):  # explicit, same values as set_montage
            j = i // n_wl
            ch["loc"][3:6] = src[j]
            ch["loc"][6:9] = det[j]
            ch["loc"][0:3] = 0.5 * (src[j] + det[j])
        raw.set_meas_date(meas_date)
        with raw.info._unlock():
            raw.info["subject_info"] = {"his_id": subject}
    return raw


def _simulate_recording(rng: np.random.Generator, traits: PersonTraits, *,
                        montage: Montage, abs_coef: np.ndarray, sfreq: float,
                        n_times: int, band: tuple[float, float], shared: np.ndarray,
                        coupling: float, meas_date: _dt.datetime, subject: str,
                        n_bad: int | None = None, motion: bool = True,
                        ppf: float = PPF) -> SimulatedRecording:
    """Simulate one recording from its own stream ``rng`` (see :func:`simulate_recording`).

    Draws, in this order: the channel-quality plan (bad channels, baseline
    intensities, noise levels, cardiac gains), the haemoglobin signals, the
    bad channels' slow wander, the motion artefacts and the sensor noise.
    """
    n_ch = montage.n_channels
    n_wl = len(montage.wavelengths)
    # --- channel quality plan (drawn first, fixed number of draws)
    max_bad = max(1, min(3, n_ch // 4))
    k_bad = int(rng.integers(1, max_bad + 1)) if n_bad is None else int(n_bad)
    bad_idx = np.sort(rng.choice(n_ch, size=k_bad, replace=False)) if k_bad else \
        np.array([], int)
    bad = np.zeros(n_ch, bool)
    bad[bad_idx] = True
    i0_850 = 10 ** rng.uniform(np.log10(0.02), np.log10(0.8), n_ch)
    i0 = np.stack([i0_850 * rng.uniform(0.4, 0.8, n_ch), i0_850], axis=1)
    noise_sd = 0.0008 * np.sqrt(0.1 / i0)
    cardiac_gain = rng.uniform(0.5, 1.3, n_ch)
    attenuation = np.ones(n_ch)
    # poor scalp coupling: little light, little physiology, no pulse, much noise
    i0[bad] = 10 ** rng.uniform(-3.5, -2.7, size=(k_bad, n_wl))
    noise_sd[bad] = rng.uniform(0.03, 0.08, size=(k_bad, n_wl))
    cardiac_gain[bad] = 0.0
    attenuation[bad] = rng.uniform(0.1, 0.3, k_bad)

    hb = simulate_haemoglobin(rng, traits, n_times=n_times, sfreq=sfreq, band=band,
                              shared=shared, coupling=coupling, cardiac_gain=cardiac_gain,
                              attenuation=attenuation)
    od = haemoglobin_to_od(hb["hbo"], hb["hbr"], abs_coef[:n_wl], montage.distances(), ppf)
    # ambient light / poor contact: slow independent wander at each wavelength
    wander = pink_noise(rng, n_times, sfreq, f_lo=0.005, f_hi=2.0, size=(n_ch, n_wl))
    od[bad] += 0.02 * wander[bad]
    events: list[MotionEvent] = []
    if motion:
        art, events = motion_artefacts(rng, n_times, sfreq, montage.midpoints(), n_wl)
        od += art
    intensity = od_to_intensity(rng, od, i0, noise_sd)
    raw = _make_raw(intensity, montage, sfreq, meas_date, subject)
    names = list(montage.channels)
    ev = [{"kind": e.kind, "onset": e.onset, "duration": e.duration,
           "amplitude": e.amplitude, "channels": [names[i] for i in e.channels]}
          for e in events]
    return SimulatedRecording(raw=raw, hbo=hb["hbo"], hbr=hb["hbr"], neural=hb["neural"],
                              channels=names, bad_channels=[names[i] for i in bad_idx],
                              motion_events=ev, heart_rate=float(hb["heart_rate"]))


def simulate_recording(*, seed: int = 0, minutes: float = 5.0, sfreq: float = 10.0,
                       n_channels: int = 20, band: tuple[float, float] = (10.0, 40.0),
                       coupling: float = 0.0, shared: np.ndarray | None = None,
                       n_bad: int | None = None, motion: bool = True,
                       meas_date: _dt.datetime = FIRST_SESSION,
                       subject: str = "S01") -> SimulatedRecording:
    """Simulate one person's recording (outside a study).

    Parameters
    ----------
    seed : int
        Seed of this recording.
    minutes : float
        Duration in minutes.
    sfreq : float
        Sampling rate in Hz.
    n_channels : int
        Channels of the prefrontal montage (1-20).
    band : tuple of float
        Shortest and longest period in seconds of the neural activity.
    coupling : float
        Fraction in [0, 1) of the neural in-band variance taken by ``shared``.
    shared : numpy.ndarray or None
        Shape (n_times,), the shared signal; ``None`` draws one (only relevant
        when ``coupling > 0``; pass the same array to two recordings to couple them).
    n_bad : int or None
        Number of channels with poor scalp coupling; ``None`` draws 1 to 3.
    motion : bool
        Add motion artefacts.
    meas_date : datetime
        Start of the recording (UTC).
    subject : str
        Subject id written to the file.

    Returns
    -------
    SimulatedRecording
    """
    n_times = int(round(minutes * 60 * sfreq))
    montage = prefrontal_montage(n_channels)
    abs_coef = extinction_coefficients(montage.wavelengths)
    rng_traits, rng_shared, rng_rec = (_rng(seed, i) for i in range(3))
    traits = draw_person_traits(rng_traits, montage.n_channels)
    if shared is None:
        shared = band_limited_noise(rng_shared, n_times, sfreq, 1 / band[1], 1 / band[0])
    if np.shape(shared) != (n_times,):
        raise ValueError(f"shared must have shape ({n_times},), got {np.shape(shared)}")
    return _simulate_recording(rng_rec, traits, montage=montage, abs_coef=abs_coef,
                               sfreq=float(sfreq), n_times=n_times,
                               band=(float(band[0]), float(band[1])),
                               shared=np.asarray(shared, float), coupling=float(coupling),
                               meas_date=meas_date, subject=subject, n_bad=n_bad,
                               motion=motion)


def write_snirf(raw, path: str | Path) -> Path:
    """Write a raw-intensity recording to SNIRF atomically.

    The file is written under a temporary name in the same folder and renamed into
    place, so ``path`` is never half-written.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Channel type ``fnirs_cw_amplitude`` with positions, ``meas_date`` and
        ``subject_info["his_id"]`` set.
    path : str or Path
        Destination ``.snirf`` file.

    Returns
    -------
    Path
    """
    from mne_nirs.io.snirf import write_raw_snirf

    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")
    try:
        write_raw_snirf(raw, str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------

def _whole(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {value}")
    return int(value)


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
    args["n_dyads"] = _whole("n_dyads", n_dyads, 2, 99)
    args["n_sessions"] = _whole("n_sessions", n_sessions, 2, 99)
    minutes = _number("minutes", minutes)
    if not 0 < minutes <= 50:
        raise ValueError(f"minutes must be in (0, 50], got {minutes}")
    args["minutes"] = minutes
    sfreq = _number("sfreq", sfreq)
    if not 4.0 <= sfreq <= 100.0:
        raise ValueError(f"sfreq must be between 4 and 100 Hz (the heart beat, up to "
                         f"~1.5 Hz, must be sampled), got {sfreq}")
    args["sfreq"] = sfreq
    args["n_channels"] = _whole("n_channels", n_channels, 4, 20)
    args["n_therapists"] = _whole("n_therapists", n_therapists, 1, args["n_dyads"])
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
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative whole number, got {seed!r}")
    args["seed"] = int(seed)
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
# Text files
# ---------------------------------------------------------------------------

def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _toml_float(value: float) -> str:
    return repr(float(value))


def _study_toml(args: dict, dyads: list[dict], sessions: list[dict],
                montage: Montage) -> str:
    lo, hi = args["band"]
    width = max(len(_toml_str(ch)) for ch in montage.channels)
    lines = [
        "# Simulated psychotherapy hyperscanning study, written by interbrain simulate.",
        "# What was planted (coupling per dyad and session, bad channels, motion",
        "# artefacts, measure coefficients) is in ground_truth.json.",
        "",
        "[study]",
        f"name = {_toml_str('Simulated psychotherapy hyperscanning study')}",
        "description = " + _toml_str(f"Written by interbrain simulate (seed {args['seed']}, "
                                     f"effect {args['effect']!r})"),
        "",
        "[analysis]",
        f"band = [{_toml_float(lo)}, {_toml_float(hi)}]"
        "        # periods in seconds (shortest, longest) used for synchrony",
        'signals = ["hbo", "hbr"]',
        'pairs = "homologous"',
        "exclude_coi = true",
        "pseudo_dyads = true",
        "",
        "[preprocessing]",
        "sci_threshold = 0.7",
        'motion_correction = "tddr"',
        f"ppf = {_toml_float(PPF)}",
        "l_freq = 0.01",
        "h_freq = 0.5",
        "",
        "[statistics]",
        "sesoi = 0.3                # smallest standardized association of interest: "
        "equivalence tests",
        "",
        "[regions]                  # channel -> region of interest",
    ]
    for ch in montage.channels:
        lines.append(f"{_toml_str(ch).ljust(width)} = {_toml_str(montage.regions[ch])}")
    for d in dyads:
        lines += ["", "[[dyads]]", f"id = {_toml_str(d['id'])}",
                  f"therapist = {_toml_str(d['therapist'])}",
                  f"patient = {_toml_str(d['patient'])}"]
    for s in sessions:
        lines += ["", "[[sessions]]", f"dyad = {_toml_str(s['dyad'])}",
                  f"session = {s['session']}",
                  f"therapist = {_toml_str(s['therapist'])}",
                  f"patient = {_toml_str(s['patient'])}"]
    return "\n".join(lines) + "\n"


def _measures_csv(rows: list[dict]) -> str:
    cols = ["dyad", "session", *MEASURE_MODEL]
    out = [",".join(cols)]
    for r in rows:
        out.append(",".join([r["dyad"], str(r["session"])]
                            + [f"{r[m]:.2f}" for m in MEASURE_MODEL]))
    return "\n".join(out) + "\n"


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
        r = _rng(seed, _KEY_DYAD, i)
        slopes[i] = r.normal(cm["slope_mean"], cm["slope_sd"])
        intercepts[dyad_ids[i]] = {m: float(r.normal(0.0, spec["dyad_sd"]))
                                   for m, spec in MEASURE_MODEL.items()}
    noise = np.array([[_rng(seed, _KEY_SESSION, i, k, _SUB_COUPLING)
                       .normal(0.0, cm["session_noise_sd"]) for k in range(n_sessions)]
                      for i in range(n_dyads)])
    coupling = coupling_strength(args["effect"], slopes, noise, baseline=cm["baseline"],
                                 max_coupling=cm["max"])
    coupling = np.round(coupling, 6)

    # --- person traits (therapists are shared across their dyads)
    traits = {
        ("therapist", t): draw_person_traits(_rng(seed, _KEY_PERSON, _PERSON_THERAPIST, t),
                                             montage.n_channels)
        for t in sorted(set(therapist_of))}
    traits.update({("patient", i): draw_person_traits(
        _rng(seed, _KEY_PERSON, _PERSON_PATIENT, i), montage.n_channels)
        for i in range(n_dyads)})

    sessions: list[dict] = []
    recordings: dict[str, dict] = {}
    measure_rows: list[dict] = []
    for i, dyad in enumerate(dyad_ids):
        for k in range(n_sessions):
            number = k + 1
            c = float(coupling[i, k])
            when = _session_date(i, number)
            shared = band_limited_noise(_rng(seed, _KEY_SESSION, i, k, _SUB_SHARED),
                                        n_times, sfreq, 1.0 / band[1], 1.0 / band[0])
            entry = {"dyad": dyad, "session": number}
            for r_idx, role in enumerate(ROLES):
                person_key = (role, therapist_of[i] if role == "therapist" else i)
                person = dyads[i][role]
                rel = f"recordings/{dyad}_ses-{number:02d}_{role}.snirf"
                rec = _simulate_recording(
                    _rng(seed, _KEY_RECORDING, i, k, r_idx), traits[person_key],
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
            r = _rng(seed, _KEY_SESSION, i, k, _SUB_MEASURES)
            row: dict[str, Any] = {"dyad": dyad, "session": number}
            for m, spec in MEASURE_MODEL.items():
                value = (spec["intercept"] + intercepts[dyad][m] + spec["coupling"] * c
                         + spec["session"] * k + r.normal(0.0, spec["residual_sd"]))
                row[m] = float(np.clip(value, *spec["range"]))
            measure_rows.append(row)

    toml_sessions = [{k: s[k] for k in ("dyad", "session", "therapist", "patient")}
                     for s in sessions]
    _write_text(root / "study.toml", _study_toml(args, dyads, toml_sessions, montage))
    _write_text(root / "measures.csv", _measures_csv(measure_rows))
    truth = _ground_truth(args, dyads, slopes, coupling, intercepts, sessions,
                          recordings, montage)
    _write_text(root / "ground_truth.json", json.dumps(truth, indent=2) + "\n")


def _ground_truth(args, dyads, slopes, coupling, intercepts, sessions, recordings,
                  montage: Montage) -> dict[str, Any]:
    dyad_ids = [d["id"] for d in dyads]
    return {
        "generator": GENERATOR,
        "interbrain_version": __version__,
        "seed": args["seed"],
        "arguments": {**args, "band": list(args["band"])},
        "band": list(args["band"]),
        "units": {
            "recordings": "raw CW intensity in volts (MNE fnirs_cw_amplitude)",
            "haemoglobin": "mol/L (MNE hbo/hbr convention, ppf 6.0)",
            "positions": "metres, MNE head coordinates",
            "times": "seconds from the start of the recording",
            "motion_amplitude": "optical density (natural log) at the most affected channel",
        },
        "coupling_model": {
            **COUPLING_MODEL,
            "effect": args["effect"],
            "formula": "c[d,k] = clip(effect * (baseline + slope_d * (k-1)/(K-1) + "
                       "e[d,k]), 0, max); slope_d ~ N(slope_mean, slope_sd), "
                       "e[d,k] ~ N(0, session_noise_sd)",
            "meaning": "fraction of each person's band-limited neural variance (periods "
                       "within band) that is the dyad-session's shared signal; the shared "
                       "signal enters HbO with a per-channel loading and HbR scaled by "
                       "-0.3 to -0.5, in every channel of both partners, at zero lag. "
                       "Mayer waves, the 1/f background and noise add unshared in-band "
                       "variance, so the shared fraction of all in-band variance is "
                       "somewhat lower than c.",
        },
        "dyads": {d["id"]: {"therapist": d["therapist"], "patient": d["patient"],
                            "coupling_slope": round(float(slopes[i]), 6)}
                  for i, d in enumerate(dyads)},
        "therapists": {d["id"]: d["therapist"] for d in dyads},
        "dyad_slopes": {d["id"]: round(float(slopes[i]), 6) for i, d in enumerate(dyads)},
        "coupling": {dyad_ids[i]: [float(x) for x in coupling[i]]
                     for i in range(len(dyad_ids))},
        "sessions": sessions,
        "measures": {
            "model": "value = intercept + dyad_intercept + coupling * c[d,k] + session * "
                     "(k-1) + residual (N(0, residual_sd)); clipped to range; rounded to "
                     "2 decimals",
            "coefficients": MEASURE_MODEL,
            "dyad_intercepts": {d: {m: round(v, 6) for m, v in vals.items()}
                                for d, vals in intercepts.items()},
        },
        "recordings": recordings,
        "montage": {
            "channels": list(montage.channels),
            "regions": dict(montage.regions),
            "wavelengths_nm": list(montage.wavelengths),
            "source_detector_distance_m": [round(float(x), 6)
                                           for x in montage.distances()],
        },
        "signal_model": {
            "hbo_sd_M": AMPLITUDES,
            "hbr_systemic_ratio": HBR_SYSTEMIC_RATIO,
            "ppf": PPF,
            "sci_band_hz": [0.7, 1.5],
            "bad_channels": "poor scalp coupling: intensity 0.3-2 mV, no cardiac "
                            "pulsation, physiology attenuated to 10-30 %, 3-8 % "
                            "independent noise per wavelength",
        },
    }
