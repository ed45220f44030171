"""On-disk cache of intermediate products, keyed by content.

A product's key is the SHA-256 of everything it depends on: the bytes of the input
files, the parameters of its stage, the keys of the products it is computed from, and
the interbrain version and the digest of its source code. Changing only statistics settings therefore reuses every
cached preprocessing and synchrony product; adding a session recomputes only the
products that involve it. Entries are written atomically (temporary file, then
rename), so a run killed at any point leaves only complete entries, which the next
run reuses.

Recordings are stored as uncompressed ``.npz`` archives: the signals as arrays, the
small tables (quality control, events) as structured arrays (or Parquet bytes for a
table whose columns a structured array cannot hold exactly). Loading reads only the
members a caller asks for, each with one read and a CRC-32 check
(:class:`~interbrain._npz.NpzArchive`); a damaged entry is deleted and reported
(:class:`DamagedCacheEntry`), so that the next run recomputes it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from .._npz import DamagedArchive, NpzArchive
from ..errors import OutputError
from ..preprocessing import Preprocessed
from .atomic import describe_os_error, write_bytes


#: Members of a recording entry holding each signal (names of ``[analysis] signals``).
SIGNAL_MEMBERS = {"hbo": "hbo", "hbr": "hbr", "hbo_short": "short_hbo",
                  "hbr_short": "short_hbr"}


class DamagedCacheEntry(OutputError):
    """A cache entry cannot be read back (truncated, damaged bytes, missing members).

    The entry is deleted when this is raised, so a new run recomputes it."""


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

    def _write(self, target: Path, arrays: dict[str, np.ndarray]) -> None:
        """``numpy.savez`` of ``arrays`` into ``target``, atomically and flushed to disk."""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(str(target.parent), "cannot create the cache folder: "
                              + describe_os_error(exc)) from exc
        # the entry is built in memory and written in one call, so that the temporary file
        # exists only for that write (a killed run rarely leaves one behind); its buffer
        # is written as it is, not copied first
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        write_bytes(buf.getbuffer(), target, fsync=True, what="write to the cache")

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
            extras["annotations"] = _table_array(annotations)
        short = getattr(rec, "short", None)
        if short is not None:   # short-separation channels (systemic null)
            meta["short_channels"] = short.channels
            extras.update(short_hbo=short.hbo, short_hbr=short.hbr,
                          short_qc=_table_array(short.qc))
        self._write(self.path("recordings", key, "npz"),
                    dict(hbo=rec.hbo, hbr=rec.hbr,
                         meta=np.frombuffer(json.dumps(meta, default=str).encode(),
                                            dtype=np.uint8),
                         qc=_table_array(rec.qc), **extras))

    def load_recording(self, key: str, signals: Iterable[str] | None = None) -> Preprocessed:
        """The cached preprocessed recording ``key``.

        Parameters
        ----------
        key : str
            The entry's key.
        signals : iterable of str, optional
            The signals the caller computes with, among ``"hbo"``, ``"hbr"``,
            ``"hbo_short"`` and ``"hbr_short"`` (None: all of them). Their arrays are read
            and checked against their CRC-32; the others are memory-mapped read-only
            (read from disk only where used, unchecked: ask for every signal you use).
            The tables (quality control, events) are always read and checked.

        Raises
        ------
        DamagedCacheEntry
            The entry is truncated or damaged (it is deleted, so a new run recomputes it).
        ValueError
            ``signals`` names an unknown signal.
        """
        wanted = set(SIGNAL_MEMBERS) if signals is None else (
            {signals} if isinstance(signals, str) else set(signals))
        unknown = sorted(wanted - set(SIGNAL_MEMBERS))
        if unknown:
            raise ValueError(f"unknown signals {unknown}; choose among {list(SIGNAL_MEMBERS)}")
        path = self.path("recordings", key, "npz")
        try:
            with NpzArchive(path) as z:
                def array(signal: str) -> np.ndarray:
                    member = SIGNAL_MEMBERS[signal]
                    return z.read(member) if signal in wanted else z.memmap(member)

                return _recording_from(z, array)
        except (DamagedArchive, KeyError, ValueError) as exc:   # ValueError: JSON, dates
            raise self._damaged(path, exc) from None

    def _damaged(self, path: Path, exc: BaseException) -> DamagedCacheEntry:
        """The error of a damaged entry, which is deleted (best effort)."""
        try:
            path.unlink()
            what = "it was deleted: run again to recompute it"
        except OSError:
            what = "delete it (or the cache folder) to recompute it"
        return DamagedCacheEntry(str(path), f"damaged cache entry ({exc}); {what}")

    # -- tables ----------------------------------------------------------------------
    def has_tables(self, kind: str, key: str) -> bool:
        """Whether the tables ``key`` of ``kind`` are cached."""
        return self.path(kind, key, "npz").exists()

    def store_tables(self, kind: str, key: str, tables: dict[str, pd.DataFrame]) -> None:
        """Cache named DataFrames as one entry."""
        self._write(self.path(kind, key, "npz"),
                    {name: np.frombuffer(_parquet_bytes(frame), dtype=np.uint8)
                     for name, frame in tables.items()})

    def load_tables(self, kind: str, key: str) -> dict[str, pd.DataFrame]:
        """The cached DataFrames ``key`` of ``kind``.

        Raises
        ------
        DamagedCacheEntry
            The entry is truncated or damaged (it is deleted, so a new run recomputes it).
        """
        path = self.path(kind, key, "npz")
        try:
            with NpzArchive(path) as z:
                return {name: _table_frame(z.read(name)) for name in z.names}
        except (DamagedArchive, ValueError) as exc:
            raise self._damaged(path, exc) from None


def _recording_from(z: NpzArchive, array: Callable[[str], np.ndarray]) -> Preprocessed:
    """The :class:`Preprocessed` of entry ``z``, its signals from ``array(signal)``."""
    meta = json.loads(z.read("meta").tobytes().decode())
    kwargs = {}
    names = {f.name for f in dataclasses.fields(Preprocessed)}
    if "annotations" in z and "annotations" in names:
        kwargs["annotations"] = _table_frame(z.read("annotations"))
    if "regions" in names:
        kwargs["regions"] = meta["regions"]
    if "short_channels" in meta and "short" in names:
        kwargs["short"] = Preprocessed(
            source=meta["source"], channels=list(meta["short_channels"]),
            hbo=array("hbo_short"), hbr=array("hbr_short"), sfreq=float(meta["sfreq"]),
            meas_date=None, qc=_table_frame(z.read("short_qc")))
    rec = Preprocessed(
        source=meta["source"], channels=list(meta["channels"]), hbo=array("hbo"),
        hbr=array("hbr"), sfreq=float(meta["sfreq"]),
        meas_date=datetime.fromisoformat(meta["meas_date"]) if meta["meas_date"]
        else None, qc=_table_frame(z.read("qc")), steps=meta["steps"], **kwargs)
    if kwargs.get("short") is not None:   # same start time and events as the long ones
        rec.short.meas_date, rec.short.annotations = rec.meas_date, rec.annotations
    return rec


def _table_array(frame: pd.DataFrame) -> np.ndarray:
    """``frame`` as one array of a recording entry: a structured array (a field per
    column; decoded much faster than Parquet) when :func:`_table_frame` gives back
    exactly what a Parquet round trip gives (values, dtypes, names, index), otherwise
    the Parquet bytes (uint8)."""
    parquet = _parquet_bytes(frame)
    kinds = [getattr(frame[c].dtype, "kind", "O") for c in frame.columns]
    if (len(frame.columns) and frame.columns.is_unique and not frame.attrs
            and all(isinstance(c, str) for c in frame.columns)
            and all(k in "biuf" or _is_str(frame[c]) for c, k in zip(frame.columns, kinds))):
        try:
            columns = [frame[c].to_numpy() if k in "biuf"
                       else np.array(frame[c].to_numpy(), dtype=str)
                       for c, k in zip(frame.columns, kinds)]
            table = np.empty(len(frame), dtype=[(c, a.dtype) for c, a in
                                                zip(frame.columns, columns)])
            for c, a in zip(frame.columns, columns):
                table[c] = a
            pd.testing.assert_frame_equal(_table_frame(table),
                                          pd.read_parquet(io.BytesIO(parquet)),
                                          check_exact=True, check_flags=True)
            return table
        except (AssertionError, ValueError, TypeError):
            pass
    return np.frombuffer(parquet, dtype=np.uint8)


def _is_str(column: pd.Series) -> bool:
    """Whether ``column`` holds text (pandas' ``str`` dtype or objects)."""
    return column.dtype == object or pd.api.types.is_string_dtype(column.dtype)


def _table_frame(table: np.ndarray) -> pd.DataFrame:
    """The DataFrame of a stored table (:func:`_table_array`, or Parquet bytes)."""
    if table.dtype.names is None:
        return pd.read_parquet(io.BytesIO(table.tobytes()))
    return pd.DataFrame({name: (pd.array(table[name], dtype="str")
                                if table.dtype[name].kind == "U" else table[name])
                         for name in table.dtype.names})


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, engine="pyarrow", index=False)
    return buf.getvalue()
