"""Threads and block sizes of the batched FFT kernels of :mod:`interbrain.synchrony`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import scipy.fft as sfft

#: Temporaries of one batched FFT block, per thread: about 8 rows of 32768 complex128
#: values. Blocks of this size stay in the processor's caches between the steps that
#: touch them (product, FFT, gather; scatter, inverse FFT, ratio).
BLOCK_BYTES = 4 * 2**20
#: Most rows per FFT block (pocketfft vectorises across rows; more gains nothing).
MAX_BLOCK_ROWS = 8


def n_threads(workers: int | None) -> int:
    """Number of threads for ``workers``, read as :mod:`scipy.fft` reads it.

    Parameters
    ----------
    workers : int or None
        None means the current default of :mod:`scipy.fft` (1 unless changed with
        :func:`scipy.fft.set_workers`); a negative value counts back from the number of
        CPUs (-1: all of them).

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    ValueError
        ``workers`` that give no thread (0, or fewer CPUs than counted back).
    """
    if workers is None:
        workers = sfft.get_workers()
    workers = int(workers)
    if workers < 0:
        workers = (os.cpu_count() or 1) + 1 + workers
    if workers < 1:
        raise ValueError(f"workers must be a positive number of threads or negative "
                         f"(counting back from the CPUs), got {workers}")
    return workers


def run_tasks(fn: Callable[[Any], Any], items: Iterable[Any], threads: int) -> list[Any]:
    """``[fn(item) for item in items]``, on ``threads`` threads when more than one.

    The heavy work of the tasks (NumPy element-wise loops and pocketfft) releases the
    GIL, so the threads run in parallel; results come back in the order of ``items``.

    Parameters
    ----------
    fn : callable
        Applied to each item.
    items : iterable
    threads : int
        Most threads used.

    Returns
    -------
    list
        ``fn(item)`` of each item, in order.
    """
    items = list(items)
    if threads <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(threads, len(items))) as pool:
        return list(pool.map(fn, items))


def block_rows(n_rows: int, row_bytes: int, chunk_bytes: int) -> int:
    """Rows of one FFT block within ``min(chunk_bytes, BLOCK_BYTES)``, at least one.

    Parameters
    ----------
    n_rows : int
        Rows to process.
    row_bytes : int
        Bytes of one row's temporaries.
    chunk_bytes : int
        The caller's budget in bytes.

    Returns
    -------
    int
        Between 1 and ``min(MAX_BLOCK_ROWS, n_rows)``.
    """
    budget = min(int(chunk_bytes), BLOCK_BYTES)
    return int(max(1, min(MAX_BLOCK_ROWS, n_rows, budget // max(row_bytes, 1))))
