"""The worker pool of a run on processes and the inputs' digests.

- A run on the "processes" scheduler starts its workers before it hashes the inputs
  and builds the graph, fits the statistics and draws the report partly on them, with
  the tables and the page of the serial path bit for bit, and leaves no worker behind,
  whether it succeeded or failed.
- Every input is hashed once per run (manifest and cache keys alike); a file changed
  since is hashed again; the cache key is the same either way.
"""

from __future__ import annotations

import collections
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from interbrain.engine import run_study
from interbrain.engine import digests as digests_module
from interbrain.engine import manifest as manifest_module
from interbrain.engine import run as run_module
from interbrain.engine.digests import current_digest, digest_inputs
from interbrain.engine.graph import recording_key
from interbrain.engine.manifest import input_digest, input_files
from interbrain.engine.pool import WorkerPool, dumps
from interbrain.report import report_html
from interbrain.results import ModelKey
from interbrain.stats import lmer
from interbrain.stats.pairing_simulation import simulate_pairings
from interbrain.stats.primary import PrimarySettings
from interbrain.stats.settings import StatisticsSettings
from interbrain.stats.study_models import ModelInputs, fit_models
from interbrain.study import load_study


#: The tiny study's design (tests/conftest.py).
TINY = dict(n_dyads=2, n_sessions=2, minutes=1, band=(5.0, 15.0), n_channels=4, seed=1)


def _workers() -> set[int]:
    """PIDs of this process's children but multiprocessing's resource tracker (which
    lives as long as this process)."""
    pids = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(
                    p.cmdline()):
                pids.add(p.pid)
        except psutil.Error:   # exited meanwhile
            continue
    return pids


def _page(html: str) -> str:
    """The report without what changes from one run to the next (time of creation,
    run time)."""
    html = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "", html)
    return re.sub(r'<p class="note">Run time:[^<]*</p>', "", html)


def _primary_region(study: Path) -> Path:
    """``study`` with its primary unit restricted to a region (a job of its own)."""
    toml = study / "study.toml"
    text = toml.read_text()
    assert 'measures = ["symptoms"]' in text and '"S1_D1" = "medial_pfc"' in text
    toml.write_text(text.replace('measures = ["symptoms"]',
                                 'measures = ["symptoms"]\nregion = "medial_pfc"', 1))
    return study


def test_processes_run_the_serial_statistics_and_report(tiny_study_copy, tiny_cache,
                                                        tmp_path, monkeypatch):
    seen, before = [], _workers()
    describe = run_module.describe_study

    def counting(*args, **kwargs):
        seen.append(len(_workers() - before))
        return describe(*args, **kwargs)

    monkeypatch.setattr(run_module, "describe_study", counting)
    study = load_study(_primary_region(tiny_study_copy))
    out = tmp_path / "out"
    results = run_study(study, out, scheduler="processes", n_workers=2, cache_dir=tiny_cache)
    assert seen == [2]            # the workers started before the inputs were described
    assert _workers() - before == set()   # and were shut down after the run
    models = results.models
    assert (models["model"] == "plasticity").any()
    assert (models["scope"] == "region medial_pfc").any()
    # the serial path (Python's map) on the same synchrony gives the same, bit for bit
    serial = fit_models(study, results.synchrony)
    for name in ("models", "sessions", "slopes", "null_summary", "null_tests"):
        pd.testing.assert_frame_equal(getattr(results, name), getattr(serial, name),
                                      check_exact=True)
    assert results.notes == serial.notes
    assert list(results.fits) == [ModelKey.of(key) for key in serial.fits]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert _page(page) == _page(report_html(results))


