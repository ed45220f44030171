"""Therapist-specific or universal: the therapist x time interaction, the therapist
share of variance, and the pseudo-dyads split by therapist (issue 15, item 4)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from interbrain.stats.growth import compare_growth, fit_growth
from interbrain.stats.pairing_simulation import PairingModel
from interbrain.stats.therapist_effects import therapist_effects
from interbrain.stats.therapist_models import f_test, mixture_pvalue, therapist_interaction
from interbrain.stats.therapist_pseudo import SPLIT_TERMS, pseudo_split
from interbrain.stats.therapist_simulation import (interaction_calibration,
                                                   pseudo_split_calibration,
                                                   simulate_therapist_study, therapist_map)

#: No person traits, no real coupling: the null of every pseudo-split test.
NO_TRAITS = PairingModel(coupling=0.0, coupling_sd=0.0, therapist_sd=0.0, patient_sd=0.0)


def _upper(n: int, alpha: float = 0.05) -> float:
    """Largest rejection rate of a calibrated test in ``n`` studies (99.5 %)."""
    return sps.binom.ppf(0.995, n, alpha) / n


def _lower(n: int, alpha: float = 0.05) -> float:
    return sps.binom.ppf(0.005, n, alpha) / n


# ---------------------------------------------------------------------------
# (a) therapist x time interaction
# ---------------------------------------------------------------------------

def test_planted_interaction_is_detected_with_fixed_therapists():
    study = simulate_therapist_study(4, 3, 6, therapist_growth=[-0.02, 0.0, 0.02, 0.04],
                                     seed=11)
    res = therapist_effects(study.sessions)
    assert res.interaction.kind == "fixed"
    assert res.interaction.p < 0.01
    slopes = res.interaction.slopes.set_index("therapist")["estimate"]
    assert slopes["T4"] > slopes["T1"]
    rows = res.to_frame("HbO", "wtc")
    inter = rows[rows["model"] == "therapist:interaction"]
    assert inter["term"].iloc[0].startswith("therapist x time interaction")
    assert inter["df_num"].iloc[0] == 3 and 0 < inter["df"].iloc[0] < 72
    assert {"growth per session, therapist T1", "growth per session, therapist T4"} <= \
        set(inter["term"])
    kr = therapist_effects(study.sessions, df_method="kenward-roger")
    assert kr.interaction.p < 0.01 and "Kenward-Roger" in kr.interaction.method


def test_f_test_with_one_term_is_the_t_test():
    study = simulate_therapist_study(2, 4, 5, therapist_growth=[0.0, 0.01], seed=3)
    it = therapist_interaction(study.sessions, interaction="fixed")
    fit = it.full
    name = [n for n in fit.coefficients.index if ":" in n][0]
    row = fit.coefficients.loc[name]
    L = (fit.coefficients.index == name).astype(float)[None, :]
    F, q, ddf, p = f_test(fit, L)
    assert q == 1 and F == pytest.approx(row["t"] ** 2, rel=1e-8)
    assert ddf == pytest.approx(row["df"], rel=1e-6) and p == pytest.approx(row["p"],
                                                                          rel=1e-6)


def interaction_false_positive_rate(n_studies: int = 200, **kw) -> float:
    """Rejection rate at alpha 0.05 of the interaction test without therapist
    differences in growth (benchmarks: ``n_studies=1000``)."""
    p = interaction_calibration(n_studies, therapist_growth_sd=0.0, seed=2024, **kw)["p"]
    return float(np.mean(p < 0.05))


def test_fixed_interaction_false_positive_rate():
    n = 200
    rate = interaction_false_positive_rate(n, n_therapists=4, dyads_per_therapist=3,
                                           n_sessions=6)
    assert _lower(n) <= rate <= _upper(n), rate


def test_random_slope_branch_detects_and_holds_its_rate():
    study = simulate_therapist_study(6, 2, 6, therapist_growth=[-0.03, -0.02, 0.0, 0.01,
                                                                0.03, 0.04], seed=5)
    res = therapist_effects(study.sessions)
    assert res.interaction.kind == "random" and res.interaction.p < 0.05
    assert res.interaction.estimate > 0.01
    assert "mixture" in res.interaction.method
    n = 100
    rate = interaction_false_positive_rate(n, n_therapists=6, dyads_per_therapist=2,
                                           n_sessions=6)
    # the boundary mixture is conservative with few therapists: only the upper bound
    assert rate <= _upper(n), rate


def test_mixture_pvalue():
    assert mixture_pvalue(0.0, 1, 2) == pytest.approx(1.0)
    x = 5.0
    assert mixture_pvalue(x, 1, 2) == pytest.approx(
        0.5 * sps.chi2.sf(x, 1) + 0.5 * sps.chi2.sf(x, 2))
    assert mixture_pvalue(x, 0, 1) == pytest.approx(0.5 * sps.chi2.sf(x, 1))


# ---------------------------------------------------------------------------
# (b) variance share
# ---------------------------------------------------------------------------

def test_therapist_share_of_variance():
    model = PairingModel(therapist_sd=0.0, patient_sd=0.0, coupling_sd=0.01)
    study = simulate_therapist_study(4, 3, 6, therapist_trait=[-0.1, 0.0, 0.05, 0.1],
                                     model=model, seed=4)
    res = therapist_effects(study.sessions)
    assert res.variance.therapist_share > 0.5
    rows = res.to_frame()
    share = rows[rows["term"] == "therapist share of synchrony variance"].iloc[0]
    assert share["model"] == "therapist:variance" and "point estimate" in share["method"]
    assert pd.isna(share.get("ci_low", np.nan))  # no interval offered
    flat = simulate_therapist_study(4, 3, 6, model=model, seed=4)
    assert therapist_effects(flat.sessions).variance.therapist_share < 0.2


# ---------------------------------------------------------------------------
# (c) pseudo-dyads split by therapist
# ---------------------------------------------------------------------------

def _trait_p(res, kind: str) -> float:
    rows = res.rows
    return float(rows.loc[rows["term"].str.startswith(f"{kind} trait"), "p"].iloc[0])


def test_therapist_trait_shows_in_split_i_and_patient_trait_in_split_ii():
    therapist = simulate_therapist_study(4, 3, 6, therapist_trait=[0.08, 0, 0, 0],
                                         model=NO_TRAITS, seed=8)
    res = pseudo_split(therapist.pairings, therapist_map(therapist), seed=1,
                       growth_model=False)
    assert _trait_p(res, "therapist") < 0.01 and _trait_p(res, "patient") > 0.05
    t1 = res.by_therapist().set_index(["therapist", "split"])
    # (i) carries the trait: real exceeds it no more than elsewhere; (ii) does not
    assert t1.loc[("T1", "other_patients"), "null"] > \
        t1.loc[("T1", "other_therapists"), "null"] + 0.05
    assert abs(t1.loc[("T1", "other_patients"), "excess"]) < 0.03
    assert t1.loc[("T1", "other_therapists"), "excess"] > 0.05

    trait = np.zeros(12)
    trait[[0, 5]] = [0.1, -0.1]
    patient = simulate_therapist_study(4, 3, 6, patient_trait=trait, model=NO_TRAITS,
                                       seed=8)
    res = pseudo_split(patient.pairings, therapist_map(patient), seed=1,
                       growth_model=False)
    assert _trait_p(res, "patient") < 0.01 and _trait_p(res, "therapist") > 0.05
    ex = res.excess.groupby(["dyad", "split"], observed=True)["excess"].mean()
    assert ex[("D01", "other_patients")] > 0.05          # (i) does not carry it
    assert abs(ex[("D01", "other_therapists")]) < 0.03   # (ii) does


def test_pseudo_split_rows_and_growth_model():
    study = simulate_therapist_study(3, 2, 5, effect=0.01, seed=2)
    res = pseudo_split(study.pairings, therapist_map(study), n_permutations=999, seed=0)
    rows = res.to_frame("HbO", "wtc")
    assert (rows["model"] == "therapist:pseudo_split").all()
    assert set(SPLIT_TERMS.values()) <= set(rows["term"])
    growth = rows[rows["term"].str.startswith("growth")]
    assert len(growth) == 3 and growth["p_permutation"].between(0, 1).all()
    assert growth["method"].str.contains("lmer REML").all()
    assert res.summary().startswith("pseudo-dyads split")


def pseudo_split_false_positive_rates(n_studies: int = 200, **kw) -> pd.Series:
    """Rejection rate at alpha 0.05 of every pseudo-split test without coupling,
    plasticity or person traits (benchmarks: ``n_studies=1000``)."""
    p = pseudo_split_calibration(n_studies, model=NO_TRAITS, seed=99, **kw)
    return p.groupby("term")["p"].agg(lambda v: float(np.mean(v < 0.05)))


def test_pseudo_split_false_positive_rates():
    n = 150
    rates = pseudo_split_false_positive_rates(n, n_permutations=199)
    assert len(rates) == 8
    # the mean excesses of a balanced design sum to ~0 over dyads (every patient is
    # in other dyads' nulls), so their sign-flip tests are conservative: upper bound
    assert (rates <= _upper(n)).all(), rates
    traits = rates[rates.index.str.contains("trait")]
    assert (traits >= _lower(n)).all(), traits


# ---------------------------------------------------------------------------
# (d) every dyad its own therapist; ids; bad input
# ---------------------------------------------------------------------------

def test_own_therapist_design_has_a_note_and_no_inestimable_term():
    study = simulate_therapist_study(6, 1, 5, seed=1)
    res = therapist_effects(study.sessions)
    assert res.interaction is None and res.variance is None
    assert "own therapist" in res.notes[0] and res.to_frame().empty
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_growth(study.sessions, therapist="therapist")
        comparisons = compare_growth(study.sessions, therapist="therapist")
    assert "therapist" not in fit.formula and "therapist" not in comparisons
    split = pseudo_split(study.pairings, therapist_map(study), seed=0, growth_model=False)
    assert not split.rows["term"].str.contains("trait|their other").any()
    assert any("no therapist treats two dyads" in n for n in split.notes)


HOSTILE = ["a) + (1 | x", "`rm -rf /`", "C(therapist)[T.T02]", "é t\u00e9", "1"]


def test_hostile_ids():
    study = simulate_therapist_study(5, 2, 5, therapist_growth=[0, 0, 0, 0.03, 0.05],
                                     seed=6)
    names = dict(zip([f"T{k}" for k in range(1, 6)], HOSTILE))
    dyads = {d: f"dyad ({d}) | x" for d in study.sessions["dyad"].unique()}
    sessions = study.sessions.assign(therapist=study.sessions["therapist"].map(names),
                                     dyad=study.sessions["dyad"].map(dyads))
    res = therapist_effects(sessions, interaction="fixed")
    terms = set(res.to_frame()["term"])
    for name in HOSTILE:
        assert f"growth per session, therapist {name}" in terms
    pairings = study.pairings.assign(dyad=study.pairings["dyad"].map(dyads),
                                     partner_dyad=study.pairings["partner_dyad"].map(dyads))
    th = {dyads[d]: names[t] for d, t in therapist_map(study).items()}
    split = pseudo_split(pairings, th, seed=0, growth_model=True, n_permutations=99)
    assert set(split.excess["therapist"]) == set(HOSTILE)
    assert split.rows["p"].notna().all()


def test_bad_input():
    study = simulate_therapist_study(3, 2, 4, seed=0)
    s = study.sessions
    with pytest.raises(ValueError, match="at least 2 therapists"):
        therapist_effects(s.assign(therapist="only one"))
    with pytest.raises(ValueError, match="lacks column"):
        therapist_effects(s.drop(columns="therapist"))
    with pytest.raises(ValueError, match="more than one therapist"):
        therapist_effects(s.assign(therapist=np.where(s["session"] == 1, "A", s["therapist"])))
    with pytest.raises(ValueError, match="numeric"):
        therapist_effects(s.assign(synchrony="high"))
    with pytest.raises(ValueError, match="interaction"):
        therapist_effects(s, interaction="both")
    with pytest.raises(ValueError, match="df_method"):
        therapist_effects(s, df_method="wald")
    with pytest.raises(ValueError, match="must be a pandas DataFrame"):
        therapist_effects([1, 2, 3])
    th = therapist_map(study)
    with pytest.raises(ValueError, match="no therapist for dyad"):
        pseudo_split(study.pairings, {k: v for k, v in th.items() if k != "D01"})
    with pytest.raises(ValueError, match="dict"):
        pseudo_split(study.pairings, ["T1"])
    with pytest.raises(ValueError, match="at least 2 therapists"):
        pseudo_split(study.pairings, dict.fromkeys(th, "T1"))
    with pytest.raises(ValueError, match="n_permutations"):
        pseudo_split(study.pairings, th, n_permutations=10)
    with pytest.raises(ValueError, match="therapist_trait"):
        simulate_therapist_study(3, 2, 4, therapist_trait=[1.0])
