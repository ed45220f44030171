"""The text files of a simulated study folder: ``study.toml``, ``measures.csv`` and
``ground_truth.json``, and the models of what is planted (:data:`COUPLING_MODEL`,
:data:`MEASURE_MODEL`)."""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from .aux import AUX_CHANNELS
from .confounds import confound_parameters
from .montage import Montage, file_channel_names
from .phases import RAMP_S
from .presets import PRESETS
from .recording import PPF, SHORT_SCALP_GAIN
from .signals import AMPLITUDES, HBR_SYSTEMIC_RATIO

__all__ = ["COUPLING_MODEL", "MEASURE_MODEL", "GENERATOR", "study_toml", "measures_csv",
           "ground_truth"]

#: Written to ``ground_truth.json``: marks a folder that
#: :func:`~interbrain.simulate.simulate_study` may overwrite.
GENERATOR = "interbrain.simulate"

#: Parameters of the planted coupling ``c[d, k]`` of the ``"demo"`` preset (see
#: :func:`~interbrain.simulate.signals.coupling_strength`; the ``"field"`` preset's
#: are in :data:`~interbrain.simulate.presets.PRESETS`).
COUPLING_MODEL: dict[str, float] = dict(PRESETS["demo"]["coupling_model"])

#: Session measures: ``value = intercept + dyad_intercept + coupling * c[d, k]
#: + session * (k - 1) + residual``, clipped to ``range`` and rounded to 2 decimals.
MEASURE_MODEL: dict[str, dict[str, Any]] = {
    "symptoms": {"description": "test-anxiety score (higher = worse)",
                 "intercept": 43.0, "coupling": -20.0, "session": -0.5,
                 "dyad_sd": 4.0, "residual_sd": 1.5, "range": [10.0, 80.0]},
    "wellbeing": {"description": "well-being score, 0-25 (higher = better)",
                  "intercept": 11.0, "coupling": 12.0, "session": 0.1,
                  "dyad_sd": 2.5, "residual_sd": 1.0, "range": [0.0, 25.0]},
    "session_quality": {"description": "rated session quality, 1-7",
                        "intercept": 4.0, "coupling": 2.5, "session": 0.0,
                        "dyad_sd": 0.5, "residual_sd": 0.4, "range": [1.0, 7.0]},
    "alliance": {"description": "working alliance, 1-7 (independent of coupling)",
                 "intercept": 5.0, "coupling": 0.0, "session": 0.0,
                 "dyad_sd": 0.6, "residual_sd": 0.4, "range": [1.0, 7.0]},
}


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _toml_float(value: float) -> str:
    return repr(float(value))


