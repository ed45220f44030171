"""The statistics stage from study.toml: [statistics], conditions, therapists, covariates,
surrogate null controls; every model in models.parquet, the report and the methods."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interbrain.engine import run_study
from interbrain.errors import StudyError
from interbrain.simulate import simulate_study
from interbrain.stats.study_models import fit_models
from interbrain.study import load_study

N_DYADS, N_SESSIONS = 6, 3


@pytest.fixture(scope="module")
def base_study(tmp_path_factory) -> Path:
    """6 dyads x 3 sessions x 2 min, 4 channels, 3 therapists."""
    return simulate_study(tmp_path_factory.mktemp("stats") / "study", preset="demo", n_dyads=N_DYADS,
                          n_sessions=N_SESSIONS, minutes=2.0, n_channels=4, n_therapists=3,
                          seed=21)


def _with_toml(study: Path, dest: Path, *, analysis: str = "", tail: str = "",
               dyad_lines=None) -> Path:
    """A copy of the simulated study.toml (recordings referenced in place) with edits."""
    text = (study / "study.toml").read_text()
    text = text.replace('signals = ["hbo", "hbr"]', 'signals = ["hbo"]')
    if "[statistics]" in tail:  # the simulated study's own [statistics] gives way
        text = re.sub(r"\[statistics\]\n(.*\n)*?\n", "", text)
    if "pseudo_dyads = false" in analysis:
        text = text.replace("pseudo_dyads = true\n", "")
    if analysis:
        text = text.replace("[analysis]\n", "[analysis]\n" + analysis + "\n", 1)
    if dyad_lines is not None:
        blocks = text.split("[[dyads]]\n")
        text = blocks[0] + "".join(f"[[dyads]]\n{line}\n{block}" if line else
                                   f"[[dyads]]\n{block}"
                                   for line, block in zip(dyad_lines, blocks[1:]))
    text = re.sub(r'(therapist|patient) = "recordings/', lambda m: f'{m.group(1)} = "'
                  f'{(study / "recordings").as_posix()}/', text)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "study.toml").write_text(text + "\n" + tail)
    measures = study / "measures.csv"
    if measures.exists():
        (dest / "measures.csv").write_text(measures.read_text())
    return dest


@pytest.fixture(scope="module")
def full_run(base_study, tmp_path_factory):
    """Surrogates of both kinds, two therapist covariates, conditions per dyad, SESOI."""
    root = tmp_path_factory.mktemp("full")
    conditions = ['condition = "therapy"' if k % 2 == 0 else 'condition = "control"'
                  for k in range(N_DYADS)]
    tail = ('[statistics]\nsesoi = 0.3\ncovariates = ["burnout"]\nn_permutations = 199\n'
            'correction = "maxt"\n\n'
            + "".join(f'[[therapists]]\nid = "T0{k}"\nburnout = {1.5 * k}\n\n'
                      for k in (1, 2, 3)))
    study_dir = _with_toml(base_study, root / "study", tail=tail, dyad_lines=conditions,
                           analysis='surrogates = ["circular_shift", "phase_randomised"]\n'
                                    'surrogates_per_session = 4')
    study = load_study(study_dir)
    return study, run_study(study, root / "out"), root / "out"


def test_design_table(full_run):
    study, _, _ = full_run
    design = study.design()
    assert list(design.columns) == ["dyad", "session", "therapist", "patient", "condition",
                                    "burnout"]
    assert len(design) == N_DYADS * N_SESSIONS
    assert set(design["condition"]) == {"therapy", "control"}
    assert design.groupby("therapist")["burnout"].nunique().eq(1).all()
    assert study.n_therapists == 3


def test_surrogate_rows_in_the_synchrony_table(full_run):
    _, results, out = full_run
    sync = pd.read_parquet(out / "synchrony.parquet")
    for kind in ("circular_shift", "phase_randomised"):
        rows = sync[sync["pairing"] == kind]
        # one row per real dyad-session x pair x surrogate
        real = sync[sync["pairing"] == "real"]
        assert len(rows) == 4 * len(real)
        assert (rows["dyad"] == rows["partner_dyad"]).all()
        assert set(rows["surrogate"]) == {0, 1, 2, 3}
        assert rows["value"].between(0, 1).all()
    assert sync.loc[sync["pairing"] == "real", "surrogate"].isna().all()


def test_surrogates_do_not_depend_on_the_run(full_run, tmp_path):
    """Surrogates are seeded per dyad, session, signal and kind: a fresh run (no cache)
    draws the same ones."""
    study, results, _ = full_run
    again = run_study(study, tmp_path / "again")
    pd.testing.assert_frame_equal(results.synchrony, again.synchrony, check_exact=True)


def test_null_summary_and_tests(full_run):
    _, results, out = full_run
    nulls = pd.read_parquet(out / "null_summary.parquet")
    assert set(nulls["null_kind"]) == {"pseudo", "familiarity", "circular_shift",
                                       "phase_randomised"}
    assert len(nulls) == 4 * N_DYADS * N_SESSIONS
    assert np.allclose(nulls["real_minus_null"], nulls["real"] - nulls["null_mean"])
    surrogate = nulls[nulls["null_kind"] == "circular_shift"]
    assert (surrogate["n_null"] == 4).all()
    tests = pd.read_parquet(out / "null_tests.parquet")
    assert set(tests["null_kind"]) == {"pseudo", "familiarity", "circular_shift",
                                       "phase_randomised"}
    # planted coupling: real synchrony exceeds every null
    assert (tests["mean_difference"] > 0).all()
    models = results.models
    for kind in ("familiarity", "circular_shift", "phase_randomised"):
        row = models[models["model"] == f"real_vs_{kind}"].iloc[0]
        assert row["term"] == "real - null" and 0 < row["p"] <= 1


def test_every_configured_model_is_in_models_parquet(full_run):
    _, _, out = full_run
    models = pd.read_parquet(out / "models.parquet")
    names = set(models["model"])
    for name in ("growth", "growth_permutation", "lrt:quadratic_vs_linear", "lrt:therapist",
                 "outcome:symptoms", "prepost:symptoms",
                 "outcome:alliance", "real_vs_pseudo", "growth_by_pair",
                 "real_vs_pseudo_by_pair", "real_vs_circular_shift",
                 "real_vs_phase_randomised", "therapist:interaction",
                 "therapist:pseudo_split"):
        assert name in names, name
    # 3 sessions per dyad: 2 lagged pairs, too few to centre and detrend within dyad;
    # the mediation paths need 4 sessions per dyad
    assert not {"cross_lagged:symptoms", "mediation:symptoms"} & names
    notes = full_run[1].notes
    assert any("cross-lagged" in n and "symptoms" in n for n in notes), notes
    assert any(n.startswith("mediation of 'symptoms'") for n in notes), notes
    growth = models[models["model"] == "growth"]
    # condition x time interaction and the therapist covariate are in the fixed effects
    terms = set(growth["term"])
    assert {"session", "burnout"} <= terms
    assert any("condition" in t and ":" in t for t in terms)
    assert "(1 | therapist)" in growth["formula"].iloc[0]
    outcome = models[(models["model"] == "outcome:alliance")
                     & (models["term"] == "synchrony_within")].iloc[0]
    assert outcome["ci_low"] < outcome["estimate"] < outcome["ci_high"]
    assert outcome["sesoi_scale"] == "standardized" and outcome["sesoi_input"] == 0.3
    assert 0 <= outcome["p_equivalence"] <= 1
    pairwise = models[models["model"] == "growth_by_pair"]
    assert (pairwise["correction"] == "maxt").all()
    tested = pairwise.dropna(subset=["p_adjusted"])
    assert len(tested) >= 2
    assert (tested["p_adjusted"] >= tested["p_permutation"] - 1e-12).all()
    slopes = pd.read_parquet(out / "dyad_slopes.parquet")
    assert slopes["dyad"].nunique() == N_DYADS


def test_report_and_methods_show_the_models(full_run):
    _, _, out = full_run
    html = (out / "report.html").read_text()
    for text in ("Real synchrony against its null controls", "Per unit: growth_by_pair",
                 "maxt", "Slope permutation test", "equivalence test (TOST)",
                 "Per-dyad slopes"):
        assert text in html, text
    methods = (out / "methods.md").read_text()
    for text in ("crossed random intercept of the therapist (3 therapists)",
                 "phase-randomised surrogates", "circular time shifts", "TOST",
                 "Westfall-Young", "permuting the session order"):
        assert text in methods, text


def test_time_codings_and_fdr(base_study, tmp_path):
    """log and quadratic time from study.toml reach the growth model; FDR is reported."""
    for time, term in (("log", "np.log(session)"), ("quadratic", "I(session ** 2)")):
        study = load_study(_with_toml(
            base_study, tmp_path / time, analysis="pseudo_dyads = false",
            tail=f'[statistics]\ntime = "{time}"\nn_permutations = 0\ncompare = false\n'))
        sync = run_study(study, tmp_path / f"{time}-out").synchrony
        stats = fit_models(study, sync)
        growth = stats.models[stats.models["model"] == "growth"]
        assert term in set(growth["term"]), set(growth["term"])
        assert "growth_permutation" not in set(stats.models["model"])
        pairwise = stats.models[stats.models["model"] == "growth_by_pair"]
        assert (pairwise["correction"] == "fdr_bh").all()
        assert "real_vs_pseudo_by_pair" not in set(stats.models["model"])


def test_one_therapist_has_no_therapist_effect(tmp_path):
    study_dir = simulate_study(tmp_path / "one", preset="demo", n_dyads=4, n_sessions=3, minutes=2.0,
                               n_channels=4, seed=4)
    study = load_study(study_dir)
    assert study.n_therapists == 1
    results = run_study(study, tmp_path / "out")
    growth = results.models[results.models["model"] == "growth"]
    assert "therapist" not in growth["formula"].iloc[0]


@pytest.mark.parametrize("tail, message", [
    ('[statistics]\ntime = "cubic"\n', "field 'time' must be one of"),
    ('[statistics]\ncorrection = "fdr"\n', "field 'correction' must be one of"),
    ('[statistics]\nsesoi = "big"\n', "field 'sesoi' must be a number"),
    ('[statistics]\nsesoi = {symptoms = -1}\n', "field 'sesoi' must be a number >= 0"),
    ('[statistics]\npairwise = ["growth", "everything"]\n', "field 'pairwise' must list"),
    ('[statistics]\npairwise_unit = "region"\n', "needs a [regions] table"),
    ('[statistics]\ncovariates = ["burnout"]\n', "covariate 'burnout' is not defined"),
    ('[statistics]\nn_permutations = 10\n', "field 'n_permutations' must be 0"),
    ('[statistics]\nalpha = 0.7\n', "field 'alpha' must lie in"),
    ('[statistics]\ntypo = 1\n', "unknown field(s) 'typo'"),
    ('[[therapists]]\nid = "T09"\nburnout = 1.0\n', "therapist 'T09' is not the therapist"),
    ('[[therapists]]\nid = "T01"\nburnout = "high"\n', "covariate 'burnout' must be a finite"),
])
def test_statistics_settings_errors_name_the_field(base_study, tmp_path, tail, message):
    study_dir = _with_toml(base_study, tmp_path / "s", tail=tail)
    if "pairwise_unit" in tail:
        text = (study_dir / "study.toml").read_text()
        (study_dir / "study.toml").write_text(re.sub(r"\[regions\][^\n]*\n(.*\n)*?\n", "", text))
    with pytest.raises(StudyError) as err:
        load_study(study_dir)
    assert message in str(err.value)
    assert "study.toml" in str(err.value)


@pytest.mark.parametrize("analysis, message", [
    ('surrogates = ["shuffle"]', "field 'surrogates' must list kinds"),
    ("surrogates_per_session = 1", "field 'surrogates_per_session' must be at least 2"),
    ('precision = "float16"', "field 'precision' must be 'float64' or 'float32'"),
])
def test_surrogate_settings_errors(base_study, tmp_path, analysis, message):
    with pytest.raises(StudyError, match=re.escape(message)):
        load_study(_with_toml(base_study, tmp_path / "s", analysis=analysis))


def test_generalisation_from_study_toml(base_study, tmp_path):
    """[[generalisation]]: each patient with another person before (session 1) and after
    (session 3) treatment; synchrony table rows, QC rows, the model and its contrasts."""
    entries = []
    for k in range(1, N_DYADS + 1):
        other = k % N_DYADS + 1
        for phase, session in (("pre", 1), ("post", N_SESSIONS)):
            entries.append(
                f'[[generalisation]]\ndyad = "D{k:02d}"\nphase = "{phase}"\n'
                f'partner = "F{k:02d}"\n'
                f'patient = "recordings/D{k:02d}_ses-{session:02d}_patient.snirf"\n'
                f'partner_recording = "recordings/D{other:02d}_ses-{session:02d}_therapist.snirf"\n'
                'align = "offset"\noffset = 0.0\n')
    toml = base_study / "study-generalisation.toml"
    toml.write_text((base_study / "study.toml").read_text().replace(
        'signals = ["hbo", "hbr"]', 'signals = ["hbo"]').replace(
        "pseudo_dyads = true", "pseudo_dyads = false") + "\n" + "\n".join(entries))
    study = load_study(toml)
    assert len(study.generalisation) == 2 * N_DYADS
    results = run_study(study, tmp_path / "out")
    sync = results.synchrony
    other = sync[sync["pairing"].isin(["other_pre", "other_post"])]
    assert set(other["session"]) == {0}
    assert other.groupby("pairing")["dyad"].nunique().eq(N_DYADS).all()
    qc = results.qc
    assert set(qc.loc[qc["session"] == 0, "role"]) == {"patient", "partner"}
    # the model's input, by hand: D01's synchrony with F01 before treatment
    from interbrain.stats.generalisation import generalisation_table
    from interbrain.stats.study_models import ModelInputs
    table = generalisation_table(sync, ModelInputs.from_study(study).dyads, "hbo")
    row = table[(table["dyad"] == "D01") & (table["partner"] == "F01")
                & (table["phase"] == "pre")]
    by_hand = other[(other["dyad"] == "D01") & (other["pairing"] == "other_pre")]["value"]
    assert row["synchrony"].iloc[0] == pytest.approx(by_hand.mean())
    assert set(table["partner_role"]) == {"therapist", "other"}
    assert len(table) == 4 * N_DYADS
    models = results.models
    general = models[models["model"] == "generalisation"]
    terms = set(general["term"])
    assert {"post - pre | therapist", "post - pre | other",
            "(post - pre | other) - (post - pre | therapist)"} <= terms
    assert "phase * partner_role" in general["formula"].iloc[0]
    # planted growth with the therapist; strangers were never coupled
    change_t = general[general["term"] == "post - pre | therapist"].iloc[0]
    change_o = general[general["term"] == "post - pre | other"].iloc[0]
    assert change_t["estimate"] > change_o["estimate"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Does synchrony generalise to other people?" in html
    assert "generalises beyond the therapist" in (tmp_path / "out" / "methods.md").read_text()


@pytest.mark.parametrize("entry, message", [
    ('dyad = "D09"\nphase = "pre"\npartner = "F1"\n', "dyad 'D09' is not listed"),
    ('dyad = "D01"\nphase = "during"\npartner = "F1"\n', "field 'phase' must be 'pre' or"),
    ('dyad = "D01"\nphase = "pre"\npartner = "P01"\n', "is the patient themself"),
    ('dyad = "D01"\nphase = "pre"\npartner = "F1"\npatient = "missing.snirf"\n',
     "does not exist"),
])
def test_generalisation_errors(base_study, tmp_path, entry, message):
    with pytest.raises(StudyError, match=re.escape(message)):
        load_study(_with_toml(base_study, tmp_path / "s",
                              tail=f"[[generalisation]]\n{entry}"))
