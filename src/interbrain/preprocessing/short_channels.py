"""Short-separation channels: which they are, and their regression out of the long ones.

Short-channel regression (Saager & Berger, 2005) is MNE-NIRS's
:func:`~mne_nirs.signal_enhancement.short_channel_regression` (nearest good short
channel, least squares, on optical density), in :func:`nearest_short_regression`.
"""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
from mne.preprocessing.nirs import source_detector_distances
from scipy import linalg

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


def nearest_short_regression(raw_od: mne.io.BaseRaw, max_dist: float) -> mne.io.BaseRaw:
    """Regress the nearest short channel out of every long channel (Saager & Berger, 2005).

    MNE-NIRS's :func:`~mne_nirs.signal_enhancement.short_channel_regression`, step for
    step (the same channels, nearest short channel, least-squares gain and arithmetic,
    so bitwise the same values; ``tests/test_preprocessing_speed_equality.py``), with
    the samples read from the array once instead of through ``Raw.get_data`` twice per
    long channel (18 against 25 ms for a 50-minute recording), and without importing
    ``mne_nirs.signal_enhancement`` in every worker process (about 1.5 s beyond MNE).

    Parameters
    ----------
    raw_od : mne.io.BaseRaw
        Optical density; channels in ``info["bads"]`` are neither regressed nor used.
    max_dist : float
        Channels closer than this (metres) are short, farther ones long.

    Returns
    -------
    mne.io.BaseRaw
        A copy with the long channels regressed.

    Raises
    ------
    RuntimeError
        As MNE-NIRS: no optical density, no short or no long channel.
    """
    raw = raw_od.copy()
    picks_od = mne.pick_types(raw.info, fnirs="fnirs_od")
    if len(picks_od) == 0:
        raise RuntimeError("Data must be optical density.")
    distances = source_detector_distances(raw.info)
    picks_short = picks_od[distances[picks_od] < max_dist]
    picks_long = picks_od[distances[picks_od] > max_dist]
    if len(picks_short) == 0:
        raise RuntimeError("No short channels present.")
    if len(picks_long) == 0:
        raise RuntimeError("No long channels present.")
    chs, data = raw.info["chs"], raw._data
    for pick in picks_long:
        dist = [linalg.norm(chs[pick]["loc"][:3] - chs[p_sh]["loc"][:3])
                for p_sh in picks_short]
        nearest = picks_short[np.argmin(dist)]
        a_l, a_s = data[pick].copy(), data[nearest].copy()
        alfa = np.dot(a_s, a_l) / np.dot(a_s, a_s)   # Scholkmann et al. (2014), eq. 27
        data[pick] = a_l - alfa * a_s                 # eq. 26
    return raw


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
    drop = [ch for ch in raw_od.ch_names if ch.split(" ")[0] in set(short) - set(good_short)]
    work = raw_od.copy().drop_channels(drop) if drop else raw_od
    # mne-nirs takes channels strictly closer than max_dist as short
    cutoff = float(np.nextafter(settings.short_channel_max_distance, np.inf))
    out = nearest_short_regression(work, max_dist=cutoff)
    steps.append({**base, "function": "mne_nirs.signal_enhancement.short_channel_regression",
                  "method": "nearest good short channel, least squares (Saager & Berger, 2005)",
                  "short_channels": short, "used_short_channels": good_short,
                  "bad_short_channels": dict(zip(short_qc.loc[short_qc["bad"], "channel"],
                                                 short_qc.loc[short_qc["bad"], "reason"]))})
    return out
