"""Motion-artefact detection and correction on optical density.

Detection
---------
:func:`detect_motion` follows Homer2's ``hmrMotionArtifactByChannel`` (Huppert et
al., 2009): for every sample ``t`` of a channel it takes the largest absolute
change of optical density (OD) between ``t`` and the samples up to ``t_motion``
seconds later; the sample is motion when that change exceeds ``amp_thresh`` (OD,
unitless) or ``std_thresh`` standard deviations of the channel's sample-to-sample
differences. Every motion sample is then widened by ``t_mask`` seconds on both
sides.

Correction
----------
``"tddr"``
    Temporal derivative distribution repair (Fishburn et al., 2019), MNE's
    :func:`mne.preprocessing.nirs.temporal_derivative_distribution_repair`; needs
    no detection.
``"spline"``
    Spline interpolation (MARA; Scholkmann et al., 2010), as in Homer2's
    ``hmrMotionCorrectSpline``: a smoothing spline is fitted to each detected
    motion segment and subtracted from it, then every segment is shifted so that
    its start continues the level of the end of the segment before it
    (:func:`spline_correction`).
``"wavelet"``
    Wavelet outlier removal (Molavi & Dumont, 2012), as in Homer2's
    ``hmrMotionCorrectWavelet``: a discrete wavelet decomposition of each channel
    whose detail coefficients lying more than ``iqr`` interquartile ranges outside
    the quartiles of their level are set to zero (:func:`wavelet_correction`;
    needs PyWavelets).

References
----------
Fishburn FA, Ludlum RS, Vaidya CJ, Medvedev AV (2019). Temporal derivative
distribution repair (TDDR): a motion correction method for fNIRS. NeuroImage 184,
171-179.

Huppert TJ, Diamond SG, Franceschini MA, Boas DA (2009). HomER: a review of
time-series analysis methods for near-infrared spectroscopy of the brain. Applied
Optics 48, D280-D298.

Molavi B, Dumont GA (2012). Wavelet-based motion artifact removal for functional
near-infrared spectroscopy. Physiological Measurement 33, 259-270.

Scholkmann F, Spichtig S, Muehlemann T, Wolf M (2010). How to detect and reduce
movement artifacts in near-infrared imaging using moving standard deviation and
spline interpolation. Physiological Measurement 31, 649-662.
"""

from __future__ import annotations

import mne
import numpy as np
from mne.preprocessing.nirs import _validate_nirs_info
from scipy.interpolate import make_smoothing_spline

from .._check import check_option
from .._compiled import jit
from .settings import MOTION_CORRECTIONS, PreprocessingSettings
from .tddr import tddr

#: Samples (rows x times) of motion detection handled together.
_MOTION_BLOCK = 200_000

__all__ = ["detect_motion", "spline_correction", "wavelet_correction", "correct_motion"]


def detect_motion(od: np.ndarray, sfreq: float, *, t_motion: float = 0.5,
                  t_mask: float = 1.0, std_thresh: float = 20.0,
                  amp_thresh: float = 0.5) -> np.ndarray:
    """Samples corrupted by motion, per channel (Homer2 ``hmrMotionArtifactByChannel``).

    Parameters
    ----------
    od : numpy.ndarray
        Optical density (unitless), shape (n_channels, n_times) or (n_times,).
    sfreq : float
        Sampling rate in Hz.
    t_motion : float
        Seconds over which the largest amplitude change is measured.
    t_mask : float
        Seconds marked as motion on each side of a detected sample.
    std_thresh : float
        Threshold on the change in standard deviations of the channel's
        sample-to-sample differences.
    amp_thresh : float
        Threshold on the change in optical density.

    Returns
    -------
    numpy.ndarray of bool
        Same shape as ``od``; True where a sample is motion-corrupted.
    """
    x = np.atleast_2d(np.asarray(od, float))
    n = x.shape[1]
    mask = np.zeros(x.shape, bool)
    if n < 2:
        return mask.reshape(np.shape(od))
    lag = max(1, int(round(t_motion * sfreq)))
    buffer = int(round(t_mask * sfreq))
    block = max(1, _MOTION_BLOCK // n)   # rows at a time: their arrays stay in cache
    for first in range(0, len(x), block):
        rows = np.ascontiguousarray(x[first:first + block])
        std_diff = np.std(np.diff(rows, axis=1), axis=1)
        _flag_motion(rows, std_thresh * std_diff, float(amp_thresh), min(lag, n - 1),
                     max(buffer, 0), mask[first:first + block])
    return mask.reshape(np.shape(od))


@jit
def _flag_motion(rows, std_limit, amp_limit, lag, buffer, mask):
    """Homer2's motion samples of each row, into ``mask`` (all False on entry).

    A sample is motion when the largest absolute change to any of the next ``lag``
    samples exceeds the row's ``std_limit`` or ``amp_limit`` (numpy's
    ``np.maximum`` of the changes, NaN propagating, and its comparisons); every sample
    within ``buffer`` of one is marked (SciPy's ``maximum_filter1d`` of the flags,
    window 2 * buffer + 1, ``mode="constant"``).
    """
    n = rows.shape[1]
    largest = np.empty(n)
    for r in range(rows.shape[0]):
        x = rows[r]
        out = mask[r]
        largest[:] = 0.0
        for k in range(1, lag + 1):
            ahead, here, top = x[k:], x[:n - k], largest[:n - k]
            for t in range(n - k):
                change = np.abs(ahead[t] - here[t])
                # np.maximum: the larger, NaN if either is NaN (NaN > v is False)
                top[t] = change if (change > top[t]) | (change != change) else top[t]
        limit = std_limit[r]
        marked = -1                       # last index marked so far
        for t in range(n):
            if (largest[t] > limit) | (largest[t] > amp_limit):
                start = max(t - buffer, marked + 1)
                stop = min(n - 1, t + buffer)
                for j in range(start, stop + 1):
                    out[j] = True
                if stop > marked:
                    marked = stop


def _runs(flags: np.ndarray) -> list[tuple[int, int, bool]]:
    """Maximal runs ``(start, stop, value)`` of equal values of a 1-d bool array."""
    edges = np.flatnonzero(np.diff(flags.astype(np.int8))) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [flags.size]])
    return [(int(a), int(b), bool(flags[a])) for a, b in zip(starts, stops)]


