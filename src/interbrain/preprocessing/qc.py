"""Per-channel quality control of fNIRS recordings.

Criteria (each threshold is a field of :class:`PreprocessingSettings`):

- **marked bad**: listed in the recording's ``raw.info["bads"]`` (e.g. from a BIDS
  ``*_channels.tsv`` read with ``format="bids"``); either wavelength marks the pair.
- **non-finite values**: NaN or infinite samples.
- **flat**: zero variance at one of the pair's rows (a dead or disconnected channel).
- **saturated**: more than ``max_saturated_fraction`` of the samples at or above
  ``saturation_level`` (raw intensity only; default: the recording's maximum).
- **low scalp coupling**: scalp coupling index (SCI; Pollonini et al., 2014) below
  ``sci_threshold``. The SCI is the correlation of the two wavelengths' optical
  density in the cardiac band (MNE's
  :func:`mne.preprocessing.nirs.scalp_coupling_index`).
- **low peak spectral power**: median over ``psp_window``-second windows of the
  peak spectral power (PSP; Pollonini et al., 2016) below ``psp_threshold``. PSP is
  the height of the peak of the power spectrum of the cross-correlation of the two
  wavelengths in the cardiac band (MNE-NIRS's
  :func:`mne_nirs.preprocessing.peak_power`, computed for all windows at once by
  :func:`peak_spectral_power`).
- **motion-corrupted**: more than ``max_motion_fraction`` of the samples flagged by
  the motion detector (:func:`interbrain.preprocessing.motion.detect_motion`, on
  optical density; a sample of a pair is motion when either wavelength is).

Recordings that are already haemoglobin concentrations (``hbo``/``hbr``) are only
checked for non-finite and flat signals; their ``sci``, ``psp`` and
``motion_fraction`` are NaN.

References
----------
Pollonini L, Olds C, Abaya H, Bortfeld H, Beauchamp MS, Oghalai JS (2014).
Auditory cortex activation to natural speech and simulated cochlear implant speech
measured with functional near-infrared spectroscopy. Hearing Research 309, 84-93.

Pollonini L, Bortfeld H, Oghalai JS (2016). PHOEBE: a method for real time mapping
of optodes-scalp coupling in functional near-infrared spectroscopy. Biomedical
Optics Express 7, 5104-5119.
"""

from __future__ import annotations

import warnings

import mne
import numpy as np
import pandas as pd
from mne.preprocessing.nirs import (optical_density, scalp_coupling_index,
                                    source_detector_distances)

from .motion import detect_motion
from .settings import PreprocessingSettings

__all__ = ["pair_names", "input_kind", "channel_quality", "QC_COLUMNS", "REASONS"]

#: Columns of the quality table, in order.
QC_COLUMNS = ["channel", "sci", "psp", "motion_fraction", "flat", "saturated", "bad",
              "reason", "psp_pass_fraction", "saturated_fraction", "distance"]

#: The reason of each criterion, in the order they are listed in ``reason``.
REASONS = {"marked": "marked bad in the recording", "nonfinite": "non-finite values",
           "flat": "flat", "saturated": "saturated",
           "sci": "low scalp coupling", "psp": "low peak spectral power",
           "motion": "motion-corrupted"}

_KIND_TYPES = {"intensity": ("fnirs_cw_amplitude",), "od": ("fnirs_od",),
               "hb": ("hbo", "hbr")}


def pair_names(raw: mne.io.BaseRaw) -> list[str]:
    """Source-detector pair names (``"S1_D1"``), one per pair, in channel order."""
    return list(dict.fromkeys(name.split(" ")[0] for name in raw.ch_names))


def input_kind(raw: mne.io.BaseRaw) -> str:
    """What a recording holds: ``"intensity"``, ``"od"`` or ``"hb"``.

    Raw continuous-wave intensity (``fnirs_cw_amplitude``) wins over optical density
    (``fnirs_od``), which wins over haemoglobin (``hbo``/``hbr``).

    Raises
    ------
    ValueError
        If the recording holds none of these channel types.
    """
    types = set(raw.get_channel_types())
    for kind, wanted in _KIND_TYPES.items():
        if types & set(wanted):
            return kind
    raise ValueError("holds no fNIRS channels (raw intensity, optical density or "
                     f"haemoglobin); channel types: {', '.join(sorted(types))}")


