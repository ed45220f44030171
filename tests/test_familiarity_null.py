"""The familiarity null: a dyad's therapist and patient recorded in different sessions."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interbrain.nulls import (NULL_KINDS, Pairing, all_pairings, dyad_permutation_tests,
                              familiarity_pairings, null_summary, pseudo_dyad_pairings,
                              rate_groups, real_pairings)
from interbrain.preprocessing.settings import PreprocessingSettings
from interbrain.stats.sessions import session_synchrony
from interbrain.study import AnalysisSettings, Dyad, RecordingRef, SessionRecordings, Study
from interbrain.synchrony.session import KEY_COLUMNS, OVERLAP_COLUMNS, SYNCHRONY_COLUMNS


def make_study(n_dyads=3, sessions=(1, 2, 3), skip=(), **analysis):
    dyads = tuple(Dyad(f"D{i:02d}", "T01", f"P{i:02d}") for i in range(1, n_dyads + 1))
    recs = [SessionRecordings(d.id, s, RecordingRef(Path(f"/x/{d.id}_{s}_t.snirf"), "therapist"),
                              RecordingRef(Path(f"/x/{d.id}_{s}_p.snirf"), "patient"))
            for d in dyads for s in sessions if (d.id, s) not in skip]
    return Study(root=Path("/x"), name="t", description="",
                 analysis=AnalysisSettings(**analysis).validate(),
                 preprocessing=PreprocessingSettings(), dyads=dyads, sessions=tuple(recs),
                 measures=pd.DataFrame({"dyad": [], "session": []}))


def recorded(ref: RecordingRef) -> tuple[str, int]:
    dyad, session, _ = ref.path.stem.split("_")
    return dyad, int(session)


def check_familiarity(p: Pairing) -> None:
    assert p.pairing == "familiarity" and p.kind is None
    assert p.dyad == p.partner_dyad and p.partner_session != p.session
    assert p.patient_session == p.partner_session
    assert recorded(p.therapist) == (p.dyad, p.session)
    assert recorded(p.patient) == (p.dyad, p.partner_session)
    assert p.therapist.role == "therapist" and p.patient.role == "patient"
    assert (p.align, p.offset, p.event) == ("offset", 0.0, None)


# --------------------------------------------------------------------------- pairings

def test_every_familiarity_pairing_of_a_3_by_3_design():
    study = make_study()
    every = familiarity_pairings(study)
    assert len(every) == 3 * 3 * 2          # dyads x ordered pairs of sessions
    for p in every:
        check_familiarity(p)
    keys = [(p.session, p.dyad, p.partner_session) for p in every]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for d in ("D01", "D02", "D03"):
        for s in (1, 2, 3):
            partners = [p.partner_session for p in every if (p.dyad, p.session) == (d, s)]
            assert partners == [k for k in (1, 2, 3) if k != s]
    # a bound at least the number of other sessions keeps them all, whatever the seed
    assert familiarity_pairings(study, max_per_session=2, seed=7) == every
    assert familiarity_pairings(study, max_per_session=5) == every
    # real and pseudo pairings are as before
    assert all(p.pairing == "real" and p.patient_session == p.session
               for p in real_pairings(study))
    assert all(p.pairing == "pseudo" and p.partner_session is None
               for p in pseudo_dyad_pairings(study))


def test_a_seeded_subset_of_partner_sessions():
    study = make_study(sessions=(1, 2, 3, 4))
    every = set(familiarity_pairings(study))
    subset = familiarity_pairings(study, max_per_session=2, seed=3)
    assert subset == familiarity_pairings(study, max_per_session=2, seed=3)
    assert set(subset) <= every
    for p in subset:
        check_familiarity(p)
    counts = pd.Series([(p.dyad, p.session) for p in subset]).value_counts()
    assert len(counts) == 3 * 4 and (counts == 2).all()   # every therapist recording
    keys = [(p.session, p.dyad, p.partner_session) for p in subset]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    others = [familiarity_pairings(study, max_per_session=2, seed=s) for s in range(4, 10)]
    assert any(o != subset for o in others)
    one = familiarity_pairings(study, max_per_session=1, seed=0)
    assert len(one) == 12 and set(one) <= every


def test_the_subset_follows_the_documented_draw_order():
    """One generator, therapist recordings by session then dyad, partners by session."""
    study = make_study(sessions=(1, 2, 3, 4))
    rng = np.random.default_rng(11)
    expected = []
    for s in (1, 2, 3, 4):
        for d in ("D01", "D02", "D03"):
            others = [k for k in (1, 2, 3, 4) if k != s]
            keep = np.sort(rng.choice(len(others), size=2, replace=False))
            expected += [(s, d, others[int(k)]) for k in keep]
    got = familiarity_pairings(study, max_per_session=2, seed=11)
    assert [(p.session, p.dyad, p.partner_session) for p in got] == expected


def test_a_dyad_with_one_session_has_no_familiarity_pairing():
    study = make_study(skip=(("D02", 2), ("D02", 3), ("D03", 3)))
    every = familiarity_pairings(study)
    assert not [p for p in every if p.dyad == "D02"]
    assert sum(p.dyad == "D03" for p in every) == 2   # sessions 1 and 2: (1, 2), (2, 1)
    assert sum(p.dyad == "D01" for p in every) == 6
    assert familiarity_pairings(make_study(sessions=(1,))) == []


def test_familiarity_errors():
    study = make_study()
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="max_per_session"):
            familiarity_pairings(study, max_per_session=bad)
    t = RecordingRef(Path("/x/D01_1_t.snirf"), "therapist")
    p = RecordingRef(Path("/x/D02_2_p.snirf"), "patient")
    with pytest.raises(ValueError, match="across sessions"):
        Pairing("D01", "D02", 1, t, p, partner_session=2)
    with pytest.raises(ValueError, match="across sessions"):
        Pairing("D01", "D01", 1, t, p, kind="other_pre", partner_session=2)
    assert Pairing("D01", "D01", 1, t, p, partner_session=1).pairing == "real"


def test_settings_and_all_pairings():
    assert AnalysisSettings().familiarity is True
    assert AnalysisSettings().familiarity_per_session == 0
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="familiarity_per_session"):
            AnalysisSettings(familiarity_per_session=bad).validate()
    kinds = pd.Series([p.pairing for p in all_pairings(make_study())]).value_counts()
    assert kinds.to_dict() == {"real": 9, "pseudo": 18, "familiarity": 18}
    off = all_pairings(make_study(familiarity=False))
    assert not [p for p in off if p.pairing == "familiarity"]
    some = all_pairings(make_study(familiarity_per_session=1, pseudo_dyads_seed=5))
    assert [p for p in some if p.pairing == "familiarity"] == familiarity_pairings(
        make_study(), max_per_session=1, seed=5)


def test_familiarity_pairings_are_computed_apart_from_the_real_ones():
    """Familiarity pairings bring in recordings of other sessions: in groups of their
    own (one per dyad), they never change the real pairings' sampling rate."""
    groups = rate_groups(all_pairings(make_study()))
    assert list(groups) == ([("session", s) for s in (1, 2, 3)]
                            + [("familiarity", d) for d in ("D01", "D02", "D03")])
    for (kind, which), group in groups.items():
        if kind == "session":
            assert {p.pairing for p in group} == {"real", "pseudo"}
            assert all(p.session == which for p in group)
            assert {recorded(p.patient)[1] for p in group} == {which}
        else:
            assert {p.pairing for p in group} == {"familiarity"}
            assert {p.dyad for p in group} == {which} and len(group) == 6
    assert sum(map(len, groups.values())) == len(all_pairings(make_study()))


