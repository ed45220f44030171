"""Do real dyads synchronise more than pseudo-dyads?

Per dyad-session, real synchrony minus the mean of the pseudo-dyads its therapist
recording formed (:func:`~interbrain.nulls.group_tests.null_summary`); per dyad, the
mean over its sessions; over dyads, one test: the sign-flip permutation test of the
hypothesis that real dyads exceed pseudo-dyads, one-sided (``real > pseudo``), exact
(all ``2**n_dyads`` sign patterns) when ``2**n_dyads <= n_permutations``, otherwise
``n_permutations`` random patterns with the Phipson-Smyth ``(1 + b) / (1 + B)``. It is
:func:`~interbrain.nulls.group_tests.dyad_permutation_test` on the pseudo-dyad rows,
with the same seed, so ``models.parquet`` and ``null_tests.parquet`` give one p-value
for one hypothesis. The standard error, t statistic and 95 % confidence interval of the
mean difference (Student t over dyads) describe its size; the p-value is the
permutation test's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..nulls.dyad_tests import sign_flip_method
from ..nulls.group_tests import dyad_permutation_test, null_summary
from .tables import MODEL_COLUMNS, with_counts

__all__ = ["RealVsPseudoResult", "real_vs_pseudo"]


@dataclass(frozen=True)
class RealVsPseudoResult:
    """Result of :func:`real_vs_pseudo`.

    Attributes
    ----------
    real, pseudo : float
        Mean over dyads of each dyad's mean real and pseudo-dyad synchrony.
    difference, std_error, df, t : float
        Mean over dyads of the dyads' mean ``real - pseudo``, its standard error, and
        the one-sample t statistic with ``df = n_dyads - 1`` (describing the size of
        the difference; the test is the permutation test).
    ci_low, ci_high : float
        95 % confidence interval of ``difference`` (Student t over dyads).
    p_permutation : float
        One-sided (``real > pseudo``) sign-flip permutation p-value: the test.
    permutation_method : str
        ``"exact"`` (all sign patterns) or ``"monte_carlo"``.
    n_permutations : int
        Sign patterns evaluated.
    n_dyads : int
        Dyads with real and pseudo-dyad synchrony.
    """

    real: float
    pseudo: float
    difference: float
    std_error: float
    df: float
    t: float
    ci_low: float
    ci_high: float
    p_permutation: float
    permutation_method: str
    n_permutations: int
    n_dyads: int

    @property
    def permutation_description(self) -> str:
        """The permutation test in words, as in ``models.parquet``."""
        return sign_flip_method(self.permutation_method, "greater", "pseudo")

    def as_dict(self) -> dict:
        """Every field."""
        return asdict(self)

    def to_frame(self, signal: str = "", metric: str = "", name: str = "real_vs_pseudo"
                 ) -> pd.DataFrame:
        """One row of ``models.parquet``: the sign-flip test.

        Parameters
        ----------
        signal, metric : str
            What the test was computed on.
        name : str
            The ``model`` column.

        Returns
        -------
        pandas.DataFrame
            :data:`~interbrain.stats.tables.MODEL_COLUMNS` (``p`` the permutation
            p-value), ``n_obs`` and ``n_groups`` (both the number of dyads), ``ci_low,
            ci_high``, ``p_method``.
        """
        row = pd.DataFrame([{
            "model": name, "signal": signal, "metric": metric, "term": "real - pseudo",
            "estimate": self.difference, "std_error": self.std_error, "df": self.df,
            "t": self.t, "p": self.p_permutation, "method": self.permutation_description,
            "formula": ""}], columns=MODEL_COLUMNS)
        row = with_counts(row, self.n_dyads, self.n_dyads)
        row["ci_low"], row["ci_high"] = self.ci_low, self.ci_high
        row["p_method"] = self.permutation_method
        return row

    def summary(self) -> str:
        """The test in one line.

        Returns
        -------
        str
        """
        return (f"real {self.real:.4f}, pseudo {self.pseudo:.4f}: difference "
                f"{self.difference:.4f} [{self.ci_low:.4f}, {self.ci_high:.4f}] over "
                f"{self.n_dyads} dyads; {self.permutation_description}: "
                f"p = {self.p_permutation:.3g}")


def real_vs_pseudo(synchrony: pd.DataFrame, signal: str, metric: str = "wtc", *,
                   n_permutations: int = 10_000, seed=0) -> RealVsPseudoResult:
    """Do real dyads synchronise more than pseudo-dyads? (See the module notes.)

    Parameters
    ----------
    synchrony : pandas.DataFrame
        The tidy synchrony table with ``"real"`` and ``"pseudo"`` rows.
    signal, metric : str
        Which rows to test.
    n_permutations : int
        Sign patterns: all ``2**n_dyads`` when that is at most ``n_permutations``,
        else this many random ones.
    seed : int or numpy.random.SeedSequence
        Seed of the random sign patterns (as the null tests).

    Returns
    -------
    RealVsPseudoResult

    Raises
    ------
    ValueError
        Fewer than 2 dyads with both real and pseudo-dyad synchrony.
    """
    rows = synchrony[(synchrony["signal"] == signal) & (synchrony["metric"] == metric)
                     & synchrony["pairing"].isin(["real", "pseudo"])]
    summary = null_summary(rows, kinds=["pseudo"]) if (rows["pairing"] == "real").any() \
        else pd.DataFrame()
    if summary.empty or np.isfinite(summary["real_minus_null"]).sum() == 0:
        raise ValueError("real versus pseudo-dyads needs at least 2 dyads with both")
    try:
        test = dyad_permutation_test(summary, n_permutations=n_permutations, seed=seed,
                                     alternative="greater")
    except ValueError as exc:
        raise ValueError(f"real versus pseudo-dyads needs at least 2 dyads with both "
                         f"({exc})") from None
    return RealVsPseudoResult(
        real=test.real, pseudo=test.null, difference=test.mean_difference,
        std_error=test.std_error, df=test.df, t=test.t, ci_low=test.ci_low,
        ci_high=test.ci_high, p_permutation=test.p, permutation_method=test.p_method,
        n_permutations=test.n_permutations, n_dyads=test.n_dyads)
