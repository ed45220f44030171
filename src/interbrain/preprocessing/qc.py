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
from mne.io.constants import FIFF
from mne.preprocessing.nirs import (_validate_nirs_info, optical_density,
                                    source_detector_distances)

from .cardiac import (cardiac_filtered, cardiac_ok, peak_spectral_power,
                      scalp_coupling_from_filtered)
from .motion import detect_motion
from .settings import PreprocessingSettings

__all__ = ["pair_names", "input_kind", "channel_quality", "assess_quality", "QC_COLUMNS",
           "REASONS"]

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
    wanted = list(_KIND_TYPES[kind])
    if set(raw.get_channel_types()) <= set(wanted):   # nothing to drop: no pick
        out = raw.copy()
    else:
        out = raw.copy().pick(wanted, exclude=[])
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
    # max |x| (exactly; no array of absolute values)
    scale = np.maximum(np.max(data, axis=1), -np.min(data, axis=1))
    return np.std(data, axis=1) <= 1e-10 * np.where(scale > 0, scale, 1.0)


def _saturated_fraction(intensity: np.ndarray, level: float) -> tuple[np.ndarray, float]:
    """Fraction of samples of each row at or above the saturation level."""
    if level <= 0:   # auto: the recording's highest intensity
        level = float(np.max(intensity)) * (1 - 1e-9)
    return np.mean(intensity >= level, axis=1), level


def _optical_density(raw: mne.io.BaseRaw, picks: np.ndarray | None = None
                     ) -> mne.io.BaseRaw:
    """MNE's :func:`~mne.preprocessing.nirs.optical_density` of ``raw``, bitwise.

    Each fNIRS row divided by its mean, its log negated, the channels' coil type set
    to optical density: MNE's operations, on all rows at once and into a new array
    (``raw``'s samples are not changed; ``raw`` itself becomes the result). Recordings
    with intensities <= 0 (MNE replaces them first) or samples not in C order go
    through MNE's function. ``picks``: ``_validate_nirs_info(raw.info,
    fnirs="cw_amplitude")`` when the caller has it.
    """
    if picks is None:
        picks = _validate_nirs_info(raw.info, fnirs="cw_amplitude")
    data = raw._data
    whole = np.array_equal(picks, np.arange(len(data)))
    rows = data if whole else data[picks]
    if not data.flags.c_contiguous or np.any(rows <= 0):   # MNE's own (rows as MNE's)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optical_density(raw, verbose="ERROR")
    means = np.array([np.mean(row) for row in rows])
    od = rows / means[:, None]
    np.log(od, out=od)
    od *= -1
    if not whole:
        od, rest = data.copy(), od
        od[picks] = rest
    raw._data = od
    for pi in picks:
        raw.info["chs"][pi]["coil_type"] = FIFF.FIFFV_COIL_FNIRS_OD
    return raw


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
    qc, motion, _, _ = assess_quality(fnirs_picks(raw, kind), kind, settings, notes)
    return (qc, motion) if return_motion else qc


def assess_quality(raw: mne.io.BaseRaw, kind: str, settings: PreprocessingSettings,
                   notes: list) -> tuple[pd.DataFrame, np.ndarray | None,
                                         mne.io.BaseRaw | None, np.ndarray | None]:
    """:func:`channel_quality` of a recording that holds only its fNIRS channels, and
    the optical density it computed (for the chain, so that it is computed once).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The output of :func:`fnirs_picks` (not changed).
    kind : str
        ``input_kind(raw)``.
    settings : PreprocessingSettings
    notes : list
        Appended to, as in :func:`channel_quality`.

    Returns
    -------
    qc, motion
        As :func:`channel_quality` with ``return_motion=True``.
    raw_od : mne.io.BaseRaw or None
        Optical density of the non-finite-filled signals, every channel, ``bads``
        empty; None for haemoglobin.
    picks : numpy.ndarray of int or None
        ``_validate_nirs_info(raw_od.info)`` (MNE's pair order), for the chain's later
        steps on ``raw_od``; None where it was not needed (haemoglobin, or optical
        density input below the cardiac band's rate).
    """
    names, rows = _rows_of(raw)
    n_pairs, sfreq = len(names), float(raw.info["sfreq"])
    # read only (fill_nonfinite copies before it fills; optical density is a new array)
    data, nonfinite_rows = fill_nonfinite(raw._data if raw.preload else raw.get_data(), kind)
    nonfinite = np.array([nonfinite_rows[r].any() for r in rows])
    flat_rows = _flat_rows(data)
    flat = np.array([flat_rows[r].any() for r in rows])
    row_distance = source_detector_distances(raw.info)
    distance = np.array([np.nanmax(d) if np.isfinite(d).any() else np.nan for d in
                         (row_distance[r] for r in rows)])
    sci = np.full(n_pairs, np.nan)
    psp = np.full(n_pairs, np.nan)
    psp_pass = np.full(n_pairs, np.nan)
    motion_fraction = np.full(n_pairs, np.nan)
    sat_fraction = np.full(n_pairs, np.nan)
    saturated = np.zeros(n_pairs, bool)
    motion = raw_od = picks = None
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
        if kind == "intensity":   # validated once: the names, wavelengths stay
            picks = _validate_nirs_info(raw_od.info, fnirs="cw_amplitude")
            raw_od = _optical_density(raw_od, picks)
        od = raw_od._data   # read only
        band = tuple(float(b) for b in settings.cardiac_band)
        if cardiac_ok(sfreq, band):
            with np.errstate(invalid="ignore", divide="ignore"), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")
                picks, cardiac = cardiac_filtered(raw_od, band, picks=picks)   # once
                values = scalp_coupling_from_filtered(raw_od, picks, cardiac)
                scores = peak_spectral_power(raw_od, time_window=settings.psp_window,
                                             l_freq=band[0], h_freq=band[1],
                                             filtered=cardiac, picks=picks)
            sci = np.array([np.nanmin(values[r]) if np.isfinite(values[r]).any() else np.nan
                            for r in rows])
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
    return qc, motion, raw_od, picks
