"""Command-line interface: ``interbrain simulate | validate | run | demo | power``.

The top of the layers: it imports what its subcommands run at module level (no lazy
imports), so ``interbrain --help`` loads the package too (about two seconds).
"""

from __future__ import annotations

import logging
import math
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

import click

from . import __version__
from .engine import Progress, RunDirectory, run_study
from .engine.atomic import describe_os_error
from .engine.graph import default_scheduler
from .errors import InterbrainError, StudyError
from .simulate import simulate_study
from .stats.power import (DEFAULT_EFFECT, DEFAULT_OUTCOME_EFFECT, DEFAULT_OUTCOME_EFFECT_SD,
                          PairingModel, power_analysis)
from .stats.power_from_run import run_components
from .stats.power_search import (FIELD_EFFECT_SIZES, SEARCH_TESTS, describe_d,
                                 dyads_for_their_effects, effect_from_d)
from .validation import validate_study

logger = logging.getLogger("interbrain")


class _FiniteRange(click.FloatRange):
    """click.FloatRange that also refuses NaN and infinities."""

    def convert(self, value, param, ctx):
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{rv} is not a finite number.", param, ctx)
        return rv

    def _describe_range(self) -> str:
        """"finite" when unbounded (click would print ``x<=None``)."""
        if self.min is None and self.max is None:
            return "finite"
        return super()._describe_range()


#: ``extra`` of a log record meant for the run's log only: the terminal shows the same
#: error once, as click's ``Error: ...``.
_LOG_FILE_ONLY = {"log_file_only": True}


class _TerminalFilter(logging.Filter):
    """Drops the records meant for the run's log only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "log_file_only", False)


def _setup_logging(run_dir, quiet: bool) -> None:
    """Log lines on standard error (unless ``quiet``) and, with ``run_dir`` (a held
    :class:`~interbrain.engine.run_directory.RunDirectory`), in the run's log
    ``DIR/logs/<start time>.log``."""
    logger.setLevel(logging.INFO)
    _stop_logging()
    logger.propagate = False
    if not quiet:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        handler.addFilter(_TerminalFilter())
        logger.addHandler(handler)
    if run_dir is not None:
        run_dir.open_log(logger, logging.Formatter("%(asctime)s %(levelname)s %(message)s"))


def _stop_logging() -> None:
    """Remove (and close) the handlers :func:`_setup_logging` added."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = True


def _describe(exc: BaseException) -> str:
    """One line saying what went wrong: the file concerned, where there is one, and the
    problem."""
    if isinstance(exc, InterbrainError):
        return str(exc)
    if isinstance(exc, BrokenProcessPool):
        return ("a worker process died before finishing its task (killed by a signal, "
                "e.g. by the system's out-of-memory killer); rerun with fewer --workers")
    if isinstance(exc, OSError):
        problem = describe_os_error(exc)
        return f"{exc.filename}: {problem}" if exc.filename else problem
    if isinstance(exc, MemoryError):
        return "out of memory; rerun with fewer --workers"
    return (f"unexpected error: {type(exc).__name__}: {exc} (rerun with --verbose to keep "
            "the traceback in the run's log, and please report it)")


def _fail(exc: Exception):
    raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(__version__, prog_name="interbrain")
def main() -> None:
    """interbrain: inter-brain synchrony in multi-session fNIRS hyperscanning studies
    of psychotherapy, from raw recordings to a report."""


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dyads", type=click.IntRange(2, 99), default=8, show_default=True,
              help="Number of therapist-patient dyads (2-99).")
@click.option("--sessions", type=click.IntRange(2, 99), default=6, show_default=True,
              help="Sessions per dyad (2-99).")
@click.option("--minutes", type=_FiniteRange(0, 50, min_open=True), default=10.0,
              show_default=True, help="Length of each session in minutes (up to 50).")
@click.option("--channels", type=click.IntRange(4, 20), default=20, show_default=True,
              help="Long channels per person (4-20).")
@click.option("--therapists", type=click.IntRange(min=1), default=1, show_default=True,
              help="Number of therapists (1 to the number of dyads).")
@click.option("--sfreq", type=_FiniteRange(4, 100), default=10.0, show_default=True,
              help="Sampling rate in Hz (4-100).")
@click.option("--effect", type=_FiniteRange(0, 5), default=1.0, show_default=True,
              help="Strength of the planted coupling and its growth (0 = no coupling, up "
                   "to 5).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Random seed.")