def test_study_toml_fields(tmp_path):
    from interbrain.errors import StudyError
    ok = AnalysisSettings.from_table({"familiarity": False, "familiarity_per_session": 2}, "x")
    assert (ok.familiarity, ok.familiarity_per_session) == (False, 2)
    with pytest.raises(StudyError, match="familiarity"):
        AnalysisSettings.from_table({"familiarity": "yes"}, "x")
    with pytest.raises(StudyError, match="familiarity_per_session"):
        AnalysisSettings.from_table({"familiarity_per_session": -2}, "x")


# --------------------------------------------------------------------------- null summary

def familiarity_table() -> pd.DataFrame:
    """Dyad A, sessions 1-3, two channel pairs; dyad B, sessions 1-2 (known means)."""
    rows = []

    def add(dyad, session, partner_session, pairing, values):
        for k, v in enumerate(values):
            rows.append({"dyad": dyad, "partner_dyad": dyad, "session": session,
                         "partner_session": partner_session, "pair": f"S{k}",
                         "signal": "hbo", "pairing": pairing, "metric": "wtc", "value": v})

    for s, real in ((1, [0.8, 0.6]), (2, [0.5, 0.7]), (3, [0.9, 0.9])):
        add("A", s, s, "real", real)
    add("A", 1, 2, "familiarity", [0.1, 0.3])   # 0.2
    add("A", 1, 3, "familiarity", [0.4, 0.4])   # 0.4
    add("A", 2, 1, "familiarity", [0.5, 0.7])   # 0.6
    add("A", 2, 3, "familiarity", [0.2, 0.4])   # 0.3
    add("A", 3, 1, "familiarity", [0.0, 0.2])   # 0.1
    add("A", 3, 2, "familiarity", [0.5, 0.5])   # 0.5
    add("B", 1, 1, "real", [0.4, 0.4])
    add("B", 2, 2, "real", [0.6, 0.2])
    add("B", 1, 2, "familiarity", [0.3, np.nan])  # 0.3 (a pair without a value skipped)
    add("B", 2, 1, "familiarity", [0.1, 0.1])     # 0.1
    return pd.DataFrame(rows)


