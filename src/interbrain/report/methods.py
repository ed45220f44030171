"""The methods paragraph (``methods.md``): every parameter and software version."""

from __future__ import annotations

import platform
from importlib import metadata

from ..results import StudyResults
from ..retained import retained_text
from ..synchrony.settings import is_short_signal
from .methods_preprocessing import (input_kinds, preprocessing_text, resampling_steps_text,
                                    skipped_reasons)
from .statistics_methods import statistics_text
from .wording import resampling_text

__all__ = ["PACKAGES", "software_versions", "other_metrics", "input_kinds",
           "preprocessing_text", "null_text", "statistics_text", "methods_text", "sessions_recorded_text",
           "skipped_reasons", "resampling_steps_text", "null_tests_text"]

PACKAGES = ("interbrain", "mne", "mne-nirs", "numpy", "scipy", "pandas", "statsmodels",
            "dask", "matplotlib")



def _fft_words(ana) -> str:
    """The FFT library, where it is not scipy's and computed the transforms (ducc0
    computes the double-precision ones only)."""
    if ana.fft == "ducc0" and ana.precision == "float64":
        return " (FFTs by ducc0)"
    return ""


#: How the wavelet coherence was computed, per ``[analysis] precision``.
_PRECISION_WORDS = {
    "float64": "in double precision",
    "float32": "in single precision (within 1e-6 of double precision)",
    "fast": ("in single precision, with the band means of channel pairs computed with "
             "each scale on a coarser time grid (multirate; within 1e-4 of double "
             "precision, tested)"),
}


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
    text = (" Synchrony was also computed as " + "; ".join(others) + ", for the same "
            f"channel pairs; models were fitted for each metric (primary metric: "
            f"{analysis.metrics[0]}).")
    transformed = analysis.transformed_metrics()
    if transformed:
        untouched = [m for m in analysis.metrics if m not in transformed]
        text += (f" Values of the correlation-type metrics ({', '.join(transformed)}) were "
                 "Fisher z-transformed (z = atanh r) before every summary, null comparison "
                 "and model")
        text += (f"; {' and '.join(untouched)} (magnitudes in [0, 1], not correlations) "
                 "were not transformed." if untouched else ".")
    return text


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
        real = sync.loc[sync["pairing"] == "real", ["dyad", "session"]].drop_duplicates()
        drawn = sync.loc[sync["pairing"].isin(list(ana.surrogates)),
                         ["dyad", "session"]].drop_duplicates()
        which = ("every real dyad-session" if len(drawn) >= len(real) else
                 f"{len(drawn)} of the {len(real)} real dyad-sessions")
        parts.append(f"For {which}, {ana.surrogates_per_session} surrogates "
                     "each of " + " and ".join(kinds[k] for k in ana.surrogates)
                     + f" (seed {ana.surrogate_seed}) were paired with the real therapist.")
    tested = null_tests_text(results)
    if tested:
        parts.append(tested)
    short = [s for s in ana.signals if is_short_signal(s)]
    if short:
        parts.append("As a systemic null, the short-separation channels, preprocessed like the "
                     "long channels but without short-channel regression, were analysed with "
                     "the same wavelet coherence, pairings and models ("
                     + ", ".join(short) + "): synchrony that appears in them reflects scalp "
                     "and systemic physiology, not neural coupling.")
    return " ".join(parts)


def null_tests_text(results: StudyResults) -> str:
    """The comparison of real synchrony with its nulls, as the run tested it (rows of
    ``null_tests.parquet``, else the ``real_vs_*`` rows of ``models.parquet``); "" when
    no comparison was tested.

    Parameters
    ----------
    results : StudyResults

    Returns
    -------
    str
    """
    rows = getattr(results, "null_tests", None)
    if rows is None or rows.empty:
        models = results.models
        rows = (models[models["model"].str.startswith("real_vs_")
                       & ~models["model"].str.contains("_by_")]
                if not models.empty and "model" in models.columns else models)
    if rows.empty:
        return ""
    kinds = resampling_text(rows)
    text = ("Real synchrony was compared with each null at the dyad level (mean over "
            "sessions of real minus null) by a one-sided sign-flip permutation test")
    if kinds:
        text += ", " + kinds
        if "Monte Carlo" in kinds:
            text += " (p = (1 + b) / (1 + B); Phipson & Smyth, 2010)"
    return text + ("; the 95% confidence interval of the mean difference (Student t over "
                   "dyads) describes its size.")


def sessions_recorded_text(study) -> str:
    """``"in every session"``, or which dyad-sessions of the design (every dyad at every
    session number) have no recording."""
    numbers = list(study.session_numbers)
    listed = {(entry.dyad, entry.session) for entry in study.sessions}
    missing = [f"{d.id} session {n}" for d in study.dyads for n in numbers
               if (d.id, n) not in listed]
    if not missing:
        return "in every session"
    grid = len(study.dyads) * len(numbers)
    shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more"
                                        if len(missing) > 10 else "")
    return (f"in {grid - len(missing)} of the {grid} dyad-sessions of the design "
            f"({len(study.dyads)} dyads x {len(numbers)} session numbers; no recording "
            f"of {shown})")


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
cortical haemodynamics were recorded with continuous-wave fNIRS {sessions_recorded_text(study)}
({n_rec} recordings).

{retained}**Preprocessing.** {preprocessing_text(results)}

**Inter-brain synchrony.** Synchrony between {"homologous channels (the same source-detector pair in both partners)" if ana.pairs == "homologous" else "every channel of the therapist and every channel of the patient"}
was computed for {signals} as wavelet transform coherence (Grinsted, Moore & Jevrejeva,
2004) with the defaults of Grinsted's toolbox: Morlet wavelet (w0 = 6), 12 scales per
octave (dj = 1/12), smallest scale 2 dt, largest scale 0.17 x 2 x N x dt, zero padding,
smoothing in time (Gaussian) and scale (boxcar of 0.6 octave), {_PRECISION_WORDS[ana.precision]}{_fft_words(ana)}. Coherence was averaged over
periods from {lo:g} to {hi:g} s{" and over the time-frequency cells outside the cone of influence" if ana.exclude_coi else " and all time points (cone of influence included)"}, giving one
value per dyad, session, channel pair and signal; session synchrony is the mean over
channel pairs.{other_metrics(ana)}

**Null control.** {null_text(results, n_pseudo) or "None."}

{statistics_text(results)}

**Software.** Python {v['python']}; interbrain {v['interbrain']}; MNE {v['mne']}
(Gramfort et al., 2013); MNE-NIRS {v['mne-nirs']} (Luke et al., 2021); NumPy {v['numpy']}
(Harris et al., 2020); SciPy {v['scipy']} (Virtanen et al., 2020); pandas {v['pandas']}
(McKinney, 2010); statsmodels {v['statsmodels']} (Seabold & Perktold, 2010); Dask
{v['dask']} (Rocklin, 2015); Matplotlib {v['matplotlib']} (Hunter, 2007).
"""
    return text
