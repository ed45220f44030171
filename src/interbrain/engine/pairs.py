"""Synchrony of the real and pseudo-dyads of one session number.

Channels, not pairs, are the unit of work: each recording's wavelet transforms and
smoothed auto-spectra are computed once per signal and reused by every pairing
(real and pseudo) that contains the recording.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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


DEFAULT_SPECTRA_BUDGET = 768 * 2**20


def _patient_blocks(pairings: Sequence[Pairing], recordings: dict[str, Preprocessed],
                    settings: AnalysisSettings, budget: int) -> list[list[str]]:
    """Patient recordings in blocks whose channel spectra fit in ``budget`` bytes.

    Spectra of one block's patients stay cached while every therapist is paired with
    them; a therapist's spectra are computed once per block.
    """
    keys = {q.patient.key for q in pairings} | {q.therapist.key for q in pairings}
    per_recording = 0
    for key in keys:
        rec = recordings[key]
        grid = WaveletGrid.build(rec.n_times, 1.0 / rec.sfreq, band=settings.band)
        per_recording = max(per_recording, len(rec.channels) * rec.n_times
                            * (grid.n_rows * 16 + grid.n_band_rows * 8))
    size = max(1, int(budget // max(per_recording, 1)) - 1)
    patients = sorted({q.patient.key for q in pairings})
    return [patients[i:i + size] for i in range(0, len(patients), size)]


@dataclass
class _SignalState:
    """What one signal's pass over the pairings keeps: grids, spectra, AR(1) fits."""

    signal: str
    settings: AnalysisSettings
    grids: dict = field(default_factory=dict)
    spectra: dict = field(default_factory=dict)
    ar1: dict = field(default_factory=dict)
    thresholds: ThresholdCache | None = None

    def grid(self, n: int, dt: float, where: str) -> WaveletGrid:
        if (n, dt) not in self.grids:
            try:
                self.grids[(n, dt)] = WaveletGrid.build(n, dt, band=self.settings.band)
            except ValueError as exc:
                raise RecordingError(f"{where}: {exc}") from None
        return self.grids[(n, dt)]

    def channel_spectra(self, rec: Preprocessed, start: int, n: int, grid: WaveletGrid):
        key = (rec.source, start, n)
        if key not in self.spectra:
            data = crop(rec.signal(self.signal), start, n)
            self.spectra[key] = channel_spectra(data, grid)
            if self.settings.significance:
                self.ar1[key] = np.atleast_1d(ar1_coefficient(data)[0])
        return self.spectra[key]

    def drop(self, source: str | None = None) -> None:
        for key in [k for k in self.spectra if source is None or k[0] == source]:
            del self.spectra[key]


