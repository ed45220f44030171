"""Find a study's dyad-sessions in a folder laid out by a pattern such as
``"{dyad}/ses-{session}/{role}.snirf"`` (``interbrain init --pattern``).

Placeholders: ``{dyad}`` and ``{role}`` (required), ``{session}`` (a whole number;
without it every dyad has session 1), ``{therapist}`` and ``{patient}`` (the persons'
ids). See :mod:`.scaffold` for what is found and checked.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from .._check import name_problem
from ..design import ROLES
from .scaffold import (ScaffoldDyad, ScaffoldSession, StudyScaffold, check_rates,
                       shown_path)

__all__ = ["PATTERN_FIELDS", "compile_pattern", "parse_roles", "scaffold_from_pattern"]

#: The placeholders of a folder pattern.
PATTERN_FIELDS: tuple[str, ...] = ("dyad", "session", "role", "therapist", "patient")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: Files a study folder holds besides recordings (never read as recordings).
_STUDY_FILES = ("study.toml", "measures.csv")


def compile_pattern(pattern: str) -> tuple[re.Pattern, tuple[str, ...]]:
    """The regular expression of a folder pattern and its placeholders.

    Parameters
    ----------
    pattern : str
        A path relative to the data folder with ``/`` between folders and
        placeholders among :data:`PATTERN_FIELDS` in braces, e.g.
        ``"{dyad}/ses-{session}/{role}.snirf"``. A placeholder used twice must read
        the same text both times.

    Returns
    -------
    regex : re.Pattern
        Matches a whole relative path (``/``-separated); a placeholder matches one or
        more characters other than ``/``.
    fields : tuple of str
        The placeholders used, in order of first use.

    Raises
    ------
    ValueError
        An unknown placeholder, a brace outside a placeholder, an absolute pattern or
        one with ``..``, or ``{dyad}`` or ``{role}`` missing.
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError("--pattern is empty; e.g. \"{dyad}/ses-{session}/{role}.snirf\"")
    if pattern.startswith("/") or ".." in pattern.split("/"):
        raise ValueError(f"--pattern {pattern!r}: must be relative to DATA, without '..'")
    parts, fields, pos = [], [], 0
    for match in _PLACEHOLDER.finditer(pattern):
        literal = pattern[pos:match.start()]
        name = match.group(1)
        if name not in PATTERN_FIELDS:
            raise ValueError(f"--pattern {pattern!r}: unknown placeholder {{{name}}}; "
                             "placeholders are " + ", ".join(f"{{{f}}}" for f in PATTERN_FIELDS))
        parts.append(re.escape(literal))
        parts.append(f"(?P={name})" if name in fields else f"(?P<{name}>[^/]+?)")
        if name not in fields:
            fields.append(name)
        pos = match.end()
    parts.append(re.escape(pattern[pos:]))
    literal_text = _PLACEHOLDER.sub("", pattern)
    if "{" in literal_text or "}" in literal_text:
        raise ValueError(f"--pattern {pattern!r}: a brace outside a placeholder")
    missing = [f"{{{f}}}" for f in ("dyad", "role") if f not in fields]
    if missing:
        raise ValueError(f"--pattern {pattern!r}: needs {' and '.join(missing)}")
    return re.compile("".join(parts)), tuple(fields)


def parse_roles(text: str | None) -> dict[str, str]:
    """The words of ``{role}`` for each role: ``"T=therapist,P=patient"`` ->
    ``{"T": "therapist", "P": "patient"}``; None: the words ``therapist`` and
    ``patient``.

    Raises
    ------
    ValueError
        A malformed item, a role other than therapist or patient, a word given twice,
        or a role without a word.
    """
    if text is None:
        return {role: role for role in ROLES}
    words: dict[str, str] = {}
    for item in text.split(","):
        word, sep, role = (part.strip() for part in item.partition("="))
        if not sep or not word or role not in ROLES:
            raise ValueError(f"--roles {text!r}: each item is WORD=therapist or "
                             f"WORD=patient, got {item.strip()!r}")
        if word in words:
            raise ValueError(f"--roles {text!r}: the word {word!r} is given twice")
        words[word] = role
    lacking = [role for role in ROLES if role not in words.values()]
    if lacking:
        raise ValueError(f"--roles {text!r}: no word for the {lacking[0]}")
    return words


def _id_problem(value: str, what: str) -> str | None:
    problem = name_problem(value)
    return None if problem is None else f"{what} {value!r} {problem}"


def _path_problem(path: Path) -> str | None:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not UTF-8 text (study.toml cannot name it)"
    return None