@click.option("--overwrite", is_flag=True, help="Write into a non-empty folder.")
@click.option("--preset", type=click.Choice(["field", "demo"]), default="field",
              show_default=True,
              help="'field': effect sizes as hyperscanning studies see them (d about "
                   "0.2-0.3), regional lagged coupling, therapist-specific growth, short "
                   "channels, auxiliary signals; 'demo': the large effects of the demo "
                   "(d = 1.7 real vs pseudo), zero-lag coupling everywhere, none of the "
                   "rest. The options below override the preset.")
@click.option("--regions", "coupling_regions", default=None, metavar="R1,R2",
              help="Regions carrying the coupling, comma-separated (medial_pfc, left_fpc, "
                   "right_fpc, left_dlpfc, right_dlpfc) or 'all'.")
@click.option("--lag", default=None, metavar="SECONDS|LO,HI",
              help="Lag of the follower behind the leader in seconds, or a range from "
                   "which each dyad's lag is drawn.")
@click.option("--leader", type=click.Choice(["therapist", "patient", "mixed"]), default=None,
              help="Who leads the lagged coupling ('mixed': drawn per dyad).")
@click.option("--therapist-slope-sd", type=_FiniteRange(0, 1), default=None,
              help="SD of the therapists' own growth of coupling.")
@click.option("--short-channels/--no-short-channels", default=None,
              help="One 8 mm short-separation channel per region.")
@click.option("--aux/--no-aux", default=None,
              help="Respiration, PPG, heart rate and accelerometer in the SNIRF aux groups.")
@click.option("--confound", "confounds", multiple=True,
              type=click.Choice(["paced_breathing", "speech", "shared_motion"]),
              help="Plant a confound (repeat for several).")
@click.option("--missing-sessions", type=_FiniteRange(0, 1, max_open=True), default=None,
              help="Fraction of each dyad's sessions not scanned (sparse scanning).")
@click.option("--generalisation/--no-generalisation", default=None,
              help="Record each patient with another person before and after treatment.")
def simulate(out, dyads, sessions, minutes, channels, therapists, sfreq, effect, seed, overwrite,
             preset, coupling_regions, lag, leader, therapist_slope_sd, short_channels, aux,
             confounds, missing_sessions, generalisation):
    """Write a simulated study (SNIRF recordings, study.toml, measures.csv,
    ground_truth.json) into folder OUT."""
    t0 = time.perf_counter()
    try:
        if coupling_regions is not None and coupling_regions != "all":
            coupling_regions = [r.strip() for r in coupling_regions.split(",") if r.strip()]
        if lag is not None:
            try:
                lag = tuple(float(x) for x in lag.split(","))
            except ValueError:
                raise ValueError(f"--lag must be seconds or LO,HI, got {lag!r}") from None
            lag = lag[0] if len(lag) == 1 else lag
        path = simulate_study(out, n_dyads=dyads, n_sessions=sessions, minutes=minutes,
                              sfreq=sfreq, n_channels=channels, n_therapists=therapists,
                              effect=effect, seed=seed, overwrite=overwrite, preset=preset,
                              coupling_regions=coupling_regions, lag=lag, leader=leader,
                              therapist_slope_sd=therapist_slope_sd,
                              short_channels=short_channels, aux=aux,
                              confounds=list(confounds) or None,
                              missing_sessions=missing_sessions,
                              generalisation=generalisation)
    except (InterbrainError, ValueError, FileExistsError) as exc:
        _fail(exc)
    click.echo(f"simulated study written to {path} ({time.perf_counter() - t0:.1f} s)")


def _load_and_validate(study_dir: Path):
    """Load the study and check everything that needs no signal analysis
    (:func:`interbrain.validation.validate_study`); exits with one message listing
    every problem (no output folder created) when anything is wrong."""
    report = validate_study(study_dir)
    if not report.ok:
        _fail(StudyError(report.message()))
    return report.study


@main.command()
@click.argument("study", type=click.Path(exists=True, path_type=Path))
def validate(study):
    """Check the study in folder STUDY without analysing it.

    Checks study.toml, measures.csv and every recording's header (format, channels,
    wavelengths or HbO/HbR, sampling rate, duration, finite samples, start time), and
    per dyad-session the partners' sampling rates, their overlap in time once aligned
    and its length against the band's longest period. Lists every problem, each
    naming its file, and exits with status 1 if there is any; otherwise prints a
    short summary. Writes nothing. `interbrain run` runs the same checks first."""
    report = validate_study(study)
    if not report.ok:
        _fail(StudyError(report.message()))
    click.echo(report.summary())


