"""Run a whole study: read, preprocess, synchrony, null controls, models, report.

The work is a Dask graph (:mod:`.graph`): one task per recording (read, quality
control, preprocessing) and one per session number (synchrony of its real and
pseudo-dyads, reusing each recording's channel transforms), whose products are cached
on disk (:mod:`.cache`); then the statistics, on the caller's side. By default the
graph runs on Dask's threaded scheduler with one worker per core, or on a
dask.distributed cluster given its address.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from ..assembly import common_rate, resample_step
from ..nulls import generalisation_pairings, pseudo_dyad_pairings, real_pairings
from ..retained import data_retained, log_retained, steps_key
from ..stats.models import real_vs_pseudo, session_synchrony
from ..design import ROLES
from ..study import Study
from .atomic import write_parquet, write_text
from .graph import LOCAL_SCHEDULERS, RecordingHandle, build_graph, execute
from .outputs import RunDirectory, describe_study
from .pairs import DEFAULT_SPECTRA_BUDGET
from .progress import Progress

logger = logging.getLogger("interbrain")

#: Columns of ``sessions.parquet``.
SESSION_COLUMNS = ["dyad", "session", "signal", "metric", "pairing", "synchrony", "n_pairs"]


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
    steps : dict
        Recording file -> the preprocessing chain applied to it.
    summaries : dict
        Optional synchrony summaries (per window, lag, region) by name.
    timings : dict
        Stage -> wall time in seconds.
    slopes, null_summary, null_tests : pandas.DataFrame
        See :class:`ModelResults`.
    retained : pandas.DataFrame
        The data each dyad-session contributed (``retained.parquet``; see
        :func:`~interbrain.retained.data_retained`).
    """

    study: Study
    synchrony: pd.DataFrame
    qc: pd.DataFrame
    sessions: pd.DataFrame
    models: pd.DataFrame
    fits: dict = field(default_factory=dict)
    real_vs_pseudo: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    steps: dict = field(default_factory=dict)
    summaries: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    slopes: pd.DataFrame = field(default_factory=pd.DataFrame)
    null_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    null_tests: pd.DataFrame = field(default_factory=pd.DataFrame)
    retained: pd.DataFrame = field(default_factory=pd.DataFrame)


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


@dataclass
class SynchronyResults:
    """What the synchrony stage produced.

    Attributes
    ----------
    synchrony : pandas.DataFrame
        One row per dyad x session x channel pair x signal x pairing x metric.
    qc : pandas.DataFrame
        One row per recording x channel.
    steps : dict
        Recording file -> the preprocessing chain applied to it.
    summaries : dict
        Optional summaries by name (``"windows"``, ``"lags"``, ``"roi"``), each a
        DataFrame written to ``synchrony_<name>.parquet``.
    task_seconds : dict
        Stage name -> seconds its tasks ran, summed over tasks (embedded scheduler).
    retained : pandas.DataFrame
        The data each dyad-session contributed (see
        :func:`~interbrain.retained.data_retained`).
    """

    synchrony: pd.DataFrame
    qc: pd.DataFrame
    steps: dict
    summaries: dict
    task_seconds: dict = field(default_factory=dict)
    retained: pd.DataFrame = field(default_factory=pd.DataFrame)


def _roi_mean_of_pairs(synchrony: pd.DataFrame) -> pd.DataFrame:
    keys = ["dyad", "partner_dyad", "session", "signal", "pairing", "metric",
            "region_therapist", "region_patient"]
    roi = (synchrony.dropna(subset=["region_therapist", "region_patient"])
           .groupby(keys, as_index=False)["value"].agg(value="mean", n_pairs="size"))
    roi["roi_method"] = "mean_of_pairs"
    return roi


