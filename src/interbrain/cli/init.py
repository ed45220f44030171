"""``interbrain init``: write ``study.toml`` and a ``measures.csv`` template from a BIDS
dataset or a folder laid out by a pattern."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InterbrainError
from ..study.scaffold import scaffold_from_bids
from ..study.scaffold_pattern import parse_roles, scaffold_from_pattern
from ..study.scaffold_files import write_scaffold
from .common import fail

__all__ = ["init"]


@click.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--pattern", default=None, metavar="PATTERN",
              help="Where the recordings are, relative to DATA, e.g. "
                   "\"{dyad}/ses-{session}/{role}.snirf\"; placeholders {dyad} and {role} "
                   "(required), {session} (a whole number; without it session 1), "
                   "{therapist} and {patient} (ids). Without --pattern, DATA is a BIDS "
                   "dataset with dyads.tsv at its root.")
@click.option("--roles", default=None, metavar="WORD=ROLE,...",
              help="The words of {role}, e.g. T=therapist,P=patient [default: the words "
                   "therapist and patient].")
@click.option("--task", default=None,
              help="BIDS: only recordings of this task (task-<task>).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The study file to write; measures.csv goes beside it "
                   "[default: DATA/study.toml].")
@click.option("--force", is_flag=True, help="Replace an existing study file or measures.csv.")
def init(data, pattern, roles, task, out, force):
    """Write study.toml and a measures.csv template for the recordings in DATA.

    Lists what it found (dyads, dyad-sessions, files, sampling rates) and what is
    missing or wrong: a session with one partner's recording only, sampling rates
    that differ (read from the headers), file names the pattern cannot read, ids that
    are not valid names. Sessions with a problem are left out of study.toml (rates
    that cannot be brought to one: written commented out); `interbrain validate`
    accepts the rest. Recording paths are written relative to the study file."""
    out = out or data / "study.toml"
    try:
        if pattern is None:
            if roles is not None:
                raise ValueError("--roles goes with --pattern")
            found = scaffold_from_bids(data, task=task)
        else:
            if task is not None:
                raise ValueError("--task goes with a BIDS dataset (without --pattern)")
            found = scaffold_from_pattern(data, pattern, parse_roles(roles))
        click.echo(found.summary())
        written = write_scaffold(found, out, force=force)
    except (InterbrainError, ValueError, FileExistsError) as exc:
        fail(exc)
    except OSError as exc:
        fail(f"{exc.filename or out}: {exc.strerror or exc}")
    click.echo(f"written: {written[0]}, {written[1]} (fill in the measures; check the "
               "ids; then: interbrain validate " + str(written[0].parent) + ")")