def _run(study_dir: Path, out: Path, workers: int | None, quiet: bool,
         scheduler: str | None = None, cache: Path | None = None,
         verbose: bool = False) -> Path:
    """Validate and run the study into ``out``; any failure exits with one message
    (click's ``Error: ...`` on standard error), also recorded in the run's log (with
    its traceback when ``verbose``), and leaves the previous results of ``out`` as they
    were."""
    t0 = time.perf_counter()
    # validation first: a study that fails it creates no output folder
    study = _load_and_validate(study_dir)
    run_dir = RunDirectory(out)
    try:
        run_dir.acquire()   # a second run on the folder fails here, writing nothing
    except InterbrainError as exc:
        _fail(exc)
    try:
        _setup_logging(run_dir, quiet)
        logger.info("study %s: %d dyads, %d dyad-sessions", study.name, len(study.dyads),
                    len(study.sessions))
        scheduler = scheduler or study.engine.scheduler or default_scheduler(
            workers or study.engine.workers or None)
        logger.info("scheduler: %s", scheduler)
        with Progress("quiet" if quiet else "auto") as progress:
            run_study(study, run_dir, progress=progress, n_workers=workers,
                      scheduler=scheduler, cache_dir=cache)
        logger.info("analysis finished in %.1f s", time.perf_counter() - t0)
    except KeyboardInterrupt:
        logger.error("interrupted", extra=_LOG_FILE_ONLY)
        raise
    except Exception as exc:
        message = _describe(exc)
        logger.error("%s", message, exc_info=exc if verbose else None, extra=_LOG_FILE_ONLY)
        _fail(message)
    finally:
        run_dir.release()
        _stop_logging()
    return out / "report.html"


@main.command()
@click.argument("study", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder [default: STUDY/results].")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Parallel workers; 0 for one per core [default: one per core].")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="'processes' (embedded process pool; the default with more than one "
                   "worker), 'threads' (embedded; the default with one worker) or the "
                   "address of an existing dask.distributed cluster (e.g. tcp://host:8786).")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Cache of intermediate products [default: OUT/.cache]; reruns reuse it.")
@click.option("--quiet", is_flag=True, help="No progress display or log lines on the terminal.")
@click.option("-v", "--verbose", is_flag=True,
              help="On failure, keep the traceback in the run's log (OUT/logs/).")
def run(study, out, workers, scheduler, cache, quiet, verbose):
    """Analyse the study in folder STUDY (its study.toml and measures.csv).

    Intermediate products are cached: a rerun recomputes only what changed, and a run
    that was killed resumes where it stopped."""
    root = study if study.is_dir() else study.parent
    report = _run(study, out or root / "results", workers, quiet, scheduler, cache, verbose)
    click.echo(f"report: {report}")


@main.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo"), show_default=True,
              help="Folder for the simulated study and its results.")
@click.option("--minutes", type=_FiniteRange(0, 50, min_open=True), default=10.0,
              show_default=True, help="Length of each session in minutes (up to 50).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Random seed of the simulation.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Parallel workers; 0 for one per core [default: one per core].")
@click.option("--quiet", is_flag=True, help="No progress display or log lines on the terminal.")
@click.option("-v", "--verbose", is_flag=True,
              help="On failure, keep the traceback in the run's log (DIR/results/logs/).")
def demo(folder, minutes, seed, workers, quiet, verbose):
    """Simulate the demo study (8 dyads x 6 sessions, one therapist, the large effects
    of the "demo" preset) and analyse it."""
    study_dir, out = folder / "study", folder / "results"
    if not quiet:
        click.echo(f"simulating the demo study into {study_dir} ...")
    try:
        simulate_study(study_dir, minutes=minutes, seed=seed, overwrite=True, preset="demo")
    except (InterbrainError, ValueError) as exc:
        _fail(exc)
    report = _run(study_dir, out, workers, quiet, verbose=verbose)
    click.echo(f"report: {report.resolve()}")


def _numbers(kind, minimum=None):
    """click callback: ``"6,8,10"`` -> ``[6, 8, 10]``, each finite and at least
    ``minimum`` (if given)."""
    def parse(ctx, param, value):
        if value is None:
            return None
        try:
            vals = [kind(v) for v in str(value).replace(" ", "").split(",") if v != ""]
        except ValueError:
            raise click.BadParameter(f"expected comma-separated numbers, got {value!r}")
        if not vals:
            raise click.BadParameter("needs at least one value")
        bad = [v for v in vals if not math.isfinite(v) or (minimum is not None and v < minimum)]
        if bad:
            need = f"at least {minimum}" if minimum is not None else "finite"
            raise click.BadParameter(f"every value must be {need}, got {bad[0]!r}")
        return vals
    return parse


