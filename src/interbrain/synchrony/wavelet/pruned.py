"""Pruned FFTs of the time smoothing (and of the transform): only the bins that matter.

The channel transform (:class:`~.transform.ChannelTransform`) uses the inverse split
too: the spectrum of a row of ``W`` is ``fft(x) * daughter``, zero at negative
frequencies and negligible (below 1e-24 of its peak) beyond a few cycles per scale.

The time smoothing of a row of scale ``s`` needs the FFT over ``m = n_smooth`` points of
the row's product at bins ``-K < k < K`` only (the filter is below ``1e-24`` elsewhere,
:class:`~.smoothing.SmoothPlan`), and its inverse FFT has non-zero bins only there. With
``M`` the smallest power of two of at least ``2 K - 1`` points and ``L = m / M`` (both
powers of two), decimation in time splits both transforms exactly:

* forward: with ``x`` viewed as ``M x L`` (``x[i L + r]`` at ``[i, r]``, its natural
  order), ``X[k] = sum_r exp(-2 pi i k r / m) F_r[k mod M]``, where ``F_r`` is the FFT over
  ``M`` points of column ``r``: ``L`` FFTs of ``M`` points and ``2 K L`` products instead
  of one FFT of ``m`` points (:func:`pruned_forward_combine`);
* inverse: column ``r`` of the ``M x L`` buffer holds ``Y[k] exp(2 pi i k r / m) / L`` at
  row ``k mod M`` (one ``k`` per row, as ``2 K - 1 <= M``), and its inverse FFT over ``M``
  points is ``x[i L + r] = ifft_m(Y)[i L + r]``, in natural order
  (:func:`pruned_inverse_scatter`).

These are the same transforms rearranged, not approximations: they differ from the full
FFTs by round-off (1e-15 relative in float64, tested; the combining sums are compiled
with reassociable additions, :func:`~interbrain._compiled.jit_sums`). The ``M``-point FFTs run along
the second-to-last axis, which the FFT libraries vectorise across the ``L`` columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import threading
import weakref

import numpy as np

from ..._compiled import jit, jit_sums
from .decimation import equal_runs
from .grid import FILTER_FLOOR, WaveletGrid
from .smoothing import SmoothPlan, leading_bins, row_filter_bins

#: Most columns ``L`` of a split: the FFT libraries' column FFTs slow down past it
#: (``benchmarks/column_ffts.py``, scipy, one core: 118 us per 32768 points as
#: 256 x 128, 164-190 us with more columns; 273 us per 65536 points as 512 x 128,
#: 332-407 us with more).
MAX_COLUMNS = 128

#: Plans per grid (:func:`pruned_pair_plan`, :func:`transform_blocks`).
_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()

__all__ = ["PrunedRows", "pruned_forward_combine", "pruned_inverse_scatter",
           "pruned_inverse_scatter_positive", "pruned_length", "pruned_pair_plan",
           "pruned_twiddles", "split_runs", "transform_blocks"]


def pruned_length(n_bins: int, m: int, *, positive: bool = False) -> int:
    """FFT length ``M`` for bins ``-n_bins < k < n_bins`` of an ``m``-point FFT: the
    smallest power of two of at least ``2 n_bins - 1`` points (at most ``m``); with
    ``positive``, for bins ``0 <= k < n_bins`` only: at least ``n_bins`` points. Never
    fewer than ``m / MAX_COLUMNS`` points.

    Parameters
    ----------
    n_bins : int
        ``K``: bins ``0..K-1`` and ``-1..-(K-1)`` are needed (at least 1).
    m : int
        The full FFT length, a power of two.
    positive : bool, default False
        Only the bins ``0..K-1`` are non-zero (a one-sided spectrum).

    Returns
    -------
    int
    """
    need = max(int(n_bins) if positive else 2 * int(n_bins) - 1, 1, int(m) // MAX_COLUMNS)
    return min(1 << (need - 1).bit_length(), int(m))


def pruned_twiddles(n_bins: int, L: int, m: int, dtype: type) -> np.ndarray:
    """``exp(-2 pi i j r / m)`` for ``j < n_bins``, ``r < L``: shape (n_bins, L), ``dtype``
    (computed in float64)."""
    j = np.arange(int(n_bins), dtype=np.float64)[:, None]
    r = np.arange(int(L), dtype=np.float64)[None, :]
    tw = np.exp((-2j * np.pi / m) * (j * r))
    out = np.ascontiguousarray(tw.astype(dtype))
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class PrunedRows:
    """Rows ``row0:row1`` whose smoothing FFTs keep bins ``-n_bins < k < n_bins`` (built
    with ``positive``: ``0 <= k < n_bins``), split into ``L`` columns of ``M`` points
    (:func:`pruned_length`); ``twiddles`` of :func:`pruned_twiddles`, shape (n_bins, L)."""

    row0: int
    row1: int
    n_bins: int
    M: int
    L: int
    twiddles: np.ndarray

    @classmethod
    def build(cls, row0: int, row1: int, n_bins: int, m: int, dtype: type, *,
              positive: bool = False) -> "PrunedRows":
        M = pruned_length(n_bins, m, positive=positive)
        L = m // M
        return cls(row0, row1, int(n_bins), M, L, pruned_twiddles(n_bins, L, m, dtype))


def split_runs(need: np.ndarray, start: int, stop: int, m: int, dtype: type, *,
               positive: bool = False, most_rows: int | None = None) -> list[PrunedRows]:
    """Rows ``start:stop``, each split by its own bins ``need[row]``
    (:func:`pruned_length` of an ``m``-point FFT), as runs of rows with one split (at
    most ``most_rows`` rows each), each keeping the most bins of its rows.

    Parameters
    ----------
    need : numpy.ndarray of int
        Bins per row (indexed by row).
    start, stop : int
    m : int
        The full FFT length, a power of two.
    dtype : type
        Complex type of the twiddles.
    positive : bool, default False
        One-sided spectra (see :func:`pruned_length`).
    most_rows : int, optional
        Most rows per run.

    Returns
    -------
    list of PrunedRows
        In order, covering ``start:stop`` (``L == 1``: the full FFT).
    """
    split = [m // pruned_length(int(k), m, positive=positive) for k in need]
    step = most_rows or max(stop - start, 1)
    return [PrunedRows.build(r0, min(r0 + step, b), int(need[r0:min(r0 + step, b)].max()),
                             m, dtype, positive=positive)
            for a, b, _ in equal_runs(split, start, stop) for r0 in range(a, b, step)]


def _unsplit(row0: int, row1: int, n_bins: int, m: int, dtype: type) -> PrunedRows:
    """Rows whose FFTs stay whole (``L == 1``)."""
    return PrunedRows(row0, row1, int(n_bins), m, 1, np.ones((1, 1), dtype=dtype))


def _per_grid(grid: WaveletGrid, key: tuple, build):
    """``build()``, computed once per grid and ``key``."""
    with _LOCK:
        per = _PLANS.setdefault(grid, {})
        if key not in per:
            per[key] = build()
        return per[key]


def pruned_pair_plan(plan: SmoothPlan, dtype: type, *, prune: bool = True
                     ) -> tuple[list[PrunedRows], list[PrunedRows]]:
    """Pruned FFTs of a pair kernel on ``plan``'s grid (built once per grid).

    Each FFT keeps the bins of its own row, not its smoothing group's: a computed row the
    bins where its own time filter is at least ``FILTER_FLOOR`` (1e-24;
    :func:`~.smoothing.row_filter_bins`), a band row the widest of its sources'. The
    bins a group handles beyond them are zero in the forward spectra (the products
    with the filter there, below 1e-24 of its peak, are the terms the smoothing drops
    elsewhere) and not transformed back; so most rows get a split ``M`` half their
    group's.

    Parameters
    ----------
    plan : SmoothPlan
    dtype : type
        Complex type of the twiddles (the grid's).
    prune : bool, default True
        False: every FFT whole (``L == 1``) with the groups' bins, the kernel's reference.

    Returns
    -------
    forward : list of PrunedRows
        Runs of computed rows with one column split, covering every computed row.
    inverse : list of PrunedRows
        Runs of band rows with one column split, in order, each within one smoothing
        group of ``plan`` (``plan.groups``; ``L == 1``: the full FFT).
    """
    def build():
        m = plan.m
        if not prune:
            return ([_unsplit(0, plan.n_rows, 1, m, dtype)],
                    [_unsplit(g.band0, g.band1, g.n_pos, m, dtype) for g in plan.groups])
        k_row = row_filter_bins(plan.grid)
        forward = split_runs(k_row, 0, plan.n_rows, m, dtype)
        need = np.array([plan.band_row_bins(k_row, i) for i in range(plan.n_band)],
                        dtype=np.int64)
        inverse = [pr for g in plan.groups
                   for pr in split_runs(need, g.band0, g.band1, m, dtype)]
        return forward, inverse

    return _per_grid(plan.grid, ("pairs", np.dtype(dtype).str, prune), build)


def transform_blocks(grid: WaveletGrid, rows: int, *, prune: bool = True
                     ) -> list[tuple[int, int, PrunedRows | None]]:
    """Blocks of the channel transform's inverse FFTs (built once per grid and ``rows``).

    Each row's inverse FFT is split by its own daughter's support (so that a row's values
    do not depend on the block sizes); the support ends where the daughter falls below
    ``FILTER_FLOOR`` (1e-24) of its peak for good, as the smoothing skips the filter's
    bins below it: the terms dropped are eight orders of magnitude below the FFT's
    round-off. Only a power-of-two ``grid.n_fft`` is split.

    Parameters
    ----------
    grid : WaveletGrid
    rows : int
        Most rows per block.
    prune : bool, default True
        False: every inverse FFT whole.

    Returns
    -------
    list of (int, int, PrunedRows or None)
        ``(r0, r1, pruned)`` per block of computed rows ``r0:r1``; None: the full FFT.
    """
    def build():
        m = grid.n_fft
        d = np.abs(grid.daughter)
        support = leading_bins(d >= FILTER_FLOOR * d.max(axis=1, keepdims=True))
        if not (prune and m & (m - 1) == 0):   # a power of two: every split M divides it
            return [(r0, min(r0 + rows, grid.n_rows), None)
                    for r0 in range(0, grid.n_rows, rows)]
        return [(pr.row0, pr.row1, None if pr.L == 1 else pr)
                for pr in split_runs(support, 0, grid.n_rows, m, grid.complex_dtype,
                                     positive=True, most_rows=rows)]

    return _per_grid(grid, ("transform", int(rows), prune), build)


@jit_sums
def pruned_forward_combine(F, tw, n_bins, Z, row0):
    """Bins of the full FFTs from the column FFTs ``F`` (shape (G, q, M, L), FFT along
    axis 2): ``Z[p, row0 + k, 0, j] = X[j]`` for ``j < n_bins`` and
    ``Z[p, row0 + k, 1, j] = X[-j]`` for ``1 <= j < n_bins`` (``Z[..., 1, 0]`` untouched),
    ``X`` the ``M L``-point FFT of row ``k`` of pair ``p``; ``tw`` of
    :func:`pruned_twiddles`."""
    G, q, M, L = F.shape
    for p in range(G):
        for k in range(q):
            f = F[p, k]
            z = Z[p, row0 + k]
            for j in range(n_bins):
                s = f[j, 0]
                for r in range(1, L):
                    s += tw[j, r] * f[j, r]
                z[0, j] = s
            for j in range(1, n_bins):
                g = f[M - j]
                s = g[0]
                for r in range(1, L):
                    s += tw[j, r].conjugate() * g[r]
                z[1, j] = s


@jit
def _spread_positive(y, tw, n_bins, inv_l, b):
    """``b[j, r] = y[j] / L * conj(tw[j, r])`` for the bins ``j < n_bins`` (``b`` of shape
    (M, L), ``L`` columns)."""
    for j in range(n_bins):
        v = y[j] * inv_l
        for r in range(b.shape[1]):
            b[j, r] = v * tw[j, r].conjugate()


@jit
def pruned_inverse_scatter(Y, tw, n_bins, B):
    """Column buffers of the inverse FFT of spectra ``Y`` (shape (G, q, 2, >= n_bins):
    bins ``j`` at ``[..., 0, j]``, ``-j`` at ``[..., 1, j]``) into ``B`` (shape
    (G, q, M, L), every element written): the inverse FFT of ``B`` over ``M`` points along
    axis 2 is ``ifft_m(Y)`` in natural order. ``tw`` of :func:`pruned_twiddles`."""
    G, q, M, L = B.shape
    inv_l = 1.0 / L
    for p in range(G):
        for k in range(q):
            b = B[p, k]
            y = Y[p, k]
            _spread_positive(y[0], tw, n_bins, inv_l, b)
            for i in range(n_bins, M - n_bins + 1):
                for r in range(L):
                    b[i, r] = 0
            for j in range(1, n_bins):
                v = y[1, j] * inv_l
                for r in range(L):
                    b[M - j, r] = v * tw[j, r]


@jit
def pruned_inverse_scatter_positive(Y, tw, n_bins, B):
    """:func:`pruned_inverse_scatter` of one-sided spectra ``Y`` (shape (G, q, >= n_bins):
    bin ``j`` at ``[..., j]``, every other bin zero) into ``B`` (shape (G, q, M, L),
    ``M >= n_bins``, every element written; :func:`pruned_length` with ``positive``)."""
    G, q, M, L = B.shape
    inv_l = 1.0 / L
    for p in range(G):
        for k in range(q):
            b = B[p, k]
            _spread_positive(Y[p, k], tw, n_bins, inv_l, b)
            for i in range(n_bins, M):
                for r in range(L):
                    b[i, r] = 0
