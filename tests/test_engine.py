"""The engine: identical results on a dask.distributed cluster, caching, resuming."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from click.testing import CliRunner

from interbrain.cli import main
from interbrain.engine import Progress, run_study
from interbrain.simulate import simulate_study
from interbrain.study import load_study

REAL_DYAD = Path(__file__).resolve().parents[1] / "examples" / "real-dyad"
TABLES = ("synchrony.parquet", "qc.parquet", "sessions.parquet", "models.parquet")


@pytest.fixture(scope="module")
def small_study(tmp_path_factory) -> Path:
    """3 dyads x 3 sessions x 2 min; the familiarity null limited to one partner session
    per therapist recording (9 familiarity pairings, one task per dyad and signal)."""
    root = simulate_study(tmp_path_factory.mktemp("engine") / "study", preset="demo", n_dyads=3,
                          n_sessions=3, minutes=2.0, seed=11)
    toml = root / "study.toml"
    toml.write_text(toml.read_text().replace("[analysis]\n",
                                             "[analysis]\nfamiliarity_per_session = 1\n", 1))
    return root


@pytest.fixture(scope="module")
def embedded_run(small_study, tmp_path_factory) -> Path:
    """The results folder of ``run_study`` of the small study on the embedded threaded
    scheduler (2 threads): the reference other schedulers must equal. Do not change it."""
    out = tmp_path_factory.mktemp("embedded") / "threads"
    run_study(load_study(small_study), out, scheduler="threads", n_workers=2)
    return out


def _assert_same_results(a: Path, b: Path) -> None:
    for name in TABLES:
        left, right = pd.read_parquet(a / name), pd.read_parquet(b / name)
        pd.testing.assert_frame_equal(left, right, check_exact=True)


def _cache_state(cache: Path) -> dict[str, int]:
    return {str(p.relative_to(cache)): p.stat().st_mtime_ns for p in cache.rglob("*.npz")}


@pytest.mark.slow
def test_distributed_cluster_gives_identical_results(small_study, embedded_run, tmp_path,
                                                     require):
    distributed = require("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        # the command line's --scheduler ...
        result = CliRunner().invoke(main, ["run", "--no-figures", str(small_study), "--out",
                                           str(tmp_path / "cluster"), "--quiet",
                                           "--scheduler", cluster.scheduler_address])
        assert result.exit_code == 0, result.output
        # ... and study.toml's [engine] scheduler
        toml = small_study / "study-on-cluster.toml"
        toml.write_text((small_study / "study.toml").read_text()
                        + f'\n[engine]\nscheduler = "{cluster.scheduler_address}"\n')
        from_toml = load_study(toml)
        assert from_toml.engine.scheduler == cluster.scheduler_address
        with distributed.Client(cluster.scheduler_address) as client, \
                distributed.get_task_stream(client) as stream:
            run_study(from_toml, tmp_path / "cluster-toml")
        assert len(stream.data) > 0, "the [engine] scheduler ran no task"
    _assert_same_results(embedded_run, tmp_path / "cluster")
    _assert_same_results(embedded_run, tmp_path / "cluster-toml")
    # (the embedded process pool: test_command_line_defaults_to_worker_processes)


def test_command_line_defaults_to_worker_processes(small_study, embedded_run, tmp_path):
    """`interbrain run` with several workers runs them as processes (threads with one),
    with the results of the threaded scheduler bit for bit."""
    from interbrain.engine.graph import default_scheduler

    assert default_scheduler(2) == "processes" and default_scheduler(1) == "threads"
    reference = embedded_run
    out = tmp_path / "cli"
    subprocess.run([sys.executable, "-m", "interbrain.cli", "run", "--no-figures", str(small_study), "--out",
                    str(out), "--quiet", "--workers", "2"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (log,) = (out / "logs").glob("*.log")
    assert "scheduler: processes" in log.read_text()
    _assert_same_results(reference, out)


def test_rerun_reuses_the_cache(small_study, tmp_path):
    out = tmp_path / "out"
    run_study(load_study(small_study), out)
    before = _cache_state(out / ".cache")
    assert sum(k.startswith("recordings") for k in before) == 3 * 3 * 2
    # (session numbers: real and pseudo pairings; dyads: familiarity pairings) x signal
    assert sum(k.startswith("synchrony") for k in before) == (3 + 3) * 2
    first = {name: pd.read_parquet(out / name) for name in TABLES}
    run_study(load_study(small_study), out)
    assert _cache_state(out / ".cache") == before  # nothing recomputed
    for name in TABLES:
        pd.testing.assert_frame_equal(first[name], pd.read_parquet(out / name))


def test_changed_analysis_settings_recompute_only_synchrony(tmp_path):
    root = simulate_study(tmp_path / "s", preset="demo", n_dyads=2, n_sessions=2, minutes=2.0, seed=12)
    out = tmp_path / "out"
    run_study(load_study(root), out)
    before = _cache_state(out / ".cache")
    toml = root / "study.toml"
    toml.write_text(toml.read_text().replace("band = [10.0, 40.0]", "band = [12.0, 30.0]"))
    run_study(load_study(root), out)
    after = _cache_state(out / ".cache")
    recordings = {k: v for k, v in before.items() if k.startswith("recordings")}
    assert {k: after[k] for k in recordings} == recordings  # preprocessing reused
    # one per group (2 session numbers, 2 dyads' familiarity pairings) and signal:
    # 4 x 2 old + 4 x 2 new
    assert len([k for k in after if k.startswith("synchrony")]) == 16


def test_added_session_computes_only_what_it_touches(tmp_path):
    root = simulate_study(tmp_path / "s", preset="demo", n_dyads=3, n_sessions=3, minutes=2.0, seed=13)
    toml = root / "study.toml"
    full = toml.read_text()
    # drop dyad D03's session 3 from the study, run, then add it back
    entry = ('[[sessions]]\ndyad = "D03"\nsession = 3\n'
             'therapist = "recordings/D03_ses-03_therapist.snirf"\n'
             'patient = "recordings/D03_ses-03_patient.snirf"\n')
    assert entry in full
    toml.write_text(full.replace(entry, ""))
    (root / "measures.csv").write_text("\n".join(
        line for line in (root / "measures.csv").read_text().splitlines()
        if not line.startswith("D03,3,")) + "\n")
    out = tmp_path / "out"
    run_study(load_study(root), out)
    before = _cache_state(out / ".cache")
    toml.write_text(full)
    run_study(load_study(root), out)
    after = _cache_state(out / ".cache")
    new = set(after) - set(before)
    assert sum(k.startswith("recordings") for k in new) == 2  # the two new recordings
    # HbO and HbR of session number 3's real and pseudo pairings and of D03's
    # familiarity pairings
    assert sum(k.startswith("synchrony") for k in new) == 2 + 2
    assert all(after[k] == v for k, v in before.items())  # nothing else rewritten


def test_killed_run_resumes_to_identical_results(small_study, tmp_path):
    reference = tmp_path / "reference"
    run_study(load_study(small_study), reference)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "interbrain.cli", "run", "--no-figures", str(small_study), "--out", str(out),
           "--quiet", "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    cache = out / ".cache"
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(cache.glob("recordings/*.npz"))) >= 4:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "synchrony.parquet").exists()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _assert_same_results(reference, out)
    assert not list(cache.rglob("*.tmp"))


def test_progress_log_lines(small_study, tmp_path, caplog):
    caplog.set_level("INFO", logger="interbrain")
    logger = __import__("logging").getLogger("interbrain")
    logger.propagate = True
    with Progress("log") as progress:
        run_study(load_study(small_study), tmp_path / "o", progress=progress)
    text = caplog.text
    assert "preprocessing recordings: 18/18 done" in text
    # (session numbers + dyads' familiarity pairings) x signals
    assert "synchrony (real + pseudo): 12/12 done" in text


def test_channel_blocks_do_not_change_values(small_study, tmp_path):
    """A budget of a few channels' spectra gives the values of one big block."""
    from interbrain.engine import analyse_synchrony

    study = load_study(small_study)
    big = analyse_synchrony(study, cache_dir=tmp_path / "big", spectra_budget=2**34)
    small = analyse_synchrony(study, cache_dir=tmp_path / "small", spectra_budget=2**20)
    left, right = big.synchrony, small.synchrony
    pd.testing.assert_frame_equal(left.drop(columns="value"), right.drop(columns="value"))
    assert (left["pairing"] == "pseudo").any()
    diff = (left["value"] - right["value"]).abs().max()
    assert diff <= 1e-12, diff


