"""Reading fNIRS recordings into MNE ``Raw`` objects.

:func:`read_recording` dispatches on the file type (SNIRF files, NIRx raw folders)
and turns every reader failure into a :class:`~interbrain.errors.RecordingError`
that names the file.
"""

from .recording import read_recording, SUPPORTED_FORMATS

__all__ = ["read_recording", "SUPPORTED_FORMATS"]
