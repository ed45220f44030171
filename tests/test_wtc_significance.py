"""Monte Carlo significance of wavelet coherence (Grinsted's wtcsignif.m)."""

from __future__ import annotations

import numpy as np
import pytest

from interbrain.synchrony import (WaveletGrid, band_mean_coherence, channel_spectra,
                                  pair_coherence)
from interbrain.synchrony.significance import monte_carlo
from interbrain.synchrony.significance import (HISTOGRAM_BINS, SignificanceThreshold,
                                               ThresholdCache, ar1_coefficient,
                                               ar1_surrogates, band_significance,
                                               coherence_threshold, quantize_ar1,
                                               significant_fraction, threshold_key)

N, DT, BAND = 1024, 1.0, (4.0, 64.0)


@pytest.fixture(scope="module")
def grid():
    return WaveletGrid.build(N, DT, band=BAND)


@pytest.fixture(scope="module")
def thr06(grid):
    return coherence_threshold(DT, N, 0.6, 0.6, grid=grid, n_surrogates=60, seed=0)


@pytest.fixture
def count_mc(monkeypatch):
    """Count the Monte Carlo runs."""
    calls = []
    real = monte_carlo.surrogate_quantiles

    def counted(*args, **kwargs):
        calls.append(args[:2])
        return real(*args, **kwargs)

    monkeypatch.setattr(monte_carlo, "surrogate_quantiles", counted)
    return calls


# ------------------------------------------------------------------------- AR(1)
def test_ar1_recovers_known_coefficient():
    x = ar1_surrogates(0.7, 0.0, 20000, 1, seed=3)[0, 0] * 2.5
    g, a = ar1_coefficient(x)
    assert isinstance(g, float) and isinstance(a, float)
    assert abs(g - 0.7) < 0.03
    assert abs(a - 2.5) < 0.05 * 2.5  # innovation standard deviation


def test_ar1_matches_ar1nv_formula_and_vectorises():
    x = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 4.5, 1.0])
    d = x - x.mean()
    c0 = d @ d / 7
    c1 = d[:-1] @ d[1:] / 6
    g, a = ar1_coefficient(x)
    assert g == pytest.approx(c1 / c0, rel=1e-12)
    assert a == pytest.approx(np.sqrt((1 - (c1 / c0) ** 2) * c0), rel=1e-12)
    many = np.random.default_rng(1).standard_normal((3, 50))
    gs, as_ = ar1_coefficient(many)
    assert gs.shape == as_.shape == (3,)
    assert gs[1] == pytest.approx(ar1_coefficient(many[1])[0], rel=1e-12)
    gt, _ = ar1_coefficient(many.T, axis=0)
    np.testing.assert_allclose(gt, gs, rtol=1e-12)


@pytest.mark.parametrize("bad, match", [(np.ones(20), "constant"), ([1.0, 2.0], "at least 3"),
                                        ([1.0, np.nan, 2.0, 3.0], "NaN")])
def test_ar1_invalid(bad, match):
    with pytest.raises(ValueError, match=match):
        ar1_coefficient(bad)


def test_quantize_ar1():
    assert quantize_ar1(0.7) == 0.7
    assert quantize_ar1(0.734) == 0.73
    assert quantize_ar1(0.004) == 0.0
    assert quantize_ar1(0.0) == 0.0
    assert quantize_ar1(0.99537) == 0.9954
    assert quantize_ar1(0.99951) == 0.99951
    assert quantize_ar1(0.995) == 0.995
    assert quantize_ar1(0.734, digits=1) == 0.7
    assert quantize_ar1(0.9999999) < 1.0
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            quantize_ar1(bad)


def test_surrogates_are_stationary_ar1():
    x = ar1_surrogates(0.9, 0.3, 4000, 20, seed=5)
    assert x.shape == (20, 2, 4000)
    g, _ = ar1_coefficient(x)
    assert abs(g[:, 0].mean() - 0.9) < 0.02 and abs(g[:, 1].mean() - 0.3) < 0.02
    assert x[:, 0].var() == pytest.approx(1 / (1 - 0.81), rel=0.1)
    # stationary from the first sample on: var = 1 / (1 - g^2), no burn-in needed
    first = ar1_surrogates(0.9, 0.3, 3, 4000, seed=6)[:, :, 0]
    np.testing.assert_allclose(first.var(axis=0), [1 / (1 - 0.81), 1 / (1 - 0.09)], rtol=0.1)


