"""``interbrain stats``: the statistics stage alone, on synchrony computed elsewhere."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click

from ..engine import Progress
from ..engine.run import run_statistics
from ..errors import InterbrainError
from ..stats.synchrony_table import check_dyads, read_synchrony_table
from ..study import load_study
from .common import fail
from .run import logged_run

__all__ = ["stats"]

logger = logging.getLogger("interbrain")


@click.command()
@click.argument("study", type=click.Path(exists=True, path_type=Path))
@click.option("--synchrony", "table", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The synchrony table (.csv, .tsv or .parquet): columns dyad, session, "
                   "signal, pairing, value and optionally partner_dyad, partner_session, "
                   "pair, metric, segment, surrogate (a run's synchrony.parquet is one).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder [default: STUDY/results].")
@click.option("--metric", default="wtc", show_default=True,
              help="The metric of every row of a table without a metric column.")
@click.option("--quiet", is_flag=True, help="No log lines on the terminal.")
@click.option("-v", "--verbose", is_flag=True,
              help="On failure, keep the traceback in the run's log (OUT/logs/).")
def stats(study, table, out, metric, quiet, verbose):
    """Fit the models of STUDY to synchrony computed elsewhere (no recording is read).

    STUDY gives the dyads ([[dyads]]: therapist, patient, condition, covariates),
    measures.csv and the [statistics] settings; [[sessions]] need no recording
    files (the table's dyad-sessions are added). The table is checked first: a
    missing or unknown column, an empty value, an unknown dyad, signal, metric or
    pairing, or a row given twice stops with one message naming the file, the line
    and the column, and no results folder is made. Writes models.parquet,
    sessions.parquet, the null tables, methods.md and report.html."""
    t0 = time.perf_counter()
    root = study if study.is_dir() else study.parent
    out = out or root / "results"
    try:
        synchrony = read_synchrony_table(table, metric=metric)
        real = synchrony[synchrony["pairing"] == "real"]
        loaded = load_study(study, design_sessions=sorted(
            set(zip(real["dyad"], real["session"].astype(int)))))
        check_dyads(synchrony, table, [d.id for d in loaded.dyads])
    except (InterbrainError, ValueError) as exc:
        fail(exc)
    with logged_run(out, quiet, verbose) as run_dir:
        logger.info("study %s: %d dyads; synchrony from %s (%d rows)", loaded.name,
                    len(loaded.dyads), table, len(synchrony))
        with Progress("quiet" if quiet else "auto") as progress:
            run_statistics(loaded, synchrony, run_dir, source=table, progress=progress)
        logger.info("statistics finished in %.1f s", time.perf_counter() - t0)
    click.echo(f"report: {out / 'report.html'}")
