"""User text is data, never code: hostile names in every place a user writes one.

A corpus of hostile names (quotes, backslashes, parentheses, ``__import__``,
``Q(...)``, HTML, unicode look-alikes, line breaks, invisible characters, 10,000
characters) either runs correctly under a safe internal name or is refused at load
with one message naming the file, the column or entry and the rule; a marker file
that the payloads try to create never appears.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from interbrain._check import MAX_NAME_LENGTH, check_name, name_problem
from interbrain.cli import main
from interbrain.errors import StudyError
from interbrain.simulate import simulate_study
from interbrain.stats import lmer
from interbrain.stats.formula import check_term_code, internal_names, label_formula
from interbrain.stats.growth import fit_growth
from interbrain.stats.outcomes import analyse_outcomes
from interbrain.study import load_study

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

MARKER = "pwned"


def _payload(tag: str) -> str:
    return f"__import__('os').system('touch {MARKER}-{tag}.txt')"


#: The measures.csv header that ran code in interbrain 0.2.0 (issue 12).
EXPLOIT = ('session") + ' + _payload("exploit") + ' + Q("session')

#: Names that are accepted and must run correctly under a safe internal name.
ACCEPTED = {
    "exploit": EXPLOIT,
    "quotes": "quote\"s and 'apostrophes'",
    "backslash": "back\\slash\\n and \\\"",
    "parens": "score) + (1 | dyad",
    "import": _payload("import"),
    "q": 'Q("symptoms")',
    "html": "<script>alert(1)</script>",
    "lookalike": "\u0455ymptoms",  # Cyrillic dze: looks like 'symptoms', is another name
    "spaces": "session quality (SQ)",
    "formula": "y ~ x + (1 | g)",
}

#: Names refused at load, with the problem the message must state.
REFUSED = {
    "newline": ("line\nbreak", "U\\+000A"),
    "tab": ("tab\tname", "U\\+0009"),
    "zero width": ("zero\u200bwidth", "U\\+200B"),
    "bidi override": ("\u202eevil", "U\\+202E"),
    "long": ("x" * 10_000, "10000 characters long"),
    "leading space": (" padded", "leading or trailing spaces"),
}


def _markers(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        found += [p for p in Path(root).rglob(f"{MARKER}*")]
    return found


# ---------------------------------------------------------------------------
# the formula layer: parsed and checked, never evaluated with builtins
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(6), 5)
    x = rng.normal(size=30)
    return pd.DataFrame({"g": g.astype(str), "x": x, "session": np.tile(np.arange(1, 6), 6),
                         "y": 0.5 * x + rng.normal(size=6)[g] + rng.normal(size=30),
                         "my score": x * 2})


HOSTILE_FORMULAS = [
    "y ~ " + _payload("f1") + " + (1 | g)",
    "y ~ x + I(" + _payload("f2") + ") + (1 | g)",
    "y ~ open('pwned-f3.txt', 'w') + (1 | g)",
    "y ~ np.load('x') + (1 | g)",
    "y ~ np.lib.format.open_memmap('pwned-f4.txt', 'w+') + (1 | g)",
    "y ~ x.__class__ + (1 | g)",
    "y ~ I(x[0]) + (1 | g)",
    "y ~ I((lambda: 1)()) + (1 | g)",
    "y ~ I([a for a in x]) + (1 | g)",
    "y ~ I(2 ** 10 ** 10) + (1 | g)",
    "y ~ I('a' * 10 ** 9) + (1 | g)",
    "y ~ I(x ** 1000) + (1 | g)",
    "y ~ Q(chr(95)) + (1 | g)",
    "y ~ C(x, **{}) + (1 | g)",
    "y ~ eval('1') + (1 | g)",
    "y ~ I(np) + (1 | g)",
    "y ~ local_secret + (1 | g)",
    "y ~ I(" + "(" * 300 + "x" + ")" * 300 + ") + (1 | g)",
]


@pytest.mark.parametrize("formula", HOSTILE_FORMULAS)
def test_lmer_refuses_code_in_a_formula(formula, frame, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    local_secret = np.ones(len(frame))  # noqa: F841  (the caller's variables are not seen)
    with pytest.raises(ValueError, match="not allowed|cannot parse|not found in data"):
        lmer(formula, frame)
    assert not _markers(tmp_path)


def test_lmer_still_fits_the_formula_language(frame):
    data = frame.assign(cond=np.where(frame["x"] > 0, "a", "b"))
    fit = lmer("y ~ np.log(session) + I(session**2) + C(cond) + Q('my score') + (1 | g)",
               data)
    assert sorted(fit.coefficients.index) == sorted(
        ["(Intercept)", "np.log(session)", "I(session ** 2)", "C(cond)[T.b]",
         "Q('my score')"])
    assert np.isfinite(fit.loglik)


def test_term_check_reports_the_names_a_term_reads():
    assert check_term_code("np.log(session)") == [("session", False)]
    assert check_term_code('Q("a b")') == [("a b", True)]
    assert check_term_code("C(cond, Treatment('x'))") == [("cond", False)]


def test_internal_names_keep_identifiers_and_replace_the_rest():
    names = internal_names(["burnout", "my score", EXPLOIT, "covariate_1"], "covariate_")
    assert names["burnout"] == "burnout"
    assert names["covariate_1"] == "covariate_1"
    assert names["my score"] == "covariate_2" and names[EXPLOIT] == "covariate_3"
    shown = label_formula("y ~ covariate_2 + session:covariate_3",
                          {"covariate_2": "my score", "covariate_3": "a`b"})
    assert shown == "y ~ `my score` + session:`a\\`b`"


@pytest.mark.parametrize("key", sorted(ACCEPTED))
def test_growth_covariate_with_a_hostile_name_is_fitted_under_an_internal_name(
        key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    n_dyads, n_sessions = 8, 5
    dyad = np.repeat([f"d{i}" for i in range(n_dyads)], n_sessions)
    cov = np.repeat(rng.normal(size=n_dyads), n_sessions)
    session = np.tile(np.arange(1, n_sessions + 1), n_dyads)
    sync = 0.3 + 0.01 * session + 0.05 * cov + rng.normal(0, 0.02, len(dyad))
    name = ACCEPTED[key]
    data = pd.DataFrame({"dyad": dyad, "session": session, "synchrony": sync, name: cov})
    plain = fit_growth(data.rename(columns={name: "cov"}), covariates=["cov"])
    fit = fit_growth(data, covariates=[name])
    assert name in fit.coefficients.index
    np.testing.assert_allclose(fit.coefficients.loc[name].to_numpy(float),
                               plain.coefficients.loc["cov"].to_numpy(float), rtol=1e-10)
    assert not _markers(tmp_path)


def test_outcome_with_a_hostile_measure_name_equals_the_plain_fit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(2)
    dyad = np.repeat([f"d{i}" for i in range(6)], 4)
    session = np.tile(np.arange(1, 5), 6)
    sessions = pd.DataFrame({"dyad": dyad, "session": session,
                             "synchrony": rng.normal(0.3, 0.05, 24)})
    values = rng.normal(size=24)
    measures = pd.DataFrame({"dyad": dyad, "session": session, EXPLOIT: values,
                             "plain": values})
    res = analyse_outcomes(sessions, measures)
    hostile, plain = res.within_between[EXPLOIT], res.within_between["plain"]
    pd.testing.assert_frame_equal(hostile.coefficients, plain.coefficients)
    assert EXPLOIT in hostile.labelled_formula
    for direction in ("synchrony -> measure", "measure -> synchrony"):
        hostile = res.lagged[EXPLOIT].fits[direction]
        plain = res.lagged["plain"].fits[direction]
        pd.testing.assert_frame_equal(hostile.coefficients, plain.coefficients)
        assert EXPLOIT in hostile.labelled_formula
    assert not _markers(tmp_path)


# ---------------------------------------------------------------------------
# the name rule at load
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(ACCEPTED))
def test_accepted_names_follow_the_rule(key):
    assert name_problem(ACCEPTED[key]) is None


@pytest.mark.parametrize("key", sorted(REFUSED))
def test_refused_names_are_named_with_their_problem(key):
    name, problem = REFUSED[key]
    with pytest.raises(StudyError) as err:
        check_name(name, "column name", "measures.csv, line 1 (header)", StudyError)
    msg = str(err.value)
    assert msg.startswith("measures.csv, line 1 (header): column name ")
    assert re.search(problem, msg)
    assert f"1 to {MAX_NAME_LENGTH} printable characters" in msg
    assert len(msg) < 600  # a 10,000-character name is shortened in the message


@pytest.fixture(scope="module")
def small_study(tmp_path_factory) -> Path:
    """3 dyads x 3 sessions, 1-minute recordings, 4 channels (one therapist)."""
    return simulate_study(tmp_path_factory.mktemp("names") / "study", preset="demo", n_dyads=3,
                          n_sessions=3, minutes=1, band=(5.0, 15.0), n_channels=4, seed=1)


def _copy(study: Path, dest: Path) -> Path:
    return Path(shutil.copytree(study, dest / "study"))


# measures.csv headers are stripped of surrounding spaces ("a, b" is a common CSV
# style), so a padded header is not refused there
@pytest.mark.parametrize("key", sorted(set(REFUSED) - {"leading space"}))
def test_a_refused_measure_name_fails_the_run_at_load(key, small_study, tmp_path,
                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = _copy(small_study, tmp_path)
    measures = pd.read_csv(study / "measures.csv")
    name = REFUSED[key][0]
    measures.rename(columns={"alliance": name}).to_csv(study / "measures.csv", index=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", "--no-figures", str(study), "--out", str(out), "--quiet",
                                       "--workers", "1"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "measures.csv, line 1 (header): column name" in result.output
    assert re.search(REFUSED[key][1], result.output)
    assert not out.exists()


@pytest.mark.parametrize("variant", ["Symptoms", "\uff53ymptoms", "SESSION"])
def test_names_equal_but_for_case_or_unicode_form_are_ambiguous(variant, small_study,
                                                                tmp_path):
    study = _copy(small_study, tmp_path)
    measures = pd.read_csv(study / "measures.csv")
    measures.rename(columns={"alliance": variant}).to_csv(study / "measures.csv", index=False)
    with pytest.raises(StudyError, match="only in case or Unicode form"):
        load_study(study)


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def test_refused_dyad_id_names_study_toml_and_entry(small_study, tmp_path):
    study = _copy(small_study, tmp_path)
    toml = (study / "study.toml").read_text()
    (study / "study.toml").write_text(toml.replace('id = "D02"', 'id = "D\\u200b02"')
                                      .replace('dyad = "D02"', 'dyad = "D\\u200b02"'))
    with pytest.raises(StudyError, match=r"study.toml: \[\[dyads\]\] entry 2: field 'id' "
                                         r"'D\\u200b02' contains the character U\+200B"):
        load_study(study)


# ---------------------------------------------------------------------------
# the whole pipeline through the CLI: every hostile name at once
# ---------------------------------------------------------------------------

HOSTILE_DYADS = {"D01": 'D01") + ' + _payload("dyad") + ' + Q("',
                 "D02": "<b>D02</b>", "D03": "D\\03"}
HOSTILE_THERAPIST = "T'01); " + _payload("therapist")
HOSTILE_COVARIATE = "burnout) + " + _payload("covariate") + " + (1"
HOSTILE_CONDITIONS = {"D01": "cbt\") + " + _payload("condition"), "D02": "cbt\") + "
                      + _payload("condition"), "D03": "wait list (control)"}


@pytest.fixture(scope="module")
def hostile_run(small_study, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    study = _copy(small_study, root)
    toml = (study / "study.toml").read_text()
    for old, new in HOSTILE_DYADS.items():
        toml = toml.replace(f'"{old}"', _toml_string(new))
    toml = toml.replace('"T01"', _toml_string(HOSTILE_THERAPIST))
    for old, new in HOSTILE_DYADS.items():
        block = f"id = {_toml_string(new)}\n"
        cov = (f"condition = {_toml_string(HOSTILE_CONDITIONS[old])}\n"
               f"covariates = {{ {_toml_string(HOSTILE_COVARIATE)} = "
               f"{ {'D01': 1.0, 'D02': 3.5, 'D03': 2.0}[old]} }}\n")
        toml = toml.replace(block, block + cov)
    toml = toml.replace("[statistics]\n", "[statistics]\ncovariates = ["
                        + _toml_string(HOSTILE_COVARIATE) + "]\n")
    (study / "study.toml").write_text(toml, encoding="utf-8")
    measures = pd.read_csv(study / "measures.csv")
    measures["dyad"] = measures["dyad"].map(HOSTILE_DYADS)
    rng = np.random.default_rng(5)
    for key, name in ACCEPTED.items():
        measures[name] = rng.normal(size=len(measures)).round(3)
    measures.to_csv(study / "measures.csv", index=False)
    out = root / "out"
    cwd = root / "cwd"
    cwd.mkdir()
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=cwd):
        result = runner.invoke(main, ["run", "--no-figures", str(study), "--out", str(out), "--quiet",
                                      "--workers", "1"])
    return root, study, out, result


def test_hostile_names_run_correctly_and_run_no_code(hostile_run):
    root, study, out, result = hostile_run
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert not _markers(root), "a payload in a name was executed"
    models = pd.read_parquet(out / "models.parquet")
    for name in ACCEPTED.values():
        assert (models["model"] == f"outcome:{name}").any(), name
    growth = models[models["model"] == "growth"]
    assert (growth["term"] == HOSTILE_COVARIATE).any()
    assert growth["term"].str.contains("condition[T.", regex=False).any()
    synchrony = pd.read_parquet(out / "synchrony.parquet")
    assert set(synchrony.loc[synchrony["pairing"] == "real", "dyad"]) == \
        set(HOSTILE_DYADS.values())


def test_hostile_names_are_escaped_in_the_report(hostile_run):
    _, _, out, result = hostile_run
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>D02</b>" not in html
