"""Exceptions raised by interbrain.

Every error about user input names the file (and, where it applies, the row and
field) it concerns, so that a researcher can fix the input without reading code.
"""

from __future__ import annotations


class InterbrainError(Exception):
    """Base class of all interbrain errors."""


class StudyError(InterbrainError, ValueError):
    """A study description (``study.toml``, ``measures.csv``) is invalid."""


class RecordingError(InterbrainError, ValueError):
    """A recording file cannot be read or holds unusable data."""


class OutputError(InterbrainError):
    """A result, cache or log file cannot be written (a full disk, no permission), or
    the results folder is in use by another run.

    Parameters
    ----------
    path : str
        The file or folder concerned.
    problem : str
        What went wrong, e.g. ``"cannot write: no space left on device"``.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(str(path), problem)
        self.path = str(path)
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


class WorkerError(InterbrainError):
    """A worker process of the run died (killed by a signal, e.g. the out-of-memory
    killer) before finishing its task."""
