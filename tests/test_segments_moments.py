"""Moments: synchrony around marked events against null windows of the same session."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from interbrain.errors import StudyError
from interbrain.nulls.moments import MomentSpec, null_window_starts
from interbrain.nulls.session import pairings_synchrony
from interbrain.stats.moment_tests import moment_tests
from interbrain.stats.segment_simulation import (fast_moment_null_rates,
                                                 simulate_moment_study)
from interbrain.study.segments import parse_moments
from interbrain.synchrony.settings import AnalysisSettings

SETTINGS = AnalysisSettings(band=(5.0, 12.0), signals=("hbo",), metrics=("wtc", "pearson"))
SPEC = MomentSpec(events=("rupture",), window=(-30.0, 30.0), n_null=20)


def test_null_windows_keep_away_from_the_moments():
    rng = np.random.default_rng(0)
    starts = null_window_starts(1000, 100, [300, 700], 200, rng)
    assert starts.min() >= 0 and starts.max() <= 900
    assert (np.abs(starts - 300) >= 100).all() and (np.abs(starts - 700) >= 100).all()
    assert null_window_starts(250, 100, [75], 5, rng).size == 0


def test_coupling_around_moments_is_found_and_the_rows_say_what_they_are():
    study = simulate_moment_study(3, coupling=0.7)
    moments = pairings_synchrony(study.pairings, study.recordings, SETTINGS,
                                 moments=SPEC)["moments"]
    assert set(moments["pairing"]) == {"moment", "moment_null"}
    real = moments[(moments["pairing"] == "moment") & (moments["metric"] == "wtc")]
    assert real.groupby("dyad")["onset_s"].nunique().eq(3).all()
    null = moments[(moments["pairing"] == "moment_null") & (moments["metric"] == "wtc")]
    assert null.groupby("dyad")["surrogate"].nunique().eq(SPEC.n_null).all()
    for metric in ("wtc", "pearson"):
        row = moment_tests(moments, "hbo", metric, n_permutations=999).iloc[0]
        assert row["moment"] == "rupture" and row["term"] == "moment - null"
        assert row["estimate"] > 0.1 and row["p"] < 0.05
        assert "two-sided" in row["method"] and row["n_groups"] == 6


def test_the_moment_test_holds_its_level_without_coupling():
    n = 100
    rate = fast_moment_null_rates(n, seed=3)
    assert rate * n <= binom.ppf(0.999, n, 0.05)


def test_moments_table_of_study_toml_is_checked():
    spec = parse_moments({"events": ["rupture", "repair"], "window": [-20, 40]}, "s.toml")
    assert spec.events == ("rupture", "repair") and spec.window == (-20.0, 40.0)
    assert parse_moments(None, "s.toml") is None
    for table, message in (({"events": []}, "events must be a list"),
                           ({"events": ["r"], "window": [5, 5]}, "end > start"),
                           ({"events": ["r"], "n_null": 0}, "n_null must be"),
                           ({"events": ["r"], "when": 1}, "when")):
        with pytest.raises(StudyError, match=message):
            parse_moments(table, "s.toml")
