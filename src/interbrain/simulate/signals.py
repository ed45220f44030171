"""Simulated fNIRS physiology of one person and the inter-brain coupling of a dyad.

Pure numpy, no I/O. Every function takes a :class:`numpy.random.Generator` and draws
from it in a fixed order, so a seeded generator gives the same signals.

Units
-----
Haemoglobin concentration changes are in mol/L (M), like MNE's ``hbo`` / ``hbr``
channels (typical fluctuations of a few tenths of a micromolar). Optical density
(OD) is unitless, natural-log based (``OD = -ln(I / mean(I))``, as in
:func:`mne.preprocessing.nirs.optical_density`). Frequencies are in Hz, times in
seconds, distances in metres, intensities in volts (arbitrary device units).

Signal model of one person in one session (per channel ``j``)
--------------------------------------------------------------
``HbO_j = A_n a_j u_j + A_c b_j cardiac + A_r respiration + A_m mayer + drift_j
+ background_j`` where ``u_j = sqrt(c) s + sqrt(1 - c) n_j`` is the band-limited
"neural" activity: ``s`` is the dyad-session's shared signal (the same in both
partners), ``n_j`` the person's own activity (unit variance, partly common to all
of the person's channels) and ``c`` the dyad-session coupling, the fraction of the
neural in-band variance that is shared. ``HbR`` holds ``-r_j`` times the neural
part (``r_j`` in 0.3-0.5), a small same-sign share of the systemic components, and
its own drift and background.

The random waveforms are in :mod:`.waveforms`; optical density, motion artefacts and
sensor noise in :mod:`.optics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .waveforms import (band_limited_noise, cardiac_waveform, narrowband_noise, pink_noise,
                        respiration_waveform, slow_drift)

__all__ = [
    "AMPLITUDES", "HBR_SYSTEMIC_RATIO", "PersonTraits", "coupling_strength", "mix_coupled",
    "draw_person_traits", "simulate_haemoglobin",
    # re-exported from .waveforms
    "band_limited_noise",
]

#: Standard deviations (mol/L) of the HbO components in a good channel.
AMPLITUDES: dict[str, float] = {
    "neural": 0.40e-6,      # band-limited activity in the synchrony band
    "cardiac": 0.12e-6,     # heart beat, ~1 Hz
    "respiration": 0.08e-6,  # breathing, 0.2-0.3 Hz
    "mayer": 0.15e-6,       # Mayer waves, ~0.1 Hz
    "drift": 0.50e-6,       # slow drift, below ~0.01 Hz
    "background": 0.06e-6,  # broadband 1/f haemodynamic background
}

#: Ratio HbR / HbO of each systemic component (same sign: blood volume changes).
HBR_SYSTEMIC_RATIO: dict[str, float] = {"cardiac": 0.05, "respiration": 0.2, "mayer": 0.3}


# ---------------------------------------------------------------------------
# Coupling
# ---------------------------------------------------------------------------

def coupling_strength(effect: float, slopes: np.ndarray, session_noise: np.ndarray, *,
                      baseline: float = 0.15, max_coupling: float = 0.9) -> np.ndarray:
    """Planted inter-brain coupling of every dyad and session.

    ``c[d, k] = clip(effect * (baseline + slopes[d] * k / (K - 1)
    + session_noise[d, k]), 0, max_coupling)`` with ``k = 0 .. K-1`` the session
    index (session number minus one).

    Parameters
    ----------
    effect : float
        Overall scale; 0 gives no coupling at all.
    slopes : numpy.ndarray
        Shape (n_dyads,), rise of the coupling from first to last session.
    session_noise : numpy.ndarray
        Shape (n_dyads, n_sessions), session-to-session deviations.
    baseline : float
        Coupling at the first session (before noise).
    max_coupling : float
        Upper clip.

    Returns
    -------
    numpy.ndarray
        Shape (n_dyads, n_sessions), the fraction (0 to ``max_coupling``) of the
        neural in-band variance that partners share.
    """
    slopes = np.asarray(slopes, float)
    noise = np.asarray(session_noise, float)
    n_sessions = noise.shape[1]
    progress = np.arange(n_sessions) / max(n_sessions - 1, 1)
    raw = baseline + slopes[:, None] * progress[None, :] + noise
    return np.clip(effect * raw, 0.0, max_coupling)


def mix_coupled(shared: np.ndarray, own: np.ndarray, coupling: float) -> np.ndarray:
    """Mix a shared and an own signal so that the shared one explains ``coupling``.

    Parameters
    ----------
    shared : numpy.ndarray
        Shape (n_times,), the dyad-session's shared signal.
    own : numpy.ndarray
        Shape (n_channels, n_times) or (n_times,), the person's own signal.
    coupling : float or numpy.ndarray
        Fraction of variance in [0, 1], or one per channel, shape (n_channels,), or
        one per channel and sample, shape (n_channels, n_times) (coupling confined
        to phases of the session).

    Returns
    -------
    numpy.ndarray
        ``sqrt(c) s + sqrt(1 - c) own`` with both inputs scaled to unit variance;
        same shape as ``own``.
    """
    s = (shared - shared.mean()) / shared.std()
    o = own - own.mean(axis=-1, keepdims=True)
    o = o / o.std(axis=-1, keepdims=True)
    if np.ndim(coupling) == 1:   # one coupling per channel
        coupling = np.asarray(coupling, float)[:, None]
    elif np.ndim(coupling) == 2:  # per channel and sample
        coupling = np.asarray(coupling, float)
    return np.sqrt(coupling) * s + np.sqrt(1.0 - coupling) * o


# ---------------------------------------------------------------------------
# One person
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PersonTraits:
    """Physiological traits of one person, stable across sessions.

    Attributes
    ----------
    heart_rate : float
        Mean heart rate in Hz (0.9-1.3).
    respiration_rate : float
        Mean breathing rate in Hz (0.2-0.3).
    mayer_frequency : float
        Mayer-wave frequency in Hz (0.08-0.12).
    neural_loading : numpy.ndarray
        Shape (n_channels,), relative amplitude of the neural activity per channel.
    hbr_ratio : numpy.ndarray
        Shape (n_channels,), neural HbR amplitude relative to HbO (0.3-0.5; HbR is
        anti-correlated).
    """

    heart_rate: float
    respiration_rate: float
    mayer_frequency: float
    neural_loading: np.ndarray = field(repr=False)
    hbr_ratio: np.ndarray = field(repr=False)


def draw_person_traits(rng: np.random.Generator, n_channels: int) -> PersonTraits:
    """Draw a person's physiological traits.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_channels : int

    Returns
    -------
    PersonTraits
    """
    heart = rng.uniform(0.9, 1.3)
    resp = rng.uniform(0.2, 0.3)
    mayer = rng.uniform(0.08, 0.12)
    loading = np.exp(rng.normal(0.0, 0.25, n_channels))
    ratio = rng.uniform(0.3, 0.5, n_channels)
    return PersonTraits(heart, resp, mayer, loading, ratio)


def simulate_haemoglobin(rng: np.random.Generator, traits: PersonTraits, *,
                         n_times: int, sfreq: float, band: tuple[float, float],
                         shared: np.ndarray, coupling: float,
                         cardiac_gain: np.ndarray, attenuation: np.ndarray,
                         own_common: float = 0.5, respiration: np.ndarray | None = None,
                         respiration_gain: float = 1.0,
                         rate_modulation: np.ndarray | None = None,
                         systemic_extra: np.ndarray | None = None
                         ) -> dict[str, np.ndarray | float]:
    """HbO and HbR time courses of one person in one session.

    Parameters
    ----------
    rng : numpy.random.Generator
        The recording's own stream.
    traits : PersonTraits
    n_times : int
    sfreq : float
        Sampling rate in Hz.
    band : tuple of float
        Shortest and longest period in seconds of the neural activity.
    shared : numpy.ndarray
        Shape (n_times,), the dyad-session's shared signal (unit variance).
    coupling : float or numpy.ndarray
        Fraction of the neural in-band variance taken by ``shared``; one per channel,
        shape (n_channels,), to confine the coupling to some channels; or shape
        (n_channels, n_times) to confine it also to some times.
    cardiac_gain : numpy.ndarray
        Shape (n_channels,), amplitude of the heart beat per channel (0 for
        channels without scalp coupling).
    attenuation : numpy.ndarray
        Shape (n_channels,), factor on every physiological component (1 for good
        channels, small for channels with poor scalp coupling).
    own_common : float
        Share of the person's own neural variance common to all their channels.
    respiration : numpy.ndarray or None
        Shape (n_times,), unit variance: a breathing waveform that replaces the
        person's own (e.g. paced breathing); None keeps their own.
    respiration_gain : float
        Factor on the breathing amplitude (deep paced breathing: more than 1).
    rate_modulation : numpy.ndarray or None
        Shape (n_times,), relative change of the heart rate (0.05 = 5 % faster).
    systemic_extra : numpy.ndarray or None
        Shape (n_times,), mol/L: further systemic HbO change of the scalp and
        systemic path (e.g. with speech); HbR gets 0.3 of it, same sign.

    Returns
    -------
    dict
        ``hbo``, ``hbr``: shape (n_channels, n_times), mol/L; ``neural``: shape
        (n_channels, n_times), the unit-variance neural mixture ``u_j``;
        ``heart_rate``: mean instantaneous heart rate in Hz; ``scalp_hbo``,
        ``scalp_hbr``: shape (n_times,), mol/L, the systemic component of a channel
        with unit gains (heart beat, breathing, Mayer waves, the drift common to all
        channels, ``systemic_extra``), what a short channel sees; ``respiration``,
        ``cardiac``: shape (n_times,), the unit-variance breathing and heart-beat
        waveforms; ``heart_rate_trace``: shape (n_times,), instantaneous heart rate
        in Hz.
    """
    n_ch = traits.neural_loading.size
    f_lo, f_hi = 1.0 / band[1], 1.0 / band[0]
    amp = AMPLITUDES

    common = band_limited_noise(rng, n_times, sfreq, f_lo, f_hi)
    private = band_limited_noise(rng, n_times, sfreq, f_lo, f_hi, size=(n_ch,))
    own = np.sqrt(own_common) * common + np.sqrt(1 - own_common) * private
    neural = mix_coupled(shared, own, coupling)

    resp, resp_phase = respiration_waveform(rng, n_times, sfreq, traits.respiration_rate)
    cardiac, inst_rate = cardiac_waveform(rng, n_times, sfreq, traits.heart_rate,
                                          respiration_phase=resp_phase,
                                          modulation=rate_modulation)
    if respiration is not None:
        resp = np.asarray(respiration, float)
    mayer_freq = traits.mayer_frequency * rng.uniform(0.95, 1.05)
    mayer = narrowband_noise(rng, n_times, sfreq, mayer_freq, 0.008)
    sys_gain = rng.uniform(0.7, 1.3, size=(3, n_ch))        # resp, mayer, drift

    drift_common = slow_drift(rng, n_times, sfreq)
    drift_own = slow_drift(rng, n_times, sfreq, size=(2, n_ch))
    background = pink_noise(rng, n_times, sfreq, size=(2, n_ch))

    neural_hbo = amp["neural"] * traits.neural_loading[:, None] * neural
    card = amp["cardiac"] * cardiac_gain[:, None] * cardiac[None, :]
    res = amp["respiration"] * sys_gain[0][:, None] * resp[None, :]
    may = amp["mayer"] * sys_gain[1][:, None] * mayer[None, :]
    drift_hbo = amp["drift"] * sys_gain[2][:, None] * (
        np.sqrt(0.6) * drift_common[None, :] + np.sqrt(0.4) * drift_own[0])
    drift_hbr = 0.5 * amp["drift"] * drift_own[1]

    if respiration_gain != 1.0:
        res = respiration_gain * res

    hbo = neural_hbo + card + res + may + drift_hbo + amp["background"] * background[0]
    hbr = (-traits.hbr_ratio[:, None] * neural_hbo
           + HBR_SYSTEMIC_RATIO["cardiac"] * card
           + HBR_SYSTEMIC_RATIO["respiration"] * res
           + HBR_SYSTEMIC_RATIO["mayer"] * may
           + drift_hbr + 0.5 * amp["background"] * background[1])
    extra = np.zeros(n_times) if systemic_extra is None else np.asarray(systemic_extra, float)
    if systemic_extra is not None:
        hbo = hbo + sys_gain[1][:, None] * extra[None, :]
        hbr = hbr + HBR_SYSTEMIC_RATIO["mayer"] * sys_gain[1][:, None] * extra[None, :]
    scalp = {"cardiac": amp["cardiac"] * cardiac,
             "respiration": respiration_gain * amp["respiration"] * resp,
             "mayer": amp["mayer"] * mayer}
    scalp_hbo = sum(scalp.values()) + amp["drift"] * np.sqrt(0.6) * drift_common + extra
    scalp_hbr = (sum(HBR_SYSTEMIC_RATIO[k] * v for k, v in scalp.items())
                 + HBR_SYSTEMIC_RATIO["mayer"] * extra)
    att = np.asarray(attenuation, float)[:, None]
    return {"hbo": hbo * att, "hbr": hbr * att, "neural": neural,
            "heart_rate": float(inst_rate.mean()), "scalp_hbo": scalp_hbo,
            "scalp_hbr": scalp_hbr, "respiration": resp, "cardiac": cardiac,
            "heart_rate_trace": inst_rate}

