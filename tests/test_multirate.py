"""Multirate band-mean coherence (precision "fast") against the exact path and wtc.m."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from interbrain.synchrony import (WaveletGrid, band_coherence, band_mean_coherence,
                                  channel_spectra)
from interbrain.synchrony.multirate import (MIN_COARSE_SAMPLES, MULTIRATE_FILTER_FLOOR,
                                           MULTIRATE_STEP_RATIO, multirate_plan)
from interbrain.synchrony.settings import AnalysisSettings
from interbrain.synchrony.wavelet import cwt
from interbrain.synchrony.wavelet.coarse import coarse_transform
from interbrain.synchrony.wavelet.decimation import (MIN_STENCIL_WIDTH, SPECTRAL_SPREAD,
                                                     STENCIL_ORDER, STENCIL_WIDTH,
                                                     decimation_step, end_stencil,
                                                     largest_step, stencil_width, sum_weights)
from interbrain.synchrony.wavelet.smoothing import row_filter_bins

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = sorted((ROOT / "tests" / "data" / "wtc-grinsted").glob("*.npz"))
REAL_DYAD = ROOT / "examples" / "real-dyad"
OPTION_NAMES = {"Dj": "dj", "S0": "s0", "MaxScale": "max_scale", "J1": "j1"}
TOLERANCE = 1e-4


def _signals(rng: np.random.Generator, n_channels: int, n: int, fs: float) -> np.ndarray:
    """Red noise plus a slow oscillation of random phase, as fNIRS channels look."""
    t = np.arange(n) / fs
    drift = np.cumsum(rng.standard_normal((n_channels, n)), axis=1) / np.sqrt(fs) * 0.1
    wave = np.sin(2 * np.pi * t / rng.uniform(8, 60, (n_channels, 1))
                  + rng.uniform(0, 2 * np.pi, (n_channels, 1)))
    return drift + wave + rng.standard_normal((n_channels, n))


def test_sum_weights_sum_like_the_fine_samples():
    n, step = 1000, 16
    k = (n - 1) // step + 1
    u = np.arange(n)
    for a, b in [(0, n), (37, 913), (500, 520)]:
        w = sum_weights(a, b, step, k)
        assert w.sum() == pytest.approx(b - a, rel=1e-12)        # constants exactly
        smooth = np.cos(2 * np.pi * u / 200) + 2
        assert abs(w @ smooth[::step] - smooth[a:b].sum()) <= 1e-4 * (b - a)
    w = sum_weights(0, n, step, k)
    edge = 2 * STENCIL_ORDER
    assert np.allclose(w[edge:-edge], step, rtol=0, atol=1e-12)   # interior: the step
    assert np.array_equal(sum_weights(3, 9, 1, 20), (np.arange(20) >= 3) & (np.arange(20) < 9))


def test_end_stencils_interpolate_and_keep_lines():
    x = np.array([0.0, 0.3, 2.5, 5.0, 10.75, 11.0])
    widths = [MIN_STENCIL_WIDTH, STENCIL_WIDTH, stencil_width(16, 32.0)]
    for width in widths:
        c = end_stencil(x, STENCIL_ORDER, width)
        assert c.shape == (6, STENCIL_ORDER)
        assert np.allclose(c.sum(axis=1), 1.0, rtol=0, atol=1e-12)                 # constants
        assert np.allclose(c @ np.arange(STENCIL_ORDER), x, rtol=0, atol=1e-9)      # lines
        assert np.allclose(c[[0, 3, 5]], np.eye(STENCIL_ORDER)[[0, 5, 11]], atol=1e-9)  # nodes
    # smoother series (more samples per scale) keep the narrowest well-conditioned width
    assert stencil_width(16, 32.0) == pytest.approx(SPECTRAL_SPREAD / 2)
    assert stencil_width(16, 1000.0) == MIN_STENCIL_WIDTH


def _lagrange_sum_weights(a: int, b: int, step: int, k: int, p: int = 8) -> np.ndarray:
    """sum_weights built from p-point Lagrange stencils (the polynomial limit)."""
    poly = np.polynomial.polynomial
    basis = [poly.polyfromroots([j for j in range(p) if j != i]) for i in range(p)]
    norm = np.array([poly.polyval(i, c) for i, c in enumerate(basis)])
    w = np.zeros(k)
    for v in range(a, b):
        start = int(np.clip(v // step - (p // 2 - 1), 0, k - p))
        w[start:start + p] += np.array([poly.polyval(v / step - start, c) for c in basis]) / norm
    return w


def test_end_stencils_hold_near_the_coarse_nyquist_frequency():
    """Series whose frequencies spread as a cross-spectrum's do at the coarsest steps
    (0.09 cycles per coarse sample): the sums keep 5e-4 per sample where the series stops
    (extrapolation past the last coarse sample) and 5e-6 where a range stops inside it;
    8-point Lagrange stencils lose at least five times more in each case (30 times where
    the series stops)."""
    rng = np.random.default_rng(3)
    n, step = 4000, 8
    k = (n - 1) // step + 1
    u = np.arange(n)
    for (a, b), bound in [((0, n), 5e-4), ((5, 3333), 5e-6), ((1201, 2999), 5e-6)]:
        w, wl = sum_weights(a, b, step, k), _lagrange_sum_weights(a, b, step, k)
        ours, poly = 0.0, 0.0
        for _ in range(20):
            series = np.cos(2 * np.pi * rng.normal(0.0, 0.09 / step) * u
                            + rng.uniform(0, 2 * np.pi))
            want = series[a:b].sum()
            ours = max(ours, abs(w @ series[::step] - want) / (b - a))
            poly = max(poly, abs(wl @ series[::step] - want) / (b - a))
        assert ours < bound
        assert poly > 5 * ours


def test_decimation_step_is_a_power_of_two_that_fits():
    assert decimation_step(100.0, 2**15, 1000, 0.25) == 16
    assert decimation_step(100.0, 2**15, 3000, 0.25) == 8           # the bins must fit
    assert decimation_step(2.0, 2**10, 10, 0.25) == 1
    step = decimation_step(1000.0, 2**12, 10, 0.25)
    assert step & (step - 1) == 0 and 2**12 // step > 10


def test_each_row_on_the_coarsest_grid_it_allows():
    """Every computed row feeding the band is in one source set, at the largest step its
    scale and bins allow; every band row at the step of its smallest-scale source (whose
    bins are the widest), so its coarse FFT holds every source's bins."""
    grid = WaveletGrid.build(30000, 0.1, band=(10.0, 40.0), dtype="fast")
    rp = multirate_plan(grid, True)
    rows = [j for src in rp.sources for j in range(src.src0, src.src1)]
    assert rows == list(range(rows[0], rows[-1] + 1))
    steps = {}
    k_row = row_filter_bins(grid, MULTIRATE_FILTER_FLOOR)
    for src in rp.sources:
        assert src.n_pos + src.n_neg < src.m == grid.n_smooth // src.step
        for j in range(src.src0, src.src1):
            sigma = grid.scale[grid.row_start + j] / grid.dt
            assert src.step <= largest_step(sigma, MULTIRATE_STEP_RATIO)
            # twice the step: beyond the ratio, or its FFT could not hold the row's bins
            assert (2 * src.step > largest_step(sigma, MULTIRATE_STEP_RATIO)
                    or grid.n_smooth // (2 * src.step) <= 2 * k_row[j] - 1)
            steps[j] = src.step
    assert [src.step for src in rp.sources] == [32, 64, 128]          # 10-40 s at 10 Hz
    half = (grid.scale_kernel.size - 1) // 2
    for band in rp.bands:
        for i in range(band.band0, band.band1):
            smallest = max(0, i + grid.band_start - grid.row_start - half)
            assert band.step == steps[smallest]
        for si, r, c, mix in band.sources:
            assert rp.sources[si].step >= band.step and mix.any(axis=0).all()
            assert mix.shape == (r.stop - r.start, c.stop - c.start) and mix.any(axis=1).all()


def test_short_series_keep_enough_coarse_samples():
    """A short series keeps its larger scales on a finer grid: at least
    MIN_COARSE_SAMPLES coarse samples (or every sample), where the end stencils work (a
    2-minute series at 4 Hz had 8 coarse samples for its largest scales without this)."""
    grid = WaveletGrid.build(480, 0.25, band=(10.0, 40.0), dtype="fast")
    rp = multirate_plan(grid, True)
    for part in (*rp.sources, *rp.bands):
        assert part.n_coarse >= MIN_COARSE_SAMPLES or part.step == 1
    assert max(src.step for src in rp.sources) == 2     # 480 samples: 240 at step 2
    long = multirate_plan(WaveletGrid.build(30000, 0.1, band=(10.0, 40.0), dtype="fast"), True)
    assert min(src.n_coarse for src in long.sources) > MIN_COARSE_SAMPLES   # never binds


def test_fast_grid_pads_less_but_past_the_wavelet():
    for n, band in [(30000, (10.0, 40.0)), (6000, (5.0, 100.0)), (23000, (2.0, 20.0))]:
        exact = WaveletGrid.build(n, 0.1, band=band, dtype="float64")
        fast = WaveletGrid.build(n, 0.1, band=band, dtype="fast")
        longest = fast.scale[fast.row_stop - 1] / fast.dt
        assert n + 7.5 * longest <= fast.n_fft <= exact.n_fft
        assert fast.n_fft % largest_step(longest) == 0     # every coarse step divides it
        assert fast.n_smooth == exact.n_smooth and fast.key != exact.key


@pytest.mark.parametrize("dtype", ["float64", "fast"])
def test_coarse_transform_is_the_transform_at_every_step_th_sample(dtype):
    rng = np.random.default_rng(5)
    x = _signals(rng, 2, 3000, 10.0)
    grid = WaveletGrid.build(3000, 0.1, band=(5.0, 40.0), dtype=dtype)
    full = cwt(x, grid)
    xd = (x - x.mean(axis=1, keepdims=True)).astype(grid.real_dtype)
    spectrum = np.fft.rfft(xd, n=grid.n_fft, axis=-1).astype(grid.complex_dtype)
    tol = 1e-12 if dtype == "float64" else 1e-5
    for step in (1, 2, 8, 32, 3):                   # 3 divides neither length: full rate
        k = (grid.n_times - 1) // step + 1
        got = coarse_transform(spectrum, grid, slice(1, 9), step, k)
        want = full[:, 1:9, ::step]
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= tol * np.abs(want).max()
    with pytest.raises(ValueError, match="do not fit"):
        coarse_transform(spectrum, grid, slice(1, 9), 8, grid.n_times)


def test_fast_spectra_are_computed_for_maps_only_when_asked():
    rng = np.random.default_rng(6)
    x = _signals(rng, 2, 1800, 10.0)
    fast = channel_spectra(x, WaveletGrid.build(1800, 0.1, band=(10.0, 40.0), dtype="fast"))
    f32 = channel_spectra(x, WaveletGrid.build(1800, 0.1, band=(10.0, 40.0), dtype="float32"))
    assert fast._W is None                          # band means never need them
    band_mean_coherence(fast, fast, "all")
    assert fast._W is None
    assert fast.W.shape[::2] == f32.W.shape[::2] and fast.S.shape == f32.S.shape
    assert np.allclose(fast.S, f32.S, rtol=1e-4, atol=1e-6)


@pytest.fixture(scope="module", params=REFERENCE, ids=[p.stem for p in REFERENCE])
def reference(request):
    with np.load(request.param) as d:
        ref = {k: d[k] for k in d.files}
    return ref, {OPTION_NAMES[k]: v for k, v in json.loads(str(ref["args"])).items()}


def test_band_means_match_wtc_m_reference(reference):
    """Band means of the reference cases (Grinsted's wtc.m outputs) within 1e-4."""
    ref, options = reference
    period, dt = ref["period"], float(ref["dt"])
    for lo, hi in [(len(period) // 4, len(period) // 2), (len(period) // 3, len(period) - 8)]:
        band = (float(period[lo]), float(period[hi]))
        grid = WaveletGrid.build(ref["x"].size, dt, band=band, **options)
        if not grid.valid.any():
            continue
        rows = slice(grid.band_start, grid.band_stop)
        expected = ref["rsq"][rows][period[rows, None] < ref["coi"][None, :]].mean()
        got = band_coherence(ref["x"], ref["y"], dt, band=band, dtype="fast", **options)
        assert abs(got[0] - expected) <= TOLERANCE, (band, got[0] - expected)


@pytest.mark.parametrize("fs", [4.0, 10.0, 50.0])
@pytest.mark.parametrize("band", [(2.0, 20.0), (10.0, 40.0), (10.0, 100.0)])
def test_band_means_match_exact_path_on_simulated_signals(fs, band):
    rng = np.random.default_rng(int(fs * 1000 + band[0] * 10 + band[1]))
    minutes = 5 if band[1] > 40 else 2
    n = int(minutes * 60 * fs)
    a, b = _signals(rng, 2, n, fs), _signals(rng, 2, n, fs)
    b[0] += 0.8 * a[0]                                  # one coupled pair
    exact = WaveletGrid.build(n, 1 / fs, band=band, dtype="float64")
    fast = WaveletGrid.build(n, 1 / fs, band=band, dtype="fast")
    for exclude_coi in (True, False):
        want = band_mean_coherence(channel_spectra(a, exact), channel_spectra(b, exact), "all",
                                   exclude_coi=exclude_coi)
        got = band_mean_coherence(channel_spectra(a, fast), channel_spectra(b, fast), "all",
                                  exclude_coi=exclude_coi)
        assert got.dtype == np.float64 and got.shape == (4,)
        assert np.max(np.abs(got - want)) <= TOLERANCE, np.abs(got - want).max()
    steps = [src.step for src in multirate_plan(fast, True).sources]
    # coarse grids are used where the scales allow it (the point of the mode)
    smallest = fast.scale[fast.row_start] / fast.dt
    assert max(steps) >= 2 or smallest * MULTIRATE_STEP_RATIO < 2


@pytest.mark.parametrize("dtype", ["fast", "float32", "float64"])
@pytest.mark.parametrize("exclude_coi", [True, False])
def test_constant_channel_gives_nan_as_the_exact_path(dtype, exclude_coi):
    """A constant channel (no power) gives NaN for its pairs, in every precision (the
    compiled sums divide as numpy does: no ZeroDivisionError)."""
    rng = np.random.default_rng(3)
    n, fs = 1800, 10.0
    a, b = _signals(rng, 2, n, fs), _signals(rng, 2, n, fs)
    a[1] = 0.0
    grid = WaveletGrid.build(n, 1 / fs, band=(10.0, 40.0), dtype=dtype)
    got = band_mean_coherence(channel_spectra(a, grid), channel_spectra(b, grid), "homologous",
                              exclude_coi=exclude_coi)
    assert np.isfinite(got[0]) and np.isnan(got[1])


def test_fast_precision_on_the_real_nirx_dyad(tmp_path):
    """The whole engine with [analysis] precision = "fast" on the real NIRx dyad: every
    channel pair within 1e-4 of float64."""
    from interbrain.engine import analyse_synchrony
    from interbrain.study import load_study

    study = load_study(REAL_DYAD)
    runs = {}
    for precision in ("float64", "fast"):
        settings = replace(study.analysis, precision=precision)
        runs[precision] = analyse_synchrony(replace(study, analysis=settings),
                                            cache_dir=tmp_path / precision).synchrony
    exact, fast = runs["float64"], runs["fast"]
    assert len(exact) == len(fast) > 0
    diff = (exact["value"] - fast["value"]).abs().max()
    assert 0 < diff <= TOLERANCE, diff


def test_settings_accept_fast_and_reject_others():
    assert AnalysisSettings(precision="fast").validate().precision == "fast"
    with pytest.raises(ValueError, match="'fast'"):
        AnalysisSettings(precision="float16").validate()


def test_compiled_pair_kernel_equals_numpy():
    """The compiled product and weighted power sums of the pair kernel equal numpy's
    element-wise formulation (gathered rows, float32 terms, float64 sum) to float32
    rounding, a NaN weight (a constant channel) giving NaN for its pairs only."""
    from interbrain.synchrony._pair_kernels import cross_products
    from interbrain.synchrony.multirate import _weighted_power_sums

    rng = np.random.default_rng(5)
    n_ch, rows, n, m = 4, 3, 50, 64
    W = (rng.standard_normal((2, n_ch, rows, n))
         + 1j * rng.standard_normal((2, n_ch, rows, n))).astype(np.complex64)
    inv = rng.uniform(0.5, 2.0, (2, n_ch, rows, n)).astype(np.float32)
    inv[1, 3] = np.nan
    ia, ib = np.array([0, 1, 2, 3, 0]), np.array([1, 1, 3, 0, 2])
    buf = np.full((len(ia), rows, m), 1 + 1j, dtype=np.complex64)   # zeroed past n
    cross_products(W[0], W[1], ia, ib, 0, rows, buf)
    expected = np.zeros_like(buf)
    expected[..., :n] = W[0][ia] * np.conjugate(W[1][ib])
    np.testing.assert_allclose(buf, expected, rtol=1e-6, atol=1e-6)
    assert not buf[..., n:].any()
    s = (rng.standard_normal((len(ia), rows, m))
         + 1j * rng.standard_normal((len(ia), rows, m))).astype(np.complex64)
    got = _weighted_power_sums(s, inv[0], inv[1], ia, ib)
    num = (s[..., :n].real ** 2 + s[..., :n].imag ** 2) * inv[0][ia] * inv[1][ib]
    want = num.sum(axis=(1, 2), dtype=np.float64)
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(got).tolist() == [
        False, False, True, False, False]
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=1e-6)
