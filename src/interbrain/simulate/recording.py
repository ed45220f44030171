"""One person's simulated recording: raw intensities of the prefrontal montage.

:func:`simulate_recording` simulates a recording outside a study;
:func:`simulate_person_recording` is the step :func:`~interbrain.simulate.simulate_study`
runs for every person and session, from the recording's own random stream
(:func:`keyed_rng`). :func:`write_snirf` writes a recording to SNIRF atomically.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .aux import auxiliary_signals, write_aux
from .confounds import shared_motion
from .montage import Montage, prefrontal_montage, with_short_channels
from .optics import MotionEvent, haemoglobin_to_od, motion_artefacts, od_to_intensity
from .signals import PersonTraits, draw_person_traits, simulate_haemoglobin
from .streams import keyed_rng
from .waveforms import band_limited_noise, pink_noise

__all__ = ["simulate_recording", "SimulatedRecording", "RecordingOptions", "write_snirf",
           "extinction_coefficients", "simulate_person_recording", "keyed_rng", "PPF",
           "FIRST_SESSION", "SHORT_SCALP_GAIN"]

#: Partial pathlength factor of the simulated modified Beer-Lambert law.
PPF = 6.0
#: Start of the first simulated session (UTC).
FIRST_SESSION = _dt.datetime(2026, 1, 5, 9, 0, 0, tzinfo=_dt.timezone.utc)
#: Scalp and systemic signal of a short channel relative to a long channel's (the
#: long channel's light spends about half its path in the scalp's layers).
SHORT_SCALP_GAIN = 2.0


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
    short_channels : list of str
        Short-separation channels of ``raw`` (after the long ones), carrying the
        scalp and systemic component only.
    aux : dict
        Auxiliary signal name -> shape (n_times,) array (empty without them).
    scalp_hbo : numpy.ndarray or None
        Shape (n_times,), mol/L: the systemic component at unit gain.
    """

    raw: Any
    hbo: np.ndarray
    hbr: np.ndarray
    neural: np.ndarray
    channels: list[str]
    bad_channels: list[str]
    motion_events: list[dict] = field(default_factory=list)
    heart_rate: float = float("nan")
    short_channels: list[str] = field(default_factory=list)
    aux: dict[str, np.ndarray] = field(default_factory=dict)
    scalp_hbo: np.ndarray | None = None

    @property
    def clean_channels(self) -> list[str]:
        """Good channels that no motion artefact touches."""
        touched = {ch for ev in self.motion_events for ch in ev["channels"]}
        return [ch for ch in self.channels
                if ch not in self.bad_channels and ch not in touched]


@dataclass
class RecordingOptions:
    """The realism options of one recording (every one off by default).

    Attributes
    ----------
    short_montage : Montage or None
        The montage with short channels appended
        (:func:`~interbrain.simulate.montage.with_short_channels`); None: no short
        channels.
    short_rng, aux_rng, motion_rng : numpy.random.Generator or None
        Streams of the short channels, the auxiliary signals and the shared motion
        bursts (separate from the recording's, so switching one on changes nothing
        else).
    haemodynamics : dict
        Further arguments of :func:`~interbrain.simulate.signals.simulate_haemoglobin`
        (``respiration``, ``respiration_gain``, ``rate_modulation``,
        ``systemic_extra``).
    shared_motion : list of float
        Onsets in seconds of motion bursts shared with the partner.
    speech : numpy.ndarray or None
        Shape (n_times,), 1 during speech turns (for the auxiliary signals).
    """

    short_montage: Montage | None = None
    short_rng: np.random.Generator | None = None
    aux_rng: np.random.Generator | None = None
    motion_rng: np.random.Generator | None = None
    haemodynamics: dict = field(default_factory=dict)
    shared_motion: list[float] = field(default_factory=list)
    speech: np.ndarray | None = None


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


