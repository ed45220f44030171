"""Timing checks of the pairings the engine will compute: common sampling rates,
overlap once aligned, and enough time in common for the band, the summaries and the
circular-shift surrogates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..assembly import common_rate, overlap, session_crop
from ..errors import RecordingError
from ..nulls import all_pairings, rate_groups
from ..nulls.pseudo_dyads import PSEUDO_OTHER_KINDS
from ..nulls.surrogates import min_shift_samples
from ..preprocessing import Preprocessed
from ..study import Study
from ..synchrony import WaveletGrid, min_samples_for_band
from ..synchrony.session import channel_pairs
from .report import PairingCheck, RecordingHeader, ValidationReport


def _stand_in(header: RecordingHeader, rate: float):
    """A signal-less :class:`~interbrain.preprocessing.Preprocessed` with the header's
    timing, brought to ``rate`` Hz as :func:`~interbrain.assembly.resample_to` would
    (``ceil(n_times / factor)`` samples)."""
    factor = max(int(round(header.sfreq / rate)), 1)
    n = -(-header.n_times // factor)
    qc = pd.DataFrame({"channel": pd.Series(dtype=str), "bad": pd.Series(dtype=bool)})
    empty = np.empty((0, n))
    return Preprocessed(source=header.key, channels=list(header.channels), hbo=empty,
                        hbr=empty, sfreq=float(rate), meas_date=header.meas_date, qc=qc,
                        annotations=header.annotations)


class _BandRule:
    """Whether a common window of n samples is long enough for the band, by the wavelet
    grid's own rule (:meth:`~interbrain.synchrony.wavelet.WaveletGrid.build`, as the
    engine builds it); the minimum length is computed once per sampling rate."""

    def __init__(self, band: tuple[float, float], precision: str) -> None:
        self.band, self.precision = band, precision
        self.need: dict[float, int | None] = {}

    def _check(self, n: int, dt: float) -> str | None:
        # the grid's checks only: its arrays grow with n, and the minimum length of a
        # band of long periods can be millions of samples (fuzzing found one that
        # allocated tens of GiB)
        try:
            WaveletGrid.check(n, dt, band=self.band, dtype=self.precision)
        except ValueError as exc:
            return str(exc)
        return None

    def problem(self, n: int, rate: float) -> str | None:
        """The grid's message for n samples at ``rate`` Hz, or None if they suffice."""
        dt = 1.0 / rate
        if rate not in self.need:
            m = min_samples_for_band(dt, self.band)
            # a band the grid refuses at every length (e.g. below its shortest period)
            self.need[rate] = m if m is not None and self._check(m, dt) is None else None
        m = self.need[rate]
        if m is not None and n >= m:
            return None
        return self._check(n, dt)

    def seconds(self) -> dict[float, float | None]:
        return {rate: (m / rate if m is not None else None) for rate, m in self.need.items()}


def _summary_problem(settings, n: int, rate: float, band: _BandRule) -> str | None:
    """Whether the optional summaries of a real dyad-session (``window``, ``lags``) fit
    in its ``n`` common samples at ``rate`` Hz (as
    :func:`~interbrain.synchrony.summaries.windowed_band_coherence` and
    :func:`~interbrain.synchrony.summaries.lagged_band_coherence` require)."""
    dt = 1.0 / rate
    if settings.window > 0 and int(round(settings.window / dt)) > n:
        return (f"window = {settings.window:g} s ([analysis]) is longer than the "
                f"{n * dt:.1f} s the partners have in common")
    if settings.lags:
        shifts = np.round(np.asarray(settings.lags, dtype=float) / dt).astype(np.int64)
        if np.unique(shifts).size != shifts.size:
            return (f"lags {list(settings.lags)} s ([analysis]) give duplicate shifts at "
                    f"{rate:g} Hz (lags are rounded to whole samples)")
        longest = int(np.abs(shifts).max())
        if band.problem(n - longest, rate) is not None:
            need = band.need.get(rate)
            allowed = (f"; the largest |lag| allowed is {max(n - need, 0) * dt:.6g} s"
                       if need is not None else "")
            return (f"lag of {longest * dt:.6g} s ([analysis] lags) leaves {n - longest} of "
                    f"the {n} samples in common, too few for the band{allowed}")
    return None


