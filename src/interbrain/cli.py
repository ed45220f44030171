"""Command-line interface: ``interbrain simulate | run | demo | power``."""

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


def _load_and_validate(study_dir: Path):
    """Load the study and check everything that needs no signal analysis; exits with
    one message (no output folder created) when anything is wrong."""
    from .study import load_study
    try:
        return load_study(study_dir)
    except InterbrainError as exc:
        _fail(exc)


def _run(study_dir: Path, out: Path, workers: int | None, quiet: bool,
         scheduler: str | None = None, cache: Path | None = None) -> Path:
    from .engine import Progress, run_study
    from .engine.graph import default_scheduler
    t0 = time.perf_counter()
    # validation first: a study that fails it creates no output folder
    study = _load_and_validate(study_dir)
    _setup_logging(out, quiet)
    try:
        logger.info("study %s: %d dyads, %d dyad-sessions", study.name, len(study.dyads),
                    len(study.sessions))
        scheduler = scheduler or study.engine.scheduler or default_scheduler(
            workers or study.engine.workers or None)
        logger.info("scheduler: %s", scheduler)
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
              help="'processes' (embedded process pool; the default with more than one "
                   "worker), 'threads' (embedded; the default with one worker) or the "
                   "address of an existing dask.distributed cluster (e.g. tcp://host:8786).")
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


def _numbers(kind):
    """click callback: ``"6,8,10"`` -> ``[6, 8, 10]``."""
    def parse(ctx, param, value):
        if value is None:
            return None
        try:
            vals = [kind(v) for v in str(value).replace(" ", "").split(",") if v != ""]
        except ValueError:
            raise click.BadParameter(f"expected comma-separated numbers, got {value!r}")
        if not vals:
            raise click.BadParameter("needs at least one value")
        return vals
    return parse


@main.command()
@click.option("--dyads", default="8", show_default=True, callback=_numbers(int),
              help="Dyads per study; several comma-separated values draw a power curve "
                   "(e.g. 6,8,12,16).")
@click.option("--sessions", default="6", show_default=True, callback=_numbers(int),
              help="Sessions per dyad; comma-separated for several.")
@click.option("--effect", default=None, callback=_numbers(float),
              help="Planted growth of synchrony per session, in synchrony units "
                   "(comma-separated for several) [default: 0.01].")
@click.option("--outcome-effect", default=None, type=float,
              help="Planted within-dyad association of the measure with synchrony, in "
                   "measure SDs per SD of synchrony's session noise [default: 0.3].")
@click.option("--no-null", is_flag=True,
              help="Skip the null scenario (no effect), whose rates are false-positive "
                   "rates.")
@click.option("--studies", default=1000, show_default=True,
              help="Simulated studies per scenario.")
@click.option("--alpha", default=0.05, show_default=True, help="Level of every test.")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--therapists", default=1, show_default=True,
              help="Therapists (more than one adds a therapist random intercept; slower).")
@click.option("--time", "time_", type=click.Choice(["linear", "log"]), default="linear",
              show_default=True, help="Time coding of simulation and growth model.")
@click.option("--permutations", default=199, show_default=True,
              help="Permutations of the dyad-level slope test per study (0: skip it).")
@click.option("--slope-sd", default=None, type=float,
              help="SD of the dyads' random slopes [default: 0.01].")
@click.option("--residual-sd", default=None, type=float,
              help="SD of synchrony's session-to-session noise [default: 0.03].")
@click.option("--intercept-sd", default=None, type=float,
              help="SD of the dyads' random intercepts [default: 0.04].")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Worker processes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("power"), show_default=True,
              help="Folder for power.csv, power.parquet, power_studies.parquet and "
                   "power.png.")
def power(dyads, sessions, effect, outcome_effect, no_null, studies, alpha, seed,
          therapists, time_, permutations, slope_sd, residual_sd, intercept_sd, workers,
          out):
    """Power and calibration of the growth and outcome tests by simulation.

    Simulates many studies at the level of session synchrony (dyad random intercept
    and slope, session noise, an outcome measure associated with synchrony within
    dyads), analyses each with the package's growth model (lmer, Satterthwaite df),
    the dyad-level permutation test and the within/between outcome model, and
    reports the rejection rates with Monte Carlo 95% confidence intervals: the
    false-positive rate without an effect, the power with one."""
    from dataclasses import replace

    from .stats.power import (DEFAULT_EFFECT, DEFAULT_OUTCOME_EFFECT, SessionModel,
                              power_analysis)
    model = SessionModel()
    changes = {k: v for k, v in (("slope_sd", slope_sd), ("residual_sd", residual_sd),
                                 ("intercept_sd", intercept_sd)) if v is not None}
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
            null=not no_null, n_studies=studies, alpha=alpha, seed=seed,
            n_therapists=therapists, time=time_, n_permutations=permutations,
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
