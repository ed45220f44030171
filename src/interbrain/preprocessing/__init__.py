"""Quality control and preprocessing of one person's recording (MNE / MNE-NIRS).

The chain: raw intensity -> optical density -> scalp coupling index (bad channels)
-> TDDR motion correction -> modified Beer-Lambert law (HbO/HbR) -> band-pass.
"""

from .chain import Preprocessed, preprocess_recording
from .qc import channel_quality
from .settings import PreprocessingSettings

__all__ = ["Preprocessed", "PreprocessingSettings", "preprocess_recording", "channel_quality"]
