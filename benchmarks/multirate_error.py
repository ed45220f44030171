"""Largest difference of ``"fast"`` (multirate) band means from the float64 exact path.

Sweeps sampling rates x bands x series lengths (simulated channels as in
``tests/test_multirate.py``: red noise plus a slow oscillation, three pairs coupled by
0.8, 0.3 and 0), with and without the cone of influence, and prints the largest
absolute band-mean difference per case and over all cases, with the coarse steps of
each case's source rows (and the smallest scale over step, in samples). Run by hand::

    .venv/bin/python benchmarks/multirate_error.py
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

from interbrain.synchrony import WaveletGrid, band_mean_coherence, channel_spectra
from interbrain.synchrony.multirate import multirate_plan

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_multirate import _signals  # noqa: E402


def case_error(fs: float, band: tuple[float, float], minutes: float, seed: int
               ) -> tuple[float, float, list]:
    """Largest |fast - float64| band mean over 9 pairs, cone excluded and not."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * fs)
    a, b = _signals(rng, 3, n, fs), _signals(rng, 3, n, fs)
    b[0] += 0.8 * a[0]
    b[1] += 0.3 * a[1]
    exact = WaveletGrid.build(n, 1 / fs, band=band, dtype="float64")
    fast = WaveletGrid.build(n, 1 / fs, band=band, dtype="fast")
    errors = []
    for exclude_coi in (True, False):
        want = band_mean_coherence(channel_spectra(a, exact), channel_spectra(b, exact), "all",
                                   exclude_coi=exclude_coi)
        got = band_mean_coherence(channel_spectra(a, fast), channel_spectra(b, fast), "all",
                                  exclude_coi=exclude_coi)
        errors.append(float(np.max(np.abs(got - want))))
    steps = [(s.step, round(float(fast.scale[fast.row_start + s.src0] / fast.dt / s.step), 2))
             for s in multirate_plan(fast, True).sources]
    return errors[0], errors[1], steps


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", type=float, nargs="+", default=[4.0, 10.0, 25.0, 50.0])
    p.add_argument("--minutes", type=float, nargs="+", default=[3.0, 8.0])
    p.add_argument("--seeds", type=int, default=1, help="seeds per case")
    args = p.parse_args(argv)
    bands = [(2.0, 20.0), (5.0, 30.0), (10.0, 40.0), (10.0, 100.0)]
    worst = [0.0, 0.0]
    for fs, band, minutes in itertools.product(args.rates, bands, args.minutes):
        if band[1] * 3 > minutes * 60 / 2:   # the band's longest period needs the length
            continue
        for seed in range(args.seeds):
            coi, full, steps = case_error(fs, band, minutes, seed + int(fs * 1000 + band[1]))
            worst = [max(worst[0], coi), max(worst[1], full)]
            print(f"{fs:g} Hz, {band[0]:g}-{band[1]:g} s, {minutes:g} min, seed {seed}: "
                  f"{coi:.2e} cone excluded, {full:.2e} all cells; steps (step, smallest "
                  f"scale / step) {steps}", flush=True)
    print(f"largest difference: {worst[0]:.2e} with the cone excluded (the default), "
          f"{worst[1]:.2e} without")


if __name__ == "__main__":
    main()
