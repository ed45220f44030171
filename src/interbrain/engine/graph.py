"""The study as a Dask graph, and its execution on a local or distributed scheduler.

Tasks:

- one per recording (:func:`recording_task`): read, split by role, quality control,
  preprocessing; the result is cached on disk and the task returns a small handle;
- one per session number and signal (:func:`session_task`): synchrony of all its
  real and pseudo-dyads, reusing each recording's channel spectra; cached on disk.
  The familiarity pairings of a dyad (its therapist in one session with its patient
  in another) have one task per signal of their own, so that recordings of other
  sessions never change the sampling rate of the real pairings
  (:func:`~interbrain.nulls.rate_groups`).
  Splitting by signal (HbO, HbR) costs nothing (the spectra of one signal are never
  used by the other) and gives the scheduler twice as many, half as long tasks, so
  that workers finish together.

Task results depend only on their inputs, so the same graph gives bit-identical
results on the embedded threaded scheduler and on a dask.distributed cluster. Every
task first looks in the cache (keyed by content, see :mod:`.cache`), so a run that
was killed resumes where it stopped, and a run whose inputs changed recomputes only
what they touch.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path

import dask
import pandas as pd
from dask.callbacks import Callback

from ..assembly import apply_crops, common_rate, resample_to, split_roles
from ..errors import WorkerError
from ..io import read_recording
from ..io.auxiliary import read_aux
from ..io.table_spec import recording_table
from ..nulls import Pairing
from ..nulls.moments import MomentSpec
from ..nulls.session import pairings_synchrony
from ..preprocessing import Preprocessed, PreprocessingSettings, preprocess_recording
from ..design import ROLES, RecordingRef
from ..synchrony.session import DEFAULT_SPECTRA_BUDGET
from ..synchrony.settings import AnalysisSettings
from ..synchrony.summaries.segments import SegmentSpec
from .cache import Cache, content_key
from .digests import InputDigest, current_digest
from .manifest import recording_inputs
from .pool import WorkerPool, died_message
from .progress import Progress


@dataclass(frozen=True)
class RecordingHandle:
    """What a recording task returns: where its product is cached, and its QC.

    Attributes
    ----------
    ref_key : str
        The recording (:attr:`RecordingRef.key`).
    cache_key : str
        Key of the cached :class:`~interbrain.preprocessing.Preprocessed`.
    qc : pandas.DataFrame
        Per-channel quality.
    sfreq : float
        Sampling rate in Hz.
    n_times : int
        Number of samples.
    steps : list of dict
        The preprocessing chain applied.
    """

    ref_key: str
    cache_key: str
    qc: pd.DataFrame
    sfreq: float
    n_times: int
    steps: list


def preprocess_ref(ref: RecordingRef, partner: RecordingRef,
                   settings: PreprocessingSettings) -> Preprocessed:
    """Read, split (one-device dyads) and preprocess one person's recording."""
    raw = read_recording(ref.path, table=recording_table(ref))
    # auxiliary signals of a one-device dyad's file are regressed from both partners
    aux = read_aux(ref.path, raw) if settings.aux_regression else None
    if ref.channels is not None:
        both = sorted((ref, partner), key=lambda r: ROLES.index(r.role))
        raw = split_roles(raw, {r.role: r.channels for r in both}, source=str(ref.path))[ref.role]
    return preprocess_recording(raw, settings, source=ref.key, aux=aux)


def recording_key(ref: RecordingRef, partner: RecordingRef, settings: PreprocessingSettings,
                  digests: Mapping[str, InputDigest] | None = None) -> str:
    """The cache key of a recording task: the name and digest of the recording and of
    each of its sidecars (:func:`~interbrain.engine.digests.current_digest`: those of
    ``digests`` when the files are unchanged since), its role and channels (and its
    partner's, on a one-device recording), the preprocessing settings and the table
    spec."""
    return content_key("recording", *[(f.name, current_digest(f, digests))
                                      for f in recording_inputs(ref.path)],
                       ref.role, ref.channels,
                       partner.channels if ref.channels is not None else None, settings,
                       recording_table(ref))


