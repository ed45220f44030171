"""MATLAB v4-v7 files, as the Homer and table readers share them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from ..errors import RecordingError


def load_mat(path: Path, what: str) -> dict:
    """Load a MATLAB v4-v7 file, turning every failure into a RecordingError.

    Parameters
    ----------
    path : Path
        The file.
    what : str
        What the file should be, for error messages (e.g. ``"Homer .nirs file"``).

    Returns
    -------
    dict
        Variable name -> value, as :func:`scipy.io.loadmat` returns them with
        ``squeeze_me=False`` (2-D arrays, structs as structured arrays).
    """
    size = path.stat().st_size
    if size == 0:
        raise RecordingError(f"{path}: empty file (0 bytes); expected a {what} (a MATLAB file)")
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if head[512:520] == b"\x89HDF\r\n\x1a\n" or head[:8] == b"\x89HDF\r\n\x1a\n":
        raise RecordingError(
            f"{path}: an HDF5 file (MATLAB v7.3 or SNIRF), not a MATLAB v4-v7 {what}; "
            "re-save it in MATLAB with save(..., '-v7'), or, if it is a SNIRF file, "
            "give it the .snirf extension")
    try:
        return scipy.io.loadmat(path, squeeze_me=False, struct_as_record=True)
    except Exception as exc:  # scipy raises ValueError, OSError, MatReadError, ...
        raise RecordingError(f"{path}: cannot be read as a {what} (MATLAB file; truncated or "
                             f"not a MATLAB file?): {type(exc).__name__}: {exc}") from None


def mat_string(value) -> str | None:
    """A MATLAB char array as a Python string (None if it is not one)."""
    arr = np.asarray(value)
    if arr.dtype.kind in "US":
        return "".join(str(x) for x in arr.ravel()).strip()
    if arr.dtype == object and arr.size == 1:
        return mat_string(arr.ravel()[0])
    return None
