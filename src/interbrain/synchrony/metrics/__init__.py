"""Inter-brain synchrony metrics besides wavelet coherence, batched over channel pairs.

Every metric takes the two partners' recordings ``a`` and ``b`` as arrays of shape
``(n_channels, n_times)`` sampled every ``dt`` seconds (the same number of samples on
both sides, channel counts may differ) and a pair specification:

* ``"homologous"``: ``(i, i)`` for every channel (both sides need the same number of
  channels);
* ``"all"``: every ``(i, j)`` in row-major order (``i`` of ``a`` varies slowest);
* an explicit sequence of ``(i, j)`` index pairs (``i`` indexes ``a``, ``j`` ``b``).

It returns one value per pair, in the order of the pairs, or one value per pair and
time window for the windowed variants.

Metrics
-------
:func:`pearson_correlation`
    Pearson's r over the whole recording or in sliding windows; optional Fisher z.
:func:`ar_robust_correlation`
    The AR-prewhitened robust correlation of the NIRS Brain AnalyzIR toolbox
    (``nirs.sFC.ar_corr``; Santosa et al. 2017): each channel is prewhitened with its
    own autoregressive model (order chosen by BIC) and the innovations are correlated
    with Tukey-bisquare robust regressions.
:func:`phase_locking_value`
    Phase-locking value in a band of periods (Lachaux et al. 1999).
:func:`compute_metric`
    One entry point for all of them by name (:data:`METRICS`).

Modules: :mod:`.pearson`, :mod:`.prewhitening` (AR models), :mod:`.robust` (Tukey
bisquare correlation), :mod:`.ar_robust`, :mod:`.phase_locking`, :mod:`.windows`
(sliding windows) and :mod:`.registry` (the metrics by name).

References
----------
Fisher, R. A. (1915). Frequency distribution of the values of the correlation
coefficient in samples from an indefinitely large population. *Biometrika* 10:507-521.

Santosa, H., Aarabi, A., Perlman, S. B. & Huppert, T. J. (2017). Characterization and
correction of the false-discovery rates in resting state connectivity using functional
near-infrared spectroscopy. *Journal of Biomedical Optics* 22(5):055002.

Barker, J. W., Aarabi, A. & Huppert, T. J. (2013). Autoregressive model based algorithm
for correcting motion and serially correlated errors in fNIRS. *Biomedical Optics
Express* 4(8):1366-1379.

Shevlyakov, G. & Smirnov, P. (2011). Robust estimation of the correlation coefficient:
an attempt of survey. *Austrian Journal of Statistics* 40(1&2):147-156.

Beaton, A. E. & Tukey, J. W. (1974). The fitting of power series, meaning polynomials,
illustrated on band-spectroscopic data. *Technometrics* 16:147-185.

Schwarz, G. (1978). Estimating the dimension of a model. *Annals of Statistics*
6:461-464.

Lachaux, J.-P., Rodriguez, E., Martinerie, J. & Varela, F. J. (1999). Measuring phase
synchrony in brain signals. *Human Brain Mapping* 8:194-208.
"""

from .ar_robust import AR_MAX_ORDER_SECONDS, ARRobustCorrelation, ar_robust_correlation
from .pearson import pearson_correlation
from .phase_locking import phase_locking_value
from .prewhitening import ARPrewhitened, ar_prewhiten
from .registry import METRICS, compute_metric
from .robust import TUKEY_C, robust_correlation
from .windows import window_starts

__all__ = [
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
]
