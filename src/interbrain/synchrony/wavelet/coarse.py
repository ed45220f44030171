"""The Morlet transform at every ``step``-th sample, from the channels' FFT.

The transform of row ``r`` is ``W[t] = ifft(Y)[t]`` over ``n_fft`` points with
``Y = fft(x) * daughter[r]`` (:mod:`.transform`). At the samples ``t = step * j``, with
``step`` dividing ``n_fft``, the inverse FFT sums ``Y[k] exp(2 pi i k j / M)`` over
``M = n_fft / step`` points: the bins ``k`` and ``k + M`` contribute the same phase. So

``W[step * j] = ifft(fold(Y))[j] / step``, where ``fold(Y)[q] = sum_b Y[q + b * M]``,

exactly (to round-off), with no condition on the band: an inverse FFT of ``M`` points
instead of ``n_fft``. Only the bins where some row's daughter wavelet is not zero (in
the grid's precision) are multiplied and folded. The ``"fast"`` precision
(:mod:`interbrain.synchrony.multirate`) builds grids whose ``n_fft`` is a multiple of
every coarse step; for another step, the rows are transformed at the full rate and
every ``step``-th sample is kept.
"""

from __future__ import annotations

import numpy as np

from .grid import WaveletGrid

__all__ = ["coarse_transform", "daughter_support"]


def daughter_support(grid: WaveletGrid, rows: slice) -> int:
    """Number of leading frequency bins where some daughter wavelet of ``rows`` is not zero.

    Parameters
    ----------
    grid : WaveletGrid
    rows : slice
        Computed rows (0 = ``grid.row_start``).

    Returns
    -------
    int
        ``k`` such that ``grid.daughter[rows, k:]`` is all zero.
    """
    nonzero = np.flatnonzero(np.any(grid.daughter[rows] != 0, axis=0))
    return int(nonzero[-1]) + 1 if nonzero.size else 0


def coarse_transform(spectrum: np.ndarray, grid: WaveletGrid, rows: slice, step: int,
                     n_coarse: int) -> np.ndarray:
    """Wavelet transform of computed ``rows`` at samples ``0, step, 2 step, ...``.

    Parameters
    ----------
    spectrum : numpy.ndarray, complex, shape (n_channels, grid.n_fft // 2 + 1)
        Real FFT over ``grid.n_fft`` points of each de-meaned channel, in the grid's
        precision (as :class:`~.transform.ChannelTransform` computes it).
    grid : WaveletGrid
    rows : slice
        Computed rows (0 = ``grid.row_start``), with step 1.
    step : int
        Fine samples per coarse sample.
    n_coarse : int
        Coarse samples wanted, ``step * (n_coarse - 1) < grid.n_times``.

    Returns
    -------
    numpy.ndarray, complex, shape (n_channels, n_rows, n_coarse)
        ``W[:, rows, ::step][..., :n_coarse]`` of :func:`~.transform.cwt`.
    """
    if step < 1 or step * (n_coarse - 1) >= grid.n_times:
        raise ValueError(f"{n_coarse} samples every {step} do not fit in {grid.n_times}")
    daughter = grid.daughter[rows]
    n_ch, n_rows, n_fft = spectrum.shape[0], daughter.shape[0], grid.n_fft
    if n_fft % step:
        full = np.zeros((n_ch, n_rows, n_fft), dtype=grid.complex_dtype)
        np.multiply(spectrum[:, None, :], daughter, out=full[..., :daughter.shape[1]])
        return grid.fft_lib.ifft(full, overwrite_x=True)[..., :step * n_coarse:step]
    m = n_fft // step
    support = daughter_support(grid, rows)
    folded = np.zeros((n_ch, n_rows, m), dtype=grid.complex_dtype)
    np.multiply(spectrum[:, None, :min(m, support)], daughter[:, :min(m, support)],
                out=folded[..., :min(m, support)])
    for b0 in range(m, support, m):                # bins k and k + m share a phase
        b1 = min(b0 + m, support)
        folded[..., :b1 - b0] += spectrum[:, None, b0:b1] * daughter[:, b0:b1]
    out = grid.fft_lib.ifft(folded, overwrite_x=True)[..., :n_coarse]
    out *= grid.real_dtype(1.0 / step)
    return out
