"""The modified Beer-Lambert law with MNE's values, without its per-call overhead.

:func:`beer_lambert` is :func:`mne.preprocessing.nirs.beer_lambert_law` for the case the
chain meets (two wavelengths, a single partial pathlength factor or one per wavelength,
every source-detector distance finite and in (0, 0.1] m): the same absorption
coefficients, the same ``pinv`` of each pair's extinction-times-distance matrix, the
same ``iEL @ OD * 1e-3`` on each pair's rows, the same channel names, coil types and
units (MNE's ``rename_channels``, without its checks of the whole info), so the ``Raw``
is MNE's, bitwise
(``tests/test_preprocessing_beer_lambert.py``). It saves what MNE repeats on every call:
the copy of the recording (optional here: the chain converts its own temporary), the
validation of the channels (given as ``picks`` when the caller validated them already),
reading the extinction table from disk and the pseudo-inverse of matrices already seen.
Anything else (more wavelengths, missing or implausible distances, which MNE warns
about) goes through MNE's function.
"""

from __future__ import annotations

from functools import lru_cache

import mne
import numpy as np
from mne._fiff.constants import FIFF
from mne.preprocessing.nirs import (_channel_frequencies, _validate_nirs_info,
                                    beer_lambert_law, source_detector_distances)
from mne.preprocessing.nirs._beer_lambert_law import _load_absorption
from mne.utils import pinv

__all__ = ["beer_lambert"]

_COILS = {"hbo": FIFF.FIFFV_COIL_FNIRS_HBO, "hbr": FIFF.FIFFV_COIL_FNIRS_HBR}


@lru_cache(maxsize=16)
def _absorption(freqs: tuple[int, ...]) -> np.ndarray:
    """MNE's ``_load_absorption`` of the wavelengths (nm), read once per process."""
    out = _load_absorption(np.array(freqs, int))
    out.flags.writeable = False
    return out


@lru_cache(maxsize=1024)
def _pinv(key: bytes, shape: tuple[int, int]) -> np.ndarray:
    """``mne.utils.pinv`` of the float64 matrix whose bytes are ``key`` (deterministic,
    so a matrix seen before gets the same inverse)."""
    out = pinv(np.frombuffer(key, float).reshape(shape))
    out.flags.writeable = False
    return out


def _plain(raw: mne.io.BaseRaw, ppf: np.ndarray, n_wavelengths: int,
           distances: np.ndarray, picks: np.ndarray) -> bool:
    """Whether MNE's function would take no other branch than the one copied here."""
    if n_wavelengths != 2 or not raw.preload or len(picks) % 2:
        return False
    if not (ppf.ndim == 0 or (ppf.ndim == 1 and len(ppf) == n_wavelengths)):
        return False   # MNE's ValueError
    d = distances[picks]
    return bool(np.all(np.isfinite(d)) and np.all(d > 0) and not np.any(d > 0.1))


def beer_lambert(raw_od: mne.io.BaseRaw, ppf=6.0, *, picks: np.ndarray | None = None,
                 copy: bool = True) -> mne.io.BaseRaw:
    """:func:`mne.preprocessing.nirs.beer_lambert_law` (``sd_distances=None``), bitwise.

    Parameters
    ----------
    raw_od : mne.io.BaseRaw
        Optical density (``fnirs_od``), source-detector pairs of two wavelengths.
    ppf : float or array-like
        Partial pathlength factor, one or one per wavelength (as MNE's).
    picks : numpy.ndarray of int, optional
        ``_validate_nirs_info(raw_od.info)`` when the caller has it (the channels'
        names, types and wavelengths unchanged since); validated here when None.
    copy : bool
        False: ``raw_od`` itself is converted (a temporary of the caller's).

    Returns
    -------
    mne.io.BaseRaw
        Haemoglobin (``hbo``, ``hbr``) in mol/L: MNE's channels, info and values.
    """
    ppf_arr = np.array(ppf, float)
    if picks is None:
        picks = _validate_nirs_info(raw_od.info, fnirs="od", which="Beer-lambert")
    freqs = _channel_frequencies(raw_od.info)
    unique_freqs = np.unique(freqs)
    n_wavelengths = len(unique_freqs)
    distances = source_detector_distances(raw_od.info, picks="all")
    if not _plain(raw_od, ppf_arr, n_wavelengths, distances, picks):
        return beer_lambert_law(raw_od, ppf=ppf)
    raw = raw_od.copy() if copy else raw_od
    if ppf_arr.ndim == 0:
        ppf_arr = np.full((n_wavelengths, 1), ppf_arr)
    else:
        ppf_arr = ppf_arr[:, np.newaxis]
    abs_coef = _absorption(tuple(int(f) for f in unique_freqs))
    data, chs = raw._data, raw.info["chs"]
    rename = {}
    for ii in range(0, len(picks), n_wavelengths):
        group_picks = picks[ii:ii + n_wavelengths]
        el = abs_coef * distances[group_picks[0]] * ppf_arr
        iel = _pinv(np.ascontiguousarray(el).tobytes(), el.shape)
        conc_data = iel @ data[group_picks] * 1e-3
        data[group_picks[:2]] = conc_data[:2]
        for ki, kind in zip(group_picks[:2], ("hbo", "hbr")):
            ch = chs[ki]
            ch.update(coil_type=_COILS[kind], unit=FIFF.FIFF_UNIT_MOL)
            rename[ch["ch_name"]] = f"{ch['ch_name'].split(' ')[0]} {kind}"
    _rename(raw, rename)
    return raw


def _rename(raw: mne.io.BaseRaw, mapping: dict[str, str]) -> None:
    """``raw.rename_channels(mapping)`` for new names that are no old names: the same
    channel names, ``bads``, original units and annotation channels, without MNE's two
    consistency checks of the whole info (MNE's own call where the info has
    projections or compensation channels, whose names it also renames)."""
    info = raw.info
    if info.get("comps") or info.get("projs"):
        raw.rename_channels(mapping)
        return
    original = list(info["ch_names"])
    bads = [mapping.get(bad, bad) for bad in info["bads"]]
    info["bads"] = []
    for ch in info["chs"]:
        ch["ch_name"] = mapping.get(ch["ch_name"], ch["ch_name"])
    info._update_redundant()
    info["bads"] = bads
    every = dict(zip(original, info["ch_names"]))   # as MNE's Raw.rename_channels
    for old, new in every.items():
        if old in raw._orig_units:
            raw._orig_units[new] = raw._orig_units.pop(old)
    names = raw.annotations.ch_names
    for ci, ch in enumerate(names):
        names[ci] = tuple(every.get(name, name) for name in ch)
