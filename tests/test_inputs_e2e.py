"""Studies of HbO-only tables run end to end (issue 17, items 4 and 6): a CSV study, a
.mat study with a lab's own variable and generated channel names, crop and Fisher z
through the engine, and the methods and report of haemoglobin input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import scipy.io

from interbrain.engine import graph, run_study
from interbrain.nulls.session import pairings_synchrony
from interbrain.report import report_html
from interbrain.study import load_study

from test_inputs_study import hbo_study

def _run(root: Path, out: Path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = run_study(load_study(root), out, n_workers=1, scheduler="threads")
        html = report_html(results)
    plotting = [w for w in caught if "matplotlib" in (w.filename or "")
                or "matplotlib" in str(w.message).lower()]
    assert not plotting, [str(w.message) for w in plotting]
    return results, html


def _check_haemoglobin_run(results, html: str) -> None:
    sync = results.synchrony
    assert set(sync["signal"]) == {"hbo"} and sync["value"].notna().all()
    assert {"real", "pseudo"} <= set(sync["pairing"])
    growth = results.models.query("model == 'growth' and signal == 'hbo'")
    assert len(growth) and growth["estimate"].notna().all()
    methods = (Path(results.out_dir) / "methods.md").read_text() \
        if getattr(results, "out_dir", None) else ""
    from interbrain.report import methods_text
    methods = methods or methods_text(results)
    assert "held haemoglobin concentration changes computed elsewhere (HbO only)" in methods
    assert ("Optical density, the scalp coupling index, peak spectral power and motion "
            "detection, motion correction, short-channel regression and the modified "
            "Beer-Lambert law were not applied to them: the recordings are haemoglobin "
            "concentrations computed elsewhere") in methods
    assert "Intensities were converted to optical density" not in methods
    assert "checked them for non-finite and flat signals" in html
    assert "data:image/png;base64" in html


def test_hbo_only_csv_study_end_to_end(tmp_path):
    root = hbo_study(tmp_path / "study", seconds=60.0)
    results, html = _run(root, tmp_path / "out")
    _check_haemoglobin_run(results, html)


def _mat_study(root: Path) -> Path:
    """The CSV study's signals as .mat files with a lab's own variable ``oxyData``, no
    channel names and the rate in study.toml."""
    hbo_study(root, seconds=60.0)
    text = (root / "study.toml").read_text()
    for csv in sorted((root / "recordings").glob("*.csv")):
        values = np.loadtxt(csv, delimiter=",", comments="#", skiprows=2)[:, 1:]
        scipy.io.savemat(csv.with_suffix(".mat"), {"oxyData": values})
        csv.unlink()
        text = text.replace(csv.name, csv.with_suffix(".mat").name)
    text = text.replace("[defaults]", '[defaults]\ntable = { data = "oxyData", signal = '
                                      '"hbo", sfreq = 10.0, unit = "uM" }')
    (root / "study.toml").write_text(text)
    return root


def test_mat_study_loads_and_validates_with_its_table_spec(tmp_path):
    from interbrain.validation import validate_study
    root = _mat_study(tmp_path / "study")
    study = load_study(root)
    assert study.analysis.signals == ("hbo",)
    report = validate_study(root)
    assert report.ok, report.summary()
    assert set(report.recordings_frame()["n_channels"]) == {3}


def test_hbo_only_mat_study_with_named_variable_end_to_end(tmp_path):
    results, html = _run(_mat_study(tmp_path / "study"), tmp_path / "out")
    _check_haemoglobin_run(results, html)
    assert set(results.synchrony["pair"]) == {"ch1", "ch2", "ch3"}


def test_crop_is_applied_and_recorded(tmp_path, monkeypatch):
    root = hbo_study(tmp_path / "study", n_dyads=2, n_sessions=2,
                     extra="crop = [10.0, 70.0]")
    toml = root / "study.toml"
    toml.write_text(toml.read_text().replace("familiarity = false", "familiarity = true"))
    seen = {}   # pairing kind -> lengths in seconds of the recordings it pairs

    def spy(pairings, recordings, *args, **kwargs):
        for p in pairings:
            seen.setdefault(p.pairing, set()).update(
                recordings[k].n_times / recordings[k].sfreq
                for k in (p.therapist.key, p.patient.key))
        return pairings_synchrony(pairings, recordings, *args, **kwargs)

    monkeypatch.setattr(graph, "pairings_synchrony", spy)
    results, _ = _run(root, tmp_path / "out")
    retained = results.retained
    np.testing.assert_allclose(retained["minutes_analysed"], 1.0)
    assert set(retained["crop"]) == {"[10, 70]"}
    steps = [s for chain in results.steps.values() for s in chain if s["step"] == "crop"]
    assert steps and all(s["seconds"] == 60.0 for s in steps)
    # real, pseudo and familiarity pairings all pair the cropped 60 s of each recording
    assert set(seen) == {"real", "pseudo", "familiarity"}
    assert all(lengths == {60.0} for lengths in seen.values()), seen


def test_fisher_z_changes_pearson_values_to_atanh(tmp_path):
    root = hbo_study(tmp_path / "study", n_dyads=2, n_sessions=1, seconds=60.0)
    text = (root / "study.toml").read_text()
    runs = {}
    for fisher in (False, True):
        (root / "study.toml").write_text(text.replace(
            "[analysis]", f'[analysis]\nmetrics = ["pearson"]\nfisher_z = '
                          f'{"true" if fisher else "false"}'))
        results, _ = _run(root, tmp_path / f"out{fisher}")
        runs[fisher] = results.synchrony.sort_values(
            ["dyad", "partner_dyad", "session", "pair", "pairing"])["value"].to_numpy()
    np.testing.assert_allclose(runs[True], np.arctanh(runs[False]), rtol=1e-10)
