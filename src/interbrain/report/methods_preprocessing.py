"""The preprocessing paragraph of ``methods.md``, from the chains the run applied
(``preprocessing.json``): per input kind the steps applied and those skipped with the
reason each chain recorded, auxiliary regression, resampling to a common rate and crops."""

from __future__ import annotations

from importlib import metadata

import numpy as np

from ..results import StudyResults
from .wording import join_words

__all__ = ["input_kinds", "skipped_reasons", "resampling_steps_text", "preprocessing_text"]


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


_MOTION_TEXT = {
    "tddr": "temporal derivative distribution repair (TDDR; Fishburn et al., 2019)",
    "spline": "spline interpolation of detected motion segments (Scholkmann et al., 2010)",
    "wavelet": "wavelet filtering of outlying detail coefficients (Molavi & Dumont, 2012)",
    "none": "no motion correction",
}

def _n_recordings_with(steps: dict, name: str) -> int:
    """Recordings whose chain applied step ``name`` (not skipped)."""
    return sum(any(s.get("step") == name and not s.get("skipped") for s in chain)
               for chain in steps.values())


#: The ``kind`` of a chain's ``input`` step, by input: raw intensity, optical density,
#: haemoglobin (tables, processed SNIRF files).
_KINDS = ("raw intensity", "optical density", "haemoglobin")


def input_kinds(steps: dict) -> dict[str, list[str]]:
    """Recordings by input kind (the ``kind`` of each chain's ``input`` step).

    Parameters
    ----------
    steps : dict
        Recording -> its chain (list of step dicts), as ``preprocessing.json`` has them.

    Returns
    -------
    dict
        Kind (:data:`_KINDS`) -> recordings of that kind, in ``steps`` order; kinds
        without recordings are left out.
    """
    out: dict[str, list[str]] = {}
    for key, chain in steps.items():
        kind = next((s.get("kind") for s in chain if s.get("step") == "input"),
                    "raw intensity")
        out.setdefault(kind, []).append(key)
    return {k: out[k] for k in _KINDS if k in out} | {k: v for k, v in out.items()
                                                      if k not in _KINDS}


def skipped_reasons(steps: dict, name: str) -> str:
    """Why step ``name`` was skipped, as the chains recorded it, with the number of
    recordings of each reason: ``"the recording has no short channels: 8 recordings"``.

    Parameters
    ----------
    steps : dict
        Recording -> its chain (list of step dicts).
    name : str
        The step (e.g. ``"short_channel_regression"``).

    Returns
    -------
    str
        ``"no reason was recorded"`` when no chain says why (e.g. the step is absent).
    """
    reasons: dict[str, int] = {}
    for chain in steps.values():
        for step in chain:
            if step.get("step") == name and step.get("skipped"):
                why = str(step.get("reason") or "no reason was recorded")
                reasons[why] = reasons.get(why, 0) + 1
    if not reasons:
        return "no reason was recorded"
    return "; ".join(f"{why}: {n} recording{'s' if n != 1 else ''}"
                     for why, n in reasons.items())


def resampling_steps_text(steps: dict) -> str:
    """The resampling of recordings to a common rate (``resample`` steps of the
    chains), or "" when none was resampled.

    Parameters
    ----------
    steps : dict
        Recording -> its chain (list of step dicts).

    Returns
    -------
    str
        A sentence with a leading space.
    """
    done: dict[tuple[float, float], set[str]] = {}
    functions = set()
    for key, chain in steps.items():
        for step in chain:
            if step.get("step") == "resample" and not step.get("skipped"):
                rates = (round(float(step["from_hz"]), 6), round(float(step["to_hz"]), 6))
                done.setdefault(rates, set()).add(key)
                functions.add(str(step.get("function") or "scipy.signal.resample_poly"))
    if not done:
        return ""
    n = len(set().union(*done.values()))
    if len(done) == 1:
        ((a, b),) = done
        rates = f", from {a:g} Hz to {b:g} Hz,"
    else:
        rates = " (" + join_words(f"{len(k)} from {a:g} Hz to {b:g} Hz"
                                  for (a, b), k in sorted(done.items())) + ")"
    return (f" Recordings at different sampling rates were brought to the lowest rate of "
            f"the recordings paired with them before synchrony was computed: {n} of "
            f"{len(steps)} recordings {'was' if n == 1 else 'were'} resampled after "
            f"preprocessing{rates} by integer decimation with a polyphase anti-aliasing FIR "
            f"filter ({', '.join(sorted(functions))}).")


