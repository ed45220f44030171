"""Read one person's fNIRS recording through MNE."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np

from ..errors import RecordingError

SUPPORTED_FORMATS = {
    ".snirf": "SNIRF (mne.io.read_raw_snirf)",
    "nirx": "NIRx raw folder (mne.io.read_raw_nirx)",
}

_RAW_TYPES = ("fnirs_cw_amplitude",)


def _format_of(path: Path) -> str:
    if path.is_dir():
        if any(path.glob("*.hdr")) or any(path.glob("*.wl1")):
            return "nirx"
        raise RecordingError(f"{path}: a folder, but not a NIRx raw folder (no .hdr file)")
    suffix = path.suffix.lower()
    if suffix in SUPPORTED_FORMATS:
        return suffix
    raise RecordingError(f"{path}: unsupported recording format '{suffix}'; supported: "
                         + ", ".join(SUPPORTED_FORMATS.values()))


def read_recording(path: str | Path) -> mne.io.BaseRaw:
    """Read a raw-intensity fNIRS recording of one person.

    Parameters
    ----------
    path : str or Path
        A ``.snirf`` file or a NIRx raw folder.

    Returns
    -------
    raw : mne.io.BaseRaw
        Preloaded continuous-wave intensities (channel type ``fnirs_cw_amplitude``),
        two wavelengths per source-detector pair, sampling rate in Hz in
        ``raw.info["sfreq"]``.

    Raises
    ------
    RecordingError
        If the file is missing, not readable by MNE, holds no raw-intensity fNIRS
        channels, or holds NaN or infinite samples. The message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise RecordingError(f"{path}: recording file does not exist")
    fmt = _format_of(path)
    try:
        if fmt == ".snirf":
            raw = mne.io.read_raw_snirf(path, preload=True, verbose="ERROR")
        else:
            raw = mne.io.read_raw_nirx(path, preload=True, verbose="ERROR")
    except RecordingError:
        raise
    except Exception as exc:  # MNE/h5py raise many types for corrupt files
        raise RecordingError(f"{path}: cannot be read as {SUPPORTED_FORMATS[fmt]}: "
                             f"{type(exc).__name__}: {exc}") from None
    types = set(raw.get_channel_types())
    if not types & set(_RAW_TYPES):
        raise RecordingError(f"{path}: holds no raw-intensity fNIRS channels "
                             f"(channel types: {', '.join(sorted(types))})")
    data = raw.get_data()
    if not np.all(np.isfinite(data)):
        bad = np.flatnonzero(~np.isfinite(data).all(axis=1))
        names = [raw.ch_names[i] for i in bad[:5]]
        raise RecordingError(f"{path}: {int((~np.isfinite(data)).sum())} NaN or infinite "
                             f"samples in channel(s) {', '.join(names)}"
                             + (" ..." if len(bad) > 5 else ""))
    return raw
