"""Moments: synchrony in a window around marked events, against null windows of the
same session.

Moments that matter in a session (a rupture, an intervention) are marked as events
(SNIRF stimuli, NIRx triggers, BIDS ``*_events.tsv``). ``[moments]`` names them and a
window around each, e.g. ``events = ["rupture"], window = [-30, 30]`` (seconds from
the marker). For each real dyad-session and signal, a moment's synchrony is the
band-mean wavelet coherence of the session's coherence maps over the window's cells
(outside the recording's cone of influence; :func:`~interbrain.synchrony.summaries.
windowed_band_coherence`), or another metric on the window's samples. Its null: windows
of the same length drawn at random from the same session (``n_null`` per dyad-session
and signal, from a seed of the study's seed, dyad, session and signal), each starting
at least one window length away from every marked moment, computed alike. The test
(:mod:`interbrain.stats.moment_tests`) compares, per dyad, the moments' mean with the
null windows' mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..assembly import recording_offset
from ..synchrony import channel_spectra, compute_metric
from ..synchrony.session import PairingPlan, metric_options
from ..synchrony.settings import AnalysisSettings
from ..synchrony.summaries import windowed_band_coherence
from .surrogates import derive_seed

__all__ = ["MomentSpec", "MOMENT_PAIRINGS", "moment_onsets", "null_window_starts",
           "moment_frames"]

#: Pairings of the moments table: windows around the moments, and null windows.
MOMENT_PAIRINGS: tuple[str, str] = ("moment", "moment_null")


@dataclass(frozen=True)
class MomentSpec:
    """The marked moments of a study (``[moments]``).

    Parameters
    ----------
    events : tuple of str
        Event names (descriptions) that mark moments; each is its own label.
    window : tuple of float
        Start and end of the window around each marker, in seconds from the marker
        (``(-30.0, 30.0)``).
    n_null : int
        Null windows per dyad-session and signal.
    seed : int
        Seed of the null windows (combined with dyad, session and signal).
    """

    events: tuple[str, ...] = ()
    window: tuple[float, float] = (-30.0, 30.0)
    n_null: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        a, b = self.window
        if not (math.isfinite(a) and math.isfinite(b) and b > a):
            raise ValueError(f"moments window must be [start, end] seconds with end > "
                             f"start, got {list(self.window)}")
        if self.n_null < 1:
            raise ValueError(f"moments n_null must be at least 1, got {self.n_null}")


def moment_onsets(pl: PairingPlan, spec: MomentSpec) -> list[tuple[str, float]]:
    """The marked moments of a real pairing: (label, seconds into its common window).

    Events come from the therapist's recording, or, when it has none of
    ``spec.events``, from the patient's (moved to the therapist's clock).
    """
    p = pl.pairing
    shift = 0.0
    ann = pl.therapist.annotations
    chosen = ann[ann["description"].astype(str).isin(spec.events)] if len(ann) else ann
    if not len(chosen):
        ann = pl.patient.annotations
        chosen = ann[ann["description"].astype(str).isin(spec.events)] if len(ann) else ann
        shift = recording_offset(pl.therapist, pl.patient, align=p.align, offset=p.offset,
                                 event=p.event)
    start = pl.start_t * pl.dt
    return sorted((str(d), float(o) + shift - start)
                  for o, d in zip(chosen["onset"], chosen["description"]))


def null_window_starts(n_times: int, width: int, event_starts, n: int, rng
                       ) -> np.ndarray:
    """Start samples of ``n`` null windows of ``width`` samples.

    Drawn uniformly (with replacement) among the starts ``0 .. n_times - width`` at
    least ``width`` samples from every event window's start; empty when none is left.
    """
    starts = np.arange(0, max(n_times - width + 1, 0))
    for e in event_starts:
        starts = starts[np.abs(starts - e) >= width]
    if not starts.size:
        return starts
    return np.sort(rng.choice(starts, size=n, replace=True))


def moment_frames(pl: PairingPlan, signal: str, settings: AnalysisSettings,
                  spec: MomentSpec, x_t: np.ndarray, x_p: np.ndarray) -> list[pd.DataFrame]:
    """Synchrony of a real pairing's moments and of its null windows, every metric.

    Returns
    -------
    list of pandas.DataFrame
        Rows with the columns of the synchrony table, ``pairing`` ``"moment"`` (one
        row per channel pair and marked moment, ``moment`` its label, ``onset_s`` the
        marker's time in the common window) or ``"moment_null"`` (``moment`` the
        label the null serves, ``surrogate`` the draw); none when the pairing has no
        moment whose window lies in the common window, or no room for null windows.
    """
    p = pl.pairing
    a, b = spec.window
    width = int(round((b - a) / pl.dt))
    moments = [(lab, t) for lab, t in moment_onsets(pl, spec)
               if 0 <= int(round((t + a) / pl.dt)) <= pl.n - width]
    if not moments:
        return []
    event_starts = [int(round((t + a) / pl.dt)) for _, t in moments]
    rng = np.random.default_rng(derive_seed(spec.seed, p.dyad, p.session, signal,
                                            "moments"))
    nulls = null_window_starts(pl.n, width, event_starts, spec.n_null, rng)
    if not nulls.size:
        return []
    starts = np.concatenate([event_starts, nulls]).astype(int)
    idx, keys, labels = pl.idx, pl.keys(signal), pl.labels()
    frames = []
    for metric in settings.metrics:
        if metric == "wtc":
            spec_t = channel_spectra(x_t, pl.grid)
            spec_p = channel_spectra(x_p, pl.grid)
            values, _ = windowed_band_coherence(
                spec_t, spec_p, idx, windows=[(s * pl.dt, (s + width) * pl.dt)
                                              for s in starts],
                exclude_coi=settings.exclude_coi)
            values = values.T                       # (n_windows, n_pairs)
        else:
            values = np.stack([compute_metric(metric, x_t[:, s:s + width],
                                              x_p[:, s:s + width], pl.dt, pairs=idx,
                                              **metric_options(metric, settings))
                               for s in starts])
        for k, (label, onset) in enumerate(moments):
            frames.append(pd.DataFrame({**keys, "pairing": "moment", **labels,
                                        "metric": metric, "moment": label,
                                        "onset_s": onset, "value": values[k]}))
        n_null, n_pairs = nulls.size, len(idx)
        tiled = {col: np.tile(np.asarray(v, dtype=object), n_null) for col, v in labels.items()}
        for label in dict.fromkeys(lab for lab, _ in moments):
            frames.append(pd.DataFrame({
                **keys, "pairing": "moment_null", **tiled, "metric": metric,
                "moment": label, "onset_s": np.repeat(nulls * pl.dt - a, n_pairs),
                "surrogate": np.repeat(np.arange(n_null), n_pairs),
                "value": values[len(moments):].ravel()}))
    return frames
