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
def simulate(out, dyads, sessions, minutes, channels, therapists, sfreq, effect, seed, overwrite):
    """Write a simulated study (SNIRF recordings, study.toml, measures.csv,
    ground_truth.json) into folder OUT."""
    t0 = time.perf_counter()
    try:
        path = simulate_study(out, n_dyads=dyads, n_sessions=sessions, minutes=minutes,
                              sfreq=sfreq, n_channels=channels, n_therapists=therapists,
                              effect=effect, seed=seed, overwrite=overwrite)
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
    """Simulate the default study (8 dyads x 6 sessions, one therapist) and analyse it."""
    study_dir, out = folder / "study", folder / "results"
    if not quiet:
        click.echo(f"simulating the default study into {study_dir} ...")
    try:
        simulate_study(study_dir, minutes=minutes, seed=seed, overwrite=True)
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
@click.option("--dyads", default="8", show_default=True, callback=_numbers(int, 1),
              help="Dyads per study; several comma-separated values draw a power curve "
                   "(e.g. 6,8,12,16).")
@click.option("--sessions", default="6", show_default=True, callback=_numbers(int, 1),
              help="Sessions per dyad; comma-separated for several.")
@click.option("--effect", default=None, callback=_numbers(float),
              help="Planted growth of synchrony per session, in synchrony units "
                   "(comma-separated for several) [default: 0.01].")
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
              help="Simulated studies per scenario.")
@click.option("--alpha", type=_FiniteRange(0, 1, min_open=True, max_open=True),
              default=0.05, show_default=True, help="Level of every test.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Random seed.")
@click.option("--therapists", type=click.IntRange(min=1), default=1, show_default=True,
              help="Therapists (more than one adds a therapist random intercept; slower).")
@click.option("--time", "time_", type=click.Choice(["linear", "log"]), default="linear",
              show_default=True, help="Time coding of simulation and growth model.")
@click.option("--permutations", type=click.IntRange(min=0), default=199, show_default=True,
              help="Permutations of the dyad-level slope test and of the plasticity "
                   "test per study (0: skip both permutation tests).")
@click.option("--slope-sd", default=None, type=_FiniteRange(min=0),
              help="SD of the dyads' random slopes [default: 0.01].")
@click.option("--residual-sd", default=None, type=_FiniteRange(min=0),
              help="SD of synchrony's session-to-session noise [default: 0.03].")
@click.option("--intercept-sd", default=None, type=_FiniteRange(min=0),
              help="SD of the dyads' real coupling (their random intercepts beyond the "
                   "persons' effects) [default: 0.02].")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("power"), show_default=True,
              help="Folder for power.csv, power.parquet, power_studies.parquet and "
                   "power.png.")
def power(dyads, sessions, effect, outcome_effect, outcome_effect_sd, scanned, df_method,
          no_null, studies, alpha, seed, therapists, time_, permutations, slope_sd,
          residual_sd, intercept_sd, workers, out):
    """Power and calibration of the growth, plasticity and outcome tests by simulation.

    Simulates many studies with every pairing of recordings (real dyads and
    pseudo-dyads: person effects, real coupling growing by a dyad-specific slope,
    session noise, an outcome measure associated with synchrony within dyads by an
    effect that varies between dyads), analyses each with the models of an analysis
    run (growth model, dyad-level permutation test, outcome ladder, plasticity test
    against pseudo-dyads with its permutation p) and reports the rejection rates
    with Monte Carlo 95% confidence intervals: the false-positive rate without an
    effect, the power with one."""
    model = PairingModel()
    changes = {k: v for k, v in (("slope_sd", slope_sd), ("residual_sd", residual_sd),
                                 ("coupling_sd", intercept_sd)) if v is not None}
    t0 = time.perf_counter()

    def progress(name, done, total):
        click.echo(f"[{done}/{total}] {name} ({time.perf_counter() - t0:.1f} s)",
                   err=True)

    try:
        model = replace(model, **changes)
        result = power_analysis(
            dyads, sessions, effect if effect is not None else [DEFAULT_EFFECT],
            outcome_effect=(outcome_effect if outcome_effect is not None
                            else DEFAULT_OUTCOME_EFFECT),
            outcome_effect_sd=(outcome_effect_sd if outcome_effect_sd is not None
                               else DEFAULT_OUTCOME_EFFECT_SD),
            null=not no_null, n_studies=studies, alpha=alpha, seed=seed,
            n_therapists=therapists, time=time_, n_permutations=permutations,
            n_scanned=scanned, df_method=df_method,
            model=model, n_jobs=workers, progress=progress)
        paths = result.write(out)
    except ValueError as exc:
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
