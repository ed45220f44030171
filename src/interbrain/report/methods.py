"""The methods paragraph (``methods.md``): every parameter and software version."""

from __future__ import annotations

import platform
from importlib import metadata

import numpy as np

from ..results import StudyResults
from ..retained import retained_text
from ..synchrony.settings import is_short_signal
from .statistics_methods import statistics_text

__all__ = ["PACKAGES", "software_versions", "other_metrics", "preprocessing_text",
           "null_text", "statistics_text", "methods_text"]

PACKAGES = ("interbrain", "mne", "mne-nirs", "numpy", "scipy", "pandas", "statsmodels",
            "dask", "matplotlib")


def software_versions() -> dict[str, str]:
    """Versions of Python and of the packages the analysis ran on.

    Returns
    -------
    dict
        ``"python"`` and each of :data:`PACKAGES` -> version (``"not installed"``
        if missing).
    """
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


_METRIC_TEXT = {
    "pearson": "Pearson correlation of the preprocessed signals",
    "ar_robust_correlation": ("the AR-prewhitened robust correlation of the NIRS Brain AnalyzIR "
                              "toolbox (Santosa et al., 2017: autoregressive model per channel "
                              "with order chosen by BIC up to 4 s, prewhitening, Tukey-bisquare "
                              "robust correlation)"),
    "plv": "the phase-locking value in the same band (Lachaux et al., 1999)",
}


def other_metrics(analysis) -> str:
    """Sentence on the synchrony metrics other than wavelet coherence, or "".

    Parameters
    ----------
    analysis : AnalysisSettings
        ``[analysis]`` of the study.

    Returns
    -------
    str
    """
    others = [_METRIC_TEXT[m] for m in analysis.metrics if m != "wtc"]
    if not others:
        return ""
    return (" Synchrony was also computed as " + "; ".join(others) + ", for the same "
            f"channel pairs; models were fitted for each metric (primary metric: "
            f"{analysis.metrics[0]}).")


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


def preprocessing_text(results: StudyResults) -> str:
    """The preprocessing paragraph, from the settings and the chains applied.

    Parameters
    ----------
    results : StudyResults

    Returns
    -------
    str
    """
    study, qc = results.study, results.qc
    pre = study.preprocessing
    v = software_versions()
    n_bad = int(qc["bad"].sum())
    short = _n_recordings_with(results.steps, "short_channel_regression")
    gsr = _n_recordings_with(results.steps, "global_signal_removal")
    text = (f"Raw intensities were read and processed with MNE-Python {v['mne']} and "
            f"MNE-NIRS {v['mne-nirs']}. Intensities were converted to optical density. "
            "Channel quality was assessed per recording: channels with non-finite, flat "
            f"or saturated samples, a scalp coupling index (SCI; Pollonini et al., 2014; "
            f"cardiac band {pre.cardiac_band[0]}-{pre.cardiac_band[1]} Hz) below "
            f"{pre.sci_threshold}, a median peak spectral power (Pollonini et al., 2016) "
            f"below {pre.psp_threshold}, or more than {pre.max_motion_fraction:.0%} of "
            f"the time marked as motion-corrupted were excluded ({n_bad} of {len(qc)} "
            "channel recordings), and a channel pair was dropped when either partner's "
            f"channel was excluded. Motion artefacts were corrected by "
            f"{_MOTION_TEXT.get(pre.motion_correction, pre.motion_correction)}.")
    n_recordings = len(results.steps)
    if short:
        text += (f" Short-separation channels (at most {pre.short_channel_max_distance * 1000:g}"
                 f" mm) were regressed out of the long channels ({short} of {n_recordings} "
                 "recordings) and then dropped.")
    if short < n_recordings:
        why = ("`short_channel_regression` was off" if not pre.short_channel_regression
               else f"no short-separation channel (at most "
                    f"{pre.short_channel_max_distance * 1000:g} mm) passed quality control")
        text += (f" Short-channel regression was not applied to "
                 f"{n_recordings - short} of {n_recordings} recordings ({why}), so scalp and "
                 "systemic signals were not removed from them this way.")
    text += (" Optical density was converted to oxy- and deoxy-haemoglobin (HbO, HbR) with "
             f"the modified Beer-Lambert law (partial pathlength factor {pre.ppf}) and "
             f"band-pass filtered between {pre.l_freq} and {pre.h_freq} Hz (zero-phase "
             "4th-order Butterworth).")
    if gsr:
        text += " The global signal (mean over a person's good channels) was regressed out."
    return text + _aux_text(results)


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


