"""Simulated whole studies with every pairing of recordings (real, pseudo, familiarity).

A hyperscanning study records the therapist and the patient of dyad ``d`` at session
``s``. Synchrony can be computed for every pairing of a therapist recording with a
patient recording: the real dyad, pseudo-dyads (other patients of the same session
number) and familiarity pairings (the dyad's own patient at another session). This
module simulates session-level synchrony of all of them, which takes about a
millisecond per study, for the calibration of the plasticity test
(:mod:`interbrain.stats.plasticity`), the naive growth model and the outcome models.

Synchrony (:func:`draw_pairings`)
    For the therapist recording of dyad ``i`` and the patient recording of dyad ``j``
    at session ``s``::

        Y_s[i, j] = mu + a[i, s] + b[j, s] + c_s
                    + [i == j] (u_i + (g + w_i) time_s) + e[i, j, s]

    ``mu`` the intercept; person-and-recording effects ``a[i, s] = alpha_i +
    rho_is`` (therapist) and ``b[j, s] = beta_j + rho'_js`` (patient) with
    ``alpha ~ N(0, therapist_sd^2)`` (with several therapists ``alpha`` belongs to
    the therapist, dyad ``i`` being treated by therapist ``i mod n_therapists``),
    ``beta ~ N(0, patient_sd^2)`` and ``rho, rho' ~ N(0, recording_sd^2)``; the
    **session-locked confound** ``c_s = confound * time_s + session_sd * z_s`` shared
    by every pairing of session number ``s`` (e.g. paced breathing introduced in
    later sessions: it raises real and pseudo synchrony alike); the real coupling
    ``u_i ~ N(coupling, coupling_sd^2)``; the **plasticity** ``g`` (``effect``: mean
    growth of real coupling per unit of time) with dyad deviations
    ``w_i ~ N(0, slope_sd^2)``; and noise ``e ~ N(0, residual_sd^2)``. ``time_s =
    session - 1`` (``time="linear"``) or ``log(session)`` (``"log"``), as
    :func:`~interbrain.stats.session_simulation.simulated_time`.

    Familiarity pairings (therapist of dyad ``d`` at session ``s`` with the patient
    of ``d`` at session ``s' != s``): ``mu + a[d, s] + b[d, s'] + (c_s + c_s') / 2 +
    e``: the same two persons, no coupling.

Outcome measure
    One value per real dyad-session, as
    :mod:`~interbrain.stats.session_simulation`: ``m[d, s] = m_d + gamma_w,d
    (Y_s[d, d] - ybar_d) + gamma_b (ybar_d - mu) + eps``, ``ybar_d`` the dyad's mean
    real synchrony over its scanned sessions, ``gamma_w,d = (outcome_effect + o_d)
    measure_sd / residual_sd`` with ``o_d ~ N(0, outcome_effect_sd^2)``
    (standardised units: measure SDs per SD of synchrony's session noise) and
    ``gamma_b = between_effect measure_sd / residual_sd``.

Sparse scanning
    ``n_scanned`` of the ``n_dyads x n_sessions`` dyad-sessions are kept (at least 2
    per dyad; first 2 random sessions of every dyad, then the rest uniformly at
    random from the remaining dyad-sessions); a missing dyad-session has neither
    recording, so it is dropped from every pairing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._check import as_generator, check_int
from .session_simulation import check_spreads, simulated_time, within_effects
from .time_codings import SLOPE_TIMES, check_time

__all__ = ["PairingModel", "PairingStudy", "scanned_sessions", "draw_pairings", "pairing_frames",
           "simulate_pairings", "PAIRING_COLUMNS"]

PAIRING_COLUMNS = ["dyad", "partner_dyad", "session", "partner_session", "pairing",
                   "synchrony"]


@dataclass(frozen=True)
class PairingModel:
    """Variance components of a simulated study with every pairing.

    Synchrony units are those of the metric (e.g. WTC coherence, 0-1); the defaults
    are plausible values for session-mean wavelet coherence, not estimates.

    Attributes
    ----------
    intercept : float
        ``mu``: mean synchrony of a pseudo pairing at the first session.
    therapist_sd, patient_sd : float
        SD of the persons' effects on every pairing they take part in.
    recording_sd : float
        SD of a recording's own effect (the person on that day).
    coupling, coupling_sd : float
        Mean and SD across dyads of the real coupling at the first session (real
        minus pseudo synchrony).
    slope_sd : float
        SD across dyads of the growth of the real coupling per unit of time.
    session_sd : float
        SD of a random session-number effect shared by every pairing of a session
        number (part of the confound ``c_s``).
    residual_sd : float
        SD of the noise of every pairing.
    measure_dyad_sd, measure_sd : float
        SD of the measure's dyad intercepts and of its session noise.
    outcome_effect_sd : float
        SD across dyads of the within-dyad outcome effect (standardised units).
    """

    intercept: float = 0.35
    therapist_sd: float = 0.03
    patient_sd: float = 0.03
    recording_sd: float = 0.02
    coupling: float = 0.02
    coupling_sd: float = 0.02
    slope_sd: float = 0.01
    session_sd: float = 0.0
    residual_sd: float = 0.03
    measure_dyad_sd: float = 1.0
    measure_sd: float = 1.0
    outcome_effect_sd: float = 0.0

    def __post_init__(self):
        check_spreads(self, ("therapist_sd", "patient_sd", "recording_sd", "coupling_sd",
                             "slope_sd", "session_sd", "measure_dyad_sd",
                             "outcome_effect_sd"), ("residual_sd", "measure_sd"))
        for name in ("intercept", "coupling"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)}")


@dataclass
class PairingStudy:
    """One simulated study (:func:`simulate_pairings`).

    Attributes
    ----------
    pairings : pandas.DataFrame
        :data:`PAIRING_COLUMNS`: one row per pairing of a scanned therapist recording
        with a scanned patient recording (``pairing`` is ``"real"``, ``"pseudo"`` or
        ``"familiarity"``).
    sessions : pandas.DataFrame
        Real dyads only: ``dyad, session, therapist, synchrony`` (one row per scanned
        dyad-session).
    measures : pandas.DataFrame
        ``dyad, session, <measure>`` for the scanned dyad-sessions.
    scanned : numpy.ndarray of bool, shape (n_dyads, n_sessions)
        Which dyad-sessions were scanned.
    settings : dict
        The arguments that produced the study.
    """

    pairings: pd.DataFrame
    sessions: pd.DataFrame
    measures: pd.DataFrame
    scanned: np.ndarray
    settings: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The pairings: :attr:`pairings`."""
        return self.pairings

    def summary(self) -> str:
        """Counts of dyads, scanned dyad-sessions and pairings of each kind."""
        counts = self.pairings["pairing"].value_counts()
        kinds = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("real", "pseudo",
                                                              "familiarity"))
        d, s = self.scanned.shape
        return (f"{d} dyads x {s} sessions, {int(self.scanned.sum())} dyad-sessions "
                f"scanned; pairings: {kinds}")


