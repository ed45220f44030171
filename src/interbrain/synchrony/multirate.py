"""Multirate band-mean coherence: each group of scales at the resolution it needs.

The precision ``"fast"`` of :class:`~interbrain.synchrony.wavelet.WaveletGrid`. Band
rows are computed per group of scales
(:class:`~interbrain.synchrony.wavelet.smoothing.SmoothPlan` groups, about an octave
each), each on a coarser time grid, every ``step``-th sample (a power of two below
``s / (4 dt)`` for the group's smallest scale ``s``):

* per channel, once: the transform ``W`` of the group's rows at the coarse samples,
  exactly, by an inverse FFT of ``n_fft / step`` points of the folded spectrum
  (:func:`~interbrain.synchrony.wavelet.coarse.coarse_transform`; the ``"fast"`` grid's
  ``n_fft`` is a multiple of every step), and the smoothed power ``S`` of its band rows,
  computed on the coarse grid as the pairs' cross-spectra are (below);
* per pair: the cross-spectrum ``W_a conj(W_b)`` of a scale ``s`` is band-limited to a
  few cycles per ``s``, and the Gaussian time smoothing of width ``s`` keeps only the
  bins below that. Sampled every ``step`` samples, with the quadrature weights of
  :func:`~interbrain.synchrony.wavelet.decimation.sum_weights` at the ends of the
  series, its FFT over ``n_smooth / step`` points gives the same bins as the full-rate
  FFT over ``n_smooth`` points;
* the filter and scale smoothing act on those bins exactly as in the full-rate path, and
  the inverse FFT over ``n_smooth / step`` points gives the smoothed cross-spectrum at
  every ``step``-th sample (exactly, since its bins fit);
* the band mean sums ``|S_ab|^2 / (S_a S_b)`` over the valid cells of each row from its
  coarse samples, with the weights of ``sum_weights`` for the row's span outside the
  cone of influence, and divides by the number of valid cells of the full-rate grid.

Nothing runs at the full rate but one real FFT of each channel: the work per channel
and per pair falls by about the step (16 to 64 for bands of 10 s and longer at 10 Hz).
The only approximations are the end stencils of the two quadratures (Lagrange, 8
points); band means stay within 1e-4 of the exact path in the tests
(``tests/test_multirate.py``; 2e-5 at most there), with float32 arithmetic as the
``"float32"`` precision. Coherence maps (:func:`~interbrain.synchrony.pair_coherence`)
of a ``"fast"`` grid are computed at the full rate, from ``W`` and ``S`` computed on
first use (:class:`~interbrain.synchrony.spectra.ChannelSpectra`).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sfft

from .._compiled import jit
from ._batching import BLOCK_BYTES, n_threads, run_tasks
from .spectra import ChannelSpectra
from .wavelet.coarse import coarse_transform
from .wavelet.decimation import MULTIRATE_STEP_RATIO, decimation_step, sum_weights
from .wavelet.grid import WaveletGrid
from .wavelet.smoothing import SmoothPlan, smooth_plan

__all__ = ["MULTIRATE_STEP_RATIO", "MultiratePlan", "multirate_band_means", "multirate_plan"]

@dataclass(frozen=True, eq=False)
class _RateGroup:
    """One group of band rows on its coarse time grid."""

    band0: int          # band rows band0:band1
    band1: int
    src0: int           # computed rows src0:src1 feeding them
    src1: int
    step: int           # fine samples per coarse sample
    n_coarse: int       # coarse samples inside the series
    m: int              # coarse FFT length, n_smooth // step
    n_pos: int          # the filter's bins 0..n_pos-1 (and -1..-(n_pos-1)); zero elsewhere
    filt: np.ndarray    # (src1 - src0, m): filter * 1/scale of SmoothPlan, zero elsewhere
    mix: np.ndarray     # (band1 - band0, src1 - src0): the scale smoothing as a matrix
    series_w: np.ndarray   # (n_coarse,): quadrature of the cross-spectrum's FFT
    cell_w: np.ndarray     # (band1 - band0, n_coarse): quadrature of the band sum / step**2


class MultiratePlan:
    """Coarse grids and quadrature weights of a grid's band rows, built once per grid.

    Parameters
    ----------
    grid : WaveletGrid
    mask : numpy.ndarray of bool, shape (n_band_rows, n_times), or None
        Cells summed per band row (None: all).
    """

    def __init__(self, grid: WaveletGrid, mask: np.ndarray | None):
        plan: SmoothPlan = smooth_plan(grid)
        self.grid, self.plan = grid, plan
        n, m = grid.n_times, plan.m
        real_t = grid.real_dtype
        groups = []
        for g in plan.groups:
            sigma = grid.scale[grid.row_start + g.src0] / grid.dt
            step = decimation_step(sigma, m, g.n_pos + g.n_neg, MULTIRATE_STEP_RATIO)
            k = (n - 1) // step + 1
            series_w = sum_weights(0, n, step, k)
            cell_w = np.zeros((g.band1 - g.band0, k))
            for i in range(g.band1 - g.band0):
                row = None if mask is None else mask[g.band0 + i]
                for a, b in _runs(row, n):
                    cell_w[i] += sum_weights(a, b, step, k)
            # |ifft over m/step points|^2 is step**2 times |S_ab|^2 at the coarse samples
            cell_w /= float(step) ** 2
            md, ns, nb = m // step, g.src1 - g.src0, g.band1 - g.band0
            filt = np.zeros((ns, md), dtype=real_t)      # the bins SmoothPlan keeps
            filt[:, :g.n_pos] = g.filt[:, 0, :]
            if g.n_neg > 0:
                filt[:, md - g.n_neg:] = g.filt[:, 1, g.n_neg:0:-1]
            mix = np.zeros((nb, ns))
            for t, w in plan.kernel:
                shift = g.band0 + plan.b0 + t - plan.half - g.src0
                for i in range(max(0, -shift), min(nb, ns - shift)):
                    mix[i, i + shift] += w
            groups.append(_RateGroup(g.band0, g.band1, g.src0, g.src1, step, k, md, g.n_pos,
                                     filt,
                                     mix.astype(real_t),
                                     series_w.astype(real_t), cell_w.astype(real_t)))
        self.groups = groups


def _runs(row: np.ndarray | None, n: int) -> list[tuple[int, int]]:
    """Runs ``(start, stop)`` of True in ``row`` (the whole series for None)."""
    if row is None:
        return [(0, n)]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_COARSE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def multirate_plan(grid: WaveletGrid, exclude_coi: bool) -> MultiratePlan:
    """The :class:`MultiratePlan` of ``grid`` (cells outside the cone or all), built once."""
    with _LOCK:
        plans = _PLANS.setdefault(grid, {})
        if exclude_coi not in plans:
            plans[exclude_coi] = MultiratePlan(grid, grid.valid if exclude_coi else None)
        return plans[exclude_coi]


def _smoothed(g: _RateGroup, buf: np.ndarray) -> np.ndarray:
    """``step`` times the smoothed product on the group's coarse FFT grid.

    ``buf`` (..., src rows, g.m), complex, holds in its first ``n_coarse`` columns the
    group's computed rows' products at the coarse samples, already times the series
    weights, and zeros after them (it is overwritten); the result (..., band rows, g.m)
    is complex, its first ``n_coarse`` columns at the coarse samples: the time filter
    (with ``1 / scale``) and the scale smoothing applied on the coarse FFT's bins.
    """
    F = sfft.fft(buf, axis=-1, overwrite_x=True, workers=1)
    F *= g.filt
    # the scale smoothing, a real matrix, on the interleaved real and imaginary parts
    Y = np.matmul(g.mix, F.view(g.mix.dtype)).view(F.dtype)
    return sfft.ifft(Y, axis=-1, overwrite_x=True, workers=1)


def _group_spectra(spec: ChannelSpectra, g: _RateGroup, spectrum: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The channels' ``W`` (computed rows) and ``S`` (band rows) at group ``g``'s samples.

    ``W`` from the channels' FFT ``spectrum`` (:func:`.wavelet.coarse.coarse_transform`,
    exact); ``S``, the smoothed ``|W|^2 / scale``, on the coarse grid as the pairs'
    cross-spectra are (within the quadrature's error of the full-rate ``S``). Both are
    temporaries of one block of channels (views of larger buffers).
    """
    W = coarse_transform(spectrum, spec.grid, slice(g.src0, g.src1), g.step, g.n_coarse)
    power = np.zeros(W.shape[:-1] + (g.m,), dtype=g.mix.dtype)
    np.multiply(W.real, W.real, out=power[..., :g.n_coarse])
    power[..., :g.n_coarse] += W.imag * W.imag
    power[..., :g.n_coarse] *= g.series_w
    # the power is real: its FFT is Hermitian, so the bins 0..m/2 hold all of it
    F = sfft.rfft(power, axis=-1, workers=1)
    half = g.m // 2 + 1
    Y = np.zeros(F.shape[:-2] + (g.band1 - g.band0, half), dtype=F.dtype)
    n_pos = min(g.n_pos, half)
    part = F[..., :n_pos] * g.filt[:, :n_pos]
    Y[..., :n_pos] = np.matmul(g.mix, part.view(g.mix.dtype)).view(F.dtype)
    S = sfft.irfft(Y, n=g.m, axis=-1, overwrite_x=True, workers=1)[..., :g.n_coarse]
    S *= S.dtype.type(1.0 / g.step)
    return W, S


