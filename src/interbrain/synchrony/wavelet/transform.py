"""The Morlet wavelet transform of ``wavelet.m``, batched over channels.

:func:`cwt` returns the transforms; :class:`ChannelTransform` is the kernel behind it
and behind :func:`~interbrain.synchrony.coherence.channel_spectra`, which also
smooths each channel's power while it is in cache.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .._batching import block_rows, n_threads, run_tasks
from .._inputs import as_channels
from .grid import WaveletGrid
from ..._compiled import jit
from .pruned import pruned_inverse_scatter_positive, transform_blocks
from .smoothing import smooth_plan

#: Default budget in bytes for the temporaries of one batched FFT block.
DEFAULT_CHUNK_BYTES = 256 * 2**20


def cwt(data: Any, grid: WaveletGrid, *, workers: int | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """Morlet wavelet transform of ``wavelet.m`` for the grid's computed rows.

    Parameters
    ----------
    data : array_like, shape (n_channels, n_times) or (n_times,)
        Finite samples; each channel is de-meaned (and zero-padded if ``grid.pad``).
    grid : WaveletGrid
    workers : int, optional
        Threads to use, one channel per thread at a time (None: the current default of
        :mod:`scipy.fft`, see :func:`scipy.fft.set_workers`; negative values count back
        from the number of CPUs, as in :mod:`scipy.fft`).
    chunk_bytes : int
        Budget of the temporaries of one batched FFT block (per thread).

    Returns
    -------
    numpy.ndarray, complex, shape (n_channels, n_rows, n_times)
        Wavelet coefficients of scales ``grid.scale[grid.rows]``.
    """
    x = as_channels(data, n_times=grid.n_times)
    out = np.empty((x.shape[0], grid.n_rows, grid.n_times), dtype=grid.complex_dtype)
    ChannelTransform(grid, out, None, chunk_bytes).run(x, n_threads(workers))
    return out


class ChannelTransform:
    """Wavelet transforms (and optionally smoothed auto-spectra) of channels into arrays.

    One channel at a time per thread, a block of rows at a time: the rows' transform
    ``ifft(fft(x) * daughter)`` is written to ``W[c]``; with ``S``, its power is
    transformed while still in cache, and after the last block the channel's band rows
    are smoothed into ``S[c]`` (``S(|W|^2 / scale)``, as ``smoothwavelet.m``). Where
    ``n_fft`` is a power of two, each row's inverse FFT is pruned to the bins where its
    daughter is at least 1e-24 of its peak (:mod:`.pruned`: ``L`` FFTs of ``n_fft / L``
    points; the dropped terms are far below round-off).

    Parameters
    ----------
    grid : WaveletGrid
    W : numpy.ndarray, complex, shape (n_channels, grid.n_rows, n_times)
        Written with the transforms of the computed rows.
    S : numpy.ndarray, real, shape (n_channels, grid.n_band_rows, n_times), optional
        Written with the smoothed scale-normalised power of the band's rows.
    chunk_bytes : int
        Budget of the temporaries of one block of rows, in bytes (per thread).
    """

    def __init__(self, grid: WaveletGrid, W: np.ndarray, S: np.ndarray | None,
                 chunk_bytes: int):
        self.grid, self.W, self.S = grid, W, S
        self.plan = smooth_plan(grid) if S is not None else None
        cb = np.dtype(grid.complex_dtype).itemsize
        self.rows = block_rows(grid.n_rows, grid.n_fft * cb, chunk_bytes)
        self.local = threading.local()
        self.pruned = transform_blocks(grid, self.rows)

    def _buffers(self):
        loc = self.local
        if not hasattr(loc, "cbuf"):
            g = self.grid
            loc.cbuf = np.zeros((self.rows, g.n_fft), dtype=g.complex_dtype)
            if any(pr is not None for _, _, pr in self.pruned):
                width = max(pr.n_bins for _, _, pr in self.pruned if pr is not None)
                loc.spec = np.zeros((1, self.rows, width), dtype=g.complex_dtype)
                loc.cols = np.empty((1, self.rows, g.n_fft), dtype=g.complex_dtype)
            if self.S is not None:
                plan = self.plan
                loc.pbuf = np.zeros((self.rows, plan.m), dtype=g.real_dtype)
                loc.Z = np.zeros((g.n_rows, 1, plan.width), dtype=g.complex_dtype)
                loc.ibuf = np.zeros((self.rows, plan.m // 2 + 1), dtype=g.complex_dtype)
        return loc

    def run(self, x: np.ndarray, threads: int) -> None:
        """Transform the channels ``x`` (n_channels, n_times), one per thread at a time."""
        g = self.grid
        x = x - x.mean(axis=1, keepdims=True)
        x = x.astype(g.real_dtype, copy=False)
        f = g.fft_lib.rfft(x, n=g.n_fft, workers=threads)  # (C, n_fft//2+1)
        run_tasks(lambda c: self.channel(c, f[c]), range(x.shape[0]), threads)

    def channel(self, c: int, f: np.ndarray) -> None:
        """Transform channel ``c`` from its FFT ``f`` into ``W[c]`` (and ``S[c]``)."""
        g, loc = self.grid, self._buffers()
        n, n_pos, R = g.n_times, f.shape[-1], self.rows
        cbuf = loc.cbuf  # columns n_pos: stay zero (negative frequencies)
        for r0, r1, pr in self.pruned:
            q = r1 - r0
            if pr is None:
                np.multiply(f[None, :], g.daughter[r0:r0 + q], out=cbuf[:q, :n_pos])
                w = g.fft_lib.ifft(cbuf[:q])
            else:
                k = pr.n_bins   # one-sided: the daughter is zero at negative frequencies
                np.multiply(f[None, :k], g.daughter[r0:r0 + q, :k], out=loc.spec[0, :q, :k])
                cols = loc.cols[:, :q].reshape(1, q, pr.M, pr.L)
                pruned_inverse_scatter_positive(loc.spec[:, :q], pr.twiddles, k, cols)
                w = g.fft_lib.ifft(cols, axis=2, overwrite_x=True).reshape(q, -1)
            # w: shape (q, n_fft), contiguous; the transform is its first n samples
            if self.S is None:
                self.W[c, r0:r0 + q] = w[:, :n]
                continue
            pbuf = loc.pbuf  # columns n: stay zero (padding of the smoothing FFT)
            _store_with_power(w, n, self.W[c, r0:r0 + q], pbuf[:q])
            F = g.fft_lib.rfft(pbuf[:q])
            self.plan.gather(F, loc.Z[r0:r0 + q], complex_input=False)
        if self.S is None:
            return
        plan, ibuf = self.plan, loc.ibuf
        for grp in plan.groups:
            Y = plan.smooth(grp, loc.Z, signs=1)
            for k0 in range(0, grp.band1 - grp.band0, R):
                k1 = min(k0 + R, grp.band1 - grp.band0)
                q = k1 - k0
                plan.scatter(grp, Y[k0:k1], ibuf[:q])
                s = g.fft_lib.irfft(ibuf[:q], n=plan.m)
                plan.clear(grp, ibuf[:q])
                self.S[c, grp.band0 + k0:grp.band0 + k1] = s[:, :n]


@jit
def _store_with_power(w, n, W, power):
    """``W[k, t] = w[k, t]`` and ``power[k, t] = re^2 + im^2`` of it, for ``t < n``
    (``power``'s other columns untouched): one pass over the fresh rows, rounded as
    numpy's ``w.real * w.real + w.imag**2``. The arrays are whole rows (contiguous: the
    loop then vectorises without gathers)."""
    for k in range(w.shape[0]):
        src, dst, pw = w[k], W[k], power[k]
        for t in range(n):
            v = src[t]
            dst[t] = v
            pw[t] = v.real * v.real + v.imag * v.imag
