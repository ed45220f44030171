"""The faster paths of the chain keep the reference values, including their corner cases.

The scalp coupling index from one compiled pass over all pairs (MNE's, to 1e-12, flat
channels 0), the band-pass on short signals and channel subsets (MNE's ``Raw.filter``,
bitwise), TDDR on the chain's own temporary (MNE's, bitwise), and the SNIRF reader's
cheaper reading of the measurement lists (MNE's reader's ``Raw``; files it cannot read go
to MNE's reader and :func:`~interbrain.io.check_snirf`, which name the problem).
"""

from __future__ import annotations

import shutil
import warnings

import h5py
import mne
import numpy as np
import pytest
from mne.preprocessing.nirs import (optical_density, scalp_coupling_index,
                                    temporal_derivative_distribution_repair)
from mne.utils import object_diff

from interbrain.errors import RecordingError
from interbrain.io import read_recording
from interbrain.io.snirf_fast import read_snirf_fast
from interbrain.preprocessing import PreprocessingSettings, correct_motion
from interbrain.preprocessing.cardiac import (_zero_std, cardiac_filtered,
                                              scalp_coupling_from_filtered)
from interbrain.preprocessing.iir import mne_iir_band_pass
from interbrain.simulate import simulate_recording, write_snirf


@pytest.fixture(scope="module")
def raw_od():
    """20 long channels and short ones (MNE's pair order is not channel order), 1 min."""
    rec = simulate_recording(seed=3, minutes=1.0, n_channels=20, n_bad=3, motion=True,
                             short_channels=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optical_density(rec.raw.copy(), verbose="ERROR")


@pytest.fixture(scope="module")
def snirf(tmp_path_factory):
    rec = simulate_recording(seed=12, minutes=0.5, n_channels=4, motion=False)
    return write_snirf(rec.raw, tmp_path_factory.mktemp("fast") / "rec.snirf")


def _sci(od: mne.io.BaseRaw) -> tuple[np.ndarray, np.ndarray]:
    picks, filtered = cardiac_filtered(od, (0.7, 1.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = scalp_coupling_index(od, l_freq=0.7, h_freq=1.5, verbose="ERROR")
    return scalp_coupling_from_filtered(od, picks, filtered), want


def test_sci_of_all_pairs_at_once_equals_mne(raw_od):
    got, want = _sci(raw_od)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert got.min() < 0.5 < got.max()


def test_sci_corner_cases_equal_mne(raw_od):
    """A flat channel (0), a pair whose wavelengths are both flat, a row with a tiny
    spread (not zero variance) and anti-correlated wavelengths (negative, clipped)."""
    od = raw_od.copy()
    od._data[4] = 0.25                          # flat row: SCI 0 for that channel
    od._data[6:8] = -1.5                        # a flat pair: correlation NaN -> 0
    od._data[8] = 1.0 + 1e-13 * np.sin(np.arange(od.n_times))   # tiny, not flat
    od._data[11] = -od._data[10]                # perfect anti-correlation
    got, want = _sci(od)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert got[4] == 0 and got[6] == got[7] == 0
    np.testing.assert_allclose(got[10:12], -1.0, atol=1e-12)


def test_zero_std_is_numpys():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 500))
    x[1] = 3.0
    x[2] = 0.1
    x[3] = 1e-200 * rng.standard_normal(500)     # values differ, numpy's std underflows
    x[4, 7] = np.nan
    x[5] = np.inf
    rows = np.array([5, 0, 1, 2, 3, 4])
    with np.errstate(invalid="ignore"):
        want = np.std(x[rows], axis=-1) == 0
        got = _zero_std(x, rows)
    np.testing.assert_array_equal(got, want)
    assert got.tolist() == [False, False, True, True, True, False]


@pytest.mark.parametrize("n_times", [2, 3, 200, 1554, 1555, 4000])
def test_band_pass_equals_mnes_raw_filter(n_times):
    """Signals shorter than MNE's padding (padlen 1553 at 10 Hz) and longer; every row
    or a subset; a row view of a larger array (a segment between annotations)."""
    rng = np.random.default_rng(n_times)
    x = np.cumsum(rng.standard_normal((7, n_times)), axis=1) * 1e-6
    info = mne.create_info(7, 10.0, "misc")
    iir = dict(order=4, ftype="butter", output="sos")
    for picks in (np.arange(7), np.array([5, 0, 3])):
        want = mne.io.RawArray(x.copy(), info, verbose="ERROR").filter(
            0.01, 0.5, picks=picks, method="iir", iir_params=iir, verbose="ERROR").get_data()
        got = x.copy()
        mne_iir_band_pass(got, 10.0, 0.01, 0.5, picks=picks)
        np.testing.assert_array_equal(got, want)
        wide = np.zeros((7, n_times + 9))
        wide[:, 4:4 + n_times] = x
        mne_iir_band_pass(wide[:, 4:4 + n_times], 10.0, 0.01, 0.5, picks=picks)
        np.testing.assert_array_equal(wide[:, 4:4 + n_times], want)
        assert not wide[:, :4].any() and not wide[:, 4 + n_times:].any()


def test_tddr_in_place_equals_mne(raw_od):
    settings = PreprocessingSettings(motion_correction="tddr")
    want = temporal_derivative_distribution_repair(raw_od, verbose="ERROR")
    kept = raw_od.get_data()
    copied, _ = correct_motion(raw_od, settings)
    np.testing.assert_array_equal(raw_od.get_data(), kept)          # input unchanged
    own = raw_od.copy()
    picks = mne.preprocessing.nirs._validate_nirs_info(own.info)
    same, _ = correct_motion(own, settings, picks=picks, copy=False)
    assert same is own
    for got in (copied, same):
        np.testing.assert_array_equal(got.get_data(), want.get_data())
    # with a channel TDDR does not touch (not fNIRS): left as it is
    extra = raw_od.copy().add_channels([mne.io.RawArray(
        np.ones((1, raw_od.n_times)), mne.create_info(["aux"], raw_od.info["sfreq"], "misc"),
        verbose="ERROR")], force_update_info=True)
    mixed, _ = correct_motion(extra, settings, copy=False)
    np.testing.assert_array_equal(mixed.get_data(picks="fnirs"), want.get_data())
    np.testing.assert_array_equal(mixed.get_data(picks="misc"), 1.0)


def _edit(snirf, tmp_path, change) -> str:
    path = shutil.copy(snirf, tmp_path / "edited.snirf")
    with h5py.File(path, "r+") as fh:
        change(fh["nirs/data1"])
    return path


def test_snirf_reader_reads_float_indices_as_mne(snirf, tmp_path):
    def floats(data):
        for name in ("sourceIndex", "detectorIndex", "wavelengthIndex"):
            value = float(data[f"measurementList2/{name}"][()])
            del data[f"measurementList2/{name}"]
            data[f"measurementList2/{name}"] = value
    path = _edit(snirf, tmp_path, floats)
    fast = read_snirf_fast(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = mne.io.read_raw_snirf(path, preload=True, verbose="ERROR")
    assert fast is not None and object_diff(fast.info, ref.info) == ""
    np.testing.assert_array_equal(fast.get_data(), ref.get_data())


def test_snirf_reader_leaves_odd_measurement_lists_to_mne(snirf, tmp_path):
    def two_values(data):
        del data["measurementList3/sourceIndex"]
        data["measurementList3/sourceIndex"] = np.array([1, 2])
    assert read_snirf_fast(_edit(snirf, tmp_path, two_values)) is None

    def text(data):
        del data["measurementList3/dataType"]
        data["measurementList3/dataType"] = b"1"
    assert read_snirf_fast(_edit(snirf, tmp_path, text)) is None

    def no_type_index(data):
        del data["measurementList3/dataTypeIndex"]
    path = _edit(snirf, tmp_path, no_type_index)
    assert read_snirf_fast(path) is None
    with pytest.raises(RecordingError, match="measurementList3/dataTypeIndex"):
        read_recording(path)


def test_peak_power_from_the_low_frequencies_equals_every_frequency():
    """Windows whose peak lies in the low frequencies (band-passed noise, a cardiac-like
    sinusoid) and windows where it does not (white noise, a strong 4 Hz sinusoid, a
    peak just above the low frequencies): the bounded search gives the values of the
    search over every frequency, falling back to it where the bound does not hold."""
    from interbrain.preprocessing import cardiac
    from interbrain.preprocessing.fir import fir_filter

    rng = np.random.default_rng(8)
    size, sfreq = 100, 10.0
    t = np.arange(size) / sfreq
    noise = rng.standard_normal((60, 3 * size))
    banded = fir_filter(noise, sfreq, 0.7, 1.5)[:, size:2 * size]
    windows = np.concatenate([
        banded,                                                   # low: bound holds
        np.sin(2 * np.pi * 1.1 * t + rng.uniform(0, 6, (10, 1))),
        rng.standard_normal((20, size)),                          # white: often not
        np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6, (10, 1))) + 0.1 * banded[:10],
        np.sin(2 * np.pi * 2.05 * t + rng.uniform(0, 6, (10, 1))),  # just above
        np.full((2, size), 0.3),                                  # flat (sd 0)
    ])
    windows[-3, 5] = np.nan
    first = windows[:, None, :]
    second = first + 0.05 * rng.standard_normal((len(windows), 1, size))
    sd1, sd2 = first.std(axis=-1, keepdims=True), second.std(axis=-1, keepdims=True)
    n_low = int(np.ceil(1.8 * (2 * size - 1) / sfreq)) + 3
    calls = []
    original = cardiac._low_peaks

    def spy(*args):
        original(*args)
        calls.append(args[-1].copy())

    cardiac._low_peaks = spy
    try:
        got = cardiac._peak_cross_periodogram(first, second, sd1, sd2, sfreq, 0.01,
                                              n_low=n_low)
    finally:
        cardiac._low_peaks = original
    want = cardiac._peak_cross_periodogram(first, second, sd1, sd2, sfreq, 0.01)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert np.isnan(got).sum() == 1
    ok = calls[0]
    assert ok[:70].all()                                   # the bound holds
    assert not ok[70:90].all() and not ok[90:100].any() and not ok[100:110].all()
