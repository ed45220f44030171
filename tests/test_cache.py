"""The on-disk cache: round trips, loads of some signals only, damaged entries, and
loads from many threads at once."""

from __future__ import annotations

import io
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

from interbrain._npz import DamagedArchive, NpzArchive
from interbrain.engine.cache import Cache, DamagedCacheEntry
from interbrain.preprocessing import Preprocessed


def _recording(seed: int = 0) -> Preprocessed:
    rng = np.random.default_rng(seed)
    channels = [f"S{i}_D{i}" for i in range(1, 5)]
    qc = pd.DataFrame({"channel": channels, "sci": rng.uniform(0.5, 1.0, 4),
                       "bad": [False, True, False, False]})
    return Preprocessed(source="sub-01.snirf", channels=channels,
                        hbo=rng.normal(size=(4, 300)) * 1e-6,
                        hbr=rng.normal(size=(4, 300)) * 1e-7, sfreq=10.0, meas_date=None,
                        qc=qc, steps=[{"step": "optical_density"}])


def test_recording_round_trip(tmp_path):
    cache = Cache(tmp_path)
    rec = _recording()
    cache.store_recording("k", rec)
    back = cache.load_recording("k")
    np.testing.assert_array_equal(back.hbo, rec.hbo)
    np.testing.assert_array_equal(back.hbr, rec.hbr)
    assert back.channels == rec.channels and back.sfreq == rec.sfreq
    assert back.steps == rec.steps
    pd.testing.assert_frame_equal(back.qc, rec.qc)


class _Finaliser:
    """Garbage whose finaliser runs Python code, inviting a thread switch mid-parse."""

    def __del__(self):
        [i for i in range(20)]
        time.sleep(0)


def test_loads_from_many_threads_at_once(tmp_path):
    # NumPy parses .npy headers with ast.literal_eval, which on CPython 3.11 fails with
    # "SystemError: AST constructor recursion depth mismatch" when threads parse at once
    # (gh-106905). CI hit it under the threaded scheduler; this reproduced it in seconds
    # before the cache serialised its reads.
    cache = Cache(tmp_path)
    rec = _recording()
    cache.store_recording("rec", rec)
    cache.store_tables("synchrony", "tab", {"pairs": rec.qc})
    errors: list[BaseException] = []

    def load_repeatedly():
        try:
            for _ in range(60):
                garbage = _Finaliser()
                garbage.cycle = garbage
                assert cache.load_recording("rec").hbo.shape == (4, 300)
                assert len(cache.load_tables("synchrony", "tab")["pairs"]) == 4
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=load_repeatedly) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[:3]


def _full_recording() -> Preprocessed:
    """A recording with events, regions and short channels (every member of an entry)."""
    rec = _recording(1)
    rng = np.random.default_rng(2)
    short_qc = pd.DataFrame({"channel": ["S1_D9"], "sci": [0.9], "bad": [False]})
    rec.annotations = pd.DataFrame({"onset": [1.5, 20.0], "duration": [0.0, 3.0],
                                    "description": ["start", "task é"]})
    rec.regions = {"S1_D1": "F3"}
    rec.short = Preprocessed(source=rec.source, channels=["S1_D9"],
                             hbo=rng.normal(size=(1, 300)), hbr=rng.normal(size=(1, 300)),
                             sfreq=10.0, meas_date=None, qc=short_qc)
    return rec


def _assert_same_recording(back: Preprocessed, rec: Preprocessed) -> None:
    for name in ("hbo", "hbr"):
        np.testing.assert_array_equal(getattr(back, name), getattr(rec, name))
        np.testing.assert_array_equal(getattr(back.short, name), getattr(rec.short, name))
    # the tables exactly as a Parquet round trip gives them (dtypes, index, values)
    for got, sent in ((back.qc, rec.qc), (back.annotations, rec.annotations),
                      (back.short.qc, rec.short.qc)):
        parquet = pd.read_parquet(io.BytesIO(_parquet_bytes(sent)))
        pd.testing.assert_frame_equal(got, parquet, check_exact=True)
    assert (back.regions, back.steps, back.channels) == (rec.regions, rec.steps, rec.channels)
    assert back.short.channels == rec.short.channels


def test_only_the_signals_asked_are_read(tmp_path):
    cache = Cache(tmp_path)
    rec = _full_recording()
    cache.store_recording("k", rec)
    _assert_same_recording(cache.load_recording("k"), rec)
    back = cache.load_recording("k", signals=["hbo"])
    _assert_same_recording(back, rec)   # the others are mapped, with the same values
    assert not isinstance(back.hbo, np.memmap) and back.hbo.flags.writeable
    assert isinstance(back.hbr, np.memmap) and not back.hbr.flags.writeable
    assert isinstance(back.short.hbo, np.memmap)
    back = cache.load_recording("k", signals="hbr_short")
    assert not isinstance(back.short.hbr, np.memmap) and isinstance(back.hbo, np.memmap)
    with pytest.raises(ValueError, match="unknown signals"):
        cache.load_recording("k", signals=["oxy"])


