"""Channel spectra: each channel's wavelet transform and smoothed auto-spectrum, once.

The only per-channel work of wavelet coherence (Grinsted's ``wtc.m``): the Morlet
transform ``W`` of the standardised channel and its smoothed scale-normalised power
``S(|W|^2 / scale)``. :func:`channel_spectra` computes them for all the channels of a
recording on one :class:`~interbrain.synchrony.wavelet.WaveletGrid`; every pair
containing a channel (across recordings too) then reuses them
(:mod:`interbrain.synchrony.coherence`).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ._batching import n_threads
from ._inputs import as_channels
from .buffers import SPECTRA_BUFFERS
from .wavelet.grid import WaveletGrid
from .wavelet.transform import DEFAULT_CHUNK_BYTES, ChannelTransform

__all__ = ["ChannelSpectra", "channel_spectra", "check_same_grid"]


class ChannelSpectra:
    """Wavelet transforms and smoothed auto-spectra of the channels of one recording.

    Build it with :func:`channel_spectra`. With the ``"float64"`` and ``"float32"``
    precisions ``W`` and ``S`` are computed at once; with ``"fast"`` they are computed
    on first use only (coherence maps need them), since band means take each group of
    scales' transform on its coarse time grid straight from the channels
    (:mod:`interbrain.synchrony.multirate`).

    Parameters
    ----------
    grid : WaveletGrid
        The grid they are computed on.
    data : numpy.ndarray, float, shape (n_channels, n_times)
        The standardised channels.
    W, S : numpy.ndarray, optional
        The spectra, if already computed (see the attributes).
    chunk_bytes : int
        Budget of the temporaries of one batched FFT block, in bytes (per thread), for
        spectra computed on first use.

    Attributes
    ----------
    grid : WaveletGrid
    data : numpy.ndarray, float, shape (n_channels, n_times)
        Each channel with zero mean and unit standard deviation (as ``wtc.m``
        standardises its series; coherence does not depend on the scaling).
    W : numpy.ndarray, complex, shape (n_channels, grid.n_rows, n_times)
        Morlet wavelet transform of the computed scales ``grid.scale[grid.rows]`` of
        each standardised channel.
    S : numpy.ndarray, real, shape (n_channels, grid.n_band_rows, n_times)
        Smoothed scale-normalised power ``S(|W|^2 / scale)`` of the band's scales
        ``grid.scale[grid.band_start:grid.band_stop]``.

    Notes
    -----
    ``W`` and ``S`` are computed into memory of
    :data:`~interbrain.synchrony.buffers.SPECTRA_BUFFERS`: that of spectra nothing
    refers to any more, if there is some, so that a study's sessions do not fault in
    new memory one after another (:mod:`~interbrain.synchrony.buffers`).
    """

    def __init__(self, grid: WaveletGrid, data: np.ndarray, W: np.ndarray | None = None,
                 S: np.ndarray | None = None, chunk_bytes: int = DEFAULT_CHUNK_BYTES):
        self.grid, self.data, self.chunk_bytes = grid, data, chunk_bytes
        self._W, self._S = W, S
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"<ChannelSpectra | {self.n_channels} channels x {self.grid.n_times} samples, "
                f"{self.grid.dtype}>")

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return self.data.shape[0]

    @property
    def W(self) -> np.ndarray:
        """Wavelet transforms, shape (n_channels, grid.n_rows, n_times) (read-only)."""
        self.compute()
        return self._W

    @property
    def S(self) -> np.ndarray:
        """Smoothed auto-spectra, shape (n_channels, grid.n_band_rows, n_times) (read-only)."""
        self.compute()
        return self._S

    def compute(self, workers: int = 1) -> None:
        """Compute ``W`` and ``S`` now on ``workers`` threads (nothing if already done)."""
        with self._lock:
            if self._W is not None:
                return
            grid = self.grid
            # memory of spectra no longer used, if any (every element is written)
            W = SPECTRA_BUFFERS.take((self.n_channels, grid.n_rows, grid.n_times),
                                     grid.complex_dtype)
            S = SPECTRA_BUFFERS.take((self.n_channels, grid.n_band_rows, grid.n_times),
                                     grid.real_dtype)
            ChannelTransform(grid, W, S, self.chunk_bytes).run(self.data, workers)
            W.setflags(write=False)
            S.setflags(write=False)
            self._W, self._S = W, S


def _standardise(x: np.ndarray) -> np.ndarray:
    """Channels with zero mean and unit standard deviation (constant channels: zero).

    As ``wtc.m`` does before its transforms. Coherence does not depend on it beyond
    round-off; it keeps float32 spectra of signals in molar units (1e-6 M and below)
    far from underflow in the products of the coherence ratio.
    """
    x = x - x.mean(axis=1, keepdims=True)
    if x.shape[1] > 1:
        # the sample standard deviation of the centred rows, without std's temporaries
        sd = np.sqrt(np.einsum("ij,ij->i", x, x) / (x.shape[1] - 1))[:, None]
        np.divide(x, sd, out=x, where=sd > 0)
    return x


def channel_spectra(data: Any, grid: WaveletGrid, *, workers: int | None = None,
                    chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> ChannelSpectra:
    """Wavelet transforms and smoothed auto-spectra of every channel, batched.

    Parameters
    ----------
    data : array_like, shape (n_channels, n_times)
        Finite samples of each channel (a 1-D array is one channel).
    grid : WaveletGrid
        Built for ``n_times`` samples and the recording's sampling interval.
    workers : int, optional
        Threads, one channel per thread at a time (None: the current default of
        :mod:`scipy.fft`, see :func:`scipy.fft.set_workers`; negative values count back
        from the number of CPUs). The results do not depend on it.
    chunk_bytes : int
        Budget of the temporaries of one batched FFT block, in bytes (per thread).

    Returns
    -------
    ChannelSpectra

    Raises
    ------
    ValueError
        ``data`` is not 2-D, has a different number of samples than the grid, or holds
        NaN or infinite samples.
    """
    x = _standardise(as_channels(data, n_times=grid.n_times))
    x.setflags(write=False)
    spec = ChannelSpectra(grid, x, chunk_bytes=chunk_bytes)
    if grid.dtype != "fast":
        spec.compute(n_threads(workers))
    return spec


def check_same_grid(spec_a: ChannelSpectra, spec_b: ChannelSpectra) -> WaveletGrid:
    """The grid of two partners' spectra, which must be one (or equal ones).

    Parameters
    ----------
    spec_a, spec_b : ChannelSpectra

    Returns
    -------
    WaveletGrid
        ``spec_a.grid``.

    Raises
    ------
    ValueError
        The spectra were computed on different grids.
    """
    if spec_a.grid is not spec_b.grid and spec_a.grid.key != spec_b.grid.key:
        raise ValueError("the two ChannelSpectra were computed on different wavelet grids "
                         f"({spec_a.grid.n_times} vs {spec_b.grid.n_times} samples, "
                         f"dt {spec_a.grid.dt} vs {spec_b.grid.dt} s, or other options); "
                         "use one grid for both")
    return spec_a.grid
