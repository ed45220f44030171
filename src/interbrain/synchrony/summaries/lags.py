"""Wavelet coherence per time lag of one partner against the other, and who leads."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .._inputs import as_channels, check_dt
from ..coherence import band_mean_coherence
from ..pairs import PairsSpec, resolve_pairs
from ..spectra import channel_spectra
from ..wavelet.grid import WaveletGrid
from ..wavelet.scales import min_samples_for_band


def _lag_samples(lags: Any, dt: float) -> np.ndarray:
    """Lags in seconds as whole samples, distinct after rounding."""
    arr = np.atleast_1d(np.asarray(lags, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("lags must be a non-empty 1-D sequence of seconds")
    if not np.all(np.isfinite(arr)):
        raise ValueError("lags must be finite numbers of seconds")
    k = np.round(arr / dt).astype(np.int64)
    if np.unique(k).size != k.size:
        raise ValueError(f"lags {arr.tolist()} s give duplicate shifts at dt={dt:g} s "
                         "(lags are rounded to whole samples)")
    return k


def lagged_band_coherence(a: Any, b: Any, dt: float, *, band: tuple[float, float],
                          lags: Any, pairs: PairsSpec = "homologous",
                          exclude_coi: bool = True, dj: float = 1 / 12,
                          s0: float | None = None, j1: int | None = None,
                          max_scale: float | None = None, pad: bool = True,
                          dtype: str = "float64", workers: int | None = None,
                          chunk_bytes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Band-averaged wavelet coherence with partner B shifted in time against partner A.

    At lag ``k`` (seconds, rounded to ``m = round(k / dt)`` samples) sample ``t`` of A is
    compared with sample ``t + m`` of B: ``a(t)`` with ``b(t + k)``. A positive lag
    therefore means B lags (follows) A; if B repeats A with a delay ``d``, coherence is
    maximal near ``k = d``.

    Every lag uses the same number of samples, ``n' = n_times - L`` with
    ``L = max |m|``, so values are comparable across lags and all lags share one
    wavelet grid (built once): A uses samples ``[s, s + n')`` and B
    ``[s + m, s + m + n')`` with ``s = floor((L - m) / 2)``, which keeps the compared
    stretch centred on the recording at every lag.

    Parameters
    ----------
    a, b : array_like, shape (n_channels_a, n_times), (n_channels_b, n_times)
        Finite signals of the two partners, sampled every ``dt`` seconds.
    dt : float
        Sampling interval in seconds.
    band : (float, float)
        Shortest and longest period in seconds.
    lags : array_like of float, shape (n_lags,)
        Lags in seconds, e.g. ``np.arange(-5, 6)``; rounded to whole samples.
    pairs : {"homologous", "all"} or sequence of (int, int), default "homologous"
        Channel pairs, see :func:`~interbrain.synchrony.resolve_pairs`.
    exclude_coi : bool, default True
        Average only the cells outside the cone of influence.
    dj, s0, j1, max_scale, pad, dtype
        Wavelet options, as in :func:`~interbrain.synchrony.wtc`.
    workers : int, optional
        Threads of :mod:`scipy.fft`.
    chunk_bytes : int, optional
        Budget of one chunk of pairs' temporaries, in bytes.

    Returns
    -------
    values : numpy.ndarray of float64, shape (n_pairs, n_lags)
        Band-mean coherence of each pair at each lag (NaN for a constant channel).
    lags : numpy.ndarray of float64, shape (n_lags,)
        The lags used, in seconds (``m * dt``), in the order given.

    Raises
    ------
    ValueError
        Signals not 2-D, of different lengths or not finite; bad pairs; duplicate lags
        after rounding; lags so large that the ``n_times - max|lag|`` samples left are
        too short for the band (the message gives the largest lag allowed).

    Notes
    -----
    Wavelet coherence is insensitive to a constant phase difference at each scale, so a
    delay does not lower it by rotating phases. It lowers it only because the
    cross-spectrum is smoothed in time with a Gaussian of standard deviation equal to
    the scale: misaligning two broadband signals by ``d`` decorrelates their wavelet
    coefficients at scale ``s`` by a factor of about ``exp(-d**2 / (4 s**2))``. The lag
    profile is therefore broad, with a width of the order of the band's scales (roughly
    its periods): for the 10-40 s band, a 2 s misalignment of band-limited noise lowers
    the coherence by only a few hundredths, yet the maximum still sits at the true delay
    when the signals are broadband within the band. For a narrowband (nearly periodic)
    signal the coherence is almost flat across lags and the location of its maximum is
    not informative; a time-domain measure (windowed Pearson correlation of the shifted
    signals) is then sensitive to the delay, but ambiguous modulo the period.
    """
    dt_f = check_dt(dt)
    xa = as_channels(a, "a")
    xb = as_channels(b, "b")
    n = xa.shape[1]
    if xb.shape[1] != n:
        raise ValueError(f"a and b must have the same number of samples, got {n} and "
                         f"{xb.shape[1]}")
    idx = resolve_pairs(pairs, xa.shape[0], xb.shape[0])
    shifts = _lag_samples(lags, dt_f)
    L = int(np.abs(shifts).max())
    n_used = n - L
    need = min_samples_for_band(dt_f, band, dj=dj, s0=s0, j1=j1, max_scale=max_scale)
    if n_used < max(4, need or 4):
        allowed = n - max(4, need or 4)
        extra = (f"; the band needs at least {need} samples ({need * dt_f:.6g} s), so the "
                 f"largest |lag| allowed is {max(allowed, 0) * dt_f:.6g} s"
                 if need is not None else "")
        raise ValueError(f"lag of {L * dt_f:.6g} s leaves {n_used} of the recording's {n} "
                         f"samples ({n * dt_f:.6g} s){extra}")
    grid = WaveletGrid.build(n_used, dt_f, dj=dj, s0=s0, j1=j1, max_scale=max_scale,
                             pad=pad, band=band, dtype=dtype)
    # only the channels some pair uses
    used_a, inv_a = np.unique(idx[:, 0], return_inverse=True)
    used_b, inv_b = np.unique(idx[:, 1], return_inverse=True)
    local = np.stack([inv_a.ravel(), inv_b.ravel()], axis=1).astype(np.intp)
    sub_a, sub_b = xa[used_a], xb[used_b]
    kwargs: dict[str, Any] = {"workers": workers}
    if chunk_bytes is not None:
        kwargs["chunk_bytes"] = chunk_bytes
    values = np.full((len(idx), shifts.size), np.nan)
    if len(idx):
        for c, m in enumerate(shifts):
            s = (L - int(m)) // 2
            spec_a = channel_spectra(sub_a[:, s:s + n_used], grid, workers=workers)
            spec_b = channel_spectra(sub_b[:, s + m:s + m + n_used], grid, workers=workers)
            with np.errstate(divide="ignore", invalid="ignore"):
                values[:, c] = band_mean_coherence(spec_a, spec_b, local,
                                                   exclude_coi=exclude_coi, **kwargs)
    return values, shifts * dt_f


