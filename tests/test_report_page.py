"""The report a researcher can put in a paper (issue 18): findings first with every
number equal to its row of models.parquet, tables for people (APA numbers, no
None/NA/nan cells, human labels), outcome figures that draw the fitted models, vector
figure files at journal widths, and user text escaped.

One small simulated study (4 dyads x 3 sessions, so the outcome models are fitted)
with a hostile measure name and study name, run once for the module.
"""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

import markupsafe
import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from interbrain.report.apa import (apa_ci, apa_df, apa_number, apa_p, apa_p_clause,
                                   decimals_for)
from interbrain.report.figure_files import (JOURNAL_WIDTHS_MM, PRINT_STYLE, figure_files,
                                           report_figures)
from interbrain.report.html import signal_results, signal_units
from interbrain.report.figures_models import (partial_residuals, outcome_data,
                                              outcome_figure, outcome_rows, outcome_title)
from interbrain.report.methods import methods_text, sessions_recorded_text
from interbrain.report.montage import montage_positions, pair_effects, spatial_figure
from interbrain.report.prose import markdown_html, results_paragraph
from interbrain.report.summary import design_notes, exploratory_findings, findings
from interbrain.report.tables import human_table
from interbrain.stats.outcome_models import fit_outcome_ladder

HOSTILE_MEASURE = 'well<img src=x onerror="alert(2)">being & co'
HOSTILE_NAME = 'Study <script>alert("name")</script> & \'quotes\''


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(results, html) of the small study with hostile names."""
    from interbrain.engine import run_study
    from interbrain.simulate import simulate_study
    from interbrain.study import load_study
    root = tmp_path_factory.mktemp("report-page")
    study_dir = simulate_study(root / "study", preset="demo", n_dyads=3, n_sessions=3,
                               minutes=1, band=(5.0, 15.0), n_channels=4, seed=1)
    measures = study_dir / "measures.csv"
    quoted = '"' + HOSTILE_MEASURE.replace('"', '""') + '"'
    measures.write_text(measures.read_text().replace("wellbeing", quoted, 1))
    toml = study_dir / "study.toml"
    name = HOSTILE_NAME.replace("\\", "\\\\").replace('"', '\\"')
    toml.write_text(re.sub(r'(?m)^name = ".*"$', lambda m: f'name = "{name}"',
                           toml.read_text(), count=1))
    study = load_study(study_dir)
    assert HOSTILE_MEASURE in study.measure_columns and study.name == HOSTILE_NAME
    results = run_study(study, root / "out", n_workers=1, scheduler="threads")
    return results, (root / "out" / "report.html").read_text(encoding="utf-8")


class _Cells(HTMLParser):
    """Every table (its header and rows of cell texts) and every <script> tag."""

    def __init__(self):
        super().__init__()
        self.tables, self.scripts, self._in = [], 0, False
        self._buf, self._row = [], None

    @property
    def cells(self) -> list[str]:
        return [c for header, rows in self.tables for c in header + sum(rows, [])]

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        elif tag == "table":
            self.tables.append(([], []))
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._in, self._buf = True, []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._in:
            self._row.append("".join(self._buf).strip())
            self._in = False
        elif tag == "tr" and self.tables and self._row is not None:
            header, rows = self.tables[-1]
            if not header:
                header.extend(self._row)
            else:
                rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in:
            self._buf.append(data)

    def column(self, label: str) -> list[str]:
        """The cells of every column headed ``label``."""
        return [row[header.index(label)] for header, rows in self.tables
                if label in header for row in rows if len(row) == len(header)]


def _row(models: pd.DataFrame, key: dict) -> pd.Series:
    keep = np.ones(len(models), bool)
    for column, value in key.items():
        keep &= models[column].astype(str).to_numpy() == value
    assert keep.sum() == 1, key
    return models[keep].iloc[0]


_NUMBER = r"[\u2212+-]?\d+(?:\.\d+)?"


def _value(text: str) -> float:
    return float(text.replace("\u2212", "-"))


def _close(shown: str, value: float) -> bool:
    """``shown`` is ``value`` at the decimals shown."""
    decimals = len(shown.partition(".")[2])
    return abs(_value(shown) - value) <= 0.5 * 10 ** -decimals + 1e-12


def test_findings_numbers_equal_their_rows(run):
    """Each number of each finding equals its row of models.parquet (as read back from
    the StudyResults tables): estimate, CI bounds, p-values, df and t."""
    results, page = run
    models = results.tables()["models.parquet"]
    items = findings(results) + exploratory_findings(results)
    assert [f.row["model"] for f in findings(results)] == ["plasticity", "outcome:symptoms"]
    for finding in items:
        row = _row(models, finding.key)
        numbers = re.findall(rf"(?<![\w(]){_NUMBER}(?![\w)])", finding.text)
        # estimate first, then the CI
        est, low, high = numbers[:3]
        assert _close(est, row["estimate"]) and _close(low, row["ci_low"]) \
            and _close(high, row["ci_high"]), (finding.text, row.to_dict())
        if finding.row["model"] == "plasticity":
            assert apa_p_clause(row["p_family"], "permutation p") in finding.text
            assert apa_p_clause(row["p_adjusted"], "Holm-adjusted p") in finding.text
        elif finding.row["model"].startswith("outcome:"):
            assert f"t({apa_df(row['df'])}) = {apa_number(row['t'], 2)}" in finding.text
            assert apa_p_clause(row["p_family"]) in finding.text
        # the page shows the same sentence, escaped, linked to its section
        assert str(markupsafe.escape(finding.text)) in page
        assert f'href="#{finding.anchor}"' in page and f'id="{finding.anchor}"' in page


def test_findings_come_first_and_notes_say_what_was_done(run):
    results, page = run
    assert page.index('id="findings"') < page.index('id="confirmatory"') \
        < page.index('id="design-notes"') < page.index('id="hbo-wtc"')
    notes = design_notes(results)
    singular = [n for n in notes if n.title.startswith("Singular fit")]
    assert singular and all(n.action for n in singular)
    assert "What was done:" in page
    # every recorded note is still on the page, as recorded
    for note in results.notes:
        assert str(markupsafe.escape(note)) in page


def test_tables_are_for_people(run):
    results, page = run
    parser = _Cells()
    parser.feed(page)
    bad = [c for c in parser.cells if c in ("None", "nan", "NaN", "<NA>", "NA", "null")
           or re.search(r"\bnan\b|\bNone\b|<NA>", c)]
    assert not bad, bad[:10]
    for raw in ("std_error", "p_equivalence", "var1", "vcov", "sdcor", "ci_low"):
        assert f"<th>{raw}</th>" not in page, raw
    for label in ("Estimate", "SE", "95 % CI", "df", "t", "p", "\u03c7\u00b2"):
        assert f"<th>{label}</th>" in page, label
    # df printed as integers where integers, p without a leading zero
    df = parser.column("df")
    assert df and all(re.fullmatch(r"\d+|\d+\.\d\d|\u2014", c) for c in df), df
    assert any(re.fullmatch(r"\d+", c) for c in df)
    ps = [c for label in ("p", "p (Holm)", "p (permutation)", "p (test)", "p (equivalence)")
          for c in parser.column(label)]
    assert ps and all(re.fullmatch(r"< \.001|\.\d{3}|1\.000|\u2014", c) for c in ps), ps
    # the likelihood-ratio row has its chi-square
    lrt = results.models[results.models["model"].str.startswith("lrt:")]
    if len(lrt):
        assert apa_number(lrt["statistic"].iloc[0], 2) in page
    # the full terms table is collapsed, with every column as CSV
    start = page.index('<h2 id="models">')
    section = page[start:page.index("</details>\n</details>", start)]
    assert "<details><summary>Show the table" in section
    assert 'download="models.csv"' in section and "data:text/csv;base64," in section
    # every wide table scrolls inside its box
    assert page.count('<table') == page.count('<div class="scroll"><table')


def test_apa_numbers():
    assert apa_p(0.006) == ".006" and apa_p(0.0004) == "< .001" and apa_p(1.0) == "1.000"
    assert apa_p_clause(0.0004) == "p < .001" and apa_p_clause(0.04) == "p = .040"
    assert apa_df(38.0) == "38" and apa_df(7.548) == "7.55"
    assert apa_number(0.012, signed=True) == "+0.012"
    assert apa_ci(0.004, 0.0201) == "[0.004, 0.020]"
    assert apa_number(-4.514) == "\u22124.51" and apa_number(float("nan")) == "\u2014"
    frame = pd.DataFrame({"term": ["x"], "estimate": [np.nan], "ci_low": [None],
                          "ci_high": [1.0], "df": [pd.NA], "equivalent": [pd.NA],
                          "p": [0.0123]})
    table = str(human_table(frame))
    assert "nan" not in table and "None" not in table and "NA<" not in table
    assert "<td class=\"txt\">.012</td>" in table or ">.012<" in table


def test_outcome_figure_draws_the_fitted_model(run):
    """The added-variable panel's data are the model's data (a refit gives the
    estimate of models.parquet), its line is the estimate of the row, and its title
    carries the row's estimate, CI and p."""
    results, _ = run
    rows = outcome_rows(results.models, "hbo", "wtc")
    assert len(rows) == 4 and HOSTILE_MEASURE in {m.partition(":")[2] for m in rows["model"]}
    for _, row in rows.iterrows():
        measure = row["model"].partition(":")[2]
        data = outcome_data(results, "hbo", "wtc", measure)
        refit = fit_outcome_ladder("measure", data)
        assert refit.coefficients.loc["synchrony_within", "estimate"] == pytest.approx(
            row["estimate"], rel=1e-6, abs=1e-9)
        title = outcome_title(row)
        assert apa_number(row["estimate"]) in title.replace("+", "") or \
            apa_ci(row["ci_low"], row["ci_high"]).split(",")[0][1:] in title
        assert apa_p_clause(row["p"]) in title
        # partial residuals: the other fixed effects removed at the model's estimates
        fit = results.fit(row["model"], "hbo", "wtc")
        y = partial_residuals(data, fit.coefficients["estimate"])
        assert np.allclose(pd.Series(y).groupby(data["dyad"]).mean(), 0.0, atol=1e-9)
    fig = outcome_figure(results, "hbo", "wtc")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == [outcome_title(r) for _, r in rows.iterrows()]
    lines = [ax.get_lines()[0] for ax in fig.axes if ax.get_visible()]
    for line, (_, row) in zip(lines, rows.iterrows()):
        x, y = line.get_data()
        slope = (y[-1] - y[0]) / (x[-1] - x[0])
        assert slope == pytest.approx(row["estimate"], rel=1e-9)


