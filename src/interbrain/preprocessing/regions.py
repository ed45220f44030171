"""Channel positions and regions: nearest 10-20 / 10-10 label of every channel.

A channel's position is the midpoint of its source and detector, in metres in
MNE's head coordinates (origin midway between the pre-auricular points, +x to the
right pre-auricular point, +y to the nasion, +z up). Its montage region is the
label of the nearest position of a standard montage (by default MNE's 10-20
montage with the 10-10 positions of the Colin27 head), brought into the same head
coordinates and scaled to the recording's fiducials when the recording has them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from functools import lru_cache

import mne
import numpy as np
import pandas as pd
from mne.io.constants import FIFF

from .qc import pair_names

__all__ = ["channel_positions", "regions_from_montage", "resolve_regions"]

#: Old names duplicating 10-10 positions (T3 = T7 ...) and non-scalp reference sites,
#: never used as a channel's region.
EXCLUDED_LABELS = frozenset({"T3", "T4", "T5", "T6", "M1", "M2", "A1", "A2"})

#: MNE >= 1.13 renamed the 10-20 / 10-05 montages of the Colin27 head.
_RENAMED = {"standard_1020": "colin27_1020", "standard_1005": "colin27_1005"}

_PAIR = re.compile(r"^S(\d+)_D(\d+)$")


def _midpoints(raw: mne.io.BaseRaw) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Pair names, source and detector positions and midpoints (NaN without positions),
    shape (n_pairs, 3) each, in channel order."""
    first: dict[str, int] = {}
    for i, ch in enumerate(raw.ch_names):
        first.setdefault(ch.split(" ")[0], i)
    names = pair_names(raw)
    chs = raw.info["chs"]
    loc = np.array([chs[first[name]]["loc"] for name in names], float).reshape(-1, 12)
    src, det = loc[:, 3:6], loc[:, 6:9]
    mid = 0.5 * (src + det)
    ok = np.all(np.isfinite(mid), axis=1) & np.any(src != 0, axis=1) & np.any(det != 0, axis=1)
    mid[~ok] = np.nan
    return names, src, det, mid


def channel_positions(raw: mne.io.BaseRaw) -> pd.DataFrame:
    """Source, detector and midpoint position of every source-detector pair.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        fNIRS recording (any fNIRS channel type); positions are read from each
        channel's ``loc`` (source ``loc[3:6]``, detector ``loc[6:9]``).

    Returns
    -------
    pandas.DataFrame
        One row per pair, in channel order: ``channel`` (``"S1_D1"``), ``source``
        and ``detector`` (optode numbers, -1 if the name is not ``S<n>_D<m>``),
        ``x``, ``y``, ``z`` (midpoint in metres, head coordinates; NaN when the
        recording has no positions).
    """
    names, _, _, mid = _midpoints(raw)
    rows = []
    for name, (x, y, z) in zip(names, mid):
        match = _PAIR.match(name)
        s, d = (int(match[1]), int(match[2])) if match else (-1, -1)
        rows.append({"channel": name, "source": s, "detector": d, "x": x, "y": y, "z": z})
    return pd.DataFrame(rows, columns=["channel", "source", "detector", "x", "y", "z"])


def _fiducials(info: mne.Info) -> dict[str, np.ndarray] | None:
    """Nasion, LPA and RPA of the recording in head coordinates, if all present."""
    idents = {FIFF.FIFFV_POINT_NASION: "nasion", FIFF.FIFFV_POINT_LPA: "lpa",
              FIFF.FIFFV_POINT_RPA: "rpa"}
    found = {}
    for d in info.get("dig") or []:
        if (d["kind"] == FIFF.FIFFV_POINT_CARDINAL and d["ident"] in idents
                and d["coord_frame"] == FIFF.FIFFV_COORD_HEAD):
            found[idents[d["ident"]]] = np.asarray(d["r"], float)
    return found if len(found) == 3 else None