def fnirs_picks(raw: mne.io.BaseRaw, kind: str) -> mne.io.BaseRaw:
    """A copy of ``raw`` with only the channels of ``kind`` (see :func:`input_kind`).

    A pair with one row in ``info["bads"]`` has all its rows there (MNE's fNIRS
    functions refuse a pair marked bad at one wavelength only).
    """
    out = raw.copy().pick(list(_KIND_TYPES[kind]), exclude=[])
    marked = {ch.split(" ")[0] for ch in out.info["bads"]}
    out.info["bads"] = [ch for ch in out.ch_names if ch.split(" ")[0] in marked]
    return out


def _rows_of(raw: mne.io.BaseRaw) -> tuple[list[str], list[list[int]]]:
    names = pair_names(raw)
    index: dict[str, list[int]] = {n: [] for n in names}
    for i, ch in enumerate(raw.ch_names):
        index[ch.split(" ")[0]].append(i)
    return names, [index[n] for n in names]


def fill_nonfinite(data: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Replace NaN and infinite samples so that the chain can run.

    Intensities are replaced by the row's finite mean (1.0 if none), optical
    density and haemoglobin by 0. The channels are marked bad by quality control.

    Returns
    -------
    data : numpy.ndarray
        A filled copy, shape (n_channels, n_times).
    nonfinite : numpy.ndarray of bool
        Shape (n_channels,), rows that had non-finite samples.
    """
    finite = np.isfinite(data)
    nonfinite = ~finite.all(axis=1)
    if not nonfinite.any():
        return data, nonfinite
    data = data.copy()
    for i in np.flatnonzero(nonfinite):
        fill = 0.0
        if kind == "intensity":
            fill = float(np.mean(data[i, finite[i]])) if finite[i].any() else 1.0
        data[i, ~finite[i]] = fill
    return data, nonfinite


def _flat_rows(data: np.ndarray) -> np.ndarray:
    """Rows with zero variance (relative to their magnitude, so in any unit)."""
    scale = np.max(np.abs(data), axis=1)
    return np.std(data, axis=1) <= 1e-10 * np.where(scale > 0, scale, 1.0)


def _saturated_fraction(intensity: np.ndarray, level: float) -> tuple[np.ndarray, float]:
    """Fraction of samples of each row at or above the saturation level."""
    if level <= 0:   # auto: the recording's highest intensity
        level = float(np.max(intensity)) * (1 - 1e-9)
    return np.mean(intensity >= level, axis=1), level


def _cardiac_ok(sfreq: float, band: tuple) -> bool:
    """Whether the cardiac band (plus MNE's 0.3 Hz transition) lies below Nyquist."""
    return band[1] + 0.3 < sfreq / 2


def cardiac_filtered(raw_od: mne.io.BaseRaw, band: tuple, *, trans_bandwidth: float = 0.3
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Optical density band-passed to the cardiac band, once for SCI and PSP.

    The filter of :func:`mne.preprocessing.nirs.scalp_coupling_index` and of
    :func:`mne_nirs.preprocessing.peak_power` (the same call of
    :func:`mne.filter.filter_data`: default FIR, ``trans_bandwidth`` Hz transitions), so
    both indices are computed from one filtered copy instead of one each.

    Parameters
    ----------
    raw_od : mne.io.BaseRaw
        Optical density, channels in source-detector pairs.
    band : (float, float)
        Cardiac band in Hz.
    trans_bandwidth : float
        Width of both transition bands in Hz.

    Returns
    -------
    picks : numpy.ndarray of int
        The fNIRS channels, in MNE's pair order (both wavelengths of a pair together).
    filtered : numpy.ndarray, shape (n_channels, n_times)
        The recording with the rows ``picks`` band-passed.
    """
    from mne.preprocessing.nirs import _validate_nirs_info

    picks = _validate_nirs_info(raw_od.info)
    filtered = mne.filter.filter_data(raw_od.get_data(), raw_od.info["sfreq"], band[0],
                                      band[1], picks=picks, l_trans_bandwidth=trans_bandwidth,
                                      h_trans_bandwidth=trans_bandwidth, verbose="ERROR")
    return picks, filtered


def scalp_coupling_from_filtered(raw_od: mne.io.BaseRaw, picks: np.ndarray,
                                 filtered: np.ndarray) -> np.ndarray:
    """Scalp coupling index of each channel from the cardiac-band optical density.

    The values of :func:`mne.preprocessing.nirs.scalp_coupling_index` (the minimum
    correlation between the wavelengths of each source-detector pair, non-finite
    correlations counted as 0, 0 for a channel of zero variance), from the output of
    :func:`cardiac_filtered` (tested equal to MNE to 1e-12).

    Parameters
    ----------
    raw_od : mne.io.BaseRaw
        The unfiltered optical density.
    picks, filtered : numpy.ndarray
        From :func:`cardiac_filtered`.

    Returns
    -------
    numpy.ndarray, shape (len(picks),)
        In channel order.
    """
    from mne.preprocessing.nirs import _channel_frequencies

    freqs = _channel_frequencies(raw_od.info)
    n_wl = len(np.unique(freqs))
    zero = np.std(raw_od.get_data(picks=picks), axis=-1) == 0
    rows = filtered[picks]
    sci = np.zeros(len(picks))
    ii, jj = np.triu_indices(n_wl, k=1)
    for gg in range(0, len(picks), n_wl):
        group = rows[gg:gg + n_wl]
        corr = np.zeros(len(ii))
        for k, (i, j) in enumerate(zip(ii, jj)):
            with np.errstate(invalid="ignore", divide="ignore"):
                c = np.corrcoef(group[i], group[j])[0][1]
            if np.isfinite(c):
                corr[k] = c
        sci[gg:gg + n_wl] = corr.min()
    sci[zero] = 0
    return sci[np.argsort(picks)]


def _sci(raw_od: mne.io.BaseRaw, band: tuple, cardiac: tuple | None = None) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if cardiac is None:
            return scalp_coupling_index(raw_od, l_freq=band[0], h_freq=band[1],
                                        verbose="ERROR")
        return scalp_coupling_from_filtered(raw_od, *cardiac)


def peak_spectral_power(raw_od: mne.io.BaseRaw, *, time_window: float = 10.0,
                        l_freq: float = 0.7, h_freq: float = 1.5,
                        l_trans_bandwidth: float = 0.3, h_trans_bandwidth: float = 0.3,
                        filtered: np.ndarray | None = None) -> np.ndarray:
    """Peak spectral power of each channel and time window (Pollonini et al., 2016).

    The values of :func:`mne_nirs.preprocessing.peak_power` (same filter, windows,
    normalisation and periodogram, including its last window one sample short when the
    recording is a whole number of windows), computed for all windows and channel pairs
    at once: mne-nirs loops over windows and pairs in Python, which dominated the
    preprocessing of long recordings (tested equal to mne-nirs to 1e-10).

    Parameters
    ----------
    raw_od : mne.io.BaseRaw
        Optical density, channels in source-detector pairs (two wavelengths each).
    time_window : float
        Window length in seconds.
    l_freq, h_freq, l_trans_bandwidth, h_trans_bandwidth : float
        The cardiac band-pass (Hz), as :func:`mne.filter.filter_data`.
    filtered : numpy.ndarray, shape (n_channels, n_times), optional
        The recording already band-passed with these settings (:func:`cardiac_filtered`,
        shared with the scalp coupling index); filtered here if not given.

    Returns
    -------
    numpy.ndarray, shape (n_channels, n_windows)
        Each pair's value on both of its channels, in channel order.
    """
    from mne.preprocessing.nirs import _validate_nirs_info
    from scipy.signal import fftconvolve, periodogram

    picks = _validate_nirs_info(raw_od.info)
    sfreq = raw_od.info["sfreq"]
    if filtered is None:
        filtered = mne.filter.filter_data(raw_od.get_data(), sfreq, l_freq, h_freq,
                                          picks=picks, l_trans_bandwidth=l_trans_bandwidth,
                                          h_trans_bandwidth=h_trans_bandwidth, verbose="ERROR")
    n_times = filtered.shape[1]
    size = int(np.ceil(time_window * sfreq))
    n_windows = n_times // size
    scores = np.zeros((len(picks), n_windows))
    if n_windows == 0:
        return scores
    first, second = filtered[picks[0::2]], filtered[picks[1::2]]
    # mne-nirs ends each window at min(start + size, n_times - 1)
    lengths = np.minimum(np.arange(1, n_windows + 1) * size, n_times - 1) - \
        np.arange(n_windows) * size
    peaks = np.empty((len(first), n_windows))
    for length in np.unique(lengths):
        cols = np.flatnonzero(lengths == length)
        starts = cols * size
        idx = starts[:, None] + np.arange(length)[None, :]
        c1, c2 = first[:, idx], second[:, idx]           # (pairs, windows, length)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd1 = c1.std(axis=-1, keepdims=True)
            sd2 = c2.std(axis=-1, keepdims=True)
        c1 = c1 / np.where(sd1 == 0, 1.0, sd1)
        c2 = c2 / np.where(sd2 == 0, 1.0, sd2)
        xcorr = fftconvolve(c1, c2[..., ::-1], mode="full", axes=-1) / size
        _, pxx = periodogram(xcorr, fs=sfreq, window="hamming", axis=-1)
        peaks[:, cols] = pxx.max(axis=-1)
    scores[0::2] = peaks
    scores[1::2] = peaks
    return scores[np.argsort(picks)]


def _psp(raw_od: mne.io.BaseRaw, band: tuple, window: float,
         filtered: np.ndarray | None = None) -> np.ndarray:
    """Peak spectral power of each channel and window, shape (n_channels, n_windows)."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peak_spectral_power(raw_od, time_window=window, l_freq=band[0],
                                   h_freq=band[1], filtered=filtered)


def channel_quality(raw: mne.io.BaseRaw, settings: PreprocessingSettings | None = None, *,
                    return_motion: bool = False, notes: list | None = None
                    ) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray | None]:
    """Quality of each source-detector pair of a recording.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Raw intensity (``fnirs_cw_amplitude``), optical density (``fnirs_od``) or
        haemoglobin (``hbo``/``hbr``), two rows per pair, preloaded. Other channel
        types are ignored.
    settings : PreprocessingSettings or None
        Thresholds (``sci_threshold``, ``cardiac_band``, ``psp_threshold``,
        ``psp_window``, ``max_motion_fraction``, ``motion_*``,
        ``saturation_level``, ``max_saturated_fraction``); defaults when None.
    return_motion : bool
        Also return the motion mask.
    notes : list or None
        Criteria that could not be evaluated for this recording (e.g. a sampling
        rate too low for the cardiac band) are appended here as strings.

    Returns
    -------
    qc : pandas.DataFrame
        One row per pair, columns :data:`QC_COLUMNS`: ``channel``; ``sci`` (0-1);
        ``psp`` (median peak spectral power over windows); ``motion_fraction``
        (fraction of samples flagged as motion, 0-1); ``flat`` and ``saturated``
        (bool); ``bad`` (bool); ``reason`` (every failed criterion, ``"; "``
        separated, ``""`` for good channels, e.g. ``"low scalp coupling; low peak
        spectral power"``); ``psp_pass_fraction`` (fraction of windows with PSP at
        or above the threshold); ``saturated_fraction`` (fraction of samples
        saturated at the worse wavelength); ``distance`` (source-detector
        distance in metres, NaN without positions). Criteria that do not apply or
        cannot be computed are NaN (numbers) or False (flags).
    motion : numpy.ndarray of bool or None
        Only with ``return_motion``: motion samples of each pair, shape
        (n_pairs, n_times); None for haemoglobin input.
    """
    settings = settings or PreprocessingSettings()
    notes = [] if notes is None else notes
    kind = input_kind(raw)
    raw = fnirs_picks(raw, kind)
    names, rows = _rows_of(raw)
    n_pairs, sfreq = len(names), float(raw.info["sfreq"])
    data, nonfinite_rows = fill_nonfinite(raw.get_data(), kind)
    nonfinite = np.array([nonfinite_rows[r].any() for r in rows])
    flat = np.array([_flat_rows(data[r]).any() for r in rows])
    distance = np.array([np.nanmax(d) if np.isfinite(d).any() else np.nan for d in
                         (source_detector_distances(raw.info)[r] for r in rows)])
    sci = np.full(n_pairs, np.nan)
    psp = np.full(n_pairs, np.nan)
    psp_pass = np.full(n_pairs, np.nan)
    motion_fraction = np.full(n_pairs, np.nan)
    sat_fraction = np.full(n_pairs, np.nan)
    saturated = np.zeros(n_pairs, bool)
    motion = None
    failed = {key: np.zeros(n_pairs, bool) for key in REASONS}
    failed["nonfinite"], failed["flat"] = nonfinite, flat
    marked = {ch.split(" ")[0] for ch in raw.info["bads"]}
    failed["marked"] = np.array([name in marked for name in names], dtype=bool)
    usable = ~(nonfinite | flat)
    if kind == "intensity":
        frac, level = _saturated_fraction(data, settings.saturation_level)
        sat_fraction = np.array([frac[r].max() for r in rows])
        saturated = sat_fraction > settings.max_saturated_fraction
        failed["saturated"] = saturated
    if kind in ("intensity", "od"):
        info = raw.info.copy()
        info["bads"] = []   # marked channels are judged too (MNE would skip them)
        raw_od = mne.io.RawArray(data, info, verbose="ERROR")
        if kind == "intensity":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw_od = optical_density(raw_od, verbose="ERROR")
        od = raw_od.get_data()
        band = tuple(float(b) for b in settings.cardiac_band)
        if _cardiac_ok(sfreq, band):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cardiac = cardiac_filtered(raw_od, band)   # one filter for SCI and PSP
            values = _sci(raw_od, band, cardiac)
            sci = np.array([np.nanmin(values[r]) if np.isfinite(values[r]).any() else np.nan
                            for r in rows])
            scores = _psp(raw_od, band, settings.psp_window, cardiac[1])
            if scores.shape[1] > 0:
                per_pair = np.array([scores[r].min(axis=0) for r in rows])
                psp = np.median(per_pair, axis=1)
                psp_pass = np.mean(per_pair >= settings.psp_threshold, axis=1)
                failed["psp"] = usable & (psp < settings.psp_threshold)
            else:
                notes.append(f"peak spectral power not computed: recording shorter than "
                             f"one {settings.psp_window:g} s window")
            failed["sci"] = usable & ~(sci >= settings.sci_threshold)
        else:
            notes.append(f"scalp coupling index and peak spectral power not computed: "
                         f"sampling rate {sfreq:g} Hz too low for the cardiac band "
                         f"{band[0]:g}-{band[1]:g} Hz")
        row_mask = detect_motion(od, sfreq, t_motion=settings.motion_t_motion,
                                 t_mask=settings.motion_t_mask,
                                 std_thresh=settings.motion_std_thresh,
                                 amp_thresh=settings.motion_amp_thresh)
        motion = np.array([row_mask[r].any(axis=0) for r in rows]).reshape(n_pairs, -1)
        motion_fraction = motion.mean(axis=1)
        failed["motion"] = usable & (motion_fraction > settings.max_motion_fraction)
        # undefined on dead channels
        sci[~usable], psp[~usable], psp_pass[~usable] = np.nan, np.nan, np.nan
        motion_fraction[~usable] = np.nan
    reasons = ["; ".join(REASONS[key] for key in REASONS if failed[key][k])
               for k in range(n_pairs)]
    qc = pd.DataFrame({
        "channel": names, "sci": sci, "psp": psp, "motion_fraction": motion_fraction,
        "flat": flat, "saturated": saturated, "bad": [bool(r) for r in reasons],
        "reason": reasons, "psp_pass_fraction": psp_pass,
        "saturated_fraction": sat_fraction, "distance": distance,
    }, columns=QC_COLUMNS)
    return (qc, motion) if return_motion else qc
