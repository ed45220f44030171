"""Write what ``interbrain init`` found (:class:`~.scaffold.StudyScaffold`) as a study:
``study.toml`` (dyads and sessions, recording paths relative to it) and a
``measures.csv`` template (one row per dyad-session, empty measure columns).

Every id and path is written as a TOML basic string with every character TOML
requires escaped (quotes, backslashes, control characters), and into the CSV with
RFC 4180 quoting, so hostile names are data, never syntax. Both files are written to
temporary files beside them and renamed into place once both are complete; existing
files are refused unless ``force``.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from .._files import temporary_file
from .measures import STANDARD_MEASURES
from .scaffold import StudyScaffold

__all__ = ["toml_string", "study_toml_text", "measures_template_text", "write_scaffold"]

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string, quotes included.

    Quotation marks, backslashes and every control character (U+0000-U+001F, U+007F)
    are escaped; any other character is written as it is (the file is UTF-8).

    Raises
    ------
    ValueError
        If ``text`` holds a lone surrogate (not writable as UTF-8).

    Examples
    --------
    >>> print(toml_string('say "hi" \\\\ bye'))
    "say \\"hi\\" \\\\ bye"
    """
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        elif 0xD800 <= ord(char) <= 0xDFFF:
            raise ValueError(f"{text!r} is not valid Unicode text (a lone surrogate)")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _relative(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` (``/``-separated)."""
    return Path(os.path.relpath(Path(path).resolve(), folder.resolve())).as_posix()


def _comment(text: str) -> str:
    """One TOML comment line (line breaks in ``text`` become spaces)."""
    return "# " + " ".join(text.split())


def study_toml_text(found: StudyScaffold, study_file: Path) -> str:
    """The text of ``study.toml`` for ``found``, to be written at ``study_file``.

    Dyads and dyad-sessions without a problem are written as ``[[dyads]]`` and
    ``[[sessions]]`` (paths relative to ``study_file``'s folder); sessions with a
    problem (e.g. rates that are not integer multiples) are written commented out
    below the problem; placeholder ids get a comment saying so.
    """
    folder = Path(study_file).parent
    usable = found.usable
    active = {s.dyad for s in usable}
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [_comment(f"Written by interbrain {__version__} init on {stamp} from "
                      f"{found.data} ({found.source})."),
             "# Check the ids and sessions; see docs/study-format.md for the settings.",
             "", "[study]", f"name = {toml_string(Path(found.data).resolve().name or 'study')}",
             ""]
    for dyad in found.dyads:
        if dyad.id not in active:
            continue
        lines += ["[[dyads]]", f"id = {toml_string(dyad.id)}",
                  f"therapist = {toml_string(dyad.therapist)}"
                  + ("  # placeholder: give the dyads of one therapist the same id"
                     if dyad.therapist_placeholder else ""),
                  f"patient = {toml_string(dyad.patient)}"
                  + ("  # placeholder" if dyad.patient_placeholder else ""), ""]
    for s in found.sessions:
        entry = ["[[sessions]]", f"dyad = {toml_string(s.dyad)}", f"session = {s.session}",
                 f"therapist = {toml_string(_relative(s.therapist, folder))}",
                 f"patient = {toml_string(_relative(s.patient, folder))}"]
        if s.problem or s.dyad not in active:
            lines.append(_comment(f"not analysable as it is: {s.problem}"))
            entry = ["# " + line for line in entry]
        lines += entry + [""]
    return "\n".join(lines)


def measures_template_text(found: StudyScaffold) -> str:
    """A ``measures.csv`` template: ``dyad, session`` of every dyad-session written
    to ``study.toml`` and empty columns of the standard measures
    (:data:`~interbrain.study.measures.STANDARD_MEASURES`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["dyad", "session", *STANDARD_MEASURES])
    for s in found.usable:
        writer.writerow([s.dyad, s.session, *[""] * len(STANDARD_MEASURES)])
    return buffer.getvalue()


def write_scaffold(found: StudyScaffold, study_file: str | os.PathLike, *,
                   force: bool = False) -> tuple[Path, Path]:
    """Write ``study.toml`` and ``measures.csv`` (beside it) for ``found``.

    Parameters
    ----------
    found : StudyScaffold
    study_file : path-like
        Where ``study.toml`` goes (any name); ``measures.csv`` goes beside it. Its
        folder is created if missing.
    force : bool
        Replace existing files; otherwise they are refused.

    Returns
    -------
    study_file, measures_file : Path

    Raises
    ------
    ValueError
        When nothing analysable was found.
    FileExistsError
        When either file exists and not ``force`` (naming it); nothing is written.
    OSError
        When writing fails; neither file is then replaced.
    """
    study_file = Path(study_file)
    measures_file = study_file.parent / "measures.csv"
    if not found.usable:
        raise ValueError(f"{found.data}: no dyad-session with both recordings found; "
                         "nothing written")
    if not force:
        for path in (study_file, measures_file):
            if path.exists():
                raise FileExistsError(f"{path}: exists; pass --force to replace it")
    study_file.parent.mkdir(parents=True, exist_ok=True)
    texts = {study_file: study_toml_text(found, study_file),
             measures_file: measures_template_text(found)}
    staged: dict[Path, Path] = {}
    try:
        for path, text in texts.items():
            tmp = temporary_file(path.parent, f".{path.name}.")
            staged[path] = tmp
            tmp.write_text(text, encoding="utf-8")
        for path, tmp in staged.items():
            os.replace(tmp, path)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
    return study_file, measures_file
