"""Channel pairs of two partners: the one definition every synchrony metric uses."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PairsSpec = str | Sequence[tuple[int, int]] | np.ndarray


def resolve_pairs(pairs: PairsSpec, n_a: int, n_b: int) -> np.ndarray:
    """Channel pairs as an integer array.

    Parameters
    ----------
    pairs : {"homologous", "all"} or sequence of (int, int)
        ``"homologous"``: ``(i, i)`` for every channel (both sides need the same number
        of channels); ``"all"``: every ``(i, j)`` in row-major order; or explicit pairs.
    n_a, n_b : int
        Number of channels of the first and second partner.

    Returns
    -------
    numpy.ndarray of int, shape (n_pairs, 2)
    """
    if isinstance(pairs, str):
        if pairs == "homologous":
            if n_a != n_b:
                raise ValueError(f"homologous pairs need the same number of channels on both "
                                 f"sides, got {n_a} and {n_b}; pass pairs='all' or a list")
            idx = np.arange(n_a, dtype=np.intp)
            return np.stack([idx, idx], axis=1)
        if pairs == "all":
            i, j = np.meshgrid(np.arange(n_a), np.arange(n_b), indexing="ij")
            return np.stack([i.ravel(), j.ravel()], axis=1).astype(np.intp)
        raise ValueError(f"pairs must be 'homologous', 'all' or a list of (i, j), got {pairs!r}")
    arr = np.asarray(pairs)
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.intp)
    if (arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype == bool
            or not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError("pairs must be 'homologous', 'all' or a list of (i, j) integer channel "
                         f"indices, got an array of shape {arr.shape} and dtype {arr.dtype}")
    bad = (arr[:, 0] < 0) | (arr[:, 0] >= n_a) | (arr[:, 1] < 0) | (arr[:, 1] >= n_b)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"channel pair {k} ({int(arr[k, 0])}, {int(arr[k, 1])}) is out of "
                         f"range: a has channels 0..{n_a - 1} and b has 0..{n_b - 1}")
    return arr.astype(np.intp)
