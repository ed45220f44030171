"""The methods paragraph (``methods.md``): every parameter and software version."""

from __future__ import annotations

import platform
from importlib import metadata

from ..stats.models import GROWTH_FORMULA, OUTCOME_FORMULA

PACKAGES = ("interbrain", "mne", "mne-nirs", "numpy", "scipy", "pandas", "statsmodels",
            "dask", "matplotlib")


def software_versions() -> dict[str, str]:
    """Versions of Python and of the packages the analysis ran on."""
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
    """Sentence on the synchrony metrics other than wavelet coherence, or ""."""
    others = [_METRIC_TEXT[m] for m in analysis.metrics if m != "wtc"]
    if not others:
        return ""
    return (" Synchrony was also computed as " + "; ".join(others) + ", for the same "
            f"channel pairs; models were fitted for each metric (primary metric: "
            f"{analysis.metrics[0]}).")


def methods_text(results) -> str:
    """A methods section describing the run of ``results`` (Markdown)."""
    study = results.study
    pre, ana = study.preprocessing, study.analysis
    qc = results.qc
    n_rec = qc.groupby(["dyad", "session", "role"]).ngroups
    n_bad = int(qc["bad"].sum())
    lo, hi = ana.band
    v = software_versions()
    n_pseudo = results.synchrony.query("pairing == 'pseudo'")[["dyad", "partner_dyad", "session"]]
    n_pseudo = len(n_pseudo.drop_duplicates())
    signals = " and ".join(s.upper().replace("HBO", "HbO").replace("HBR", "HbR")
                           for s in ana.signals)
    motion = ("temporal derivative distribution repair (TDDR; Fishburn et al., 2019)"
              if pre.motion_correction == "tddr" else "no motion correction")
    measures = ", ".join(study.measure_columns) or "none"
    growth_formulas = sorted({fit.formula for key, fit in results.fits.items()
                              if key.startswith("growth[")}) or [GROWTH_FORMULA]
    slopes = GROWTH_FORMULA in growth_formulas
    if any(key.startswith("growth[") for key in results.fits):
        statistics = f"""**Statistics.** Growth of synchrony over sessions (inter-brain plasticity) was modelled as
`{growth_formulas[0]}`, a linear mixed model with a random intercept{" and a random slope of session" if slopes else " (too few sessions per dyad to identify a random slope)"}
per dyad, fitted by restricted maximum likelihood (REML); degrees of freedom and
p-values of fixed effects use Satterthwaite's approximation, as in lmerTest
(Kuznetsova et al., 2017), because z-tests are anti-conservative with few dyads. Each
session measure ({measures}) was modelled as `{OUTCOME_FORMULA.format(measure='measure')}`,
where synchrony_between is the dyad's mean synchrony and synchrony_within the session's
deviation from it (Curran & Bauer, 2011), fitted in the same way."""
    else:
        statistics = "**Statistics.** " + " ".join(results.notes)
    text = f"""# Methods

*Written by interbrain {v['interbrain']}.*

**Participants and recordings.** The study comprised {len(study.dyads)} therapist-patient
dyads ({len({d.therapist for d in study.dyads})} therapist(s)) and {len(study.sessions)}
dyad-sessions (session numbers {', '.join(map(str, study.session_numbers))}); both partners'
cortical haemodynamics were recorded with continuous-wave fNIRS in every session
({n_rec} recordings).

**Preprocessing.** Raw intensities were read and processed with MNE-Python {v['mne']}
and MNE-NIRS {v['mne-nirs']}. Intensities were converted to optical density. Channel quality
was assessed with the scalp coupling index (SCI; Pollonini et al., 2014; cardiac band
0.7-1.5 Hz); channels with SCI below {pre.sci_threshold} or a flat signal were excluded
({n_bad} of {len(qc)} channel recordings), and a channel pair was dropped when either
partner's channel was excluded. Motion artefacts were corrected by {motion}. Optical
density was converted to oxy- and deoxy-haemoglobin (HbO, HbR) with the modified
Beer-Lambert law (partial pathlength factor {pre.ppf}) and band-pass filtered between
{pre.l_freq} and {pre.h_freq} Hz (zero-phase 4th-order Butterworth).

**Inter-brain synchrony.** Synchrony between {"homologous channels (the same source-detector pair in both partners)" if ana.pairs == "homologous" else "every channel of the therapist and every channel of the patient"}
was computed for {signals} as wavelet transform coherence (Grinsted, Moore & Jevrejeva,
2004) with the defaults of Grinsted's toolbox: Morlet wavelet (w0 = 6), 12 scales per
octave (dj = 1/12), smallest scale 2 dt, largest scale 0.17 x 2 x N x dt, zero padding,
smoothing in time (Gaussian) and scale (boxcar of 0.6 octave). Coherence was averaged over
periods from {lo:g} to {hi:g} s{" and over the time-frequency cells outside the cone of influence" if ana.exclude_coi else " and all time points (cone of influence included)"}, giving one
value per dyad, session, channel pair and signal; session synchrony is the mean over
channel pairs.{other_metrics(ana)}

**Null control.** {"Pseudo-dyads paired the therapist recording of each dyad with the patient recordings of " + ("every other dyad" if not ana.pseudo_dyads_per_dyad else f"a random subset (seed {ana.pseudo_dyads_seed}) of at most {ana.pseudo_dyads_per_dyad} other dyads") + " in the same session number (" + str(n_pseudo) + " pseudo-dyad sessions), cropped to their common length, and were analysed identically. Real and pseudo-dyad synchrony were compared at the dyad level (mean over sessions) with a paired t-test and an exact sign-flip permutation test." if n_pseudo else "No pseudo-dyads were computed" + ("." if not ana.pseudo_dyads else " (they need at least two dyads with the same session number).")}

{statistics}

**Software.** Python {v['python']}; interbrain {v['interbrain']}; MNE {v['mne']};
MNE-NIRS {v['mne-nirs']}; NumPy {v['numpy']}; SciPy {v['scipy']}; pandas {v['pandas']};
statsmodels {v['statsmodels']}; Dask {v['dask']}; Matplotlib {v['matplotlib']}.
"""
    return text


def write_methods(results, path) -> None:
    """Write :func:`methods_text` to ``path`` atomically."""
    from ..engine.atomic import write_text
    write_text(methods_text(results), path)
