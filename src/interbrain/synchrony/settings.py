"""Settings of the synchrony analysis and its null controls (``[analysis]``)."""

from __future__ import annotations

from dataclasses import dataclass

SIGNALS: tuple[str, ...] = ("hbo", "hbr")
METRICS: tuple[str, ...] = ("wtc", "pearson", "ar_robust_correlation", "plv")


@dataclass(frozen=True)
class AnalysisSettings:
    """Settings of the synchrony analysis.

    Parameters
    ----------
    band : tuple of float
        Shortest and longest wavelet period averaged over, in seconds.
    signals : tuple of str
        Haemoglobin signals analysed, among ``"hbo"`` and ``"hbr"``.
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
        Seed of that subset.
    metrics : tuple of str
        Synchrony metrics computed, among :data:`METRICS`; the first is the one the
        models use. ``"wtc"``: band-averaged wavelet transform coherence;
        ``"pearson"``: Pearson correlation; ``"ar_robust_correlation"``:
        AR-prewhitened robust correlation (AnalyzIR); ``"plv"``: phase-locking value
        in the band.
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
    precision : str
        ``"float32"`` (default: about twice as fast; within 1e-7 of float64 on
        simulated and real recordings, tested within 1e-6) or ``"float64"``
        (Grinsted's ``wtc.m`` to 1e-9) for the wavelet transforms and smoothing of the
        channel-pair synchrony, its windows and surrogates (lags and region-average
        signals are always float64). Band means are always accumulated in float64.
    """

    band: tuple[float, float] = (10.0, 40.0)
    signals: tuple[str, ...] = SIGNALS
    pairs: str = "homologous"
    exclude_coi: bool = True
    pseudo_dyads: bool = True
    pseudo_dyads_per_dyad: int = 0
    pseudo_dyads_seed: int = 0
    metrics: tuple[str, ...] = ("wtc",)
    window: float = 0.0
    lags: tuple[float, ...] = ()
    roi: str = "none"
    significance: bool = False
    n_surrogates: int = 300
    surrogates: tuple[str, ...] = ()
    surrogates_per_session: int = 20
    surrogate_min_shift: float = 0.0
    surrogate_seed: int = 0
    precision: str = "float32"
