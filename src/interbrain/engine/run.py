"""Run a whole study: read, preprocess, synchrony, null controls, models, report.

The work is a Dask graph: one task per recording (read, quality control,
preprocessing) and one per session number (synchrony of its real and pseudo-dyads,
reusing each recording's channel transforms), then the statistics. By default the
graph runs on Dask's threaded scheduler with one worker per core.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import dask
import pandas as pd
from dask.callbacks import Callback

from ..io import read_recording
from ..nulls import pseudo_dyad_pairings, real_pairings
from ..preprocessing import Preprocessed, preprocess_recording
from ..stats.models import (fit_growth, fit_outcomes, model_table, real_vs_pseudo,
                            real_vs_pseudo_table, session_synchrony)
from ..assembly import common_rate, resample_to, split_roles
from ..study import ROLES, PreprocessingSettings, RecordingRef, Study
from .atomic import write_parquet, write_text
from .pairs import pairings_synchrony
from .progress import Progress

logger = logging.getLogger("interbrain")


@dataclass
class StudyResults:
    """Everything a run produced.

    Attributes
    ----------
    synchrony : pandas.DataFrame
        One row per dyad x session x channel pair x signal x pairing.
    qc : pandas.DataFrame
        One row per recording x channel.
    sessions : pandas.DataFrame
        Channel-pair-averaged synchrony per dyad, session, signal and pairing.
    models : pandas.DataFrame
        One row per model term (``models.parquet``).
    fits : dict
        Model name -> fitted model, for figures.
    real_vs_pseudo : dict
        ``(signal, metric)`` -> the real versus pseudo-dyad test.
    notes : list of str
        Models skipped for this design, and why.
    steps : list of dict
        The preprocessing chain applied.
    summaries : dict
        Optional synchrony summaries (per window, lag, region) by name.
    timings : dict
        Stage -> wall time in seconds.
    """

    study: Study
    synchrony: pd.DataFrame
    qc: pd.DataFrame
    sessions: pd.DataFrame
    models: pd.DataFrame
    fits: dict = field(default_factory=dict)
    real_vs_pseudo: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    summaries: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


class _TaskCounter(Callback):
    """Dask callback advancing the progress display for each finished target task."""

    def __init__(self, keys: set, progress: Progress) -> None:
        super().__init__()
        self._keys = keys
        self._progress = progress

    def _posttask(self, key, result, dsk, state, worker_id) -> None:
        if key in self._keys:
            self._progress.advance()


def _preprocess_recording(ref: RecordingRef, partner: RecordingRef | None,
                          settings: PreprocessingSettings) -> Preprocessed:
    """Read, split (one-device dyads) and preprocess one person's recording."""
    raw = read_recording(ref.path)
    if ref.channels is not None:
        both = sorted((ref, partner), key=lambda r: ROLES.index(r.role))
        raw = split_roles(raw, {r.role: r.channels for r in both}, source=str(ref.path))[ref.role]
    return preprocess_recording(raw, settings, source=ref.key)


def _harmonise_rates(recordings: dict[str, Preprocessed], keys: set[str]
                     ) -> dict[str, Preprocessed]:
    """The recordings ``keys`` brought to their lowest common sampling rate."""
    rate = common_rate({key: recordings[key].sfreq for key in sorted(keys)})
    return {key: resample_to(recordings[key], rate) for key in keys}


def _compute(tasks: list, progress: Progress, n_workers: int | None) -> list:
    keys = {t.key for t in tasks}
    with _TaskCounter(keys, progress):
        return list(dask.compute(*tasks, scheduler="threads", num_workers=n_workers))


def _qc_table(study: Study, recordings: dict[str, Preprocessed]) -> pd.DataFrame:
    frames = []
    for s in study.sessions:
        dyad = study.dyad(s.dyad)
        for role in ROLES:
            ref = s.recording(role)
            rec = recordings[ref.key]
            qc = rec.qc.copy()
            qc.insert(0, "dyad", s.dyad)
            qc.insert(1, "session", s.session)
            qc.insert(2, "role", role)
            qc.insert(3, "subject", getattr(dyad, role))
            qc.insert(4, "file", os.path.relpath(ref.path, study.root))
            qc["sfreq"] = rec.sfreq
            qc["duration_s"] = rec.n_times / rec.sfreq
            frames.append(qc)
    return pd.concat(frames, ignore_index=True)


