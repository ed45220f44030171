"""Run a whole study: read, preprocess, synchrony, null controls, models, report.

The work is a Dask graph (:mod:`.graph`): one task per recording (read, quality
control, preprocessing) and one per session number (synchrony of its real and
pseudo-dyads, reusing each recording's channel transforms; the familiarity pairings
of each dyad in a task of their own, :func:`~interbrain.nulls.rate_groups`), whose
products are cached on disk (:mod:`.cache`); then the statistics, on the caller's
side. By default the graph runs on Dask's threaded scheduler with one worker per
core, or on a dask.distributed cluster given its address.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..assembly import common_rate, resample_step
from ..nulls import all_pairings, rate_groups
from ..retained import crop_steps, data_retained, log_retained, steps_key
from ..stats.study_models import fit_models
from ..design import ROLES
from ..report import figure_files, methods_text, report_html
from ..report.statistics_only import (statistics_only_methods_text,
                                      statistics_only_report_html)
from ..results import StudyResults, SynchronyResults
from ..study import Study
from ..synchrony.session import DEFAULT_SPECTRA_BUDGET
from ..synchrony.summaries import region_mean_of_pairs
from .atomic import write_bytes, write_parquet, write_text
from .digests import InputDigest, digest_inputs
from .graph import LOCAL_SCHEDULERS, RecordingHandle, build_graph, execute
from .manifest import describe_study, input_files, sha256_of
from .pool import WorkerPool
from .progress import Progress
from .run_directory import RunDirectory

logger = logging.getLogger("interbrain")

def _qc_table(study: Study, handles: dict[str, RecordingHandle]) -> pd.DataFrame:
    """Per-channel quality of every recording: the sessions' (session numbers) and the
    generalisation recordings' (session 0, roles ``patient`` and ``partner``)."""
    entries = [(s.dyad, s.session, role, getattr(study.dyad(s.dyad), role), s.recording(role))
               for s in study.sessions for role in ROLES]
    entries += [(g.dyad, 0, role, subject, ref) for g in study.generalisation
                for role, subject, ref in (("patient", study.dyad(g.dyad).patient, g.patient),
                                           ("partner", g.partner, g.other))]
    frames = []
    for dyad, session, role, subject, ref in entries:
        rec = handles[ref.key]
        qc = rec.qc.copy()
        qc.insert(0, "dyad", dyad)
        qc.insert(1, "session", session)
        qc.insert(2, "role", role)
        qc.insert(3, "subject", subject)
        qc.insert(4, "file", os.path.relpath(ref.path, study.root))
        qc["sfreq"] = rec.sfreq
        qc["duration_s"] = rec.n_times / rec.sfreq
        frames.append(qc)
    return pd.concat(frames, ignore_index=True)


def _resampling(groups: dict[tuple[str, int | str], list],
                handles: dict[str, RecordingHandle]) -> dict[str, list[dict]]:
    """Recording key -> the resamplings its synchrony tasks apply (each to the lowest
    rate of the recordings of its group, :func:`~interbrain.nulls.rate_groups`: real and
    pseudo pairings of a session number together, a dyad's familiarity pairings
    apart)."""
    steps: dict[str, list[dict]] = {}
    for group in groups.values():
        keys = {p.therapist.key for p in group} | {p.patient.key for p in group}
        rate = common_rate({k: handles[k].sfreq for k in keys})
        for k in keys:
            step = resample_step(handles[k].sfreq, rate)
            # factor 1: rates equal but for round-off, left as they are (resample_to)
            if step["factor"] > 1 and step not in steps.setdefault(k, []):
                steps[k].append(step)
    return steps


