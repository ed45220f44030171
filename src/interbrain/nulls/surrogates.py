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

Wavelet coherence of one partner with surrogates of the other is in
:mod:`interbrain.nulls.surrogate_synchrony`.

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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft as sfft

from .._check import as_generator, check_int, check_option
from ..synchrony.settings import SURROGATE_KINDS

#: Kinds of surrogate, also the ``pairing`` value of their rows in the synchrony table.

SeedLike = int | np.random.SeedSequence | np.random.Generator | None


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
    words = [check_int(seed, "seed", minimum=0)]
    for key in keys:
        digest = hashlib.sha256(str(key).encode("utf-8")).digest()
        words.append(int.from_bytes(digest[:8], "little"))
    return np.random.SeedSequence(words)


def check_kind(kind: Any) -> str:
    """Return ``kind`` if it is one of :data:`SURROGATE_KINDS`, else raise ValueError."""
    return check_option(kind, "surrogate kind", SURROGATE_KINDS)


def _check_count(n_surrogates: Any) -> int:
    return check_int(n_surrogates, "n_surrogates", minimum=1)


def as_signals(x: Any, name: str = "x") -> np.ndarray:
    """``x`` as a float64 ``(n_channels, n_times)`` (or 1-D) array of finite samples.

    Raises
    ------
    ValueError
        Another number of dimensions, or NaN or infinite samples.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must be a (n_channels, n_times) array (or one 1-D channel), "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite samples; interpolate or drop them "
                         "first")
    return arr


def _check_min_shift(min_shift: Any, n_times: int) -> int:
    min_shift = check_int(min_shift, "min_shift (samples)", minimum=1)
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
    arr = as_signals(x)
    n_surrogates = _check_count(n_surrogates)
    n = arr.shape[-1]
    min_shift = _check_min_shift(min_shift, n)
    gen = as_generator(rng)

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
    arr = as_signals(x)
    n_surrogates = _check_count(n_surrogates)
    n = arr.shape[-1]
    if n < 3:
        raise ValueError(f"too few samples for phase-randomised surrogates: need at least 3, "
                         f"got {n}")
    gen = as_generator(rng)
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
    kind = check_kind(kind)
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
    behind :func:`~interbrain.nulls.surrogate_synchrony.surrogate_synchrony` and the
    engine's surrogate nulls.

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
    draws = iter_surrogates(b, n_surrogates, kind=kind, rng=as_generator(rng), min_shift=min_shift)
    for k, surrogate in enumerate(draws):
        for name, measure in measures.items():
            values = np.asarray(measure(surrogate), dtype=np.float64).ravel()
            if name not in out:
                out[name] = np.empty((n_surrogates, values.size))
            out[name][k] = values
    return out


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
        check_int(self.max_pseudo_per_dyad, "field 'max_pseudo_per_dyad' (0: every "
                  "pseudo-dyad)", minimum=0)
        if self.surrogates not in ("none", *SURROGATE_KINDS):
            raise ValueError("field 'surrogates' must be 'none', 'circular_shift' or "
                             f"'phase_randomised', got {self.surrogates!r}")
        check_int(self.n_surrogates, "field 'n_surrogates'", minimum=2)
        if not (math.isfinite(self.min_shift) and self.min_shift >= 0):
            raise ValueError(f"field 'min_shift' must be 0 (the band's longest period) or a "
                             f"positive number of seconds, got {self.min_shift!r}")
        check_int(self.seed, "field 'seed'", minimum=0)

    @property
    def max_per_dyad(self) -> int | None:
        """``max_per_dyad`` argument of ``pseudo_dyad_pairings`` (None for all)."""
        return self.max_pseudo_per_dyad or None

    @property
    def min_shift_s(self) -> float | None:
        """``min_shift_s`` argument of
        :func:`~interbrain.nulls.surrogate_synchrony.surrogate_synchrony`."""
        return self.min_shift or None
