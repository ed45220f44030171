"""Monte Carlo significance of wavelet coherence against AR(1) red noise.

Follows Grinsted's ``wtcsignif.m`` (Grinsted, Moore & Jevrejeva 2004, Sec. 4): the
AR(1) coefficient of each series is estimated (:func:`ar1_coefficient`, the estimator of
``ar1nv.m`` that ``wtc.m`` uses by default), pairs of independent red-noise series with
those coefficients are simulated, their wavelet coherence is computed on the analysis
grid, and per scale the 95th percentile of the coherence of all surrogates over all
cells outside the cone of influence is the significance level. Coherence above it is
significant at the 5 % level against the null hypothesis of two independent AR(1)
processes with the observed lag-1 autocorrelations.

Everything is batched: surrogates are generated a chunk at a time with
:func:`scipy.signal.lfilter` along the time axis, their transforms and smoothed
auto-spectra are computed with :func:`~interbrain.synchrony.coherence.channel_spectra`
and the coherence of surrogate pair ``k = (A_k, B_k)`` with
:func:`~interbrain.synchrony.coherence.iter_pair_coherence`; only the band's scales of
a band-restricted :class:`~interbrain.synchrony.wavelet.WaveletGrid` are computed.
A threshold depends only on the (rounded) AR coefficients and the grid, so it is
computed once and reused for every pair with the same coefficients through an explicit
:class:`ThresholdCache` (in memory, optionally on disk).

The package: the AR(1) model and its surrogates (:mod:`.ar1`), the threshold and its
key (:mod:`.threshold`), the Monte Carlo (:mod:`.monte_carlo`), the cache
(:mod:`.cache`), and the significant fraction of a pair's coherence
(:mod:`.fraction`).

Deliberate deviations from ``wtcsignif.m``
------------------------------------------
* **Surrogate length.** Grinsted simulates ``ceil(6 * largest scale / dt)`` samples
  regardless of the data; here the surrogates have the length of the analysed
  recording and use its very grid (padding, cone of influence), so the threshold is
  the quantile over exactly the cells the analysis uses, and the grid is shared.
* **Stationary start.** Grinsted discards a burn-in of two decorrelation times; here
  the first sample is drawn from the stationary distribution (variance
  ``1 / (1 - g**2)`` for unit innovations), which is exact and costs nothing even for
  ``g`` close to 1 (fNIRS at 10 Hz has ``g`` around 0.99).
* **Quantile.** Grinsted bins the coherence into 1000 bins per scale (assigning each
  bin a value slightly off its centre) and interpolates the empirical CDF. Here a
  histogram of :data:`HISTOGRAM_BINS` (16384) bins per scale is accumulated and the
  quantile is interpolated linearly inside its bin: within ``1 / 16384 = 6e-5`` of the
  exact sample quantile (the smallest value whose empirical CDF reaches ``quantile``,
  numpy's ``method="inverted_cdf"``), far below the Monte Carlo error (about ``1e-3``
  for 300 surrogates), at a fixed memory cost independent of the number of surrogates.
  Exact quantiles would need all ``n_surrogates * n_cells`` values in memory (about
  0.75 GB for 300 surrogates of 10 minutes at 10 Hz in the 5-100 s band).
* **Cone of influence.** Cells count as outside the cone where ``period < coi`` (as in
  :func:`~interbrain.synchrony.coherence.band_mean_coherence` and
  ``WaveletGrid.valid``), not ``period <= coi``; this changes at most one cell per
  scale.
* **Cache key.** Grinsted keys his cache by ``round(4 * atanh(g))`` (which lumps
  together e.g. ``g = 0.6`` and ``0.7``) and ignores the series length. Here the AR
  coefficients are rounded to two decimals, and where ``g > 0.9`` to two significant
  digits of ``1 - g`` (see :func:`quantize_ar1`; at 10 Hz ``g = 0.99`` and ``0.999``
  are very different spectra), the surrogates are simulated with the *rounded*
  coefficients (so a cached threshold does not depend on which pair computed it
  first), and the key holds the full grid identity (length, sampling interval, scales,
  band, padding, precision).
* **Symmetry.** Coherence is symmetric in its two series, so the coefficients are put
  in ascending order before simulating: ``(g_x, g_y)`` and ``(g_y, g_x)`` share one
  threshold.
* **Innovation variance.** Coherence is invariant to rescaling either series, so the
  surrogates use unit innovations; the innovation standard deviation returned by
  :func:`ar1_coefficient` is informational.

References
----------
Grinsted, A., Moore, J. C. & Jevrejeva, S. (2004). Application of the cross wavelet
transform and wavelet coherence to geophysical time series. *Nonlinear Processes in
Geophysics* 11:561-566.

Torrence, C. & Compo, G. P. (1998). A practical guide to wavelet analysis.
*Bulletin of the American Meteorological Society* 79:61-78.
"""

from .ar1 import ar1_coefficient, ar1_surrogates, quantize_ar1
from .cache import ThresholdCache
from .fraction import BandSignificance, band_significance, significant_fraction
from .monte_carlo import coherence_threshold
from .threshold import HISTOGRAM_BINS, MIN_SURROGATES, SignificanceThreshold, threshold_key

__all__ = [
    "HISTOGRAM_BINS",
    "MIN_SURROGATES",
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
]
