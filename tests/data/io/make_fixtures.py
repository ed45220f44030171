"""Write the small fixtures of tests/test_io.py (see README.md). Deterministic.

Run from the repository root: ``.venv/bin/python tests/data/io/make_fixtures.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

HERE = Path(__file__).resolve().parent
SFREQ = 10.0
N_TIMES = 300  # 30 s


def _hb_signals(n_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """HbO and HbR concentration changes in micromol/L, shape (n_times, n_pairs)."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_TIMES) / SFREQ
    hbo = np.stack([0.3 * np.sin(2 * np.pi * 0.1 * t + k) for k in range(n_pairs)], axis=1)
    hbo += 0.05 * rng.standard_normal(hbo.shape)
    hbr = -0.3 * hbo + 0.02 * rng.standard_normal(hbo.shape)
    return hbo, hbr


def table_tsv() -> None:
    """Tab-separated, time column, micromol/L (``# unit=uM``), with ``# meas_date``."""
    pairs = ["S1_D1", "S2_D1", "S2_D2"]
    hbo, hbr = _hb_signals(len(pairs), seed=1)
    header = ["time"] + [f"{p} {c}" for p in pairs for c in ("hbo", "hbr")]
    lines = ["# Preprocessed elsewhere; concentration changes in micromol/L", "# unit=uM",
             "# meas_date=2019-09-28T16:32:27.637Z", "\t".join(header)]
    for i in range(N_TIMES):
        row = [f"{i / SFREQ:.1f}"]
        for k in range(len(pairs)):
            row += [f"{hbo[i, k]:.6f}", f"{hbr[i, k]:.6f}"]
        lines.append("\t".join(row))
    (HERE / "table_uM.tsv").write_text("\n".join(lines) + "\n")


def table_csv() -> None:
    """Comma-separated, no time column (``# sfreq=10``), mol/L, hbr before hbo."""
    pairs = ["S1_D1", "S1_D2"]
    hbo, hbr = _hb_signals(len(pairs), seed=2)
    header = [f"{p} {c}" for p in pairs for c in ("hbr", "hbo")]
    lines = ["# sfreq=10", ",".join(header)]
    for i in range(N_TIMES):
        row = []
        for k in range(len(pairs)):
            row += [f"{hbr[i, k] * 1e-6:.6e}", f"{hbo[i, k] * 1e-6:.6e}"]
        lines.append(",".join(row))
    (HERE / "table_sfreq.csv").write_text("\n".join(lines) + "\n")


def table_mat() -> None:
    """MATLAB v5: data (time x channel, micromol/L), sfreq, channels, unit."""
    pairs = ["S1_D1", "S2_D1"]
    hbo, hbr = _hb_signals(len(pairs), seed=3)
    data = np.column_stack([hbo[:, 0], hbr[:, 0], hbo[:, 1], hbr[:, 1]])
    channels = np.empty((1, 4), dtype=object)
    channels[0, :] = ["S1_D1 hbo", "S1_D1 hbr", "S2_D1 hbo", "S2_D1 hbr"]
    scipy.io.savemat(HERE / "table.mat", {"data": data, "sfreq": SFREQ, "channels": channels,
                                          "unit": "uM"})


def homer_nirs() -> None:
    """A small synthetic Homer .nirs: 3 pairs x 2 wavelengths, mm, 2 conditions.

    MeasList is ordered by wavelength and the pairs are not sorted, as Homer writes
    them; the 850 nm rows come in a different pair order than the 760 nm rows.
    """
    rng = np.random.default_rng(4)
    t = (np.arange(N_TIMES) / SFREQ).reshape(-1, 1)
    src = np.array([[0.0, 0.0, 0.0], [30.0, 0.0, 0.0]])          # mm
    det = np.array([[0.0, 30.0, 0.0], [30.0, 30.0, 0.0]])
    ml = np.array([[2, 1, 1, 1], [1, 1, 1, 1], [2, 2, 1, 1],      # 760 nm
                   [1, 1, 1, 2], [2, 1, 1, 2], [2, 2, 1, 2]])     # 850 nm
    d = 1.0 + 0.01 * rng.standard_normal((N_TIMES, len(ml)))
    d[:, 0] += 1.0  # S2_D1 760 is brighter: identifies the column
    s = np.zeros((N_TIMES, 2))
    s[[50, 150], 0] = 1      # condition "rest" at 5 s and 15 s
    s[100, 1] = 1            # condition "talk" at 10 s
    s[200, 1] = -1           # a disabled trial: not read
    cond = np.empty((1, 2), dtype=object)
    cond[0, :] = ["rest", "talk"]
    sd = {"Lambda": np.array([[760.0, 850.0]]), "MeasList": ml.astype(float),
          "SrcPos": src, "DetPos": det, "nSrcs": 2.0, "nDets": 2.0, "SpatialUnit": "mm"}
    scipy.io.savemat(HERE / "homer_small.nirs", {"d": d, "t": t, "SD": sd, "s": s,
                                                 "CondNames": cond,
                                                 "aux": np.zeros((N_TIMES, 1))},
                     appendmat=False)


if __name__ == "__main__":
    table_tsv()
    table_csv()
    table_mat()
    homer_nirs()
