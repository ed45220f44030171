"""The chain's Beer-Lambert law is MNE's ``beer_lambert_law``, bitwise, info and all."""

from __future__ import annotations

import warnings

import mne
import numpy as np
import pytest
from mne.preprocessing.nirs import _validate_nirs_info, beer_lambert_law, optical_density
from mne.utils import object_diff

from interbrain.preprocessing.beer_lambert import beer_lambert
from interbrain.simulate import simulate_recording


@pytest.fixture(scope="module")
def raw_od():
    """Optical density of 20 long and some short channels (picks not in channel order:
    S1_D10 sorts before S1_D2), a bad pair, annotations naming channels."""
    rec = simulate_recording(seed=7, minutes=0.5, n_channels=20, short_channels=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        od = optical_density(rec.raw.copy(), verbose="ERROR")
    od.info["bads"] = ["S1_D2 760", "S1_D2 850"]
    od.set_annotations(mne.Annotations([1.0, 2.0], [0.5, 0.5], ["a", "b"],
                                       ch_names=[["S1_D2 760"], []]))
    return od


def _same(got: mne.io.BaseRaw, want: mne.io.BaseRaw) -> None:
    assert got.ch_names == want.ch_names
    assert object_diff(got.info, want.info) == ""
    np.testing.assert_array_equal(got.get_data(), want.get_data())
    assert object_diff(got.annotations, want.annotations) == ""
    assert got._orig_units == want._orig_units


@pytest.mark.parametrize("ppf", [6.0, (5.5, 6.5)])
def test_beer_lambert_equals_mne_bitwise(raw_od, ppf):
    picks = _validate_nirs_info(raw_od.info)
    assert not np.array_equal(picks, np.sort(picks))   # MNE's pair order is not channel order
    before = raw_od.get_data()
    want = beer_lambert_law(raw_od, ppf=ppf)
    _same(beer_lambert(raw_od, ppf=ppf), want)
    np.testing.assert_array_equal(raw_od.get_data(), before)   # copy=True: input kept
    assert raw_od.info["bads"] == ["S1_D2 760", "S1_D2 850"]
    assert want.info["bads"] == ["S1_D2 hbo", "S1_D2 hbr"]
    own = raw_od.copy()
    _same(beer_lambert(own, ppf=ppf, picks=picks, copy=False), want)
    assert own.ch_names == want.ch_names      # converted in place


def test_beer_lambert_of_a_pick_equals_mne(raw_od):
    """The chain's short channels: a picked copy converted in place."""
    short = [ch for ch in raw_od.ch_names if ch.split(" ")[0] in {"S1_D9", "S2_D10"}]
    picked = raw_od.copy().pick(short)
    want = beer_lambert_law(picked.copy(), ppf=6.0)
    _same(beer_lambert(picked, ppf=6.0, copy=False), want)


def test_beer_lambert_leaves_unusual_recordings_to_mne(raw_od):
    far = raw_od.copy()
    for ch in far.info["chs"]:
        ch["loc"][3:9] *= 10                 # distances > 10 cm: MNE warns
    # MNE warns through its logger: at its default level here, whatever an earlier test
    # of the same process left it at
    with mne.utils.use_log_level("warning"):
        with pytest.warns(RuntimeWarning, match="greater than 10 cm"):
            want = beer_lambert_law(far, ppf=6.0)
        with pytest.warns(RuntimeWarning, match="greater than 10 cm"):
            got = beer_lambert(far, ppf=6.0)
    _same(got, want)
    with pytest.raises(ValueError, match="ppf must be"):
        beer_lambert(raw_od, ppf=(5.0, 6.0, 7.0))
