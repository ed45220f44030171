"""Reading ``.npz`` files safely from several threads at once, member by member.

NumPy parses every ``.npy`` header with :func:`ast.literal_eval`. On CPython 3.11 the
AST constructor keeps its recursion depth in interpreter-wide state, so two threads
parsing at once can fail with ``SystemError: AST constructor recursion depth mismatch``
(CPython issue gh-106905; fixed in later releases, not in 3.11). The engine's
threaded scheduler loads cached products from many threads, so every ``.npy`` header
read in interbrain goes through this module, which serialises the header parses
(:func:`load_npz` serialises whole reads).

:class:`NpzArchive` reads the members of an uncompressed archive (as :func:`numpy.savez`
writes them) one by one, each with one read at its offset in the file and one check
of its CRC-32 (``numpy.load`` reads in small chunks and checks every member it is
asked for), or memory-maps a member without reading it.
"""

from __future__ import annotations

import io
import os
import re
import struct
import threading
import zipfile
import zlib
from typing import BinaryIO

import numpy as np

__all__ = ["DamagedArchive", "NpzArchive", "load_npz"]

_NPZ_LOCK = threading.Lock()
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")   # a zip member's local file header
_NPY_PREFIX = 4096                               # bytes read to find a header (memmap)
#: The header :func:`numpy.save` writes for a plain dtype, parsed without ``ast``.
_SIMPLE_HEADER = re.compile(r"\{'descr': '([<>|=][a-zA-Z][0-9]*)', 'fortran_order': "
                            r"(True|False), 'shape': \(((?:[0-9]+, )*[0-9]*,?)\), \} *\n?")


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


class DamagedArchive(ValueError):
    """An ``.npz`` archive (or one of its members) is truncated, damaged or not one."""


