"""channel_pairs: good channel pairs of two recordings, the bad channels read from the QC
tables (once per recording: Preprocessed.bad_channels is cached)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from interbrain.errors import RecordingError
from interbrain.preprocessing import Preprocessed
from interbrain.synchrony.good_pairs import channel_pairs


def _rec(channels: list[str], bad: list[str]) -> Preprocessed:
    qc = pd.DataFrame({"channel": channels, "bad": [c in bad for c in channels]})
    x = np.zeros((len(channels), 10))
    return Preprocessed(source="r.snirf", channels=channels, hbo=x, hbr=x, sfreq=10.0,
                        meas_date=None, qc=qc)


@pytest.mark.parametrize("pairs", ["homologous", "all"])
def test_the_pairs_of_the_qc_tables(pairs):
    a = _rec(["S1_D1", "S1_D2", "S2_D2"], bad=["S1_D2"])
    b = _rec(["S1_D1", "S1_D2", "S2_D2"], bad=["S2_D2"])
    expected = channel_pairs(a, b, pairs)
    assert a.bad_channels == {"S1_D2"} and a.bad_channels is a.bad_channels   # read once
    if pairs == "homologous":
        assert expected == [(0, 0, "S1_D1")]
    else:
        assert [label for *_, label in expected] == ["S1_D1-S1_D1", "S1_D1-S1_D2",
                                                     "S2_D2-S1_D1", "S2_D2-S1_D2"]


def test_homologous_pairs_need_the_same_channel_names():
    with pytest.raises(RecordingError, match="only in the first: S3_D3; only in the second: "
                                             "S4_D4"):
        channel_pairs(_rec(["S1_D1", "S3_D3"], []), _rec(["S1_D1", "S4_D4"], []), "homologous")