# --------------------------------------------------------------------- thresholds
def test_threshold_shape_and_range(grid, thr06):
    assert isinstance(thr06, SignificanceThreshold)
    assert thr06.threshold.shape == (grid.n_band_rows,)
    np.testing.assert_array_equal(thr06.period, grid.band_period)
    np.testing.assert_array_equal(thr06.scale, grid.band_scale)
    assert np.all((thr06.threshold > 0) & (thr06.threshold <= 1))
    assert thr06.ar1 == (0.6, 0.6) and thr06.n_surrogates == 60 and thr06.quantile == 0.95
    assert thr06.n_times == N and thr06.dt == DT and thr06.grid_key == grid.key
    with pytest.raises(ValueError):
        thr06.threshold[0] = 0.5  # read-only


def test_threshold_profile_over_scales():
    """Not monotone: about constant (~0.7) inside, higher at both ends of the grid.

    Time smoothing is proportional to scale and scale smoothing is a fixed 0.6 octave,
    so interior cells have scale-independent degrees of freedom; at the smallest scales
    the scale-smoothing window is cut by the end of the grid, and at the largest scales
    the few cells outside the cone of influence lie near the series ends.
    """
    for g in (0.0, 0.7):
        th = coherence_threshold(DT, 512, g, g, n_surrogates=40)  # full grid, all scales
        t = th.threshold
        interior = t[(th.period > 4) & (th.period < 60)]
        assert 0.6 < np.median(interior) < 0.8
        assert interior.max() - interior.min() < 0.1
        assert t[0] > np.median(interior) + 0.05
        assert t[-1] > np.median(interior) + 0.05
        assert np.all((t > 0) & (t <= 1))


def test_quantile_level_orders_thresholds(grid):
    lo = coherence_threshold(DT, N, 0.6, 0.6, grid=grid, n_surrogates=20, quantile=0.5)
    hi = coherence_threshold(DT, N, 0.6, 0.6, grid=grid, n_surrogates=20, quantile=0.99)
    assert np.all(lo.threshold < hi.threshold)


def test_matches_exact_quantile_of_surrogates():
    """The histogram quantile is within one bin of the sample quantile (inverted CDF)."""
    n, n_sur = 256, 12
    grid = WaveletGrid.build(n, DT, band=(4, 32))
    th = coherence_threshold(DT, n, 0.5, 0.3, grid=grid, n_surrogates=n_sur, seed=9)
    assert th.ar1 == (0.3, 0.5)  # ascending order
    x = ar1_surrogates(0.3, 0.5, n, n_sur, seed=9)
    a, b = channel_spectra(x[:, 0], grid), channel_spectra(x[:, 1], grid)
    coh = pair_coherence(a, b, [(k, k) for k in range(n_sur)])
    exact = np.array([np.quantile(coh[:, r, grid.valid[r]], 0.95, method="inverted_cdf")
                      for r in range(grid.n_band_rows)])
    np.testing.assert_allclose(th.threshold, exact, rtol=0, atol=1.01 / HISTOGRAM_BINS)


def test_reproducible_symmetric_and_chunk_independent(grid, thr06):
    again = coherence_threshold(DT, N, 0.6, 0.6, grid=grid, n_surrogates=60, seed=0)
    np.testing.assert_array_equal(again.threshold, thr06.threshold)
    chunked = coherence_threshold(DT, N, 0.6, 0.6, grid=grid, n_surrogates=60, seed=0,
                                  chunk_bytes=1)  # one surrogate pair at a time
    np.testing.assert_allclose(chunked.threshold, thr06.threshold, rtol=0, atol=1e-6)
    other = coherence_threshold(DT, N, 0.6, 0.6, grid=grid, n_surrogates=60, seed=1)
    assert not np.array_equal(other.threshold, thr06.threshold)
    np.testing.assert_allclose(other.threshold, thr06.threshold, atol=0.05)
    ab = coherence_threshold(DT, N, 0.2, 0.8, grid=grid, n_surrogates=10)
    ba = coherence_threshold(DT, N, 0.8, 0.2, grid=grid, n_surrogates=10)
    np.testing.assert_array_equal(ab.threshold, ba.threshold)


