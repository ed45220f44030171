"""Nothing changes silently: what each dyad-session contributed is stated everywhere.

One small simulated study (4 dyads x 3 sessions, 1-minute recordings, 4 channels,
10 Hz) is changed so that every way a run alters or leaves out data happens once:

- dyad D03's session 3 has no row in ``measures.csv``;
- dyad D02's session 1 has no value of ``alliance``;
- D01's session-1 patient was recorded at 20 Hz (copied from a 20-Hz simulation of
  the same design), so it is resampled to the common 10 Hz of session number 1;
- one good channel of D02's session-2 therapist is made flat, so quality control
  drops it (besides the one poorly coupled channel the simulation plants in every
  recording, listed in ``ground_truth.json``);
- D02's session-1 patient recording is cut to its first 45 s, so that session is
  analysed on the 45 s both partners recorded.

The study is run once (:func:`interbrain.engine.run_study`, threads, its
``"interbrain"`` log lines captured); the tests check ``retained.parquet``, the log,
the report, ``methods.md`` and the sample sizes of ``models.parquet`` against values
derived from this design.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import h5py
import mne
import numpy as np
import pandas as pd
import pytest

from interbrain.engine import run_study
from interbrain.retained import RETAINED_COLUMNS
from interbrain.simulate import simulate_study
from interbrain.simulate.montage import prefrontal_montage
from interbrain.study import load_study

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

DYADS, SESSIONS, CHANNELS = ("D01", "D02", "D03", "D04"), (1, 2, 3), 4
ROLES = ("therapist", "patient")
MEASURES = ("symptoms", "wellbeing", "session_quality", "alliance")
NO_ROW = ("D03", 3)                       # no measures.csv row
NO_ALLIANCE = ("D02", 1)                  # alliance left empty
FAST = ("D01", 1, "patient")              # recorded at 20 Hz
FLAT = ("D02", 2, "therapist")            # one good channel made flat
SHORT = ("D02", 1, "patient")             # cut to its first SHORT_SECONDS
SHORT_SECONDS = 45.0
N_SESSIONS = len(DYADS) * len(SESSIONS)   # dyad-sessions


def _rel(dyad: str, session: int, role: str) -> str:
    return f"recordings/{dyad}_ses-{session:02d}_{role}.snirf"


def _planted_bad(study: Path, rel: str) -> set[str]:
    """The channel the simulation made poorly coupled, by its name in the file.

    ``ground_truth.json`` names channels by the montage's optodes (``S5_D6``); MNE
    numbers a file's optodes from 1 (``S2_D4``), in the same channel order.
    """
    truth = json.loads((study / "ground_truth.json").read_text())
    raw = mne.io.read_raw_snirf(study / rel, verbose="ERROR")
    names = list(dict.fromkeys(ch.split(" ")[0] for ch in raw.ch_names))
    to_file = dict(zip(prefrontal_montage(CHANNELS).channels, names))
    return {to_file[ch] for ch in truth["recordings"][rel]["bad_channels"]}


def _rewrite(path: Path, name: str, data: np.ndarray) -> None:
    with h5py.File(path, "r+") as fh:
        del fh[name]
        fh[name] = data


def _build(root: Path) -> tuple[Path, dict]:
    """Write the study; return it and the channels quality control must drop."""
    study = simulate_study(root / "study", preset="demo", n_dyads=len(DYADS), n_sessions=len(SESSIONS),
                           minutes=1,
                           band=(5.0, 15.0), n_channels=CHANNELS, seed=1)
    fast = simulate_study(root / "fast", preset="demo", n_dyads=2, n_sessions=2, minutes=1,
                          band=(5.0, 15.0), n_channels=CHANNELS, seed=1, sfreq=20.0)
    bad = {(d, s, r): _planted_bad(study, _rel(d, s, r))
           for d in DYADS for s in SESSIONS for r in ROLES}
    shutil.copyfile(fast / _rel(*FAST), study / _rel(*FAST))
    bad[FAST] = _planted_bad(fast, _rel(*FAST))
    # a flat (constant) 760 nm row of the first channel that is not already bad
    path = study / _rel(*FLAT)
    raw = mne.io.read_raw_snirf(path, verbose="ERROR")
    names = list(dict.fromkeys(ch.split(" ")[0] for ch in raw.ch_names))
    victim = next(n for n in names if n not in bad[FLAT])
    column = raw.ch_names.index(f"{victim} 760")
    with h5py.File(path, "r+") as fh:
        data = fh["nirs/data1/dataTimeSeries"][()]
    data[:, column] = data[:, column].mean()
    _rewrite(path, "nirs/data1/dataTimeSeries", data)
    bad[FLAT] = bad[FLAT] | {victim}
    # the first 45 s of a recording
    path = study / _rel(*SHORT)
    with h5py.File(path, "r+") as fh:
        data, times = fh["nirs/data1/dataTimeSeries"][()], fh["nirs/data1/time"][()]
    keep = int(round(SHORT_SECONDS * 10.0))
    _rewrite(path, "nirs/data1/dataTimeSeries", data[:keep])
    _rewrite(path, "nirs/data1/time", times[:keep])
    # measures: one row removed, one cell emptied
    measures = pd.read_csv(study / "measures.csv")
    measures = measures[~((measures["dyad"] == NO_ROW[0])
                          & (measures["session"] == NO_ROW[1]))]
    measures["alliance"] = measures["alliance"].astype(object)
    measures.loc[(measures["dyad"] == NO_ALLIANCE[0])
                 & (measures["session"] == NO_ALLIANCE[1]), "alliance"] = ""
    measures.to_csv(study / "measures.csv", index=False)
    return study, bad


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    """The run's results folder, the channels QC must drop, and the run's log lines
    (level name, message) of the ``"interbrain"`` logger."""
    root = tmp_path_factory.mktemp("retained")
    study, bad = _build(root)
    out = root / "results"
    logger = logging.getLogger("interbrain")
    handler, level = _Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        run_study(load_study(study), out, scheduler="threads", n_workers=2)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    log = [(r.levelname, r.getMessage()) for r in handler.records]
    return {"out": out, "bad": bad, "log": log}


@pytest.fixture(scope="module")
def expected(run) -> pd.DataFrame:
    """The retained table this design must give, from the design alone."""
    bad = run["bad"]
    rows = []
    for dyad in DYADS:
        for session in SESSIONS:
            row = {"dyad": dyad, "session": session}
            for role in ROLES:
                key = (dyad, session, role)
                row[f"file_{role}"] = _rel(*key)
                row[f"channels_kept_{role}"] = CHANNELS - len(bad[key])
                row[f"channels_total_{role}"] = CHANNELS
                row[f"dropped_{role}"] = ", ".join(sorted(bad[key]))
                row[f"minutes_{role}"] = SHORT_SECONDS / 60 if key == SHORT else 1.0
                row[f"sfreq_{role}"] = 20.0 if key == FAST else 10.0
                row[f"resampled_{role}"] = key == FAST
            row["channel_pairs"] = CHANNELS - len(bad[(dyad, session, "therapist")]
                                                  | bad[(dyad, session, "patient")])
            row["minutes_analysed"] = min(row["minutes_therapist"], row["minutes_patient"])
            row["cut"] = (dyad, session) == SHORT[:2]
            row["sfreq_analysed"] = 10.0
            row["measures_row"] = (dyad, session) != NO_ROW
            missing = (MEASURES if (dyad, session) == NO_ROW
                       else ("alliance",) if (dyad, session) == NO_ALLIANCE else ())
            row["measures_present"] = ", ".join(m for m in MEASURES if m not in missing)
            row["measures_missing"] = ", ".join(missing)
            rows.append(row)
    return pd.DataFrame(rows)[RETAINED_COLUMNS]


def test_design_is_what_the_tests_assume(run):
    bad = run["bad"]
    # every recording has its planted bad channel; the flat one is an extra channel
    assert all(len(b) == 1 for key, b in bad.items() if key != FLAT)
    assert len(bad[FLAT]) == 2


def test_retained_table(run, expected):
    got = pd.read_parquet(run["out"] / "retained.parquet")
    assert list(got.columns) == RETAINED_COLUMNS
    got["dropped_therapist"] = got["dropped_therapist"].map(
        lambda s: ", ".join(sorted(s.split(", "))) if s else s)
    got["dropped_patient"] = got["dropped_patient"].map(
        lambda s: ", ".join(sorted(s.split(", "))) if s else s)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_exact=False,
                                  rtol=1e-9)


def test_retained_table_agrees_with_qc(run):
    """The channel counts are quality control's, and its reason for the flat channel."""
    qc = pd.read_parquet(run["out"] / "qc.parquet")
    got = pd.read_parquet(run["out"] / "retained.parquet")
    dyad, session, role = FLAT
    mine = qc[(qc["dyad"] == dyad) & (qc["session"] == session) & (qc["role"] == role)]
    assert mine["reason"].str.contains("flat").sum() == 1
    for role in ROLES:
        kept = (qc[qc["role"] == role].groupby(["dyad", "session"])["bad"]
                .apply(lambda b: int((~b).sum())))
        assert got.set_index(["dyad", "session"])[f"channels_kept_{role}"].to_dict() \
            == kept.to_dict()


