"""The on-disk cache: round trips, and loads from many threads at once."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pandas as pd

from interbrain.engine.cache import Cache
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
