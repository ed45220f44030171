"""The plasticity test (growth of real synchrony in excess of its null) and the
confirmatory family."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from interbrain.stats.confirmatory import PrimarySettings, mark_families
from interbrain.stats.excess import excess_table, pairing_sessions, pseudo_matrices
from interbrain.stats.growth import fit_growth
from interbrain.stats.plasticity import (excess_slopes, plasticity_test,
                                         reassigned_partner_statistics)


def simulate_pairings(rng, n_dyads=8, n_sessions=6, *, growth=0.0, confound=0.0,
                      coupling=0.05, noise=0.03) -> pd.DataFrame:
    """Session-level synchrony of every real and pseudo pairing: person effects per
    recording, a session-locked confound ``confound * (session - 1)`` in every
    pairing, real coupling that grows by ``growth`` per session."""
    a = rng.normal(0, 0.02, (n_dyads, n_sessions))
    b = rng.normal(0, 0.02, (n_dyads, n_sessions))
    u = rng.normal(coupling, 0.02, n_dyads)
    rows = []
    for s in range(n_sessions):
        for i in range(n_dyads):
            for j in range(n_dyads):
                y = 0.3 + a[i, s] + b[j, s] + confound * s + rng.normal(0, noise)
                if i == j:
                    y += u[i] + growth * s
                rows.append((f"D{i}", f"D{j}", s + 1, s + 1,
                             "real" if i == j else "pseudo", y))
    return pd.DataFrame(rows, columns=["dyad", "partner_dyad", "session",
                                       "partner_session", "pairing", "synchrony"])


def test_excess_is_real_minus_the_pseudo_dyads_sharing_a_recording():
    rng = np.random.default_rng(0)
    pairings = simulate_pairings(rng, n_dyads=3, n_sessions=2)
    table = excess_table(pairings, "pseudo")
    Y = pseudo_matrices(pairings)[1][1]
    null = (Y[0, 1] + Y[0, 2] + Y[1, 0] + Y[2, 0]) / 4
    row = table[(table["dyad"] == "D0") & (table["session"] == 1)].iloc[0]
    assert row["null"] == pytest.approx(null, rel=1e-12)
    assert row["excess"] == pytest.approx(Y[0, 0] - null, rel=1e-12)
    assert row["n_null"] == 4


def test_familiarity_excess_counts_both_sides():
    rows = [("A", "A", 1, 1, "real", 0.5), ("A", "A", 2, 2, "real", 0.7),
            ("A", "A", 1, 2, "familiarity", 0.2), ("A", "A", 2, 1, "familiarity", 0.4)]
    pairings = pd.DataFrame(rows, columns=["dyad", "partner_dyad", "session",
                                           "partner_session", "pairing", "synchrony"])
    table = excess_table(pairings, "familiarity")
    # session 1: therapist of 1 with patient of 2 (0.2), therapist of 2 with patient of 1 (0.4)
    assert table["null"].tolist() == pytest.approx([0.3, 0.3])
    assert table["excess"].tolist() == pytest.approx([0.2, 0.4])


def test_pairing_sessions_averages_channel_pairs():
    synchrony = pd.DataFrame({
        "dyad": ["A", "A", "A", "A"], "partner_dyad": ["A", "A", "B", "B"],
        "session": [1, 1, 1, 1], "signal": "hbo", "pairing": ["real", "real", "pseudo",
                                                               "pseudo"],
        "metric": "wtc", "pair": ["p1", "p2", "p1", "p2"], "value": [0.2, 0.4, 0.1, 0.3]})
    out = pairing_sessions(synchrony, "hbo", "wtc")
    assert out.set_index("pairing")["synchrony"].to_dict() == pytest.approx(
        {"real": 0.3, "pseudo": 0.2})
    assert (out["partner_session"] == out["session"]).all()


def test_observed_statistic_is_the_t_of_the_real_excess_slopes():
    rng = np.random.default_rng(1)
    pairings = simulate_pairings(rng, growth=0.01)
    observed, permuted = reassigned_partner_statistics(
        pseudo_matrices(pairings), "linear", 50, np.random.default_rng(0))
    slopes = excess_slopes(excess_table(pairings, "pseudo"), "linear")
    t = slopes.mean() / (slopes.std(ddof=1) / np.sqrt(slopes.size))
    assert observed == pytest.approx(t, rel=1e-10)
    assert permuted.shape == (50,) and np.isfinite(permuted).all()


def test_planted_growth_of_the_excess_is_found_and_rows_present_themselves():
    rng = np.random.default_rng(2)
    pairings = simulate_pairings(rng, growth=0.02)
    result = plasticity_test(pairings, n_permutations=999, df_method="satterthwaite")
    assert result.permutation_method == "exact"          # 2**8 sign patterns
    assert result.p_permutation <= 4 / 256 and result.p < 0.01
    reassigned = plasticity_test(pairings, n_permutations=199, permutation="reassign")
    assert reassigned.permutation_method == "reassign" and reassigned.p_permutation <= 0.01
    assert "partners reassigned within session number" in reassigned.method
    assert result.ci_low < 0.02 < result.ci_high
    row = result.to_frame("hbo", "wtc").iloc[0]
    assert row["model"] == "plasticity" and row["term"] == "session"
    assert row["null_kind"] == "pseudo" and row["n_groups"] == 8 and row["n_obs"] == 48
    assert "sign-flip of excess slopes (exact)" in row["method"]
    assert "plasticity" in result.summary()


def test_incomplete_pseudo_dyads_fall_back_to_sign_flips_and_say_so():
    rng = np.random.default_rng(3)
    pairings = simulate_pairings(rng, n_dyads=5, n_sessions=4)
    pairings = pairings.drop(index=pairings.index[pairings["pairing"] == "pseudo"][:1])
    result = plasticity_test(pairings, n_permutations=999, permutation="reassign")
    assert result.permutation_method == "exact"     # 2**5 sign patterns
    assert any("cannot be reassigned" in note for note in result.notes)


def test_a_session_locked_confound_fools_naive_growth_not_the_plasticity_test():
    """60 null studies (no growth of coupling) with a rhythm that raises every
    pairing's synchrony in later sessions: naive growth of real synchrony is
    significant in most, the plasticity test at most rarely (bound: 9 of 60 would
    have probability < 0.01 at a true rate of 0.05)."""
    rng = np.random.default_rng(4)
    naive = plastic = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(60):
            pairings = simulate_pairings(rng, confound=0.01)
            real = pairings[pairings["pairing"] == "real"]
            naive += fit_growth(real).coefficients.loc["session", "p"] < 0.05
            plastic += plasticity_test(pairings, n_permutations=199, seed=k,
                                       df_method="satterthwaite").p_permutation < 0.05
    assert naive >= 40
    assert plastic <= 8


def test_too_small_designs_are_refused():
    rng = np.random.default_rng(5)
    pairings = simulate_pairings(rng, n_dyads=2, n_sessions=1)
    with pytest.raises(ValueError, match="at least 2 dyads and 2 session"):
        plasticity_test(pairings)
    with pytest.raises(ValueError, match="permutation"):
        plasticity_test(simulate_pairings(rng, n_dyads=3, n_sessions=3), permutation="x")
    with pytest.raises(ValueError, match="no 'familiarity' null"):
        plasticity_test(simulate_pairings(rng, n_dyads=3, n_sessions=3), null="familiarity")


def test_confirmatory_family_is_holm_corrected_and_everything_else_exploratory():
    models = pd.DataFrame({
        "model": ["plasticity", "outcome:symptoms", "outcome:symptoms", "outcome:alliance",
                  "growth", "plasticity"],
        "signal": ["hbo"] * 5 + ["hbr"], "metric": "wtc",
        "term": ["session", "synchrony_within", "session", "synchrony_within", "session",
                 "session"],
        "p": [0.20, 0.01, 0.03, 0.02, 0.001, 0.001],
        "p_permutation": [0.004, np.nan, np.nan, np.nan, np.nan, 0.002],
        "scope": "all pairs"})
    primary = PrimarySettings(measures=("symptoms",))
    out = mark_families(models, primary, "hbo", "wtc")
    family = out["family"] == "confirmatory"
    assert family.tolist() == [True, True, False, False, False, False]
    expected = multipletests([0.004, 0.01], method="holm")[1]
    assert out.loc[family, "p_adjusted"].tolist() == pytest.approx(expected)
    assert out.loc[family, "significant"].tolist() == [True, True]
    assert (out.loc[~family, "family"] == "exploratory").all()


@pytest.mark.parametrize("line, message", [
    ('measures = ["nope"]', "measure(s) ['nope'] are not outcome measures of measures.csv"),
    ('measures = ["symptoms"]\nregion = "nowhere"', "region 'nowhere' is not a region"),
    ('measures = ["symptoms"]\nsignal = "hbt"', "signal 'hbt' is not analysed"),
    ('measures = ["symptoms", "symptoms"]', "lists a name twice"),
    ('measures = []\nregion = "PFC"\npairs = ["a"]', "give 'region' or 'pairs', not both"),
    ('measure = ["symptoms"]', "unknown field(s) 'measure'"),
])
def test_bad_primary_settings_are_named(tiny_study_copy, load_error, line, message):
    error = load_error(tiny_study_copy, 'measures = ["symptoms"]', line)
    assert "[statistics.primary]" in error and message in error
