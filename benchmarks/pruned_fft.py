#!/usr/bin/env python
"""Pruned smoothing FFTs against full ones, in interbrain's float64 pair kernel.

Run by hand (not a test), from the repository root::

    taskset -c 1 .venv/bin/python benchmarks/pruned_fft.py --band 5 100

One simulated session (``--channels`` per person, ``--minutes`` at ``--sfreq`` Hz); the
band means of every cross-person pair are computed by ``band_mean_coherence`` with the
kernel's pruned FFTs (:mod:`interbrain.synchrony.wavelet.pruned`, the default) and with
the same kernel where every split is turned off (``L = 1``: one FFT of ``n_smooth``
points per row), alternately in one process, per FFT library; the best of
``--repeats`` is printed per pair, with the largest band-mean difference. The channel
stage (``channel_spectra`` of one person) is timed the same way, with the transform's
inverse FFTs pruned and full.
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=50.0)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--sfreq", type=float, default=10.0)
    p.add_argument("--band", type=float, nargs=2, default=(5.0, 100.0))
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--fft", nargs="+", default=["scipy", "ducc0"], choices=["scipy", "ducc0"])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    n = int(round(args.minutes * 60 * args.sfreq))
    a = rng.standard_normal((args.channels, n))
    b = rng.standard_normal((args.channels, n)) + 0.3 * a
    pairs = [(i, j) for i in range(args.channels) for j in range(args.channels)]
    band = (float(args.band[0]), float(args.band[1]))
    print(f"{args.dtype}, {args.minutes:g} min at {args.sfreq:g} Hz ({n} samples), band "
          f"{band[0]:g}-{band[1]:g} s, {len(pairs)} pairs, one thread, best of {args.repeats}")
    plans = {"pruned": pruned.pruned_pair_plan,
             "full": functools.partial(pruned.pruned_pair_plan, prune=False)}
    for fft in args.fft:
        grid = WaveletGrid.build(n, 1 / args.sfreq, band=band, dtype=args.dtype, fft=fft)
        sa, sb = channel_spectra(a, grid, workers=1), channel_spectra(b, grid, workers=1)
        times, values = {}, {}
        try:
            for _ in range(args.repeats):
                for mode, plan in plans.items():
                    coherence.pruned_pair_plan = plan
                    band_mean_coherence(sa, sb, pairs[:2], workers=1)   # plans, compile
                    t0 = time.perf_counter()
                    values[mode] = band_mean_coherence(sa, sb, pairs, workers=1)
                    times.setdefault(mode, []).append(time.perf_counter() - t0)
        finally:
            coherence.pruned_pair_plan = pruned.pruned_pair_plan
        per = {mode: 1e3 * min(t) / len(pairs) for mode, t in times.items()}
        diff = np.abs(values["pruned"] - values["full"]).max()
        print(f"  {fft}: pruned {per['pruned']:.2f} ms per pair, full {per['full']:.2f} ms "
              f"({per['full'] / per['pruned']:.2f}x); largest band-mean difference {diff:.1e}")
        blocks = {"pruned": pruned.transform_blocks,
                  "full": functools.partial(pruned.transform_blocks, prune=False)}
        times, W = {}, {}
        try:
            for _ in range(args.repeats):
                for mode, fn in blocks.items():
                    transform.transform_blocks = fn
                    t0 = time.perf_counter()
                    spec = channel_spectra(a, grid, workers=1)
                    times.setdefault(mode, []).append(time.perf_counter() - t0)
                    W[mode] = spec.W[:1].copy()
                    del spec
        finally:
            transform.transform_blocks = blocks["pruned"]
        per = {mode: 1e3 * min(t) / args.channels for mode, t in times.items()}
        diff = np.abs(W["pruned"] - W["full"]).max() / np.abs(W["full"]).max()
        print(f"  {fft}: channel stage pruned {per['pruned']:.1f} ms per channel, full "
              f"{per['full']:.1f} ms ({per['full'] / per['pruned']:.2f}x); W {diff:.1e} apart "
              "(relative to its largest)")


if __name__ == "__main__":
    main()