def test_log_states_every_change(run):
    log = run["log"]
    bad = run["bad"]

    def has(level: str, pattern: str) -> int:
        return sum(lv == level and re.search(pattern, msg) is not None for lv, msg in log)

    assert has("WARNING", rf"^dyad {NO_ROW[0]}, session {NO_ROW[1]}: no row in "
                          r"measures\.csv") == 1
    assert has("WARNING", r"^dyad D02, session 1: measures\.csv has no value of "
                          r"alliance$") == 1
    assert has("WARNING", r"no row in measures|no value of") == 2
    assert has("INFO", r"^dyad D01, session 1: patient recording "
                       r"\(recordings/D01_ses-01_patient\.snirf\) resampled from 20 Hz to "
                       r"10 Hz") == 1
    assert has("INFO", r"^dyad .*resampled from") == 1
    assert has("WARNING", r"^dyad D02, session 1: cut to the overlap of its partners' "
                          r"recordings: 0\.75 minutes analysed \(therapist 1, patient 0\.75 "
                          r"minutes recorded\)$") == 1
    assert has("WARNING", r"cut to the overlap") == 1
    # one line per recording with dropped channels, naming them
    assert has("INFO", r"dropped by quality control") == len(bad)
    dyad, session, role = FLAT
    flat_line = [msg for lv, msg in log if msg.startswith(f"dyad {dyad}, session {session}: "
                                                          f"2 of 4 channels of the {role}")]
    assert len(flat_line) == 1
    assert all(ch in flat_line[0] for ch in bad[FLAT])
    # and the summary
    assert has("INFO", rf"^data retained: Of {N_SESSIONS} dyad-sessions, {N_SESSIONS - 1} "
                       "had a row") == 1


