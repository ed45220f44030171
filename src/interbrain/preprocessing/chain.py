"""The preprocessing chain from raw intensity to band-passed HbO/HbR.

Steps, in order (each recorded with its parameters in :attr:`Preprocessed.steps`):

1. **optical density** (MNE's :func:`~mne.preprocessing.nirs.optical_density`),
   skipped when the input already is optical density or haemoglobin;
2. **quality control** (:func:`~interbrain.preprocessing.qc.channel_quality`):
   marked bad in the recording, flat, non-finite, saturated, scalp coupling index,
   peak spectral power and motion fraction; the bad channels are kept in the arrays
   but listed in :attr:`Preprocessed.bad_channels`;
3. **motion correction** on optical density: ``"tddr"``, ``"spline"``,
   ``"wavelet"`` or ``"none"`` (:mod:`~interbrain.preprocessing.motion`);
4. **short-channel regression** (Saager & Berger, 2005; MNE-NIRS's
   :func:`~mne_nirs.signal_enhancement.short_channel_regression`): the nearest good
   short channel (source-detector distance at most ``short_channel_max_distance``)
   is regressed out of every long channel, on optical density; skipped with a note
   when the recording has no (good) short channel. Short channels are then dropped;
5. **modified Beer-Lambert law** (MNE's
   :func:`~mne.preprocessing.nirs.beer_lambert_law`, partial pathlength factor
   ``ppf``; its values, bitwise, from :func:`~.beer_lambert.beer_lambert`) to HbO and
   HbR in mol/L;
6. **band-pass** ``l_freq``-``h_freq`` Hz, zero-phase 4th-order Butterworth
   (second-order sections, forward and backward);
7. optional **auxiliary-signal regression** (``aux_regression``): the recording's
   auxiliary signals (respiration, heart rate, accelerometer), each at every lag of
   ``aux_lags``, band-passed with the same filter, regressed out of every channel
   (:mod:`~interbrain.preprocessing.aux_regression`);
8. optional **global-signal removal**: the mean over good channels is regressed out
   of every channel (a least-squares gain per channel), separately for HbO and HbR.

Recordings that are already haemoglobin (computed elsewhere: tables, processed SNIRF
files) skip 1, the spectral and motion criteria of 2, and 3-5, and are band-passed
only with ``filter_preprocessed``; they may hold HbO only or HbR only, and the signal
they lack is absent from the result (:attr:`Preprocessed.signals`).

The short channels themselves go through the same chain but short-channel regression
and global-signal removal (optical density, motion correction, Beer-Lambert law,
band-pass, auxiliary regression) and are kept in :attr:`Preprocessed.short`: the
systemic null of the synchrony analysis pairs them like the long channels.

References
----------
Saager RB, Berger AJ (2005). Direct characterization and removal of interfering
absorption trends in two-layer turbid media. Journal of the Optical Society of
America A 22, 1874-1882.
"""

from __future__ import annotations

from datetime import timedelta

import mne
import numpy as np
import pandas as pd

from ..errors import RecordingError
from .aux_regression import add_regressors, regress_aux, select_aux
from .beer_lambert import beer_lambert
from .iir import band_pass_raw
from .motion import correct_motion
from .preprocessed import (HB_SIGNALS, Preprocessed, absent_signal, annotation_table,
                           is_absent)
from .qc import REASONS, assess_quality, fill_nonfinite, fnirs_picks, input_kind, pair_names
from .regions import regions_from_montage
from .settings import PreprocessingSettings
from .short_channels import short_channel_step, short_pairs

#: Fewest good channels for global-signal removal.
MIN_GLOBAL_CHANNELS = 3


#: The former private name, which tests still use.
_annotation_table = annotation_table


