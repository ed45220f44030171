"""Regression of auxiliary signals (respiration, heart rate, movement), with lags.

Breathing, heart rate and movement change blood flow and oxygenation in the scalp and
the brain alike, with a delay of seconds; time-locked to the interaction they raise
synchrony between partners without neural coupling. Each auxiliary signal, shifted by
each lag of ``aux_lags`` (a(t - lag): the haemodynamic effect follows the signal), is a
regressor; the regressors are band-passed with the same filter as the haemoglobin
signals, and regressed out of every channel (HbO and HbR separately) by least squares
with MNE's :func:`mne.preprocessing.regress_artifact` (the EOG regression of Gratton et
al., 1983, generalised to any reference channels).

The regression comes after the band-pass, with the regressors filtered identically
(as SPM filters its data and design matrix with the same filter): the gains are then
estimated in the analysed band, not dominated by drifts below ``l_freq`` or cardiac
pulsation above ``h_freq``. Because the filter and the regression are linear and the
same regressors enter every channel, regressing on haemoglobin equals regressing on
optical density before the Beer-Lambert law.
"""

from __future__ import annotations

from collections.abc import Sequence

import mne
import numpy as np
import pandas as pd
from mne.preprocessing import regress_artifact

from ..errors import RecordingError

#: Channel-name prefix of the (temporary) regressor channels.
REGRESSOR_PREFIX = "aux:"


def lagged_regressors(aux: pd.DataFrame, lags: Sequence[float], sfreq: float
                      ) -> tuple[np.ndarray, list[str]]:
    """Each auxiliary signal shifted by each lag.

    Parameters
    ----------
    aux : pandas.DataFrame
        One column per auxiliary signal, one row per sample of the recording.
    lags : sequence of float
        Non-negative lags in seconds; the regressor of lag ``L`` at time ``t`` is the
        signal at ``t - L`` (rounded to whole samples), the first value repeated before
        the signal starts.
    sfreq : float
        Sampling rate in Hz.

    Returns
    -------
    regressors : numpy.ndarray
        Shape (n_signals * n_lags, n_times), each signal minus its mean; signal-major
        order (every lag of the first signal, then of the second, ...).
    names : list of str
        ``"aux:<signal>@<lag>s"`` for each row.
    """
    values = aux.to_numpy(float).T
    values = values - values.mean(axis=1, keepdims=True)
    n_times = values.shape[1]
    rows, names = [], []
    shifts = [int(round(lag * sfreq)) for lag in lags]
    if len(set(shifts)) != len(shifts):
        raise ValueError(f"lags {list(lags)} s fall on the same samples at {sfreq:g} Hz "
                         "(identical regressors); use lags at least one sample apart")
    for name, x in zip(aux.columns, values):
        for lag, shift in zip(lags, shifts):
            if shift >= n_times:
                raise ValueError(f"lag {lag} s is not shorter than the recording "
                                 f"({n_times / sfreq:.1f} s)")
            rows.append(np.concatenate([np.full(shift, x[0]), x[:n_times - shift]]))
            names.append(f"{REGRESSOR_PREFIX}{name}@{lag:g}s")
    return np.asarray(rows).reshape(len(rows), n_times), names


def select_aux(aux: pd.DataFrame | None, channels: Sequence[str], source: str
               ) -> pd.DataFrame:
    """The auxiliary signals to regress: ``channels`` (all when empty), checked.

    Raises
    ------
    RecordingError
        Naming ``source``: no auxiliary signals, a named signal missing (listing those
        present) or a flat signal.
    """
    if aux is None or aux.shape[1] == 0:
        raise RecordingError(
            f"{source}: aux_regression = true, but the recording has no auxiliary signals "
            "(SNIRF /nirs/auxN groups: respiration, PPG / heart rate, accelerometer); record "
            "them, or set aux_regression = false in [preprocessing]")
    present = [str(c) for c in aux.columns]
    missing = [c for c in channels if c not in present]
    if missing:
        raise RecordingError(f"{source}: auxiliary signal(s) {', '.join(map(repr, missing))} "
                             f"named in aux_channels are not in the recording (it has "
                             f"{', '.join(map(repr, present))})")
    chosen = aux.set_axis(present, axis=1)[list(channels) or present]
    flat = [c for c in chosen.columns if np.ptp(chosen[c].to_numpy(float)) == 0]
    if flat:
        raise RecordingError(f"{source}: auxiliary signal(s) {', '.join(map(repr, flat))} "
                             "are flat (constant); leave them out of aux_channels")
    return chosen


