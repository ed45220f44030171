"""Simulated studies with several therapists, and the calibration of the therapist
tests (:mod:`interbrain.stats.therapist_effects`, :mod:`interbrain.stats.therapist_pseudo`).

Simulation (:func:`simulate_therapist_study`)
    :func:`~interbrain.stats.pairing_simulation.draw_pairings` (every real and
    pseudo pairing; dyad ``i`` treated by therapist ``i mod K``) with three
    additions, all in synchrony units: a **therapist-specific growth** of the real
    coupling, ``+ h_T(i) * time_s`` on the real pairing of dyad ``i``; a **therapist
    trait**, ``+ tau_T(i)`` on every pairing with a recording of therapist ``T(i)``
    (a therapist who synchronises with anyone); a **patient trait**, ``+ pi_j`` on
    every pairing with dyad ``j``'s patient. ``h``, ``tau`` and ``pi`` are given,
    or drawn as ``N(0, sd^2)``.

Calibration
    :func:`interaction_calibration` and :func:`pseudo_split_calibration` analyse
    many simulated studies and return their p-values, so that tests and
    ``benchmarks/calibration.py`` can compare rejection rates with alpha.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .._check import as_generator, check_int
from .pairing_simulation import PairingModel, PairingStudy, draw_pairings, pairing_frames
from .session_simulation import simulated_time
from .therapist_models import therapist_interaction
from .therapist_pseudo import pseudo_split

__all__ = ["simulate_therapist_study", "therapist_map", "interaction_calibration",
           "pseudo_split_calibration"]


def _values(given, sd: float, n: int, rng, name: str) -> np.ndarray:
    if given is None:
        return sd * rng.standard_normal(n) if sd > 0 else np.zeros(n)
    out = np.asarray(given, dtype=float).ravel()
    if out.shape != (n,) or not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must hold {n} finite values, got {given!r}")
    return out


def simulate_therapist_study(n_therapists: int = 4, dyads_per_therapist: int = 3,
                             n_sessions: int = 6, *, effect: float = 0.0,
                             therapist_growth=None, therapist_growth_sd: float = 0.0,
                             therapist_trait=None, therapist_trait_sd: float = 0.0,
                             patient_trait=None, patient_trait_sd: float = 0.0,
                             model: PairingModel | None = None, time: str = "linear",
                             seed=None) -> PairingStudy:
    """One simulated study with several therapists (see the module notes).

    Parameters
    ----------
    n_therapists : int
        ``K`` (at least 1).
    dyads_per_therapist : int
        Dyads of each therapist (``K * dyads_per_therapist`` dyads, at least 3).
    n_sessions : int
        At least 3.
    effect : float
        Mean growth of the real coupling per unit of time (plasticity).
    therapist_growth : array_like of shape (K,), optional
        ``h_T``: each therapist's extra growth of the real coupling.
    therapist_growth_sd : float
        SD of ``h_T`` when not given.
    therapist_trait : array_like of shape (K,), optional
        ``tau_T``: added to every pairing with the therapist's recordings.
    therapist_trait_sd : float
        SD of ``tau_T`` when not given.
    patient_trait : array_like of shape (D,), optional
        ``pi_j``: added to every pairing with dyad ``j``'s patient.
    patient_trait_sd : float
        SD of ``pi_j`` when not given.
    model : PairingModel, optional
    time : {"linear", "log"}
    seed : int, Generator or None

    Returns
    -------
    PairingStudy
        ``pairings`` (real and pseudo), ``sessions`` (``dyad, session, therapist,
        synchrony``; therapists ``T1``, ``T2``, ...).
    """
    K = check_int(n_therapists, "n_therapists", minimum=1)
    m = check_int(dyads_per_therapist, "dyads_per_therapist", minimum=1)
    D = K * m
    check_int(D, "n_therapists * dyads_per_therapist", minimum=3)
    for name, sd in (("therapist_growth_sd", therapist_growth_sd),
                     ("therapist_trait_sd", therapist_trait_sd),
                     ("patient_trait_sd", patient_trait_sd)):
        if not sd >= 0:
            raise ValueError(f"{name} must be >= 0, got {sd}")
    rng = as_generator(seed)
    arrays = draw_pairings(rng, D, n_sessions, effect=effect, n_therapists=K,
                           time=time, model=model)
    h = _values(therapist_growth, therapist_growth_sd, K, rng, "therapist_growth")
    tau = _values(therapist_trait, therapist_trait_sd, K, rng, "therapist_trait")
    pi = _values(patient_trait, patient_trait_sd, D, rng, "patient_trait")
    T = arrays["therapist"]
    x = simulated_time(arrays["sessions"], time)
    Y = arrays["Y"]                                          # (S, D, D)
    Y += tau[T][None, :, None] + pi[None, None, :]
    idx = np.arange(D)
    Y[:, idx, idx] += h[T][None, :] * x[:, None]
    pairings, sessions, _ = pairing_frames(arrays, familiarity=False)
    settings = {"n_therapists": K, "dyads_per_therapist": m, "n_sessions": n_sessions,
                "effect": effect, "therapist_growth": h, "therapist_trait": tau,
                "patient_trait": pi, "time": time}
    return PairingStudy(pairings, sessions, pd.DataFrame(), arrays["scanned"], settings)


def therapist_map(study: PairingStudy) -> dict:
    """Dyad -> therapist of a simulated study."""
    return dict(zip(study.sessions["dyad"], study.sessions["therapist"]))


def interaction_calibration(n_studies: int = 200, *, n_therapists: int = 4,
                            dyads_per_therapist: int = 3, n_sessions: int = 6,
                            therapist_growth_sd: float = 0.0, interaction: str = "auto",
                            df_method: str = "satterthwaite",
                            model: PairingModel | None = None, seed=0) -> pd.DataFrame:
    """p-values of the therapist x time interaction test over simulated studies.

    Parameters
    ----------
    n_studies : int
    n_therapists, dyads_per_therapist, n_sessions : int
        Design of each study.
    therapist_growth_sd : float
        SD of the therapists' extra growth (0: the null, no interaction).
    interaction, df_method : str
        As :func:`~interbrain.stats.therapist_models.therapist_interaction`.
    model : PairingModel, optional
    seed : int or None

    Returns
    -------
    pandas.DataFrame
        ``study, kind, statistic, p`` (one row per study).
    """
    n_studies = check_int(n_studies, "n_studies", minimum=1)
    rng = as_generator(seed)
    rows = []
    for k in range(n_studies):
        study = simulate_therapist_study(n_therapists, dyads_per_therapist, n_sessions,
                                         therapist_growth_sd=therapist_growth_sd,
                                         model=model, seed=rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = therapist_interaction(study.sessions, interaction=interaction,
                                        df_method=df_method)
        rows.append({"study": k, "kind": res.kind, "statistic": res.statistic,
                     "p": res.p})
    return pd.DataFrame(rows)


def pseudo_split_calibration(n_studies: int = 200, *, n_therapists: int = 4,
                             dyads_per_therapist: int = 3, n_sessions: int = 6,
                             effect: float = 0.0, therapist_trait_sd: float = 0.0,
                             patient_trait_sd: float = 0.0,
                             model: PairingModel | None = None,
                             n_permutations: int = 999, seed=0) -> pd.DataFrame:
    """p-values of every test of :func:`~interbrain.stats.therapist_pseudo.pseudo_split`
    over simulated studies (growth by the dyads' slopes, no mixed model).

    Parameters
    ----------
    n_studies : int
    n_therapists, dyads_per_therapist, n_sessions : int
    effect : float
        Plasticity (growth of the real coupling).
    therapist_trait_sd, patient_trait_sd : float
        SDs of the traits (0: none).
    model : PairingModel, optional
        Default: no real coupling (``coupling = coupling_sd = 0``), so that every
        mean excess is 0 under the null.
    n_permutations : int
    seed : int or None

    Returns
    -------
    pandas.DataFrame
        ``study, term, p, p_permutation`` (one row per study and test).
    """
    n_studies = check_int(n_studies, "n_studies", minimum=1)
    model = model or PairingModel(coupling=0.0, coupling_sd=0.0)
    rng = as_generator(seed)
    frames = []
    for k in range(n_studies):
        study = simulate_therapist_study(n_therapists, dyads_per_therapist, n_sessions,
                                         effect=effect,
                                         therapist_trait_sd=therapist_trait_sd,
                                         patient_trait_sd=patient_trait_sd, model=model,
                                         seed=rng)
        res = pseudo_split(study.pairings, therapist_map(study),
                           n_permutations=n_permutations, seed=rng, growth_model=False)
        frames.append(res.rows[["term", "p", "p_permutation"]].assign(study=k))
    out = pd.concat(frames, ignore_index=True)
    return out[["study", "term", "p", "p_permutation"]]
