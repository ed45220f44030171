"""Synchrony of the real and pseudo-dyads of one session number.

Channels, not pairs, are the unit of work: each recording's wavelet transforms and
smoothed auto-spectra are computed once per signal and reused by every pairing
(real and pseudo) that contains the recording.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..assembly import crop, overlap
from ..errors import RecordingError
from ..nulls import Pairing
from ..preprocessing import Preprocessed
from ..study import AnalysisSettings
from ..synchrony import (ThresholdCache, WaveletGrid, ar1_coefficient, band_mean_coherence,
                         channel_spectra, coherence_threshold, compute_metric,
                         iter_pair_coherence, lagged_band_coherence, region_signal_coherence,
                         significant_fraction, windowed_band_coherence)

SYNCHRONY_COLUMNS = ["dyad", "partner_dyad", "session", "pair", "channel_therapist",
                     "channel_patient", "signal", "pairing", "metric", "value"]
KEY_COLUMNS = ["dyad", "partner_dyad", "session", "signal", "pairing"]


def channel_pairs(therapist: Preprocessed, patient: Preprocessed, pairs: str
                  ) -> list[tuple[int, int, str]]:
    """Channel pairs of two recordings, both channels good.

    Parameters
    ----------
    therapist, patient : Preprocessed
    pairs : str
        ``"homologous"``: channels of the same name; ``"all"``: every combination.

    Returns
    -------
    list of (int, int, str)
        Therapist channel index, patient channel index, pair label.
    """
    bad_t, bad_p = therapist.bad_channels, patient.bad_channels
    if pairs == "homologous":
        index = {c: j for j, c in enumerate(patient.channels)}
        only_t = [c for c in therapist.channels if c not in index]
        only_p = [c for c in patient.channels if c not in set(therapist.channels)]
        if only_t or only_p:
            raise RecordingError(
                f"{therapist.source} and {patient.source}: channel names differ between the "
                f"partners, so homologous pairs are ambiguous (only in the first: "
                f"{', '.join(only_t[:6]) or 'none'}; only in the second: "
                f"{', '.join(only_p[:6]) or 'none'}); use pairs = \"all\" or a one-file "
                "channel-to-role map")
        return [(i, index[c], c) for i, c in enumerate(therapist.channels)
                if c not in bad_t and c not in bad_p]
    return [(i, j, f"{ct}-{cp}") for i, ct in enumerate(therapist.channels) if ct not in bad_t
            for j, cp in enumerate(patient.channels) if cp not in bad_p]


def _wtc_values(spec_t, spec_p, idx, grid: WaveletGrid, settings: AnalysisSettings,
                thresholds, dt: float, g_t, g_p) -> tuple[np.ndarray, np.ndarray | None]:
    """Band-mean coherence of pairs ``idx`` and, with significance on, the fraction of
    valid cells above each pair's AR(1) red-noise threshold."""
    if not settings.significance:
        return band_mean_coherence(spec_t, spec_p, idx, exclude_coi=settings.exclude_coi), None
    mask = grid.valid if settings.exclude_coi else np.ones_like(grid.valid)
    means, fractions = np.empty(len(idx)), np.empty(len(idx))
    for sl, maps in iter_pair_coherence(spec_t, spec_p, idx):
        means[sl] = np.nanmean(np.where(mask, maps, np.nan), axis=(1, 2))
        for k, (i, j) in enumerate(idx[sl]):
            threshold = coherence_threshold(dt, grid.n_times, g_t[i], g_p[j], grid=grid,
                                            n_surrogates=settings.n_surrogates, cache=thresholds)
            fractions[sl.start + k] = significant_fraction(maps[k], threshold, grid.valid)
    return means, fractions


