"""Segments in a study folder: ``[segments]`` of study.toml, segments from the SNIRF
stimuli of a simulated study with phases, the talk/rest x treatment/control design with
one session (a condition model, never "growth"), and a segments table."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from interbrain.engine import run_study
from interbrain.errors import StudyError
from interbrain.study import load_study
from interbrain.validation import validate_study

#: The talk/rest x treatment/control design of docs/study-format.md, one session per
#: dyad (the recordings are those of the simulated study's session 2, where its
#: planted coupling is strongest).
DESIGN = """
[study]
name = "Talk and rest, treatment and control"

[analysis]
band = [5.0, 15.0]
signals = ["hbo"]

[segments]
source = "events"
events = { rest = "rest", talk = "talk" }
min_duration = 30.0
labels = ["rest", "talk"]
shuffle_window = 45.0

[statistics]
n_permutations = 99
pseudo_dyads_within = "group"
"""


@pytest.fixture(scope="module")
def phased_study(tmp_path_factory) -> Path:
    """4 dyads, rest and talk phases of 60 s marked by SNIRF stimuli, coupling in talk."""
    from interbrain.simulate import simulate_study
    return simulate_study(tmp_path_factory.mktemp("phases") / "study", preset="demo",
                          n_dyads=4, n_sessions=2, minutes=2, band=(5.0, 15.0),
                          n_channels=4, seed=1, phases=[("rest", 60.0), ("talk", 60.0)],
                          coupling_phases=["talk"])


def _write(study: Path, tmp_path: Path, extra: str = "", design: str = DESIGN) -> Path:
    out = tmp_path / "study"
    shutil.copytree(study / "recordings", out / "recordings")
    groups = ["treatment", "treatment", "control", "control"]
    text = design + extra
    for k, group in enumerate(groups, start=1):
        text += (f'\n[[dyads]]\nid = "D0{k}"\ntherapist = "T01"\npatient = "P0{k}"\n'
                 f'condition = "{group}"\n')
    for k in range(1, 5):
        text += (f'\n[[sessions]]\ndyad = "D0{k}"\nsession = 1\n'
                 f'therapist = "recordings/D0{k}_ses-02_therapist.snirf"\n'
                 f'patient = "recordings/D0{k}_ses-02_patient.snirf"\n')
    (out / "study.toml").write_text(text, encoding="utf-8")
    return out


def test_talk_rest_by_group_with_one_session_fits_a_condition_model(phased_study, tmp_path):
    moments = '\n[moments]\nevents = ["talk"]\nwindow = [-10.0, 20.0]\nn_null = 10\n'
    study = load_study(_write(phased_study, tmp_path, extra=moments))
    assert study.segments.labels == ("rest", "talk")
    results = run_study(study, tmp_path / "out", n_workers=1)
    segments = pd.read_parquet(tmp_path / "out" / "synchrony_segments.parquet")
    assert set(segments["segment"]) == {"rest", "talk"}
    assert {"real", "pseudo", "real_windows", "segment_shuffle"} <= set(segments["pairing"])
    pseudo = segments[segments["pairing"] == "pseudo"]
    group = {"D01": 0, "D02": 0, "D03": 1, "D04": 1}
    assert (pseudo["dyad"].map(group) == pseudo["partner_dyad"].map(group)).all()
    real = segments[(segments["pairing"] == "real")].groupby("segment")["value"].mean()
    assert real["talk"] > real["rest"]       # coupling planted in talk only
    models = pd.read_parquet(tmp_path / "out" / "models.parquet")
    cond = models[models["model"] == "condition"]
    assert set(cond["term"]) >= {"segment[T.talk]", "group[T.treatment]",
                                 "segment[T.talk]:group[T.treatment]"}
    assert not (models["model"] == "growth").any()
    assert not models["model"].str.startswith("growth").any()
    assert not any("singular fixed-effects" in n for n in results.notes)
    around = pd.read_parquet(tmp_path / "out" / "synchrony_moments.parquet")
    assert set(around["pairing"]) == {"moment", "moment_null"}
    assert set(models.loc[models["model"] == "moment_vs_null", "moment"]) == {"talk"}
    methods = (tmp_path / "out" / "methods.md").read_text()
    assert "condition contrast, and no growth model was attempted" in methods
    assert "matched by segment label" in methods
    assert "null windows" in methods
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Segments and conditions within sessions" in page and "Marked moments" in page
    assert "condition contrast, not growth" in page


def test_segments_from_a_table_and_fixed_times(phased_study, tmp_path):
    rows = ["dyad,session,label,onset_s,offset_s"]
    rows += [f"D0{k},1,{label},{a},{b}" for k in range(1, 5)
             for label, a, b in (("early", 0, 60), ("late", 60, 120))]
    folder = _write(phased_study, tmp_path,
                    design=DESIGN.replace('source = "events"', 'source = "table"')
                    .replace('events = { rest = "rest", talk = "talk" }',
                             'table = "segments.csv"')
                    .replace('labels = ["rest", "talk"]', 'labels = ["early", "late"]'))
    (folder / "segments.csv").write_text("\n".join(rows) + "\n")
    spec = load_study(folder).segments
    assert spec.source == "table" and len(spec.table) == 8
    fixed = load_study(_write(phased_study, tmp_path / "f", design=re.sub(
        r'source = "events"\nevents = .*\n', 'source = "fixed"\nfixed = [{ label = "a", '
        'onset = 0, offset = 60 }, { label = "b", onset = 60, offset = 120 }]\n', DESIGN)))
    assert fixed.segments.fixed == (("a", 0.0, 60.0), ("b", 60.0, 120.0))


@pytest.mark.parametrize("segments, message", [
    ('source = "markers"', "source must be one of"),
    ('end = "later"', "end must be one of"),
    ('min_duration = -1', "min_duration must be a finite number >= 0"),
    ('source = "fixed"', "needs fixed"),
    ('source = "fixed"\nfixed = [{ label = "a", onset = 5, offset = 2 }]', "ends"),
    ('source = "table"\ntable = "none.csv"', "no such segments table"),
    ('labels = ["a", "a"]', "twice"),
    ('source = "windows"', "length"),
    ('length = 60.0', "length is read only"),
    ('colour = "red"', "colour"),
])
def test_bad_segments_tables_are_refused(phased_study, tmp_path, segments, message):
    design = re.sub(r"\[segments\]\n(.*\n)*?\n", f"[segments]\n{segments}\n\n", DESIGN)
    with pytest.raises(StudyError, match=message):
        load_study(_write(phased_study, tmp_path, design=design))


def test_a_segments_table_row_must_name_a_session(phased_study, tmp_path):
    folder = _write(phased_study, tmp_path, design=DESIGN.replace(
        'source = "events"', 'source = "table"').replace(
        'events = { rest = "rest", talk = "talk" }', ""))
    (folder / "segments.csv").write_text("dyad,session,label,onset_s,offset_s\n"
                                         "D09,1,talk,0,10\n")
    with pytest.raises(StudyError, match="line 2: dyad 'D09' session 1 is not"):
        load_study(folder)


def test_validate_names_sessions_without_their_segment_events(phased_study, tmp_path):
    """Unmatched segment events, a too-short shuffle window and moment events found in
    no recording are problems before any analysis, each naming the file."""
    design = DESIGN.replace('events = { rest = "rest", talk = "talk" }',
                            'events = { pause = "rest", speak = "talk" }')
    design = design.replace("shuffle_window = 45.0", "shuffle_window = 5.0")
    folder = _write(phased_study, tmp_path,
                    extra='\n[moments]\nevents = ["rupture"]\n', design=design)
    messages = [p.message for p in validate_study(folder).problems]
    missing = [m for m in messages if "none of the [segments] events" in m]
    assert len(missing) == 4 and "D01_ses-02_therapist.snirf" in missing[0]
    assert "'pause', 'speak'" in missing[0] and "'rest', 'talk'" in missing[0]
    assert any("shuffle_window = 5 s is too short" in m for m in messages)
    assert any("[moments] events 'rupture' occur in no recording" in m for m in messages)
    assert validate_study(_write(phased_study, tmp_path / "ok")).problems == []
