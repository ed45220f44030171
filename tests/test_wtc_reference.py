"""interbrain.synchrony.wtc against Grinsted's wtc.m (GNU Octave 7.3 outputs).

See tests/data/wtc-grinsted/SOURCE.md for where the reference files come from.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from interbrain.synchrony import (WaveletGrid, band_coherence, channel_spectra, matlab_round,
                                  pair_coherence, scale_smoothing_kernel, wtc)

DATA = Path(__file__).parent / "data" / "wtc-grinsted"
FILES = sorted(DATA.glob("*.npz"))
OPTION_NAMES = {"Dj": "dj", "S0": "s0", "MaxScale": "max_scale", "J1": "j1"}


def load(path: Path) -> tuple[dict, dict]:
    with np.load(path) as d:
        ref = {k: d[k] for k in d.files}
    options = {OPTION_NAMES[k]: v for k, v in json.loads(str(ref["args"])).items()}
    return ref, options


def test_all_reference_files_present():
    assert len(FILES) == 5


@pytest.fixture(scope="module", params=FILES, ids=[p.stem for p in FILES])
def case(request):
    ref, options = load(request.param)
    result = wtc(ref["x"], ref["y"], float(ref["dt"]), **options)
    return ref, options, result


def test_grid_matches_reference(case):
    ref, _, res = case
    for key in ("period", "scale", "coi"):
        got = getattr(res, key)
        assert got.shape == ref[key].shape, key
        np.testing.assert_allclose(got, ref[key], rtol=1e-12, atol=0, err_msg=key)


def test_coherence_matches_reference(case):
    ref, _, res = case
    assert res.coherence.shape == ref["rsq"].shape
    assert np.all(np.isfinite(res.coherence))
    assert np.max(np.abs(res.coherence - ref["rsq"])) <= 1e-9


def test_band_rows_match_reference(case):
    """A band-restricted grid (the batched path) reproduces the reference rows."""
    ref, options, _ = case
    period = ref["period"]
    band = (float(period[len(period) // 4]), float(period[len(period) // 2]))
    grid = WaveletGrid.build(ref["x"].size, float(ref["dt"]), band=band, **options)
    assert grid.n_rows < grid.n_scales
    spec = channel_spectra(np.stack([ref["x"], ref["y"]]), grid)
    coh = pair_coherence(spec, spec, [(0, 1)])[0]
    expected = ref["rsq"][grid.band_start:grid.band_stop]
    assert np.max(np.abs(coh - expected)) <= 1e-9
    np.testing.assert_allclose(grid.band_period, period[grid.band_start:grid.band_stop],
                               rtol=1e-12)
    assert grid.band_period[0] >= band[0] and grid.band_period[-1] <= band[1]
    # and band_coherence averages exactly those cells
    mean = band_coherence(ref["x"], ref["y"], float(ref["dt"]), band=band, **options)
    valid = period[grid.band_start:grid.band_stop, None] < ref["coi"][None, :]
    assert mean.shape == (1,)
    assert abs(mean[0] - ref["rsq"][grid.band_start:grid.band_stop][valid].mean()) <= 1e-9


def test_float32_close_to_reference(case):
    ref, options, _ = case
    res = wtc(ref["x"], ref["y"], float(ref["dt"]), dtype="float32", **options)
    assert res.coherence.dtype == np.float64
    assert np.max(np.abs(res.coherence - ref["rsq"])) <= 1e-4


def test_identical_inputs_give_one():
    ref, options = load(DATA / "fs10_n1500_identical.npz")
    np.testing.assert_array_equal(ref["x"], ref["y"])
    res = wtc(ref["x"], ref["x"], float(ref["dt"]), **options)
    np.testing.assert_allclose(res.coherence, 1.0, rtol=0, atol=1e-12)


def test_matlab_round_is_half_away_from_zero():
    assert matlab_round(2.5) == 3
    assert matlab_round(-2.5) == -3
    assert matlab_round(3.5) == 4
    assert matlab_round(0.49999999999999994) == 0
    assert matlab_round(119.9) == 120
    assert matlab_round(-0.4) == 0


def test_scale_kernel_floating_point_width():
    # dj = 1/12: dj0steps = 3.6 -> [0.6, 1 x 7, 0.6] / 8.2
    k = scale_smoothing_kernel(1 / 12)
    assert k.size == 9
    np.testing.assert_allclose(k, np.r_[0.6, np.ones(7), 0.6] / 8.2, rtol=1e-12)
    # dj = 0.1: 0.6 / 0.2 = 2.9999999999999996 in floating point, so round -> 3 and
    # mod -> 0.9999999999999996: a 7-tap kernel, not the 5-tap one exact arithmetic gives
    k = scale_smoothing_kernel(0.1)
    assert 0.6 / (0.1 * 2) < 3
    assert k.size == 7
    np.testing.assert_allclose(k, np.full(7, 1 / 7), rtol=1e-12)
    # dj = 0.125: dj0steps = 2.4 -> [0.4, 1, 1, 1, 0.4] / 3.8
    np.testing.assert_allclose(scale_smoothing_kernel(0.125), np.r_[0.4, 1, 1, 1, 0.4] / 3.8)
    for dj in (1 / 12, 0.1, 0.125, 0.25):
        assert scale_smoothing_kernel(dj).sum() == pytest.approx(1.0, abs=1e-15)


def test_dj01_reference_needs_the_seven_tap_kernel():
    """The dj=0.1 reference is not matched with the exact-arithmetic 5-tap boxcar."""
    ref, options = load(DATA / "fs5_n1001_dj0.1_s0_1_maxscale64.npz")
    assert options["dj"] == 0.1
    grid = WaveletGrid.build(ref["x"].size, float(ref["dt"]), **options)
    assert grid.scale_kernel.size == 7
    five = WaveletGrid.build(ref["x"].size, float(ref["dt"]), **options)
    object.__setattr__(five, "scale_kernel", np.r_[0.0, np.ones(5), 0.0] / 5)
    spec = channel_spectra(np.stack([ref["x"], ref["y"]]), five)
    wrong = pair_coherence(spec, spec, [(0, 1)])[0]
    assert np.max(np.abs(wrong - ref["rsq"])) > 1e-3
