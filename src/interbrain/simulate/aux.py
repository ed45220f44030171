"""Auxiliary signals of a simulated recording and their SNIRF ``aux`` groups.

Every simulated person wears a respiration belt, a pulse oximeter (PPG) and a
head-mounted 3-axis accelerometer, recorded with the fNIRS at the same sampling
times. The signals come from the person's own physiology (the breathing and
heart-beat waveforms of the haemodynamics, the instantaneous heart rate), their
motion artefacts and the switched-on confounds, so what is shared between the
partners by a confound is visible in the auxiliary signals too.

Written as ``/nirs/aux1``, ``/nirs/aux2``, ... (``name``, ``dataTimeSeries``,
``dataUnit``, ``time``, ``timeOffset``), readable with
:func:`mne_nirs.io.snirf.read_snirf_aux_data`.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

__all__ = ["AUX_CHANNELS", "auxiliary_signals", "write_aux"]

#: Name -> unit of the auxiliary channels, in file order.
AUX_CHANNELS: dict[str, str] = {
    "respiration": "a.u.", "ppg": "a.u.", "heart_rate": "bpm",
    "accel_x": "g", "accel_y": "g", "accel_z": "g",
}


def auxiliary_signals(rng: np.random.Generator, *, sfreq: float, respiration: np.ndarray,
                      cardiac: np.ndarray, heart_rate: np.ndarray,
                      motion_events: list[dict], speech: np.ndarray | None = None
                      ) -> dict[str, np.ndarray]:
    """The auxiliary signals of one recording.

    Parameters
    ----------
    rng : numpy.random.Generator
        The recording's auxiliary stream.
    sfreq : float
        Sampling rate in Hz.
    respiration, cardiac : numpy.ndarray
        Shape (n_times,), the unit-variance breathing and heart-beat waveforms.
    heart_rate : numpy.ndarray
        Shape (n_times,), instantaneous heart rate in Hz.
    motion_events : list of dict
        ``onset`` (s) and ``amplitude`` (optical density) of each motion artefact.
    speech : numpy.ndarray or None
        Shape (n_times,), 1 while a speech turn lasts (breathing is shallower, the
        jaw moves).

    Returns
    -------
    dict
        Name -> shape (n_times,) signal, in the order and units of
        :data:`AUX_CHANNELS`.
    """
    n = respiration.size
    t = np.arange(n) / sfreq
    belt = np.asarray(respiration, float).copy()
    if speech is not None:
        belt = belt * (1.0 - 0.5 * speech)
    out = {"respiration": belt + 0.05 * rng.standard_normal(n),
           "ppg": np.asarray(cardiac, float) + 0.05 * rng.standard_normal(n),
           "heart_rate": 60.0 * np.asarray(heart_rate, float) + 0.5 * rng.standard_normal(n)}
    tilt = rng.normal(0.0, 0.15, 2)
    gravity = np.array([np.sin(tilt[0]), np.sin(tilt[1]),
                        np.sqrt(max(0.0, 1.0 - np.sin(tilt[0]) ** 2 - np.sin(tilt[1]) ** 2))])
    accel = gravity[:, None] + 0.002 * rng.standard_normal((3, n))
    for ev in motion_events:
        dt = t - ev["onset"]
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        burst = np.where(dt >= 0, np.exp(-np.clip(dt, 0, None) / 0.4), 0.0)
        burst = burst * np.cos(2 * np.pi * 0.4 * sfreq * np.clip(dt, 0, None))
        accel += 2.0 * abs(ev["amplitude"]) * direction[:, None] * burst[None, :]
    if speech is not None:
        accel += 0.01 * speech[None, :] * rng.standard_normal((3, n))
    out.update(accel_x=accel[0], accel_y=accel[1], accel_z=accel[2])
    return out


def write_aux(path: str | Path, signals: dict[str, np.ndarray], sfreq: float) -> None:
    """Append auxiliary signals to a SNIRF file as ``/nirs/aux1``, ``aux2``, ...

    Parameters
    ----------
    path : str or Path
        A SNIRF file (written by :func:`~interbrain.simulate.write_snirf`); changed.
    signals : dict
        Name -> shape (n_times,) signal, sampled at the recording's times.
    sfreq : float
        Sampling rate in Hz (the times are ``arange(n_times) / sfreq``).
    """
    with h5py.File(path, "r+") as f:
        nirs = f["nirs"]
        taken = [k for k in nirs if k.startswith("aux")]
        for j, (name, data) in enumerate(signals.items(), start=len(taken) + 1):
            group = nirs.create_group(f"aux{j}")
            group.create_dataset("name", data=[name.encode("utf-8")])
            group.create_dataset("dataTimeSeries", data=np.asarray(data, np.float64))
            unit = AUX_CHANNELS.get(name, "a.u.")
            group.create_dataset("dataUnit", data=[unit.encode("utf-8")])
            group.create_dataset("time", data=np.arange(len(data), dtype=np.float64) / sfreq)
            group.create_dataset("timeOffset", data=[0.0])