def analyse_synchrony(study: Study, *, progress: Progress | None = None,
                      n_workers: int | None = None, scheduler: str | None = None,
                      cache_dir: str | Path | None = None,
                      spectra_budget: int = DEFAULT_SPECTRA_BUDGET,
                      digests: Mapping[str, InputDigest] | None = None,
                      pool: WorkerPool | None = None) -> SynchronyResults:
    """Preprocess every recording and compute synchrony of every pairing.

    The pairings are those of :func:`~interbrain.nulls.all_pairings`: real dyads,
    ``[[generalisation]]`` recordings and, as ``[analysis]`` asks, pseudo-dyads and
    familiarity pairings; the real ones with their surrogates.

    Parameters
    ----------
    study : Study
    progress : Progress, optional
    n_workers : int, optional
        Threads or processes of the embedded scheduler (default one per core).
    scheduler : str, optional
        ``"threads"`` (default), ``"processes"`` or the address of a
        dask.distributed scheduler to run the graph on instead.
    cache_dir : str or Path, optional
        Cache of intermediate products (reused across runs); a temporary folder,
        removed afterwards, when None.
    spectra_budget : int
        Bytes of channel spectra one synchrony task holds at once.
    digests : mapping, optional
        The inputs' digests (:func:`~interbrain.engine.digests.digest_inputs`), for the
        cache keys; by default each recording task hashes its files.
    pool : WorkerPool, optional
        With ``scheduler="processes"``: worker processes already started, kept
        running after the graph (:func:`~interbrain.engine.graph.execute`).
    """
    progress = progress or Progress("quiet")
    refs = {}
    for s in study.sessions:
        refs[s.therapist.key] = (s.therapist, s.patient)
        refs[s.patient.key] = (s.patient, s.therapist)
    for g in study.generalisation:
        refs[g.patient.key] = (g.patient, g.other)
        refs[g.other.key] = (g.other, g.patient)
    groups = rate_groups(all_pairings(study))
    with contextlib.ExitStack() as stack:
        if cache_dir is None:
            # a failed task raises while other threads may still write cache entries:
            # cleaning up must not replace the task's error with its own
            cache_dir = stack.enter_context(tempfile.TemporaryDirectory(
                prefix="interbrain-", ignore_cleanup_errors=True))
        labels: dict = {}
        graph = build_graph(refs, groups, study.preprocessing, study.analysis,
                            study.regions or None, Path(cache_dir), spectra_budget,
                            labels=labels, segments=study.segments,
                            moments=study.moments, digests=digests)
        task_seconds: dict = {}
        results = execute(graph, progress, scheduler=scheduler, n_workers=n_workers,
                          task_seconds=task_seconds, labels=labels,
                          pool=pool if scheduler == "processes" else None)
    handles = {h.ref_key: h for h in results["preprocessing recordings"]}
    qc = _qc_table(study, handles)
    parts = results["synchrony (real + pseudo)"]
    frames = {name: pd.concat([p[name] for p in parts if name in p], ignore_index=True)
              for name in sorted({name for p in parts for name in p})}
    synchrony = frames.pop("synchrony")
    overlaps = frames.pop("overlaps")
    if study.regions:
        synchrony["region_therapist"] = synchrony["channel_therapist"].map(study.regions)
        synchrony["region_patient"] = synchrony["channel_patient"].map(study.regions)
    summaries = {}
    if "windows" in frames:
        summaries["windows"] = frames["windows"]
    if "lags" in frames:
        summaries["lags"] = frames["lags"]
    for name in ("segments", "moments"):
        if name in frames:
            summaries[name] = frames[name]
    roi = []
    if study.analysis.roi in ("mean_of_pairs", "both"):
        roi.append(region_mean_of_pairs(
            synchrony["value"], synchrony[["channel_therapist", "channel_patient"]],
            study.regions, region_columns=("region_therapist", "region_patient"),
            keys=synchrony[["dyad", "partner_dyad", "session", "partner_session", "signal",
                            "pairing", "metric"]],
            count_missing=True, details=False))
    if "roi_signal" in frames:
        roi.append(frames["roi_signal"])
    if roi:
        summaries["roi"] = pd.concat(roi, ignore_index=True)
    resampling = _resampling(groups, handles)
    crops = crop_steps(study, overlaps)
    steps = {steps_key(study, ref): handles[key].steps + resampling.get(key, [])
             + crops.get(steps_key(study, ref), [])
             for key, (ref, _) in sorted(refs.items())}
    retained = data_retained(study, qc, synchrony, steps, overlaps)
    log_retained(retained, study.measure_columns, logger)
    return SynchronyResults(synchrony, qc, steps, summaries, task_seconds, retained)


