"""Memory for the channel spectra, reused from one recording to the next.

The transforms ``W`` and auto-spectra ``S`` of a recording's channels are the largest
arrays of the synchrony stage (1.65 GiB for 2 x 20 channels of a 50-minute session at
10 Hz, in float64), and a study computes them for one session after another. Memory
freed by one session and allocated again by the next is new memory to the operating
system: every page is faulted in and zeroed again, and in a virtual machine that
returns freed memory to its host that can cost more than the transforms themselves
(2.4-3.6 s per GiB on the developers' 2-CPU machine once the memory had been free for
8 seconds, against 0.11-0.13 s when it is reused at once: ``benchmarks/page_faults.py``,
``docs/performance.md``).

A :class:`BufferPool` keeps the buffers of spectra that are no longer used and hands
them out again. A buffer is reused only when nothing refers to it any more: every
array handed out is a view that holds a reference to its buffer, and the pool reuses
a buffer only when the pool's own reference is the last one, so an array that is
still alive (kept by a caller, or a view of it) is never overwritten. Reuse changes
no value: every element of a reused array is written before it is read.

:data:`SPECTRA_BUFFERS` is the pool of :class:`~.spectra.ChannelSpectra`. It keeps at
most ``max_idle_bytes`` (2 GiB by default) of buffers that nothing uses; call
:func:`release_spectra_buffers` to give them back to the operating system at once, or
``SPECTRA_BUFFERS.max_idle_bytes = 0`` to keep none.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

__all__ = ["BufferPool", "SPECTRA_BUFFERS", "release_spectra_buffers"]

#: Default most bytes of idle buffers a pool keeps.
MAX_IDLE_BYTES = 2 * 2**30

#: ``sys.getrefcount(items[k])`` of an object only the list ``items`` refers to (the
#: list's reference and the call's argument), measured rather than assumed.
_items = [object()]
_UNREFERENCED = sys.getrefcount(_items[0])
del _items


def _rounded_up(nbytes: int) -> int:
    """``nbytes`` rounded up to a multiple of a sixteenth of its power of two (at least 1)."""
    if nbytes <= 16:
        return max(int(nbytes), 1)
    step = 1 << (int(nbytes).bit_length() - 5)
    return -(-int(nbytes) // step) * step


class BufferPool:
    """Reusable byte buffers for large arrays, handed out as views.

    Parameters
    ----------
    max_idle_bytes : int
        Most bytes of buffers that nothing uses to keep for later; beyond it the oldest
        idle buffers are dropped (freed) when the pool is next used.

    Notes
    -----
    Thread-safe. A buffer is idle when the pool holds the only reference to it
    (``sys.getrefcount``); the arrays :meth:`take` returns are views of their buffer
    and keep it busy for as long as they, or any view of them, are alive.
    """

    def __init__(self, max_idle_bytes: int = MAX_IDLE_BYTES):
        self.max_idle_bytes = int(max_idle_bytes)
        self._buffers: list[np.ndarray] = []   # oldest first
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        busy, idle = self._bytes()
        return (f"<BufferPool | {len(self._buffers)} buffers, {busy / 2**20:.0f} MiB in use, "
                f"{idle / 2**20:.0f} MiB idle (keeps at most "
                f"{self.max_idle_bytes / 2**20:.0f} MiB idle)>")

    def _idle(self, k: int) -> bool:
        """Whether the pool's reference to buffer ``k`` is its only one (no local name
        may hold a buffer while this is asked: callers go by index)."""
        return sys.getrefcount(self._buffers[k]) <= _UNREFERENCED

    def _bytes(self) -> tuple[int, int]:
        with self._lock:
            busy = idle = 0
            for k in range(len(self._buffers)):
                if self._idle(k):
                    idle += self._buffers[k].nbytes
                else:
                    busy += self._buffers[k].nbytes
            return busy, idle

    def take(self, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
        """An uninitialised array, in an idle buffer of the pool if one fits.

        Parameters
        ----------
        shape : tuple of int
        dtype : numpy dtype

        Returns
        -------
        numpy.ndarray, C-contiguous, shape ``shape``
            Its contents are arbitrary (as :func:`numpy.empty`'s). An idle buffer is
            reused if it holds the array and is at most twice its size (the smallest
            such); otherwise every idle buffer is dropped and a new one allocated, a
            little larger than the array (up to 1/16 more, so that the next session,
            a few samples longer, fits in it).
        """
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        with self._lock:
            best = None
            for k in range(len(self._buffers)):
                size = self._buffers[k].nbytes
                if (nbytes <= size <= 2 * max(nbytes, 1) and self._idle(k)
                        and (best is None or size < self._buffers[best].nbytes)):
                    best = k
            if best is None:
                # none fits: give the idle ones back first, so that the pool never holds
                # idle memory while new memory is allocated (the peak stays that of no pool)
                self._buffers = [self._buffers[k] for k in range(len(self._buffers))
                                 if not self._idle(k)]
                self._buffers.append(np.empty(_rounded_up(nbytes), dtype=np.uint8))
            else:
                self._buffers.append(self._buffers.pop(best))   # newest last: kept longest
            out = self._buffers[-1][:nbytes].view(dtype).reshape(shape)
            self._trim()
            return out

    def _trim(self) -> None:
        """Drop the oldest idle buffers beyond ``max_idle_bytes`` (lock held)."""
        idle = [k for k in range(len(self._buffers)) if self._idle(k)]
        total = sum(self._buffers[k].nbytes for k in idle)
        drop = set()
        for k in idle:
            if total <= self.max_idle_bytes:
                break
            total -= self._buffers[k].nbytes
            drop.add(k)
        if drop:
            self._buffers = [b for k, b in enumerate(self._buffers) if k not in drop]

    def release(self) -> int:
        """Drop every idle buffer now; returns the bytes given back."""
        with self._lock:
            idle = [self._idle(k) for k in range(len(self._buffers))]
            freed = sum(b.nbytes for b, i in zip(self._buffers, idle) if i)
            self._buffers = [b for b, i in zip(self._buffers, idle) if not i]
            return freed


#: The pool of the channel spectra (:class:`~.spectra.ChannelSpectra`'s ``W`` and ``S``).
SPECTRA_BUFFERS = BufferPool()


def release_spectra_buffers() -> int:
    """Give the idle memory of :data:`SPECTRA_BUFFERS` back to the operating system.

    Returns
    -------
    int
        Bytes released.
    """
    return SPECTRA_BUFFERS.release()
