"""Tables as labs have them: named .mat variables and CSV columns, generated channel
names, one signal only (HbO or HbR), units with a per-format hint; preprocessing of
one-signal input (issue 17, item 4)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import mne
import numpy as np
import pytest
import scipy.io

from interbrain.errors import RecordingError, StudyError
from interbrain.io import read_table
from interbrain.io.signals import recording_signals
from interbrain.io.table_spec import TableSpec
from interbrain.preprocessing import PreprocessingSettings, preprocess_recording

SFREQ = 10.0


def _signals(n_times=600, n_channels=3, seed=0) -> np.ndarray:
    """Smooth random signals in micromol/L, shape (n_times, n_channels)."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal((n_times, n_channels)), axis=0)
    return 0.1 * (x - x.mean(axis=0))


def _raises(path: Path, *parts: str):
    return pytest.raises(RecordingError, match=re.escape(str(path)) + ".*"
                         + ".*".join(re.escape(p) for p in parts))


def test_mat_with_named_variable_and_generated_channel_names(tmp_path):
    x = _signals()
    path = tmp_path / "lab.mat"
    scipy.io.savemat(path, {"oxyData": x, "fs": 10.0})
    spec = TableSpec(data="oxyData", signal="hbo", sfreq="fs", unit="uM")
    raw = read_table(path, spec=spec)
    assert raw.ch_names == ["ch1 hbo", "ch2 hbo", "ch3 hbo"]
    assert raw.get_channel_types() == ["hbo"] * 3 and raw.info["sfreq"] == SFREQ
    np.testing.assert_allclose(raw.get_data(), x.T * 1e-6)
    # names given in the spec, the rate as a number, both signals in two variables
    scipy.io.savemat(path, {"oxy": x, "deoxy": -0.3 * x, "t": np.arange(600) / 10.0})
    raw = read_table(path, spec=TableSpec(data=(("hbo", "oxy"), ("hbr", "deoxy")),
                                          channels=("S2_D1", "S1_D1", "S1_D2"), time="t",
                                          unit="uM"))
    assert raw.ch_names == ["S1_D1 hbo", "S1_D1 hbr", "S1_D2 hbo", "S1_D2 hbr",
                            "S2_D1 hbo", "S2_D1 hbr"]
    np.testing.assert_allclose(raw.get_data(["S2_D1 hbr"])[0], -0.3e-6 * x[:, 0])


def test_mat_spec_errors_name_the_file_and_variable(tmp_path):
    path = tmp_path / "lab.mat"
    scipy.io.savemat(path, {"oxyData": _signals(), "fs": 10.0})
    with _raises(path, "no variable 'oxy'", "table data = \"oxy\"", "fs, oxyData"):
        read_table(path, spec=TableSpec(data="oxy", signal="hbo", sfreq=10.0))
    with _raises(path, "channel 'ch1'", "table = { signal = \"hbo\" }"):
        read_table(path, spec=TableSpec(data="oxyData", sfreq=10.0, unit="uM"))
    with _raises(path, "the sampling rate is unknown", "table = { sfreq = 10.0 }"):
        read_table(path, spec=TableSpec(data="oxyData", signal="hbo"))
    with _raises(path, "oxyData has 3 columns but the table's channels in study.toml has 2"):
        read_table(path, spec=TableSpec(data="oxyData", signal="hbo", sfreq=10.0,
                                        channels=("A", "B")))
    # the unit hint says where a .mat file's unit goes, and what was assumed
    with _raises(path, "read in M (no unit given, so mol/L was assumed)",
                 "a 'unit' variable in the file", "accepted: M (mol/L), mM"):
        read_table(path, spec=TableSpec(data="oxyData", signal="hbo", sfreq="fs"))
    # interbrain's own layout without a spec still names the variables it needs
    with _raises(path, "missing variable(s) data, sfreq, channels", "table = {"):
        read_table(path)