def test_grid_options_equal_grid(grid, thr06):
    th = coherence_threshold(DT, N, 0.6, 0.6, band=BAND, n_surrogates=60)
    assert th.grid_key == grid.key
    np.testing.assert_array_equal(th.threshold, thr06.threshold)


# ------------------------------------------------------------------------- caching
def test_cache_hit_does_not_recompute(grid, count_mc):
    cache = ThresholdCache()
    first = coherence_threshold(DT, N, 0.6, 0.4, grid=grid, n_surrogates=10, cache=cache)
    assert len(count_mc) == 1 and cache.misses == 1 and len(cache) == 1
    # same rounded coefficients, either order: the identical object, no Monte Carlo run
    for a, b in [(0.6, 0.4), (0.4, 0.6), (0.6012, 0.398)]:
        assert coherence_threshold(DT, N, a, b, grid=grid, n_surrogates=10,
                                   cache=cache) is first
    assert len(count_mc) == 1 and cache.hits == 3
    # a different coefficient, grid, count, quantile or seed is another entry
    coherence_threshold(DT, N, 0.61, 0.4, grid=grid, n_surrogates=10, cache=cache)
    coherence_threshold(DT, N, 0.6, 0.4, band=(4, 32), n_surrogates=10, cache=cache)
    coherence_threshold(DT, N, 0.6, 0.4, grid=grid, n_surrogates=11, cache=cache)
    coherence_threshold(DT, N, 0.6, 0.4, grid=grid, n_surrogates=10, quantile=0.9,
                        cache=cache)
    coherence_threshold(DT, N, 0.6, 0.4, grid=grid, n_surrogates=10, seed=2, cache=cache)
    assert len(count_mc) == 6 and len(cache) == 6
    assert count_mc[0] == (0.4, 0.6)  # simulated with the rounded, ordered coefficients