def study_toml(args: dict, dyads: list[dict], sessions: list[dict], montage: Montage,
               options: dict | None = None, generalisation: list[dict] | None = None) -> str:
    """The text of ``study.toml``.

    Parameters
    ----------
    args : dict
        The checked arguments of :func:`~interbrain.simulate.simulate_study`.
    dyads : list of dict
        ``id``, ``therapist`` and ``patient`` of each dyad.
    sessions : list of dict
        ``dyad``, ``session`` and the ``therapist`` and ``patient`` recording paths
        (relative to the folder) of each dyad-session.
    montage : Montage
        The montage of long channels, whose regions are written as ``[regions]``.
    options : dict or None
        The resolved realism options; None or the ``"demo"`` preset: the original
        description line.
    generalisation : list of dict or None
        ``[[generalisation]]`` entries: ``dyad``, ``phase``, ``partner``,
        ``patient``, ``partner_recording``, ``task``, ``partner_kind``.

    Returns
    -------
    str
    """
    lo, hi = args["band"]
    preset = "" if options is None or options["preset"] == "demo" \
        else f"preset {options['preset']}, "
    width = max(len(_toml_str(ch)) for ch in montage.channels)
    lines = [
        "# Simulated psychotherapy hyperscanning study, written by interbrain simulate.",
        "# What was planted (coupling per dyad and session, bad channels, motion",
        "# artefacts, measure coefficients) is in ground_truth.json.",
        "",
        "[study]",
        f"name = {_toml_str('Simulated psychotherapy hyperscanning study')}",
        "description = " + _toml_str(f"Written by interbrain simulate ({preset}seed "
                                     f"{args['seed']}, effect {args['effect']!r})"),
        "",
        "[analysis]",
        f"band = [{_toml_float(lo)}, {_toml_float(hi)}]"
        "        # periods in seconds (shortest, longest) used for synchrony",
        'signals = ["hbo", "hbr"]',
        'pairs = "homologous"',
        "exclude_coi = true",
        "pseudo_dyads = true",
        "",
        "[preprocessing]",
        "sci_threshold = 0.7",
        'motion_correction = "tddr"',
        f"ppf = {_toml_float(PPF)}",
        "l_freq = 0.01",
        "h_freq = 0.5",
        "",
        "[statistics]",
        "sesoi = 0.3                # smallest standardized association of interest: "
        "equivalence tests",
        'dissociation = [["symptoms", "alliance"]]   # does synchrony go with symptoms '
        "more than with alliance?",
        "",
        "[statistics.primary]       # the confirmatory family: the plasticity test and",
        'measures = ["symptoms"]    # the within-dyad association with symptoms (Holm)',
        "",
        "[regions]                  # channel -> region of interest",
    ]
    # regions name the channels as the recordings do (a SNIRF file renumbers optodes)
    in_file = file_channel_names(montage)
    for ch in montage.channels:
        lines.append(f"{_toml_str(in_file[ch]).ljust(width)} = "
                     f"{_toml_str(montage.regions[ch])}")
    for d in dyads:
        lines += ["", "[[dyads]]", f"id = {_toml_str(d['id'])}",
                  f"therapist = {_toml_str(d['therapist'])}",
                  f"patient = {_toml_str(d['patient'])}"]
    for s in sessions:
        lines += ["", "[[sessions]]", f"dyad = {_toml_str(s['dyad'])}",
                  f"session = {s['session']}",
                  f"therapist = {_toml_str(s['therapist'])}",
                  f"patient = {_toml_str(s['patient'])}"]
    for g in generalisation or ():
        lines += ["", "[[generalisation]]"]
        lines += [f"{key} = {_toml_str(g[key])}" for key in
                  ("dyad", "phase", "partner", "patient", "partner_recording", "task",
                   "partner_kind")]
    return "\n".join(lines) + "\n"


def measures_csv(rows: list[dict]) -> str:
    """The text of ``measures.csv``: ``dyad``, ``session`` and the measures of
    :data:`MEASURE_MODEL`, two decimals, one line per row of ``rows``."""
    cols = ["dyad", "session", *MEASURE_MODEL]
    out = [",".join(cols)]
    for r in rows:
        out.append(",".join([r["dyad"], str(r["session"])]
                            + [f"{r[m]:.2f}" for m in MEASURE_MODEL]))
    return "\n".join(out) + "\n"


def _coupling_meaning(opts: dict) -> str:
    where = ("in every channel of both partners" if opts["coupling_regions"] == "all"
             else "only in the channels of the coupling regions "
                  f"({', '.join(opts['coupling_regions'])}) of both partners")
    lag = ("at zero lag" if opts["lag"][1] == 0 else
           "the follower's copy trailing the leader's by the dyad's lag_s")
    return ("fraction of each person's band-limited neural variance (periods within band) "
            "that is the dyad-session's shared signal; the shared signal enters HbO with a "
            f"per-channel loading and HbR scaled by -0.3 to -0.5, {where}, {lag}. Mayer "
            "waves, the 1/f background and noise add unshared in-band variance, so the "
            "shared fraction of all in-band variance is somewhat lower than c.")


