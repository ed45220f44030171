"""The entry point: :func:`validate_study`."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import StudyError
from ..study import Study, load_study, read_measures_csv
from .headers import read_headers
from .report import ValidationReport
from .segments import check_segments
from .timing import check_pairings


def _study_files(path: Path) -> tuple[Path, Path]:
    toml = path / "study.toml" if path.is_dir() else path
    return toml, toml.parent.resolve() / "measures.csv"


def validate_study(study: Study | str | os.PathLike) -> ValidationReport:
    """Check a study without analysing it.

    Parameters
    ----------
    study : Study or path-like
        A loaded study, or a study folder (or its ``study.toml``), which is then
        loaded here: a problem of ``study.toml`` or ``measures.csv`` is reported (the
        first of each file; ``measures.csv`` is checked for its encoding, separator
        and header even when ``study.toml`` is invalid) and, without a study, the
        recordings are not checked.

    Returns
    -------
    ValidationReport
        ``problems`` lists every problem found, each naming its file(s); empty when
        the study can be analysed as far as can be told without analysing signals.

    Notes
    -----
    Recordings are read one at a time and dropped (a one-device dyad's file kept for
    its second role): NIRx folders as MNE reads them with ``preload=False``, files
    whole (plain SNIRF files by interbrain's reader, equal to MNE's; others by MNE or
    interbrain's Homer and table readers); nothing is preprocessed and nothing is
    written. See the module docstring for the list of checks.
    """
    if isinstance(study, Study):
        report = ValidationReport(root=study.root, study=study)
    else:
        path = Path(study)
        toml, measures = _study_files(path)
        report = ValidationReport(root=toml.parent.resolve())
        try:
            report.study = load_study(path)
        except StudyError as exc:
            message = str(exc)
            in_measures = message.startswith(str(measures))
            report.add(message, measures if in_measures else toml)
            if not in_measures and measures.is_file():
                try:
                    read_measures_csv(measures)
                except StudyError as csv_exc:
                    report.add(str(csv_exc), measures)
            return report
    read_headers(report.study, report)
    check_pairings(report.study, report)
    check_segments(report.study, report)
    return report