def check_pairings(study: Study, report: ValidationReport) -> None:
    """Check the timing of every pairing the engine will compute, into ``report``.

    Parameters
    ----------
    study : Study
        The loaded study.
    report : ValidationReport
        With the headers :func:`~.headers.read_headers` read; gets one problem per
        failed check and one :class:`~.report.PairingCheck` per pairing that passed,
        and ``band_need``.
    """
    heads = report.recordings
    # the pairings and groups the engine computes (all_pairings, rate_groups); it brings
    # the recordings of one group to one rate. The real and pseudo groups are checked
    # first and the pairings in the order of all_pairings (real ones first), so that a
    # problem is named by the real pairing, and the null pairings of a recording
    # already named do not repeat it.
    pairings = all_pairings(study)
    groups = rate_groups(pairings)
    group_of = {id(p): key for key, group in groups.items() for p in group}
    rates: dict[tuple, float | None] = {}
    for group_key in groups:   # the sessions' groups first
        keys: list[str] = []
        for p in groups[group_key]:
            keys += [k for k in (p.therapist.key, p.patient.key) if k in heads and k not in keys]
        try:
            rates[group_key] = common_rate({k: heads[k].sfreq for k in keys}) if keys else None
        except RecordingError as exc:
            rates[group_key] = None
            named = {f for problem in report.problems for f in problem.files}
            if not (group_key[0] != "session" and set(keys) & named):
                report.add(str(exc), *keys)
    crop_of = {(s.dyad, s.session): session_crop(s) for s in study.sessions}
    band = _BandRule(study.analysis.band, study.analysis.precision)
    settings = study.analysis
    # one stand-in per recording and rate, shared by its pairings (nothing changes them)
    stand_ins: dict[tuple[str, float], Preprocessed] = {}

    def stand_in(key: str, rate: float) -> Preprocessed:
        if (key, rate) not in stand_ins:
            stand_ins[key, rate] = _stand_in(heads[key], rate)
        return stand_ins[key, rate]

    for p in pairings:
        group_key = group_of[id(p)]
        t_key, p_key = p.therapist.key, p.patient.key
        if t_key not in heads or p_key not in heads:
            continue   # already reported
        named = {f for problem in report.problems for f in problem.files}
        null_kinds = ("pseudo", "familiarity", *PSEUDO_OTHER_KINDS)
        if p.pairing in null_kinds and {str(p.therapist.path), str(p.patient.path),
                                        t_key, p_key} & named:
            continue   # a null pairing of a recording with a problem would repeat it
        rate = rates.get(group_key) or heads[t_key].sfreq
        a, b = stand_in(t_key, rate), stand_in(p_key, rate)
        try:
            channel_pairs(a, b, settings.pairs)
        except RecordingError as exc:
            report.add(str(exc), t_key, p_key)
        if rates.get(group_key) is None:
            continue
        try:
            common = overlap(a, b, align=p.align, offset=p.offset, event=p.event,
                             crop=crop_of.get((p.dyad, p.session))
                             if p.pairing == "real" else None)
        except RecordingError as exc:
            report.add(str(exc), t_key, p_key)
            continue
        n, dt = common.n_times, 1.0 / rate
        where = (f"{t_key} and {p_key} ({n * dt:.1f} s in common; they last "
                 f"{a.n_times * dt:.1f} s and {b.n_times * dt:.1f} s)")
        message = band.problem(n, rate)
        if message is not None:
            report.add(f"{where}: {message}", t_key, p_key)
            continue
        summary = _summary_problem(settings, n, rate, band) if p.pairing == "real" else None
        if summary is not None:
            report.add(f"{where}: {summary}", t_key, p_key)
            continue
        if p.pairing == "real" and "circular_shift" in settings.surrogates:
            try:
                min_shift_samples(n, dt, band=settings.band,
                                  min_shift_s=settings.surrogate_min_shift or None)
            except ValueError as exc:
                report.add(f"{p.therapist} and {p.patient}: circular_shift surrogates: {exc}",
                           t_key, p_key)
                continue
        report.pairings.append(PairingCheck(p.dyad, p.partner_dyad, p.session, p.pairing,
                                            float(rate), n * dt, p.patient_session))
    report.band_need = band.seconds()