def ground_truth(args: dict, opts: dict, dyads: list[dict], planted: dict,
                 sessions: list[dict], recordings: dict, ctx: Any,
                 generalisation: list[dict], scanned: list[list[int]],
                 segments: list[dict] | None = None) -> dict[str, Any]:
    """The content of ``ground_truth.json``: everything that was planted.

    Parameters
    ----------
    args : dict
        The checked arguments of :func:`~interbrain.simulate.simulate_study`.
    opts : dict
        The resolved realism options (:func:`~.presets.resolve_options`).
    dyads : list of dict
        ``id``, ``therapist`` and ``patient`` of each dyad.
    planted : dict
        :func:`~.coupling.draw_dyad_coupling`'s result: slopes, therapist slopes,
        coupling (n_dyads, n_sessions), lags, leaders, measure intercepts.
    sessions : list of dict
        Each scanned dyad-session: its recordings, coupling, start time and the
        confounds' shared plan.
    recordings : dict
        Recording path -> what was planted in it (bad channels, motion events, ...).
    ctx : StudyContext
        Montages, sampling, options.
    generalisation : list of dict
        The generalisation recordings (empty without them).
    scanned : list of list of int
        Scanned session numbers of each dyad.
    segments : list of dict or None
        The phases of every recording (:func:`~.phases.phase_segments`); None or
        empty without phases.

    Returns
    -------
    dict
        JSON-serialisable.
    """
    montage, file_montage = ctx.montage, ctx.file_montage
    dyad_ids = [d["id"] for d in dyads]
    slopes, coupling = planted["slopes"], planted["coupling"]
    therapists = sorted({d["therapist"] for d in dyads})
    regions = opts["coupling_regions"]
    coupled = [ch for ch in montage.channels if regions == "all" or montage.regions[ch] in regions]
    truth: dict[str, Any] = {
        "generator": GENERATOR,
        "interbrain_version": __version__,
        "seed": args["seed"],
        "preset": opts["preset"],
        "arguments": {**args, "band": list(args["band"])},
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items()
                    if k not in ("coupling_model", "confound_specs", "phases")},
        "band": list(args["band"]),
        "units": {
            "recordings": "raw CW intensity in volts (MNE fnirs_cw_amplitude)",
            "haemoglobin": "mol/L (MNE hbo/hbr convention, ppf 6.0)",
            "positions": "metres, MNE head coordinates",
            "times": "seconds from the start of the recording",
            "motion_amplitude": "optical density (natural log) at the most affected channel",
            "lag": "seconds (whole samples) by which the follower trails the leader",
        },
        "coupling_model": {
            **opts["coupling_model"],
            "effect": args["effect"],
            "formula": "c[d,k] = clip(effect * (baseline + slope_d * (k-1)/(K-1) + "
                       "e[d,k]), 0, max); slope_d ~ N(slope_mean, slope_sd) + u_t, "
                       "u_t ~ N(0, therapist_slope_sd) the growth of the dyad's therapist; "
                       "e[d,k] ~ N(0, session_noise_sd)",
            "meaning": _coupling_meaning(opts),
            "regions": regions if regions == "all" else list(regions),
            "channels": coupled,
            "lag_range_s": list(opts["lag"]),
            "leader": opts["leader"],
        },
        "dyads": {d["id"]: {"therapist": d["therapist"], "patient": d["patient"],
                            "coupling_slope": round(float(slopes[i]), 6),
                            "lag_s": round(float(planted["lag_s"][i]), 6),
                            "leader": planted["leaders"][i],
                            "scanned_sessions": scanned[i]}
                  for i, d in enumerate(dyads)},
        "therapists": {d["id"]: d["therapist"] for d in dyads},
        "therapist_growth": {t: round(float(planted["therapist_slopes"][j]), 6)
                             for j, t in enumerate(therapists)},
        "dyad_slopes": {d["id"]: round(float(slopes[i]), 6) for i, d in enumerate(dyads)},
        "coupling": {dyad_ids[i]: [float(x) for x in coupling[i]]
                     for i in range(len(dyad_ids))},
        "sessions": sessions,
        "missing_sessions": {d["id"]: [k for k in range(1, args["n_sessions"] + 1)
                                       if k not in scanned[i]]
                             for i, d in enumerate(dyads)},
        "measures": {
            "model": "value = intercept + dyad_intercept + coupling * c[d,k] + session * "
                     "(k-1) + residual (N(0, residual_sd)); clipped to range; rounded to "
                     "2 decimals; only for scanned sessions",
            "coefficients": MEASURE_MODEL,
            "dyad_intercepts": {dyad_ids[i]: {m: round(v, 6) for m, v in vals.items()}
                                for i, vals in planted["intercepts"].items()},
        },
        "recordings": recordings,
        "montage": {
            "channels": list(montage.channels),
            "regions": dict(montage.regions),
            "wavelengths_nm": list(montage.wavelengths),
            "source_detector_distance_m": [round(float(x), 6)
                                           for x in montage.distances()],
        },
        "signal_model": {
            "hbo_sd_M": AMPLITUDES,
            "hbr_systemic_ratio": HBR_SYSTEMIC_RATIO,
            "ppf": PPF,
            "sci_band_hz": [0.7, 1.5],
            "bad_channels": "poor scalp coupling: intensity 0.3-2 mV, no cardiac "
                            "pulsation, physiology attenuated to 10-30 %, 3-8 % "
                            "independent noise per wavelength",
        },
    }
    if file_montage is not None:
        short = list(file_montage.short_channels)
        in_file = file_channel_names(file_montage)
        n_long = montage.n_channels
        truth["short_channels"] = {
            "channels": short,
            "names_in_file": [in_file[ch] for ch in short],
            "regions": {ch: file_montage.regions[ch] for ch in short},
            "source_detector_distance_m": [round(float(x), 6)
                                           for x in file_montage.distances()[n_long:]],
            "model": f"the person's scalp and systemic component (heart beat, breathing, "
                     f"Mayer waves, the drift common to all channels and any systemic "
                     f"confound) times {SHORT_SCALP_GAIN} times a gain of 0.8-1.2 per "
                     "channel, plus a 1/f background of 0.03 uM; no neural activity. Long "
                     "channels carry the same components at gains of 0.7-1.3 (attenuated "
                     f"by about 1/{SHORT_SCALP_GAIN} relative to a short channel)",
        }
    if opts["aux"]:
        truth["aux"] = {"channels": AUX_CHANNELS,
                        "model": "respiration: the breathing waveform of the haemodynamics "
                                 "(halved during speech) + noise; ppg: the heart-beat "
                                 "waveform + noise; heart_rate: instantaneous rate in bpm; "
                                 "accel_x/y/z: gravity + noise + a burst at every motion "
                                 "artefact (2 g per unit OD) + jaw movement during speech"}
    if opts["confounds"]:
        truth["confounds"] = confound_parameters(opts["confound_specs"])
        truth["confounds_levels"] = (
            "level of each confound in session k of K: strength from start_session on "
            "(profile constant) or strength * (k - start_session) / (K - start_session) "
            "(profile rising), 0 before start_session; sessions[i].confound_levels")
    if opts.get("phases"):
        truth["phases"] = {
            **opts["phases"],
            "segments": segments or [],
            "model": "the pattern cycled from the start of every recording (the last "
                     "segment cut at its end); each segment is a SNIRF stimulus (/nirs/"
                     "stimN, name = label, data = [onset, duration, 1.0] s) in both "
                     "partners' files. The planted coupling c[d,k] is multiplied by a "
                     "mask that is 1 in the coupling_phases and 0 elsewhere, with "
                     f"raised-cosine ramps of {RAMP_S} s centred on each boundary",
            "ramp_s": RAMP_S}
    if generalisation:
        truth["generalisation"] = {
            "model": "c_other[phase] = clip(effect * (baseline + transfer * slope_d * "
                     "[phase == post] + e), 0, max), e ~ N(0, session_noise_sd); the "
                     "other person takes the therapist's slot (lag and leader of the dyad)",
            "transfer": opts["generalisation_transfer"],
            "recordings": generalisation,
        }
    return truth