def recording_task(ref: RecordingRef, partner: RecordingRef, settings: PreprocessingSettings,
                   cache_dir: str, digests: Mapping[str, InputDigest] | None = None
                   ) -> RecordingHandle:
    """Preprocess one recording, or find it in the cache.

    ``digests``: the digests of its files, computed at the start of the run
    (:func:`~interbrain.engine.digests.digest_inputs`); those it lacks, or of files
    changed since, are computed here. The key is the same either way
    (:func:`recording_key`)."""
    cache = Cache(cache_dir)
    key = recording_key(ref, partner, settings, digests)
    if cache.has_recording(key):
        rec = cache.load_recording(key, signals=())   # the handle needs the tables only
    else:
        rec = preprocess_ref(ref, partner, settings)
        cache.store_recording(key, rec)
    return RecordingHandle(ref.key, key, rec.qc, rec.sfreq, rec.n_times, rec.steps)


def _pairing_spec(p: Pairing, handles: dict[str, RecordingHandle]) -> list:
    """What a pairing contributes to its task's cache key: the keys of its rows (the
    patient recording's session included, which tells a familiarity pairing from the
    real one of its dyad and session), its recordings' cache keys and its alignment."""
    return [p.dyad, p.partner_dyad, p.session, p.patient_session, p.pairing,
            handles[p.therapist.key].cache_key, handles[p.patient.key].cache_key, p.align,
            p.offset, p.event, p.crop]


def session_task(pairings: Sequence[Pairing], handles: Sequence[RecordingHandle],
                 settings: AnalysisSettings, regions: dict[str, str] | None, cache_dir: str,
                 spectra_budget: int = DEFAULT_SPECTRA_BUDGET,
                 segments: SegmentSpec | None = None,
                 moments: MomentSpec | None = None,
                 crops: Sequence[Pairing] = ()) -> dict[str, pd.DataFrame]:
    """Synchrony of one group of pairings (:func:`~interbrain.nulls.rate_groups`: the
    real and pseudo pairings of one session number, or the familiarity pairings of one
    dyad), or find it in the cache.

    ``crops``: real pairings with a ``crop`` whose recordings the group pairs (a
    dyad's cropped sessions, for its familiarity pairings): their recordings are cut
    as the real dyad-session's are (:func:`~interbrain.assembly.apply_crops`) and the
    pairings themselves are not computed.

    Recordings are loaded from the cache, brought to their lowest common sampling
    rate, and passed to :func:`~interbrain.nulls.session.pairings_synchrony` with
    ``settings`` (the graph gives each task one signal of ``settings.signals``) and
    the study's ``segments`` and ``moments`` (``[segments]``, ``[moments]``; part of
    the cache key only when given, so that studies without them keep their entries).
    """
    cache = Cache(cache_dir)
    by_ref = {h.ref_key: h for h in handles}
    extra = [x for x in (segments, moments) if x is not None]
    if crops:
        extra.append([_pairing_spec(p, by_ref) for p in crops])
    key = content_key("synchrony", [_pairing_spec(p, by_ref) for p in pairings], settings,
                      regions, *extra)
    if cache.has_tables("synchrony", key):
        return cache.load_tables("synchrony", key)
    needed = sorted({k for p in [*pairings, *crops] for k in (p.therapist.key, p.patient.key)})
    # the task's signal is read (and checked); the others are mapped, unread
    recordings = {k: replace(cache.load_recording(by_ref[k].cache_key,
                                                  signals=settings.signals), source=k)
                  for k in needed}
    rate = common_rate({k: rec.sfreq for k, rec in recordings.items()})
    recordings = {k: resample_to(rec, rate) for k, rec in recordings.items()}
    _, recordings = apply_crops(list(crops), recordings)   # only cuts their recordings
    pairings, recordings = apply_crops(list(pairings), recordings)
    tables = pairings_synchrony(pairings, recordings, settings, regions,
                                spectra_budget=spectra_budget, segments=segments,
                                moments=moments)
    cache.store_tables("synchrony", key, tables)
    return tables


#: ``scheduler`` values that run the graph on this machine, without a cluster.
LOCAL_SCHEDULERS = (None, "threads", "processes")


