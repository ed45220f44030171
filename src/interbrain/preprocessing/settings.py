"""Settings of the preprocessing chain, as given in ``study.toml``'s ``[preprocessing]``."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .._check import settings_from_table
from ..errors import StudyError

#: Motion-correction methods of :func:`interbrain.preprocessing.motion.correct_motion`.
MOTION_CORRECTIONS = ("tddr", "spline", "wavelet", "none")
#: Longest lag of ``aux_lags``, in seconds.
MAX_AUX_LAG = 30.0


@dataclass(frozen=True)
class PreprocessingSettings:
    """Settings of quality control and the preprocessing chain (MNE / MNE-NIRS).

    Every field can be set in the ``[preprocessing]`` table of ``study.toml``
    (read by :meth:`from_table`); :meth:`validate` checks the values.

    Parameters
    ----------
    sci_threshold : float
        Channels whose scalp coupling index (SCI; Pollonini et al., 2014), the
        correlation of the two wavelengths in the cardiac band, is below this are
        bad. In [0, 1]; 0 switches the criterion off.
    cardiac_band : tuple of float
        ``(low, high)`` edges in Hz of the cardiac band used by the SCI and the peak
        spectral power (default 0.7-1.5 Hz, i.e. 42-90 beats per minute and more).
    psp_threshold : float
        Channels whose median peak spectral power (PSP; Pollonini et al., 2016)
        over windows is below this are bad. Non-negative; 0 switches it off. The
        default, 0.2, is above PHOEBE's 0.1 because MNE-NIRS's PSP of two
        independent noise signals in 10 s windows is already about 0.12-0.16 (its
        median over windows, at 5-50 Hz), so 0.1 would pass uncoupled channels;
        the noise level falls with longer windows (about 0.17 at 5 s, 0.08 at 20 s).
    psp_window : float
        Length in seconds of the windows of the peak spectral power.
    max_motion_fraction : float
        Channels with more than this fraction of the recording's time flagged as
        motion-corrupted are bad. In [0, 1]; 1 switches the criterion off.
    motion_t_motion : float
        Seconds over which amplitude changes are measured by the motion detector
        (Homer2 ``tMotion``, see :func:`~interbrain.preprocessing.motion.detect_motion`).
    motion_t_mask : float
        Seconds masked on each side of a detected motion sample (Homer2 ``tMask``).
    motion_std_thresh : float
        A sample is motion when the largest optical-density change within
        ``motion_t_motion`` exceeds this many standard deviations of the channel's
        sample-to-sample differences (Homer2 ``STDEVthresh``).
    motion_amp_thresh : float
        ... or when that change exceeds this optical density (unitless; Homer2
        ``AMPthresh``).
    saturation_level : float
        Intensity (the device's unit, e.g. volts) at or above which a sample counts
        as saturated; 0 (default) uses the highest intensity of the recording, so
        that only samples clipped at the recording's maximum count.
    max_saturated_fraction : float
        Channels with more than this fraction of samples saturated (at either
        wavelength) are bad. In [0, 1].
    motion_correction : str
        ``"tddr"`` (temporal derivative distribution repair; Fishburn et al.,
        2019), ``"spline"`` (spline interpolation of detected motion segments;
        Scholkmann et al., 2010), ``"wavelet"`` (wavelet outlier removal; Molavi &
        Dumont, 2012; needs PyWavelets) or ``"none"``.
    spline_p : float
        Smoothing parameter in (0, 1] of the spline correction (MATLAB ``csaps``
        convention, as in Homer2's ``hmrMotionCorrectSpline``; 1 interpolates).
    wavelet_iqr : float
        Wavelet coefficients farther than this many interquartile ranges outside
        the quartiles of their level are set to zero (Homer2 ``iqr``).
    wavelet_name : str
        Discrete wavelet of the wavelet correction (a PyWavelets name, e.g.
        ``"db2"`` as in Homer2, or ``"db5"``).
    short_channel_regression : bool
        Regress the nearest short channel out of every long channel (Saager &
        Berger, 2005; MNE-NIRS) when the recording has short channels; short
        channels are dropped from the analysed channels either way.
    short_channel_max_distance : float
        Channels whose source-detector distance in metres is at most this are
        short channels.
    aux_regression : bool
        Regress the recording's auxiliary signals (SNIRF ``aux``: respiration, PPG /
        heart rate, accelerometer), each at every lag of ``aux_lags``, out of every
        channel, HbO and HbR separately, after the band-pass with the regressors
        band-passed alike (:mod:`~interbrain.preprocessing.aux_regression`). A
        recording without auxiliary signals (or without one named in
        ``aux_channels``) is then an error naming the file: a control that ran on some
        recordings only would differ between dyads.
    aux_channels : tuple of str
        Names (SNIRF ``/nirs/auxN/name``) of the auxiliary signals regressed; empty
        (default): all of them.
    aux_lags : tuple of float
        Lags in seconds, each in [0, 30], of the regressors: the signal at ``t - lag``
        explains the channel at ``t`` (haemodynamic effects follow breathing, heart
        rate and movement by seconds). Each signal gives one regressor per lag.
    ppf : float
        Partial pathlength factor of the modified Beer-Lambert law.
    l_freq, h_freq : float
        Band-pass edges in Hz of the haemoglobin signals (zero-phase 4th-order
        Butterworth).
    global_signal_removal : bool
        Regress the mean over good channels out of every channel, separately for
        HbO and HbR, after the band-pass.
    filter_preprocessed : bool
        Band-pass recordings that are already haemoglobin concentrations.
    """

    # quality control
    sci_threshold: float = 0.7
    cardiac_band: tuple = (0.7, 1.5)
    psp_threshold: float = 0.2
    psp_window: float = 10.0
    max_motion_fraction: float = 0.2
    motion_t_motion: float = 0.5
    motion_t_mask: float = 1.0
    motion_std_thresh: float = 20.0
    motion_amp_thresh: float = 0.5
    saturation_level: float = 0.0
    max_saturated_fraction: float = 0.01
    # chain
    motion_correction: str = "tddr"
    spline_p: float = 0.99
    wavelet_iqr: float = 1.5
    wavelet_name: str = "db2"
    short_channel_regression: bool = True
    short_channel_max_distance: float = 0.015
    aux_regression: bool = False
    aux_channels: tuple = ()
    aux_lags: tuple = (0.0, 2.0, 4.0, 6.0, 8.0)
    ppf: float = 6.0
    l_freq: float = 0.01
    h_freq: float = 0.5
    global_signal_removal: bool = False
    filter_preprocessed: bool = True

    @classmethod
    def from_table(cls, table: object, where: str) -> "PreprocessingSettings":
        """The settings of a ``[preprocessing]`` table of ``study.toml``, checked.

        Parameters
        ----------
        table : dict or None
            The table as read; None for the defaults.
        where : str
            The file and table, for messages (``"<path>: [preprocessing]"``).

        Returns
        -------
        PreprocessingSettings

        Raises
        ------
        StudyError
            Naming ``where`` and the first unknown, mistyped or invalid field (the
            message of :meth:`validate`).
        """
        settings = settings_from_table(cls, table, where, StudyError)
        try:
            return settings.validate()
        except ValueError as exc:
            raise StudyError(f"{where}: {exc}") from None

    def validate(self) -> "PreprocessingSettings":
        """Check every field; raise ValueError naming the first invalid one.

        Returns
        -------
        PreprocessingSettings
            ``self``, for chaining.

        Raises
        ------
        ValueError
            With a message naming the field, the allowed values and the given value.
        """
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"field '{f.name}' must be a finite number, got {value}")
        for name in ("sci_threshold", "max_motion_fraction", "max_saturated_fraction"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"field '{name}' must lie in [0, 1], got {value}")
        if self.saturation_level == 0 and self.max_saturated_fraction == 0:
            raise ValueError("field 'max_saturated_fraction' = 0 with saturation_level = 0 "
                             "(the recording's maximum) would mark the brightest channel of "
                             "every recording saturated; give a saturation_level or a positive "
                             "fraction")
        band = self.cardiac_band
        if (not isinstance(band, tuple) or len(band) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and math.isfinite(v) for v in band)
                or not 0 < band[0] < band[1]):
            raise ValueError("field 'cardiac_band' must be two frequencies in Hz "
                             f"[low, high] with 0 < low < high, got {list(band)!r}")
        for name in ("psp_threshold", "motion_t_mask", "saturation_level"):
            if getattr(self, name) < 0:
                raise ValueError(f"field '{name}' must not be negative, got "
                                 f"{getattr(self, name)}")
        for name in ("psp_window", "motion_t_motion", "motion_std_thresh", "motion_amp_thresh",
                     "wavelet_iqr", "ppf"):
            if getattr(self, name) <= 0:
                raise ValueError(f"field '{name}' must be positive, got {getattr(self, name)}")
        if self.motion_correction not in MOTION_CORRECTIONS:
            raise ValueError("field 'motion_correction' must be one of "
                             + ", ".join(repr(m) for m in MOTION_CORRECTIONS)
                             + f", got {self.motion_correction!r}")
        if not 0 < self.spline_p <= 1:
            raise ValueError(f"field 'spline_p' must lie in (0, 1], got {self.spline_p}")
        if self.motion_correction == "wavelet":
            try:
                import pywt
            except ImportError:
                raise ValueError("motion_correction = 'wavelet' needs the PyWavelets package "
                                 "(pip install PyWavelets); or choose 'tddr', 'spline' or "
                                 "'none'") from None
            if self.wavelet_name not in pywt.wavelist(kind="discrete"):
                raise ValueError("field 'wavelet_name' must be a discrete wavelet of "
                                 f"PyWavelets (e.g. 'db2', 'db5', 'sym8'), got "
                                 f"{self.wavelet_name!r}")
        if not 0 < self.short_channel_max_distance < 0.05:
            raise ValueError("field 'short_channel_max_distance' is in metres and must lie "
                             f"in (0, 0.05), got {self.short_channel_max_distance}")
        self._validate_aux()
        if not 0 < self.l_freq < self.h_freq:
            raise ValueError("fields 'l_freq' < 'h_freq' must be positive frequencies in Hz, "
                             f"got {self.l_freq} and {self.h_freq}")
        return self

    def _validate_aux(self) -> None:
        """Check ``aux_channels`` and ``aux_lags``."""
        names = self.aux_channels
        if (not isinstance(names, tuple)
                or not all(isinstance(v, str) and v.strip() for v in names)
                or len(set(names)) != len(names)):
            raise ValueError("field 'aux_channels' must be a list of distinct, non-empty "
                             "names of auxiliary signals (SNIRF /nirs/auxN/name), or [] for "
                             f"all, got {list(names) if isinstance(names, tuple) else names!r}")
        lags = self.aux_lags
        numbers = isinstance(lags, tuple) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in lags)
        if not numbers or not lags or not all(0 <= v <= MAX_AUX_LAG for v in lags):
            raise ValueError(f"field 'aux_lags' must be a non-empty list of lags in seconds, "
                             f"each in [0, {MAX_AUX_LAG:g}], e.g. [0, 2, 4, 6, 8], got "
                             f"{list(lags) if isinstance(lags, tuple) else lags!r}")
        if len({float(v) for v in lags}) != len(lags):
            raise ValueError(f"field 'aux_lags' must not repeat a lag (the regressors would "
                             f"be identical), got {list(lags)!r}")
