"""An explicit cache of significance thresholds, in memory and optionally on disk."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np

from ..._files import temporary_file
from ..._npz import load_npz
from .threshold import SignificanceThreshold


class ThresholdCache:
    """Explicit cache of :class:`SignificanceThreshold` objects.

    Thresholds are kept in a dictionary keyed by :func:`threshold_key`; with a
    ``directory`` they are also written there as ``.npz`` files (written to a temporary
    file in the same directory and moved into place with :func:`os.replace`, so a
    reader never sees a partial file) and read back by later caches on the same
    directory. A file whose stored key differs from the requested one (a hash
    collision or another method version) or that cannot be read is ignored and
    overwritten.

    Parameters
    ----------
    directory : str or os.PathLike, optional
        Directory of the on-disk cache (created if missing).

    Attributes
    ----------
    hits : int
        Lookups answered from memory.
    disk_hits : int
        Lookups answered from the directory.
    misses : int
        Lookups not answered (the threshold was then computed).
    """

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self._memory: dict[tuple, SignificanceThreshold] = {}
        self.directory = None if directory is None else Path(directory)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.disk_hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._memory)

    def __contains__(self, key: tuple) -> bool:
        return key in self._memory

    def __repr__(self) -> str:
        return (f"ThresholdCache(directory={self.directory!r}, in_memory={len(self)}, "
                f"hits={self.hits}, disk_hits={self.disk_hits}, misses={self.misses})")

    def clear(self) -> None:
        """Forget the in-memory thresholds (files on disk are kept)."""
        self._memory.clear()

    def path_for(self, key: tuple) -> Path | None:
        """File of ``key`` in the directory (None without a directory)."""
        if self.directory is None:
            return None
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
        return self.directory / f"wtcsig-{digest}.npz"

    def get(self, key: tuple) -> SignificanceThreshold | None:
        """The cached threshold of ``key``, from memory or disk, or None."""
        hit = self._memory.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        path = self.path_for(key)
        if path is not None and path.exists():
            value = _load(path, key)
            if value is not None:
                self._memory[key] = value
                self.disk_hits += 1
                return value
        self.misses += 1
        return None

    def put(self, key: tuple, value: SignificanceThreshold) -> None:
        """Store ``value`` under ``key`` in memory and, with a directory, on disk."""
        self._memory[key] = value
        path = self.path_for(key)
        if path is not None:
            _save(path, key, value)


def _save(path: Path, key: tuple, value: SignificanceThreshold) -> None:
    tmp = temporary_file(path.parent, path.stem + ".")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, key=np.array(repr(key)), period=value.period, scale=value.scale,
                     threshold=value.threshold, ar1=np.array(value.ar1, dtype=np.float64),
                     n_surrogates=value.n_surrogates, quantile=value.quantile,
                     seed=value.seed, n_times=value.n_times, dt=value.dt)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _load(path: Path, key: tuple) -> SignificanceThreshold | None:
    try:
        d = load_npz(path)
        if str(d["key"]) != repr(key):
            return None
        arrays = {k: np.array(d[k]) for k in ("period", "scale", "threshold")}
        ar1 = tuple(float(v) for v in d["ar1"])
        meta = (int(d["n_surrogates"]), float(d["quantile"]), int(d["seed"]),
                int(d["n_times"]), float(d["dt"]))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    for arr in arrays.values():
        arr.setflags(write=False)
    return SignificanceThreshold(period=arrays["period"], scale=arrays["scale"],
                                 threshold=arrays["threshold"], ar1=ar1,
                                 n_surrogates=meta[0], quantile=meta[1], seed=meta[2],
                                 n_times=meta[3], dt=meta[4], grid_key=tuple(key[5]))