def simulate_person_recording(rng: np.random.Generator, traits: PersonTraits, *,
                              montage: Montage, abs_coef: np.ndarray, sfreq: float,
                              n_times: int, band: tuple[float, float],
                              shared: np.ndarray, coupling: float,
                              meas_date: _dt.datetime, subject: str,
                              n_bad: int | None = None, motion: bool = True,
                              ppf: float = PPF, options: RecordingOptions | None = None
                              ) -> SimulatedRecording:
    """Simulate one recording from its own stream ``rng`` (see :func:`simulate_recording`).

    Draws, in this order: the channel-quality plan (bad channels, baseline
    intensities, noise levels, cardiac gains), the haemoglobin signals, the
    bad channels' slow wander, the motion artefacts and the sensor noise.

    Parameters
    ----------
    rng : numpy.random.Generator
        The recording's own stream (:func:`keyed_rng`).
    traits : PersonTraits
        The person's physiology.
    montage : Montage
    abs_coef : numpy.ndarray
        Shape (n_wavelengths, 2), :func:`extinction_coefficients` of the montage.
    sfreq : float
        Sampling rate in Hz.
    n_times : int
        Number of samples.
    band : tuple of float
        Shortest and longest period in seconds of the neural activity.
    shared : numpy.ndarray
        Shape (n_times,), the dyad-session's shared signal.
    coupling : float or numpy.ndarray
        Fraction in [0, 1) of the neural in-band variance taken by ``shared``, or one
        per channel, shape (n_channels,), or per channel and sample, shape
        (n_channels, n_times).
    meas_date : datetime
        Start of the recording (UTC).
    subject : str
        Subject id written to the file.
    n_bad : int or None
        Channels with poor scalp coupling; None draws 1 to 3.
    motion : bool
        Add motion artefacts.
    ppf : float
        Partial pathlength factor.
    options : RecordingOptions or None
        Short channels, auxiliary signals, confounds; None: none of them.

    Returns
    -------
    SimulatedRecording
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

    opts = options or RecordingOptions()
    hb = simulate_haemoglobin(rng, traits, n_times=n_times, sfreq=sfreq, band=band,
                              shared=shared, coupling=coupling, cardiac_gain=cardiac_gain,
                              attenuation=attenuation, **opts.haemodynamics)
    od = haemoglobin_to_od(hb["hbo"], hb["hbr"], abs_coef[:n_wl], montage.distances(), ppf)
    # ambient light / poor contact: slow independent wander at each wavelength
    wander = pink_noise(rng, n_times, sfreq, f_lo=0.005, f_hi=2.0, size=(n_ch, n_wl))
    od[bad] += 0.02 * wander[bad]
    events: list[MotionEvent] = []
    if motion:
        art, events = motion_artefacts(rng, n_times, sfreq, montage.midpoints(), n_wl)
        od += art
    n_own = len(events)
    if opts.shared_motion:
        events += shared_motion(opts.motion_rng, opts.shared_motion, od, sfreq,
                                montage.midpoints())
    intensity = od_to_intensity(rng, od, i0, noise_sd)
    file_montage = montage
    if opts.short_montage is not None:
        file_montage = opts.short_montage
        intensity = np.concatenate([intensity, _short_intensity(
            opts.short_rng, hb, len(file_montage.short_channels), abs_coef[:n_wl],
            file_montage.distances()[n_ch:], ppf, sfreq)])
    raw = _make_raw(intensity, file_montage, sfreq, meas_date, subject)
    names = list(montage.channels)
    ev = [{"kind": e.kind, "onset": e.onset, "duration": e.duration,
           "amplitude": e.amplitude, "channels": [names[i] for i in e.channels]}
          | ({"shared": j >= n_own} if opts.shared_motion else {})
          for j, e in enumerate(events)]
    ev.sort(key=lambda e: e["onset"])
    aux = {}
    if opts.aux_rng is not None:
        aux = auxiliary_signals(opts.aux_rng, sfreq=sfreq, respiration=hb["respiration"],
                                cardiac=hb["cardiac"], heart_rate=hb["heart_rate_trace"],
                                motion_events=ev, speech=opts.speech)
    return SimulatedRecording(raw=raw, hbo=hb["hbo"], hbr=hb["hbr"], neural=hb["neural"],
                              channels=names, bad_channels=[names[i] for i in bad_idx],
                              motion_events=ev, heart_rate=float(hb["heart_rate"]),
                              short_channels=list(file_montage.short_channels), aux=aux,
                              scalp_hbo=hb["scalp_hbo"])


def _short_intensity(rng: np.random.Generator, hb: dict, n_short: int,
                     abs_coef: np.ndarray, distances: np.ndarray, ppf: float,
                     sfreq: float) -> np.ndarray:
    """Intensities of the short channels: the scalp and systemic component only.

    Each short channel sees the person's systemic component (``scalp_hbo``,
    ``scalp_hbr``) times :data:`SHORT_SCALP_GAIN` times its own gain (0.8-1.2), a
    small 1/f background of its own and low sensor noise (close optodes: much
    light); no neural activity.

    Returns
    -------
    numpy.ndarray
        Shape (n_short, n_wavelengths, n_times), volts.
    """
    n_times = hb["scalp_hbo"].size
    gain = SHORT_SCALP_GAIN * rng.uniform(0.8, 1.2, (n_short, 1))
    own = pink_noise(rng, n_times, sfreq, size=(2, n_short))
    hbo = gain * hb["scalp_hbo"][None, :] + 0.03e-6 * own[0]
    hbr = gain * hb["scalp_hbr"][None, :] + 0.015e-6 * own[1]
    od = haemoglobin_to_od(hbo, hbr, abs_coef, distances, ppf)
    i0_850 = 10 ** rng.uniform(np.log10(0.5), np.log10(2.0), n_short)
    i0 = np.stack([i0_850 * rng.uniform(0.4, 0.8, n_short), i0_850], axis=1)
    return od_to_intensity(rng, od, i0, 0.0008 * np.sqrt(0.1 / i0))


def simulate_recording(*, seed: int = 0, minutes: float = 5.0, sfreq: float = 10.0,
                       n_channels: int = 20, band: tuple[float, float] = (10.0, 40.0),
                       coupling: float = 0.0, shared: np.ndarray | None = None,
                       n_bad: int | None = None, motion: bool = True,
                       meas_date: _dt.datetime = FIRST_SESSION,
                       subject: str = "S01", short_channels: bool = False,
                       aux: bool = False) -> SimulatedRecording:
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
    short_channels : bool
        Add one 8 mm short-separation channel per region (after the long channels),
        carrying the scalp and systemic component.
    aux : bool
        Simulate the auxiliary signals (``SimulatedRecording.aux``; pass them to
        :func:`write_snirf` to write them).

    Returns
    -------
    SimulatedRecording
    """
    n_times = int(round(minutes * 60 * sfreq))
    montage = prefrontal_montage(n_channels)
    abs_coef = extinction_coefficients(montage.wavelengths)
    rng_traits, rng_shared, rng_rec = (keyed_rng(seed, i) for i in range(3))
    traits = draw_person_traits(rng_traits, montage.n_channels)
    if shared is None:
        shared = band_limited_noise(rng_shared, n_times, sfreq, 1 / band[1], 1 / band[0])
    if np.shape(shared) != (n_times,):
        raise ValueError(f"shared must have shape ({n_times},), got {np.shape(shared)}")
    return simulate_person_recording(rng_rec, traits, montage=montage, abs_coef=abs_coef,
                                     sfreq=float(sfreq), n_times=n_times,
                                     band=(float(band[0]), float(band[1])),
                                     shared=np.asarray(shared, float),
                                     coupling=float(coupling), meas_date=meas_date,
                                     subject=subject, n_bad=n_bad, motion=motion,
                                     options=RecordingOptions(
                                         short_montage=with_short_channels(montage)
                                         if short_channels else None,
                                         short_rng=keyed_rng(seed, 3),
                                         aux_rng=keyed_rng(seed, 4) if aux else None))


def write_snirf(raw, path: str | Path, aux: dict[str, np.ndarray] | None = None) -> Path:
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
    aux : dict or None
        Auxiliary signals (name -> shape (n_times,) array at the recording's
        times) written as the file's ``aux`` groups (:func:`~.aux.write_aux`).

    Returns
    -------
    Path
    """
    from mne_nirs.io.snirf import write_raw_snirf

    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")
    try:
        write_raw_snirf(raw, str(tmp))
        if aux:
            write_aux(tmp, aux, raw.info["sfreq"])
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
