"""The real NIRx dyad of examples/real-dyad runs end to end through `interbrain run`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from interbrain.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "real-dyad"


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("real-dyad")
    result = CliRunner().invoke(main, ["run", "--no-figures", str(EXAMPLE), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def test_qc_marks_the_childs_dead_channels(real_run):
    qc = pd.read_parquet(real_run / "qc.parquet")
    child_bad = set(qc[(qc["role"] == "patient") & qc["bad"]]["channel"])
    assert {"S7_D7", "S8_D7"} <= child_bad
    assert qc.loc[qc["channel"].isin(["S7_D7", "S8_D7"]) & (qc["role"] == "patient"),
                  "sci"].max() < 0.2
    assert (qc["sfreq"].round(4) == 7.8125).all()


def test_synchrony_for_all_good_homologous_pairs(real_run):
    qc = pd.read_parquet(real_run / "qc.parquet")
    sync = pd.read_parquet(real_run / "synchrony.parquet")
    bad = set(qc.loc[qc["bad"], "channel"])
    good = sorted(set(qc["channel"]) - bad)
    for signal in ("hbo", "hbr"):
        rows = sync[(sync["signal"] == signal) & (sync["pairing"] == "real")]
        assert sorted(rows["pair"]) == good
        assert rows["value"].between(0, 1).all()
    assert (sync["pairing"] == "real").all()  # one dyad: no pseudo-dyads


def test_report_says_what_the_design_cannot_support(real_run):
    html = (real_run / "report.html").read_text()
    assert "Real dyad FCS01" in html
    assert "need at least 2 dyads and 2 session numbers" in html
    assert (real_run / "methods.md").exists()