class _Table(HTMLParser):
    """The cells of the HTML table with a given id."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_report_has_the_retained_table(run, expected):
    html = (run["out"] / "report.html").read_text()
    assert "<h2 id=\"retained-data\">Data retained</h2>" in html
    parser = _Table("retained")
    parser.feed(html)
    header, *body = parser.rows
    table = pd.DataFrame(body, columns=header)
    assert len(table) == N_SESSIONS
    table = table.set_index(["dyad", "session"])
    for row in expected.itertuples(index=False):
        got = table.loc[(row.dyad, str(row.session))]
        assert got["therapist file"] == row.file_therapist
        assert got["patient file"] == row.file_patient
        assert got["therapist channels kept"] == f"{row.channels_kept_therapist} / 4"
        assert got["patient channels kept"] == f"{row.channels_kept_patient} / 4"
        assert got["channel pairs"] == str(row.channel_pairs)
        assert float(got["minutes analysed"]) == pytest.approx(row.minutes_analysed,
                                                               abs=0.005)
        assert float(got["patient minutes recorded"]) == pytest.approx(
            row.minutes_patient, abs=0.005)
        assert got["cut to overlap"] == ("yes" if row.cut else "")
        assert got["sampling rate (Hz)"] == ("10 (patient 20 \u2192 10)"
                                             if row.resampled_patient else "10")
        assert got["measures present"] == (row.measures_present if row.measures_row
                                           else "none (no measures.csv row)")


def test_methods_state_the_counts(run):
    methods = (run["out"] / "methods.md").read_text()
    n_bad = sum(len(b) for b in run["bad"].values())
    pairs = sum(CHANNELS - len(run["bad"][(d, s, "therapist")] | run["bad"][(d, s, "patient")])
                for d in DYADS for s in SESSIONS)
    text = " ".join(methods.split())
    assert (f"**Data retained.** Of {N_SESSIONS} dyad-sessions, {N_SESSIONS - 1} had a row "
            "of session measures (of these, alliance was missing for 1).") in text
    assert (f"Quality control dropped {n_bad} of {N_SESSIONS * 2 * CHANNELS} channels of the "
            f"sessions' recordings, leaving {pairs} channel pairs in {N_SESSIONS} "
            "dyad-sessions.") in text
    assert ("1 recording was resampled from 20 Hz to 10 Hz, the common rate of its session "
            "number.") in text
    assert ("1 session was cut to the overlap of its partners' recordings (shortest 0.75 of "
            "1 minutes).") in text


def test_models_have_sample_sizes(run):
    models = pd.read_parquet(run["out"] / "models.parquet")
    assert list(models.columns[11:13]) == ["n_obs", "n_groups"]
    assert models["n_obs"].notna().all() and models["n_groups"].notna().all()
    n_dyads = len(DYADS)

    def counts(model: str) -> set[tuple[int, int]]:
        rows = models[models["model"] == model]
        assert len(rows) > 0, f"no {model} rows"
        return set(zip(rows["n_obs"].astype(int), rows["n_groups"].astype(int)))

    # mixed models: the dyad-sessions fitted, and the dyads they come from
    assert counts("growth") == {(N_SESSIONS, n_dyads)}
    assert counts("lrt:quadratic_vs_linear") == {(N_SESSIONS, n_dyads)}
    # concurrent outcomes: sessions with a value of the measure
    assert counts("outcome:symptoms") == {(N_SESSIONS - 1, n_dyads)}
    assert counts("outcome:alliance") == {(N_SESSIONS - 2, n_dyads)}
    # cross-lagged models need 3 lagged pairs per dyad to centre and detrend: with 3
    # sessions (2 pairs) there are none (their counts: tests/test_mechanisms_stage.py)
    assert not models["model"].str.startswith("cross_lagged:").any()
    # tests over per-dyad summaries: one observation per dyad
    assert counts("prepost:symptoms") == {(n_dyads, n_dyads)}
    assert counts("prepost:alliance") == {(n_dyads, n_dyads)}
    assert counts("growth_permutation") == {(n_dyads, n_dyads)}
    assert counts("real_vs_pseudo") == {(n_dyads, n_dyads)}
    # per channel pair: the dyads whose pair was kept (both partners) in at least
    # two sessions, so that it has a growth slope
    bad = run["bad"]
    growth = models[models["model"] == "growth_by_pair"]
    assert len(growth) > 0
    for row in growth.itertuples(index=False):
        kept = {d: sum(row.unit not in bad[(d, s, "therapist")] | bad[(d, s, "patient")]
                       for s in SESSIONS) for d in DYADS}
        n = sum(k >= 2 for k in kept.values())
        assert (row.n_obs, row.n_groups, row.n_dyads) == (n, n, n), row.unit
    versus = models[models["model"] == "real_vs_pseudo_by_pair"]
    assert len(versus) > 0
    assert (versus["n_obs"] == versus["n_dyads"]).all()
    assert (versus["n_groups"] == versus["n_dyads"]).all()


# ----------------------------------------------------------------------------- units

def _table(**changes) -> pd.DataFrame:
    """A retained table of three complete 10-minute dyad-sessions at 10 Hz, with
    ``changes``: column -> list of three values."""
    base = {"dyad": ["A", "B", "C"], "session": [1, 1, 1],
            "file_therapist": ["a_t", "b_t", "c_t"], "file_patient": ["a_p", "b_p", "c_p"],
            "channels_kept_therapist": [4] * 3, "channels_total_therapist": [4] * 3,
            "channels_kept_patient": [4] * 3, "channels_total_patient": [4] * 3,
            "dropped_therapist": [""] * 3, "dropped_patient": [""] * 3,
            "channel_pairs": [4] * 3, "minutes_analysed": [10.0] * 3,
            "minutes_therapist": [10.0] * 3, "minutes_patient": [10.0] * 3,
            "cut": [False] * 3, "sfreq_therapist": [10.0] * 3, "sfreq_patient": [10.0] * 3,
            "sfreq_analysed": [10.0] * 3, "resampled_therapist": [False] * 3,
            "resampled_patient": [False] * 3, "measures_row": [True] * 3,
            "measures_present": [""] * 3, "measures_missing": [""] * 3}
    return pd.DataFrame(base | changes)[RETAINED_COLUMNS]


def test_retained_text_plurals_and_nothing_changed():
    from interbrain.retained import retained_messages, retained_text

    clean = retained_text(_table(), [])
    assert clean == ("Quality control dropped 0 of 24 channels of the sessions' recordings, "
                     "leaving 12 channel pairs in 3 dyad-sessions. No recording was "
                     "resampled. No session was cut to the overlap of its partners' "
                     "recordings.")
    # without measures, a missing measures row is no news
    assert retained_messages(_table(measures_row=[False] * 3), []) == []
    changed = _table(sfreq_therapist=[20.0, 10.0, 10.0], sfreq_patient=[10.0, 20.0, 40.0],
                     sfreq_analysed=[10.0, 10.0, 10.0],
                     resampled_therapist=[True, False, False],
                     resampled_patient=[False, True, True],
                     minutes_analysed=[9.0, 8.5, 10.0], minutes_patient=[9.0, 8.5, 10.0],
                     cut=[True, True, False])
    text = retained_text(changed, [])
    assert ("3 recordings were resampled to the common rate of their session number (2 from "
            "20 Hz to 10 Hz, 1 from 40 Hz to 10 Hz).") in text
    assert ("2 sessions were cut to the overlap of their partners' recordings (shortest 8.5 "
            "of 10 minutes).") in text
    levels = [level for level, _ in retained_messages(changed, [])]
    assert sorted(levels) == [logging.INFO] * 3 + [logging.WARNING] * 2


def _growth_data(n_dyads: int = 6, n_sessions: int = 4, drop=(3, 7)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [(f"D{d}", s, f"T{d % 2}", 0.3 + 0.02 * s + rng.normal(0, 0.03))
            for d in range(n_dyads) for s in range(1, n_sessions + 1)]
    data = pd.DataFrame(rows, columns=["dyad", "session", "therapist", "synchrony"])
    return data.drop(index=list(drop)).reset_index(drop=True)


def test_model_rows_count_observations_and_groups():
    from interbrain.stats.generalisation import fit_generalisation
    from interbrain.stats.growth_analysis import analyse_growth
    from interbrain.stats.mixed import lmer
    from interbrain.stats.real_vs_pseudo import RealVsPseudoResult
    from interbrain.stats.result_table import result_table
    from interbrain.stats.tables import combine_tables

    data = _growth_data()                         # 6 dyads x 4 sessions, 2 missing
    growth = analyse_growth(data, therapist="therapist", compare=True, n_permutations=99,
                            seed=0)
    rows = result_table({"growth": growth}, "hbo", "wtc")
    assert list(rows.columns[11:13]) == ["n_obs", "n_groups"]
    assert str(rows["n_obs"].dtype) == "Int64"
    counts = {model: set(zip(part["n_obs"], part["n_groups"]))
              for model, part in rows.groupby("model")}
    assert counts == {"growth": {(22, 6)}, "lrt:quadratic_vs_linear": {(22, 6)},
                      "lrt:therapist": {(22, 6)}, "growth_permutation": {(6, 6)}}
    # the generalisation model: recording pairs of the patients (one per dyad)
    gen = pd.DataFrame(
        [(f"P{i}", role, phase, 0.3 + 0.01 * i + (0.02 if phase == "post" else 0.0)
          + 0.01 * ((i * 7 + len(role) + len(phase)) % 5))
         for i in range(5) for role in ("therapist", "other") for phase in ("pre", "post")],
        columns=["patient", "partner_role", "phase", "synchrony"])
    table = result_table({"generalisation": fit_generalisation(gen)}, "hbo", "wtc")
    assert set(zip(table["n_obs"], table["n_groups"])) == {(20, 5)}
    # grouped by neither dyad nor patient: the levels of the factor with most levels
    site = data.rename(columns={"dyad": "site"})
    fit = lmer("synchrony ~ session + (1 | therapist) + (1 | site)", site)
    assert fit.ngroups == {"therapist": 2, "site": 6}
    table = result_table({"sites": fit})
    assert set(zip(table["n_obs"], table["n_groups"])) == {(22, 6)}
    # dyad-level tests: one observation per dyad
    versus = RealVsPseudoResult(real=0.3, pseudo=0.2, difference=0.1, std_error=0.01,
                                df=6.0, t=10.0, ci_low=0.08, ci_high=0.12,
                                p_permutation=1 / 128, permutation_method="exact",
                                n_permutations=128, n_dyads=7)
    table = result_table({"real_vs_pseudo": versus}, "hbo", "wtc")
    assert set(zip(table["n_obs"], table["n_groups"])) == {(7, 7)}
    tidy = pd.DataFrame({"model": "growth_by_pair", "signal": "hbo", "metric": "wtc",
                         "term": "session", "estimate": [0.1, 0.2], "std_error": 0.1,
                         "df": [2.0, 4.0], "t": 1.0, "p": 0.3, "method": "", "formula": "",
                         "unit": ["S1_D1", "S1_D2"], "n_dyads": [3, 5]})
    table = result_table({"growth_by_pair": tidy})
    assert table["n_obs"].tolist() == [3, 5] and table["n_groups"].tolist() == [3, 5]
    # a table that gives no counts keeps the columns, empty
    bare = tidy.drop(columns="n_dyads")
    table = combine_tables([bare])
    assert list(table.columns[11:13]) == ["n_obs", "n_groups"]
    assert table["n_obs"].isna().all() and str(table["n_groups"].dtype) == "Int64"
