"""Simulated psychotherapy hyperscanning studies with planted inter-brain coupling.

:func:`simulate_study` writes a complete study folder (``study.toml``,
``measures.csv``, ``ground_truth.json`` and one SNIRF file per person and session)
whose raw fNIRS intensities hold realistic physiology (heart beat, breathing, Mayer
waves, drift), sensor noise, motion artefacts, channels with poor scalp coupling and
a band-limited signal shared by therapist and patient whose strength rises over
sessions. Presets (:mod:`.presets`): ``"field"`` (the default: effect sizes as the
field sees them, coupling confined to regions with a lag and a leader per dyad,
therapist-specific growth, short-separation channels, auxiliary signals) and
``"demo"`` (the large effects of the demo, none of the rest). Confounds (at a
strength, constant or changing over sessions: :class:`Confound`), sparse scanning,
generalisation recordings and phases of the sessions (labelled segments written as
SNIRF stimuli, coupling in some phases only) are switched on by arguments.
:func:`simulate_recording` simulates a single recording; :func:`planted_coupling`
gives back the coupling components planted in a dyad-session.

Modules: :mod:`.waveforms` (random waveforms), :mod:`.signals` (one person's
haemoglobin and the planted coupling), :mod:`.optics` (optical density, motion
artefacts, sensor noise), :mod:`.confounds` (paced breathing, speech-locked systemic
changes, shared motion) (these four numpy only), :mod:`.confound_specs` (strength
and session profile of each confound), :mod:`.phases` (segments of a session, their
stimuli and the coupling mask), :mod:`.montage` (the 20-channel
prefrontal montage and its short channels), :mod:`.streams` (random streams),
:mod:`.presets`, :mod:`.coupling` (dyad slopes, lags, leaders, shared signals),
:mod:`.aux` (auxiliary signals, SNIRF ``aux`` groups), :mod:`.recording` (one
recording, SNIRF writing), :mod:`.pair` (the two recordings of a pairing),
:mod:`.study_files` (the text files and the planted models) and :mod:`.folder`
(writing the study folder).
"""

from .aux import AUX_CHANNELS
from .confound_specs import Confound
from .coupling import planted_coupling
from .folder import simulate_study
from .montage import Montage, prefrontal_montage, with_short_channels
from .presets import CONFOUNDS, PRESETS
from .recording import (RecordingOptions, SimulatedRecording, extinction_coefficients,
                        simulate_recording, write_snirf)
from .signals import coupling_strength
from .study_files import COUPLING_MODEL, MEASURE_MODEL

__all__ = [
    "simulate_study", "simulate_recording", "SimulatedRecording", "RecordingOptions",
    "write_snirf", "prefrontal_montage", "with_short_channels", "Montage",
    "coupling_strength", "extinction_coefficients", "planted_coupling", "PRESETS",
    "CONFOUNDS", "Confound", "AUX_CHANNELS", "COUPLING_MODEL", "MEASURE_MODEL",
]
