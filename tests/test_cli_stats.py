"""``interbrain stats``: the statistics stage alone on a synchrony table computed
elsewhere. It reproduces a run's models from the run's own table (Parquet, CSV, a
study.toml without recordings), says in methods.md and report.html that the synchrony
was computed elsewhere, and refuses a bad table with one message naming the file, the
line and the column, before making any results folder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from interbrain.cli import main
from interbrain.stats.synchrony_table import PAIRINGS, read_synchrony_table

NUMBERS = ["estimate", "std_error", "df", "t", "p", "ci_low", "ci_high"]


def _stats(study: Path, table: Path, out: Path, *more) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["stats", str(study), "--synchrony", str(table),
                                       "--out", str(out), "--quiet", *map(str, more)])
    return result.exit_code, result.output


def _rows(models: pd.DataFrame, model: str) -> pd.DataFrame:
    rows = models[models["model"] == model].sort_values(["signal", "metric", "term"])
    return rows.reset_index(drop=True)


def _same(a: pd.DataFrame, b: pd.DataFrame, model: str) -> None:
    x, y = _rows(a, model), _rows(b, model)
    assert len(x) and len(x) == len(y), model
    assert x[["signal", "metric", "term", "formula", "n_obs", "n_groups"]].equals(
        y[["signal", "metric", "term", "formula", "n_obs", "n_groups"]])
    np.testing.assert_allclose(x[NUMBERS].to_numpy(float), y[NUMBERS].to_numpy(float),
                               rtol=0, atol=1e-10, equal_nan=True)


@pytest.fixture(scope="module")
def design_only(tiny_study, tmp_path_factory) -> Path:
    """The tiny study's study.toml without [[sessions]] (no recordings) and its
    measures.csv."""
    folder = tmp_path_factory.mktemp("design") / "study"
    folder.mkdir()
    text = (tiny_study / "study.toml").read_text()
    text = re.sub(r"\[\[sessions\]\]\n(?:[^\n\[].*\n|\n)*", "", text)
    assert "[[sessions]]" not in text and "recordings/" not in text
    (folder / "study.toml").write_text(text)
    shutil.copy(tiny_study / "measures.csv", folder / "measures.csv")
    return folder


def test_the_runs_table_reproduces_its_models(tiny_run, tiny_study, tmp_path):
    out = tmp_path / "out"
    code, output = _stats(tiny_study, tiny_run / "synchrony.parquet", out)
    assert code == 0, output
    run = pd.read_parquet(tiny_run / "models.parquet")
    alone = pd.read_parquet(out / "models.parquet")
    for model in ("growth", "plasticity", "real_vs_pseudo"):
        _same(run, alone, model)
    assert sorted(set(alone["model"])) == sorted(set(run["model"]))
    assert not {"qc.parquet", "retained.parquet", "preprocessing.json"} & {
        p.name for p in out.iterdir()}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["study"]["recordings"] == {}
    assert manifest["study"]["synchrony_table"]["path"] == str(
        (tiny_run / "synchrony.parquet").resolve())
    methods = (out / "methods.md").read_text()
    assert "was not computed by interbrain: it was computed elsewhere and read from " \
           "`synchrony.parquet` (SHA-256 " in methods
    for word in ("optical density", "Beer-Lambert", "TDDR", "scalp coupling", "MNE",
                 "recorded with", "cropped"):
        assert word not in methods, word
    page = (out / "report.html").read_text()
    assert "synchrony computed elsewhere (synchrony.parquet)." in page
    assert "interbrain read no recording" in page
    assert "Beer-Lambert" not in page and "band 5.0" not in page


def test_csv_table_and_a_study_without_recordings(tiny_run, design_only, tmp_path):
    table = tmp_path / "sync.csv"
    pd.read_parquet(tiny_run / "synchrony.parquet").to_csv(table, index=False)
    code, output = _stats(design_only, table, tmp_path / "out")
    assert code == 0, output
    run = pd.read_parquet(tiny_run / "models.parquet")
    alone = pd.read_parquet(tmp_path / "out" / "models.parquet")
    for model in ("growth", "plasticity", "real_vs_pseudo"):
        _same(run, alone, model)


def test_session_level_table_without_pair_and_metric(tiny_run, design_only, tmp_path):
    """Real rows averaged over channel pairs, no pair or metric column: the same growth
    rows (session synchrony is that mean); no null, so no plasticity test."""
    sync = pd.read_parquet(tiny_run / "synchrony.parquet")
    real = (sync[sync["pairing"] == "real"]
            .groupby(["dyad", "session", "signal", "pairing"], as_index=False)["value"].mean())
    table = tmp_path / "sessions.csv"
    real.to_csv(table, index=False)
    code, output = _stats(design_only, table, tmp_path / "out")
    assert code == 0, output
    run = pd.read_parquet(tiny_run / "models.parquet")
    alone = pd.read_parquet(tmp_path / "out" / "models.parquet")
    _same(run, alone, "growth")
    assert "plasticity" not in set(alone["model"])
    assert "The table held no null pairings" in (tmp_path / "out" / "methods.md").read_text()


def _bad(tiny_run, design_only, tmp_path, change) -> str:
    """The message of ``interbrain stats`` on the run's table (as CSV) changed by
    ``change(frame) -> frame``; no results folder."""
    frame = change(pd.read_parquet(tiny_run / "synchrony.parquet"))
    table = tmp_path / "bad.csv"
    frame.to_csv(table, index=False)
    out = tmp_path / "out"
    code, output = _stats(design_only, table, out)
    assert code == 1, output
    assert not out.exists()
    (line,) = [ln for ln in output.splitlines() if ln.startswith("Error: ")]
    return line.removeprefix("Error: ").replace(str(table), "TABLE")


def test_bad_tables_are_refused_naming_file_line_and_column(tiny_run, design_only,
                                                            tmp_path):
    def edit(row, column, value):
        def change(frame):
            frame = frame.astype({column: object})
            frame.loc[row, column] = value
            return frame
        return change

    msg = _bad(tiny_run, design_only, tmp_path, lambda f: f.rename(columns={"value": "vaule"}))
    assert msg.startswith("TABLE: column(s) value missing (columns: dyad, partner_dyad, "
                          "session, partner_session, signal, pairing, pair,")
    msg = _bad(tiny_run, design_only, tmp_path, lambda f: f.assign(note="x"))
    assert msg.startswith("TABLE: unknown column 'note'; a synchrony table has dyad, "
                          "session, signal, pairing, value and may have partner_dyad,")
    assert _bad(tiny_run, design_only, tmp_path, edit(3, "value", np.nan)) == \
        "TABLE: line 5, column value: empty (NaN)"
    assert _bad(tiny_run, design_only, tmp_path, edit(0, "value", "high")) == \
        "TABLE: line 2, column value: 'high' is not a finite number"
    assert _bad(tiny_run, design_only, tmp_path, edit(6, "dyad", "D9")) == \
        "TABLE: line 8, column dyad: dyad 'D9' is not a dyad of study.toml ([[dyads]]: " \
        "D01, D02)"
    assert _bad(tiny_run, design_only, tmp_path, edit(2, "session", "1.5")) == \
        "TABLE: line 4, column session: '1.5' is not a whole number >= 1"
    assert _bad(tiny_run, design_only, tmp_path, edit(1, "pairing", "shuffled")) == \
        ("TABLE: line 3, column pairing: 'shuffled' is not one of "
         + ", ".join(PAIRINGS))
    assert _bad(tiny_run, design_only, tmp_path, edit(1, "signal", "HbO")).startswith(
        "TABLE: line 3, column signal: 'HbO' is not one of hbo, hbr")
    assert _bad(tiny_run, design_only, tmp_path, edit(0, "partner_dyad", "D02")) == \
        ("TABLE: line 2, column partner_dyad: a real row pairs its own dyad's recordings: "
         "'D02' is not its dyad 'D01'")
    msg = _bad(tiny_run, design_only, tmp_path,
               lambda f: pd.concat([f, f.iloc[[4]]], ignore_index=True))
    assert re.fullmatch(r"TABLE: lines 6 and \d+: the same row twice \(dyad 'D0\d', "
                        r"partner_dyad 'D0\d', session \d, partner_session \d, "
                        r"signal 'hb.', pairing 'pseudo', metric 'wtc', pair 'S\d_D\d'\)",
                        msg), msg

    def pseudo_without_partner(frame):
        frame = frame.astype({"partner_dyad": object})
        row = frame.index[frame["pairing"] == "pseudo"][0]
        frame.loc[row, "partner_dyad"] = None
        return frame
    msg = _bad(tiny_run, design_only, tmp_path, pseudo_without_partner)
    assert re.fullmatch(r"TABLE: line \d+, column partner_dyad: empty on a pseudo row: it "
                        r"names the dyad of the patient recording", msg), msg


def test_parquet_rows_are_named_and_formats_checked(tiny_run, tmp_path):
    frame = pd.read_parquet(tiny_run / "synchrony.parquet")
    frame.loc[2, "value"] = np.inf
    bad = tmp_path / "bad.parquet"
    frame.to_parquet(bad)
    with pytest.raises(Exception, match=re.escape(f"{bad}: row 3, column value: ")):
        read_synchrony_table(bad)
    other = tmp_path / "table.xlsx"
    other.write_text("x")
    with pytest.raises(Exception, match="a .csv, .tsv or .parquet file"):
        read_synchrony_table(other)
    table = read_synchrony_table(tiny_run / "synchrony.parquet")
    assert list(table.index[:3]) == [1, 2, 3]


def test_segment_rows_are_accepted_beside_whole_session_rows(tiny_run, design_only,
                                                             tmp_path):
    """Rows of two segment labels beside the whole-session rows: the whole-session
    models are the run's; segment-only pairings need a segment."""
    sync = pd.read_parquet(tiny_run / "synchrony.parquet")
    rng = np.random.default_rng(0)
    parts = [sync.assign(segment="")]
    for label in ("talk", "rest"):
        parts.append(sync.assign(segment=label,
                                 value=sync["value"] + 0.05 * rng.standard_normal(len(sync))))
    table = tmp_path / "segments.csv"
    pd.concat(parts, ignore_index=True).to_csv(table, index=False)
    code, output = _stats(design_only, table, tmp_path / "out")
    assert code == 0, output
    _same(pd.read_parquet(tiny_run / "models.parquet"),
          pd.read_parquet(tmp_path / "out" / "models.parquet"), "growth")
    assert ", and segments rest, talk." in (tmp_path / "out" / "methods.md").read_text()
    bad = sync.assign(pairing="segment_shuffle")
    bad.to_csv(table, index=False)
    code, output = _stats(design_only, table, tmp_path / "out2")
    assert code == 1
    assert f"{table}: line 2, column pairing: 'segment_shuffle' rows need a segment" in output
