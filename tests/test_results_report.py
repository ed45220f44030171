"""Result types (interbrain.results) and the report's text, on conftest's tiny run."""

from __future__ import annotations

import dataclasses
import json
import re

import pandas as pd
import pytest

from interbrain.report import methods_text, report_html
from interbrain.results import ModelKey, StudyResults, SynchronyResults, fit_key


def test_model_key_reads_as_before_and_is_never_parsed():
    key = ModelKey("growth", "hbo", "wtc")
    assert str(key) == "growth[hbo/wtc]"
    assert fit_key("growth", "hbo", "wtc") == key
    assert ModelKey.of(("growth", "hbo", "wtc")) == key and ModelKey.of(key) is key
    assert {key: 1}[ModelKey("growth", "hbo", "wtc")] == 1
    with pytest.raises(TypeError, match="not a model key"):
        ModelKey.of("growth[hbo/wtc]")
    with pytest.raises(dataclasses.FrozenInstanceError):
        key.model = "outcome:x"
    assert sorted([ModelKey("outcome:a", "hbo", "wtc"), key]) == [
        key, ModelKey("outcome:a", "hbo", "wtc")]


def test_study_results_keeps_fits_by_model_key(tiny_results):
    assert isinstance(tiny_results, StudyResults)
    assert tiny_results.fits and all(isinstance(k, ModelKey) for k in tiny_results.fits)
    growth = tiny_results.fits_of("growth")
    assert set(growth) == {ModelKey("growth", s, m)
                           for s in tiny_results.study.analysis.signals
                           for m in tiny_results.study.analysis.metrics}
    assert tiny_results.fit("growth", "hbo", "wtc") is growth[ModelKey("growth", "hbo", "wtc")]
    assert tiny_results.fit("growth", "hbo", "no such metric") is None
    # tuples given by a statistics stage become ModelKeys
    again = dataclasses.replace(tiny_results, fits={("growth", "hbo", "wtc"): "fit"})
    assert again.fits == {ModelKey("growth", "hbo", "wtc"): "fit"}


def test_results_present_themselves(tiny_results):
    assert tiny_results.to_frame() is tiny_results.models
    summary = tiny_results.summary()
    assert "2 dyad(s), 4 dyad-session(s)" in summary
    assert "growth[hbo/wtc]" in summary and "growth" in summary
    stage = SynchronyResults(tiny_results.synchrony, tiny_results.qc, tiny_results.steps,
                             tiny_results.summaries, retained=tiny_results.retained)
    assert stage.to_frame() is tiny_results.synchrony
    assert "real pairings: 2 dyad(s), 4 dyad-session(s)" in stage.summary()


def test_tables_are_the_parquet_files_of_a_run(tiny_results, tiny_run):
    tables = tiny_results.tables()
    assert set(tables) == {p.name for p in tiny_run.glob("*.parquet")}
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame.reset_index(drop=True),
                                      pd.read_parquet(tiny_run / name), check_dtype=False)
    record = json.loads(tiny_results.preprocessing_record())
    assert record == json.loads((tiny_run / "preprocessing.json").read_text())


def test_report_functions_return_text_and_write_nothing(tiny_results, tmp_path,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    methods = methods_text(tiny_results)
    html = report_html(tiny_results)
    assert list(tmp_path.iterdir()) == []
    assert methods.startswith("# Methods") and "Satterthwaite" in methods
    assert "`synchrony ~ session + (1 | dyad)`" in methods
    assert html.lstrip().lower().startswith("<!doctype html")
    assert html.count("data:image/png;base64,") >= 3
    assert "Growth of synchrony" in html


def test_models_record_each_mixed_model_s_health(tiny_results):
    """df method, singular flag and convergence of every mixed-model row, equal to the
    fit's own; missing for rows that are not mixed models."""
    models = tiny_results.models
    assert {"df_method", "singular", "converged"} <= set(models.columns)
    for key, fit in tiny_results.fits_of("growth").items():
        rows = models[(models["model"] == "growth") & (models["signal"] == key.signal)
                      & (models["metric"] == key.metric)]
        assert len(rows) == len(fit.coefficients)
        assert set(rows["df_method"]) == {"Satterthwaite"}
        assert set(rows["singular"]) == {bool(fit.singular)}
        assert set(rows["converged"]) == {bool(fit.converged)}
    others = models[models["model"].str.startswith("real_vs_")]
    assert len(others) and others["singular"].isna().all()


def _singular_fits(text: str) -> set[str]:
    found = re.search(r"The growth fit of (.+?) was singular", text)
    return set(found.group(1).split(", ")) if found else set()


def test_methods_say_when_a_growth_fit_is_singular(tiny_results):
    fits = dict(tiny_results.fits)
    expected = {f"{k.signal.replace('hb', 'Hb').replace('o', 'O').replace('r', 'R')}/"
                f"{k.metric}" for k, f in tiny_results.fits_of("growth").items()
                if f.singular}
    assert _singular_fits(methods_text(tiny_results)) == expected
    key = ModelKey("growth", "hbo", "wtc")
    fit = fits[key]
    flipped = type(fit)(**{**vars(fit), "singular": not fit.singular})
    other = methods_text(dataclasses.replace(tiny_results, fits={**fits, key: flipped}))
    assert _singular_fits(other) == expected ^ {"HbO/wtc"}
