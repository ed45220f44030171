"""``interbrain run`` and ``interbrain demo``: analyse a study into a results folder,
with the run's log."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click

from ..engine import Progress, RunDirectory, run_study
from ..engine.graph import default_scheduler
from ..errors import InterbrainError
from ..simulate import simulate_study
from .common import FiniteRange, describe_failure, fail, load_and_validate

__all__ = ["run", "demo", "analysis_options", "logged_run", "setup_logging",
           "stop_logging", "LOG_FILE_ONLY"]

logger = logging.getLogger("interbrain")


#: ``extra`` of a log record meant for the run's log only: the terminal shows the same
#: error once, as click's ``Error: ...``.
LOG_FILE_ONLY = {"log_file_only": True}


class _TerminalFilter(logging.Filter):
    """Drops the records meant for the run's log only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "log_file_only", False)


def setup_logging(run_dir, quiet: bool) -> None:
    """Log lines on standard error (unless ``quiet``) and, with ``run_dir`` (a held
    :class:`~interbrain.engine.run_directory.RunDirectory`), in the run's log
    ``DIR/logs/<start time>.log``."""
    logger.setLevel(logging.INFO)
    stop_logging()
    logger.propagate = False
    if not quiet:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        handler.addFilter(_TerminalFilter())
        logger.addHandler(handler)
    if run_dir is not None:
        run_dir.open_log(logger, logging.Formatter("%(asctime)s %(levelname)s %(message)s"))


def stop_logging() -> None:
    """Remove (and close) the handlers :func:`setup_logging` added."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = True


@contextlib.contextmanager
def logged_run(out: Path, quiet: bool, verbose: bool) -> Iterator[RunDirectory]:
    """Hold the results folder ``out`` with the run's log for the body of a command.

    A second run on the folder fails at once, writing nothing; any failure of the body
    exits with one message (click's ``Error: ...`` on standard error), also recorded in
    the run's log (with its traceback when ``verbose``); the folder is released and the
    log closed in every case.
    """
    run_dir = RunDirectory(out)
    try:
        run_dir.acquire()   # a second run on the folder fails here, writing nothing
    except InterbrainError as exc:
        fail(exc)
    try:
        setup_logging(run_dir, quiet)
        yield run_dir
    except KeyboardInterrupt:
        logger.error("interrupted", extra=LOG_FILE_ONLY)
        raise
    except Exception as exc:
        message = describe_failure(exc)
        logger.error("%s", message, exc_info=exc if verbose else None, extra=LOG_FILE_ONLY)
        fail(message)
    finally:
        run_dir.release()
        stop_logging()


def _run(study_dir: Path, out: Path, workers: int | None, quiet: bool,
         scheduler: str | None = None, cache: Path | None = None,
         verbose: bool = False, figures: bool = True) -> Path:
    """Validate and run the study into ``out``; any failure exits with one message
    (click's ``Error: ...`` on standard error), also recorded in the run's log (with
    its traceback when ``verbose``), and leaves the previous results of ``out`` as they
    were."""
    t0 = time.perf_counter()
    # validation first: a study that fails it creates no output folder
    study = load_and_validate(study_dir)
    with logged_run(out, quiet, verbose) as run_dir:
        logger.info("study %s: %d dyads, %d dyad-sessions", study.name, len(study.dyads),
                    len(study.sessions))
        scheduler = scheduler or study.engine.scheduler or default_scheduler(
            workers or study.engine.workers or None)
        logger.info("scheduler: %s", scheduler)
        with Progress("quiet" if quiet else "auto") as progress:
            run_study(study, run_dir, progress=progress, n_workers=workers,
                      scheduler=scheduler, cache_dir=cache, figures=figures)
        logger.info("analysis finished in %.1f s", time.perf_counter() - t0)
    return out / "report.html"


def analysis_options(results: str):
    """The options ``interbrain run`` and ``interbrain demo`` share: ``--workers``,
    ``--quiet``, ``--figures/--no-figures`` and ``--verbose``.

    Parameters
    ----------
    results : str
        The results folder as the help texts name it (``"OUT"``, ``"DIR/results"``).
    """
    options = [
        click.option("--workers", type=click.IntRange(min=0), default=None,
                     help="Parallel workers; 0 for one per core [default: one per core]."),
        click.option("--quiet", is_flag=True,
                     help="No progress display or log lines on the terminal."),
        click.option("--figures/--no-figures", default=True, show_default=True,
                     help="Also write every figure as SVG and PDF (85 and 174 mm wide) to "
                          f"{results}/figures/."),
        click.option("-v", "--verbose", is_flag=True,
                     help=f"On failure, keep the traceback in the run's log ({results}/logs/)."),
    ]

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@click.command()
@click.argument("study", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder [default: STUDY/results].")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="'processes' (embedded process pool; the default with more than one "
                   "worker), 'threads' (embedded; the default with one worker) or the "
                   "address of an existing dask.distributed cluster (e.g. tcp://host:8786).")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Cache of intermediate products [default: OUT/.cache]; reruns reuse it.")
@analysis_options("OUT")
def run(study, out, workers, scheduler, cache, quiet, verbose, figures):
    """Analyse the study in folder STUDY (its study.toml and measures.csv).

    Intermediate products are cached: a rerun recomputes only what changed, and a run
    that was killed resumes where it stopped."""
    root = study if study.is_dir() else study.parent
    report = _run(study, out or root / "results", workers, quiet, scheduler, cache, verbose,
                  figures)
    click.echo(f"report: {report}")


@click.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo"), show_default=True,
              help="Folder for the simulated study and its results.")
@click.option("--minutes", type=FiniteRange(0, 50, min_open=True), default=10.0,
              show_default=True, help="Length of each session in minutes (up to 50).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Random seed of the simulation.")
@analysis_options("DIR/results")
def demo(folder, minutes, seed, workers, quiet, verbose, figures):
    """Simulate the demo study (8 dyads x 6 sessions, one therapist, the large effects
    of the "demo" preset) and analyse it."""
    study_dir, out = folder / "study", folder / "results"
    if not quiet:
        click.echo(f"simulating the demo study into {study_dir} ...")
    try:
        simulate_study(study_dir, minutes=minutes, seed=seed, overwrite=True, preset="demo")
    except (InterbrainError, ValueError) as exc:
        fail(exc)
    report = _run(study_dir, out, workers, quiet, verbose=verbose, figures=figures)
    click.echo(f"report: {report.resolve()}")
