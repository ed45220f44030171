"""What the commands of :mod:`interbrain.cli` share: option types, the one-line failure
message, and loading a study with every check that needs no signal analysis."""

from __future__ import annotations

import math
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import click

from ..engine.atomic import describe_os_error
from ..errors import InterbrainError, StudyError
from ..validation import validate_study

__all__ = ["FiniteRange", "fail", "describe_failure", "numbers", "load_and_validate"]


class FiniteRange(click.FloatRange):
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


def describe_failure(exc: BaseException) -> str:
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


def fail(exc: Exception | str):
    """Exit with click's one-line ``Error: <exc>`` (status 1)."""
    raise click.ClickException(str(exc)) from None


def numbers(kind, minimum=None):
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


def load_and_validate(study_dir: Path):
    """Load the study and check everything that needs no signal analysis
    (:func:`interbrain.validation.validate_study`); exits with one message listing
    every problem (no output folder created) when anything is wrong."""
    report = validate_study(study_dir)
    if not report.ok:
        fail(StudyError(report.message()))
    return report.study