def _level_window(length: int, sfreq: float, dt_short: float = 0.3,
                  dt_long: float = 3.0) -> int:
    """Samples used for the level of a segment (Homer2's spline reconstruction)."""
    if length <= dt_short * sfreq:
        return length
    if length < dt_long * sfreq:
        return max(1, int(np.floor(dt_short * sfreq)))
    return max(1, length // 10)


def spline_correction(od: np.ndarray, mask: np.ndarray, sfreq: float, *,
                      p: float = 0.99) -> np.ndarray:
    """Spline-interpolation motion correction (Scholkmann et al., 2010).

    For every channel, a cubic smoothing spline is fitted to each motion segment (a
    maximal run of True in ``mask``) and subtracted from it, which removes the slow
    artefact shape and keeps the faster physiology; then, segment by segment from
    the start of the recording, each segment (motion or not) is shifted so that the
    mean of its first samples equals the mean of the last samples of the corrected
    segment before it (windows of 0.3 s, or a tenth of segments longer than 3 s, as
    in Homer2's ``hmrMotionCorrectSpline``).

    Parameters
    ----------
    od : numpy.ndarray
        Optical density, shape (n_channels, n_times).
    mask : numpy.ndarray of bool
        Motion samples, shape (n_channels, n_times) (see :func:`detect_motion`).
    sfreq : float
        Sampling rate in Hz.
    p : float
        Smoothing parameter in (0, 1] in MATLAB ``csaps`` convention (time in
        seconds): the spline minimises ``p * sum((y - f)**2) + (1 - p) *
        integral(f''**2)``, i.e. :func:`scipy.interpolate.make_smoothing_spline`
        with ``lam = (1 - p) / p``. Homer2's default is 0.99.

    Returns
    -------
    numpy.ndarray
        Corrected optical density, shape (n_channels, n_times); channels without
        motion are returned unchanged.
    """
    od = np.atleast_2d(np.asarray(od, float))
    mask = np.broadcast_to(np.atleast_2d(mask), od.shape)
    out = od.copy()
    t = np.arange(od.shape[1]) / sfreq
    lam = (1.0 - p) / p
    for i in np.flatnonzero(mask.any(axis=1)):
        x = od[i].copy()
        runs = _runs(mask[i])
        for a, b, motion in runs:
            if motion and b - a >= 5:   # a smoothing spline needs at least 5 points
                x[a:b] -= make_smoothing_spline(t[a:b], x[a:b], lam=lam)(t[a:b])
        for k in range(1, len(runs)):
            a0, b0, _ = runs[k - 1]
            a, b, _ = runs[k]
            w0, w1 = _level_window(b0 - a0, sfreq), _level_window(b - a, sfreq)
            x[a:b] += x[b0 - w0:b0].mean() - x[a:a + w1].mean()
        out[i] = x
    return out


def wavelet_correction(od: np.ndarray, *, iqr: float = 1.5, wavelet: str = "db2",
                       coarsest: int = 4) -> np.ndarray:
    """Wavelet motion correction (Molavi & Dumont, 2012).

    Each channel, minus its mean, is decomposed with the discrete wavelet transform
    (PyWavelets, symmetric extension) down to the level that leaves about
    ``2**coarsest`` approximation coefficients (Homer2's lowest scale ``L = 4``). At
    each detail level, coefficients above ``Q3 + iqr * (Q3 - Q1)`` or below ``Q1 -
    iqr * (Q3 - Q1)`` (quartiles of that level) are taken as artefact and set to
    zero; the approximation, which holds the slowest haemodynamics, is kept. The
    signal is rebuilt by the inverse transform.

    Parameters
    ----------
    od : numpy.ndarray
        Optical density, shape (n_channels, n_times).
    iqr : float
        Outlier threshold in interquartile ranges (Homer2's default 1.5).
    wavelet : str
        Discrete wavelet name (PyWavelets), e.g. ``"db2"`` (Homer2) or ``"db5"``.
    coarsest : int
        log2 of the approximate number of coefficients left at the coarsest level.

    Returns
    -------
    numpy.ndarray
        Corrected optical density, shape (n_channels, n_times).

    Raises
    ------
    ImportError
        If PyWavelets is not installed.
    """
    import pywt

    od = np.atleast_2d(np.asarray(od, float))
    n = od.shape[1]
    wav = pywt.Wavelet(wavelet)
    level = min(pywt.dwt_max_level(n, wav.dec_len), int(np.floor(np.log2(max(n, 2)))) - coarsest)
    if level < 1:
        return od.copy()
    out = np.empty_like(od)
    for i, row in enumerate(od):
        mean = row.mean()
        coeffs = pywt.wavedec(row - mean, wav, mode="symmetric", level=level)
        for c in coeffs[1:]:
            q1, q3 = np.percentile(c, [25, 75])
            spread = q3 - q1
            c[(c > q3 + iqr * spread) | (c < q1 - iqr * spread)] = 0.0
        out[i] = pywt.waverec(coeffs, wav, mode="symmetric")[:n] + mean
    return out


def correct_motion(raw_od: mne.io.BaseRaw, settings: PreprocessingSettings,
                   mask: np.ndarray | None = None, *, picks: np.ndarray | None = None,
                   copy: bool = True) -> tuple[mne.io.BaseRaw, dict]:
    """Apply the motion correction chosen by ``settings.motion_correction``.

    Parameters
    ----------
    raw_od : mne.io.BaseRaw
        Optical density (channel type ``fnirs_od``), shape (n_channels, n_times).
    settings : PreprocessingSettings
        ``motion_correction`` and its parameters (``spline_p``, ``wavelet_iqr``,
        ``wavelet_name``).
    mask : numpy.ndarray of bool or None
        Motion samples of every channel, shape (n_channels, n_times); needed by
        ``"spline"`` (computed with :func:`detect_motion` and the settings' motion
        thresholds when None).
    picks : numpy.ndarray of int, optional
        ``_validate_nirs_info(raw_od.info)`` when the caller has it (``"tddr"``);
        validated here when None.
    copy : bool
        False: ``raw_od`` is corrected in place (a temporary of the caller's) and
        returned.

    Returns
    -------
    raw_od : mne.io.BaseRaw
        A corrected copy, or ``raw_od`` itself when ``copy`` is False (and for
        ``"none"``).
    step : dict
        The step for :attr:`Preprocessed.steps`.
    """
    method = check_option(settings.motion_correction, "motion correction",
                          MOTION_CORRECTIONS)
    if method == "none":
        return raw_od, {"step": "motion_correction", "method": "none"}
    if method == "tddr":   # MNE's TDDR, all channels at once (bitwise equal)
        picks = _validate_nirs_info(raw_od.info) if picks is None else picks
        if not len(picks):
            raise RuntimeError("TDDR should be run on optical density or hemoglobin data.")
        step = {"step": "motion_correction", "method": "tddr",
                "function": "mne.preprocessing.nirs.temporal_derivative_distribution_repair",
                "reference": "Fishburn et al. (2019)"}
        rows = np.sort(picks)   # TDDR treats each row on its own: any order
        whole = np.array_equal(rows, np.arange(len(raw_od.ch_names)))
        if not copy and whole and raw_od.preload:   # the corrected rows are the samples
            raw_od._data = tddr(raw_od._data, raw_od.info["sfreq"])
            return raw_od, step
        out = raw_od.copy() if copy else raw_od
        out._data[rows] = tddr(out._data if whole else out._data[rows], out.info["sfreq"])
        return out, step
    out = raw_od.copy()
    data = out.get_data()
    sfreq = float(out.info["sfreq"])
    if method == "spline":
        if mask is None:
            mask = detect_motion(data, sfreq, t_motion=settings.motion_t_motion,
                                 t_mask=settings.motion_t_mask,
                                 std_thresh=settings.motion_std_thresh,
                                 amp_thresh=settings.motion_amp_thresh)
        out._data[:] = spline_correction(data, mask, sfreq, p=settings.spline_p)
        return out, {"step": "motion_correction", "method": "spline",
                     "function": "interbrain.preprocessing.motion.spline_correction",
                     "p": settings.spline_p, "lam": (1 - settings.spline_p) / settings.spline_p,
                     "segments": "detected motion (see quality_control)",
                     "reference": "Scholkmann et al. (2010)"}
    import pywt  # "wavelet", the last option; PyWavelets is optional until it is chosen

    out._data[:] = wavelet_correction(data, iqr=settings.wavelet_iqr,
                                      wavelet=settings.wavelet_name)
    return out, {"step": "motion_correction", "method": "wavelet",
                 "function": "interbrain.preprocessing.motion.wavelet_correction",
                 "wavelet": settings.wavelet_name, "iqr": settings.wavelet_iqr,
                 "pywavelets": pywt.__version__,
                 "reference": "Molavi & Dumont (2012)"}
