"""The faster reading and preprocessing give the reference implementations' values.

Each fast path is compared with the MNE / MNE-NIRS function it replaces, on a small
simulated recording (8 long channels, 3 short, 1.5 minutes at 10 Hz, a bad channel and
two motion artefacts): TDDR, the cardiac-band FIR, the peak spectral power, short-channel
regression and SNIRF reading; and the whole chain against the chain of MNE / MNE-NIRS
calls it replaced (optical density, TDDR, short-channel regression, Beer-Lambert law,
band-pass). Bitwise where the arithmetic is the same, 1e-12 relative where it is not
(the periodogram of the peak spectral power, from the windows' DFTs).
"""

from __future__ import annotations

import shutil
import warnings

import h5py
import mne
import numpy as np
import pytest
from mne.preprocessing.nirs import (beer_lambert_law, optical_density, scalp_coupling_index,
                                    temporal_derivative_distribution_repair)
from mne.utils import object_diff

from interbrain.io import read_recording
from interbrain.io.snirf_fast import read_snirf_fast
from interbrain.preprocessing import PreprocessingSettings, preprocess_recording
from interbrain.preprocessing.cardiac import peak_spectral_power
from interbrain.preprocessing.fir import fir_filter
from interbrain.preprocessing.short_channels import nearest_short_regression
from interbrain.preprocessing.tddr import tddr
from interbrain.simulate import simulate_recording, write_snirf

SETTINGS = PreprocessingSettings(sci_threshold=0.7, motion_correction="tddr", ppf=6.0,
                                 l_freq=0.01, h_freq=0.5)


@pytest.fixture(scope="module")
def snirf(tmp_path_factory):
    """A small simulated SNIRF recording with short channels and two events."""
    rec = simulate_recording(seed=11, minutes=1.5, n_channels=8, n_bad=1, motion=True,
                             short_channels=True)
    raw = rec.raw.copy()
    raw.set_annotations(mne.Annotations([5.0, 20.5], [1.0, 2.0], ["talk", "listen"]))
    return write_snirf(raw, tmp_path_factory.mktemp("speed") / "rec.snirf")


@pytest.fixture(scope="module")
def raw_od(snirf):
    raw = mne.io.read_raw_snirf(snirf, preload=True, verbose="ERROR")
    return optical_density(raw, verbose="ERROR")


def _mne_reader(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mne.io.read_raw_snirf(path, preload=True, verbose="ERROR")


def test_snirf_reader_builds_mnes_raw(snirf):
    fast, ref = read_snirf_fast(snirf), _mne_reader(snirf)
    assert fast is not None
    assert object_diff(fast.info, ref.info) == ""
    np.testing.assert_array_equal(fast.get_data(), ref.get_data())
    assert object_diff(fast.annotations, ref.annotations) == ""
    assert len(fast.annotations) == 2
    assert (fast.first_samp, fast.n_times) == (ref.first_samp, ref.n_times)


def test_read_recording_is_unchanged_by_the_fast_reader(snirf, monkeypatch):
    fast = read_recording(snirf)
    from interbrain.io import recording
    monkeypatch.setattr(recording, "read_snirf_fast", lambda path: None)   # MNE's reader
    ref = read_recording(snirf)
    assert object_diff(fast.info, ref.info) == ""
    np.testing.assert_array_equal(fast.get_data(), ref.get_data())
    assert object_diff(fast.annotations, ref.annotations) == ""


def test_snirf_reader_leaves_other_files_to_mne(snirf, tmp_path):
    other = shutil.copy(snirf, tmp_path / "hb.snirf")
    with h5py.File(other, "r+") as fh:   # processed data: not the plain case
        for name in fh["nirs/data1"]:
            if name.startswith("measurementList"):
                fh[f"nirs/data1/{name}/dataType"][()] = 99999
    assert read_snirf_fast(other) is None
    assert read_snirf_fast(tmp_path / "missing.snirf") is None


@pytest.mark.parametrize("cut", [0, 1])   # odd and even numbers of derivatives
def test_tddr_equals_mne_bitwise(raw_od, cut):
    od = raw_od.copy().crop(0, raw_od.times[-1 - cut])
    want = temporal_derivative_distribution_repair(od, verbose="ERROR").get_data()
    got = tddr(od.get_data(), od.info["sfreq"])
    np.testing.assert_array_equal(got, want)


def test_tddr_edge_rows_equal_mne():
    """A flat row (zero robust deviation), a row with NaN (MNE's own function), long
    rows that take the subsample guess, a rate without the low-pass (Fc >= 1)."""
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.standard_normal((5, 4001)), axis=1) * 1e-3
    x[1] = 0.25
    x[2, 100] = np.nan
    x[3, 2000:] += 0.5                      # a baseline shift to repair
    for sfreq in (10.0, 1.0):
        want = np.array([mne.preprocessing.nirs._tddr._TDDR(row, sfreq) for row in x])
        np.testing.assert_array_equal(tddr(x, sfreq), want)