def _count(n: int, total: int, what: str = "recordings") -> str:
    return f"all {total} {what}" if n == total else f"{n} of {total} {what}"


def _optical_text(results: StudyResults, keys: list[str], kinds: dict) -> str:
    """The chain of raw-intensity and optical-density recordings ``keys``."""
    pre = results.study.preprocessing
    steps = {k: results.steps[k] for k in keys}
    qc = results.qc
    n_bad = int(qc["bad"].sum())
    short = _n_recordings_with(steps, "short_channel_regression")
    n_od = len(kinds.get("optical density", []))
    n_int = len(kinds.get("raw intensity", []))
    n_all = len(results.steps)
    if n_od and n_int:
        start = (f"Raw intensities ({_count(n_int, n_all)}) were converted to optical density; "
                 f"{_count(n_od, n_all)} were optical density already (not converted).")
    elif n_od:
        start = (f"The recordings ({_count(n_od, n_all)}) were optical density already, so "
                 "no conversion from intensity was applied.")
    else:
        start = f"Intensities ({_count(n_int, n_all)}) were converted to optical density."
    text = (start + " Channel quality was assessed per recording: channels with non-finite, "
            f"flat or saturated samples, a scalp coupling index (SCI; Pollonini et al., 2014; "
            f"cardiac band {pre.cardiac_band[0]}-{pre.cardiac_band[1]} Hz) below "
            f"{pre.sci_threshold}, a median peak spectral power (Pollonini et al., 2016) "
            f"below {pre.psp_threshold}, or more than {pre.max_motion_fraction:.0%} of "
            f"the time marked as motion-corrupted were excluded ({n_bad} of {len(qc)} "
            "channel recordings), and a channel pair was dropped when either partner's "
            f"channel was excluded. Motion artefacts were corrected by "
            f"{_MOTION_TEXT.get(pre.motion_correction, pre.motion_correction)}.")
    n_recordings = len(keys)
    if short:
        text += (f" Short-separation channels (at most {pre.short_channel_max_distance * 1000:g}"
                 f" mm) were regressed out of the long channels ({short} of {n_recordings} "
                 "recordings) and then dropped.")
    if short < n_recordings:
        text += (f" Short-channel regression was not applied to "
                 f"{n_recordings - short} of {n_recordings} recordings ("
                 + skipped_reasons(steps, "short_channel_regression")
                 + "), so scalp and systemic signals were not removed from them this way.")
    return text + (" Optical density was converted to oxy- and deoxy-haemoglobin (HbO, HbR) "
                   f"with the modified Beer-Lambert law (partial pathlength factor {pre.ppf})"
                   f" and band-pass filtered between {pre.l_freq} and {pre.h_freq} Hz "
                   "(zero-phase 4th-order Butterworth).")