def _json(value):
    """A JSON-ready copy of a step's value (no NaN, numpy scalars or tuples)."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _qc_step(settings: PreprocessingSettings, kind: str, notes: list[str]) -> dict:
    step = {"step": "quality_control", "function": "interbrain.preprocessing.qc.channel_quality",
            "criteria": ["marked bad in the recording (raw.info['bads'])",
                         "non-finite values", "flat (zero variance)"]}
    if kind == "intensity":
        step["criteria"].append("saturated")
        step.update(saturation_level=settings.saturation_level or "recording maximum",
                    max_saturated_fraction=settings.max_saturated_fraction)
    if kind in ("intensity", "od"):
        step["criteria"] += ["scalp coupling index", "peak spectral power", "motion fraction"]
        step.update(
            sci_function="mne.preprocessing.nirs.scalp_coupling_index",
            sci_threshold=settings.sci_threshold, cardiac_band_hz=settings.cardiac_band,
            psp_function="mne_nirs.preprocessing.peak_power",
            psp_threshold=settings.psp_threshold, psp_window_s=settings.psp_window,
            psp_summary="median over windows",
            motion_detection="interbrain.preprocessing.motion.detect_motion "
                             "(Homer2 hmrMotionArtifactByChannel)",
            motion_t_motion_s=settings.motion_t_motion, motion_t_mask_s=settings.motion_t_mask,
            motion_std_thresh=settings.motion_std_thresh,
            motion_amp_thresh=settings.motion_amp_thresh,
            max_motion_fraction=settings.max_motion_fraction,
            references=["Pollonini et al. (2014)", "Pollonini et al. (2016)"])
    if notes:
        step["notes"] = list(notes)
    return step


def _all_bad_message(source: str, qc: pd.DataFrame) -> str:
    counts = {reason: int(qc["reason"].str.contains(reason, regex=False).sum())
              for reason in REASONS.values()}
    found = ", ".join(f"{reason} {n}" for reason, n in counts.items() if n)
    return (f"{source}: every channel is bad ({len(qc)} channel(s): {found}); nothing to "
            "analyse")


def _band_pass(raw_hb: mne.io.BaseRaw, settings: PreprocessingSettings) -> dict:
    present = [t for t in HB_SIGNALS if t in set(raw_hb.get_channel_types())]
    # raw_hb.filter(..., method="iir", iir_params=dict(order=4, ftype="butter",
    # output="sos")), bitwise, on all channels side by side
    band_pass_raw(raw_hb, settings.l_freq, settings.h_freq, present, order=4)
    return {"step": "band_pass", "function": "mne.io.Raw.filter",
            "l_freq": settings.l_freq, "h_freq": settings.h_freq,
            "method": "zero-phase Butterworth IIR, order 4 (sosfiltfilt)"}


def _band_pass_and_aux(raw_hb: mne.io.BaseRaw, settings: PreprocessingSettings,
                       aux: pd.DataFrame | None, source: str, band_pass: bool = True
                       ) -> list[dict]:
    """Band-pass (if ``band_pass``) and regress the lagged auxiliary signals ``aux``
    (None: aux_regression is off), the regressors filtered like the signals."""
    names = [] if aux is None else add_regressors(raw_hb, aux, settings.aux_lags, source)
    steps = []
    if band_pass:
        steps.append(_band_pass(raw_hb, settings))
        if names:
            raw_hb.filter(settings.l_freq, settings.h_freq, picks=names, method="iir",
                          iir_params=dict(order=4, ftype="butter", output="sos"),
                          verbose="ERROR")
    if aux is not None:   # off: no entry (preprocessing.json lists the settings)
        steps.append(regress_aux(raw_hb, names, [str(c) for c in aux.columns],
                                 settings.aux_lags, band_pass, source))
    return steps


def _short_recording(raw_od: mne.io.BaseRaw, short: list[str], short_qc: pd.DataFrame,
                     settings: PreprocessingSettings, aux: pd.DataFrame | None,
                     source: str) -> tuple[Preprocessed, dict]:
    """The short channels of motion-corrected ``raw_od`` to band-passed haemoglobin
    (no short-channel regression, no global-signal removal), and the step recording it."""
    raw_hb = beer_lambert(raw_od.copy().pick(
        [ch for ch in raw_od.ch_names if ch.split(" ")[0] in short]), ppf=settings.ppf,
        copy=False)   # MNE's beer_lambert_law, on this private copy
    steps = _band_pass_and_aux(raw_hb, settings, aux, source)
    hbo, hbr = _extract(raw_hb, short, source)
    if not (np.all(np.isfinite(hbo)) and np.all(np.isfinite(hbr))):
        raise RecordingError(f"{source}: preprocessing of the short channels produced "
                             "non-finite values")
    rec = Preprocessed(source=source, channels=list(short), hbo=hbo, hbr=hbr,
                       sfreq=float(raw_hb.info["sfreq"]), meas_date=None,
                       qc=short_qc.reset_index(drop=True), steps=_json(steps))
    step = {"step": "short_channel_signals", "channels": list(short),
            "bad_channels": sorted(rec.bad_channels),
            "chain": [s["step"] for s in steps if not s.get("skipped")],
            "method": "optical density, quality control and motion correction as the long "
                      "channels, then the modified Beer-Lambert law, band-pass and auxiliary "
                      "regression as the long channels; no short-channel regression, no "
                      "global-signal removal; kept for the systemic null (synchrony of the "
                      "short channels)"}
    return rec, step


def global_signal_regression(x: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Regress the mean of the good channels out of every channel.

    Parameters
    ----------
    x : numpy.ndarray
        Signals, shape (n_channels, n_times).
    good : numpy.ndarray of bool
        Channels that make up the global signal, shape (n_channels,).

    Returns
    -------
    numpy.ndarray
        ``x - beta * g`` with ``g`` the mean over good channels (zero-mean) and
        ``beta`` each channel's least-squares gain, shape (n_channels, n_times).
    """
    g = x[good].mean(axis=0)
    g = g - g.mean()
    denom = float(g @ g)
    if denom == 0:
        return x.copy()
    beta = (x - x.mean(axis=1, keepdims=True)) @ g / denom
    return x - beta[:, None] * g[None, :]


