"""The spectra's buffer pool: memory reused only when nothing refers to it."""

from __future__ import annotations

import threading

import numpy as np

from interbrain.synchrony import WaveletGrid, band_mean_coherence, channel_spectra
from interbrain.synchrony.buffers import SPECTRA_BUFFERS, BufferPool, release_spectra_buffers


def test_a_buffer_in_use_is_never_handed_out_again():
    pool = BufferPool()
    a = pool.take((50, 8), np.complex128)
    b = pool.take((50, 8), np.complex128)
    assert not np.shares_memory(a, b)
    view = a[10:20, ::2]                    # a view keeps the buffer busy
    del a
    c = pool.take((50, 8), np.complex128)
    assert not np.shares_memory(c, view) and not np.shares_memory(c, b)
    real = c.real                           # so does a view through another dtype
    del c
    d = pool.take((50, 8), np.complex128)
    assert not np.shares_memory(d, real)
    assert not np.shares_memory(d, view) and not np.shares_memory(d, b)


def test_an_idle_buffer_is_reused_and_the_smallest_that_fits():
    pool = BufferPool()
    big = pool.take((1000,), np.float64)
    small = pool.take((300,), np.float64)
    big_addr = big.__array_interface__["data"][0]
    small_addr = small.__array_interface__["data"][0]
    del big, small
    again = pool.take((250,), np.float64)     # 2000 bytes: the 2400-byte one, not 8000
    assert again.__array_interface__["data"][0] == small_addr
    assert again.shape == (250,) and again.dtype == np.float64 and again.flags.c_contiguous
    other = pool.take((700,), np.float64)     # 5600 bytes: the 8000-byte one
    assert other.__array_interface__["data"][0] == big_addr
    tiny = pool.take((10,), np.float64)       # 80 bytes: too small for both (over 2x)
    assert not np.shares_memory(tiny, other) and not np.shares_memory(tiny, again)
    assert len(pool._buffers) == 3


def test_idle_buffers_beyond_the_limit_are_dropped_and_release_gives_them_back():
    pool = BufferPool(max_idle_bytes=0)
    a = pool.take((100,), np.float64)
    del a
    b = pool.take((10,), np.float64)         # does not fit: the idle one is dropped
    assert len(pool._buffers) == 1 and np.shares_memory(b, pool._buffers[0])
    pool.max_idle_bytes = 10**9
    c = pool.take((100,), np.float64)
    del c
    assert pool.release() == 800            # the idle one; b's is in use
    assert len(pool._buffers) == 1 and np.shares_memory(b, pool._buffers[0])
    assert "in use" in repr(pool)


def test_a_new_buffer_is_never_allocated_while_idle_ones_are_held():
    pool = BufferPool()
    a = pool.take((1000,), np.float64)
    addr = a.__array_interface__["data"][0]
    del a
    slightly_longer = pool.take((1010,), np.float64)   # a session a few samples longer
    assert slightly_longer.__array_interface__["data"][0] == addr
    del slightly_longer
    larger = pool.take((5000,), np.float64)            # does not fit: the idle one goes
    assert len(pool._buffers) == 1 and np.shares_memory(larger, pool._buffers[0])
    assert pool._buffers[0].nbytes < 5000 * 8 * 17 / 16


def test_threads_get_separate_memory():
    pool = BufferPool()
    out: list[np.ndarray] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        for _ in range(20):
            arr = pool.take((64,), np.float64)
            arr[:] = k
            with lock:
                out.append(arr)
            if len(out) % 3 == 0:
                with lock:
                    out.pop(0)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(len(out)):
        for j in range(i + 1, len(out)):
            assert not np.shares_memory(out[i], out[j])


def test_spectra_kept_by_a_caller_are_not_overwritten():
    rng = np.random.default_rng(3)
    n = 1200
    grid = WaveletGrid.build(n, 0.1, band=(2.0, 20.0))
    x1, x2 = rng.standard_normal((2, 3, n))
    first = channel_spectra(x1, grid)
    W1, S1 = first.W.copy(), first.S.copy()
    keep_w = first.W                       # the arrays only, not the spectra object
    del first
    second = channel_spectra(x2, grid)
    assert not np.shares_memory(second.W, keep_w)
    assert np.array_equal(keep_w, W1)
    del keep_w
    third = channel_spectra(x1, grid)      # may reuse the first's memory now
    assert np.array_equal(third.W, W1) and np.array_equal(third.S, S1)
    assert not np.shares_memory(third.W, second.W)
    fresh = band_mean_coherence(third, second, "all")
    release_spectra_buffers()
    SPECTRA_BUFFERS.max_idle_bytes, limit = 0, SPECTRA_BUFFERS.max_idle_bytes
    try:
        del third
        alone = channel_spectra(x1, grid)
        assert np.array_equal(band_mean_coherence(alone, second, "all"), fresh)
    finally:
        SPECTRA_BUFFERS.max_idle_bytes = limit
