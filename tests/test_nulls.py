"""Null controls: pseudo-dyads, surrogates of one partner, and dyad-level group tests."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.fft as sfft
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.signal import lfilter

from interbrain.nulls import (NULL_SUMMARY_COLUMNS, SURROGATE_COLUMNS, NullSettings,
                              circular_shift_surrogates, derive_seed, dyad_permutation_test,
                              dyad_permutation_tests, iter_circular_shift_surrogates,
                              iter_phase_randomised_surrogates, iter_surrogates, null_summary,
                              phase_randomised_surrogates, pseudo_dyad_pairings, real_pairings,
                              sign_flip_test, surrogate_synchrony)
from interbrain.preprocessing.settings import PreprocessingSettings
from interbrain.stats.real_vs_pseudo import real_vs_pseudo
from interbrain.study import AnalysisSettings, Dyad, RecordingRef, SessionRecordings, Study
from interbrain.synchrony import WaveletGrid, band_coherence, channel_spectra

DT = 0.5
BAND = (10.0, 40.0)


def red_noise(rng, shape, phi=0.9):
    return lfilter([1.0], [1.0, -phi], rng.standard_normal(shape), axis=-1)


def circular_xcorr(x):
    """Circular cross-correlation of every two channels at every lag."""
    f = sfft.rfft(x, axis=-1)
    return sfft.irfft(f[:, None, :] * f[None, :, :].conj(), n=x.shape[-1], axis=-1)


# --------------------------------------------------------------------------- surrogates

@pytest.mark.parametrize("n", [512, 513])
def test_phase_randomised_keeps_spectra_and_cross_channel_structure(n):
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((4, 4))
    x = mix @ red_noise(rng, (4, n)) + 3.0  # correlated channels with a mean
    surr = phase_randomised_surrogates(x, 5, rng=1)
    assert surr.shape == (5, 4, n) and surr.dtype == np.float64
    amp = np.abs(sfft.rfft(x, axis=-1))
    corr = np.corrcoef(x)
    xcorr = circular_xcorr(x)
    for s in surr:
        assert not np.allclose(s, x)
        # each channel's amplitude spectrum, hence mean and variance, exactly
        np.testing.assert_allclose(np.abs(sfft.rfft(s, axis=-1)), amp, rtol=0, atol=1e-10)
        np.testing.assert_allclose(s.mean(axis=1), x.mean(axis=1), atol=1e-12)
        np.testing.assert_allclose(s.var(axis=1), x.var(axis=1), rtol=1e-12)
        # same phase added to every channel: every cross-spectrum, hence the circular
        # cross-correlation at every lag and the zero-lag correlation matrix, exactly
        np.testing.assert_allclose(np.corrcoef(s), corr, rtol=0, atol=1e-10)
        np.testing.assert_allclose(circular_xcorr(s), xcorr, rtol=0, atol=1e-8)
        # DC (and Nyquist for even n) unchanged
        spec_s, spec_x = sfft.rfft(s, axis=-1), sfft.rfft(x, axis=-1)
        np.testing.assert_allclose(spec_s[:, 0], spec_x[:, 0], atol=1e-9)
        if n % 2 == 0:
            np.testing.assert_allclose(spec_s[:, -1], spec_x[:, -1], atol=1e-9)


def test_phase_randomised_changes_timing_and_lagged_linear_correlation():
    """Not kept: the phases themselves (timing), so the series are new ones."""
    rng = np.random.default_rng(3)
    x = red_noise(rng, (2, 1000))
    s = phase_randomised_surrogates(x, 1, rng=0)[0]
    r = np.corrcoef(x[0], s[0])[0, 1]
    assert abs(r) < 0.5


@settings(max_examples=25, deadline=None)
@given(n_ch=st.integers(1, 4), n=st.integers(3, 300), seed=st.integers(0, 2**32 - 1))
def test_phase_randomised_amplitude_property(n_ch, n, seed):
    x = np.random.default_rng(seed).standard_normal((n_ch, n))
    s = phase_randomised_surrogates(x, 2, rng=seed)
    np.testing.assert_allclose(np.abs(sfft.rfft(s, axis=-1)),
                               np.broadcast_to(np.abs(sfft.rfft(x, axis=-1)), (2, n_ch, n // 2 + 1)),
                               atol=1e-10)


def test_circular_shifts_are_permutations_respecting_min_shift():
    rng = np.random.default_rng(0)
    n, min_shift = 200, 30
    x = rng.standard_normal((3, n))
    surr = circular_shift_surrogates(x, 50, min_shift=min_shift, rng=2)
    assert surr.shape == (50, 3, n)
    shifts = []
    for s in surr:
        np.testing.assert_array_equal(np.sort(s, axis=1), np.sort(x, axis=1))
        # one shift, the same for every channel
        found = [k for k in range(n) if np.array_equal(np.roll(x, k, axis=1), s)]
        assert len(found) == 1
        shifts.append(found[0])
    shifts = np.array(shifts)
    assert shifts.min() >= min_shift and shifts.max() <= n - min_shift
    assert len(set(shifts)) > 10
    # at the limit n == 2 * min_shift the only shift is n / 2
    only = circular_shift_surrogates(x[:, :60], 3, min_shift=30, rng=0)
    for s in only:
        np.testing.assert_array_equal(s, np.roll(x[:, :60], 30, axis=1))
    # 1-D input: one channel
    assert circular_shift_surrogates(x[0], 4, min_shift=5, rng=0).shape == (4, n)


def test_surrogates_are_reproducible_and_streamable():
    x = np.random.default_rng(0).standard_normal((2, 128))
    for make, it, opts in ((circular_shift_surrogates, iter_circular_shift_surrogates,
                            {"min_shift": 10}),
                           (phase_randomised_surrogates, iter_phase_randomised_surrogates, {})):
        a = make(x, 6, rng=7, **opts)
        np.testing.assert_array_equal(a, make(x, 6, rng=7, **opts))
        np.testing.assert_array_equal(a, np.stack(list(it(x, 6, rng=7, **opts))))
        np.testing.assert_array_equal(a, make(x, 6, rng=np.random.default_rng(7), **opts))
        assert not np.array_equal(a, make(x, 6, rng=8, **opts))
    np.testing.assert_array_equal(
        np.stack(list(iter_surrogates(x, 3, kind="circular_shift", rng=1, min_shift=10))),
        circular_shift_surrogates(x, 3, min_shift=10, rng=1))


def test_surrogate_errors():
    x = np.zeros((2, 50))
    with pytest.raises(ValueError, match="too few samples"):
        circular_shift_surrogates(x, 3, min_shift=26)
    with pytest.raises(ValueError, match="min_shift"):
        circular_shift_surrogates(x, 3, min_shift=0)
    for bad in (0, -1, True, 2.0):
        with pytest.raises(ValueError, match="n_surrogates"):
            circular_shift_surrogates(x, bad, min_shift=5)
        with pytest.raises(ValueError, match="n_surrogates"):
            phase_randomised_surrogates(x, bad)
    with pytest.raises(ValueError, match="too few samples"):
        phase_randomised_surrogates(np.zeros((1, 2)), 3)
    with pytest.raises(ValueError, match="NaN"):
        phase_randomised_surrogates(np.array([[0.0, np.nan, 1.0, 2.0]]), 1)
    with pytest.raises(ValueError, match="unknown surrogate kind"):
        iter_surrogates(x, 3, kind="shuffle")
    a = np.zeros((2, 400))
    with pytest.raises(ValueError, match="unknown surrogate kind"):
        surrogate_synchrony(a, a, DT, band=BAND, kind="bootstrap")
    with pytest.raises(ValueError, match="n_surrogates"):
        surrogate_synchrony(a, a, DT, band=BAND, n_surrogates=0)
    with pytest.raises(ValueError, match="too few samples"):
        surrogate_synchrony(a, a, DT, band=BAND, min_shift_s=150.0)


@pytest.fixture(scope="module")
def coupled():
    rng = np.random.default_rng(1)
    a = red_noise(rng, (3, 1200))
    b = a + 0.3 * red_noise(rng, (3, 1200))
    independent = [band_coherence(a, red_noise(rng, (3, 1200)), DT, band=BAND).mean()
                   for _ in range(8)]
    return a, b, float(np.mean(independent))


@pytest.mark.parametrize("kind", ["circular_shift", "phase_randomised"])
def test_surrogate_synchrony_destroys_cross_person_coupling(coupled, kind):
    a, b, independent = coupled
    res = surrogate_synchrony(a, b, DT, band=BAND, kind=kind, n_surrogates=12, seed=0)
    assert res.null.shape == (12, 3) and res.real.shape == (3,)
    np.testing.assert_allclose(res.real, band_coherence(a, b, DT, band=BAND), rtol=1e-12)
    assert np.all(res.real > 0.85)
    # the null is that of independent signals, not of the coupled pair
    assert abs(res.null_mean.mean() - independent) < 0.06
    assert np.all(res.z > 5)
    np.testing.assert_allclose(res.real_minus_null, res.real - res.null.mean(axis=0))
    np.testing.assert_allclose(res.null_sd, res.null.std(axis=0, ddof=1))
    summary = res.summary(["c1", "c2", "c3"])
    assert list(summary["pair"]) == ["c1", "c2", "c3"] and set(summary["null_kind"]) == {kind}
    rows = res.to_frame(dyad="D1", session=2, signal="hbo", pair_labels=["c1", "c2", "c3"])
    assert list(rows.columns) == SURROGATE_COLUMNS and len(rows) == 36
    assert set(rows["pairing"]) == {kind} and (rows["partner_dyad"] == "D1").all()


def test_surrogate_synchrony_reuses_spectra_and_pairs_are_independent(coupled):
    a, b, _ = coupled
    a, b = a[:, :800], b[:, :800]
    opts = dict(band=BAND, kind="phase_randomised", n_surrogates=3, seed=5)
    full = surrogate_synchrony(a, b, DT, pairs="all", **opts)
    assert full.null.shape == (3, 9)
    grid = WaveletGrid.build(800, DT, band=BAND)
    cached = surrogate_synchrony(a, b, DT, pairs="all", spectra_a=channel_spectra(a, grid),
                                 spectra_b=channel_spectra(b, grid), **opts)
    np.testing.assert_allclose(cached.null, full.null, rtol=1e-12)
    np.testing.assert_allclose(cached.real, full.real, rtol=1e-12)
    # a channel's surrogates do not depend on which other channels are paired
    one = surrogate_synchrony(a, b, DT, pairs=[(2, 1)], **opts)
    np.testing.assert_allclose(one.null[:, 0], full.null[:, 2 * 3 + 1], rtol=1e-12)
    again = surrogate_synchrony(a, b, DT, pairs="all", **opts)
    np.testing.assert_array_equal(again.null, full.null)


def test_derive_seed_is_stable():
    a = np.random.default_rng(derive_seed(3, "D01", 2)).random(3)
    b = np.random.default_rng(derive_seed(3, "D01", 2)).random(3)
    c = np.random.default_rng(derive_seed(3, "D02", 2)).random(3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(ValueError):
        derive_seed(-1, "D01")


def test_null_settings_validate():
    NullSettings().validate()
    s = NullSettings(max_pseudo_per_dyad=3, surrogates="circular_shift", min_shift=30.0)
    s.validate()
    assert s.max_per_dyad == 3 and s.min_shift_s == 30.0
    assert NullSettings().max_per_dyad is None and NullSettings().min_shift_s is None
    for bad in ({"surrogates": "shuffle"}, {"n_surrogates": 1}, {"max_pseudo_per_dyad": -1},
                {"min_shift": -1.0}, {"seed": -2}):
        with pytest.raises(ValueError):
            NullSettings(**bad).validate()


# --------------------------------------------------------------------------- pseudo-dyads

def make_study(n_dyads=6, sessions=(1, 2, 3), skip=(("D02", 3),), one_therapist=True):
    dyads = tuple(Dyad(f"D{i:02d}", "T01" if one_therapist else f"T{i:02d}", f"P{i:02d}")
                  for i in range(1, n_dyads + 1))
    recs = []
    for d in dyads:
        for s in sessions:
            if (d.id, s) in skip:
                continue
            recs.append(SessionRecordings(
                d.id, s, RecordingRef(Path(f"/x/{d.id}_{s}_t.snirf"), "therapist"),
                RecordingRef(Path(f"/x/{d.id}_{s}_p.snirf"), "patient")))
    return Study(root=Path("/x"), name="t", description="", analysis=AnalysisSettings(),
                 preprocessing=PreprocessingSettings(), dyads=dyads, sessions=tuple(recs),
                 measures=pd.DataFrame({"dyad": [], "session": []}))


def _check_pairing(p):
    t_dyad, t_session, _ = p.therapist.path.stem.split("_")
    p_dyad, p_session, _ = p.patient.path.stem.split("_")
    assert (t_dyad, p_dyad) == (p.dyad, p.partner_dyad)
    assert int(t_session) == int(p_session) == p.session
    assert p.dyad != p.partner_dyad and p.pairing == "pseudo"
    assert p.therapist.role == "therapist" and p.patient.role == "patient"


def test_all_pseudo_dyads_unchanged():
    study = make_study()
    every = pseudo_dyad_pairings(study)
    per_session = {1: 6, 2: 6, 3: 5}
    assert len(every) == sum(k * (k - 1) for k in per_session.values())
    for p in every:
        _check_pairing(p)
    keys = [(p.session, p.dyad, p.partner_dyad) for p in every]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert pseudo_dyad_pairings(study, max_per_dyad=10) == every
    assert all(p.pairing == "real" for p in real_pairings(study))


def test_random_subset_of_pseudo_dyads():
    study = make_study()
    every = set(pseudo_dyad_pairings(study))
    k = 2
    subset = pseudo_dyad_pairings(study, max_per_dyad=k, seed=4)
    assert subset == pseudo_dyad_pairings(study, max_per_dyad=k, seed=4)
    assert set(subset) <= every
    for p in subset:
        _check_pairing(p)
    counts = pd.Series([(p.dyad, p.session) for p in subset]).value_counts()
    assert (counts == k).all() and len(counts) == 17  # every therapist recording
    keys = [(p.session, p.dyad, p.partner_dyad) for p in subset]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    others = [pseudo_dyad_pairings(study, max_per_dyad=k, seed=s) for s in range(5, 10)]
    assert any(o != subset for o in others)
    # every partner gets chosen under some seed
    union = set().union(*map(set, others), subset)
    assert len(union) > len(subset)


def test_pseudo_dyad_errors():
    study = make_study()
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="max_per_dyad"):
            pseudo_dyad_pairings(study, max_per_dyad=bad)


# --------------------------------------------------------------------------- null summary

def hand_table():
    rows = []

    def add(dyad, partner, session, pairing, values, surrogate=None):
        for k, v in enumerate(values):
            rows.append({"dyad": dyad, "partner_dyad": partner, "session": session,
                         "pair": f"S{k}", "signal": "hbo", "pairing": pairing,
                         "metric": "wtc", "value": v, "surrogate": surrogate})

    add("A", "A", 1, "real", [0.6, 0.8])          # real 0.7
    add("B", "B", 1, "real", [0.5, 0.3])          # real 0.4
    add("A", "B", 1, "pseudo", [0.4, 0.2])        # A's therapist with B's patient: 0.3
    add("B", "A", 1, "pseudo", [0.5, 0.5])        # B's therapist with A's patient: 0.5
    add("A", "A", 1, "circular_shift", [0.3, 0.3], surrogate=0)  # 0.3
    add("A", "A", 1, "circular_shift", [0.5, 0.3], surrogate=1)  # 0.4
    add("A", "A", 1, "circular_shift", [0.6, 0.6], surrogate=2)  # 0.6
    add("B", "B", 1, "real", [np.nan])            # a pair without a value is skipped
    return pd.DataFrame(rows)


def test_null_summary_by_hand():
    out = null_summary(hand_table())
    assert list(out.columns) == NULL_SUMMARY_COLUMNS
    assert list(zip(out["null_kind"], out["dyad"])) == [
        ("pseudo", "A"), ("pseudo", "B"), ("circular_shift", "A"), ("circular_shift", "B")]
    out = out.set_index(["null_kind", "dyad"])
    row = out.loc[("pseudo", "A")]
    assert row["real"] == pytest.approx(0.7) and row["null_mean"] == pytest.approx(0.3)
    assert row["n_null"] == 1 and np.isnan(row["null_sd"]) and np.isnan(row["z"])
    assert row["real_minus_null"] == pytest.approx(0.4) and row["n_pairs"] == 2
    assert out.loc[("pseudo", "B"), "real_minus_null"] == pytest.approx(-0.1)
    row = out.loc[("circular_shift", "A")]
    assert row["null_mean"] == pytest.approx(13 / 30)
    sd = np.std([0.3, 0.4, 0.6], ddof=1)
    assert row["null_sd"] == pytest.approx(sd) and row["n_null"] == 3
    assert row["z"] == pytest.approx((0.7 - 13 / 30) / sd)
    row = out.loc[("circular_shift", "B")]
    assert row["n_null"] == 0 and np.isnan(row["null_mean"])
    # the patient side: A's patient with B's therapist is A's null
    both = null_summary(hand_table(), kinds=["pseudo"], pseudo_side="both").set_index("dyad")
    assert both.loc["A", "null_mean"] == pytest.approx(0.4)
    assert both.loc["A", "n_null"] == 2
    assert both.loc["A", "null_sd"] == pytest.approx(np.std([0.3, 0.5], ddof=1))


def test_null_summary_errors():
    table = hand_table()
    with pytest.raises(ValueError, match="surrogate"):
        null_summary(table.drop(columns="surrogate"))
    with pytest.raises(ValueError, match="unknown kind"):
        null_summary(table, kinds=["bootstrap"])
    with pytest.raises(ValueError, match="no rows of real"):
        null_summary(table[table["pairing"] != "real"])
    with pytest.raises(ValueError, match="lacks column"):
        null_summary(table.drop(columns="partner_dyad"))


# --------------------------------------------------------------------------- group tests

def summary_of(differences, sessions=1, signal="hbo"):
    rows = []
    for d, diff in zip(itertools.count(), differences):
        for s in range(1, sessions + 1):
            rows.append({"dyad": f"D{d:02d}", "session": s, "signal": signal, "metric": "wtc",
                         "null_kind": "pseudo", "real": 0.5 + diff, "null_mean": 0.5,
                         "null_sd": 0.1, "real_minus_null": diff, "z": diff / 0.1,
                         "n_null": 5, "n_pairs": 4})
    return pd.DataFrame(rows)


def test_exact_p_by_hand():
    res = dyad_permutation_test(summary_of([0.1, 0.2, 0.3]))
    assert res.p == pytest.approx(1 / 8) and res.p_method == "exact"
    assert res.n_permutations == 8 and res.n_dyads == 3
    assert res.mean_difference == pytest.approx(0.2)
    assert res.real == pytest.approx(0.7) and res.null == pytest.approx(0.5)
    assert (res.signal, res.metric, res.null_kind) == ("hbo", "wtc", "pseudo")
    assert dyad_permutation_test(summary_of([0.1, 0.2, 0.3]),
                                 alternative="two-sided").p == pytest.approx(2 / 8)
    assert dyad_permutation_test(summary_of([0.1, 0.2, 0.3]), alternative="less").p == 1.0
    # one negative dyad, d = (-0.1, 0.2, 0.3), sum 0.4: of the 8 sign patterns only
    # (+,+,+) (sum 0.4) and (-,+,+) (sum 0.6) reach 0.4 -> p = 2/8
    d = np.array([-0.1, 0.2, 0.3])
    assert dyad_permutation_test(summary_of(d)).p == pytest.approx(2 / 8)
    means = [np.dot(s, d) / 3 for s in itertools.product((1, -1), repeat=3)]
    assert np.mean(np.array(means) >= d.mean() - 1e-12) == pytest.approx(2 / 8)
    # all differences zero: every pattern ties
    assert sign_flip_test(np.zeros(4))[0] == 1.0


def test_sessions_are_averaged_within_dyad():
    table = summary_of([0.1, 0.2, 0.3], sessions=3)
    table.loc[(table["dyad"] == "D00") & (table["session"] == 2), "real_minus_null"] = np.nan
    res = dyad_permutation_test(table)
    assert res.n_dyads == 3 and res.p == pytest.approx(1 / 8)
    pd.testing.assert_series_equal(res.differences, pd.Series(
        [0.1, 0.2, 0.3], index=pd.Index(["D00", "D01", "D02"], name="dyad"),
        name="difference"))


def test_clear_effect_gives_small_p_and_ci():
    rng = np.random.default_rng(0)
    d = rng.normal(0.1, 0.05, size=20)
    res = dyad_permutation_test(summary_of(d), n_permutations=5000, seed=1)
    assert res.p_method == "monte_carlo" and res.n_permutations == 5000
    assert res.p == pytest.approx(1 / 5001)
    assert dyad_permutation_test(summary_of(d), n_permutations=5000, seed=1).p == res.p
    ci = sps.t.interval(0.95, 19, loc=d.mean(), scale=sps.sem(d))
    assert (res.ci_low, res.ci_high) == pytest.approx(ci)
    assert res.t == pytest.approx(sps.ttest_1samp(d, 0, alternative="greater").statistic)
    assert not hasattr(res, "p_t")       # one hypothesis, one p-value (the sign-flip test)
    boot = dyad_permutation_test(summary_of(d), ci_method="bootstrap", n_bootstrap=2000)
    assert boot.ci_low < d.mean() < boot.ci_high
    assert boot.ci_low == pytest.approx(ci[0], abs=0.01)
    z = dyad_permutation_test(summary_of(d), statistic="z", n_permutations=5000)
    assert z.mean_difference == pytest.approx(d.mean() / 0.1)


def test_p_roughly_uniform_under_null():
    rng = np.random.default_rng(42)
    ps = np.array([sign_flip_test(rng.standard_normal(10))[0] for _ in range(400)])
    assert sps.kstest(ps, "uniform").pvalue > 0.001
    assert 0.02 <= np.mean(ps <= 0.05) <= 0.09
    assert 0.4 <= np.mean(ps <= 0.5) <= 0.6
    mc = np.array([sign_flip_test(rng.standard_normal(12), n_permutations=500, seed=k)[0]
                   for k in range(200)])
    assert 0.01 <= np.mean(mc <= 0.05) <= 0.1


def test_real_vs_pseudo_is_the_pseudo_null_test():
    """One hypothesis (real dyads exceed pseudo-dyads), one sign-flip test: the
    real-vs-pseudo test and the dyad-level test against the pseudo null give the same
    one-sided p, and the same two-sided t-test."""
    rng = np.random.default_rng(7)
    rows = []
    dyads = [f"D{i}" for i in range(6)]
    for s in (1, 2):
        for t in dyads:
            for p in dyads:
                base = 0.4 + (0.05 * rng.standard_normal() if t != p else 0.1 * rng.random())
                for k in range(3):
                    rows.append({"dyad": t, "partner_dyad": p, "session": s, "pair": f"S{k}",
                                 "signal": "hbo", "pairing": "real" if t == p else "pseudo",
                                 "metric": "wtc", "value": base + 0.02 * rng.standard_normal()})
    table = pd.DataFrame(rows)
    ref = real_vs_pseudo(table, "hbo")
    res = dyad_permutation_test(null_summary(table), n_permutations=2**16)
    assert res.alternative == "greater" and res.p_method == ref.permutation_method == "exact"
    assert res.mean_difference == pytest.approx(ref.difference)
    assert res.p == pytest.approx(ref.p_permutation)
    assert ref.p_permutation == pytest.approx(1 / 2**6)   # all six dyads positive
    assert res.t == pytest.approx(ref.t) and (res.ci_low, res.ci_high) == pytest.approx(
        (ref.ci_low, ref.ci_high))
    assert res.real == pytest.approx(ref.real) and res.null == pytest.approx(ref.pseudo)
    rows = ref.to_frame("hbo", "wtc")             # one hypothesis, one row, one p-value
    assert len(rows) == 1 and rows["p"].iloc[0] == pytest.approx(ref.p_permutation)
    assert rows["method"].iloc[0] == ("dyad-level sign-flip permutation test (exact), "
                                      "one-sided: real > pseudo")
    mc = real_vs_pseudo(table, "hbo", n_permutations=32, seed=3)
    same = dyad_permutation_test(null_summary(table), n_permutations=32, seed=3)
    assert mc.permutation_method == "monte_carlo" and mc.p_permutation == same.p


def test_real_vs_pseudo_equals_the_null_test_with_unequal_pseudo_counts():
    """Sessions with different numbers of pseudo-dyads once gave two estimates (0.1059
    and 0.1074) for one hypothesis; both now weigh sessions alike."""
    rng = np.random.default_rng(8)
    rows = []
    for s, partners in ((1, 5), (2, 2)):
        for t in range(6):
            others = [p for p in range(6) if p != t][:partners]
            for p in [t, *others]:
                rows.append({"dyad": f"D{t}", "partner_dyad": f"D{p}", "session": s,
                             "pair": "S1", "signal": "hbo",
                             "pairing": "real" if t == p else "pseudo", "metric": "wtc",
                             "value": 0.4 + 0.1 * (t == p) + 0.05 * rng.standard_normal()})
    table = pd.DataFrame(rows)
    ref = real_vs_pseudo(table, "hbo", n_permutations=999, seed=2)
    res = dyad_permutation_test(null_summary(table, kinds=["pseudo"]), n_permutations=999,
                                seed=2)
    assert ref.difference == pytest.approx(res.mean_difference, rel=1e-12)
    assert ref.p_permutation == res.p


def test_group_test_errors_and_table():
    table = pd.concat([summary_of([0.1, 0.2, 0.3]), summary_of([0.1, -0.2], signal="hbr")])
    with pytest.raises(ValueError, match="several signal"):
        dyad_permutation_test(table)
    assert dyad_permutation_test(table, signal="hbr").n_dyads == 2
    with pytest.raises(ValueError, match="at least 2 dyads"):
        dyad_permutation_test(summary_of([0.1]))
    with pytest.raises(ValueError, match="alternative"):
        dyad_permutation_test(summary_of([0.1, 0.2]), alternative="bigger")
    with pytest.raises(ValueError, match="n_permutations"):
        sign_flip_test([0.1, 0.2], n_permutations=0)
    tests = dyad_permutation_tests(table)
    assert list(tests["signal"]) == ["hbo", "hbr"]
    assert tests.loc[0, "p"] == pytest.approx(1 / 8)
    tests = dyad_permutation_tests(pd.concat([table, summary_of([0.3], signal="x")]))
    assert list(tests["signal"]) == ["hbo", "hbr"]