@pytest.mark.parametrize("qc", [
    pd.DataFrame({"channel": ["a", None], "sci": [1.0, np.nan]}),            # missing text
    pd.DataFrame({"channel": pd.Categorical(["a", "b"]), "n": [1, 2]}),     # categorical
    pd.DataFrame({"channel": ["a", "b"], "when": pd.to_datetime(["2020-01-01"] * 2)}),
    pd.DataFrame({"channel": ["a", "b"], "n": np.array([1, 2], dtype=np.int32),
                  "ok": [True, False]}, index=[5, 7]),
    pd.DataFrame({"channel": np.array(["a", "bb"], dtype=object), "x": [0.5, 1.5]}),
    pd.DataFrame({"channel": pd.Series([], dtype=str), "x": pd.Series([], dtype=float)}),
])
def test_tables_keep_what_parquet_keeps(tmp_path, qc):
    """Tables come back as a Parquet round trip gives them, through the fast
    structured-array encoding where it is exact, through Parquet bytes otherwise."""
    cache = Cache(tmp_path)
    rec = _recording()
    rec.qc = qc
    cache.store_recording("k", rec)
    pd.testing.assert_frame_equal(cache.load_recording("k").qc,
                                  pd.read_parquet(io.BytesIO(_parquet_bytes(qc))),
                                  check_exact=True)


def _flip_byte(path, position: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[position] ^= 0x10
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["flip in hbo", "flip in qc", "truncated", "not a zip"])
def test_a_damaged_entry_is_named_and_deleted(tmp_path, damage):
    cache = Cache(tmp_path)
    rec = _full_recording()
    cache.store_recording("k", rec)
    path = cache.path("recordings", "k", "npz")
    raw = path.read_bytes()
    if damage == "flip in hbo":
        _flip_byte(path, raw.index(rec.hbo[2].tobytes()) + 100)
    elif damage == "flip in qc":
        _flip_byte(path, raw.index("S3_D3".encode("utf-32-le")))
    elif damage == "truncated":
        path.write_bytes(raw[:len(raw) // 2])
    else:
        path.write_bytes(b"not a zip file")
    with pytest.raises(DamagedCacheEntry, match=r"k\.npz: damaged cache entry .*deleted"):
        cache.load_recording("k", signals=["hbo"])
    assert not cache.has_recording("k")   # recomputed by the next run


def test_unread_signals_are_not_checked(tmp_path):
    """A signal not asked for is mapped without its CRC check (documented): damage in
    it does not stop the load of the others."""
    cache = Cache(tmp_path)
    rec = _recording()
    cache.store_recording("k", rec)
    path = cache.path("recordings", "k", "npz")
    _flip_byte(path, path.read_bytes().index(rec.hbr[1].tobytes()) + 8)
    back = cache.load_recording("k", signals=["hbo"])
    np.testing.assert_array_equal(back.hbo, rec.hbo)
    with pytest.raises(DamagedCacheEntry, match="hbr.*CRC-32"):
        cache.load_recording("k", signals=["hbr"])


def test_tables_round_trip_and_damage(tmp_path):
    cache = Cache(tmp_path)
    frame = pd.DataFrame({"dyad": ["D01", "D02"], "value": [0.25, np.nan],
                          "pair": pd.Categorical(["a", "b"])})
    cache.store_tables("synchrony", "t", {"synchrony": frame, "empty": frame.iloc[:0]})
    back = cache.load_tables("synchrony", "t")
    assert list(back) == ["synchrony", "empty"]
    pd.testing.assert_frame_equal(back["synchrony"], frame, check_exact=True)
    pd.testing.assert_frame_equal(back["empty"],   # as Parquet keeps it
                                  pd.read_parquet(io.BytesIO(_parquet_bytes(frame.iloc[:0]))))
    path = cache.path("synchrony", "t", "npz")
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DamagedCacheEntry, match="damaged cache entry"):
        cache.load_tables("synchrony", "t")
    assert not cache.has_tables("synchrony", "t")


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, engine="pyarrow", index=False)
    return buf.getvalue()


def test_archive_reads_every_member_as_numpy_does(tmp_path):
    """NpzArchive.read and .memmap give np.load's arrays (plain headers parsed without
    ast, others by NumPy's parser), and refuse a member that fails its CRC."""
    table = np.zeros(3, dtype=[("x", "f8"), ("name", "U5"), ("ok", "?")])
    table["name"] = ["a", "bb", "ccc"]
    arrays = {"a": np.random.default_rng(0).normal(size=(4, 300)),
              "fortran": np.asfortranarray(np.arange(35.0).reshape(5, 7)),
              "empty": np.zeros((0, 4)), "scalar": np.float64(3.5), "text": np.array(["ab", "c"]),
              "big_endian": np.arange(5, dtype=">i4"), "complex": np.ones(3, np.complex64),
              "dates": np.array(["2020-01-01"], "M8[s]"), "table": table,
              "wide": np.zeros(2, dtype=[(f"column_{i}", "f8") for i in range(300)])}
    path = tmp_path / "a.npz"
    np.savez(path, **arrays)
    with NpzArchive(path) as z, np.load(path) as ref:
        assert z.names == list(arrays)
        for name in arrays:
            for got in (z.read(name), z.memmap(name)):
                assert got.dtype == ref[name].dtype and got.shape == ref[name].shape, name
                np.testing.assert_array_equal(got, ref[name])
            assert z.read(name).flags.writeable
    raw = bytearray(path.read_bytes())
    raw[raw.index(arrays["a"][1].tobytes())] ^= 0x01
    path.write_bytes(bytes(raw))
    with NpzArchive(path) as z:
        with pytest.raises(DamagedArchive, match="'a' fails its CRC-32 check"):
            z.read("a")
        np.testing.assert_array_equal(z.read("fortran"), arrays["fortran"])
