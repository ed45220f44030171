"""Compiled loops of the full-rate pair kernel (precisions ``"float64"`` and ``"float32"``).

The cross-spectrum of a block of rows of a group of pairs, written straight into the
FFT buffer from the channels' transforms (no gathered copies of the rows), and the
band means' sums of ``|S_ab|^2 / (S_a S_b)`` over the valid cells of each band row, in
one pass over the inverse FFT (no temporaries of the ratio). Each element is computed
in the arrays' precision as numpy computes it element-wise; the sums are accumulated
in float64, in any order (:func:`~interbrain._compiled.jit_sums`, so that they vectorise:
round-off apart from a sequential sum).
"""

from __future__ import annotations

import numpy as np

from .._compiled import jit, jit_sums

__all__ = ["cross_products", "ratio_sums", "true_runs", "valid_runs"]


@jit
def cross_products(Wa, Wb, ia, ib, r0, q, buf):
    """``buf[p, k, :n] = Wa[ia[p], r0 + k] * conj(Wb[ib[p], r0 + k])`` and
    ``buf[p, k, n:] = 0`` for every pair ``p`` and ``k < q`` (``n = Wa.shape[-1]``).

    Parameters
    ----------
    Wa, Wb : numpy.ndarray, complex, shape (n_channels, n_rows, n_times)
        The partners' wavelet transforms.
    ia, ib : numpy.ndarray of int, shape (n_pairs,)
        Channel of ``Wa`` and of ``Wb`` of each pair.
    r0, q : int
        First row and number of rows.
    buf : numpy.ndarray, complex, shape (n_pairs, >= q, n_fft >= n_times)
        Written in place (anything before).
    """
    n = Wa.shape[2]
    m = buf.shape[2]
    for p in range(ia.shape[0]):
        a, b = Wa[ia[p]], Wb[ib[p]]
        for k in range(q):
            ar, br, o = a[r0 + k], b[r0 + k], buf[p, k]
            for t in range(n):
                o[t] = ar[t] * br[t].conjugate()
            for t in range(n, m):
                o[t] = 0


@jit_sums
def _ratio_run(x, ya, yb):
    """``sum |x[t]|^2 / (ya[t] * yb[t])`` over a run of cells (1-D slices of equal length).

    Its own compiled function, called on slices: there the loads are contiguous and
    vectorise with shuffles, 5x faster than the gathers the same loop gets when inlined
    into :func:`ratio_sums`'s indexing of 3-D arrays."""
    total = 0.0
    for t in range(x.shape[0]):
        v = x[t]
        total += (v.real * v.real + v.imag * v.imag) / (ya[t] * yb[t])
    return total


@jit_sums
def ratio_sums(sw, Sa, Sb, ia, ib, r, q, run_ptr, run_start, run_stop, acc):
    """``acc[p, r + k] = sum |sw[p, k, t]|^2 / (Sa[ia[p], r + k, t] * Sb[ib[p], r + k, t])``
    over the valid cells ``t`` of band row ``r + k`` (runs ``run_ptr[r + k]`` to
    ``run_ptr[r + k + 1]`` of ``run_start``/``run_stop``), for ``k < q``.

    Each term in the arrays' precision (``re * re + im * im``, the product of the
    auto-spectra, their ratio), the sum in float64 in any order; a constant channel (``S`` of 0)
    gives NaN, as numpy's division does.
    """
    for p in range(ia.shape[0]):
        sa, sb = Sa[ia[p]], Sb[ib[p]]
        for k in range(q):
            row = r + k
            x, ya, yb = sw[p, k], sa[row], sb[row]
            total = 0.0
            for j in range(run_ptr[row], run_ptr[row + 1]):
                t0, t1 = run_start[j], run_stop[j]
                total += _ratio_run(x[t0:t1], ya[t0:t1], yb[t0:t1])
            acc[p, row] = total


def true_runs(row: np.ndarray | None, n: int) -> list[tuple[int, int]]:
    """Runs ``(start, stop)`` of True in ``row`` (the whole series ``(0, n)`` for None)."""
    if row is None:
        return [(0, n)]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def valid_runs(mask: np.ndarray | None, n_rows: int, n_times: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of valid cells per band row (:func:`true_runs`), for :func:`ratio_sums`.

    Parameters
    ----------
    mask : numpy.ndarray of bool, shape (n_rows, n_times), or None
        Valid cells (None: all).
    n_rows, n_times : int

    Returns
    -------
    run_ptr : numpy.ndarray of int64, shape (n_rows + 1,)
        Row ``i``'s runs are ``run_ptr[i]:run_ptr[i + 1]``.
    run_start, run_stop : numpy.ndarray of int64, shape (n_runs,)
        First and one-past-last cell of each run.
    """
    rows = [true_runs(None if mask is None else mask[i], n_times) for i in range(n_rows)]
    ptr = np.cumsum([0] + [len(r) for r in rows], dtype=np.int64)
    flat = [run for r in rows for run in r]
    return (ptr, np.array([a for a, _ in flat], dtype=np.int64),
            np.array([b for _, b in flat], dtype=np.int64))
