"""Settings of the statistics stage: the ``[statistics]`` table of ``study.toml``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from .._check import check_int, settings_from_table
from ..errors import StudyError
from ..nulls.pseudo_dyads import PSEUDO_WITHIN
from .primary import PrimarySettings
from .time_codings import TIME_CODINGS

#: Time codings of the growth model (:data:`~interbrain.stats.time_codings.TIME_CODINGS`).
TIME_OPTIONS: tuple[str, ...] = tuple(TIME_CODINGS)
#: Multiple-comparison corrections of the per-unit tests (see :mod:`.multiple`).
CORRECTION_OPTIONS: tuple[str, ...] = ("fdr_bh", "bonferroni", "holm", "maxt")
#: Per-unit (channel pair or region pair) tests.
PAIRWISE_OPTIONS: tuple[str, ...] = ("growth", "real_vs_pseudo")
#: Units of the per-unit tests.
UNIT_OPTIONS: tuple[str, ...] = ("pair", "region")
#: Scales of the smallest effect size of interest (see :mod:`.equivalence`).
SESOI_SCALE_OPTIONS: tuple[str, ...] = ("raw", "standardized")
#: Which pseudo-dyads are a dyad's null: other dyads of its group (the ``condition``
#: of its dyad or session), of its therapist, or all other dyads.
PSEUDO_WITHIN_OPTIONS: tuple[str, ...] = PSEUDO_WITHIN
#: Degrees-of-freedom methods of the mixed models' t-tests.
DF_METHOD_OPTIONS: tuple[str, ...] = ("kenward-roger", "satterthwaite")


@dataclass(frozen=True)
class StatisticsSettings:
    """What the statistics stage fits and tests.

    Parameters
    ----------
    time : str
        Coding of session in the growth model: ``"linear"`` (session number),
        ``"log"`` (log of the session number) or ``"quadratic"`` (session and its
        square, random linear slope).
    covariates : tuple of str
        Further fixed effects of the growth model: names of therapist covariates
        (``[[therapists]]``), dyad covariates (``covariates`` of ``[[dyads]]``) or
        ``measures.csv`` columns (which are then not modelled as outcomes).
    compare : bool
        Likelihood-ratio tests of nested growth models (ML refits): linear against
        quadratic time, and without against with the therapist random intercept
        when there are several therapists.
    n_permutations : int
        Permutations of the dyad-level tests: slope permutation test (session
        order shuffled within dyad), real-versus-null sign-flip tests and the maxT
        correction. 0 skips the slope permutation test.
    seed : int
        Seed of every permutation.
    lagged : bool
        Also fit the cross-lagged models of every measure, both directions
        (synchrony in session t and the measure in session t + 1, each controlling
        the outcome's own value in session t; :mod:`interbrain.stats.cross_lagged`).
    prepost : bool
        Also relate each dyad's pre-post change of every measure to its synchrony
        slope.
    sesoi : float or dict
        Smallest effect size of interest of the outcome models' synchrony
        coefficients, for the equivalence (TOST) test: one number for every
        measure or a ``{measure: value}`` table; 0 (or an empty table) for none.
        Confidence intervals are always reported.
    sesoi_scale : str
        ``"standardized"`` (measure SDs per synchrony SD, at the level of the term:
        within-dyad SDs for ``synchrony_within``, SDs of the dyad means for
        ``synchrony_between``) or ``"raw"`` (measure units per unit of synchrony).
    alpha : float
        Level of the tests and of the equivalence test (0 < alpha < 0.5).
    correction : str
        Multiple-comparison correction of the per-unit tests: ``"fdr_bh"``
        (Benjamini-Hochberg), ``"bonferroni"``, ``"holm"`` or ``"maxt"``
        (Westfall-Young max-statistic permutation, family-wise).
    pairwise : tuple of str
        Per-unit tests: ``"growth"`` (per-dyad slopes) and/or ``"real_vs_pseudo"``;
        empty for none.
    pairwise_unit : str
        ``"pair"`` (channel pair) or ``"region"`` (region pair; needs ``[regions]``).
    df_method : str
        Degrees of freedom of the mixed models' t-tests: ``"satterthwaite"`` (as R
        lmerTest; the default) or ``"kenward-roger"`` (Kenward & Roger 1997: the
        adjusted covariance and df, as R pbkrtest). The default is chosen by
        calibration (docs/statistics.md, "Calibration"): Satterthwaite kept the
        confirmatory tests at their level in complete and sparse designs;
        Kenward-Roger was conservative (about 2 % at alpha 5 % in the sparse design)
        and lost about a third of the power there.
    primary : PrimarySettings
        ``[statistics.primary]``: the confirmatory family (see
        :mod:`interbrain.stats.confirmatory`).
    n_bootstrap : int
        Simulated studies of the bias-corrected parametric bootstrap of the
        cross-lagged models (``lagged``; :mod:`interbrain.stats.cross_lagged_bootstrap`);
        at least 99.
    mediation : bool
        Fit the multilevel mediation of each measure's change over sessions by
        synchrony (:mod:`interbrain.stats.mediation`).
    dissociation : tuple of (str, str)
        Pairs ``(measure, reference)``: test whether synchrony's within-dyad
        association with ``measure`` differs from that with ``reference``
        (:mod:`interbrain.stats.dissociation`), e.g. ``[["symptoms", "alliance"]]``;
        the reference's association gets the equivalence test with ``sesoi``.
    therapist_effects : bool
        With two or more therapists: the therapist x session interaction, the share
        of synchrony variance between therapists and the pseudo-dyads split by
        therapist (:mod:`interbrain.stats.therapist_effects`).
    pseudo_dyads_within : str
        Pseudo-dyads pair a therapist recording with the patient recordings of other
        dyads of the same session number and ``"group"`` (the default: the same
        ``condition``, as the field pairs within a group; every other dyad when the
        study has no conditions), ``"therapist"`` (the same therapist's other
        patients) or ``"all"``. The engine computes only those, and the statistics
        keep only those of a synchrony table given to them.
    """

    time: str = "linear"
    covariates: tuple[str, ...] = ()
    compare: bool = True
    n_permutations: int = 999
    seed: int = 0
    lagged: bool = True
    prepost: bool = True
    sesoi: float | dict = field(default=0.0)
    sesoi_scale: str = "standardized"
    alpha: float = 0.05
    correction: str = "fdr_bh"
    pairwise: tuple[str, ...] = ("growth", "real_vs_pseudo")
    pairwise_unit: str = "pair"
    df_method: str = "satterthwaite"
    primary: PrimarySettings = field(default_factory=PrimarySettings)
    n_bootstrap: int = 999
    mediation: bool = True
    dissociation: tuple[tuple[str, str], ...] = ()
    therapist_effects: bool = True
    pseudo_dyads_within: str = "group"

    @classmethod
    def from_table(cls, table: object, where: str) -> "StatisticsSettings":
        """The settings of a ``[statistics]`` table of ``study.toml``, checked.

        Like the other settings tables, except that ``sesoi`` may be a number or a
        table of ``measure = number``.

        Parameters
        ----------
        table : dict or None
            The table as read; None for the defaults.
        where : str
            The file and table, for messages (``"<path>: [statistics]"``).

        Returns
        -------
        StatisticsSettings

        Raises
        ------
        StudyError
            Naming ``where`` and the first unknown, mistyped or invalid field (the
            message of :meth:`validate`).
        """
        if table is not None and not isinstance(table, dict):
            raise StudyError(f"{where}: must be a table")
        table = dict(table or {})
        sesoi = table.pop("sesoi", None)
        primary = table.pop("primary", None)
        dissociation = table.pop("dissociation", None)
        settings = settings_from_table(cls, table, where, StudyError)
        if dissociation is not None:
            settings = replace(settings, dissociation=_measure_pairs(dissociation, where))
        if primary is not None:
            settings = replace(settings, primary=PrimarySettings.from_table(
                primary, f"{where[:-1]}.primary]" if where.endswith("]") else where))
        if sesoi is not None:
            if isinstance(sesoi, dict):
                settings = replace(settings, sesoi=dict(sesoi))
            elif isinstance(sesoi, (int, float)) and not isinstance(sesoi, bool):
                settings = replace(settings, sesoi=float(sesoi))
            else:
                raise StudyError(f"{where}: field 'sesoi' must be a number or a table of "
                                 f"measure = number, got {sesoi!r}")
        try:
            settings.validate()
        except ValueError as exc:
            raise StudyError(f"{where}: {exc}") from None
        return settings

    def validate(self) -> None:
        """Raise ValueError naming the first invalid field."""
        def one_of(name: str, options: tuple[str, ...]) -> None:
            value = getattr(self, name)
            if value not in options:
                raise ValueError(f"field '{name}' must be one of {list(options)}, got "
                                 f"{value!r}")

        one_of("time", TIME_OPTIONS)
        one_of("sesoi_scale", SESOI_SCALE_OPTIONS)
        one_of("correction", CORRECTION_OPTIONS)
        one_of("pairwise_unit", UNIT_OPTIONS)
        one_of("df_method", DF_METHOD_OPTIONS)
        one_of("pseudo_dyads_within", PSEUDO_WITHIN_OPTIONS)
        bad = [p for p in self.pairwise if p not in PAIRWISE_OPTIONS]
        if bad:
            raise ValueError(f"field 'pairwise' must list tests among "
                             f"{list(PAIRWISE_OPTIONS)}, got {list(self.pairwise)!r}")
        if not all(isinstance(c, str) and c for c in self.covariates):
            raise ValueError(f"field 'covariates' must be a list of names, got "
                             f"{list(self.covariates)!r}")
        for name in ("n_permutations", "seed"):
            check_int(getattr(self, name), f"field '{name}'", minimum=0)
        check_int(self.n_bootstrap, "field 'n_bootstrap'", minimum=99)
        for pair in self.dissociation:
            if (len(pair) != 2 or not all(isinstance(m, str) and m for m in pair)
                    or pair[0] == pair[1]):
                raise ValueError(f"field 'dissociation' must list pairs of two different "
                                 f"measure names, got {list(pair)!r}")
        if 0 < self.n_permutations < 99:
            raise ValueError(f"field 'n_permutations' must be 0 (no slope permutation "
                             f"test) or at least 99, got {self.n_permutations}")
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"field 'alpha' must lie in (0, 0.5), got {self.alpha}")
        values = self.sesoi.values() if isinstance(self.sesoi, dict) else [self.sesoi]
        for value in values:
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value) or value < 0):
                raise ValueError(f"field 'sesoi' must be a number >= 0 or a table of "
                                 f"measure = number, got {self.sesoi!r}")

    @property
    def sesoi_option(self) -> float | dict | None:
        """``sesoi`` argument of :func:`~interbrain.stats.outcomes.analyse_outcomes`:
        None when no equivalence test was asked for."""
        if isinstance(self.sesoi, dict):
            chosen = {k: float(v) for k, v in self.sesoi.items() if v > 0}
            return chosen or None
        return float(self.sesoi) if self.sesoi > 0 else None


def _measure_pairs(value: object, where: str) -> tuple[tuple[str, str], ...]:
    """``dissociation`` as read: a list of ``[measure, reference]`` pairs."""
    ok = isinstance(value, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(m, str) and m for m in p)
        and p[0] != p[1] for p in value)
    if not ok:
        raise StudyError(f"{where}: field 'dissociation' must be a list of pairs of two "
                         f"different measure names, e.g. [[\"symptoms\", \"alliance\"]]; "
                         f"got {value!r}")
    return tuple((p[0], p[1]) for p in value)
