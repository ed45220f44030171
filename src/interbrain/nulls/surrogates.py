"""Surrogates of one partner: synchrony expected without interaction, per dyad.

A surrogate of a recording keeps chosen properties of that person's signals and
destroys their timing relative to the partner. Pairing one partner's real signals
with surrogates of the other gives the synchrony the method reports for two people
with these signals who were not coupled, in the same dyad-session (unlike
pseudo-dyads, which borrow other people's recordings).

Two kinds are implemented, both multivariate (every channel of the person gets the
same randomisation, so the structure across that person's channels is kept):

``"circular_shift"``
    The whole multichannel recording is rotated in time by one random shift of at
    least ``min_shift`` samples (and at most ``n_times - min_shift``, so that it is
    at least ``min_shift`` away from zero shift in both directions). The surrogate
    is a permutation of the samples: every channel's values, autocorrelation (bar
    one wrap-around discontinuity) and the correlations between the person's
    channels at every lag are kept exactly; only the alignment with the partner
    changes.

``"phase_randomised"``
    Fourier-transform surrogates (Theiler et al. 1992) in their multivariate form
    (Prichard & Theiler 1994): the same random phase is added to every channel at
    each frequency. Each channel's amplitude spectrum is kept exactly (so its
    circular autocorrelation too), and because every channel is rotated by the same
    phase, each cross-spectrum ``X_i conj(X_j)`` is unchanged: the circular
    cross-correlation of every two channels of the person at every lag -- among them
    the zero-lag covariance and Pearson correlation matrix -- is kept exactly. The
    DC and (even length) Nyquist terms are kept real and unchanged, so each
    channel's mean and variance are kept. What is not kept: the amplitude
    distribution (surrogates are close to Gaussian), non-linear structure,
    non-stationarity (a trend or a mismatch between the first and last samples
    leaks into every frequency; the signals should be detrended and filtered first,
    as the preprocessing chain does), and the linear (non-circular)
    cross-correlation at lags other than zero.

References
----------
Theiler, J., Eubank, S., Longtin, A., Galdrikian, B. & Farmer, J. D. (1992). Testing
for nonlinearity in time series: the method of surrogate data. *Physica D*
58:77-94.

Prichard, D. & Theiler, J. (1994). Generating surrogate data for time series with
several simultaneously measured variables. *Physical Review Letters* 73:951-954.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.fft as sfft

from ..synchrony import WaveletGrid, band_mean_coherence, channel_spectra, resolve_pairs
from ..synchrony.coherence import ChannelSpectra
from ..synchrony.pairs import PairsSpec

#: Kinds of surrogate, also the ``pairing`` value of their rows in the synchrony table.
SURROGATE_KINDS: tuple[str, ...] = ("circular_shift", "phase_randomised")

#: Columns of :meth:`SurrogateSynchrony.to_frame`: the synchrony table's, plus the
#: surrogate's index.
SURROGATE_COLUMNS = ["dyad", "partner_dyad", "session", "pair", "signal", "pairing", "metric",
                     "surrogate", "value"]

SeedLike = int | np.random.SeedSequence | np.random.Generator | None


def _as_rng(seed: SeedLike) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def derive_seed(seed: int, *keys: Any) -> np.random.SeedSequence:
    """A seed for one unit of work (e.g. one dyad-session) derived from a study seed.

    The same ``seed`` and ``keys`` give the same seed in any process and any order of
    work (unlike Python's ``hash``), so surrogates do not depend on how the work is
    scheduled.

    Parameters
    ----------
    seed : int
        The study's seed (non-negative).
    *keys
        What identifies the unit, e.g. ``(dyad, session)``; converted with ``str``.

    Returns
    -------
    numpy.random.SeedSequence
        To pass as ``seed`` or ``rng`` to the functions of this module.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative whole number, got {seed!r}")
    words = [int(seed)]
    for key in keys:
        digest = hashlib.sha256(str(key).encode("utf-8")).digest()
        words.append(int.from_bytes(digest[:8], "little"))
    return np.random.SeedSequence(words)


def _check_count(n_surrogates: Any) -> int:
    if (isinstance(n_surrogates, bool) or not isinstance(n_surrogates, (int, np.integer))
            or n_surrogates < 1):
        raise ValueError(f"n_surrogates must be a whole number of at least 1, got "
                         f"{n_surrogates!r}")
    return int(n_surrogates)


def _check_kind(kind: Any) -> str:
    if kind not in SURROGATE_KINDS:
        raise ValueError(f"unknown surrogate kind {kind!r}; use one of "
                         f"{', '.join(map(repr, SURROGATE_KINDS))}")
    return kind


def _as_signals(x: Any, name: str = "x") -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must be a (n_channels, n_times) array (or one 1-D channel), "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite samples; interpolate or drop them "
                         "first")
    return arr


