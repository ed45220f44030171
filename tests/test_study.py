"""The study loader validates study.toml and measures.csv and names each problem."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from interbrain.errors import StudyError
from interbrain.study import load_study

TOML = """
[study]
name = "test study"

[analysis]
band = [10.0, 40.0]

[[dyads]]
id = "D01"
therapist = "T01"
patient = "P01"

[[dyads]]
id = "D02"
therapist = "T01"
patient = "P02"

{sessions}
"""

SESSION = """
[[sessions]]
dyad = "{dyad}"
session = {session}
therapist = "rec/{dyad}_{session}_t.snirf"
patient = "rec/{dyad}_{session}_p.snirf"
"""

MEASURES = """dyad,session,symptoms,wellbeing,session_quality,alliance
D01,1,40,50,3,5
D01,2,38,52,3.5,5.2
D02,1,41,49,3.1,4.9
D02,2,37,,3.4,5.0
"""


def make_study(tmp_path: Path, sessions=(("D01", 1), ("D01", 2), ("D02", 1), ("D02", 2)),
               measures: str | None = MEASURES, extra: str = "", missing_file: str | None = None
               ) -> Path:
    (tmp_path / "rec").mkdir(exist_ok=True)
    text = "".join(SESSION.format(dyad=d, session=s) for d, s in sessions)
    (tmp_path / "study.toml").write_text(TOML.format(sessions=text) + extra)
    for d, s in sessions:
        for role in ("t", "p"):
            name = f"{d}_{s}_{role}.snirf"
            if name != missing_file:
                (tmp_path / "rec" / name).write_bytes(b"")
    if measures is not None:
        (tmp_path / "measures.csv").write_text(textwrap.dedent(measures))
    return tmp_path


def test_valid_study_loads(tmp_path):
    study = load_study(make_study(tmp_path))
    assert [d.id for d in study.dyads] == ["D01", "D02"]
    assert len(study.sessions) == 4
    assert study.sessions[0].therapist.path == (tmp_path / "rec" / "D01_1_t.snirf").resolve()
    assert study.sessions[0].align == "start_time"
    assert study.analysis.band == (10.0, 40.0)
    assert study.measure_columns == ["symptoms", "wellbeing", "session_quality", "alliance"]
    assert study.measures["wellbeing"].isna().sum() == 1  # empty cell = missing value
    assert study.session_numbers == [1, 2]


def test_study_toml_path_and_folder_are_equivalent(tmp_path):
    root = make_study(tmp_path)
    assert load_study(root / "study.toml").sessions == load_study(root).sessions


def test_missing_recording_file_is_named(tmp_path):
    root = make_study(tmp_path, missing_file="D02_1_p.snirf")
    with pytest.raises(StudyError, match=r"study\.toml.*dyad D02, session 1.*patient's "
                                         r"recording file 'rec/D02_1_p\.snirf' does not exist"):
        load_study(root)


def test_nul_character_in_a_path_is_named(tmp_path):
    """A NUL in any string of study.toml (found by the fuzz test in a recording path,
    where os functions raise ValueError) is one message naming the key."""
    root = make_study(tmp_path)
    toml = root / "study.toml"
    toml.write_text(toml.read_text().replace("rec/D02_1_p", "rec/D02\\u0000_1_p", 1))
    with pytest.raises(StudyError, match=r"study\.toml: sessions\[2\]\.patient holds a NUL "
                                         r"character"):
        load_study(root)


def test_session_listed_twice(tmp_path):
    root = make_study(tmp_path, sessions=(("D01", 1), ("D01", 2), ("D02", 1), ("D01", 2)))
    with pytest.raises(StudyError, match=r"\[\[sessions\]\] entry 4.*session 2 of dyad D01 "
                                         r"is listed twice"):
        load_study(root)


def test_measures_row_for_unknown_dyad(tmp_path):
    root = make_study(tmp_path, measures=MEASURES + "D09,1,40,50,3,5\n")
    with pytest.raises(StudyError, match=r"measures\.csv, line 6: dyad 'D09' is not a dyad"):
        load_study(root)


def test_non_numeric_measure(tmp_path):
    root = make_study(tmp_path, measures=MEASURES.replace("38,52", "38,high"))
    with pytest.raises(StudyError, match=r"measures\.csv, line 3, column 'wellbeing': "
                                         r"'high' is not a number"):
        load_study(root)


def test_measures_row_for_unknown_session(tmp_path):
    root = make_study(tmp_path, measures=MEASURES + "D01,7,40,50,3,5\n")
    with pytest.raises(StudyError, match=r"line 6: dyad D01 has no session 7"):
        load_study(root)


def test_measures_missing_column(tmp_path):
    root = make_study(tmp_path, measures="dyad,symptoms\nD01,3\n")
    with pytest.raises(StudyError, match=r"measures\.csv: missing column 'session'"):
        load_study(root)


def test_measures_duplicate_row(tmp_path):
    root = make_study(tmp_path, measures=MEASURES + "D01,1,40,50,3,5\n")
    with pytest.raises(StudyError, match=r"line 6: dyad D01, session 1 appears twice"):
        load_study(root)


def test_unknown_dyad_in_sessions(tmp_path):
    root = make_study(tmp_path, sessions=(("D01", 1), ("D02", 1), ("D03", 1)))
    with pytest.raises(StudyError, match=r"entry 3: dyad 'D03' is not listed in \[\[dyads\]\]"):
        load_study(root)


def test_dyad_without_sessions(tmp_path):
    root = make_study(tmp_path, sessions=(("D01", 1), ("D01", 2)), measures=None)
    with pytest.raises(StudyError, match=r"dyad\(s\) D02 have no \[\[sessions\]\] entry"):
        load_study(root)


def test_bad_band_and_unknown_setting(tmp_path):
    root = make_study(tmp_path)
    text = (root / "study.toml").read_text()
    (root / "study.toml").write_text(text.replace("band = [10.0, 40.0]", "band = [40.0, 10.0]"))
    with pytest.raises(StudyError, match=r"\[analysis\].*0 < shortest < longest"):
        load_study(root)
    for longest in ("inf", "nan"):                # TOML's infinity and NaN (fuzzing found inf)
        (root / "study.toml").write_text(text.replace("band = [10.0, 40.0]",
                                                      f"band = [10.0, {longest}]"))
        with pytest.raises(StudyError, match=r"\[analysis\].*both finite"):
            load_study(root)
    (root / "study.toml").write_text(text.replace("band = [10.0, 40.0]", "bnad = [10, 40]"))
    with pytest.raises(StudyError, match=r"\[analysis\].*unknown field.*'bnad'"):
        load_study(root)


def test_invalid_toml_names_file(tmp_path):
    (tmp_path / "study.toml").write_text("[study\nname = 1")
    with pytest.raises(StudyError, match=r"study\.toml: not valid TOML"):
        load_study(tmp_path)


def test_no_study_file(tmp_path):
    with pytest.raises(StudyError, match=r"no study file here"):
        load_study(tmp_path)


def test_measures_are_optional(tmp_path):
    study = load_study(make_study(tmp_path, measures=None))
    assert study.measure_columns == []
