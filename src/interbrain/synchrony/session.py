"""Synchrony of one group of pairings: real dyads, pseudo-dyads or familiarity pairings.

Channels, not pairs, are the unit of work: each channel's wavelet transform and
smoothed auto-spectrum are computed once per signal and time window and reused by
every pair of every pairing (real and pseudo) that contains the channel. The
surrogate nulls of the real pairings are drawn by :mod:`interbrain.nulls.session`,
which passes them in as ``null_frames``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from ..assembly import crop, overlap
from ..design import RecordingRef
from ..errors import RecordingError
from ..preprocessing import Preprocessed
from ._pair_rows import PairRows
from .coherence import band_mean_coherence, iter_pair_coherence
from .good_pairs import channel_pairs
from .metrics import compute_metric
from .multirate import multirate_channel_bytes
from .settings import AnalysisSettings, base_signal, is_short_signal
from .significance import (ThresholdCache, ar1_coefficient, coherence_threshold,
                           significant_fraction)
from .spectra import channel_spectra
from .summaries import lagged_band_coherence, region_signal_coherence, windowed_band_coherence
from .summaries.segment_values import segment_band_means, segment_frames
from .summaries.segments import (SEGMENT_PAIRINGS, SegmentSpec, pairing_masks,
                                 recording_segments)
from .systemic import signal_recordings
from .wavelet import WaveletGrid

#: Columns of the ``"synchrony"`` table: one row per pairing, channel pair, signal and metric.
#: ``partner_session`` is the patient recording's session: ``session`` but on rows of
#: familiarity pairings (a dyad's therapist and patient from different sessions).
SYNCHRONY_COLUMNS = ["dyad", "partner_dyad", "session", "partner_session", "pair",
                     "channel_therapist", "channel_patient", "signal", "pairing", "metric",
                     "value"]
#: Column numbering the surrogates of one dyad-session (NaN on other rows).
SURROGATE_COLUMN = "surrogate"
#: Columns identifying a pairing and signal.
KEY_COLUMNS = ["dyad", "partner_dyad", "session", "partner_session", "signal", "pairing"]
#: Tables of null frames with a ``segment`` or ``moment`` column (others: "synchrony").
NULL_TABLES: tuple[str, ...] = ("segments", "moments")
#: Columns of the ``"overlaps"`` table: the common time window of each pairing.
OVERLAP_COLUMNS = KEY_COLUMNS + ["sfreq", "n_times", "duration_s"]

#: Bytes of channel spectra one task holds at once (two blocks of channels).
DEFAULT_SPECTRA_BUDGET = 768 * 2**20


class PairedRecordings(Protocol):
    """A therapist recording paired with a patient recording, as synchrony needs it.

    :class:`interbrain.nulls.Pairing` is one: real pairings, pseudo-dyads, familiarity
    pairings and the pairings of ``[[generalisation]]`` recordings.
    """

    @property
    def dyad(self) -> str:
        """Dyad of the therapist recording."""

    @property
    def partner_dyad(self) -> str:
        """Dyad of the patient recording."""

    @property
    def session(self) -> int:
        """Session number (of the therapist recording)."""

    @property
    def patient_session(self) -> int:
        """Session number of the patient recording (``session`` but for familiarity
        pairings)."""

    @property
    def therapist(self) -> RecordingRef:
        """The therapist's recording."""

    @property
    def patient(self) -> RecordingRef:
        """The patient's recording."""

    @property
    def align(self) -> str:
        """How the two are put on one time base (see :mod:`interbrain.assembly`)."""

    @property
    def offset(self) -> float:
        """Offset of the patient's recording, in seconds, with ``align="offset"``."""

    @property
    def event(self) -> str | None:
        """Event both recordings are aligned on, with ``align="event"``."""

    @property
    def pairing(self) -> str:
        """``"real"``, ``"pseudo"``, ``"familiarity"`` or the pairing's kind."""


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


def metric_options(metric: str, settings: AnalysisSettings) -> dict:
    """Options of :func:`~interbrain.synchrony.compute_metric` for ``metric``."""
    return settings.metric_options(metric)


