"""Quality control and preprocessing of one person's recording (MNE / MNE-NIRS).

The chain: raw intensity -> optical density -> scalp coupling index (bad channels)
-> TDDR motion correction -> modified Beer-Lambert law (HbO/HbR) -> band-pass.
"""

from .chain import Preprocessed, preprocess_recording
from .qc import channel_quality

__all__ = ["Preprocessed", "preprocess_recording", "channel_quality"]
