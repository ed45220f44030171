"""The text files of a simulated study folder: ``study.toml``, ``measures.csv`` and
``ground_truth.json``, and the models of what is planted (:data:`COUPLING_MODEL`,
:data:`MEASURE_MODEL`)."""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from .montage import Montage, file_channel_names
from .recording import PPF
from .signals import AMPLITUDES, HBR_SYSTEMIC_RATIO

__all__ = ["COUPLING_MODEL", "MEASURE_MODEL", "GENERATOR", "study_toml", "measures_csv",
           "ground_truth"]

#: Written to ``ground_truth.json``: marks a folder that
#: :func:`~interbrain.simulate.simulate_study` may overwrite.
GENERATOR = "interbrain.simulate"

#: Parameters of the planted coupling ``c[d, k]`` (see
#: :func:`~interbrain.simulate.signals.coupling_strength`).
COUPLING_MODEL: dict[str, float] = {
    "baseline": 0.15,          # b0
    "slope_mean": 0.45,        # g_d ~ N(slope_mean, slope_sd)
    "slope_sd": 0.12,
    "session_noise_sd": 0.05,  # e[d, k] ~ N(0, session_noise_sd)
    "max": 0.9,
}

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


def study_toml(args: dict, dyads: list[dict], sessions: list[dict], montage: Montage) -> str:
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
        The montage, whose regions are written as ``[regions]``.

    Returns
    -------
    str
    """
    lo, hi = args["band"]
    width = max(len(_toml_str(ch)) for ch in montage.channels)
    lines = [
        "# Simulated psychotherapy hyperscanning study, written by interbrain simulate.",
        "# What was planted (coupling per dyad and session, bad channels, motion",
        "# artefacts, measure coefficients) is in ground_truth.json.",
        "",
        "[study]",
        f"name = {_toml_str('Simulated psychotherapy hyperscanning study')}",
        "description = " + _toml_str(f"Written by interbrain simulate (seed {args['seed']}, "
                                     f"effect {args['effect']!r})"),
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


def ground_truth(args, dyads, slopes, coupling, intercepts, sessions, recordings,
                 montage: Montage) -> dict[str, Any]:
    """The content of ``ground_truth.json``: everything that was planted.

    Parameters
    ----------
    args : dict
        The checked arguments of :func:`~interbrain.simulate.simulate_study`.
    dyads : list of dict
        ``id``, ``therapist`` and ``patient`` of each dyad.
    slopes : numpy.ndarray
        Shape (n_dyads,), each dyad's coupling slope.
    coupling : numpy.ndarray
        Shape (n_dyads, n_sessions), the planted coupling ``c[d, k]``.
    intercepts : dict
        Dyad id -> {measure: dyad intercept}.
    sessions : list of dict
        Each dyad-session: its recordings, coupling and start time.
    recordings : dict
        Recording path -> what was planted in it (bad channels, motion events, ...).
    montage : Montage

    Returns
    -------
    dict
        JSON-serialisable.
    """
    dyad_ids = [d["id"] for d in dyads]
    return {
        "generator": GENERATOR,
        "interbrain_version": __version__,
        "seed": args["seed"],
        "arguments": {**args, "band": list(args["band"])},
        "band": list(args["band"]),
        "units": {
            "recordings": "raw CW intensity in volts (MNE fnirs_cw_amplitude)",
            "haemoglobin": "mol/L (MNE hbo/hbr convention, ppf 6.0)",
            "positions": "metres, MNE head coordinates",
            "times": "seconds from the start of the recording",
            "motion_amplitude": "optical density (natural log) at the most affected channel",
        },
        "coupling_model": {
            **COUPLING_MODEL,
            "effect": args["effect"],
            "formula": "c[d,k] = clip(effect * (baseline + slope_d * (k-1)/(K-1) + "
                       "e[d,k]), 0, max); slope_d ~ N(slope_mean, slope_sd), "
                       "e[d,k] ~ N(0, session_noise_sd)",
            "meaning": "fraction of each person's band-limited neural variance (periods "
                       "within band) that is the dyad-session's shared signal; the shared "
                       "signal enters HbO with a per-channel loading and HbR scaled by "
                       "-0.3 to -0.5, in every channel of both partners, at zero lag. "
                       "Mayer waves, the 1/f background and noise add unshared in-band "
                       "variance, so the shared fraction of all in-band variance is "
                       "somewhat lower than c.",
        },
        "dyads": {d["id"]: {"therapist": d["therapist"], "patient": d["patient"],
                            "coupling_slope": round(float(slopes[i]), 6)}
                  for i, d in enumerate(dyads)},
        "therapists": {d["id"]: d["therapist"] for d in dyads},
        "dyad_slopes": {d["id"]: round(float(slopes[i]), 6) for i, d in enumerate(dyads)},
        "coupling": {dyad_ids[i]: [float(x) for x in coupling[i]]
                     for i in range(len(dyad_ids))},
        "sessions": sessions,
        "measures": {
            "model": "value = intercept + dyad_intercept + coupling * c[d,k] + session * "
                     "(k-1) + residual (N(0, residual_sd)); clipped to range; rounded to "
                     "2 decimals",
            "coefficients": MEASURE_MODEL,
            "dyad_intercepts": {d: {m: round(v, 6) for m, v in vals.items()}
                                for d, vals in intercepts.items()},
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