def leader(values: Any, lags: Any) -> pd.DataFrame:
    """For each pair, the lag of maximal coherence and which partner leads.

    Parameters
    ----------
    values : array_like of float, shape (n_pairs, n_lags)
        Lagged coherence, as returned by :func:`lagged_band_coherence`.
    lags : array_like of float, shape (n_lags,)
        The lags in seconds (positive: B lags A).

    Returns
    -------
    pandas.DataFrame, n_pairs rows
        ``pair`` (row index of ``values``), ``best_lag_s`` (lag of the maximum; the
        first one in ``lags`` order on ties; NaN if all values are NaN), ``max_value``,
        ``zero_lag_value`` (value at lag 0, NaN if 0 is not among the lags),
        ``gain`` (``max_value - zero_lag_value``) and ``leader``: ``"a"`` when the best
        lag is positive (B follows A), ``"b"`` when negative, ``"none"`` at lag 0, and
        missing (``pd.isna``) when all values of the pair are NaN.

    Raises
    ------
    ValueError
        Shapes that do not match.

    Notes
    -----
    See :func:`lagged_band_coherence` for how broad the lag profile of wavelet
    coherence is: compare ``gain`` with the variability of the values (e.g. across
    surrogate pairs) before interpreting a leader.
    """
    vals = np.asarray(values, dtype=np.float64)
    lag = np.asarray(lags, dtype=np.float64)
    if vals.ndim == 1:
        vals = vals[None, :]
    if vals.ndim != 2 or lag.ndim != 1 or vals.shape[1] != lag.size:
        raise ValueError(f"values must have shape (n_pairs, n_lags) matching lags of shape "
                         f"(n_lags,), got {np.shape(values)} and {np.shape(lags)}")
    zero = np.flatnonzero(np.isclose(lag, 0.0, rtol=0.0, atol=1e-12))
    rows = []
    for p in range(vals.shape[0]):
        v = vals[p]
        ok = np.isfinite(v)
        z = float(v[zero[0]]) if zero.size else math.nan
        if not ok.any():
            rows.append({"pair": p, "best_lag_s": math.nan, "max_value": math.nan,
                         "zero_lag_value": z, "gain": math.nan, "leader": None})
            continue
        k = int(np.nanargmax(v))
        best = float(lag[k])
        rows.append({"pair": p, "best_lag_s": best, "max_value": float(v[k]),
                     "zero_lag_value": z, "gain": float(v[k]) - z,
                     "leader": "a" if best > 0 else ("b" if best < 0 else "none")})
    return pd.DataFrame(rows)
