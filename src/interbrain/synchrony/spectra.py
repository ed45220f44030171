"""Channel spectra: each channel's wavelet transform and smoothed auto-spectrum, once.

The only per-channel work of wavelet coherence (Grinsted's ``wtc.m``): the Morlet
transform ``W`` of the standardised channel and its smoothed scale-normalised power
``S(|W|^2 / scale)``. :func:`channel_spectra` computes them for all the channels of a
recording on one :class:`~interbrain.synchrony.wavelet.WaveletGrid`; every pair
containing a channel (across recordings too) then reuses them
(:mod:`interbrain.synchrony.coherence`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._batching import n_threads
from ._inputs import as_channels
from .wavelet.grid import WaveletGrid
from .wavelet.transform import DEFAULT_CHUNK_BYTES, ChannelTransform

__all__ = ["ChannelSpectra", "channel_spectra", "check_same_grid"]


@dataclass(frozen=True, eq=False)
class ChannelSpectra:
    """Wavelet transforms and smoothed auto-spectra of the channels of one recording.

    Attributes
    ----------
    grid : WaveletGrid
        The grid they were computed on.
    W : numpy.ndarray, complex, shape (n_channels, grid.n_rows, n_times)
        Morlet wavelet transform of the computed scales ``grid.scale[grid.rows]`` of
        each standardised channel (zero mean, unit standard deviation, as ``wtc.m``
        standardises its series; coherence does not depend on the scaling).
    S : numpy.ndarray, real, shape (n_channels, grid.n_band_rows, n_times)
        Smoothed scale-normalised power ``S(|W|^2 / scale)`` of the band's scales
        ``grid.scale[grid.band_start:grid.band_stop]``.
    """

    grid: WaveletGrid
    W: np.ndarray = field(repr=False)
    S: np.ndarray = field(repr=False)

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return self.W.shape[0]


def _standardise(x: np.ndarray) -> np.ndarray:
    """Channels with zero mean and unit standard deviation (constant channels: zero).

    As ``wtc.m`` does before its transforms. Coherence does not depend on it beyond
    round-off; it keeps float32 spectra of signals in molar units (1e-6 M and below)
    far from underflow in the products of the coherence ratio.
    """
    x = x - x.mean(axis=1, keepdims=True)
    if x.shape[1] > 1:
        sd = x.std(axis=1, ddof=1, keepdims=True)
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
    n_ch = x.shape[0]
    W = np.empty((n_ch, grid.n_rows, grid.n_times), dtype=grid.complex_dtype)
    S = np.empty((n_ch, grid.n_band_rows, grid.n_times), dtype=grid.real_dtype)
    ChannelTransform(grid, W, S, chunk_bytes).run(x, n_threads(workers))
    W.setflags(write=False)
    S.setflags(write=False)
    return ChannelSpectra(grid=grid, W=W, S=S)


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
