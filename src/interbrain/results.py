"""What a run produced: the result types that the engine fills and the report reads.

:class:`SynchronyResults` is the synchrony stage's product (synchrony per channel pair,
quality control, preprocessing chains, data retained); :class:`StudyResults` is a
whole run's, with the statistics (built by :meth:`StudyResults.from_stages` from the
synchrony stage and the statistics stage's
:class:`~interbrain.stats.study_models.ModelResults`). Fitted models are kept under a
:class:`ModelKey` (model, signal, metric). Both result types present
themselves: ``to_frame()`` gives their main table, ``summary()`` a few lines of text,
and :meth:`StudyResults.tables` the Parquet tables of a results folder by file name.

This module sits between the engine and the report (both import it) and above the
study and statistics layers: it computes nothing and writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import pandas as pd

from .stats.study_models import ModelResults
from .study import Study


@dataclass(frozen=True, order=True)
class ModelKey:
    """The key of a fitted model in :attr:`StudyResults.fits`.

    Parameters
    ----------
    model : str
        Model name as in ``models.parquet``: ``"growth"``, ``"outcome:<measure>"``,
        ``"cross_lagged:<measure>:<direction>"`` (direction ``"synchrony -> <measure>"``
        or ``"<measure> -> synchrony"``).
    signal : str
        ``"hbo"`` or ``"hbr"``.
    metric : str
        Synchrony metric, e.g. ``"wtc"``.

    Examples
    --------
    >>> str(ModelKey("growth", "hbo", "wtc"))
    'growth[hbo/wtc]'
    """

    model: str
    signal: str
    metric: str

    def __str__(self) -> str:
        return f"{self.model}[{self.signal}/{self.metric}]"

    @classmethod
    def of(cls, key: ModelKey | tuple[str, str, str]) -> ModelKey:
        """``key`` as a :class:`ModelKey`: itself, or built from a ``(model, signal,
        metric)`` tuple.

        Raises
        ------
        TypeError
            For anything else (a key is never parsed back from its text).
        """
        if isinstance(key, cls):
            return key
        if isinstance(key, tuple) and len(key) == 3 and all(isinstance(k, str) for k in key):
            return cls(*key)
        raise TypeError(f"not a model key (ModelKey or (model, signal, metric)): {key!r}")


def fit_key(model: str, signal: str, metric: str) -> ModelKey:
    """Key of a fitted model in :attr:`StudyResults.fits`.

    Parameters
    ----------
    model, signal, metric : str
        See :class:`ModelKey`.

    Returns
    -------
    ModelKey
        Its text is ``"growth[hbo/wtc]"``.
    """
    return ModelKey(model, signal, metric)


def _counts(frame: pd.DataFrame) -> str:
    """``"2 dyads, 4 dyad-sessions"`` for a table with ``dyad`` and ``session`` columns."""
    if not len(frame) or not {"dyad", "session"} <= set(frame.columns):
        return "no dyad-sessions"
    n_dyads = frame["dyad"].nunique()
    n_sessions = len(frame[["dyad", "session"]].drop_duplicates())
    return f"{n_dyads} dyad(s), {n_sessions} dyad-session(s)"


@dataclass
class SynchronyResults:
    """What the synchrony stage produced.

    Attributes
    ----------
    synchrony : pandas.DataFrame
        One row per dyad x session x channel pair x signal x pairing x metric.
    qc : pandas.DataFrame
        One row per recording x channel.
    steps : dict
        Recording file -> the preprocessing chain applied to it.
    summaries : dict
        Optional summaries by name (``"windows"``, ``"lags"``, ``"roi"``), each a
        DataFrame written to ``synchrony_<name>.parquet``.
    task_seconds : dict
        Stage name -> seconds its tasks ran, summed over tasks (embedded scheduler).
    retained : pandas.DataFrame
        The data each dyad-session contributed (see
        :func:`~interbrain.retained.data_retained`).
    """

    synchrony: pd.DataFrame
    qc: pd.DataFrame
    steps: dict
    summaries: dict
    task_seconds: dict = field(default_factory=dict)
    retained: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_frame(self) -> pd.DataFrame:
        """The synchrony table (``synchrony.parquet``).

        Returns
        -------
        pandas.DataFrame
        """
        return self.synchrony

    def summary(self) -> str:
        """A few lines: the pairings and channel pairs analysed, bad channels.

        Returns
        -------
        str
        """
        sync, qc = self.synchrony, self.qc
        real = sync[sync["pairing"] == "real"] if "pairing" in sync.columns else sync
        pairings = (", ".join(f"{k} {n}" for k, n in
                              sync["pairing"].value_counts().sort_index().items())
                    if "pairing" in sync.columns else "none")
        n_bad = int(qc["bad"].sum()) if "bad" in qc.columns else 0
        return "\n".join([
            f"synchrony: {len(sync)} rows; real pairings: {_counts(real)}",
            f"rows per pairing: {pairings}",
            f"quality control: {n_bad} of {len(qc)} channel recordings excluded",
            f"summaries: {', '.join(sorted(self.summaries)) or 'none'}"])


#: ``StudyResults`` attribute -> the Parquet file it is written to, when not empty
#: (the first five always are).
TABLE_FILES = {"synchrony": "synchrony.parquet", "qc": "qc.parquet",
               "sessions": "sessions.parquet", "models": "models.parquet",
               "retained": "retained.parquet", "slopes": "dyad_slopes.parquet",
               "null_summary": "null_summary.parquet", "null_tests": "null_tests.parquet",
               "excess": "excess.parquet"}
_ALWAYS_WRITTEN = ("synchrony", "qc", "sessions", "models", "retained")


@dataclass
class StudyResults:
    """Everything a run produced.

    Attributes
    ----------
    study : Study
        The study analysed.
    synchrony : pandas.DataFrame
        One row per dyad x session x channel pair x signal x pairing.
    qc : pandas.DataFrame
        One row per recording x channel.
    sessions : pandas.DataFrame
        Channel-pair-averaged synchrony per dyad, session, signal and pairing.
    models : pandas.DataFrame
        One row per model term (``models.parquet``).
    fits : dict
        :class:`ModelKey` -> fitted model, for figures (keys given as ``(model,
        signal, metric)`` tuples are made ModelKeys).
    real_vs_pseudo : dict
        ``(signal, metric)`` -> the real versus pseudo-dyad test.
    notes : list of str
        Models skipped for this design, and why.
    steps : dict
        Recording file -> the preprocessing chain applied to it.
    summaries : dict
        Optional synchrony summaries (per window, lag, region) by name.
    timings : dict
        Stage -> wall time in seconds.
    slopes, null_summary, null_tests : pandas.DataFrame
        Per-dyad growth slopes, real synchrony against each kind of null, and the
        dyad-level tests against them (see
        :class:`~interbrain.stats.study_models.ModelResults`).
    retained : pandas.DataFrame
        The data each dyad-session contributed (``retained.parquet``; see
        :func:`~interbrain.retained.data_retained`).
    excess : pandas.DataFrame
        Real synchrony, its null and their difference per dyad-session, the data of
        the plasticity tests (``excess.parquet``; see
        :attr:`~interbrain.stats.study_models.ModelResults.excess`).
    """

    study: Study
    synchrony: pd.DataFrame
    qc: pd.DataFrame
    sessions: pd.DataFrame
    models: pd.DataFrame
    fits: dict = field(default_factory=dict)
    real_vs_pseudo: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    steps: dict = field(default_factory=dict)
    summaries: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    slopes: pd.DataFrame = field(default_factory=pd.DataFrame)
    null_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    null_tests: pd.DataFrame = field(default_factory=pd.DataFrame)
    retained: pd.DataFrame = field(default_factory=pd.DataFrame)
    excess: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        self.fits = {ModelKey.of(key): fit for key, fit in self.fits.items()}

    @classmethod
    def from_stages(cls, study: Study, stage: SynchronyResults, stats: ModelResults,
                    timings: dict | None = None) -> StudyResults:
        """The results of a run from those of its two stages.

        Parameters
        ----------
        study : Study
        stage : SynchronyResults
            The synchrony stage's.
        stats : ModelResults
            The statistics stage's (:func:`~interbrain.stats.study_models.fit_models`);
            its fits, keyed by ``(model, signal, metric)``, are kept by
            :class:`ModelKey`.
        timings : dict, optional
            Stage -> wall time in seconds (kept, not copied: the caller may add to it).

        Returns
        -------
        StudyResults
        """
        return cls(study=study, synchrony=stage.synchrony, qc=stage.qc,
                   sessions=stats.sessions, models=stats.models, fits=dict(stats.fits),
                   real_vs_pseudo=stats.tests, notes=list(stats.notes), steps=stage.steps,
                   summaries=stage.summaries,
                   timings=timings if timings is not None else {},
                   slopes=stats.slopes, null_summary=stats.null_summary,
                   null_tests=stats.null_tests, retained=stage.retained,
                   excess=stats.excess)

    def fit(self, model: str, signal: str, metric: str):
        """The fitted model ``model`` of ``signal`` and ``metric``, or None.

        Parameters
        ----------
        model, signal, metric : str
            See :class:`ModelKey`.

        Returns
        -------
        LmerResult or None
        """
        return self.fits.get(ModelKey(model, signal, metric))

    def fits_of(self, model: str) -> dict:
        """Every fit of ``model`` (e.g. ``"growth"``), by :class:`ModelKey`, in key order.

        Returns
        -------
        dict
        """
        return {key: fit for key, fit in sorted(self.fits.items()) if key.model == model}

    def tables(self) -> dict[str, pd.DataFrame]:
        """The Parquet tables of the results folder: file name -> table.

        ``synchrony``, ``qc``, ``sessions``, ``models`` and ``retained`` always;
        ``dyad_slopes``, ``null_summary``, ``null_tests`` and ``excess`` when not empty; each
        synchrony summary as ``synchrony_<name>.parquet``.

        Returns
        -------
        dict
        """
        out = {}
        for name, file in TABLE_FILES.items():
            frame = getattr(self, name)
            if name in _ALWAYS_WRITTEN or len(frame):
                out[file] = frame
        for name, frame in self.summaries.items():
            out[f"synchrony_{name}.parquet"] = frame
        return out

    def preprocessing_record(self) -> str:
        """``preprocessing.json``: the preprocessing and analysis settings and every
        recording's chain.

        Returns
        -------
        str
            JSON text.
        """
        return json.dumps({"preprocessing": asdict(self.study.preprocessing),
                           "recordings": self.steps,
                           "analysis": asdict(self.study.analysis)}, indent=2, default=str)

    def to_frame(self) -> pd.DataFrame:
        """The model table (``models.parquet``): one row per model term or test.

        Returns
        -------
        pandas.DataFrame
        """
        return self.models

    def summary(self) -> str:
        """A few lines: the data analysed, the models fitted, how many notes.

        Returns
        -------
        str
        """
        real = self.sessions[self.sessions["pairing"] == "real"] \
            if "pairing" in self.sessions.columns else self.sessions
        models = (sorted(set(self.models["model"])) if "model" in self.models.columns
                  else [])
        lines = [f"study {self.study.name}: {_counts(real)} analysed",
                 f"models: {', '.join(models) or 'none'} ({len(self.models)} rows)",
                 f"fits: {', '.join(map(str, sorted(self.fits))) or 'none'}"]
        if self.notes:
            lines.append(f"notes: {len(self.notes)} (models skipped or qualified; see "
                         "StudyResults.notes)")
        return "\n".join(lines)
