"""Simulated session-level synchrony and outcome measure of a study.

Studies are simulated at the level of session synchrony (one value per dyad and
session; no recordings, no wavelets), which takes microseconds; :mod:`.power`
analyses many of them.

Synchrony (:func:`simulate_sessions`)
    ``y[d, s] = intercept + u_d + v_t(d) + (effect + c_d + w_d) * time(s) + e[d, s]``
    with ``time(s) = session - 1`` (``time="linear"``) or ``log(session)``
    (``"log"``), dyad random intercept ``u_d ~ N(0, intercept_sd^2)`` and random
    slope ``w_d ~ N(0, slope_sd^2)`` (correlation ``intercept_slope_corr``), a
    therapist random intercept ``v_t ~ N(0, therapist_sd^2)`` (dyads are assigned
    to ``n_therapists`` therapists in turn), ``c_d = condition_effect`` for the dyads
    in the ``"therapy"`` condition (every second dyad; only when
    ``condition_effect`` is given) and session noise ``e ~ N(0, residual_sd^2)``.
    ``effect`` is the mean growth of synchrony per session (per unit of
    ``log(session)``), in synchrony units.

Outcome measure
    ``m[d, s] = a_d + gamma_w,d (y[d, s] - ybar_d) + gamma_b (ybar_d - intercept) +
    eps[d, s]``, ``a_d ~ N(0, measure_dyad_sd^2)``, ``eps ~ N(0, measure_sd^2)``.
    The within-dyad effect is given standardised: ``outcome_effect`` measure SDs
    (``measure_sd``) per session-noise SD of synchrony (``residual_sd``), so
    ``gamma_w = outcome_effect * measure_sd / residual_sd`` (measure units per unit
    synchrony); ``between_effect`` likewise gives ``gamma_b``. The within-dyad
    effect may differ between dyads: ``gamma_w,d = (outcome_effect + o_d) *
    measure_sd / residual_sd`` with ``o_d ~ N(0, outcome_effect_sd^2)`` (standardised
    units too; :attr:`SessionModel.outcome_effect_sd`, 0 by default). ``outcome_effect``
    is then the mean within-dyad effect, the quantity the outcome ladder estimates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._check import as_generator, check_int
from .time_codings import SLOPE_TIMES, check_time, time_values

__all__ = ["SessionModel", "check_spreads", "simulated_time", "check_design", "draw_sessions",
           "within_effects", "simulate_sessions"]


@dataclass(frozen=True)
class SessionModel:
    """Variance components of simulated session-level synchrony and measure.

    Synchrony units are those of the metric (e.g. WTC coherence, 0-1); the defaults
    are plausible values for session-mean wavelet coherence, not estimates.

    The growth test's calibration depends on the random-slope SD: at 8 dyads x 6
    sessions and 2,000 null studies its false-positive rate at alpha = 0.05 was
    0.026 (``slope_sd = 0``), 0.034 (0.005), 0.044 (0.01, the default) and 0.047
    (0.02); the test is conservative when the dyads' slopes hardly differ (many
    singular fits), as expected of the maximal random-slope model.

    Attributes
    ----------
    intercept : float
        Mean synchrony at the first session.
    intercept_sd, slope_sd : float
        SD of the dyads' random intercepts and random slopes (per session).
    intercept_slope_corr : float
        Their correlation, in (-1, 1).
    residual_sd : float
        SD of the session-to-session noise of synchrony.
    therapist_sd : float
        SD of the therapists' random intercepts (used with several therapists).
    measure_dyad_sd, measure_sd : float
        SD of the measure's dyad intercepts and of its session noise.
    outcome_effect_sd : float
        SD across dyads of the within-dyad outcome effect, standardised as
        ``outcome_effect`` (measure SDs per SD of synchrony's session noise); 0: the
        same effect in every dyad.
    """

    intercept: float = 0.35
    intercept_sd: float = 0.04
    slope_sd: float = 0.01
    intercept_slope_corr: float = 0.0
    residual_sd: float = 0.03
    therapist_sd: float = 0.02
    measure_dyad_sd: float = 1.0
    measure_sd: float = 1.0
    outcome_effect_sd: float = 0.0

    def __post_init__(self):
        check_spreads(self, ("intercept_sd", "slope_sd", "therapist_sd", "measure_dyad_sd",
                             "outcome_effect_sd"), ("residual_sd", "measure_sd"))
        if not -1 < self.intercept_slope_corr < 1:
            raise ValueError("intercept_slope_corr must lie in (-1, 1), got "
                             f"{self.intercept_slope_corr}")


def check_spreads(model, non_negative, positive) -> None:
    """Raise ValueError naming the first field of ``model`` in ``non_negative`` that is
    not >= 0, or in ``positive`` that is not > 0 (NaN fails both)."""
    for name in non_negative:
        if not getattr(model, name) >= 0:
            raise ValueError(f"{name} must be >= 0, got {getattr(model, name)}")
    for name in positive:
        if not getattr(model, name) > 0:
            raise ValueError(f"{name} must be > 0, got {getattr(model, name)}")


def simulated_time(sessions: np.ndarray, time: str) -> np.ndarray:
    """Time of the simulation: ``session - 1`` (``"linear"``, so that the intercept is
    synchrony at the first session) or ``log(session)`` (``"log"``)."""
    check_time(time, SLOPE_TIMES)
    x = time_values(sessions, time)
    return x - 1.0 if time == "linear" else x


def check_design(n_dyads: int, n_sessions: int, n_therapists: int) -> None:
    """Raise ValueError unless there are at least 3 dyads, at least 3 sessions (a
    random slope per dyad needs more than 2) and 1 to ``n_dyads`` therapists."""
    check_int(n_dyads, "n_dyads", minimum=3)
    check_int(n_sessions, "n_sessions (a random slope per dyad needs more sessions "
              "than 2)", minimum=3)
    check_int(n_therapists, "n_therapists", minimum=1, maximum=n_dyads)


def draw_sessions(rng: np.random.Generator, n_dyads: int, n_sessions: int, effect: float,
          outcome_effect: float, between_effect: float, n_therapists: int,
          condition_effect: float | None, time: str, model: SessionModel
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One simulated study as arrays (see the module notes).

    Returns
    -------
    sessions : numpy.ndarray, shape (S,)
    therapist : numpy.ndarray of int, shape (D,)
        Therapist index of every dyad.
    y, m : numpy.ndarray, shape (D, S)
        Synchrony and measure.
    """
    D, S = n_dyads, n_sessions
    sessions = np.arange(1, S + 1)
    x = simulated_time(sessions, time)
    r = model.intercept_slope_corr
    z = rng.standard_normal((D, 2))
    u = model.intercept_sd * z[:, 0]
    w = model.slope_sd * (r * z[:, 0] + math.sqrt(1.0 - r * r) * z[:, 1])
    therapist = np.arange(D) % n_therapists
    v = (model.therapist_sd * rng.standard_normal(n_therapists))[therapist] \
        if n_therapists > 1 else np.zeros(D)
    slope = effect + w
    if condition_effect is not None:
        slope = slope + condition_effect * (np.arange(D) % 2 == 1)
    y = (model.intercept + u + v)[:, None] + slope[:, None] * x[None, :] \
        + model.residual_sd * rng.standard_normal((D, S))
    ybar = y.mean(axis=1, keepdims=True)
    gb = between_effect * model.measure_sd / model.residual_sd
    m = (model.measure_dyad_sd * rng.standard_normal((D, 1))
         + gb * (ybar - model.intercept) + model.measure_sd * rng.standard_normal((D, S)))
    # drawn last and only when asked for, so that studies without it keep their data
    gw = within_effects(rng, D, outcome_effect, model.outcome_effect_sd, model.measure_sd,
                        model.residual_sd)
    m = m + gw[:, None] * (y - ybar)
    return sessions, therapist, y, m


def within_effects(rng: np.random.Generator, n_dyads: int, outcome_effect: float,
                   outcome_effect_sd: float, measure_sd: float, residual_sd: float
                   ) -> np.ndarray:
    """The dyads' within-dyad outcome effects in measure units per unit synchrony.

    ``(outcome_effect + o_d) * measure_sd / residual_sd`` with ``o_d ~ N(0,
    outcome_effect_sd^2)`` (no draw when ``outcome_effect_sd`` is 0).

    Returns
    -------
    numpy.ndarray, shape (n_dyads,)
    """
    scale = measure_sd / residual_sd
    effects = np.full(n_dyads, float(outcome_effect))
    if outcome_effect_sd > 0:
        effects = effects + outcome_effect_sd * rng.standard_normal(n_dyads)
    return effects * scale


def simulate_sessions(n_dyads: int = 8, n_sessions: int = 6, *, effect: float = 0.0,
                      outcome_effect: float = 0.0, between_effect: float = 0.0,
                      n_therapists: int = 1, condition_effect: float | None = None,
                      time: str = "linear", model: SessionModel | None = None,
                      measure: str = "outcome", seed=None) -> pd.DataFrame:
    """One simulated study at the level of session synchrony (see the module notes).

    Parameters
    ----------
    n_dyads, n_sessions : int
        Design: every dyad has sessions ``1 .. n_sessions``.
    effect : float
        Mean growth of synchrony per session (``time="linear"``) or per unit of
        ``log(session)`` (``"log"``), synchrony units.
    outcome_effect, between_effect : float
        Within- and between-dyad association of the measure with synchrony,
        standardised (measure SDs per SD of synchrony's session noise).
    n_therapists : int
        Therapists; dyad ``i`` is treated by therapist ``i mod n_therapists``.
    condition_effect : float, optional
        Adds a ``condition`` column (``"control"`` for even, ``"therapy"`` for odd
        dyads) and this extra growth per session in the therapy condition.
    time : str
        ``"linear"`` or ``"log"``.
    model : SessionModel, optional
        Variance components (defaults of :class:`SessionModel`).
    measure : str
        Name of the measure column.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    pandas.DataFrame
        ``n_dyads * n_sessions`` rows: ``dyad`` (``"D01"`` ...), ``session`` (int),
        ``therapist`` (``"T1"`` ...), ``synchrony``, the measure, and ``condition``
        when ``condition_effect`` is given.
    """
    model = model or SessionModel()
    check_design(n_dyads, n_sessions, n_therapists)
    rng = as_generator(seed)
    sessions, therapist, y, m = draw_sessions(rng, n_dyads, n_sessions, effect, outcome_effect,
                                      between_effect, n_therapists, condition_effect,
                                      time, model)
    width = len(str(n_dyads))
    dyads = np.array([f"D{i + 1:0{max(2, width)}d}" for i in range(n_dyads)])
    out = pd.DataFrame({
        "dyad": np.repeat(dyads, n_sessions),
        "session": np.tile(sessions, n_dyads),
        "therapist": np.repeat([f"T{t + 1}" for t in therapist], n_sessions),
        "synchrony": y.ravel(), measure: m.ravel()})
    if condition_effect is not None:
        out["condition"] = np.repeat(np.where(np.arange(n_dyads) % 2 == 1, "therapy",
                                              "control"), n_sessions)
    return out
