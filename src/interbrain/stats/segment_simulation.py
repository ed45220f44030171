"""Simulated studies with labelled segments, for the segment models' calibration.

:func:`simulate_segment_study` makes preprocessed recordings of dyads whose sessions
alternate between labelled segments (``"rest"`` then ``"talk"``, marked by events
``"1"`` and ``"2"``), the patient following the therapist's slow (0.03-0.2 Hz)
signal in the labels given a coupling; dyads fall into groups (``"treatment"`` and
``"control"``) whose coupling may differ. :func:`segment_study_synchrony` runs
:func:`interbrain.nulls.session.pairings_synchrony` on it (real pairings, pseudo-dyads
within group, the within-session shuffling null) and :func:`segment_null_rates`
repeats whole studies without coupling and counts how often each segment test
rejects: the calibration of :mod:`interbrain.stats.segment_models` (the tests run a
short version, ``benchmarks/calibration.py`` a long one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import butter, sosfiltfilt

from ..design import RecordingRef
from ..nulls import Pairing
from ..nulls.dyad_tests import sign_flip_test
from ..nulls.moments import MomentSpec, null_window_starts
from ..nulls.session import pairings_synchrony
from ..preprocessing import Preprocessed
from ..synchrony import channel_spectra
from ..synchrony.settings import AnalysisSettings
from ..synchrony.summaries import windowed_band_coherence
from ..synchrony.summaries.segments import SegmentSpec
from ..synchrony.wavelet import WaveletGrid
from .moment_tests import moment_tests
from .segment_models import fit_condition_model, segment_excess, segment_real_vs_null
from .settings import StatisticsSettings

__all__ = ["SegmentStudy", "simulate_segment_study", "segment_study_synchrony",
           "segment_null_rates", "fast_segment_null_rates", "simulate_moment_study",
           "moment_null_rates", "fast_moment_null_rates", "condition_model_null_rate"]

#: Events marking the segments of a simulated session, and their labels.
EVENTS: dict[str, str] = {"1": "rest", "2": "talk"}


@dataclass
class SegmentStudy:
    """A simulated study: recordings, pairings and design."""

    recordings: dict[str, Preprocessed]
    pairings: list
    design: pd.DataFrame
    spec: SegmentSpec


def _slow(rng: np.random.Generator, shape: tuple[int, ...], sfreq: float) -> np.ndarray:
    """Unit-variance noise band-passed to 0.03-0.2 Hz."""
    sos = butter(2, [0.03, min(0.2, 0.45 * sfreq)], btype="band", fs=sfreq, output="sos")
    x = sosfiltfilt(sos, rng.standard_normal(shape), axis=-1)
    return x / x.std(axis=-1, keepdims=True)


def _recording(name: str, hbo: np.ndarray, sfreq: float, events) -> Preprocessed:
    channels = [f"S{k + 1}_D1" for k in range(hbo.shape[0])]
    qc = pd.DataFrame({"channel": channels, "bad": False, "reason": ""})
    ann = pd.DataFrame({"onset": [float(o) for o, _ in events],
                        "duration": [0.0] * len(events),
                        "description": [d for _, d in events]})
    return Preprocessed(source=name, channels=channels, hbo=hbo * 1e-6, hbr=-0.4e-6 * hbo,
                        sfreq=sfreq, meas_date=None, qc=qc, annotations=ann)


def simulate_segment_study(rng, *, n_dyads: int = 6, n_sessions: int = 1,
                           n_channels: int = 2, sfreq: float = 2.0,
                           segment_s: float = 120.0, coupling: dict | None = None,
                           groups: tuple[str, ...] = ("treatment", "control"),
                           shuffle_window: float = 0.0) -> SegmentStudy:
    """A study whose sessions are ``segment_s`` seconds of rest, then of talk.

    Parameters
    ----------
    rng : numpy.random.Generator or int
    n_dyads, n_sessions, n_channels : int
    sfreq : float
        Sampling rate in Hz.
    segment_s : float
        Seconds per segment.
    coupling : dict, optional
        ``{label: weight}`` or ``{(group, label): weight}``: the patient's signal in
        that segment is ``w * therapist + sqrt(1 - w**2) * own`` (plus channel noise);
        default none.
    groups : tuple of str
        Dyad ``i`` belongs to ``groups[i * len(groups) // n_dyads]``.
    shuffle_window : float
        ``shuffle_window`` of the returned :class:`SegmentSpec`.

    Returns
    -------
    SegmentStudy
    """
    rng = np.random.default_rng(rng)
    coupling = coupling or {}
    n = int(round(2 * segment_s * sfreq))
    half = n // 2
    events = [(0.0, "1"), (half / sfreq, "2")]
    recordings, pairings, design = {}, [], []
    for i in range(n_dyads):
        dyad, group = f"D{i + 1:02d}", groups[i * len(groups) // n_dyads]
        for s in range(1, n_sessions + 1):
            t = _slow(rng, (n_channels, n), sfreq)
            own = _slow(rng, (n_channels, n), sfreq)
            p = own.copy()
            for label, part in (("rest", slice(0, half)), ("talk", slice(half, n))):
                w = float(coupling.get((group, label), coupling.get(label, 0.0)))
                p[:, part] = w * t[:, part] + np.sqrt(1 - w * w) * own[:, part]
            noise = 0.3
            refs = {}
            for role, x in (("therapist", t), ("patient", p)):
                ref = RecordingRef(Path(f"{dyad}_ses-{s}_{role}"), role)
                x = x + noise * rng.standard_normal(x.shape)
                recordings[ref.key] = _recording(ref.key, x, sfreq, events)
                refs[role] = ref
            pairings.append(Pairing(dyad, dyad, s, refs["therapist"], refs["patient"]))
            design.append({"dyad": dyad, "session": s, "therapist": f"T{i + 1:02d}",
                           "patient": f"P{i + 1:02d}", "condition": group})
    design = pd.DataFrame(design)
    sessions = {(p.dyad, p.session): p for p in pairings}
    group_of = dict(zip(design["dyad"], design["condition"]))
    for (da, s), a in sorted(sessions.items()):
        for (db, sb), b in sorted(sessions.items()):
            if s == sb and da != db and group_of[da] == group_of[db]:
                pairings.append(Pairing(da, db, s, a.therapist, b.patient))
    spec = SegmentSpec(source="events", events=tuple(EVENTS.items()),
                       labels=("rest", "talk"), shuffle_window=shuffle_window)
    return SegmentStudy(recordings, pairings, design, spec)


def segment_study_synchrony(study: SegmentStudy, *, metrics=("wtc",),
                            band: tuple[float, float] = (5.0, 12.0)
                            ) -> dict[str, pd.DataFrame]:
    """Synchrony (whole sessions and segments) of a simulated study, by session number."""
    settings = AnalysisSettings(band=band, signals=("hbo",), metrics=tuple(metrics))
    parts = []
    for s in sorted({p.session for p in study.pairings}):
        group = [p for p in study.pairings if p.session == s]
        parts.append(pairings_synchrony(group, study.recordings, settings,
                                        segments=study.spec))
    return {name: pd.concat([p[name] for p in parts if name in p], ignore_index=True)
            for name in ("synchrony", "segments")}


def segment_null_rates(n_studies: int = 1000, *, seed: int = 0, alpha: float = 0.05,
                       metric: str = "pearson", shuffle_window: float = 40.0,
                       n_permutations: int = 999, **design) -> pd.DataFrame:
    """How often each segment's real-versus-null test rejects without coupling.

    Parameters
    ----------
    n_studies : int
        Simulated studies (:func:`simulate_segment_study`, no coupling).
    seed : int
    alpha : float
    metric : str
        The synchrony metric (``"pearson"`` is fast; ``"wtc"`` is what runs use).
    shuffle_window : float
        Seconds of the shuffled windows.
    n_permutations : int
        Of the sign-flip tests.
    **design
        Passed to :func:`simulate_segment_study`.

    Returns
    -------
    pandas.DataFrame
        One row per null and label: ``null, segment, rejections, n_studies, rate``.
    """
    rng = np.random.default_rng(seed)
    counts: dict[tuple[str, str], list[int]] = {}
    settings = StatisticsSettings(n_permutations=n_permutations)
    for _ in range(n_studies):
        study = simulate_segment_study(rng, shuffle_window=shuffle_window, **design)
        tables = segment_study_synchrony(study, metrics=(metric,))
        for null in ("pseudo", "segment_shuffle"):
            excess = segment_excess(tables["segments"], "hbo", metric, null)
            rows = segment_real_vs_null(excess, "hbo", metric, null,
                                        n_permutations=settings.n_permutations,
                                        seed=int(rng.integers(2**31)))
            for label, p in zip(rows["segment"], rows["p"]):
                counts.setdefault((null, label), []).append(int(p <= alpha))
    out = pd.DataFrame([{"null": null, "segment": label, "rejections": sum(v),
                         "n_studies": len(v), "rate": sum(v) / len(v)}
                        for (null, label), v in sorted(counts.items())])
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation along the last axis."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))


def fast_segment_null_rates(n_studies: int = 1000, *, seed: int = 0, alpha: float = 0.05,
                            n_dyads: int = 6, n_channels: int = 2, sfreq: float = 2.0,
                            segment_s: float = 120.0, shuffle_window: float = 40.0,
                            n_permutations: int = 999) -> pd.DataFrame:
    """:func:`segment_null_rates` for the Pearson metric, vectorised over studies.

    The same design and statistics (the label's Pearson correlation on its samples;
    pseudo-dyads within group over the same samples; the within-session shuffled
    windows; per dyad the excess over the null; the one-sided dyad-level sign-flip
    test), computed with NumPy on all studies at once instead of through the engine's
    tables: fast enough for the test suite.

    Returns
    -------
    pandas.DataFrame
        As :func:`segment_null_rates`.
    """
    rng = np.random.default_rng(seed)
    n = int(round(2 * segment_s * sfreq))
    half, width = n // 2, int(round(shuffle_window * sfreq))
    groups = np.array([i * 2 // n_dyads for i in range(n_dyads)])
    counts = {}
    for _ in range(n_studies):
        t = _slow(rng, (n_dyads, n_channels, n), sfreq)
        p = _slow(rng, (n_dyads, n_channels, n), sfreq)
        t = t + 0.3 * rng.standard_normal(t.shape)
        p = p + 0.3 * rng.standard_normal(p.shape)
        for label, part in (("rest", slice(0, half)), ("talk", slice(half, n))):
            tt, pp = t[..., part], p[..., part]
            real = _corr(tt, pp).mean(-1)                      # (n_dyads,)
            cross = _corr(tt[:, None], pp[None, :]).mean(-1)   # (therapist, patient)
            same = (groups[:, None] == groups[None, :]) & ~np.eye(n_dyads, dtype=bool)
            pseudo = np.where(same, cross, 0).sum(1) / same.sum(1)
            windows = [s for s in (0, half) for s in range(s, s + half - width + 1, width)]
            own = [s for s in windows if part.start <= s < part.stop]
            wt = np.stack([t[..., s:s + width] for s in own], axis=1)
            wp_all = np.stack([p[..., s:s + width] for s in windows], axis=1)
            wp_own = np.stack([p[..., s:s + width] for s in own], axis=1)
            real_w = _corr(wt, wp_own).mean((1, 2))
            shuffled = _corr(wt[:, :, None], wp_all[:, None, :]).mean(-1)  # (d, k, m)
            keep = np.array([[m != k for m in windows] for k in own])
            null_w = shuffled[:, keep].mean(-1)
            for null, diff in (("pseudo", real - pseudo), ("segment_shuffle", real_w - null_w)):
                test = sign_flip_test(diff, n_permutations=n_permutations,
                                      seed=int(rng.integers(2**31)), alternative="greater")
                counts.setdefault((null, label), []).append(int(test.p <= alpha))
    return pd.DataFrame([{"null": null, "segment": label, "rejections": sum(v),
                          "n_studies": len(v), "rate": sum(v) / len(v)}
                         for (null, label), v in sorted(counts.items())])


def simulate_moment_study(rng, *, n_dyads: int = 6, minutes: float = 10.0,
                          n_moments: int = 3, window: tuple[float, float] = (-30.0, 30.0),
                          coupling: float = 0.0, sfreq: float = 2.0, n_channels: int = 2
                          ) -> SegmentStudy:
    """One session per dyad with ``n_moments`` events ``"rupture"`` at random times.

    The patient follows the therapist (weight ``coupling``) only within ``window``
    around each marked moment; ``spec`` of the result is None (see
    :func:`moment_null_rates` for the :class:`~interbrain.nulls.moments.MomentSpec`).
    """
    rng = np.random.default_rng(rng)
    n = int(round(minutes * 60 * sfreq))
    span = window[1] - window[0]
    recordings, pairings, design = {}, [], []
    for i in range(n_dyads):
        dyad = f"D{i + 1:02d}"
        slots = np.arange(-window[0], n / sfreq - window[1] - span, 1.5 * span)
        onsets = np.sort(rng.choice(slots, size=min(n_moments, slots.size), replace=False)
                         + rng.uniform(0, 0.5 * span, size=min(n_moments, slots.size)))
        t = _slow(rng, (n_channels, n), sfreq)
        own = _slow(rng, (n_channels, n), sfreq)
        p = own.copy()
        for onset in onsets:
            part = slice(int((onset + window[0]) * sfreq), int((onset + window[1]) * sfreq))
            p[:, part] = coupling * t[:, part] + np.sqrt(1 - coupling ** 2) * own[:, part]
        refs = {}
        for role, x in (("therapist", t), ("patient", p)):
            ref = RecordingRef(Path(f"{dyad}_{role}"), role)
            recordings[ref.key] = _recording(ref.key, x + 0.3 * rng.standard_normal(x.shape),
                                             sfreq, [(o, "rupture") for o in onsets])
            refs[role] = ref
        pairings.append(Pairing(dyad, dyad, 1, refs["therapist"], refs["patient"]))
        design.append({"dyad": dyad, "session": 1, "therapist": f"T{i + 1:02d}"})
    return SegmentStudy(recordings, pairings, pd.DataFrame(design), None)


def moment_null_rates(n_studies: int = 1000, *, seed: int = 0, alpha: float = 0.05,
                      n_null: int = 20, band: tuple[float, float] = (5.0, 12.0),
                      **design) -> float:
    """How often the moment test rejects when the moments change nothing.

    Parameters
    ----------
    n_studies : int
        Studies of :func:`simulate_moment_study` without coupling.
    seed : int
    alpha : float
    n_null : int
        Null windows per dyad-session.
    band : tuple of float
        Wavelet coherence band, seconds.
    **design
        Passed to :func:`simulate_moment_study`.

    Returns
    -------
    float
        The rejection rate of :func:`~interbrain.stats.moment_tests.moment_tests`.
    """
    rng = np.random.default_rng(seed)
    settings = AnalysisSettings(band=band, signals=("hbo",), metrics=("wtc",))
    spec = MomentSpec(events=("rupture",), window=design.get("window", (-30.0, 30.0)),
                      n_null=n_null)
    rejections = 0
    for _ in range(n_studies):
        study = simulate_moment_study(rng, **design)
        moments = pairings_synchrony(study.pairings, study.recordings, settings,
                                     moments=spec)["moments"]
        rows = moment_tests(moments, "hbo", "wtc", seed=int(rng.integers(2**31)))
        rejections += int((rows["p"] <= alpha).any())
    return rejections / n_studies


def fast_moment_null_rates(n_studies: int = 1000, *, seed: int = 0, alpha: float = 0.05,
                           n_null: int = 20, band: tuple[float, float] = (5.0, 12.0),
                           n_dyads: int = 6, minutes: float = 6.0, sfreq: float = 2.0,
                           window: tuple[float, float] = (-30.0, 30.0)) -> float:
    """:func:`moment_null_rates` with one channel per person, without the tables.

    The same windows (:func:`~interbrain.nulls.moments.null_window_starts`), the same
    band means (:func:`~interbrain.synchrony.summaries.windowed_band_coherence` on
    the session's spectra) and the same two-sided dyad-level sign-flip test, called
    directly on arrays: fast enough for the test suite.
    """
    rng = np.random.default_rng(seed)
    n = int(round(minutes * 60 * sfreq))
    grid = WaveletGrid.build(n, 1 / sfreq, band=band)
    width = int(round((window[1] - window[0]) * sfreq))
    rejections = 0
    for _ in range(n_studies):
        study = simulate_moment_study(rng, n_dyads=n_dyads, minutes=minutes, n_moments=3,
                                      window=window, sfreq=sfreq, n_channels=1)
        d = []
        for p in study.pairings:
            t_rec, p_rec = study.recordings[p.therapist.key], study.recordings[p.patient.key]
            onsets = t_rec.annotations["onset"].to_numpy()
            events = [int(round((o + window[0]) * sfreq)) for o in onsets]
            nulls = null_window_starts(n, width, events, n_null, rng)
            starts = np.concatenate([events, nulls]).astype(int)
            values, _ = windowed_band_coherence(
                channel_spectra(t_rec.hbo, grid), channel_spectra(p_rec.hbo, grid),
                windows=[(s / sfreq, (s + width) / sfreq) for s in starts])
            d.append(values[0, :len(events)].mean() - values[0, len(events):].mean())
        test = sign_flip_test(np.array(d), n_permutations=999,
                              seed=int(rng.integers(2**31)), alternative="two-sided")
        rejections += int(test.p <= alpha)
    return rejections / n_studies


def condition_model_null_rate(n_studies: int = 1000, *, seed: int = 0, alpha: float = 0.05,
                              n_dyads: int = 8, n_sessions: int = 1,
                              term: str = "segment[T.talk]") -> float:
    """How often the condition model's ``term`` rejects when the label changes nothing.

    Synchrony per dyad, session and label (``rest``, ``talk``) is a dyad intercept
    (SD 0.05), a dyad-session deviation (SD 0.02) and noise (SD 0.03); half the dyads
    are ``"treatment"``, half ``"control"`` (no group effect either).

    Returns
    -------
    float
        Rejection rate of ``term`` at ``alpha``.
    """
    rng = np.random.default_rng(seed)
    dyads = np.repeat([f"D{i:02d}" for i in range(n_dyads)], 2 * n_sessions)
    sessions = np.tile(np.repeat(np.arange(1, n_sessions + 1), 2), n_dyads)
    segment = np.tile(["rest", "talk"], n_dyads * n_sessions)
    group = np.where(np.arange(n_dyads) < n_dyads // 2, "treatment", "control")
    rejections = 0
    for _ in range(n_studies):
        value = (np.repeat(rng.normal(0.4, 0.05, n_dyads), 2 * n_sessions)
                 + np.repeat(rng.normal(0, 0.02, n_dyads * n_sessions), 2)
                 + rng.normal(0, 0.03, dyads.size))
        data = pd.DataFrame({"dyad": dyads, "session": sessions, "segment": segment,
                             "synchrony": value,
                             "group": np.repeat(group, 2 * n_sessions)})
        fit = fit_condition_model(data, labels=("rest", "talk"))
        rejections += int(fit.coefficients.loc[term, "p"] <= alpha)
    return rejections / n_studies