def default_scheduler(n_workers: int | None) -> str:
    """The embedded scheduler ``interbrain run`` uses when none is named.

    Worker processes with more than one worker (MNE's preprocessing partly holds
    Python's GIL, so processes overlap it where threads cannot: the 8-dyad, 50-minute
    benchmark study of ``docs/performance.md`` took 240 s in processes against 318 s
    on threads), threads with one. Python callers choose explicitly (the
    default of :func:`~interbrain.engine.run_study` is threads): the process pool
    starts its workers with ``spawn``, which re-imports the calling script, so a script
    using it needs the ``if __name__ == "__main__":`` guard.

    Parameters
    ----------
    n_workers : int, optional
        Workers of the run; default one per core.
    """
    n = n_workers or os.cpu_count() or 1
    return "processes" if n > 1 else "threads"


class _TaskCounter(Callback):
    """Dask callback advancing the progress display as target tasks finish."""

    def __init__(self, stages: dict, progress: Progress, task_seconds: dict) -> None:
        super().__init__()
        self._stages = stages
        self._progress = progress
        self._started: dict = {}
        self._seconds = task_seconds

    def _pretask(self, key, dsk, state) -> None:
        if key in self._stages:
            self._started[key] = time.perf_counter()

    def running(self) -> list:
        """Keys of the target tasks started and not finished, in start order."""
        return list(self._started)

    def _posttask(self, key, result, dsk, state, worker_id) -> None:
        if key in self._stages:
            stage = self._stages[key]
            self._seconds[stage] = (self._seconds.get(stage, 0.0)
                                    + time.perf_counter() - self._started.pop(key))
            self._progress.advance(stage=stage)


def execute(stages: dict[str, list], progress: Progress, *, scheduler: str | None = None,
            n_workers: int | None = None, task_seconds: dict | None = None,
            labels: dict | None = None, pool: WorkerPool | None = None) -> dict[str, list]:
    """Compute the delayed tasks of every stage, in one graph.

    Parameters
    ----------
    stages : dict
        Stage name -> list of ``dask.delayed`` objects (later stages may depend on
        earlier ones).
    progress : Progress
        Advanced once per finished task of each stage.
    scheduler : str, optional
        None or ``"threads"``: Dask's embedded threaded scheduler; ``"processes"``: its
        embedded process pool (faster where tasks hold Python's GIL, as MNE's
        preprocessing partly does; a script calling it needs the ``if __name__ ==
        "__main__":`` guard); otherwise the address of a dask.distributed scheduler
        (``"tcp://host:8786"``). Results are identical bit for bit.
    n_workers : int, optional
        Threads or processes of the embedded scheduler; default one per core.
    task_seconds : dict, optional
        Filled with stage name -> seconds its tasks ran, summed over tasks (embedded
        schedulers; with processes, as seen from this process, so including the
        transfer of each task's arguments and result; on a cluster the workers' task
        stream has them).
    labels : dict, optional
        Task key -> what the task does, in words (from :func:`build_graph`), to name
        the tasks a dead worker was running.
    pool : WorkerPool, optional
        With ``"processes"``: the workers to run the graph on (the caller's, kept
        after the graph: :func:`~interbrain.engine.run_study` starts them first and
        runs the statistics on them too); by default a pool of ``n_workers`` started
        here and shut down after the graph.

    Returns
    -------
    dict
        Stage name -> list of results, in the order given.

    Raises
    ------
    WorkerError
        When a worker process dies (killed) before finishing its task. The embedded
        process pool's workers exit by themselves when this process dies
        (:mod:`interbrain.orphans`).
    """
    labels = labels or {}
    for name, tasks in stages.items():
        progress.stage(name, len(tasks))
    flat = [t for tasks in stages.values() for t in tasks]
    stage_of = {t.key: name for name, tasks in stages.items() for t in tasks}
    if scheduler in LOCAL_SCHEDULERS:
        seconds = {} if task_seconds is None else task_seconds
        # warnings.catch_warnings (used by the tasks around noisy MNE calls) swaps the
        # process-wide filter list, so tasks exiting it out of order on threads can
        # leave their "ignore" filters installed. Restore this process's filters after
        # the graph, so a run never changes which warnings its caller sees.
        counter = _TaskCounter(stage_of, progress, seconds)
        with contextlib.ExitStack() as stack:
            options = {}
            if scheduler == "processes":
                # one task per submission (tasks are long), so that the callbacks time
                # each task from its start and the last tasks spread over the workers;
                # workers that exit when this process dies (WorkerPool)
                if pool is None:
                    pool = stack.enter_context(WorkerPool(n_workers).start())
                options = {"chunksize": 1, "pool": pool.executor}
            try:
                with counter, warnings.catch_warnings():
                    results = dask.compute(*flat, scheduler=scheduler or "threads",
                                           num_workers=n_workers, **options)
            except BrokenProcessPool:
                running = [labels.get(key, str(key)) for key in counter.running()]
                raise WorkerError(died_message(running)) from None
    else:
        from distributed import Client, as_completed
        from distributed.scheduler import KilledWorker
        with Client(scheduler, set_as_default=False) as client:
            futures = client.compute(flat)
            try:
                for future in as_completed(futures, loop=client.loop):
                    progress.advance(stage=stage_of[future.key])
                results = client.gather(futures)
            except KilledWorker as exc:
                key = exc.args[0] if exc.args else None
                raise WorkerError(f"workers of the cluster at {scheduler} died running "
                                  f"{labels.get(key, key)} (dask.distributed KilledWorker); "
                                  "see the workers' logs") from None
    out, start = {}, 0
    for name, tasks in stages.items():
        out[name] = list(results[start:start + len(tasks)])
        start += len(tasks)
    return out


