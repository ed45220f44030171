"""Simulated psychotherapy hyperscanning studies with planted inter-brain coupling.

:func:`simulate_study` writes a complete study folder (``study.toml``,
``measures.csv``, ``ground_truth.json`` and one SNIRF file per person and session)
whose raw fNIRS intensities hold realistic physiology (heart beat, breathing, Mayer
waves, drift), sensor noise, motion artefacts, channels with poor scalp coupling and
a band-limited signal shared by therapist and patient whose strength rises over
sessions. :func:`simulate_recording` simulates a single recording.

Modules: :mod:`.waveforms` (random waveforms), :mod:`.signals` (one person's
haemoglobin and the planted coupling), :mod:`.optics` (optical density, motion
artefacts, sensor noise) (these three numpy only), :mod:`.montage` (the 20-channel
prefrontal montage), :mod:`.recording` (one recording, SNIRF writing),
:mod:`.study_files` (the text files and the planted models) and :mod:`.folder`
(writing the study folder).
"""

from .folder import simulate_study
from .montage import Montage, prefrontal_montage
from .recording import (SimulatedRecording, extinction_coefficients, simulate_recording,
                        write_snirf)
from .signals import coupling_strength
from .study_files import COUPLING_MODEL, MEASURE_MODEL

__all__ = [
    "simulate_study", "simulate_recording", "SimulatedRecording", "write_snirf",
    "prefrontal_montage", "Montage", "coupling_strength", "extinction_coefficients",
    "COUPLING_MODEL", "MEASURE_MODEL",
]
