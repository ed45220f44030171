"""Synchrony metrics besides wavelet coherence: Pearson, AR-prewhitened robust r, PLV."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import lfilter

from interbrain.synchrony.metrics import (AR_MAX_ORDER_SECONDS, METRICS, TUKEY_C,
                                          ARRobustCorrelation, ar_prewhiten,
                                          ar_robust_correlation, compute_metric,
                                          pearson_correlation, phase_locking_value,
                                          robust_correlation, window_starts)
from interbrain.synchrony.metrics.prewhitening import lagged_gram

DT = 0.1  # 10 Hz, a typical fNIRS sampling rate


def _noise(seed: int, shape: tuple[int, int]) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def _ar1(rng: np.random.Generator, phi: float, shape: tuple[int, int]) -> np.ndarray:
    burn = 200
    e = rng.standard_normal((shape[0], shape[1] + burn))
    return lfilter([1.0], [1.0, -phi], e, axis=-1)[:, burn:]


# ---------------------------------------------------------------------------
# hand-checkable cases
# ---------------------------------------------------------------------------

def test_identical_signals_give_one():
    x = _noise(0, (3, 2000))
    assert np.allclose(pearson_correlation(x, x, DT), 1.0)
    assert np.allclose(phase_locking_value(x, x, DT, band=(2.0, 10.0)), 1.0)
    res = ar_robust_correlation(x, x, DT)
    assert np.allclose(res.r, 1.0)
    assert np.all(np.isinf(res.z))


def test_sign_flip_gives_minus_one():
    x = _noise(1, (2, 1500))
    assert np.allclose(pearson_correlation(x, -2.5 * x + 7.0, DT), -1.0)
    assert np.allclose(ar_robust_correlation(x, -x, DT).r, -1.0)
    assert np.allclose(robust_correlation(x, -x), -1.0)


def test_independent_white_noise_is_small():
    n = 6000
    a, b = _noise(2, (20, n)), _noise(3, (20, n))
    r = pearson_correlation(a, b, DT)
    assert np.all(np.abs(r) < 4 / np.sqrt(n))
    r_ar = ar_robust_correlation(a, b, DT).r
    assert np.all(np.abs(r_ar) < 4 / np.sqrt(n))
    # band 0.5-2 s: about 1.5 Hz x 600 s = 900 independent phases, PLV ~ sqrt(pi/4/900)
    plv = phase_locking_value(a, b, DT, band=(0.5, 2.0))
    assert np.all(plv < 0.1)
    assert plv.mean() < 0.05


def test_sine_and_delayed_copy():
    t = np.arange(6000) * DT                       # 600 s = 120 periods of 5 s
    lag = np.pi / 3
    a = np.sin(2 * np.pi * t / 5.0)[None]
    b = np.sin(2 * np.pi * t / 5.0 - lag)[None]
    assert pearson_correlation(a, b, DT)[0] == pytest.approx(np.cos(lag), abs=1e-9)
    assert phase_locking_value(a, b, DT, band=(3.0, 8.0))[0] > 0.995
    # away from the filter's and Hilbert transform's edges the phase lag is exact
    plv_w = phase_locking_value(a, b, DT, band=(3.0, 8.0), window=60.0)
    assert plv_w.shape == (1, 10)
    assert np.allclose(plv_w[0, 1:-1], 1.0, atol=1e-4)


def test_robust_correlation_resists_a_spike():
    rng = np.random.default_rng(4)
    n = 2000
    common = rng.standard_normal(n)
    a = (common + rng.standard_normal(n))[None]
    b = (common + rng.standard_normal(n))[None]       # true r = 0.5
    spiked = a.copy()
    spiked[0, n // 2] += 1000.0
    clean_p = pearson_correlation(a, b, DT)[0]
    assert abs(pearson_correlation(spiked, b, DT)[0] - clean_p) > 0.3
    assert robust_correlation(spiked, b)[0] == pytest.approx(robust_correlation(a, b)[0],
                                                             abs=0.01)
    assert robust_correlation(a, b)[0] == pytest.approx(clean_p, abs=0.03)
    ar_clean = ar_robust_correlation(a, b, DT).r[0]
    ar_spiked = ar_robust_correlation(spiked, b, DT)
    assert ar_spiked.r[0] == pytest.approx(ar_clean, abs=0.02)
    assert ar_spiked.n[0] < n                          # the spike was screened out


def test_prewhitening_controls_false_positives():
    """Santosa et al. 2017: serial correlation inflates the null spread of r; AR
    prewhitening brings it back to 1/sqrt(n - 3)."""
    rng = np.random.default_rng(5)
    reps, n = 200, 1000
    a, b = _ar1(rng, 0.9, (reps, n)), _ar1(rng, 0.9, (reps, n))
    res = ar_robust_correlation(a, b, DT)              # 200 independent pairs at once
    nominal = 1 / np.sqrt(n - 3)
    sd_white = res.z.std()
    sd_raw = pearson_correlation(a, b, DT, fisher_z=True).std()
    assert 0.8 * nominal < sd_white < 1.2 * nominal
    assert sd_raw > 2.0 * nominal                      # theory: sqrt(1.81/0.19) = 3.1
    assert sd_white < 0.5 * sd_raw
    assert np.mean(res.order_a == 1) > 0.8
    # false-positive rate of a nominal 5 % two-sided test on z
    assert np.mean(np.abs(res.z) / nominal > 1.96) < 0.12


def test_ar_order_selection_recovers_ar2():
    rng = np.random.default_rng(6)
    e = rng.standard_normal((100, 1300))
    x = lfilter([1.0], [1.0, -1.2, 0.5], e, axis=-1)[:, 300:]
    fit = ar_prewhiten(x, 40)
    assert np.mean(fit.order == 2) > 0.8
    good = fit.order == 2
    assert np.allclose(fit.coefficients[good, :2].mean(axis=0), [1.2, -0.5], atol=0.02)
    assert np.all(fit.coefficients[np.arange(40)[None, :] >= fit.order[:, None]] == 0)
    assert fit.valid.sum(axis=1).tolist() == (1000 - fit.order).tolist()


def test_ar_fit_is_forward_backward_least_squares():
    rng = np.random.default_rng(7)
    x = lfilter([1.0], [1.0, -0.7], rng.standard_normal((1, 400)), axis=-1)
    p = 6
    y = x - x.mean()
    # the Gram matrix without the lag matrix equals the explicit one
    lags = sliding_window_view(y, p + 1, axis=-1)[:, :, ::-1]
    assert np.allclose(lagged_gram(y, p), np.einsum("cti,ctj->cij", lags, lags))
    fit = ar_prewhiten(x, p)
    k = int(fit.order[0])
    assert k >= 1
    yy, n = y[0], y.shape[1]
    fwd = np.column_stack([yy[p - i:n - i] for i in range(1, k + 1)])
    rev = yy[::-1]
    bwd = np.column_stack([rev[p - i:n - i] for i in range(1, k + 1)])
    coef = np.linalg.lstsq(np.vstack([fwd, bwd]), np.concatenate([yy[p:], rev[p:]]),
                           rcond=None)[0]
    assert np.allclose(fit.coefficients[0, :k], coef)
    assert np.allclose(fit.innovations[0], lfilter(np.r_[1.0, -fit.coefficients[0]], 1.0, yy))


def test_ar_default_max_order_is_four_seconds():
    x = _noise(8, (2, 600))
    assert AR_MAX_ORDER_SECONDS == 4.0
    assert ar_robust_correlation(x, x, DT).max_order == 40
    assert ar_robust_correlation(x, x, 0.25).max_order == 16
    assert ar_robust_correlation(x, x, DT, max_order_s=2.0).max_order == 20
    assert ar_robust_correlation(x, x, DT, max_order=5).max_order == 5
    res = ar_robust_correlation(x, x[::-1], DT, robust=False)
    assert isinstance(res, ARRobustCorrelation) and res.r.shape == (2,)


# ---------------------------------------------------------------------------
# windows and pairs
# ---------------------------------------------------------------------------

def test_windowed_pearson_equals_corrcoef_per_window():
    a, b = _noise(9, (2, 1003)), _noise(10, (3, 1003))
    a[0] += np.linspace(0, 50, 1003)                  # drift: windows use their own means
    window, step = 20.0, 7.5                           # 200 and 75 samples
    r = pearson_correlation(a, b, DT, pairs=[(0, 2), (1, 0)], window=window, step=step)
    starts = window_starts(1003, DT, window, step)
    assert r.shape == (2, len(starts)) == (2, 11)
    assert np.allclose(starts, np.arange(11) * 7.5)
    for k, t0 in enumerate(starts):
        s = int(round(t0 / DT))
        assert r[0, k] == pytest.approx(np.corrcoef(a[0, s:s + 200], b[2, s:s + 200])[0, 1])
        assert r[1, k] == pytest.approx(np.corrcoef(a[1, s:s + 200], b[0, s:s + 200])[0, 1])
    z = pearson_correlation(a, b, DT, pairs=[(0, 2), (1, 0)], window=window, step=step,
                            fisher_z=True)
    assert np.allclose(z, np.arctanh(r))
    # one window over the whole recording is the whole-recording value
    whole = pearson_correlation(a, b, DT, pairs="all")
    assert np.allclose(pearson_correlation(a, b, DT, pairs="all", window=100.3)[:, 0], whole)
    assert window_starts(1003, DT, 20.0).tolist() == pytest.approx([0, 20, 40, 60, 80])


def test_windowed_plv():
    a, b = _noise(11, (2, 3000)), _noise(12, (2, 3000))
    plv = phase_locking_value(a, b, DT, band=(1.0, 4.0), window=30.0, step=10.0)
    assert plv.shape == (2, len(window_starts(3000, DT, 30.0, 10.0))) == (2, 28)
    assert np.all((plv >= 0) & (plv <= 1))
    whole = phase_locking_value(a, b, DT, band=(1.0, 4.0))
    assert np.allclose(phase_locking_value(a, b, DT, band=(1.0, 4.0), window=300.0)[:, 0],
                       whole)


def test_pair_specifications_and_order():
    a, b = _noise(13, (3, 500)), _noise(14, (4, 500))
    b[1] = a[0] + 0.1 * b[1]
    full = pearson_correlation(a, b, DT, pairs="all")
    assert full.shape == (12,)
    expected = np.array([[np.corrcoef(a[i], b[j])[0, 1] for j in range(4)] for i in range(3)])
    assert np.allclose(full, expected.ravel())        # row-major: a's channel slowest
    chosen = [(2, 3), (0, 1), (0, 1), (1, 0)]
    assert np.allclose(pearson_correlation(a, b, DT, pairs=chosen),
                       expected[tuple(np.array(chosen).T)])
    assert pearson_correlation(a, b, DT, pairs=[]).shape == (0,)
    sq = b[:3]
    assert np.allclose(pearson_correlation(a, sq, DT),
                       np.diag(pearson_correlation(a, sq, DT, pairs="all").reshape(3, 3)))
    for metric, opts in [("plv", {"band": (1.0, 5.0)}), ("ar_robust_correlation", {})]:
        all_v = compute_metric(metric, a, b, DT, pairs="all", **opts).reshape(3, 4)
        some = compute_metric(metric, a, b, DT, pairs=chosen, **opts)
        assert np.allclose(some, all_v[tuple(np.array(chosen).T)])


def test_compute_metric_dispatches():
    a, b = _noise(15, (2, 800)), _noise(16, (2, 800))
    assert METRICS == ("pearson", "ar_robust_correlation", "plv")
    assert np.array_equal(compute_metric("pearson", a, b, DT, fisher_z=True),
                          pearson_correlation(a, b, DT, fisher_z=True))
    res = ar_robust_correlation(a, b, DT, pairs="all", max_order=10)
    assert np.array_equal(compute_metric("ar_robust_correlation", a, b, DT, pairs="all",
                                         max_order=10), res.r)
    assert np.array_equal(compute_metric("ar_robust_correlation", a, b, DT, pairs="all",
                                         max_order=10, fisher_z=True), res.z)
    assert np.array_equal(compute_metric("plv", a, b, DT, band=(1, 5), window=20.0),
                          phase_locking_value(a, b, DT, band=(1, 5), window=20.0))
    assert TUKEY_C == 4.685


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda a, b: pearson_correlation(a, b[:, :-1], DT), "same number of samples"),
    (lambda a, b: pearson_correlation(a[0], b, DT), "2-D"),
    (lambda a, b: pearson_correlation(a, b, 0.0), "dt"),
    (lambda a, b: pearson_correlation(a, b, DT, window=60.0), "longer than the recording"),
    (lambda a, b: pearson_correlation(a, b, DT, window=5.0, step=0), "step"),
    (lambda a, b: pearson_correlation(a, b, DT, window=0.1), "at least 3 samples"),
    (lambda a, b: pearson_correlation(a, b, DT, pairs=[(0, 5)]), r"pair 0 \(0, 5\)"),
    (lambda a, b: pearson_correlation(a, b, DT, pairs=[(0, 1), (-1, 0)]), "out of range"),
    (lambda a, b: pearson_correlation(a, b, DT, pairs=[(0.0, 1.0)]), "integer"),
    (lambda a, b: pearson_correlation(a, b, DT, pairs="diagonal"), "homologous"),
    (lambda a, b: pearson_correlation(a, b[:1], DT), "same number of channels"),
    (lambda a, b: pearson_correlation(a, np.ones_like(b), DT), "constant"),
    (lambda a, b: phase_locking_value(a, b, DT, band=(0.15, 2.0)), "Nyquist"),
    (lambda a, b: phase_locking_value(a, b, DT, band=(2.0, 1.0)), "shortest < longest"),
    (lambda a, b: phase_locking_value(a, b, DT, band=(1.0, 100.0)), "longer than the rec"),
    (lambda a, b: phase_locking_value(a, b, DT, band=(1.0, 5.0), filter_order=0),
     "filter_order"),
    (lambda a, b: phase_locking_value(a, b, DT, band=(1.0, 5.0), window=31.0), "window"),
    (lambda a, b: ar_robust_correlation(a, b, DT, max_order=2, max_order_s=1.0), "either"),
    (lambda a, b: ar_robust_correlation(a, b, DT, max_order=-1), "max_order"),
    (lambda a, b: ar_robust_correlation(a, b, DT, max_order_s=20.0), "at least 603 samples"),
    (lambda a, b: compute_metric("granger", a, b, DT), "unknown synchrony metric"),
    (lambda a, b: compute_metric("pearson", a, b, DT, band=(1, 2)), "unknown option"),
    (lambda a, b: compute_metric("plv", a, b, DT), "needs option"),
])
def test_errors(call, message):
    a, b = _noise(17, (2, 300)), _noise(18, (2, 300))
    with pytest.raises(ValueError, match=message):
        call(a, b)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_rejected(bad):
    a, b = _noise(19, (2, 300)), _noise(20, (2, 300))
    b[1, 42] = bad
    for fn in (lambda: pearson_correlation(a, b, DT),
               lambda: ar_robust_correlation(a, b, DT, max_order=5),
               lambda: phase_locking_value(a, b, DT, band=(1.0, 5.0))):
        with pytest.raises(ValueError, match="b contains NaN or infinite.*channel 1 at "
                                             "sample 42"):
            fn()


def test_window_starts_errors():
    with pytest.raises(ValueError, match="longer than the recording"):
        window_starts(100, DT, 10.1)
    with pytest.raises(ValueError, match="window"):
        window_starts(100, DT, -1.0)


# ---------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------

_settings = settings(max_examples=15, deadline=None)


@_settings
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(60, 400),
       coupling=st.floats(-1.0, 1.0))
def test_metrics_are_symmetric(seed, n, coupling):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((2, n))
    b = coupling * a[::-1] + rng.standard_normal((2, n))
    assert np.allclose(pearson_correlation(a, b, DT, pairs="all"),
                       pearson_correlation(b, a, DT, pairs="all").reshape(2, 2).T.ravel())
    band = (0.5, 3.0)
    assert np.allclose(phase_locking_value(a, b, DT, band=band),
                       phase_locking_value(b, a, DT, band=band))
    assert np.allclose(ar_robust_correlation(a, b, DT, max_order=3).r,
                       ar_robust_correlation(b, a, DT, max_order=3).r)


@_settings
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-3, 1e3),
       offset=st.floats(-1e3, 1e3), window=st.sampled_from([None, 8.0]))
def test_metrics_are_invariant_to_positive_scaling_and_offset(seed, scale, offset, window):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((2, 300))
    b = 0.5 * a + rng.standard_normal((2, 300))
    a2 = scale * a + offset
    assert np.allclose(pearson_correlation(a2, b, DT, window=window),
                       pearson_correlation(a, b, DT, window=window), atol=1e-9)
    assert np.allclose(phase_locking_value(a2, b, DT, band=(0.5, 3.0), window=window),
                       phase_locking_value(a, b, DT, band=(0.5, 3.0), window=window),
                       atol=1e-9)
    assert np.allclose(ar_robust_correlation(a2, b, DT, max_order=3).r,
                       ar_robust_correlation(a, b, DT, max_order=3).r, atol=1e-7)
