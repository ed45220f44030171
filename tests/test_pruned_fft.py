"""Pruned smoothing FFTs: the same transforms as the full FFTs, rearranged."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from interbrain.synchrony import (WaveletGrid, band_mean_coherence, channel_spectra,
                                  pair_coherence)
from interbrain.synchrony import coherence
from interbrain.synchrony.wavelet.pruned import (MAX_COLUMNS, PrunedRows,
                                                 pruned_forward_combine,
                                                 pruned_inverse_scatter,
                                                 pruned_inverse_scatter_positive,
                                                 pruned_length, pruned_pair_plan)


@pytest.mark.parametrize("n_bins, m", [(1, 64), (2, 64), (3, 64), (5, 64), (17, 64),
                                       (33, 64), (40, 4096), (300, 4096), (3, 65536)])
@pytest.mark.parametrize("positive", [False, True])
def test_length_holds_the_bins(n_bins, m, positive):
    M = pruned_length(n_bins, m, positive=positive)
    need = n_bins if positive else 2 * n_bins - 1
    assert M & (M - 1) == 0 and m % M == 0
    assert M >= min(need, m) and m // M <= MAX_COLUMNS
    assert M == 1 or M // 2 < max(need, m // MAX_COLUMNS)    # the smallest such


@pytest.mark.parametrize("dtype, tol", [(np.complex128, 1e-14), (np.complex64, 2e-6)])
@pytest.mark.parametrize("n_bins, m", [(1, 256), (3, 256), (64, 256), (128, 256),
                                       (300, 1024), (40, 65536)])
def test_one_sided_inverse_equals_the_full_fft(dtype, tol, n_bins, m):
    rng = np.random.default_rng(n_bins)
    G, q = 1, 3
    pr = PrunedRows.build(0, q, n_bins, m, dtype, positive=True)
    assert pr.M >= n_bins
    Y = np.zeros((G, q, n_bins + 2), dtype=dtype)
    Y[..., :n_bins] = (rng.standard_normal((G, q, n_bins))
                       + 1j * rng.standard_normal((G, q, n_bins)))
    Y[..., n_bins:] = 99.0   # beyond n_bins: must not leak in
    spec = np.zeros((G, q, m), dtype=np.complex128)
    spec[..., :n_bins] = Y[..., :n_bins]
    want = np.fft.ifft(spec, axis=-1)
    B = np.full((G, q, pr.M, pr.L), np.nan, dtype=dtype)
    pruned_inverse_scatter_positive(Y, pr.twiddles, n_bins, B)
    got = np.fft.ifft(B.astype(np.complex128), axis=2).reshape(G, q, m)
    assert np.abs(got - want).max() <= tol * np.abs(want).max()


@pytest.mark.parametrize("dtype, tol", [(np.complex128, 1e-14), (np.complex64, 2e-6)])
@pytest.mark.parametrize("n_bins, m", [(1, 256), (3, 256), (40, 256), (64, 256),
                                       (100, 1024)])
def test_forward_and_inverse_equal_the_full_ffts(dtype, tol, n_bins, m):
    rng = np.random.default_rng(n_bins)
    G, q = 2, 3
    x = (rng.standard_normal((G, q, m)) + 1j * rng.standard_normal((G, q, m))).astype(dtype)
    pr = PrunedRows.build(0, q, n_bins, m, dtype)
    full = np.fft.fft(x.astype(np.complex128), axis=-1)
    Z = np.full((G, q + 1, 2, n_bins + 2), 7.0 + 7.0j, dtype=dtype)
    F = np.fft.fft(x.reshape(G, q, pr.M, pr.L), axis=2).astype(dtype)
    pruned_forward_combine(F, pr.twiddles, n_bins, Z, 1)
    scale = np.abs(full).max()
    j = np.arange(n_bins)
    assert np.abs(Z[:, 1:, 0, :n_bins] - full[..., j]).max() <= tol * scale
    if n_bins > 1:
        assert np.abs(Z[:, 1:, 1, 1:n_bins] - full[..., (m - j[1:]) % m]).max() <= tol * scale
    assert np.all(Z[:, 0] == 7.0 + 7.0j) and np.all(Z[:, 1:, 1, 0] == 7.0 + 7.0j)
    assert np.all(Z[:, 1:, :, n_bins:] == 7.0 + 7.0j)      # nothing else written

    Y = np.zeros((G, q, 2, n_bins + 1), dtype=dtype)
    Y[..., :n_bins] = (rng.standard_normal((G, q, 2, n_bins))
                       + 1j * rng.standard_normal((G, q, 2, n_bins)))
    Y[..., 1, 0] = 99.0   # unused slot: must not leak in
    spec = np.zeros((G, q, m), dtype=np.complex128)
    spec[..., :n_bins] = Y[..., 0, :n_bins]
    if n_bins > 1:
        spec[..., m - n_bins + 1:] = Y[..., 1, n_bins - 1:0:-1]
    want = np.fft.ifft(spec, axis=-1)
    B = np.full((G, q, pr.M, pr.L), np.nan, dtype=dtype)
    pruned_inverse_scatter(Y, pr.twiddles, n_bins, B)
    got = np.fft.ifft(B.astype(np.complex128), axis=2).reshape(G, q, m)
    assert np.abs(got - want).max() <= tol * np.abs(want).max()


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-13), ("float32", 1e-6)])
def test_pair_kernel_equals_its_full_ffts(monkeypatch, dtype, tol):
    rng = np.random.default_rng(5)
    n = 3000                                    # 5 min at 10 Hz: splits of 8 to 128
    common = np.cumsum(rng.standard_normal(n)) * 0.05
    a = rng.standard_normal((3, n)) + common
    b = rng.standard_normal((2, n)) + 0.7 * common
    grid = WaveletGrid.build(n, 0.1, band=(2.0, 30.0), dtype=dtype)
    sa, sb = channel_spectra(a, grid), channel_spectra(b, grid)
    kern = coherence._PairKernel(sa, sb, grid, 2**22, 6)
    assert any(pr.L >= 8 for pr in kern.forward_sets)
    assert any(pr.L >= 8 for pr in kern.inverse_rows)
    reference = pruned_pair_plan(kern.plan, grid.complex_dtype, prune=False)
    assert all(pr.L == 1 for sets in reference for pr in sets)
    out = {}
    for mode in ("pruned", "full"):
        if mode == "full":
            monkeypatch.setattr(coherence, "pruned_pair_plan",
                                functools.partial(pruned_pair_plan, prune=False))
        out[mode] = (band_mean_coherence(sa, sb, "all", exclude_coi=True),
                     band_mean_coherence(sa, sb, "all", exclude_coi=False),
                     pair_coherence(sa, sb, [(0, 1), (2, 0)]))
    for got, want in zip(out["pruned"], out["full"]):
        assert np.all(np.isfinite(want))
        assert np.abs(got - want).max() <= tol


@pytest.mark.parametrize("pad", [True, False])
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-13), ("float32", 2e-6)])
def test_channel_transform_equals_the_full_inverse_fft(pad, dtype, tol):
    from interbrain.synchrony.wavelet.transform import ChannelTransform, cwt
    rng = np.random.default_rng(2)
    n = 2400
    x = rng.standard_normal((2, n))
    grid = WaveletGrid.build(n, 0.1, band=(2.0, 40.0), dtype=dtype, pad=pad)
    blocks = ChannelTransform(grid, np.empty((1, grid.n_rows, n), grid.complex_dtype),
                              None, 2**22).pruned
    assert any(pr is not None and pr.L >= 16 for _, _, pr in blocks) == pad
    xc = x - x.mean(axis=1, keepdims=True)
    f = np.fft.rfft(xc, n=grid.n_fft)
    spec = np.zeros((2, grid.n_rows, grid.n_fft), dtype=complex)
    spec[..., :f.shape[-1]] = f[:, None, :] * grid.daughter.astype(np.float64)
    want = np.fft.ifft(spec, axis=-1)[..., :n]
    got = cwt(x, grid)
    assert np.abs(got - want).max() <= tol * np.abs(want).max()