def _check_min_shift(min_shift: Any, n_times: int) -> int:
    if (isinstance(min_shift, bool) or not isinstance(min_shift, (int, np.integer))
            or min_shift < 1):
        raise ValueError(f"min_shift must be a whole number of samples, at least 1, got "
                         f"{min_shift!r}")
    if n_times < 2 * min_shift:
        raise ValueError(f"too few samples for circular shifts of at least {min_shift} samples: "
                         f"a shift s must satisfy min_shift <= s <= n_times - min_shift, which "
                         f"needs n_times >= {2 * min_shift}, got {n_times}")
    return int(min_shift)


def iter_circular_shift_surrogates(x: Any, n_surrogates: int, *, min_shift: int,
                                   rng: SeedLike = None) -> Iterator[np.ndarray]:
    """Circular-shift surrogates one at a time (see :func:`circular_shift_surrogates`).

    Yields the same surrogates, in the same order, as
    :func:`circular_shift_surrogates` with the same arguments; holds one in memory.
    """
    arr = _as_signals(x)
    n_surrogates = _check_count(n_surrogates)
    n = arr.shape[-1]
    min_shift = _check_min_shift(min_shift, n)
    gen = _as_rng(rng)

    def run():
        for _ in range(n_surrogates):
            shift = int(gen.integers(min_shift, n - min_shift, endpoint=True))
            yield np.roll(arr, shift, axis=-1)

    return run()


def circular_shift_surrogates(x: Any, n_surrogates: int, *, min_shift: int,
                              rng: SeedLike = None) -> np.ndarray:
    """Circular-shift surrogates of a multichannel recording.

    Surrogate ``k`` is ``numpy.roll(x, s_k, axis=-1)``: every channel rotated by the
    same shift ``s_k``, drawn uniformly from ``[min_shift, n_times - min_shift]``, so
    that the person's spatial (cross-channel) structure is kept and only the timing
    relative to the partner is destroyed. Each surrogate is a permutation of the
    samples.

    Parameters
    ----------
    x : array_like, shape (n_channels, n_times) or (n_times,)
        Finite samples.
    n_surrogates : int
        At least 1.
    min_shift : int
        Smallest circular distance from zero shift, in samples (at least 1); choose
        it longer than the longest period analysed so that shifted signals are
        decorrelated from the partner at the analysed time scales.
    rng : int, SeedSequence, Generator or None
        Random generator or its seed.

    Returns
    -------
    numpy.ndarray, shape (n_surrogates, *x.shape)

    Raises
    ------
    ValueError
        ``n_surrogates < 1``, ``min_shift < 1``, ``n_times < 2 * min_shift`` (too few
        samples), or non-finite samples.

    See Also
    --------
    iter_circular_shift_surrogates : the same, one at a time, to bound memory.
    """
    return np.stack(list(iter_circular_shift_surrogates(x, n_surrogates, min_shift=min_shift,
                                                        rng=rng)))


def iter_phase_randomised_surrogates(x: Any, n_surrogates: int, *,
                                     rng: SeedLike = None) -> Iterator[np.ndarray]:
    """Phase-randomised surrogates one at a time (see :func:`phase_randomised_surrogates`).

    Yields the same surrogates, in the same order, as
    :func:`phase_randomised_surrogates` with the same arguments; holds one in memory.
    """
    arr = _as_signals(x)
    n_surrogates = _check_count(n_surrogates)
    n = arr.shape[-1]
    if n < 3:
        raise ValueError(f"too few samples for phase-randomised surrogates: need at least 3, "
                         f"got {n}")
    gen = _as_rng(rng)
    spectrum = sfft.rfft(arr, axis=-1)
    n_freq = spectrum.shape[-1]
    last = n_freq - 1 if n % 2 == 0 else n_freq  # the Nyquist term stays real

    def run():
        for _ in range(n_surrogates):
            phases = gen.uniform(0.0, 2.0 * np.pi, size=n_freq)
            rotation = np.ones(n_freq, dtype=np.complex128)
            rotation[1:last] = np.exp(1j * phases[1:last])
            yield sfft.irfft(spectrum * rotation, n=n, axis=-1)

    return run()