def pairings_synchrony(pairings: Sequence[Pairing], recordings: dict[str, Preprocessed],
                       settings: AnalysisSettings, regions: dict[str, str] | None = None,
                       on_pairing: Callable[[], None] | None = None) -> dict[str, pd.DataFrame]:
    """Synchrony of every channel pair of every pairing, and its summaries.

    Parameters
    ----------
    pairings : sequence of Pairing
        Real and/or pseudo pairings, typically all those of one session number.
    recordings : dict
        Recording key (see :class:`~interbrain.study.RecordingRef`) -> preprocessed
        recording, all at one sampling rate.
    settings : AnalysisSettings
        Band (seconds), signals, metrics, pair scheme, cone of influence, and the
        optional summaries (windows, lags, regions, significance).
    regions : dict, optional
        Channel -> region of interest, for ``settings.roi``.
    on_pairing : callable, optional
        Called once per finished pairing and signal (progress).

    Returns
    -------
    dict of pandas.DataFrame
        ``"synchrony"``: one row per pairing x channel pair x signal x metric, columns
        :data:`SYNCHRONY_COLUMNS` (plus ``significant_fraction`` when significance is
        on); for ``metric == "wtc"``, ``value`` is the mean coherence over the band's
        scales and the cells outside the cone of influence. With the summaries
        switched on, also ``"windows"`` (wavelet coherence per time window, real
        dyads), ``"lags"`` (per time lag of the patient, real dyads) and
        ``"roi_signal"`` (coherence of region-averaged signals).
    """
    grids: dict[tuple[int, float], WaveletGrid] = {}
    out: dict[str, list[pd.DataFrame]] = {"synchrony": [], "windows": [], "lags": [],
                                          "roi_signal": []}
    patient_sources = {q.patient.key for q in pairings}
    thresholds = ThresholdCache() if settings.significance else None
    for signal in settings.signals:
        cache: dict[tuple[str, int, int], object] = {}
        ar1: dict[tuple[str, int, int], np.ndarray] = {}

        def spectra(rec: Preprocessed, start: int, n: int, grid: WaveletGrid):
            key = (rec.source, start, n)
            if key not in cache:
                cache[key] = channel_spectra(crop(rec.signal(signal), start, n), grid)
                if settings.significance:
                    ar1[key] = np.atleast_1d(ar1_coefficient(crop(rec.signal(signal), start,
                                                                  n))[0])
            return cache[key]

        # therapist-major order: a therapist's spectra are dropped once its pairings are
        # done, the patients' (shared by every therapist of the session) stay cached.
        ordered = sorted(pairings, key=lambda q: (str(q.therapist), str(q.patient)))
        for k, p in enumerate(ordered):
            t_rec, p_rec = recordings[p.therapist.key], recordings[p.patient.key]
            common = overlap(t_rec, p_rec, align=p.align, offset=p.offset, event=p.event)
            n, dt = common.n_times, 1.0 / t_rec.sfreq
            if (n, dt) not in grids:
                try:
                    grids[(n, dt)] = WaveletGrid.build(n, dt, band=settings.band)
                except ValueError as exc:
                    raise RecordingError(f"{p.therapist} and {p.patient}: {exc}") from None
            grid = grids[(n, dt)]
            chan = channel_pairs(t_rec, p_rec, settings.pairs)
            idx = np.array([(i, j) for i, j, _ in chan], dtype=np.intp).reshape(-1, 2)
            x_t = crop(t_rec.signal(signal), common.start_a, n)
            x_p = crop(p_rec.signal(signal), common.start_b, n)
            keys = {"dyad": p.dyad, "partner_dyad": p.partner_dyad, "session": p.session,
                    "signal": signal, "pairing": p.pairing}
            labels = {"pair": [c[2] for c in chan],
                      "channel_therapist": [t_rec.channels[i] for i, _, _ in chan],
                      "channel_patient": [p_rec.channels[j] for _, j, _ in chan]}
            for metric in settings.metrics if chan else ():
                fractions = None
                if metric == "wtc":
                    spec_t = spectra(t_rec, common.start_a, n, grid)
                    spec_p = spectra(p_rec, common.start_b, n, grid)
                    values, fractions = _wtc_values(
                        spec_t, spec_p, idx, grid, settings, thresholds, dt,
                        ar1.get((t_rec.source, common.start_a, n)),
                        ar1.get((p_rec.source, common.start_b, n)))
                else:
                    options = {"band": settings.band} if metric == "plv" else {}
                    values = compute_metric(metric, x_t, x_p, dt, pairs=idx, **options)
                frame = pd.DataFrame({**keys, **labels, "metric": metric,
                                      "value": np.asarray(values, dtype=float)})
                if settings.significance:
                    frame["significant_fraction"] = fractions if fractions is not None else np.nan
                out["synchrony"].append(frame)
            if chan and p.pairing == "real":
                if settings.window > 0:
                    values, table = windowed_band_coherence(
                        spectra(t_rec, common.start_a, n, grid),
                        spectra(p_rec, common.start_b, n, grid), idx,
                        windows=settings.window, exclude_coi=settings.exclude_coi)
                    out["windows"].append(pd.DataFrame({
                        **keys, "pair": np.repeat(labels["pair"], len(table)),
                        "window": np.tile(table["window"].to_numpy(), len(chan)),
                        "onset_s": np.tile(table["onset_s"].to_numpy(), len(chan)),
                        "offset_s": np.tile(table["offset_s"].to_numpy(), len(chan)),
                        "n_cells": np.tile(table["n_cells"].to_numpy(), len(chan)),
                        "metric": "wtc", "value": values.ravel()}))
                if settings.lags:
                    values, lags = lagged_band_coherence(x_t, x_p, dt, band=settings.band,
                                                         lags=list(settings.lags), pairs=idx,
                                                         exclude_coi=settings.exclude_coi)
                    out["lags"].append(pd.DataFrame({
                        **keys, "pair": np.repeat(labels["pair"], len(lags)),
                        "lag_s": np.tile(lags, len(chan)), "metric": "wtc",
                        "value": values.ravel()}))
                if settings.roi in ("region_average_signal", "both") and regions:
                    roi = region_signal_coherence(
                        x_t, x_p, dt, channels=t_rec.channels, channels_b=p_rec.channels,
                        regions=regions, band=settings.band,
                        bad_channels={"a": t_rec.bad_channels, "b": p_rec.bad_channels},
                        exclude_coi=settings.exclude_coi)
                    for col, value in keys.items():
                        roi.insert(0, col, value)
                    out["roi_signal"].append(roi)
            last_of_therapist = k + 1 == len(ordered) or ordered[k + 1].therapist != p.therapist
            if last_of_therapist and t_rec.source not in patient_sources:
                for key in [key for key in cache if key[0] == t_rec.source]:
                    del cache[key]
            if on_pairing is not None:
                on_pairing()
    frames = {name: pd.concat(parts, ignore_index=True) for name, parts in out.items() if parts}
    if "synchrony" not in frames:
        frames["synchrony"] = pd.DataFrame(columns=SYNCHRONY_COLUMNS)
    return frames
