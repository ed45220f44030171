"""Short-separation channels: which they are, and their regression out of the long ones.

Short-channel regression (Saager & Berger, 2005) uses MNE-NIRS's
:func:`~mne_nirs.signal_enhancement.short_channel_regression` (nearest good short
channel, least squares, on optical density).
"""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
from mne.preprocessing.nirs import source_detector_distances

from .settings import PreprocessingSettings


def short_pairs(raw: mne.io.BaseRaw, max_distance: float) -> list[str]:
    """Source-detector pairs of ``raw`` at most ``max_distance`` metres apart.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        fNIRS channels with optode positions.
    max_distance : float
        Largest source-detector distance of a short channel, in metres.

    Returns
    -------
    list of str
        Pair names (``"S1_D1"``) in channel order, each once.
    """
    dist = source_detector_distances(raw.info)
    return list(dict.fromkeys(ch.split(" ")[0] for ch, d in zip(raw.ch_names, dist)
                              if np.isfinite(d) and d <= max_distance))


def short_channel_step(raw_od: mne.io.BaseRaw, settings: PreprocessingSettings,
                        short: list[str], short_qc: pd.DataFrame, steps: list[dict]
                        ) -> mne.io.BaseRaw:
    """Regress good short channels out of the long channels (MNE-NIRS), or note why not.

    Parameters
    ----------
    raw_od : mne.io.BaseRaw
        Motion-corrected optical density, long and short channels.
    settings : PreprocessingSettings
    short : list of str
        The short pairs (:func:`short_pairs`).
    short_qc : pandas.DataFrame
        Their rows of quality control.
    steps : list of dict
        The chain's record, appended to.

    Returns
    -------
    mne.io.BaseRaw
        ``raw_od`` with the short channels regressed out of the long ones (or
        unchanged when skipped).
    """
    base = {"step": "short_channel_regression",
            "max_distance_m": settings.short_channel_max_distance}
    if not settings.short_channel_regression:
        steps.append({**base, "skipped": True, "reason": "short_channel_regression = false",
                      "short_channels": short})
        return raw_od
    if not short:
        steps.append({**base, "skipped": True, "reason": "the recording has no short channels"})
        return raw_od
    good_short = short_qc.loc[~short_qc["bad"], "channel"].tolist()
    if not good_short:
        steps.append({**base, "skipped": True, "reason": "every short channel is bad",
                      "short_channels": short,
                      "short_channel_reasons": dict(zip(short_qc["channel"],
                                                        short_qc["reason"]))})
        return raw_od
    from mne_nirs.signal_enhancement import short_channel_regression   # slow import

    drop = [ch for ch in raw_od.ch_names if ch.split(" ")[0] in set(short) - set(good_short)]
    work = raw_od.copy().drop_channels(drop) if drop else raw_od
    # mne-nirs takes channels strictly closer than max_dist as short
    cutoff = float(np.nextafter(settings.short_channel_max_distance, np.inf))
    out = short_channel_regression(work, max_dist=cutoff)
    steps.append({**base, "function": "mne_nirs.signal_enhancement.short_channel_regression",
                  "method": "nearest good short channel, least squares (Saager & Berger, 2005)",
                  "short_channels": short, "used_short_channels": good_short,
                  "bad_short_channels": dict(zip(short_qc.loc[short_qc["bad"], "channel"],
                                                 short_qc.loc[short_qc["bad"], "reason"]))})
    return out
