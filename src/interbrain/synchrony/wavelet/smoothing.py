"""The smoothing operator of ``smoothwavelet.m``: Gaussian in time, boxcar in scale.

:func:`smooth_wavelet` applies it to any array of wavelet rows; :class:`SmoothPlan`
organises the same operator for the batched kernels (channel auto-spectra in
:mod:`.transform`, pair cross-spectra in :mod:`interbrain.synchrony.coherence`), which
work on the frequency bins where the filters matter only.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

from ..._compiled import jit
from .._batching import n_threads
from .grid import FILTER_FLOOR, WaveletGrid


def _filter_support(grid: WaveletGrid, full: bool) -> np.ndarray | None:
    """Frequency bins of the time smoothing that matter, or None for all of them."""
    k, m = grid.n_filter_bins, grid.n_smooth
    if full:
        if 2 * k - 1 >= m:
            return None
        return np.concatenate([np.arange(k), np.arange(m - k + 1, m)])
    if k >= m // 2 + 1:
        return None
    return np.arange(k)


def smooth_wavelet(values: np.ndarray, grid: WaveletGrid, *, weights: np.ndarray | None = None,
                   workers: int | None = None) -> np.ndarray:
    """Smoothing operator of ``smoothwavelet.m``: Gaussian in time, boxcar in scale.

    The time smoothing multiplies the FFT (over ``grid.n_smooth`` points) of each row by
    a Gaussian of standard deviation ``scale``; the scale smoothing is then applied to
    the filtered spectra (it commutes with the inverse FFT) and only the band's rows
    are transformed back. Frequency bins where every filter is below ``1e-24`` are
    skipped.

    Parameters
    ----------
    values : numpy.ndarray, shape (..., n_rows, n_times), real or complex
        One row per computed scale of ``grid`` (``grid.scale[grid.rows]``).
    grid : WaveletGrid
    weights : numpy.ndarray, shape (n_rows,), optional
        Per-row factors applied before smoothing (e.g. ``1 / scale``).
    workers : int, optional
        Threads of the FFTs (None: the current default of :mod:`scipy.fft`, see
        :func:`scipy.fft.set_workers`).

    Returns
    -------
    numpy.ndarray, shape (..., n_band_rows, n_times)
        Smoothed band rows; real for real input (the reference keeps the real part),
        complex otherwise.
    """
    n, m = grid.n_times, grid.n_smooth
    cplx = np.iscomplexobj(values)
    support = _filter_support(grid, full=cplx)
    filt = grid.time_filter if cplx else grid.time_filter[:, : m // 2 + 1]
    if support is not None:
        filt = filt[:, support]
    if weights is not None:
        filt = filt * np.asarray(weights, dtype=filt.dtype)[:, None]
    lib, threads = grid.fft_lib, n_threads(workers)
    z = (lib.fft if cplx else lib.rfft)(values, n=m, workers=threads)
    if support is not None:
        z = z[..., support]
    z *= filt
    z = smooth_scale(z, grid)
    if support is not None:
        full = np.zeros(z.shape[:-1] + ((m if cplx else m // 2 + 1),), dtype=z.dtype)
        full[..., support] = z
        z = full
    if cplx:
        return lib.ifft(z, overwrite_x=True, workers=threads)[..., :n]
    return lib.irfft(z, n=m, overwrite_x=True, workers=threads)[..., :n]


def smooth_scale(values: np.ndarray, grid: WaveletGrid) -> np.ndarray:
    """Boxcar scale smoothing of ``smoothwavelet.m``, returning the band's rows only.

    Equivalent to ``conv2(values, kernel, 'same')`` along scales on the full grid:
    computed rows beyond the band supply the kernel's margin, and zeros are used only
    past the ends of the full grid. Acts on the second-to-last axis only, so it applies
    equally to time series and to their Fourier transforms.

    Parameters
    ----------
    values : numpy.ndarray, shape (..., n_rows, n_last)
        One row per computed scale of ``grid``.
    grid : WaveletGrid

    Returns
    -------
    numpy.ndarray, shape (..., n_band_rows, n_last)
    """
    kernel = grid.scale_kernel.astype(grid.real_dtype)
    half = (kernel.size - 1) // 2
    b0 = grid.band_start - grid.row_start
    nb = grid.n_band_rows
    n_rows = values.shape[-2]
    out = np.zeros(values.shape[:-2] + (nb, values.shape[-1]), dtype=values.dtype)
    for t, w in enumerate(kernel):
        if w == 0:
            continue
        # out[i] += w * values[b0 + i + t - half] for source rows inside [0, n_rows)
        shift = b0 + t - half
        i0 = max(0, -shift)
        i1 = min(nb, n_rows - shift)
        if i1 > i0:
            out[..., i0:i1, :] += w * values[..., i0 + shift:i1 + shift, :]
    return out


def leading_bins(keep: np.ndarray) -> np.ndarray:
    """Per row of ``keep`` (bool, shape (n_rows, n_bins)), the bins ``0..k-1`` up to its
    last True (at least 1): ``k``, shape (n_rows,)."""
    n_bins = keep.shape[1]
    return np.where(keep.any(axis=1), n_bins - np.argmax(keep[:, ::-1], axis=1), 1)


def row_filter_bins(grid: WaveletGrid, floor: float = FILTER_FLOOR) -> np.ndarray:
    """Positive frequency bins ``0..k-1`` of each computed row's time filter at or above
    ``floor`` (at least 1): ``k`` per row, shape (n_rows,)."""
    return leading_bins(grid.time_filter[:, :grid.n_smooth // 2 + 1] >= floor)


@dataclass(frozen=True, eq=False)
class _SmoothGroup:
    """Band rows smoothed together, on the frequency bins that matter for all of them."""

    band0: int   # band rows band0:band1 (0 = grid.band_start)
    band1: int
    src0: int    # computed rows src0:src1 (0 = grid.row_start) feeding them
    src1: int
    n_pos: int   # bins 0..n_pos-1 ...
    n_neg: int   # ... and -1..-n_neg (complex input only)
    filt: np.ndarray  # (src1 - src0, 2, n_pos): time filter * 1/scale at bins +j and -j


class SmoothPlan:
    """Frequency-domain smoothing of ``smoothwavelet.m`` organised for batched use.

    Same operator as :func:`smooth_wavelet` with ``weights = 1 / scale``: a Gaussian of
    standard deviation ``scale`` applied by FFT over ``grid.n_smooth`` points, then the
    boxcar in scale applied to the filtered spectra, then the inverse FFT of the band's
    rows only. The filter of each row is a Gaussian in frequency whose width is
    proportional to ``1 / scale``; bins where it is below ``1e-24`` are skipped. Band
    rows are smoothed in groups (about an octave each) so that each group handles only
    the bins where some row feeding it (the row and its scale-smoothing neighbours) has
    a filter weight of at least ``1e-24``; the dropped terms are negligible next to the
    round-off of the FFTs themselves.

    Spectra are kept compactly as ``Z[..., row, sign, j]``: ``sign`` 0 holds bin ``j``,
    sign 1 holds bin ``-j`` (``m - j``), for ``0 <= j < width``; ``Z[..., 1, 0]`` is unused.
    """

    def __init__(self, grid: WaveletGrid):
        m = grid.n_smooth
        self.grid = grid
        self.n, self.m = grid.n_times, m
        self.n_rows, self.n_band = grid.n_rows, grid.n_band_rows
        self.b0 = grid.band_start - grid.row_start
        kernel = grid.scale_kernel.astype(grid.real_dtype)
        self.half = (kernel.size - 1) // 2
        self.kernel = [(t, w) for t, w in enumerate(kernel) if w != 0]
        self._taps = np.array([t for t, _ in self.kernel], dtype=np.int64)
        self._weights = np.array([w for _, w in self.kernel], dtype=grid.real_dtype)
        real_t = grid.real_dtype
        sinv = np.asarray(1.0 / grid.scale[grid.rows], dtype=real_t)
        tf = grid.time_filter
        max_pos, max_neg = m // 2 + 1, (m - 1) // 2
        k_row = row_filter_bins(grid)
        groups = []
        i = 0
        while i < self.n_band:
            start = i
            need = self.band_row_bins(k_row, i)
            while i < self.n_band and 2 * self.band_row_bins(k_row, i) > need:
                i += 1
            src0 = max(0, start + self.b0 - self.half)
            src1 = min(self.n_rows, i - 1 + self.b0 + self.half + 1)
            n_pos, n_neg = min(need, max_pos), min(need - 1, max_neg)
            filt = np.zeros((src1 - src0, 2, n_pos), dtype=real_t)
            filt[:, 0, :] = tf[src0:src1, :n_pos]
            if n_neg > 0:
                filt[:, 1, 1:n_neg + 1] = tf[src0:src1, m - 1:m - 1 - n_neg:-1]
            # as smooth_wavelet: filter and weights multiplied in the grid's precision
            filt *= sinv[src0:src1, None, None]
            filt.setflags(write=False)
            groups.append(_SmoothGroup(start, i, src0, src1, n_pos, n_neg, filt))
        self.groups = groups
        self.width = max(g.n_pos for g in groups)
        self.n_neg = max(g.n_neg for g in groups)

    def band_row_bins(self, k_row: np.ndarray, i: int) -> int:
        """Bins ``0..k-1`` that band row ``i`` needs: the most of its sources' (the
        computed rows its scale smoothing reaches) ``k_row``
        (:func:`row_filter_bins`)."""
        lo = max(0, i + self.b0 - self.half)
        hi = min(self.n_rows, i + self.b0 + self.half + 1)
        return int(k_row[lo:hi].max())

    def gather(self, F: np.ndarray, Z: np.ndarray, complex_input: bool) -> None:
        """Copy the bins that matter of FFTs ``F[..., m]`` into ``Z[..., 2, width]``."""
        Z[..., 0, :] = F[..., :self.width]
        if complex_input and self.n_neg > 0:
            Z[..., 1, 1:self.n_neg + 1] = F[..., self.m - 1:self.m - 1 - self.n_neg:-1]

    def smooth(self, g: _SmoothGroup, Z: np.ndarray, signs: int) -> np.ndarray:
        """Filter and scale-smooth the computed rows of ``Z`` into group ``g``'s band rows.

        ``Z`` has shape (..., n_rows, 2, width) (or (..., n_rows, 1, width) with
        ``signs`` 1); the result (..., band1 - band0, signs, g.n_pos), with ``signs`` 2
        for complex input and 1 for real input. Each term is rounded as numpy rounds
        ``w * (Z * filt)`` and the taps are summed in the kernel's order, in one
        compiled pass (:func:`_smooth_rows`).
        """
        nb = g.band1 - g.band0
        lead = Z.shape[:-3]
        Z4 = Z.reshape((-1,) + Z.shape[-3:])
        out = np.empty((Z4.shape[0], nb, signs, g.n_pos), dtype=Z.dtype)
        real = np.dtype(self.grid.real_dtype)
        shift0 = g.band0 + self.b0 - self.half - g.src0
        _smooth_rows(Z4.view(real), g.filt, self._taps, self._weights, shift0, g.src0,
                     signs, g.n_pos, out.view(real))
        return out.reshape(lead + out.shape[1:])

    def scatter(self, g: _SmoothGroup, Y: np.ndarray, buf: np.ndarray) -> None:
        """Write smoothed spectra ``Y[..., 2, n_pos]`` into the zero FFT buffer ``buf``."""
        buf[..., :g.n_pos] = Y[..., 0, :]
        if g.n_neg > 0 and buf.shape[-1] == self.m:
            buf[..., self.m - g.n_neg:] = Y[..., 1, g.n_neg:0:-1]

    def clear(self, g: _SmoothGroup, buf: np.ndarray) -> None:
        """Zero again what :meth:`scatter` wrote."""
        buf[..., :g.n_pos] = 0
        if g.n_neg > 0 and buf.shape[-1] == self.m:
            buf[..., self.m - g.n_neg:] = 0


@jit
def _smooth_rows(Z, filt, taps, weights, shift0, src0, signs, n_pos, out):
    """``out[p, i, s] = sum over taps (t, w) of w * (Z[p, src0 + k, s] * filt[k, s])`` at
    bins ``0..n_pos-1``, ``k = i + shift0 + t`` over the computed rows ``0 <= k <
    filt.shape[0]`` (the others are zero), for every band row ``i < out.shape[1]``.

    On real views: ``Z`` shape (P, n_rows, >= signs, 2 width) and ``out`` (P, nb, signs,
    2 n_pos) interleave real and imaginary parts; ``filt`` (real, shape (ns, 2, n_pos))
    multiplies both, as numpy multiplies a complex array by a real one. Every element's
    sum starts at 0 and adds the taps in order, as :meth:`SmoothPlan.smooth` did with
    numpy (the same values, bit for bit)."""
    P, nb = out.shape[0], out.shape[1]
    ns = filt.shape[0]
    for p in range(P):
        for i in range(nb):
            for s in range(signs):
                o = out[p, i, s]
                for j in range(2 * n_pos):
                    o[j] = 0
                for u in range(taps.shape[0]):
                    k = i + shift0 + taps[u]
                    if k < 0 or k >= ns:
                        continue
                    w = weights[u]
                    z = Z[p, src0 + k, s]
                    f = filt[k, s]
                    for j in range(n_pos):
                        o[2 * j] += w * (z[2 * j] * f[j])
                        o[2 * j + 1] += w * (z[2 * j + 1] * f[j])


_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PLANS_LOCK = threading.Lock()


def smooth_plan(grid: WaveletGrid) -> SmoothPlan:
    """The :class:`SmoothPlan` of ``grid``, built once per grid."""
    with _PLANS_LOCK:
        plan = _PLANS.get(grid)
        if plan is None:
            plan = _PLANS[grid] = SmoothPlan(grid)
        return plan