def test_figure_files_at_journal_widths(run):
    results, _ = run
    assert {"plasticity_hbo_wtc", "outcomes_hbo_wtc", "trajectories_hbo_wtc",
            "real_vs_pseudo_hbo_wtc", "plasticity_hbr_wtc"} <= set(report_figures(results))
    files = figure_files(results, names=["outcomes_hbo_wtc"])
    names = set(files)
    assert len(names) == 2 * 2
    for mm in JOURNAL_WIDTHS_MM.values():
        for stem in ("outcomes_hbo_wtc",):
            assert f"{stem}_{mm}mm.svg" in names and f"{stem}_{mm}mm.pdf" in names
    svg = files["outcomes_hbo_wtc_85mm.svg"].decode()
    width = float(re.search(r'width="([\d.]+)pt"', svg).group(1))
    assert width == pytest.approx(85 / 25.4 * 72, rel=1e-3)
    assert files["outcomes_hbo_wtc_174mm.pdf"].startswith(b"%PDF")
    # user text in an SVG is escaped XML
    assert "<img src=x" not in svg and "onerror" in svg


def test_figure_files_per_signal_equal_the_full_results(run):
    """figure_files draws each signal and metric from the results reduced to them (as a
    worker gets them): the same pixels as drawn from the whole results; one map call per
    signal and metric, and the same files (their names) whichever map draws them."""
    results, _ = run
    full = report_figures(results)
    spatial = [n for n in full if n.startswith("spatial_")]
    for signal, metric in signal_units(results):
        tag = f"{signal}_{metric}"
        part = report_figures(signal_results(results, signal, metric),
                              units=[(signal, metric)],
                              positions=montage_positions(results) if spatial else None)
        assert set(part) <= set(full)
        assert {f"plasticity_{tag}", f"outcomes_{tag}", f"trajectories_{tag}"} <= set(part)
        for name in part:
            pixels = []
            for draws in (full, part):
                with matplotlib.rc_context(PRINT_STYLE):
                    fig = draws[name](85 / 25.4)
                    if fig is None:
                        pixels.append(None)
                        continue
                    canvas = FigureCanvasAgg(fig)
                    canvas.draw()
                    pixels.append(np.asarray(canvas.buffer_rgba()).copy())
            assert (pixels[0] is None and pixels[1] is None) or \
                np.array_equal(pixels[0], pixels[1]), name
    calls = []

    def recording_map(fn, *args):
        calls.append(len(args[0]))
        return map(fn, *args)

    names = ["plasticity_hbo_wtc", "trajectories_hbr_wtc"]
    files = figure_files(results, names=names, map=recording_map)
    assert calls == [len(signal_units(results))]
    assert set(files) == set(figure_files(results, names=names))


