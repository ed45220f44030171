#!/usr/bin/env python
"""Pruned smoothing FFTs against full ones, in interbrain's float64 pair kernel.

Run by hand (not a test), from the repository root::

    taskset -c 1 .venv/bin/python benchmarks/pruned_fft.py --band 5 100

One simulated session (``--channels`` per person, ``--minutes`` at ``--sfreq`` Hz); the
band means of every cross-person pair are computed by ``band_mean_coherence`` with the
kernel's pruned FFTs (:mod:`interbrain.synchrony.wavelet.pruned`, the default) and with
variants of the same kernel, alternately in one process, per FFT library; the best of
``--repeats`` is printed per pair, with the largest band-mean difference from the
default. The variants (``--variants``):

* ``full``: every split turned off (``L = 1``: one FFT of ``n_smooth`` points per row);
* ``group``: each row split by its smoothing group's bins, as before 2026-12-01's
  seventh session (now each row's own: most rows get half the group's ``M``);
* ``uncapped``: splits of any number of columns (no ``MAX_COLUMNS``).

The channel stage (``channel_spectra`` of one person) is timed the same way, with the
transform's inverse FFTs pruned, ``full`` and ``uncapped``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from interbrain.synchrony import (WaveletGrid, band_mean_coherence,  # noqa: E402
                                  channel_spectra, coherence)
from interbrain.synchrony.wavelet import pruned  # noqa: E402
from interbrain.synchrony.wavelet import transform  # noqa: E402
from interbrain.synchrony.wavelet.decimation import equal_runs  # noqa: E402

VARIANTS = ("full", "group", "uncapped")


def group_plan(plan, dtype, prune=True):
    """The pair plan with each row split by the widest smoothing group it feeds, and
    each group's band rows by the group's bins (the plan before per-row splits)."""
    m = plan.m
    need = np.ones(plan.n_rows, dtype=np.int64)
    for g in plan.groups:
        need[g.src0:g.src1] = np.maximum(need[g.src0:g.src1], g.n_pos)
    split = [m // pruned.pruned_length(int(k), m) for k in need]
    forward = [pruned.PrunedRows.build(a, b, int(need[a:b].max()), m, dtype)
               for a, b, _ in equal_runs(split, 0, plan.n_rows)]
    inverse = [pruned.PrunedRows.build(g.band0, g.band1, g.n_pos, m, dtype)
               for g in plan.groups]
    return forward, inverse


def use(mode: str) -> None:
    """Set the kernels up for ``mode`` (plans rebuilt: they are cached per grid)."""
    pruned._PLANS.clear()
    pruned.MAX_COLUMNS = 1 << 30 if mode == "uncapped" else DEFAULT_COLUMNS
    coherence.pruned_pair_plan = {
        "full": functools.partial(pruned.pruned_pair_plan, prune=False),
        "group": group_plan}.get(mode, pruned.pruned_pair_plan)
    transform.transform_blocks = (functools.partial(pruned.transform_blocks, prune=False)
                                  if mode == "full" else pruned.transform_blocks)


DEFAULT_COLUMNS = pruned.MAX_COLUMNS


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=50.0)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--sfreq", type=float, default=10.0)
    p.add_argument("--band", type=float, nargs=2, default=(5.0, 100.0))
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--fft", nargs="+", default=["scipy", "ducc0"], choices=["scipy", "ducc0"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    n = int(round(args.minutes * 60 * args.sfreq))
    a = rng.standard_normal((args.channels, n))
    b = rng.standard_normal((args.channels, n)) + 0.3 * a
    pairs = [(i, j) for i in range(args.channels) for j in range(args.channels)]
    band = (float(args.band[0]), float(args.band[1]))
    print(f"{args.dtype}, {args.minutes:g} min at {args.sfreq:g} Hz ({n} samples), band "
          f"{band[0]:g}-{band[1]:g} s, {len(pairs)} pairs, one thread, best of {args.repeats}")
    modes = ["pruned"] + list(args.variants)
    for fft in args.fft:
        grid = WaveletGrid.build(n, 1 / args.sfreq, band=band, dtype=args.dtype, fft=fft)
        sa, sb = channel_spectra(a, grid, workers=1), channel_spectra(b, grid, workers=1)
        times, values = {}, {}
        try:
            for _ in range(args.repeats):
                for mode in modes:
                    use(mode)
                    band_mean_coherence(sa, sb, pairs[:2], workers=1)   # plans, compile
                    t0 = time.perf_counter()
                    values[mode] = band_mean_coherence(sa, sb, pairs, workers=1)
                    times.setdefault(mode, []).append(time.perf_counter() - t0)
        finally:
            use("pruned")
        per = {mode: 1e3 * min(t) / len(pairs) for mode, t in times.items()}
        line = ", ".join(
            f"{mode} {per[mode]:.2f} ms ({per[mode] / per['pruned']:.2f}x, band means "
            f"{np.abs(values[mode] - values['pruned']).max():.1e} apart)" for mode in modes[1:])
        print(f"  {fft}: pairs: pruned {per['pruned']:.2f} ms per pair; {line}")
        stage = [mode for mode in modes if mode != "group"]
        times, W = {}, {}
        try:
            for _ in range(args.repeats):
                for mode in stage:
                    use(mode)
                    t0 = time.perf_counter()
                    spec = channel_spectra(a, grid, workers=1)
                    times.setdefault(mode, []).append(time.perf_counter() - t0)
                    W[mode] = spec.W[:1].copy()
                    del spec
        finally:
            use("pruned")
        per = {mode: 1e3 * min(t) / args.channels for mode, t in times.items()}
        scale = np.abs(W["pruned"]).max()
        line = ", ".join(
            f"{mode} {per[mode]:.1f} ms ({per[mode] / per['pruned']:.2f}x, W "
            f"{np.abs(W[mode] - W['pruned']).max() / scale:.1e} apart)" for mode in stage[1:])
        print(f"  {fft}: channel stage: pruned {per['pruned']:.1f} ms per channel; {line} "
              "(W relative to its largest value)")


if __name__ == "__main__":
    main()
