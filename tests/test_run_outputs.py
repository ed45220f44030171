"""One run owns its results folder: manifest, lock, logs, permissions, failures, kills.

The command-line runs use the tiny simulated study of conftest.py (2 dyads x 2
sessions, 1-minute recordings, 4 channels) and its run (``tiny_run``). Runs that need
no fresh computation share one cache (``tiny_cache``; entries are keyed by content, so
sharing changes no result); the ones that must compute (a full cache disk, killed
processes) get their own.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from click.testing import CliRunner

import interbrain
import interbrain.engine.atomic as atomic
from interbrain.cli import main
from interbrain.engine.lock import LOCK
from interbrain.engine.manifest import MANIFEST, describe_study
from interbrain.engine.run_directory import RunDirectory
from interbrain.errors import OutputError
from interbrain.simulate import simulate_study
from interbrain.study import load_study

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

ENOSPC_TEXT = "no space left on device"
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _cli(study: Path, out: Path, *args: str):
    """``interbrain run STUDY --out OUT --workers 1 ARGS`` in this process (with
    ``--no-figures`` unless ARGS say ``--figures``: drawing them takes seconds)."""
    figures = [] if "--figures" in args else ["--no-figures"]
    return CliRunner().invoke(main, ["run", str(study), "--out", str(out), "--workers", "1",
                                     *figures, *args])


def _cli_command(study: Path, out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "interbrain.cli", "run", str(study), "--out", str(out),
            *args]


def _assert_one_error(result, *patterns: str) -> str:
    """The run failed with exactly one ``Error:`` line on standard error, matching every
    pattern, and no traceback anywhere in its output."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"not a handled error: {result.exception!r}"
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for pattern in patterns:
        assert re.search(pattern, errors[0]), errors[0]
        assert len(re.findall(pattern, result.stderr)) == 1, result.stderr  # printed once
    return errors[0].removeprefix("Error: ")


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of a results folder but the cache: relative path -> bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and ".cache" not in p.relative_to(folder).parts
            and p.name != LOCK}


