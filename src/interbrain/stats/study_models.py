"""The statistics stage of a run: every model of ``[statistics]`` for every signal and
metric (:func:`fit_models`), from the tidy synchrony table and what the statistics need
of the study (:class:`ModelInputs`).

The stage sits below the study loader in the layers: it reads a study's design,
measures and settings through :class:`ModelInputs` (built from a
:class:`~interbrain.study.Study` by :meth:`ModelInputs.from_study`, or by hand) and
never imports :mod:`interbrain.study`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from ..nulls import NULL_KINDS, dyad_permutation_tests, null_summary
from ..nulls.dyad_tests import sign_flip_method
from ..synchrony.settings import is_short_signal
from ..synchrony.systemic import short_signal_notes
from .confirmatory import ALL_PAIRS, mark_families
from .core_models import core_model_job, fit_core_models
from .generalisation import fit_generalisation, generalisation_table
from .generalisation_patients import generalisation_partners
from .growth_analysis import analyse_growth
from .mechanisms import MechanismInputs, mechanism_models
from .multiple import pairwise_tests
from .real_vs_pseudo import real_vs_pseudo
from .result_table import result_table
from .moment_tests import moment_tests
from .segment_analysis import analyse_segments, split_segments
from .segment_models import restrict_pseudo
from .sessions import SESSION_COLUMNS, session_synchrony
from .settings import StatisticsSettings
from .tables import combine_tables

if TYPE_CHECKING:  # the statistics read a study's records, never load one
    from ..study import Study

__all__ = ["ModelInputs", "ModelResults", "fit_models", "null_test_rows"]


@dataclass(frozen=True)
class ModelInputs:
    """What the statistics stage needs of a study.

    Parameters
    ----------
    settings : StatisticsSettings
        ``[statistics]``.
    design : pandas.DataFrame
        One row per dyad-session: ``dyad, session, therapist, patient``, ``condition``
        (when the study has one) and the covariates of ``settings``
        (:meth:`~interbrain.study.Study.design`).
    measures : pandas.DataFrame
        ``dyad, session`` and the measure columns.
    measure_columns : tuple of str
        The measures modelled as outcomes (none: no outcome models).
    signals, metrics : tuple of str
        The haemoglobin signals and synchrony metrics analysed.
    pseudo_dyads : bool
        Whether pseudo-dyads were asked for (a note says so when none could be
        formed).
    dyads : pandas.DataFrame, optional
        One row per dyad: ``dyad, therapist, patient``; needed for the generalisation
        model.
    generalisation : bool
        Whether the study has ``[[generalisation]]`` recordings (fit the
        generalisation models).
    partners : pandas.DataFrame, optional
        The ``[[generalisation]]`` partners (:func:`~interbrain.stats.
        generalisation_patients.generalisation_partners`), for the patient-level
        generalisation model.
    segment_labels : tuple of str
        Segment labels in model order (``[segments] labels``; the first is the
        reference level of the condition model).
    """

    settings: StatisticsSettings
    design: pd.DataFrame
    measures: pd.DataFrame
    measure_columns: tuple[str, ...]
    signals: tuple[str, ...]
    metrics: tuple[str, ...]
    pseudo_dyads: bool = False
    dyads: pd.DataFrame | None = None
    generalisation: bool = False
    partners: pd.DataFrame | None = None
    segment_labels: tuple[str, ...] = ()

    @classmethod
    def from_study(cls, study: Study) -> ModelInputs:
        """The inputs of a loaded study.

        Parameters
        ----------
        study : Study

        Returns
        -------
        ModelInputs
        """
        columns = tuple(study.measure_columns)
        dyads = pd.DataFrame([(d.id, d.therapist, d.patient) for d in study.dyads],
                             columns=["dyad", "therapist", "patient"])
        if any(d.condition for d in study.dyads):
            dyads["condition"] = [d.condition or "" for d in study.dyads]
        return cls(settings=study.statistics, design=study.design(),
                   measures=study.measures[["dyad", "session", *columns]],
                   measure_columns=columns, signals=tuple(study.analysis.signals),
                   metrics=tuple(study.analysis.metrics),
                   pseudo_dyads=bool(study.analysis.pseudo_dyads), dyads=dyads,
                   generalisation=bool(study.generalisation),
                   partners=(generalisation_partners(study.generalisation)
                             if study.generalisation else None),
                   segment_labels=(tuple(study.segments.labels)
                                   if study.segments is not None else ()))

    @property
    def mechanisms(self) -> MechanismInputs:
        """What the mechanism models need (:mod:`interbrain.stats.mechanisms`)."""
        return MechanismInputs(settings=self.settings, measures=self.measures,
                               measure_columns=self.measure_columns, dyads=self.dyads,
                               partners=self.partners)


@dataclass
class ModelResults:
    """The statistics of a run.

    Attributes
    ----------
    models : pandas.DataFrame
        Rows of ``models.parquet``: one per model term or test.
    sessions : pandas.DataFrame
        Session-level synchrony (``sessions.parquet``: ``dyad, session, signal, metric,
        pairing, synchrony, n_pairs``), for real dyads and each kind of null.
    fits : dict
        ``(model, signal, metric)`` -> fitted mixed model (``growth``,
        ``outcome:<measure>``, ``cross_lagged:<measure>:<direction>``).
    tests : dict
        ``(signal, metric)`` -> real versus pseudo-dyad test
        (:class:`~interbrain.stats.real_vs_pseudo.RealVsPseudoResult`).
    notes : list of str
        Models that could not be fitted for this design, and why.
    slopes : pandas.DataFrame
        Per-dyad synchrony slopes of each growth model (``dyad_slopes.parquet``).
    null_summary : pandas.DataFrame
        Real synchrony of each dyad-session against each kind of null
        (``null_summary.parquet``).
    null_tests : pandas.DataFrame
        Dyad-level sign-flip tests that real synchrony exceeds each kind of null
        (``null_tests.parquet``).
    plasticity : dict
        ``(signal, metric, null)`` -> :class:`~interbrain.stats.plasticity.
        PlasticityResult` over every channel pair (``null`` ``"pseudo"`` is the
        headline test).
    """

    @property
    def excess(self) -> pd.DataFrame:
        """Real synchrony, its null and their difference per dyad-session, for each
        plasticity test over every channel pair (``excess.parquet``): ``signal,
        metric, null_kind, dyad, session, real, null, n_null, excess``."""
        frames = [r.excess.assign(signal=signal, metric=metric, null_kind=kind)
                  for (signal, metric, kind), r in self.plasticity.items()]
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames, ignore_index=True)
        return out[["signal", "metric", "null_kind", "dyad", "session", "real", "null",
                    "n_null", "excess"]]

    models: pd.DataFrame
    sessions: pd.DataFrame
    fits: dict
    tests: dict
    notes: list[str]
    slopes: pd.DataFrame = field(default_factory=pd.DataFrame)
    null_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    null_tests: pd.DataFrame = field(default_factory=pd.DataFrame)
    plasticity: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The model table (``models.parquet``).

        Returns
        -------
        pandas.DataFrame
        """
        return self.models

    def summary(self) -> str:
        """A few lines: the models fitted, the tests against nulls, the notes.

        Returns
        -------
        str
        """
        models = sorted(set(self.models["model"])) if len(self.models) else []
        lines = [f"models: {', '.join(models) or 'none'} ({len(self.models)} rows)",
                 f"fits: {len(self.fits)}; null tests: {len(self.null_tests)}"]
        lines += [f"{signal}/{metric}: {test.summary()}"
                  for (signal, metric), test in self.tests.items()]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def null_test_rows(tests: pd.DataFrame, kinds) -> pd.DataFrame:
    """Rows of ``models.parquet`` for the dyad-level tests against some kinds of null.

    Parameters
    ----------
    tests : pandas.DataFrame
        :func:`~interbrain.nulls.group_tests.dyad_permutation_tests`.
    kinds : sequence of str
        The kinds of null to report (model ``real_vs_<kind>``).

    Returns
    -------
    pandas.DataFrame
        The sign-flip test of each: ``estimate`` the mean difference, ``t, df`` of the
        t-test over dyads, ``p`` the sign-flip p-value, ``ci_low, ci_high``.
    """
    rows = tests[tests["null_kind"].isin(kinds)]
    methods = [sign_flip_method(p_method, alternative, "null")
               for p_method, alternative in zip(rows["p_method"], rows["alternative"])]
    return pd.DataFrame({
        "model": "real_vs_" + rows["null_kind"], "signal": rows["signal"],
        "metric": rows["metric"], "term": "real - null", "estimate": rows["mean_difference"],
        "std_error": rows["std_error"], "df": rows["df"], "t": rows["t"], "p": rows["p"],
        "method": pd.Series(methods, index=rows.index, dtype=object),
        "formula": "", "n_obs": rows["n_dyads"], "n_groups": rows["n_dyads"],
        "ci_low": rows["ci_low"], "ci_high": rows["ci_high"],
        "n_dyads": rows["n_dyads"].astype(float)})


