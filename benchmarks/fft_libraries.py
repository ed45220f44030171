#!/usr/bin/env python
"""scipy.fft against ducc0 on the FFT shapes of interbrain's kernels, one thread.

Run by hand (not a test), from the repository root, in an environment with ducc0
(``make bench-env``)::

    taskset -c 1 .venv-bench/bin/python benchmarks/fft_libraries.py

Both libraries get one thread (``workers=1``, ``nthreads=1``); the best of ``--repeats``
timed loops is printed per shape, with the ratio scipy / ducc0 (above 1: ducc0 faster).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.fft as sfft

#: (label, shape, complex type): the float64 pair kernel's full smoothing FFT (8 rows of
#: 32768 points), the float64 channel transform (8 rows of 65536), and the "fast" pair
#: kernel's single-precision coarse FFTs (7 pairs x 12 rows of 2048 points).
SHAPES = (("float64 smoothing, 8 x 32768", (8, 32768), np.complex128),
          ("float64 transform, 8 x 65536", (8, 65536), np.complex128),
          ("fast pairs, 7 x 12 x 2048", (7, 12, 2048), np.complex64))


def best(fn, loops: int, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        times.append((time.perf_counter() - t0) / loops)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--loops", type=int, default=30)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    import ducc0

    rng = np.random.default_rng(0)
    print(f"numpy {np.__version__}, scipy {__import__('scipy').__version__}, "
          f"ducc0 {ducc0.__version__}; one thread; best of {args.repeats} x {args.loops}")
    for label, shape, dtype in SHAPES:
        x = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
        out = np.empty_like(x)
        t_s = best(lambda: sfft.fft(x, axis=-1, workers=1), args.loops, args.repeats)
        t_d = best(lambda: ducc0.fft.c2c(x, axes=(x.ndim - 1,), out=out, nthreads=1),
                   args.loops, args.repeats)
        print(f"  {label}: scipy {1e3 * t_s:.3f} ms, ducc0 {1e3 * t_d:.3f} ms "
              f"({t_s / t_d:.2f}x)")


if __name__ == "__main__":
    main()
