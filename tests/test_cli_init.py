"""``interbrain init``: study.toml and a measures.csv template from a BIDS dataset or a
folder pattern; what it lists as found, missing and wrong; ``interbrain validate``
accepts what it writes; ids and paths are quoted safely."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from interbrain.cli import main
from interbrain.study import load_study
from interbrain.study.scaffold_pattern import compile_pattern, parse_roles
from interbrain.study.scaffold_files import toml_string

PATTERN = "{dyad}/ses-{session}/{role}.snirf"


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    """2 dyads x 2 sessions of 2 minutes at 10 Hz (long enough for the default band)."""
    from interbrain.simulate import simulate_study
    return simulate_study(tmp_path_factory.mktemp("init") / "sim", n_dyads=2, n_sessions=2,
                          minutes=2, n_channels=4, seed=3, preset="demo")


def _recording(study: Path, dyad: str, session: int, role: str) -> Path:
    return study / "recordings" / f"{dyad}_ses-{session:02d}_{role}.snirf"


def _pattern_folder(sim: Path, root: Path, words=("T", "P")) -> Path:
    """The simulated recordings laid out as ``<dyad>/ses-<n>/<T|P>.snirf``."""
    for dyad in ("D01", "D02"):
        for session in (1, 2):
            folder = root / dyad / f"ses-{session}"
            folder.mkdir(parents=True)
            for role, word in zip(("therapist", "patient"), words):
                shutil.copy(_recording(sim, dyad, session, role), folder / f"{word}.snirf")
    return root


def _init(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["init", *map(str, args)])
    return result.exit_code, result.output


def _validate(path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output


def test_pattern_folder_gives_a_study_validate_accepts(sim, tmp_path):
    data = _pattern_folder(sim, tmp_path / "data")
    code, out = _init(data, "--pattern", PATTERN, "--roles", "T=therapist,P=patient")
    assert code == 0, out
    assert ("8 recording file(s); 2 dyad(s), 4 dyad-session(s) with both recordings "
            "(session numbers 1, 2)") in out
    assert "sampling rates: 10 Hz" in out
    assert "therapist ids are placeholders for 2 dyad(s)" in out
    assert "problem" not in out
    _validate(data)
    study = load_study(data)
    assert [(d.id, d.therapist, d.patient) for d in study.dyads] == [
        ("D01", "T_D01", "P_D01"), ("D02", "T_D02", "P_D02")]
    assert [(s.dyad, s.session) for s in study.sessions] == [
        ("D01", 1), ("D01", 2), ("D02", 1), ("D02", 2)]
    assert study.sessions[-1].patient.path == (data / "D02" / "ses-2" / "P.snirf").resolve()
    doc = tomllib.loads((data / "study.toml").read_text())
    assert doc["sessions"][0]["therapist"] == "D01/ses-1/T.snirf"   # relative, posix
    measures = pd.read_csv(data / "measures.csv", dtype={"dyad": str})
    assert list(measures.columns) == ["dyad", "session", "symptoms", "wellbeing",
                                      "session_quality", "alliance"]
    assert measures[["dyad", "session"]].values.tolist() == [
        ["D01", 1], ["D01", 2], ["D02", 1], ["D02", 2]]
    assert measures.iloc[:, 2:].isna().all().all()


def test_study_file_elsewhere_has_paths_relative_to_it(sim, tmp_path):
    data = _pattern_folder(sim, tmp_path / "data", words=("therapist", "patient"))
    code, out = _init(data, "--pattern", PATTERN, "--out", tmp_path / "study" / "my.toml")
    assert code == 0, out
    doc = tomllib.loads((tmp_path / "study" / "my.toml").read_text())
    assert doc["sessions"][0]["patient"] == "../data/D01/ses-1/patient.snirf"
    assert (tmp_path / "study" / "measures.csv").is_file()
    _validate(tmp_path / "study" / "my.toml")


def test_missing_partner_rate_mismatch_and_bad_names_are_listed(sim, tiny_study_8hz,
                                                                tmp_path):
    data = _pattern_folder(sim, tmp_path / "data")
    (data / "D01" / "ses-2" / "P.snirf").unlink()                       # one partner only
    shutil.copy(tiny_study_8hz / "recordings" / "D02_ses-01_patient.snirf",
                data / "D02" / "ses-1" / "P.snirf")                       # 8 Hz against 10
    (data / "D02" / "ses-x").mkdir()
    shutil.copy(data / "D02" / "ses-2" / "T.snirf", data / "D02" / "ses-x" / "T.snirf")
    shutil.copy(data / "D02" / "ses-2" / "T.snirf", data / "D02" / "ses-2" / "X.snirf")
    shutil.copy(data / "D02" / "ses-2" / "T.snirf", data / "D02" / "stray.snirf")
    (data / "D02" / "notes.txt").write_text("not a recording")
    code, out = _init(data, "--pattern", PATTERN, "--roles", "T=therapist,P=patient")
    assert code == 0, out
    assert ("problem: dyad 'D01' session 2: only the therapist's recording "
            "(D01/ses-2/T.snirf); the patient's is missing (the session is left out)") in out
    assert ("problem: dyad 'D02' session 1: sampling rates differ: therapist 10 Hz "
            "(D02/ses-1/T.snirf), patient 8 Hz (D02/ses-1/P.snirf): not integer multiples"
            ) in out
    assert "problem: D02/ses-x/T.snirf: session 'x' is not a positive whole number" in out
    assert "problem: D02/ses-2/X.snirf: role 'X' is not one of the role words" in out
    assert ("problem: D02/stray.snirf: the pattern '{dyad}/ses-{session}/{role}.snirf' does "
            "not read this file name") in out
    assert "notes.txt" not in out
    assert "2 dyad(s), 2 dyad-session(s) with both recordings" in out
    text = (data / "study.toml").read_text()
    assert "# [[sessions]]\n# dyad = \"D02\"\n# session = 1\n" in text   # commented out
    _validate(data)   # the sessions left as they are
    assert [(s.dyad, s.session) for s in load_study(data).sessions] == [("D01", 1),
                                                                        ("D02", 2)]


def test_integer_rate_ratio_is_a_note(sim, tmp_path):
    from interbrain.simulate import simulate_study
    five = simulate_study(tmp_path / "five", n_dyads=2, n_sessions=2, minutes=2,
                          n_channels=4, seed=3, preset="demo", sfreq=5.0)
    data = _pattern_folder(sim, tmp_path / "data")
    shutil.copy(_recording(five, "D01", 1, "patient"), data / "D01" / "ses-1" / "P.snirf")
    code, out = _init(data, "--pattern", PATTERN, "--roles", "T=therapist,P=patient")
    assert code == 0, out
    assert "problem" not in out
    assert ("note: dyad 'D01' session 1: sampling rates differ: therapist 10 Hz "
            "(D01/ses-1/T.snirf), patient 5 Hz (D01/ses-1/P.snirf); interbrain resamples "
            "both to 5 Hz") in out
    assert "note: session 1: recordings at 5, 10 Hz; its real and pseudo-dyads are " \
           "analysed at 5 Hz" in out
    _validate(data)


def test_refuses_to_overwrite_without_force(sim, tmp_path):
    data = _pattern_folder(sim, tmp_path / "data")
    (data / "measures.csv").write_text("dyad,session,symptoms\nD01,1,3\n")
    code, out = _init(data, "--pattern", PATTERN, "--roles", "T=therapist,P=patient")
    assert code == 1
    assert f"Error: {data / 'measures.csv'}: exists; pass --force to replace it" in out
    assert not (data / "study.toml").exists()
    assert (data / "measures.csv").read_text() == "dyad,session,symptoms\nD01,1,3\n"
    code, out = _init(data, "--pattern", PATTERN, "--roles", "T=therapist,P=patient",
                      "--force")
    assert code == 0, out
    assert (data / "measures.csv").read_text().startswith("dyad,session,symptoms,wellbeing")
    assert not [p.name for p in data.iterdir() if p.name.startswith(".")]  # no temp left


def test_hostile_names_are_quoted(sim, tmp_path):
    """Ids and paths with quotes, backslashes, brackets and '#' stay data."""
    dyad = 'D"1\\x ]#[y'
    therapist = "Dr. O'Brien \\ \"T\""
    data = tmp_path / "data"
    for session in (1, 2):
        folder = data / f"{dyad}__{therapist}" / f"ses-{session}"
        folder.mkdir(parents=True)
        for role in ("therapist", "patient"):
            shutil.copy(_recording(sim, "D01", session, role), folder / f"{role}.snirf")
    code, out = _init(data, "--pattern", "{dyad}__{therapist}/ses-{session}/{role}.snirf")
    assert code == 0, out
    _validate(data)
    study = load_study(data)
    assert [(d.id, d.therapist, d.patient) for d in study.dyads] == [
        (dyad, therapist, f"P_{dyad}")]
    assert study.sessions[0].therapist.path.parent.parent.name == f"{dyad}__{therapist}"
    assert set(study.measures["dyad"]) == {dyad}


def test_toml_string_round_trips_every_character():
    text = "".join(chr(c) for c in range(0x80)) + "é\u200b𝄞\\\"'"
    assert tomllib.loads(f"x = {toml_string(text)}")["x"] == text
    with pytest.raises(ValueError, match="lone surrogate"):
        toml_string("a\udc80")


def test_pattern_and_roles_errors(sim, tmp_path):
    with pytest.raises(ValueError, match=r"unknown placeholder \{person\}"):
        compile_pattern("{dyad}/{person}/{role}.snirf")
    with pytest.raises(ValueError, match=r"needs \{role\}"):
        compile_pattern("{dyad}/{session}.snirf")
    with pytest.raises(ValueError, match="without '..'"):
        compile_pattern("../{dyad}/{role}.snirf")
    with pytest.raises(ValueError, match="no word for the patient"):
        parse_roles("T=therapist")
    with pytest.raises(ValueError, match="WORD=therapist or WORD=patient, got 'T=boss'"):
        parse_roles("T=boss,P=patient")
    data = _pattern_folder(sim, tmp_path / "data")
    code, out = _init(data, "--pattern", "{dyad}/{nope}.snirf")
    assert code == 1 and "Error: --pattern '{dyad}/{nope}.snirf': unknown placeholder" in out
    code, out = _init(data, "--pattern", PATTERN)      # the words are T and P
    assert code == 1
    assert "no dyad-session with both recordings found; nothing written" in out
    assert not (data / "study.toml").exists()


# --------------------------------------------------------------------------- BIDS

@pytest.fixture(scope="module")
def bids_root(sim, tmp_path_factory, write_bids) -> Path:
    """The simulated study as a hyperscanning BIDS dataset."""
    return write_bids(sim, tmp_path_factory.mktemp("bids") / "ds")


def test_bids_dataset_gives_a_study_validate_accepts(bids_root, tmp_path):
    out_file = tmp_path / "study" / "study.toml"
    code, out = _init(bids_root, "--out", out_file)
    assert code == 0, out
    assert "(BIDS): 8 recording file(s); 2 dyad(s), 4 dyad-session(s)" in out
    assert "placeholder" not in out and "problem" not in out
    _validate(out_file)
    study = load_study(out_file)
    assert [(d.id, d.therapist, d.patient) for d in study.dyads] == [
        ("D01", "T01", "P01"), ("D02", "T01", "P02")]
    assert study.sessions[-1].therapist.path.name == \
        "sub-T01_ses-02_task-therapy_acq-D02_nirs.snirf"


def test_bids_missing_partner_is_listed_and_nothing_written(bids_root, tmp_path):
    root = Path(shutil.copytree(bids_root, tmp_path / "ds"))
    for f in (root / "sub-P02" / "ses-02" / "nirs").glob("*_nirs.snirf"):
        f.unlink()
    code, out = _init(root)
    assert code == 1
    assert ("problem: " + str(root / "dyads.tsv") + ": line 3 (dyad D02): the patient of "
            "dyad D02, sub-P02, has no recording for session 2 (ses-2)") in out
    assert not (root / "study.toml").exists()
