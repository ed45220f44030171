"""Quality control and preprocessing of one person's recording (MNE / MNE-NIRS).

The chain (:func:`preprocess_recording`, configured by :class:`PreprocessingSettings`):
raw intensity -> optical density -> quality control (flat, saturated, scalp coupling
index, peak spectral power, motion fraction; :func:`channel_quality`) -> motion
correction (TDDR, spline, wavelet or none; :mod:`.motion`) -> short-channel
regression -> modified Beer-Lambert law (HbO/HbR) -> band-pass -> optional
global-signal removal. Optical-density and haemoglobin inputs enter the chain where
they belong; haemoglobin input may hold HbO only or HbR only (:class:`Preprocessed`
keeps the signals it has). :mod:`.regions` labels channels with their nearest 10-20 / 10-10
position.
"""

from .chain import global_signal_regression, preprocess_recording
from .preprocessed import HB_SIGNALS, Preprocessed
from .motion import correct_motion, detect_motion, spline_correction, wavelet_correction
from .qc import channel_quality, input_kind, pair_names
from .regions import channel_positions, regions_from_montage, resolve_regions
from .settings import MOTION_CORRECTIONS, PreprocessingSettings

__all__ = [
    "Preprocessed", "HB_SIGNALS", "PreprocessingSettings", "MOTION_CORRECTIONS",
    "preprocess_recording",
    "channel_quality", "input_kind", "pair_names", "detect_motion", "correct_motion",
    "spline_correction", "wavelet_correction", "global_signal_regression",
    "channel_positions", "regions_from_montage", "resolve_regions",
]