def run_study(study: Study, out_dir: str | Path | RunDirectory, *,
              progress: Progress | None = None, n_workers: int | None = None,
              scheduler: str | None = None, cache_dir: str | Path | None = None,
              spectra_budget: int = DEFAULT_SPECTRA_BUDGET,
              figures: bool = False) -> StudyResults:
    """Analyse ``study`` and write its results to ``out_dir``.

    Writes ``synchrony.parquet``, ``qc.parquet``, ``sessions.parquet``,
    ``models.parquet``, ``retained.parquet`` (the data each dyad-session contributed),
    ``preprocessing.json``, ``methods.md``, ``report.html`` and ``manifest.json`` (every file of the run with its SHA-256, the study's digest, the
    settings, start and end times). The run holds the folder's lock from start to end
    (:class:`~interbrain.engine.run_directory.RunDirectory`), so a second run on the same
    folder fails at once. The results are written to a staging folder inside
    ``out_dir`` and moved into place, with the manifest, only after all of them
    succeeded; they replace the previous run's as a whole (files of the previous
    manifest that this run does not produce are removed; files no manifest lists are
    left alone). A failed run leaves the previous results as they were.

    Parameters
    ----------
    study : Study
    out_dir : str, Path or RunDirectory
        Created if missing; or a :class:`~interbrain.engine.run_directory.RunDirectory`
        the caller already holds (``interbrain run`` does, to write the run's log
        into it).
    progress : Progress, optional
        Progress display; none by default.
    n_workers : int, optional
        Threads or processes of the embedded scheduler; default ``[engine] workers`` of
        ``study.toml``, else one per core.
    scheduler : str, optional
        ``"threads"`` or ``"processes"`` (embedded schedulers), or the address of a
        dask.distributed scheduler (``"tcp://host:8786"``) to run the graph on;
        default ``[engine] scheduler``, else ``"threads"``. With ``"processes"`` the
        worker processes start first and are kept for the statistics and the report,
        whose independent parts (each signal's confirmatory models and report section)
        they run while this process does the rest. Results are identical whatever runs
        them.
    cache_dir : str or Path, optional
        Cache of intermediate products; default ``[engine] cache``, else
        ``out_dir/.cache``. A later run with the same cache recomputes only what
        changed, and a killed run resumes.
    spectra_budget : int
        Bytes of channel spectra one synchrony task holds at once.
    figures : bool
        Also write every figure of the report as SVG and PDF, 85 and 174 mm wide
        (journal column widths), to ``figures/``
        (:func:`~interbrain.report.figure_files`; ``interbrain run`` does unless
        ``--no-figures``). Off by default here: drawing them takes seconds.

    Returns
    -------
    StudyResults

    Raises
    ------
    OutputError
        When another run holds the folder (naming its PID, host and start time), or a
        result or cache file cannot be written (naming it and the problem).
    WorkerError
        When a worker process dies (e.g. killed for lack of memory).
    """
    options = dict(progress=progress, n_workers=n_workers, scheduler=scheduler,
                   cache_dir=cache_dir, spectra_budget=spectra_budget, figures=figures)
    if isinstance(out_dir, RunDirectory):
        if not out_dir.held:
            raise ValueError(f"{out_dir.path}: acquire the RunDirectory before running "
                             "into it")
        return _run_in(study, out_dir, **options)
    with RunDirectory(out_dir) as run_dir:
        return _run_in(study, run_dir, **options)


def _run_in(study: Study, run_dir: RunDirectory, *, progress: Progress | None,
            n_workers: int | None, scheduler: str | None, cache_dir: str | Path | None,
            spectra_budget: int, figures: bool) -> StudyResults:
    """:func:`run_study` in the results folder that ``run_dir`` holds.

    On the embedded ``"processes"`` scheduler the worker processes start first (they
    import interbrain while this process hashes the inputs and builds the graph), run
    the graph, then the statistics' and the report's independent parts
    (:meth:`WorkerPool.map`) while this process does the rest; they are shut down when
    the run ends, whether it succeeded or not."""
    t0 = time.perf_counter()
    scheduler = scheduler or study.engine.scheduler or None
    n_workers = n_workers or study.engine.workers or None
    with contextlib.ExitStack() as stack:
        pool = (stack.enter_context(WorkerPool(n_workers).start())
                if scheduler == "processes" else None)
        return _stages(study, run_dir, t0, pool, progress=progress or Progress("quiet"),
                       n_workers=n_workers, scheduler=scheduler, cache_dir=cache_dir,
                       spectra_budget=spectra_budget, figures=figures)


