#!/usr/bin/env python
"""Throughput of interbrain's wavelet transform coherence against HyPyP and pycwt.

Run by hand (not a test), from the repository root, in the benchmark environment
(see ``benchmarks/README.md``)::

    .venv-bench/bin/python benchmarks/synchrony.py

Workload: one simulated therapy session, two people x ``--channels`` HbO channels,
``--minutes`` minutes at ``--sfreq`` Hz, every cross-person channel pair
(``channels**2`` pairs), band-averaged coherence over ``--band`` seconds outside the
cone of influence.

* interbrain computes every pair, in float64, float32 and "fast" (multirate) precision
  (``channel_spectra`` of both people, then ``band_mean_coherence``); the time of one
  run includes the grid, the channel transforms and all pairs. The repeats run one after
  another in one process, as a study's sessions run in a worker: the spectra of a run
  reuse the memory of the previous run's
  (:mod:`interbrain.synchrony.buffers`), as the next session's do. With ``--fft scipy
  ducc0`` each precision is measured with each FFT library of interbrain's kernels
  (:mod:`interbrain.synchrony.wavelet.fft`; ducc0 is optional, ``pip install
  'interbrain[ducc0]'``); the peers keep :mod:`scipy.fft` / NumPy's FFT as they ship.
* HyPyP (``hypyp.wavelet.ComplexMorletWavelet`` with its in-memory cache, one
  ``wavelet.wtc(PairSignals)`` call per pair, as ``hypyp.fnirs.Dyad.compute_wtcs`` does)
  and pycwt (``pycwt.wct(..., sig=False)``, which recomputes both transforms for every
  pair) are slow, so they run on ``--peer-pairs`` pairs only. HyPyP's cache makes its
  cost per pair depend on how many pairs share a channel, so besides the rate on the
  subset the script reports the rate HyPyP would have on the whole session,
  ``n_pairs / (2 * channels * t_channel + n_pairs * t_pair)``, from its measured cost per
  new channel and per pair with both channels cached. The ratios use that whole-session
  rate (the more favourable one for HyPyP).

Every tool runs on the same cores: with ``--threads 1`` (the default) the process is
pinned to one CPU (``os.sched_setaffinity``) and OpenMP, MKL, OpenBLAS and numexpr are
limited to one thread before NumPy is imported, and interbrain gets ``workers=1``; so
the ratios printed are per core, measured in the same run.

Timings are wall-clock, repeated ``--repeats`` times; the medians are reported (and the
minimum for reference). Peak memory is measured in separate, untimed runs with
``tracemalloc`` (Python and NumPy allocations; FFT library scratch space is not
included); the process's ``ru_maxrss`` high-water mark is printed at the end. The share
of interbrain's time spent inside FFTs is measured in one single-threaded run by timing
every FFT call of its kernels (:class:`interbrain.synchrony.wavelet.fft.FFTLibrary`).
"""

from __future__ import annotations

import os
import sys