def null_text(results: StudyResults, n_pseudo: int) -> str:
    """The null-control paragraph.

    Parameters
    ----------
    results : StudyResults
    n_pseudo : int
        Pseudo-dyad sessions analysed.

    Returns
    -------
    str
        Empty when there was no null control.
    """
    ana = results.study.analysis
    parts = []
    if n_pseudo:
        parts.append(
            "Pseudo-dyads paired the therapist recording of each dyad with the patient "
            "recordings of " + ("every other dyad" if not ana.pseudo_dyads_per_dyad else
                                f"a random subset (seed {ana.pseudo_dyads_seed}) of at most "
                                f"{ana.pseudo_dyads_per_dyad} other dyads")
            + f" in the same session number ({n_pseudo} pseudo-dyad sessions), cropped to "
            "their common length, and were analysed identically.")
    elif ana.pseudo_dyads:
        parts.append("No pseudo-dyads were computed (they need at least two dyads with the "
                     "same session number).")
    sync = results.synchrony
    n_familiarity = (len(sync.loc[sync["pairing"] == "familiarity",
                                  ["dyad", "session", "partner_session"]].drop_duplicates())
                     if "partner_session" in sync.columns else 0)
    if n_familiarity:
        parts.append(
            "Familiarity pairings paired the therapist recording of each dyad in one session "
            "with the same dyad's patient recording of " + (
                "every other session" if not ana.familiarity_per_session else
                f"a random subset (seed {ana.pseudo_dyads_seed}) of at most "
                f"{ana.familiarity_per_session} other sessions")
            + f" ({n_familiarity} familiarity pairings: the same two people, not recorded "
            "together), aligned on their first samples, cropped to their common length and "
            "analysed identically; the familiarity null of a dyad-session comprised the "
            "pairings of its therapist recording and of its patient recording.")
    kinds = {"circular_shift": "circular time shifts of the patient's recording (at least "
                               + (f"{ana.surrogate_min_shift:g} s" if ana.surrogate_min_shift
                                  else "the band's longest period") + ")",
             "phase_randomised": "multivariate phase-randomised surrogates of the patient's "
                                 "recording (Prichard & Theiler, 1994)"}
    if ana.surrogates:
        parts.append(f"For every real dyad-session, {ana.surrogates_per_session} surrogates "
                     "each of " + " and ".join(kinds[k] for k in ana.surrogates)
                     + f" (seed {ana.surrogate_seed}) were paired with the real therapist.")
    if n_pseudo or n_familiarity or ana.surrogates:
        parts.append("Real synchrony was compared with each null at the dyad level (mean over "
                     "sessions of real minus null) by one test, a one-sided sign-flip "
                     "permutation test (exact over all sign patterns when there are at most "
                     "as many as permutations, otherwise Monte Carlo with p = (1 + b) / "
                     "(1 + B)); the 95% confidence interval of the mean difference (Student "
                     "t over dyads) describes its size.")
    short = [s for s in ana.signals if is_short_signal(s)]
    if short:
        parts.append("As a systemic null, the short-separation channels, preprocessed like the "
                     "long channels but without short-channel regression, were analysed with "
                     "the same wavelet coherence, pairings and models ("
                     + ", ".join(short) + "): synchrony that appears in them reflects scalp "
                     "and systemic physiology, not neural coupling.")
    return " ".join(parts)


def methods_text(results: StudyResults) -> str:
    """A methods section describing the run of ``results`` (``methods.md``).

    Parameters
    ----------
    results : StudyResults

    Returns
    -------
    str
        Markdown text: participants, data retained, preprocessing, synchrony, null
        control, statistics, software versions; the caller writes it.
    """
    study = results.study
    ana = study.analysis
    qc = results.qc
    n_rec = qc.groupby(["dyad", "session", "role"]).ngroups
    lo, hi = ana.band
    v = software_versions()
    n_pseudo = results.synchrony.query("pairing == 'pseudo'")[["dyad", "partner_dyad", "session"]]
    n_pseudo = len(n_pseudo.drop_duplicates())
    signals = " and ".join(s.upper().replace("HBO", "HbO").replace("HBR", "HbR")
                           for s in ana.signals)
    retained = getattr(results, "retained", None)
    retained = (f"**Data retained.** {retained_text(retained, study.measure_columns)}\n\n"
                if retained is not None and len(retained) else "")
    text = f"""# Methods

*Written by interbrain {v['interbrain']}.*

**Participants and recordings.** The study comprised {len(study.dyads)} therapist-patient
dyads ({len({d.therapist for d in study.dyads})} therapist(s)) and {len(study.sessions)}
dyad-sessions (session numbers {', '.join(map(str, study.session_numbers))}); both partners'
cortical haemodynamics were recorded with continuous-wave fNIRS in every session
({n_rec} recordings).

{retained}**Preprocessing.** {preprocessing_text(results)}

**Inter-brain synchrony.** Synchrony between {"homologous channels (the same source-detector pair in both partners)" if ana.pairs == "homologous" else "every channel of the therapist and every channel of the patient"}
was computed for {signals} as wavelet transform coherence (Grinsted, Moore & Jevrejeva,
2004) with the defaults of Grinsted's toolbox: Morlet wavelet (w0 = 6), 12 scales per
octave (dj = 1/12), smallest scale 2 dt, largest scale 0.17 x 2 x N x dt, zero padding,
smoothing in time (Gaussian) and scale (boxcar of 0.6 octave), in {"single" if ana.precision == "float32" else "double"} precision{" (within 1e-6 of double precision)" if ana.precision == "float32" else ""}. Coherence was averaged over
periods from {lo:g} to {hi:g} s{" and over the time-frequency cells outside the cone of influence" if ana.exclude_coi else " and all time points (cone of influence included)"}, giving one
value per dyad, session, channel pair and signal; session synchrony is the mean over
channel pairs.{other_metrics(ana)}

**Null control.** {null_text(results, n_pseudo) or "None."}

{statistics_text(results)}

**Software.** Python {v['python']}; interbrain {v['interbrain']}; MNE {v['mne']};
MNE-NIRS {v['mne-nirs']}; NumPy {v['numpy']}; SciPy {v['scipy']}; pandas {v['pandas']};
statsmodels {v['statsmodels']}; Dask {v['dask']}; Matplotlib {v['matplotlib']}.
"""
    return text
