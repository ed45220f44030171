"""From haemoglobin to what the device records: optical density (modified
Beer-Lambert law), head-motion artefacts, and intensities with sensor noise.

Pure numpy, no I/O. Functions that draw take a :class:`numpy.random.Generator` and
draw from it in a fixed order. Optical density is unitless, natural-log based
(``OD = -ln(I / mean(I))``, as in :func:`mne.preprocessing.nirs.optical_density`);
intensities are in volts (arbitrary device units).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["haemoglobin_to_od", "MotionEvent", "motion_artefacts", "add_motion_event",
           "od_to_intensity"]


def haemoglobin_to_od(hbo: np.ndarray, hbr: np.ndarray, abs_coef: np.ndarray,
                      distances: np.ndarray, ppf: float) -> np.ndarray:
    """Optical density from haemoglobin by the modified Beer-Lambert law.

    Uses MNE's convention, the exact inverse of
    :func:`mne.preprocessing.nirs.beer_lambert_law`:
    ``OD[w] = 1e3 * ppf * d * (abs_coef[w, 0] HbO + abs_coef[w, 1] HbR)``.

    Parameters
    ----------
    hbo, hbr : numpy.ndarray
        Shape (n_channels, n_times), mol/L.
    abs_coef : numpy.ndarray
        Shape (n_wavelengths, 2), MNE's absorption coefficients (columns HbO, HbR)
        of each wavelength.
    distances : numpy.ndarray
        Shape (n_channels,), source-detector distances in metres.
    ppf : float
        Partial pathlength factor.

    Returns
    -------
    numpy.ndarray
        Shape (n_channels, n_wavelengths, n_times), unitless optical density.
    """
    scale = 1e3 * ppf * np.asarray(distances, float)[:, None, None]
    coef = np.asarray(abs_coef, float)
    od = (coef[None, :, 0, None] * hbo[:, None, :] + coef[None, :, 1, None] * hbr[:, None, :])
    return scale * od


@dataclass(frozen=True)
class MotionEvent:
    """One head-motion artefact.

    Attributes
    ----------
    kind : str
        ``"spike"`` (transient, back to baseline within seconds) or ``"shift"``
        (lasting baseline change).
    onset : float
        Start in seconds from the beginning of the recording.
    duration : float
        Seconds until the spike has mostly decayed / the shift is complete.
    amplitude : float
        Peak optical-density change at the most affected channel (positive = less
        light).
    channels : tuple of int
        Indices of the affected channels (weight above 0.2).
    """

    kind: str
    onset: float
    duration: float
    amplitude: float
    channels: tuple[int, ...]


def motion_artefacts(rng: np.random.Generator, n_times: int, sfreq: float,
                     positions: np.ndarray, n_wavelengths: int = 2, *,
                     spikes_per_minute: float = 0.25, shifts_per_minute: float = 0.12
                     ) -> tuple[np.ndarray, list[MotionEvent]]:
    """Head-motion artefacts: spikes and baseline shifts on neighbouring channels.

    Each event hits the channels near a random centre channel (Gaussian fall-off of
    1.5-4 cm; the channels within 2.7-7 cm are hit), with the same sign and nearly
    the same size (+-10 %) at every wavelength, as a change of optode-scalp coupling
    does. A recording has ``1 + Poisson(spikes_per_minute * minutes)`` spikes and
    ``Poisson(shifts_per_minute * minutes)`` shifts.

    Parameters
    ----------
    positions : numpy.ndarray
        Shape (n_channels, 3), channel midpoints in metres.

    Returns
    -------
    od : numpy.ndarray
        Shape (n_channels, n_wavelengths, n_times), optical density to add.
    events : list of MotionEvent
        Sorted by onset.
    """
    n_ch = positions.shape[0]
    minutes = n_times / sfreq / 60.0
    n_spikes = 1 + int(rng.poisson(spikes_per_minute * minutes))
    n_shifts = int(rng.poisson(shifts_per_minute * minutes))
    t = np.arange(n_times) / sfreq
    t_end = t[-1]
    margin = min(5.0, 0.05 * t_end)
    od = np.zeros((n_ch, n_wavelengths, n_times))
    events: list[MotionEvent] = []
    for kind in ["spike"] * n_spikes + ["shift"] * n_shifts:
        onset = float(rng.uniform(margin, t_end - margin))
        events.append(add_motion_event(rng, od, kind, onset, t, positions))
    events.sort(key=lambda e: e.onset)
    return od, events


def add_motion_event(rng: np.random.Generator, od: np.ndarray, kind: str, onset: float,
                     t: np.ndarray, positions: np.ndarray) -> MotionEvent:
    """Add one motion artefact starting at ``onset`` seconds to ``od`` in place.

    Draws the centre channel, the spatial width, the sign, the per-wavelength
    jitter and the time course (see :func:`motion_artefacts`).

    Parameters
    ----------
    od : numpy.ndarray
        Shape (n_channels, n_wavelengths, n_times), optical density; changed.
    kind : str
        ``"spike"`` or ``"shift"``.
    t : numpy.ndarray
        Shape (n_times,), sample times in seconds.
    positions : numpy.ndarray
        Shape (n_channels, 3), channel midpoints in metres.

    Returns
    -------
    MotionEvent
    """
    n_ch, n_wavelengths = od.shape[:2]
    centre = int(rng.integers(n_ch))
    width = rng.uniform(0.015, 0.04)
    dist = np.linalg.norm(positions - positions[centre], axis=1)
    weight = np.exp(-0.5 * (dist / width) ** 2)
    weight[weight < 0.2] = 0.0
    sign = 1.0 if rng.random() < 0.7 else -1.0
    wl_jitter = rng.uniform(0.9, 1.1, size=(n_ch, n_wavelengths))
    dt = t - onset
    if kind == "spike":
        amplitude = sign * rng.uniform(0.05, 0.3)
        rise, decay = rng.uniform(0.1, 0.4), rng.uniform(0.5, 2.0)
        shape = np.where(dt >= 0, (1 - np.exp(-np.clip(dt, 0, None) / rise))
                         * np.exp(-np.clip(dt, 0, None) / decay), 0.0)
        shape /= shape.max()
        duration = rise + 3 * decay
    else:
        amplitude = sign * rng.uniform(0.03, 0.15)
        ramp = rng.uniform(0.3, 1.5)
        shape = np.clip(dt / ramp, 0.0, 1.0)
        duration = ramp
    od += amplitude * (weight[:, None] * wl_jitter)[:, :, None] * shape[None, None, :]
    return MotionEvent(kind, round(onset, 3), round(float(duration), 3),
                       round(float(amplitude), 4),
                       tuple(int(i) for i in np.flatnonzero(weight)))


def od_to_intensity(rng: np.random.Generator, od: np.ndarray, baseline: np.ndarray,
                    noise_sd: np.ndarray) -> np.ndarray:
    """Continuous-wave intensity with multiplicative sensor noise.

    ``I = I0 * exp(-OD) * (1 + noise_sd * e)`` with ``e`` white Gaussian noise, so
    that MNE's ``optical_density`` (``-ln(I / mean(I))``) returns ``OD`` up to a
    constant, plus noise.

    Parameters
    ----------
    od : numpy.ndarray
        Shape (n_channels, n_wavelengths, n_times).
    baseline : numpy.ndarray
        Shape (n_channels, n_wavelengths), ``I0`` in volts.
    noise_sd : numpy.ndarray
        Shape (n_channels, n_wavelengths), relative noise standard deviation.

    Returns
    -------
    numpy.ndarray
        Shape (n_channels, n_wavelengths, n_times), positive intensities in volts.
    """
    noise = rng.standard_normal(od.shape)
    factor = np.clip(1.0 + noise_sd[..., None] * noise, 0.05, None)
    return baseline[..., None] * np.exp(-od) * factor
