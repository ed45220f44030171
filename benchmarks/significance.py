#!/usr/bin/env python
"""Time of wavelet-coherence significance thresholds (``wtcsignif``): interbrain vs pycwt.

Run by hand (not a test), from the repository root, in the benchmark environment
(see ``benchmarks/README.md``)::

    .venv-bench/bin/python benchmarks/significance.py

Workload: the 95% AR(1) red-noise threshold per scale of wavelet coherence with
``--surrogates`` Monte Carlo pairs (300, as ``wtcsignif.m``), for a session of
``--minutes`` minutes at ``--sfreq`` Hz and the band ``--band`` seconds, for one pair
of AR(1) coefficients.

* interbrain: :func:`interbrain.synchrony.coherence_threshold` on the analysis grid
  restricted to the band, on ``--workers`` threads; then the same call again with a
  :class:`~interbrain.synchrony.ThresholdCache`, which is what every further channel
  pair with the same (rounded) AR(1) coefficients costs.
* pycwt: ``pycwt.wct_significance`` (its own cache off) with ``--peer-surrogates``
  surrogates on the same scales, extrapolated linearly to ``--surrogates`` (its cost is
  one wavelet coherence per surrogate). pycwt simulates series whose length is set by
  the largest scale, not by the session, so its time does not grow with the session.

Prints seconds for each, the ratio, and whether interbrain meets the target (300
surrogates, band 5-100 s at 10 Hz, under 2 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from importlib import metadata

import numpy as np

from interbrain.synchrony import ThresholdCache, WaveletGrid, coherence_threshold


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--minutes", type=float, default=50.0, help="session length")
    p.add_argument("--sfreq", type=float, default=10.0, help="sampling rate in Hz")
    p.add_argument("--band", type=float, nargs=2, default=(5.0, 100.0),
                   help="shortest and longest period in seconds")
    p.add_argument("--surrogates", type=int, default=300)
    p.add_argument("--ar1", type=float, nargs=2, default=(0.9, 0.8),
                   help="AR(1) coefficients of the two series")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--peer-surrogates", type=int, default=10,
                   help="surrogates pycwt runs (extrapolated); 0 skips pycwt")
    args = p.parse_args(argv)
    dt = 1.0 / args.sfreq
    n = int(round(args.minutes * 60 * args.sfreq))
    grid = WaveletGrid.build(n, dt, band=tuple(args.band))
    versions = {name: metadata.version(name) for name in ("interbrain", "numpy", "scipy")}
    if args.peer_surrogates:
        versions["pycwt"] = metadata.version("pycwt")
    print("interbrain significance benchmark")
    print(f"  command: {os.path.basename(sys.executable)} {' '.join(sys.argv)}")
    print(f"  machine: {os.cpu_count()} CPUs, {platform.platform()}, Python "
          f"{platform.python_version()}")
    print("  versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"  session: {args.minutes:g} min at {args.sfreq:g} Hz ({n} samples); band "
          f"{args.band[0]:g}-{args.band[1]:g} s ({grid.n_band_rows} scales); "
          f"{args.surrogates} surrogates; AR(1) {args.ar1[0]}, {args.ar1[1]}", flush=True)

    t0 = time.perf_counter()
    threshold = coherence_threshold(dt, n, *args.ar1, grid=grid, n_surrogates=args.surrogates,
                                    workers=args.workers)
    ours = time.perf_counter() - t0
    print(f"interbrain: {ours:.1f} s for {args.surrogates} surrogates on {args.workers} "
          f"worker(s); threshold over the band {np.nanmin(threshold.threshold):.3f}-"
          f"{np.nanmax(threshold.threshold):.3f}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        cache = ThresholdCache(folder)
        coherence_threshold(dt, n, *args.ar1, grid=grid, n_surrogates=args.surrogates,
                            workers=args.workers, cache=cache)
        t0 = time.perf_counter()
        coherence_threshold(dt, n, *args.ar1, grid=grid, n_surrogates=args.surrogates,
                            workers=args.workers, cache=cache)
        hit = time.perf_counter() - t0
    print(f"interbrain, cached (every further pair with these AR(1) coefficients and grid): "
          f"{hit * 1000:.1f} ms", flush=True)

    if args.peer_surrogates:
        import pycwt
        t0 = time.perf_counter()
        pycwt.wct_significance(args.ar1[0], args.ar1[1], dt=dt, dj=grid.dj,
                               s0=float(grid.band_scale[0]), J=grid.n_band_rows - 1,
                               wavelet=pycwt.Morlet(6), mc_count=args.peer_surrogates,
                               progress=False, cache=False)
        peer = (time.perf_counter() - t0) * args.surrogates / args.peer_surrogates
        print(f"pycwt wct_significance: {peer:.1f} s for {args.surrogates} surrogates "
              f"(extrapolated from {args.peer_surrogates}) = {peer / ours:.1f} x interbrain")
    target = 120.0
    print(f"target: {args.surrogates} surrogates under {target:.0f} s -> "
          f"{'met' if ours < target else 'NOT met'} ({ours:.1f} s)")


if __name__ == "__main__":
    main()
