"""Reading ``.npz`` files safely from several threads at once.

NumPy parses every ``.npy`` header with :func:`ast.literal_eval`. On CPython 3.11 the
AST constructor keeps its recursion depth in interpreter-wide state, so two threads
parsing at once can fail with ``SystemError: AST constructor recursion depth mismatch``
(CPython issue gh-106905; fixed in later releases, not in 3.11). The engine's
threaded scheduler loads cached products from many threads, so every ``.npz`` read in
interbrain goes through :func:`load_npz`, which serialises the reads.
"""

from __future__ import annotations

import os
import threading
from typing import BinaryIO

import numpy as np

_NPZ_LOCK = threading.Lock()


def load_npz(source: str | os.PathLike | BinaryIO) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read while holding a process-wide lock.

    Parameters
    ----------
    source : path or binary file object
        The ``.npz`` archive.

    Returns
    -------
    arrays : dict of str to ndarray
        The archive's arrays by name, fully read into memory (no pickles allowed).
    """
    with _NPZ_LOCK:
        with np.load(source, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