def _haemoglobin_text(results: StudyResults, keys: list[str]) -> str:
    """The chain of haemoglobin recordings ``keys`` (tables, processed SNIRF files): the
    steps applied and those skipped, with the reason."""
    pre = results.study.preprocessing
    n_all = len(results.steps)
    signals = sorted({s for k in keys for step in results.steps[k]
                      if step.get("step") == "skipped" for s in step.get("signals", [])},
                     key=["hbo", "hbr"].index)
    held = (" and ".join(s.upper().replace("HBO", "HbO").replace("HBR", "HbR")
                         for s in signals) or "HbO and HbR")
    if len(signals) == 1:
        held += " only"
    filtered = _n_recordings_with({k: results.steps[k] for k in keys}, "band_pass")
    qc = results.qc
    hb_rows = qc[qc["file"].isin({_file_of(k) for k in keys})] if "file" in qc else qc
    text = (f"{_count(len(keys), n_all).capitalize()} held haemoglobin concentration changes "
            f"computed elsewhere ({held}). Optical density, the scalp coupling index, peak "
            "spectral power and motion detection, motion correction, short-channel regression "
            "and the modified Beer-Lambert law were not applied to them: the recordings are "
            "haemoglobin concentrations computed elsewhere. Quality control checked them for "
            "non-finite and flat signals (and channels marked bad in the file) only "
            f"({int(hb_rows['bad'].sum())} of {len(hb_rows)} channel recordings excluded).")
    if filtered:
        text += (f" They were band-pass filtered between {pre.l_freq} and {pre.h_freq} Hz "
                 f"(zero-phase 4th-order Butterworth; {_count(filtered, len(keys))}).")
    else:
        text += (" They were not filtered again (`filter_preprocessed = false`): the band-pass "
                 "of the software that computed them stands.")
    return text


def _file_of(key: str) -> str:
    """The file of a recording key (``path#role`` for one-file dyads)."""
    return key.split("#")[0]


def _crop_text(results: StudyResults) -> str:
    """The crops applied (``crop`` steps of the chains), or ""."""
    crops = [s for chain in results.steps.values() for s in chain if s.get("step") == "crop"]
    if not crops:
        return ""
    seconds = [float(s["seconds"]) for s in crops]
    return (f" Sessions with a `crop` in study.toml were cut, after the two recordings were "
            f"aligned, to the part of their common window it names ({len(crops) // 2 or 1} "
            f"dyad-session(s); {min(seconds):.1f}-{max(seconds):.1f} s kept); pseudo-dyads "
            "paired the cropped recordings.")


def preprocessing_text(results: StudyResults) -> str:
    """The preprocessing paragraph, from the settings and the chains applied: for each
    input kind (raw intensity, optical density, haemoglobin), the steps applied and
    those skipped with the reason.

    Parameters
    ----------
    results : StudyResults

    Returns
    -------
    str
    """
    v = {name: _version(name) for name in ("mne", "mne-nirs")}
    kinds = input_kinds(results.steps)
    optical = kinds.get("raw intensity", []) + kinds.get("optical density", [])
    haemoglobin = kinds.get("haemoglobin", [])
    gsr = _n_recordings_with(results.steps, "global_signal_removal")
    text = (f"The recordings were read and processed with MNE-Python {v['mne']} and "
            f"MNE-NIRS {v['mne-nirs']}.")
    if optical:
        text += " " + _optical_text(results, optical, kinds)
    if haemoglobin:
        text += " " + _haemoglobin_text(results, haemoglobin)
    if gsr:
        text += " The global signal (mean over a person's good channels) was regressed out."
    return (text + _aux_text(results) + resampling_steps_text(results.steps)
            + _crop_text(results))


def _aux_text(results: StudyResults) -> str:
    """The auxiliary-signal regression, as the chains applied it."""
    applied = [s for chain in results.steps.values() for s in chain
               if s.get("step") == "aux_regression" and not s.get("skipped")]
    if not applied:
        return " No auxiliary (respiration, cardiac, motion) signals were regressed out."
    names = sorted({name for s in applied for name in s.get("aux_channels", [])})
    lags = sorted({float(v) for s in applied for v in s.get("lags_s", [])})
    removed = [s["median_variance_removed"] for s in applied
               if s.get("median_variance_removed") is not None]
    text = (f" Auxiliary signals ({', '.join(names)}) were read from the SNIRF files "
            "(MNE-NIRS read_snirf_aux_data, interpolated to the samples), shifted by "
            f"{', '.join(f'{v:g}' for v in lags)} s, band-passed with the same filter and "
            "regressed out of every channel, HbO and HbR separately, by least squares (MNE "
            f"regress_artifact; {len(applied)} recordings")
    if removed:
        text += f"; median variance removed {100 * float(np.median(removed)):.1f}%"
    return text + ")."
