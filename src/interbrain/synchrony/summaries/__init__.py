"""Summaries of wavelet coherence: per time window, per region of interest, per time lag.

Three ways to condense the coherence maps of :mod:`interbrain.synchrony.coherence` into
numbers a therapy study can model:

Per time window
    :func:`windowed_band_coherence` averages each channel pair's coherence map over the
    band's scales and the cells whose time falls in a window: consecutive windows of a
    fixed length (per minute, say) or explicit segments such as the annotated phases of
    a session (:func:`segments_from_annotations` turns ``mne.Annotations`` into
    segments).

Per region of interest (ROI), in two flavours that answer different questions and are
labelled in the output column ``roi_method``
    ``"mean_of_pairs"`` (:func:`region_mean_of_pairs`): the average of the channel-pair
    values whose channels lie in regions ``(region_a, region_b)``;
    ``"region_average_signal"`` (:func:`region_signal_coherence`): the coherence of the
    region-averaged signals, one signal per region and partner. Averaging signals first
    cancels channel noise that is independent across channels, so the two flavours
    generally differ; the first is bounded by the channel-pair coherences, the second is
    not.

Per time lag
    :func:`lagged_band_coherence` shifts partner B against partner A and
    :func:`leader` reports, for each pair, the lag of maximal coherence.

Modules: :mod:`.windows`, :mod:`.regions`, :mod:`.lags`. All times and lags are in
seconds. Cell ``k`` of a coherence map (sample ``k``) is at time ``k * dt`` after the
recording's first sample.
"""

from .lags import lagged_band_coherence, leader
from .regions import ROI_METHODS, region_mean_of_pairs, region_signal_coherence
from .windows import Segment, segments_from_annotations, windowed_band_coherence

__all__ = [
    "ROI_METHODS",
    "Segment",
    "lagged_band_coherence",
    "leader",
    "region_mean_of_pairs",
    "region_signal_coherence",
    "segments_from_annotations",
    "windowed_band_coherence",
]
