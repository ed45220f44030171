#!/usr/bin/env python
"""The current tree against an older commit (9d4c43e): a whole study and one recording.

Run by hand (not a test), from the repository root, on an otherwise idle machine::

    .venv/bin/python benchmarks/versus_commit.py --precision fast

Installs the old commit side by side: ``git archive`` of ``--commit`` extracted into
``--scratch``/src-<commit>, and a virtual environment next to it (``python -m venv``,
then ``pip install`` of the extracted tree and psutil, constrained to the versions of
every package of the current environment, so that both trees run on the same NumPy,
SciPy, MNE, Dask...; re-used while it holds that commit). The current tree runs from
the current interpreter. Then:

* simulates the study of ``benchmarks/study.py`` once (``--dyads`` x ``--sessions`` x
  ``--minutes`` x ``--channels`` per person at ``--sfreq`` Hz, the "demo" preset, which
  writes the recordings and measures of the simulator before presets existed). The
  current simulator's ``study.toml`` has fields 9d4c43e refuses (``[statistics]
  dissociation`` and ``[statistics.primary]``), so the old commit reads a sibling
  folder with the same recordings and measures and the ``study.toml`` its own
  simulator writes for the same design;
* runs the whole pipeline on it with the old commit's defaults, with the current tree's
  defaults, with the current tree at ``--precision`` and, with ``--no-familiarity``,
  without the familiarity pairings the current tree adds by default (the old commit
  has none, so this is the old commit's work): each ``run_study`` in a fresh process
  of that tree's interpreter with a fresh cache and ``--workers`` workers on the
  scheduler ``interbrain run`` of that tree uses, measured by ``benchmarks/study.py``
  (wall seconds around the process, peak RSS of the largest process and summed over
  the process tree, task seconds per stage from ``StudyResults.timings``). Prints them
  side by side, each with the ratio old / run, and whether the summed peak RSS stays
  within ``--memory-gib``;
* times reading and preprocessing one recording of that study (and of a 2 x 2 study of
  ``--short-minutes``) in each tree: ``read_recording``, then ``preprocess_recording``
  with the study's ``[preprocessing]`` settings as that tree reads them, twice in each
  of ``--repeats`` fresh processes pinned to one CPU (``os.sched_setaffinity``) with
  OpenMP, MKL, OpenBLAS and numexpr at one thread. Prints the medians of the first
  time in a process (with what is set up once) and of the second (as in a worker that
  preprocesses many recordings), and the ratios old / new.

The simulation and the installation are not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study as base  # noqa: E402  (benchmarks/study.py: simulate, variant, measure_run)

REPO = Path(__file__).resolve().parent.parent

#: One recording read and preprocessed twice, in a fresh process pinned to one CPU:
#: ``path study_dir cpu`` -> JSON seconds of reading and of preprocessing, the first
#: time in the process (with what is loaded or set up once) and again.
PREPROCESS_DRIVER = """
import json, os, sys, time
path, study_dir, cpu = sys.argv[1:4]
os.sched_setaffinity(0, {int(cpu)})
from interbrain.io import read_recording
from interbrain.preprocessing import preprocess_recording
from interbrain.study import load_study
settings = load_study(study_dir).preprocessing
seconds = {}
for when in ("first", "again"):
    t0 = time.perf_counter()
    raw = read_recording(path)
    raw.load_data()
    t1 = time.perf_counter()
    preprocess_recording(raw, settings, source=path)
    t2 = time.perf_counter()
    seconds.update({f"read {when}": t1 - t0, f"preprocess {when}": t2 - t1})
print(json.dumps(seconds))
"""

#: Thread pools limited to one thread in the preprocessing runs (as
#: ``benchmarks/synchrony.py`` does).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def git(*args: str) -> str:
    """The output of ``git args`` in the repository."""
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def current_tree() -> str:
    """The current tree's commit, with ``+ changes`` when ``src`` differs from it."""
    changed = git("status", "--porcelain", "--", "src")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if changed else "")


