"""Per-channel quality control of fNIRS recordings."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
from mne.preprocessing.nirs import scalp_coupling_index


def pair_names(raw: mne.io.BaseRaw) -> list[str]:
    """Source-detector pair names (``"S1_D1"``), one per pair, in channel order."""
    return list(dict.fromkeys(name.split(" ")[0] for name in raw.ch_names))


def channel_quality(raw_od: mne.io.BaseRaw, *, sci_threshold: float = 0.7,
                    l_freq: float = 0.7, h_freq: float = 1.5) -> pd.DataFrame:
    """Quality of each source-detector pair of an optical-density recording.

    Parameters
    ----------
    raw_od : mne.io.BaseRaw
        Optical density (channel type ``fnirs_od``), two wavelengths per pair.
    sci_threshold : float
        Pairs whose scalp coupling index is below this are marked bad.
    l_freq, h_freq : float
        Cardiac band in Hz used by the scalp coupling index (Pollonini et al., 2014).

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``channel``, ``sci`` (correlation of the two wavelengths in
        the cardiac band), ``bad`` (bool) and ``reason`` ("" for good channels,
        "flat" or "low scalp coupling").
    """
    data = raw_od.get_data()
    flat_rows = np.std(data, axis=1) < 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        sci = scalp_coupling_index(raw_od, l_freq=l_freq, h_freq=h_freq, verbose="ERROR")
    rows = []
    for k, name in enumerate(pair_names(raw_od)):
        idx = [i for i, ch in enumerate(raw_od.ch_names) if ch.split(" ")[0] == name]
        value = float(np.nanmin(sci[idx])) if np.any(np.isfinite(sci[idx])) else np.nan
        if flat_rows[idx].any():
            reason = "flat"
        elif not np.isfinite(value) or value < sci_threshold:
            reason = "low scalp coupling"
        else:
            reason = ""
        rows.append({"channel": name, "sci": value, "bad": bool(reason), "reason": reason})
    return pd.DataFrame(rows)