def _signal_models(synchrony: pd.DataFrame, real: pd.DataFrame, signal: str, metric: str,
                   inputs: ModelInputs, can_grow: bool, has_pseudo: bool, segments,
                   moments) -> dict:
    """The models of one signal and metric outside the confirmatory family, in the
    order :func:`fit_models` reports them: results by name, notes, fits, tables."""
    st, where = inputs.settings, f"{signal}/{metric}"
    design, n_permutations = inputs.design, st.n_permutations or 9999
    out: dict = {"results": {}, "notes": [], "fits": {}, "tables": [], "growth": None}
    results, notes = out["results"], out["notes"]
    if can_grow:
        try:
            out["growth"] = results["growth"] = analyse_growth(
                real, time=st.time, therapist="therapist",
                condition="condition" if "condition" in design.columns else None,
                covariates=list(st.covariates) or None, compare=st.compare,
                n_permutations=st.n_permutations, seed=st.seed, df_method=st.df_method)
            notes += [f"growth ({where}): {n}" for n in out["growth"].notes]
        except ValueError as exc:
            notes.append(f"growth model ({where}) not fitted: {exc}")
    if has_pseudo:
        results["real_vs_pseudo"] = real_vs_pseudo(
            synchrony, signal, metric, n_permutations=n_permutations, seed=st.seed)
    for test in st.pairwise:
        if (test == "real_vs_pseudo" and not has_pseudo) or (test == "growth"
                                                             and not can_grow):
            continue
        try:
            results[f"pairwise:{test}"] = pairwise_tests(
                synchrony, signal=signal, metric=metric, test=test, unit=st.pairwise_unit,
                correction=st.correction, time="linear" if st.time == "quadratic" else st.time,
                n_permutations=st.n_permutations or 999, seed=st.seed, alpha=st.alpha)
        except ValueError as exc:
            notes.append(f"per-{st.pairwise_unit} {test} tests ({where}) skipped: {exc}")
    if can_grow:
        mechanisms, mechanism_notes = mechanism_models(synchrony, real, inputs.mechanisms,
                                                       signal, metric)
        results.update(mechanisms)
        notes += mechanism_notes
    if inputs.generalisation:
        try:
            results["generalisation"] = fit_generalisation(
                generalisation_table(synchrony, inputs.dyads, signal, metric),
                partner="partner")
        except ValueError as exc:
            notes.append(f"generalisation model ({where}) not fitted: {exc}")
    if segments is not None and len(segments):
        seg_tables, out["fits"], seg_notes = analyse_segments(
            segments, design, st, signal, metric, labels=inputs.segment_labels,
            therapists=(dict(zip(inputs.dyads["dyad"], inputs.dyads["therapist"]))
                        if inputs.dyads is not None else None))
        out["tables"] += seg_tables
        notes += seg_notes
    if moments is not None and len(moments):
        out["tables"].append(moment_tests(moments, signal, metric, seed=st.seed,
                                          n_permutations=n_permutations))
    return out


