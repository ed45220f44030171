"""The shipped real NIRx dyad analysed by segments from NIRx triggers.

The recording (``examples/real-dyad/data``: a parent and a child on a NIRSport
"Tandem" system, from the public ppsp-team/HypypData repository, folder fnirs/FCS01;
see its README and SOURCE) has no event markers: its ``.evt`` files are empty. The test
links its files into a temporary folder and writes two NIRx triggers into each
``.evt`` (trigger 1 at the first sample, trigger 2 at sample 1524, 195 s), the file the
NIRx software writes triggers to; MNE reads them as annotations ``"1.0"`` and
``"2.0"``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from interbrain.engine.run import analyse_synchrony
from interbrain.study import load_study

DATA = Path(__file__).resolve().parents[1] / "examples" / "real-dyad" / "data"


STUDY = """
[analysis]
band = [10.0, 40.0]
signals = ["hbo"]
pseudo_dyads = false
familiarity = false

[segments]
source = "events"
events = { "1.0" = "first", "2.0" = "second" }
shuffle_window = 120.0

[[dyads]]
id = "FCS01"
therapist = "parent"
patient = "child"

[[sessions]]
dyad = "FCS01"
session = 1
therapist = "parent"
patient = "child"
"""


def test_real_nirx_dyad_by_segments_from_its_triggers(tmp_path):
    for person in ("parent", "child"):
        folder = tmp_path / person
        folder.mkdir()
        for f in (DATA / person).iterdir():
            if f.suffix not in (".evt", ".nirs"):
                (folder / f.name).symlink_to(f)
        (folder / "NIRS-2019-09-28_002.evt").write_text(
            "1\t1\t0\t0\t0\t0\t0\t0\n1524\t0\t1\t0\t0\t0\t0\t0\n")
    (tmp_path / "study.toml").write_text(STUDY)
    stage = analyse_synchrony(load_study(tmp_path), n_workers=1)
    segments = stage.summaries["segments"]
    assert set(segments["segment"]) == {"first", "second"}
    assert set(segments["pairing"]) == {"real", "real_windows", "segment_shuffle"}
    real = segments[segments["pairing"] == "real"]
    n_pairs = (stage.synchrony["pairing"] == "real").sum()
    assert real.groupby("segment").size().eq(n_pairs).all()
    assert np.isfinite(real["value"]).all() and real["value"].between(0, 1).all()
    # the triggers split the 394.8 s common window at 195 s
    samples = real.groupby("segment")["n_samples"].first()
    assert abs(samples["first"] / 7.8125 - 195.0) < 1.0
    assert abs(samples["second"] / 7.8125 - 199.8) < 1.0
