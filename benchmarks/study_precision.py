#!/usr/bin/env python
"""A whole simulated study with each ``[analysis] precision``, one after the other.

Run by hand (not a test), from the repository root::

    .venv/bin/python benchmarks/study_precision.py --minutes 10 --precisions float32 fast

Simulates (once, in ``--scratch``) the study of ``benchmarks/study.py`` (``--dyads`` x
``--sessions`` x ``--minutes``, 20 channels at 10 Hz, the "demo" preset; ``--pairs``
homologous or all channel pairs), then runs
``interbrain``'s whole pipeline on it once per precision, each in a fresh process with an
empty cache and the same workers, and prints the wall time, the task time per stage
and the largest difference of the synchrony values from the first precision.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study as base  # noqa: E402  (benchmarks/study.py: simulate, variant)

DRIVER = """
import json, sys, time
from interbrain.engine import run_study
from interbrain.study import load_study
study_dir, out, cache, workers = sys.argv[1:5]
t0 = time.perf_counter()
r = run_study(load_study(study_dir), out, n_workers=int(workers), cache_dir=cache)
wall = time.perf_counter() - t0
r.synchrony.to_parquet(out + "/synchrony-values.parquet")
print(json.dumps({"wall": wall, "timings": r.timings, "rows": len(r.synchrony)}, default=str))
"""


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dyads", type=int, default=8)
    p.add_argument("--sessions", type=int, default=6)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--channels", type=int, default=20)
    p.add_argument("--sfreq", type=float, default=10.0)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--precisions", nargs="+", default=["float32", "fast"],
                   choices=["float64", "float32", "fast"])
    p.add_argument("--pairs", default="homologous", choices=["homologous", "all"],
                   help="[analysis] pairs of every run")
    p.add_argument("--scratch", type=Path, default=Path("/tmp/interbrain-bench"))
    args = p.parse_args(argv)
    args.scratch.mkdir(parents=True, exist_ok=True)
    study = base.simulate(args.scratch, args.dyads, args)
    print(f"study {study.name}, {args.workers} workers; command: "
          f"{' '.join(['python'] + sys.argv)}", flush=True)
    import pandas as pd

    first = None
    for precision in args.precisions:
        folder = base.variant(study, f"{precision}-{args.pairs}", precision=precision,
                              pairs=args.pairs)
        with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
            out, cache = Path(tmp) / "out", Path(tmp) / "cache"
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable, "-c", DRIVER, str(folder), str(out),
                                  str(cache), str(args.workers)], check=True,
                                 capture_output=True, text=True)
            elapsed = time.perf_counter() - t0
            info = json.loads(res.stdout.strip().splitlines()[-1])
            values = pd.read_parquet(out / "synchrony-values.parquet")
        diff = ""
        if first is None:
            first = values
        elif len(values) == len(first):
            d = (values["value"] - first["value"]).abs().max()
            diff = f"; max |value - {args.precisions[0]}| {d:.2e}"
        print(f"{precision}: wall {info['wall']:.1f} s (process {elapsed:.1f} s), "
              f"{info['rows']} synchrony rows; timings {info['timings']}{diff}", flush=True)


if __name__ == "__main__":
    main()
