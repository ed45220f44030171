"""Everything about the growth of synchrony in one call: :func:`analyse_growth`.

The growth model (:func:`~interbrain.stats.growth.fit_growth`), each dyad's slope
(:func:`~interbrain.stats.growth.dyad_slopes`), the likelihood-ratio comparisons of
nested models (:func:`~interbrain.stats.growth.compare_growth`) and the dyad-level
slope permutation test (:func:`~interbrain.stats.permutation.slope_permutation_test`),
in a :class:`GrowthAnalysis` that presents itself as rows of ``models.parquet``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd

from .growth import compare_growth, comparison_rows, dyad_slopes, fit_growth
from .mixed import LmerResult
from .permutation import PermutationResult, slope_permutation_test
from .tables import combine_tables, fit_rows
from .time_codings import SLOPE_TIMES

__all__ = ["GrowthAnalysis", "analyse_growth"]


@dataclass
class GrowthAnalysis:
    """Growth model, per-dyad slopes, nested comparisons and the permutation test."""

    fit: LmerResult
    time: str
    slopes: pd.DataFrame
    comparisons: dict = field(default_factory=dict)
    permutation: PermutationResult | None = None
    notes: list[str] = field(default_factory=list)

    def to_frame(self, signal: str = "", metric: str = "", name: str = "growth"
                 ) -> pd.DataFrame:
        """Rows of ``models.parquet``: the growth model (with 95% CIs), the LRTs and
        the permutation test.

        Parameters
        ----------
        signal, metric : str
            What the model was fitted on.
        name : str
            The growth model's ``model`` column (the comparisons are ``lrt:<name>``,
            the permutation test ``<name>_permutation``).

        Returns
        -------
        pandas.DataFrame
        """
        frames = [fit_rows(name, self.fit, signal, metric)]
        frames += [comparison_rows(f"lrt:{k}", v, signal, metric)
                   for k, v in self.comparisons.items()]
        if self.permutation is not None:
            frames.append(self.permutation.to_frame(signal, metric,
                                                    name=f"{name}_permutation"))
        return combine_tables(frames)

    def summary(self) -> str:
        """The growth model's summary, the comparisons, the permutation test and the
        notes, as text.

        Returns
        -------
        str
        """
        lines = [self.fit.summary()]
        for key, (_, _, lrt) in self.comparisons.items():
            lines.append(f"likelihood-ratio test {key}: chi2({lrt.df}) = {lrt.chi2:.3f}, "
                         f"p = {lrt.p:.3g}")
        if self.permutation is not None:
            lines.append(self.permutation.summary())
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def analyse_growth(sessions: pd.DataFrame, *, time: str = "linear",
                   therapist: str | None = None, condition: str | None = None,
                   covariates=None, compare: bool = True, n_permutations: int = 999,
                   permutation_statistic: str = "ols_t", seed: int | None = 0,
                   df_method: str = "satterthwaite") -> GrowthAnalysis:
    """Fit the growth model and everything derived from it.

    Parameters
    ----------
    sessions : pandas.DataFrame
        Session-level synchrony (``dyad, session, synchrony``) with the columns named
        below.
    time, therapist, condition, covariates
        As :func:`~interbrain.stats.growth.fit_growth`.
    compare : bool
        Likelihood-ratio tests of nested models (``False``: none).
    n_permutations : int
        Permutations of the slope test (0: none).
    permutation_statistic : {"ols_t", "lmer_t"}
        Statistic of the slope test.
    seed : int or None
        Seed of the slope test.
    df_method : {"satterthwaite", "kenward-roger"}
        Degrees of freedom of the growth model's t-tests
        (:func:`~interbrain.stats.growth.fit_growth`); the likelihood-ratio
        comparisons are ML refits and do not use it.

    Returns
    -------
    GrowthAnalysis
        The permutation test is skipped (with a note) for quadratic time and when it
        cannot run.
    """
    fit = fit_growth(sessions, time=time, therapist=therapist, condition=condition,
                     covariates=covariates, df_method=df_method)
    notes = list(fit.messages)
    slopes = dyad_slopes(fit, time)
    comparisons = {}
    if compare:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            comparisons = compare_growth(sessions, time=time, therapist=therapist,
                                         condition=condition, covariates=covariates)
    perm = None
    if n_permutations and time in SLOPE_TIMES:
        try:
            perm = slope_permutation_test(sessions, time=time,
                                          n_permutations=n_permutations, seed=seed,
                                          statistic=permutation_statistic,
                                          therapist=therapist)
        except ValueError as exc:
            notes.append(f"slope permutation test skipped: {exc}")
    elif n_permutations:
        notes.append("slope permutation test skipped: quadratic time has no single "
                     "slope")
    if condition is not None and perm is not None:
        notes.append("the slope permutation test ignores the condition: it tests the "
                     "slope pooled over conditions")
    return GrowthAnalysis(fit=fit, time=time, slopes=slopes, comparisons=comparisons,
                          permutation=perm, notes=notes)
