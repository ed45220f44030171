"""Monte Carlo significance of wavelet coherence against AR(1) red noise.

Follows Grinsted's ``wtcsignif.m`` (Grinsted, Moore & Jevrejeva 2004, Sec. 4): the
AR(1) coefficient of each series is estimated (:func:`ar1_coefficient`, the estimator of
``ar1nv.m`` that ``wtc.m`` uses by default), pairs of independent red-noise series with
those coefficients are simulated, their wavelet coherence is computed on the analysis
grid, and per scale the 95th percentile of the coherence of all surrogates over all
cells outside the cone of influence is the significance level. Coherence above it is
significant at the 5 % level against the null hypothesis of two independent AR(1)
processes with the observed lag-1 autocorrelations.

Everything is batched: surrogates are generated a chunk at a time with
:func:`scipy.signal.lfilter` along the time axis, their transforms and smoothed
auto-spectra are computed with :func:`~interbrain.synchrony.coherence.channel_spectra`
and the coherence of surrogate pair ``k = (A_k, B_k)`` with
:func:`~interbrain.synchrony.coherence.iter_pair_coherence`; only the band's scales of
a band-restricted :class:`~interbrain.synchrony.wavelet.WaveletGrid` are computed.
A threshold depends only on the (rounded) AR coefficients and the grid, so it is
computed once and reused for every pair with the same coefficients through an explicit
:class:`ThresholdCache` (in memory, optionally on disk).

Deliberate deviations from ``wtcsignif.m``
------------------------------------------
* **Surrogate length.** Grinsted simulates ``ceil(6 * largest scale / dt)`` samples
  regardless of the data; here the surrogates have the length of the analysed
  recording and use its very grid (padding, cone of influence), so the threshold is
  the quantile over exactly the cells the analysis uses, and the grid is shared.
* **Stationary start.** Grinsted discards a burn-in of two decorrelation times; here
  the first sample is drawn from the stationary distribution (variance
  ``1 / (1 - g**2)`` for unit innovations), which is exact and costs nothing even for
  ``g`` close to 1 (fNIRS at 10 Hz has ``g`` around 0.99).
* **Quantile.** Grinsted bins the coherence into 1000 bins per scale (assigning each
  bin a value slightly off its centre) and interpolates the empirical CDF. Here a
  histogram of :data:`HISTOGRAM_BINS` (16384) bins per scale is accumulated and the
  quantile is interpolated linearly inside its bin: within ``1 / 16384 = 6e-5`` of the
  exact sample quantile (the smallest value whose empirical CDF reaches ``quantile``,
  numpy's ``method="inverted_cdf"``), far below the Monte Carlo error (about ``1e-3``
  for 300 surrogates), at a fixed memory cost independent of the number of surrogates.
  Exact quantiles would need all ``n_surrogates * n_cells`` values in memory (about
  0.75 GB for 300 surrogates of 10 minutes at 10 Hz in the 5-100 s band).
* **Cone of influence.** Cells count as outside the cone where ``period < coi`` (as in
  :func:`~interbrain.synchrony.coherence.band_mean_coherence` and
  ``WaveletGrid.valid``), not ``period <= coi``; this changes at most one cell per
  scale.
* **Cache key.** Grinsted keys his cache by ``round(4 * atanh(g))`` (which lumps
  together e.g. ``g = 0.6`` and ``0.7``) and ignores the series length. Here the AR
  coefficients are rounded to two decimals, and where ``g > 0.9`` to two significant
  digits of ``1 - g`` (see :func:`quantize_ar1`; at 10 Hz ``g = 0.99`` and ``0.999``
  are very different spectra), the surrogates are simulated with the *rounded*
  coefficients (so a cached threshold does not depend on which pair computed it
  first), and the key holds the full grid identity (length, sampling interval, scales,
  band, padding, precision).
* **Symmetry.** Coherence is symmetric in its two series, so the coefficients are put
  in ascending order before simulating: ``(g_x, g_y)`` and ``(g_y, g_x)`` share one
  threshold.
* **Innovation variance.** Coherence is invariant to rescaling either series, so the
  surrogates use unit innovations; the innovation standard deviation returned by
  :func:`ar1_coefficient` is informational.

References
----------
Grinsted, A., Moore, J. C. & Jevrejeva, S. (2004). Application of the cross wavelet
transform and wavelet coherence to geophysical time series. *Nonlinear Processes in
Geophysics* 11:561-566.

Torrence, C. & Compo, G. P. (1998). A practical guide to wavelet analysis.
*Bulletin of the American Meteorological Society* 79:61-78.
"""