def _threads_from_argv(argv: list[str]) -> int:
    for k, arg in enumerate(argv):
        if arg == "--threads" and k + 1 < len(argv):
            return int(argv[k + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 1


# before NumPy is imported: every tool gets the same threads (one core by default)
THREADS = _threads_from_argv(sys.argv[1:])
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = str(THREADS)

import argparse  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from importlib import metadata  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.fft  # noqa: E402

from interbrain.simulate.signals import (band_limited_noise,  # noqa: E402
                                         draw_person_traits, simulate_haemoglobin)
from interbrain.synchrony import (WaveletGrid, band_mean_coherence,  # noqa: E402
                                  channel_spectra, release_spectra_buffers)

FFT_FUNCTIONS = ("fft", "ifft", "rfft", "irfft")


# ---------------------------------------------------------------------------- data
def simulate_session(minutes: float, channels: int, sfreq: float, band: tuple[float, float],
                     coupling: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """HbO (mol/L) of two people in one session, with a shared in-band component."""
    rng = np.random.default_rng(seed)
    n_times = int(round(minutes * 60 * sfreq))
    shared = band_limited_noise(rng, n_times, sfreq, 1.0 / band[1], 1.0 / band[0])
    people = []
    for _ in range(2):
        traits = draw_person_traits(rng, channels)
        sim = simulate_haemoglobin(rng, traits, n_times=n_times, sfreq=sfreq, band=band,
                                   shared=shared, coupling=coupling,
                                   cardiac_gain=np.ones(channels),
                                   attenuation=np.ones(channels))
        people.append(sim["hbo"])
    return people[0], people[1]


# ---------------------------------------------------------------------- interbrain
def interbrain_run(a: np.ndarray, b: np.ndarray, dt: float, band: tuple[float, float],
                   pairs: list[tuple[int, int]], dtype: str, workers: int | None,
                   fft: str = "scipy") -> tuple[np.ndarray, dict[str, float]]:
    t0 = time.perf_counter()
    grid = WaveletGrid.build(a.shape[1], dt, band=band, dtype=dtype, fft=fft)
    spec_a = channel_spectra(a, grid, workers=workers)
    spec_b = channel_spectra(b, grid, workers=workers)
    t1 = time.perf_counter()
    out = band_mean_coherence(spec_a, spec_b, pairs, workers=workers)
    t2 = time.perf_counter()
    return out, {"total": t2 - t0, "spectra": t1 - t0, "pairs": t2 - t1}


def interbrain_peak_memory(a, b, dt, band, pairs, dtype, workers, fft="scipy"
                           ) -> dict[str, float]:
    """Peak traced memory (MiB) of the spectra phase and of the pairs phase (with the
    spectra's buffer pool emptied first, so that their memory is allocated, and traced,
    again)."""
    gc.collect()
    release_spectra_buffers()
    tracemalloc.start()
    try:
        grid = WaveletGrid.build(a.shape[1], dt, band=band, dtype=dtype, fft=fft)
        spec_a = channel_spectra(a, grid, workers=workers)
        spec_b = channel_spectra(b, grid, workers=workers)
        spectra_peak = tracemalloc.get_traced_memory()[1]
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        band_mean_coherence(spec_a, spec_b, pairs, workers=workers)
        pairs_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    mib = 2.0**20
    return {"spectra": spectra_peak / mib, "pairs": pairs_peak / mib,
            "pairs_extra": (pairs_peak - held) / mib, "spectra_held": held / mib}


def interbrain_fft_share(a, b, dt, band, pairs, dtype, fft="scipy") -> tuple[float, float]:
    """(seconds inside FFT calls, total seconds) of one single-threaded run.

    Every FFT call of interbrain's synchrony kernels (the methods of
    :class:`~interbrain.synchrony.wavelet.fft.FFTLibrary`) is timed (one thread, so the
    FFT seconds and the wall-clock seconds are on the same clock).
    """
    from interbrain.synchrony.wavelet.fft import FFTLibrary

    seconds = [0.0]
    saved = {name: getattr(FFTLibrary, name) for name in FFT_FUNCTIONS}

    def timed(fn):
        def call(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[0] += time.perf_counter() - t0
        return call

    # the spectra's memory in the pool first, as in the timed runs (the peers' runs
    # came in between, with the pool emptied)
    grid = WaveletGrid.build(a.shape[1], dt, band=band, dtype=dtype, fft=fft)
    channel_spectra(a, grid, workers=1)
    channel_spectra(b, grid, workers=1)
    for name, fn in saved.items():
        setattr(FFTLibrary, name, timed(fn))
    try:
        t0 = time.perf_counter()
        interbrain_run(a, b, dt, band, pairs, dtype, 1, fft)
        total = time.perf_counter() - t0
    finally:
        for name, fn in saved.items():
            setattr(FFTLibrary, name, fn)
    return seconds[0], total


# --------------------------------------------------------------------------- HyPyP
def hypyp_run(a, b, dt, band, pairs):
    """Coherence of ``pairs`` by HyPyP with a fresh cache; per-call times."""
    from hypyp.wavelet import ComplexMorletWavelet, PairSignals

    wavelet = ComplexMorletWavelet(period_range=band)  # cache enabled (its default)
    assert wavelet.use_caching
    x = np.arange(a.shape[1]) * dt
    values, calls, seen = [], [], set()
    for i, j in pairs:
        new = int(("a", i) not in seen) + int(("b", j) not in seen)
        seen.update({("a", i), ("b", j)})
        pair = PairSignals(x, a[i], b[j], label_ch1=f"a{i}", label_ch2=f"b{j}",
                           label_s1="partner-a", label_s2="partner-b", label_task="session")
        t0 = time.perf_counter()
        res = wavelet.wtc(pair)
        calls.append((time.perf_counter() - t0, new))
        values.append(res.coherence_metric)
    return np.array(values, dtype=float), calls


def hypyp_peak_memory(a, b, dt, band, pairs) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        hypyp_run(a, b, dt, band, pairs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / 2.0**20


def split_channel_pair_cost(calls: list[tuple[float, int]]) -> tuple[float, float]:
    """(seconds per new channel, seconds per pair with both channels cached)."""
    cached = [t for t, new in calls if new == 0]
    if not cached:
        raise SystemExit("the HyPyP subset needs pairs whose two channels were both seen "
                         "before; use --peer-pairs >= 4")
    t_pair = statistics.median(cached)
    n_new = sum(new for _, new in calls)
    t_new = sum(t for t, new in calls if new) - t_pair * sum(1 for _, new in calls if new)
    return max(t_new, 0.0) / n_new, t_pair


# -------------------------------------------------------------------------- pycwt
def pycwt_run(a, b, dt, grid: WaveletGrid, pairs):
    """Band-mean coherence by pycwt.wct on interbrain's in-band scales."""
    import pycwt

    s0 = float(grid.band_scale[0])
    J = grid.n_band_rows - 1
    values, times = [], []
    for i, j in pairs:
        t0 = time.perf_counter()
        wct, _, coi, freq, _ = pycwt.wct(a[i], b[j], dt, dj=grid.dj, s0=s0, J=J, sig=False)
        times.append(time.perf_counter() - t0)
        period = 1.0 / freq
        valid = period[:, None] < coi[None, :]
        values.append(float(wct[valid].mean()))
    return np.array(values), times


def pycwt_peak_memory(a, b, dt, grid, pairs) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        pycwt_run(a, b, dt, grid, pairs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / 2.0**20


# ------------------------------------------------------------------------- helpers
def peer_subset(channels: int, n: int) -> list[tuple[int, int]]:
    """``n`` pairs on few channels: rows of 5 partner-b channels per partner-a channel."""
    width = min(channels, 5)
    pairs = [(i, j) for i in range(channels) for j in range(width)]
    return pairs[:n]


def agreement(name: str, peer: np.ndarray, ref: np.ndarray) -> str:
    d = peer - ref
    r = np.corrcoef(peer, ref)[0, 1] if peer.size > 2 else float("nan")
    return (f"  {name:<8} vs interbrain float64 on {peer.size} pairs: max |diff| "
            f"{np.max(np.abs(d)):.4f}, mean diff {np.mean(d):+.4f}, Pearson r {r:.4f} "
            f"(interbrain mean {ref.mean():.4f}, {name} mean {peer.mean():.4f})")


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def med(values: list[float]) -> float:
    return statistics.median(values)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--minutes", type=float, default=50.0, help="session length")
    p.add_argument("--channels", type=int, default=20, help="channels per person")
    p.add_argument("--sfreq", type=float, default=10.0, help="sampling rate in Hz")
    p.add_argument("--band", type=float, nargs=2, default=(5.0, 100.0),
                   metavar=("SHORTEST", "LONGEST"), help="period band in seconds")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each measurement")
    p.add_argument("--peer-pairs", type=int, default=10,
                   help="pairs computed by each peer (HyPyP, pycwt)")
    p.add_argument("--skip", nargs="*", default=[],
                   choices=["hypyp", "pycwt", "float32", "fast"],
                   help="measurements to leave out")
    p.add_argument("--threads", type=int, default=1,
                   help="threads of every tool (OpenMP/BLAS and interbrain's workers); with "
                        "1 the process is also pinned to one CPU")
    p.add_argument("--cpu", type=int, default=None,
                   help="the CPU to pin to with --threads 1 (default: the first allowed)")
    p.add_argument("--fft", nargs="+", default=["scipy"], choices=["scipy", "ducc0"],
                   help="FFT libraries of interbrain's kernels to measure (each precision "
                        "with each)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    p.add_argument("--no-profile", action="store_true", help="skip the FFT-share run")
    p.add_argument("--coupling", type=float, default=0.3,
                   help="share of in-band neural variance common to both people")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    args.workers = args.threads
    pinned = "not pinned"
    if args.threads == 1 and hasattr(os, "sched_setaffinity"):
        cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        pinned = f"pinned to CPU {cpu}"
    scipy.fft.set_workers(args.threads).__enter__()   # interbrain's default workers too

    band = (float(args.band[0]), float(args.band[1]))
    dt = 1.0 / args.sfreq
    a, b = simulate_session(args.minutes, args.channels, args.sfreq, band, args.coupling,
                            args.seed)
    n_times = a.shape[1]
    pairs = [(i, j) for i in range(args.channels) for j in range(args.channels)]
    n_pairs = len(pairs)
    subset = peer_subset(args.channels, min(args.peer_pairs, n_pairs))
    sub_idx = [pairs.index(pq) for pq in subset]
    grid = WaveletGrid.build(n_times, dt, band=band)

    print("interbrain WTC benchmark")
    print(f"  command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"  machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.platform()}, "
          f"Python {platform.python_version()}")
    print(f"  versions: interbrain {version('interbrain')}, numpy {np.__version__}, "
          f"scipy {scipy.__version__}, hypyp {version('hypyp')}, pycwt {version('pycwt')}, "
          f"PyWavelets {version('PyWavelets')}")
    print(f"  session: 2 x {args.channels} channels, {args.minutes:g} min at {args.sfreq:g} Hz "
          f"({n_times} samples), {n_pairs} pairs, band {band[0]:g}-{band[1]:g} s")
    print(f"  grid: {grid.n_band_rows} band scales ({grid.band_period[0]:.3f}-"
          f"{grid.band_period[-1]:.3f} s), {grid.n_rows} computed, wavelet FFT "
          f"{grid.n_fft}, smoothing FFT {grid.n_smooth}, {grid.n_filter_bins} filter bins")
    print(f"  threads: {args.threads} for every tool ({pinned}; OMP/MKL/OPENBLAS threads "
          f"{os.environ['OMP_NUM_THREADS']}, interbrain workers {args.workers}); "
          f"repeats: {args.repeats} (median reported, min in brackets)")
    print()

    results: dict[str, dict] = {}
    dtypes = ["float64"] + [d for d in ("float32", "fast") if d not in args.skip]
    ffts = list(dict.fromkeys(["scipy"] + args.fft))
    labels = {}   # label -> (dtype, fft)
    for dtype in dtypes:
        for fft in ffts:
            labels[dtype if fft == "scipy" else f"{dtype}+{fft}"] = (dtype, fft)
    for label, (dtype, fft) in labels.items():
        interbrain_run(a[:1], b[:1], dt, band, [(0, 0)], dtype, args.workers, fft)  # warm-up
        runs, values = [], None
        for _ in range(args.repeats):
            values, t = interbrain_run(a, b, dt, band, pairs, dtype, args.workers, fft)
            runs.append(t)
        total = [t["total"] for t in runs]
        results[label] = {"values": values, "runs": runs,
                          "rate": n_pairs / med(total), "rate_best": n_pairs / min(total),
                          "spectra": med([t["spectra"] for t in runs]),
                          "pairs": med([t["pairs"] for t in runs])}
        r = results[label]
        print(f"interbrain {label}: {r['rate']:.1f} pairs/s [{r['rate_best']:.1f}] over "
              f"{n_pairs} pairs; run {med(total):.2f} s = spectra of {2 * args.channels} "
              f"channels {r['spectra']:.2f} s + pairs {r['pairs']:.2f} s "
              f"({n_pairs / r['pairs']:.1f} pairs/s in the pair phase)")
    ref = results["float64"]["values"]
    for label in results:
        if label != "float64":
            err = np.max(np.abs(results[label]["values"] - ref))
            results[label]["err"] = err
            print(f"interbrain {label} vs float64: max |band mean difference| {err:.2e} "
                  f"over {n_pairs} pairs")
    if "fast" in results and "float32" in results:
        f32, fast = results["float32"], results["fast"]
        print(f"fast vs float32 (same run): whole session {fast['rate'] / f32['rate']:.1f}x, "
              f"pair phase {f32['pairs'] / fast['pairs']:.1f}x, channel spectra "
              f"{f32['spectra'] / fast['spectra']:.2f}x")
    print()

    # interbrain's idle spectra memory goes back before the peers run, so that they
    # allocate in the same conditions as without the pool
    release_spectra_buffers()
    gc.collect()
    hyp = pyc = None
    if "hypyp" not in args.skip:
        hypyp_run(a, b, dt, band, subset[:1])  # warm-up
        rates, chan, per_pair, walls, vals = [], [], [], [], None
        for _ in range(args.repeats):
            vals, calls = hypyp_run(a, b, dt, band, subset)
            wall = sum(t for t, _ in calls)
            t_chan, t_pair = split_channel_pair_cost(calls)
            walls.append(wall)
            chan.append(t_chan)
            per_pair.append(t_pair)
            rates.append(n_pairs / (2 * args.channels * t_chan + n_pairs * t_pair))
        hyp = {"values": vals, "rate_subset": len(subset) / med(walls),
               "rate": med(rates), "rate_best": max(rates), "t_chan": med(chan),
               "t_pair": med(per_pair)}
        n_ch_sub = len({i for i, _ in subset}) + len({j for _, j in subset})
        print(f"HyPyP (ComplexMorletWavelet, cache on): {len(subset)} pairs on {n_ch_sub} "
              f"channels in {med(walls):.2f} s = {hyp['rate_subset']:.2f} pairs/s; "
              f"{hyp['t_chan']:.3f} s per new channel + {hyp['t_pair']:.3f} s per cached "
              f"pair -> whole session {hyp['rate']:.2f} pairs/s")
    if "pycwt" not in args.skip:
        pycwt_run(a, b, dt, grid, subset[:1])  # warm-up
        walls, vals = [], None
        for _ in range(args.repeats):
            vals, times = pycwt_run(a, b, dt, grid, subset)
            walls.append(sum(times))
        pyc = {"values": vals, "rate": len(subset) / med(walls)}
        print(f"pycwt (wct, sig=False): {len(subset)} pairs in {med(walls):.2f} s = "
              f"{pyc['rate']:.2f} pairs/s (no per-channel cache: the whole-session rate "
              "is the same)")
    print()

    print("throughput (pairs/s, whole session; medians, and in brackets the best runs, "
          "which other load on the machine disturbs least):")
    for dtype, r in results.items():
        line = f"  interbrain {dtype}: {r['rate']:.1f} [{r['rate_best']:.1f}]"
        if hyp:
            line += (f"  = {r['rate'] / hyp['rate']:.1f} x HyPyP "
                     f"[{r['rate_best'] / hyp['rate_best']:.1f} x]")
        if pyc:
            line += f"  = {r['rate'] / pyc['rate']:.0f} x pycwt"
        print(line)
    if hyp:
        print(f"  HyPyP: {hyp['rate']:.2f} [{hyp['rate_best']:.2f}] (subset rate "
              f"{hyp['rate_subset']:.2f})")
    if pyc:
        print(f"  pycwt: {pyc['rate']:.2f}")
    print()

    print("agreement of band means with interbrain (the peers differ from wtc.m by design):")
    ref_sub = ref[sub_idx]
    if hyp:
        print(agreement("HyPyP", hyp["values"], ref_sub))
    if pyc:
        print(agreement("pycwt", pyc["values"], ref_sub))
    print()

    if not args.no_profile:
        print("FFT share of interbrain's time (one single-threaded run, every FFT call "
              "timed):")
        for label, (dtype, lib) in labels.items():
            fft, total = interbrain_fft_share(a, b, dt, band, pairs, dtype, lib)
            print(f"  {label}: {fft:.2f} s of {total:.2f} s in FFTs = {100 * fft / total:.0f}% "
                  f"(one thread: {n_pairs / total:.1f} pairs/s; FFT-only floor "
                  f"{n_pairs / fft:.1f} pairs/s)")
        print()

    if not args.no_memory:
        print("peak memory (tracemalloc: Python + NumPy allocations, separate untimed runs):")
        for label, (dtype, lib) in labels.items():
            m = interbrain_peak_memory(a, b, dt, band, pairs, dtype, args.workers, lib)
            print(f"  interbrain {label}: spectra phase {m['spectra']:.0f} MiB (spectra held: "
                  f"{m['spectra_held']:.0f} MiB), pair phase {m['pairs']:.0f} MiB "
                  f"({m['pairs_extra']:.0f} MiB on top of the spectra)")
        if hyp:
            print(f"  HyPyP: {hypyp_peak_memory(a, b, dt, band, subset):.0f} MiB "
                  f"({len(subset)} pairs, cache included)")
        if pyc:
            print(f"  pycwt: {pycwt_peak_memory(a, b, dt, grid, subset):.0f} MiB "
                  f"({len(subset)} pairs)")
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(f"  process ru_maxrss (high-water mark of the whole run): {maxrss:.0f} MiB")
        print()

    print(f"targets (issue 19, per core when --threads 1; here {args.threads} thread(s) each): "
          "float64 >= 4x HyPyP, fast >= 30x HyPyP, fast >= 5x float32 per pair")
    if hyp:
        need = {"float64": 4.0, "float32": None, "fast": 30.0}
        for label, (dtype, _) in labels.items():
            ratio = results[label]["rate"] / hyp["rate"]
            best = results[label]["rate_best"] / hyp["rate_best"]
            verdict = ("" if need[dtype] is None else
                       (" -> met" if ratio >= need[dtype] else " -> NOT met"))
            print(f"  {label}: {ratio:.1f}x HyPyP (best runs {best:.1f}x){verdict}")
    if "fast" in results and "float32" in results:
        f32, fast = results["float32"], results["fast"]
        whole, phase = fast["rate"] / f32["rate"], f32["pairs"] / fast["pairs"]
        print(f"  fast vs float32: {whole:.1f}x whole session "
              f"{'met' if whole >= 5 else 'NOT met'}, {phase:.1f}x in the pair phase "
              f"{'met' if phase >= 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