def add_regressors(raw_hb: mne.io.BaseRaw, aux: pd.DataFrame, lags: Sequence[float],
                   source: str) -> list[str]:
    """Add the lagged auxiliary signals to ``raw_hb`` as ``misc`` channels (in place).

    The channels are band-passed with the haemoglobin signals and removed by
    :func:`regress_aux`. Returns their names.
    """
    if len(aux) != raw_hb.n_times:
        raise RecordingError(f"{source}: {len(aux)} auxiliary samples for "
                             f"{raw_hb.n_times} recording samples")
    try:
        data, names = lagged_regressors(aux, lags, raw_hb.info["sfreq"])
    except ValueError as exc:
        raise RecordingError(f"{source}: aux_lags: {exc}") from None
    info = mne.create_info(names, raw_hb.info["sfreq"], ch_types="misc")
    extra = mne.io.RawArray(data, info, first_samp=raw_hb.first_samp, verbose="ERROR")
    raw_hb.add_channels([extra], force_update_info=True)
    return names


def regress_aux(raw_hb: mne.io.BaseRaw, names: list[str], aux_names: list[str],
                lags: Sequence[float], filtered: bool, source: str) -> dict:
    """Regress the regressor channels ``names`` out of every HbO and HbR channel.

    Parameters
    ----------
    raw_hb : mne.io.BaseRaw
        Haemoglobin with the regressor channels of :func:`add_regressors`; changed in
        place, the regressor channels dropped.
    names : list of str
        The regressor channels.
    aux_names : list of str
        The auxiliary signals they come from (for the record).
    lags : sequence of float
        Their lags in seconds (for the record).
    filtered : bool
        Whether the regressors were band-passed with the signals (for the record).
    source : str
        The recording, for messages.

    Returns
    -------
    dict
        The step for :attr:`~interbrain.preprocessing.Preprocessed.steps`, with the
        median over channels of the fraction of variance removed.
    """
    picks = mne.pick_types(raw_hb.info, fnirs=True, exclude=[])
    before = raw_hb.get_data(picks=picks).var(axis=1)
    try:
        regress_artifact(raw_hb, picks=picks, exclude=[], picks_artifact=names, proj=False,
                         copy=False, verbose="ERROR")
    except np.linalg.LinAlgError:
        raise RecordingError(f"{source}: the lagged auxiliary signals are collinear "
                             "(singular least squares); use fewer aux_lags or "
                             "aux_channels") from None
    after = raw_hb.get_data(picks=picks).var(axis=1)
    raw_hb.drop_channels(names)
    removed = np.where(before > 0, 1 - after / np.where(before > 0, before, 1), 0.0)
    return {"step": "aux_regression", "function": "mne.preprocessing.regress_artifact",
            "reader": "mne_nirs.io.snirf.read_snirf_aux_data (linear interpolation to "
                      "the samples)",
            "method": "least squares per channel, HbO and HbR separately, each auxiliary "
                      "signal at each lag a regressor (plus the mean)"
                      + ("; regressors band-passed with the signals' filter" if filtered
                         else "; regressors unfiltered (the signals are not band-passed)"),
            "aux_channels": list(aux_names), "lags_s": [float(v) for v in lags],
            "n_regressors": len(names),
            "median_variance_removed": float(np.median(removed)) if removed.size else None}