@dataclass
class _SignalState:
    """What one signal's pass over the pairings keeps: grids and the AR(1) threshold cache."""

    signal: str
    settings: AnalysisSettings
    grids: dict = field(default_factory=dict)
    thresholds: ThresholdCache | None = None

    def grid(self, n: int, dt: float, where: str) -> WaveletGrid:
        """The grid of ``n`` samples at ``dt`` (built once); ``where`` names the
        recordings in the RecordingError of a recording too short for the band."""
        if (n, dt) not in self.grids:
            try:
                self.grids[(n, dt)] = WaveletGrid.build(n, dt, band=self.settings.band,
                                                        dtype=self.settings.precision,
                                                        fft=self.settings.fft)
            except ValueError as exc:
                raise RecordingError(f"{where}: {exc}") from None
        return self.grids[(n, dt)]


@dataclass
class PairingPlan:
    """One pairing's common time window, grid and channel pairs (both channels good).

    Attributes
    ----------
    pairing : PairedRecordings
    therapist, patient : Preprocessed
        The two recordings.
    start_t, start_p : int
        First sample of the common time window in each recording.
    n : int
        Samples of the common time window.
    dt : float
        Sampling interval in seconds.
    grid : WaveletGrid
        The wavelet grid of ``n`` samples at ``dt``.
    chan : list of (int, int, str)
        The channel pairs: see :func:`channel_pairs`.
    masks : dict or None
        Label -> samples in that segment (:func:`~.summaries.segments.pairing_masks`).
    """

    pairing: PairedRecordings
    therapist: Preprocessed
    patient: Preprocessed
    start_t: int
    start_p: int
    n: int
    dt: float
    grid: WaveletGrid
    chan: list
    masks: dict | None = None

    @property
    def idx(self) -> np.ndarray:
        """Therapist and patient channel index of each pair, shape (n_pairs, 2)."""
        return np.array([(i, j) for i, j, _ in self.chan], dtype=np.intp).reshape(-1, 2)

    def keys(self, signal: str) -> dict:
        """The key columns of this pairing's rows for ``signal`` (:data:`KEY_COLUMNS`)."""
        p = self.pairing
        return {"dyad": p.dyad, "partner_dyad": p.partner_dyad, "session": p.session,
                "partner_session": p.patient_session, "signal": signal, "pairing": p.pairing}

    def labels(self) -> dict:
        """Columns ``pair``, ``channel_therapist`` and ``channel_patient`` of the pairs."""
        return {"pair": [c[2] for c in self.chan],
                "channel_therapist": [self.therapist.channels[i] for i, _, _ in self.chan],
                "channel_patient": [self.patient.channels[j] for _, j, _ in self.chan]}

    def signals(self, signal: str) -> tuple[np.ndarray, np.ndarray]:
        """The therapist's and the patient's ``signal`` over the common time window."""
        signal = base_signal(signal)   # a short-channel plan holds the short channels
        return (crop(self.therapist.signal(signal), self.start_t, self.n),
                crop(self.patient.signal(signal), self.start_p, self.n))


#: What :func:`pairings_synchrony` calls for each real pairing and signal, with the
#: pairing's plan, the signal, the settings and the two cropped signals; it returns
#: further tables of the ``"synchrony"`` output (the pairing's null controls).
NullFrames = Callable[[PairingPlan, str, AnalysisSettings, np.ndarray, np.ndarray],
                      list[pd.DataFrame]]


def _plan(p: PairedRecordings, recordings: dict[str, Preprocessed], state: _SignalState,
          segments: dict | None = None) -> PairingPlan:
    t_rec, p_rec = recordings[p.therapist.key], recordings[p.patient.key]
    common = overlap(t_rec, p_rec, align=p.align, offset=p.offset, event=p.event)
    n, dt = common.n_times, 1.0 / t_rec.sfreq
    grid = state.grid(n, dt, f"{p.therapist} and {p.patient} ({n * dt:.1f} s in common; they "
                             f"last {t_rec.n_times * dt:.1f} s and {p_rec.n_times * dt:.1f} s)")
    if is_short_signal(state.signal) and not (t_rec.channels and p_rec.channels):
        chan = []   # a partner without short channels: no pair (see systemic.short_signal_notes)
    else:
        chan = channel_pairs(t_rec, p_rec, state.settings.pairs)
    masks = None
    if segments is not None and p.pairing in SEGMENT_PAIRINGS:
        masks = pairing_masks(segments.get(p.therapist.key, []),
                              segments.get(p.patient.key, []), common.start_a,
                              common.start_b, n, dt)
    return PairingPlan(p, t_rec, p_rec, common.start_a, common.start_b, n, dt, grid, chan,
                       masks)