def test_user_strings_are_escaped(run):
    results, page = run
    parser = _Cells()
    parser.feed(page)
    assert parser.scripts == 1          # the report's own script, nothing injected
    assert "<script>alert(" not in page and "<img src=x" not in page
    assert str(markupsafe.escape(HOSTILE_NAME)) in page
    assert "well&lt;img src=x onerror=" in page


def test_methods_are_html_prose_and_results_a_paragraph(run):
    results, page = run
    start = page.index('<div class="methods-text" id="methods-text">')
    methods = page[start:page.index("</div>", start)]
    assert "<strong>Participants and recordings.</strong>" in methods and "<pre" not in methods
    # the Markdown of methods.md is still there, collapsed
    assert '<details><summary>The same as Markdown (methods.md)</summary><pre class="methods">' \
        in page
    assert str(markdown_html("**A.** x <b>y</b> `a*b*` *c*")) == (
        "<p><strong>A.</strong> x &lt;b&gt;y&lt;/b&gt; <code>a*b*</code> <em>c</em></p>")
    paragraph = results_paragraph(results)
    assert str(markupsafe.escape(paragraph)) in page
    for finding in findings(results):
        row = finding.row
        assert apa_ci(row["ci_low"], row["ci_high"],
                      decimals_for(row["estimate"], row["ci_low"], row["ci_high"])) in paragraph
        assert apa_p_clause(row["p_adjusted"]) in paragraph
    # (a run without recordings, statistics only, leaves the methods to its own page:
    # tests/test_cli_stats.py)