@lru_cache(maxsize=4)
def _standard_positions(montage: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Electrode and fiducial positions of a standard montage in head coordinates (read
    once per process; the caller must not change them)."""
    name = montage
    if name in _RENAMED and _RENAMED[name] in mne.channels.get_builtin_montages():
        name = _RENAMED[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        dig = mne.channels.make_standard_montage(name)
    dig = mne.channels.montage.transform_to_head(dig)
    pos = dig.get_positions()
    fids = {k: np.asarray(pos[k], float) for k in ("nasion", "lpa", "rpa")}
    return pos["ch_pos"], fids


@lru_cache(maxsize=4)
def _standard_labels(montage: str) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """The labels a channel may get, their positions (n_labels, 3) and the fiducials
    (read once per process; the caller must not change them)."""
    ch_pos, fids = _standard_positions(montage)
    labels = [k for k in ch_pos if k not in EXCLUDED_LABELS]
    xyz = np.array([ch_pos[k] for k in labels])
    xyz.flags.writeable = False
    return labels, xyz, fids


def regions_from_montage(raw: mne.io.BaseRaw, montage: str = "standard_1020", *,
                         max_distance: float = 0.03) -> dict[str, str]:
    """The nearest standard (10-20 / 10-10) position's label of every channel.

    The standard montage (:func:`mne.channels.make_standard_montage`; MNE's
    ``"standard_1020"``, renamed ``"colin27_1020"`` in MNE 1.13, holds 10-20 and
    10-10 positions) is transformed to head coordinates with its own fiducials.
    When the recording has fiducials (nasion, LPA, RPA in ``info["dig"]``), the
    standard positions are scaled along x by the ratio of the inter-auricular
    distances, along y by the ratio of the nasion distances and along z by the
    geometric mean of the two, so that both heads share their fiducials. Each
    channel's midpoint (see :func:`channel_positions`) gets the label of the
    nearest standard position (old aliases T3/T4/T5/T6 and the reference sites
    M1/M2/A1/A2 are left out).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        fNIRS recording with optode positions in head coordinates.
    montage : str
        Name of an MNE standard montage.
    max_distance : float
        Largest distance in metres allowed between a channel and its nearest
        standard position; farther channels mean that the recording's positions
        are not on a head in head coordinates.

    Returns
    -------
    dict
        Channel name (``"S1_D1"``) -> label (``"Fp1"``, ``"AF3"``, ...), in channel
        order.

    Raises
    ------
    ValueError
        If the recording has no optode positions, or a channel lies farther than
        ``max_distance`` from every standard position (the message names it).
    """
    names, _, _, mids = _midpoints(raw)
    missing = [name for name, row in zip(names, mids) if np.isnan(row).any()]
    if missing:
        raise ValueError(f"the recording has no optode positions for channel(s) "
                         f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}; "
                         "cannot derive regions from a montage; give the regions in "
                         "study.toml's [regions] table instead")
    labels, xyz, fids = _standard_labels(montage)
    theirs = _fiducials(raw.info)
    if theirs is not None:
        sx = (theirs["rpa"][0] - theirs["lpa"][0]) / (fids["rpa"][0] - fids["lpa"][0])
        sy = theirs["nasion"][1] / fids["nasion"][1]
        if sx > 0 and sy > 0:
            xyz = xyz * np.array([sx, sy, np.sqrt(sx * sy)])
    dist = np.linalg.norm(mids[:, None, :] - xyz[None, :, :], axis=2)
    nearest = dist.argmin(axis=1)
    gap = dist[np.arange(len(mids)), nearest]
    far = np.flatnonzero(gap > max_distance)
    if far.size:
        k = far[np.argmax(gap[far])]
        raise ValueError(
            f"channel {names[k]} lies {gap[k] * 1000:.0f} mm from the nearest "
            f"{montage} position ({len(far)} channel(s) farther than "
            f"{max_distance * 1000:.0f} mm): the recording's optode positions are not on "
            "a head in head coordinates (some vendor files store them in another "
            "frame); give the regions in study.toml's [regions] table instead")
    return {ch: labels[j] for ch, j in zip(names, nearest)}


def resolve_regions(channels: Iterable[str], user_regions: Mapping[str, str] | None,
                    raw: mne.io.BaseRaw | Mapping[str, str] | None = None
                    ) -> dict[str, str]:
    """The region of every channel: the user's mapping, else the montage's labels.

    Parameters
    ----------
    channels : iterable of str
        The recording's channel (pair) names, e.g. :attr:`Preprocessed.channels`.
    user_regions : mapping or None
        Channel -> region from ``study.toml``'s ``[regions]``. When given and not
        empty it is used as is (channels it leaves out get no region).
    raw : mne.io.BaseRaw or mapping or None
        Used when there is no user mapping: a recording with positions (labels from
        :func:`regions_from_montage`) or an already derived channel -> label mapping
        (e.g. :attr:`Preprocessed.regions`).

    Returns
    -------
    dict
        Channel -> region, for channels of ``channels`` only; empty when neither a
        user mapping nor ``raw`` is given.

    Raises
    ------
    ValueError
        If the user mapping names a channel that is not in ``channels`` (the
        message names it), maps to something other than a non-empty string, or
        ``raw`` has no usable positions.
    """
    channels = list(channels)
    known = set(channels)
    if user_regions:
        unknown = [ch for ch in user_regions if ch not in known]
        if unknown:
            raise ValueError(
                f"regions: unknown channel(s) {', '.join(map(repr, unknown[:5]))}"
                f"{' ...' if len(unknown) > 5 else ''}; the recording's channels are "
                f"{', '.join(channels[:6])}{' ...' if len(channels) > 6 else ''}")
        for ch, region in user_regions.items():
            if not isinstance(region, str) or not region:
                raise ValueError(f"regions: channel {ch!r} must map to a region name, "
                                 f"got {region!r}")
        return dict(user_regions)
    if raw is None:
        return {}
    derived = raw if isinstance(raw, Mapping) else regions_from_montage(raw)
    return {ch: derived[ch] for ch in channels if ch in derived}