@main.command()
@click.option("--dyads", default=None, callback=_numbers(int, 1),
              help="Dyads per study; several comma-separated values draw a power curve "
                   "(e.g. 6,8,12,16) [default: 8, or the run's with --from; with "
                   "--target-power the first number tried, default 4].")
@click.option("--sessions", default=None, callback=_numbers(int, 1),
              help="Sessions per dyad; comma-separated for several [default: 6, or the "
                   "run's session numbers with --from].")
@click.option("--effect", default=None, callback=_numbers(float),
              help="Planted growth of synchrony per session, in synchrony units "
                   "(comma-separated for several) [default: 0.01].")
@click.option("--effect-d", default=None, callback=_numbers(float),
              help="Planted growth as a standardised effect d: the total growth over the "
                   "sessions in SDs of real dyad-session synchrony (the field's d is "
                   "0.2-0.3; comma-separated for several); instead of --effect.")
@click.option("--outcome-effect", default=None, type=_FiniteRange(),
              help="Planted within-dyad association of the measure with synchrony, in "
                   "measure SDs per SD of synchrony's session noise [default: 0.3].")
@click.option("--outcome-effect-sd", default=None, type=_FiniteRange(min=0),
              help="SD across dyads of the within-dyad association (same units as "
                   "--outcome-effect; an assumption) [default: 0.3].")
@click.option("--scanned", type=click.IntRange(min=1), default=None,
              help="Sparse scanning: dyad-sessions scanned per study (at least 2 per "
                   "dyad) [default: all].")
@click.option("--df-method", type=click.Choice(["satterthwaite", "kenward-roger"]),
              default="satterthwaite", show_default=True,
              help="Degrees of freedom of the mixed models.")
@click.option("--no-null", is_flag=True,
              help="Skip the null scenario (no effect), whose rates are false-positive "
                   "rates.")