def _resampling(groups: dict[int, list], handles: dict[str, RecordingHandle]
                ) -> dict[str, list[dict]]:
    """Recording key -> the resampling its session task applies (to the lowest rate of
    the recordings of its session number, real and pseudo pairings together)."""
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
                      spectra_budget: int = DEFAULT_SPECTRA_BUDGET) -> SynchronyResults:
    """Preprocess every recording and compute synchrony of real and pseudo-dyads.

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
    """
    progress = progress or Progress("quiet")
    refs = {}
    for s in study.sessions:
        refs[s.therapist.key] = (s.therapist, s.patient)
        refs[s.patient.key] = (s.patient, s.therapist)
    for g in study.generalisation:
        refs[g.patient.key] = (g.patient, g.other)
        refs[g.other.key] = (g.other, g.patient)
    pairings = real_pairings(study) + generalisation_pairings(study)
    if study.analysis.pseudo_dyads:
        pairings += pseudo_dyad_pairings(
            study, max_per_dyad=study.analysis.pseudo_dyads_per_dyad or None,
            seed=study.analysis.pseudo_dyads_seed)
    groups: dict[int, list] = {}
    for p in pairings:
        groups.setdefault(p.session, []).append(p)
    with contextlib.ExitStack() as stack:
        if cache_dir is None:
            cache_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="interbrain-"))
        labels: dict = {}
        graph = build_graph(refs, groups, study.preprocessing, study.analysis,
                            study.regions or None, Path(cache_dir), spectra_budget,
                            labels=labels)
        task_seconds: dict = {}
        results = execute(graph, progress, scheduler=scheduler, n_workers=n_workers,
                          task_seconds=task_seconds, labels=labels)
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
    roi = []
    if study.analysis.roi in ("mean_of_pairs", "both"):
        roi.append(_roi_mean_of_pairs(synchrony))
    if "roi_signal" in frames:
        roi.append(frames["roi_signal"])
    if roi:
        summaries["roi"] = pd.concat(roi, ignore_index=True)
    resampling = _resampling(groups, handles)
    steps = {steps_key(study, ref): handles[key].steps + resampling.get(key, [])
             for key, (ref, _) in sorted(refs.items())}
    retained = data_retained(study, qc, synchrony, steps, overlaps)
    log_retained(retained, study.measure_columns, logger)
    return SynchronyResults(synchrony, qc, steps, summaries, task_seconds, retained)


def fit_key(model: str, signal: str, metric: str) -> str:
    """Key of a fitted model in :attr:`StudyResults.fits`: ``"growth[hbo/wtc]"``."""
    return f"{model}[{signal}/{metric}]"


@dataclass
class ModelResults:
    """The statistics of a run.

    Attributes
    ----------
    models : pandas.DataFrame
        Rows of ``models.parquet``: one per model term or test.
    sessions : pandas.DataFrame
        Session-level synchrony (``dyad, session, signal, metric, pairing, synchrony,
        n_pairs``), for real dyads and each kind of null.
    fits : dict
        :func:`fit_key` -> fitted mixed model (``growth``, ``outcome:<measure>``,
        ``lagged:<measure>``).
    tests : dict
        ``(signal, metric)`` -> real versus pseudo-dyad test.
    notes : list of str
        Models that could not be fitted for this design, and why.
    slopes : pandas.DataFrame
        Per-dyad synchrony slopes of each growth model (``dyad_slopes.parquet``).
    null_summary : pandas.DataFrame
        Real synchrony of each dyad-session against each kind of null
        (``null_summary.parquet``).
    null_tests : pandas.DataFrame
        Dyad-level sign-flip tests that real synchrony exceeds each kind of null
        (``null_tests.parquet``).
    """

    models: pd.DataFrame
    sessions: pd.DataFrame
    fits: dict
    tests: dict
    notes: list[str]
    slopes: pd.DataFrame = field(default_factory=pd.DataFrame)
    null_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    null_tests: pd.DataFrame = field(default_factory=pd.DataFrame)


def _null_test_table(tests: pd.DataFrame, kinds) -> pd.DataFrame:
    """Rows of ``models.parquet`` for the dyad-level tests against surrogates."""
    rows = tests[tests["null_kind"].isin(kinds)]
    return pd.DataFrame({
        "model": "real_vs_" + rows["null_kind"], "signal": rows["signal"],
        "metric": rows["metric"], "term": "real - null", "estimate": rows["mean_difference"],
        "std_error": rows["std_error"], "df": rows["df"], "t": rows["t"], "p": rows["p"],
        "method": ("dyad-level sign-flip permutation test (" + rows["p_method"]
                   + "), one-sided: real > null"),
        "formula": "", "n_obs": rows["n_dyads"], "n_groups": rows["n_dyads"],
        "ci_low": rows["ci_low"], "ci_high": rows["ci_high"],
        "n_dyads": rows["n_dyads"].astype(float)})


