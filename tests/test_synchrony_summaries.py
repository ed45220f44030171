"""Synchrony summaries: per time window, per region of interest, per time lag."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest
from scipy import signal

from interbrain.synchrony import (WaveletGrid, band_coherence, band_mean_coherence,
                                  channel_spectra, pair_coherence, pearson_correlation)
from interbrain.synchrony.summaries import (ROI_METHODS, Segment, lagged_band_coherence, leader,
                                            region_mean_of_pairs, region_signal_coherence,
                                            segments_from_annotations,
                                            windowed_band_coherence)

DT = 0.1
BAND = (10.0, 40.0)
N = 1800  # 3 min at 10 Hz


def band_noise(n: int, seed: int, n_channels: int | None = None) -> np.ndarray:
    """Noise band-passed to periods of 10-40 s (broadband within the band)."""
    rng = np.random.default_rng(seed)
    shape = (n + 2000,) if n_channels is None else (n_channels, n + 2000)
    sos = signal.butter(2, [2 * DT / 40, 2 * DT / 10], btype="band", output="sos")
    return signal.sosfiltfilt(sos, rng.standard_normal(shape), axis=-1)[..., 1000:-1000]


@pytest.fixture(scope="module")
def dyad():
    """Two partners with 4 channels sharing a common band-limited component."""
    common = band_noise(N, 0, 4)
    a = common + 0.7 * band_noise(N, 1, 4) + 0.1 * np.random.default_rng(2).standard_normal((4, N))
    b = common + 0.7 * band_noise(N, 3, 4) + 0.1 * np.random.default_rng(4).standard_normal((4, N))
    grid = WaveletGrid.build(N, DT, band=BAND)
    return a, b, grid, channel_spectra(a, grid), channel_spectra(b, grid)


def manual_window_means(maps: np.ndarray, mask: np.ndarray, start: int, stop: int
                        ) -> np.ndarray:
    m = mask[:, start:stop]
    return np.array([mp[:, start:stop][m].mean() if m.any() else np.nan for mp in maps])


# --------------------------------------------------------------------------- windows
@pytest.mark.parametrize("length", [60.0, 50.0])
def test_windows_tile_and_weighted_mean_is_band_mean(dyad, length):
    _, _, grid, sa, sb = dyad
    values, table = windowed_band_coherence(sa, sb, "all", windows=length)
    n_win = int(np.ceil(N / round(length / DT)))
    assert values.shape == (16, n_win)
    assert len(table) == n_win
    # windows tile the recording: contiguous, from the first to the last sample
    assert table.start_sample.iloc[0] == 0
    assert table.stop_sample.iloc[-1] == N
    np.testing.assert_array_equal(table.start_sample.to_numpy()[1:],
                                  table.stop_sample.to_numpy()[:-1])
    assert table.n_samples.sum() == N
    assert table.n_cells.sum() == grid.valid.sum()
    assert (table.n_cells_total == table.n_samples * grid.n_band_rows).all()
    weights = table.n_cells.to_numpy()
    ok = weights > 0
    assert ok.all()  # every window of 50-60 s reaches outside the cone at 10-40 s
    whole = band_mean_coherence(sa, sb, "all")
    np.testing.assert_allclose(values @ weights / weights.sum(), whole, rtol=1e-12)


def test_window_values_match_the_coherence_maps(dyad):
    _, _, grid, sa, sb = dyad
    maps = pair_coherence(sa, sb, "homologous")
    values, table = windowed_band_coherence(sa, sb, windows=60, step=30)
    assert table.start_sample.tolist() == [0, 300, 600, 900, 1200]
    assert table.n_samples.tolist() == [600] * 5
    for w, row in table.iterrows():
        np.testing.assert_allclose(
            values[:, w], manual_window_means(maps, grid.valid, row.start_sample,
                                              row.stop_sample), rtol=1e-12)
    assert table.label.iloc[1] == "30-90 s"


def test_step_longer_than_window_leaves_gaps(dyad):
    _, _, _, sa, sb = dyad
    _, table = windowed_band_coherence(sa, sb, windows=20, step=70)
    assert table.start_sample.tolist() == [0, 700, 1400]
    assert table.stop_sample.tolist() == [200, 900, 1600]


def test_chunked_computation_is_identical(dyad):
    _, _, _, sa, sb = dyad
    v1, t1 = windowed_band_coherence(sa, sb, "all", windows=45)
    v2, t2 = windowed_band_coherence(sa, sb, "all", windows=45, chunk_bytes=1)
    np.testing.assert_allclose(v1, v2, rtol=1e-13)
    pd.testing.assert_frame_equal(t1, t2)


def test_explicit_segments(dyad):
    _, _, grid, sa, sb = dyad
    maps = pair_coherence(sa, sb, [(0, 0), (1, 2), (3, 1)])
    segments = [(20.0, 65.5, "intro"), (65.5, 150.0, "work"), (100.0, 180.0, "overlap"),
                Segment(150.0, 180.0, "closing"), (30.0, 40.0)]
    values, table = windowed_band_coherence(sa, sb, [(0, 0), (1, 2), (3, 1)],
                                            windows=segments)
    assert table.label.tolist() == ["intro", "work", "overlap", "closing", "segment 4"]
    assert table.start_sample.tolist() == [200, 655, 1000, 1500, 300]
    assert table.stop_sample.tolist() == [655, 1500, 1800, 1800, 400]
    assert table.onset_s.tolist() == [20.0, 65.5, 100.0, 150.0, 30.0]
    for w, row in table.iterrows():
        np.testing.assert_allclose(
            values[:, w], manual_window_means(maps, grid.valid, row.start_sample,
                                              row.stop_sample), rtol=1e-12)
    # a DataFrame of segments works too
    frame = pd.DataFrame(segments[:4], columns=["onset_s", "offset_s", "label"])
    v2, _ = windowed_band_coherence(sa, sb, [(0, 0), (1, 2), (3, 1)], windows=frame)
    np.testing.assert_array_equal(v2, values[:, :4])


def test_window_inside_the_cone_of_influence_is_nan(dyad):
    _, _, grid, sa, sb = dyad
    # at 10-40 s periods no cell of the first ~14 s lies outside the cone of influence
    values, table = windowed_band_coherence(sa, sb, windows=[(0, 10, "start"),
                                                             (60, 120, "middle")])
    assert np.isnan(values[:, 0]).all()
    assert table.n_cells.iloc[0] == 0
    assert np.isfinite(values[:, 1]).all()
    assert table.n_cells.iloc[1] == grid.valid[:, 600:1200].sum()
    # without COI exclusion every cell counts
    v_all, t_all = windowed_band_coherence(sa, sb, windows=[(0, 10, "start")],
                                           exclude_coi=False)
    assert np.isfinite(v_all).all()
    assert t_all.n_cells.iloc[0] == t_all.n_cells_total.iloc[0] == 100 * grid.n_band_rows


def test_segments_from_annotations():
    ann = mne.Annotations(onset=[10.0, 70.0, 100.0, 130.0], duration=[50.0, 0.0, 30.0, 20.0],
                          description=["rest", "stim", "talk", "BAD_motion"])
    segs = segments_from_annotations(ann)
    assert segs == [Segment(10.0, 60.0, "rest"), Segment(100.0, 130.0, "talk"),
                    Segment(130.0, 150.0, "BAD_motion")]
    assert segments_from_annotations(ann, include={"talk", "rest"}, t0=5.0) == [
        Segment(5.0, 55.0, "rest"), Segment(95.0, 125.0, "talk")]
    plain = segments_from_annotations([1.0, 2.0], [0.5, 1.0], ["x", "y"])
    assert plain == [(1.0, 1.5, "x"), (2.0, 3.0, "y")]
    assert segments_from_annotations([1.0], [2.0])[0].label == "segment 0"
    with pytest.raises(ValueError, match="zero duration"):
        segments_from_annotations(ann, drop_empty=False)
    with pytest.raises(ValueError, match="durations"):
        segments_from_annotations([1.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        segments_from_annotations([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="negative duration"):
        segments_from_annotations([1.0], [-1.0])
    with pytest.raises(ValueError, match="not both"):
        segments_from_annotations(ann, [1.0])


def test_segments_feed_windowed_coherence(dyad):
    _, _, _, sa, sb = dyad
    ann = mne.Annotations(onset=[20.0, 90.0], duration=[60.0, 90.0],
                          description=["phase 1", "phase 2"])
    values, table = windowed_band_coherence(sa, sb, windows=segments_from_annotations(ann))
    assert values.shape == (4, 2)
    assert table.label.tolist() == ["phase 1", "phase 2"]


@pytest.mark.parametrize("windows, step, match", [
    ([(100.0, 181.0, "late")], None, "outside the recording"),
    ([(-1.0, 10.0, "early")], None, "outside the recording"),
    ([(50.0, 40.0, "reversed")], None, "ends before it starts"),
    ([(1.01, 1.05, "tiny")], None, "no sample"),
    ([(1.0,)], None, "onset_s, offset_s"),
    ([], None, "empty"),
    ("60", None, "window length"),
    (200.0, None, "longer than the recording"),
    (0.01, None, "shorter than one sample"),
    (-5.0, None, "positive"),
    (60.0, 0.01, "shorter than one sample"),
    ([(0.0, 60.0, "a")], 30.0, "step applies only"),
])
def test_window_errors(dyad, windows, step, match):
    _, _, _, sa, sb = dyad
    with pytest.raises(ValueError, match=match):
        windowed_band_coherence(sa, sb, windows=windows, step=step)


def test_different_grids_are_refused(dyad):
    a, _, _, sa, _ = dyad
    other = channel_spectra(a[:, :1500], WaveletGrid.build(1500, DT, band=BAND))
    with pytest.raises(ValueError, match="different wavelet grids"):
        windowed_band_coherence(sa, other, windows=60)


# --------------------------------------------------------------------------- regions
CHANNELS = ["S1_D1", "S1_D2", "S2_D1", "S2_D2", "S3_D3", "S9_D9"]
REGIONS = {"S1_D1": "left", "S1_D2": "left", "S2_D1": "right", "S2_D2": "right",
           "S3_D3": "frontal"}  # S9_D9 (e.g. a short channel) has no region


def test_region_mean_of_pairs_equals_manual_average():
    rng = np.random.default_rng(0)
    pair_channels = [(ca, cb) for ca in CHANNELS for cb in CHANNELS]
    values = rng.uniform(size=len(pair_channels))
    values[1] = np.nan  # (S1_D1, S1_D2): e.g. a constant channel
    out = region_mean_of_pairs(values, pair_channels, REGIONS)
    assert set(out.roi_method) == {"mean_of_pairs"}
    assert out[["region_a", "region_b"]].apply(tuple, axis=1).tolist()[:4] == [
        ("left", "left"), ("left", "right"), ("left", "frontal"), ("right", "left")]
    assert len(out) == 9
    for _, row in out.iterrows():
        manual = [v for (ca, cb), v in zip(pair_channels, values)
                  if REGIONS.get(ca) == row.region_a and REGIONS.get(cb) == row.region_b
                  and np.isfinite(v)]
        assert row.value == pytest.approx(np.mean(manual), rel=1e-14)
        assert row.n_pairs == len(manual)
        assert row.homologous == (row.region_a == row.region_b)
    left = out[(out.region_a == "left") & (out.region_b == "left")].iloc[0]
    assert left.n_pairs == 3 and left.n_channels_a == 2 and left.n_channels_b == 2


def test_region_mean_of_pairs_bad_channels_and_columns():
    pair_channels = [(c, c) for c in CHANNELS]  # homologous pairs
    values = np.arange(12.0).reshape(6, 2)
    out = region_mean_of_pairs(values, pair_channels, REGIONS,
                               bad_channels={"a": {"S1_D1"}, "b": set()},
                               columns=["phase 1", "phase 2"], column_name="segment")
    assert out.columns.tolist() == ["region_a", "region_b", "homologous", "segment", "value",
                                    "n_pairs", "n_channels_a", "n_channels_b", "roi_method"]
    left = out[out.region_a == "left"].set_index("segment")
    assert left.loc["phase 1", "value"] == 2.0 and left.loc["phase 2", "value"] == 3.0
    assert left.loc["phase 1", "n_pairs"] == 1
    right = out[out.region_a == "right"].set_index("segment")
    assert right.loc["phase 2", "value"] == pytest.approx((5 + 7) / 2)
    assert out.homologous.all()
    # one set of bad channels applies to both partners
    both = region_mean_of_pairs(values[:, 0], pair_channels, REGIONS, bad_channels={"S2_D2"})
    assert both.set_index("region_a").loc["right", "value"] == 4.0


def test_region_mean_of_pairs_per_key_equals_separate_calls():
    """With keys, one table of many pairings gives what one call per pairing gives."""
    rng = np.random.default_rng(1)
    pair_channels = [(ca, cb) for ca in CHANNELS for cb in CHANNELS]
    parts = []
    for dyad in ("D2", "D1"):
        for metric in ("wtc", "plv"):
            values = rng.uniform(size=len(pair_channels))
            values[1] = np.nan  # (S1_D1, S1_D2), a left-left pair
            parts.append(pd.DataFrame({"dyad": dyad, "metric": metric, "value": values,
                                       "channel_a": [a for a, _ in pair_channels],
                                       "channel_b": [b for _, b in pair_channels]}))
    table = pd.concat(parts, ignore_index=True)
    keys = table[["dyad", "metric"]]
    out = region_mean_of_pairs(table["value"], table[["channel_a", "channel_b"]], REGIONS,
                               keys=keys)
    assert out.columns.tolist() == ["dyad", "metric", "region_a", "region_b", "homologous",
                                    "value", "n_pairs", "n_channels_a", "n_channels_b",
                                    "roi_method"]
    assert out[["dyad", "metric"]].drop_duplicates().values.tolist() == [
        ["D1", "plv"], ["D1", "wtc"], ["D2", "plv"], ["D2", "wtc"]]  # sorted by the keys
    for (dyad, metric), part in table.groupby(["dyad", "metric"]):
        alone = region_mean_of_pairs(part["value"], list(zip(part.channel_a, part.channel_b)),
                                     REGIONS)
        got = out[(out.dyad == dyad) & (out.metric == metric)].drop(columns=["dyad", "metric"])
        order = ["region_a", "region_b"]
        pd.testing.assert_frame_equal(got.sort_values(order).reset_index(drop=True),
                                      alone.sort_values(order).reset_index(drop=True))
    # the engine's table: its own region column names, every pair counted, no details
    lean = region_mean_of_pairs(table["value"], table[["channel_a", "channel_b"]], REGIONS,
                                keys=keys, region_columns=("region_therapist", "region_patient"),
                                count_missing=True, details=False)
    assert lean.columns.tolist() == ["dyad", "metric", "region_therapist", "region_patient",
                                     "value", "n_pairs", "roi_method"]
    np.testing.assert_array_equal(lean.value, out.value)
    left = (lean.region_therapist == "left") & (lean.region_patient == "left")
    assert (lean.n_pairs[left] == 4).all() and (out.n_pairs[left] == 3).all()
    with pytest.raises(ValueError, match="keys has 3 rows"):
        region_mean_of_pairs(table["value"], table[["channel_a", "channel_b"]], REGIONS,
                             keys=keys.iloc[:3])
    with pytest.raises(ValueError, match="must not have columns named"):
        region_mean_of_pairs(table["value"], table[["channel_a", "channel_b"]], REGIONS,
                             keys=table[["dyad", "value"]])


def test_region_mean_of_pairs_errors():
    pc = [("S1_D1", "S1_D1"), ("S2_D1", "S2_D1")]
    with pytest.raises(ValueError, match="2 pair_channels for 3 rows"):
        region_mean_of_pairs(np.ones(3), pc, REGIONS)
    with pytest.raises(ValueError, match="no channel pair has both channels in a region"):
        region_mean_of_pairs(np.ones(2), [("x", "y"), ("S1_D1", "z")], REGIONS)
    with pytest.raises(ValueError, match="columns"):
        region_mean_of_pairs(np.ones((2, 2)), pc, REGIONS, columns=["only one"])
    with pytest.raises(ValueError, match="region name"):
        region_mean_of_pairs(np.ones(2), pc, {"S1_D1": 3})
    with pytest.raises(ValueError, match="not the string"):
        region_mean_of_pairs(np.ones(2), pc, REGIONS, bad_channels="S1_D1")


@pytest.fixture(scope="module")
def montage_data():
    a = band_noise(N, 10, 6) + 0.2 * band_noise(N, 11, 6)
    b = 0.5 * a + band_noise(N, 12, 6)
    return a, b


def test_region_signal_coherence_of_identical_partners_is_one(montage_data):
    a, _ = montage_data
    for b in (a, a.copy()):
        out = region_signal_coherence(a, b, DT, channels=CHANNELS, regions=REGIONS, band=BAND)
        assert out.region_a.tolist() == ["left", "right", "frontal"]
        assert out.homologous.all()
        np.testing.assert_allclose(out.value, 1.0, atol=1e-10)
        assert set(out.roi_method) == {"region_average_signal"}
        assert out.n_channels_a.tolist() == [2, 2, 1]


def test_region_signal_coherence_matches_manual_region_averages(montage_data):
    a, b = montage_data
    bad = {"a": {"S2_D2"}, "b": {"S1_D2"}}
    out = region_signal_coherence(a, b, DT, channels=CHANNELS, regions=REGIONS, band=BAND,
                                  pairs="all", bad_channels=bad)
    ra = np.stack([a[[0, 1]].mean(0), a[[2]].mean(0), a[[4]].mean(0)])
    rb = np.stack([b[[0]].mean(0), b[[2, 3]].mean(0), b[[4]].mean(0)])
    expected = band_coherence(ra, rb, DT, band=BAND, pairs="all")
    np.testing.assert_allclose(out.value, expected, rtol=1e-12)
    assert len(out) == 9
    assert out.n_channels_a.tolist() == [2, 2, 2, 1, 1, 1, 1, 1, 1]
    assert out.n_channels_b.tolist() == [1, 2, 1] * 3
    # a bad channel's samples do not matter
    a2 = a.copy()
    a2[3] = 1e3 * np.random.default_rng(9).standard_normal(N)
    out2 = region_signal_coherence(a2, b, DT, channels=CHANNELS, regions=REGIONS, band=BAND,
                                   pairs="all", bad_channels=bad)
    np.testing.assert_allclose(out2.value, out.value, rtol=1e-12)


def test_region_with_no_good_channel_is_nan(montage_data):
    a, b = montage_data
    out = region_signal_coherence(a, b, DT, channels=CHANNELS, regions=REGIONS, band=BAND,
                                  pairs=[("frontal", "frontal"), ("left", "frontal")],
                                  bad_channels={"S3_D3"}, standardize=True)
    assert out.region_a.tolist() == ["frontal", "left"]
    assert np.isnan(out.value).all()
    assert out.n_channels_a.tolist() == [0, 2]
    assert out.n_channels_b.tolist() == [0, 0]


def test_both_roi_flavours_combine(montage_data):
    a, b = montage_data
    chan = CHANNELS
    pairs = [(i, i) for i in range(6)]
    per_pair = band_coherence(a, b, DT, band=BAND, pairs=pairs)
    mean_pairs = region_mean_of_pairs(per_pair, [(chan[i], chan[j]) for i, j in pairs], REGIONS)
    signals = region_signal_coherence(a, b, DT, channels=chan, regions=REGIONS, band=BAND)
    both = pd.concat([mean_pairs, signals], ignore_index=True)
    assert set(both.roi_method) == set(ROI_METHODS)
    assert both.groupby("roi_method").size().to_dict() == {"mean_of_pairs": 3,
                                                           "region_average_signal": 3}
    # single-channel region: the two flavours agree
    frontal = both[both.region_a == "frontal"].value.to_numpy()
    assert frontal[0] == pytest.approx(frontal[1], rel=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"regions": {**REGIONS, "S7_D7": "left"}}, r"S7_D7"),
    ({"bad_channels": {"S8_D8"}}, "not among its channels"),
    ({"pairs": [("left", "occipital")]}, "unknown region 'occipital'"),
    ({"pairs": "every"}, "homologous"),
    ({"channels": CHANNELS[:5]}, "5 channel names for the 6 rows"),
    ({"channels": ["x"] * 6}, "duplicate"),
    ({"regions": {"nope": "left"}}, "nope"),
])
def test_region_signal_coherence_errors(montage_data, kwargs, match):
    a, b = montage_data
    args = {"channels": CHANNELS, "regions": REGIONS, "band": BAND, **kwargs}
    with pytest.raises(ValueError, match=match):
        region_signal_coherence(a, b, DT, **args)


def test_region_signal_coherence_too_short_for_band(montage_data):
    a, b = montage_data
    with pytest.raises(ValueError, match="samples"):
        region_signal_coherence(a[:, :600], b[:, :600], DT, channels=CHANNELS,
                                regions=REGIONS, band=BAND)


# --------------------------------------------------------------------------- lags
def delayed_pair(delay_s: float, n: int, source: np.ndarray, noise: float, seed: int):
    """A = source, B = source delayed by ``delay_s`` (B follows A) plus white noise."""
    d = int(round(delay_s / DT))
    margin = 100
    a = source[margin:margin + n]
    b = source[margin - d:margin - d + n]
    b = b + noise * a.std() * np.random.default_rng(seed).standard_normal(n)
    return a, b


LAGS = np.arange(-5.0, 6.0)


@pytest.mark.parametrize("delay", [2.0, 3.0])
def test_lag_recovery_broadband(delay):
    n = 3000  # 5 min
    a, b = delayed_pair(delay, n, band_noise(n + 200, 21), noise=0.5, seed=22)
    values, lags = lagged_band_coherence(a, b, DT, band=BAND, lags=LAGS)
    assert values.shape == (1, LAGS.size)
    np.testing.assert_allclose(lags, LAGS)
    lead = leader(values, lags)
    assert abs(lead.best_lag_s.iloc[0] - delay) <= 1.0
    assert lead.leader.iloc[0] == "a"
    # the profile is broad: a few seconds of misalignment cost a few hundredths only
    prof = values[0]
    assert prof.max() - prof[LAGS == 0][0] < 0.05
    # swapping partners mirrors the lag
    v_ba, _ = lagged_band_coherence(b, a, DT, band=BAND, lags=LAGS)
    lead_ba = leader(v_ba, lags)
    assert abs(lead_ba.best_lag_s.iloc[0] + delay) <= 1.0
    assert lead_ba.leader.iloc[0] == "b"


def test_narrowband_signal_is_lag_insensitive_but_pearson_is_not():
    """Wavelet coherence ignores the phase shift of a periodic signal; Pearson does not."""
    n = 3000
    t = np.arange(n + 200) * DT
    a, b = delayed_pair(3.0, n, np.sin(2 * np.pi * t / 20.0), noise=0.3, seed=5)
    values, lags = lagged_band_coherence(a, b, DT, band=BAND, lags=LAGS)
    prof = values[0]
    assert prof.max() - prof.min() < 0.02  # nearly flat: its argmax says nothing
    # Pearson correlation of the same shifted, cropped signals peaks at the true delay
    L = 50
    r = []
    for m in (LAGS / DT).round().astype(int):
        s = (L - m) // 2
        r.append(pearson_correlation(a[None, s:s + n - L], b[None, s + m:s + m + n - L],
                                     DT)[0])
    assert LAGS[int(np.argmax(r))] == 3.0
    assert max(r) - min(r) > 0.5


def test_lagged_matches_band_coherence_of_crops(dyad):
    a, b, _, _, _ = dyad
    lags = [-2.0, 0.0, 1.5]
    values, used = lagged_band_coherence(a, b, DT, band=BAND, lags=lags, pairs=[(0, 1), (2, 2)])
    L = 20
    for c, m in enumerate([-20, 0, 15]):
        s = (L - m) // 2
        expected = band_coherence(a[:, s:s + N - L], b[:, s + m:s + m + N - L], DT, band=BAND,
                                  pairs=[(0, 1), (2, 2)])
        np.testing.assert_allclose(values[:, c], expected, rtol=1e-12)
    np.testing.assert_allclose(used, lags)
    # a single zero lag is the plain band coherence
    v0, _ = lagged_band_coherence(a, b, DT, band=BAND, lags=[0.0])
    np.testing.assert_allclose(v0[:, 0], band_coherence(a, b, DT, band=BAND), rtol=1e-12)


def test_lag_errors(dyad):
    a, b, _, _, _ = dyad
    with pytest.raises(ValueError, match="largest \\|lag\\| allowed is 70.3 s"):
        lagged_band_coherence(a, b, DT, band=BAND, lags=[-80.0, 0.0])
    with pytest.raises(ValueError, match="duplicate"):
        lagged_band_coherence(a, b, DT, band=BAND, lags=[0.01, 0.02])
    with pytest.raises(ValueError, match="same number of samples"):
        lagged_band_coherence(a, b[:, :-1], DT, band=BAND, lags=[0.0])
    with pytest.raises(ValueError, match="non-empty"):
        lagged_band_coherence(a, b, DT, band=BAND, lags=[])
    with pytest.raises(ValueError, match="NaN"):
        bad = a.copy()
        bad[0, 5] = np.nan
        lagged_band_coherence(bad, b, DT, band=BAND, lags=[0.0])


def test_leader_helper():
    values = np.array([[0.1, 0.5, 0.3],
                       [0.9, 0.2, 0.1],
                       [0.2, 0.2, 0.2],
                       [np.nan, np.nan, np.nan]])
    out = leader(values, [-1.0, 0.0, 2.0])
    assert out.best_lag_s.tolist()[:3] == [0.0, -1.0, -1.0]
    assert out.leader.tolist()[:3] == ["none", "b", "b"]
    assert pd.isna(out.leader.iloc[3])
    assert out.gain.iloc[1] == pytest.approx(0.7)
    assert np.isnan(out.best_lag_s.iloc[3])
    out2 = leader(values[:1, [0, 2]], [-1.0, 2.0])
    assert out2.leader.iloc[0] == "a" and np.isnan(out2.zero_lag_value.iloc[0])
    with pytest.raises(ValueError, match="n_lags"):
        leader(values, [0.0, 1.0])