def phase_randomised_surrogates(x: Any, n_surrogates: int, *,
                                rng: SeedLike = None) -> np.ndarray:
    """Multivariate phase-randomised (Fourier-transform) surrogates.

    ``X = rfft(x)``; surrogate ``k`` is ``irfft(X * exp(i phi_k))`` with one vector of
    random phases ``phi_k`` (uniform on ``[0, 2 pi)``) shared by all channels, and
    ``phi_k = 0`` at DC and, for even ``n_times``, at the Nyquist frequency (Theiler
    et al. 1992; Prichard & Theiler 1994). Kept exactly (to round-off): each
    channel's amplitude spectrum, mean and variance, and every cross-spectrum
    between the person's channels, hence their circular cross-correlation at every
    lag and their zero-lag correlation matrix. The timing relative to any other
    signal (the partner) is randomised.

    Parameters
    ----------
    x : array_like, shape (n_channels, n_times) or (n_times,)
        Finite samples; at least 3 samples. Detrend first: the Fourier transform
        treats the series as periodic.
    n_surrogates : int
        At least 1.
    rng : int, SeedSequence, Generator or None
        Random generator or its seed.

    Returns
    -------
    numpy.ndarray, shape (n_surrogates, *x.shape)

    Raises
    ------
    ValueError
        ``n_surrogates < 1``, fewer than 3 samples, or non-finite samples.

    See Also
    --------
    iter_phase_randomised_surrogates : the same, one at a time, to bound memory.
    """
    return np.stack(list(iter_phase_randomised_surrogates(x, n_surrogates, rng=rng)))


def iter_surrogates(x: Any, n_surrogates: int, *, kind: str, rng: SeedLike = None,
                    min_shift: int | None = None) -> Iterator[np.ndarray]:
    """Surrogates of ``kind`` one at a time; ``min_shift`` (samples) for circular shifts."""
    kind = _check_kind(kind)
    if kind == "circular_shift":
        if min_shift is None:
            raise ValueError("circular-shift surrogates need min_shift (samples)")
        return iter_circular_shift_surrogates(x, n_surrogates, min_shift=min_shift, rng=rng)
    return iter_phase_randomised_surrogates(x, n_surrogates, rng=rng)