def test_fir_filter_equals_mne_bitwise():
    rng = np.random.default_rng(4)
    for n in (30000, 1200, 150, 60):   # 60: shorter than the filter (one block)
        x = np.cumsum(rng.standard_normal((5, n)), axis=1)
        picks = np.array([0, 2, 3])
        want = mne.filter.filter_data(x, 10.0, 0.7, 1.5, picks=picks, l_trans_bandwidth=0.3,
                                      h_trans_bandwidth=0.3, verbose="ERROR")
        np.testing.assert_array_equal(fir_filter(x, 10.0, 0.7, 1.5, picks=picks), want)


@pytest.mark.parametrize("time_window, n_windows", [(10.0, 9), (7.3, 12), (0.2, 450)])
def test_peak_spectral_power_equals_mne_nirs(raw_od, time_window, n_windows):
    """Whole windows and a last one a sample short (mne-nirs' quirk), windows of an even
    and an odd number of samples, and of 2 samples (a 3-point correlation)."""
    from mne_nirs.preprocessing import peak_power
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, want, _ = peak_power(raw_od, time_window=time_window, threshold=-np.inf,
                                verbose="ERROR")
    got = peak_spectral_power(raw_od, time_window=time_window)
    assert got.shape == want.shape and got.shape[1] == n_windows
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


def test_short_channel_regression_equals_mne_nirs(raw_od):
    from mne_nirs.signal_enhancement import short_channel_regression
    od = raw_od.copy()
    od.info["bads"] = od.ch_names[2:4]          # a bad long pair: left as it is
    assert len(short_channels(od)) == 3             # the nearest of three is chosen
    want = short_channel_regression(od, max_dist=0.01).get_data()
    got = nearest_short_regression(od, max_dist=0.01).get_data()
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got[0], od.get_data()[0])   # regressed


def short_channels(raw):
    dist = mne.preprocessing.nirs.source_detector_distances(raw.info)
    return {ch.split(" ")[0] for ch, d in zip(raw.ch_names, dist) if d < 0.01}


