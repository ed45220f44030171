#!/usr/bin/env python
"""Calibration of interbrain's confirmatory tests by simulating whole studies.

Run by hand (not a test), from the repository root::

    .venv/bin/python benchmarks/calibration.py --studies 1000 --workers 2

Every simulated study has every pairing of recordings (real, pseudo, familiarity;
:mod:`interbrain.stats.pairing_simulation`) and is analysed with the package's own
tests (:func:`interbrain.stats.simulated_tests.run_tests`): naive growth of real
synchrony, the plasticity test (pseudo null: model p, the sign-flip permutation p and
the partner-reassignment p; familiarity null), the outcome ladder and the old random-intercept outcome model. Scenarios
(:func:`scenarios`; the null ones get ``--studies`` studies, the power ones
``--power-studies``):

``complete``     8 dyads x 6 sessions, nothing planted.
``sparse``       8 dyads, 18 of the 48 dyad-sessions scanned (at least 2 per dyad),
                 nothing planted; Satterthwaite df.
``sparse_kr``    the same studies (same seeds) with Kenward-Roger df.
``hetero_0.3``   8 x 6, mean within-dyad outcome effect 0, SD across dyads 0.3.
``hetero_1.0``   the same with SD 1.0.
``confound``     8 x 6, a session-locked confound of 0.02 synchrony per session in
                 every pairing, no plasticity (naive growth should reject often, the
                 plasticity test at its level).
``power``        8 x 6, plasticity g = 0.02 per session and within-dyad outcome
                 effect 0.5 (SD 0.3 across dyads): power.
``power_sparse`` the same planted effects, 18 of 48 dyad-sessions scanned.
``power_sparse_kr`` the same studies with Kenward-Roger df.

Writes ``--out`` (one row per scenario and test: rejection rate at alpha 0.05 with
its Wilson 95% interval, mean estimate, coverage of the 95% CIs, shares of singular
fits and of simplified models, seconds), ``<out>_studies.parquet`` next to it
(every study's estimates and p-values) and the figures
``docs/figures/calibration_rates.png`` (false-positive rates) and
``docs/figures/calibration_power.png``; prints the table, the command, the machine
and the versions. ``--mechanisms`` calibrates the mechanism models instead
(``benchmarks/calibration_mechanisms.py``, same options there). ``--segments``
calibrates the segment, condition and moment tests (``benchmarks/calibration_segments.py``). ``--time N`` only measures seconds per study of each scenario on N
studies (size the run with it); ``--plot-only`` redraws the figures from ``--out``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from interbrain.stats.mixed import single_blas_thread
from interbrain.stats.pairing_simulation import PairingModel, simulate_pairings
from interbrain.stats.simulated_tests import rejection_rows, run_tests

ROOT = Path(__file__).resolve().parents[1]
ALL_TESTS = ("growth", "plasticity", "plasticity_permutation", "plasticity_reassign",
             "plasticity_familiarity", "outcome_ladder", "outcome_intercept")
#: planted values of the power scenarios (stated in docs/statistics.md)
POWER_EFFECT = 0.02          # plasticity: growth of real coupling per session
POWER_OUTCOME = 0.5          # mean within-dyad outcome effect (standardised)
POWER_OUTCOME_SD = 0.3       # its SD across dyads
CONFOUND = 0.02              # session-locked confound per session


@dataclass(frozen=True)
class Scenario:
    """One row block of the calibration table."""

    name: str
    what: str
    tests: tuple
    n_scanned: int | None = None
    effect: float = 0.0
    confound: float = 0.0
    outcome_effect: float = 0.0
    outcome_effect_sd: float = 0.0
    df_method: str | None = "satterthwaite"
    power: bool = False
    data: str = ""                     # scenarios with the same ``data`` share studies
    n_dyads: int = 8
    n_sessions: int = 6
    model: PairingModel = field(default_factory=PairingModel)

    def planted(self) -> dict[str, float]:
        """The planted value of each test's estimate (outcome: measure units per unit
        synchrony)."""
        gw = self.outcome_effect * self.model.measure_sd / self.model.residual_sd
        return {"growth": self.effect + self.confound, "plasticity": self.effect,
                "plasticity_permutation": self.effect,
                "plasticity_reassign": self.effect,
                "plasticity_familiarity": self.effect,
                "outcome_ladder": gw, "outcome_intercept": gw}


def scenarios() -> list[Scenario]:
    """The scenarios of the module notes, in order."""
    null_tests = ("growth", "plasticity", "plasticity_permutation", "plasticity_reassign",
                  "plasticity_familiarity", "outcome_ladder", "outcome_intercept")
    out = [
        Scenario("complete", "8 dyads x 6 sessions, no effect", null_tests),
        Scenario("sparse", "8 dyads, 18 of 48 dyad-sessions, no effect",
                 ("growth", "plasticity", "plasticity_permutation", "outcome_ladder",
                  "outcome_intercept"), n_scanned=18, data="sparse"),
        Scenario("sparse_kr", "as sparse (same studies), Kenward-Roger df",
                 ("growth", "plasticity", "plasticity_permutation", "outcome_ladder"),
                 n_scanned=18,
                 df_method="kenward-roger", data="sparse"),
        Scenario("hetero_0.3", "8 x 6, within-dyad outcome effects mean 0, SD 0.3",
                 ("outcome_ladder", "outcome_intercept"), outcome_effect_sd=0.3),
        Scenario("hetero_1.0", "8 x 6, within-dyad outcome effects mean 0, SD 1.0",
                 ("outcome_ladder", "outcome_intercept"), outcome_effect_sd=1.0),
        Scenario("confound", f"8 x 6, session-locked confound {CONFOUND} per session, "
                 "no plasticity", ("growth", "plasticity", "plasticity_permutation",
                                   "plasticity_reassign"),
                 confound=CONFOUND),
        Scenario("power", f"8 x 6, plasticity g = {POWER_EFFECT}, outcome effect "
                 f"{POWER_OUTCOME} (SD {POWER_OUTCOME_SD})",
                 ("growth", "plasticity", "plasticity_permutation", "outcome_ladder",
                  "outcome_intercept"), effect=POWER_EFFECT, outcome_effect=POWER_OUTCOME,
                 outcome_effect_sd=POWER_OUTCOME_SD, power=True),
        Scenario("power_sparse", f"8 dyads, 18 of 48, plasticity g = {POWER_EFFECT}, "
                 f"outcome effect {POWER_OUTCOME} (SD {POWER_OUTCOME_SD})",
                 ("growth", "plasticity", "plasticity_permutation", "outcome_ladder"),
                 n_scanned=18, effect=POWER_EFFECT, outcome_effect=POWER_OUTCOME,
                 outcome_effect_sd=POWER_OUTCOME_SD, power=True, data="power_sparse"),
        Scenario("power_sparse_kr", "as power_sparse (same studies), Kenward-Roger df",
                 ("growth", "plasticity", "outcome_ladder"), n_scanned=18,
                 effect=POWER_EFFECT, outcome_effect=POWER_OUTCOME,
                 outcome_effect_sd=POWER_OUTCOME_SD, power=True,
                 df_method="kenward-roger", data="power_sparse"),
    ]
    return [replace(s, model=replace(s.model, outcome_effect_sd=s.outcome_effect_sd))
            for s in out]


def study_seeds(scenario: Scenario, seed: int, n: int) -> list:
    """Seeds of a scenario's studies: scenarios sharing ``data`` share them."""
    key = scenario.data or scenario.name
    entropy = [seed, sum(ord(c) * 131 ** k for k, c in enumerate(key)) % (2 ** 32)]
    return np.random.SeedSequence(entropy).spawn(n)