def test_fast_channels_are_transformed_once_with_all_pairs(small_study, tmp_path, monkeypatch):
    """All-to-all pairs with pseudo-dyads on the default "fast" grid: a budget that
    holds a session's coarse spectra but few full-rate channels still transforms every
    channel once per task and signal (blocks sized by multirate_channel_bytes), with the
    values of one big block."""
    from dataclasses import replace

    from interbrain.engine import analyse_synchrony
    from interbrain.synchrony import session

    transformed = []
    real = session.channel_spectra

    def counting(data, grid, **kwargs):
        transformed.append(data.shape[0])
        return real(data, grid, **kwargs)

    monkeypatch.setattr(session, "channel_spectra", counting)
    study = load_study(small_study)
    study = replace(study, analysis=replace(study.analysis, pairs="all"))
    assert study.analysis.precision == "fast"
    runs = {}
    for budget in (2**34, 2**24):
        transformed.clear()
        runs[budget] = (analyse_synchrony(study, cache_dir=tmp_path / str(budget),
                                          spectra_budget=budget).synchrony, sum(transformed))
    (big, n_big), (small, n_small) = runs[2**34], runs[2**24]
    assert n_small == n_big > 0
    pd.testing.assert_frame_equal(big, small)


@pytest.mark.parametrize("which", ["simulated", "real"])
def test_float32_and_the_fast_default_stay_close_to_float64(which, small_study, tmp_path):
    """Precision float32: every channel pair within 1e-6 of float64, on a simulated study
    and on the real NIRx dyad; the default, "fast", within 1e-4 on the simulated study
    (on the real dyad: tests/test_multirate.py)."""
    from dataclasses import replace

    from interbrain.engine import analyse_synchrony

    root = small_study if which == "simulated" else REAL_DYAD
    study = load_study(root)
    assert study.analysis.precision == "fast"                  # the default
    study = replace(study, analysis=replace(study.analysis, precision="float32"))
    exact = replace(study, analysis=replace(study.analysis, precision="float64"))
    got = analyse_synchrony(study, cache_dir=tmp_path / "f32").synchrony
    ref = analyse_synchrony(exact, cache_dir=tmp_path / "f64").synchrony
    pd.testing.assert_frame_equal(ref.drop(columns="value"), got.drop(columns="value"))
    diff = (ref["value"] - got["value"]).abs().max()
    assert 0 < diff <= 1e-6, diff
    if which == "simulated":   # the default, "fast" (the real dyad: test_multirate.py)
        fast = analyse_synchrony(load_study(root), cache_dir=tmp_path / "fast").synchrony
        pd.testing.assert_frame_equal(ref.drop(columns="value"), fast.drop(columns="value"))
        diff = (ref["value"] - fast["value"]).abs().max()
        assert 0 < diff <= 1e-4, diff


def _leaks_an_ignore_filter(x):
    # what a task exiting warnings.catch_warnings out of order on threads can leave
    warnings.simplefilter("ignore")
    return x + 1


def test_a_run_leaves_the_callers_warning_filters_as_they_were():
    import dask

    from interbrain.engine.graph import execute

    before = list(warnings.filters)
    tasks = [dask.delayed(_leaks_an_ignore_filter, pure=True)(i) for i in range(4)]
    out = execute({"work": tasks}, Progress("quiet"), scheduler="threads", n_workers=2)
    assert out == {"work": [1, 2, 3, 4]}
    assert warnings.filters == before