def _stages(study: Study, run_dir: RunDirectory, t0: float, pool: WorkerPool | None, *,
            progress: Progress, n_workers: int | None, scheduler: str | None,
            cache_dir: str | Path | None, spectra_budget: int, figures: bool
            ) -> StudyResults:
    """The stages of :func:`_run_in` (``t0``: when the run started; ``pool``: the
    worker processes, or None)."""
    out = run_dir.path
    jobs = pool.map if pool is not None else map
    timings = {}
    cache_dir = cache_dir or study.engine.cache or None
    cache_dir = Path(cache_dir) if cache_dir is not None else out / ".cache"
    # every input hashed once: for the manifest and for the recording tasks' cache keys
    digests = digest_inputs(input_files(study))
    # what the manifest records: the inputs as read now, and the settings
    described = describe_study(study, {path: d.sha256 for path, d in digests.items()})
    settings = {"preprocessing": study.preprocessing, "analysis": study.analysis,
                "statistics": study.statistics, "engine": study.engine,
                "segments": study.segments, "moments": study.moments,
                "scheduler": scheduler or "threads",
                "workers": n_workers or (os.cpu_count() if scheduler in LOCAL_SCHEDULERS
                                         else None),
                "cache": str(cache_dir), "spectra_budget": spectra_budget}
    stage = analyse_synchrony(study, progress=progress, n_workers=n_workers,
                              scheduler=scheduler, cache_dir=cache_dir,
                              spectra_budget=spectra_budget, digests=digests, pool=pool)
    synchrony = stage.synchrony
    timings["preprocessing + synchrony"] = time.perf_counter() - t0
    for name, seconds in stage.task_seconds.items():
        timings[f"task seconds: {name}"] = seconds
    t1 = time.perf_counter()
    progress.stage("statistics", 1)
    stats = fit_models(study, synchrony, segments=stage.summaries.get("segments"),
                       moments=stage.summaries.get("moments"), map=jobs)
    progress.advance()
    timings["statistics"] = time.perf_counter() - t1
    # the same timings dict: the report's time is added to it below
    results = StudyResults.from_stages(study, stage, stats, timings)
    for note in stats.notes:
        logger.info("note: %s", note)
    t2 = time.perf_counter()
    progress.stage("report", 1)
    # everything is written to a staging folder first and moved into place only when
    # complete: a failed run leaves no partial results behind
    with run_dir.staging() as staging:
        for name, frame in results.tables().items():
            write_parquet(frame, staging / name)
        write_text(results.preprocessing_record(), staging / "preprocessing.json")
        methods = methods_text(results)
        write_text(methods, staging / "methods.md")
        write_text(report_html(results, methods=methods, map=jobs), staging / "report.html")
        if figures:
            for name, data in figure_files(results, map=jobs).items():
                (staging / "figures").mkdir(exist_ok=True)
                write_bytes(data, staging / "figures" / name)
        timings["report"] = time.perf_counter() - t2
        progress.advance()
        for name, seconds in timings.items():
            logger.info("time %s: %.1f s", name, seconds)
        logger.info("moving the results into place in %s", out)
        # the run's log (if open) is complete here: the manifest lists it
        run_dir.commit(staging, study=described, settings=settings)
    logger.info("results written to %s", out)
    return results


#: Columns of ``qc.parquet``: a statistics-only run has no recording, so no row.
_QC_COLUMNS = ["dyad", "session", "role", "subject", "file", "channel", "bad", "sci",
               "reason", "sfreq", "duration_s"]


