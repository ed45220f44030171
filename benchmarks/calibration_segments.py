#!/usr/bin/env python
"""Calibration of the segment, condition and moment tests (issue 17) without coupling.

Run by hand (not a test), from the repository root::

    .venv/bin/python benchmarks/calibration.py --segments --studies 1000

(or this script directly, with the same options). Every function is in
:mod:`interbrain.stats.segment_simulation`; nothing is planted, so every rate is a
false-positive rate at alpha 0.05, printed and written with its Wilson 95% interval:

``segments_fast``     :func:`fast_segment_null_rates`: the per-label tests against
                      matched pseudo-dyads and against shuffled windows (Pearson,
                      vectorised; 6 dyads in two groups, one session of rest and talk).
``segments_wtc``      :func:`segment_null_rates` with wavelet coherence through the
                      engine's synchrony code (``--wtc-studies``; slower).
``moments_fast``      :func:`fast_moment_null_rates` (one channel per person).
``moments_engine``    :func:`moment_null_rates` through the engine's code
                      (``--wtc-studies``).
``condition``         :func:`condition_model_null_rate`: the condition model's label term
                      with one session, and the label and session x label terms with two.

Writes ``--out`` (one row per scenario and test: ``rejections``, ``n_studies``,
``rate``, ``ci_low``, ``ci_high``, ``seed``, ``seconds``).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from interbrain.stats.mixed import single_blas_thread
from interbrain.stats.segment_simulation import (condition_model_null_rate,
                                                 fast_moment_null_rates,
                                                 fast_segment_null_rates,
                                                 moment_null_rates, segment_null_rates)

ROOT = Path(__file__).resolve().parents[1]
ALPHA = 0.05
SCENARIOS = ("segments_fast", "segments_wtc", "moments_fast", "moments_engine", "condition")


def _row(scenario: str, test: str, rejections: int, n: int, seed: int,
         seconds: float) -> dict:
    low, high = proportion_confint(rejections, n, alpha=0.05, method="wilson")
    return {"scenario": scenario, "test": test, "rejections": int(rejections),
            "n_studies": int(n), "rate": rejections / n, "ci_low": low, "ci_high": high,
            "seed": seed, "seconds": round(seconds, 1)}


def _label_rows(scenario: str, table: pd.DataFrame, seed: int, seconds: float) -> list:
    return [_row(scenario, f"{r.null}:{r.segment}", r.rejections, r.n_studies, seed, seconds)
            for r in table.itertuples()]


def run(scenario: str, studies: int, wtc_studies: int) -> list[dict]:
    """The rows of one scenario (seeds as in docs/statistics.md)."""
    start = time.perf_counter()
    if scenario == "segments_fast":
        table = fast_segment_null_rates(studies, seed=11, alpha=ALPHA)
        return _label_rows(scenario, table, 11, time.perf_counter() - start)
    if scenario == "segments_wtc":
        table = segment_null_rates(wtc_studies, seed=21, alpha=ALPHA, metric="wtc")
        return _label_rows(scenario, table, 21, time.perf_counter() - start)
    if scenario == "moments_fast":
        rate = fast_moment_null_rates(studies, seed=7, alpha=ALPHA)
        return [_row(scenario, "moment_vs_null", round(rate * studies), studies, 7,
                     time.perf_counter() - start)]
    if scenario == "moments_engine":
        rate = moment_null_rates(wtc_studies, seed=8, alpha=ALPHA)
        return [_row(scenario, "moment_vs_null", round(rate * wtc_studies), wtc_studies, 8,
                     time.perf_counter() - start)]
    rows = []
    for n_sessions, term in ((1, "segment[T.talk]"), (2, "segment[T.talk]"),
                             (2, "session:segment[T.talk]")):
        t0 = time.perf_counter()
        rate = condition_model_null_rate(studies, seed=5, alpha=ALPHA,
                                         n_sessions=n_sessions, term=term)
        rows.append(_row(scenario, f"{n_sessions} session(s): {term}", round(rate * studies),
                         studies, 5, time.perf_counter() - t0))
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--studies", type=int, default=1000, help="studies of the fast scenarios")
    p.add_argument("--wtc-studies", type=int, default=300,
                   help="studies of the scenarios through the engine's wavelet code")
    p.add_argument("--scenarios", default=",".join(SCENARIOS),
                   help="comma-separated among " + ", ".join(SCENARIOS))
    p.add_argument("--out", type=Path,
                   default=ROOT / "benchmarks/results/calibration_segments.csv")
    args = p.parse_args(argv)
    chosen = [s for s in args.scenarios.split(",") if s]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        p.error(f"unknown scenario(s) {unknown}; choose among {', '.join(SCENARIOS)}")
    print(f"python {platform.python_version()} on {platform.platform()}", file=sys.stderr)
    rows: list[dict] = []
    with single_blas_thread():
        for scenario in chosen:
            new = run(scenario, args.studies, args.wtc_studies)
            for r in new:
                print(f"{r['scenario']:15s} {r['test']:32s} {r['rejections']:5d}/"
                      f"{r['n_studies']:<5d} = {r['rate']:.3f} [{r['ci_low']:.3f}, "
                      f"{r['ci_high']:.3f}]  ({r['seconds']:.0f} s)", flush=True)
            rows += new
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
