"""Settings of the synchrony analysis and its null controls (``[analysis]``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .._check import check_int, settings_from_table
from ..errors import StudyError
from .wavelet.fft import fft_library

SIGNALS: tuple[str, ...] = ("hbo", "hbr")
#: Suffix of the signals of the short-separation channels (the systemic null).
SHORT_SUFFIX = "_short"
#: Signals of the short-separation channels: HbO and HbR of the scalp and systemic
#: physiology, paired between partners like the long channels.
SHORT_SIGNALS: tuple[str, ...] = tuple(s + SHORT_SUFFIX for s in SIGNALS)
METRICS: tuple[str, ...] = ("wtc", "pearson", "ar_robust_correlation", "plv")
#: The correlation-type metrics: values in [-1, 1] whose sampling distribution the
#: Fisher z-transform (``atanh``) makes near-normal with a variance free of the
#: correlation. Wavelet coherence and the phase-locking value are magnitudes in [0, 1]
#: (squared coherence, the length of a mean phase vector), not correlations: ``atanh``
#: has no variance-stabilising meaning for them, so ``fisher_z`` leaves them as they are.
CORRELATION_METRICS: tuple[str, ...] = ("pearson", "ar_robust_correlation")
#: Channel pairs analysed: homologous channels, or every channel with every channel.
PAIRINGS: tuple[str, ...] = ("homologous", "all")
#: Region-of-interest summaries of ``roi``.
ROI_OPTIONS: tuple[str, ...] = ("none", "mean_of_pairs", "region_average_signal", "both")
#: Floating-point precisions of the wavelet transforms.
PRECISIONS: tuple[str, ...] = ("float64", "float32", "fast")
#: Surrogate null controls of ``surrogates`` (made by :mod:`interbrain.nulls.surrogates`).
SURROGATE_KINDS: tuple[str, ...] = ("circular_shift", "phase_randomised")


@dataclass(frozen=True)
class AnalysisSettings:
    """Settings of the synchrony analysis.

    Parameters
    ----------
    band : tuple of float
        Shortest and longest wavelet period averaged over, in seconds.
    signals : tuple of str
        Haemoglobin signals analysed, among ``"hbo"`` and ``"hbr"`` (long channels) and
        ``"hbo_short"`` and ``"hbr_short"`` (short-separation channels: see
        ``systemic_null``).
    pairs : str
        ``"homologous"`` (channel i of one partner with channel i of the other) or
        ``"all"`` (every channel of one partner with every channel of the other).
    exclude_coi : bool
        Average only the wavelet cells outside the cone of influence.
    pseudo_dyads : bool
        Also compute synchrony of pseudo-dyads (the therapist of one dyad with the
        patients of the other dyads in the same session number).
    pseudo_dyads_per_dyad : int
        0 (default): every pseudo-dyad; otherwise a seeded random subset of at most
        this many other dyads' patients per therapist and session, so that the cost
        of the null grows linearly with the number of dyads.
    pseudo_dyads_seed : int
        Seed of that subset, and of the subset of familiarity pairings.
    familiarity : bool
        Also compute synchrony of familiarity pairings (the therapist of a dyad in one
        session with the same dyad's patient in each other session; see
        :func:`~interbrain.nulls.pseudo_dyads.familiarity_pairings`).
    familiarity_per_session : int
        0 (default): every other session; otherwise a seeded random subset (seed
        ``pseudo_dyads_seed``) of at most this many of the patient's other sessions
        per therapist recording, so that the cost grows linearly with the number of
        sessions.
    metrics : tuple of str
        Synchrony metrics computed, among :data:`METRICS`; the first is the one the
        models use. ``"wtc"``: band-averaged wavelet transform coherence;
        ``"pearson"``: Pearson correlation; ``"ar_robust_correlation"``:
        AR-prewhitened robust correlation (AnalyzIR); ``"plv"``: phase-locking value
        in the band.
    fisher_z : bool
        Fisher z-transform (``atanh``) the values of the correlation-type metrics
        (:data:`CORRELATION_METRICS`) before every model, null and summary: the
        synchrony table holds z, not r. Coherence and PLV are not transformed; asking
        for ``fisher_z`` without a correlation-type metric is an error.
    window : float
        Length in seconds of the time windows wavelet coherence is also averaged over
        (e.g. 60 for per minute); 0 for none.
    lags : tuple of float
        Time lags in seconds of the patient's signal relative to the therapist's at
        which wavelet coherence is also computed (positive: patient follows); empty
        for none.
    roi : str
        Region-of-interest summaries (needs ``[regions]``): ``"none"``,
        ``"mean_of_pairs"`` (average of channel-pair values per region),
        ``"region_average_signal"`` (coherence of region-averaged signals) or
        ``"both"``.
    significance : bool
        Also compute, per channel pair, the fraction of cells whose coherence exceeds
        the 95th percentile of AR(1) red-noise surrogates (Grinsted's ``wtcsignif``).
    n_surrogates : int
        Number of surrogate pairs per AR(1) coefficient pair and grid.
    surrogates : tuple of str
        Surrogate null controls of every real dyad-session, among
        ``"circular_shift"`` (the patient's recording rotated in time) and
        ``"phase_randomised"`` (multivariate Fourier phase randomisation of the
        patient's recording), paired with the real therapist; empty for none.
    surrogates_per_session : int
        Surrogates of each kind per dyad-session and signal (at least 2).
    surrogate_min_shift : float
        Smallest circular shift in seconds; 0 for the band's longest period.
    surrogate_seed : int
        Seed of the surrogates (combined with the dyad, session and signal).
    systemic_null : bool
        Also analyse the short-separation channels of every recording (preprocessed
        like the long channels but without short-channel regression; see
        :attr:`interbrain.preprocessing.Preprocessed.short`) as the signals
        ``"<signal>_short"`` of each long signal: paired like the long channels
        (short channel x short channel between partners, real and null pairings alike),
        so that the same models are fitted to them. Synchrony of scalp and systemic
        physiology is not neural: coupling that shows in them as in the long channels
        is no evidence of brain-to-brain synchrony. Recordings without short channels
        give no short-channel rows (see
        :func:`interbrain.synchrony.systemic.short_signal_notes`).
    precision : str
        ``"fast"`` (default): float32 arithmetic, and the whole-session band means of
        channel pairs computed with each scale on the coarsest time grid it allows,
        each channel's transform taken there straight from its FFT
        (:mod:`interbrain.synchrony.multirate`; within 1e-5 of float64 in the tests,
        tested within 1e-4); coherence maps, windows, segments and significance use the
        full-rate float32 spectra. ``"float32"``: everything at the full rate in single
        precision (within 1e-7 of float64 on simulated and real recordings, tested within
        1e-6). ``"float64"``: Grinsted's ``wtc.m`` to 1e-9. Lags and region-average
        signals are always float64; band means are always accumulated in float64.
    fft : str
        FFT library of the wavelet transforms and smoothing: ``"scipy"`` (default,
        :mod:`scipy.fft`) or ``"ducc0"`` (optional, ``pip install 'interbrain[ducc0]'``):
        ducc0 computes the double-precision FFTs (precision ``"float64"``) 1.1-1.8x
        faster on one core (``benchmarks/fft_libraries.py``), the same results to
        round-off (tested within 1e-13); the single-precision ones stay with scipy,
        which is faster for them. ducc0 is
        GPL-2.0-or-later. See :mod:`interbrain.synchrony.wavelet.fft`.
    """

    band: tuple[float, float] = (10.0, 40.0)
    signals: tuple[str, ...] = SIGNALS
    pairs: str = "homologous"
    exclude_coi: bool = True
    pseudo_dyads: bool = True
    pseudo_dyads_per_dyad: int = 0
    pseudo_dyads_seed: int = 0
    familiarity: bool = True
    familiarity_per_session: int = 0
    metrics: tuple[str, ...] = ("wtc",)
    fisher_z: bool = False
    window: float = 0.0
    lags: tuple[float, ...] = ()
    roi: str = "none"
    significance: bool = False
    n_surrogates: int = 300
    surrogates: tuple[str, ...] = ()
    surrogates_per_session: int = 20
    surrogate_min_shift: float = 0.0
    surrogate_seed: int = 0
    precision: str = "fast"
    systemic_null: bool = False
    fft: str = "scipy"

    @classmethod
    def from_table(cls, table: object, where: str) -> "AnalysisSettings":
        """The settings of an ``[analysis]`` table of ``study.toml``, checked.

        Parameters
        ----------
        table : dict or None
            The table as read; None for the defaults.
        where : str
            The file and table, for messages (``"<path>: [analysis]"``).

        Returns
        -------
        AnalysisSettings
            As :meth:`validate` returns them.

        Raises
        ------
        StudyError
            Naming ``where`` and the first unknown, mistyped or invalid field.
        """
        settings = settings_from_table(cls, table, where, StudyError)
        try:
            return settings.validate()
        except ValueError as exc:
            raise StudyError(f"{where}: {exc}") from None

    def validate(self) -> "AnalysisSettings":
        """Check every field.

        Returns
        -------
        AnalysisSettings
            A copy with ``band`` and ``lags`` as floats and repeated ``signals``,
            ``metrics`` and ``surrogates`` dropped (first occurrence kept); with
            ``systemic_null``, ``signals`` followed by the short-channel signal of each
            long signal not yet listed.

        Raises
        ------
        ValueError
            Naming the first invalid field, the values allowed and the value given.
        """
        band = self.band
        if (len(band) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                      for v in band)):
            raise ValueError(f"field 'band' must be two numbers [shortest, longest] in "
                             f"seconds, got {list(band)!r}")
        lo, hi = float(band[0]), float(band[1])
        if not (math.isfinite(hi) and 0 < lo < hi):
            raise ValueError(f"field 'band' must satisfy 0 < shortest < longest period, "
                             f"both finite, got [{lo}, {hi}]")
        bad = [s for s in self.signals if s not in SIGNALS + SHORT_SIGNALS]
        if not any(s in SIGNALS for s in self.signals) or bad:
            raise ValueError(f"field 'signals' must be a list among "
                             f"{list(SIGNALS + SHORT_SIGNALS)} with at least one of "
                             f"{list(SIGNALS)}, got {list(self.signals)!r}")
        if not isinstance(self.systemic_null, bool):
            raise ValueError(f"field 'systemic_null' must be true or false, got "
                             f"{self.systemic_null!r}")
        signals = tuple(self.signals)
        if self.systemic_null:
            signals += tuple(s + SHORT_SUFFIX for s in self.signals if s in SIGNALS)
        if self.pairs not in PAIRINGS:
            raise ValueError(f"field 'pairs' must be 'homologous' or 'all', got {self.pairs!r}")
        bad = [m for m in self.metrics if m not in METRICS]
        if not self.metrics or bad:
            raise ValueError(f"field 'metrics' must be a non-empty list among "
                             f"{list(METRICS)}, got {list(self.metrics)!r}")
        if not isinstance(self.fisher_z, bool):
            raise ValueError(f"field 'fisher_z' must be true or false, got {self.fisher_z!r}")
        if self.fisher_z and not set(self.metrics) & set(CORRELATION_METRICS):
            raise ValueError(
                f"fisher_z = true transforms correlation-type metrics "
                f"({', '.join(CORRELATION_METRICS)}), but metrics are "
                f"{list(self.metrics)}: wavelet coherence and the phase-locking value are "
                "magnitudes in [0, 1], not correlations, and are never transformed; add "
                "\"pearson\" or \"ar_robust_correlation\" to metrics, or remove fisher_z")
        if self.window < 0:
            raise ValueError(f"field 'window' must be 0 (none) or a duration in seconds, "
                             f"got {self.window}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in self.lags):
            raise ValueError(f"field 'lags' must be a list of seconds, got {list(self.lags)!r}")
        if self.roi not in ROI_OPTIONS:
            raise ValueError("field 'roi' must be 'none', 'mean_of_pairs', "
                             f"'region_average_signal' or 'both', got {self.roi!r}")
        for name in ("pseudo_dyads_per_dyad", "pseudo_dyads_seed", "familiarity_per_session"):
            check_int(getattr(self, name), f"field '{name}'", minimum=0)
        if self.n_surrogates < 10:
            raise ValueError(f"field 'n_surrogates' must be at least 10, got "
                             f"{self.n_surrogates}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"field 'precision' must be 'float64' or 'float32' (or 'fast': "
                             f"multirate band means), got "
                             f"{self.precision!r}")
        fft_library(self.fft, field="field 'fft'")
        bad = [k for k in self.surrogates if k not in SURROGATE_KINDS]
        if bad:
            raise ValueError(f"field 'surrogates' must list kinds among "
                             f"{list(SURROGATE_KINDS)}, got {list(self.surrogates)!r}")
        if self.surrogates_per_session < 2:
            raise ValueError("field 'surrogates_per_session' must be at least 2 (a null needs "
                             f"a spread), got {self.surrogates_per_session}")
        if self.surrogate_min_shift < 0 or self.surrogate_seed < 0:
            raise ValueError("fields 'surrogate_min_shift' and 'surrogate_seed' must be >= 0, "
                             f"got {self.surrogate_min_shift} and {self.surrogate_seed}")
        return replace(self, band=(lo, hi), signals=tuple(dict.fromkeys(signals)),
                       metrics=tuple(dict.fromkeys(self.metrics)),
                       lags=tuple(float(v) for v in self.lags),
                       surrogates=tuple(dict.fromkeys(self.surrogates)))


    def metric_options(self, metric: str) -> dict:
        """Options of :func:`~interbrain.synchrony.compute_metric` for ``metric``:
        the band of ``"plv"``, and ``fisher_z`` for the correlation-type metrics."""
        if metric == "plv":
            return {"band": self.band}
        if metric in CORRELATION_METRICS and self.fisher_z:
            return {"fisher_z": True}
        return {}

    def transformed_metrics(self) -> tuple[str, ...]:
        """The metrics whose values are Fisher z (``fisher_z``), in ``metrics`` order."""
        return tuple(m for m in self.metrics if self.fisher_z and m in CORRELATION_METRICS)


def is_short_signal(signal: str) -> bool:
    """Whether ``signal`` is a signal of the short-separation channels (``"hbo_short"``)."""
    return signal.endswith(SHORT_SUFFIX)


def base_signal(signal: str) -> str:
    """The haemoglobin signal of ``signal``: ``"hbo"`` for ``"hbo"`` and ``"hbo_short"``."""
    return signal[:-len(SHORT_SUFFIX)] if is_short_signal(signal) else signal
