"""The simulator of whole studies with every pairing (interbrain.stats.pairing_simulation)
and the between-dyad variation of the outcome effect (session_simulation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from interbrain.stats.pairing_simulation import (PAIRING_COLUMNS, PairingModel,
                                                 draw_pairings, scanned_sessions,
                                                 simulate_pairings)
from interbrain.stats.session_simulation import SessionModel, draw_sessions


def test_complete_study_has_every_pairing():
    study = simulate_pairings(8, 6, seed=1)
    p = study.pairings
    assert list(p.columns) == PAIRING_COLUMNS
    counts = p["pairing"].value_counts()
    assert counts["real"] == 48
    assert counts["pseudo"] == 6 * 8 * 7          # every ordered pair of others
    assert counts["familiarity"] == 8 * 6 * 5     # every ordered pair of sessions
    real = p[p["pairing"] == "real"]
    assert (real["dyad"] == real["partner_dyad"]).all()
    assert (real["session"] == real["partner_session"]).all()
    pseudo = p[p["pairing"] == "pseudo"]
    assert (pseudo["dyad"] != pseudo["partner_dyad"]).all()
    assert (pseudo["session"] == pseudo["partner_session"]).all()
    fam = p[p["pairing"] == "familiarity"]
    assert (fam["dyad"] == fam["partner_dyad"]).all()
    assert (fam["session"] != fam["partner_session"]).all()
    assert not p.duplicated(["dyad", "partner_dyad", "session", "partner_session"]).any()
    assert np.isfinite(p["synchrony"]).all()
    # the sessions frame is the real pairings; measures cover the same dyad-sessions
    merged = study.sessions.merge(real, on=["dyad", "session"])
    np.testing.assert_array_equal(merged["synchrony_x"], merged["synchrony_y"])
    assert list(study.sessions.columns) == ["dyad", "session", "therapist", "synchrony"]
    assert study.measures[["dyad", "session"]].equals(study.sessions[["dyad", "session"]])
    assert "48 real, 336 pseudo, 240 familiarity" in study.summary()
    again = simulate_pairings(8, 6, seed=1)
    pd.testing.assert_frame_equal(p, again.pairings)
    assert not simulate_pairings(8, 6, seed=1, familiarity=False).pairings[
        "pairing"].eq("familiarity").any()


def test_sparse_scanning_drops_missing_recordings_everywhere():
    study = simulate_pairings(8, 6, n_scanned=18, seed=3)
    assert study.scanned.sum() == 18 and (study.scanned.sum(axis=1) >= 2).all()
    assert len(study.sessions) == 18 and len(study.measures) == 18
    scanned = {(f"D{d + 1:02d}", s + 1) for d, s in zip(*np.nonzero(study.scanned))}
    p = study.pairings
    for row in p.itertuples():
        assert (row.dyad, row.session) in scanned
        assert (row.partner_dyad, row.partner_session) in scanned
    # every pseudo pair of a session number among the scanned dyads is present
    per_session = study.scanned.sum(axis=0)
    pseudo = p[p["pairing"] == "pseudo"].groupby("session").size()
    for s, k in enumerate(per_session, start=1):
        assert pseudo.get(s, 0) == k * (k - 1)
    fam = p[p["pairing"] == "familiarity"].groupby("dyad").size()
    k = study.scanned.sum(axis=1)
    assert fam.sum() == int((k * (k - 1)).sum())
    # seeded, and every count in range works
    rng = np.random.default_rng(0)
    for n in (16, 30, 48):
        kept = scanned_sessions(rng, 8, 6, n)
        assert kept.sum() == n and (kept.sum(axis=1) >= 2).all()
    np.testing.assert_array_equal(scanned_sessions(np.random.default_rng(5), 8, 6, 18),
                                  scanned_sessions(np.random.default_rng(5), 8, 6, 18))
    with pytest.raises(ValueError, match="n_scanned"):
        simulate_pairings(8, 6, n_scanned=15)
    with pytest.raises(ValueError, match="n_scanned"):
        simulate_pairings(8, 6, n_scanned=49)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_dyads"):
        simulate_pairings(2, 6)
    with pytest.raises(ValueError, match="n_sessions"):
        simulate_pairings(8, 2)
    with pytest.raises(ValueError, match="confound"):
        simulate_pairings(8, 6, confound=float("nan"))
    with pytest.raises(ValueError, match="residual_sd"):
        PairingModel(residual_sd=0)
    with pytest.raises(ValueError, match="outcome_effect_sd"):
        PairingModel(outcome_effect_sd=-1)
    with pytest.raises(ValueError, match="n_therapists"):
        simulate_pairings(4, 4, n_therapists=5)


def test_planted_plasticity_and_confound_are_recovered():
    """On 400 dyads x 6 sessions: real minus pseudo grows by ``effect`` per session,
    pseudo synchrony grows by ``confound``, the mean real coupling is ``coupling``."""
    model = PairingModel()
    a = draw_pairings(np.random.default_rng(11), 400, 6, effect=0.02, confound=0.015,
                      model=model)
    Y = a["Y"]                                           # (S, D, D)
    D = Y.shape[1]
    idx = np.arange(D)
    real = Y[:, idx, idx]                                # (S, D)
    off = ~np.eye(D, dtype=bool)
    pseudo = np.array([Y[s][off].mean() for s in range(6)])
    x = np.arange(6.0)
    assert np.polyfit(x, pseudo, 1)[0] == pytest.approx(0.015, abs=0.002)
    excess = real.mean(axis=1) - pseudo
    assert np.polyfit(x, excess, 1)[0] == pytest.approx(0.02, abs=0.002)
    assert excess[0] == pytest.approx(model.coupling, abs=0.005)
    fam = a["familiarity"]                               # (D, S, S)
    # familiarity pairings carry the mean confound of their two sessions
    s1, s2 = 0, 5
    conf = 0.015 * (x[s1] + x[s2]) / 2
    assert np.nanmean(fam[:, s1, s2]) - model.intercept == pytest.approx(conf, abs=0.006)


def test_outcome_effect_varies_between_dyads_as_planted():
    """Per-dyad within-dyad slopes of the measure on synchrony: mean ``outcome_effect``
    and SD ``outcome_effect_sd`` (in measure SDs per SD of synchrony's noise)."""
    model = PairingModel(outcome_effect_sd=1.0, measure_sd=0.05, slope_sd=0.0)
    a = draw_pairings(np.random.default_rng(4), 3000, 12, outcome_effect=0.5,
                      model=model)
    D = a["Y"].shape[1]
    y = a["Y"][:, np.arange(D), np.arange(D)].T          # (D, S)
    m = a["measure"]
    slopes = _within_slopes(y, m, model)
    assert slopes.mean() == pytest.approx(0.5, abs=0.05)
    assert slopes.std() == pytest.approx(1.0, rel=0.08)


def _within_slopes(y, m, model):
    """Each dyad's within-dyad slope of the measure on synchrony, standardised (measure
    SDs per SD of synchrony's session noise); ``y, m`` of shape (dyads, sessions)."""
    yc = y - y.mean(axis=1, keepdims=True)
    mc = m - m.mean(axis=1, keepdims=True)
    return (yc * mc).sum(axis=1) / (yc * yc).sum(axis=1) * model.residual_sd \
        / model.measure_sd


def test_session_model_outcome_effect_sd_keeps_old_draws_and_varies_effects():
    base = draw_sessions(np.random.default_rng(2), 8, 6, 0.0, 0.3, 0.0, 1, None,
                         "linear", SessionModel())
    same = draw_sessions(np.random.default_rng(2), 8, 6, 0.0, 0.3, 0.0, 1, None,
                         "linear", SessionModel(outcome_effect_sd=0.0))
    for x, y in zip(base, same):
        np.testing.assert_allclose(x, y, rtol=1e-12)
    model = SessionModel(outcome_effect_sd=1.0, measure_sd=0.05)
    _, _, y, m = draw_sessions(np.random.default_rng(3), 3000, 12, 0.0, 0.0, 0.0, 1,
                               None, "linear", model)
    slopes = _within_slopes(y, m, model)
    assert slopes.mean() == pytest.approx(0.0, abs=0.05)
    assert slopes.std() == pytest.approx(1.0, rel=0.08)
    with pytest.raises(ValueError, match="outcome_effect_sd"):
        SessionModel(outcome_effect_sd=-0.1)
