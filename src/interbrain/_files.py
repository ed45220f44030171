"""New files and folders with the permissions of the user's umask.

:func:`tempfile.mkstemp` and :func:`tempfile.mkdtemp` create files readable by their
owner only (0600, 0700), whatever the umask; results renamed from them into place
would keep those modes. These helpers create uniquely named temporary files and
folders the way ``open`` and ``mkdir`` do (0666 and 0777 less the umask: 0644 and
0755 under umask 022).
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

_ATTEMPTS = 100


def create_file(path: str | Path) -> Path:
    """Create the new, empty file ``path`` (which must not exist) with the umask's
    permissions."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(fd)
    return Path(path)


def temporary_file(directory: str | Path, prefix: str, suffix: str = ".tmp") -> Path:
    """A new, empty file ``<directory>/<prefix><random><suffix>`` with the umask's
    permissions."""
    for _ in range(_ATTEMPTS):
        path = Path(directory) / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            return create_file(path)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(directory))


def temporary_folder(directory: str | Path, prefix: str) -> Path:
    """A new, empty folder ``<directory>/<prefix><random>`` with the umask's
    permissions."""
    for _ in range(_ATTEMPTS):
        path = Path(directory) / f"{prefix}{secrets.token_hex(6)}"
        try:
            os.mkdir(path, 0o777)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(directory))
