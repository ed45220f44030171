"""Loading a study folder: ``study.toml`` (and its ``measures.csv``) into a :class:`Study`.

:func:`load_study` reads ``study.toml``, has each stage's settings class check its
own table (``[analysis]``: :meth:`AnalysisSettings.from_table
<interbrain.synchrony.settings.AnalysisSettings.from_table>`, ``[preprocessing]``,
``[statistics]``, ``[engine]``), the entries of :mod:`.entries` check the dyads,
therapists, sessions, generalisation recordings and regions, and
:func:`~.measures.load_measures` the measures; then it checks what ties them
together (every dyad has sessions, covariates are defined once, summaries that need
``[regions]`` have it).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pandas as pd

from .._check import check_keys
from ..design import Dyad
from ..errors import StudyError
from ..preprocessing.settings import PreprocessingSettings
from ..stats.settings import StatisticsSettings
from ..synchrony.settings import AnalysisSettings
from .entries import (parse_dyads, parse_generalisation, parse_regions, parse_sessions,
                      parse_therapists)
from .inputs import analysed_signals, parse_defaults
from .design_sessions import parse_design_sessions
from .measures import load_measures
from .segments import parse_moments, parse_segments
from .model import EngineSettings, Study

#: The tables ``study.toml`` may have.
TABLES: tuple[str, ...] = ("study", "analysis", "preprocessing", "statistics", "engine",
                           "regions", "dyads", "therapists", "sessions", "generalisation",
                           "segments", "moments", "defaults")


def _nul_key(value, key: str = "") -> str | None:
    """The dotted key of the first string of a TOML document that holds a NUL."""
    if isinstance(value, str):
        return key if "\x00" in value else None
    items = (value.items() if isinstance(value, dict)
             else enumerate(value) if isinstance(value, list) else ())
    for k, v in items:
        found = _nul_key(v, f"{key}[{k}]" if isinstance(k, int) else
                         (f"{key}.{k}" if key else str(k)))
        if found is not None:
            return found
    return None


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{path}: not valid TOML: {exc}") from None
    key = _nul_key(doc)
    if key is not None:   # no file or name may hold one (os functions refuse it)
        raise StudyError(f"{path}: {key} holds a NUL character (\\u0000); remove it")
    return doc


def load_study(path: str | Path, *,
               design_sessions: Iterable[tuple[str, int]] | None = None) -> Study:
    """Load and validate a study.

    Parameters
    ----------
    path : str or Path
        A study folder (holding ``study.toml`` and optionally ``measures.csv``) or the
        ``study.toml`` file itself.
    design_sessions : iterable of (str, int), optional
        Statistics only (a synchrony table computed elsewhere, ``interbrain stats``):
        ``[[sessions]]`` then need no recordings (:func:`~.design_sessions.
        parse_design_sessions`), and these dyad-sessions (the table's) are added.

    Returns
    -------
    Study

    Raises
    ------
    StudyError
        Naming the file, the entry or line, and the field of the first problem found.
    """
    path = Path(path)
    toml_path = path / "study.toml" if path.is_dir() else path
    if not toml_path.exists():
        raise StudyError(f"{toml_path}: no study file here (a study folder needs a "
                         "study.toml; see docs/study-format.md)")
    root = toml_path.parent.resolve()
    doc = _read_toml(toml_path)
    where = str(toml_path)
    check_keys(doc, TABLES, where, StudyError)
    meta = doc.get("study", {})
    if not isinstance(meta, dict):
        raise StudyError(f"{where}: [study] must be a table")
    check_keys(meta, {"name", "description"}, f"{where}: [study]", StudyError)
    analysis = AnalysisSettings.from_table(doc.get("analysis"), f"{where}: [analysis]")
    preprocessing = PreprocessingSettings.from_table(doc.get("preprocessing"),
                                                     f"{where}: [preprocessing]")
    dyads = parse_dyads(doc.get("dyads"), where)
    if design_sessions is None:
        sessions = parse_sessions(doc.get("sessions"), root, {d.id for d in dyads}, where,
                                  parse_defaults(doc.get("defaults"), where))
    else:   # statistics only: no recording is read (interbrain stats)
        sessions = parse_design_sessions(doc.get("sessions"), {d.id for d in dyads}, where,
                                         design_sessions)
    missing = sorted({d.id for d in dyads} - {s.dyad for s in sessions})
    if missing:
        raise StudyError(f"{where}: dyad(s) {', '.join(missing)} have no [[sessions]] entry")
    regions = parse_regions(doc.get("regions"), where)
    statistics = StatisticsSettings.from_table(doc.get("statistics"), f"{where}: [statistics]")
    therapists = parse_therapists(doc.get("therapists"), {d.therapist for d in dyads}, where)
    engine = EngineSettings.from_table(doc.get("engine"), f"{where}: [engine]")
    generalisation = parse_generalisation(doc.get("generalisation"), root, dyads, where)
    analysis = analysed_signals(doc.get("analysis"), analysis, sessions, generalisation,
                                where)
    segments = parse_segments(doc.get("segments"), root, sessions, where)
    moments = parse_moments(doc.get("moments"), where)
    if engine.cache:
        engine = replace(engine, cache=str((root / engine.cache).resolve()))
    if statistics.pairwise_unit == "region" and statistics.pairwise and not regions:
        raise StudyError(f"{where}: [statistics]: pairwise_unit = \"region\" needs a [regions] "
                         "table mapping channels to regions of interest")
    if analysis.roi != "none" and not regions:
        raise StudyError(f"{where}: [analysis]: roi = {analysis.roi!r} needs a [regions] "
                         "table mapping channels to regions of interest")
    measures_path = root / "measures.csv"
    if measures_path.exists():
        measures = load_measures(measures_path, sessions)
    else:
        measures = pd.DataFrame({"dyad": pd.Series(dtype=str),
                                 "session": pd.Series(dtype=int)})
    _check_covariates(statistics, therapists, dyads, measures, where)
    _check_primary(statistics, analysis, regions, measures, where)
    return Study(root=root, name=str(meta.get("name", root.name)),
                 description=str(meta.get("description", "")), analysis=analysis,
                 preprocessing=preprocessing, dyads=dyads, sessions=sessions,
                 measures=measures, regions=regions, statistics=statistics,
                 therapists=therapists, engine=engine, generalisation=generalisation,
                 segments=segments, moments=moments)


def _check_primary(statistics: StatisticsSettings, analysis, regions: dict,
                   measures: pd.DataFrame, where: str) -> None:
    """``[statistics.primary]`` names a signal, metric, region and measures of the study."""
    at = f"{where}: [statistics.primary]"
    primary = statistics.primary
    for name, value, options in (("signal", primary.signal, analysis.signals),
                                 ("metric", primary.metric, analysis.metrics)):
        if value and value not in options:
            raise StudyError(f"{at}: {name} {value!r} is not analysed; [analysis] "
                             f"{name}s are {list(options)}")
    if primary.region and primary.region not in set(regions.values()):
        raise StudyError(f"{at}: region {primary.region!r} is not a region of [regions] "
                         f"({sorted(set(regions.values())) or 'none defined'})")
    outcome_measures = [c for c in measures.columns if c not in ("dyad", "session")
                        and c not in statistics.covariates]
    unknown = [m for m in primary.measures if m not in outcome_measures]
    if unknown:
        raise StudyError(f"{at}: measure(s) {unknown} are not outcome measures of "
                         f"measures.csv ({outcome_measures or 'none'})")
    for pair in statistics.dissociation:
        unknown = [m for m in pair if m not in outcome_measures]
        if unknown:
            raise StudyError(f"{where}: [statistics] dissociation {list(pair)}: measure(s) "
                             f"{unknown} are not outcome measures of measures.csv "
                             f"({outcome_measures or 'none'})")


def _check_covariates(statistics: StatisticsSettings, therapists: dict,
                      dyads: tuple[Dyad, ...], measures: pd.DataFrame, where: str) -> None:
    """Every covariate named in ``[statistics]`` is defined once, for every dyad."""
    at = f"{where}: [statistics]"
    for name in statistics.covariates:
        sources = []
        if any(name in c for c in therapists.values()):
            sources.append("[[therapists]]")
        if any(name in dict(d.covariates) for d in dyads):
            sources.append("[[dyads]] covariates")
            missing = [d.id for d in dyads if name not in dict(d.covariates)]
            if missing:
                raise StudyError(f"{at}: covariate {name!r} is missing for dyad(s) "
                                 f"{', '.join(missing)}")
        if name in measures.columns:
            sources.append("measures.csv")
        if not sources:
            raise StudyError(f"{at}: covariate {name!r} is not defined: give it in "
                             "[[therapists]], in the covariates of [[dyads]] or as a "
                             "measures.csv column")
        if len(sources) > 1:
            raise StudyError(f"{at}: covariate {name!r} is defined in several places "
                             f"({', '.join(sources)})")
