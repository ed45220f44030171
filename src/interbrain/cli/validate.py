"""``interbrain validate``: check a study without analysing it."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import StudyError
from ..validation import validate_study
from .common import fail

__all__ = ["validate"]


@click.command()
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
        fail(StudyError(report.message()))
    click.echo(report.summary())