def test_null_summary_counts_both_sides_of_each_familiarity_pairing():
    out = null_summary(familiarity_table())
    assert set(out["null_kind"]) == {"familiarity"} and "familiarity" in NULL_KINDS
    out = out.set_index(["dyad", "session"])
    # (A, 1): therapist of 1 with patients of 2, 3 (0.2, 0.4); patients of 1 with
    # therapists of 2, 3 (0.6, 0.1)
    expected = {("A", 1): ([0.2, 0.4, 0.6, 0.1], 0.7), ("A", 2): ([0.6, 0.3, 0.2, 0.5], 0.6),
                ("A", 3): ([0.1, 0.5, 0.4, 0.3], 0.9), ("B", 1): ([0.3, 0.1], 0.4),
                ("B", 2): ([0.1, 0.3], 0.4)}
    for key, (draws, real) in expected.items():
        row = out.loc[key]
        assert row["n_null"] == len(draws)
        assert row["null_mean"] == pytest.approx(np.mean(draws))
        assert row["null_sd"] == pytest.approx(np.std(draws, ddof=1))
        assert row["real"] == pytest.approx(real)
        assert row["real_minus_null"] == pytest.approx(real - np.mean(draws))
    with pytest.raises(ValueError, match="partner_session"):
        null_summary(familiarity_table().drop(columns="partner_session"))


def test_dyad_test_against_the_familiarity_null():
    summary = null_summary(familiarity_table())
    tests = dyad_permutation_tests(summary, n_permutations=100, seed=0)
    assert tests["null_kind"].tolist() == ["familiarity"]
    row = tests.iloc[0]
    a = np.mean([0.7 - 0.325, 0.6 - 0.4, 0.9 - 0.325])
    b = np.mean([0.4 - 0.2, 0.4 - 0.2])
    assert row["n_dyads"] == 2 and row["mean_difference"] == pytest.approx((a + b) / 2)


def test_session_synchrony_of_familiarity_rows():
    """One value per dyad and therapist session: the pooled mean over partner sessions."""
    out = session_synchrony(familiarity_table(), "hbo", "familiarity", "wtc")
    out = out.set_index(["dyad", "session"])
    assert list(out.index) == [("A", 1), ("A", 2), ("A", 3), ("B", 1), ("B", 2)]
    assert out.loc[("A", 1), "synchrony"] == pytest.approx(np.mean([0.1, 0.3, 0.4, 0.4]))
    assert out.loc[("A", 1), "n_pairs"] == 4
    assert out.loc[("B", 1), "synchrony"] == pytest.approx(0.3)   # NaN skipped
    assert out.loc[("A", 3), "synchrony"] == pytest.approx(0.3)