class NpzArchive:
    """The members of an uncompressed ``.npz`` file, read one at a time.

    Only the archive's directory is read on opening; :meth:`read` reads one member
    (checked against its CRC-32) and :meth:`memmap` maps one read-only without
    reading it. Use it as a context manager (or call :meth:`close`).

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` archive.

    Raises
    ------
    DamagedArchive
        The file is not a zip archive (truncated, overwritten).
    OSError
        The file cannot be opened.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._file = open(self.path, "rb", buffering=0)
        try:
            self._size = os.fstat(self._file.fileno()).st_size
            with zipfile.ZipFile(self._file) as z:
                infos = z.infolist()
        except (zipfile.BadZipFile, ValueError, EOFError, struct.error) as exc:
            self._file.close()
            raise DamagedArchive(f"not a readable .npz archive ({exc})") from None
        except BaseException:
            self._file.close()
            raise
        self._members = {(i.filename[:-4] if i.filename.endswith(".npy") else i.filename): i
                         for i in infos}

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (memory maps already made stay valid)."""
        self._file.close()

    @property
    def names(self) -> list[str]:
        """The members' names (without ``.npy``), in the archive's order."""
        return list(self._members)

    def __contains__(self, name: str) -> bool:
        return name in self._members

    def _pread(self, size: int, offset: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer at the end of the file)."""
        self._file.seek(offset)
        return self._file.read(size)

    def _data_offset(self, name: str) -> tuple[zipfile.ZipInfo, int]:
        """The member's directory entry and where its bytes start in the file."""
        try:
            info = self._members[name]
        except KeyError:
            raise DamagedArchive(f"has no member {name!r}") from None
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            raise DamagedArchive(f"member {name!r} is compressed or encrypted")
        raw = self._pread(_LOCAL_HEADER.size, info.header_offset)
        if len(raw) != _LOCAL_HEADER.size:
            raise DamagedArchive(f"truncated at member {name!r}")
        fields = _LOCAL_HEADER.unpack(raw)
        if fields[0] != b"PK\x03\x04" or fields[3] != info.compress_type:
            raise DamagedArchive(f"damaged header of member {name!r}")
        start = info.header_offset + _LOCAL_HEADER.size + fields[9] + fields[10]
        if start + info.file_size > self._size:
            raise DamagedArchive(f"truncated in member {name!r} ({self._size} bytes, "
                                 f"{start + info.file_size} needed)")
        return info, start

    def _header(self, name: str, prefix: bytes | memoryview, size: int
                ) -> tuple[tuple[int, ...], bool, np.dtype, int]:
        """Shape, Fortran order, dtype and header length of the ``.npy`` bytes ``prefix``
        (the member's first bytes; the member has ``size`` bytes)."""
        simple = _simple_header(bytes(prefix[:256]))
        if simple is not None:
            shape, fortran, dtype, offset = simple
        else:
            shape, fortran, dtype, offset = self._parsed_header(name, prefix)
        if dtype.hasobject:
            raise DamagedArchive(f"member {name!r} holds Python objects (not read)")
        if offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != size:
            raise DamagedArchive(f"member {name!r}: its size does not match its header")
        return tuple(shape), bool(fortran), dtype, offset

    def _parsed_header(self, name: str, prefix: bytes | memoryview
                       ) -> tuple[tuple[int, ...], bool, np.dtype, int]:
        """:meth:`_header` by NumPy's parser (any header it reads)."""
        fp = io.BytesIO(prefix)
        try:
            with _NPZ_LOCK:   # ast.literal_eval, not thread-safe on CPython 3.11
                version = np.lib.format.read_magic(fp)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
        except (ValueError, SyntaxError, EOFError) as exc:
            raise DamagedArchive(f"damaged array header of member {name!r} ({exc})") from None
        return shape, fortran, dtype, fp.tell()

    def read(self, name: str) -> np.ndarray:
        """Member ``name``, read with one read and checked against its CRC-32.

        Returns
        -------
        numpy.ndarray
            A writable array owning its memory.

        Raises
        ------
        DamagedArchive
            The member is missing, truncated, fails its CRC check or is no ``.npy``.
        """
        info, start = self._data_offset(name)
        buf = np.empty(info.file_size, dtype=np.uint8)
        view, done = memoryview(buf), 0
        while done < info.file_size:
            self._file.seek(start + done)
            got = self._file.readinto(view[done:])
            if got <= 0:
                raise DamagedArchive(f"truncated in member {name!r}")
            done += got
        if zlib.crc32(buf) != info.CRC:
            raise DamagedArchive(f"member {name!r} fails its CRC-32 check (damaged bytes)")
        shape, fortran, dtype, offset = self._header(name, view, info.file_size)
        if dtype.itemsize == 0 or 0 in shape:
            return np.empty(shape, dtype=dtype, order="F" if fortran else "C")
        flat = buf[offset:].view(dtype)
        return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)

    def memmap(self, name: str) -> np.ndarray:
        """Member ``name`` memory-mapped read-only: its bytes are read from the file only
        where they are used, and not checked against the member's CRC-32.

        Raises
        ------
        DamagedArchive
            The member is missing, truncated or no ``.npy`` (as far as its header tells).
        """
        info, start = self._data_offset(name)
        prefix = self._pread(min(_NPY_PREFIX, info.file_size), start)
        if len(prefix) >= 12 and prefix[:6] == b"\x93NUMPY":   # a longer header: read it all
            wide = prefix[6] >= 2
            need = (12 + int.from_bytes(prefix[8:12], "little") if wide
                    else 10 + int.from_bytes(prefix[8:10], "little"))
            if need > len(prefix):
                prefix = self._pread(min(need, info.file_size), start)
        shape, fortran, dtype, offset = self._header(name, prefix, info.file_size)
        if dtype.itemsize == 0 or 0 in shape:
            return np.empty(shape, dtype=dtype, order="F" if fortran else "C")
        return np.memmap(self.path, dtype=dtype, mode="r", offset=start + offset,
                         shape=shape, order="F" if fortran else "C")


def _simple_header(prefix: bytes) -> tuple[tuple[int, ...], bool, np.dtype, int] | None:
    """Shape, Fortran order, dtype and header length of a version 1.0 ``.npy`` header of
    a plain dtype (as :func:`numpy.save` writes one), or None for any other header
    (NumPy's parser then reads it)."""
    if len(prefix) < 10 or prefix[:8] != b"\x93NUMPY\x01\x00":
        return None
    end = 10 + int.from_bytes(prefix[8:10], "little")
    found = _SIMPLE_HEADER.fullmatch(prefix[10:end].decode("latin1"))
    if found is None or end > len(prefix):
        return None
    try:
        dtype = np.dtype(found[1])
    except TypeError:
        return None
    shape = tuple(int(v) for v in found[3].split(",") if v.strip())
    return shape, found[2] == "True", dtype, end
