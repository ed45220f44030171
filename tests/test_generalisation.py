"""Generalisation as the theory states it: a patient's growth of synchrony with the
therapist predicts their change of synchrony with other people
(interbrain.stats.generalisation_patients, the pseudo-generalisation null,
[[generalisation]] task and partner_kind)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from interbrain.engine.run import analyse_synchrony
from interbrain.errors import StudyError
from interbrain.nulls.pseudo_dyads import (PSEUDO_OTHER_KINDS, all_pairings,
                                           pseudo_generalisation_pairings, rate_groups)
from interbrain.simulate import simulate_study
from interbrain.stats.generalisation_patients import (MODEL_NAME, PATIENT_COLUMNS,
                                                      generalisation_partners,
                                                      generalisation_patients,
                                                      patient_generalisation_table)
from interbrain.stats.generalisation_simulation import (generalisation_rejection_rates,
                                                        simulate_generalisation)
from interbrain.stats.generalisation_tests import slope_permutation, two_sample_permutation
from interbrain.stats.tables import MODEL_COLUMNS, combine_tables
from interbrain.study import load_study
from interbrain.validation.validate import validate_study

N_DYADS, N_SESSIONS = 3, 2


def _binomial_upper(n: int, alpha: float = 0.05, level: float = 0.999) -> int:
    return int(sps.binom.ppf(level, n, alpha))


# ---------------------------------------------------------------------------
# study format and engine
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory) -> Path:
    return simulate_study(tmp_path_factory.mktemp("gen") / "study", preset="demo", n_dyads=N_DYADS,
                          n_sessions=N_SESSIONS, minutes=2.0, n_channels=4, seed=5)


def _entry(k: int, phase: str, partner: str, *, task: str | None = "talk",
           kind: str | None = "friend", other: int | None = None) -> str:
    session = 1 if phase == "pre" else N_SESSIONS
    other = other if other is not None else k % N_DYADS + 1
    lines = [f'[[generalisation]]\ndyad = "D{k:02d}"\nphase = "{phase}"',
             f"partner = {json.dumps(partner, ensure_ascii=False)}",
             f'patient = "recordings/D{k:02d}_ses-{session:02d}_patient.snirf"',
             f'partner_recording = "recordings/D{other:02d}_ses-{session:02d}'
             '_therapist.snirf"', 'align = "offset"']
    if task is not None:
        lines.append(f'task = "{task}"')
    if kind is not None:
        lines.append(f'partner_kind = "{kind}"')
    return "\n".join(lines) + "\n"


def _write(study: Path, name: str, entries: list[str]) -> Path:
    text = (study / "study.toml").read_text().replace('signals = ["hbo", "hbr"]',
                                                      'signals = ["hbo"]')
    path = study / name
    path.write_text(text + "\n" + "\n".join(entries))
    return path


def test_task_and_partner_kind_are_read(tiny_study):
    entries = [_entry(k, ph, f"F{k}") for k in range(1, N_DYADS + 1) for ph in ("pre", "post")]
    study = load_study(_write(tiny_study, "ok.toml", entries))
    assert {g.task for g in study.generalisation} == {"talk"}
    assert {g.partner_kind for g in study.generalisation} == {"friend"}
    parts = generalisation_partners(study.generalisation)
    assert list(parts.columns) == ["dyad", "partner", "partner_kind", "task"]
    assert len(parts) == N_DYADS
    # defaults: absent fields are empty
    bare = load_study(_write(tiny_study, "bare.toml", [_entry(1, "pre", "F1", task=None,
                                                              kind=None)]))
    assert (bare.generalisation[0].task, bare.generalisation[0].partner_kind) == ("", "")


@pytest.mark.parametrize("post, message", [
    (dict(task="puzzle"), "give different tasks: 'talk' before and 'puzzle' after"),
    (dict(task=None), "give different tasks: 'talk' before and '' after"),
    (dict(kind="stranger"), "give different partner kinds"),
])
def test_different_task_pre_and_post_is_refused(tiny_study, post, message):
    entries = [_entry(1, "pre", "F1"), _entry(1, "post", "F1", **post)]
    path = _write(tiny_study, "bad.toml", entries)
    with pytest.raises(StudyError, match=re.escape(message)) as info:
        load_study(path)
    text = str(info.value)
    assert "bad.toml" in text and "entries 1 (pre) and 2 (post)" in text
    assert "dyad 'D01'" in text and "partner 'F1'" in text


@pytest.mark.parametrize("field, value, message", [
    ("task", '""', "field 'task' must be a non-empty string"),
    ("partner_kind", "3", "field 'partner_kind' must be a non-empty string"),
    ("task", '"a\\u200bb"', "names must be"),
])
def test_bad_task_or_kind(tiny_study, field, value, message):
    entry = _entry(1, "pre", "F1", task=None, kind=None) + f"{field} = {value}\n"
    with pytest.raises(StudyError, match=re.escape(message)):
        load_study(_write(tiny_study, "badfield.toml", [entry]))


def test_pseudo_generalisation_pairings_in_the_engine(tiny_study):
    """Hostile partner ids; two partners of D01 before treatment; every patient
    recording paired with the other dyads' partners' recordings of the same phase."""
    partners = {1: ['F "1" / ü', "F,2"], 2: ["F1"], 3: ["F1"]}   # F1: shared id
    entries = [_entry(k, ph, p, kind=("stranger" if p == "F1" else "friend"))
               for k, names in partners.items() for p in names for ph in ("pre", "post")]
    study = load_study(_write(tiny_study, "hostile.toml", entries))
    pseudo = pseudo_generalisation_pairings(study)
    n_entries = {ph: sum(len(v) for v in partners.values()) for ph in ("pre", "post")}
    expected = sum(len(partners[i]) * (n_entries["pre"] - len(partners[i]))
                   for i in partners)
    assert len(pseudo) == 2 * expected
    assert {p.pairing for p in pseudo} == set(PSEUDO_OTHER_KINDS)
    assert all(p.dyad != p.partner_dyad and p.session == 0 for p in pseudo)
    assert all(p.patient.role == "patient" and p.therapist.role == "partner" for p in pseudo)
    assert set(pseudo) <= set(all_pairings(study))
    assert set(rate_groups(pseudo)) == {("session", 0)}
    # capped and seeded
    capped = pseudo_generalisation_pairings(study, max_per_recording=1, seed=3)
    assert len(capped) == 2 * sum(len(v) for v in partners.values())
    assert capped == pseudo_generalisation_pairings(study, max_per_recording=1, seed=3)
    with pytest.raises(ValueError, match="max_per_recording"):
        pseudo_generalisation_pairings(study, max_per_recording=0)
    report = validate_study(study)
    assert not report.problems
    checked = {(c.dyad, c.partner_dyad, c.pairing) for c in report.pairings}
    assert {(p.dyad, p.partner_dyad, p.pairing) for p in pseudo} <= checked
    sync = analyse_synchrony(study).synchrony
    rows = sync[sync["pairing"].isin(PSEUDO_OTHER_KINDS)]
    assert set(rows["session"]) == {0}
    got = set(map(tuple, rows[["dyad", "partner_dyad", "pairing"]].drop_duplicates()
                  .to_numpy()))
    assert got == {(p.dyad, p.partner_dyad, p.pairing) for p in pseudo}
    assert set(sync.loc[sync["pairing"] == "other_pre", "partner_dyad"]) == {
        'F "1" / ü', "F,2", "F1"}
    dyads = pd.DataFrame({"dyad": [d.id for d in study.dyads],
                          "therapist": [d.therapist for d in study.dyads],
                          "patient": [d.patient for d in study.dyads]})
    data, changes, _ = patient_generalisation_table(
        sync, dyads, "hbo", partners=generalisation_partners(study.generalisation))
    assert data["null_change"].notna().all() and (data["n_partners"] == [2, 1, 1]).all()
    assert data["partner_kind"].tolist() == ["friend", "stranger", "stranger"]
    assert len(changes) == 4
    # 3 patients: too few for the slope and a partner-kind covariate
    with pytest.raises(ValueError, match="needs at least 4 patients"):
        generalisation_patients(sync, dyads, "hbo", partners=generalisation_partners(
            study.generalisation), n_permutations=99, seed=0)


def test_no_pseudo_generalisation_without_pseudo_dyads(tiny_study):
    text = (tiny_study / "study.toml").read_text().replace("pseudo_dyads = true",
                                                            "pseudo_dyads = false")
    path = tiny_study / "nopseudo.toml"
    path.write_text(text + "\n" + _entry(1, "pre", "F1") + "\n" + _entry(2, "pre", "F2"))
    study = load_study(path)
    assert not study.analysis.pseudo_dyads
    assert not any(p.pairing in PSEUDO_OTHER_KINDS for p in all_pairings(study))
    assert len(pseudo_generalisation_pairings(study)) == 2


# ---------------------------------------------------------------------------
# the patient-level model
# ---------------------------------------------------------------------------

def test_planted_transfer_is_recovered():
    sim = simulate_generalisation(n_patients=40, transfer=3.0, seed=11)
    res = generalisation_patients(sim.synchrony, sim.dyads, "hbo", partners=sim.partners,
                                  n_permutations=999, seed=1)
    row = res.tests.set_index("term").loc["therapy_slope -> other_change"]
    assert row["p"] < 0.001 and row["p_permutation"] < 0.01
    assert 2.0 < row["estimate"] < 4.0
    # the patient table equals the planted quantities up to noise
    data = res.data.set_index("dyad")
    assert np.corrcoef(data["therapy_slope"], sim.therapy_slopes)[0, 1] > 0.9
    assert np.corrcoef(data["other_change"], sim.other_changes)[0, 1] > 0.8
    assert "excess of the pseudo-dyad null" in res.bases["therapy_slope"]
    assert "pseudo-generalisation null" in res.bases["other_change"]
    # the shared pre-post shift of the null is removed from the change
    assert abs(data["other_change"].mean() - sim.other_changes.mean()) < 0.01


def test_rows_of_models_parquet():
    sim = simulate_generalisation(n_control=4, n_partners=2,
                                  partner_kinds=("friend", "stranger"), seed=4)
    res = generalisation_patients(sim.synchrony, sim.dyads, "hbo", partners=sim.partners,
                                  seed=0)
    table = res.to_frame("hbo", "wtc")
    assert list(table.columns[:len(MODEL_COLUMNS)]) == MODEL_COLUMNS
    assert set(table["model"]) == {MODEL_NAME}
    assert list(table["term"]) == [
        "therapy_slope -> other_change", "other_change (mean)",
        "other_change: condition therapy - control",
        "other_change: partner_kind friend - stranger"]
    assert table["formula"].iloc[0] == "other_change ~ therapy_slope + condition"
    assert (table["permutation_method"] == "exact").all()
    assert table["n_permutations"].tolist() == [24 * 24, 256, 70, 256]
    assert table[["p", "p_permutation", "ci_low", "ci_high"]].notna().all().all()
    assert (table["ci_low"] < table["estimate"]).all()
    assert len(combine_tables([table])) == 4
    assert list(res.data.columns) == PATIENT_COLUMNS and len(res.data) == 8
    assert "therapy_slope -> other_change" in res.summary()


def test_without_pseudo_rows_real_synchrony_is_used():
    sim = simulate_generalisation(pseudo=False, seed=2)
    res = generalisation_patients(sim.synchrony, sim.dyads, "hbo", seed=0)
    assert res.bases["therapy_slope"].startswith("real synchrony (no pseudo")
    assert (res.data["null_change"] == 0).all()
    assert "no pseudo" in res.tests["method"].iloc[0]


@pytest.mark.parametrize("n, design", [
    (200, {}),
    (100, {"n_control": 4}),
    (100, {"n_partners": 2, "partner_kinds": ("friend", "stranger")}),
], ids=["8 patients", "waiting-list control", "two partner kinds"])
def test_false_positive_rate_without_transfer(n, design):
    """No transfer (and no mean change, no condition or kind difference): every test
    (OLS t and permutation p) rejects at 5% within binomial bounds over simulated
    studies of 8 patients; with one group every permutation of the 8 slopes is
    enumerated (40320)."""
    rates = generalisation_rejection_rates(n, seed=7, transfer=0.0, change_mean=0.0,
                                           **design).set_index(["term", "test"])
    assert len(rates) >= 4
    upper = _binomial_upper(n)
    for (term, test), row in rates.iterrows():
        assert row["rejections"] <= upper, (term, test, rates)
    slope = rates.loc[("therapy_slope -> other_change", "permutation"), "rejections"]
    assert slope >= int(sps.binom.ppf(0.001, n, 0.05)), rates


def test_permutation_tests_against_scipy():
    rng = np.random.default_rng(0)
    y, x = rng.standard_normal(7), rng.standard_normal(7)
    res = slope_permutation(y, x, np.ones((7, 1)), np.zeros(7), n_permutations=10,
                            rng=rng)
    ref = sps.linregress(x, y)
    assert res.exact and res.n_permutations == 5040
    assert res.estimate == pytest.approx(ref.slope) and res.p_t == pytest.approx(ref.pvalue)
    full = sps.permutation_test((x,), lambda a: abs(sps.linregress(a, y).rvalue),
                                permutation_type="pairings", n_resamples=np.inf,
                                alternative="greater")
    assert res.p == pytest.approx(full.pvalue)
    g = np.arange(7) < 3
    two = two_sample_permutation(y, g, n_permutations=10, rng=rng)
    ref = sps.permutation_test((y[g], y[~g]),
                               lambda a, b: abs(sps.ttest_ind(a, b).statistic),
                               permutation_type="independent", n_resamples=np.inf,
                               alternative="greater")
    assert two.exact and two.n_permutations == 35
    assert two.p == pytest.approx(ref.pvalue)
    mc = slope_permutation(y, x, np.ones((7, 1)), np.zeros(7), n_permutations=10,
                           rng=np.random.default_rng(1))
    assert mc.exact  # 7! is below the enumeration limit whatever n_permutations says


def test_hostile_ids_are_data():
    sim = simulate_generalisation(n_patients=6, seed=3)
    odd = {f"D{k:02d}": name for k, name in enumerate(
        ["a ~ b", "x + 1", "(1 | y)", "C(z)", "é\"'", "D02"], start=1)}
    sync = sim.synchrony.assign(dyad=sim.synchrony["dyad"].map(odd),
                                partner_dyad=sim.synchrony["partner_dyad"].replace(odd))
    dyads = sim.dyads.assign(dyad=sim.dyads["dyad"].map(odd),
                             patient=["p ~ q", "r + s", "t", "u", "v", "w"])
    ref = generalisation_patients(sim.synchrony, sim.dyads, "hbo", seed=0).tests
    got = generalisation_patients(sync, dyads, "hbo", seed=0)
    pd.testing.assert_frame_equal(got.tests, ref)
    assert set(got.data["dyad"]) == set(odd.values())


def test_bad_input():
    sim = simulate_generalisation(seed=5)
    with pytest.raises(ValueError, match="dyads"):
        generalisation_patients(sim.synchrony, sim.dyads.drop(columns="patient"), "hbo")
    with pytest.raises(ValueError, match="no rows of signal 'hbr'"):
        generalisation_patients(sim.synchrony, sim.dyads, "hbr")
    with pytest.raises(ValueError, match="n_permutations"):
        generalisation_patients(sim.synchrony, sim.dyads, "hbo", n_permutations=0)
    with pytest.raises(ValueError, match="listed twice|twice"):
        generalisation_patients(sim.synchrony, pd.concat([sim.dyads, sim.dyads]), "hbo")
    no_post = sim.synchrony[sim.synchrony["pairing"] != "other_post"]
    with pytest.raises(ValueError, match="no patient has synchrony with another person"):
        generalisation_patients(no_post, sim.dyads, "hbo")
    few = sim.dyads.iloc[:2]
    with pytest.raises(ValueError, match="needs at least 3 patients"):
        generalisation_patients(sim.synchrony, few, "hbo")
    same = sim.dyads.assign(patient="P01")
    with pytest.raises(ValueError, match="several dyads"):
        generalisation_patients(sim.synchrony, same, "hbo")
    with pytest.raises(ValueError, match="partners"):
        generalisation_patients(sim.synchrony, sim.dyads, "hbo",
                                partners=sim.partners.drop(columns="partner_kind"))
    # a patient without a post recording is left out, with a note
    drop = ~((sim.synchrony["pairing"] == "other_post") & (sim.synchrony["dyad"] == "D03"))
    res = generalisation_patients(sim.synchrony[drop], sim.dyads, "hbo", seed=0)
    assert any("dyad D03" in n for n in res.notes)
    assert res.tests["n_obs"].iloc[0] == 7
