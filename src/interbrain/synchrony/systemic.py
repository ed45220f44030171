"""The systemic null: synchrony of the short-separation channels.

Short-separation channels (source-detector distance up to ``short_channel_max_distance``,
about 8 mm) see the scalp and systemic physiology (breathing, heart rate, blood pressure,
movement) but hardly the brain. Analysed exactly like the long channels (same wavelet
coherence, same real and null pairings), their synchrony shows how much coupling the
body produces on its own; coupling in the long channels that the short channels show as
well is not evidence of brain-to-brain synchrony.

The short channels of a recording are kept by the preprocessing chain in
:attr:`~interbrain.preprocessing.Preprocessed.short`; :func:`signal_recordings` swaps
them in for the signals ``"hbo_short"`` and ``"hbr_short"``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..assembly import resample_to
from ..preprocessing import Preprocessed
from .settings import SHORT_SIGNALS, base_signal, is_short_signal


def short_view(rec: Preprocessed) -> Preprocessed:
    """The short-separation channels of ``rec`` as a recording of their own.

    Parameters
    ----------
    rec : Preprocessed
        A preprocessed recording (possibly resampled).

    Returns
    -------
    Preprocessed
        ``rec.short`` with ``rec``'s source, start time and events, brought to
        ``rec.sfreq`` (:func:`~interbrain.assembly.resample_to`) when it was resampled;
        without channels (shape (0, n_times)) when ``rec`` has no short channels.
    """
    short = rec.short
    if short is None:
        empty = np.empty((0, rec.n_times))
        return Preprocessed(source=rec.source, channels=[], hbo=empty, hbr=empty,
                            sfreq=rec.sfreq, meas_date=rec.meas_date, qc=rec.qc.iloc[:0],
                            steps=[], annotations=rec.annotations)
    if short.sfreq != rec.sfreq:
        short = resample_to(short, rec.sfreq)
    return replace(short, source=rec.source, meas_date=rec.meas_date,
                   annotations=rec.annotations, regions={}, short=None)


def signal_recordings(recordings: dict[str, Preprocessed], signal: str
                      ) -> dict[str, Preprocessed]:
    """The recordings whose channels carry ``signal``: ``recordings`` for ``"hbo"`` and
    ``"hbr"``, their :func:`short_view` for ``"hbo_short"`` and ``"hbr_short"``."""
    if not is_short_signal(signal):
        return recordings
    return {key: short_view(rec) for key, rec in recordings.items()}


def short_signal_notes(synchrony: pd.DataFrame, signals: tuple[str, ...]) -> list[str]:
    """Notes for the report on short-channel signals without rows.

    Parameters
    ----------
    synchrony : pandas.DataFrame
        The ``"synchrony"`` table (column ``signal``).
    signals : tuple of str
        The analysed signals (``AnalysisSettings.signals``).

    Returns
    -------
    list of str
        One sentence per short-channel signal with no real-dyad row: the recordings
        have no (good) short channels, so the systemic null could not be computed.
    """
    real = synchrony.loc[synchrony["pairing"] == "real", "signal"] if len(synchrony) else []
    present = set(real)
    return [f"No synchrony of the short-separation channels ({s}): no real dyad has good "
            f"short channels in both partners, so the systemic null of {base_signal(s)} "
            "could not be computed." for s in signals
            if s in SHORT_SIGNALS and s not in present]