def test_disk_cache_round_trip(grid, tmp_path, count_mc):
    d = tmp_path / "cache"
    c1 = ThresholdCache(d)
    th = coherence_threshold(DT, N, 0.6, 0.4, grid=grid, n_surrogates=10, cache=c1)
    files = sorted(d.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"  # no temporary left over
    key = threshold_key(0.6, 0.4, grid, n_surrogates=10)
    assert c1.path_for(key) == files[0]

    c2 = ThresholdCache(d)
    back = coherence_threshold(DT, N, 0.4, 0.6, grid=grid, n_surrogates=10, cache=c2)
    assert len(count_mc) == 1 and c2.disk_hits == 1
    np.testing.assert_array_equal(back.threshold, th.threshold)
    np.testing.assert_array_equal(back.period, th.period)
    assert (back.ar1, back.n_surrogates, back.quantile, back.seed, back.n_times, back.dt,
            back.grid_key) == (th.ar1, th.n_surrogates, th.quantile, th.seed, th.n_times,
                               th.dt, th.grid_key)
    assert coherence_threshold(DT, N, 0.4, 0.6, grid=grid, n_surrogates=10,
                               cache=c2) is back and c2.hits == 1

    files[0].write_bytes(b"not a zip file")  # a damaged file is recomputed and replaced
    c3 = ThresholdCache(d)
    again = coherence_threshold(DT, N, 0.4, 0.6, grid=grid, n_surrogates=10, cache=c3)
    assert len(count_mc) == 2 and c3.misses == 1
    np.testing.assert_array_equal(again.threshold, th.threshold)
    assert ThresholdCache(d).get(key) is not None


# --------------------------------------------------------------------- calibration
def test_false_positive_rate_is_about_five_percent(grid, thr06):
    """Independent AR(1) pairs exceed the 95 % threshold in about 5 % of the cells."""
    x = ar1_surrogates(0.6, 0.6, N, 8, seed=12345)  # not the threshold's surrogates
    a, b = channel_spectra(x[:, 0], grid), channel_spectra(x[:, 1], grid)
    coh = pair_coherence(a, b, [(k, k) for k in range(8)])
    frac = significant_fraction(coh, thr06, grid.valid)
    assert frac.shape == (8,)
    assert 0.02 < frac.mean() < 0.09


def test_coupled_pair_is_significant():
    t = np.arange(N) * DT
    shared = np.sin(2 * np.pi * t / 16.0)
    x = ar1_surrogates(0.6, 0.6, N, 1, seed=7)[0]
    res = band_significance(shared + 0.5 * x[0], shared + 0.5 * x[1],
                            DT, band=(12.0, 20.0), ar1=(0.6, 0.6), n_surrogates=20)
    assert res.fraction > 0.5 and res.coherence > 0.7


# ------------------------------------------------------------------------- helpers
def test_significant_fraction():
    coh = np.array([[0.1, 0.9, 0.95], [0.5, 0.6, 0.7]])
    valid = np.array([[True, True, False], [True, True, True]])
    assert significant_fraction(coh, np.array([0.8, 0.55]), valid) == pytest.approx(3 / 5)
    stack = np.stack([coh, np.zeros_like(coh), np.full_like(coh, np.nan)])
    np.testing.assert_allclose(significant_fraction(stack, [0.8, 0.55], valid), [0.6, 0, 0])
    with pytest.raises(ValueError, match="do not match"):
        significant_fraction(coh, [0.8], valid)
    with pytest.raises(ValueError, match="no cell"):
        significant_fraction(coh, [0.8, 0.5], np.zeros_like(valid))
    with pytest.raises(ValueError, match="boolean"):
        significant_fraction(coh, [0.8, 0.5], valid.astype(int))


def test_band_significance_uses_cache_and_matches_band_mean(count_mc):
    x = ar1_surrogates(0.5, 0.5, 512, 2, seed=21)
    cache = ThresholdCache()
    r0 = band_significance(x[0, 0], x[0, 1], DT, band=(4, 32), n_surrogates=10,
                           ar1=(0.5, 0.5), cache=cache)
    r1 = band_significance(x[1, 0], x[1, 1], DT, band=(4, 32), n_surrogates=10,
                           ar1=(0.503, 0.499), cache=cache)
    assert len(count_mc) == 1 and r1.threshold is r0.threshold
    grid = WaveletGrid.build(512, DT, band=(4, 32))
    spec = channel_spectra(x[0], grid)
    assert r0.coherence == pytest.approx(band_mean_coherence(spec, spec, [(0, 1)])[0],
                                         rel=1e-12)
    assert 0 <= r0.fraction <= 1
    est = band_significance(x[0, 0], x[0, 1], DT, band=(4, 32), n_surrogates=10)
    assert est.ar1 == pytest.approx((ar1_coefficient(x[0, 0])[0],
                                     ar1_coefficient(x[0, 1])[0]))


# -------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, match", [
    (dict(ar1_a=1.0), r"ar1_a .*\[0, 1\)"),
    (dict(ar1_a=-0.2), r"ar1_a .*\[0, 1\)"),
    (dict(ar1_b=float("nan")), r"ar1_b .*\[0, 1\)"),
    (dict(n_surrogates=9), "n_surrogates"),
    (dict(n_surrogates=50.0), "n_surrogates"),
    (dict(quantile=0.0), "quantile"),
    (dict(quantile=1.0), "quantile"),
    (dict(quantile=1.5), "quantile"),
    (dict(seed=-1), "seed"),
    (dict(seed=np.random.default_rng(0)), "seed"),
    (dict(band=(4, 64), dj=0.1), "grid or grid options"),
    (dict(n_times=N + 1), "was built for"),
])
def test_invalid_inputs(grid, kwargs, match):
    args = dict(dt=DT, n_times=N, ar1_a=0.5, ar1_b=0.5, grid=grid)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        coherence_threshold(**args)


def test_too_short_for_band():
    with pytest.raises(ValueError, match="too short"):
        coherence_threshold(DT, 64, 0.5, 0.5, band=(4, 64), n_surrogates=10)