def _regions(raw: mne.io.BaseRaw, channels: list[str]) -> tuple[dict[str, str], dict]:
    try:
        labels = regions_from_montage(raw)
    except ValueError as exc:
        return {}, {"step": "regions", "skipped": True, "reason": str(exc)}
    regions = {ch: labels[ch] for ch in channels if ch in labels}
    return regions, {"step": "regions",
                     "function": "interbrain.preprocessing.regions.regions_from_montage",
                     "montage": "standard_1020", "n_channels": len(regions)}


def _extract(raw_hb: mne.io.BaseRaw, channels: list[str], source: str
             ) -> tuple[np.ndarray, np.ndarray]:
    """HbO and HbR of ``channels``, shape (n_channels, n_times) each; a signal no
    channel has (an HbO-only table) is :func:`~.preprocessed.absent_signal`."""
    data = raw_hb._data   # read only: the rows are copied out below
    index = {name: i for i, name in enumerate(raw_hb.ch_names)}
    present = [t for t in HB_SIGNALS if any(n.endswith(f" {t}") for n in index)]
    out = {}
    for signal in present:
        lacking = [c for c in channels if f"{c} {signal}" not in index]
        if lacking:
            raise RecordingError(
                f"{source}: channel(s) {', '.join(lacking)} have no {signal.upper()} signal "
                f"while other channels have one; give every source-detector pair the same "
                f"signals ({' and '.join(s.upper() for s in present)}, or one of them)")
        out[signal] = data[[index[f"{c} {signal}"] for c in channels]]
    if not out:
        raise RecordingError(f"{source}: no HbO or HbR channel")
    like = next(iter(out.values()))
    return (out.get("hbo", absent_signal(like)), out.get("hbr", absent_signal(like)))


