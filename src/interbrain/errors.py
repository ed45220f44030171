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
