"""Synchrony of channel pairs per labelled segment, from the pairs' shared spectra.

For wavelet coherence a segment's value is the mean coherence over the band's scales
and the cells of the segment's samples, taken from the coherence maps of the
pairing's whole common time window, as
:func:`~interbrain.synchrony.summaries.windowed_band_coherence` does: one wavelet
transform per channel serves the whole session and every segment. With
``exclude_coi`` the cells must lie outside the cone of influence of the window and of
the segment itself (:func:`segment_cells`), so that a segment's value does not
borrow coherence from its neighbours. The other metrics
(Pearson, AR-prewhitened robust correlation, phase-locking value) are computed on the
segment's samples (the samples of all segments of one label, in time order).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..coherence import iter_pair_coherence
from ..metrics import compute_metric
from ..spectra import ChannelSpectra, check_same_grid
from ..wavelet.scales import cone_of_influence

__all__ = ["SEGMENT_COLUMNS", "segment_cells", "segment_band_means", "segment_metric_values",
           "segment_frames"]

#: Columns of the ``"segments"`` table (``synchrony_segments.parquet``): those of the
#: synchrony table with the segment's label and the samples (``n_samples``) it covers in
#: the pairing's common window.
SEGMENT_COLUMNS = ["dyad", "partner_dyad", "session", "partner_session", "pair",
                   "channel_therapist", "channel_patient", "signal", "pairing", "metric",
                   "segment", "n_samples", "value"]


def segment_cells(mask: np.ndarray, grid, exclude_coi: bool = True) -> np.ndarray:
    """Cells of the band rows in a segment's samples, shape (n_band_rows, n_times).

    With ``exclude_coi`` a cell must lie outside the cone of influence of the whole
    window (``grid.valid``) *and* outside that of its own run of samples, as if the
    run were a recording of its own: cells within reach of a segment's boundary
    (where the wavelet and the smoothing see the neighbouring segment) are left out,
    so coupling in one segment does not leak into the value of the next.
    """
    mask = np.asarray(mask, dtype=bool)
    if not exclude_coi:
        return np.broadcast_to(mask, (grid.n_band_rows, grid.n_times)).copy()
    periods = np.asarray(grid.period)[grid.band_start:grid.band_stop]
    cells = np.zeros((grid.n_band_rows, grid.n_times), dtype=bool)
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        own = periods[:, None] < cone_of_influence(int(b - a), grid.dt)[None, :]
        cells[:, a:b] = np.asarray(grid.valid)[:, a:b] & own
    return cells


def segment_band_means(spec_a: ChannelSpectra, spec_b: ChannelSpectra, idx: np.ndarray,
                       masks: Sequence[dict[str, np.ndarray]], *, exclude_coi: bool = True
                       ) -> tuple[np.ndarray, list[dict[str, tuple[float, int]]]]:
    """Band-mean coherence of pairs over the whole window and over each segment.

    Parameters
    ----------
    spec_a, spec_b : ChannelSpectra
        Spectra of the pairs' channels on one grid.
    idx : numpy.ndarray of int, shape (n_pairs, 2)
        Rows of ``spec_a`` and ``spec_b`` of each pair.
    masks : sequence of dict, length n_pairs
        Per pair, label -> boolean mask of the samples (shape (n_times,)) of its
        segments (:func:`~interbrain.synchrony.summaries.segments.pairing_masks`).
    exclude_coi : bool
        Use only the cells outside the cone of influence (of the window and of each
        segment's runs, :func:`segment_cells`).

    Returns
    -------
    whole : numpy.ndarray, shape (n_pairs,)
        Mean over every (valid) cell: the session's band mean (as
        :func:`~interbrain.synchrony.band_mean_coherence`, to round-off).
    segments : list of dict, length n_pairs
        Label -> ``(mean, n_cells)``; NaN mean and 0 cells where the segment has no
        valid cell.
    """
    grid = check_same_grid(spec_a, spec_b)
    valid = (np.asarray(grid.valid) if exclude_coi
             else np.ones((grid.n_band_rows, grid.n_times), dtype=bool))
    total = int(valid.sum())
    idx = np.asarray(idx, dtype=np.intp).reshape(-1, 2)
    whole = np.full(len(idx), np.nan)
    out: list[dict[str, tuple[float, int]]] = [{} for _ in range(len(idx))]
    if not len(idx):
        return whole, out
    cells: dict[int, np.ndarray] = {}   # one cell mask per distinct sample mask
    for sl, coh in iter_pair_coherence(spec_a, spec_b, idx):
        for row, k in enumerate(range(sl.start, sl.stop)):
            whole[k] = coh[row][valid].sum(dtype=np.float64) / total if total else np.nan
            for label, mask in masks[k].items():
                if id(mask) not in cells:
                    cells[id(mask)] = segment_cells(mask, grid, exclude_coi)
                cm = cells[id(mask)]
                n = int(cm.sum())
                out[k][label] = (float(coh[row][cm].sum(dtype=np.float64) / n)
                                 if n else np.nan, n)
    return whole, out


def segment_metric_values(metric: str, a: np.ndarray, b: np.ndarray, dt: float,
                          idx: np.ndarray, masks: dict[str, np.ndarray], **options
                          ) -> dict[str, np.ndarray]:
    """A metric of channel pairs on the samples of each label.

    Parameters
    ----------
    metric : str
        A metric of :func:`~interbrain.synchrony.compute_metric` (not ``"wtc"``).
    a, b : numpy.ndarray, shape (n_channels, n_times)
        The two partners' signals over the pairing's common window.
    dt : float
        Sampling interval in seconds.
    idx : numpy.ndarray of int, shape (n_pairs, 2)
        Channel pairs.
    masks : dict
        Label -> boolean mask of samples, shape (n_times,).
    **options
        Options of the metric.

    Returns
    -------
    dict
        Label -> values, shape (n_pairs,); NaN where the metric cannot be computed on
        so few samples.
    """
    out = {}
    for label, mask in masks.items():
        try:
            out[label] = np.asarray(compute_metric(metric, a[:, mask], b[:, mask], dt,
                                                   pairs=idx, **options), dtype=float)
        except ValueError:
            out[label] = np.full(len(idx), np.nan)
    return out


def segment_frames(columns: dict, metrics: Sequence[str], masks: dict[str, np.ndarray],
                   wtc_segments: dict[str, np.ndarray], a: np.ndarray, b: np.ndarray,
                   dt: float, idx: np.ndarray, options: Callable[[str], dict]
                   ) -> list[pd.DataFrame]:
    """Rows of the ``"segments"`` table of one pairing and signal, every metric.

    Parameters
    ----------
    columns : dict
        The pairing's key columns and its pairs' ``pair``, ``channel_therapist`` and
        ``channel_patient`` lists.
    metrics : sequence of str
    masks : dict
        Label -> samples of the segment, shape (n_times,).
    wtc_segments : dict
        Label -> wavelet-coherence values of the pairs (from
        :func:`segment_band_means`).
    a, b : numpy.ndarray, shape (n_channels, n_times)
        The partners' signals over the common window.
    dt : float
    idx : numpy.ndarray of int, shape (n_pairs, 2)
    options : callable
        Metric -> its options.

    Returns
    -------
    list of pandas.DataFrame
        Columns of :data:`SEGMENT_COLUMNS`.
    """
    frames = []
    for metric in metrics:
        values = (wtc_segments if metric == "wtc" else
                  segment_metric_values(metric, a, b, dt, idx, masks, **options(metric)))
        for label, mask in masks.items():
            frames.append(pd.DataFrame({
                **columns, "metric": metric, "segment": label, "n_samples": int(mask.sum()),
                "value": values.get(label, np.full(len(idx), np.nan))}))
    return frames