def run_chunk(args) -> list[dict]:
    """Tests of some studies of one scenario (runs in a worker process)."""
    scenario, seeds, n_permutations = args
    rows = []
    with single_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ss in seeds:
            data_seed, perm_seed = ss.spawn(2)
            study = simulate_pairings(scenario.n_dyads, scenario.n_sessions,
                                      effect=scenario.effect, confound=scenario.confound,
                                      outcome_effect=scenario.outcome_effect,
                                      n_scanned=scenario.n_scanned, model=scenario.model,
                                      familiarity="plasticity_familiarity" in scenario.tests,
                                      seed=np.random.default_rng(data_seed))
            rows.append(run_tests(study, scenario.tests, df_method=scenario.df_method,
                                  n_permutations=n_permutations, seed=perm_seed))
    return rows


def run_scenario(scenario: Scenario, n: int, seed: int, n_permutations: int, pool
                 ) -> tuple[list[dict], float]:
    seeds = study_seeds(scenario, seed, n)
    t0 = time.perf_counter()
    if pool is None:
        results = run_chunk((scenario, seeds, n_permutations))
    else:
        chunks = [c for c in np.array_split(np.arange(n), 16) if len(c)]
        jobs = [(scenario, [seeds[i] for i in c], n_permutations) for c in chunks]
        results = [r for part in pool.map(run_chunk, jobs) for r in part]
    return results, time.perf_counter() - t0