def surrogate_null(b: np.ndarray, n_surrogates: int, *, kind: str, rng: SeedLike,
                   min_shift: int | None,
                   measures: Mapping[str, Callable[[np.ndarray], np.ndarray]]
                   ) -> dict[str, np.ndarray]:
    """Every measure of synchrony on the same surrogates of ``b``: the null of one pairing.

    Surrogates are drawn one at a time (memory stays at one surrogate) and each is
    passed to every measure, so all measures see the same draws. This is the loop
    behind :func:`surrogate_synchrony` and the engine's surrogate nulls.

    Parameters
    ----------
    b : numpy.ndarray, shape (n_channels, n_times)
        The channels of the partner that is surrogated.
    n_surrogates : int
    kind : {"circular_shift", "phase_randomised"}
    rng : int, SeedSequence, Generator or None
    min_shift : int or None
        Smallest circular shift in samples (circular shifts only).
    measures : mapping
        Name -> function of one surrogate (shape of ``b``) returning one value per
        channel pair, shape (n_pairs,).

    Returns
    -------
    dict
        Name -> null values, shape (n_surrogates, n_pairs).
    """
    out: dict[str, np.ndarray] = {}
    draws = iter_surrogates(b, n_surrogates, kind=kind, rng=_as_rng(rng), min_shift=min_shift)
    for k, surrogate in enumerate(draws):
        for name, measure in measures.items():
            values = np.asarray(measure(surrogate), dtype=np.float64).ravel()
            if name not in out:
                out[name] = np.empty((n_surrogates, values.size))
            out[name][k] = values
    return out


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
        ``partner_dyad`` equals ``dyad`` and ``surrogate`` numbers the surrogates
        from 0. :func:`~interbrain.nulls.group_tests.null_summary` reads them.
        """
        labels = self._labels(pair_labels)
        n_s, n_p = self.null.shape
        return pd.DataFrame({"dyad": dyad, "partner_dyad": dyad, "session": session,
                             "pair": np.tile(np.asarray(labels, dtype=object), n_s),
                             "signal": signal, "pairing": self.kind, "metric": metric,
                             "surrogate": np.repeat(np.arange(n_s), n_p),
                             "value": self.null.ravel()}, columns=SURROGATE_COLUMNS)


def _remap(used: np.ndarray) -> np.ndarray:
    """Map from a channel index to its index among the sorted channels ``used``."""
    remap = np.full(int(used.max()) + 1, -1, dtype=np.intp)
    remap[used] = np.arange(used.size)
    return remap


def min_shift_samples(n_times: int, dt: float, *, band: tuple[float, float],
                      min_shift_s: float | None = None) -> int:
    """Smallest circular shift in samples: ``min_shift_s`` seconds (default the band's
    longest period), rounded up, checked against the recording's length.

    Raises
    ------
    ValueError
        A non-positive shift, or a recording too short for shifts that large.
    """
    seconds = float(band[1]) if min_shift_s is None else float(min_shift_s)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"min_shift_s must be a positive number of seconds, got "
                         f"{min_shift_s!r}")
    min_shift = max(1, math.ceil(seconds / dt - 1e-9))
    _check_min_shift(min_shift, n_times)
    return min_shift


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
    kind = _check_kind(kind)
    n_surrogates = _check_count(n_surrogates)
    a = np.atleast_2d(_as_signals(a, "a"))
    b = np.atleast_2d(_as_signals(b, "b"))
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


@dataclass(frozen=True)
class NullSettings:
    """Settings of the null controls, as a ``[nulls]`` table of ``study.toml`` could
    give them.

    Parameters
    ----------
    pseudo_dyads : bool
        Compute synchrony of pseudo-dyads.
    max_pseudo_per_dyad : int
        At most this many pseudo partners per therapist recording, chosen at random
        (see :func:`~interbrain.nulls.pseudo_dyads.pseudo_dyad_pairings`); 0 for all.
    surrogates : str
        ``"none"``, ``"circular_shift"`` or ``"phase_randomised"``: surrogates of the
        patient paired with the real therapist, per dyad-session.
    n_surrogates : int
        Surrogates per dyad-session and signal (at least 2, for a null SD).
    min_shift : float
        Smallest circular shift in seconds; 0 for the band's longest period.
    seed : int
        Seed of the pseudo-dyad subset and (via :func:`derive_seed` with the dyad and
        session) of the surrogates.
    """

    pseudo_dyads: bool = True
    max_pseudo_per_dyad: int = 0
    surrogates: str = "none"
    n_surrogates: int = 20
    min_shift: float = 0.0
    seed: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the first invalid field."""
        if (isinstance(self.max_pseudo_per_dyad, bool)
                or not isinstance(self.max_pseudo_per_dyad, int)
                or self.max_pseudo_per_dyad < 0):
            raise ValueError("field 'max_pseudo_per_dyad' must be 0 (every pseudo-dyad) or a "
                             f"whole number of at least 1, got {self.max_pseudo_per_dyad!r}")
        if self.surrogates not in ("none", *SURROGATE_KINDS):
            raise ValueError("field 'surrogates' must be 'none', 'circular_shift' or "
                             f"'phase_randomised', got {self.surrogates!r}")
        if (isinstance(self.n_surrogates, bool) or not isinstance(self.n_surrogates, int)
                or self.n_surrogates < 2):
            raise ValueError(f"field 'n_surrogates' must be at least 2, got "
                             f"{self.n_surrogates!r}")
        if not (math.isfinite(self.min_shift) and self.min_shift >= 0):
            raise ValueError(f"field 'min_shift' must be 0 (the band's longest period) or a "
                             f"positive number of seconds, got {self.min_shift!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"field 'seed' must be a non-negative whole number, got "
                             f"{self.seed!r}")

    @property
    def max_per_dyad(self) -> int | None:
        """``max_per_dyad`` argument of ``pseudo_dyad_pairings`` (None for all)."""
        return self.max_pseudo_per_dyad or None

    @property
    def min_shift_s(self) -> float | None:
        """``min_shift_s`` argument of :func:`surrogate_synchrony`."""
        return self.min_shift or None
