"""On-disk cache of intermediate products, keyed by content.

A product's key is the SHA-256 of everything it depends on: the bytes of the input
files, the parameters of its stage, the keys of the products it is computed from, and
the interbrain version and the digest of its source code. Changing only statistics settings therefore reuses every
cached preprocessing and synchrony product; adding a session recomputes only the
products that involve it. Entries are written atomically (temporary file, then
rename), so a run killed at any point leaves only complete entries, which the next
run reuses.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from .._npz import load_npz
from ..errors import OutputError
from ..preprocessing import Preprocessed
from .atomic import describe_os_error, write_bytes


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return value


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 of the source of the installed interbrain package (its ``.py`` files and
    their names), so that cached products of one build of the code are never reused by
    another, even between releases with the same version number."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def content_key(*parts: Any) -> str:
    """SHA-256 hex digest of ``parts`` (JSON-serialisable values, dataclasses, paths)
    together with the interbrain version and :func:`code_digest`."""
    text = json.dumps(_canonical([__version__, code_digest(), *parts]), sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, or of every file of a folder (names and bytes)."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


class Cache:
    """A folder of cached products.

    Parameters
    ----------
    directory : str or Path
        Created if missing. Entries live in ``<directory>/<kind>/<key>.<ext>``.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(str(self.directory), "cannot create the cache folder: "
                              + describe_os_error(exc)) from exc

    def path(self, kind: str, key: str, ext: str) -> Path:
        """Where entry ``key`` of ``kind`` lives."""
        return self.directory / kind / f"{key}.{ext}"

    def _write(self, target: Path, data: bytes) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(str(target.parent), "cannot create the cache folder: "
                              + describe_os_error(exc)) from exc
        write_bytes(data, target, fsync=True, what="write to the cache")

    # -- preprocessed recordings -------------------------------------------------------
    def has_recording(self, key: str) -> bool:
        """Whether the preprocessed recording ``key`` is cached."""
        return self.path("recordings", key, "npz").exists()

    def store_recording(self, key: str, rec: Preprocessed) -> None:
        """Cache a preprocessed recording (arrays, QC table, chain, annotations)."""
        meta = {"source": rec.source, "channels": rec.channels, "sfreq": rec.sfreq,
                "meas_date": rec.meas_date.isoformat() if rec.meas_date else None,
                "steps": rec.steps, "regions": getattr(rec, "regions", {}) or {}}
        extras = {}
        annotations = getattr(rec, "annotations", None)
        if annotations is not None:
            extras["annotations"] = np.frombuffer(_parquet_bytes(annotations), dtype=np.uint8)
        short = getattr(rec, "short", None)
        if short is not None:   # short-separation channels (systemic null)
            meta["short_channels"] = short.channels
            extras.update(short_hbo=short.hbo, short_hbr=short.hbr,
                          short_qc=np.frombuffer(_parquet_bytes(short.qc), dtype=np.uint8))
        buf = io.BytesIO()
        np.savez(buf, hbo=rec.hbo, hbr=rec.hbr,
                 meta=np.frombuffer(json.dumps(meta, default=str).encode(), dtype=np.uint8),
                 qc=np.frombuffer(_parquet_bytes(rec.qc), dtype=np.uint8), **extras)
        self._write(self.path("recordings", key, "npz"), buf.getvalue())

    def load_recording(self, key: str) -> Preprocessed:
        """The cached preprocessed recording ``key``."""
        z = load_npz(self.path("recordings", key, "npz"))
        meta = json.loads(z["meta"].tobytes().decode())
        kwargs = {}
        names = {f.name for f in dataclasses.fields(Preprocessed)}
        if "annotations" in z and "annotations" in names:
            kwargs["annotations"] = pd.read_parquet(io.BytesIO(z["annotations"].tobytes()))
        if "regions" in names:
            kwargs["regions"] = meta["regions"]
        if "short_channels" in meta and "short" in names:
            kwargs["short"] = Preprocessed(
                source=meta["source"], channels=list(meta["short_channels"]),
                hbo=z["short_hbo"], hbr=z["short_hbr"], sfreq=float(meta["sfreq"]),
                meas_date=None, qc=pd.read_parquet(io.BytesIO(z["short_qc"].tobytes())))
        rec = Preprocessed(
            source=meta["source"], channels=list(meta["channels"]), hbo=z["hbo"],
            hbr=z["hbr"], sfreq=float(meta["sfreq"]),
            meas_date=datetime.fromisoformat(meta["meas_date"]) if meta["meas_date"]
            else None, qc=pd.read_parquet(io.BytesIO(z["qc"].tobytes())),
            steps=meta["steps"], **kwargs)
        if kwargs.get("short") is not None:   # same start time and events as the long ones
            rec.short.meas_date, rec.short.annotations = rec.meas_date, rec.annotations
        return rec

    # -- tables ----------------------------------------------------------------------
    def has_tables(self, kind: str, key: str) -> bool:
        """Whether the tables ``key`` of ``kind`` are cached."""
        return self.path(kind, key, "npz").exists()

    def store_tables(self, kind: str, key: str, tables: dict[str, pd.DataFrame]) -> None:
        """Cache named DataFrames as one entry."""
        buf = io.BytesIO()
        np.savez(buf, **{name: np.frombuffer(_parquet_bytes(frame), dtype=np.uint8)
                         for name, frame in tables.items()})
        self._write(self.path(kind, key, "npz"), buf.getvalue())

    def load_tables(self, kind: str, key: str) -> dict[str, pd.DataFrame]:
        """The cached DataFrames ``key`` of ``kind``."""
        z = load_npz(self.path(kind, key, "npz"))
        return {name: pd.read_parquet(io.BytesIO(raw.tobytes())) for name, raw in z.items()}


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, engine="pyarrow", index=False)
    return buf.getvalue()
