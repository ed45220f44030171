"""A 20-channel prefrontal fNIRS montage (8 sources x 8 detectors, NIRSport 8x8 style).

Geometry
--------
Sixteen optodes sit on two rows across the forehead, eight columns from left to
right, alternating source and detector like a checkerboard, mirror-symmetric about
the midline::

            col:  1    2    3    4   |  5    6    7    8
    upper row:    S1   D2   S3   D4  |  D5   S6   D7   S8
    lower row:    D1   S2   D3   S4  |  S5   D6   S7   D8

Every source-detector pair that are neighbours (horizontally or vertically) within a
hemisphere is a channel: 10 per hemisphere, 20 in all (no channel crosses the
midline). Neighbouring optodes are about 30 mm apart.

The optodes lie on a sphere fitted to the forehead part of MNE's standard 10-05
positions in MNE *head* coordinates (origin midway between the pre-auricular
points, +x towards the right pre-auricular point, +y towards the nasion, +z up),
in metres. The lower row is at the height of Fpz (just above the eyebrows), the
upper row 30 mm above it (about the height of AFz). The most lateral columns reach
about F7/F8.

Regions
-------
Each channel gets a region-of-interest label from the arc distance of its midpoint
to the midline: ``medial_pfc`` (both hemispheres), ``left_fpc`` / ``right_fpc``
(frontopolar cortex) and ``left_dlpfc`` / ``right_dlpfc`` (lateral prefrontal
cortex).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._check import check_int

__all__ = ["Montage", "prefrontal_montage", "with_short_channels", "N_CHANNELS_MAX",
           "SHORT_DISTANCE", "WAVELENGTHS",
           "HEAD_SPHERE_CENTER", "HEAD_SPHERE_RADIUS", "FIDUCIALS"]

#: Wavelengths of the simulated device in nm (NIRSport 2).
WAVELENGTHS: tuple[int, int] = (760, 850)

#: Centre in metres (head coordinates) of the sphere fitted to the forehead.
HEAD_SPHERE_CENTER: tuple[float, float, float] = (0.0, 0.0346, 0.0386)
#: Radius in metres of that sphere.
HEAD_SPHERE_RADIUS: float = 0.0851

#: Fiducials in metres, head coordinates (MNE's standard head).
FIDUCIALS: dict[str, tuple[float, float, float]] = {
    "nasion": (0.0, 0.1140, 0.0),
    "lpa": (-0.0825, 0.0, 0.0),
    "rpa": (0.0825, 0.0, 0.0),
}

N_CHANNELS_MAX = 20

#: Source-detector distance of a short-separation channel, metres.
SHORT_DISTANCE = 0.008

_SPACING = 0.030              # arc length between neighbouring optodes, metres
_LOWER_ELEVATION = 0.0        # elevation (rad) of the lower row about the sphere centre

# Optode grid: (name, column 1..8, row 0 = lower / 1 = upper)
_OPTODES: tuple[tuple[str, int, int], ...] = (
    ("S1", 1, 1), ("S2", 2, 0), ("S3", 3, 1), ("S4", 4, 0),
    ("S5", 5, 0), ("S6", 6, 1), ("S7", 7, 0), ("S8", 8, 1),
    ("D1", 1, 0), ("D2", 2, 1), ("D3", 3, 0), ("D4", 4, 1),
    ("D5", 5, 1), ("D6", 6, 0), ("D7", 7, 1), ("D8", 8, 0),
)

# The 20 channels (source, detector) in file order: by source, then detector.
_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (3, 2), (3, 3), (3, 4), (4, 3), (4, 4),
    (5, 5), (5, 6), (6, 5), (6, 6), (6, 7), (7, 6), (7, 7), (7, 8), (8, 7), (8, 8),
)

# Order in which channels are kept when fewer than 20 are asked for: medial first,
# alternating left / right homologous channels, so any subset is symmetric-ish.
_PRIORITY: tuple[str, ...] = (
    "S4_D4", "S5_D5", "S4_D3", "S5_D6", "S3_D4", "S6_D5",
    "S3_D3", "S6_D6", "S2_D3", "S7_D6", "S3_D2", "S6_D7",
    "S2_D2", "S7_D7", "S2_D1", "S7_D8", "S1_D2", "S8_D7", "S1_D1", "S8_D8",
)


def _column_azimuth(col: int) -> float:
    """Azimuth in rad (0 = straight ahead, negative = left) of a grid column."""
    mean_elev = _LOWER_ELEVATION + 0.5 * _SPACING / HEAD_SPHERE_RADIUS
    circle = HEAD_SPHERE_RADIUS * np.cos(mean_elev)
    arc_from_midline = (col - 4.5) * _SPACING          # -105 mm .. +105 mm
    return arc_from_midline / circle


def _optode_position(col: int, row: int) -> np.ndarray:
    elev = _LOWER_ELEVATION + row * _SPACING / HEAD_SPHERE_RADIUS
    az = _column_azimuth(col)
    c = np.asarray(HEAD_SPHERE_CENTER)
    r = HEAD_SPHERE_RADIUS
    return c + r * np.array([np.cos(elev) * np.sin(az), np.cos(elev) * np.cos(az),
                             np.sin(elev)])


def _region(source_col: int, detector_col: int) -> str:
    mid = 0.5 * (source_col + detector_col) - 4.5   # columns from midline, signed
    side = "left" if mid < 0 else "right"
    dist = abs(mid) * _SPACING                      # arc distance in metres
    if dist <= 0.031:
        return "medial_pfc"
    if dist <= 0.061:
        return f"{side}_fpc"
    return f"{side}_dlpfc"


@dataclass(frozen=True)
class Montage:
    """Optode positions and channels of a simulated fNIRS montage.

    Attributes
    ----------
    channels : tuple of str
        Channel (source-detector pair) names ``"S1_D1"``, shape (n_channels,), in
        file order (by source number, then detector number).
    sources, detectors : tuple of int
        Source and detector number of each channel, shape (n_channels,).
    optodes : dict
        Optode name (``"S1"``, ``"D1"``) -> position in metres, MNE head
        coordinates, shape (3,). Holds every optode of the full 8 x 8 montage.
    regions : dict
        Channel name -> region-of-interest label.
    fiducials : dict
        ``"nasion"``, ``"lpa"``, ``"rpa"`` -> position in metres (head coordinates).
    wavelengths : tuple of int
        Wavelengths in nm.
    short_channels : tuple of str
        The channels of ``channels`` that are short-separation channels (see
        :func:`with_short_channels`); empty for a montage of long channels only.
    """

    channels: tuple[str, ...]
    sources: tuple[int, ...]
    detectors: tuple[int, ...]
    optodes: dict[str, np.ndarray]
    regions: dict[str, str]
    fiducials: dict[str, np.ndarray]
    wavelengths: tuple[int, ...] = WAVELENGTHS
    short_channels: tuple[str, ...] = ()

    @property
    def long_channels(self) -> tuple[str, ...]:
        """The channels that are not short-separation channels, in file order."""
        return tuple(ch for ch in self.channels if ch not in self.short_channels)

    @property
    def n_channels(self) -> int:
        """Number of channels (source-detector pairs)."""
        return len(self.channels)

    def source_positions(self) -> np.ndarray:
        """Source position of each channel in metres, shape (n_channels, 3)."""
        return np.array([self.optodes[f"S{s}"] for s in self.sources])

    def detector_positions(self) -> np.ndarray:
        """Detector position of each channel in metres, shape (n_channels, 3)."""
        return np.array([self.optodes[f"D{d}"] for d in self.detectors])

    def midpoints(self) -> np.ndarray:
        """Channel midpoints in metres, shape (n_channels, 3)."""
        return 0.5 * (self.source_positions() + self.detector_positions())

    def distances(self) -> np.ndarray:
        """Source-detector distance of each channel in metres, shape (n_channels,)."""
        return np.linalg.norm(self.source_positions() - self.detector_positions(), axis=1)

    def channel_names(self) -> list[str]:
        """MNE channel names ``"S1_D1 760"``, ``"S1_D1 850"``, ... in MNE order.

        Both wavelengths of a pair are adjacent, shorter wavelength first; shape
        (2 * n_channels,).
        """
        return [f"{ch} {wl}" for ch in self.channels for wl in self.wavelengths]

    def used_optodes(self) -> list[str]:
        """Names of the optodes used by the channels (sources then detectors)."""
        src = sorted(set(self.sources))
        det = sorted(set(self.detectors))
        return [f"S{s}" for s in src] + [f"D{d}" for d in det]

    def to_dig_montage(self):
        """The montage as an :class:`mne.channels.DigMontage` in head coordinates.

        Holds the used optodes (``"S1"`` ... ``"D8"``) and the three fiducials, so
        that ``raw.set_montage(montage.to_dig_montage())`` sets every channel's
        ``loc`` (midpoint ``loc[:3]``, source ``loc[3:6]``, detector ``loc[6:9]``)
        and ``info["dig"]``.
        """
        import mne  # local import: montage geometry itself needs only numpy

        ch_pos = {name: np.array(self.optodes[name]) for name in self.used_optodes()}
        return mne.channels.make_dig_montage(
            ch_pos=ch_pos, nasion=self.fiducials["nasion"], lpa=self.fiducials["lpa"],
            rpa=self.fiducials["rpa"], coord_frame="head")


def prefrontal_montage(n_channels: int = N_CHANNELS_MAX) -> Montage:
    """The simulated prefrontal montage, or a symmetric subset of its channels.

    Parameters
    ----------
    n_channels : int
        Number of channels, 1 to 20. With fewer than 20, the most medial channels
        are kept, alternating between homologous left and right channels.

    Returns
    -------
    Montage
        Channels in file order (by source, then detector number); positions in
        metres, MNE head coordinates.
    """
    n_channels = check_int(n_channels, "n_channels", minimum=1, maximum=N_CHANNELS_MAX)
    optodes = {name: _optode_position(col, row) for name, col, row in _OPTODES}
    cols = {name: col for name, col, _ in _OPTODES}
    keep = set(_PRIORITY[:n_channels])
    pairs = [(s, d) for s, d in _PAIRS if f"S{s}_D{d}" in keep]
    names = tuple(f"S{s}_D{d}" for s, d in pairs)
    regions = {f"S{s}_D{d}": _region(cols[f"S{s}"], cols[f"D{d}"]) for s, d in pairs}
    fiducials = {k: np.array(v) for k, v in FIDUCIALS.items()}
    return Montage(channels=names, sources=tuple(s for s, _ in pairs),
                   detectors=tuple(d for _, d in pairs), optodes=optodes,
                   regions=regions, fiducials=fiducials)


def with_short_channels(montage: Montage, distance: float = SHORT_DISTANCE) -> Montage:
    """The montage with one short-separation channel per region, appended.

    For each region (in the order its first channel appears), a new detector is
    placed ``distance`` metres from the source of the region's first channel, in
    the tangent plane of the head sphere at that source, towards the channel's
    detector. Detectors are numbered on from the montage's highest (``D9``, ``D10``,
    ... for the prefrontal montage), so the long channels keep their names when
    read back from a SNIRF file.

    Parameters
    ----------
    montage : Montage
        A montage of long channels.
    distance : float
        Source-detector distance of the short channels in metres (0.005-0.015).

    Returns
    -------
    Montage
        ``channels`` = the long channels followed by the short ones; the short
        channels' ``regions`` are those of the channels they were placed beside.
    """
    if montage.short_channels:
        raise ValueError("the montage already has short channels")
    if not 0.005 <= distance <= 0.015:
        raise ValueError(f"distance must be between 0.005 and 0.015 m, got {distance}")
    optodes = dict(montage.optodes)
    centre = np.asarray(HEAD_SPHERE_CENTER)
    next_detector = max(int(k[1:]) for k in optodes if k.startswith("D")) + 1
    first: dict[str, int] = {}
    for j, ch in enumerate(montage.channels):
        first.setdefault(montage.regions[ch], j)
    names, sources, detectors, regions = [], [], [], {}
    for region, j in first.items():
        src = np.asarray(optodes[f"S{montage.sources[j]}"])
        det = np.asarray(optodes[f"D{montage.detectors[j]}"])
        normal = (src - centre) / np.linalg.norm(src - centre)
        towards = (det - src) - np.dot(det - src, normal) * normal
        d = next_detector + len(names)
        optodes[f"D{d}"] = src + distance * towards / np.linalg.norm(towards)
        name = f"S{montage.sources[j]}_D{d}"
        names.append(name)
        sources.append(montage.sources[j])
        detectors.append(d)
        regions[name] = region
    return Montage(channels=montage.channels + tuple(names),
                   sources=montage.sources + tuple(sources),
                   detectors=montage.detectors + tuple(detectors), optodes=optodes,
                   regions={**montage.regions, **regions}, fiducials=montage.fiducials,
                   wavelengths=montage.wavelengths, short_channels=tuple(names))


def file_channel_names(montage: Montage) -> dict[str, str]:
    """Montage channel name -> its name when read back from the SNIRF file.

    A SNIRF file numbers its sources and detectors 1, 2, ... in the order they first
    appear in the channel list, so a subset of the montage (``n_channels < 20``) is
    read back renumbered (``S4_D3`` -> ``S1_D1``).
    """
    sources: dict[int, int] = {}
    detectors: dict[int, int] = {}
    for s, d in zip(montage.sources, montage.detectors):
        sources.setdefault(s, len(sources) + 1)
        detectors.setdefault(d, len(detectors) + 1)
    return {f"S{s}_D{d}": f"S{sources[s]}_D{detectors[d]}"
            for s, d in zip(montage.sources, montage.detectors)}
