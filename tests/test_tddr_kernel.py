"""The compiled TDDR loops reproduce numpy's reductions and MNE's TDDR bitwise.

:mod:`interbrain.preprocessing.tddr` fuses MNE's passes into numba loops; every value
must stay bitwise MNE's. These tests compare numpy's pairwise ``np.sum`` and
``np.median`` with the loops' versions on random and adversarial inputs (all block
sizes of numpy's pairwise summation, cancellation, ties, zeros, huge ranges), and the
whole :func:`~interbrain.preprocessing.tddr.tddr` with MNE's ``_TDDR`` on series with
motion spikes, baseline shifts, constant and NaN rows, short series and odd and even
lengths; and that the loops still compile where numba cannot write its cache.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from mne.preprocessing.nirs._tddr import _TDDR

from interbrain._compiled import jit
from interbrain.preprocessing.tddr import pairwise_sum, select_median, tddr


def _same(a, b) -> bool:
    """Bitwise equality of two floats or arrays (signed zeros and NaN included)."""
    return np.asarray(a, float).tobytes() == np.asarray(b, float).tobytes()


def _adversarial(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    scale = 10.0 ** rng.uniform(-8, 8)
    x = rng.standard_normal(n) * scale
    big = x.copy()
    big[::7] *= 1e12                          # cancellation between far magnitudes
    alternating = np.where(np.arange(n) % 2 == 0, 1.0, -1.0) * (1 + 1e-16 * np.arange(n))
    ties = rng.integers(0, 3, n).astype(float) * 0.1
    return [x, big, alternating, ties, np.zeros(n), -np.zeros(n),
            np.full(n, 1 / 3), rng.standard_cauchy(n)]


@pytest.mark.parametrize("seed", [0, 1])
def test_pairwise_sum_is_numpys_sum_bitwise(seed):
    rng = np.random.default_rng(seed)
    sizes = list(range(0, 300)) + [1023, 1024, 1025, 4096 + 7, 29_999, 30_000]
    for n in sizes:
        for x in _adversarial(rng, n):
            assert _same(pairwise_sum(x), np.sum(x)), n
            if n:
                assert _same(pairwise_sum(x) / n, np.mean(x)), n


@pytest.mark.parametrize("seed", [0, 1])
def test_select_median_is_numpys_median_bitwise(seed):
    rng = np.random.default_rng(seed)
    for n in list(range(1, 160)) + [999, 1000, 5001, 5002]:
        for x in _adversarial(rng, n):
            assert _same(select_median(x), np.median(x)), n
            assert _same(select_median(np.abs(x)), np.median(np.abs(x))), n
    sorted_up = np.arange(4000.0)            # sorted, reversed, organ pipe: pivots
    for x in (sorted_up, sorted_up[::-1].copy(),
              np.concatenate([sorted_up, sorted_up[::-1]])):
        assert _same(select_median(x), np.median(x))


def _mne(x: np.ndarray, sfreq: float) -> np.ndarray:
    return np.array([_TDDR(row, sfreq) for row in x])


@pytest.mark.parametrize("n_times", [3, 4, 5, 8, 9, 130, 257, 1999, 2000, 2001, 6000, 6001])
def test_tddr_equals_mne_for_all_lengths(n_times):
    """Odd and even numbers of derivatives, below and above the sampled first median
    (2000) and numpy's pairwise blocks (8, 128)."""
    rng = np.random.default_rng(n_times)
    x = np.cumsum(rng.standard_normal((3, n_times)), axis=1) * 1e-3
    for sfreq in (10.0, 7.81):
        assert _same(tddr(x, sfreq), _mne(x, sfreq))


def test_tddr_equals_mne_on_artefacts_and_edge_rows():
    """Motion spikes, baseline shifts, a constant row (zero robust deviation), a
    quantised row (many equal residuals), a NaN row and an infinite row (MNE's own
    function), a huge row (MNE's function: no overflow in the compiled loop) and a
    rate without the low-pass (Fc >= 1)."""
    rng = np.random.default_rng(5)
    n = 3001
    x = np.cumsum(rng.standard_normal((9, n)), axis=1) * 1e-3 + 2.0
    x[0, rng.integers(0, n, 30)] += rng.choice([-1, 1], 30) * 0.5   # spikes
    x[1, 1000:] += 0.8                                               # shift
    x[1, 2000:2050] += np.linspace(0, 2, 50)                         # slow artefact
    x[2] = 0.25                                                      # constant
    x[3] = np.round(x[3], 2)                                         # ties
    x[4, 17] = np.nan
    x[5, -1] = np.inf
    x[6] *= 1e120
    x[7, ::2] += 1e-3                                                # alternating
    x[8] = np.sin(np.arange(n) / 3.0)                                # periodic
    for sfreq in (10.0, 1.0, 0.5):
        with np.errstate(all="ignore"):
            want, got = _mne(x, sfreq), tddr(x, sfreq)
        assert _same(got, want), sfreq


def test_tddr_equals_mne_on_random_series():
    """Many random series: random-walk, heavy-tailed and spiky derivatives, scales from
    1e-6 to 1e3, rates from 1 to 50 Hz, lengths from 3 to 4000."""
    rng = np.random.default_rng(8)
    for _ in range(60):
        n = int(rng.integers(3, 4000))
        sfreq = float(rng.choice([1.0, 7.8125, 10.0, 50.0]))
        steps = rng.standard_t(float(rng.choice([1.5, 3.0, 30.0])), (2, n))
        x = np.cumsum(steps, axis=1) * 10.0 ** rng.uniform(-6, 3)
        assert _same(tddr(x, sfreq), _mne(x, sfreq)), (n, sfreq)


def test_tddr_equals_mne_across_extreme_scales():
    """Residuals near the smallest doubles next to jumps of 1e20 (ratios that overflow
    to inf in the biweight, where numpy's ``(1 - r**2) * (r < 1)`` is NaN)."""
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.standard_normal((3, 3000)), axis=1) * 1e-290
    x[0, 1500:] += 1e20
    x[1, ::500] += 1e25
    x[2, 7] = 5e-324
    with np.errstate(all="ignore"):
        want, got = _mne(x, 10.0), tddr(x, 10.0)
    assert _same(got, want)


def test_tddr_one_dimensional_and_empty_input():
    rng = np.random.default_rng(2)
    x = np.cumsum(rng.standard_normal(500))
    assert _same(tddr(x, 10.0), _mne(x[None], 10.0))
    assert tddr(np.empty((0, 100)), 10.0).shape == (0, 100)
    assert _same(tddr(np.ones((2, 2)), 10.0), _mne(np.ones((2, 2)), 10.0))


def test_jit_compiles_without_a_cache_location(monkeypatch):
    """Where numba finds no writable cache location (a read-only install without a
    home directory) it refuses ``cache=True``; :func:`jit` then compiles in memory."""
    from numba.core import caching

    def twice(x):
        return 2.0 * x

    with pytest.raises(RuntimeError):   # what numba does without a locator
        monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
        numba.njit(cache=True)(twice)
    compiled = jit(twice)
    assert compiled(1.5) == 3.0
    assert compiled._cache.__class__.__name__ == "NullCache"   # not cached