def _channel_block(items: Sequence[tuple], recordings: dict[str, Preprocessed], signal: str,
                   grid: WaveletGrid, significance: bool):
    """Channel spectra (and AR(1) coefficients) of channels ``(key, start, channel)``."""
    n = grid.n_times
    data = np.stack([recordings[key].signal(base_signal(signal))[c, start:start + n]
                     for key, start, c in items])
    spectra = channel_spectra(data, grid)
    g = np.atleast_1d(ar1_coefficient(data)[0]) if significance else None
    return spectra, g


def _blocked_wtc(plans: Sequence[PairingPlan], recordings: dict[str, Preprocessed],
                 state: _SignalState, budget: int
                 ) -> tuple[list[np.ndarray], list[np.ndarray | None], list[dict]]:
    """Wavelet coherence of every channel pair of every pairing, channel by channel.

    Channels, not pairs or recordings, are the unit of work: the spectra of each
    patient channel are computed once, in blocks of channels that fit half of
    ``budget`` bytes, and each block is paired with the therapist channels that meet
    it (also in blocks). Patient channels are ordered by channel name, so that with
    homologous pairs a block holds one channel of every patient and each therapist
    channel is computed once. A ``"fast"`` grid's channel counts by its coarse spectra
    (:func:`~.multirate.multirate_channel_bytes`) when only band means are asked, so the
    all-to-all pairs of a session usually fit one block and every channel is
    transformed once. Per pair the only work is the cross-spectrum. Plans
    with segment masks also get each segment's band mean from the same maps (third
    list: label -> values per channel pair)."""
    settings, signal = state.settings, state.signal
    values = [np.empty(len(pl.chan)) for pl in plans]
    fractions = [np.full(len(pl.chan), np.nan) if settings.significance else None
                 for pl in plans]
    segs: list[dict] = [{} for _ in plans]
    by_grid: dict[int, list[int]] = {}
    grids: dict[int, WaveletGrid] = {}
    for k, pl in enumerate(plans):
        if pl.chan:
            by_grid.setdefault(id(pl.grid), []).append(k)
            grids[id(pl.grid)] = pl.grid
    for gid, members in by_grid.items():
        grid = grids[gid]
        any_masks = any(plans[k].masks for k in members)
        if grid.dtype == "fast" and not (settings.significance or any_masks):
            # band means only: the coarse spectra (full-rate W and S are never made)
            per_channel = multirate_channel_bytes(grid, settings.exclude_coi)
        else:
            per_channel = grid.n_times * (
                grid.n_rows * np.dtype(grid.complex_dtype).itemsize
                + grid.n_band_rows * np.dtype(grid.real_dtype).itemsize)
        size = max(1, int(budget // 2 // max(per_channel, 1)))
        # edges: (plan, position, therapist channel, patient channel)
        edges = [(k, e, (pl.pairing.therapist.key, pl.start_t, i),
                  (pl.pairing.patient.key, pl.start_p, j))
                 for k in members for pl in (plans[k],) for e, (i, j, _) in enumerate(pl.chan)]

        def order(item):
            key, start, c = item
            return (recordings[key].channels[c], key, start)

        patients = sorted({b for *_, b in edges}, key=order)
        for b0 in range(0, len(patients), size):
            block_b = patients[b0:b0 + size]
            row_b = {item: r for r, item in enumerate(block_b)}
            mine = [ed for ed in edges if ed[3] in row_b]
            spec_b, g_b = _channel_block(block_b, recordings, signal, grid,
                                         settings.significance)
            therapists = sorted({ed[2] for ed in mine}, key=order)
            for a0 in range(0, len(therapists), size):
                block_a = therapists[a0:a0 + size]
                row_a = {item: r for r, item in enumerate(block_a)}
                sel = [ed for ed in mine if ed[2] in row_a]
                spec_a, g_a = _channel_block(block_a, recordings, signal, grid,
                                             settings.significance)
                idx = np.array([(row_a[ed[2]], row_b[ed[3]]) for ed in sel], dtype=np.intp)
                masks = [plans[k].masks or {} for k, *_ in sel]
                vals, fracs, seg_vals = None, None, None
                if settings.significance or not any(masks):
                    vals, fracs = _wtc_values(spec_a, spec_b, idx, grid, settings,
                                              state.thresholds, grid.dt, g_a, g_b)
                if any(masks):   # the segments' band means from the same maps
                    whole, seg_vals = segment_band_means(spec_a, spec_b, idx, masks,
                                                         exclude_coi=settings.exclude_coi)
                    vals = whole if vals is None else vals
                for m, (k, e, _, _) in enumerate(sel):
                    values[k][e] = vals[m]
                    if fracs is not None:
                        fractions[k][e] = fracs[m]
                    for label, (value, _) in (seg_vals[m].items() if seg_vals else ()):
                        segs[k].setdefault(label, np.full(len(plans[k].chan), np.nan))[e] = value
                del spec_a
            del spec_b
    return values, fractions, segs


def _pairing_frames(pl: PairingPlan, state: _SignalState, wtc: np.ndarray | None,
                    wtc_fractions: np.ndarray | None, regions: dict[str, str] | None,
                    null_frames: NullFrames | None, out: dict[str, list], rows: PairRows,
                    wtc_segments: dict | None = None) -> None:
    """Tables of one pairing and signal, appended to the lists of ``out`` (its
    ``"synchrony"`` rows to ``rows``, flushed to ``out`` before its null frames)."""
    settings, signal, p = state.settings, state.signal, pl.pairing
    t_rec, p_rec, chan, dt = pl.therapist, pl.patient, pl.chan, pl.dt
    if not chan:
        return
    idx = pl.idx
    x_t, x_p = pl.signals(signal)
    keys = pl.keys(signal)
    labels = pl.labels()
    for metric in settings.metrics:
        if metric == "wtc":
            rows.add(keys, labels, metric, wtc, wtc_fractions)
        else:
            rows.add(keys, labels, metric, compute_metric(
                metric, x_t, x_p, dt, pairs=idx, **metric_options(metric, settings)))
    if pl.masks:
        out["segments"].extend(segment_frames(
            {**keys, **labels}, settings.metrics, pl.masks, wtc_segments or {}, x_t, x_p, dt,
            idx, lambda metric: metric_options(metric, settings)))
    if p.pairing != "real":
        return
    if null_frames is not None:
        rows.flush(out["synchrony"])   # the pairing's rows, then its nulls'
        for frame in null_frames(pl, signal, settings, x_t, x_p):
            out[next((t for t in NULL_TABLES if t[:-1] in frame), "synchrony")].append(frame)
    if settings.window > 0:
        spec_t, spec_p = channel_spectra(x_t, pl.grid), channel_spectra(x_p, pl.grid)
        values, table = windowed_band_coherence(spec_t, spec_p, idx, windows=settings.window,
                                                exclude_coi=settings.exclude_coi)
        del spec_t, spec_p
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


def pairings_synchrony(pairings: Sequence[PairedRecordings],
                       recordings: dict[str, Preprocessed], settings: AnalysisSettings,
                       regions: dict[str, str] | None = None,
                       on_pairing: Callable[[], None] | None = None,
                       spectra_budget: int = DEFAULT_SPECTRA_BUDGET,
                       null_frames: NullFrames | None = None,
                       segments: SegmentSpec | None = None) -> dict[str, pd.DataFrame]:
    """Synchrony of every channel pair of every pairing, and its summaries.

    Channels, not pairs, are the unit of work: per signal, the wavelet transform and
    smoothed auto-spectrum of each channel are computed once for its time window and
    reused by every pair of every pairing (real and pseudo) that contains it, in
    blocks of channels within ``spectra_budget`` (see :func:`_blocked_wtc`); the only
    per-pair work is the cross-spectrum.

    Parameters
    ----------
    pairings : sequence of PairedRecordings
        Real, pseudo and/or familiarity pairings (:class:`interbrain.nulls.Pairing`),
        typically one group of :func:`interbrain.nulls.rate_groups`.
    recordings : dict
        Recording key (see :class:`~interbrain.study.RecordingRef`) -> preprocessed
        recording, all at one sampling rate.
    settings : AnalysisSettings
        Band (seconds), signals, metrics, pair scheme, cone of influence, and the
        optional summaries (windows, lags, regions, significance). The short-channel
        signals (``"hbo_short"``, ``"hbr_short"``) pair the recordings'
        :attr:`~interbrain.preprocessing.Preprocessed.short` channels instead
        (:func:`~interbrain.synchrony.systemic.signal_recordings`; no region summaries).
    regions : dict, optional
        Channel -> region of interest, for ``settings.roi``.
    on_pairing : callable, optional
        Called once per finished pairing and signal (progress).
    spectra_budget : int
        Bytes of channel spectra held at once. The values do not depend on it beyond
        floating-point round-off of the batched FFTs (tested to 1e-12).
    null_frames : callable, optional
        Called for each real pairing and signal (see :data:`NullFrames`); the tables
        it returns are appended to ``"synchrony"`` after the pairing's own rows. The
        engine passes the surrogates of :func:`interbrain.nulls.session.surrogate_frames`
        (via :func:`interbrain.nulls.session.pairings_synchrony`); with ``segment``
        (``moment``): to ``"segments"`` (``"moments"``).
    segments : SegmentSpec, optional
        Labelled segments of the sessions (``[segments]``): real and pseudo pairings
        also get synchrony per segment label (table ``"segments"``, columns
        :data:`~.summaries.segment_values.SEGMENT_COLUMNS`), from the real pairings'
        sessions (:func:`~.summaries.segments.recording_segments`; pseudo-dyads over
        the samples where both recordings are in the label).

    Returns
    -------
    dict of pandas.DataFrame
        ``"synchrony"``: one row per pairing x channel pair x signal x metric, columns
        :data:`SYNCHRONY_COLUMNS` (plus ``significant_fraction`` when significance is
        on); for ``metric == "wtc"``, ``value`` is the mean coherence over the band's
        scales and the cells outside the cone of influence. With the summaries
        switched on, also ``"windows"`` (wavelet coherence per time window, real
        dyads), ``"lags"`` (per time lag of the patient, real dyads) and
        ``"roi_signal"`` (coherence of region-averaged signals, real dyads). Always
        ``"overlaps"``: one row per pairing and signal, columns
        :data:`OVERLAP_COLUMNS`: the common sampling rate ``sfreq`` (Hz) and the
        samples both partners cover (``n_times``; ``duration_s`` in seconds), the
        time window synchrony was computed on.
    """
    out: dict[str, list[pd.DataFrame]] = {name: [] for name in (
        "synchrony", "windows", "lags", "roi_signal", "overlaps", "segments", "moments")}
    thresholds = ThresholdCache() if settings.significance else None
    rows = PairRows(settings.significance)
    for signal in settings.signals:
        state = _SignalState(signal, settings, thresholds=thresholds)
        recs = signal_recordings(recordings, signal)
        real = [p for p in pairings if p.pairing == "real"]
        segs = (None if segments is None or is_short_signal(signal)
                else recording_segments(segments, real, recs))
        plans = [_plan(p, recs, state, segs) for p in pairings]
        out["overlaps"].append(pd.DataFrame(
            [(*pl.keys(signal).values(), 1.0 / pl.dt, pl.n, pl.n * pl.dt) for pl in plans],
            columns=OVERLAP_COLUMNS))
        if "wtc" in settings.metrics:
            wtc, fractions, wtc_segs = _blocked_wtc(plans, recs, state, spectra_budget)
        else:
            wtc, fractions, wtc_segs = ([None] * len(plans), [None] * len(plans),
                                        [{}] * len(plans))
        for k, pl in enumerate(plans):
            _pairing_frames(pl, state, wtc[k], fractions[k],
                            None if is_short_signal(signal) else regions, null_frames, out,
                            rows, wtc_segs[k])
            if on_pairing is not None:
                on_pairing()
    rows.flush(out["synchrony"])
    frames = {name: pd.concat(parts, ignore_index=True) for name, parts in out.items() if parts}
    if "synchrony" not in frames:
        frames["synchrony"] = pd.DataFrame(columns=SYNCHRONY_COLUMNS)
    return frames
