"""Phase-locking value of channel pairs in a band of periods (Lachaux et al. 1999)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

from ..pairs import PairsSpec, resolve_pairs
from ._signals import CHUNK_ELEMENTS, check_signals, standardise
from .windows import window_samples


def _check_band(band: Any, dt: float, n: int) -> tuple[float, float]:
    try:
        shortest, longest = (float(v) for v in band)
    except (TypeError, ValueError):
        raise ValueError(f"band must be (shortest, longest) period in seconds, got "
                         f"{band!r}") from None
    if not (math.isfinite(shortest) and math.isfinite(longest) and 0 < shortest < longest):
        raise ValueError(f"band must be (shortest, longest) periods in seconds with "
                         f"0 < shortest < longest, got {band!r}")
    if shortest <= 2 * dt:
        raise ValueError(f"band's shortest period {shortest:g} s must be longer than the "
                         f"Nyquist period 2*dt = {2 * dt:g} s")
    if longest > n * dt:
        raise ValueError(f"band's longest period {longest:g} s is longer than the recording "
                         f"({n * dt:g} s, {n} samples)")
    return shortest, longest


def _unit_phasors(x: np.ndarray, sos: np.ndarray, padlen: int) -> np.ndarray:
    filt = signal.sosfiltfilt(sos, x, axis=-1, padtype="odd", padlen=padlen)
    z = signal.hilbert(filt, axis=-1)
    amp = np.abs(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(amp > 0, z / amp, 0.0)


def phase_locking_value(a: Any, b: Any, dt: float, *, band: tuple[float, float],
                        pairs: PairsSpec = "homologous", filter_order: int = 4,
                        window: float | None = None, step: float | None = None
                        ) -> np.ndarray:
    """Phase-locking value of channel pairs in a band of periods (Lachaux et al. 1999).

    Each channel is band-passed with a zero-phase Butterworth filter
    (:func:`scipy.signal.butter` of order ``filter_order`` between the frequencies
    ``1 / longest`` and ``1 / shortest`` Hz, second-order sections, applied forwards
    and backwards by :func:`scipy.signal.sosfiltfilt`, so the magnitude response is
    squared and the phase is zero), its instantaneous phase ``phi`` is taken from the
    analytic signal (:func:`scipy.signal.hilbert`), and

    ``PLV = |mean_t exp(i (phi_a(t) - phi_b(t)))|``

    over the whole recording or over each window. PLV is 1 for a constant phase
    difference (whatever the lag) and about ``sqrt(pi / (4 n_eff))`` for independent
    signals, where ``n_eff`` is the number of independent phase samples (about the
    duration times the bandwidth), so PLVs of short windows or narrow bands are
    biased upwards.

    Parameters
    ----------
    a, b : array_like, shape (n_channels_a, n_times), (n_channels_b, n_times)
        Finite real signals of the two partners.
    dt : float
        Sampling interval, in seconds.
    band : (float, float)
        Shortest and longest period of the band, in seconds (``2 dt < shortest <
        longest <= n_times dt``), i.e. frequencies ``1/longest`` to ``1/shortest`` Hz.
    pairs : {"homologous", "all"} or sequence of (int, int)
        Channel pairs (see :mod:`interbrain.synchrony.metrics`).
    filter_order : int
        Order of the Butterworth prototype (the band-pass has ``2 * filter_order``
        poles, doubled again by the forward-backward filtering).
    window : float, optional
        Window length, in seconds (at least 2 samples); the whole recording is
        filtered first and the phase differences are averaged per window, so windows
        have no filter edge effects of their own. Windows should span several
        periods of the band.
    step : float, optional
        Time between window starts, in seconds (default: ``window``); start times by
        :func:`window_starts`.

    Returns
    -------
    numpy.ndarray of float
        PLV in [0, 1], shape ``(n_pairs,)`` without ``window``, ``(n_pairs,
        n_windows)`` with it.

    Raises
    ------
    ValueError
        Bad signals or pairs (see :func:`pearson_correlation`), a band outside
        ``(2 dt, n_times dt]``, a bad filter order, a window longer than the
        recording.

    Notes
    -----
    Before filtering, each series is de-meaned and extended at both ends by odd
    reflection over ``min(3 * longest / dt, n_times - 1)`` samples, which shortens
    the filter's edge transients. The Hilbert transform still has edge effects of
    about one period at each end.
    """
    a, b, dt = check_signals(a, b, dt)
    idx = resolve_pairs(pairs, a.shape[0], b.shape[0])
    n = a.shape[1]
    shortest, longest = _check_band(band, dt, n)
    if isinstance(filter_order, bool) or int(filter_order) != filter_order or filter_order < 1:
        raise ValueError(f"filter_order must be a positive integer, got {filter_order!r}")
    if window is None:
        w, s, n_win = n, n, 1
    else:
        w, s, n_win = window_samples(n, dt, window, step, 2)
    za, zb = standardise(a, "a"), standardise(b, "b")
    sos = signal.butter(int(filter_order), [1.0 / longest, 1.0 / shortest], btype="bandpass",
                        fs=1.0 / dt, output="sos")
    padlen = min(n - 1, int(round(3 * longest / dt)))
    ua = _unit_phasors(za, sos, padlen)
    ub = _unit_phasors(zb, sos, padlen)
    plv = np.empty((len(idx), n_win))
    chunk = max(1, CHUNK_ELEMENTS // (2 * n))
    for c0 in range(0, len(idx), chunk):
        p = idx[c0:c0 + chunk]
        prod = ua[p[:, 0]] * np.conj(ub[p[:, 1]])
        if window is None:
            plv[c0:c0 + chunk, 0] = np.abs(prod.mean(axis=-1))
        else:
            wins = sliding_window_view(prod, w, axis=-1)[:, ::s]
            plv[c0:c0 + chunk] = np.abs(wins.mean(axis=-1))
    plv = np.clip(plv, 0.0, 1.0)
    return plv[:, 0] if window is None else plv
