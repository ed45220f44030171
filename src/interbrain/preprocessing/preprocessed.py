"""One recording's preprocessed haemoglobin signals (:class:`Preprocessed`) and its
events (:func:`annotation_table`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime

import mne
import numpy as np
import pandas as pd

from ..errors import RecordingError

#: Haemoglobin signals, in the order recordings hold them.
HB_SIGNALS: tuple[str, str] = ("hbo", "hbr")


def absent_signal(like: np.ndarray) -> np.ndarray:
    """The stand-in of a signal a recording does not have: NaN of ``like``'s shape.

    Preprocessing never leaves NaN in a signal it has (non-finite results are
    errors), so an all-NaN array marks the signal as absent (an HbO-only table)."""
    return np.full(np.shape(like), np.nan)


def is_absent(x: np.ndarray) -> bool:
    """True for the stand-in of an absent signal (:func:`absent_signal`): every value
    NaN. An empty array (no channels) counts as present."""
    x = np.asarray(x)
    return x.size > 0 and bool(np.isnan(x.flat[0])) and bool(np.isnan(x).all())


@dataclass
class Preprocessed:
    """Preprocessed haemoglobin signals of one recording.

    Attributes
    ----------
    source : str
        The recording file.
    channels : list of str
        Source-detector pair names of the analysed (long) channels, shape
        (n_channels,).
    hbo, hbr : numpy.ndarray
        Oxy- and deoxy-haemoglobin concentration changes in mol/L, shape
        (n_channels, n_times). Bad channels are included (see
        :attr:`bad_channels`). A signal the recording does not have (a table or
        SNIRF file of HbO or HbR only) is all NaN: :attr:`signals` lists those it
        has, and :meth:`signal` refuses the others.
    sfreq : float
        Sampling rate in Hz.
    meas_date : datetime or None
        Time of the first sample (``raw.info["meas_date"]`` plus ``raw.first_time``),
        None when the file records no start time.
    qc : pandas.DataFrame
        Per-channel quality, one row per analysed channel (see
        :func:`~interbrain.preprocessing.qc.channel_quality`).
    steps : list of dict
        The applied chain, one entry per step with its parameters (JSON-ready).
    regions : dict
        Channel -> nearest 10-20 / 10-10 label, when the recording has usable
        optode positions (see
        :func:`~interbrain.preprocessing.regions.regions_from_montage`); empty
        otherwise.
    annotations : pandas.DataFrame
        The recording's events: ``onset`` (seconds from the first sample),
        ``duration`` (seconds) and ``description``; no rows when it has none.
    short : Preprocessed or None
        The short-separation channels, preprocessed like the long ones but without
        short-channel regression and global-signal removal (same ``sfreq``,
        ``meas_date`` and events; ``qc`` their rows of quality control); None when the
        recording has none (or is haemoglobin input).
    """

    source: str
    channels: list[str]
    hbo: np.ndarray
    hbr: np.ndarray
    sfreq: float
    meas_date: datetime | None
    qc: pd.DataFrame
    steps: list[dict] = field(default_factory=list)
    regions: dict[str, str] = field(default_factory=dict)
    annotations: pd.DataFrame = field(default_factory=lambda: annotation_table(None))
    short: Preprocessed | None = None

    @property
    def n_times(self) -> int:
        """Number of samples."""
        return self.hbo.shape[1]

    @property
    def signals(self) -> tuple[str, ...]:
        """The haemoglobin signals the recording has (``"hbo"``, ``"hbr"``), in that
        order; a signal it lacks is stored as NaN (see :func:`absent_signal`)."""
        return tuple(name for name, x in (("hbo", self.hbo), ("hbr", self.hbr))
                     if not is_absent(x))

    @functools.cached_property
    def bad_channels(self) -> frozenset[str]:
        """Names of the channels marked bad by quality control (read from :attr:`qc`
        once: a synchrony task asks for them for every pairing)."""
        return frozenset(self.qc.loc[self.qc["bad"], "channel"])

    def signal(self, name: str) -> np.ndarray:
        """The (n_channels, n_times) array of ``"hbo"`` or ``"hbr"``.

        Raises
        ------
        RecordingError
            If the recording does not have the signal (naming the file, the signals it
            has and ``[analysis] signals``).
        """
        x = {"hbo": self.hbo, "hbr": self.hbr}[name]
        if is_absent(x):
            raise RecordingError(
                f"{self.source}: has no {name.upper()} signal (it has "
                f"{', '.join(s.upper() for s in self.signals) or 'none'}); analyse the "
                f"signals every recording has: [analysis] signals = "
                f"{list(self.signals)} (or leave signals out: it then defaults to the "
                "signals the recordings have)")
        return x


def annotation_table(raw: mne.io.BaseRaw | None) -> pd.DataFrame:
    """Events of ``raw`` with onsets in seconds from its first sample.

    Parameters
    ----------
    raw : mne.io.BaseRaw or None
        The recording; None for an empty table.

    Returns
    -------
    pandas.DataFrame
        Columns ``onset`` (seconds from the first sample), ``duration`` (seconds) and
        ``description``, one row per annotation.
    """
    columns = ["onset", "duration", "description"]
    if raw is None or len(raw.annotations) == 0:
        return pd.DataFrame({"onset": pd.Series(dtype=float),
                             "duration": pd.Series(dtype=float),
                             "description": pd.Series(dtype=str)}, columns=columns)
    ann = raw.annotations
    onset = np.asarray(ann.onset, float)
    if ann.orig_time is not None:   # onsets count from meas_date, not the first sample
        onset = onset - raw.first_time
    return pd.DataFrame({"onset": onset, "duration": np.asarray(ann.duration, float),
                         "description": [str(d) for d in ann.description]}, columns=columns)
