"""Morlet continuous wavelet transform and the smoothing of wavelet coherence.

This package reproduces, to floating-point round-off, the wavelet transform of
Torrence & Compo's ``wavelet.m`` (Morlet mother wavelet, w0 = 6) and the smoothing
operator of Grinsted's ``smoothwavelet.m`` as they are called by ``wtc.m`` of the
Cross Wavelet and Wavelet Coherence toolbox. Every detail that changes the numbers
is kept:

* the series is de-meaned and, with ``pad=True``, zero-padded to
  ``2**(fix(log(n)/log(2) + 0.4999) + 1)`` samples before the FFT;
* scales are ``s0 * 2**(j * dj)``, ``j = 0..j1``, with ``j1 = round(log2(max_scale / s0) / dj)``
  (MATLAB ``round``: half away from zero) and ``max_scale = (n * 0.17) * 2 * dt``
  by default;
* the cone of influence is ``fourier_factor / sqrt(2) * dt * [1e-5, 1:((n+1)/2-1),
  fliplr(1:(n/2-1)), 1e-5]`` with MATLAB colon semantics for non-integer ends;
* time smoothing is a Gaussian of standard deviation ``scale`` applied in the Fourier
  domain over ``2**ceil(log2(n))`` points (so it is circular when ``n`` is a power of
  two);
* scale smoothing is a boxcar of 0.6 scales: ``dj0steps = 0.6 / (dj * 2)`` evaluated
  in floating point (for ``dj = 0.1`` this is 2.9999999999999996, which gives a
  7-tap kernel with end weights 0.9999999999999996), kernel ``[mod(dj0steps, 1),
  ones(2*round(dj0steps) - 1), mod(dj0steps, 1)]`` normalised to unit sum, applied
  as a zero-padded ``'same'`` convolution along scales.

The computation is organised around a :class:`WaveletGrid` (:mod:`.grid`), which
holds everything that depends only on the recording length, the sampling interval
and the options (scales, periods, cone of influence: :mod:`.scales`; Fourier-domain
filters; optionally the subset of scales needed for one period band), so that
transforms of many channels can share it and be computed batched (:mod:`.transform`,
smoothing in :mod:`.smoothing`).

References
----------
Torrence, C. & Compo, G. P. (1998). A practical guide to wavelet analysis.
*Bulletin of the American Meteorological Society* 79:61-78.

Grinsted, A., Moore, J. C. & Jevrejeva, S. (2004). Application of the cross wavelet
transform and wavelet coherence to geophysical time series. *Nonlinear Processes in
Geophysics* 11:561-566.
"""

from .grid import WaveletGrid
from .scales import (COI_FACTOR, FOURIER_FACTOR, MORLET_W0, matlab_round, min_samples_for_band,
                     scale_smoothing_kernel)
from .smoothing import smooth_scale, smooth_wavelet
from .transform import DEFAULT_CHUNK_BYTES, cwt

__all__ = [
    "COI_FACTOR",
    "DEFAULT_CHUNK_BYTES",
    "FOURIER_FACTOR",
    "MORLET_W0",
    "WaveletGrid",
    "cwt",
    "matlab_round",
    "min_samples_for_band",
    "scale_smoothing_kernel",
    "smooth_scale",
    "smooth_wavelet",
]
