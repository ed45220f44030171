"""Wavelet coherence of one partner with surrogates of the other, per channel pair.

:func:`surrogate_synchrony` pairs the real signals of one partner with surrogates
(:mod:`interbrain.nulls.surrogates`) of the other and returns the band-mean wavelet
coherence of every channel pair for the real pairing and for each surrogate
(:class:`SurrogateSynchrony`): what the method reports for these two people's signals
without their coupling, in the same dyad-session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._check import check_int
from ..synchrony import WaveletGrid, band_mean_coherence, channel_spectra, resolve_pairs
from ..synchrony.coherence import ChannelSpectra
from ..synchrony.pairs import PairsSpec
from .surrogates import SeedLike, as_signals, check_kind, min_shift_samples, surrogate_null

__all__ = ["SURROGATE_COLUMNS", "SurrogateSynchrony", "surrogate_synchrony"]

#: Columns of :meth:`SurrogateSynchrony.to_frame`: the synchrony table's, plus the
#: surrogate's index.
SURROGATE_COLUMNS = ["dyad", "partner_dyad", "session", "partner_session", "pair", "signal",
                     "pairing", "metric", "surrogate", "value"]


@dataclass(frozen=True, eq=False)
class SurrogateSynchrony:
    """Synchrony of one partner with surrogates of the other, per channel pair.

    Attributes
    ----------
    kind : str
        ``"circular_shift"`` or ``"phase_randomised"``.
    pairs : numpy.ndarray of int, shape (n_pairs, 2)
        Channel of ``a`` and of ``b`` of each pair.
    real : numpy.ndarray, shape (n_pairs,)
        Synchrony of ``a`` with ``b``.
    null : numpy.ndarray, shape (n_surrogates, n_pairs)
        Synchrony of ``a`` with each surrogate of ``b``.
    min_shift : int or None
        Smallest circular shift in samples (circular shifts only).
    """

    kind: str
    pairs: np.ndarray = field(repr=False)
    real: np.ndarray = field(repr=False)
    null: np.ndarray = field(repr=False)
    min_shift: int | None = None

    @property
    def n_surrogates(self) -> int:
        return self.null.shape[0]

    @property
    def null_mean(self) -> np.ndarray:
        """Mean over surrogates, per pair."""
        return self.null.mean(axis=0)

    @property
    def null_sd(self) -> np.ndarray:
        """Standard deviation over surrogates (ddof=1; NaN with one surrogate), per pair."""
        if self.n_surrogates < 2:
            return np.full(self.null.shape[1], np.nan)
        return self.null.std(axis=0, ddof=1)

    @property
    def real_minus_null(self) -> np.ndarray:
        """Real synchrony minus the null mean, per pair."""
        return self.real - self.null_mean

    @property
    def z(self) -> np.ndarray:
        """``(real - null_mean) / null_sd`` per pair."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.real_minus_null / self.null_sd

    def _labels(self, pair_labels: Sequence[str] | None) -> list[str]:
        if pair_labels is None:
            return [f"{i}-{j}" for i, j in self.pairs]
        labels = list(pair_labels)
        if len(labels) != len(self.pairs):
            raise ValueError(f"pair_labels has {len(labels)} labels for {len(self.pairs)} pairs")
        return labels

    def summary(self, pair_labels: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per pair: ``pair, real, null_mean, null_sd, real_minus_null, z,
        n_null, null_kind``."""
        return pd.DataFrame({"pair": self._labels(pair_labels), "real": self.real,
                             "null_mean": self.null_mean, "null_sd": self.null_sd,
                             "real_minus_null": self.real_minus_null, "z": self.z,
                             "n_null": self.n_surrogates, "null_kind": self.kind})

    def to_frame(self, *, dyad: str, session: int, signal: str,
                 pair_labels: Sequence[str] | None = None, metric: str = "wtc"
                 ) -> pd.DataFrame:
        """Rows of the tidy synchrony table for the surrogates.

        One row per surrogate and pair, columns :data:`SURROGATE_COLUMNS`:
        ``pairing`` is the kind (``"circular_shift"`` or ``"phase_randomised"``),
        ``partner_dyad`` equals ``dyad``, ``partner_session`` equals ``session`` and
        ``surrogate`` numbers the surrogates from 0. :func:`~interbrain.nulls.group_tests.null_summary` reads them.
        """
        labels = self._labels(pair_labels)
        n_s, n_p = self.null.shape
        return pd.DataFrame({"dyad": dyad, "partner_dyad": dyad, "session": session,
                             "partner_session": session,
                             "pair": np.tile(np.asarray(labels, dtype=object), n_s),
                             "signal": signal, "pairing": self.kind, "metric": metric,
                             "surrogate": np.repeat(np.arange(n_s), n_p),
                             "value": self.null.ravel()}, columns=SURROGATE_COLUMNS)


def _remap(used: np.ndarray) -> np.ndarray:
    """Map from a channel index to its index among the sorted channels ``used``."""
    remap = np.full(int(used.max()) + 1, -1, dtype=np.intp)
    remap[used] = np.arange(used.size)
    return remap


def surrogate_synchrony(a: Any, b: Any, dt: float, *, band: tuple[float, float],
                        pairs: PairsSpec = "homologous", kind: str = "circular_shift",
                        n_surrogates: int = 20, seed: SeedLike = 0, exclude_coi: bool = True,
                        min_shift_s: float | None = None,
                        spectra_a: ChannelSpectra | None = None,
                        spectra_b: ChannelSpectra | None = None,
                        workers: int | None = None) -> SurrogateSynchrony:
    """Band-mean wavelet coherence of ``a`` with surrogates of ``b``.

    ``a``'s channel spectra are computed once (or taken from ``spectra_a``) and reused
    for every surrogate; each surrogate's spectra are computed once, for the channels
    of ``b`` that appear in ``pairs`` only, and reused for all pairs. Surrogates are
    made one at a time, so memory stays at one surrogate's spectra. All pairs see
    the same surrogates, and a channel's surrogates do not depend on which other
    channels are paired.

    Parameters
    ----------
    a, b : array_like, shape (n_channels, n_times)
        The two partners' signals on one time base (``b`` is the one surrogated, in
        the engine the patient), sampled every ``dt`` seconds.
    dt : float
        Sampling interval in seconds.
    band : (float, float)
        Shortest and longest period in seconds averaged over.
    pairs : {"homologous", "all"} or sequence of (int, int)
        Channel pairs, ``i`` of ``a`` and ``j`` of ``b``.
    kind : {"circular_shift", "phase_randomised"}
    n_surrogates : int, default 20
        At least 1 (2 for a null SD).
    seed : int, SeedSequence, Generator or None
        Seed of the surrogates (see :func:`derive_seed` for one per dyad-session).
    exclude_coi : bool, default True
        Average only the cells outside the cone of influence.
    min_shift_s : float, optional
        Circular shifts: smallest shift in seconds (rounded up to samples); default
        the band's longest period. Ignored for phase randomisation.
    spectra_a, spectra_b : ChannelSpectra, optional
        Spectra of ``a`` and ``b`` (all channels) already computed on the grid of
        ``WaveletGrid.build(n_times, dt, band=band)`` (e.g. the engine's cache);
        computed here when not given.
    workers : int, optional
        Threads of :mod:`scipy.fft`.

    Returns
    -------
    SurrogateSynchrony
        ``real`` (n_pairs,), ``null`` (n_surrogates, n_pairs) and per pair the null
        mean, SD, ``real - null_mean`` and z.

    Raises
    ------
    ValueError
        Unknown ``kind``, ``n_surrogates < 1``, mismatched shapes or grids, too few
        samples for the band or for ``min_shift_s``.
    """
    kind = check_kind(kind)
    n_surrogates = check_int(n_surrogates, "n_surrogates", minimum=1)
    a = np.atleast_2d(as_signals(a, "a"))
    b = np.atleast_2d(as_signals(b, "b"))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must be (n_channels, n_times) arrays with the same number of "
                         f"samples, got shapes {a.shape} and {b.shape}")
    n = a.shape[1]
    idx = resolve_pairs(pairs, a.shape[0], b.shape[0])
    min_shift = (min_shift_samples(n, dt, band=band, min_shift_s=min_shift_s)
                 if kind == "circular_shift" else None)
    grid = None
    for name, spec, x in (("spectra_a", spectra_a, a), ("spectra_b", spectra_b, b)):
        if spec is None:
            continue
        if spec.grid.n_times != n or spec.n_channels != x.shape[0]:
            raise ValueError(f"{name} holds {spec.n_channels} channels of "
                             f"{spec.grid.n_times} samples; the signals have {x.shape[0]} "
                             f"channels of {n}")
        grid = grid or spec.grid
    if grid is None:
        grid = WaveletGrid.build(n, dt, band=band)
    elif not np.isclose(grid.dt, dt) or grid.band is None or not np.allclose(grid.band, band):
        raise ValueError(f"the given spectra were computed with dt {grid.dt} s and band "
                         f"{grid.band}, not dt {dt} s and band {tuple(band)}")
    if len(idx) == 0:
        return SurrogateSynchrony(kind, idx, np.zeros(0), np.zeros((n_surrogates, 0)),
                                  min_shift)
    used_a = np.unique(idx[:, 0])
    used_b = np.unique(idx[:, 1])
    if spectra_a is None:
        spec_a = channel_spectra(a[used_a], grid, workers=workers)
        col_a = _remap(used_a)[idx[:, 0]]
    else:
        spec_a, col_a = spectra_a, idx[:, 0]
    sub_b = _remap(used_b)[idx[:, 1]]
    sub_idx = np.stack([col_a, sub_b], axis=1)
    if spectra_b is None:
        spec_b = channel_spectra(b[used_b], grid, workers=workers)
        real = band_mean_coherence(spec_a, spec_b, sub_idx, exclude_coi=exclude_coi,
                                   workers=workers)
    else:
        real = band_mean_coherence(spec_a, spectra_b, np.stack([col_a, idx[:, 1]], axis=1),
                                   exclude_coi=exclude_coi, workers=workers)
    def wtc(surrogate: np.ndarray) -> np.ndarray:
        return band_mean_coherence(spec_a, channel_spectra(surrogate, grid, workers=workers),
                                   sub_idx, exclude_coi=exclude_coi, workers=workers)

    null = surrogate_null(b[used_b], n_surrogates, kind=kind, rng=seed, min_shift=min_shift,
                          measures={"wtc": wtc})["wtc"]
    return SurrogateSynchrony(kind, idx, real, null, min_shift)
