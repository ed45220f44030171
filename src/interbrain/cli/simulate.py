"""``interbrain simulate``: write a simulated study.

The options are click decorators stacked on :func:`simulate`; a new option is one more
decorator and one more keyword passed on to :func:`~interbrain.simulate.simulate_study`.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..errors import InterbrainError
from ..simulate import simulate_study
from .common import FiniteRange, fail

__all__ = ["simulate"]


def confound_options(values: tuple[str, ...]) -> dict | None:
    """``--confound`` values (``NAME[=STRENGTH][:rising]``) as ``simulate_study``'s
    ``confounds`` mapping; None when there are none.

    >>> confound_options(("speech=8:rising", "paced_breathing"))
    {'speech': {'strength': 8.0, 'profile': 'rising'}, 'paced_breathing': 1.0}
    """
    out: dict = {}
    for value in values:
        text, rising = (value[:-len(":rising")], True) if value.endswith(":rising") \
            else (value, False)
        name, _, strength = text.partition("=")
        try:
            level = float(strength) if strength else 1.0
        except ValueError:
            raise ValueError(f"--confound {value!r}: the strength after '=' must be a "
                             "number (e.g. speech=8 or speech=8:rising)") from None
        out[name.strip()] = {"strength": level, "profile": "rising"} if rising else level
    return out or None


def phase_options(values: tuple[str, ...]) -> list[tuple[str, float]] | None:
    """``--phase`` values (``LABEL=SECONDS``) as ``simulate_study``'s ``phases``."""
    out = []
    for value in values:
        label, sep, seconds = value.rpartition("=")
        try:
            if not sep or not label:
                raise ValueError
            out.append((label, float(seconds)))
        except ValueError:
            raise ValueError(f"--phase {value!r} must be LABEL=SECONDS "
                             "(e.g. talk=60)") from None
    return out or None


@click.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dyads", type=click.IntRange(2, 99), default=8, show_default=True,
              help="Number of therapist-patient dyads (2-99).")
@click.option("--sessions", type=click.IntRange(2, 99), default=6, show_default=True,
              help="Sessions per dyad (2-99).")
@click.option("--minutes", type=FiniteRange(0, 50, min_open=True), default=10.0,
              show_default=True, help="Length of each session in minutes (up to 50).")
@click.option("--channels", type=click.IntRange(4, 20), default=20, show_default=True,
              help="Long channels per person (4-20).")
@click.option("--therapists", type=click.IntRange(min=1), default=1, show_default=True,
              help="Number of therapists (1 to the number of dyads).")
@click.option("--sfreq", type=FiniteRange(4, 100), default=10.0, show_default=True,
              help="Sampling rate in Hz (4-100).")
@click.option("--effect", type=FiniteRange(0, 5), default=1.0, show_default=True,
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
@click.option("--therapist-slope-sd", type=FiniteRange(0, 1), default=None,
              help="SD of the therapists' own growth of coupling.")
@click.option("--short-channels/--no-short-channels", default=None,
              help="One 8 mm short-separation channel per region.")
@click.option("--aux/--no-aux", default=None,
              help="Respiration, PPG, heart rate and accelerometer in the SNIRF aux groups.")
@click.option("--confound", "confounds", multiple=True, metavar="NAME[=STRENGTH][:rising]",
              help="Plant a confound (paced_breathing, speech or shared_motion; repeat for "
                   "several), at STRENGTH times its default size (default 1), constant over "
                   "sessions or ':rising' from 0 in the first session to STRENGTH in the "
                   "last (e.g. speech=8:rising).")
@click.option("--missing-sessions", type=FiniteRange(0, 1, max_open=True), default=None,
              help="Fraction of each dyad's sessions not scanned (sparse scanning).")
@click.option("--generalisation/--no-generalisation", default=None,
              help="Record each patient with another person before and after treatment.")
@click.option("--phase", "phases", multiple=True, metavar="LABEL=SECONDS",
              help="Phases of every session, cycled from its start (repeat: e.g. --phase "
                   "talk=60 --phase rest=60), each onset written as a SNIRF stimulus named "
                   "LABEL in both partners' files.")
@click.option("--coupling-phase", "coupling_phases", multiple=True, metavar="LABEL",
              help="Plant the neural coupling only in these phases (repeat for several; "
                   "default: every phase).")
def simulate(out, dyads, sessions, minutes, channels, therapists, sfreq, effect, seed, overwrite,
             preset, coupling_regions, lag, leader, therapist_slope_sd, short_channels, aux,
             confounds, missing_sessions, generalisation, phases, coupling_phases):
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
                              confounds=confound_options(confounds),
                              missing_sessions=missing_sessions,
                              generalisation=generalisation,
                              phases=phase_options(phases),
                              coupling_phases=tuple(coupling_phases) or None)
    except (InterbrainError, ValueError, FileExistsError) as exc:
        fail(exc)
    click.echo(f"simulated study written to {path} ({time.perf_counter() - t0:.1f} s)")
