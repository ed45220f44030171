"""Simulated generalisation studies: session-level synchrony tables with a planted
transfer from growth with the therapist to change with other people.

:func:`simulate_generalisation` draws one study in the layout of a run's synchrony
table (one row per pairing, its channel pairs already averaged);
:func:`generalisation_rejection_rates` runs the patient-level model on many and gives
how often each test rejects (the benchmarks call it with 1000 studies).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from .._check import as_generator, check_int
from .generalisation_patients import generalisation_patients

__all__ = ["SimulatedGeneralisation", "simulate_generalisation",
           "generalisation_rejection_rates"]


class SimulatedGeneralisation(NamedTuple):
    """A simulated study: the inputs of
    :func:`~interbrain.stats.generalisation_patients.generalisation_patients`."""

    synchrony: pd.DataFrame
    dyads: pd.DataFrame
    partners: pd.DataFrame
    therapy_slopes: np.ndarray
    other_changes: np.ndarray


def _rows(dyad, partner, session, pairing, value, signal, metric) -> pd.DataFrame:
    n = len(value)
    return pd.DataFrame({"dyad": dyad, "partner_dyad": partner, "session": session,
                         "partner_session": session, "pair": "mean",
                         "signal": signal, "pairing": pairing, "metric": metric,
                         "value": np.asarray(value, dtype=float)}, index=range(n))


def simulate_generalisation(n_patients: int = 8, n_sessions: int = 6, *,
                            transfer: float = 0.0, slope_mean: float = 0.01,
                            slope_sd: float = 0.01, session_sd: float = 0.01,
                            change_mean: float = 0.0, change_sd: float = 0.02,
                            recording_sd: float = 0.01, null_drift: float = 0.005,
                            phase_shift: float = 0.02, n_partners: int = 1,
                            partner_kinds: tuple[str, ...] = (), n_control: int = 0,
                            condition_effect: float = 0.0, pseudo: bool = True,
                            signal: str = "hbo", metric: str = "wtc", seed=None
                            ) -> SimulatedGeneralisation:
    """One simulated study of patients with a therapist and with other people.

    Dyad ``i`` grows by ``b_i ~ N(slope_mean, slope_sd)`` per session with the
    therapist (0 mean growth in the ``n_control`` control dyads), on top of a drift
    ``null_drift`` per session that pseudo-dyads share (so it cancels in the excess).
    Its synchrony with each of ``n_partners`` other people changes from pre to post
    by ``c_i = change_mean + transfer * b_i + N(0, change_sd)`` (plus
    ``condition_effect`` in treated dyads), on top of a shift ``phase_shift`` that the
    pseudo-generalisation pairings share. Every recording pair's value has noise
    ``N(0, session_sd)`` (sessions) or ``N(0, recording_sd)`` (generalisation).

    Parameters
    ----------
    n_patients, n_sessions : int
        Dyads (one patient each) and sessions per dyad.
    transfer : float
        Change with other people per unit of growth with the therapist (the planted
        effect).
    slope_mean, slope_sd, session_sd, change_mean, change_sd, recording_sd,
    null_drift, phase_shift : float
        See above.
    n_partners : int
        Other people per patient, each recorded pre and post.
    partner_kinds : tuple of str
        Kinds given to the partners in turn (``k``-th partner of every patient:
        ``partner_kinds[k % len]``); empty: none.
    n_control : int
        Dyads of condition ``"control"`` (the others ``"therapy"``); 0: no condition.
    condition_effect : float
        Added to ``c_i`` in therapy dyads.
    pseudo : bool
        Include pseudo-dyads and pseudo-generalisation pairings.
    signal, metric : str
    seed : int, SeedSequence, Generator or None

    Returns
    -------
    SimulatedGeneralisation
        ``synchrony`` (columns of a run's synchrony table), ``dyads`` (``dyad,
        therapist, patient`` and ``condition`` with controls), ``partners``
        (``dyad, partner, partner_kind``), and the true ``therapy_slopes`` ``b`` and
        ``other_changes`` ``c``.
    """
    n = check_int(n_patients, "n_patients", minimum=2)
    S = check_int(n_sessions, "n_sessions", minimum=2)
    n_partners = check_int(n_partners, "n_partners", minimum=1)
    n_control = check_int(n_control, "n_control", minimum=0)
    if n_control >= n:
        raise ValueError(f"n_control ({n_control}) must leave treated dyads among "
                         f"{n} dyads")
    rng = as_generator(seed)
    names = np.array([f"D{k + 1:02d}" for k in range(n)])
    control = np.arange(n) < n_control
    b = np.where(control, 0.0, slope_mean) + slope_sd * rng.standard_normal(n)
    c = (change_mean + transfer * b + change_sd * rng.standard_normal(n)
         + np.where(control, 0.0, condition_effect))
    sessions = np.arange(1, S + 1)
    base = 0.3 + 0.02 * rng.standard_normal(n)
    real = (base[:, None] + (b[:, None] + null_drift) * sessions
            + session_sd * rng.standard_normal((n, S)))
    frames = [_rows(np.repeat(names, S), np.repeat(names, S), np.tile(sessions, n),
                    "real", real.ravel(), signal, metric)]
    t_i, p_i = np.nonzero(~np.eye(n, dtype=bool))
    if pseudo:
        null = (0.3 + null_drift * sessions[None, :]
                + session_sd * rng.standard_normal((len(t_i), S)))
        frames.append(_rows(np.repeat(names[t_i], S), np.repeat(names[p_i], S),
                            np.tile(sessions, len(t_i)), "pseudo", null.ravel(), signal,
                            metric))
    partner = np.array([[f"F{i + 1:02d}_{m + 1}" for m in range(n_partners)]
                        for i in range(n)])
    level = 0.25 + 0.02 * rng.standard_normal((n, n_partners))
    pre = level + recording_sd * rng.standard_normal((n, n_partners))
    post = (level + phase_shift + c[:, None]
            + recording_sd * rng.standard_normal((n, n_partners)))
    for kind, values in (("other_pre", pre), ("other_post", post)):
        frames.append(_rows(np.repeat(names, n_partners), partner.ravel(), 0, kind,
                            values.ravel(), signal, metric))
    if pseudo:
        for phase, shift in (("pre", 0.0), ("post", phase_shift)):
            k = len(t_i) * n_partners * n_partners
            frames.append(_rows(np.repeat(names[p_i], n_partners * n_partners),
                                np.repeat(names[t_i], n_partners * n_partners), 0,
                                f"pseudo_other_{phase}",
                                0.25 + shift + recording_sd * rng.standard_normal(k),
                                signal, metric))
    dyads = pd.DataFrame({"dyad": names, "therapist": "T01",
                          "patient": [f"P{k + 1:02d}" for k in range(n)]})
    if n_control:
        dyads["condition"] = np.where(control, "control", "therapy")
    kinds = ([partner_kinds[m % len(partner_kinds)] for m in range(n_partners)]
             if partner_kinds else [""] * n_partners)
    partners = pd.DataFrame({"dyad": np.repeat(names, n_partners),
                             "partner": partner.ravel(), "partner_kind": kinds * n})
    return SimulatedGeneralisation(pd.concat(frames, ignore_index=True), dyads, partners,
                                   b, c)


def generalisation_rejection_rates(n_studies: int = 200, *, alpha: float = 0.05,
                                   seed: int = 0, n_permutations: int = 999,
                                   **simulation) -> pd.DataFrame:
    """How often each test of the patient-level model rejects over simulated studies.

    Parameters
    ----------
    n_studies : int
        Studies simulated (:func:`simulate_generalisation` with ``**simulation``).
    alpha : float
        Level of the tests.
    seed : int
        Seed of the studies (study ``k`` draws from ``SeedSequence(seed).spawn``).
    n_permutations : int
        Permutations drawn where not all are enumerated.
    **simulation
        Arguments of :func:`simulate_generalisation` (e.g. ``transfer=0.0``).

    Returns
    -------
    pandas.DataFrame
        ``term, test`` (``"t"`` or ``"permutation"``), ``rejections, n_studies,
        rate``, and ``mean_estimate`` over the studies.
    """
    n_studies = check_int(n_studies, "n_studies", minimum=1)
    rows = []
    for k, child in enumerate(np.random.SeedSequence(seed).spawn(n_studies)):
        gen = np.random.default_rng(child)
        sim = simulate_generalisation(seed=gen, **simulation)
        res = generalisation_patients(sim.synchrony, sim.dyads, simulation.get("signal", "hbo"),
                                      simulation.get("metric", "wtc"), partners=sim.partners,
                                      n_permutations=n_permutations, seed=gen)
        for row in res.tests.itertuples():
            rows += [{"study": k, "term": row.term, "test": "t", "p": row.p,
                      "estimate": row.estimate},
                     {"study": k, "term": row.term, "test": "permutation",
                      "p": row.p_permutation, "estimate": row.estimate}]
    table = pd.DataFrame(rows)
    out = table.groupby(["term", "test"], sort=False).agg(
        rejections=("p", lambda p: int((p <= alpha).sum())), n_studies=("p", "size"),
        mean_estimate=("estimate", "mean")).reset_index()
    out["rate"] = out["rejections"] / out["n_studies"]
    return out
