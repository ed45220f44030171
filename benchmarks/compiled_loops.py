#!/usr/bin/env python
"""The synchrony kernels' compiled loops: vector gathers in their machine code, and the
ratio sums' time per cell.

Run by hand (not a test), from the repository root::

    taskset -c 1 .venv/bin/python benchmarks/compiled_loops.py

1. Every numba-compiled function of the synchrony kernels is compiled again (outside
   numba's on-disk cache, whose code cannot be inspected) for each signature that small
   float64, float32 and ``"fast"`` runs give it, and the vector gather instructions
   (``vgather*``) of its machine code are counted. A loop over contiguous memory that
   compiles to gathers loads one element at a time through the gather unit: the float64
   ratio sums did so, inlined into 3-D indexing, and were five times slower than the same
   loop over 1-D slices.
2. The ratio sums of the band means (``_pair_kernels.ratio_sums``, the loop over each run
   of valid cells compiled on its own and called on slices) against the same loop written
   inline over the 3-D arrays (``ratio_sums`` before 2026-12-01's seventh session, kept
   here as the reference), on one pair's rows: in cache (one band row of 32768 points)
   and over a session's rows (52 band rows x 30000 samples, 40 channels' ``S``), in
   nanoseconds per cell.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from interbrain._compiled import jit_sums  # noqa: E402
from interbrain.synchrony import (WaveletGrid, band_mean_coherence,  # noqa: E402
                                  channel_spectra, pair_coherence)
from interbrain.synchrony._pair_kernels import ratio_sums, valid_runs  # noqa: E402

MODULES = ("interbrain.synchrony._pair_kernels", "interbrain.synchrony.multirate",
           "interbrain.synchrony.wavelet.pruned", "interbrain.synchrony.wavelet.smoothing",
           "interbrain.synchrony.wavelet.transform")


@jit_sums
def inline_ratio_sums(sw, Sa, Sb, ia, ib, r, q, run_ptr, run_start, run_stop, acc):
    """The ratio sums with the loop over cells inline (the reference)."""
    for p in range(ia.shape[0]):
        sa, sb = Sa[ia[p]], Sb[ib[p]]
        for k in range(q):
            row = r + k
            x, ya, yb = sw[p, k], sa[row], sb[row]
            total = 0.0
            for j in range(run_ptr[row], run_ptr[row + 1]):
                for t in range(run_start[j], run_stop[j]):
                    v = x[t]
                    total += (v.real * v.real + v.imag * v.imag) / (ya[t] * yb[t])
            acc[p, row] = total


def exercise() -> None:
    """Small runs that give the kernels their usual signatures."""
    rng = np.random.default_rng(0)
    n = 1200
    a, b = rng.standard_normal((2, 3, n))
    for dtype in ("float64", "float32", "fast"):
        grid = WaveletGrid.build(n, 0.1, band=(2.0, 20.0), dtype=dtype)
        sa, sb = channel_spectra(a, grid), channel_spectra(b, grid)
        band_mean_coherence(sa, sb, "all")
        pair_coherence(sa, sb, [(0, 1)])


def gathers() -> list[tuple[str, int, int]]:
    """(function, signatures, most gathers in one signature's code) per compiled function."""
    out = []
    for name in MODULES:
        mod = importlib.import_module(name)
        for attr, obj in sorted(vars(mod).items()):
            if not (isinstance(obj, numba.core.registry.CPUDispatcher)
                    and obj.py_func.__module__ == name):
                continue
            opts = {k: v for k, v in obj.targetoptions.items()
                    if k not in ("cache", "nopython")}
            fresh = numba.njit(**opts)(obj.py_func)
            most = 0
            for sig in obj.signatures:
                fresh.compile(sig)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    asm = fresh.inspect_asm(sig)
                most = max(most, len(re.findall(r"\bv(p)?gather", asm)))
            out.append((f"{name.rsplit('.', 1)[-1]}.{attr}", len(obj.signatures), most))
    return out


def per_cell(fn, args, cells: int, repeats: int, calls: int) -> float:
    fn(*args)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        best = min(best, (time.perf_counter() - t0) / calls)
    return 1e9 * best / cells


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    exercise()
    print("compiled loops of the synchrony kernels: signatures, most vector gathers in one")
    for name, n_sig, most in gathers():
        if n_sig:
            print(f"  {name}: {n_sig} signature(s), {most} gather instruction(s)")
        else:
            print(f"  {name}: called only from compiled code (counted in its callers)")
    print()
    rng = np.random.default_rng(1)
    n, m, rows = 30000, 32768, 52
    runs = valid_runs(None, rows, n)
    ia = np.zeros(1, dtype=np.int64)
    ib = np.zeros(1, dtype=np.int64)
    print("ratio sums, float64, ns per cell (best of "
          f"{args.repeats}): compiled per run on slices / inline over 3-D arrays")
    for label, q, channels in (("in cache: 1 band row of one pair", 1, 1),
                               ("a session: 8 band rows x 40 channels' S", 8, 40)):
        sw = rng.standard_normal((1, q, m)) + 1j * rng.standard_normal((1, q, m))
        S = rng.random((channels, rows, n)) + 1.0
        acc = np.zeros((1, rows))
        cells = q * n
        times = []
        for fn in (ratio_sums, inline_ratio_sums):
            def call(fn=fn):
                ia[0] = (ia[0] + 1) % channels
                ib[0] = (ib[0] + 7) % channels
                fn(sw, S, S, ia, ib, 0, q, *runs, acc)
            times.append(per_cell(call, (), cells, args.repeats, max(1, 400 // q)))
        print(f"  {label}: {times[0]:.2f} / {times[1]:.2f} ({times[1] / times[0]:.1f}x)")


if __name__ == "__main__":
    main()
