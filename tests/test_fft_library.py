"""The optional ducc0 FFT library computes what scipy.fft computes, behind the same API."""

from __future__ import annotations

import importlib
import importlib.util

import numpy as np
import pytest

from interbrain.synchrony import (WaveletGrid, band_mean_coherence, channel_spectra,
                                  pair_coherence)
from interbrain.synchrony.settings import AnalysisSettings
from interbrain.synchrony.wavelet.fft import FFT_LIBRARIES, FFTLibrary, fft_library

if importlib.util.find_spec("ducc0") is None:  # pragma: no cover - the test extra has it
    pytest.fail("ducc0 is missing: install the test extra with "
                "`.venv/bin/python -m pip install -e '.[test]'` (or `make test`)",
                pytrace=False)

SCIPY, DUCC = FFTLibrary("scipy"), fft_library("ducc0")


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 0.0)])
@pytest.mark.parametrize("n", [None, 96, 100, 140])
def test_transforms_equal_scipy(dtype, tol, n):
    """Double precision by ducc0 to round-off; single precision is scipy's, bitwise."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 100)).astype(dtype)
    z = (x + 1j * rng.standard_normal(x.shape)).astype(np.result_type(dtype, np.complex64))
    m = 128 if n is None else n
    cases = [("fft", z, {"n": n}), ("ifft", z, {"n": n}), ("rfft", x, {"n": n}),
             ("irfft", SCIPY.rfft(x, n=m), {"n": m})]
    for name, arg, kw in cases:
        want = getattr(SCIPY, name)(arg, **kw)
        got = getattr(DUCC, name)(arg.copy(), **kw)
        assert got.shape == want.shape and got.dtype == want.dtype, name
        scale = np.abs(want).max()
        assert np.abs(got - want).max() <= tol * scale, name


def test_overwrite_reuses_the_input_and_keeps_it_otherwise():
    z = np.exp(1j * np.arange(64.0))[None, :].repeat(2, 0)
    kept = z.copy()
    out = DUCC.fft(z)
    assert np.array_equal(z, kept) and not np.shares_memory(out, z)
    out = DUCC.ifft(z, overwrite_x=True)
    assert np.shares_memory(out, z)
    np.testing.assert_allclose(out, SCIPY.ifft(kept), atol=1e-15)


@pytest.fixture(scope="module")
def partners():
    rng = np.random.default_rng(11)
    n = 1200
    common = np.cumsum(rng.standard_normal(n)) * 0.05
    a = rng.standard_normal((3, n)) + common
    b = rng.standard_normal((3, n)) + 0.8 * common
    return a, b


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-13), ("float32", 0.0),
                                        ("fast", 0.0)])
@pytest.mark.parametrize("exclude_coi", [True, False])
def test_band_means_equal_scipy(partners, dtype, tol, exclude_coi):
    a, b = partners
    out = {}
    for fft in FFT_LIBRARIES:
        grid = WaveletGrid.build(a.shape[1], 0.1, band=(2.0, 8.0), dtype=dtype, fft=fft)
        sa, sb = channel_spectra(a, grid), channel_spectra(b, grid)
        out[fft] = band_mean_coherence(sa, sb, "all", exclude_coi=exclude_coi)
    assert np.all(np.isfinite(out["scipy"]))
    assert np.abs(out["ducc0"] - out["scipy"]).max() <= tol


def test_maps_equal_scipy(partners):
    a, b = partners
    maps = {}
    for fft in FFT_LIBRARIES:
        grid = WaveletGrid.build(a.shape[1], 0.1, band=(2.0, 8.0), fft=fft)
        maps[fft] = pair_coherence(channel_spectra(a, grid), channel_spectra(b, grid),
                                   [(0, 1), (2, 2)])
    assert np.abs(maps["ducc0"] - maps["scipy"]).max() <= 1e-13


def test_grids_of_two_libraries_do_not_mix(partners):
    a, b = partners
    g1 = WaveletGrid.build(a.shape[1], 0.1, band=(2.0, 8.0))
    g2 = WaveletGrid.build(a.shape[1], 0.1, band=(2.0, 8.0), fft="ducc0")
    assert g1.key != g2.key
    assert g1.key == WaveletGrid.build(a.shape[1], 0.1, band=(2.0, 8.0), fft="scipy").key
    for dtype in ("float32", "fast"):   # single precision: scipy either way, one key
        assert (WaveletGrid.build(a.shape[1], 0.1, band=(2.0, 8.0), dtype=dtype, fft="ducc0").key
                == WaveletGrid.build(a.shape[1], 0.1, band=(2.0, 8.0), dtype=dtype).key)
    with pytest.raises(ValueError, match="different wavelet grids"):
        band_mean_coherence(channel_spectra(a, g1), channel_spectra(b, g2), "all")


def test_unknown_or_missing_library_is_one_clear_message(monkeypatch):
    with pytest.raises(ValueError, match=r"fft must be one of \['scipy', 'ducc0'\], got 'fftw'"):
        WaveletGrid.build(1000, 0.1, band=(2.0, 8.0), fft="fftw")
    real = importlib.import_module

    def no_ducc0(name, *args):
        if name == "ducc0":
            raise ImportError("No module named 'ducc0'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_ducc0)
    with pytest.raises(ValueError, match=r"pip install 'interbrain\[ducc0\]'"):
        WaveletGrid.build(1000, 0.1, band=(2.0, 8.0), fft="ducc0")
    from interbrain.errors import StudyError
    with pytest.raises(StudyError, match=r"study.toml: \[analysis\].*field 'fft' = 'ducc0' "
                                         r"needs the ducc0 package"):
        AnalysisSettings.from_table({"fft": "ducc0"}, "study.toml: [analysis]")


def test_setting_reaches_the_session_grid():
    from interbrain.synchrony.session import _SignalState
    settings = AnalysisSettings.from_table({"fft": "ducc0", "band": [2.0, 8.0]}, "t")
    assert settings.fft == "ducc0"
    grid = _SignalState("hbo", settings).grid(1200, 0.1, "a recording")
    assert grid.fft == "ducc0" and grid.fft_lib == DUCC
    assert AnalysisSettings().fft == "scipy"
    from interbrain.errors import StudyError
    with pytest.raises(StudyError, match="t: field 'fft' must be a string, got 3"):
        AnalysisSettings.from_table({"fft": 3}, "t")