def test_outcome_models_on_workers_equal_the_serial_ones():
    """Every kind of confirmatory-family job (plasticity against two nulls, outcome
    models, the primary unit's) fitted on worker processes: the serial tables."""
    study = simulate_pairings(6, 4, effect=0.02, n_therapists=2, seed=5, familiarity=True,
                              measure="symptoms")
    one = study.pairings.rename(columns={"synchrony": "value"}).assign(
        metric="wtc", pair="S1_D1-S1_D1")
    synchrony = pd.concat([one.assign(signal="hbo"), one.assign(signal="hbr")],
                          ignore_index=True)
    design = study.sessions[["dyad", "session", "therapist"]].assign(
        patient=lambda d: "P" + d["dyad"])
    settings = StatisticsSettings(n_permutations=99, n_bootstrap=99, compare=False,
                                  pairwise=(), seed=3, sesoi=0.3,
                                  primary=PrimarySettings(pairs=("S1_D1-S1_D1",)))
    inputs = ModelInputs(settings=settings, design=design, measures=study.measures,
                         measure_columns=("symptoms",), signals=("hbo", "hbr"),
                         metrics=("wtc",), pseudo_dyads=True,
                         dyads=design.drop_duplicates("dyad")[["dyad", "therapist",
                                                               "patient"]])
    with WorkerPool(2).start() as pool:
        parallel = fit_models(inputs, synchrony, map=pool.map)
    serial = fit_models(inputs, synchrony)
    models = serial.models
    assert {"plasticity", "plasticity:familiarity", "outcome:symptoms"} <= set(models["model"])
    assert (models["scope"] != "all pairs").any()
    for name in ("models", "sessions", "slopes", "null_summary", "null_tests", "excess"):
        pd.testing.assert_frame_equal(getattr(parallel, name), getattr(serial, name),
                                      check_exact=True)
    assert parallel.notes == serial.notes and list(parallel.fits) == list(serial.fits)


def test_a_failing_run_shuts_its_workers_down(tiny_study, tiny_cache, tmp_path,
                                              monkeypatch):
    """The report fails after the statistics ran on the worker: none is left."""
    def broken(*args, **kwargs):
        raise RuntimeError("report failed")

    monkeypatch.setattr(run_module, "report_html", broken)
    before = _workers()
    with pytest.raises(RuntimeError, match="report failed"):
        run_study(load_study(tiny_study), tmp_path / "out", scheduler="processes",
                  n_workers=1, cache_dir=tiny_cache)
    assert _workers() - before == set()
    assert not (tmp_path / "out" / "models.parquet").exists()


def test_every_input_is_hashed_once_per_run(tiny_study, tiny_cache, tmp_path, monkeypatch):
    hashed = collections.Counter()

    def counting(path):
        hashed[str(path)] += 1
        return input_digest(path)

    monkeypatch.setattr(digests_module, "input_digest", counting)
    monkeypatch.setattr(manifest_module, "input_digest", counting)
    study = load_study(tiny_study)
    run_study(study, tmp_path / "out", scheduler="threads", n_workers=1,
              cache_dir=tiny_cache)
    inputs = [str(f) for f in input_files(study)]
    assert len(inputs) == 2 * TINY["n_dyads"] * TINY["n_sessions"]   # two people each
    assert hashed == collections.Counter(inputs)


def test_a_changed_input_is_hashed_again(tmp_path, monkeypatch):
    path = tmp_path / "recording.snirf"
    path.write_bytes(b"first version")
    known = digest_inputs([path])
    assert known[str(path)].sha256 == input_digest(path)
    # unchanged: the known digest, not hashed again
    monkeypatch.setattr(digests_module, "input_digest", pytest.fail)
    assert current_digest(path, known) == known[str(path)].sha256
    monkeypatch.undo()
    path.write_bytes(b"second, longer version")
    assert current_digest(path, known) == input_digest(path) != known[str(path)].sha256
    assert current_digest(path) == input_digest(path)
    assert digest_inputs([tmp_path / "missing.snirf"]) == {}   # the task reports it


def test_the_cache_key_is_the_same_with_or_without_digests(tiny_study):
    study = load_study(tiny_study)
    session = study.sessions[0]
    ref, partner = session.therapist, session.patient
    given = recording_key(ref, partner, study.preprocessing,
                          digest_inputs(input_files(study)))
    assert given == recording_key(ref, partner, study.preprocessing)
    other = recording_key(partner, ref, study.preprocessing)
    assert other != given


def test_fitted_models_travel_between_processes():
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"dyad": np.repeat(np.arange(6), 4), "session": np.tile(
        np.arange(4), 6)})
    data["y"] = 0.3 * data["session"] + rng.normal(size=6)[data["dyad"]] + rng.normal(
        size=len(data))
    fit = lmer("y ~ session + (1 | dyad)", data)
    copy = pickle.loads(dumps(fit))
    pd.testing.assert_frame_equal(copy.coefficients, fit.coefficients, check_exact=True)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        dumps(lambda: 0)
