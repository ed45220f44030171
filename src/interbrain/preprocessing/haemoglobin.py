"""Optical density to band-passed haemoglobin as arrays, with MNE's arithmetic.

The modified Beer-Lambert law of :func:`mne.preprocessing.nirs.beer_lambert_law` (the
same absorption coefficients, distances, partial pathlength factors, pseudo-inverse and
products, pair by pair) and the band-pass of ``Raw.filter`` (the same call of
:func:`mne.filter.filter_data`), on the samples instead of through ``Raw`` objects: MNE
copies and re-checks the recording's ``Info`` at each step, a fixed cost of about 15 ms
per recording. The values are MNE's bitwise
(``tests/test_preprocessing_speed_equality.py``).
"""

from __future__ import annotations

from functools import lru_cache

import mne
import numpy as np
from mne.filter import filter_data
from mne.preprocessing.nirs import (_channel_frequencies, _validate_nirs_info,
                                    source_detector_distances)
from mne.preprocessing.nirs._beer_lambert_law import _load_absorption
from mne.utils import pinv, warn

__all__ = ["beer_lambert_rows", "band_pass_rows"]


@lru_cache(maxsize=8)
def _absorption(freqs: tuple[float, ...]) -> np.ndarray:
    """MNE's absorption coefficients (1/(mM cm) x 0.2303) of the wavelengths ``freqs``,
    shape (n_wavelengths, 2): HbO, HbR (read from MNE's table once per process)."""
    coef = _load_absorption(np.array(freqs))
    coef.setflags(write=False)
    return coef


def beer_lambert_rows(data: np.ndarray, info: mne.Info, ppf: float
                      ) -> tuple[np.ndarray, list[str]]:
    """Haemoglobin concentrations of optical density ``data`` (MNE's Beer-Lambert law).

    Parameters
    ----------
    data : numpy.ndarray
        Optical density, shape (n_channels, n_times), the channels of ``info``.
    info : mne.Info
        Channels ``fnirs_od`` in source-detector pairs, with positions.
    ppf : float
        Partial pathlength factor.

    Returns
    -------
    hb : numpy.ndarray
        HbO and HbR in mol/L, shape (2 * n_pairs, n_times), in channel order.
    names : list of str
        ``"S1_D1 hbo"``, ``"S1_D1 hbr"``, ... for the rows of ``hb``.

    Raises
    ------
    ValueError
        As MNE: every source-detector distance is zero or NaN.
    """
    picks = _validate_nirs_info(info, fnirs="od", which="Beer-lambert")
    unique = np.unique(_channel_frequencies(info))
    n_wl = len(unique)
    ppf = np.full((n_wl, 1), np.array(ppf, float))
    abs_coef = _absorption(tuple(unique.tolist()))
    distances = source_detector_distances(info, picks="all")
    bad = ~np.isfinite(distances[picks])
    bad |= distances[picks] <= 0
    if bad.all():
        raise ValueError("Source-detector distances are all zero or NaN. Consider setting a "
                         "montage with raw.set_montage or providing sd_distances.")
    if bad.any():
        warn("Source-detector distances are zero or NaN, some resulting concentrations "
             "will be zero. Consider setting a montage with raw.set_montage.")
    distances[picks[bad]] = 0.0
    if (distances[picks] > 0.1).any():
        warn("Source-detector distances are greater than 10 cm. Large distances will "
             "result in invalid data, and are likely due to optode locations being stored "
             "in a  unit other than meters.")
    out = np.array(data, dtype=float, copy=True)
    keep, names = [], []
    for ii in range(0, len(picks), n_wl):
        group = picks[ii:ii + n_wl]
        iel = pinv(abs_coef * distances[group[0]] * ppf)
        out[group[:2]] = (iel @ out[group] * 1e-3)[:2]
        pair = info["ch_names"][group[0]].split(" ")[0]
        keep += list(group[:2])
        names += [f"{pair} hbo", f"{pair} hbr"]
    order = np.argsort(keep)
    return out[np.asarray(keep)[order]], [names[i] for i in order]


def band_pass_rows(hb: np.ndarray, sfreq: float, l_freq: float, h_freq: float
                   ) -> np.ndarray:
    """Zero-phase 4th-order Butterworth band-pass of every row, in place (the call of
    :func:`mne.filter.filter_data` that ``Raw.filter(..., method="iir")`` makes).

    Parameters
    ----------
    hb : numpy.ndarray
        Shape (n_channels, n_times); changed in place.
    sfreq, l_freq, h_freq : float
        Sampling rate and pass band in Hz.

    Returns
    -------
    numpy.ndarray
        ``hb``.
    """
    return filter_data(hb, sfreq, l_freq, h_freq, method="iir",
                       iir_params=dict(order=4, ftype="butter", output="sos"),
                       copy=False, verbose="ERROR")