from __future__ import annotations

import decimal
import hashlib
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import lfilter

from .._files import temporary_file
from .._npz import load_npz
from .coherence import PAIR_CHUNK_BYTES, channel_spectra, iter_pair_coherence, pair_coherence
from .wavelet import DEFAULT_CHUNK_BYTES, WaveletGrid

__all__ = [
    "HISTOGRAM_BINS",
    "BandSignificance",
    "SignificanceThreshold",
    "ThresholdCache",
    "ar1_coefficient",
    "ar1_surrogates",
    "band_significance",
    "coherence_threshold",
    "quantize_ar1",
    "significant_fraction",
    "threshold_key",
]

#: Bins per scale of the coherence histogram from which the quantile is read.
HISTOGRAM_BINS = 2**14

#: Version of the method; part of every cache key (bump when the numbers change).
_METHOD_VERSION = 1

#: Minimum number of surrogate pairs.
MIN_SURROGATES = 10


# --------------------------------------------------------------------------- AR(1)
def ar1_coefficient(x: Any, *, axis: int = -1) -> tuple[Any, Any]:
    """Lag-1 autoregressive coefficient and innovation standard deviation (``ar1nv.m``).

    The estimator of ``ar1nv.m`` (Eric Breitenberger), which ``wtc.m`` uses by
    default: with the de-meaned series ``x`` of ``N`` samples,
    ``c0 = sum(x**2) / N``, ``c1 = sum(x[:-1] * x[1:]) / (N - 1)``, ``g = c1 / c0`` and
    ``a = sqrt((1 - g**2) * c0)``.

    Parameters
    ----------
    x : array_like, shape (..., n_times) for ``axis=-1``
        Finite samples; one series per position along the other axes.
    axis : int, default -1
        The time axis.

    Returns
    -------
    g : float or numpy.ndarray
        Lag-1 autocorrelation estimate (dimensionless; shape of ``x`` without ``axis``,
        a float for a 1-D series). It can fall slightly outside ``(-1, 1)`` for short
        or strongly trending series.
    a : float or numpy.ndarray
        Standard deviation of the innovations, in the units of ``x`` (0 where
        ``|g| >= 1``).

    Raises
    ------
    ValueError
        Fewer than 3 samples, NaN or infinite samples, or a constant series.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        raise ValueError("x must be a series of samples, got a scalar")
    arr = np.moveaxis(arr, axis, -1)
    n = arr.shape[-1]
    if n < 3:
        raise ValueError(f"an AR(1) estimate needs at least 3 samples, got {n}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("x contains NaN or infinite samples; interpolate or drop them first")
    arr = arr - arr.mean(axis=-1, keepdims=True)
    c0 = np.einsum("...t,...t->...", arr, arr) / n
    c1 = np.einsum("...t,...t->...", arr[..., :-1], arr[..., 1:]) / (n - 1)
    if np.any(c0 <= 0):
        raise ValueError("x is constant (zero variance); its AR(1) coefficient is undefined")
    g = c1 / c0
    a = np.sqrt(np.maximum(1.0 - g**2, 0.0) * c0)
    if g.ndim == 0:
        return float(g), float(a)
    return g, a


def _check_ar1(g: Any, name: str) -> float:
    try:
        g = float(g)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1), got {g!r}") from None
    if not (math.isfinite(g) and 0.0 <= g < 1.0):
        raise ValueError(f"{name} (lag-1 AR coefficient) must be in [0, 1), got {g}; a "
                         "negative estimate means the series is not red noise: pass a "
                         "coefficient in [0, 1) explicitly (0 for white noise)")
    return g


def quantize_ar1(g: float, digits: int = 2) -> float:
    """Round an AR(1) coefficient for the cache key (and the simulation).

    ``1 - g`` is rounded to ``digits`` significant digits: for ``g <= 0.9`` this is
    rounding ``g`` to ``digits`` decimals (0.734 -> 0.73), and closer to 1 it keeps the
    decorrelation time ``-dt / log(g)`` to about ``10**(1 - digits)`` relative precision
    (0.99537 -> 0.9954, 0.99951 -> 0.99951), which plain rounding to decimals would
    lump together or round up to 1.

    Parameters
    ----------
    g : float
        Lag-1 AR coefficient in ``[0, 1)``.
    digits : int, default 2
        Significant digits of ``1 - g`` kept (at least 1).

    Returns
    -------
    float
        The rounded coefficient, in ``[0, 1)``.

    Raises
    ------
    ValueError
        ``g`` outside ``[0, 1)`` or ``digits < 1``.
    """
    g = _check_ar1(g, "ar1")
    if int(digits) != digits or digits < 1:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    rest = decimal.Decimal(f"{1.0 - g:.{int(digits) - 1}e}")
    return float(decimal.Decimal(1) - rest)


def _red_noise(innovations: np.ndarray, g: float) -> np.ndarray:
    """Stationary AR(1) series ``x[t] = g x[t-1] + e[t]`` along the last axis (in place)."""
    innovations[..., 0] /= math.sqrt(1.0 - g * g)
    return lfilter([1.0], [1.0, -g], innovations, axis=-1)


def _draw_pairs(rng: np.random.Generator, n_pairs: int, n_times: int, g_a: float,
                g_b: float) -> np.ndarray:
    """The next ``n_pairs`` surrogate pairs from ``rng``, shape (n_pairs, 2, n_times)."""
    e = rng.standard_normal((n_pairs, 2, n_times))
    out = np.empty_like(e)
    out[:, 0] = _red_noise(e[:, 0], g_a)
    out[:, 1] = _red_noise(e[:, 1], g_b)
    return out


def ar1_surrogates(ar1_a: float, ar1_b: float, n_times: int, n_surrogates: int, *,
                   seed: int = 0) -> np.ndarray:
    """Pairs of independent stationary AR(1) series with unit innovations.

    These are exactly the surrogates :func:`coherence_threshold` uses for the same
    (already rounded and ordered) coefficients and seed, drawn all at once; it draws
    them a chunk at a time from the same stream, which gives identical series.

    Parameters
    ----------
    ar1_a, ar1_b : float
        Lag-1 AR coefficients in ``[0, 1)`` of the first and second series of each pair.
    n_times : int
        Samples per series.
    n_surrogates : int
        Number of pairs.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    numpy.ndarray, float64, shape (n_surrogates, 2, n_times)
        ``[k, 0]`` and ``[k, 1]`` are the two series of pair ``k`` (dimensionless).
    """
    g_a = _check_ar1(ar1_a, "ar1_a")
    g_b = _check_ar1(ar1_b, "ar1_b")
    if int(n_times) != n_times or n_times < 1:
        raise ValueError(f"n_times must be a positive integer, got {n_times!r}")
    if int(n_surrogates) != n_surrogates or n_surrogates < 1:
        raise ValueError(f"n_surrogates must be a positive integer, got {n_surrogates!r}")
    rng = np.random.default_rng(_check_seed(seed))
    return _draw_pairs(rng, int(n_surrogates), int(n_times), g_a, g_b)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) \
            or seed < 0:
        raise ValueError(f"seed must be a non-negative integer (it is part of the cache key), "
                         f"got {seed!r}")
    return int(seed)


# ------------------------------------------------------------------ the threshold
@dataclass(frozen=True, eq=False)
class SignificanceThreshold:
    """Per-scale significance level of wavelet coherence against AR(1) noise.

    Attributes
    ----------
    period : numpy.ndarray, shape (n_band_rows,)
        Fourier period of each scale of the grid's band, in seconds
        (``grid.band_period``).
    scale : numpy.ndarray, shape (n_band_rows,)
        Wavelet scale of each of these scales, in seconds.
    threshold : numpy.ndarray, float64, shape (n_band_rows,)
        The ``quantile`` of the squared coherence of the surrogate pairs over all their
        cells outside the cone of influence, per scale, in (0, 1]; NaN for a scale
        without such cells. Coherence above it is significant.
    ar1 : (float, float)
        The rounded AR(1) coefficients simulated, in ascending order.
    n_surrogates : int
        Number of surrogate pairs.
    quantile : float
        Quantile level, e.g. 0.95 for a 5 % test.
    seed : int
        Seed of the random number generator.
    n_times : int
        Samples of each surrogate (the recording length).
    dt : float
        Sampling interval in seconds.
    grid_key : tuple
        :attr:`WaveletGrid.key` of the grid it was computed on.
    """

    period: np.ndarray = field(repr=False)
    scale: np.ndarray = field(repr=False)
    threshold: np.ndarray
    ar1: tuple[float, float]
    n_surrogates: int
    quantile: float
    seed: int
    n_times: int
    dt: float
    grid_key: tuple = field(repr=False)

    def exceeds(self, coherence: np.ndarray) -> np.ndarray:
        """Whether each cell's coherence is above this scale's threshold.

        Parameters
        ----------
        coherence : numpy.ndarray, shape (..., n_band_rows, n_times)

        Returns
        -------
        numpy.ndarray of bool, same shape
        """
        coherence = np.asarray(coherence)
        if coherence.ndim < 2 or coherence.shape[-2] != self.threshold.size:
            raise ValueError(f"coherence must have shape (..., {self.threshold.size}, "
                             f"n_times) to match the threshold's scales, got "
                             f"{coherence.shape}")
        return coherence > self.threshold[:, None]


def threshold_key(ar1_a: float, ar1_b: float, grid: WaveletGrid, *, n_surrogates: int = 300,
                  quantile: float = 0.95, seed: int = 0, ar1_digits: int = 2) -> tuple:
    """Cache key of a threshold: rounded, ordered coefficients, grid and Monte Carlo options.

    Parameters
    ----------
    ar1_a, ar1_b : float
        Lag-1 AR coefficients in ``[0, 1)``; rounded with :func:`quantize_ar1`.
    grid : WaveletGrid
    n_surrogates, quantile, seed, ar1_digits
        As in :func:`coherence_threshold`.

    Returns
    -------
    tuple
        Hashable, made of Python scalars and strings (its ``repr`` names the disk file).
    """
    g = sorted((quantize_ar1(ar1_a, ar1_digits), quantize_ar1(ar1_b, ar1_digits)))
    n_surrogates, quantile, seed = _check_mc(n_surrogates, quantile, seed)
    return ("wtc-significance", _METHOD_VERSION, HISTOGRAM_BINS, g[0], g[1],
            tuple(grid.key), n_surrogates, quantile, seed)


def _check_mc(n_surrogates: Any, quantile: Any, seed: Any) -> tuple[int, float, int]:
    if (isinstance(n_surrogates, (bool, np.bool_))
            or not isinstance(n_surrogates, (int, np.integer))
            or n_surrogates < MIN_SURROGATES):
        raise ValueError(f"n_surrogates must be an integer >= {MIN_SURROGATES} (Grinsted "
                         f"uses 300), got {n_surrogates!r}")
    try:
        q = float(quantile)
    except (TypeError, ValueError):
        raise ValueError(f"quantile must be a number in (0, 1), got {quantile!r}") from None
    if not (0.0 < q < 1.0):
        raise ValueError(f"quantile must be in (0, 1) (0.95 for a 5 % test), got {quantile!r}")
    return int(n_surrogates), q, _check_seed(seed)


# ------------------------------------------------------------------------- caching
class ThresholdCache:
    """Explicit cache of :class:`SignificanceThreshold` objects.

    Thresholds are kept in a dictionary keyed by :func:`threshold_key`; with a
    ``directory`` they are also written there as ``.npz`` files (written to a temporary
    file in the same directory and moved into place with :func:`os.replace`, so a
    reader never sees a partial file) and read back by later caches on the same
    directory. A file whose stored key differs from the requested one (a hash
    collision or another method version) or that cannot be read is ignored and
    overwritten.

    Parameters
    ----------
    directory : str or os.PathLike, optional
        Directory of the on-disk cache (created if missing).

    Attributes
    ----------
    hits : int
        Lookups answered from memory.
    disk_hits : int
        Lookups answered from the directory.
    misses : int
        Lookups not answered (the threshold was then computed).
    """

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self._memory: dict[tuple, SignificanceThreshold] = {}
        self.directory = None if directory is None else Path(directory)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.disk_hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._memory)

    def __contains__(self, key: tuple) -> bool:
        return key in self._memory

    def __repr__(self) -> str:
        return (f"ThresholdCache(directory={self.directory!r}, in_memory={len(self)}, "
                f"hits={self.hits}, disk_hits={self.disk_hits}, misses={self.misses})")

    def clear(self) -> None:
        """Forget the in-memory thresholds (files on disk are kept)."""
        self._memory.clear()

    def path_for(self, key: tuple) -> Path | None:
        """File of ``key`` in the directory (None without a directory)."""
        if self.directory is None:
            return None
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
        return self.directory / f"wtcsig-{digest}.npz"

    def get(self, key: tuple) -> SignificanceThreshold | None:
        """The cached threshold of ``key``, from memory or disk, or None."""
        hit = self._memory.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        path = self.path_for(key)
        if path is not None and path.exists():
            value = _load(path, key)
            if value is not None:
                self._memory[key] = value
                self.disk_hits += 1
                return value
        self.misses += 1
        return None

    def put(self, key: tuple, value: SignificanceThreshold) -> None:
        """Store ``value`` under ``key`` in memory and, with a directory, on disk."""
        self._memory[key] = value
        path = self.path_for(key)
        if path is not None:
            _save(path, key, value)


def _save(path: Path, key: tuple, value: SignificanceThreshold) -> None:
    tmp = temporary_file(path.parent, path.stem + ".")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, key=np.array(repr(key)), period=value.period, scale=value.scale,
                     threshold=value.threshold, ar1=np.array(value.ar1, dtype=np.float64),
                     n_surrogates=value.n_surrogates, quantile=value.quantile,
                     seed=value.seed, n_times=value.n_times, dt=value.dt)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _load(path: Path, key: tuple) -> SignificanceThreshold | None:
    try:
        d = load_npz(path)
        if str(d["key"]) != repr(key):
            return None
        arrays = {k: np.array(d[k]) for k in ("period", "scale", "threshold")}
        ar1 = tuple(float(v) for v in d["ar1"])
        meta = (int(d["n_surrogates"]), float(d["quantile"]), int(d["seed"]),
                int(d["n_times"]), float(d["dt"]))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    for arr in arrays.values():
        arr.setflags(write=False)
    return SignificanceThreshold(period=arrays["period"], scale=arrays["scale"],
                                 threshold=arrays["threshold"], ar1=ar1,
                                 n_surrogates=meta[0], quantile=meta[1], seed=meta[2],
                                 n_times=meta[3], dt=meta[4], grid_key=tuple(key[5]))


# --------------------------------------------------------------------- Monte Carlo
def _histogram_quantile(counts: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` per row of a histogram over [0, 1], linear inside the bin."""
    n_rows, n_bins = counts.shape
    total = counts.sum(axis=1)
    cum = np.cumsum(counts, axis=1)
    out = np.full(n_rows, np.nan)
    for r in np.flatnonzero(total > 0):
        target = q * total[r]
        j = int(np.searchsorted(cum[r], target, side="left"))
        below = cum[r, j] - counts[r, j]
        out[r] = (j + (target - below) / counts[r, j]) / n_bins
    return out


