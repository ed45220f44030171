"""Segments (conditions within sessions): synchrony per segment, segment-aware nulls,
the condition model and its tests, on small simulated studies (no files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from interbrain.design import Dyad, RecordingRef, SessionRecordings
from interbrain.nulls.pseudo_dyads import pseudo_dyad_pairings
from interbrain.nulls.segment_shuffle import label_windows
from interbrain.preprocessing.settings import PreprocessingSettings
from interbrain.stats.segment_models import condition_formula, restrict_pseudo
from interbrain.stats.segment_simulation import (fast_segment_null_rates,
                                                 segment_study_synchrony,
                                                 simulate_segment_study)
from interbrain.stats.settings import StatisticsSettings
from interbrain.stats.study_models import ModelInputs, fit_models
from interbrain.study.model import Study
from interbrain.synchrony.settings import AnalysisSettings
from interbrain.synchrony.summaries.segment_values import segment_cells
from interbrain.synchrony.summaries.segments import (SegmentSpec, pairing_masks,
                                                     session_segments)
from interbrain.synchrony.wavelet import WaveletGrid


def _inputs(study, metrics=("wtc",), **settings) -> ModelInputs:
    design = study.design
    return ModelInputs(settings=StatisticsSettings(n_permutations=999, **settings),
                       design=design, measures=design[["dyad", "session"]],
                       measure_columns=(), signals=("hbo",), metrics=tuple(metrics),
                       pseudo_dyads=True,
                       dyads=design.drop_duplicates("dyad")[["dyad", "therapist", "patient",
                                                             "condition"]],
                       segment_labels=("rest", "talk"))


class _Rec:
    """What session_segments reads of a recording."""

    def __init__(self, events, n_times=1200, sfreq=10.0):
        self.annotations = pd.DataFrame({"onset": [e[0] for e in events],
                                         "duration": [e[1] for e in events],
                                         "description": [e[2] for e in events]})
        self.n_times, self.sfreq = n_times, sfreq


def test_segments_from_events_next_marker_duration_and_end_markers():
    rec = _Rec([(0.0, 0.0, "1"), (30.0, 0.0, "2"), (70.0, 0.0, "x"), (90.0, 5.0, "3")])
    spec = SegmentSpec(events=(("1", "rest"), ("2", "talk"), ("x", "")))
    segs = session_segments(spec, "D01", 1, rec, _Rec([]))
    assert [(s.label, s.onset_s, s.offset_s) for s in segs] == [("rest", 0.0, 30.0),
                                                                ("talk", 30.0, 70.0)]
    every = session_segments(SegmentSpec(min_duration=25.0), "D01", 1, rec, _Rec([]))
    assert [s.label for s in every] == ["1", "2", "3"]   # "x": 20 s, too short
    assert every[-1].offset_s == 120.0                   # the last runs to the end
    by_duration = session_segments(SegmentSpec(end="duration"), "D01", 1, rec, _Rec([]))
    assert [(s.label, s.offset_s) for s in by_duration] == [("3", 95.0)]
    # no events in the therapist's file: the patient's, on the therapist's clock
    moved = session_segments(spec, "D01", 1, _Rec([]), rec, offset=2.0)
    assert moved[0].onset_s == 2.0 and moved[1].onset_s == 32.0
    with pytest.raises(ValueError, match="segments source"):
        SegmentSpec(source="markers")


def test_pseudo_masks_are_the_time_both_recordings_share_a_label():
    from interbrain.synchrony.summaries import Segment
    a = [Segment(0, 30, "rest"), Segment(30, 60, "talk")]
    b = [Segment(0, 20, "rest"), Segment(20, 60, "talk")]
    masks = pairing_masks(a, b, 0, 0, 600, 0.1)
    assert masks["rest"].sum() == 200 and masks["talk"].sum() == 300
    assert not (masks["rest"] & masks["talk"]).any()


def test_segment_cells_leave_out_the_segment_edges():
    grid = WaveletGrid.build(1200, 0.1, band=(5.0, 15.0))
    mask = np.zeros(1200, bool)
    mask[600:] = True
    cells = segment_cells(mask, grid)
    assert not cells[:, :600].any() and cells.any()
    # the segment's own cone of influence: no cell of the longest period at its start
    assert not cells[-1, 600:620].any() and (cells <= grid.valid).all()
    assert label_windows({"talk": mask}, 250) == [(600, "talk"), (850, "talk")]


def test_planted_coupling_is_recovered_in_its_segment_only():
    study = simulate_segment_study(7, n_dyads=8, coupling={"talk": 0.7},
                                   shuffle_window=40.0)
    tables = segment_study_synchrony(study)
    seg = tables["segments"]
    assert set(seg["pairing"]) == {"real", "pseudo", "real_windows", "segment_shuffle"}
    assert {"segment", "n_samples"} <= set(seg.columns)
    result = fit_models(_inputs(study), tables["synchrony"], segments=seg)
    m = result.models
    assert not any("singular fixed-effects" in n for n in result.notes)
    assert any("condition contrast" in n and "no growth model" in n for n in result.notes)
    for null in ("pseudo", "segment_shuffle"):
        rows = m[m["model"] == f"segment_real_vs_{null}"].set_index("segment")
        assert rows.loc["talk", "p"] < 0.05 and rows.loc["talk", "estimate"] > 0.05
        assert rows.loc["rest", "p"] > 0.05 and abs(rows.loc["rest", "estimate"]) < 0.05
        contrast = m[m["model"] == f"segment_contrast_vs_{null}"].iloc[0]
        assert contrast["term"] == "talk - rest" and contrast["p"] < 0.05
    cond = m[m["model"] == "condition"].set_index("term")
    assert cond.loc["segment[T.talk]", "estimate"] > 0
    assert "segment * group" in cond["formula"].iloc[0]
    assert not (m["model"] == "growth").any()
    assert ("condition", "hbo", "wtc") in result.fits


def test_condition_model_with_sessions_crosses_session_and_keeps_labels_as_data():
    assert condition_formula(3, group=True, therapist=True) == (
        "synchrony ~ session * segment * group + (1 + session | dyad) + (1 | therapist)")
    study = simulate_segment_study(3, n_dyads=6, n_sessions=2, coupling={"talk": 0.5},
                                   groups=("a (b)", "c\"d"))
    tables = segment_study_synchrony(study, metrics=("pearson",))
    result = fit_models(_inputs(study, metrics=("pearson",)), tables["synchrony"],
                        segments=tables["segments"])
    cond = result.models[result.models["model"] == "condition"]
    assert cond["formula"].iloc[0].startswith("synchrony ~ session * segment * group")
    assert len(result.models[result.models["model"] == "segment_plasticity"]) == 2
    assert not any("condition contrast" in n for n in result.notes)


def test_segment_tests_hold_their_level_without_coupling():
    n = 200
    rates = fast_segment_null_rates(n, seed=5)
    assert set(zip(rates["null"], rates["segment"])) == {
        (a, b) for a in ("pseudo", "segment_shuffle") for b in ("rest", "talk")}
    upper = binom.ppf(0.999, n, 0.05)
    assert (rates["rejections"] <= upper).all(), rates
    assert rates["rejections"].sum() >= binom.ppf(0.001, 4 * n, 0.05) / 2, rates


def _study(groups: dict[str, tuple[str, str]]) -> Study:
    dyads = tuple(Dyad(d, t, f"P{d}", condition=g) for d, (t, g) in groups.items())
    sessions = tuple(SessionRecordings(d, s, RecordingRef(Path(f"{d}{s}t"), "therapist"),
                                       RecordingRef(Path(f"{d}{s}p"), "patient"))
                     for d in groups for s in (1, 2))
    return Study(root=Path("."), name="", description="", analysis=AnalysisSettings(),
                 preprocessing=PreprocessingSettings(), dyads=dyads, sessions=sessions,
                 measures=pd.DataFrame())


def test_pseudo_dyads_within_group_never_mix_groups():
    groups = {"D1": ("T1", "treatment"), "D2": ("T1", "treatment"),
              "D3": ("T2", "control"), "D4": ("T2", "control"), "D5": ("T1", "control")}
    study = _study(groups)
    group = pseudo_dyad_pairings(study, within="group")
    assert group and all(groups[p.dyad][1] == groups[p.partner_dyad][1] for p in group)
    therapist = pseudo_dyad_pairings(study, within="therapist")
    assert therapist and all(groups[p.dyad][0] == groups[p.partner_dyad][0]
                             for p in therapist)
    every = pseudo_dyad_pairings(study)
    assert len(every) == 5 * 4 * 2 > len(group) == (2 + 6) * 2
    design = pd.DataFrame([{"dyad": d, "session": s, "therapist": t, "condition": g}
                           for d, (t, g) in groups.items() for s in (1, 2)])
    table = pd.DataFrame([{"dyad": p.dyad, "partner_dyad": p.partner_dyad,
                           "session": p.session, "pairing": p.pairing} for p in every])
    kept = restrict_pseudo(table, design, "group")
    assert len(kept) == len(group)
    with pytest.raises(ValueError, match="pseudo_dyads_within"):
        pseudo_dyad_pairings(study, within="site")


def test_a_table_of_segments_alone_is_analysed_by_the_statistics():
    """Synchrony computed elsewhere, per segment only (a ``segment`` column): the
    session level is the mean of the segments, and the condition model is fitted."""
    study = simulate_segment_study(2, n_dyads=6, coupling={"talk": 0.6})
    seg = segment_study_synchrony(study, metrics=("pearson",))["segments"]
    table = seg[seg["pairing"].isin(["real", "pseudo"])].drop(columns="n_samples")
    result = fit_models(_inputs(study, metrics=("pearson",)), table)
    assert any("mean of its segments" in n for n in result.notes)
    models = result.models
    assert (models["model"] == "condition").any()
    talk = models[(models["model"] == "segment_real_vs_pseudo")
                  & (models["segment"] == "talk")]
    assert talk["p"].iloc[0] < 0.05
    assert (result.sessions["pairing"] == "real").sum() == 6


def test_time_course_in_windows_is_tested_window_by_window():
    """``source = "windows"``: the session's time course, each window against its
    matched pseudo-dyads; coupling in the second half shows in its windows only."""
    from dataclasses import replace
    study = simulate_segment_study(4, n_dyads=8, coupling={"talk": 0.7})
    study.spec = replace(study.spec, source="windows", length=60.0, labels=())
    tables = segment_study_synchrony(study, metrics=("pearson",))
    assert set(tables["segments"]["segment"]) == {"0-60 s", "60-120 s", "120-180 s",
                                                  "180-240 s"}
    result = fit_models(_inputs(study, metrics=("pearson",)), tables["synchrony"],
                        segments=tables["segments"])
    rows = result.models[result.models["model"] == "segment_real_vs_pseudo"]
    p = dict(zip(rows["segment"], rows["p"]))
    assert p["120-180 s"] < 0.05 and p["180-240 s"] < 0.05
    assert p["0-60 s"] > 0.05 and p["60-120 s"] > 0.05
    terms = result.models.loc[result.models["model"] == "condition", "term"]
    assert "segment[T.60-120 s]" in set(terms)      # the first window is the reference
    with pytest.raises(ValueError, match="length"):
        SegmentSpec(source="windows")


def test_condition_model_holds_its_level_without_a_segment_effect():
    from interbrain.stats.segment_simulation import condition_model_null_rate
    n = 150
    rate = condition_model_null_rate(n, seed=4)
    assert rate * n <= binom.ppf(0.999, n, 0.05)
