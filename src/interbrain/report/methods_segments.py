"""The methods paragraphs of segments (conditions within sessions) and of marked
moments, from what the run fitted."""

from __future__ import annotations

from ..results import StudyResults
from .methods_rows import model_rows
from .wording import join_reasons, join_words, resampling_text

__all__ = ["segments_text", "moments_text"]


_SEGMENT_SOURCE = {"events": "the recordings' events", "table": "the study's segments table",
                   "fixed": "fixed times"}
_WITHIN = {"group": "of the same group (condition)", "therapist": "of the same therapist",
           "all": "of any other dyad"}


def segments_text(results: StudyResults) -> str:
    """The paragraph of the segments (conditions within sessions); empty without them."""
    study = results.study
    spec = getattr(study, "segments", None)
    if spec is None:
        return ""
    st = study.statistics
    source = _SEGMENT_SOURCE.get(spec.source, f"consecutive windows of {spec.length:g} s")
    text = ("**Segments (conditions within sessions).** Each session was divided into "
            f"labelled segments from {source}")
    if spec.source == "events":
        text += (" (each marker starting a segment " + (
            "that lasts until the next marker" if spec.end == "next"
            else "that lasts for the marker's duration") + ")")
    if spec.min_duration > 0:
        text += f", segments shorter than {spec.min_duration:g} s left out"
    text += (". Wavelet coherence per segment is the mean over the band's scales and the "
             "segment's cells of the whole session's coherence, keeping only cells outside "
             "the cone of influence of the recording and of the segment itself (so no "
             "segment borrows coherence from its neighbours); the other metrics were "
             "computed on the segment's samples.")
    fits = results.fits_of("condition")
    formulas = sorted({fit.labelled_formula for fit in fits.values()})
    if formulas:
        one = all(fit._data["session"].nunique() == 1 for fit in fits.values())
        text += (" Synchrony per dyad, session and segment label (mean over channel pairs) "
                 "was modelled with the segment label as a within-session condition, as `"
                 + "`; `".join(formulas) + "` (REML; the first label is the reference)"
                 + (": with one session per dyad this is a condition contrast, and no "
                    "growth model was attempted." if one else
                    ", crossing the condition with session (and group)."))
    else:
        reasons = [n for n in results.notes if n.startswith("condition model")]
        if reasons:
            text += " The condition model was not fitted: " + join_reasons(reasons) + "."
    models = set(model_rows(results, lambda m: m.startswith("segment_"))["model"])
    if "segment_real_vs_pseudo" in models:
        text += (" Each label's real synchrony was tested against pseudo-dyads "
                 f"{_WITHIN[st.pseudo_dyads_within]} matched by segment label (the samples "
                 "at which both unrelated recordings were in that label)")
    if "segment_real_vs_segment_shuffle" in models:
        text += (" and against within-session segment shuffling (rMEA's pseudosynchrony: "
                 f"windows of {spec.shuffle_window:g} s of the therapist's segment paired "
                 "with the patient's other windows of the session, the real windows "
                 "computed alike)" if "segment_real_vs_pseudo" in models else
                 " Each label's real synchrony was tested against within-session segment "
                 f"shuffling (windows of {spec.shuffle_window:g} s)")
    tested = {"segment_real_vs_pseudo", "segment_real_vs_segment_shuffle"}
    if models & tested:
        kinds = resampling_text(model_rows(results, lambda m: m in tested))
        text += (", by one-sided dyad-level sign-flip tests of the per-dyad excess"
                 + (f" ({kinds})" if kinds else ""))
        contrasts = model_rows(results, lambda m: m.startswith("segment_contrast_vs_"))
        if len(contrasts):
            kinds = resampling_text(contrasts)
            text += ("; the difference between labels of that excess by two-sided sign-flip "
                     "tests" + (f" ({kinds})" if kinds else ""))
        text += (", and the plasticity test per label." if "segment_plasticity" in models
                 else ".")
    return text


def moments_text(results: StudyResults) -> str:
    """The paragraph of the marked moments; empty without them."""
    spec = getattr(results.study, "moments", None)
    if spec is None:
        return ""
    a, b = spec.window
    text = ("**Moments.** Synchrony around the marked moments ("
            + join_words(f"`{e}`" for e in spec.events) + f"; from {a:g} s to {b:g} s "
            "around each marker) is the mean over the window's cells of the session's "
            "wavelet coherence (other metrics: on the window's samples), compared with "
            f"{spec.n_null} null windows of the same length per dyad-session drawn at "
            f"random from the same session at least one window length away from every "
            f"moment (seed {spec.seed})")
    rows = model_rows(results, lambda m: m == "moment_vs_null")
    if len(rows):
        kinds = resampling_text(rows)
        text += (": per dyad the mean over its sessions of moments minus null windows, "
                 "tested by a two-sided dyad-level sign-flip test"
                 + (f" ({kinds})." if kinds else "."))
    else:
        text += "; no test was possible (fewer than 2 dyads with moments)."
    return text
