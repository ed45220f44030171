"""One run owns its results folder: a lock, a staging folder, a manifest, a log.

:class:`RunDirectory` gives a run of :func:`~interbrain.engine.run_study` (and of
``interbrain run``) exclusive use of its results folder ``DIR`` and makes its outputs
replace the previous run's as a whole:

- ``DIR/.interbrain.lock`` is locked for the length of the run
  (:class:`~interbrain.engine.lock.FolderLock`): a second run on the same folder fails
  at once naming the PID, host and start time of the first.
- Results are written into a staging folder inside ``DIR`` and moved into place by
  :meth:`RunDirectory.commit` only once all of them were written, together with
  ``DIR/manifest.json`` (:mod:`~interbrain.engine.manifest`). Files that the previous
  manifest lists and this run no longer produces are removed (unless changed since);
  files that no manifest lists (a user's own) are never touched. The commit only
  renames files; should it fail, or the process die in the middle, the previous
  results are put back (at once, or by the next run on the folder).
- The run's log is ``DIR/logs/<start time>.log`` (:meth:`RunDirectory.open_log`),
  listed in the manifest of a successful run; a failed run's log stays beside the
  previous results, which it does not touch.

Files and folders are created with the permissions of the process umask.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from .._files import create_file
from ..errors import OutputError
from .atomic import describe_os_error, write_text
from .lock import LOCK, FolderLock
from .manifest import (MANIFEST, build_manifest, file_entry, listed_files, read_manifest,
                       unchanged)

#: Folder of the run logs in the results folder.
LOGS = "logs"
#: Prefixes of the folders a run makes inside the results folder while it writes.
STAGING_PREFIX, PREVIOUS_PREFIX = ".partial-", ".previous-"
_JOURNAL = ".journal.json"


class _LogFile(logging.FileHandler):
    """A log file whose write errors (a full disk) are remembered, not printed with a
    traceback on standard error as :class:`logging.Handler` does."""

    failure: OSError | None = None

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging API)
        exc = sys.exc_info()[1]
        if self.failure is None and isinstance(exc, OSError):
            self.failure = exc


def _mkdir(path: Path, what: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(str(path), f"cannot create the {what}: "
                                     f"{describe_os_error(exc)}") from exc


class RunDirectory:
    """Exclusive use of a results folder by one run, and the replacement of the
    previous run's outputs by this run's as a whole.

    Use it as a context manager (or :meth:`acquire` and :meth:`release`)::

        with RunDirectory("results") as run_dir:
            with run_dir.staging() as staging:
                write_parquet(table, staging / "table.parquet")
                run_dir.commit(staging, study=describe_study(study), settings={...})

    (:func:`~interbrain.engine.manifest.describe_study`).

    Parameters
    ----------
    path : str or Path
        The results folder; created (with its parents) if missing.

    Attributes
    ----------
    path : Path
        The results folder.
    started : datetime or None
        When the lock was taken (UTC); None before :meth:`acquire`.
    run_id : str or None
        Unique id of this run, recorded in its manifest.
    log_path : Path or None
        The run's log, once :meth:`open_log` opened it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.started: datetime | None = None
        self.run_id: str | None = None
        self.log_path: Path | None = None
        self._lock = FolderLock(self.path)
        self._log: _LogFile | None = None
        self._logger: logging.Logger | None = None

    # -- the lock ------------------------------------------------------------------------
    @property
    def lock_path(self) -> Path:
        """The lock file, ``DIR/.interbrain.lock``."""
        return self.path / LOCK

    @property
    def held(self) -> bool:
        """Whether this object holds the folder's lock."""
        return self._lock.held

    def acquire(self) -> "RunDirectory":
        """Create the folder if needed and lock it for this run.

        Also finishes the business of a run killed on this folder: puts back the
        previous results if it died while moving its own into place, and removes its
        staging folder.

        Returns
        -------
        RunDirectory
            ``self``.

        Raises
        ------
        OutputError
            When another process holds the folder (naming its PID, host and start
            time), or the folder or its lock file cannot be created.
        """
        if self.held:
            raise RuntimeError(f"{self.path}: this run already holds the folder")
        _mkdir(self.path, "results folder")
        started = datetime.now(timezone.utc)
        self._lock.acquire(started)
        self.started, self.run_id = started, uuid.uuid4().hex
        try:
            self._recover()
        except BaseException:
            self.release()
            raise
        return self

    def release(self) -> None:
        """Close the log and give up the lock (removing the lock file)."""
        self.close_log()
        self._lock.release()

    def __enter__(self) -> "RunDirectory":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def _check_held(self) -> None:
        if not self.held:
            raise RuntimeError(f"{self.path}: acquire the folder first")

    # -- the log -------------------------------------------------------------------------
    def open_log(self, logger: logging.Logger, formatter: logging.Formatter,
                 level: int = logging.NOTSET) -> logging.Handler:
        """Start the run's log, ``DIR/logs/<start time>.log``, as a handler of ``logger``.

        The log is listed in the manifest by :meth:`commit`, which closes it: what is
        logged afterwards goes only to the other handlers.

        Parameters
        ----------
        logger : logging.Logger
        formatter : logging.Formatter
        level : int
            Level of the handler.

        Returns
        -------
        logging.Handler
        """
        self._check_held()
        if self._log is not None:
            raise RuntimeError(f"{self.log_path}: the run's log is already open")
        logs = self.path / LOGS
        _mkdir(logs, "log folder")
        stamp = self.started.strftime("%Y%m%dT%H%M%SZ")
        for n in range(1, 1000):
            path = logs / (f"{stamp}.log" if n == 1 else f"{stamp}-{n}.log")
            try:
                create_file(path)
                break
            except FileExistsError:
                continue
            except OSError as exc:
                raise OutputError(str(path), f"cannot create the log: "
                                             f"{describe_os_error(exc)}") from exc
        handler = _LogFile(path, mode="a", encoding="utf-8")
        handler.setFormatter(formatter)
        handler.setLevel(level)
        logger.addHandler(handler)
        self._log, self._logger, self.log_path = handler, logger, path
        return handler

    def close_log(self) -> None:
        """Detach the run's log from its logger and close it (if open)."""
        if self._log is not None:
            self._logger.removeHandler(self._log)
            self._log.close()
            self._log = self._logger = None

    # -- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A new, empty staging folder inside the results folder, removed on exit.

        An :class:`~interbrain.errors.OutputError` about a file in it is raised again
        naming the file's place in the results folder, which is what the user knows.
        """
        self._check_held()
        for _ in range(100):
            staging = self.path / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
            try:
                os.mkdir(staging, 0o777)
                break
            except FileExistsError:
                continue
            except OSError as exc:
                raise OutputError(str(self.path), f"cannot create a staging folder: "
                                                  f"{describe_os_error(exc)}") from exc
        try:
            yield staging
        except OutputError as exc:
            inside = Path(exc.path)
            if inside.is_relative_to(staging):
                raise OutputError(str(self.path / inside.relative_to(staging)),
                                  exc.problem) from exc
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def previous_manifest(self) -> dict | None:
        """The manifest of the last successful run in the folder, if any and readable."""
        return read_manifest(self.path)

    def commit(self, staging: Path, *, study: dict, settings: dict) -> dict:
        """Move the files of ``staging`` into the folder, with the manifest.

        Writes ``manifest.json`` (listing the staged files and the run's log), then
        moves the staged files into place, the manifest last, and removes the files
        the previous manifest lists that this run did not produce (unless they changed
        since). The run's log is closed first, so that its digest stays true. Should
        anything fail, the folder is left as it was, and the log reopened.

        Parameters
        ----------
        staging : Path
            From :meth:`staging`.
        study : dict
            The manifest's ``"study"`` entry
            (:func:`~interbrain.engine.manifest.describe_study`).
        settings : dict
            The manifest's ``"settings"`` entry.

        Returns
        -------
        dict
            The manifest written.

        Raises
        ------
        OutputError
            When the manifest or the log cannot be written.
        """
        self._check_held()
        staged = sorted(rel for rel in (p.relative_to(staging).as_posix()
                                        for p in staging.rglob("*") if p.is_file())
                        if rel != MANIFEST)
        files = [file_entry(staging / rel, rel) for rel in staged]
        log = self._log
        if log is not None:
            log.flush()
            self._logger.removeHandler(log)
        try:
            if log is not None:
                if log.failure is not None:
                    raise OutputError(str(self.log_path), "cannot write the log: "
                                      + describe_os_error(log.failure))
                files.append(file_entry(self.log_path,
                                        self.log_path.relative_to(self.path).as_posix()))
            manifest = build_manifest(run_id=self.run_id, started=self.started, study=study,
                                      settings=settings, files=files)
            write_text(json.dumps(manifest, indent=2) + "\n", staging / MANIFEST)
            produced = {os.path.normpath(e["path"]) for e in files}
            previous = listed_files(self.previous_manifest(), self.path, skip=(LOCK,))
            stale = [rel for rel, entry in previous.items()
                     if rel not in produced and unchanged(self.path / rel, entry)]
            try:
                self._swap(staging, [*staged, MANIFEST], stale)
            except OSError as exc:
                raise OutputError(str(exc.filename or self.path),
                                  "cannot move the results into place: "
                                  + describe_os_error(exc)) from exc
        except BaseException:
            if log is not None:
                self._logger.addHandler(log)
            raise
        self.close_log()
        return manifest

    def _swap(self, staging: Path, incoming: list[str], stale: list[str]) -> None:
        """Rename ``incoming`` (manifest last) from ``staging`` into the folder, and
        ``stale`` out of it, keeping what they replace in a ``.previous-`` folder until
        the manifest is in place; undo everything on failure."""
        previous = self.path / f"{PREVIOUS_PREFIX}{self.run_id}"
        new = [rel for rel in incoming if not os.path.lexists(self.path / rel)]
        try:
            os.mkdir(previous, 0o777)
            write_text(json.dumps({"run_id": self.run_id, "incoming": incoming, "new": new}),
                       previous / _JOURNAL)
        except (OSError, OutputError) as exc:
            shutil.rmtree(previous, ignore_errors=True)
            problem = exc.problem if isinstance(exc, OutputError) else (
                "cannot write: " + describe_os_error(exc))
            raise OutputError(str(self.path / MANIFEST), problem) from exc
        moved: list[tuple[str, bool, bool]] = []   # (path, old kept, new moved in)
        try:
            for rel in stale:
                (previous / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.path / rel, previous / rel)
                moved.append((rel, True, False))
            for rel in incoming:
                final = self.path / rel
                final.parent.mkdir(parents=True, exist_ok=True)
                old = os.path.lexists(final)
                if old:
                    (previous / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(final, previous / rel)
                moved.append((rel, old, False))
                os.replace(staging / rel, final)
                moved[-1] = (rel, old, True)
        except BaseException:
            # put the previous results back; should that fail too, the next run on
            # the folder does it from the journal (see _recover)
            for rel, old, moved_in in reversed(moved):
                if moved_in:
                    os.replace(self.path / rel, staging / rel)
                if old:
                    os.replace(previous / rel, self.path / rel)
            shutil.rmtree(previous, ignore_errors=True)
            raise
        shutil.rmtree(previous, ignore_errors=True)

    def _recover(self) -> None:
        """Finish what a run killed on this folder left: put back the previous results
        if it died before its manifest was in place, and remove its staging folders."""
        current = (self.previous_manifest() or {}).get("run_id")
        for folder in sorted(self.path.glob(f"{PREVIOUS_PREFIX}*")):
            if not folder.is_dir():
                continue
            try:
                journal = json.loads((folder / _JOURNAL).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                journal = None   # died before moving anything
            if journal is not None and journal.get("run_id") != current:
                kept = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
                        if p.is_file() and p.name != _JOURNAL}
                for rel in journal.get("new", []):
                    if os.path.lexists(self.path / rel):
                        os.unlink(self.path / rel)   # moved in by the killed run
                for rel in sorted(kept):
                    (self.path / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(folder / rel, self.path / rel)
                logging.getLogger("interbrain").warning(
                    "%s: put back the results of the run before one killed while "
                    "moving its results into place", self.path)
            shutil.rmtree(folder, ignore_errors=True)
        for folder in self.path.glob(f"{STAGING_PREFIX}*"):
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
