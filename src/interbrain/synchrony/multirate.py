"""Multirate band-mean coherence: each scale at the resolution it needs.

The precision ``"fast"`` of :class:`~interbrain.synchrony.wavelet.WaveletGrid`. Every
computed row (scale ``s``) is sampled on its own coarse time grid, every ``step``-th
sample (the largest power of two at most ``0.4 s / dt`` whose coarse FFT holds the row's
filter bins, :func:`~interbrain.synchrony.wavelet.decimation.decimation_step`, and
leaves the series :data:`MIN_COARSE_SAMPLES` coarse samples at least);
consecutive rows of one step form a source set, and each band row is summed on the grid
of the smallest-scale row its scale smoothing reaches (a band set):

* per channel, once: the transform ``W`` of each source set's rows at its coarse
  samples, exactly, by an inverse FFT of ``n_fft / step`` points of the folded spectrum
  (:func:`~interbrain.synchrony.wavelet.coarse.coarse_transform`; the ``"fast"`` grid's
  ``n_fft`` is a multiple of every step), and the smoothed power ``S`` of the band rows,
  computed on the coarse grids as the pairs' cross-spectra are (below);
* per pair: the cross-spectrum ``W_a conj(W_b)`` of a scale ``s`` is band-limited to a
  few cycles per ``s``, and the Gaussian time smoothing of width ``s`` keeps only the
  bins below that. Sampled every ``step`` samples, with the quadrature weights of
  :func:`~interbrain.synchrony.wavelet.decimation.sum_weights` at the ends of the
  series, its FFT over ``n_smooth / step`` points gives the same bins as the full-rate
  FFT over ``n_smooth`` points: each source set is transformed once per pair;
* the filter and scale smoothing act on those bins exactly as in the full-rate path (a
  bin is the same frequency on every coarse grid, so a band row mixes sources of
  different steps bin by bin), and the inverse FFT over ``n_smooth / step`` points of
  the band set gives the smoothed cross-spectrum at every ``step``-th sample (exactly,
  since its bins fit);
* the band mean sums ``|S_ab|^2 / (S_a S_b)`` over the valid cells of each row from its
  coarse samples, with the weights of ``sum_weights`` for the row's span outside the
  cone of influence, and divides by the number of valid cells of the full-rate grid.

Nothing runs at the full rate but one real FFT of each channel: the work per channel
and per pair falls by about the step (32 to 128 for bands of 10-40 s at 10 Hz).
The only approximations are the end stencils of the two quadratures (12-point kriging
stencils for a Gaussian spectrum, :func:`~interbrain.synchrony.wavelet.decimation.end_stencil`);
band means stay within 1e-4 of the exact path in the tests (``tests/test_multirate.py``;
6.1e-6 against ``wtc.m`` on its reference cases, 2.8e-7 on the real NIRx dyad), with
float32 arithmetic as the ``"float32"`` precision. Coherence maps (:func:`~interbrain.synchrony.pair_coherence`)
of a ``"fast"`` grid are computed at the full rate, from ``W`` and ``S`` computed on
first use (:class:`~interbrain.synchrony.spectra.ChannelSpectra`).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import numpy as np

from .._compiled import jit_sums
from ._batching import BLOCK_BYTES, n_threads, run_tasks
from ._pair_kernels import cross_products, true_runs
from .spectra import ChannelSpectra
from .wavelet.coarse import coarse_transform
from .wavelet.decimation import (MULTIRATE_STEP_RATIO, decimation_step, equal_runs,
                                 stencil_width, sum_weights)
from .wavelet.grid import WaveletGrid
from .wavelet.smoothing import SmoothPlan, row_filter_bins, smooth_plan

__all__ = ["MULTIRATE_STEP_RATIO", "MultiratePlan", "multirate_band_means",
           "multirate_channel_bytes", "multirate_plan"]

#: Smallest time-filter weight of a frequency bin kept on the coarse grids: the bins
#: dropped change a band mean by less than this relative amount, below the unit
#: round-off of the mode's float32 arithmetic (6e-8; the exact path keeps bins down to
#: ``grid.FILTER_FLOOR``, 1e-24). Fewer bins let the coarse FFTs of most rows reach the
#: step :data:`MULTIRATE_STEP_RATIO` allows (at 1e-12 the bins held a third of them at
#: half of it).
MULTIRATE_FILTER_FLOOR = 1e-8
#: Fewest coarse samples of a series: a short recording keeps its larger scales on a finer
#: grid, where the end stencils of the quadratures have samples enough to work with.
MIN_COARSE_SAMPLES = 128


@dataclass(frozen=True, eq=False)
class _SourceRows:
    """Computed rows whose products are smoothed in time on one coarse grid.

    Every computed row ``j`` has its own step (the largest the row allows,
    :func:`~.wavelet.decimation.decimation_step`); consecutive rows of one step form one
    set, transformed once per pair whatever band rows they feed."""

    src0: int           # computed rows src0:src1 (0 = grid.row_start)
    src1: int
    step: int           # fine samples per coarse sample
    n_coarse: int       # coarse samples inside the series
    m: int              # coarse FFT length, n_smooth // step
    n_pos: int          # the filter's bins 0..n_pos-1 ...
    n_neg: int          # ... and -1..-n_neg; zero elsewhere
    filt: np.ndarray    # (src1 - src0, m): filter * 1/scale of SmoothPlan, zero elsewhere
    filt_iq: np.ndarray  # (src1 - src0, 2 m): filt repeated for the real and imaginary parts
    series_w: np.ndarray   # (n_coarse,): quadrature of the cross-spectrum's FFT


@dataclass(frozen=True, eq=False)
class _BandRows:
    """Band rows transformed back and summed on one coarse grid: the step of the
    smallest-scale computed row feeding each of them (whose bins are the widest)."""

    band0: int          # band rows band0:band1 (0 = grid.band_start)
    band1: int
    step: int
    n_coarse: int
    m: int
    sources: tuple      # ((index of a _SourceRows, band rows r0:r1 of the set, its rows
                        #   c0:c1, mix (r1 - r0, c1 - c0)), ...): the non-zero blocks
    cell_w: np.ndarray  # (band1 - band0, n_coarse): quadrature of the band sum / step**2


class MultiratePlan:
    """Coarse grids and quadrature weights of a grid's band rows, built once per grid.

    Each computed row feeding the band is sampled at its own step (:class:`_SourceRows`,
    consecutive rows of one step together) and each band row at the step of its
    smallest-scale source (:class:`_BandRows`): the frequency bins of every coarse FFT
    are those of the full-rate smoothing FFT (spacing ``1 / n_smooth`` cycles per
    sample), so the scale smoothing mixes sources of different steps bin by bin.

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
        nb = grid.n_band_rows
        lo = [max(0, i + plan.b0 - plan.half) for i in range(nb)]
        hi = [min(plan.n_rows, i + plan.b0 + plan.half + 1) for i in range(nb)]
        first, stop = (min(lo), max(hi)) if nb else (0, 0)
        k_row = row_filter_bins(grid, MULTIRATE_FILTER_FLOOR)
        max_neg = (m - 1) // 2
        steps = {}
        for j in range(first, stop):
            n_bins = int(k_row[j]) + min(int(k_row[j]) - 1, max_neg)
            step = decimation_step(float(grid.scale[grid.row_start + j] / grid.dt), m,
                                   n_bins, MULTIRATE_STEP_RATIO)
            while step > 1 and (n - 1) // step + 1 < MIN_COARSE_SAMPLES:
                step //= 2
            steps[j] = step
        sinv = np.asarray(1.0 / grid.scale[grid.rows], dtype=real_t)
        scale_samples = grid.scale[grid.rows] / grid.dt
        tf = grid.time_filter
        sources, owner = [], {}
        for src0, src1, step in equal_runs(steps, first, stop):
            md, k = m // step, (n - 1) // step + 1
            n_pos = int(k_row[src0:src1].max())
            n_neg = min(n_pos - 1, max_neg)
            filt = np.zeros((src1 - src0, md), dtype=real_t)     # the bins SmoothPlan keeps
            filt[:, :n_pos] = tf[src0:src1, :n_pos]
            if n_neg > 0:
                filt[:, md - n_neg:] = tf[src0:src1, m - n_neg:]
            # as smooth_wavelet: filter and weights multiplied in the grid's precision
            filt *= sinv[src0:src1, None]
            for j in range(src0, src1):
                owner[j] = len(sources)
            sources.append(_SourceRows(src0, src1, step, k, md, n_pos, n_neg, filt,
                                       np.repeat(filt, 2, axis=-1),
                                       sum_weights(0, n, step, k, width=stencil_width(
                                           step, scale_samples[src0])).astype(real_t)))
        mix = np.zeros((nb, plan.n_rows))
        for i in range(nb):
            for t, w in plan.kernel:
                j = i + plan.b0 + t - plan.half
                if 0 <= j < plan.n_rows:
                    mix[i, j] += w
        bands = []
        band_steps = {i: steps[lo[i]] for i in range(nb)}
        for band0, band1, step in equal_runs(band_steps, 0, nb):
            k = (n - 1) // step + 1
            width = stencil_width(step, scale_samples[lo[band0]])   # its smallest source
            cell_w = np.zeros((band1 - band0, k))
            for i in range(band1 - band0):
                row = None if mask is None else mask[band0 + i]
                for a, b in true_runs(row, n):
                    cell_w[i] += sum_weights(a, b, step, k, width=width)
            # |ifft over m/step points|^2 is step**2 times |S_ab|^2 at the coarse samples
            cell_w /= float(step) ** 2
            parts = []
            for si in sorted({owner[j] for i in range(band0, band1)
                              for j in range(lo[i], hi[i])}):
                s = sources[si]
                part = mix[band0:band1, s.src0:s.src1]
                rows, cols = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
                if rows.size:
                    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
                    parts.append((si, slice(r0, r1), slice(c0, c1),
                                  part[r0:r1, c0:c1].astype(real_t)))
            bands.append(_BandRows(band0, band1, step, k, m // step, tuple(parts),
                                   cell_w.astype(real_t)))
        self.sources, self.bands = sources, bands


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


