"""Fixtures shared by the test files: one tiny simulated study, and its run.

The tiny study (2 dyads x 2 sessions, 1-minute recordings at 10 Hz, 4 channels per
person, band 5-15 s, seed 1) is simulated once per test session and per xdist worker
(``tmp_path_factory`` gives each worker its own folder), and run once:

- ``tiny_study``: its folder. Shared: a test that changes a file takes
  ``tiny_study_copy`` (its own copy) instead.
- ``tiny_study_8hz``: the same design recorded at 8 Hz (mismatched-rate tests).
- ``tiny_cache``: a cache of intermediate products for runs of the tiny study (entries
  are keyed by content, so sharing it changes no result, only the time).
- ``tiny_run``: the folder of one successful ``interbrain run tiny_study --workers 1
  --cache tiny_cache`` under umask 022. Read only.
- ``tiny_results``: the :class:`~interbrain.results.StudyResults` of
  :func:`~interbrain.engine.run_study` on the tiny study (threads, one worker).

Tests whose checks depend on a design of their own (3 dyads for outcome models, long
recordings for recovery, a default band) keep their own fixtures.

Markers: ``slow`` marks the few long end-to-end runs (the default 8 x 6 study, a
dask.distributed cluster, 10-minute studies); ``pytest -m "not slow"`` leaves them out.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# interbrain is imported inside the fixtures: a package that fails to import fails the
# tests that need it, not the collection of every test file (test_layout included)

#: The design of the tiny study, for tests that simulate a variant of it.
TINY = dict(n_dyads=2, n_sessions=2, minutes=1, band=(5.0, 15.0), n_channels=4, seed=1)


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory) -> Path:
    """The tiny simulated study (see :data:`TINY`); do not change its files."""
    from interbrain.simulate import simulate_study
    return simulate_study(tmp_path_factory.mktemp("tiny") / "study", preset="demo", **TINY)


@pytest.fixture
def tiny_study_copy(tiny_study, tmp_path) -> Path:
    """A copy of the tiny study that the test may change."""
    return Path(shutil.copytree(tiny_study, tmp_path / "study"))


@pytest.fixture(scope="session")
def tiny_study_8hz(tmp_path_factory) -> Path:
    """The tiny study's design recorded at 8 Hz; do not change its files."""
    from interbrain.simulate import simulate_study
    return simulate_study(tmp_path_factory.mktemp("tiny-8hz") / "study", preset="demo", **TINY, sfreq=8.0)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    """A cache folder for runs of the tiny study (``--cache``)."""
    return tmp_path_factory.mktemp("tiny-cache") / "cache"


@pytest.fixture(scope="session")
def tiny_run(tiny_study, tiny_cache, tmp_path_factory) -> Path:
    """The results folder of one ``interbrain run`` of the tiny study, under umask 022
    (one worker, threads; with its log). Do not change it."""
    from click.testing import CliRunner

    from interbrain.cli import main
    out = tmp_path_factory.mktemp("tiny-run") / "out"
    old = os.umask(0o022)
    try:
        result = CliRunner().invoke(main, ["run", "--no-figures", str(tiny_study), "--out", str(out),
                                           "--workers", "1", "--cache", str(tiny_cache)])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def tiny_results(tiny_study, tiny_cache, tmp_path_factory):
    """The :class:`~interbrain.results.StudyResults` of
    :func:`~interbrain.engine.run_study` on the tiny study."""
    from interbrain.engine import run_study
    from interbrain.study import load_study
    out = tmp_path_factory.mktemp("tiny-results") / "out"
    return run_study(load_study(tiny_study), out, n_workers=1, scheduler="threads",
                     cache_dir=tiny_cache)


@pytest.fixture
def load_error():
    """``load_error(study_dir, old, new)``: the StudyError message of loading the study
    with ``old`` replaced by ``new`` in its study.toml (``old`` must be there)."""
    from interbrain.errors import StudyError
    from interbrain.study import load_study

    def refused(study_dir: Path, old: str, new: str) -> str:
        toml = study_dir / "study.toml"
        text = toml.read_text()
        assert old in text, f"{old!r} is not in {toml}"
        toml.write_text(text.replace(old, new, 1))
        with pytest.raises(StudyError) as err:
            load_study(study_dir)
        return str(err.value)

    return refused


#: How to install what the tests need (``make test`` does it).
INSTALL = "make install  (or: .venv/bin/python -m pip install -e '.[test]')"


@pytest.fixture(scope="session")
def require():
    """``require(module)``: the module, imported; a missing one fails the test with the
    install command (a test never skips for a missing dependency)."""
    import importlib

    def imported(name: str):
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            missing = str(exc)
        pytest.fail(f"{name} is missing ({missing}); install the test dependencies: "
                    f"{INSTALL}", pytrace=False)

    return imported


@pytest.fixture(scope="session")
def write_bids(require):
    """``write_bids(study, root)``: the simulated ``study``'s recordings written with
    mne-bids as a hyperscanning BIDS dataset in ``root`` (therapist T01 with both
    patients, acquisition = dyad; a ``dyads.tsv`` naming the dyads); returns ``root``."""
    import warnings

    import mne

    mne_bids = require("mne_bids")

    def write(study: Path, root: Path) -> Path:
        for f in sorted((study / "recordings").glob("*.snirf")):
            dyad, ses, role = f.stem.split("_")
            sub = "T01" if role == "therapist" else f"P{dyad[1:]}"
            raw = mne.io.read_raw_snirf(f, verbose="ERROR")
            bp = mne_bids.BIDSPath(subject=sub, session=ses.split("-")[1], task="therapy",
                                   acquisition=dyad if role == "therapist" else None,
                                   datatype="nirs", root=root)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "No events found"
                mne_bids.write_raw_bids(raw, bp, overwrite=True, verbose=False)
        (root / "dyads.tsv").write_text("dyad\ttherapist\tpatient\nD01\tT01\tP01\n"
                                        "D02\tsub-T01\tP02\n")
        return root

    return write
