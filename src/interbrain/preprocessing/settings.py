"""Settings of the preprocessing chain, as given in ``study.toml``'s ``[preprocessing]``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PreprocessingSettings:
    """Settings of the preprocessing chain (MNE / MNE-NIRS).

    Parameters
    ----------
    sci_threshold : float
        Channels whose scalp coupling index (0.7-1.5 Hz) is below this are bad.
    motion_correction : str
        ``"tddr"`` (temporal derivative distribution repair) or ``"none"``.
    ppf : float
        Partial pathlength factor of the modified Beer-Lambert law.
    l_freq, h_freq : float
        Band-pass edges in Hz of the haemoglobin signals (zero-phase 4th-order
        Butterworth).
    """

    sci_threshold: float = 0.7
    motion_correction: str = "tddr"
    ppf: float = 6.0
    l_freq: float = 0.01
    h_freq: float = 0.5

    def validate(self) -> "PreprocessingSettings":
        """Check every field; raise ValueError naming the first invalid one."""
        if not 0 <= self.sci_threshold <= 1:
            raise ValueError(f"field 'sci_threshold' must lie in [0, 1], got {self.sci_threshold}")
        if self.motion_correction not in ("tddr", "none"):
            raise ValueError("field 'motion_correction' must be 'tddr' or 'none', "
                             f"got {self.motion_correction!r}")
        if self.ppf <= 0:
            raise ValueError(f"field 'ppf' must be positive, got {self.ppf}")
        if not 0 < self.l_freq < self.h_freq:
            raise ValueError("fields 'l_freq' < 'h_freq' must be positive frequencies in Hz, "
                             f"got {self.l_freq} and {self.h_freq}")
        return self
