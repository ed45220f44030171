"""Synchrony of one group of pairings, with the surrogate nulls of the real ones.

:func:`interbrain.synchrony.session.pairings_synchrony` computes the synchrony of the
real, pseudo-dyad and familiarity pairings; here each real pairing also gets its surrogate nulls
(:func:`surrogate_frames`): the real therapist with circular shifts or phase
randomisations of the patient (:mod:`.surrogates`), every metric on the same draws.
This is what the engine's synchrony tasks run (one per session number, and one per
dyad for its familiarity pairings).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import RecordingError
from ..preprocessing import Preprocessed
from ..synchrony import band_mean_coherence, channel_spectra, compute_metric
from ..synchrony.session import (DEFAULT_SPECTRA_BUDGET, SURROGATE_COLUMN, PairedRecordings,
                                 PairingPlan, metric_options)
from ..synchrony.session import pairings_synchrony as real_and_pseudo_synchrony
from ..synchrony.settings import AnalysisSettings
from ..synchrony.summaries.segments import SegmentSpec
from .moments import MomentSpec, moment_frames
from .segment_shuffle import segment_shuffle_frames
from .surrogates import derive_seed, min_shift_samples, surrogate_null


def _surrogate_measure(metric: str, a: np.ndarray, spec_t, sub_idx: np.ndarray,
                       pl: PairingPlan, settings: AnalysisSettings):
    """Synchrony ``metric`` of the therapist's channels ``a`` with one surrogate."""
    if metric == "wtc":
        return lambda b: band_mean_coherence(spec_t, channel_spectra(b, pl.grid), sub_idx,
                                             exclude_coi=settings.exclude_coi)
    return lambda b: compute_metric(metric, a, b, pl.dt, pairs=sub_idx,
                                    **metric_options(metric, settings))


def surrogate_frames(pl: PairingPlan, signal: str, settings: AnalysisSettings,
                     x_t: np.ndarray, x_p: np.ndarray) -> list[pd.DataFrame]:
    """Synchrony of the real therapist with surrogates of the patient, every metric.

    Each kind of surrogate is drawn ``surrogates_per_session`` times from a seed
    derived from the study's seed, the dyad, session, signal and kind (so the draws do
    not depend on scheduling); every metric is computed on the same draws. The
    therapist's channel spectra are computed once for all draws.

    Parameters
    ----------
    pl : PairingPlan
        The real pairing: its time window, grid and channel pairs.
    signal : str
        ``"hbo"`` or ``"hbr"``.
    settings : AnalysisSettings
        Surrogate kinds, number, smallest shift and seed; metrics and band.
    x_t, x_p : numpy.ndarray, shape (n_channels, n_times)
        The therapist's and the patient's ``signal`` over the pairing's time window.

    Returns
    -------
    list of pandas.DataFrame
        One table per kind and metric, the columns of
        :data:`~interbrain.synchrony.session.SYNCHRONY_COLUMNS` with ``pairing`` the
        kind, and :data:`~interbrain.synchrony.session.SURROGATE_COLUMN` numbering the
        draws; empty without ``settings.surrogates``.

    Raises
    ------
    RecordingError
        The recordings are too short for circular shifts of the smallest shift.
    """
    if not settings.surrogates:
        return []
    p = pl.pairing
    keys, labels = pl.keys(signal), pl.labels()
    idx = pl.idx
    used_t, inv_t = np.unique(idx[:, 0], return_inverse=True)
    used_p, inv_p = np.unique(idx[:, 1], return_inverse=True)
    sub_idx = np.stack([inv_t.ravel(), inv_p.ravel()], axis=1)
    a = x_t[used_t]
    spec_t = channel_spectra(a, pl.grid) if "wtc" in settings.metrics else None
    n_pairs = len(idx)
    frames = []
    for kind in settings.surrogates:
        try:
            shift = (min_shift_samples(pl.n, pl.dt, band=settings.band,
                                       min_shift_s=settings.surrogate_min_shift or None)
                     if kind == "circular_shift" else None)
        except ValueError as exc:
            raise RecordingError(f"{p.therapist} and {p.patient}: {kind} surrogates: "
                                 f"{exc}") from None
        rng = derive_seed(settings.surrogate_seed, p.dyad, p.session, signal, kind)
        measures = {metric: _surrogate_measure(metric, a, spec_t, sub_idx, pl, settings)
                    for metric in settings.metrics}
        values = surrogate_null(x_p[used_p], settings.surrogates_per_session, kind=kind,
                                rng=rng, min_shift=shift, measures=measures)
        n_s = settings.surrogates_per_session
        for metric in settings.metrics:
            frames.append(pd.DataFrame({
                **keys, "pairing": kind,
                **{col: np.tile(np.asarray(v, dtype=object), n_s) for col, v in labels.items()},
                "metric": metric, SURROGATE_COLUMN: np.repeat(np.arange(n_s), n_pairs),
                "value": values[metric].ravel()}))
    return frames


