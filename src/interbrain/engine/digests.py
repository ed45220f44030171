"""The SHA-256 of every input of a run, computed once, at its start.

The manifest records each input's digest (:func:`~interbrain.engine.manifest.
input_digest`) and the cache keys of the recording tasks contain it
(:func:`~interbrain.engine.graph.recording_task`): :func:`digest_inputs` hashes every
input once, in threads (hashlib releases Python's GIL), and both use its digests.
Each digest comes with the input's stamp (size and modification time; of every file
of a NIRx folder) taken before it was hashed: a task whose input has another stamp
when it runs (the file changed since) hashes it again (:func:`current_digest`), so a
changed file never reuses the cache of the old one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .manifest import input_digest

__all__ = ["InputDigest", "input_stamp", "digest_inputs", "current_digest"]


@dataclass(frozen=True)
class InputDigest:
    """The digest of one input and its stamp when it was hashed.

    Attributes
    ----------
    sha256 : str
        :func:`~interbrain.engine.manifest.input_digest`.
    stamp : tuple
        :func:`input_stamp`, taken before hashing.
    """

    sha256: str
    stamp: tuple


def input_stamp(path: str | Path) -> tuple:
    """Size in bytes and modification time (ns) of a file; of a folder, those of each
    of its files, with its path in the folder.

    Raises
    ------
    OSError
        When it cannot be read.
    """
    path = Path(path)
    if path.is_dir():
        return tuple((str(f.relative_to(path)), st.st_size, st.st_mtime_ns)
                     for f in sorted(path.rglob("*")) if f.is_file() for st in [f.stat()])
    st = path.stat()
    return (st.st_size, st.st_mtime_ns)


def _digest(path: Path) -> InputDigest | None:
    try:
        stamp = input_stamp(path)
        return InputDigest(input_digest(path), stamp)
    except OSError:   # not hashed here: the task reading it reports the problem
        return None


def digest_inputs(paths: Iterable[str | Path], threads: int | None = None
                  ) -> dict[str, InputDigest]:
    """Hash every input, several at once.

    Parameters
    ----------
    paths : iterable of str or Path
        E.g. :func:`~interbrain.engine.manifest.input_files`.
    threads : int, optional
        Threads hashing at once; default the number of cores, at most 4.

    Returns
    -------
    dict
        ``str(path)`` -> :class:`InputDigest`, for every input that could be read
        (the others are left out).
    """
    paths = [Path(p) for p in paths]
    threads = threads or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max(1, min(threads, len(paths))),
                            thread_name_prefix="interbrain-hash") as pool:
        digests = dict(zip(map(str, paths), pool.map(_digest, paths)))
    return {path: d for path, d in digests.items() if d is not None}


def current_digest(path: str | Path, known: Mapping[str, InputDigest] | None = None) -> str:
    """The :func:`~interbrain.engine.manifest.input_digest` of ``path`` as it is now:
    the one in ``known`` when the input's stamp is unchanged, else computed here.

    Parameters
    ----------
    path : str or Path
    known : mapping, optional
        :func:`digest_inputs`.

    Returns
    -------
    str

    Raises
    ------
    OSError
        When the input cannot be read.
    """
    entry = (known or {}).get(str(path))
    if entry is not None:
        try:
            if input_stamp(path) == entry.stamp:
                return entry.sha256
        except OSError:
            pass
    return input_digest(path)
