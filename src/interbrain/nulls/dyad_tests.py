"""Tests over dyads: the one-sample t-test and the sign-flip permutation test.

The dyad is the unit of inference of every test of this package that summarises
synchrony per dyad first (a dyad's sessions are not independent): the real-versus-null
tests (:mod:`interbrain.nulls.group_tests`), the real-versus-pseudo-dyad test
(:mod:`interbrain.stats.real_vs_pseudo`), the per-unit tests and the summary-statistics
slope test (:mod:`interbrain.stats.multiple`, :mod:`interbrain.stats.permutation`).
They all use the functions here, so that one question gets one number:

:func:`one_sample_t`, :func:`t_pvalue`
    The one-sample t statistic of per-dyad values (NaN-aware, along any axis) and its
    p-value for an alternative; :func:`confidence_interval` the matching t interval.
:func:`sign_flip_test`
    Under the null hypothesis that each dyad's difference (real minus null) is
    symmetric about 0, every sign pattern of the differences is equally likely, so the
    distribution of their mean over sign patterns is its exact null distribution
    (Nichols & Holmes 2002). All ``2**n`` patterns are enumerated when that is at most
    ``n_permutations``; otherwise ``n_permutations`` random patterns are drawn and the
    p-value is ``(1 + b) / (1 + n_permutations)`` (Phipson & Smyth 2010).

References
----------
Nichols, T. E. & Holmes, A. P. (2002). Nonparametric permutation tests for functional
neuroimaging: a primer with examples. *Human Brain Mapping* 15:1-25.

Phipson, B. & Smyth, G. K. (2010). Permutation p-values should never be zero.
*Statistical Applications in Genetics and Molecular Biology* 9:39.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy import stats as sps

from .._check import as_generator, check_int, check_option

__all__ = ["ALTERNATIVES", "check_alternative", "one_sample_t", "t_pvalue",
           "confidence_interval", "SignFlipResult", "sign_flip_test", "random_signs",
           "permutation_seeds", "sign_flip_method", "TTestResult", "t_test"]

#: Alternatives of the tests: ``"greater"`` (the mean exceeds 0), ``"less"``,
#: ``"two-sided"``.
ALTERNATIVES: tuple[str, ...] = ("greater", "less", "two-sided")

_BLOCK = 2**16  # sign patterns evaluated at once


def check_alternative(alternative: object) -> str:
    """Return ``alternative`` if it is one of :data:`ALTERNATIVES`, else raise ValueError."""
    return check_option(alternative, "alternative", ALTERNATIVES)


def one_sample_t(x: Any, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                 np.ndarray]:
    """NaN-aware one-sample t statistic along ``axis``.

    Parameters
    ----------
    x : array_like
        Values, one per dyad along ``axis``; NaN entries are left out.
    axis : int
        The axis of the dyads.

    Returns
    -------
    mean, std_error, t, n : numpy.ndarray
        Mean, standard error ``sd / sqrt(n)`` (ddof 1), ``t = mean / std_error`` and the
        number of finite values. ``t`` is ``+-inf`` when all values are equal but not
        zero and NaN when all are zero; ``std_error`` and ``t`` are NaN for fewer than
        two values.
    """
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    n = ok.sum(axis=axis)
    x0 = np.where(ok, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = x0.sum(axis=axis) / n
        dev = np.where(ok, x - np.expand_dims(mean, axis), 0.0)
        var = (dev * dev).sum(axis=axis) / (n - 1)
        se = np.sqrt(var / n)
        t = mean / se
    t = np.where(n >= 2, t, np.nan)
    se = np.where(n >= 2, se, np.nan)
    return mean, se, t, n


def t_pvalue(t: Any, df: Any, alternative: str = "two-sided") -> np.ndarray:
    """p-value of t statistics with ``df`` degrees of freedom.

    Parameters
    ----------
    t, df : array_like
        Statistics and their degrees of freedom (``inf``: normal).
    alternative : {"two-sided", "greater", "less"}

    Returns
    -------
    numpy.ndarray
        ``2 P(T >= |t|)``, ``P(T >= t)`` or ``P(T <= t)``; an infinite ``t`` gives 0 or
        1, a NaN ``t`` NaN.
    """
    check_alternative(alternative)
    t = np.asarray(t, dtype=float)
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        if alternative == "two-sided":
            p = 2.0 * sps.t.sf(np.abs(t), df)
            return np.where(np.isinf(t) & (df > 0), 0.0, p)
        p = sps.t.sf(t, df) if alternative == "greater" else sps.t.cdf(t, df)
    return p


def confidence_interval(estimate: Any, std_error: Any, df: Any, level: float = 0.95
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided t interval ``estimate +- t_{(1+level)/2, df} * std_error``.

    Parameters
    ----------
    estimate, std_error, df : array_like
        Estimates, their standard errors and degrees of freedom (``inf``: normal
        quantile; ``df <= 0``: NaN).
    level : float
        Coverage, in (0, 1).

    Returns
    -------
    ci_low, ci_high : numpy.ndarray
    """
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    df = np.asarray(df, dtype=float)
    q = np.where(np.isfinite(df), sps.t.ppf(0.5 + level / 2.0, np.where(
        np.isfinite(df) & (df > 0), df, 1.0)), sps.norm.ppf(0.5 + level / 2.0))
    q = np.where(np.isfinite(df) & (df <= 0), np.nan, q)
    return est - q * se, est + q * se


class TTestResult(NamedTuple):
    """Result of :func:`t_test`."""

    mean: float
    std_error: float
    t: float
    df: float
    p: float
    n: int


