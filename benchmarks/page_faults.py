#!/usr/bin/env python
"""What fresh memory costs on this machine: faulting in an array the size of a session's
spectra, after the memory was freed at once or some seconds before.

Run by hand (not a test), from the repository root, with nothing else running::

    .venv/bin/python benchmarks/page_faults.py --gib 1.15 --waits 0 8

For each wait, ``--repeats`` times: the script sleeps ``wait`` seconds, then an array
of ``--gib`` GiB (a 2 x 20-channel, 50-minute float64 session's ``W`` is 1.07 GiB) is
allocated with ``numpy.empty``, every element written (the first touch of each page, as
the spectra's first write), and freed. Printed: the wall and system CPU
seconds per GiB of each fill. A virtual machine that hands freed memory back to its host
makes every fill after a wait pay the host's page faults; memory reused at once (or kept
by :mod:`interbrain.synchrony.buffers`) does not.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def fill_seconds(n_bytes: int) -> tuple[float, float]:
    """(wall, system CPU) seconds to allocate and write ``n_bytes``."""
    sys0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    t0 = time.perf_counter()
    a = np.empty(n_bytes // 8, dtype=np.float64)
    a[...] = 1.0
    wall = time.perf_counter() - t0
    sys1 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    del a
    return wall, sys1 - sys0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gib", type=float, default=1.15, help="size of the array, GiB")
    p.add_argument("--waits", type=float, nargs="+", default=[0.0, 8.0],
                   help="seconds between freeing and the next fill")
    p.add_argument("--repeats", type=int, default=4)
    args = p.parse_args()
    n_bytes = int(args.gib * 2**30)
    print(f"fill of {args.gib:g} GiB, wall / system seconds per GiB, each fill "
          "after the wait")
    fill_seconds(n_bytes)   # the process's first touch, not counted
    for wait in args.waits:
        rows = []
        for _ in range(args.repeats):
            time.sleep(wait)
            wall, system = fill_seconds(n_bytes)
            rows.append((wall / args.gib, system / args.gib))
        walls = ", ".join(f"{w:.2f}/{s:.2f}" for w, s in rows)
        print(f"  after {wait:g} s free: {walls}")


if __name__ == "__main__":
    main()