def _pairing_synchrony(p: Pairing, recordings: dict[str, Preprocessed], state: _SignalState,
                       regions: dict[str, str] | None, out: dict[str, list]) -> None:
    """Synchrony of one pairing and signal, appended to the lists of ``out``."""
    settings, signal = state.settings, state.signal
    t_rec, p_rec = recordings[p.therapist.key], recordings[p.patient.key]
    common = overlap(t_rec, p_rec, align=p.align, offset=p.offset, event=p.event)
    n, dt = common.n_times, 1.0 / t_rec.sfreq
    grid = state.grid(n, dt, f"{p.therapist} and {p.patient}")
    chan = channel_pairs(t_rec, p_rec, settings.pairs)
    if not chan:
        return
    idx = np.array([(i, j) for i, j, _ in chan], dtype=np.intp)
    x_t = crop(t_rec.signal(signal), common.start_a, n)
    x_p = crop(p_rec.signal(signal), common.start_b, n)
    keys = {"dyad": p.dyad, "partner_dyad": p.partner_dyad, "session": p.session,
            "signal": signal, "pairing": p.pairing}
    labels = {"pair": [c[2] for c in chan],
              "channel_therapist": [t_rec.channels[i] for i, _, _ in chan],
              "channel_patient": [p_rec.channels[j] for _, j, _ in chan]}

    def both_spectra():
        return (state.channel_spectra(t_rec, common.start_a, n, grid),
                state.channel_spectra(p_rec, common.start_b, n, grid))

    for metric in settings.metrics:
        fractions = None
        if metric == "wtc":
            spec_t, spec_p = both_spectra()
            values, fractions = _wtc_values(spec_t, spec_p, idx, grid, settings,
                                            state.thresholds, dt,
                                            state.ar1.get((t_rec.source, common.start_a, n)),
                                            state.ar1.get((p_rec.source, common.start_b, n)))
        else:
            options = {"band": settings.band} if metric == "plv" else {}
            values = compute_metric(metric, x_t, x_p, dt, pairs=idx, **options)
        frame = pd.DataFrame({**keys, **labels, "metric": metric,
                              "value": np.asarray(values, dtype=float)})
        if settings.significance:
            frame["significant_fraction"] = fractions if fractions is not None else np.nan
        out["synchrony"].append(frame)
    if p.pairing != "real":
        return
    if settings.window > 0:
        values, table = windowed_band_coherence(*both_spectra(), idx, windows=settings.window,
                                                exclude_coi=settings.exclude_coi)
        tile = {col: np.tile(table[col].to_numpy(), len(chan))
                for col in ("window", "onset_s", "offset_s", "n_cells")}
        out["windows"].append(pd.DataFrame({**keys, "pair": np.repeat(labels["pair"], len(table)),
                                            **tile, "metric": "wtc", "value": values.ravel()}))
    if settings.lags:
        values, lags = lagged_band_coherence(x_t, x_p, dt, band=settings.band,
                                             lags=list(settings.lags), pairs=idx,
                                             exclude_coi=settings.exclude_coi)
        out["lags"].append(pd.DataFrame({**keys, "pair": np.repeat(labels["pair"], len(lags)),
                                         "lag_s": np.tile(lags, len(chan)), "metric": "wtc",
                                         "value": values.ravel()}))
    if settings.roi in ("region_average_signal", "both") and regions:
        roi = region_signal_coherence(
            x_t, x_p, dt, channels=t_rec.channels, channels_b=p_rec.channels, regions=regions,
            band=settings.band, bad_channels={"a": t_rec.bad_channels, "b": p_rec.bad_channels},
            exclude_coi=settings.exclude_coi)
        for col, value in reversed(keys.items()):
            roi.insert(0, col, value)
        out["roi_signal"].append(roi)


def pairings_synchrony(pairings: Sequence[Pairing], recordings: dict[str, Preprocessed],
                       settings: AnalysisSettings, regions: dict[str, str] | None = None,
                       on_pairing: Callable[[], None] | None = None,
                       spectra_budget: int = DEFAULT_SPECTRA_BUDGET) -> dict[str, pd.DataFrame]:
    """Synchrony of every channel pair of every pairing, and its summaries.

    Channels, not pairs, are the unit of work: per signal, each recording's channel
    spectra are computed once per block of patients (see ``spectra_budget``) and reused
    by every pairing that contains it; the only per-pair work is the cross-spectrum.

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
    spectra_budget : int
        Bytes of channel spectra held at once. Results do not depend on it.

    Returns
    -------
    dict of pandas.DataFrame
        ``"synchrony"``: one row per pairing x channel pair x signal x metric, columns
        :data:`SYNCHRONY_COLUMNS` (plus ``significant_fraction`` when significance is
        on); for ``metric == "wtc"``, ``value`` is the mean coherence over the band's
        scales and the cells outside the cone of influence. With the summaries
        switched on, also ``"windows"`` (wavelet coherence per time window, real
        dyads), ``"lags"`` (per time lag of the patient, real dyads) and
        ``"roi_signal"`` (coherence of region-averaged signals, real dyads).
    """
    out: dict[str, list[pd.DataFrame]] = {"synchrony": [], "windows": [], "lags": [],
                                          "roi_signal": []}
    thresholds = ThresholdCache() if settings.significance else None
    blocks = _patient_blocks(pairings, recordings, settings, spectra_budget) if pairings else []
    for signal in settings.signals:
        state = _SignalState(signal, settings, thresholds=thresholds)
        for block in blocks:
            members = set(block)
            ordered = sorted((q for q in pairings if q.patient.key in members),
                             key=lambda q: (q.therapist.key, q.patient.key))
            for k, p in enumerate(ordered):
                _pairing_synchrony(p, recordings, state, regions, out)
                if k + 1 == len(ordered) or ordered[k + 1].therapist != p.therapist:
                    state.drop(recordings[p.therapist.key].source)
                if on_pairing is not None:
                    on_pairing()
            state.drop()
    frames = {name: pd.concat(parts, ignore_index=True) for name, parts in out.items() if parts}
    if "synchrony" not in frames:
        frames["synchrony"] = pd.DataFrame(columns=SYNCHRONY_COLUMNS)
    return frames
