"""Inter-brain synchrony: wavelet transform coherence (Grinsted et al. 2004).

:func:`wtc` reproduces Grinsted's ``wtc.m`` for one pair of series. For studies, build
one :class:`WaveletGrid` per recording length and band, compute each recording's
:func:`channel_spectra` once, and get band-averaged coherence of any channel pairs
(across recordings too) with :func:`band_mean_coherence`; :func:`band_coherence`
does all of it for two arrays of channels.

Other metrics behind one interface (:func:`compute_metric`): windowed Pearson
correlation, AR-prewhitened robust correlation (NIRS Brain AnalyzIR) and the
phase-locking value. Summaries per time window, per region of interest and per
time lag (:mod:`.summaries`); significance thresholds of coherence against AR(1) red
noise like Grinsted's ``wtcsignif`` (:mod:`.significance`).

Modules: :mod:`.wavelet` (grid, transform, smoothing), :mod:`.spectra` (per-channel
transforms and auto-spectra, in memory reused across recordings: :mod:`.buffers`), :mod:`.coherence` (pairs), :mod:`.metrics`,
:mod:`.summaries`, :mod:`.significance`, :mod:`.pairs` (channel pairs),
:mod:`.settings` (``[analysis]``) and :mod:`.session`: the synchrony of all the real
and pseudo pairings of one session number, as the engine computes it (import it from
there; it is not re-exported here).
"""

from .coherence import (WTCResult, band_coherence, band_mean_coherence, iter_pair_coherence,
                        pair_coherence, wtc)
from .metrics import (AR_MAX_ORDER_SECONDS, METRICS, TUKEY_C, ARPrewhitened, ARRobustCorrelation,
                      ar_prewhiten, ar_robust_correlation, compute_metric, pearson_correlation,
                      phase_locking_value, robust_correlation, window_starts)
from .pairs import resolve_pairs
from .significance import (HISTOGRAM_BINS, BandSignificance, SignificanceThreshold,
                           ThresholdCache, ar1_coefficient, ar1_surrogates, band_significance,
                           coherence_threshold, quantize_ar1, significant_fraction,
                           threshold_key)
from .buffers import SPECTRA_BUFFERS, release_spectra_buffers
from .spectra import ChannelSpectra, channel_spectra
from .summaries import (ROI_METHODS, Segment, lagged_band_coherence, leader,
                        region_mean_of_pairs, region_signal_coherence,
                        segments_from_annotations, windowed_band_coherence)
from .wavelet import (COI_FACTOR, FOURIER_FACTOR, MORLET_W0, WaveletGrid, cwt, matlab_round,
                      min_samples_for_band, scale_smoothing_kernel, smooth_scale,
                      smooth_wavelet)

__all__ = [
    "SPECTRA_BUFFERS",
    "release_spectra_buffers",
    "HISTOGRAM_BINS",
    "BandSignificance",
    "SignificanceThreshold",
    "ThresholdCache",
    "ar1_coefficient",
    "ar1_surrogates",
    "band_significance",
    "coherence_threshold",
    "quantize_ar1",
    "significant_fraction",
    "threshold_key",
    "ROI_METHODS",
    "Segment",
    "lagged_band_coherence",
    "leader",
    "region_mean_of_pairs",
    "region_signal_coherence",
    "segments_from_annotations",
    "windowed_band_coherence",
    "AR_MAX_ORDER_SECONDS",
    "METRICS",
    "TUKEY_C",
    "ARPrewhitened",
    "ARRobustCorrelation",
    "ar_prewhiten",
    "ar_robust_correlation",
    "compute_metric",
    "pearson_correlation",
    "phase_locking_value",
    "robust_correlation",
    "window_starts",
    "COI_FACTOR",
    "FOURIER_FACTOR",
    "MORLET_W0",
    "ChannelSpectra",
    "WTCResult",
    "WaveletGrid",
    "band_coherence",
    "band_mean_coherence",
    "channel_spectra",
    "cwt",
    "iter_pair_coherence",
    "matlab_round",
    "min_samples_for_band",
    "pair_coherence",
    "resolve_pairs",
    "scale_smoothing_kernel",
    "smooth_scale",
    "smooth_wavelet",
    "wtc",
]