def scanned_sessions(rng: np.random.Generator, n_dyads: int, n_sessions: int,
                     n_scanned: int | None) -> np.ndarray:
    """Which dyad-sessions are scanned (see the module notes).

    Parameters
    ----------
    rng : numpy.random.Generator
    n_dyads, n_sessions : int
    n_scanned : int or None
        Dyad-sessions kept, from ``2 * n_dyads`` to ``n_dyads * n_sessions``; None:
        all (no random numbers are drawn).

    Returns
    -------
    numpy.ndarray of bool, shape (n_dyads, n_sessions)
    """
    D, S = n_dyads, n_sessions
    if n_scanned is None:
        return np.ones((D, S), dtype=bool)
    n_scanned = check_int(n_scanned, "n_scanned (at least 2 sessions per dyad)",
                          minimum=2 * D, maximum=D * S)
    kept = np.zeros((D, S), dtype=bool)
    for d in range(D):
        kept[d, rng.choice(S, 2, replace=False)] = True
    rest = np.flatnonzero(~kept.ravel())
    extra = rng.choice(rest, n_scanned - 2 * D, replace=False)
    kept.ravel()[extra] = True
    return kept


def draw_pairings(rng: np.random.Generator, n_dyads: int, n_sessions: int, *,
                  effect: float = 0.0, confound: float = 0.0, outcome_effect: float = 0.0,
                  between_effect: float = 0.0, n_therapists: int | None = None,
                  time: str = "linear", model: PairingModel | None = None,
                  n_scanned: int | None = None) -> dict[str, np.ndarray]:
    """One simulated study as arrays (see the module notes).

    Returns
    -------
    dict
        ``sessions`` (S,), ``therapist`` (D,) therapist index of every dyad,
        ``scanned`` (D, S) bool, ``Y`` (S, D, D) synchrony of therapist ``i`` with
        patient ``j`` at every session (NaN where either was not scanned),
        ``familiarity`` (D, S, S) synchrony of therapist of ``d`` at ``s`` with the
        patient of ``d`` at ``s'`` (NaN on the diagonal and where not scanned),
        ``measure`` (D, S) (NaN where not scanned).
    """
    model = model or PairingModel()
    D, S = n_dyads, n_sessions
    n_therapists = D if n_therapists is None else n_therapists
    check_int(n_therapists, "n_therapists", minimum=1, maximum=D)
    sessions = np.arange(1, S + 1)
    x = simulated_time(sessions, time)
    scanned = scanned_sessions(rng, D, S, n_scanned)
    therapist = np.arange(D) % n_therapists
    alpha = (model.therapist_sd * rng.standard_normal(n_therapists))[therapist]
    beta = model.patient_sd * rng.standard_normal(D)
    a = alpha[:, None] + model.recording_sd * rng.standard_normal((D, S))
    b = beta[:, None] + model.recording_sd * rng.standard_normal((D, S))
    c = confound * x + model.session_sd * rng.standard_normal(S)
    u = model.coupling + model.coupling_sd * rng.standard_normal(D)
    w = model.slope_sd * rng.standard_normal(D)
    # Y[s, i, j]: therapist recording i, patient recording j, session s
    Y = (model.intercept + a.T[:, :, None] + b.T[:, None, :] + c[:, None, None]
         + model.residual_sd * rng.standard_normal((S, D, D)))
    idx = np.arange(D)
    Y[:, idx, idx] += (u[None, :] + (effect + w)[None, :] * x[:, None])
    fam = (model.intercept + a[:, :, None] + b[:, None, :]
           + 0.5 * (c[:, None] + c[None, :])[None, :, :]
           + model.residual_sd * rng.standard_normal((D, S, S)))
    fam[:, np.arange(S), np.arange(S)] = np.nan
    # a missing dyad-session has neither recording
    miss = ~scanned.T                                      # (S, D)
    Y[miss[:, :, None] | miss[:, None, :]] = np.nan
    fam[~scanned[:, :, None] | ~scanned[:, None, :]] = np.nan
    # the measure, from the real synchrony of the scanned sessions
    y = Y[:, idx, idx].T                                   # (D, S)
    ybar = np.nanmean(y, axis=1, keepdims=True)
    gb = between_effect * model.measure_sd / model.residual_sd
    m = (model.measure_dyad_sd * rng.standard_normal((D, 1))
         + gb * (ybar - model.intercept) + model.measure_sd * rng.standard_normal((D, S)))
    gw = within_effects(rng, D, outcome_effect, model.outcome_effect_sd, model.measure_sd,
                        model.residual_sd)
    m = m + gw[:, None] * (y - ybar)
    m[~scanned] = np.nan
    return {"sessions": sessions, "therapist": therapist, "scanned": scanned, "Y": Y,
            "familiarity": fam, "measure": m}