def plot(table: pd.DataFrame, fig_dir: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for is_power, name, title in ((False, "calibration_rates.png",
                                   "False-positive rate at alpha = 0.05 (Wilson 95% CI)"),
                                  (True, "calibration_power.png",
                                   "Power at alpha = 0.05 (Wilson 95% CI)")):
        sub = table[table["power"] == is_power].reset_index(drop=True)
        if sub.empty:
            continue
        labels = [f"{r.scenario}: {r.test}" + (" (KR)" if r.df_method == "kenward-roger"
                                               else "") for r in sub.itertuples()]
        fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(sub) + 1.4))
        y = np.arange(len(sub))[::-1]
        xerr = np.vstack([sub["rate"] - sub["ci_low"], sub["ci_high"] - sub["rate"]])
        colours = ["tab:red" if (not is_power and lo > 0.05) else "tab:blue"
                   for lo in sub["ci_low"]]
        for k in range(len(sub)):
            ax.errorbar(sub["rate"].iloc[k], y[k], xerr=xerr[:, k:k + 1], fmt="o",
                        color=colours[k], capsize=3, ms=4)
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=7)
        if not is_power:
            ax.axvline(0.05, color="grey", ls="--", lw=1)
            ax.set_xscale("symlog", linthresh=0.1, linscale=2.0)
            ax.set_xlim(0, 1)
            ticks = [0, 0.025, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0]
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.set_xticks([], minor=True)
        else:
            ax.axvline(0.8, color="grey", ls=":", lw=1)
            ax.set_xlim(0, 1)
        ax.set_xlabel("rejection rate" + ("" if is_power else " (red: CI above alpha; "
                                          "linear to 0.1, log beyond)"))
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3, axis="x")
        fig.tight_layout()
        path = fig_dir / name
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--mechanisms" in argv:   # the mechanism models: benchmarks/calibration_mechanisms.py
        import calibration_mechanisms
        calibration_mechanisms.main([a for a in argv if a != "--mechanisms"])
        return
    if "--segments" in argv:   # segments, conditions and moments: calibration_segments.py
        import calibration_segments
        calibration_segments.main([a for a in argv if a != "--segments"])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--studies", type=int, default=1000, help="studies per null scenario")
    p.add_argument("--power-studies", type=int, default=300,
                   help="studies per power scenario")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=20261130)
    p.add_argument("--permutations", type=int, default=999,
                   help="permutations of the plasticity test per study")
    p.add_argument("--scenarios", default="",
                   help="comma-separated subset of scenario names (default: all)")
    p.add_argument("--time", type=int, default=0, metavar="N",
                   help="only time each scenario on N studies (one process)")
    p.add_argument("--append", action="store_true",
                   help="replace only the rows of the scenarios run in an existing --out")
    p.add_argument("--plot-only", action="store_true",
                   help="only redraw the figures from an existing --out table")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/calibration.csv")
    p.add_argument("--figures", type=Path, default=ROOT / "docs/figures")
    args = p.parse_args(argv)
    if args.plot_only:
        print("written:", *plot(pd.read_csv(args.out), args.figures))
        return
    chosen = scenarios()
    if args.scenarios:
        names = args.scenarios.split(",")
        unknown = sorted(set(names) - {s.name for s in chosen})
        if unknown:
            p.error(f"unknown scenario(s) {unknown}")
        chosen = [s for s in chosen if s.name in names]
    versions = {n: metadata.version(n) for n in ("interbrain", "numpy", "scipy",
                                                  "pandas", "statsmodels")}
    print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; {versions}")
    if args.time:
        for s in chosen:
            _, sec = run_scenario(s, args.time, args.seed, args.permutations, None)
            print(f"{s.name:>13}: {sec / args.time:.3f} s per study ({', '.join(s.tests)})",
                  flush=True)
        return
    pool = ProcessPoolExecutor(args.workers) if args.workers > 1 else None
    rows, study_rows = [], []
    t_start = time.perf_counter()
    try:
        for s in chosen:
            n = args.power_studies if s.power else args.studies
            results, sec = run_scenario(s, n, args.seed, args.permutations, pool)
            for r in rejection_rows(results, s.planted(), alpha=0.05,
                                    df_method=s.df_method):
                rows.append({"scenario": s.name, "description": s.what, "power": s.power,
                             **r, "seconds": sec})
            for i, res in enumerate(results):
                for test, v in res.items():
                    study_rows.append({"scenario": s.name, "study": i, "test": test, **v})
            print(f"[{time.perf_counter() - t_start:7.1f} s] {s.name}: {n} studies, "
                  f"{sec:.1f} s", flush=True)
    finally:
        if pool is not None:
            pool.shutdown()
    table, studies = pd.DataFrame(rows), pd.DataFrame(study_rows)
    studies_path = args.out.with_name(args.out.stem + "_studies.parquet")
    if args.append and args.out.exists():
        # replace the rows of the scenarios run now, keep the others
        done = {s.name for s in chosen}
        old = pd.read_csv(args.out)
        table = pd.concat([old[~old["scenario"].isin(done)], table], ignore_index=True)
        if studies_path.exists():
            old = pd.read_parquet(studies_path)
            studies = pd.concat([old[~old["scenario"].isin(done)], studies],
                                ignore_index=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    studies.to_parquet(studies_path, index=False)
    figures = plot(table, args.figures)
    cols = ["scenario", "test", "df_method", "n_tested", "rate", "ci_low", "ci_high",
            "planted", "mean_estimate", "coverage", "share_singular", "share_simplified"]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"written: {args.out}, {', '.join(str(f) for f in figures)} "
          f"({time.perf_counter() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
