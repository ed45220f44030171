"""Atomic file writes: a reader never sees a half-written result file.

Each file is written to a temporary file beside it, then renamed over the target.
The temporary file is created with mode ``0o666`` filtered by the process umask, as
``open`` would create the file itself (so results are ``0o644`` under umask 022, not
the ``0o600`` of :func:`tempfile.mkstemp`). A failed write (a full disk, no
permission) removes the temporary file and raises
:class:`~interbrain.errors.OutputError` naming the target and the problem.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .._files import temporary_file
from ..errors import OutputError


def describe_os_error(exc: OSError) -> str:
    """The problem of an operating-system error in words, without the file name.

    Parameters
    ----------
    exc : OSError
        As raised by the operating system, or by pyarrow (whose messages carry the
        error number in their text only).

    Returns
    -------
    str
        E.g. ``"no space left on device"`` or ``"permission denied"``.
    """
    text = str(exc)
    if exc.errno == errno.ENOSPC or os.strerror(errno.ENOSPC) in text:
        return "no space left on device"
    if exc.errno == errno.EDQUOT or os.strerror(errno.EDQUOT) in text:
        return "disk quota exceeded"
    reason = exc.strerror or text or type(exc).__name__
    return reason[:1].lower() + reason[1:]


def _temporary_beside(path: Path) -> Path:
    return temporary_file(path.parent, f".{path.name}.")


def _replace_into(path: Path, write: Callable[[Path], None], *, what: str = "write",
                  fsync: bool = False) -> None:
    path = Path(path)
    tmp = None
    try:
        tmp = _temporary_beside(path)
        write(tmp)
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise OutputError(str(path), f"cannot {what}: {describe_os_error(exc)}") from exc
        raise


def write_text(text: str, path: str | Path) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Raises
    ------
    OutputError
        When the file cannot be written.
    """
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
    _replace_into(Path(path), write)


def write_bytes(data: bytes | memoryview, path: str | Path, *, fsync: bool = False,
                what: str = "write") -> None:
    """Write ``data`` (bytes or a buffer) to ``path`` atomically.

    Parameters
    ----------
    data : bytes or memoryview
    path : str or Path
    fsync : bool
        Flush the file to disk before renaming it into place (cache entries).
    what : str
        The action named by an error: ``"cannot <what>: <problem>"``.

    Raises
    ------
    OutputError
        When the file cannot be written.
    """
    def write(tmp):
        with open(tmp, "wb") as fh:
            fh.write(data)
    _replace_into(Path(path), write, what=what, fsync=fsync)


def write_parquet(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` to a Parquet file (pyarrow) atomically.

    Raises
    ------
    OutputError
        When the file cannot be written.
    """
    _replace_into(Path(path), lambda tmp: frame.to_parquet(tmp, engine="pyarrow", index=False))
