"""The metrics by name: :data:`METRICS` and :func:`compute_metric`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..pairs import PairsSpec
from .ar_robust import ar_robust_correlation
from .pearson import pearson_correlation
from .phase_locking import phase_locking_value

#: Names accepted by :func:`compute_metric`.
METRICS: tuple[str, ...] = ("pearson", "ar_robust_correlation", "plv")


def _ar_metric(a: Any, b: Any, dt: float, *, pairs: PairsSpec = "homologous",
               max_order_s: float | None = None, max_order: int | None = None,
               robust: bool = True, fisher_z: bool = False) -> np.ndarray:
    res = ar_robust_correlation(a, b, dt, pairs=pairs, max_order_s=max_order_s,
                                max_order=max_order, robust=robust)
    return res.z if fisher_z else res.r


_DISPATCH: dict[str, Callable[..., np.ndarray]] = {
    "pearson": pearson_correlation,
    "ar_robust_correlation": _ar_metric,
    "plv": phase_locking_value,
}


def compute_metric(name: str, a: Any, b: Any, dt: float, *, pairs: PairsSpec = "homologous",
                   **options: Any) -> np.ndarray:
    """Compute a synchrony metric by name.

    Parameters
    ----------
    name : str
        One of :data:`METRICS`:

        * ``"pearson"``: :func:`pearson_correlation`; options ``window``, ``step``
          (seconds), ``fisher_z``;
        * ``"ar_robust_correlation"``: :func:`ar_robust_correlation`; options
          ``max_order_s`` (seconds), ``max_order`` (samples), ``robust``, and
          ``fisher_z`` (return ``z`` instead of ``r``, default False);
        * ``"plv"``: :func:`phase_locking_value`; option ``band`` = (shortest,
          longest) period in seconds (required), ``filter_order``, ``window``,
          ``step``.
    a, b : array_like, shape (n_channels_a, n_times), (n_channels_b, n_times)
        Finite real signals of the two partners.
    dt : float
        Sampling interval, in seconds.
    pairs : {"homologous", "all"} or sequence of (int, int)
        Channel pairs (see :mod:`interbrain.synchrony.metrics`).
    **options
        Options of the metric, as listed above.

    Returns
    -------
    numpy.ndarray of float
        One value per pair, shape ``(n_pairs,)``, or ``(n_pairs, n_windows)`` for a
        windowed metric (window start times from :func:`window_starts`).

    Raises
    ------
    ValueError
        Unknown metric name, unknown or missing options, or the metric's own errors.
    """
    try:
        fn = _DISPATCH[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown synchrony metric {name!r}; choose one of "
                         f"{', '.join(METRICS)} (wavelet coherence is "
                         "interbrain.synchrony.band_coherence)") from None
    params = inspect.signature(fn).parameters
    accepted = [k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
                and k != "pairs"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for metric {name!r}; "
                         f"accepted: {', '.join(accepted)}")
    missing = [k for k in accepted if params[k].default is inspect.Parameter.empty
               and k not in options]
    if missing:
        raise ValueError(f"metric {name!r} needs option(s) {', '.join(missing)}"
                         + (" (band = (shortest, longest) period in seconds)"
                            if "band" in missing else ""))
    return fn(a, b, dt, pairs=pairs, **options)
