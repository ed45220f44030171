"""The preprocessing chain from raw intensity to band-passed HbO/HbR."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import mne
import numpy as np
import pandas as pd
from mne.preprocessing.nirs import (beer_lambert_law, optical_density,
                                    temporal_derivative_distribution_repair)

from ..errors import RecordingError
from .settings import PreprocessingSettings
from .qc import channel_quality, pair_names


@dataclass
class Preprocessed:
    """Preprocessed haemoglobin signals of one recording.

    Attributes
    ----------
    source : str
        The recording file.
    channels : list of str
        Source-detector pair names, shape (n_channels,).
    hbo, hbr : numpy.ndarray
        Oxy- and deoxy-haemoglobin concentration changes in mol/L, shape
        (n_channels, n_times).
    sfreq : float
        Sampling rate in Hz.
    meas_date : datetime or None
        Start of the recording.
    qc : pandas.DataFrame
        Per-channel quality (see :func:`channel_quality`).
    steps : list of dict
        The applied chain, one entry per step with its parameters.
    """

    source: str
    channels: list[str]
    hbo: np.ndarray
    hbr: np.ndarray
    sfreq: float
    meas_date: datetime | None
    qc: pd.DataFrame
    steps: list[dict] = field(default_factory=list)

    @property
    def n_times(self) -> int:
        """Number of samples."""
        return self.hbo.shape[1]

    @property
    def bad_channels(self) -> set[str]:
        """Names of the channels marked bad by quality control."""
        return set(self.qc.loc[self.qc["bad"], "channel"])

    def signal(self, name: str) -> np.ndarray:
        """The (n_channels, n_times) array of ``"hbo"`` or ``"hbr"``."""
        return {"hbo": self.hbo, "hbr": self.hbr}[name]


def preprocess_recording(raw: mne.io.BaseRaw, settings: PreprocessingSettings,
                         *, source: str = "") -> Preprocessed:
    """Run quality control and the preprocessing chain on one recording.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Raw continuous-wave intensities, preloaded (see
        :func:`interbrain.io.read_recording`).
    settings : PreprocessingSettings
        Thresholds and parameters of the chain.
    source : str
        Name of the recording file, used in error messages.

    Returns
    -------
    Preprocessed

    Raises
    ------
    RecordingError
        If every channel of the recording is bad.
    """
    steps: list[dict] = []
    raw_od = optical_density(raw, verbose="ERROR")
    steps.append({"step": "optical_density", "function": "mne.preprocessing.nirs.optical_density"})
    qc = channel_quality(raw_od, sci_threshold=settings.sci_threshold)
    steps.append({"step": "scalp_coupling_index",
                  "function": "mne.preprocessing.nirs.scalp_coupling_index",
                  "l_freq": 0.7, "h_freq": 1.5, "threshold": settings.sci_threshold})
    if qc["bad"].all():
        raise RecordingError(f"{source}: every channel is bad (scalp coupling index below "
                             f"{settings.sci_threshold} or flat); nothing to analyse")
    bads = set(qc.loc[qc["bad"], "channel"])
    raw_od.info["bads"] = [ch for ch in raw_od.ch_names if ch.split(" ")[0] in bads]
    if settings.motion_correction == "tddr":
        raw_od = temporal_derivative_distribution_repair(raw_od, verbose="ERROR")
        steps.append({"step": "motion_correction",
                      "function": "mne.preprocessing.nirs.temporal_derivative_distribution_repair"})
    raw_hb = beer_lambert_law(raw_od, ppf=settings.ppf)
    steps.append({"step": "beer_lambert_law", "function": "mne.preprocessing.nirs.beer_lambert_law",
                  "ppf": settings.ppf})
    raw_hb.filter(settings.l_freq, settings.h_freq, picks=["hbo", "hbr"], method="iir",
                  iir_params=dict(order=4, ftype="butter", output="sos"), verbose="ERROR")
    steps.append({"step": "band_pass", "function": "mne.io.Raw.filter",
                  "l_freq": settings.l_freq, "h_freq": settings.h_freq,
                  "method": "zero-phase Butterworth IIR, order 4 (sosfiltfilt)"})
    channels = pair_names(raw_hb)
    data = raw_hb.get_data()
    index = {name: i for i, name in enumerate(raw_hb.ch_names)}
    try:
        hbo = data[[index[f"{c} hbo"] for c in channels]]
        hbr = data[[index[f"{c} hbr"] for c in channels]]
    except KeyError as exc:
        raise RecordingError(f"{source}: channel {exc} missing after Beer-Lambert "
                             "conversion") from None
    if not (np.all(np.isfinite(hbo)) and np.all(np.isfinite(hbr))):
        raise RecordingError(f"{source}: preprocessing produced non-finite values")
    return Preprocessed(source=source, channels=channels, hbo=hbo, hbr=hbr,
                        sfreq=float(raw.info["sfreq"]), meas_date=raw.info["meas_date"],
                        qc=qc, steps=steps)