def _reference_chain(path, qc, short_qc, settings):
    """The chain as MNE / MNE-NIRS calls, given the quality table's bad channels."""
    from mne_nirs.signal_enhancement import short_channel_regression
    raw = _mne_reader(path)
    od = optical_density(raw, verbose="ERROR")
    bad = set(qc.loc[qc["bad"], "channel"]) | set(short_qc.loc[short_qc["bad"], "channel"])
    od.info["bads"] = [ch for ch in od.ch_names if ch.split(" ")[0] in bad]
    od = temporal_derivative_distribution_repair(od, verbose="ERROR")
    short = list(short_qc["channel"])
    iir = dict(order=4, ftype="butter", output="sos")

    def hb(raw_od):
        out = beer_lambert_law(raw_od, ppf=settings.ppf)
        out.filter(settings.l_freq, settings.h_freq, picks=["hbo", "hbr"], method="iir",
                   iir_params=iir, verbose="ERROR")
        return out

    short_hb = hb(od.copy().pick([ch for ch in od.ch_names if ch.split(" ")[0] in short]))
    drop = [ch for ch in od.ch_names if ch.split(" ")[0] in set(short_qc.loc[short_qc["bad"],
                                                                               "channel"])]
    work = od.copy().drop_channels(drop) if drop else od
    cutoff = float(np.nextafter(settings.short_channel_max_distance, np.inf))
    long_od = short_channel_regression(work, max_dist=cutoff)
    long_od = long_od.drop_channels([ch for ch in long_od.ch_names
                                     if ch.split(" ")[0] in short])
    long_hb = hb(long_od)

    def rows(raw_hb, channels, signal):
        return raw_hb.get_data([f"{c} {signal}" for c in channels])

    channels = list(qc["channel"])
    return {"hbo": rows(long_hb, channels, "hbo"), "hbr": rows(long_hb, channels, "hbr"),
            "short_hbo": rows(short_hb, short, "hbo"), "short_hbr": rows(short_hb, short, "hbr")}


def test_preprocessing_equals_the_mne_chain(snirf):
    rec = preprocess_recording(read_recording(snirf), SETTINGS, source="rec")
    assert rec.short is not None and rec.qc["bad"].any()
    want = _reference_chain(snirf, rec.qc, rec.short.qc, SETTINGS)
    got = {"hbo": rec.hbo, "hbr": rec.hbr, "short_hbo": rec.short.hbo,
           "short_hbr": rec.short.hbr}
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_quality_control_equals_mne_and_mne_nirs(snirf, raw_od):
    from mne_nirs.preprocessing import peak_power
    rec = preprocess_recording(read_recording(snirf), SETTINGS, source="rec")
    qc = rec.qc.set_index("channel")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sci = scalp_coupling_index(raw_od, l_freq=0.7, h_freq=1.5, verbose="ERROR")
        _, psp, _ = peak_power(raw_od, time_window=10.0, threshold=-np.inf, verbose="ERROR")
    pairs = [ch.split(" ")[0] for ch in raw_od.ch_names]
    for name in qc.index:
        rows = [i for i, p in enumerate(pairs) if p == name]
        if np.isnan(qc.loc[name, "sci"]):
            continue
        np.testing.assert_allclose(qc.loc[name, "sci"], sci[rows].min(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(qc.loc[name, "psp"], np.median(psp[rows].min(axis=0)),
                                   rtol=1e-12, atol=0)


def test_channel_quality_filters_the_cardiac_band_once(raw_od, monkeypatch):
    from interbrain.preprocessing import cardiac, channel_quality
    calls = []
    original = cardiac.fir_filter

    def counting(*args, **kwargs):
        calls.append(args[2:4])
        return original(*args, **kwargs)

    monkeypatch.setattr(cardiac, "fir_filter", counting)
    qc = channel_quality(raw_od, SETTINGS)
    assert calls == [(0.7, 1.5)]
    assert np.isfinite(qc["sci"]).all() and np.isfinite(qc["psp"]).all()




def test_optical_density_equals_mne_bitwise(snirf):
    """Quality control's optical density: MNE's values and coil types; intensities <= 0
    and samples not in C order go through MNE's own function."""
    from interbrain.preprocessing.qc import _optical_density
    raw = _mne_reader(snirf)
    for change in (None, "negative", "fortran"):
        data = raw.get_data()
        if change == "negative":
            data[1, 5] = -data[1, 5]
        if change == "fortran":
            data = np.asfortranarray(data)
        ref = mne.io.RawArray(data.copy(), raw.info.copy(), verbose="ERROR")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = optical_density(ref, verbose="ERROR")
            got = _optical_density(mne.io.RawArray(data, raw.info.copy(), verbose="ERROR"))
        np.testing.assert_array_equal(got.get_data(), want.get_data(), err_msg=str(change))
        assert [c["coil_type"] for c in got.info["chs"]] == \
            [c["coil_type"] for c in want.info["chs"]]
