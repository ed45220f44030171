"""The lock of a results folder: one run at a time, and who holds it.

``DIR/.interbrain.lock`` is locked (``fcntl.flock``, not blocking) for the length of a
run and holds the PID, host and start time of the run that owns it; a second run on
the same folder fails at once naming them. The operating system releases the lock when
its process dies, so a killed run never blocks the next one (its lock file, left
behind, is taken over).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from datetime import datetime
from pathlib import Path

from ..errors import OutputError
from .atomic import describe_os_error
from .manifest import iso_utc

#: Name of the lock file in the results folder.
LOCK = ".interbrain.lock"


class FolderLock:
    """The exclusive, non-blocking lock of a results folder.

    Parameters
    ----------
    folder : Path
        The results folder (must exist when :meth:`acquire` is called).

    Attributes
    ----------
    path : Path
        The lock file, ``folder/.interbrain.lock``.
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, started: datetime) -> None:
        """Lock the folder and write the holder's PID, host and ``started`` into the file.

        Parameters
        ----------
        started : datetime
            The run's start time, recorded in the lock file.

        Raises
        ------
        OutputError
            When another process holds the lock (naming its PID, host and start time)
            or the lock file cannot be created or locked.
        """
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise OutputError(str(self.path), f"cannot create the lock file: "
                                                  f"{describe_os_error(exc)}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise OutputError(str(self.path), "cannot lock: "
                                      + describe_os_error(exc)) from exc
                raise OutputError(str(self.path.parent), "in use by another interbrain run ("
                                  + self.holder() + "); wait for it to finish, or write "
                                  "the results to another folder") from None
            # the previous holder removes the file when it releases the lock: if it did
            # so after we opened it, we locked a file that is gone; start over
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd = fd
        try:
            info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                               "started": iso_utc(started)})
            os.ftruncate(fd, 0)
            os.pwrite(fd, info.encode(), 0)
        except BaseException:
            self.release()
            raise

    def holder(self) -> str:
        """The process holding the lock, in words, from the lock file.

        Returns
        -------
        str
            ``"PID 123 on host, started 2026-11-30T16:43:38Z"``.
        """
        for _ in range(20):   # the holder writes it just after taking the lock
            try:
                info = json.loads(self.path.read_text(encoding="utf-8"))
                return (f"PID {info['pid']} on {info['host']}, started "
                        f"{info['started']}")
            except (OSError, ValueError, KeyError, TypeError):
                time.sleep(0.05)
        return "a process that has not said which"

    def release(self) -> None:
        """Give up the lock, removing the lock file (nothing if not held)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            # removed while still locked, so no other run locks the old file
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None