def pinned_requirements(scratch: Path) -> Path:
    """A pip constraints file with the version of every package of the current
    environment but interbrain (so that both trees run on the same libraries)."""
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                            check=True, capture_output=True, text=True).stdout
    lines = [line for line in frozen.splitlines()
             if line and not line.startswith(("#", "-e", "interbrain"))]
    path = scratch / "constraints.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def install_commit(commit: str, scratch: Path) -> tuple[Path, str]:
    """Extract ``commit`` into ``scratch`` and install it in a virtual environment there.

    Returns
    -------
    python : Path
        The environment's interpreter.
    full : str
        The commit's full hash.
    """
    full = git("rev-parse", f"{commit}^{{commit}}")
    source, venv = scratch / f"src-{full[:9]}", scratch / f"venv-{full[:9]}"
    python, marker = venv / "bin" / "python", venv / "interbrain-commit.txt"
    if marker.exists() and marker.read_text().strip() == full and python.exists():
        print(f"  old commit: re-using {venv}", flush=True)
        return python, full
    t0 = time.perf_counter()
    for folder in (source, venv):
        shutil.rmtree(folder, ignore_errors=True)
    source.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(REPO), "archive", full],
                               stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(source)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise SystemExit(f"git archive {full} failed")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-qq",
                    "--disable-pip-version-check", "-c", str(pinned_requirements(scratch)),
                    str(source), "psutil"], check=True)
    marker.write_text(full + "\n")
    print(f"  old commit: installed {full[:9]} in {venv} in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    return python, full


def version_in(python: Path) -> str:
    """The version of the interbrain ``python`` imports."""
    return subprocess.run([str(python), "-c", "from importlib import metadata; "
                           "print(metadata.version('interbrain'))"], check=True,
                          capture_output=True, text=True).stdout.strip()


def load_error(python: Path, study: Path) -> str | None:
    """The last line of the error ``load_study`` under ``python`` raises on ``study``,
    or None when it loads."""
    res = subprocess.run([str(python), "-c", "import sys; from interbrain.study import "
                          "load_study; load_study(sys.argv[1])", str(study)],
                         capture_output=True, text=True)
    return res.stderr.strip().splitlines()[-1] if res.returncode else None


def study_for(python: Path, study: Path, args: argparse.Namespace) -> Path:
    """``study`` if ``python``'s interbrain loads it, else a sibling with the same
    recordings and measures and the ``study.toml`` that interbrain's own simulator
    writes for the same design (dyads, sessions, channels, rate and seed; it does not
    depend on the minutes; the "demo" preset writes the recordings and measures of the
    simulator before presets existed)."""
    error = load_error(python, study)
    if error is None:
        return study
    print(f"  the old commit cannot load the current simulator's study.toml ({error}); "
          "it reads the study.toml its own simulator writes, with the same recordings",
          flush=True)
    own = args.scratch / f"toml-{study.name}"
    shutil.rmtree(own, ignore_errors=True)
    subprocess.run([str(python), "-m", "interbrain.cli", "simulate", str(own),
                    "--dyads", str(args.dyads), "--sessions", str(args.sessions),
                    "--channels", str(args.channels), "--sfreq", str(args.sfreq),
                    "--seed", "1", "--minutes", "2"], check=True, stdout=subprocess.DEVNULL)
    sibling = base.variant(study, "old-toml")
    (sibling / "study.toml").unlink()
    (sibling / "study.toml").write_text((own / "study.toml").read_text())
    shutil.rmtree(own)
    error = load_error(python, sibling)
    if error is not None:
        raise SystemExit(f"{python} cannot load {sibling} either: {error}")
    return sibling


def recording_seconds(python: Path, recording: Path, study: Path, cpu: int,
                      repeats: int) -> dict[str, float]:
    """Median seconds of reading and of preprocessing ``recording`` under ``python``
    (``PREPROCESS_DRIVER``: "read first", "preprocess first", "read again",
    "preprocess again"), over ``repeats`` fresh processes on CPU ``cpu`` with one
    thread."""
    env = dict(os.environ, **{name: "1" for name in THREAD_VARIABLES})
    runs = []
    for _ in range(repeats):
        res = subprocess.run([str(python), "-c", PREPROCESS_DRIVER, str(recording),
                              str(study), str(cpu)], env=env, capture_output=True,
                             text=True)
        if res.returncode != 0:
            raise SystemExit(f"preprocessing with {python} failed:\n{res.stderr[-3000:]}")
        runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    return {step: statistics.median(r[step] for r in runs) for step in runs[0]}


def stage_rows(info: dict) -> dict[str, float]:
    """The rows of the comparison of one run: label -> value."""
    rows = {"wall (s)": info["wall"],
            "wall per 1,000 channel pairs (s)": 1000 * info["wall"] / info["wtc_pairs"],
            "peak RSS, all processes (GiB)": info["tree_peak_gib"],
            "peak RSS, largest process (GiB)": info["peak_gib"]}
    if info.get("tree_pss_gib") is not None:
        rows["peak PSS, all processes (GiB)"] = info["tree_pss_gib"]
    rows.update({f"{name} (s)": value for name, value in info["timings"].items()})
    rows["pairings x signals"] = info["pairings"]
    rows["channel pairs (wtc)"] = info["wtc_pairs"]
    return rows


def print_comparison(runs: dict[str, dict], reference: str) -> None:
    """A table of :func:`stage_rows` of every run (a column each), each value with the
    ratio ``reference`` / run: above 1, the run is faster or smaller."""
    tables = {label: stage_rows(info) for label, info in runs.items()}
    names = list(dict.fromkeys(name for rows in tables.values() for name in rows))
    width = max(map(len, names)) + 2
    columns = {label: max(len(label), 16) + 2 for label in runs}
    print(f"{'':<{width}}" + "".join(f"{label:>{columns[label]}}" for label in runs))
    for name in names:
        ref = tables[reference].get(name)
        line = f"{name:<{width}}"
        for label in runs:
            value = tables[label].get(name)
            cell = "-" if value is None else f"{value:.2f}"
            if label != reference and value and ref:
                cell += f" ({ref / value:.2f}x)"
            line += f"{cell:>{columns[label]}}"
        print(line, flush=True)


def print_preprocessing(label: str, seconds: dict[str, dict[str, float]],
                        reference: str) -> None:
    """One line per tree and time in the process (first, again): the seconds of
    :func:`recording_seconds` and, after the first tree, the ratios ``reference`` /
    tree of reading, preprocessing and both."""
    ref = seconds[reference]
    for when in ("first", "again"):
        for tree, times in seconds.items():
            read, prep = times[f"read {when}"], times[f"preprocess {when}"]
            line = (f"  {label}, {when} in its process, {tree}: read {read:.3f} s, "
                    f"preprocess {prep:.3f} s")
            if tree != reference:
                ref_read, ref_prep = ref[f"read {when}"], ref[f"preprocess {when}"]
                line += (f"; {reference} / {tree}: read {ref_read / read:.2f}x, preprocess "
                         f"{ref_prep / prep:.2f}x, both "
                         f"{(ref_read + ref_prep) / (read + prep):.2f}x")
            print(line, flush=True)


def current_variants(study: Path, args: argparse.Namespace) -> dict[str, Path]:
    """The further runs of the current tree: label -> study folder (siblings of
    ``study`` with ``[analysis]`` changed, :func:`benchmarks.study.variant`)."""
    variants = {}
    if args.precision is not None:
        variants[f"current {args.precision}"] = base.variant(study, args.precision,
                                                             precision=args.precision)
    if args.no_familiarity:
        variants["current, no familiarity"] = base.variant(study, "no-familiarity",
                                                           familiarity=False)
        if args.precision is not None:
            variants[f"current {args.precision}, no familiarity"] = base.variant(
                study, f"{args.precision}-no-familiarity", precision=args.precision,
                familiarity=False)
    return variants


def first_recording(study: Path) -> Path:
    """The first SNIRF recording of ``study`` by path."""
    recordings = sorted(study.rglob("*.snirf"))
    if not recordings:
        raise SystemExit(f"no SNIRF recording in {study}")
    return recordings[0]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--commit", default="9d4c43e", help="the old commit")
    p.add_argument("--scratch", type=Path, default=Path("/tmp/interbrain-versus"),
                   help="the old tree, its environment, the studies and the runs' outputs")
    p.add_argument("--dyads", type=int, default=8, help="dyads of the study")
    p.add_argument("--sessions", type=int, default=6, help="sessions per dyad")
    p.add_argument("--minutes", type=float, default=50.0, help="minutes per session")
    p.add_argument("--channels", type=int, default=20, help="long channels per person")
    p.add_argument("--sfreq", type=float, default=10.0, help="sampling rate (Hz)")
    p.add_argument("--workers", type=int, default=2, help="workers of every run")
    p.add_argument("--precision", default=None, choices=["float64", "float32", "fast"],
                   help="also run the current tree at this [analysis] precision")
    p.add_argument("--no-familiarity", action="store_true",
                   help="also run the current tree (and at --precision) with [analysis] "
                        "familiarity = false: the pairings of 9d4c43e, which has no "
                        "familiarity pairings")
    p.add_argument("--memory-gib", type=float, default=3.0,
                   help="the memory target of the whole run (summed peak RSS)")
    p.add_argument("--pss", action="store_true",
                   help="also sample the summed PSS of the runs (slows them by about 5%%)")
    p.add_argument("--repeats", type=int, default=5,
                   help="fresh processes per tree and recording in the preprocessing timing")
    p.add_argument("--short-minutes", type=float, default=10.0,
                   help="also time one recording of a study this long (0: do not)")
    p.add_argument("--cpu", type=int, default=min(os.sched_getaffinity(0)),
                   help="the CPU of the preprocessing timing")
    p.add_argument("--skip", nargs="*", default=[], choices=["study", "preprocessing"],
                   help="parts not to run")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.scratch.mkdir(parents=True, exist_ok=True)
    print("interbrain against an older commit")
    print(f"  command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"  machine: {os.cpu_count()} CPUs, {platform.platform()}, Python "
          f"{platform.python_version()}; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    old_python, full = install_commit(args.commit, args.scratch)
    old, new = f"old {full[:7]}", "current"
    pythons = {old: old_python, new: Path(sys.executable)}
    print(f"  old: interbrain {version_in(old_python)} at {full} ({old_python})")
    print(f"  current: interbrain {metadata.version('interbrain')} at {current_tree()} "
          f"({sys.executable})")
    print(f"  study: {args.dyads} dyads x {args.sessions} sessions x {args.minutes:g} min x "
          f"{args.channels} channels per person at {args.sfreq:g} Hz (demo preset); "
          f"{args.workers} workers", flush=True)
    study = base.simulate(args.scratch, args.dyads, args)
    studies = {old: study_for(old_python, study, args), new: study}
    if "study" not in args.skip:
        # each run by its tree's interpreter: the interbrain and the default scheduler
        # of that tree
        runs = {label: base.measure_run(studies[label], args.scratch, args.workers,
                                        pss=args.pss, python=python)
                for label, python in pythons.items()}
        for label, folder in current_variants(study, args).items():
            runs[label] = base.measure_run(folder, args.scratch, args.workers, pss=args.pss,
                                           python=pythons[new])
        print(f"whole study, one run each; in brackets {old} / the run (above 1: faster "
              "or smaller)")
        print_comparison(runs, old)
        for label, info in runs.items():
            within = "within" if info["tree_peak_gib"] <= args.memory_gib else "ABOVE"
            speed = ("" if label == old else
                     f"{runs[old]['wall'] / info['wall']:.2f}x faster than {old}; ")
            print(f"  {label} ({info['scheduler']}): {speed}summed peak RSS "
                  f"{info['tree_peak_gib']:.2f} GiB, {within} {args.memory_gib:g} GiB",
                  flush=True)
        for folder in ("out", "cache"):
            shutil.rmtree(args.scratch / folder, ignore_errors=True)
    if "preprocessing" not in args.skip:
        print(f"one recording read and preprocessed, one thread on CPU {args.cpu}, "
              f"median of {args.repeats} fresh processes")
        designs = [studies]
        if args.short_minutes:
            short = argparse.Namespace(**{**vars(args), "dyads": 2, "sessions": 2,
                                          "minutes": args.short_minutes})
            folder = base.simulate(args.scratch, short.dyads, short)
            designs.append({old: study_for(old_python, folder, short), new: folder})
        for folders in designs:
            recording = first_recording(folders[new])
            seconds = {label: recording_seconds(python, recording, folders[label], args.cpu,
                                                args.repeats)
                       for label, python in pythons.items()}
            print_preprocessing(f"{folders[new].name} {recording.name}", seconds, old)


if __name__ == "__main__":
    main()