# --------------------------------------------------------------------------- end to end

def test_column_lists_have_partner_session():
    assert SYNCHRONY_COLUMNS.index("partner_session") == SYNCHRONY_COLUMNS.index("session") + 1
    assert "partner_session" in KEY_COLUMNS and "partner_session" in OVERLAP_COLUMNS


def test_tiny_run_has_familiarity_rows(tiny_results):
    sync = tiny_results.synchrony
    assert sync["partner_session"].dtype.kind == "i"
    fam = sync[sync["pairing"] == "familiarity"]
    others = sync[sync["pairing"] != "familiarity"]
    assert (others["partner_session"] == others["session"]).all()
    assert len(fam) and (fam["dyad"] == fam["partner_dyad"]).all()
    assert (fam["partner_session"] != fam["session"]).all()
    dyads = sorted(sync.loc[sync["pairing"] == "real", "dyad"].unique())
    sessions = sorted(sync.loc[sync["pairing"] == "real", "session"].unique())
    pairs = set(map(tuple, fam[["dyad", "session", "partner_session"]].to_numpy().tolist()))
    assert pairs == {(d, s, t) for d in dyads for s in sessions for t in sessions if s != t}
    # the same channel pairs and metrics as the real rows of the therapist's session
    per = fam.groupby(["dyad", "session", "partner_session", "signal", "metric"]).size()
    assert per.min() > 0
    assert not sync.duplicated(["dyad", "partner_dyad", "session", "partner_session", "pair",
                                "signal", "pairing", "metric"]
                               + (["surrogate"] if "surrogate" in sync else [])).any()
    # the null summary and the models
    nulls = tiny_results.null_summary
    rows = nulls[nulls["null_kind"] == "familiarity"]
    assert len(rows) and (rows["n_null"] == 2 * (len(sessions) - 1)).all()
    models = tiny_results.models
    versus = models[models["model"] == "real_vs_familiarity"]
    signals = set(sync["signal"])
    assert set(versus["signal"]) == signals and versus["p"].between(0, 1).all()
    assert (tiny_results.sessions["pairing"] == "familiarity").any()


def test_validation_checks_the_familiarity_pairings(tiny_study):
    from interbrain.validation import validate_study
    report = validate_study(tiny_study)
    assert report.ok, report.message()
    fam = [p for p in report.pairings if p.pairing == "familiarity"]
    assert sorted((p.dyad, p.session, p.partner_session) for p in fam) == [
        (d, s, 3 - s) for d in ("D01", "D02") for s in (1, 2)]
    assert all(p.partner_session == p.session for p in report.pairings
               if p.pairing != "familiarity")
    assert "familiarity pairings: 4" in report.summary()


def test_methods_text_counts_familiarity_pairings(tiny_results):
    from interbrain.report import methods_text
    text = " ".join(methods_text(tiny_results).split())
    n = len(tiny_results.synchrony.query("pairing == 'familiarity'")[
        ["dyad", "session", "partner_session"]].drop_duplicates())
    assert f"({n} familiarity pairings:" in text


def test_familiarity_does_not_change_the_real_synchrony(tiny_study, tiny_cache, tiny_results):
    from interbrain.engine.run import analyse_synchrony
    from interbrain.study import load_study
    study = load_study(tiny_study)
    study = dataclasses.replace(study, analysis=dataclasses.replace(study.analysis,
                                                                    familiarity=False))
    off = analyse_synchrony(study, n_workers=1, scheduler="threads", cache_dir=tiny_cache)
    assert not (off.synchrony["pairing"] == "familiarity").any()
    on = tiny_results.synchrony
    keep = ["dyad", "partner_dyad", "session", "partner_session", "pair", "signal", "pairing",
            "metric"]
    a = on[on["pairing"] != "familiarity"].sort_values(keep, ignore_index=True)
    b = off.synchrony.sort_values(keep, ignore_index=True)
    pd.testing.assert_frame_equal(a[keep + ["value"]], b[keep + ["value"]])
