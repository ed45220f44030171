"""Wavelet transform coherence (Grinsted's ``wtc.m``), batched over channels and pairs.

The coherence of series ``x`` and ``y`` is

.. math::

    R^2(s, t) = \\frac{|S(s^{-1} W^{xy}(s, t))|^2}
                     {S(s^{-1} |W^x(s, t)|^2)\\, S(s^{-1} |W^y(s, t)|^2)}

where ``W`` are Morlet wavelet transforms, ``W^{xy} = W^x \\overline{W^y}`` and ``S``
is the smoothing operator of Torrence & Webster (1999) as implemented by Grinsted
(Gaussian in time, 0.6-scale boxcar in scale). :func:`wtc` reproduces ``wtc.m``
(without its Monte Carlo significance test) to floating-point round-off.

For many pairs, the transform ``W`` and the smoothed auto-spectrum
``S(s^{-1}|W|^2)`` of every channel are computed once (:func:`channel_spectra`) and
reused for every pair, including pairs across recordings (pseudo-dyads); the only
per-pair work is the smoothed cross-spectrum (:func:`pair_coherence`,
:func:`band_mean_coherence`).

References
----------
Grinsted, A., Moore, J. C. & Jevrejeva, S. (2004). Application of the cross wavelet
transform and wavelet coherence to geophysical time series. *Nonlinear Processes in
Geophysics* 11:561-566.

Torrence, C. & Compo, G. P. (1998). A practical guide to wavelet analysis.
*Bulletin of the American Meteorological Society* 79:61-78.

Torrence, C. & Webster, P. J. (1999). Interdecadal changes in the ENSO-monsoon
system. *Journal of Climate* 12:2679-2690.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._batching import BLOCK_BYTES, block_rows, n_threads, run_tasks
from ._inputs import as_channels
from ._pair_kernels import cross_products, ratio_sums, valid_runs
from .multirate import multirate_band_means
from .pairs import PairsSpec, resolve_pairs
from .spectra import ChannelSpectra, channel_spectra, check_same_grid
from .wavelet.grid import WaveletGrid
from .wavelet.pruned import pruned_forward_combine, pruned_inverse_scatter, pruned_pair_plan
from .wavelet.scales import min_samples_for_band
from .wavelet.smoothing import smooth_plan
from .wavelet.transform import DEFAULT_CHUNK_BYTES

__all__ = [
    "ChannelSpectra",
    "WTCResult",
    "band_coherence",
    "band_mean_coherence",
    "channel_spectra",
    "iter_pair_coherence",
    "pair_coherence",
    "resolve_pairs",
    "wtc",
]

#: Default budget in bytes of the temporaries of one chunk of pairs; small chunks
#: keep the FFT buffers in cache and are faster than large ones.
PAIR_CHUNK_BYTES = 16 * 2**20


@dataclass(frozen=True)
class WTCResult:
    """Wavelet transform coherence of two series.

    Attributes
    ----------
    coherence : numpy.ndarray, shape (n_scales, n_times)
        Squared wavelet coherence, in [0, 1] (NaN where a series has no power).
    period : numpy.ndarray, shape (n_scales,)
        Fourier period of each scale, in seconds.
    scale : numpy.ndarray, shape (n_scales,)
        Wavelet scale, in seconds.
    coi : numpy.ndarray, shape (n_times,)
        Cone of influence in seconds; a cell is outside the cone (valid) where
        ``period < coi``.
    """

    coherence: np.ndarray
    period: np.ndarray
    scale: np.ndarray
    coi: np.ndarray


class _PairKernel:
    """Smoothed cross-spectra of channel pairs, a block of rows of a group of pairs at a time.

    Per pair the only work is the cross-spectrum ``W_a conj(W_b)`` of the computed rows,
    its FFT over ``n_smooth`` points (one per row), the filter and scale smoothing on the
    bins that matter (:class:`~interbrain.synchrony.wavelet.smoothing.SmoothPlan`), and
    one inverse FFT per band row; then ``|S(W_ab/s)|^2 / (S_a S_b)``, either kept (maps) or summed
    over the valid cells (band means) while the block is still in cache. The transforms
    ``W``, the auto-spectra ``S``, the filters and the masks come from the channels and
    the grid. Each thread has its own buffers; the results do not depend on the number
    of threads or the block sizes.
    """

    def __init__(self, spec_a: ChannelSpectra, spec_b: ChannelSpectra, grid: WaveletGrid,
                 chunk_bytes: int, n_pairs: int):
        self.a, self.b, self.grid = spec_a, spec_b, grid
        self.plan = plan = smooth_plan(grid)
        cb = np.dtype(grid.complex_dtype).itemsize
        self.rows = block_rows(max(grid.n_rows, 1), plan.m * cb, chunk_bytes)
        budget = min(int(chunk_bytes), BLOCK_BYTES)
        self.group = int(max(1, min(n_pairs, budget // max(self.rows * plan.m * cb, 1))))
        self.local = threading.local()
        self.real_view = np.dtype(grid.real_dtype)
        self.forward_sets, self.inverse_rows = pruned_pair_plan(plan, grid.complex_dtype)
        self.inverse_by_group = [[pr for pr in self.inverse_rows if g.band0 <= pr.row0 < g.band1]
                                 for g in plan.groups]

    def _buffers(self, G: int):
        loc = self.local
        if getattr(loc, "G", None) != G:
            g, plan, R = self.grid, self.plan, self.rows
            ct, rt = g.complex_dtype, g.real_dtype
            loc.G = G
            # flat, so that the block of any q rows is one contiguous (G, q, ...) array
            # (:meth:`_block`): the compiled loops vectorise over contiguous rows only
            loc.buf = np.zeros(G * R * plan.m, dtype=ct)    # cross_products writes all of it
            loc.ibuf = np.zeros(G * R * plan.m, dtype=ct)   # zero outside the written bins
            loc.Z = np.zeros((G, plan.n_rows, 2, plan.width), dtype=ct)
            loc.num = np.empty(G * R * plan.n, dtype=rt)
            loc.den = np.empty(G * R * plan.n, dtype=rt)
        return loc

    @staticmethod
    def _block(flat: np.ndarray, G: int, q: int, *shape: int) -> np.ndarray:
        """The first ``G * q * prod(shape)`` elements of a flat buffer as (G, q, *shape)."""
        return flat[:G * q * int(np.prod(shape))].reshape((G, q) + shape)

    def _side(self, W: np.ndarray, idx: np.ndarray, rows: slice) -> np.ndarray:
        if idx.size == 1:
            return W[int(idx[0]):int(idx[0]) + 1, rows]
        return W[idx, rows]

    def _forward(self, sel: np.ndarray, loc) -> None:
        """FFT of the cross-spectrum of every computed row of pairs ``sel``, the useful
        bins kept in ``loc.Z``."""
        plan, R, lib = self.plan, self.rows, self.grid.fft_lib
        ia, ib = sel[:, 0], sel[:, 1]
        G = sel.shape[0]
        for pr in self.forward_sets:
            for r0 in range(pr.row0, pr.row1, R):
                q = min(R, pr.row1 - r0)
                buf = self._block(loc.buf, G, q, plan.m)
                cross_products(self.a.W, self.b.W, ia, ib, r0, q, buf)
                if pr.L == 1:
                    F = lib.fft(buf, overwrite_x=True)
                    plan.gather(F, loc.Z[:, r0:r0 + q], complex_input=True)
                    continue
                cols = buf.reshape(G, q, pr.M, pr.L)
                F = lib.fft(cols, axis=2, overwrite_x=True)
                pruned_forward_combine(F, pr.twiddles, pr.n_bins, loc.Z, r0)

    def _band_blocks(self, loc):
        """Per block of band rows: ``(r, q, sw)``, the inverse FFT ``sw`` (shape
        (G, q, m)) of the smoothed cross-spectra of band rows ``r:r + q``."""
        plan, R, lib = self.plan, self.rows, self.grid.fft_lib
        for grp, runs in zip(plan.groups, self.inverse_by_group):
            Y = plan.smooth(grp, loc.Z, signs=2)
            for pr in runs:
                for b0 in range(pr.row0, pr.row1, R):
                    q = min(R, pr.row1 - b0)
                    k0 = b0 - grp.band0
                    if pr.L > 1:
                        # the forward pass is done: its buffer holds the column spectra
                        cols = self._block(loc.buf, loc.G, q, pr.M, pr.L)
                        pruned_inverse_scatter(Y[:, k0:k0 + q], pr.twiddles, pr.n_bins, cols)
                        sw = lib.ifft(cols, axis=2, overwrite_x=True)
                        yield b0, q, sw.reshape(loc.G, q, plan.m)
                        continue
                    ibuf = self._block(loc.ibuf, loc.G, q, plan.m)
                    plan.scatter(grp, Y[:, k0:k0 + q], ibuf)
                    sw = lib.ifft(ibuf)
                    plan.clear(grp, ibuf)
                    yield b0, q, sw

    def run(self, sel: np.ndarray, consume) -> None:
        """Compute pairs ``sel`` (shape (G, 2)); ``consume(band_row0, q, ratio)`` gets
        ``|S_ab|^2 / (S_a S_b)`` of band rows ``band_row0:band_row0 + q``, shape (G, q, n)."""
        n = self.plan.n
        loc = self._buffers(sel.shape[0])
        ia, ib = sel[:, 0], sel[:, 1]
        self._forward(sel, loc)
        Sa, Sb = self.a.S, self.b.S
        rt = self.real_view
        for r, q, sw in self._band_blocks(loc):
            # |sw|^2 = re^2 + im^2, from the interleaved real view of the fresh array
            v = sw.view(rt)[..., :2 * n]
            np.multiply(v, v, out=v)
            num = self._block(loc.num, loc.G, q, n)
            np.add(v[..., 0::2], v[..., 1::2], out=num)
            den = self._block(loc.den, loc.G, q, n)
            np.multiply(self._side(Sa, ia, slice(r, r + q)),
                        self._side(Sb, ib, slice(r, r + q)), out=den)
            np.divide(num, den, out=num)
            consume(r, q, num)

    def run_sums(self, sel: np.ndarray, runs: tuple) -> np.ndarray:
        """Sums of ``|S_ab|^2 / (S_a S_b)`` over the valid cells of each band row
        (``runs`` of :func:`~._pair_kernels.valid_runs`) for pairs ``sel``, in one
        compiled pass per block (:func:`~._pair_kernels.ratio_sums`): float64, shape
        (G, n_band_rows)."""
        loc = self._buffers(sel.shape[0])
        ia, ib = sel[:, 0], sel[:, 1]
        self._forward(sel, loc)
        acc = np.zeros((sel.shape[0], self.plan.n_band))
        for r, q, sw in self._band_blocks(loc):
            ratio_sums(sw, self.a.S, self.b.S, ia, ib, r, q, *runs, acc)
        return acc


def _pair_setup(spec_a: ChannelSpectra, spec_b: ChannelSpectra, pairs: PairsSpec,
                chunk_bytes: int) -> tuple[WaveletGrid, np.ndarray, _PairKernel]:
    grid = check_same_grid(spec_a, spec_b)
    idx = resolve_pairs(pairs, spec_a.n_channels, spec_b.n_channels)
    return grid, idx, _PairKernel(spec_a, spec_b, grid, chunk_bytes, len(idx))


def iter_pair_coherence(spec_a: ChannelSpectra, spec_b: ChannelSpectra, pairs: PairsSpec, *,
                        workers: int | None = None, chunk_bytes: int = PAIR_CHUNK_BYTES
                        ) -> Iterator[tuple[slice, np.ndarray]]:
    """Coherence maps of channel pairs, a chunk of pairs at a time.

    Parameters
    ----------
    spec_a, spec_b : ChannelSpectra
        Spectra of the two partners, on the same grid.
    pairs : {"homologous", "all"} or sequence of (int, int)
        See :func:`resolve_pairs`; ``i`` indexes ``spec_a``, ``j`` ``spec_b``.
    workers : int, optional
        Threads, pairs computed in parallel (None: the current default of
        :mod:`scipy.fft`, see :func:`scipy.fft.set_workers`). A chunk holds at least one
        pair per thread.
    chunk_bytes : int
        Budget of one chunk's maps and temporaries, in bytes.

    Yields
    ------
    (slice, numpy.ndarray)
        Which pairs, and their coherence, shape (n_chunk, n_band_rows, n_times).
    """
    grid, idx, kern = _pair_setup(spec_a, spec_b, pairs, chunk_bytes)
    threads = n_threads(workers)
    per_pair = grid.n_band_rows * grid.n_times * np.dtype(grid.real_dtype).itemsize
    step = max(threads * kern.group, chunk_bytes // max(per_pair, 1), 1)
    for start in range(0, len(idx), step):
        sel = idx[start:start + step]
        out = np.empty((len(sel), grid.n_band_rows, grid.n_times), dtype=grid.real_dtype)

        def task(k0: int, sel=sel, out=out) -> None:
            part = sel[k0:k0 + kern.group]

            def keep(r: int, q: int, coh: np.ndarray) -> None:
                out[k0:k0 + len(part), r:r + q] = coh

            with np.errstate(divide="ignore", invalid="ignore"):
                kern.run(part, keep)

        run_tasks(task, range(0, len(sel), kern.group), threads)
        yield slice(start, start + len(sel)), out


def pair_coherence(spec_a: ChannelSpectra, spec_b: ChannelSpectra, pairs: PairsSpec, *,
                   workers: int | None = None, chunk_bytes: int = PAIR_CHUNK_BYTES
                   ) -> np.ndarray:
    """Coherence maps of channel pairs from cached channel spectra.

    Parameters
    ----------
    spec_a, spec_b : ChannelSpectra
        Spectra of the two partners, on the same grid.
    pairs : {"homologous", "all"} or sequence of (int, int)
        See :func:`resolve_pairs`.
    workers : int, optional
        Threads, pairs computed in parallel (None: the current default of
        :mod:`scipy.fft`, see :func:`scipy.fft.set_workers`).
    chunk_bytes : int
        Budget of one chunk's temporaries, in bytes.

    Returns
    -------
    numpy.ndarray, shape (n_pairs, n_band_rows, n_times)
        Coherence of the band's scales (all scales if the grid has no band), periods
        ``grid.band_period`` in seconds.
    """
    grid = check_same_grid(spec_a, spec_b)
    idx = resolve_pairs(pairs, spec_a.n_channels, spec_b.n_channels)
    out = np.empty((len(idx), grid.n_band_rows, grid.n_times), dtype=grid.real_dtype)
    for sl, coh in iter_pair_coherence(spec_a, spec_b, idx, workers=workers,
                                       chunk_bytes=chunk_bytes):
        out[sl] = coh
    return out


def band_mean_coherence(spec_a: ChannelSpectra, spec_b: ChannelSpectra, pairs: PairsSpec, *,
                        exclude_coi: bool = True, workers: int | None = None,
                        chunk_bytes: int = PAIR_CHUNK_BYTES) -> np.ndarray:
    """Mean coherence over the band's scales of channel pairs from cached spectra.

    Parameters
    ----------
    spec_a, spec_b : ChannelSpectra
        Spectra of the two partners, on the same grid (normally built with ``band``;
        without one, all scales are averaged).
    pairs : {"homologous", "all"} or sequence of (int, int)
        See :func:`resolve_pairs`.
    exclude_coi : bool, default True
        Average only the cells outside the cone of influence (``period < coi``).
    workers : int, optional
        Threads, pairs computed in parallel (None: the current default of
        :mod:`scipy.fft`, see :func:`scipy.fft.set_workers`). The results do not
        depend on it.
    chunk_bytes : int
        Budget of the temporaries of one block, in bytes (per thread); the coherence
        maps are never held, each block is averaged while in cache.

    Notes
    -----
    On a grid of precision ``"fast"`` the pairs are computed with each scale on its own
    coarser time grid (:func:`~interbrain.synchrony.multirate.multirate_band_means`),
    within 1e-4 of the exact path in the tests; maps (:func:`pair_coherence`) are always
    computed at the full rate.

    Returns
    -------
    numpy.ndarray, float64, shape (n_pairs,)
        NaN for a pair with a channel without power (a constant channel).

    Raises
    ------
    ValueError
        Different grids, bad pairs, or (with ``exclude_coi``) no in-band cell outside
        the cone of influence.
    """
    grid, idx, kern = _pair_setup(spec_a, spec_b, pairs, chunk_bytes)
    if exclude_coi:
        mask = grid.valid
        if not mask.any():
            m = (min_samples_for_band(grid.dt, grid.band, dj=grid.dj, s0=grid.s0)
                 if grid.band is not None else None)
            need = f"; the band needs at least {m} samples" if m else ""
            raise ValueError(f"recording too short: no cell of the band's scales lies outside "
                             f"the cone of influence at {grid.n_times} samples{need}")
        count = int(mask.sum())
    else:
        mask = None
        count = grid.n_band_rows * grid.n_times
    if grid.dtype == "fast":
        return multirate_band_means(spec_a, spec_b, idx, exclude_coi, count, workers=workers,
                                    chunk_bytes=chunk_bytes)
    runs = valid_runs(mask, grid.n_band_rows, grid.n_times)

    def task(k0: int) -> np.ndarray:
        return kern.run_sums(idx[k0:k0 + kern.group], runs).sum(axis=1) / count

    parts = run_tasks(task, range(0, len(idx), kern.group), n_threads(workers))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)


def _as_series(v: Any, name: str) -> np.ndarray:
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D series, got an array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite samples (first at sample "
                         f"{int(np.flatnonzero(~np.isfinite(arr))[0])}); interpolate or "
                         "drop them first")
    return arr


def wtc(x: Any, y: Any, dt: float, *, dj: float = 1 / 12, s0: float | None = None,
        j1: int | None = None, max_scale: float | None = None, pad: bool = True,
        dtype: str = "float64", workers: int | None = None) -> WTCResult:
    """Wavelet transform coherence of two series, as Grinsted's ``wtc.m``.

    Reproduces ``wtc(x, y, 'mcc', 0)`` (no Monte Carlo significance) of the Cross
    Wavelet and Wavelet Coherence toolbox (Grinsted, Moore & Jevrejeva 2004) with the
    Morlet wavelet (w0 = 6) of Torrence & Compo (1998).

    Parameters
    ----------
    x, y : array_like, shape (n_times,)
        The two series, same length, sampled every ``dt`` seconds, finite.
    dt : float
        Sampling interval in seconds.
    dj : float, default 1/12
        Spacing between scales in octaves.
    s0 : float, optional
        Smallest scale in seconds; default ``2 * dt``.
    j1 : int, optional
        Number of scales minus one; default ``round(log2(max_scale / s0) / dj)``.
    max_scale : float, optional
        Largest scale in seconds; default ``0.17 * 2 * n_times * dt``.
    pad : bool, default True
        Zero-pad the de-meaned series before the transform.
    dtype : {"float64", "float32", "fast"}, default "float64"
        Precision of the transforms and smoothing (``"fast"`` is float32 here: maps are
        always computed at the full rate).
    workers : int, optional
        Threads of :mod:`scipy.fft`.

    Returns
    -------
    WTCResult
        Coherence of shape (j1 + 1, n_times), period and scale (seconds) of shape
        (j1 + 1,), cone of influence (seconds) of shape (n_times,).

    Raises
    ------
    ValueError
        Non-1-D inputs, different lengths, NaN or infinite samples, invalid options.
    """
    x = _as_series(x, "x")
    y = _as_series(y, "y")
    if x.size != y.size:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size} samples")
    grid = WaveletGrid.build(x.size, dt, dj=dj, s0=s0, j1=j1, max_scale=max_scale, pad=pad,
                             dtype=dtype)
    spec = channel_spectra(np.stack([x, y]), grid, workers=workers)
    coh = pair_coherence(spec, spec, [(0, 1)], workers=workers)[0]
    return WTCResult(coherence=np.asarray(coh, dtype=np.float64), period=grid.period.copy(),
                     scale=grid.scale.copy(), coi=grid.coi.copy())


def band_coherence(a: Any, b: Any, dt: float, *, band: tuple[float, float],
                   pairs: PairsSpec = "homologous", exclude_coi: bool = True,
                   dj: float = 1 / 12, s0: float | None = None, j1: int | None = None,
                   max_scale: float | None = None, pad: bool = True, dtype: str = "float64",
                   workers: int | None = None,
                   chunk_bytes: int | None = None) -> np.ndarray:
    """Band-averaged wavelet coherence of channel pairs of two partners.

    Equal to averaging ``wtc(a[i], b[j], dt, ...).coherence`` over the scales whose
    period lies in ``band`` and (with ``exclude_coi``) the cells outside the cone of
    influence, but each channel's transform is computed once and only the band's
    scales (plus the smoothing margin) are computed.

    Parameters
    ----------
    a, b : array_like, shape (n_channels, n_times)
        Channels of the two partners, same ``n_times``, sampled every ``dt`` seconds.
    dt : float
        Sampling interval in seconds.
    band : (float, float)
        Shortest and longest period in seconds (inclusive).
    pairs : {"homologous", "all"} or sequence of (int, int), default "homologous"
        ``(i, i)`` pairs, every ``(i, j)`` in row-major order, or explicit pairs
        (``i`` a channel of ``a``, ``j`` of ``b``).
    exclude_coi : bool, default True
        Average only the cells outside the cone of influence.
    dj, s0, j1, max_scale, pad, dtype
        Wavelet options, as in :func:`wtc`.
    workers : int, optional
        Threads of :mod:`scipy.fft`.
    chunk_bytes : int, optional
        Budget of one chunk of temporaries, in bytes (default: those of
        :func:`channel_spectra` and :func:`band_mean_coherence`).

    Returns
    -------
    numpy.ndarray, float64, shape (n_pairs,)

    Raises
    ------
    ValueError
        Different lengths, NaN or infinite samples, a band outside the wavelet grid, or
        a recording too short for the band's longest period (the message gives the
        minimum length).
    """
    same = a is b
    a = as_channels(a, "a")
    b = a if same else as_channels(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same number of samples, got {a.shape[1]} "
                         f"and {b.shape[1]}")
    idx = resolve_pairs(pairs, a.shape[0], b.shape[0])
    grid = WaveletGrid.build(a.shape[1], dt, dj=dj, s0=s0, j1=j1, max_scale=max_scale,
                             pad=pad, band=band, dtype=dtype)
    spec_bytes = DEFAULT_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    pair_bytes = PAIR_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    spec_a = channel_spectra(a, grid, workers=workers, chunk_bytes=spec_bytes)
    spec_b = spec_a if same else channel_spectra(b, grid, workers=workers,
                                                 chunk_bytes=spec_bytes)
    return band_mean_coherence(spec_a, spec_b, idx, exclude_coi=exclude_coi, workers=workers,
                               chunk_bytes=pair_bytes)