def scaffold_from_pattern(data: str | os.PathLike, pattern: str,
                          roles: dict[str, str] | None = None) -> StudyScaffold:
    """The dyad-sessions of a data folder laid out by a folder pattern.

    Parameters
    ----------
    data : path-like
        The data folder; the pattern is matched against every file's path relative
        to it (``study.toml`` and ``measures.csv`` aside).
    pattern : str
        See :func:`compile_pattern`.
    roles : dict, optional
        Word of ``{role}`` -> ``"therapist"`` or ``"patient"`` (:func:`parse_roles`);
        default the words themselves.

    Returns
    -------
    StudyScaffold
        Problems: files with the pattern's extension that it does not read (and
        why), unknown role words, session labels that are not whole numbers, ids
        that are not valid names, a dyad-session and role with several files, a
        dyad whose files name different therapists (or patients), a session with
        one partner's recording only, and the sampling-rate checks of
        :func:`check_rates`.

    Raises
    ------
    ValueError
        If ``data`` is not a folder or the pattern is invalid.
    """
    root = Path(data)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder")
    regex, fields = compile_pattern(pattern)
    words = roles or parse_roles(None)
    suffix = Path(_PLACEHOLDER.sub("x", pattern)).suffix.lower()
    found = StudyScaffold(data=root, source=f"pattern {pattern!r}")
    files: dict[tuple[str, int], dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    persons: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if path.name in _STUDY_FILES and path.parent == root:
            continue
        match = regex.fullmatch(rel)
        if match is None:
            if suffix and path.suffix.lower() == suffix:
                found.n_files += 1
                found.problems.append(f"{rel}: the pattern {pattern!r} does not read this "
                                      "file name (left out)")
            continue
        found.n_files += 1
        got = match.groupdict()
        why = _path_problem(path)
        role = words.get(got["role"])
        if why is None and role is None:
            why = (f"role {got['role']!r} is not one of the role words "
                   f"({', '.join(repr(w) for w in words)}; see --roles)")
        session = 1
        if why is None and "session" in got:
            label = got["session"]
            if not label.isdigit() or int(label) < 1:
                why = f"session {label!r} is not a positive whole number"
            else:
                session = int(label)
        for what in ("dyad", "therapist", "patient"):
            if why is None and what in got:
                why = _id_problem(got[what], f"{what} id")
        if why is not None:
            found.problems.append(f"{rel}: {why} (left out)")
            continue
        files[(got["dyad"], session)][role].append(path)
        for person in ("therapist", "patient"):
            if person in got:
                persons[got["dyad"]][person].add(got[person])
    bad_dyads = set()
    for dyad in sorted(persons):
        for person, ids in sorted(persons[dyad].items()):
            if len(ids) > 1:
                bad_dyads.add(dyad)
                found.problems.append(f"dyad {dyad!r}: its file names give several {person} "
                                      f"ids ({', '.join(sorted(map(repr, ids)))}); the dyad "
                                      "is left out")
    for (dyad, session), by_role in sorted(files.items()):
        if dyad in bad_dyads:
            continue
        where = f"dyad {dyad!r} session {session}"
        several = {r: p for r, p in by_role.items() if len(p) > 1}
        if several:
            for role, paths in sorted(several.items()):
                found.problems.append(f"{where}: {len(paths)} {role} recordings ("
                                      + ", ".join(shown_path(p, root) for p in paths)
                                      + "); the session is left out")
            continue
        lacking = [r for r in ROLES if r not in by_role]
        if lacking:
            (have,) = [r for r in ROLES if r in by_role]
            found.problems.append(f"{where}: only the {have}'s recording "
                                  f"({shown_path(by_role[have][0], root)}); the {lacking[0]}'s "
                                  "is missing (the session is left out)")
            continue
        found.sessions.append(ScaffoldSession(dyad, session, by_role["therapist"][0],
                                              by_role["patient"][0]))
    for dyad in sorted({s.dyad for s in found.sessions}):
        ids = {p: sorted(persons[dyad][p]) for p in ("therapist", "patient")}
        therapist = ids["therapist"][0] if ids["therapist"] else f"T_{dyad}"
        patient = ids["patient"][0] if ids["patient"] else f"P_{dyad}"
        if therapist == patient:
            found.problems.append(f"dyad {dyad!r}: therapist and patient have the same id "
                                  f"{therapist!r}; the dyad is left out")
            found.sessions = [s for s in found.sessions if s.dyad != dyad]
            continue
        found.dyads.append(ScaffoldDyad(dyad, therapist, patient,
                                        therapist_placeholder=not ids["therapist"],
                                        patient_placeholder=not ids["patient"]))
    check_rates(found)
    return found
