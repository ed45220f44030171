#!/usr/bin/env python
"""The physical floor of each stage of the synchrony pipeline, and how close we are.

Run by hand (not a test), from the repository root, on one core::

    .venv/bin/python benchmarks/floor.py --minutes 50

For one simulated 50-minute recording (``--channels`` per person, ``--sfreq`` Hz) and
one band, the script states the work each stage must do (samples, FFT sizes, bytes)
and times, on one pinned core, (a) the stage as interbrain runs it and (b) its floor:

* reading: the bytes of the intensities in the SNIRF file; floor = reading that one
  dataset with h5py (the file in the page cache), measured = ``read_recording``;
* preprocessing: floor = one pass of a 4th-order IIR filter over every row (what a
  band-pass must at least do), measured = ``preprocess_recording`` with the defaults;
* channel spectra (per channel, shared by every pair): floor = the FFTs the transform
  and the auto-spectrum need at the full rate (one rfft of ``n_fft``, one ifft of
  ``n_fft`` per computed row, one rfft and one irfft of ``n_smooth`` per row), timed
  alone in the same batch shapes;
* pair coherence: per precision, floor = its FFTs alone (float64 and float32: the
  pruned smoothing FFTs of :mod:`interbrain.synchrony.wavelet.pruned`, per computed row
  ``L`` FFTs of ``M = n_smooth / L`` points forward and per band row the same back;
  fast: one fft per computed row and one ifft per band row at its coarse length
  ``n_smooth / step``), and the bytes of ``W`` and ``S`` a pair must read.

``--fft ducc0`` times interbrain and its floor with the optional ducc0 FFT library
(:mod:`interbrain.synchrony.wavelet.fft`; double precision only).
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.signal as ss  # noqa: E402

from interbrain.synchrony import WaveletGrid, band_mean_coherence, channel_spectra  # noqa: E402
from interbrain.synchrony.multirate import multirate_plan  # noqa: E402
from interbrain.synchrony.wavelet.fft import fft_library  # noqa: E402
from interbrain.synchrony.wavelet.pruned import (pruned_pair_plan,  # noqa: E402
                                                 transform_blocks)
from interbrain.synchrony.wavelet.transform import DEFAULT_CHUNK_BYTES, ChannelTransform  # noqa: E402
from interbrain.synchrony.wavelet.smoothing import smooth_plan  # noqa: E402

#: FFT library of the floors (``--fft``), the one interbrain runs with.
LIB = fft_library("scipy")


def best(fn, repeats: int) -> float:
    """Fastest of ``repeats`` timed calls, in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def fft_seconds(shape: tuple[int, ...], kind: str, dtype, repeats: int,
                axis: int = -1) -> float:
    """Time of one batched transform of ``shape`` (along ``axis``; real transforms along
    the last), by the FFT library ``LIB``; complex transforms in place, as the kernels
    run them (``overwrite_x``: no output to allocate)."""
    rng = np.random.default_rng(0)
    if kind in ("fft", "ifft"):
        x = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
        fn = getattr(LIB, kind)
        return best(lambda: fn(x, axis=axis, overwrite_x=True), repeats)
    if kind == "rfft":
        x = rng.standard_normal(shape).astype(dtype)
        return best(lambda: LIB.rfft(x), repeats)
    n = shape[-1]
    half = shape[:-1] + (n // 2 + 1,)
    cdt = np.result_type(dtype, np.complex64)
    x = (rng.standard_normal(half) + 1j * rng.standard_normal(half)).astype(cdt)
    return best(lambda: LIB.irfft(x, n=n), repeats)


def stage_io(minutes: float, channels: int, sfreq: float, repeats: int) -> list[str]:
    import h5py

    from interbrain.io import read_recording
    from interbrain.preprocessing import PreprocessingSettings, preprocess_recording
    from interbrain.simulate import simulate_study

    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        root = simulate_study(Path(tmp) / "s", n_dyads=2, n_sessions=2, minutes=minutes,
                              sfreq=sfreq, n_channels=channels, short_channels=False,
                              aux=False)
        path = sorted(root.rglob("*.snirf"))[0]
        with h5py.File(path, "r") as fh:
            n_samples, n_rows = fh["nirs/data1/dataTimeSeries"].shape
        n_bytes = n_samples * n_rows * 8

        def raw_read():
            with h5py.File(path, "r") as fh:
                fh["nirs/data1/dataTimeSeries"][()]

        t_floor = best(raw_read, repeats)
        t_read = best(lambda: read_recording(path), repeats)
        lines.append(f"| reading one recording | {n_rows} rows x {n_samples} intensities, "
                     f"{n_bytes / 2**20:.1f} MiB, file {path.stat().st_size / 2**20:.1f} MiB "
                     f"| {1e3 * t_floor:.0f} ms (h5py, one dataset) | {1e3 * t_read:.0f} ms "
                     f"| {100 * t_floor / t_read:.0f}% |")
        raw = read_recording(path)
        data = raw.get_data()
        sos = ss.butter(4, [0.01, 0.5], btype="band", fs=sfreq, output="sos")
        t_filt = best(lambda: ss.sosfilt(sos, data, axis=-1), repeats)
        settings = PreprocessingSettings()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_pre = best(lambda: preprocess_recording(read_recording(path), settings),
                         max(1, repeats // 2)) - t_read
        lines.append(f"| preprocessing one recording | {n_rows} rows x {n_samples} samples "
                     f"| {1e3 * t_filt:.0f} ms (one 4th-order IIR pass over every row) | "
                     f"{1e3 * t_pre:.0f} ms | {100 * t_filt / t_pre:.1f}% |")
    return lines


def fast_channel_stage(a: np.ndarray, grid: WaveletGrid, repeats: int
                       ) -> tuple[float, float, str]:
    """Seconds per channel of the ``"fast"`` channel stage, its FFT floor, its work.

    The stage: one rfft of ``n_fft`` per channel, then per group of scales the transform
    of its rows at the coarse samples (an ifft of ``n_fft / step`` per row) and the
    smoothed power of its band rows on the coarse grid (an rfft of ``n_smooth / step``
    per row, an irfft per band row). It runs on the first band mean that needs the channel
    (the spectra are lazy in this mode), so it is timed as ``channel_spectra`` plus one
    band mean of the channel with itself, less one pair's time.
    """
    C, ct, rt = a.shape[0], grid.complex_dtype, grid.real_dtype
    rp = multirate_plan(grid, True)

    def stage():
        spec = channel_spectra(a, grid, workers=1)
        band_mean_coherence(spec, spec, [(0, 0)], workers=1)

    stage()
    spec = channel_spectra(a, grid, workers=1)
    band_mean_coherence(spec, spec, [(0, 0)], workers=1)
    t_one = best(lambda: band_mean_coherence(spec, spec, [(0, 0)], workers=1), repeats)
    t_spec = (best(stage, repeats) - t_one) / C
    f_spec = fft_seconds((C, grid.n_fft), "rfft", rt, repeats) / C
    sizes = [f"rfft {grid.n_fft}"]
    for src in rp.sources:
        ns, md = src.src1 - src.src0, grid.n_fft // src.step
        f_spec += (fft_seconds((ns, md), "ifft", ct, repeats)
                   + fft_seconds((ns, src.m), "rfft", rt, repeats))
        sizes.append(f"{ns} x ifft {md} + {ns} x rfft {src.m} (step {src.step})")
    for b in rp.bands:
        nb = b.band1 - b.band0
        f_spec += fft_seconds((nb, b.m), "irfft", rt, repeats)
        sizes.append(f"{nb} x irfft {b.m} (step {b.step})")
    held = (sum((s.src1 - s.src0) * 8 * s.n_coarse for s in rp.sources)
            + sum((b.band1 - b.band0) * 4 * b.n_coarse for b in rp.bands))
    return t_spec, f_spec, "; ".join(sizes) + f"; holds {held / 2**20:.2f} MiB"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=50.0)
    p.add_argument("--channels", type=int, default=20, help="channels per person")
    p.add_argument("--sfreq", type=float, default=10.0)
    p.add_argument("--band", type=float, nargs=2, default=(10.0, 40.0))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-io", action="store_true", help="leave out reading and preprocessing")
    p.add_argument("--fft", default="scipy", choices=["scipy", "ducc0"],
                   help="FFT library of interbrain and of the floors")
    args = p.parse_args(argv)
    global LIB
    LIB = fft_library(args.fft)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    band, fs, C = tuple(args.band), args.sfreq, args.channels
    n = int(round(args.minutes * 60 * fs))
    rng = np.random.default_rng(1)
    a = np.cumsum(rng.standard_normal((C, n)), axis=1) * 0.05 + rng.standard_normal((C, n))
    b = np.cumsum(rng.standard_normal((C, n)), axis=1) * 0.05 + rng.standard_normal((C, n))
    pairs = [(i, j) for i in range(C) for j in range(C)]
    print(f"floor per stage: {args.minutes:g} min at {fs:g} Hz ({n} samples), {C} channels "
          f"per person, band {band[0]:g}-{band[1]:g} s, one pinned core, FFT library "
          f"{args.fft}; command: "
          f"{' '.join(['python'] + sys.argv)}")
    print()
    print("| stage | work it must do | floor (timed alone) | measured | floor / measured |")
    print("| --- | --- | --- | --- | --- |")
    if not args.skip_io:
        for line in stage_io(args.minutes, 20, fs, args.repeats):
            print(line)
    for dtype in ("float64", "float32", "fast"):
        grid = WaveletGrid.build(n, 1 / fs, band=band, dtype=dtype, fft=args.fft)
        ct, rt = grid.complex_dtype, grid.real_dtype
        R = grid.n_rows
        if dtype == "fast":
            t_spec, f_spec, work = fast_channel_stage(a, grid, args.repeats)
        else:
            t_spec = best(lambda: channel_spectra(a, grid, workers=1), args.repeats) / C
            # the transform's inverse FFTs as the kernel splits them (wavelet/pruned.py)
            inverse, runs = 0.0, {}
            rows = ChannelTransform(grid, np.empty((1, R, n), ct), None,
                                    DEFAULT_CHUNK_BYTES).rows
            for r0, r1, pr in transform_blocks(grid, rows):
                shape = (grid.n_fft, 1) if pr is None else (pr.M, pr.L)
                runs[shape] = runs.get(shape, 0) + (r1 - r0)
            for shape, q in runs.items():
                inverse += fft_seconds((8,) + shape, "ifft", ct, args.repeats, axis=-2) * q / 8
            f_spec = (fft_seconds((C, grid.n_fft), "rfft", rt, args.repeats) / C + inverse
                      + fft_seconds((8, grid.n_smooth), "rfft", rt, args.repeats) * R / 8
                      + fft_seconds((8, grid.n_smooth), "irfft", rt, args.repeats)
                      * grid.n_band_rows / 8)
            splits = "; ".join(f"{q} x ifft {M} x {L}" for (M, L), q in runs.items())
            work = (f"{R} rows: rfft {grid.n_fft}, {splits} (rows x FFT points x columns), "
                    f"{R} x rfft {grid.n_smooth}, {grid.n_band_rows} x irfft "
                    f"{grid.n_smooth}; writes {R * n * np.dtype(ct).itemsize / 2**20:.1f} MiB")
        print(f"| channel spectra, {dtype}, per channel | {work} | {1e3 * f_spec:.1f} ms | "
              f"{1e3 * t_spec:.1f} ms | {100 * f_spec / t_spec:.0f}% |")
        sa, sb = channel_spectra(a, grid, workers=1), channel_spectra(b, grid, workers=1)
        band_mean_coherence(sa, sb, pairs[:1], workers=1)        # plans and coarse copies
        t_pair = best(lambda: band_mean_coherence(sa, sb, pairs, workers=1),
                      args.repeats) / len(pairs)
        if dtype == "fast":
            rp = multirate_plan(grid, True)
            f_pair, samples, nbytes, sizes = 0.0, 0, 0, []
            for src in rp.sources:
                ns = src.src1 - src.src0
                f_pair += fft_seconds((16, ns, src.m), "fft", ct, args.repeats) / 16
                nbytes += 2 * ns * src.n_coarse * 8
                sizes.append(f"{ns} x fft {src.m} (step {src.step})")
            for b in rp.bands:
                nb = b.band1 - b.band0
                f_pair += fft_seconds((16, nb, b.m), "ifft", ct, args.repeats) / 16
                samples += nb * b.n_coarse
                nbytes += 2 * nb * b.n_coarse * 4
                sizes.append(f"{nb} x ifft {b.m} (step {b.step})")
            work = "; ".join(sizes)
        else:
            forward, inverse = pruned_pair_plan(smooth_plan(grid), ct)
            f_pair, sizes = 0.0, []
            for kind, sets in (("fft", forward), ("ifft", inverse)):
                for pr in sets:
                    q = pr.row1 - pr.row0
                    f_pair += fft_seconds((q, pr.M, pr.L), kind, ct, args.repeats, axis=-2)
                    sizes.append(f"{q} x {kind} {pr.M} x {pr.L}")
            samples = grid.n_band_rows * n
            cb, rb = np.dtype(ct).itemsize, np.dtype(rt).itemsize
            nbytes = 2 * (R * n * cb + grid.n_band_rows * n * rb)
            work = ("; ".join(sizes) + f" (rows x FFT points x columns; full: {R} x fft "
                    f"{grid.n_smooth} + {grid.n_band_rows} x ifft {grid.n_smooth})")
        print(f"| pair coherence, {dtype}, per pair | {work}; {samples} coherence cells, "
              f"reads {nbytes / 2**20:.2f} MiB | {1e3 * f_pair:.2f} ms | {1e3 * t_pair:.2f} "
              f"ms | {100 * f_pair / t_pair:.0f}% |")
    full = WaveletGrid.build(n, 1 / fs, band=band)
    rp = multirate_plan(WaveletGrid.build(n, 1 / fs, band=band, dtype="fast"), True)
    coarse = sum((b.band1 - b.band0) * b.n_coarse for b in rp.bands)
    print()
    print(f"coherence cells per pair: {full.n_band_rows * n} at the full rate, {coarse} on the "
          f"coarse grids ({full.n_band_rows * n / coarse:.0f}x fewer); steps "
          f"{[src.step for src in rp.sources]} (computed rows), "
          f"{[b.step for b in rp.bands]} (band rows)")


if __name__ == "__main__":
    main()