def generalisation_table(study: Study, synchrony: pd.DataFrame, signal: str,
                         metric: str = "wtc") -> pd.DataFrame:
    """Each patient's synchrony with the therapist and with other people, pre and post.

    With the therapist, ``pre`` is the dyad's first session and ``post`` its last; with
    other people, the ``[[generalisation]]`` recordings. Synchrony is the mean over
    channel pairs.

    Returns
    -------
    pandas.DataFrame
        Columns ``dyad, patient, partner, partner_role, phase, synchrony`` (the input of
        :func:`~interbrain.stats.models.fit_generalisation`).
    """
    rows = synchrony[(synchrony["signal"] == signal) & (synchrony["metric"] == metric)]
    others = rows[rows["pairing"].isin(["other_pre", "other_post"])]
    others = (others.groupby(["dyad", "partner_dyad", "pairing"], as_index=False)["value"]
              .mean())
    frame = pd.DataFrame({"dyad": others["dyad"], "partner": others["partner_dyad"],
                          "partner_role": "other",
                          "phase": others["pairing"].str.removeprefix("other_"),
                          "synchrony": others["value"]})
    real = session_synchrony(synchrony, signal, "real", metric)
    first = real.groupby("dyad")["session"].transform("min")
    last = real.groupby("dyad")["session"].transform("max")
    ends = real[(real["session"] == first) | (real["session"] == last)]
    ends = ends[first[ends.index] != last[ends.index]]
    therapist = pd.DataFrame({
        "dyad": ends["dyad"], "partner": [study.dyad(d).therapist for d in ends["dyad"]],
        "partner_role": "therapist",
        "phase": ["pre" if s == f else "post" for s, f in zip(ends["session"],
                                                              first[ends.index])],
        "synchrony": ends["synchrony"]})
    out = pd.concat([therapist, frame], ignore_index=True)
    out.insert(1, "patient", [study.dyad(d).patient for d in out["dyad"]])
    return out.sort_values(["dyad", "partner_role", "partner", "phase"], ignore_index=True)


def fit_models(study: Study, synchrony: pd.DataFrame) -> ModelResults:
    """Fit every model of ``study.statistics`` for every signal and metric.

    Per signal and metric: the growth analysis (mixed model with the time coding,
    therapist random effect, condition and covariates of the design; per-dyad slopes;
    likelihood-ratio comparisons; slope permutation test), the outcome analyses of
    every measure (within/between, lagged, pre-post, with confidence intervals and
    equivalence tests), the real-versus-pseudo test, and the per-unit tests with
    their multiple-comparison correction. Over all of them: each dyad-session's real
    synchrony against each kind of null, and dyad-level sign-flip tests.

    Models the design cannot support are skipped with a note: growth needs at least
    two dyads and two session numbers, outcome models at least three dyads with
    measures, the null tests at least two dyads.
    """
    from ..nulls import NULL_KINDS, dyad_permutation_tests, null_summary
    from ..stats.growth import analyse_growth
    from ..stats.models import combine_tables, fit_generalisation, result_table
    from ..stats.multiple import pairwise_tests
    from ..stats.outcomes import analyse_outcomes

    st = study.statistics
    tables, summaries, fits, tests, notes, slopes = [], [], {}, {}, [], []
    kinds = [k for k in NULL_KINDS if (synchrony["pairing"] == k).any()]
    has_pseudo = "pseudo" in kinds
    real_rows = synchrony[synchrony["pairing"] == "real"]
    n_dyads, n_sessions = real_rows["dyad"].nunique(), real_rows["session"].nunique()
    can_grow = n_dyads >= 2 and n_sessions >= 2
    if not can_grow:
        notes.append(f"Growth and outcome models need at least 2 dyads and 2 session numbers; "
                     f"this study has {n_dyads} dyad(s) and {n_sessions} session number(s).")
    if study.analysis.pseudo_dyads and not has_pseudo:
        notes.append("No pseudo-dyads: they need at least 2 dyads with the same session number.")
    design = study.design()
    condition = "condition" if "condition" in design.columns else None
    measures = study.measures[["dyad", "session", *study.measure_columns]]
    for metric in study.analysis.metrics:
        for signal in study.analysis.signals:
            where = f"{signal}/{metric}"
            per_pairing = {pairing: session_synchrony(synchrony, signal, pairing, metric)
                           for pairing in ("real", *kinds)}
            for pairing, summary in per_pairing.items():
                summaries.append(summary.assign(signal=signal, metric=metric,
                                                pairing=pairing)[SESSION_COLUMNS])
            real = per_pairing["real"].merge(design, on=["dyad", "session"], how="left")
            results: dict = {}
            growth = None
            if can_grow:
                try:
                    growth = analyse_growth(
                        real, time=st.time, therapist="therapist", condition=condition,
                        covariates=list(st.covariates) or None, compare=st.compare,
                        n_permutations=st.n_permutations, seed=st.seed)
                except ValueError as exc:
                    notes.append(f"growth model ({where}) not fitted: {exc}")
            if growth is not None:
                results["growth"] = growth
                fits[fit_key("growth", signal, metric)] = growth.fit
                notes += [f"growth ({where}): {n}" for n in growth.notes]
                slopes.append(growth.slopes.assign(signal=signal, metric=metric))
            if study.measure_columns and can_grow:
                outcomes = analyse_outcomes(
                    real, measures, sesoi=st.sesoi_option, sesoi_scale=st.sesoi_scale,
                    alpha=st.alpha, time=st.time, lagged=st.lagged, prepost=st.prepost)
                results["outcomes"] = outcomes
                fits.update({fit_key(name, signal, metric): fit
                             for name, fit in outcomes.fits().items()
                             if not name.startswith("prepost:")})
                notes += [f"outcomes ({where}): {n}" for n in outcomes.notes]
            if has_pseudo:
                tests[(signal, metric)] = real_vs_pseudo(synchrony, signal, metric)
                results["real_vs_pseudo"] = tests[(signal, metric)]
            for test in st.pairwise:
                if test == "real_vs_pseudo" and not has_pseudo:
                    continue
                try:
                    results[f"pairwise:{test}"] = pairwise_tests(
                        synchrony, signal=signal, metric=metric, test=test,
                        unit=st.pairwise_unit, correction=st.correction,
                        time="linear" if st.time == "quadratic" else st.time,
                        n_permutations=st.n_permutations or 999, seed=st.seed,
                        alpha=st.alpha)
                except ValueError as exc:
                    notes.append(f"per-{st.pairwise_unit} {test} tests ({where}) skipped: {exc}")
            if study.generalisation:
                try:
                    results["generalisation"] = fit_generalisation(
                        generalisation_table(study, synchrony, signal, metric),
                        partner="partner")
                except ValueError as exc:
                    notes.append(f"generalisation model ({where}) not fitted: {exc}")
            if results:
                tables.append(result_table(results, signal, metric, sesoi=st.sesoi_option,
                                           sesoi_scale=st.sesoi_scale, alpha=st.alpha))
    nulls, null_tests = pd.DataFrame(), pd.DataFrame()
    if kinds:
        nulls = null_summary(synchrony, kinds=kinds)
        null_tests = dyad_permutation_tests(nulls, n_permutations=st.n_permutations or 9999,
                                            seed=st.seed)
        surrogate_kinds = [k for k in kinds if k != "pseudo"]
        if surrogate_kinds and len(null_tests):
            tables.append(_null_test_table(null_tests, surrogate_kinds))
    models = combine_tables(tables)
    return ModelResults(models=models, sessions=pd.concat(summaries, ignore_index=True),
                        fits=fits, tests=tests, notes=notes,
                        slopes=pd.concat(slopes, ignore_index=True) if slopes else pd.DataFrame(),
                        null_summary=nulls, null_tests=null_tests)


