"""Property-based fuzzing of the study description through `interbrain validate`.

Random mutations of a valid study's `study.toml` (keys deleted or inserted, values of
the wrong type, random Unicode text) and `measures.csv` (random bytes, encodings,
delimiters, line endings, headers and cells) must never make `interbrain validate`
raise an unhandled exception or print a traceback, only exit with status 0 or 1 (with
one `Error: ...` message), and must never run code: among the generated strings are
Python, shell and formula injections that would create a marker file if anything
evaluated them.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import shutil
import tempfile
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interbrain.cli import main

#: Created only if some generated text were executed.
MARKER = Path(tempfile.gettempdir()) / f"interbrain-fuzz-marker-{os.getpid()}"

PAYLOADS = [
    f"__import__('os').system('touch {MARKER}')",
    f"{{__import__('os').system('touch {MARKER}')}}",
    f"'; __import__('os').system('touch {MARKER}'); '",
    f"symptoms ~ __import__('os').system('touch {MARKER}')",
    f"Q(\"symptoms\") + __import__('os').system('touch {MARKER}')",
    f"C(__import__('os').system('touch {MARKER}'))",
    f"$(touch {MARKER})",
    f"`touch {MARKER}`",
    f"exec(\"open('{MARKER}', 'w')\")",
]
#: Field names of study.toml, so that insertions also reach the deeper checks.
FIELDS = ["study", "analysis", "preprocessing", "statistics", "engine", "regions", "dyads",
          "therapists", "sessions", "generalisation", "name", "band", "signals", "pairs",
          "metrics", "window", "lags", "roi", "surrogates", "covariates", "condition", "id",
          "therapist", "patient", "dyad", "session", "recording", "channels", "align",
          "offset", "event", "workers", "scheduler", "cache", "sesoi", "time", "pairwise",
          "phase", "partner", "partner_recording"]

SETTINGS = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

texts = st.one_of(st.text(max_size=24), st.sampled_from(PAYLOADS),
                  st.sampled_from(["", " ", "D01", "D02", "T01", "S1_D1", "hbo", "wtc",
                                   "recordings/D01_ses-01_patient.snirf", "../study.toml",
                                   "/dev/null", "nan", "\x00", "\u202e", "\ufeff"]))
scalars = st.one_of(texts, st.integers(-10**20, 10**20), st.integers(-3, 5),
                    st.floats(allow_nan=True, allow_infinity=True), st.booleans())
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(FIELDS), texts), inner, max_size=3)),
    max_leaves=6)


# --------------------------------------------------------------------------- TOML writer

def _toml_string(text: str) -> str:
    out = json.dumps(text, ensure_ascii=False)
    return out.replace("\x7f", "\\u007f")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_string(str(k))} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise TypeError(type(value))


def _toml_dumps(doc: dict) -> str:
    """TOML text of ``doc``: scalars first, then tables, then arrays of tables."""
    lines = []
    for key, value in doc.items():
        if not isinstance(value, dict) and not (
                isinstance(value, list) and value and all(isinstance(v, dict) for v in value)):
            lines.append(f"{_toml_string(key)} = {_toml_value(value)}")
    for key, value in doc.items():
        if isinstance(value, dict):
            lines.append(f"\n[{_toml_string(key)}]")
            lines += [f"{_toml_string(str(k))} = {_toml_value(v)}" for k, v in value.items()]
    for key, value in doc.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for entry in value:
                lines.append(f"\n[[{_toml_string(key)}]]")
                lines += [f"{_toml_string(str(k))} = {_toml_value(v)}"
                          for k, v in entry.items()]
    return "\n".join(lines) + "\n"


def _paths(node, prefix=()) -> list[tuple]:
    """Every key path into ``node`` (dict keys and list indices)."""
    out = []
    items = node.items() if isinstance(node, dict) else (
        enumerate(node) if isinstance(node, list) else ())
    for key, child in items:
        out.append(prefix + (key,))
        out += _paths(child, prefix + (key,))
    return out


def _containers(node, prefix=()) -> list[tuple]:
    out = [prefix] if isinstance(node, (dict, list)) else []
    items = node.items() if isinstance(node, dict) else (
        enumerate(node) if isinstance(node, list) else ())
    for key, child in items:
        out += _containers(child, prefix + (key,))
    return out


def _at(doc, path):
    for key in path:
        doc = doc[key]
    return doc


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def fuzz_study(tiny_study, tmp_path_factory):
    """A copy of conftest's tiny study whose study.toml and measures.csv each test
    overwrites."""
    root = Path(shutil.copytree(tiny_study, tmp_path_factory.mktemp("fuzz") / "study"))
    originals = {name: (root / name).read_bytes() for name in ("study.toml", "measures.csv")}
    yield root, originals
    shutil.rmtree(root, ignore_errors=True)


def _validate(root: Path) -> None:
    """`interbrain validate` on ``root``: a handled outcome, no traceback, no code run."""
    result = CliRunner().invoke(main, ["validate", str(root)])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"unhandled {type(result.exception).__name__}: {result.exception}")
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        assert result.output.startswith("Error: "), result.output
    else:
        assert "no problems found" in result.output
    assert not MARKER.exists(), "generated text was executed"


@pytest.fixture(autouse=True)
def _no_marker():
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists()


# --------------------------------------------------------------------------- study.toml

@SETTINGS
@given(data=st.data())
def test_mutated_study_toml(fuzz_study, data):
    root, originals = fuzz_study
    doc = tomllib.loads(originals["study.toml"].decode())
    for _ in range(data.draw(st.integers(1, 4), label="n_mutations")):
        op = data.draw(st.sampled_from(["delete", "set", "insert"]), label="op")
        if op in ("delete", "set"):
            paths = _paths(doc)
            if not paths:
                continue
            path = data.draw(st.sampled_from(paths), label="path")
            parent = _at(doc, path[:-1])
            if op == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = data.draw(values, label="value")
        else:
            where = _at(doc, data.draw(st.sampled_from(_containers(doc)), label="container"))
            value = data.draw(values, label="value")
            if isinstance(where, list):
                where.append(value)
            else:
                where[data.draw(st.one_of(st.sampled_from(FIELDS), texts), label="key")] = value
    if not isinstance(doc, dict):
        doc = {}
    (root / "study.toml").write_text(_toml_dumps(doc), encoding="utf-8")
    (root / "measures.csv").write_bytes(originals["measures.csv"])
    _validate(root)


@SETTINGS
@given(data=st.data())
def test_study_toml_with_random_text_spliced_in(fuzz_study, data):
    root, originals = fuzz_study
    text = originals["study.toml"].decode()
    at = data.draw(st.integers(0, len(text)), label="at")
    cut = data.draw(st.integers(0, 40), label="cut")
    insert = data.draw(st.one_of(texts, st.sampled_from([
        "\n[analysis]\n", "\n[[dyads]]\n", "band = ", " = 1\n", '"', "[[", "\\u0000",
        "\nworkers = -1\n"])), label="insert")
    (root / "study.toml").write_bytes((text[:at] + insert + text[at + cut:]).encode(
        "utf-8", "surrogatepass"))
    (root / "measures.csv").write_bytes(originals["measures.csv"])
    _validate(root)


# --------------------------------------------------------------------------- measures.csv

cells = st.one_of(st.sampled_from(["", " ", "1", "2", "40.5", "3,5", "NA", "nan", "NaN", "inf",
                                   "-Infinity", "1e400", "1_0", "0x10", "D01", "D02", "D09",
                                   '"', '""', "'", "\x00", "\ufeff"]),
                  st.sampled_from(PAYLOADS), st.text(max_size=12),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr),
                  st.integers(-5, 5).map(str))
headers = st.lists(st.one_of(st.sampled_from(["dyad", "session", "symptoms", "wellbeing",
                                              "alliance", "Dyad", "sesion", "", " dyad ",
                                              "synchrony", "therapist"]),
                             st.sampled_from(PAYLOADS), st.text(max_size=12)),
                   min_size=0, max_size=6)


@st.composite
def measures_files(draw) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    header = draw(headers)
    if draw(st.booleans()):
        header = ["dyad", "session"] + header
    width = max(len(header), 1)
    rows = draw(st.lists(st.lists(cells, min_size=max(width - 2, 0), max_size=width + 1),
                         max_size=6))
    rows = [[draw(st.sampled_from(["D01", "D02", "D9", ""])),
             draw(st.sampled_from(["1", "2", "3", "x", ""]))] + row if draw(st.booleans())
            else row for row in rows]
    sep = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    if draw(st.booleans()):
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=sep, lineterminator=end).writerows([header] + rows)
        text = buffer.getvalue()
    else:
        text = end.join(sep.join(row) for row in [header] + rows) + end
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16",
                                     "cp1252"]))
    return text.encode(encoding, "replace")


@SETTINGS
@given(content=measures_files())
def test_mutated_measures_csv(fuzz_study, content):
    root, originals = fuzz_study
    (root / "study.toml").write_bytes(originals["study.toml"])
    (root / "measures.csv").write_bytes(content)
    _validate(root)


def test_generators_reach_both_outcomes(fuzz_study):
    """The harness itself: the original files pass, and a payload in measures.csv is
    refused with a message (so the fuzz tests exercise both exits)."""
    root, originals = fuzz_study
    (root / "study.toml").write_bytes(originals["study.toml"])
    (root / "measures.csv").write_bytes(originals["measures.csv"])
    _validate(root)
    assert tomllib.loads(_toml_dumps(tomllib.loads(originals["study.toml"].decode()))) == \
        tomllib.loads(originals["study.toml"].decode())
    doc = copy.deepcopy(tomllib.loads(originals["study.toml"].decode()))
    doc["dyads"][0]["id"] = PAYLOADS[0]
    (root / "study.toml").write_text(_toml_dumps(doc), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(root)])
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    (root / "study.toml").write_bytes(originals["study.toml"])
    (root / "measures.csv").write_bytes(
        originals["measures.csv"].replace(b"symptoms", PAYLOADS[0].encode(), 1))
    result = CliRunner().invoke(main, ["validate", str(root)])
    assert result.exit_code in (0, 1) and "Traceback" not in result.output
    assert not MARKER.exists()
    (root / "measures.csv").write_bytes(originals["measures.csv"])
