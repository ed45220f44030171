"""The compiled zero-phase filters and motion detection equal SciPy / MNE bitwise.

:mod:`interbrain.preprocessing.iir` runs SciPy's ``lfilter`` / ``sosfilt`` recurrences
on all rows side by side; :func:`~interbrain.preprocessing.motion.detect_motion` runs
Homer2's motion detection in one compiled loop. Both must give exactly the values of
the code they replace: :func:`scipy.signal.filtfilt` / :func:`scipy.signal.sosfiltfilt`
(``padlen=0``, as TDDR and MNE call them), MNE's ``Raw.filter(method="iir")``, and the
numpy implementation of the motion detector kept here as the reference.
"""

from __future__ import annotations

import mne
import numpy as np
import pytest
from scipy.ndimage import maximum_filter1d
from scipy.signal import butter, filtfilt, sosfiltfilt

from interbrain.preprocessing.iir import (band_pass_raw, filtfilt_rows, mne_iir_band_pass,
                                          sosfiltfilt_rows)
from interbrain.preprocessing.motion import detect_motion


def _signals(rng, n_rows, n_times):
    x = np.cumsum(rng.standard_normal((n_rows, n_times)), axis=1) * 10.0 ** rng.uniform(-6, 2)
    x[0, :: max(1, n_times // 7)] += 5 * x.std()    # steps: large transients
    return x


@pytest.mark.parametrize("n_times", [1, 2, 3, 17, 128, 1001, 4000])
@pytest.mark.parametrize("n_rows", [1, 3, 40])
def test_filtfilt_rows_is_scipys_bitwise(n_rows, n_times):
    rng = np.random.default_rng(n_rows * 10_000 + n_times)
    x = _signals(rng, n_rows, n_times)
    for cutoff in (0.01, 0.1, 0.7):
        b, a = butter(3, cutoff)
        np.testing.assert_array_equal(filtfilt_rows(b, a, x),
                                      filtfilt(b, a, x, padlen=0, axis=-1))
        sos = butter(4, [cutoff / 2, min(0.95, 2 * cutoff)], btype="band", output="sos")
        np.testing.assert_array_equal(sosfiltfilt_rows(sos, x),
                                      sosfiltfilt(sos, x, padlen=0, axis=-1))


def test_filtfilt_rows_refuses_unequal_coefficients():
    with pytest.raises(ValueError, match="same length"):
        filtfilt_rows([1.0, 0.5, 0.2], [1.0, 0.3], np.ones((1, 10)))


def _hb_raw(x, sfreq=10.0):
    n = len(x) // 2
    names = [f"S{i + 1}_D1 {kind}" for i in range(n) for kind in ("hbo", "hbr")]
    info = mne.create_info(names, sfreq, ["hbo", "hbr"] * n)
    return mne.io.RawArray(x.copy(), info, verbose="ERROR")


@pytest.mark.parametrize("n_times", [30, 700, 3001])
def test_band_pass_is_mnes_raw_filter_bitwise(n_times):
    """Values and info; with an ``edge`` annotation (segments filtered apart) and a
    subset of channels (info not updated)."""
    rng = np.random.default_rng(n_times)
    x = _signals(rng, 6, n_times) * 1e-6
    iir = dict(order=4, ftype="butter", output="sos")
    for picks, annotate in ((["hbo", "hbr"], False), (["hbo"], False), (["hbo", "hbr"], True)):
        want, got = _hb_raw(x), _hb_raw(x)
        if annotate:
            for raw in (want, got):
                raw.set_annotations(mne.Annotations([n_times / 20], [0.0], ["edge"]))
        want.filter(0.01, 0.5, picks=picks, method="iir", iir_params=iir, verbose="ERROR")
        band_pass_raw(got, 0.01, 0.5, picks)
        np.testing.assert_array_equal(got.get_data(), want.get_data())
        assert (got.info["highpass"], got.info["lowpass"]) == \
            (want.info["highpass"], want.info["lowpass"])
    data = x.copy()
    mne_iir_band_pass(data, 10.0, 0.01, 0.5, picks=np.array([], int))
    np.testing.assert_array_equal(data, x)


def _reference_detect_motion(x, sfreq, t_motion, t_mask, std_thresh, amp_thresh):
    """The numpy implementation :func:`detect_motion` replaced (Homer2's detector)."""
    x = np.atleast_2d(np.asarray(x, float))
    n = x.shape[1]
    if n < 2:
        return np.zeros(x.shape, bool)
    lag = max(1, int(round(t_motion * sfreq)))
    buffer = int(round(t_mask * sfreq))
    max_diff = np.zeros_like(x)
    for k in range(1, min(lag, n - 1) + 1):
        np.maximum(max_diff[:, :n - k], np.abs(x[:, k:] - x[:, :n - k]),
                   out=max_diff[:, :n - k])
    std_diff = np.std(np.diff(x, axis=1), axis=1, keepdims=True)
    part = (max_diff > std_thresh * std_diff) | (max_diff > amp_thresh)
    if buffer > 0 and part.any():
        part = maximum_filter1d(part.astype(np.uint8), size=2 * buffer + 1, axis=1,
                                mode="constant") > 0
    return part


def test_detect_motion_equals_the_numpy_detector():
    rng = np.random.default_rng(4)
    for trial in range(150):
        n, rows = int(rng.integers(1, 400)), int(rng.integers(1, 5))
        x = np.cumsum(rng.standard_normal((rows, n)), axis=1) * 10.0 ** rng.uniform(-3, 0)
        if trial % 3 == 0 and n > 3:
            x[0, rng.integers(0, n, 3)] += rng.choice([-1, 1], 3) * rng.uniform(0, 2, 3)
        if trial % 7 == 0:
            x[-1] = 0.3                                    # flat
        if trial % 11 == 0 and n > 2:
            x[0, rng.integers(0, n)] = np.nan
        kw = dict(t_motion=float(rng.choice([0.1, 0.5, 1.0])),
                  t_mask=float(rng.choice([0.0, 0.2, 1.0, 3.0])),
                  std_thresh=float(rng.choice([2.0, 5.0, 20.0])),
                  amp_thresh=float(rng.choice([0.01, 0.5])))
        sfreq = float(rng.choice([1.0, 7.8, 10.0]))
        with np.errstate(invalid="ignore"):
            want = _reference_detect_motion(x, sfreq, **kw)
            np.testing.assert_array_equal(detect_motion(x, sfreq, **kw), want)
            np.testing.assert_array_equal(detect_motion(x[0], sfreq, **kw), want[0])