def t_test(values: Any, alternative: str = "two-sided") -> TTestResult:
    """One-sample t-test that the mean of ``values`` (one per dyad) is zero.

    Parameters
    ----------
    values : array_like, shape (n,)
        Finite values (NaN entries are left out).
    alternative : {"two-sided", "greater", "less"}

    Returns
    -------
    TTestResult
        :func:`one_sample_t`'s mean, standard error and t, ``df = n - 1`` and the
        p-value of :func:`t_pvalue`; when every value is zero, ``t`` is NaN and ``p``
        is 1 (no evidence either way).
    """
    mean, se, t, n = (np.asarray(v).item() for v in one_sample_t(np.ravel(values)))
    df = float(n - 1)
    if n >= 2 and mean == 0 and se == 0:
        p = 1.0
    else:
        p = float(t_pvalue(t, df, alternative))
    return TTestResult(float(mean), float(se), float(t), df, p, int(n))


def random_signs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Independent random signs (``-1.0`` or ``1.0``, each with probability 1/2)."""
    return 1.0 - 2.0 * rng.integers(0, 2, size=shape)


def permutation_seeds(seed: Any) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """Seeds of a dyad-level test: its sign patterns and its bootstrap.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
        The test's seed (e.g. ``[statistics] seed``).

    Returns
    -------
    (SeedSequence, SeedSequence)
        The first two children of ``SeedSequence(seed)``: every dyad-level test given
        the same seed draws the same sign patterns.
    """
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(
        check_int(seed, "seed", minimum=0))
    first, second = seq.spawn(2)
    return first, second


class SignFlipResult(NamedTuple):
    """Result of :func:`sign_flip_test` (unpacks as ``p, n_permutations, exact``)."""

    p: float
    n_permutations: int
    exact: bool

    @property
    def method(self) -> str:
        """``"exact"`` (all sign patterns) or ``"monte_carlo"``."""
        return "exact" if self.exact else "monte_carlo"


def sign_flip_method(p_method: str, alternative: str = "greater", null: str = "null"
                     ) -> str:
    """The ``method`` text of a sign-flip test in ``models.parquet``.

    >>> sign_flip_method("exact", "greater", "pseudo")
    'dyad-level sign-flip permutation test (exact), one-sided: real > pseudo'
    """
    side = {"greater": f"one-sided: real > {null}", "less": f"one-sided: real < {null}",
            "two-sided": "two-sided"}[check_alternative(alternative)]
    return f"dyad-level sign-flip permutation test ({p_method}), {side}"


def _exceedances(null: np.ndarray, observed: float, alternative: str, tol: float) -> int:
    if alternative == "greater":
        return int(np.count_nonzero(null >= observed - tol))
    if alternative == "less":
        return int(np.count_nonzero(null <= observed + tol))
    return int(np.count_nonzero(np.abs(null) >= abs(observed) - tol))


def sign_flip_test(differences: Any, *, n_permutations: int = 10_000, seed: Any = 0,
                   alternative: str = "greater") -> SignFlipResult:
    """Sign-flip permutation test that the mean of ``differences`` is zero.

    The statistic is the mean; its null distribution is that of
    ``mean(s * differences)`` over sign vectors ``s`` in ``{-1, 1}**n``. All ``2**n``
    sign vectors are enumerated (exact p: the fraction of them at least as extreme
    as the observed, which is one of them) when ``2**n <= n_permutations``;
    otherwise ``n_permutations`` random sign vectors are drawn and
    ``p = (1 + b) / (1 + n_permutations)`` with ``b`` the number at least as extreme
    (Phipson & Smyth 2010). Ties within round-off count as at least as extreme.

    Parameters
    ----------
    differences : array_like, shape (n,)
        Finite values, one per independent unit (dyad).
    n_permutations : int
        Sign vectors drawn when enumeration would need more (at least 1).
    seed : int, SeedSequence, Generator or None
        Seed of the random sign vectors.
    alternative : {"greater", "less", "two-sided"}
        ``"greater"``: the mean exceeds 0 (e.g. real synchrony exceeds the null).

    Returns
    -------
    SignFlipResult
        ``p``, the number of sign vectors evaluated and whether the enumeration was
        exact.

    Examples
    --------
    >>> sign_flip_test([0.1, 0.2, 0.3])
    SignFlipResult(p=0.125, n_permutations=8, exact=True)
    """
    check_alternative(alternative)
    n_permutations = check_int(n_permutations, "n_permutations", minimum=1)
    d = np.asarray(differences, dtype=np.float64).ravel()
    if d.size == 0 or not np.all(np.isfinite(d)):
        raise ValueError("differences must be a non-empty array of finite values")
    n = d.size
    observed = float(d.mean())
    tol = 1e-10 * float(np.abs(d).mean())
    count = 0
    if n < 63 and 2**n <= n_permutations:
        total = 2**n
        bits = np.arange(n, dtype=np.int64)
        for start in range(0, total, _BLOCK):
            k = np.arange(start, min(start + _BLOCK, total), dtype=np.int64)
            signs = 1.0 - 2.0 * ((k[:, None] >> bits) & 1)
            count += _exceedances(signs @ d / n, observed, alternative, tol)
        return SignFlipResult(count / total, total, True)
    rng = as_generator(seed)
    for start in range(0, n_permutations, _BLOCK):
        b = min(_BLOCK, n_permutations - start)
        count += _exceedances(random_signs(rng, (b, n)) @ d / n, observed, alternative, tol)
    return SignFlipResult((1 + count) / (1 + n_permutations), n_permutations, False)