def _monte_carlo(g_a: float, g_b: float, grid: WaveletGrid, n_surrogates: int,
                 quantile: float, seed: int, *, workers: int | None,
                 chunk_bytes: int) -> np.ndarray:
    """Per-scale quantile of surrogate coherence outside the cone, shape (n_band_rows,)."""
    n, nb, n_bins = grid.n_times, grid.n_band_rows, HISTOGRAM_BINS
    valid = grid.valid
    n_valid = valid.sum(axis=1)
    # Histogram bin offset of every valid cell, in the row-major order of coh[valid].
    offsets = np.repeat(np.arange(nb, dtype=np.intp) * n_bins, n_valid)
    counts = np.zeros(nb * n_bins, dtype=np.int64)
    cb = np.dtype(grid.complex_dtype).itemsize
    rb = np.dtype(grid.real_dtype).itemsize
    # What one surrogate pair holds while its chunk is alive: innovations and series
    # (float64), two transforms and two smoothed spectra.
    per_pair = 2 * n * (2 * 8 + grid.n_rows * cb + nb * rb)
    step = int(max(1, min(n_surrogates, chunk_bytes // max(per_pair, 1))))
    rng = np.random.default_rng(seed)
    for start in range(0, n_surrogates, step):
        k = min(step, n_surrogates - start)
        x = _draw_pairs(rng, k, n, g_a, g_b)
        spec_a = channel_spectra(x[:, 0], grid, workers=workers, chunk_bytes=chunk_bytes)
        spec_b = channel_spectra(x[:, 1], grid, workers=workers, chunk_bytes=chunk_bytes)
        del x
        diagonal = np.repeat(np.arange(k, dtype=np.intp)[:, None], 2, axis=1)
        for _, coh in iter_pair_coherence(spec_a, spec_b, diagonal, workers=workers,
                                          chunk_bytes=PAIR_CHUNK_BYTES):
            cells = coh[:, valid]  # (m, sum(n_valid)), row-major per pair
            if not np.all(np.isfinite(cells)):
                raise FloatingPointError("non-finite surrogate coherence; this should not "
                                         "happen for AR(1) noise")
            idx = (cells * n_bins).astype(np.intp)
            np.clip(idx, 0, n_bins - 1, out=idx)
            idx += offsets
            counts += np.bincount(idx.ravel(), minlength=nb * n_bins)
    return _histogram_quantile(counts.reshape(nb, n_bins), quantile)


_GRID_OPTIONS = ("band", "dj", "s0", "j1", "max_scale", "pad", "dtype")


def _resolve_grid(dt: float, n_times: int, grid: WaveletGrid | None,
                  options: dict[str, Any]) -> WaveletGrid:
    given = {k: v for k, v in options.items() if v is not None}
    if grid is not None:
        if not isinstance(grid, WaveletGrid):
            raise ValueError(f"grid must be a WaveletGrid, got {type(grid).__name__}")
        if given:
            raise ValueError(f"give either grid or grid options, not both (got grid and "
                             f"{', '.join(sorted(given))})")
        if grid.n_times != n_times or grid.dt != float(dt):
            raise ValueError(f"the grid was built for {grid.n_times} samples at dt="
                             f"{grid.dt:g} s, but n_times={n_times} and dt={float(dt):g} s "
                             "were given")
        return grid
    given.setdefault("dj", 1 / 12)
    given.setdefault("dtype", "float64")
    return WaveletGrid.build(n_times, dt, **given)


def coherence_threshold(dt: float, n_times: int, ar1_a: float, ar1_b: float, *,
                        grid: WaveletGrid | None = None,
                        band: tuple[float, float] | None = None, dj: float | None = None,
                        s0: float | None = None, j1: int | None = None,
                        max_scale: float | None = None, pad: bool | None = None,
                        dtype: str | None = None, n_surrogates: int = 300,
                        quantile: float = 0.95, seed: int = 0, ar1_digits: int = 2,
                        cache: ThresholdCache | None = None, workers: int | None = None,
                        chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> SignificanceThreshold:
    """Monte Carlo significance level of wavelet coherence, per scale (``wtcsignif.m``).

    Simulates ``n_surrogates`` pairs of independent stationary AR(1) series of
    ``n_times`` samples with coefficients ``ar1_a`` and ``ar1_b`` (rounded with
    :func:`quantize_ar1`), computes their wavelet coherence on the grid and returns,
    per scale, the ``quantile`` of the coherence over all pairs and all cells outside
    the cone of influence (Grinsted et al. 2004, Sec. 4; Torrence & Compo 1998 for the
    red-noise model). The module docstring lists the deliberate differences from
    ``wtcsignif.m``.

    Parameters
    ----------
    dt : float
        Sampling interval in seconds.
    n_times : int
        Samples of the recording (and of each surrogate).
    ar1_a, ar1_b : float
        Lag-1 AR coefficients in ``[0, 1)`` of the two series, e.g. from
        :func:`ar1_coefficient`. The order does not matter.
    grid : WaveletGrid, optional
        The analysis grid (built for ``n_times`` and ``dt``). Give it, or the grid
        options below, not both.
    band, dj, s0, j1, max_scale, pad, dtype
        Options of :meth:`WaveletGrid.build` (defaults as there: ``dj = 1/12``,
        ``s0 = 2 dt``, ``pad = True``, ``dtype = "float64"``). With a ``band`` (in
        seconds) only its scales are computed, which is much faster.
    n_surrogates : int, default 300
        Number of surrogate pairs (at least 10).
    quantile : float, default 0.95
        Quantile level in (0, 1); 0.95 gives Grinsted's 5 % significance level.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`: the same inputs give the same
        threshold.
    ar1_digits : int, default 2
        Significant digits of ``1 - g`` kept when rounding the coefficients (two
        decimals for ``g <= 0.9``), see :func:`quantize_ar1`.
    cache : ThresholdCache, optional
        Where to look the threshold up and store it. Without one it is always computed.
    workers : int, optional
        Threads of :mod:`scipy.fft`.
    chunk_bytes : int
        Budget in bytes of the surrogates, transforms and spectra of one chunk of
        surrogate pairs (default 256 MiB).

    Returns
    -------
    SignificanceThreshold
        ``threshold`` of shape (n_band_rows,) for the scales ``grid.band_period``
        (all scales without a band). From a cache, the identical object is returned.

    Raises
    ------
    ValueError
        An AR coefficient outside ``[0, 1)``, ``n_surrogates < 10``, ``quantile``
        outside ``(0, 1)``, a negative or non-integer ``seed``, a grid that does not
        match ``n_times`` and ``dt``, both a grid and grid options, or invalid grid
        options (e.g. a recording too short for the band).
    """
    g_a = _check_ar1(ar1_a, "ar1_a")
    g_b = _check_ar1(ar1_b, "ar1_b")
    n_surrogates, quantile, seed = _check_mc(n_surrogates, quantile, seed)
    if not isinstance(n_times, (int, np.integer)) or isinstance(n_times, (bool, np.bool_)):
        raise ValueError(f"n_times must be an integer number of samples, got {n_times!r}")
    n_times = int(n_times)
    grid = _resolve_grid(dt, n_times, grid, dict(band=band, dj=dj, s0=s0, j1=j1,
                                                 max_scale=max_scale, pad=pad, dtype=dtype))
    key = threshold_key(g_a, g_b, grid, n_surrogates=n_surrogates, quantile=quantile,
                        seed=seed, ar1_digits=ar1_digits)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    q_a, q_b = key[3], key[4]
    thr = _monte_carlo(q_a, q_b, grid, n_surrogates, quantile, seed, workers=workers,
                       chunk_bytes=int(chunk_bytes))
    period = np.array(grid.band_period)
    scale = np.array(grid.band_scale)
    for arr in (period, scale, thr):
        arr.setflags(write=False)
    result = SignificanceThreshold(period=period, scale=scale, threshold=thr, ar1=(q_a, q_b),
                                   n_surrogates=n_surrogates, quantile=quantile, seed=seed,
                                   n_times=grid.n_times, dt=grid.dt, grid_key=tuple(grid.key))
    if cache is not None:
        cache.put(key, result)
    return result


# ------------------------------------------------------------------------- helpers
def significant_fraction(coherence: Any, threshold: SignificanceThreshold | Any,
                         valid: Any) -> Any:
    """Fraction of in-band cells outside the cone of influence above the threshold.

    Parameters
    ----------
    coherence : array_like, shape (..., n_band_rows, n_times)
        Squared coherence of the band's scales, e.g. from
        :func:`~interbrain.synchrony.coherence.pair_coherence`.
    threshold : SignificanceThreshold or array_like, shape (n_band_rows,)
        Significance level per scale.
    valid : array_like of bool, shape (n_band_rows, n_times)
        Cells to count, normally ``grid.valid`` (in band and outside the cone of
        influence).

    Returns
    -------
    float or numpy.ndarray, shape (...)
        Fraction (0-1) of the ``valid`` cells whose coherence exceeds its scale's
        threshold; NaN coherence counts as not significant. Under the null hypothesis
        it is about ``1 - quantile`` on average.

    Raises
    ------
    ValueError
        Mismatched shapes or no valid cell.
    """
    coh = np.asarray(coherence)
    thr = np.asarray(threshold.threshold if isinstance(threshold, SignificanceThreshold)
                     else threshold, dtype=np.float64)
    mask = np.asarray(valid)
    if mask.dtype != bool:
        raise ValueError(f"valid must be a boolean mask, got dtype {mask.dtype}")
    if coh.ndim < 2 or mask.shape != coh.shape[-2:] or thr.shape != (coh.shape[-2],):
        raise ValueError(f"coherence (..., n_band_rows, n_times) {coh.shape}, threshold "
                         f"(n_band_rows,) {thr.shape} and valid (n_band_rows, n_times) "
                         f"{mask.shape} do not match")
    n_cells = int(mask.sum())
    if n_cells == 0:
        raise ValueError("valid selects no cell (recording too short for the band?)")
    above = coh > thr[:, None]
    frac = (above & mask).sum(axis=(-2, -1)) / n_cells
    return float(frac) if np.ndim(frac) == 0 else frac


@dataclass(frozen=True)
class BandSignificance:
    """Band coherence of one pair and how much of it is significant.

    Attributes
    ----------
    coherence : float
        Mean squared coherence over the band's cells outside the cone of influence.
    fraction : float
        Fraction of those cells above the significance threshold (0-1).
    ar1 : (float, float)
        Lag-1 AR coefficients used for ``x`` and ``y`` (estimated or given, before
        rounding).
    threshold : SignificanceThreshold
        The per-scale threshold.
    """

    coherence: float
    fraction: float
    ar1: tuple[float, float]
    threshold: SignificanceThreshold


def band_significance(x: Any, y: Any, dt: float, *, band: tuple[float, float],
                      ar1: tuple[float, float] | None = None, n_surrogates: int = 300,
                      quantile: float = 0.95, seed: int = 0, ar1_digits: int = 2,
                      cache: ThresholdCache | None = None, dj: float = 1 / 12,
                      s0: float | None = None, j1: int | None = None,
                      max_scale: float | None = None, pad: bool = True,
                      dtype: str = "float64", workers: int | None = None) -> BandSignificance:
    """Band coherence of two series and the fraction of it above the AR(1) threshold.

    Builds the band-restricted grid, estimates each series' AR(1) coefficient with
    :func:`ar1_coefficient` (unless given), gets the threshold from ``cache`` or
    computes it with :func:`coherence_threshold`, and evaluates the pair's coherence.

    Parameters
    ----------
    x, y : array_like, shape (n_times,)
        The two series, sampled every ``dt`` seconds, finite.
    dt : float
        Sampling interval in seconds.
    band : (float, float)
        Shortest and longest period in seconds.
    ar1 : (float, float), optional
        Lag-1 AR coefficients of ``x`` and ``y`` in ``[0, 1)``; estimated if omitted.
    n_surrogates, quantile, seed, ar1_digits, cache
        As in :func:`coherence_threshold`.
    dj, s0, j1, max_scale, pad, dtype
        Wavelet options, as in :meth:`WaveletGrid.build`.
    workers : int, optional
        Threads of :mod:`scipy.fft`.

    Returns
    -------
    BandSignificance

    Raises
    ------
    ValueError
        Series of different lengths or with NaN, a recording too short for the band,
        or an AR(1) estimate outside ``[0, 1)`` (pass ``ar1`` explicitly then).
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.ndim != 1 or ya.ndim != 1 or xa.size != ya.size:
        raise ValueError(f"x and y must be 1-D series of the same length, got shapes "
                         f"{xa.shape} and {ya.shape}")
    grid = WaveletGrid.build(xa.size, dt, dj=dj, s0=s0, j1=j1, max_scale=max_scale, pad=pad,
                             band=band, dtype=dtype)
    if ar1 is None:
        ar1 = (ar1_coefficient(xa)[0], ar1_coefficient(ya)[0])
    g = (float(ar1[0]), float(ar1[1]))
    thr = coherence_threshold(dt, xa.size, g[0], g[1], grid=grid, n_surrogates=n_surrogates,
                              quantile=quantile, seed=seed, ar1_digits=ar1_digits,
                              cache=cache, workers=workers)
    spec = channel_spectra(np.stack([xa, ya]), grid, workers=workers)
    coh = pair_coherence(spec, spec, [(0, 1)], workers=workers)[0]
    mean = float(coh[grid.valid].mean(dtype=np.float64))
    return BandSignificance(coherence=mean,
                            fraction=significant_fraction(coh, thr, grid.valid),
                            ar1=g, threshold=thr)