def fit_models(inputs: ModelInputs | Study, synchrony: pd.DataFrame, *,
               segments: pd.DataFrame | None = None,
               moments: pd.DataFrame | None = None, map=map) -> ModelResults:
    """Fit every model of ``[statistics]`` for every signal and metric.

    Per signal and metric: the plasticity test (growth of real synchrony in excess of
    each kind of null, :mod:`interbrain.stats.plasticity`), the growth analysis of
    real synchrony (mixed model with the time coding, therapist random effect,
    condition and covariates of the design; per-dyad slopes; likelihood-ratio
    comparisons; slope permutation test), the outcome analyses of every measure
    (within/between, lagged, pre-post, with confidence intervals and equivalence
    tests), the real-versus-pseudo test, the per-unit tests with their
    multiple-comparison correction and the generalisation model. Over all of them:
    each dyad-session's real synchrony against each kind of null, and dyad-level
    sign-flip tests. When ``[statistics.primary]`` restricts the primary unit to a
    region or a list of channel pairs, the plasticity test and the outcome models
    of the primary signal and metric are also fitted on that unit (rows with
    ``scope`` naming it). Every row is then marked confirmatory or exploratory
    (:func:`~interbrain.stats.confirmatory.mark_families`).

    Models the design cannot support are skipped with a note: growth needs at least
    two dyads and two session numbers, outcome models at least three dyads with
    measures, the null tests at least two dyads.

    Parameters
    ----------
    inputs : ModelInputs or Study
        What the statistics need of the study (a study is read through
        :meth:`ModelInputs.from_study`).
    synchrony : pandas.DataFrame
        The tidy synchrony table of the run; rows with a ``segment`` label (a
        ``segment`` column) are segment rows.
    segments : pandas.DataFrame, optional
        Synchrony per segment (``synchrony_segments.parquet``): with it, per signal
        and metric, the models of :func:`~interbrain.stats.segment_analysis.
        analyse_segments` (the condition model, real against matched pseudo-dyads and
        shuffled segment windows per label, plasticity per label).
    moments : pandas.DataFrame, optional
        Synchrony around marked moments and in null windows
        (``synchrony_moments.parquet``): with it, the test of each moment label
        (:func:`~interbrain.stats.moment_tests.moment_tests`).
    map : callable
        Called once, as ``map(fit_core_models, jobs)``, to fit the models of the
        confirmatory family (:mod:`interbrain.stats.core_models`: one job per signal
        and metric, and one for a restricted primary unit); returns their
        :class:`~interbrain.stats.core_models.CoreModels` in order. Python's ``map``
        by default (fitted one after the other as they are needed); a run passes one
        that fits them in its worker processes while this process fits the other
        models. The results are the same whichever map fits them.

    Returns
    -------
    ModelResults
    """
    if not isinstance(inputs, ModelInputs):
        inputs = ModelInputs.from_study(inputs)
    st = inputs.settings
    tables, summaries, fits, tests, notes, slopes = [], [], {}, {}, [], []
    synchrony, segments, notes = split_segments(synchrony, segments)
    synchrony = restrict_pseudo(synchrony, inputs.design, st.pseudo_dyads_within)
    if segments is not None:
        segments = restrict_pseudo(segments, inputs.design, st.pseudo_dyads_within)
    plasticity_results: dict = {}
    kinds = [k for k in NULL_KINDS if (synchrony["pairing"] == k).any()]
    has_pseudo = "pseudo" in kinds
    real_rows = synchrony[synchrony["pairing"] == "real"]
    n_dyads, n_sessions = real_rows["dyad"].nunique(), real_rows["session"].nunique()
    can_grow = n_dyads >= 2 and n_sessions >= 2
    if not can_grow:
        notes.append(f"Growth and outcome models need at least 2 dyads and 2 session numbers; "
                     f"this study has {n_dyads} dyad(s) and {n_sessions} session number(s).")
    if inputs.pseudo_dyads and not has_pseudo:
        notes.append("No pseudo-dyads: they need at least 2 dyads with the same session number.")
    notes += short_signal_notes(synchrony, tuple(inputs.signals))
    present = set(real_rows["signal"])
    options = {"sesoi": st.sesoi_option, "sesoi_scale": st.sesoi_scale, "alpha": st.alpha}
    units = [(signal, metric) for metric in inputs.metrics for signal in inputs.signals
             if signal in present or not is_short_signal(signal)]
    primary_signal = st.primary.signal or inputs.signals[0]
    primary_metric = st.primary.metric or inputs.metrics[0]
    jobs = [core_model_job(synchrony, signal, metric, inputs, kinds, can_grow,
                           f"{signal}/{metric}") for signal, metric in units]
    subset = st.primary.select(synchrony) if st.primary.scope != ALL_PAIRS else None
    if subset is not None and not subset.empty:
        jobs.append(core_model_job(subset, primary_signal, primary_metric, inputs, kinds,
                                   can_grow, f"{primary_signal}/{primary_metric}, "
                                             f"{st.primary.scope}"))
    # the confirmatory family's models run as the caller's map does (e.g. in worker
    # processes) while this process fits the rest; then all is put in the order of a run
    # that fits one model after the other
    cores = iter(map(fit_core_models, jobs))
    others = []
    for signal, metric in units:
        per_pairing = {pairing: session_synchrony(synchrony, signal, pairing, metric)
                       for pairing in ("real", *kinds)}
        for pairing, summary in per_pairing.items():
            summaries.append(summary.assign(signal=signal, metric=metric,
                                            pairing=pairing)[SESSION_COLUMNS])
        real = per_pairing["real"].merge(inputs.design, on=["dyad", "session"], how="left")
        others.append(_signal_models(synchrony, real, signal, metric, inputs, can_grow,
                                     has_pseudo, segments, moments))
    nulls, null_tests = pd.DataFrame(), pd.DataFrame()
    if kinds:
        nulls = null_summary(synchrony, kinds=kinds)
        null_tests = dyad_permutation_tests(nulls, n_permutations=st.n_permutations or 9999,
                                            seed=st.seed)
    for (signal, metric), other in zip(units, others):
        core = next(cores)
        notes += core.notes + other["notes"]
        tables += [result.to_frame(signal, metric) for result in core.plasticity.values()]
        plasticity_results.update({(signal, metric, kind): result
                                   for kind, result in core.plasticity.items()})
        fits.update({("plasticity" if kind == "pseudo" else f"plasticity:{kind}",
                      signal, metric): result.fit for kind, result in core.plasticity.items()})
        fits.update({(name, signal, metric): fit for name, fit in core.outcome_fits().items()})
        if other["growth"] is not None:
            fits[("growth", signal, metric)] = other["growth"].fit
            slopes.append(other["growth"].slopes.assign(signal=signal, metric=metric))
        if "real_vs_pseudo" in other["results"]:
            tests[(signal, metric)] = other["results"]["real_vs_pseudo"]
        # the growth model's rows first, then the outcome models', then the others'
        results = {k: v for k, v in other["results"].items() if k == "growth"}
        if core.outcomes is not None:
            results["outcomes"] = core.outcomes
        results.update(other["results"])
        if results:
            tables.append(result_table(results, signal, metric, **options))
        tables += other["tables"]
        fits.update(other["fits"])
    tables = [t.assign(scope=ALL_PAIRS) for t in tables]
    if subset is not None and subset.empty:
        notes.append(f"the primary channel pairs ({st.primary.scope}) are not in the synchrony table")
    elif subset is not None:
        core = next(cores)
        notes += core.notes
        frames = [result.to_frame(primary_signal, primary_metric)
                  for result in core.plasticity.values()]
        if core.outcomes is not None:
            frames.append(result_table({"outcomes": core.outcomes}, primary_signal,
                                       primary_metric, **options))
        tables += [f.assign(scope=st.primary.scope) for f in frames]
    surrogate_kinds = [k for k in kinds if k != "pseudo"]
    if surrogate_kinds and len(null_tests):
        tables.append(null_test_rows(null_tests, surrogate_kinds).assign(scope=ALL_PAIRS))
    models = mark_families(combine_tables(tables), st.primary, primary_signal,
                           primary_metric, alpha=st.alpha)
    return ModelResults(models=models, sessions=pd.concat(summaries, ignore_index=True),
                        fits=fits, tests=tests, notes=notes,
                        slopes=pd.concat(slopes, ignore_index=True) if slopes else pd.DataFrame(),
                        null_summary=nulls, null_tests=null_tests,
                        plasticity=plasticity_results)
