#!/usr/bin/env python
"""A whole simulated study end to end: wall time, peak memory, time per stage, scaling.

Run by hand (not a test), from the repository root::

    .venv/bin/python benchmarks/study.py

Workload (defaults: the motivating study's size): ``--dyads`` dyads (8, then 16 and 32
to show how cost grows) x ``--sessions`` sessions x ``--minutes`` minutes x
``--channels`` channels per person at ``--sfreq`` Hz, raw-intensity SNIRF written by
``interbrain simulate``; both HbO and HbR; band 10-40 s; synchrony of the real dyads
and of all pseudo-dyads (every therapist with every other dyad's patient in the same
session number), with homologous channel pairs; then all-to-all pairs of the real
dyads (8 dyads); optionally (``--all-pairs-pseudo``) all-to-all pairs of the real and all
pseudo-dyads; then 16 and 32 dyads with as many pseudo partners per dyad as the
8-dyad study has (7, a seeded subset: all pseudo-dyads grow with the square of the
dyads), to show that cost grows linearly; then the 8-dyad homologous run with 1 and with
2 workers.

Each run is ``run_study`` in a fresh Python process with a fresh cache (nothing is
reused between runs); the peak resident memory is that process's ``ru_maxrss`` (from
``os.wait4``) and, sampled over it and its worker processes, the peak of their summed
RSS (every 0.2 s; shared pages counted once per process) and of their summed PSS
(every 1 s, with ``--pss`` only; shared pages split among the processes sharing
them), the wall time is measured around the process, and the time per stage
comes from ``StudyResults.timings`` (seconds the tasks of each stage ran, summed over
tasks; wall seconds of the statistics and report stages). The simulation itself is
not timed.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

#: One run in the measured interpreter; scheduler "default": the one ``interbrain run``
#: of that interpreter's interbrain would use. Pairings are counted by the columns the
#: table has (commit 9d4c43e's has no ``partner_session``).
DRIVER = """
import json, sys, time
from interbrain.engine import run_study
from interbrain.engine.graph import default_scheduler
from interbrain.study import load_study
study_dir, out, cache, workers, scheduler = sys.argv[1:6]
if scheduler == "default":
    scheduler = default_scheduler(int(workers))
t0 = time.perf_counter()
r = run_study(load_study(study_dir), out, n_workers=int(workers), cache_dir=cache,
              scheduler=scheduler)
n_pairs = int((r.synchrony["metric"] == "wtc").sum())
keys = [c for c in ("dyad", "partner_dyad", "session", "partner_session", "pairing",
                    "signal") if c in r.synchrony]
print(json.dumps({"timings": r.timings, "rows": len(r.synchrony), "wtc_pairs": n_pairs,
                  "pairings": int(r.synchrony.groupby(keys).ngroups),
                  "scheduler": scheduler}))