@dataclass
class SynchronyResults:
    """What the synchrony stage produced.

    Attributes
    ----------
    synchrony : pandas.DataFrame
        One row per dyad x session x channel pair x signal x pairing x metric.
    qc : pandas.DataFrame
        One row per recording x channel.
    steps : list of dict
        The preprocessing chain.
    summaries : dict
        Optional summaries by name (``"windows"``, ``"lags"``, ``"roi"``), each a
        DataFrame written to ``synchrony_<name>.parquet``.
    """

    synchrony: pd.DataFrame
    qc: pd.DataFrame
    steps: list
    summaries: dict


def _roi_mean_of_pairs(synchrony: pd.DataFrame) -> pd.DataFrame:
    keys = ["dyad", "partner_dyad", "session", "signal", "pairing", "metric",
            "region_therapist", "region_patient"]
    roi = (synchrony.dropna(subset=["region_therapist", "region_patient"])
           .groupby(keys, as_index=False)["value"].agg(value="mean", n_pairs="size"))
    roi["roi_method"] = "mean_of_pairs"
    return roi


def analyse_synchrony(study: Study, *, progress: Progress | None = None,
                      n_workers: int | None = None) -> SynchronyResults:
    """Preprocess every recording and compute synchrony of real and pseudo-dyads."""
    progress = progress or Progress("quiet")
    refs = {}
    for s in study.sessions:
        refs[s.therapist.key] = (s.therapist, s.patient)
        refs[s.patient.key] = (s.patient, s.therapist)
    keys = sorted(refs)
    progress.stage("preprocessing recordings", len(keys))
    tasks = [dask.delayed(_preprocess_recording, pure=True)(*refs[k], study.preprocessing)
             for k in keys]
    recordings = dict(zip(keys, _compute(tasks, progress, n_workers)))
    qc = _qc_table(study, recordings)
    pairings = real_pairings(study)
    if study.analysis.pseudo_dyads:
        pairings += pseudo_dyad_pairings(study)
    by_session: dict[int, list] = {}
    for p in pairings:
        by_session.setdefault(p.session, []).append(p)
    progress.stage("synchrony (real + pseudo)", len(by_session))
    tasks = []
    for session, group in sorted(by_session.items()):
        needed = {p.therapist.key for p in group} | {p.patient.key for p in group}
        recs = _harmonise_rates(recordings, needed)
        tasks.append(dask.delayed(pairings_synchrony, pure=True)(
            group, recs, study.analysis, study.regions or None))
    parts = _compute(tasks, progress, n_workers)
    frames = {name: pd.concat([p[name] for p in parts if name in p], ignore_index=True)
              for name in sorted({name for p in parts for name in p})}
    synchrony = frames.pop("synchrony")
    if study.regions:
        synchrony["region_therapist"] = synchrony["channel_therapist"].map(study.regions)
        synchrony["region_patient"] = synchrony["channel_patient"].map(study.regions)
    summaries = {}
    if "windows" in frames:
        summaries["windows"] = frames["windows"]
    if "lags" in frames:
        summaries["lags"] = frames["lags"]
    roi = []
    if study.analysis.roi in ("mean_of_pairs", "both"):
        roi.append(_roi_mean_of_pairs(synchrony))
    if "roi_signal" in frames:
        roi.append(frames["roi_signal"])
    if roi:
        summaries["roi"] = pd.concat(roi, ignore_index=True)
    steps = next(iter(recordings.values())).steps
    return SynchronyResults(synchrony, qc, steps, summaries)


def fit_key(model: str, signal: str, metric: str) -> str:
    """Key of a fitted model in :attr:`StudyResults.fits`: ``"growth[hbo/wtc]"``."""
    return f"{model}[{signal}/{metric}]"


@dataclass
class ModelResults:
    """The statistics of a run.

    Attributes
    ----------
    models : pandas.DataFrame
        Rows of ``models.parquet``.
    sessions : pandas.DataFrame
        Session-level synchrony (``dyad, session, signal, metric, pairing, synchrony,
        n_pairs``).
    fits : dict
        :func:`fit_key` -> fitted model.
    tests : dict
        ``(signal, metric)`` -> real versus pseudo-dyad test.
    notes : list of str
        Models that could not be fitted for this design, and why.
    """

    models: pd.DataFrame
    sessions: pd.DataFrame
    fits: dict
    tests: dict
    notes: list[str]