def _finite(*signals: np.ndarray) -> bool:
    """Every present signal (not :func:`~.preprocessed.is_absent`) is finite."""
    return all(is_absent(x) or bool(np.all(np.isfinite(x))) for x in signals)


def preprocess_recording(raw: mne.io.BaseRaw, settings: PreprocessingSettings,
                         *, source: str = "", aux: pd.DataFrame | None = None
                         ) -> Preprocessed:
    """Run quality control and the preprocessing chain on one recording.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Preloaded fNIRS recording: raw continuous-wave intensities (see
        :func:`interbrain.io.read_recording`), optical density (``fnirs_od``) or
        haemoglobin concentrations in mol/L (``hbo`` and ``hbr``, or one of them for
        every channel). Shape (n_rows, n_times): two or more rows per source-detector
        pair of raw intensity or optical density, one per signal of haemoglobin.
    settings : PreprocessingSettings
        Thresholds and parameters of the chain.
    source : str
        Name of the recording file, used in error messages.
    aux : pandas.DataFrame, optional
        The recording's auxiliary signals, one column each, one row per sample of
        ``raw`` (:func:`interbrain.io.auxiliary.read_aux`); used, and needed, only with
        ``settings.aux_regression``.

    Returns
    -------
    Preprocessed
        HbO and HbR of the long channels, shape (n_channels, n_times) each, the
        quality table, the applied steps and the channels' montage regions.

    Raises
    ------
    RecordingError
        If the recording holds no fNIRS channels, a haemoglobin channel lacks a signal
        the others have, every
        analysed channel is bad, the chain produced non-finite values, or
        ``aux_regression`` is on and ``aux`` lacks auxiliary signals (or one named in
        ``aux_channels``). The message names ``source``.
    """
    try:
        kind = input_kind(raw)
    except ValueError as exc:
        raise RecordingError(f"{source}: {exc}") from None
    aux = select_aux(aux, settings.aux_channels, source) if settings.aux_regression else None
    short_rec = None
    annotations = annotation_table(raw)
    start = raw.info["meas_date"]
    if start is not None and raw.first_samp:
        start = start + timedelta(seconds=raw.first_time)   # meas_date is sample 0's time
    raw = fnirs_picks(raw, kind)
    sfreq = float(raw.info["sfreq"])
    steps: list[dict] = [{"step": "input", "kind": {"intensity": "raw intensity",
                                                    "od": "optical density",
                                                    "hb": "haemoglobin"}[kind],
                          "sfreq_hz": sfreq, "n_pairs": len(pair_names(raw))}]
    notes: list[str] = []
    qc, motion, quality_od, od_picks = assess_quality(raw, kind, settings, notes)
    if kind == "hb":
        data, _ = fill_nonfinite(raw.get_data(), kind)
        raw = mne.io.RawArray(data, raw.info, first_samp=raw.first_samp, verbose="ERROR")
        raw.info["bads"] = []   # the QC table holds the marks; bad rows go through the chain
        steps.append({"step": "skipped",
                      "skipped": ["optical_density", "scalp_coupling_index",
                                  "peak_spectral_power", "motion_detection",
                                  "motion_correction", "short_channel_regression",
                                  "beer_lambert_law"],
                      "reason": "the recording holds haemoglobin concentrations computed "
                                "elsewhere",
                      "signals": [t for t in HB_SIGNALS
                                  if t in set(raw.get_channel_types())]})
        steps.append(_qc_step(settings, kind, notes))
        channels = pair_names(raw)
        if qc["bad"].all():
            raise RecordingError(_all_bad_message(source, qc))
        raw_hb = raw
        if not settings.filter_preprocessed:
            steps.append({"step": "band_pass", "skipped": True,
                          "reason": "filter_preprocessed = false"})
        steps += _band_pass_and_aux(raw_hb, settings, aux, source,
                                    band_pass=settings.filter_preprocessed)
    else:
        # the (non-finite-filled) optical density quality control computed, bads empty:
        # a temporary of this function's, changed in place from here on; od_picks:
        # its channels validated by MNE's _validate_nirs_info (None if not yet)
        raw_od = quality_od
        od_names = list(raw_od.ch_names)
        if kind == "intensity":
            steps.append({"step": "optical_density",
                          "function": "mne.preprocessing.nirs.optical_density"})
        else:
            steps.append({"step": "optical_density", "skipped": True,
                          "reason": "the input already is optical density"})
        short = short_pairs(raw_od, settings.short_channel_max_distance)
        long_pairs = [c for c in pair_names(raw_od) if c not in short]
        if not long_pairs:
            raise RecordingError(f"{source}: every channel is a short channel (source-"
                                 f"detector distance at most "
                                 f"{settings.short_channel_max_distance} m); nothing to analyse")
        steps.append(_qc_step(settings, kind, notes))
        is_short = qc["channel"].isin(short)
        short_qc, qc = qc[is_short], qc[~is_short].reset_index(drop=True)
        if qc["bad"].all():
            raise RecordingError(_all_bad_message(source, qc))
        bad_pairs = set(qc.loc[qc["bad"], "channel"]) | set(short_qc.loc[short_qc["bad"],
                                                                          "channel"])
        raw_od.info["bads"] = [ch for ch in raw_od.ch_names if ch.split(" ")[0] in bad_pairs]
        rows = {name: i for i, name in enumerate(pair_names(raw_od))}
        row_mask = None
        if motion is not None:
            row_mask = np.array([motion[rows[ch.split(" ")[0]]] for ch in raw_od.ch_names])
        raw_od, step = correct_motion(raw_od, settings, row_mask, picks=od_picks,
                                      copy=False)
        steps.append(step)
        if short:
            short_rec, short_step = _short_recording(raw_od, short, short_qc, settings, aux,
                                                     source)
            short_rec.meas_date, short_rec.annotations = start, annotations
        raw_od = short_channel_step(raw_od, settings, short, short_qc, steps)
        if short:   # short channels are regressors only, never analysed
            raw_od = raw_od.copy().drop_channels(
                [ch for ch in raw_od.ch_names if ch.split(" ")[0] in short])
        raw_hb = beer_lambert(raw_od, ppf=settings.ppf, copy=False,   # MNE's, bitwise
                              picks=od_picks if raw_od.ch_names == od_names else None)
        steps.append({"step": "beer_lambert_law",
                      "function": "mne.preprocessing.nirs.beer_lambert_law",
                      "ppf": settings.ppf, "units": "mol/L"})
        steps += _band_pass_and_aux(raw_hb, settings, aux, source)
        if short:
            steps.append(short_step)
        channels = long_pairs

    hbo, hbr = _extract(raw_hb, channels, source)
    if settings.global_signal_removal:
        good = ~qc.set_index("channel").loc[channels, "bad"].to_numpy(bool)
        if good.sum() >= MIN_GLOBAL_CHANNELS:
            hbo, hbr = (x if is_absent(x) else global_signal_regression(x, good)
                        for x in (hbo, hbr))
            steps.append({"step": "global_signal_removal",
                          "function": "interbrain.preprocessing.chain.global_signal_regression",
                          "method": "mean of good channels regressed out of every channel "
                                    "(least-squares gain), HbO and HbR separately",
                          "n_good_channels": int(good.sum())})
        else:
            steps.append({"step": "global_signal_removal", "skipped": True,
                          "reason": f"fewer than {MIN_GLOBAL_CHANNELS} good channels"})
    if not _finite(hbo, hbr):
        raise RecordingError(f"{source}: preprocessing produced non-finite values")
    regions, step = _regions(raw, channels)
    steps.append(step)
    return Preprocessed(source=source, channels=channels, hbo=hbo, hbr=hbr, sfreq=sfreq,
                        meas_date=start, qc=qc, steps=_json(steps),
                        regions=regions, annotations=annotations,
                        short=short_rec)
