"""Reading fNIRS recordings into MNE ``Raw`` objects.

:func:`read_recording` dispatches on the file type (SNIRF files, NIRx raw folders,
Homer ``.nirs`` files, tables of preprocessed HbO/HbR, BIDS fNIRS files) and turns
every reader failure into a :class:`~interbrain.errors.RecordingError` that names
the file and the problem. :func:`bids_sessions` lists the recordings of a
hyperscanning BIDS dataset (convention in :mod:`interbrain.io.bids`).
"""

from .bids import bids_sessions, read_bids_recording
from .homer import read_homer
from .recording import (EXTENSIONS, SUPPORTED_FORMATS, check_snirf, read_recording,
                        recording_sidecars)
from .table import read_table

__all__ = ["read_recording", "SUPPORTED_FORMATS", "EXTENSIONS", "check_snirf", "read_homer",
           "read_table", "bids_sessions", "read_bids_recording", "recording_sidecars"]
