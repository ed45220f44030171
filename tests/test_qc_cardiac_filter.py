"""One cardiac-band filter for the scalp coupling index and the peak spectral power."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from mne.preprocessing.nirs import optical_density, scalp_coupling_index

from interbrain.preprocessing import PreprocessingSettings, channel_quality
from interbrain.preprocessing.qc import (cardiac_filtered, peak_spectral_power,
                                         scalp_coupling_from_filtered)
from interbrain.simulate import simulate_recording


@pytest.fixture(scope="module")
def raw_od():
    rec = simulate_recording(seed=5, minutes=2.0, n_channels=6, n_bad=2, motion=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optical_density(rec.raw.copy(), verbose="ERROR")


def test_sci_from_the_shared_filter_equals_mne(raw_od):
    picks, filtered = cardiac_filtered(raw_od, (0.7, 1.5))
    got = scalp_coupling_from_filtered(raw_od, picks, filtered)
    want = scalp_coupling_index(raw_od, l_freq=0.7, h_freq=1.5, verbose="ERROR")
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert got.min() < 0.7 < got.max()          # bad and good channels both present


def test_sci_of_a_flat_channel_is_zero_as_mne(raw_od):
    od = raw_od.copy()
    od._data[2] = 0.0
    picks, filtered = cardiac_filtered(od, (0.7, 1.5))
    got = scalp_coupling_from_filtered(od, picks, filtered)
    want = scalp_coupling_index(od, l_freq=0.7, h_freq=1.5, verbose="ERROR")
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert got[2] == 0


def test_psp_with_the_shared_filter_is_unchanged(raw_od):
    _, filtered = cardiac_filtered(raw_od, (0.7, 1.5))
    shared = peak_spectral_power(raw_od, filtered=filtered)
    own = peak_spectral_power(raw_od)
    np.testing.assert_array_equal(shared, own)


def test_channel_quality_filters_the_cardiac_band_once(raw_od, monkeypatch):
    from interbrain.preprocessing import cardiac

    calls = []
    original = cardiac.fir_filter        # equal to MNE's filter_data, bitwise

    def counting(*args, **kwargs):
        calls.append(args[2:4])
        return original(*args, **kwargs)

    monkeypatch.setattr(cardiac, "fir_filter", counting)
    qc = channel_quality(raw_od, PreprocessingSettings())
    assert calls.count((0.7, 1.5)) == 1
    assert np.isfinite(qc["sci"]).all() and np.isfinite(qc["psp"]).all()
