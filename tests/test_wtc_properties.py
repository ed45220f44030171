"""Properties of wavelet coherence and of its batched, band-restricted computation."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interbrain.synchrony import (WaveletGrid, band_coherence, band_mean_coherence,
                                  channel_spectra, min_samples_for_band, pair_coherence,
                                  resolve_pairs, wtc)

FAST = settings(max_examples=25, deadline=None)


def series(seed: int, n: int, n_channels: int | None = None) -> np.ndarray:
    """Noise plus a few oscillations with random amplitude and phase."""
    rng = np.random.default_rng(seed)
    shape = (n,) if n_channels is None else (n_channels, n)
    t = np.arange(n)
    x = rng.standard_normal(shape)
    for period in (8.0, 25.0, 60.0):
        amp = rng.uniform(0, 2, size=shape[:-1] + (1,))
        phase = rng.uniform(0, 2 * np.pi, size=shape[:-1] + (1,))
        x = x + amp * np.sin(2 * np.pi * t / period + phase)
    return x


seeds = st.integers(0, 2**32 - 1)
lengths = st.integers(128, 400)
dts = st.sampled_from([0.1, 0.128, 0.2, 1.0])


# ------------------------------------------------------------------ properties of wtc
@FAST
@given(seed=seeds, n=lengths, dt=dts)
def test_identical_series_give_one(seed, n, dt):
    x = series(seed, n)
    res = wtc(x, x, dt)
    np.testing.assert_allclose(res.coherence, 1.0, rtol=0, atol=1e-10)


@FAST
@given(seed=seeds, n=lengths, dt=dts, pad=st.booleans())
def test_symmetric_and_bounded(seed, n, dt, pad):
    x, y = series(seed, n, 2)
    xy = wtc(x, y, dt, pad=pad)
    yx = wtc(y, x, dt, pad=pad)
    np.testing.assert_allclose(xy.coherence, yx.coherence, rtol=0, atol=1e-12)
    assert xy.coherence.shape == (xy.period.size, n)
    assert xy.coi.shape == (n,)
    assert np.all(xy.coherence >= 0)
    assert np.all(xy.coherence <= 1 + 1e-12)


@FAST
@given(seed=seeds, n=lengths, dt=dts,
       a=st.floats(1e-3, 1e3) | st.floats(-1e3, -1e-3),
       c=st.floats(1e-3, 1e3) | st.floats(-1e3, -1e-3),
       offset_x=st.floats(-100, 100), offset_y=st.floats(-100, 100))
def test_invariant_to_scale_and_offset(seed, n, dt, a, c, offset_x, offset_y):
    x, y = series(seed, n, 2)
    base = wtc(x, y, dt).coherence
    moved = wtc(a * x + offset_x * abs(a), c * y + offset_y * abs(c), dt).coherence
    np.testing.assert_allclose(moved, base, rtol=0, atol=1e-8)


@FAST
@given(seed=seeds, n=st.integers(200, 400), dt=dts, lo=st.integers(0, 90),
       width=st.integers(0, 90))
def test_band_grid_equals_full_grid(seed, n, dt, lo, width):
    """Band rows of a band-restricted grid are the full grid's rows (edges included)."""
    x = series(seed, n, 3)
    full = WaveletGrid.build(n, dt)
    lo = min(lo, full.n_scales - 1)
    hi = min(lo + width, full.n_scales - 1)
    band = (float(full.period[lo]), float(full.period[hi]))
    try:
        grid = WaveletGrid.build(n, dt, band=band)
    except ValueError as exc:  # band's longest period entirely inside the cone
        assert "too short" in str(exc)
        return
    assert (grid.band_start, grid.band_stop) == (lo, hi + 1)
    sf, sb = channel_spectra(x, full), channel_spectra(x, grid)
    np.testing.assert_allclose(sb.W, sf.W[:, grid.rows], rtol=0, atol=1e-12)
    np.testing.assert_allclose(sb.S, sf.S[:, lo:hi + 1], rtol=1e-12, atol=0)
    pairs = [(0, 1), (2, 0), (1, 1)]
    np.testing.assert_allclose(pair_coherence(sb, sb, pairs),
                               pair_coherence(sf, sf, pairs)[:, lo:hi + 1], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(grid.valid, full.valid[lo:hi + 1])


# ----------------------------------------------------- batched band coherence vs wtc
def mean_by_wtc(a, b, dt, pairs, band, exclude_coi=True, **options):
    out = []
    for i, j in pairs:
        res = wtc(a[i], b[j], dt, **options)
        rows = (res.period >= band[0]) & (res.period <= band[1])
        coh = res.coherence[rows]
        if exclude_coi:
            coh = coh[res.period[rows, None] < res.coi[None, :]]
        out.append(coh.mean())
    return np.array(out)


@pytest.fixture(scope="module")
def partners():
    return series(1, 600, 4), series(2, 600, 4)


@pytest.mark.parametrize("exclude_coi", [True, False])
@pytest.mark.parametrize("pairs", ["homologous", "all", [(3, 0), (0, 3), (2, 2), (1, 0)]])
def test_band_coherence_equals_per_pair_wtc(partners, pairs, exclude_coi):
    a, b = partners
    dt, band = 0.1, (2.0, 8.0)
    got = band_coherence(a, b, dt, band=band, pairs=pairs, exclude_coi=exclude_coi)
    idx = resolve_pairs(pairs, 4, 4)
    want = mean_by_wtc(a, b, dt, idx, band, exclude_coi)
    assert got.shape == (len(idx),)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_pair_orders():
    assert resolve_pairs("homologous", 3, 3).tolist() == [[0, 0], [1, 1], [2, 2]]
    assert resolve_pairs("all", 2, 3).tolist() == [[0, 0], [0, 1], [0, 2],
                                                   [1, 0], [1, 1], [1, 2]]
    assert resolve_pairs([(1, 2)], 2, 3).tolist() == [[1, 2]]
    assert resolve_pairs([], 2, 3).shape == (0, 2)


def test_band_coherence_with_options(partners):
    a, b = partners
    opts = dict(dj=0.1, s0=0.3, max_scale=20.0, pad=False)
    got = band_coherence(a, b, 0.1, band=(1.0, 6.0), pairs="all", **opts)
    want = mean_by_wtc(a, b, 0.1, resolve_pairs("all", 4, 4), (1.0, 6.0), **opts)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_cached_spectra_across_recordings_and_chunks(partners):
    """Spectra computed once serve pairs across recordings; chunking changes nothing."""
    a, b = partners
    c = series(3, 600, 2)  # a third recording (pseudo-dyad partner)
    grid = WaveletGrid.build(600, 0.1, band=(2.0, 8.0))
    sa, sb, sc = (channel_spectra(v, grid) for v in (a, b, c))
    assert sa.W.shape == (4, grid.n_rows, 600)
    assert sa.S.shape == (4, grid.n_band_rows, 600)
    pairs = [(0, 1), (3, 0), (2, 1)]
    want = mean_by_wtc(a, c, 0.1, pairs, (2.0, 8.0))
    np.testing.assert_allclose(band_mean_coherence(sa, sc, pairs), want, rtol=0, atol=1e-12)
    small = band_mean_coherence(sa, sb, "all", chunk_bytes=1)
    large = band_mean_coherence(sa, sb, "all", chunk_bytes=2**30)
    np.testing.assert_allclose(small, large, rtol=0, atol=1e-14)
    maps = pair_coherence(sa, sb, "homologous")
    assert maps.shape == (4, grid.n_band_rows, 600)
    np.testing.assert_allclose(maps[:, grid.valid].mean(axis=1),
                               band_mean_coherence(sa, sb, "homologous"), rtol=1e-12)
    # spectra from a grid of another length are refused
    other = channel_spectra(a[:, :500], WaveletGrid.build(500, 0.1, band=(2.0, 8.0)))
    with pytest.raises(ValueError, match="different wavelet grids"):
        band_mean_coherence(sa, other, "homologous")


def test_chunked_channel_spectra_match(partners):
    a, _ = partners
    grid = WaveletGrid.build(600, 0.1)
    whole = channel_spectra(a, grid)
    pieces = channel_spectra(a, grid, chunk_bytes=1)  # one row of one channel at a time
    np.testing.assert_array_equal(pieces.W, whole.W)
    np.testing.assert_allclose(pieces.S, whole.S, rtol=1e-14)


def test_float32_band_coherence(partners):
    a, b = partners
    f64 = band_coherence(a, b, 0.1, band=(2.0, 8.0), pairs="all")
    f32 = band_coherence(a, b, 0.1, band=(2.0, 8.0), pairs="all", dtype="float32")
    assert f32.dtype == np.float64
    np.testing.assert_allclose(f32, f64, rtol=0, atol=1e-4)


# ------------------------------------------------------------------------- errors
def test_nan_and_inf_rejected():
    x = series(0, 300)
    bad = x.copy()
    bad[17] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN or infinite samples.*sample 17"):
        wtc(bad, x, 0.1)
    bad[17] = np.inf
    with pytest.raises(ValueError, match="y contains NaN or infinite"):
        wtc(x, bad, 0.1)
    a = series(0, 600, 3)
    a[2, 5] = np.nan
    with pytest.raises(ValueError, match=r"a contains NaN.*channel 2, sample 5"):
        band_coherence(a, series(1, 600, 3), 0.1, band=(2, 8))
    grid = WaveletGrid.build(600, 0.1, band=(2, 8))
    with pytest.raises(ValueError, match="NaN or infinite"):
        channel_spectra(a, grid)


def test_length_mismatch_rejected():
    with pytest.raises(ValueError, match="same length.*300 and 299"):
        wtc(series(0, 300), series(1, 299), 0.1)
    with pytest.raises(ValueError, match="same number of samples.*600 and 599"):
        band_coherence(series(0, 600, 2), series(1, 599, 2), 0.1, band=(2, 8))
    grid = WaveletGrid.build(600, 0.1, band=(2, 8))
    with pytest.raises(ValueError, match="599 samples but the wavelet grid was built for 600"):
        channel_spectra(series(0, 599, 2), grid)


def test_non_1d_rejected():
    with pytest.raises(ValueError, match="x must be a 1-D series"):
        wtc(series(0, 300, 2), series(1, 300), 0.1)
    with pytest.raises(ValueError, match="y must be a 1-D series"):
        wtc(series(0, 300), np.float64(3.0), 0.1)


def test_too_short_recording_names_minimum_length():
    dt, band = 0.1, (10.0, 40.0)
    need = min_samples_for_band(dt, band)
    WaveletGrid.build(need, dt, band=band)  # long enough
    with pytest.raises(ValueError, match="too short") as info:
        WaveletGrid.build(need - 1, dt, band=band)
    assert re.search(rf"at least {need} samples \({need * dt:g} s\)", str(info.value))
    with pytest.raises(ValueError, match=rf"too short.*at least {need} samples"):
        band_coherence(series(0, 1000, 2), series(1, 1000, 2), dt, band=band)
    # a fixed j1 makes the band unreachable at any length; a fixed max_scale does not
    with pytest.raises(ValueError, match="no recording length suffices"):
        WaveletGrid.build(5000, dt, band=band, j1=60)
    need_ms = min_samples_for_band(dt, band, max_scale=100.0)
    assert need_ms < need  # only the cone of influence limits it now
    with pytest.raises(ValueError, match=rf"outside the cone of influence.*at least {need_ms} "):
        WaveletGrid.build(need_ms - 1, dt, band=band, max_scale=100.0)
    WaveletGrid.build(need_ms, dt, band=band, max_scale=100.0)


def test_band_outside_grid_and_bad_options():
    with pytest.raises(ValueError, match="lies below the wavelet grid's periods"):
        WaveletGrid.build(600, 0.1, band=(0.01, 0.1))
    with pytest.raises(ValueError, match="shortest period"):
        WaveletGrid.build(600, 0.1, band=(0.05, 5.0))
    with pytest.raises(ValueError, match="increase max_scale/j1"):
        WaveletGrid.build(600, 0.1, band=(2.0, 8.0), max_scale=3.0)
    with pytest.raises(ValueError, match="band must be"):
        WaveletGrid.build(600, 0.1, band=(8.0, 2.0))
    with pytest.raises(ValueError, match="not both"):
        wtc(series(0, 300), series(1, 300), 0.1, j1=10, max_scale=5.0)
    with pytest.raises(ValueError, match="dt must be a positive"):
        wtc(series(0, 300), series(1, 300), 0.0)
    with pytest.raises(ValueError, match="homologous pairs need the same number"):
        band_coherence(series(0, 600, 2), series(1, 600, 3), 0.1, band=(2, 8))
    with pytest.raises(ValueError, match="out of range"):
        band_coherence(series(0, 600, 2), series(1, 600, 3), 0.1, band=(2, 8),
                       pairs=[(0, 3)])
    with pytest.raises(ValueError, match="pairs must be"):
        band_coherence(series(0, 600, 2), series(1, 600, 2), 0.1, band=(2, 8),
                       pairs="diagonal")
