"""The manifest of a results folder (``manifest.json``): what a run wrote, from what.

A manifest lists every file of a run (path relative to the results folder, SHA-256,
size), the interbrain version, the run's id, a description of the study with one
digest of its whole content (:func:`describe_study`), the settings, and the start and
end times (ISO 8601, UTC). :class:`~interbrain.engine.run_directory.RunDirectory`
writes it last, when the run's results are moved into place; the next run on the
folder reads it to know which files it may remove (:func:`listed_files`,
:func:`unchanged`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from datetime import datetime, timezone
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import __version__
from ..io import recording_sidecars
from .cache import file_digest

#: Name of the manifest in the results folder.
MANIFEST = "manifest.json"
_CHUNK = 1 << 20


def iso_utc(moment: datetime) -> str:
    """``moment`` in ISO 8601, UTC, to the second.

    Parameters
    ----------
    moment : datetime
        Timezone-aware.

    Returns
    -------
    str
        E.g. ``"2026-11-30T16:43:38Z"``.
    """
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_of(path: str | Path) -> str:
    """SHA-256 hex digest of the bytes of file ``path``, as ``sha256sum`` prints it.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    str
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def jsonable(value: Any, root: Path | None = None) -> Any:
    """``value`` as a JSON value: dataclasses as objects, tuples as lists, paths as text.

    Parameters
    ----------
    value : object
    root : Path, optional
        Paths are written relative to it.

    Returns
    -------
    object
        Made of dicts, lists, strings, numbers, booleans and None; anything else
        becomes its ``str``.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name), root)
                for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v, root) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, root) for v in value]
    if isinstance(value, Path):
        return os.path.relpath(value, root) if root is not None else str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def recording_inputs(path: str | Path) -> list[Path]:
    """The inputs of one recording: the recording (file, or NIRx folder) and its
    sidecars (:func:`~interbrain.io.recording_sidecars`)."""
    return [Path(path), *recording_sidecars(path)]


def input_files(study) -> list[Path]:
    """Every input a run of ``study`` reads: each recording (file, or NIRx folder) in
    path order, each followed by its sidecars (:func:`~interbrain.io.recording_sidecars`),
    each once.

    Parameters
    ----------
    study : Study

    Returns
    -------
    list of Path
    """
    refs = [ref for s in study.sessions for ref in (s.therapist, s.patient)]
    refs += [ref for g in study.generalisation for ref in (g.patient, g.other)]
    files = [f for path in sorted({ref.path for ref in refs}) for f in recording_inputs(path)]
    return list(dict.fromkeys(files))


def input_digest(path: str | Path) -> str:
    """The SHA-256 of one input: of a file's bytes, as ``sha256sum`` prints it
    (:func:`sha256_of`); of a NIRx folder's files, names and bytes
    (:func:`~interbrain.engine.cache.file_digest`).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    str

    Raises
    ------
    OSError
        When it cannot be read.
    """
    return file_digest(path) if Path(path).is_dir() else sha256_of(path)


def describe_study(study, digests: Mapping[str, str] | None = None) -> dict:
    """The ``"study"`` entry of a manifest: name, folder, recordings and one digest.

    Parameters
    ----------
    study : Study
    digests : mapping, optional
        Input path (``str`` of an entry of :func:`input_files`) -> its
        :func:`input_digest`, already computed (a run hashes every input once and
        gives the digests to its tasks too); the inputs it lacks are hashed here.

    Returns
    -------
    dict
        ``name``, ``root``, ``recordings`` (path relative to the study folder ->
        :func:`input_digest`: the SHA-256 of the file's bytes, as ``sha256sum`` prints
        it; for a NIRx folder, :func:`~interbrain.engine.cache.file_digest` of its
        files; BIDS sidecars included; None for an input that cannot be read) and
        ``digest``: the SHA-256 of the study's whole content (settings,
        dyads, sessions, regions, therapists, measures and the recordings' digests),
        which two studies share exactly when a run of either reads the same inputs
        with the same settings. Recording paths are relative to the study folder, so
        moving the folder keeps the digest.
    """
    root = Path(study.root)
    digests = digests or {}
    recordings: dict[str, str | None] = {}
    for f in input_files(study):
        rel = os.path.relpath(f, root)
        if rel not in recordings:
            try:
                recordings[rel] = digests.get(str(f)) or input_digest(f)
            except OSError:   # the analysis reports an unreadable file itself
                recordings[rel] = None
    content = {name: jsonable(getattr(study, name), root)
               for name in ("name", "description", "analysis", "preprocessing", "statistics",
                            "dyads", "sessions", "generalisation", "regions", "therapists")}
    content["measures"] = study.measures.to_csv(index=False)
    for name in ("segments", "moments"):   # only when set: other studies keep their digest
        if getattr(study, name, None) is not None:
            content[name] = jsonable(getattr(study, name), root)
    text = json.dumps({"content": content, "recordings": recordings}, sort_keys=True)
    return {"name": study.name, "root": str(root), "recordings": recordings,
            "digest": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def file_entry(path: Path, rel: str) -> dict:
    """A manifest's entry of one file.

    Parameters
    ----------
    path : Path
        The file as it is now.
    rel : str
        Its path relative to the results folder, as the manifest lists it.

    Returns
    -------
    dict
        ``path``, ``sha256``, ``size``.
    """
    return {"path": rel, "sha256": sha256_of(path), "size": path.stat().st_size}


def build_manifest(*, run_id: str, started: datetime, study: dict, settings: dict,
                   files: list[dict]) -> dict:
    """The manifest of a run that finishes now.

    Parameters
    ----------
    run_id : str
    started : datetime
        When the run took the folder.
    study : dict
        :func:`describe_study`.
    settings : dict
        Anything :func:`jsonable` takes.
    files : list of dict
        :func:`file_entry` of every file of the run.

    Returns
    -------
    dict
    """
    return {"interbrain": __version__, "run_id": run_id, "started": iso_utc(started),
            "finished": iso_utc(datetime.now(timezone.utc)), "study": study,
            "settings": jsonable(settings), "files": files}


def read_manifest(folder: Path) -> dict | None:
    """The manifest of the last successful run in ``folder``, if any and readable.

    Parameters
    ----------
    folder : Path
        A results folder.

    Returns
    -------
    dict or None
    """
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def listed_files(manifest: dict | None, folder: Path, *, skip: tuple[str, ...] = ()
                 ) -> dict[str, dict]:
    """Files of ``manifest`` that lie inside ``folder``: relative path -> entry.

    Entries that are malformed, absolute, lead out of the folder (``..`` or through a
    link to another folder), or name the manifest itself or one of ``skip`` are left
    out, so that a damaged or hostile manifest never makes a run touch other files.

    Parameters
    ----------
    manifest : dict or None
    folder : Path
    skip : tuple of str
        Relative paths never listed (e.g. the lock file).

    Returns
    -------
    dict
    """
    entries = (manifest or {}).get("files")
    root = folder.resolve()
    files = {}
    for entry in entries if isinstance(entries, list) else []:
        rel = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(rel, str) or not rel or os.path.isabs(rel):
            continue
        rel = os.path.normpath(rel)
        if rel.startswith("..") or rel == MANIFEST or rel in skip:
            continue
        if not (folder / rel).parent.resolve().is_relative_to(root):
            continue   # through a link to another folder
        files[rel] = entry
    return files


def unchanged(path: Path, entry: dict) -> bool:
    """Whether file ``path`` is still as the manifest ``entry`` describes it.

    A changed file is logged (the run leaves it in place).

    Parameters
    ----------
    path : Path
    entry : dict
        Its manifest entry (``size``, ``sha256``).

    Returns
    -------
    bool
        False for a missing file, a link or an unreadable file too.
    """
    if not path.is_file() or path.is_symlink():
        return False
    try:
        same = (path.stat().st_size == entry.get("size")
                and sha256_of(path) == entry.get("sha256"))
    except OSError:
        return False
    if not same:
        logging.getLogger("interbrain").warning(
            "%s changed since the run that wrote it: left in place", path)
    return same