@click.option("--studies", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Simulated studies per scenario (per number of dyads tried with "
                   "--target-power).")
@click.option("--alpha", type=_FiniteRange(0, 1, min_open=True, max_open=True),
              default=0.05, show_default=True, help="Level of every test.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Random seed.")
@click.option("--therapists", type=click.IntRange(min=1), default=1, show_default=True,
              help="Therapists (more than one adds a therapist random intercept; slower).")
@click.option("--time", "time_", type=click.Choice(["linear", "log"]), default=None,
              help="Time coding of simulation and growth model [default: linear, or the "
                   "run's with --from].")
@click.option("--permutations", type=click.IntRange(min=0), default=199, show_default=True,
              help="Permutations of the dyad-level slope test and of the plasticity "
                   "test per study (0: skip both permutation tests).")
@click.option("--slope-sd", default=None, type=_FiniteRange(min=0),
              help="SD of the dyads' random slopes [default: 0.01, or the run's].")
@click.option("--residual-sd", default=None, type=_FiniteRange(min=0),
              help="SD of synchrony's session-to-session noise [default: 0.03, or the "
                   "run's].")
@click.option("--intercept-sd", default=None, type=_FiniteRange(min=0),
              help="SD of the dyads' real coupling (their random intercepts beyond the "
                   "persons' effects) [default: 0.02, or the run's].")
@click.option("--from", "from_", type=click.Path(path_type=Path), default=None,
              metavar="RESULTS",
              help="Simulate with variance components estimated from a finished run's "
                   "results folder (a simulated study's run works too).")
@click.option("--signal", default=None, help="With --from: the signal [default: primary].")
@click.option("--metric", default=None, help="With --from: the metric [default: primary].")
@click.option("--target-power", type=_FiniteRange(0, 1, min_open=True, max_open=True),
              default=None,
              help="Search the smallest number of dyads whose plasticity test reaches "
                   "this power (e.g. 0.8) at --effect or --effect-d [default: d = 0.2 "
                   "and 0.3].")
@click.option("--target-test", type=click.Choice(list(SEARCH_TESTS)), default=None,
              help="Test of --target-power [default: plasticity_permutation; "
                   "plasticity with --permutations 0].")
@click.option("--max-dyads", type=click.IntRange(min=3), default=500, show_default=True,
              help="Largest number of dyads --target-power tries.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("power"), show_default=True,
              help="Folder for power.csv, power.parquet, power_studies.parquet and "
                   "power.png (or power_search.*; power_components.csv with --from).")
def power(dyads, sessions, effect, effect_d, outcome_effect, outcome_effect_sd, scanned,
          df_method, no_null, studies, alpha, seed, therapists, time_, permutations,
          slope_sd, residual_sd, intercept_sd, from_, signal, metric, target_power,
          target_test, max_dyads, workers, out):
    """Power and calibration of the growth, plasticity and outcome tests by simulation.

    Simulates many studies with every pairing of recordings (real dyads and
    pseudo-dyads: person effects, real coupling growing by a dyad-specific slope,
    session noise, an outcome measure associated with synchrony within dyads by an
    effect that varies between dyads), analyses each with the models of an analysis
    run (growth model, dyad-level permutation test, outcome ladder, plasticity test
    against pseudo-dyads with its permutation p) and reports the rejection rates
    with Monte Carlo 95% confidence intervals: the false-positive rate without an
    effect, the power with one. --from RESULTS: variance components of a finished
    run; --target-power: the dyads the plasticity test needs."""
    if (signal is not None or metric is not None) and from_ is None:
        raise click.UsageError("--signal and --metric need --from RESULTS")
    if effect is not None and effect_d is not None:
        raise click.UsageError("give --effect or --effect-d, not both")
    if target_power is not None and scanned is not None:
        raise click.UsageError("--target-power simulates complete designs: drop --scanned")
    changes = {k: v for k, v in (("slope_sd", slope_sd), ("residual_sd", residual_sd),
                                 ("coupling_sd", intercept_sd)) if v is not None}
    t0 = time.perf_counter()

    def progress(name, done, total):
        click.echo(f"[{done}/{total}] {name} ({time.perf_counter() - t0:.1f} s)",
                   err=True)

    try:
        model, comp = PairingModel(), None
        if from_ is not None:
            comp = run_components(from_, signal, metric)
            click.echo(comp.summary())
            model = comp.model
        model = replace(model, **changes)
        time_ = time_ or (comp.time if comp else "linear")
        sessions = sessions or [comp.n_sessions if comp else 6]
        if effect_d is not None and len(sessions) > 1:
            raise click.UsageError("--effect-d is converted for one number of sessions: "
                                   "give one --sessions value")
        conv = dict(model=model, n_sessions=sessions[0], time=time_,
                    n_therapists=therapists)
        for d in effect_d or (FIELD_EFFECT_SIZES if effect is None and target_power
                              else []):
            click.echo(describe_d(d, **conv))
        if comp is not None:
            out.mkdir(parents=True, exist_ok=True)
            comp.table.to_csv(out / "power_components.csv", index=False)
        if target_power is not None:
            res = dyads_for_their_effects(
                effect, effect_d, target=target_power, n_studies=studies, alpha=alpha,
                test=target_test or ("plasticity_permutation" if permutations
                                     else "plasticity"), seed=seed,
                n_permutations=permutations, start=min(dyads or [max(4, therapists)]),
                max_dyads=max_dyads, n_jobs=workers, **conv,
                progress=lambda n, row: progress(f"{n} dyads: power {row['power']:.3f}",
                                                 n, max_dyads))
            paths = res.write(out)
            click.echo(res.summary())
            click.echo(f"written: {paths[0]} ({time.perf_counter() - t0:.1f} s)")
            return
        if effect_d is not None:
            effect = [effect_from_d(d, **conv) for d in effect_d]
        result = power_analysis(
            dyads or [comp.n_dyads if comp else 8], sessions,
            effect if effect is not None else [DEFAULT_EFFECT],
            outcome_effect=(outcome_effect if outcome_effect is not None
                            else DEFAULT_OUTCOME_EFFECT),
            outcome_effect_sd=(outcome_effect_sd if outcome_effect_sd is not None
                               else DEFAULT_OUTCOME_EFFECT_SD),
            null=not no_null, n_studies=studies, alpha=alpha, seed=seed,
            n_therapists=therapists, time=time_, n_permutations=permutations,
            n_scanned=scanned, df_method=df_method,
            model=model, n_jobs=workers, progress=progress)
        paths = result.write(out)
    except (ValueError, InterbrainError) as exc:
        _fail(exc)
    cols = ["n_dyads", "n_sessions", "effect", "outcome_effect", "test", "planted",
            "rate", "ci_low", "ci_high", "mean_estimate", "coverage"]
    table = result.table[cols].rename(columns={"outcome_effect": "outcome"})
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo("rate = false-positive rate where effect and outcome are 0, power "
               "elsewhere; ci = 95% Monte Carlo (Wilson) interval")
    click.echo(f"written: {', '.join(str(p) for p in paths.values())} "
               f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":  # pragma: no cover
    main()