def test_csv_with_named_columns_one_signal_and_unit_hint(tmp_path):
    x = _signals()
    path = tmp_path / "lab.csv"
    lines = ["t,CH1,CH2,CH3,marker"] + [f"{i / 10:.1f}," + ",".join(f"{v:.5f}" for v in row)
                                         + ",0" for i, row in enumerate(x)]
    path.write_text("\n".join(lines) + "\n")
    spec = TableSpec(time="t", channels=("CH1", "CH2", "CH3"), signal="hbr", unit="uM")
    raw = read_table(path, spec=spec)
    assert raw.ch_names == ["CH1 hbr", "CH2 hbr", "CH3 hbr"]
    assert raw.get_channel_types() == ["hbr"] * 3 and raw.info["sfreq"] == SFREQ
    np.testing.assert_allclose(raw.get_data(), x.T * 1e-6, atol=1e-11)
    with _raises(path, "no column 'CH9' (table channels in study.toml)",
                 "t, CH1, CH2, CH3, marker"):
        read_table(path, spec=TableSpec(time="t", channels=("CH9",), signal="hbo"))
    # without a list of channels every column but the time is one
    assert read_table(path, spec=TableSpec(time="t", signal="hbo", unit="uM")).ch_names[-1] \
        == "marker hbo"
    spaced = tmp_path / "spaced.csv"
    spaced.write_text(path.read_text().replace("marker", "my marker"))
    with _raises(spaced, "column 'my marker' is neither 'time' nor a channel name",
                 "a channel name has no spaces"):
        read_table(spaced, spec=TableSpec(time="t", signal="hbo", unit="uM"))
    with _raises(path, "column 'CH1'", "read in M (no unit given, so mol/L was assumed)",
                 "a '# unit=uM' line above the header", "accepted: M (mol/L)"):
        read_table(path, spec=TableSpec(time="t", channels=("CH1",), signal="hbo"))


def test_hbr_only_and_mixed_tables(tmp_path):
    path = tmp_path / "hbr.csv"
    x = _signals(n_channels=2)
    path.write_text("# unit=uM\ntime,S1_D1 hbr,S1_D2 hbr\n" + "".join(
        f"{i / 10:.1f},{a:.5f},{b:.5f}\n" for i, (a, b) in enumerate(x)))
    raw = read_table(path)
    assert raw.get_channel_types() == ["hbr", "hbr"]
    assert recording_signals(path) == ("hbr",)
    bad = tmp_path / "mixed.csv"
    bad.write_text("# unit=uM\ntime,S1_D1 hbo,S1_D2 hbr\n" + "".join(
        f"{i / 10:.1f},{a:.5f},{b:.5f}\n" for i, (a, b) in enumerate(x)))
    with _raises(bad, "S1_D1 has an hbo column but no hbr column",
                 "one signal (hbo only or hbr only) for all"):
        read_table(bad)


@pytest.mark.parametrize("signal", ["hbo", "hbr"])
def test_one_signal_preprocessing(signal):
    x = _signals(n_times=900, n_channels=3, seed=2).T * 1e-6
    x[2] = 0.0   # a flat channel: bad, per signal
    info = mne.create_info([f"S1_D{k} {signal}" for k in (1, 2, 3)], SFREQ, signal)
    raw = mne.io.RawArray(x, info, verbose="ERROR")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = preprocess_recording(raw, PreprocessingSettings(), source="one.csv")
    assert rec.signals == (signal,) and rec.bad_channels == {"S1_D3"}
    assert np.isfinite(rec.signal(signal)).all()
    other = "hbr" if signal == "hbo" else "hbo"
    with pytest.raises(RecordingError, match=rf"one\.csv: has no {other.upper()} signal "
                                             rf"\(it has {signal.upper()}\)"):
        rec.signal(other)
    skipped = next(s for s in rec.steps if s["step"] == "skipped")
    assert skipped["signals"] == [signal]
    assert "computed elsewhere" in skipped["reason"]
    assert any(s["step"] == "band_pass" and not s.get("skipped") for s in rec.steps)


def test_table_spec_from_study_toml_checks_its_keys():
    at = "study.toml: [[sessions]] entry 1"
    spec = TableSpec.from_table({"data": "oxyData", "signal": "hbo", "sfreq": 10,
                                 "channels": ["S1_D1", "S2_D1"], "unit": "uM"}, at)
    assert spec == TableSpec(data="oxyData", signal="hbo", sfreq=10.0,
                             channels=("S1_D1", "S2_D1"), unit="uM")
    merged = TableSpec(unit="nM").over(spec)
    assert merged.unit == "nM" and merged.data == "oxyData"
    for table, message in (({"dta": "x"}, "dta"),
                           ({"signal": "hbt"}, "signal must be \"hbo\" or \"hbr\""),
                           ({"sfreq": -1.0}, "sfreq must be a positive number"),
                           ({"unit": "furlong"}, "unknown concentration unit 'furlong'; "
                                                 "accepted: M (mol/L)"),
                           ({"channels": ["A", "A"]}, "A listed twice"),
                           ({"data": {"hbx": "v"}}, "hbx")):
        with pytest.raises(StudyError, match=re.escape(at) + ".*" + re.escape(message)):
            TableSpec.from_table(table, at)