def pairings_synchrony(pairings: Sequence[PairedRecordings],
                       recordings: dict[str, Preprocessed], settings: AnalysisSettings,
                       regions: dict[str, str] | None = None,
                       on_pairing: Callable[[], None] | None = None,
                       spectra_budget: int = DEFAULT_SPECTRA_BUDGET,
                       segments: SegmentSpec | None = None,
                       moments: MomentSpec | None = None) -> dict[str, pd.DataFrame]:
    """Synchrony of every channel pair of every pairing, its summaries and surrogate nulls.

    :func:`interbrain.synchrony.session.pairings_synchrony` with the surrogates of
    :func:`surrogate_frames` for each real pairing (``settings.surrogates``): their
    rows follow the real pairing's in ``"synchrony"``.

    Parameters
    ----------
    pairings : sequence of Pairing
        Real, pseudo-dyad and familiarity pairings: those of one session number, or
        one dyad's familiarity pairings.
    recordings : dict
        Recording key (see :class:`~interbrain.design.RecordingRef`) -> preprocessed
        recording, all at one sampling rate.
    settings : AnalysisSettings
        Band (seconds), signals, metrics, pair scheme, cone of influence, the optional
        summaries (windows, lags, regions, significance) and the surrogates.
    regions : dict, optional
        Channel -> region of interest, for ``settings.roi``.
    on_pairing : callable, optional
        Called once per finished pairing and signal (progress).
    spectra_budget : int
        Bytes of channel spectra held at once.
    segments : SegmentSpec, optional
        Labelled segments of the sessions: synchrony per segment of the real and
        pseudo pairings (table ``"segments"``) and, with ``shuffle_window``, the
        within-session segment-shuffling null of each real pairing
        (:func:`~interbrain.nulls.segment_shuffle.segment_shuffle_frames`).
    moments : MomentSpec, optional
        Marked moments: each real pairing's synchrony around them and in null windows
        of the same session (table ``"moments"``, :func:`~interbrain.nulls.moments.
        moment_frames`).

    Returns
    -------
    dict of pandas.DataFrame
        As :func:`interbrain.synchrony.session.pairings_synchrony` returns them.
    """
    def nulls(pl: PairingPlan, signal: str, settings: AnalysisSettings, x_t: np.ndarray,
              x_p: np.ndarray) -> list[pd.DataFrame]:
        frames = surrogate_frames(pl, signal, settings, x_t, x_p)
        if segments is not None and segments.shuffle_window > 0 and pl.masks:
            frames += segment_shuffle_frames(pl, signal, settings, segments, x_t, x_p)
        if moments is not None and moments.events and pl.chan:
            frames += moment_frames(pl, signal, settings, moments, x_t, x_p)
        return frames

    return real_and_pseudo_synchrony(pairings, recordings, settings, regions,
                                     on_pairing=on_pairing, spectra_budget=spectra_budget,
                                     null_frames=nulls, segments=segments)
