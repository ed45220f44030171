#!/usr/bin/env python
"""Column FFTs of the pruned splits: time per row by the number of columns.

Run by hand (not a test), from the repository root, on one core::

    taskset -c 1 .venv/bin/python benchmarks/column_ffts.py

For rows of 32768 and 65536 points (the float64 smoothing and transform at 50 minutes,
10 Hz), 4 rows viewed as ``M x L`` and inverse-transformed over ``M`` points along the
columns, in place, as :mod:`interbrain.synchrony.wavelet.pruned` splits them, for
``L`` from 32 to 1024 columns; microseconds per row, best of ``--repeats`` x 40. The
column cap ``pruned.MAX_COLUMNS`` comes from where this slows down.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.fft as sf


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    print("scipy.fft, one thread: microseconds per row (M points x L columns)")
    for m in (32768, 65536):
        for L in (32, 64, 128, 256, 512, 1024):
            M = m // L
            y = rng.standard_normal((4, M, L)) + 1j * rng.standard_normal((4, M, L))
            y = sf.ifft(y, axis=1, overwrite_x=True, workers=1)
            best = np.inf
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                for _ in range(40):
                    y = sf.ifft(y, axis=1, overwrite_x=True, workers=1)
                best = min(best, (time.perf_counter() - t0) / 40 / 4)
            print(f"  {m} points as {M} x {L}: {1e6 * best:.0f} us")


if __name__ == "__main__":
    main()