def fit_models(study: Study, synchrony: pd.DataFrame) -> ModelResults:
    """Fit the growth, outcome and real-versus-pseudo models for every signal and metric.

    Models the design cannot support are skipped with a note: growth needs at least
    two dyads and two session numbers, outcome models at least three dyads with
    measures, the real-versus-pseudo test at least two dyads.
    """
    tables, summaries, fits, tests, notes = [], [], {}, {}, []
    has_pseudo = study.analysis.pseudo_dyads and (synchrony["pairing"] == "pseudo").any()
    n_dyads = synchrony.loc[synchrony["pairing"] == "real", "dyad"].nunique()
    n_sessions = synchrony.loc[synchrony["pairing"] == "real", "session"].nunique()
    can_grow = n_dyads >= 2 and n_sessions >= 2
    if not can_grow:
        notes.append(f"Growth and outcome models need at least 2 dyads and 2 session numbers; "
                     f"this study has {n_dyads} dyad(s) and {n_sessions} session number(s).")
    if study.analysis.pseudo_dyads and not has_pseudo:
        notes.append("No pseudo-dyads: they need at least 2 dyads with the same session number.")
    for metric in study.analysis.metrics:
        for signal in study.analysis.signals:
            for pairing in ("real", "pseudo") if has_pseudo else ("real",):
                summary = session_synchrony(synchrony, signal, pairing, metric)
                summary.insert(2, "signal", signal)
                summary.insert(3, "metric", metric)
                summary.insert(4, "pairing", pairing)
                summaries.append(summary)
            real = session_synchrony(synchrony, signal, "real", metric)
            signal_fits = {"growth": fit_growth(real)} if can_grow else {}
            if study.measure_columns and can_grow:
                for measure, fit in fit_outcomes(real, study.measures).items():
                    signal_fits[f"outcome:{measure}"] = fit
            tables.append(model_table(signal_fits, signal, metric))
            fits.update({fit_key(name, signal, metric): fit
                         for name, fit in signal_fits.items()})
            if has_pseudo:
                tests[(signal, metric)] = real_vs_pseudo(synchrony, signal, metric)
                tables.append(real_vs_pseudo_table(tests[(signal, metric)], signal, metric))
    return ModelResults(models=pd.concat(tables, ignore_index=True),
                        sessions=pd.concat(summaries, ignore_index=True), fits=fits,
                        tests=tests, notes=notes)


def run_study(study: Study, out_dir: str | Path, *, progress: Progress | None = None,
              n_workers: int | None = None) -> StudyResults:
    """Analyse ``study`` and write its results to ``out_dir``.

    Writes ``synchrony.parquet``, ``qc.parquet``, ``sessions.parquet``,
    ``models.parquet``, ``preprocessing.json``, ``methods.md`` and ``report.html``.
    They are written to a staging folder inside ``out_dir`` and renamed into place
    only after all of them succeeded, so a failed run leaves no partial results.

    Parameters
    ----------
    study : Study
    out_dir : str or Path
        Created if missing.
    progress : Progress, optional
        Progress display; none by default.
    n_workers : int, optional
        Threads of the local Dask scheduler; default one per core.

    Returns
    -------
    StudyResults
    """
    from ..report import write_methods, write_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or Progress("quiet")
    timings = {}
    t0 = time.perf_counter()
    stage = analyse_synchrony(study, progress=progress, n_workers=n_workers)
    synchrony, qc, steps = stage.synchrony, stage.qc, stage.steps
    timings["preprocessing + synchrony"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    progress.stage("statistics", 1)
    stats = fit_models(study, synchrony)
    progress.advance()
    timings["statistics"] = time.perf_counter() - t1
    results = StudyResults(study=study, synchrony=synchrony, qc=qc, sessions=stats.sessions,
                           models=stats.models, fits=stats.fits, real_vs_pseudo=stats.tests,
                           notes=stats.notes, steps=steps, timings=timings,
                           summaries=stage.summaries)
    for note in stats.notes:
        logger.info("note: %s", note)
    t2 = time.perf_counter()
    progress.stage("report", 1)
    # everything is written to a staging folder first and moved into place only when
    # complete: a failed run leaves no partial results behind
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    try:
        write_parquet(synchrony, staging / "synchrony.parquet")
        write_parquet(qc, staging / "qc.parquet")
        write_parquet(stats.sessions, staging / "sessions.parquet")
        write_parquet(stats.models, staging / "models.parquet")
        for name, frame in stage.summaries.items():
            write_parquet(frame, staging / f"synchrony_{name}.parquet")
        write_text(json.dumps({"preprocessing": asdict(study.preprocessing), "steps": steps,
                               "analysis": asdict(study.analysis)}, indent=2, default=str),
                   staging / "preprocessing.json")
        write_methods(results, staging / "methods.md")
        timings["report"] = time.perf_counter() - t2
        write_report(results, staging / "report.html")
        for item in sorted(staging.iterdir()):
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress.advance()
    logger.info("results written to %s", out)
    return results