def test_spatial_figure_shows_the_per_pair_rows(run):
    """Channel pairs on the montage (positions from the recordings through MNE),
    coloured by the per-pair estimates of models.parquet, significant ones ringed."""
    results, page = run
    positions = montage_positions(results)
    assert positions is not None and len(positions) == 4
    assert (positions[["x", "y"]].abs().to_numpy() < np.pi).all()
    effects = pair_effects(results, "hbo", "wtc", "real_vs_pseudo_by_pair")
    assert len(effects) and (effects["channel_therapist"] == effects["channel_patient"]).all()
    fig = spatial_figure(results, "hbo", "wtc", "real_vs_pseudo_by_pair", positions=positions)
    ax = fig.axes[0]
    coloured = ax.collections[1]
    drawn = pd.Series(np.asarray(coloured.get_array(), dtype=float))
    rows = results.models.query("model == 'real_vs_pseudo_by_pair' and signal == 'hbo'")
    expected = effects.merge(positions, left_on="channel_therapist", right_on="channel")
    assert np.allclose(drawn, expected["estimate"], equal_nan=True)
    assert set(expected["estimate"].dropna()) <= set(rows["estimate"].dropna())
    ringed = len(ax.collections[2].get_offsets())
    assert ringed == int(expected["significant"].fillna(False).astype(bool).sum())
    assert "on the montage" in page


def test_methods_say_which_sessions_have_no_recording(run):
    results, _ = run
    study = results.study
    assert sessions_recorded_text(study) == "in every session"
    fewer = dataclasses.replace(study, sessions=study.sessions[1:])
    first = study.sessions[0]
    text = sessions_recorded_text(fewer)
    assert text == (f"in 8 of the 9 dyad-sessions of the design (3 dyads x 3 session "
                    f"numbers; no recording of {first.dyad} session {first.session})")
    assert "(Gramfort et al., 2013)" in methods_text(results)


def test_all_to_all_pairs_are_an_inter_brain_matrix(run):
    results, _ = run
    pairs = pd.DataFrame({"pair": ["S1_D1-S1_D1", "S1_D1-S2_D3", "S2_D3-S1_D1",
                                   "S2_D3-S2_D3"],
                          "channel_therapist": ["S1_D1", "S1_D1", "S2_D3", "S2_D3"],
                          "channel_patient": ["S1_D1", "S2_D3", "S1_D1", "S2_D3"]})
    models = pd.DataFrame({"model": "growth_by_pair", "signal": "hbo", "metric": "wtc",
                           "unit": pairs["pair"], "estimate": [0.1, -0.2, 0.3, np.nan],
                           "p_adjusted": [0.01, 0.5, 0.6, np.nan],
                           "significant": pd.array([True, False, False, pd.NA],
                                                   dtype="boolean")})
    fake = dataclasses.replace(results, models=models, synchrony=pairs)
    fig = spatial_figure(fake, "hbo", "wtc", "growth_by_pair")
    ax = fig.axes[0]
    matrix = ax.get_images()[0].get_array()
    assert np.allclose(np.ma.filled(matrix, np.nan), [[0.1, -0.2], [0.3, np.nan]],
                       equal_nan=True)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["S1_D1", "S2_D3"]
    assert len(ax.collections[0].get_offsets()) == 1     # one significant pair starred