"""


def simulate(scratch: Path, dyads: int, args) -> Path:
    folder = scratch / f"study-{dyads}d-{args.sessions}s-{args.minutes:g}m-{args.channels}c"
    if not (folder / "study.toml").exists():
        if folder.exists():
            shutil.rmtree(folder)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "interbrain.cli", "simulate", str(folder),
                        "--dyads", str(dyads), "--sessions", str(args.sessions),
                        "--minutes", str(args.minutes), "--channels", str(args.channels),
                        "--sfreq", str(args.sfreq), "--seed", "1",
                        # the study the timings in docs/performance.md were measured on
                        "--preset", "demo"], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"  (simulated {folder.name} in {time.perf_counter() - t0:.0f} s)", flush=True)
    return folder


def simulate_at(scratch: Path, dyads: int, args) -> Path:
    """:func:`simulate`, then the ``--precision`` variant of the study."""
    study = simulate(scratch, dyads, args)
    if args.precision is not None:
        study = variant(study, args.precision, precision=args.precision)
    return study


def variant(study: Path, name: str, **analysis) -> Path:
    """A sibling of ``study`` sharing its recordings, with ``[analysis]`` fields changed."""
    other = study.with_name(f"{study.name}-{name}")
    if other.exists():
        shutil.rmtree(other)
    other.mkdir()
    for item in study.iterdir():
        if item.name != "study.toml":
            (other / item.name).symlink_to(item.resolve())
    lines = (study / "study.toml").read_text().splitlines()
    out = []
    for line in lines:
        key = line.split("=", 1)[0].strip()
        if key in analysis:
            continue
        out.append(line)
        if line.strip() == "[analysis]":
            out += [f"{k} = {json.dumps(v)}" for k, v in analysis.items()]
    (other / "study.toml").write_text("\n".join(out) + "\n")
    return other


#: The embedded scheduler of every run (set from ``--scheduler``); None: what
#: ``interbrain run`` uses, processes with more than one worker, threads with one.
SCHEDULER: list[str | None] = [None]


def _sample_tree_rss(pid: int, peak: list, pss: bool = False) -> None:
    """Keep in ``peak[0]`` the largest summed resident memory (RSS, bytes) of process
    ``pid`` and its descendants, sampled every 0.2 s, until it exits; with ``pss``, also
    in ``peak[1]`` the largest summed proportional set size (PSS: pages shared between
    processes are split among them, so the sum is the physical memory the tree uses),
    sampled every 1 s. Reading PSS walks every page of every process
    (``smaps_rollup``) and slows the measured run (about 5% at 1 s, 10% at 0.2 s, on the
    8-dyad study), so it is off unless asked for."""
    import psutil
    try:
        root = psutil.Process(pid)
        tick = 0
        while root.is_running() and root.status() != psutil.STATUS_ZOMBIE:
            rss = total_pss = 0
            with_pss = pss and tick % 5 == 0
            for p in [root, *root.children(recursive=True)]:
                try:
                    if with_pss:
                        full = p.memory_full_info()
                        rss += full.rss
                        total_pss += getattr(full, "pss", full.rss)
                    else:
                        rss += p.memory_info().rss
                except psutil.Error:
                    continue
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], total_pss)
            tick += 1
            time.sleep(0.2)
    except psutil.Error:
        pass


def measure_run(study: Path, scratch: Path, workers: int, *, pss: bool = False,
                python: str | Path = sys.executable) -> dict:
    """One run of ``study`` (:data:`DRIVER`) by the interpreter ``python`` (and the
    interbrain it imports), with the child's peak resident memory (``os.wait4``)."""
    out, cache = scratch / "out", scratch / "cache"
    for path in (out, cache):
        shutil.rmtree(path, ignore_errors=True)
    log = scratch / "driver.out"
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen([str(python), "-c", DRIVER, str(study), str(out),
                                 str(cache), str(workers), SCHEDULER[0] or "default"],
                                stdout=fh, stderr=subprocess.STDOUT)
        tree_peak = [0, 0]
        sampler = threading.Thread(target=_sample_tree_rss, args=(proc.pid, tree_peak, pss),
                                   daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        sampler.join()
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text()
    if proc.returncode != 0:
        raise SystemExit(f"run failed on {study}:\n{text[-3000:]}")
    info = json.loads(text.strip().splitlines()[-1])
    info["wall"] = wall
    # ru_maxrss (KiB on Linux): the largest single process; with the processes scheduler
    # the workers run at once, so also the peak of their sum (sampled every 0.2 s)
    info["peak_gib"] = usage.ru_maxrss / 2**20
    info["tree_peak_gib"] = tree_peak[0] / 2**30
    info["tree_pss_gib"] = tree_peak[1] / 2**30 if pss else None
    return info


def report(label: str, info: dict) -> None:
    t = info["timings"]
    stages = ", ".join(f"{k.replace('task seconds: ', '')} {v:.0f} s"
                       for k, v in t.items() if k != "preprocessing + synchrony")
    together = f"RSS {info['tree_peak_gib']:.2f} GiB"
    if info["tree_pss_gib"] is not None:
        together += f", PSS {info['tree_pss_gib']:.2f} GiB"
    print(f"{label} ({info['scheduler']}): wall {info['wall']:.0f} s, "
          f"peak {info['peak_gib']:.2f} GiB (all processes together: {together}); "
          f"{info['pairings']} pairings x signals, {info['wtc_pairs']} channel pairs; "
          f"preprocessing + synchrony {t['preprocessing + synchrony']:.0f} s wall "
          f"(task time: {stages})", flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dyads", type=int, nargs="+", default=[8, 16, 32])
    p.add_argument("--sessions", type=int, default=6)
    p.add_argument("--minutes", type=float, default=50.0)
    p.add_argument("--channels", type=int, default=20)
    p.add_argument("--sfreq", type=float, default=10.0)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="workers of the scaling runs")
    p.add_argument("--skip", nargs="*", default=[], choices=["all-pairs", "scaling", "workers"])
    p.add_argument("--precision", default=None, choices=["float64", "float32", "fast"],
                   help="[analysis] precision of every run (default: the study's default, "
                        "fast)")
    p.add_argument("--scheduler", default=None, choices=["threads", "processes"],
                   help="embedded scheduler of every run (default: as interbrain run, "
                        "processes with more than one worker, threads with one)")
    p.add_argument("--repeats", type=int, default=1,
                   help="runs of the homologous and all-pseudo studies (the median's wall)")
    p.add_argument("--all-pairs-pseudo", action="store_true",
                   help="also all-to-all pairs with all pseudo-dyads (64x the pairs of the "
                        "homologous run: about 2.5 minutes with --minutes 50)")
    p.add_argument("--pss", action="store_true",
                   help="also sample the summed PSS of the run's processes every 1 s "
                        "(shared pages split among them; slows the run by about 5%%)")
    p.add_argument("--scratch", type=Path, default=Path("/tmp/interbrain-bench"))
    args = p.parse_args(argv)
    SCHEDULER[0] = args.scheduler
    run_measured = functools.partial(measure_run, pss=args.pss)
    args.scratch.mkdir(parents=True, exist_ok=True)
    from importlib import metadata

    print("interbrain study benchmark")
    print(f"  command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"  machine: {os.cpu_count()} CPUs, {platform.platform()}, Python "
          f"{platform.python_version()}, interbrain {metadata.version('interbrain')}")
    print(f"  study: {args.sessions} sessions x {args.minutes:g} min x {args.channels} "
          f"channels per person at {args.sfreq:g} Hz; HbO and HbR; real + all pseudo-dyads; "
          f"{args.precision or 'default precision (fast)'}; "
          f"{args.scheduler or 'default'} scheduler",
          flush=True)
    first = args.dyads[0]
    base = simulate_at(args.scratch, first, args)
    results = {}

    def median_run(study: Path) -> dict:
        """The run of median wall time of ``--repeats`` runs."""
        runs = sorted((run_measured(study, args.scratch, args.workers)
                       for _ in range(args.repeats)), key=lambda run: run["wall"])
        if args.repeats > 1:
            walls = ", ".join(f"{run['wall']:.1f}" for run in runs)
            print(f"  ({args.repeats} runs, wall {walls} s; the median's figures below)")
        return runs[len(runs) // 2]

    results[(first, "homologous", args.workers)] = r = median_run(base)
    report(f"{first} dyads, homologous, {args.workers} workers", r)
    if "all-pairs" not in args.skip:
        r = run_measured(variant(base, "all-real", pairs="all", pseudo_dyads=False),
                         args.scratch, args.workers)
        report(f"{first} dyads, all-to-all pairs, real dyads only, {args.workers} workers", r)
    if args.all_pairs_pseudo:
        r = median_run(variant(base, "all-pseudo", pairs="all"))
        report(f"{first} dyads, all-to-all pairs, real and all pseudo-dyads, "
               f"{args.workers} workers", r)
        hom = results[(first, "homologous", args.workers)]
        print(f"  all-to-all with every pseudo-dyad vs homologous: "
              f"{r['wall'] / hom['wall']:.2f}x the wall time ({r['wall']:.1f} s vs "
              f"{hom['wall']:.1f} s; issue 19's target: at most 2x)")
    if "scaling" not in args.skip:
        # all pseudo-dyads grow with dyads^2; with a fixed number of pseudo partners per
        # dyad (as many as the first study has) the work grows linearly with dyads
        per_dyad = first - 1
        for dyads in args.dyads:
            study = simulate_at(args.scratch, dyads, args)
            if dyads != first:
                study = variant(study, f"pseudo{per_dyad}", pseudo_dyads_per_dyad=per_dyad)
            if (dyads, "homologous", args.workers) not in results:
                results[(dyads, "homologous", args.workers)] = r = run_measured(
                    study, args.scratch, args.workers)
                report(f"{dyads} dyads, homologous, {per_dyad} pseudo partners per dyad, "
                       f"{args.workers} workers", r)
        ref = results[(first, "homologous", args.workers)]
        for dyads in args.dyads[1:]:
            r = results[(dyads, "homologous", args.workers)]
            print(f"  {dyads} vs {first} dyads: {dyads / first:.0f}x the dyads, "
                  f"{r['wtc_pairs'] / ref['wtc_pairs']:.2f}x the channel pairs, "
                  f"{r['wall'] / ref['wall']:.2f}x the wall time "
                  f"({r['wall'] / dyads:.1f} s per dyad vs {ref['wall'] / first:.1f})")
    if "workers" not in args.skip:
        one = run_measured(base, args.scratch, 1)
        report(f"{first} dyads, homologous, 1 worker", one)
        two = results.get((first, "homologous", 2)) or run_measured(base, args.scratch, 2)
        if (first, "homologous", 2) not in results:
            report(f"{first} dyads, homologous, 2 workers", two)
        print(f"  2 workers vs 1: {one['wall'] / two['wall']:.2f}x faster")
    shutil.rmtree(args.scratch / "out", ignore_errors=True)
    shutil.rmtree(args.scratch / "cache", ignore_errors=True)


if __name__ == "__main__":
    main()