#: Channels whose coarse spectra are computed together (their temporaries stay in cache;
#: per channel the stage costs about 1 ms at 8-20 channels, 1.7 ms at 60, 4.8 ms at 160).
CHANNEL_BLOCK = 8


def _channel_stage(spec: ChannelSpectra, rp: MultiratePlan, sides: tuple[int, ...]
                   ) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Per side of ``sides`` and group, the channels' pair-ready coarse spectra.

    ``W`` and ``S`` of every channel of ``spec`` at each group's coarse samples
    (:func:`_group_spectra`), ``CHANNEL_BLOCK`` channels at a time, are turned into the
    arrays of :func:`_coarse_spectra` while the block is in cache: side 0, ``W`` times
    the series weights and ``cell_w / S``; side 1, ``conj(W)`` and ``1 / S`` (the same
    operations, element by element, as on the whole arrays).
    """
    grid, n_ch, n = spec.grid, spec.n_channels, spec.grid.n_times
    out = {side: [(np.empty((n_ch, g.src1 - g.src0, g.n_coarse), dtype=grid.complex_dtype),
                   np.empty((n_ch, g.band1 - g.band0, g.n_coarse), dtype=grid.real_dtype))
                  for g in rp.groups] for side in sides}
    # the block zero-padded to n_fft points, in the grid's precision (rfft would pad a copy)
    padded = np.zeros((min(CHANNEL_BLOCK, n_ch), grid.n_fft), dtype=grid.real_dtype)
    for c0 in range(0, n_ch, CHANNEL_BLOCK):
        part = slice(c0, c0 + CHANNEL_BLOCK)
        x = padded[:min(CHANNEL_BLOCK, n_ch - c0)]
        x[:, :n] = spec.data[part]
        spectrum = sfft.rfft(x, axis=-1, workers=1)
        for gi, g in enumerate(rp.groups):
            W0, S0 = _group_spectra(spec, g, spectrum)
            with np.errstate(divide="ignore", invalid="ignore"):   # a constant channel: NaN
                for side in sides:
                    W, inv = out[side][gi]
                    np.divide(1.0, S0, out=inv[part])
                    if side == 0:
                        np.multiply(W0, g.series_w, out=W[part])
                        inv[part] *= g.cell_w
                    else:
                        np.conjugate(W0, out=W[part])
    return out


@dataclass(eq=False)
class _CoarseCache:
    """One channel block's pair-ready coarse spectra, per plan and side
    (:func:`_coarse_spectra`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sides: dict = field(default_factory=dict)


def _coarse_spectra(spec: ChannelSpectra, rp: MultiratePlan, sides: tuple[int, ...]
                    ) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Per side and group, the channels' ``W`` and ``1 / S`` at the group's coarse
    samples (cached per plan and side).

    Side 0 (first partner of a pair): ``W`` times the series weights and ``cell_w / S``;
    side 1: ``conj(W)`` and ``1 / S``, so a pair's product and ratio need no more factors.
    Only the sides asked are computed (a recording is mostly one partner only); a side,
    or a plan, asked later runs the channel stage again (within a run every band mean of
    a recording uses the one plan of ``[analysis] exclude_coi``).
    """
    with _LOCK:
        cache = _COARSE.get(spec)
        if cache is None:
            cache = _COARSE[spec] = _CoarseCache()
    with cache.lock:
        missing = tuple(side for side in sides if (rp, side) not in cache.sides)
        if missing:
            for side, arrays in _channel_stage(spec, rp, missing).items():
                cache.sides[rp, side] = arrays
        return {side: cache.sides[rp, side] for side in sides}


@jit
def _pair_products(Wa, Wb, ia, ib, buf):
    """``buf[p, :, :n] = Wa[ia[p]] * Wb[ib[p]]`` (``n = Wa.shape[-1]``) for every pair
    ``p``, without gathering the channels' rows into copies first."""
    n_rows, n = Wa.shape[1], Wa.shape[2]
    for p in range(ia.shape[0]):
        a, b, out = Wa[ia[p]], Wb[ib[p]], buf[p]
        for r in range(n_rows):
            ar, br, o = a[r], b[r], out[r]
            for t in range(n):
                o[t] = ar[t] * br[t]


@jit
def _weighted_power_sums(s, Ia, Ib, ia, ib):
    """Per pair ``p``, the sum over rows and the first ``Ia.shape[-1]`` samples of
    ``|s[p]|^2 * Ia[ia[p]] * Ib[ib[p]]``: each term in the arrays' precision, as numpy
    computes it element-wise, the sum in float64."""
    out = np.zeros(ia.shape[0])
    n_rows, n = Ia.shape[1], Ia.shape[2]
    for p in range(ia.shape[0]):
        a, b, sp = Ia[ia[p]], Ib[ib[p]], s[p]
        total = 0.0
        for r in range(n_rows):
            ar, br, sr = a[r], b[r], sp[r]
            for t in range(n):
                v = sr[t]
                total += (v.real * v.real + v.imag * v.imag) * ar[t] * br[t]
        out[p] = total
    return out


def _group_sums(rp: MultiratePlan, gi: int, ca: tuple, cb: tuple, ia: np.ndarray,
                ib: np.ndarray) -> np.ndarray:
    """Weighted sums of coherence over group ``gi``'s band rows for pairs ``(ia, ib)``.

    The product before the FFT and the weighted power after the inverse FFT run as
    compiled loops (:func:`_pair_products`, :func:`_weighted_power_sums`), each one pass
    over the pairs' rows instead of numpy's gathered copies and temporaries."""
    g = rp.groups[gi]
    Wa, Ia = ca
    Wb, Ib = cb
    buf = np.zeros((len(ia), g.src1 - g.src0, g.m), dtype=Wa.dtype)
    _pair_products(Wa, Wb, ia, ib, buf)
    return _weighted_power_sums(_smoothed(g, buf), Ia, Ib, ia, ib)


def multirate_band_means(spec_a: ChannelSpectra, spec_b: ChannelSpectra, idx: np.ndarray,
                         exclude_coi: bool, count: int, workers: int | None = None,
                         chunk_bytes: int = BLOCK_BYTES) -> np.ndarray:
    """Band-mean coherence of channel pairs ``idx`` on the coarse grids of ``"fast"``.

    Parameters
    ----------
    spec_a, spec_b : ChannelSpectra
        Spectra of the two partners, on one grid.
    idx : numpy.ndarray of int, shape (n_pairs, 2)
        Channel of ``spec_a`` and of ``spec_b`` of each pair.
    exclude_coi : bool
        Sum only the cells outside the cone of influence.
    count : int
        Number of cells summed per pair on the full-rate grid (the divisor).
    workers : int, optional
        Threads (None: the current default of :mod:`scipy.fft`).
    chunk_bytes : int
        Budget of one block of pairs' temporaries, in bytes (per thread).

    Returns
    -------
    numpy.ndarray, float64, shape (n_pairs,)
    """
    rp = multirate_plan(spec_a.grid, exclude_coi)
    if spec_a is spec_b:                         # one channel stage for both sides
        ca, cb = _coarse_spectra(spec_a, rp, (0, 1)).values()
    else:
        ca, cb = _coarse_spectra(spec_a, rp, (0,))[0], _coarse_spectra(spec_b, rp, (1,))[1]
    widest = max(((g.src1 - g.src0) * g.m for g in rp.groups), default=1)
    itemsize = np.dtype(spec_a.grid.complex_dtype).itemsize
    group = int(max(1, min(len(idx), min(chunk_bytes, BLOCK_BYTES) // (3 * widest * itemsize))))

    def task(k0: int) -> np.ndarray:
        part = idx[k0:k0 + group]
        total = np.zeros(len(part))
        with np.errstate(divide="ignore", invalid="ignore"):
            for gi in range(len(rp.groups)):
                total += _group_sums(rp, gi, ca[gi], cb[gi], part[:, 0], part[:, 1])
        return total / count

    parts = run_tasks(task, range(0, len(idx), group), n_threads(workers))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)
