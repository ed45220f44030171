"""PairRows: the "synchrony" rows of many pairings in one DataFrame, exactly as one
DataFrame per pairing and metric concatenated (columns, dtypes, values, row order)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from interbrain.synchrony._pair_rows import PairRows


def _per_pairing(items, significance: bool) -> list[pd.DataFrame]:
    """The frames as pairings_synchrony built them before PairRows: one per pairing."""
    frames = []
    for keys, labels, metric, values, fractions in items:
        frame = pd.DataFrame({**keys, **labels, "metric": metric,
                              "value": np.asarray(values, dtype=float)})
        if significance:
            frame["significant_fraction"] = fractions if fractions is not None else np.nan
        frames.append(frame)
    return frames


def _items(rng: np.random.Generator) -> list[tuple]:
    items = []
    for k, (dyad, partner, session) in enumerate([("D01", "D01", 1), ("D01", "D02", 1),
                                                  ("D02", "D01", 2)]):
        n = 2 + k
        chans = [f"S{i}_D{i}" for i in range(1, n + 1)]
        keys = {"dyad": dyad, "partner_dyad": partner, "session": session,
                "partner_session": session, "signal": "hbo",
                "pairing": "real" if dyad == partner else "pseudo"}
        labels = {"pair": chans, "channel_therapist": chans, "channel_patient": chans[::-1]}
        for metric in ("wtc", "pearson"):
            values = rng.random(n)
            values[0] = np.nan if k == 1 else values[0]
            fractions = rng.random(n) if metric == "wtc" else None
            items.append((keys, labels, metric, list(values) if k == 2 else values, fractions))
    return items


@pytest.mark.parametrize("significance", [False, True])
def test_one_frame_equals_the_frames_of_each_pairing(significance):
    items = _items(np.random.default_rng(3))
    old = _per_pairing(items, significance)
    # null frames (another column) after the real pairing's rows, as in pairings_synchrony
    null = pd.DataFrame({**items[0][0], "pair": ["S1_D1"], "metric": "wtc",
                         "surrogate": [0], "value": [0.5]})
    rows, parts = PairRows(significance), []
    for item in items[:2]:
        rows.add(*item)
    rows.flush(parts)
    parts.append(null)
    for item in items[2:]:
        rows.add(*item)
    rows.flush(parts)
    rows.flush(parts)   # nothing gathered: nothing appended
    assert len(parts) == 3 and len(rows) == 0
    expected = pd.concat(old[:2] + [null] + old[2:], ignore_index=True)
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), expected,
                                  check_exact=True)


def test_rows_with_other_columns_are_refused():
    rows = PairRows(False)
    rows.add({"dyad": "D01"}, {"pair": ["a"]}, "wtc", [0.5])
    with pytest.raises(ValueError, match="other columns"):
        rows.add({"session": 1}, {"pair": ["a"]}, "wtc", [0.5])