def multirate_channel_bytes(grid: WaveletGrid, exclude_coi: bool) -> int:
    """Bytes one channel of a ``"fast"`` :class:`ChannelSpectra` holds for band means.

    Its samples in the grid's precision and, per side, its coarse ``W`` (per source
    set) and ``1 / S`` (per band set) (:func:`_coarse_spectra`); a fraction of a
    full-rate channel's, by about the steps.
    """
    rp = multirate_plan(grid, exclude_coi)
    coarse = (sum((s.src1 - s.src0) * s.n_coarse for s in rp.sources)
              * np.dtype(grid.complex_dtype).itemsize
              + sum((b.band1 - b.band0) * b.n_coarse for b in rp.bands)
              * np.dtype(grid.real_dtype).itemsize)
    return grid.n_times * np.dtype(grid.real_dtype).itemsize + 2 * coarse


def _mix_into(Y: np.ndarray, F: np.ndarray, mix: np.ndarray, src: _SourceRows,
              negative: bool) -> None:
    """``Y += mix @ F`` on the bins source set ``src`` keeps: the scale smoothing (a real
    matrix, on the interleaved real and imaginary parts) of its filtered spectra ``F``
    into a band set's spectra ``Y``, bins ``0..n_pos-1`` and, when ``negative``,
    ``-1..-n_neg``, each at its place in ``Y``'s FFT (as long as ``F``'s or longer)."""
    real = mix.dtype
    Y[..., :src.n_pos] += np.matmul(mix, F[..., :src.n_pos].view(real)).view(Y.dtype)
    if negative and src.n_neg > 0:
        Y[..., Y.shape[-1] - src.n_neg:] += np.matmul(
            mix, F[..., src.m - src.n_neg:].view(real)).view(Y.dtype)


