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
from ..synchrony import WaveletGrid, band_mean_coherence, channel_spectra, compute_metric

SYNCHRONY_COLUMNS = ["dyad", "partner_dyad", "session", "pair", "channel_therapist",
                     "channel_patient", "signal", "pairing", "metric", "value"]


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
        common = [c for c in therapist.channels if c in index]
        if not common:
            raise RecordingError(
                f"{therapist.source} and {patient.source}: no channel names in common, so "
                "homologous pairs cannot be formed (first names: "
                f"{therapist.channels[:3]} vs {patient.channels[:3]})")
        return [(i, index[c], c) for i, c in enumerate(therapist.channels)
                if c in index and c not in bad_t and c not in bad_p]
    return [(i, j, f"{ct}-{cp}") for i, ct in enumerate(therapist.channels) if ct not in bad_t
            for j, cp in enumerate(patient.channels) if cp not in bad_p]


def pairings_synchrony(pairings: Sequence[Pairing], recordings: dict[str, Preprocessed],
                       settings: AnalysisSettings,
                       on_pairing: Callable[[], None] | None = None) -> pd.DataFrame:
    """Band-averaged wavelet coherence of every channel pair of every pairing.

    Parameters
    ----------
    pairings : sequence of Pairing
        Real and/or pseudo pairings, typically all those of one session number.
    recordings : dict
        Recording file (str) -> preprocessed recording.
    settings : AnalysisSettings
        Band (seconds), signals, pair scheme and cone-of-influence handling.
    on_pairing : callable, optional
        Called once per finished pairing (progress).

    Returns
    -------
    pandas.DataFrame
        One row per pairing x channel pair x signal x metric, columns
        :data:`SYNCHRONY_COLUMNS`; for ``metric == "wtc"``, ``value`` is the mean
        coherence over the band's scales and the cells outside the cone of influence.
    """
    grids: dict[tuple[int, float], WaveletGrid] = {}
    rows: list[pd.DataFrame] = []
    patient_sources = {q.patient.key for q in pairings}
    for signal in settings.signals:
        cache: dict[tuple[str, int], object] = {}

        def spectra(rec: Preprocessed, start: int, n: int, grid: WaveletGrid):
            key = (rec.source, start, n)
            if key not in cache:
                cache[key] = channel_spectra(crop(rec.signal(signal), start, n), grid)
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
            for metric in settings.metrics if chan else ():
                idx = [(i, j) for i, j, _ in chan]
                if metric == "wtc":
                    values = band_mean_coherence(spectra(t_rec, common.start_a, n, grid),
                                                 spectra(p_rec, common.start_b, n, grid), idx,
                                                 exclude_coi=settings.exclude_coi)
                else:
                    options = {"band": settings.band} if metric == "plv" else {}
                    values = compute_metric(metric, crop(t_rec.signal(signal), common.start_a, n),
                                            crop(p_rec.signal(signal), common.start_b, n), dt,
                                            pairs=idx, **options)
                rows.append(pd.DataFrame({
                    "dyad": p.dyad, "partner_dyad": p.partner_dyad, "session": p.session,
                    "pair": [c[2] for c in chan],
                    "channel_therapist": [t_rec.channels[i] for i, _, _ in chan],
                    "channel_patient": [p_rec.channels[j] for _, j, _ in chan],
                    "signal": signal, "pairing": p.pairing, "metric": metric,
                    "value": np.asarray(values, dtype=float)}))
            last_of_therapist = k + 1 == len(ordered) or ordered[k + 1].therapist != p.therapist
            if last_of_therapist and t_rec.source not in patient_sources:
                for key in [key for key in cache if key[0] == t_rec.source]:
                    del cache[key]
            if on_pairing is not None:
                on_pairing()
    if not rows:
        return pd.DataFrame(columns=SYNCHRONY_COLUMNS)
    return pd.concat(rows, ignore_index=True)[SYNCHRONY_COLUMNS]