def run_study(study: Study, out_dir: str | Path | RunDirectory, *,
              progress: Progress | None = None, n_workers: int | None = None,
              scheduler: str | None = None, cache_dir: str | Path | None = None,
              spectra_budget: int = DEFAULT_SPECTRA_BUDGET) -> StudyResults:
    """Analyse ``study`` and write its results to ``out_dir``.

    Writes ``synchrony.parquet``, ``qc.parquet``, ``sessions.parquet``,
    ``models.parquet``, ``retained.parquet`` (the data each dyad-session contributed),
    ``preprocessing.json``, ``methods.md``, ``report.html`` and ``manifest.json`` (every file of the run with its SHA-256, the study's digest, the
    settings, start and end times). The run holds the folder's lock from start to end
    (:class:`~interbrain.engine.outputs.RunDirectory`), so a second run on the same
    folder fails at once. The results are written to a staging folder inside
    ``out_dir`` and moved into place, with the manifest, only after all of them
    succeeded; they replace the previous run's as a whole (files of the previous
    manifest that this run does not produce are removed; files no manifest lists are
    left alone). A failed run leaves the previous results as they were.

    Parameters
    ----------
    study : Study
    out_dir : str, Path or RunDirectory
        Created if missing; or a :class:`~interbrain.engine.outputs.RunDirectory`
        the caller already holds (``interbrain run`` does, to write the run's log
        into it).
    progress : Progress, optional
        Progress display; none by default.
    n_workers : int, optional
        Threads of the local Dask scheduler; default ``[engine] workers`` of
        ``study.toml``, else one per core.
    scheduler : str, optional
        ``"threads"`` or ``"processes"`` (embedded schedulers), or the address of a
        dask.distributed scheduler (``"tcp://host:8786"``) to run the graph on;
        default ``[engine] scheduler``, else ``"threads"``. Results are identical
        whatever runs them.
    cache_dir : str or Path, optional
        Cache of intermediate products; default ``[engine] cache``, else
        ``out_dir/.cache``. A later run with the same cache recomputes only what
        changed, and a killed run resumes.
    spectra_budget : int
        Bytes of channel spectra one synchrony task holds at once.

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
                   cache_dir=cache_dir, spectra_budget=spectra_budget)
    if isinstance(out_dir, RunDirectory):
        if not out_dir.held:
            raise ValueError(f"{out_dir.path}: acquire the RunDirectory before running "
                             "into it")
        return _run_in(study, out_dir, **options)
    with RunDirectory(out_dir) as run_dir:
        return _run_in(study, run_dir, **options)


def _run_in(study: Study, run_dir: RunDirectory, *, progress: Progress | None,
            n_workers: int | None, scheduler: str | None, cache_dir: str | Path | None,
            spectra_budget: int) -> StudyResults:
    """:func:`run_study` in the results folder that ``run_dir`` holds."""
    from ..report import write_methods, write_report

    out = run_dir.path
    progress = progress or Progress("quiet")
    timings = {}
    t0 = time.perf_counter()
    scheduler = scheduler or study.engine.scheduler or None
    n_workers = n_workers or study.engine.workers or None
    cache_dir = cache_dir or study.engine.cache or None
    cache_dir = Path(cache_dir) if cache_dir is not None else out / ".cache"
    # what the manifest records: the inputs as read now, and the settings
    described = describe_study(study)
    settings = {"preprocessing": study.preprocessing, "analysis": study.analysis,
                "statistics": study.statistics, "engine": study.engine,
                "scheduler": scheduler or "threads",
                "workers": n_workers or (os.cpu_count() if scheduler in LOCAL_SCHEDULERS
                                         else None),
                "cache": str(cache_dir), "spectra_budget": spectra_budget}
    stage = analyse_synchrony(study, progress=progress, n_workers=n_workers,
                              scheduler=scheduler, cache_dir=cache_dir,
                              spectra_budget=spectra_budget)
    synchrony, qc, steps = stage.synchrony, stage.qc, stage.steps
    timings["preprocessing + synchrony"] = time.perf_counter() - t0
    for name, seconds in stage.task_seconds.items():
        timings[f"task seconds: {name}"] = seconds
    t1 = time.perf_counter()
    progress.stage("statistics", 1)
    stats = fit_models(study, synchrony)
    progress.advance()
    timings["statistics"] = time.perf_counter() - t1
    results = StudyResults(study=study, synchrony=synchrony, qc=qc, sessions=stats.sessions,
                           models=stats.models, fits=stats.fits, real_vs_pseudo=stats.tests,
                           notes=stats.notes, steps=steps, timings=timings,
                           summaries=stage.summaries, slopes=stats.slopes,
                           null_summary=stats.null_summary, null_tests=stats.null_tests,
                           retained=stage.retained)
    for note in stats.notes:
        logger.info("note: %s", note)
    t2 = time.perf_counter()
    progress.stage("report", 1)
    # everything is written to a staging folder first and moved into place only when
    # complete: a failed run leaves no partial results behind
    with run_dir.staging() as staging:
        write_parquet(synchrony, staging / "synchrony.parquet")
        write_parquet(qc, staging / "qc.parquet")
        write_parquet(stats.sessions, staging / "sessions.parquet")
        write_parquet(stats.models, staging / "models.parquet")
        write_parquet(results.retained, staging / "retained.parquet")
        for name in ("slopes", "null_summary", "null_tests"):
            frame = getattr(stats, name)
            if len(frame):
                write_parquet(frame, staging / ("dyad_slopes.parquet" if name == "slopes"
                                                else f"{name}.parquet"))
        for name, frame in stage.summaries.items():
            write_parquet(frame, staging / f"synchrony_{name}.parquet")
        write_text(json.dumps({"preprocessing": asdict(study.preprocessing), "recordings": steps,
                               "analysis": asdict(study.analysis)}, indent=2, default=str),
                   staging / "preprocessing.json")
        write_methods(results, staging / "methods.md")
        write_report(results, staging / "report.html")
        timings["report"] = time.perf_counter() - t2
        progress.advance()
        for name, seconds in timings.items():
            logger.info("time %s: %.1f s", name, seconds)
        logger.info("moving the results into place in %s", out)
        # the run's log (if open) is complete here: the manifest lists it
        run_dir.commit(staging, study=described, settings=settings)
    logger.info("results written to %s", out)
    return results
