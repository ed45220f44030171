"""Checks of ``[segments]`` and ``[moments]`` against the recordings' headers.

Before any analysis, so that a study whose segments or moments cannot be found fails in
seconds rather than running without segment rows:

- with ``[segments] source = "events"``, every real dyad-session needs at least one of
  the mapped events (``events``; any event when the mapping is empty) in the
  therapist's or the patient's recording (the engine takes the therapist's, else the
  patient's);
- ``[segments] shuffle_window`` must be long enough for the band: each window of the
  within-session shuffling null is analysed as a recording of its own;
- every event of ``[moments] events`` must occur in at least one recording of the
  study (a moment need not occur in every session).
"""

from __future__ import annotations

from ..study import Study
from ..synchrony import min_samples_for_band
from .report import ValidationReport


def _descriptions(report: ValidationReport, key: str) -> set[str]:
    header = report.recordings.get(key)
    if header is None or header.annotations is None or not len(header.annotations):
        return set()
    return {str(d) for d in header.annotations["description"]}


def _listed(names: set[str]) -> str:
    return ", ".join(repr(n) for n in sorted(names)) if names else "none"


def check_segments(study: Study, report: ValidationReport) -> None:
    """Check ``[segments]`` and ``[moments]`` against the headers, into ``report``.

    Parameters
    ----------
    study : Study
        The loaded study.
    report : ValidationReport
        With the headers :func:`~.headers.read_headers` read; gets one problem per
        dyad-session without its segment events, per too-short shuffle window and per
        moment event found in no recording.
    """
    spec, moments = study.segments, study.moments
    if spec is not None and spec.source == "events":
        wanted = {name for name, _ in spec.events}
        for s in study.sessions:
            t_key, p_key = s.therapist.key, s.patient.key
            if t_key not in report.recordings or p_key not in report.recordings:
                continue   # unreadable: already reported
            found = _descriptions(report, t_key) | _descriptions(report, p_key)
            if (found & wanted) if wanted else found:
                continue
            what = (f"none of the [segments] events {_listed(wanted)}" if wanted
                    else "no event to start a segment")
            report.add(f"{s.therapist.path} and {s.patient.path} (dyad {s.dyad}, session "
                       f"{s.session}): {what} is in either recording (their events: "
                       f"{_listed(found)}); map the events they have in [segments] events, "
                       "or give the segments in a table (source = \"table\")", t_key, p_key)
    if spec is not None and spec.shuffle_window > 0:
        band = study.analysis.band
        for rate in sorted({h.sfreq for h in report.recordings.values()}):
            need = min_samples_for_band(1.0 / rate, band)
            if need is None or round(spec.shuffle_window * rate) >= need:
                continue
            report.add(f"study.toml: [segments] shuffle_window = {spec.shuffle_window:g} s "
                       f"is too short for the band {list(band)} s at {rate:g} Hz: each "
                       f"window is analysed on its own and needs at least {need / rate:.1f} "
                       "s (the band's longest period outside the cone of influence)",
                       study.root / "study.toml")
    if moments is not None:
        everywhere: set[str] = set()
        for key in report.recordings:
            everywhere |= _descriptions(report, key)
        missing = set(moments.events) - everywhere
        if missing:
            report.add(f"study.toml: [moments] events {_listed(missing)} occur in no "
                       f"recording of the study (their events: {_listed(everywhere)})",
                       study.root / "study.toml")