def build_graph(refs: dict[str, tuple[RecordingRef, RecordingRef]],
                groups: dict[tuple[str, int | str], list[Pairing]],
                preprocessing: PreprocessingSettings,
                analysis: AnalysisSettings, regions: dict[str, str] | None,
                cache_dir: Path, spectra_budget: int = DEFAULT_SPECTRA_BUDGET,
                labels: dict | None = None, segments: SegmentSpec | None = None,
                moments: MomentSpec | None = None,
                digests: Mapping[str, InputDigest] | None = None) -> dict[str, list]:
    """The delayed tasks of a study: recordings, then synchrony per group of
    :func:`~interbrain.nulls.rate_groups` (``("session", s)`` or ``("familiarity",
    dyad)``) and signal (in the order of ``analysis.signals``, so the tables
    concatenate as one task per group would give them).

    ``labels``, if given, is filled with task key -> what the task does, in words
    (``"preprocessing <file>"``, ``"synchrony of session 2 (hbo)"``,
    ``"synchrony of the familiarity pairings of dyad D01 (hbo)"``). ``segments`` and
    ``moments`` (``[segments]``, ``[moments]``) go to the session tasks; ``digests``
    (:func:`~interbrain.engine.digests.digest_inputs`) to each recording task, those
    of its files."""
    labels = {} if labels is None else labels
    digests = digests or {}

    def own(ref: RecordingRef) -> dict[str, InputDigest]:
        files = [str(f) for f in recording_inputs(ref.path)]
        return {f: digests[f] for f in files if f in digests}

    handles = {k: dask.delayed(recording_task, pure=True)(ref, partner, preprocessing,
                                                          str(cache_dir), own(ref))
               for k, (ref, partner) in sorted(refs.items())}
    labels.update({handles[k].key: f"preprocessing {k}" for k in handles})
    sessions = []
    cropped = [p for (kind, _), group in groups.items() if kind == "session"
               for p in group if p.pairing == "real" and p.crop is not None]
    for (kind, which), group in groups.items():
        needed = sorted({p.therapist.key for p in group} | {p.patient.key for p in group})
        # a dyad's familiarity pairings pair the cropped parts of its cropped sessions
        crops = [p for p in cropped if kind == "familiarity" and p.dyad == which
                 and {p.therapist.key, p.patient.key} & set(needed)]
        needed = sorted({*needed, *(k for p in crops for k in (p.therapist.key,
                                                                p.patient.key))})
        for signal in analysis.signals:
            # the pairings are bound to the function, not given as arguments: Dask looks
            # for its collections through every argument (each pairing's fields), which
            # took most of the time of building the graph of a large study
            task = functools.partial(
                session_task, group, settings=replace(analysis, signals=(signal,)),
                regions=regions, cache_dir=str(cache_dir), spectra_budget=spectra_budget,
                segments=segments if kind == "session" else None,
                moments=moments if kind == "session" else None, crops=crops)
            sessions.append(dask.delayed(task, pure=True)([handles[k] for k in needed]))
            what = (f"session {which}" if kind == "session"
                    else f"the {kind} pairings of dyad {which}")
            labels[sessions[-1].key] = f"synchrony of {what} ({signal})"
    return {"preprocessing recordings": list(handles.values()),
            "synchrony (real + pseudo)": sessions}
