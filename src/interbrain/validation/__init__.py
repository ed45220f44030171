"""Validation of a study before any computation (``interbrain validate``).

:func:`validate_study` checks everything that needs no signal analysis, so that a bad
file is reported in seconds rather than after the preprocessing of every recording:

- ``study.toml`` and ``measures.csv``, as :func:`~interbrain.study.load_study` reads
  them (its first problem; when ``study.toml`` is invalid, ``measures.csv`` is still
  checked for its encoding, separator and header; the recordings are checked only once
  both are valid);
- every recording's header, read by :func:`~interbrain.io.read_recording` (NIRx
  folders as MNE reads them with ``preload=False``; files whole, one at a time): the
  file is readable in its format, holds
  raw-intensity (two or more wavelengths per source-detector pair) or HbO/HbR
  channels, long channels (not only short ones), a sampling rate and a duration, and
  finite samples; with a
  channel-to-role map, that the map's channels are in the file (:mod:`.headers`);
- per group of pairings the engine brings to one sampling rate (a session number's
  real and pseudo pairings; apart, a dyad's familiarity pairings;
  :func:`~interbrain.nulls.rate_groups`), that every rate is an integer multiple of the
  lowest (:func:`~interbrain.assembly.common_rate`);
- per pairing the engine will compute (:func:`~interbrain.nulls.all_pairings`: real
  dyads, ``[[generalisation]]`` recordings, pseudo-dyads and familiarity pairings):
  that the partners overlap in time once aligned as the session says (start times, a
  shared event or an offset; :func:`~interbrain.assembly.overlap`),
  that the time they have in common is long enough for the band's longest period (the
  wavelet grid's rule, :func:`~interbrain.synchrony.wavelet.min_samples_for_band`),
  that the optional ``window`` and ``lags`` and circular-shift surrogates of a real
  dyad-session fit in it, and, with ``pairs = "homologous"``, that both partners have
  the same channels (:mod:`.timing`).

Every problem is kept, each naming its file(s) (:class:`ValidationReport`, in
:mod:`.report`); where the run checks the same thing, the message is the one it would
give. No preprocessing runs and no output is written.
"""

from .headers import recording_header
from .report import PairingCheck, Problem, RecordingHeader, ValidationReport
from .validate import validate_study

__all__ = ["Problem", "RecordingHeader", "PairingCheck", "ValidationReport",
           "recording_header", "validate_study"]
