"""Simulated psychotherapy hyperscanning studies with planted inter-brain coupling.

:func:`simulate_study` writes a complete study folder (``study.toml``,
``measures.csv``, ``ground_truth.json`` and one SNIRF file per person and session)
whose raw fNIRS intensities hold realistic physiology (heart beat, breathing, Mayer
waves, drift), sensor noise, motion artefacts, channels with poor scalp coupling and
a band-limited signal shared by therapist and patient whose strength rises over
sessions. :func:`simulate_recording` simulates a single recording.

Modules: :mod:`.signals` (signal generation, numpy only), :mod:`.montage` (the
20-channel prefrontal montage), :mod:`.study` (writing the study folder).
"""

from .montage import Montage, prefrontal_montage
from .signals import coupling_strength
from .study import (COUPLING_MODEL, MEASURE_MODEL, SimulatedRecording,
                    extinction_coefficients, simulate_recording, simulate_study,
                    write_snirf)

__all__ = [
    "simulate_study", "simulate_recording", "SimulatedRecording", "write_snirf",
    "prefrontal_montage", "Montage", "coupling_strength", "extinction_coefficients",
    "COUPLING_MODEL", "MEASURE_MODEL",
]
