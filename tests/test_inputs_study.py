"""Study-wide inputs (issue 17, items 4 and 6): ``[defaults]`` and their overrides, table
specs per study and session, ``crop`` by seconds and by event names (loaded, checked by
validate, applied after alignment), signals defaulting to those the recordings have,
Fisher z of the correlation-type metrics, and methods text naming the skipped steps."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interbrain.assembly import Crop, CroppedSession, crop_recordings, overlap, session_crop
from interbrain.errors import RecordingError, StudyError
from interbrain.io.table_spec import TableSpec, recording_table
from interbrain.preprocessing import Preprocessed
from interbrain.report.figures import quality_map
from interbrain.report.methods import other_metrics
from interbrain.study import load_study
from interbrain.synchrony import compute_metric
from interbrain.synchrony.settings import AnalysisSettings
from interbrain.validation import validate_study

SFREQ = 10.0


def _csv(path: Path, x: np.ndarray, *, signal="hbo", unit="uM", date=None) -> None:
    """An interbrain table of ``x`` (n_times, n_channels) in ``unit``."""
    head = [f"# unit={unit}"] + ([f"# meas_date={date}"] if date else [])
    cols = ",".join(f"S1_D{k + 1} {signal}" for k in range(x.shape[1]))
    rows = [f"{i / SFREQ:.1f}," + ",".join(f"{v:.5f}" for v in r) for i, r in enumerate(x)]
    path.write_text("\n".join(head + [f"time,{cols}"] + rows) + "\n")


def hbo_study(root: Path, *, n_dyads=3, n_sessions=2, seconds=90.0, extra="",
              session_extra: dict | None = None, seed=0) -> Path:
    """A study of HbO-only CSV tables (no start times: aligned by [defaults])."""
    rng = np.random.default_rng(seed)
    rec = root / "recordings"
    rec.mkdir(parents=True)
    n = int(seconds * SFREQ)
    lines = ["[analysis]", "band = [5.0, 15.0]", "familiarity = false", "",
             "[statistics]", "compare = false", "lagged = false", "mediation = false",
             "prepost = false", "n_permutations = 99", "pairwise = []", "",
             "[defaults]", 'align = "offset"', "offset = 0.0", extra, ""]
    for d in range(1, n_dyads + 1):
        lines += ["[[dyads]]", f'id = "D{d}"', 'therapist = "T1"', f'patient = "P{d}"', ""]
    for d in range(1, n_dyads + 1):
        for s in range(1, n_sessions + 1):
            shared = np.cumsum(rng.standard_normal((n, 1)), axis=0)
            for role in ("therapist", "patient"):
                own = np.cumsum(rng.standard_normal((n, 3)), axis=0)
                x = 0.05 * (own + (0.5 + 0.5 * s) * shared)
                _csv(rec / f"D{d}_s{s}_{role}.csv", x - x.mean(axis=0))
            lines += ["[[sessions]]", f'dyad = "D{d}"', f"session = {s}",
                      f'therapist = "recordings/D{d}_s{s}_therapist.csv"',
                      f'patient = "recordings/D{d}_s{s}_patient.csv"',
                      (session_extra or {}).get((d, s), ""), ""]
    (root / "study.toml").write_text("\n".join(lines))
    return root


def _refused(root: Path, *parts: str) -> str:
    with pytest.raises(StudyError) as info:
        load_study(root)
    message = str(info.value)
    for part in parts:
        assert part in message, message
    return message


def test_defaults_apply_and_sessions_override(tmp_path):
    study = load_study(hbo_study(tmp_path / "a", extra='crop = [5.0, 85.0]\nunit = "uM"',
                                 session_extra={(2, 1): 'align = "offset"\noffset = 1.5\n'
                                                        'crop = [10.0, 70.0]\nunit = "nM"'}))
    by = {(s.dyad, s.session): s for s in study.sessions}
    assert by[("D1", 1)].align == "offset" and by[("D1", 1)].offset == 0.0
    assert session_crop(by[("D1", 1)]) == Crop(5.0, 85.0)
    assert recording_table(by[("D1", 1)].therapist) == TableSpec(unit="uM")
    assert by[("D2", 1)].offset == 1.5 and session_crop(by[("D2", 1)]) == Crop(10.0, 70.0)
    assert recording_table(by[("D2", 1)].patient) == TableSpec(unit="nM")
    # HbO-only recordings: the signals analysed default to those they have
    assert study.analysis.signals == ("hbo",)


def test_defaults_and_session_fields_are_checked(tmp_path):
    root = hbo_study(tmp_path / "a", extra="colour = 1")
    _refused(root, "[defaults]", "colour")
    root = hbo_study(tmp_path / "b", extra='event = "sync"')
    _refused(root, "[defaults]", "event needs align = \"event\"")
    root = hbo_study(tmp_path / "c", extra='crop = [30.0, 10.0]')
    _refused(root, "[defaults]", "crop = [30.0, 10.0]: the end must come after the start")
    root = hbo_study(tmp_path / "d", session_extra={(1, 2): "crop = [1.0]"})
    _refused(root, "[[sessions]] entry 2", "crop must be [start, end]")
    root = hbo_study(tmp_path / "e", session_extra={(1, 1): 'table = { dta = "x" }'})
    _refused(root, "[[sessions]] entry 1", "table", "dta")
    root = hbo_study(tmp_path / "f", session_extra={(1, 1): 'unit = "furlong"'})
    _refused(root, "[[sessions]] entry 1", "unknown concentration unit 'furlong'",
             "accepted: M (mol/L)")


def test_requested_signal_absent_names_the_file(tmp_path):
    root = hbo_study(tmp_path / "a")
    text = (root / "study.toml").read_text()
    (root / "study.toml").write_text(text.replace("[analysis]",
                                                  '[analysis]\nsignals = ["hbo", "hbr"]'))
    message = _refused(root, "[analysis] signals = ['hbo', 'hbr']", "D1_s1_therapist.csv",
                       "has no HBR (it has HBO)", "signals = ['hbo']")
    assert message.count("\n") == 0
    # recordings with no signal in common
    root = hbo_study(tmp_path / "b")
    _csv(root / "recordings" / "D2_s1_patient.csv", np.ones((900, 3)) * 0.01, signal="hbr")
    _refused(root, "no haemoglobin signal in common", "D1_s1_therapist.csv has HBO only",
             "D2_s1_patient.csv has HBR only")


def test_validate_checks_the_crop(tmp_path):
    root = hbo_study(tmp_path / "a", session_extra={(1, 2): "crop = [10.0, 200.0]"})
    report = validate_study(root)
    assert len(report.problems) == 1, report.summary()
    message = report.problems[0].message
    assert "D1_s2_therapist.csv and" in message and "D1_s2_patient.csv" in message
    assert "crop = [10, 200]" in message and "outside the recording" in message
    assert validate_study(hbo_study(tmp_path / "b", extra="crop = [10.0, 80.0]")).ok


def _rec(name: str, n: int, events: dict[str, float], start: float = 0.0) -> Preprocessed:
    x = np.arange(n, dtype=float)[None, :].repeat(2, axis=0)
    ann = pd.DataFrame({"onset": list(events.values()), "duration": 0.0,
                        "description": list(events)})
    return Preprocessed(source=name, channels=["a", "b"], hbo=x, hbr=x.copy(), sfreq=SFREQ,
                        meas_date=None, qc=pd.DataFrame({"channel": ["a", "b"],
                                                         "bad": [False, False]}),
                        annotations=ann)


def test_crop_by_seconds_and_event_names_after_alignment():
    # the patient started 2 s after the therapist; their common window is t = 2..62 s
    a = _rec("t.snirf", 700, {"start_task": 12.0, "end_task": 52.0})
    b = _rec("p.snirf", 600, {})
    common = overlap(a, b, align="offset", offset=2.0)
    assert (common.start_a, common.start_b, common.n_times) == (20, 0, 600)
    by_time = overlap(a, b, align="offset", offset=2.0, crop=Crop(5.0, 25.0))
    assert (by_time.start_a, by_time.start_b, by_time.n_times) == (70, 50, 200)
    by_event = overlap(a, b, align="offset", offset=2.0, crop=Crop("start_task", "end_task"))
    assert (by_event.start_a, by_event.start_b, by_event.n_times) == (120, 100, 400)
    ta, tb = crop_recordings(a, b, Crop("start_task", "end_task"), align="offset",
                             offset=2.0)
    assert ta.hbo[0, 0] == 120 and tb.hbo[0, 0] == 100 and ta.n_times == tb.n_times == 400
    assert ta.annotations["onset"].tolist() == [0.0, 40.0]
    step = ta.steps[-1]
    assert step["step"] == "crop" and step["crop"] == ["start_task", "end_task"]
    assert (step["from_s"], step["seconds"]) == (12.0, 40.0)
    with pytest.raises(RecordingError, match=r"t\.snirf and p\.snirf: crop: no event "
                                             r"'missing' in either recording \(their events: "
                                             r"end_task, start_task\)"):
        overlap(a, b, align="offset", offset=2.0, crop=Crop("missing", 20.0))
    with pytest.raises(RecordingError, match=r"t\.snirf and p\.snirf: crop = \[5, 70\] .*"
                                             r"outside the recording, which the common "
                                             r"window ends at 60\.0 s"):
        overlap(a, b, align="offset", offset=2.0, crop=Crop(5.0, 70.0))
    assert isinstance(CroppedSession("D", 1, None, None, crop=Crop(1.0, 2.0)).crop, Crop)


def test_fisher_z_of_correlation_metrics():
    settings = AnalysisSettings(metrics=("wtc", "pearson", "ar_robust_correlation"),
                                fisher_z=True).validate()
    rng = np.random.default_rng(3)
    shared = rng.standard_normal(400)
    a = np.stack([shared + rng.standard_normal(400) for _ in range(3)])
    b = np.stack([shared + rng.standard_normal(400) for _ in range(3)])
    for metric in ("pearson", "ar_robust_correlation"):
        r = compute_metric(metric, a, b, 0.1)
        z = compute_metric(metric, a, b, 0.1, **settings.metric_options(metric))
        np.testing.assert_allclose(z, np.arctanh(r), rtol=1e-12)
        assert not np.allclose(z, r)
    assert settings.metric_options("wtc") == {}
    assert settings.transformed_metrics() == ("pearson", "ar_robust_correlation")
    text = other_metrics(settings)
    assert "Fisher z-transformed (z = atanh r)" in text and "wtc (magnitudes in [0, 1]" in text
    with pytest.raises(ValueError, match=r"fisher_z = true transforms correlation-type "
                                         r"metrics .* are \['wtc', 'plv'\]: wavelet coherence "
                                         r"and the phase-locking value are magnitudes"):
        AnalysisSettings(metrics=("wtc", "plv"), fisher_z=True).validate()


def test_quality_map_of_haemoglobin_input_draws_without_warnings():
    qc = pd.DataFrame({"dyad": ["D1"] * 4, "session": [1] * 4,
                       "role": ["therapist", "therapist", "patient", "patient"],
                       "channel": ["S1_D1", "S1_D2"] * 2, "sci": [np.nan] * 4,
                       "bad": [False, True, False, False]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = quality_map(qc)
        mixed = quality_map(qc.assign(sci=[0.9, np.nan, np.nan, np.nan]))
    assert png[:4] == b"\x89PNG" and mixed[:4] == b"\x89PNG"


def test_retained_reports_the_crop():
    from interbrain.retained import RETAINED_COLUMNS, retained_messages, retained_text
    row = {c: "" for c in RETAINED_COLUMNS} | {
        "dyad": "D1", "session": 1, "channels_kept_therapist": 3, "channels_total_therapist": 3,
        "channels_kept_patient": 3, "channels_total_patient": 3, "channel_pairs": 3,
        "minutes_analysed": 1.0, "minutes_therapist": 1.5, "minutes_patient": 1.5,
        "cut": False, "sfreq_therapist": 10.0, "sfreq_patient": 10.0, "sfreq_analysed": 10.0,
        "resampled_therapist": False, "resampled_patient": False, "measures_row": True,
        "crop": "[10, 70]"}
    table = pd.DataFrame([row])
    messages = [m for _, m in retained_messages(table, [])]
    assert any("dyad D1, session 1: cropped to [10, 70] (crop in study.toml" in m
               for m in messages)
    assert retained_text(table, []).endswith(
        "1 session was cropped to the part of the aligned recordings that study.toml's crop "
        "names (minutes analysed: 1-1).")