def run_statistics(study: Study, synchrony: pd.DataFrame,
                   out_dir: str | Path | RunDirectory, *, source: str | Path,
                   progress: Progress | None = None) -> StudyResults:
    """The statistics stage alone, on synchrony computed elsewhere (``interbrain stats``).

    Fits every model of ``[statistics]`` (:func:`~interbrain.stats.study_models.
    fit_models`) to ``synchrony`` and writes, as :func:`run_study` does (staging
    folder, then renames, ``manifest.json`` last, the folder's lock held):
    ``synchrony.parquet`` (the table as analysed), ``sessions.parquet``,
    ``models.parquet``, the null tables when there are nulls, ``methods.md`` (which
    says the synchrony was computed elsewhere and describes no preprocessing) and
    ``report.html``. No ``qc.parquet``, ``retained.parquet`` or ``preprocessing.json``:
    no recording was read.

    Parameters
    ----------
    study : Study
        Its dyads, measures and settings; loaded with ``design_sessions`` (no
        recordings needed, :func:`~interbrain.study.load_study`). Its ``[analysis]``
        signals and metrics become those of the table.
    synchrony : pandas.DataFrame
        As :func:`~interbrain.stats.synchrony_table.read_synchrony_table` returns it,
        checked against the study (:func:`~interbrain.stats.synchrony_table.
        check_dyads`).
    out_dir : str, Path or RunDirectory
        The results folder (or one the caller holds).
    source : str or Path
        The table's file: named in ``methods.md`` and the manifest, with its SHA-256.
    progress : Progress, optional

    Returns
    -------
    StudyResults
    """
    if isinstance(out_dir, RunDirectory):
        if not out_dir.held:
            raise ValueError(f"{out_dir.path}: acquire the RunDirectory before running "
                             "into it")
        return _statistics_in(study, synchrony, out_dir, Path(source), progress)
    with RunDirectory(out_dir) as run_dir:
        return _statistics_in(study, synchrony, run_dir, Path(source), progress)


def _statistics_in(study: Study, synchrony: pd.DataFrame, run_dir: RunDirectory,
                   source: Path, progress: Progress | None) -> StudyResults:
    """:func:`run_statistics` in the results folder that ``run_dir`` holds."""
    progress = progress or Progress("quiet")
    t0 = time.perf_counter()
    synchrony = synchrony.reset_index(drop=True)
    present = list(dict.fromkeys(synchrony["signal"]))
    signals = [s for s in study.analysis.signals if s in present]
    metrics = [m for m in study.analysis.metrics if m in set(synchrony["metric"])]
    study = dataclasses.replace(study, analysis=dataclasses.replace(
        study.analysis, signals=tuple(signals + [s for s in present if s not in signals]),
        metrics=tuple(metrics + [m for m in dict.fromkeys(synchrony["metric"])
                                 if m not in metrics]),
        pseudo_dyads=bool((synchrony["pairing"] == "pseudo").any())))
    progress.stage("statistics", 1)
    stats = fit_models(study, synchrony)
    progress.advance()
    timings = {"statistics": time.perf_counter() - t0}
    qc = pd.DataFrame({c: pd.Series(dtype=bool if c == "bad" else float if c in (
        "sci", "sfreq", "duration_s") else object) for c in _QC_COLUMNS})
    stage = SynchronyResults(synchrony, qc, {}, {})
    results = StudyResults.from_stages(study, stage, stats, timings)
    for note in stats.notes:
        logger.info("note: %s", note)
    digest = sha256_of(source)
    described = describe_study(study)
    described["recordings"] = {}
    described["synchrony_table"] = {"path": str(source.resolve()), "sha256": digest}
    described["digest"] = hashlib.sha256(
        (described["digest"] + digest).encode("utf-8")).hexdigest()
    settings = {"statistics": study.statistics, "analysis": {
        "signals": list(study.analysis.signals), "metrics": list(study.analysis.metrics)},
        "synchrony": "computed elsewhere"}
    progress.stage("report", 1)
    with run_dir.staging() as staging:
        for name, frame in results.tables().items():
            if name not in ("qc.parquet", "retained.parquet"):
                write_parquet(frame, staging / name)
        methods = statistics_only_methods_text(results, f"`{source.name}` (SHA-256 "
                                                        f"{digest})")
        write_text(methods, staging / "methods.md")
        write_text(statistics_only_report_html(results, methods, source.name),
                   staging / "report.html")
        progress.advance()
        run_dir.commit(staging, study=described, settings=settings)
    logger.info("results written to %s", run_dir.path)
    return results