def _dyad_names(n: int) -> np.ndarray:
    width = max(2, len(str(n)))
    return np.array([f"D{i + 1:0{width}d}" for i in range(n)])


def pairing_frames(arrays: dict[str, np.ndarray], *, familiarity: bool = True,
                   measure: str = "outcome"
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The ``pairings``, ``sessions`` and ``measures`` frames of :func:`draw_pairings`'
    arrays (scanned dyad-sessions only)."""
    Y, fam = arrays["Y"], arrays["familiarity"]
    S, D, _ = Y.shape
    names = _dyad_names(D)
    sess = arrays["sessions"]
    s_i, t_i, p_i = np.nonzero(np.isfinite(Y))
    frames = [pd.DataFrame({
        "dyad": names[t_i], "partner_dyad": names[p_i], "session": sess[s_i],
        "partner_session": sess[s_i],
        "pairing": np.where(t_i == p_i, "real", "pseudo"), "synchrony": Y[s_i, t_i, p_i]})]
    if familiarity:
        d_i, s1, s2 = np.nonzero(np.isfinite(fam))
        frames.append(pd.DataFrame({
            "dyad": names[d_i], "partner_dyad": names[d_i], "session": sess[s1],
            "partner_session": sess[s2], "pairing": "familiarity",
            "synchrony": fam[d_i, s1, s2]}))
    pairings = pd.concat(frames, ignore_index=True)
    d_i, s_i = np.nonzero(arrays["scanned"])
    idx = d_i
    sessions = pd.DataFrame({
        "dyad": names[d_i], "session": sess[s_i],
        "therapist": np.array([f"T{t + 1}" for t in arrays["therapist"]])[idx],
        "synchrony": Y[s_i, d_i, d_i]})
    measures = pd.DataFrame({"dyad": names[d_i], "session": sess[s_i],
                             measure: arrays["measure"][d_i, s_i]})
    return pairings, sessions, measures


def simulate_pairings(n_dyads: int = 8, n_sessions: int = 6, *, effect: float = 0.0,
                      confound: float = 0.0, outcome_effect: float = 0.0,
                      between_effect: float = 0.0, n_scanned: int | None = None,
                      n_therapists: int | None = None, time: str = "linear",
                      model: PairingModel | None = None, familiarity: bool = True,
                      measure: str = "outcome", seed=None) -> PairingStudy:
    """One simulated study with every pairing (see the module notes).

    Parameters
    ----------
    n_dyads, n_sessions : int
        Design: dyads (at least 3) and session numbers ``1 .. n_sessions`` (at
        least 3).
    effect : float
        Plasticity ``g``: mean growth of the real coupling per session
        (``time="linear"``) or per unit of ``log(session)``, synchrony units.
    confound : float
        Growth per unit of time of the session-locked confound ``c_s``, shared by
        every pairing of a session number (synchrony units).
    outcome_effect, between_effect : float
        Mean within-dyad and the between-dyad association of the measure with
        synchrony, standardised (measure SDs per SD of synchrony's noise); the
        within effect varies across dyads with ``model.outcome_effect_sd``.
    n_scanned : int, optional
        Sparse scanning: dyad-sessions kept (``2 * n_dyads`` to ``n_dyads *
        n_sessions``); None keeps all.
    n_therapists : int, optional
        Therapists (dyad ``i`` is treated by therapist ``i mod n_therapists``);
        None: one per dyad.
    time : str
        ``"linear"`` or ``"log"``.
    model : PairingModel, optional
    familiarity : bool
        Include the familiarity pairings.
    measure : str
        Name of the measure column.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    PairingStudy
    """
    check_int(n_dyads, "n_dyads", minimum=3)
    check_int(n_sessions, "n_sessions (a random slope per dyad needs more sessions "
              "than 2)", minimum=3)
    check_time(time, SLOPE_TIMES)
    for name, value in (("effect", effect), ("confound", confound),
                        ("outcome_effect", outcome_effect),
                        ("between_effect", between_effect)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
    rng = as_generator(seed)
    arrays = draw_pairings(rng, n_dyads, n_sessions, effect=effect, confound=confound,
                           outcome_effect=outcome_effect, between_effect=between_effect,
                           n_therapists=n_therapists, time=time, model=model,
                           n_scanned=n_scanned)
    pairings, sessions, measures = pairing_frames(arrays, familiarity=familiarity,
                                                  measure=measure)
    settings = {"n_dyads": n_dyads, "n_sessions": n_sessions, "effect": effect,
                "confound": confound, "outcome_effect": outcome_effect,
                "between_effect": between_effect, "n_scanned": n_scanned,
                "n_therapists": n_therapists, "time": time}
    return PairingStudy(pairings, sessions, measures, arrays["scanned"], settings)