def _channel_power(spec: ChannelSpectra, rp: MultiratePlan, spectrum: np.ndarray
                   ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The channels' ``W`` (per source set) and ``S`` (per band set) at their samples.

    ``W`` from the channels' FFT ``spectrum`` (:func:`.wavelet.coarse.coarse_transform`,
    exact); ``S``, the smoothed ``|W|^2 / scale``, on the coarse grids as the pairs'
    cross-spectra are (within the quadrature's error of the full-rate ``S``). Both are
    temporaries of one block of channels.
    """
    Ws, Fs = [], []
    for src in rp.sources:
        W = coarse_transform(spectrum, spec.grid, slice(src.src0, src.src1), src.step,
                             src.n_coarse)
        power = np.zeros(W.shape[:-1] + (src.m,), dtype=src.filt.dtype)
        np.multiply(W.real, W.real, out=power[..., :src.n_coarse])
        power[..., :src.n_coarse] += W.imag * W.imag
        power[..., :src.n_coarse] *= src.series_w
        # the power is real: its FFT is Hermitian, so the bins 0..m/2 hold all of it
        F = spec.grid.fft_lib.rfft(power)
        F[..., :src.n_pos] *= src.filt[:, :src.n_pos]
        Ws.append(W)
        Fs.append(F)
    Ss = []
    for band in rp.bands:
        Y = np.zeros(spectrum.shape[:1] + (band.band1 - band.band0, band.m // 2 + 1),
                     dtype=spectrum.dtype)
        for si, r, c, mix in band.sources:
            _mix_into(Y[..., r, :], Fs[si][..., c, :], mix, rp.sources[si], negative=False)
        S = spec.grid.fft_lib.irfft(Y, n=band.m, overwrite_x=True)[..., :band.n_coarse]
        S *= S.dtype.type(1.0 / band.step)
        Ss.append(S)
    return Ws, Ss


#: Channels whose coarse spectra are computed together (their temporaries stay in cache;
#: per channel the stage costs about 1 ms at 8-20 channels, 1.7 ms at 60, 4.8 ms at 160).
CHANNEL_BLOCK = 8


def _channel_stage(spec: ChannelSpectra, rp: MultiratePlan, sides: tuple[int, ...]
                   ) -> dict[int, tuple[list[np.ndarray], list[np.ndarray]]]:
    """Per side of ``sides``, the channels' pair-ready coarse spectra.

    ``W`` (per source set) and ``S`` (per band set) of every channel of ``spec``
    (:func:`_channel_power`), ``CHANNEL_BLOCK`` channels at a time, are turned into the
    arrays of :func:`_coarse_spectra` while the block is in cache: side 0, ``W`` times
    the series weights and ``cell_w / S``; side 1, ``W`` and ``1 / S`` (the same
    operations, element by element, as on the whole arrays).
    """
    grid, n_ch, n = spec.grid, spec.n_channels, spec.grid.n_times
    out = {side: ([np.empty((n_ch, s.src1 - s.src0, s.n_coarse), dtype=grid.complex_dtype)
                   for s in rp.sources],
                  [np.empty((n_ch, b.band1 - b.band0, b.n_coarse), dtype=grid.real_dtype)
                   for b in rp.bands]) for side in sides}
    # the block zero-padded to n_fft points, in the grid's precision (rfft would pad a copy)
    padded = np.zeros((min(CHANNEL_BLOCK, n_ch), grid.n_fft), dtype=grid.real_dtype)
    for c0 in range(0, n_ch, CHANNEL_BLOCK):
        part = slice(c0, c0 + CHANNEL_BLOCK)
        x = padded[:min(CHANNEL_BLOCK, n_ch - c0)]
        x[:, :n] = spec.data[part]
        Ws, Ss = _channel_power(spec, rp, grid.fft_lib.rfft(x))
        for side in sides:
            W_out, inv_out = out[side]
            for src, W0, W in zip(rp.sources, Ws, W_out):
                if side == 0:
                    np.multiply(W0, src.series_w, out=W[part])
                else:
                    W[part] = W0
            with np.errstate(divide="ignore", invalid="ignore"):   # a constant channel: NaN
                for band, S0, inv in zip(rp.bands, Ss, inv_out):
                    np.divide(1.0, S0, out=inv[part])
                    if side == 0:
                        inv[part] *= band.cell_w
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
    side 1: ``W`` and ``1 / S``, so a pair's product (conjugating side 1's ``W``) and ratio
    need no more factors.
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


@jit_sums
def _weighted_power_sums(s, Ia, Ib, ia, ib):
    """Per pair ``p``, the sum over rows and the first ``Ia.shape[-1]`` samples of
    ``|s[p]|^2 * Ia[ia[p]] * Ib[ib[p]]``: each term in the arrays' precision, as numpy
    computes it element-wise (up to the order of its factors), the sum in float64, in any
    order (:func:`~interbrain._compiled.jit_sums`: it vectorises)."""
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


def _pair_sums(rp: MultiratePlan, ca: tuple, cb: tuple, ia: np.ndarray, ib: np.ndarray
               ) -> np.ndarray:
    """Weighted sums of coherence over the band rows for pairs ``(ia, ib)``.

    Per source set, the pairs' products (the compiled loop of the full-rate path,
    :func:`~._pair_kernels.cross_products`, with no gathered copies) are transformed once and filtered; per band set, the scale
    smoothing mixes the filtered sources bin by bin, the inverse FFT gives ``step``
    times the smoothed cross-spectrum at the band set's samples, and the weighted power
    is summed (:func:`_weighted_power_sums`)."""
    (Wa, Ia), (Wb, Ib) = ca, cb
    Fs = []
    for src, wa, wb in zip(rp.sources, Wa, Wb):
        buf = np.empty((len(ia), src.src1 - src.src0, src.m), dtype=wa.dtype)
        cross_products(wa, wb, ia, ib, 0, src.src1 - src.src0, buf)
        F = rp.grid.fft_lib.fft(buf, overwrite_x=True)
        # real and imaginary parts times the (real) filter, as one contiguous pass
        F_iq = F.view(src.filt_iq.dtype)
        F_iq *= src.filt_iq
        Fs.append(F)
    total = np.zeros(len(ia))
    for band, ia_w, ib_w in zip(rp.bands, Ia, Ib):
        Y = None
        for si, r, c, mix in band.sources:
            src = rp.sources[si]
            if Y is None and src.m == band.m and (r.start, r.stop) == (0, band.band1 - band.band0):
                # the sources of the band set's own step (the first, smallest scales) feed
                # every band row: one product over all bins, zero where the filter is
                Y = np.matmul(mix, Fs[si][..., c, :].view(mix.dtype)).view(Fs[si].dtype)
                continue
            if Y is None:
                Y = np.zeros((len(ia), band.band1 - band.band0, band.m), dtype=Fs[0].dtype)
            _mix_into(Y[..., r, :], Fs[si][..., c, :], mix, src, negative=True)
        s = rp.grid.fft_lib.ifft(Y, overwrite_x=True)
        total += _weighted_power_sums(s, ia_w, ib_w, ia, ib)
    return total


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
    # temporaries of one pair: every source set's spectra and the largest band set's
    per_pair = (sum((s.src1 - s.src0) * s.m for s in rp.sources)
                + max(((b.band1 - b.band0) * b.m for b in rp.bands), default=0))
    itemsize = np.dtype(spec_a.grid.complex_dtype).itemsize
    group = int(max(1, min(len(idx), min(chunk_bytes, BLOCK_BYTES)
                           // (max(per_pair, 1) * itemsize))))

    def task(k0: int) -> np.ndarray:
        part = idx[k0:k0 + group]
        with np.errstate(divide="ignore", invalid="ignore"):
            return _pair_sums(rp, ca, cb, part[:, 0], part[:, 1]) / count

    parts = run_tasks(task, range(0, len(idx), group), n_threads(workers))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)