def _logs(out: Path) -> list[Path]:
    return sorted((out / "logs").glob("*.log"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(out: Path) -> list[str]:
    return [p.name for p in out.iterdir()
            if p.name.startswith((".partial-", ".previous-")) or p.name == LOCK]


# --------------------------------------------------------------------------- the manifest

def test_manifest_lists_every_file_of_the_run_with_its_digest(tiny_run, tiny_study):
    manifest = json.loads((tiny_run / MANIFEST).read_text())
    listed = {e["path"]: e for e in manifest["files"]}
    on_disk = set(_snapshot(tiny_run)) - {MANIFEST}
    assert set(listed) == on_disk
    assert {"synchrony.parquet", "qc.parquet", "sessions.parquet", "models.parquet",
            "preprocessing.json", "methods.md", "report.html"} <= set(listed)
    for rel, entry in listed.items():
        assert entry["sha256"] == _sha256(tiny_run / rel), rel
        assert entry["size"] == (tiny_run / rel).stat().st_size, rel
    # the run's log is one of them, named by the start time, and complete
    (log,) = _logs(tiny_run)
    assert re.fullmatch(r"\d{8}T\d{6}Z\.log", log.name)
    assert f"logs/{log.name}" in listed
    assert "scheduler: threads" in log.read_text()
    assert "moving the results into place" in log.read_text()
    assert manifest["interbrain"] == interbrain.__version__
    assert re.fullmatch(ISO, manifest["started"]) and re.fullmatch(ISO, manifest["finished"])
    assert manifest["started"] <= manifest["finished"]
    assert log.name.startswith(manifest["started"].replace("-", "").replace(":", "")[:15])
    # the study: its recordings' digests, and one digest of the whole
    study = load_study(tiny_study)
    recordings = manifest["study"]["recordings"]
    assert recordings == {str(p.relative_to(tiny_study)): _sha256(p)
                          for p in sorted((tiny_study / "recordings").glob("*.snirf"))}
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["study"]["digest"])
    assert manifest["study"] == describe_study(study)
    # the settings, as given by the study and the command line
    settings = manifest["settings"]
    for name in ("analysis", "preprocessing", "statistics", "engine"):
        assert settings[name] == json.loads(json.dumps(asdict(getattr(study, name)),
                                                       default=str)), name
    assert settings["scheduler"] == "threads" and settings["workers"] == 1
    assert not _leftovers(tiny_run)


def test_study_digest_follows_the_inputs(tiny_study, tmp_path):
    study = Path(shutil.copytree(tiny_study, tmp_path / "study"))
    first = describe_study(load_study(study))
    moved = Path(shutil.copytree(study, tmp_path / "elsewhere"))
    assert describe_study(load_study(moved))["digest"] == first["digest"]
    measures = study / "measures.csv"
    lines = measures.read_text().splitlines()
    measures.write_text("\n".join(lines[:-1]) + "\n")   # one session's measures fewer
    assert describe_study(load_study(study))["digest"] != first["digest"]
    measures.write_text("\n".join(lines) + "\n")
    assert describe_study(load_study(study))["digest"] == first["digest"]
    victim = study / "recordings" / "D02_ses-02_patient.snirf"
    victim.write_bytes(victim.read_bytes() + b"\0")
    changed = describe_study(load_study(study))
    assert changed["digest"] != first["digest"]
    assert changed["recordings"]["recordings/D02_ses-02_patient.snirf"] == _sha256(victim)


def test_result_files_follow_the_umask(tiny_run):
    assert stat.S_IMODE(tiny_run.stat().st_mode) == 0o755
    assert stat.S_IMODE((tiny_run / "logs").stat().st_mode) == 0o755
    files = [p for p in tiny_run.rglob("*") if p.is_file()]
    assert len(files) >= 9
    for path in files:   # results, manifest, log and cache entries
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_atomic_writes_follow_another_umask(tmp_path):
    old = os.umask(0o027)
    try:
        atomic.write_text("x", tmp_path / "a.txt")
        atomic.write_parquet(pd.DataFrame({"a": [1]}), tmp_path / "a.parquet")
        atomic.write_bytes(b"x", tmp_path / "a.bin", fsync=True)
    finally:
        os.umask(old)
    for name in ("a.txt", "a.parquet", "a.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "a.parquet", "a.txt"]



def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    """A file written atomically (cache entries, from numpy.savez's buffer) appears
    whole or not at all: a failure midway leaves neither the file nor its temporary, and
    an OS error becomes one OutputError naming the file."""
    target = tmp_path / "entry.npz"
    buf = io.BytesIO()
    np.savez(buf, a=np.arange(5))
    atomic.write_bytes(buf.getbuffer(), target, fsync=True)
    with np.load(target) as entry:
        assert entry["a"].tolist() == [0, 1, 2, 3, 4]

    class HalfFile:
        """An open file that writes part of its bytes, then fails with ``exc``."""

        def __init__(self, path, exc):
            self.fh, self.exc = open(path, "wb"), exc

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            self.fh.write(bytes(data)[:7])
            raise self.exc

    for exc in (OSError(28, "No space left on device"), KeyboardInterrupt()):
        monkeypatch.setattr(atomic, "open", lambda path, mode, e=exc: HalfFile(path, e),
                            raising=False)
        if isinstance(exc, OSError):
            with pytest.raises(OutputError, match="cannot write to the cache: no space left"):
                atomic.write_bytes(b"PK half an entry", tmp_path / "other.npz",
                                   what="write to the cache")
        else:
            with pytest.raises(KeyboardInterrupt):
                atomic.write_bytes(b"PK a new entry", target)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.npz"]
    with np.load(target) as entry:                 # the earlier file is untouched
        assert entry["a"].tolist() == [0, 1, 2, 3, 4]


# --------------------------------------------------------------------------- reruns

def test_rerun_removes_what_it_no_longer_produces_and_keeps_the_users_files(
        tiny_study, tiny_cache, tmp_path):
    study = Path(shutil.copytree(tiny_study, tmp_path / "study"))
    toml = study / "study.toml"
    plain = toml.read_text()
    toml.write_text(plain.replace("pseudo_dyads = true\n",
                                  "pseudo_dyads = true\nwindow = 30\n", 1))
    out = tmp_path / "out"
    result = _cli(study, out, "--quiet", "--cache", str(tiny_cache), "--figures")
    assert result.exit_code == 0, result.output
    assert (out / "synchrony_windows.parquet").exists()
    figures = sorted(p.name for p in (out / "figures").iterdir())
    for width in (85, 174):   # SVG and PDF at both journal widths
        assert {f"trajectories_hbo_wtc_{width}mm.svg",
                f"trajectories_hbo_wtc_{width}mm.pdf"} <= set(figures), figures
    assert (out / "figures" / "trajectories_hbo_wtc_85mm.pdf").read_bytes()[:4] == b"%PDF"
    listed = {e["path"] for e in json.loads((out / MANIFEST).read_text())["files"]}
    assert {f"figures/{name}" for name in figures} <= listed
    (first_log,) = _logs(out)
    (out / "my notes.txt").write_text("mine")
    (out / "mine").mkdir()
    (out / "mine" / "table.csv").write_text("a,b\n")
    time.sleep(1.1)   # the next run's log is named by another second
    toml.write_text(plain)
    result = _cli(study, out, "--quiet", "--cache", str(tiny_cache))
    assert result.exit_code == 0, result.output
    assert not (out / "synchrony_windows.parquet").exists()
    assert not (out / "figures").exists() or not any((out / "figures").iterdir())
    assert not first_log.exists()   # the previous run's log went with its results
    (log,) = _logs(out)
    assert (out / "my notes.txt").read_text() == "mine"
    assert (out / "mine" / "table.csv").read_text() == "a,b\n"
    manifest = json.loads((out / MANIFEST).read_text())
    listed = {e["path"] for e in manifest["files"]}
    assert listed == set(_snapshot(out)) - {MANIFEST, "my notes.txt", "mine/table.csv"}
    assert f"logs/{log.name}" in listed
    assert not _leftovers(out)


def _stage(run_dir: RunDirectory, files: dict[str, str]) -> dict:
    with run_dir.staging() as staging:
        for rel, text in files.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_text(text)
        return run_dir.commit(staging, study={"digest": "x"}, settings={})


def test_commit_never_removes_a_file_it_did_not_write(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("interbrain"), "propagate", True)
    out = tmp_path / "out"
    outside = tmp_path / "outside.txt"
    outside.write_text("b")
    with RunDirectory(out) as run_dir:
        _stage(run_dir, {"a.txt": "a1", "b.txt": "b", "sub/c.txt": "c", "d.txt": "d"})
    (out / "user.txt").write_text("u")
    (out / "d.txt").write_text("changed by the user")
    # a manifest edited to list a file outside the folder (same bytes as a listed one)
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"].append({**manifest["files"][1], "path": "../outside.txt"})
    (out / MANIFEST).write_text(json.dumps(manifest))
    with RunDirectory(out) as run_dir:
        written = _stage(run_dir, {"a.txt": "a2"})
    assert (out / "a.txt").read_text() == "a2"
    assert not (out / "b.txt").exists() and not (out / "sub" / "c.txt").exists()
    assert (out / "user.txt").read_text() == "u"
    assert (out / "d.txt").read_text() == "changed by the user"
    assert "d.txt changed since the run that wrote it: left in place" in caplog.text
    assert outside.read_text() == "b"
    assert [e["path"] for e in written["files"]] == ["a.txt"]
    assert json.loads((out / MANIFEST).read_text()) == written
    assert not _leftovers(out)


def test_a_log_that_cannot_be_written_fails_the_commit(tmp_path, capsys):
    out = tmp_path / "out"
    with RunDirectory(out) as run_dir:
        _stage(run_dir, {"a.txt": "a1"})
    before = _snapshot(out)
    logger = logging.getLogger("interbrain.test-full-log")

    class FullDisk:
        def write(self, text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def flush(self):
            pass

    with RunDirectory(out) as run_dir:
        handler = run_dir.open_log(logger, logging.Formatter("%(message)s"))
        logger.warning("first line")
        real_stream, handler.stream = handler.stream, FullDisk()
        logger.warning("lost to the full disk")
        real_stream.close()
        with pytest.raises(OutputError, match=re.escape(
                f"{run_dir.log_path}: cannot write the log: {ENOSPC_TEXT}")):
            _stage(run_dir, {"a.txt": "a2"})
        assert handler in logger.handlers   # given back, to log the failure
    assert handler not in logger.handlers
    assert "Traceback" not in capsys.readouterr().err
    after = _snapshot(out)
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) == {f"logs/{run_dir.log_path.name}"}


def test_a_failed_commit_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "out"
    with RunDirectory(out) as run_dir:
        _stage(run_dir, {"a.txt": "a1", "b.txt": "b1", "old.txt": "o"})
    before = _snapshot(out)
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == out / "b.txt" and ".partial-" in str(src):
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with RunDirectory(out) as run_dir, pytest.raises(OutputError, match=(
            rf"{re.escape(str(out / 'b.txt'))}: cannot move the results into place: "
            r"input/output error")):
        _stage(run_dir, {"a.txt": "a2", "b.txt": "b2", "new.txt": "n"})
    assert _snapshot(out) == before
    assert not _leftovers(out)


def test_a_run_killed_while_moving_its_results_is_undone_by_the_next(tmp_path, monkeypatch):
    out = tmp_path / "out"
    with RunDirectory(out) as run_dir:
        _stage(run_dir, {"a.txt": "a1", "b.txt": "b1", "stale.txt": "s"})
    before = _snapshot(out)
    real_replace = os.replace

    def replace(src, dst):   # dies as SIGKILL would: nothing undone
        if Path(dst) == out / "b.txt" and ".partial-" in str(src):
            os._exit(9)
        real_replace(src, dst)

    pid = os.fork()
    if pid == 0:   # the run that is killed
        try:
            monkeypatch.setattr(os, "replace", replace)
            with RunDirectory(out) as run_dir:
                _stage(run_dir, {"a.txt": "a2", "b.txt": "b2", "new.txt": "n"})
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] >> 8 == 9
    # it moved stale.txt out, a.txt in, b.txt out but not yet in, and left its lock file
    assert (out / "a.txt").read_text() == "a2" and not (out / "b.txt").exists()
    assert not (out / "stale.txt").exists() and (out / LOCK).exists()
    with RunDirectory(out):
        assert _snapshot(out) == before
        assert not [p for p in out.iterdir() if p.name.startswith((".partial-", ".previous-"))]


# --------------------------------------------------------------------------- the lock

def test_a_second_run_on_the_folder_fails_at_once_naming_the_first(tiny_study, tiny_cache, tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from interbrain.engine.run_directory import RunDirectory\n"
         "RunDirectory(sys.argv[1]).acquire()\nprint('held', flush=True)\ntime.sleep(600)",
         str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        result = _cli(tiny_study, out, "--cache", str(tiny_cache))
        seconds = time.monotonic() - t0
        message = _assert_one_error(
            result, re.escape(str(out)) + ": in use by another interbrain run",
            rf"PID {holder.pid} on {re.escape(socket.gethostname())}, started {ISO}")
        assert seconds < 20, f"took {seconds:.1f} s to fail"
        assert sorted(p.name for p in out.iterdir()) == [LOCK], message  # wrote nothing
        assert f'"pid": {holder.pid}' in (out / LOCK).read_text()
        with pytest.raises(OutputError, match=rf"PID {holder.pid} "):
            RunDirectory(out).acquire()
    finally:
        holder.kill()
        holder.wait()
    # the holder died holding it: its lock file stays, naming a dead process ...
    assert f'"pid": {holder.pid}' in (out / LOCK).read_text()
    # ... and does not stop the next run
    result = _cli(tiny_study, out, "--quiet", "--cache", str(tiny_cache))
    assert result.exit_code == 0, result.output
    assert (out / MANIFEST).exists() and not _leftovers(out)


# --------------------------------------------------------------------------- failures

def test_full_disk_while_writing_results_keeps_the_previous_ones(tiny_study, tiny_cache, tmp_path,
                                                                 monkeypatch):
    out = tmp_path / "out"
    assert _cli(tiny_study, out, "--quiet", "--cache", str(tiny_cache)).exit_code == 0
    before = _snapshot(out)
    (previous_log,) = _logs(out)
    time.sleep(1.1)
    to_parquet = pd.DataFrame.to_parquet

    def full_disk(frame, path=None, *args, **kwargs):
        if isinstance(path, (str, os.PathLike)) and \
                Path(path).name.startswith(".models.parquet."):
            # what pyarrow raises when the disk fills while it writes
            raise OSError("Error writing bytes to file. Detail: [errno 28] "
                          "No space left on device")
        return to_parquet(frame, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    result = _cli(tiny_study, out, "--cache", str(tiny_cache), "--verbose")
    message = _assert_one_error(
        result, re.escape(f"{out / 'models.parquet'}: cannot write: {ENOSPC_TEXT}"))
    assert message == f"{out / 'models.parquet'}: cannot write: {ENOSPC_TEXT}"
    after = _snapshot(out)
    (failed_log,) = set(_logs(out)) - {previous_log}
    assert set(after) == set(before) | {f"logs/{failed_log.name}"}
    assert {k: after[k] for k in before} == before   # previous results and log unchanged
    log = failed_log.read_text()
    assert message in log and "Traceback" in log    # --verbose: the traceback, in the log
    assert not _leftovers(out)


def test_full_disk_while_writing_the_cache(tiny_study, tmp_path, monkeypatch):
    out = tmp_path / "out"

    class FullDisk:
        def __init__(self, path):
            self.path = path

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real_open = open

    def open_(path, mode="r", *args, **kwargs):
        if ".cache" in Path(path).parts and "w" in mode:
            return FullDisk(path)
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(atomic, "open", open_, raising=False)
    result = _cli(tiny_study, out)
    pattern = (rf"{re.escape(str(out / '.cache'))}/recordings/[0-9a-f]{{64}}\.npz: "
               rf"cannot write to the cache: {ENOSPC_TEXT}")
    message = _assert_one_error(result, pattern)
    assert re.fullmatch(pattern, message), message
    (log,) = _logs(out)
    text = log.read_text()
    assert message in text and "Traceback" not in text   # no --verbose, no traceback
    assert sorted(p.name for p in out.iterdir()) == [".cache", "logs"]
    assert not [p for p in (out / ".cache").rglob("*") if p.is_file()]


def test_unexpected_error_is_one_message(tiny_study, tiny_cache, tmp_path, monkeypatch):
    import interbrain.engine.run as run

    def broken(*args, **kwargs):
        raise KeyError("growth")

    monkeypatch.setattr(run, "fit_models", broken)
    out = tmp_path / "out"
    result = _cli(tiny_study, out, "--cache", str(tiny_cache))
    message = _assert_one_error(result, r"unexpected error: KeyError: 'growth'",
                                r"--verbose")
    (log,) = _logs(out)
    assert message in log.read_text() and "Traceback" not in log.read_text()
    assert sorted(p.name for p in out.iterdir()) == ["logs"]
    result = _cli(tiny_study, out, "--cache", str(tiny_cache), "-v")
    _assert_one_error(result, r"unexpected error: KeyError: 'growth'")
    log = next(p for p in _logs(out) if "Traceback" in p.read_text())
    assert "in broken" in log.read_text()


# --------------------------------------------------------------------------- killed processes

def _start_on_processes(study: Path, out: Path, *args: str):
    """Start ``interbrain run --workers 2 --scheduler processes``; return it and its
    worker processes, once they exist."""
    proc = subprocess.Popen(_cli_command(study, out, "--workers", "2", "--scheduler",
                                         "processes", *args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            children = parent.children(recursive=True)
            workers = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
        except psutil.Error:
            time.sleep(0.02)
            continue
        if len(workers) == 2:
            return proc, children, workers
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"no workers started: {proc.communicate()}")


def _running(processes) -> list:
    alive = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


def test_killed_run_leaves_no_worker_and_the_rerun_succeeds(tiny_study, tmp_path):
    out = tmp_path / "out"
    proc, children, workers = _start_on_processes(tiny_study, out)
    try:
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # a worker still starting imports the parent's main module (interbrain.cli)
        # before its initializer can notice the parent is gone: seconds on a loaded
        # machine; what must hold is that none is left behind
        deadline = time.monotonic() + 60
        while _running(children) and time.monotonic() < deadline:
            time.sleep(0.05)
        survivors = _running(children)
        assert not survivors, [(p.pid, p.cmdline()) for p in survivors]
    finally:
        for p in _running(children):
            p.kill()
    assert not (out / "synchrony.parquet").exists()
    assert f'"pid": {proc.pid}' in (out / LOCK).read_text()   # a stale lock file
    (killed_log,) = _logs(out)
    time.sleep(1.1)
    rerun = subprocess.run(_cli_command(tiny_study, out, "--workers", "2", "--scheduler",
                                        "processes", "--quiet"),
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert "Traceback" not in rerun.stderr
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["settings"]["scheduler"] == "processes"
    # every file but the killed run's log (which no manifest lists) is the rerun's
    assert {e["path"] for e in manifest["files"]} == (
        set(_snapshot(out)) - {MANIFEST, f"logs/{killed_log.name}"})
    assert not _leftovers(out)


def test_killed_worker_is_one_message(tiny_study, tmp_path):
    out = tmp_path / "out"
    proc, children, workers = _start_on_processes(tiny_study, out)
    try:
        os.kill(workers[0].pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
        for p in _running(children):
            p.kill()
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stdout + stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    assert re.fullmatch(r"Error: a worker process died before finishing its task \(killed "
                        r"by a signal, e\.g\. by the system's out-of-memory killer\) \(tasks "
                        r"under way: (preprocessing \S+\.snirf|synchrony of session \d "
                        r"\(hb[or]\))(; .+)?\); rerun with fewer --workers, or with "
                        r"--scheduler threads", errors[0]), errors[0]
    assert stderr.count("a worker process died") == 1
    (log,) = _logs(out)
    assert errors[0].removeprefix("Error: ") in log.read_text()
    assert sorted(p.name for p in out.iterdir() if p.name != ".cache") == ["logs"]


def test_simulated_study_and_threshold_cache_follow_the_umask(tmp_path):
    """No file interbrain writes keeps mkstemp's 0600 or mkdtemp's 0700."""
    from interbrain.synchrony.significance import ThresholdCache, coherence_threshold
    old = os.umask(0o022)
    try:
        study = simulate_study(tmp_path / "study", preset="demo", n_dyads=2, n_sessions=2, minutes=1,
                               band=(5.0, 15.0), n_channels=4, seed=3)
        cache = ThresholdCache(tmp_path / "thresholds")
        coherence_threshold(0.1, 256, 0.5, 0.5, n_surrogates=10, cache=cache)
    finally:
        os.umask(old)
    folders = [study, *(p for p in study.rglob("*") if p.is_dir())]
    for path in folders:
        assert stat.S_IMODE(path.stat().st_mode) == 0o755, path
    files = [p for p in (*study.rglob("*"), *(tmp_path / "thresholds").rglob("*"))
             if p.is_file()]
    assert any(p.suffix == ".npz" for p in files)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
