"""Bad recordings through the whole pipeline: a clear error, and no results left behind.

Each test breaks one thing in a copy of a small simulated study (2 dyads x 2 sessions,
1-minute recordings, 4 channels), runs `interbrain run STUDY --out DIR`, and checks
that the command fails with a message naming the file(s) and the problem, and that
DIR holds no result files (only the cache of intermediate products and the log).

These are the failures that show only once the signals are analysed; problems that
`interbrain validate` finds before any computation (unreadable or damaged files, NaN
samples, rates, overlap, band, channel names, measures.csv) are in test_validate.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

from interbrain.cli import main
from interbrain.engine import run_study
from interbrain.errors import RecordingError
from interbrain.study import load_study

#: What a failed run may leave in the results folder: the cache and its log (in logs/).
NOT_RESULTS = {".cache", "logs"}

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture
def study(tiny_study_copy) -> Path:
    """A copy of conftest's tiny study, to break."""
    return tiny_study_copy


def _rec(study: Path, dyad: str, session: int, role: str) -> Path:
    return study / "recordings" / f"{dyad}_ses-{session:02d}_{role}.snirf"


def _fails(study: Path, out: Path, pattern: str) -> str:
    """Run the CLI; it must fail with ``pattern`` and leave no results in ``out``."""
    result = CliRunner().invoke(main, ["run", "--no-figures", str(study), "--out", str(out), "--quiet",
                                       "--workers", "1"])
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"not a handled error: {result.exception!r}"
    message = result.output.strip()
    assert re.search(pattern, message), message
    left = {p.name for p in out.iterdir()} if out.exists() else set()
    assert left <= NOT_RESULTS, f"partial results left behind: {sorted(left - NOT_RESULTS)}"
    for log in (out / "logs").glob("*.log") if out.exists() else ():
        assert re.search(pattern, log.read_text())
    return message


def _esc(path: Path) -> str:
    return re.escape(str(path.resolve()))


# --------------------------------------------------------------------------- unusable data

def test_every_channel_bad(study, tmp_path):
    victim = _rec(study, "D02", 2, "patient")
    with h5py.File(victim, "r+") as fh:
        fh["nirs/data1/dataTimeSeries"][...] = 1.0   # a disconnected cap: flat everywhere
    _fails(study, tmp_path / "out", rf"{_esc(victim)}: every channel is bad \(4 channel\(s\): "
                                    r"flat 4.*\); nothing to analyse")


# --------------------------------------------------------------------------- earlier results

def test_failed_rerun_keeps_earlier_results_whole(study, tmp_path):
    out = tmp_path / "out"
    run_study(load_study(study), out, n_workers=1)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert {"synchrony.parquet", "qc.parquet", "report.html", "preprocessing.json"} <= set(before)
    victim = _rec(study, "D01", 1, "patient")
    victim.write_bytes(victim.read_bytes()[:1000])
    with pytest.raises(RecordingError, match=rf"{_esc(victim)}: truncated SNIRF"):
        run_study(load_study(study), out, n_workers=1)
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before
    assert not [p for p in out.iterdir() if p.name.startswith(".partial")]
