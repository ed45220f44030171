"""Command-line interface: ``interbrain simulate | run | demo``."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from . import __version__
from .errors import InterbrainError

logger = logging.getLogger("interbrain")


def _setup_logging(out_dir: Path | None, quiet: bool) -> None:
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    logger.propagate = False
    if not quiet:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(out_dir / "interbrain.log", mode="w", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)


def _fail(exc: Exception):
    raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(__version__, prog_name="interbrain")
def main() -> None:
    """interbrain: inter-brain synchrony in multi-session fNIRS hyperscanning studies
    of psychotherapy, from raw recordings to a report."""


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dyads", default=8, show_default=True, help="Number of therapist-patient dyads.")
@click.option("--sessions", default=6, show_default=True, help="Sessions per dyad.")
@click.option("--minutes", default=10.0, show_default=True, help="Length of each session (up to 50).")
@click.option("--channels", default=20, show_default=True, help="Long channels per person.")
@click.option("--therapists", default=1, show_default=True, help="Number of therapists.")
@click.option("--sfreq", default=10.0, show_default=True, help="Sampling rate in Hz.")
@click.option("--effect", default=1.0, show_default=True,
              help="Strength of the planted coupling and its growth (0 = no coupling).")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--overwrite", is_flag=True, help="Write into a non-empty folder.")
def simulate(out, dyads, sessions, minutes, channels, therapists, sfreq, effect, seed, overwrite):
    """Write a simulated study (SNIRF recordings, study.toml, measures.csv,
    ground_truth.json) into folder OUT."""
    from .simulate import simulate_study
    t0 = time.perf_counter()
    try:
        path = simulate_study(out, n_dyads=dyads, n_sessions=sessions, minutes=minutes,
                              sfreq=sfreq, n_channels=channels, n_therapists=therapists,
                              effect=effect, seed=seed, overwrite=overwrite)
    except (InterbrainError, ValueError, FileExistsError) as exc:
        _fail(exc)
    click.echo(f"simulated study written to {path} ({time.perf_counter() - t0:.1f} s)")


def _run(study_dir: Path, out: Path, workers: int | None, quiet: bool,
         scheduler: str | None = None, cache: Path | None = None) -> Path:
    from .engine import Progress, run_study
    from .study import load_study
    _setup_logging(out, quiet)
    t0 = time.perf_counter()
    try:
        study = load_study(study_dir)
        logger.info("study %s: %d dyads, %d dyad-sessions", study.name, len(study.dyads),
                    len(study.sessions))
        with Progress("quiet" if quiet else "auto") as progress:
            run_study(study, out, progress=progress, n_workers=workers, scheduler=scheduler,
                      cache_dir=cache)
    except InterbrainError as exc:
        logger.error("%s", exc)
        _fail(exc)
    logger.info("analysis finished in %.1f s", time.perf_counter() - t0)
    return out / "report.html"


@main.command()
@click.argument("study", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder [default: STUDY/results].")
@click.option("--workers", type=int, default=None, help="Parallel workers [default: one per core].")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run on an existing dask.distributed cluster (e.g. tcp://host:8786) "
                   "instead of the embedded scheduler.")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Cache of intermediate products [default: OUT/.cache]; reruns reuse it.")
@click.option("--quiet", is_flag=True, help="No progress display or log lines on the terminal.")
def run(study, out, workers, scheduler, cache, quiet):
    """Analyse the study in folder STUDY (its study.toml and measures.csv).

    Intermediate products are cached: a rerun recomputes only what changed, and a run
    that was killed resumes where it stopped."""
    root = study if study.is_dir() else study.parent
    report = _run(study, out or root / "results", workers, quiet, scheduler, cache)
    click.echo(f"report: {report}")


@main.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo"), show_default=True,
              help="Folder for the simulated study and its results.")
@click.option("--minutes", default=10.0, show_default=True, help="Length of each session.")
@click.option("--seed", default=0, show_default=True, help="Random seed of the simulation.")
@click.option("--workers", type=int, default=None, help="Parallel workers [default: one per core].")
@click.option("--quiet", is_flag=True, help="No progress display or log lines on the terminal.")
def demo(folder, minutes, seed, workers, quiet):
    """Simulate the default study (8 dyads x 6 sessions, one therapist) and analyse it."""
    from .simulate import simulate_study
    study_dir, out = folder / "study", folder / "results"
    if not quiet:
        click.echo(f"simulating the default study into {study_dir} ...")
    try:
        simulate_study(study_dir, minutes=minutes, seed=seed, overwrite=True)
    except (InterbrainError, ValueError) as exc:
        _fail(exc)
    report = _run(study_dir, out, workers, quiet)
    click.echo(f"report: {report.resolve()}")


if __name__ == "__main__":  # pragma: no cover
    main()
