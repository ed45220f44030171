"""Within-session segment shuffling: the pseudosynchrony null of a segment contrast.

The psychotherapy synchrony literature (Ramseyer & Tschacher; rMEA's
``shuffle(..., "segment")`` pseudosynchrony) compares the synchrony of a dyad's
partners in the same stretch of time with that of the therapist's stretch and the
patient's *other* stretches of the same length in the same session: the same two
people, the same session and the same kind of signal, without the timing of their
interaction.

Here a real pairing's segments (the samples of each label, both recordings in it)
are cut into consecutive windows of ``shuffle_window`` seconds (the remainder of a
segment is left out). Wavelet coherence is computed on each window alone (its own
grid, cells outside its cone of influence), once for the therapist's window with
the patient's window at the same time (pairing ``"real_windows"``) and once with
each of the patient's other windows of the session, of any label (pairing
``"segment_shuffle"``; ``shuffle_draws`` of them per window, drawn from a seed of
the study's seed, dyad, session and signal, or all). A label's value is the mean over
its windows (and, for the null, their partners). Both use the same estimator on
windows of the same length, so ``real_windows - segment_shuffle`` is zero on
average without coupling in that label. Other metrics are computed on the same
windows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import RecordingError
from ..synchrony import band_mean_coherence, channel_spectra, compute_metric
from ..synchrony.session import PairingPlan, metric_options
from ..synchrony.settings import AnalysisSettings
from ..synchrony.summaries.segments import SegmentSpec
from ..synchrony.wavelet import WaveletGrid
from .surrogates import derive_seed

__all__ = ["SHUFFLE_PAIRINGS", "label_windows", "segment_shuffle_frames"]

#: Pairings of the segment-shuffling null: the real windows and their shuffled partners.
SHUFFLE_PAIRINGS: tuple[str, str] = ("real_windows", "segment_shuffle")


def label_windows(masks: dict[str, np.ndarray], width: int) -> list[tuple[int, str]]:
    """Consecutive windows of ``width`` samples inside each label's runs of samples.

    Parameters
    ----------
    masks : dict
        Label -> boolean mask of samples, shape (n_times,).
    width : int
        Samples per window.

    Returns
    -------
    list of (int, str)
        First sample and label of each window, in time order.
    """
    out = []
    for label, mask in masks.items():
        edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for a, b in zip(starts, stops):
            out += [(int(s), label) for s in range(a, b - width + 1, width)]
    return sorted(out)


def _partners(n: int, draws: int, rng: np.random.Generator) -> list[np.ndarray]:
    """For each window, the other windows it is paired with."""
    others = [np.delete(np.arange(n), k) for k in range(n)]
    if draws <= 0 or draws >= n - 1:
        return others
    return [np.sort(rng.choice(o, size=draws, replace=False)) for o in others]


def segment_shuffle_frames(pl: PairingPlan, signal: str, settings: AnalysisSettings,
                           spec: SegmentSpec, x_t: np.ndarray, x_p: np.ndarray
                           ) -> list[pd.DataFrame]:
    """Real-window synchrony and its within-session shuffled null, per label.

    Parameters
    ----------
    pl : PairingPlan
        A real pairing with segment masks.
    signal : str
    settings : AnalysisSettings
        Band, metrics, cone of influence, precision.
    spec : SegmentSpec
        ``shuffle_window`` (seconds) and ``shuffle_draws``; ``pseudo_dyads_seed``
        of ``settings`` seeds the draws.
    x_t, x_p : numpy.ndarray, shape (n_channels, n_times)
        The partners' signals over the pairing's common window.

    Returns
    -------
    list of pandas.DataFrame
        Rows of the ``"segments"`` table with ``pairing`` ``"real_windows"`` or
        ``"segment_shuffle"`` (``n_samples``: the samples of the label's windows);
        none when the session has fewer than two windows.

    Raises
    ------
    RecordingError
        ``shuffle_window`` too short for the band (no cell outside the cone of
        influence).
    """
    p = pl.pairing
    width = int(round(spec.shuffle_window / pl.dt))
    windows = label_windows(pl.masks or {}, width)
    if len(windows) < 2:
        return []
    try:
        grid = WaveletGrid.build(width, pl.dt, band=settings.band, dtype=settings.precision,
                                 fft=settings.fft)
    except ValueError as exc:
        raise RecordingError(f"{p.therapist} and {p.patient}: [segments] shuffle_window = "
                             f"{spec.shuffle_window:g} s is too short for the band: {exc}"
                             ) from None
    idx = pl.idx
    n_win, n_pairs = len(windows), len(idx)
    cut_t = [x_t[:, s:s + width] for s, _ in windows]
    cut_p = [x_p[:, s:s + width] for s, _ in windows]
    rng = np.random.default_rng(derive_seed(settings.pseudo_dyads_seed, p.dyad, p.session,
                                            signal, "segment_shuffle"))
    partners = _partners(n_win, spec.shuffle_draws, rng)
    # every (therapist window k, patient window m) combination needed, real ones first
    combos = [(k, k) for k in range(n_win)] + [(k, int(m)) for k in range(n_win)
                                               for m in partners[k]]
    values = {}
    for metric in settings.metrics:
        if metric == "wtc":
            n_t, n_p = x_t.shape[0], x_p.shape[0]
            spec_t = channel_spectra(np.concatenate(cut_t), grid)
            spec_p = channel_spectra(np.concatenate(cut_p), grid)
            big = np.array([(k * n_t + i, m * n_p + j) for k, m in combos for i, j in idx],
                           dtype=np.intp)
            try:
                vals = band_mean_coherence(spec_t, spec_p, big,
                                           exclude_coi=settings.exclude_coi)
            except ValueError as exc:
                raise RecordingError(f"{p.therapist} and {p.patient}: [segments] "
                                     f"shuffle_window = {spec.shuffle_window:g} s: {exc}"
                                     ) from None
            values[metric] = vals.reshape(len(combos), n_pairs)
        else:
            values[metric] = np.stack([compute_metric(
                metric, cut_t[k], cut_p[m], pl.dt, pairs=idx,
                **metric_options(metric, settings)) for k, m in combos])
    keys, labels = pl.keys(signal), pl.labels()
    win_label = np.array([lab for _, lab in windows], dtype=object)
    combo_label = np.array([win_label[k] for k, _ in combos], dtype=object)
    is_real = np.array([k == m for k, m in combos])
    frames = []
    for metric, vals in values.items():
        for label in dict.fromkeys(win_label):
            n_samples = int((win_label == label).sum()) * width
            for pairing, rows in zip(SHUFFLE_PAIRINGS, (is_real, ~is_real)):
                sel = rows & (combo_label == label)
                if not sel.any():
                    continue
                frames.append(pd.DataFrame({
                    **keys, "pairing": pairing, **labels, "metric": metric,
                    "segment": label, "n_samples": n_samples,
                    "value": np.nanmean(vals[sel], axis=0)}))
    return frames
