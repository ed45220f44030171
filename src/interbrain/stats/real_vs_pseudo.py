"""Do real dyads synchronise more than pseudo-dyads?

Per dyad, the mean synchrony of its real sessions and the mean synchrony of the
pseudo-dyads its therapist recordings formed (:func:`~interbrain.stats.sessions.
session_synchrony`, averaged over sessions); the dyad-level differences ``real -
pseudo`` are tested two ways, both from :mod:`interbrain.nulls.dyad_tests`:

* a paired t-test over dyads (two-sided, as every t-test row of ``models.parquet``);
* the sign-flip permutation test of the hypothesis that real dyads exceed
  pseudo-dyads: one-sided (``real > pseudo``), exact (all ``2**n_dyads`` sign patterns)
  when ``2**n_dyads <= n_permutations``, otherwise ``n_permutations`` random patterns
  with the Phipson-Smyth ``(1 + b) / (1 + B)``. It is the test
  :func:`~interbrain.nulls.group_tests.dyad_permutation_test` applies to every kind of
  null, with the same seed derivation, so the two give one p-value for one set of
  differences.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..nulls.dyad_tests import permutation_seeds, sign_flip_method, sign_flip_test, t_test
from .sessions import session_synchrony
from .tables import MODEL_COLUMNS, with_counts

__all__ = ["RealVsPseudoResult", "real_vs_pseudo"]


@dataclass(frozen=True)
class RealVsPseudoResult:
    """Result of :func:`real_vs_pseudo`.

    Attributes
    ----------
    real, pseudo : float
        Mean over dyads of each dyad's mean real and pseudo-dyad synchrony.
    difference, std_error, df, t, p : float
        Mean over dyads of ``real - pseudo``, its standard error, and the paired
        (one-sample) t-test: ``df = n_dyads - 1``, two-sided ``p``.
    p_permutation : float
        One-sided (``real > pseudo``) sign-flip permutation p-value.
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
    p: float
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
        """Rows of ``models.parquet``: the t-test and the sign-flip test.

        Parameters
        ----------
        signal, metric : str
            What the test was computed on.
        name : str
            The ``model`` column.

        Returns
        -------
        pandas.DataFrame
            Two rows, :data:`~interbrain.stats.tables.MODEL_COLUMNS` and ``n_obs``,
            ``n_groups`` (both the number of dyads).
        """
        common = {"model": name, "signal": signal, "metric": metric,
                  "term": "real - pseudo", "estimate": self.difference,
                  "std_error": self.std_error, "formula": ""}
        rows = pd.DataFrame([
            {**common, "df": self.df, "t": self.t, "p": self.p,
             "method": "paired t-test over dyads"},
            {**common, "df": np.nan, "t": np.nan, "p": self.p_permutation,
             "method": self.permutation_description},
        ], columns=MODEL_COLUMNS)
        return with_counts(rows, self.n_dyads, self.n_dyads)

    def summary(self) -> str:
        """The test in one line.

        Returns
        -------
        str
        """
        return (f"real {self.real:.4f}, pseudo {self.pseudo:.4f}: difference "
                f"{self.difference:.4f} (SE {self.std_error:.4f}) over {self.n_dyads} "
                f"dyads; t({self.df:g}) = {self.t:.3g}, two-sided p = {self.p:.3g}; "
                f"{self.permutation_description}: p = {self.p_permutation:.3g}")


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
        Seed of the random sign patterns (through
        :func:`~interbrain.nulls.dyad_tests.permutation_seeds`, as the null tests).

    Returns
    -------
    RealVsPseudoResult

    Raises
    ------
    ValueError
        Fewer than 2 dyads with both real and pseudo-dyad synchrony.
    """
    real = session_synchrony(synchrony, signal, "real", metric)
    pseudo = session_synchrony(synchrony, signal, "pseudo", metric)
    real = real.groupby("dyad")["synchrony"].mean()
    pseudo = pseudo.groupby("dyad")["synchrony"].mean()
    both = pd.concat({"real": real, "pseudo": pseudo}, axis=1).dropna()
    diff = (both["real"] - both["pseudo"]).to_numpy()
    if diff.size < 2:
        raise ValueError("real versus pseudo-dyads needs at least 2 dyads with both")
    test = t_test(diff, "two-sided")
    flips = sign_flip_test(diff, n_permutations=n_permutations,
                           seed=permutation_seeds(seed)[0], alternative="greater")
    return RealVsPseudoResult(
        real=float(both["real"].mean()), pseudo=float(both["pseudo"].mean()),
        difference=test.mean, std_error=test.std_error, df=test.df, t=test.t, p=test.p,
        p_permutation=float(flips.p), permutation_method=flips.method,
        n_permutations=flips.n_permutations, n_dyads=int(diff.size))
