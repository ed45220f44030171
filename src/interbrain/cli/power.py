"""``interbrain power``: power and calibration of the tests by simulation."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click

from ..errors import InterbrainError
from ..stats.power import (DEFAULT_EFFECT, DEFAULT_OUTCOME_EFFECT, DEFAULT_OUTCOME_EFFECT_SD,
                           PairingModel, power_analysis)
from ..stats.power_from_run import run_components
from ..stats.power_search import (FIELD_EFFECT_SIZES, SEARCH_TESTS, describe_d,
                                  dyads_for_their_effects, effect_from_d)
from .common import FiniteRange, fail, numbers

__all__ = ["power"]


@click.command()
@click.option("--dyads", default=None, callback=numbers(int, 1),
              help="Dyads per study; several comma-separated values draw a power curve "
                   "(e.g. 6,8,12,16) [default: 8, or the run's with --from; with "
                   "--target-power the first number tried, default 4].")
@click.option("--sessions", default=None, callback=numbers(int, 1),
              help="Sessions per dyad; comma-separated for several [default: 6, or the "
                   "run's session numbers with --from].")
@click.option("--effect", default=None, callback=numbers(float),
              help="Planted growth of synchrony per session, in synchrony units "
                   "(comma-separated for several) [default: 0.01].")
@click.option("--effect-d", default=None, callback=numbers(float),
              help="Planted growth as a standardised effect d: the total growth over the "
                   "sessions in SDs of real dyad-session synchrony (the field's d is "
                   "0.2-0.3; comma-separated for several); instead of --effect.")
@click.option("--outcome-effect", default=None, type=FiniteRange(),
              help="Planted within-dyad association of the measure with synchrony, in "
                   "measure SDs per SD of synchrony's session noise [default: 0.3].")
@click.option("--outcome-effect-sd", default=None, type=FiniteRange(min=0),
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
@click.option("--alpha", type=FiniteRange(0, 1, min_open=True, max_open=True),
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
@click.option("--slope-sd", default=None, type=FiniteRange(min=0),
              help="SD of the dyads' random slopes [default: 0.01, or the run's].")
@click.option("--residual-sd", default=None, type=FiniteRange(min=0),
              help="SD of synchrony's session-to-session noise [default: 0.03, or the "
                   "run's].")
@click.option("--intercept-sd", default=None, type=FiniteRange(min=0),
              help="SD of the dyads' real coupling (their random intercepts beyond the "
                   "persons' effects) [default: 0.02, or the run's].")
@click.option("--from", "from_", type=click.Path(path_type=Path), default=None,
              metavar="RESULTS",
              help="Simulate with variance components estimated from a finished run's "
                   "results folder (a simulated study's run works too).")
@click.option("--signal", default=None, help="With --from: the signal [default: primary].")
@click.option("--metric", default=None, help="With --from: the metric [default: primary].")
@click.option("--target-power", type=FiniteRange(0, 1, min_open=True, max_open=True),
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
        fail(exc)
    cols = ["n_dyads", "n_sessions", "effect", "outcome_effect", "test", "planted",
            "rate", "ci_low", "ci_high", "mean_estimate", "coverage"]
    table = result.table[cols].rename(columns={"outcome_effect": "outcome"})
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo("rate = false-positive rate where effect and outcome are 0, power "
               "elsewhere; ci = 95% Monte Carlo (Wilson) interval")
    click.echo(f"written: {', '.join(str(p) for p in paths.values())} "
               f"({time.perf_counter() - t0:.1f} s)")
