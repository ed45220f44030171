#!/usr/bin/env python
"""Calibration of the mechanism models (issue 15) on simulated studies.

Run by hand (not a test), from the repository root::

    .venv/bin/python benchmarks/calibration.py --mechanisms --studies 1000

(or this script directly, with the same options). Every question is simulated at the
design of the motivating study (8 dyads x 6 sessions) where it applies, with nothing
planted (false-positive rates; the CI must cover) and with an effect planted (power):

``cross_lagged``    :func:`interbrain.stats.cross_lagged_simulation.cross_lagged_calibration`:
                    each direction's bias-corrected bootstrap test when the effect runs
                    only the other way, with none, with concurrent effects only and with
                    trends only; coverage of the bias-corrected interval.
``mediation``       :func:`interbrain.stats.mediation_simulation.mediation_coverage`:
                    coverage of the Monte Carlo CI of the indirect effect, and how often
                    it excludes 0, at 8 and 20 dyads.
``dissociation``    :func:`interbrain.stats.dissociation_simulation.dissociation_calibration`:
                    the difference test with equal associations (also with correlated
                    noise and unequal scales) and its power for 0.4 vs 0.
``therapist``       :func:`interbrain.stats.therapist_simulation.interaction_calibration`
                    and ``pseudo_split_calibration``: the therapist x time interaction
                    (fixed, 4 therapists x 3 dyads; random slope, 6 x 2) and the tests
                    of the pseudo-dyads split by therapist, with and without traits.
``generalisation``  :func:`interbrain.stats.generalisation_simulation.generalisation_rejection_rates`:
                    the patient-level model with no transfer (one group; 4 control + 4
                    treated; two partner kinds) and with transfer.

Writes ``--out`` (one row per question, scenario and test: ``truth`` ("null" or
"planted"), ``rate`` of rejections (or of CIs excluding 0) with its Wilson 95% interval,
``coverage`` where the test has an interval, ``n_studies``) and the figure
``docs/figures/calibration_mechanisms.png``; prints the table and the seconds taken.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from interbrain.stats.cross_lagged_simulation import cross_lagged_calibration
from interbrain.stats.dissociation_simulation import dissociation_calibration
from interbrain.stats.generalisation_simulation import generalisation_rejection_rates
from interbrain.stats.mediation_simulation import mediation_coverage
from interbrain.stats.mixed import single_blas_thread
from interbrain.stats.pairing_simulation import PairingModel
from interbrain.stats.therapist_simulation import (interaction_calibration,
                                                   pseudo_split_calibration)

ROOT = Path(__file__).resolve().parents[1]
ALPHA = 0.05
#: The pseudo-split scenarios' model: no real coupling, no therapist or patient traits.
NO_TRAITS = PairingModel(coupling=0.0, coupling_sd=0.0, therapist_sd=0.0, patient_sd=0.0)
QUESTIONS = ("cross_lagged", "mediation", "dissociation", "therapist", "generalisation")


def _row(question, scenario, test, truth, rejections, n, coverage=np.nan, **extra) -> dict:
    low, high = proportion_confint(int(rejections), int(n), alpha=0.05, method="wilson")
    return {"question": question, "scenario": scenario, "test": test, "truth": truth,
            "rate": rejections / n, "rate_low": low, "rate_high": high,
            "coverage": coverage, "n_studies": int(n), **extra}


def cross_lagged_rows(n: int, seed: int) -> list[dict]:
    table = cross_lagged_calibration(n, seed=seed)
    rows = []
    for _, r in table.iterrows():
        truth = "null" if r["planted"] == 0 else "planted"
        rows.append(_row("cross_lagged", r["scenario"], f"p_bootstrap {r['direction']}",
                         truth, round(r["rejection_rate"] * r["n_studies"]),
                         r["n_studies"], coverage=r["coverage"],
                         unbounded=r["unbounded"]))
    return rows


def mediation_rows(n: int, seed: int) -> list[dict]:
    rows = []
    for n_dyads in (8, 20):
        table = mediation_coverage(n, n_dyads, seed=seed)
        for _, r in table.iterrows():
            truth = "null" if r["indirect"] == 0 else "planted"
            rows.append(_row("mediation", f"{r['scenario']}, {n_dyads} dyads",
                             "Monte Carlo CI excludes 0", truth,
                             round(r["excludes_zero"] * n), n, coverage=r["coverage"]))
    return rows


DISSOCIATION = {
    "both 0": {},
    "both 0.3, noise correlation -0.5": dict(effect_measure=0.3, effect_reference=0.3,
                                             noise_corr=-0.5),
    "both 0.3, unequal scales, trends, effect SD": dict(
        effect_measure=0.3, effect_reference=0.3, measure_sd=(10.0, 0.5),
        trend=(-0.5, 0.1), trend_sd=0.2, effect_sd=0.2),
    "0.4 vs 0": dict(effect_measure=0.4, effect_reference=0.0),
}


def dissociation_rows(n: int, seed: int) -> list[dict]:
    rows = []
    for name, sim in DISSOCIATION.items():
        r = dissociation_calibration(n, seed=seed, sesoi=0.5, **sim)
        planted = sim.get("effect_measure", 0) != sim.get("effect_reference", 0)
        rows.append(_row("dissociation", name, "difference (sign-flip)",
                         "planted" if planted else "null",
                         round(r["reject_difference"] * n), n,
                         coverage=r["cover_difference"]))
    return rows


def therapist_rows(n: int, seed: int) -> list[dict]:
    rows = []
    for name, kwargs, truth in (
            ("4 therapists x 3 dyads, no interaction", {}, "null"),
            ("6 therapists x 2 dyads, no interaction",
             dict(n_therapists=6, dyads_per_therapist=2), "null"),
            ("4 therapists x 3 dyads, growth SD 0.01 between therapists",
             dict(therapist_growth_sd=0.01), "planted")):
        table = interaction_calibration(n, seed=seed, **kwargs)
        kind = table["kind"].iloc[0]
        rows.append(_row("therapist", name, f"therapist x time ({kind})", truth,
                         int((table["p"] < ALPHA).sum()), len(table)))
    for name, kwargs in (("no traits", {}), ("therapist trait SD 0.02",
                                             dict(therapist_trait_sd=0.02)),
                         ("patient trait SD 0.02", dict(patient_trait_sd=0.02))):
        # no person traits besides the planted one (the pairing simulator's default
        # therapist and patient SDs are traits), no real coupling
        table = pseudo_split_calibration(n, seed=seed, model=NO_TRAITS, **kwargs)
        for term, part in table.groupby("term", sort=False):
            p = part["p_permutation"].fillna(part["p"])
            planted = (("therapist trait" in term and "therapist_trait_sd" in kwargs)
                       or ("patient trait" in term and "patient_trait_sd" in kwargs))
            truth = "planted" if planted else (
                "null" if "trait" in term or not kwargs else "other")
            rows.append(_row("therapist", f"pseudo split, {name}", term, truth,
                             int((p < ALPHA).sum()), len(part)))
    return rows


def generalisation_rows(n: int, seed: int) -> list[dict]:
    rows = []
    for name, sim, planted in (
            ("8 patients, no transfer", {}, ()),
            ("4 control + 4 treated, no transfer", dict(n_control=4), ()),
            ("two partner kinds, no transfer",
             dict(n_partners=2, partner_kinds=("friend", "stranger")), ()),
            ("8 patients, transfer 2", dict(transfer=2.0),
             ("therapy_slope -> other_change",))):
        table = generalisation_rejection_rates(n, seed=seed, **sim)
        for _, r in table.iterrows():
            truth = "planted" if r["term"] in planted else "null"
            if r["term"].startswith("other_change (mean)") and planted:
                truth = "other"
            rows.append(_row("generalisation", name, f"{r['term']} ({r['test']})", truth,
                             int(r["rejections"]), int(r["n_studies"])))
    return rows


RUNNERS = {"cross_lagged": cross_lagged_rows, "mediation": mediation_rows,
           "dissociation": dissociation_rows, "therapist": therapist_rows,
           "generalisation": generalisation_rows}


def plot(table: pd.DataFrame, path: Path) -> Path:
    """False-positive rates (Wilson 95% intervals) of every null row."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    null = table[table["truth"] == "null"].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(null) + 1.2))
    y = np.arange(len(null))[::-1]
    ax.errorbar(null["rate"], y, xerr=[null["rate"] - null["rate_low"],
                                       null["rate_high"] - null["rate"]],
                fmt="o", ms=3, color="k")
    ax.axvspan(0.03, 0.07, color="0.9")
    ax.axvline(ALPHA, color="C3", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{q}: {s}: {t}"[:95] for q, s, t in
                        zip(null["question"], null["scenario"], null["test"])], fontsize=6)
    ax.set_xlim(0, max(0.1, float(null["rate_high"].max()) + 0.01))
    ax.set_xlabel("false-positive rate at alpha 0.05 (Wilson 95% CI)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def markdown_table(table: pd.DataFrame) -> str:
    """The table of docs/statistics.md: one row per question, scenario and test."""
    lines = ["| question | scenario | test | truth | studies | rate [95% CI] | CI coverage |",
             "| --- | --- | --- | --- | ---: | --- | ---: |"]
    for _, r in table.iterrows():
        coverage = "" if pd.isna(r["coverage"]) else f"{r['coverage']:.3f}"
        lines.append(f"| {r['question']} | {r['scenario']} | {r['test']} | {r['truth']} | "
                     f"{int(r['n_studies'])} | {r['rate']:.3f} [{r['rate_low']:.3f}, "
                     f"{r['rate_high']:.3f}] | {coverage} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--studies", type=int, default=1000, help="studies per scenario")
    p.add_argument("--seed", type=int, default=20261130)
    p.add_argument("--questions", default=",".join(QUESTIONS),
                   help=f"comma-separated among {', '.join(QUESTIONS)}")
    p.add_argument("--out", type=Path,
                   default=ROOT / "benchmarks/results/calibration_mechanisms.csv")
    p.add_argument("--figure", type=Path,
                   default=ROOT / "docs/figures/calibration_mechanisms.png")
    p.add_argument("--merge", type=Path, nargs="*", default=[],
                   help="only merge these tables (runs of some questions each) into "
                        "--out and draw the figure")
    args = p.parse_args(argv)
    if args.merge:
        table = pd.concat([pd.read_csv(f, keep_default_na=False, na_values=[""])
                           for f in args.merge], ignore_index=True)
        order = {q: k for k, q in enumerate(QUESTIONS)}
        table = table.sort_values("question", key=lambda q: q.map(order), kind="stable")
        table.to_csv(args.out, index=False)
        plot(table, args.figure)
        print(markdown_table(table))
        print(f"wrote {args.out} and {args.figure}")
        return
    questions = [q for q in args.questions.split(",") if q]
    unknown = sorted(set(questions) - set(QUESTIONS))
    if unknown:
        p.error(f"unknown question(s) {unknown}; use {', '.join(QUESTIONS)}")
    rows = []
    with single_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for q in questions:
            start = time.perf_counter()
            found = RUNNERS[q](args.studies, args.seed)
            seconds = time.perf_counter() - start
            rows += [dict(r, seconds=seconds) for r in found]
            print(f"{q}: {len(found)} rows in {seconds:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    plot(table, args.figure)
    with pd.option_context("display.width", 200, "display.max_rows", 500,
                           "display.max_colwidth", 60):
        print(table.drop(columns=["seconds"]).to_string(index=False,
                                                        float_format="{:.3f}".format))
    print(f"\n{' '.join(sys.argv)}\n{platform.platform()}, Python {platform.python_version()}")
    print(f"wrote {args.out} and {args.figure}")


if __name__ == "__main__":
    main()
