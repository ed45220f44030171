"""The ``.mat`` layout of haemoglobin tables: interbrain's (variables ``data``,
``sfreq``, ``channels``) or a lab's own, named by a :class:`~.table_spec.TableSpec`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import RecordingError
from ._matlab import load_mat, mat_string
from ._sampling import sampling_rate
from .table_spec import TableSpec, generated_names

#: What a table ``.mat`` file is, for messages.
WHAT = "table (.mat with the haemoglobin samples)"


def _variables(mat: dict) -> str:
    return ", ".join(sorted(k for k in mat if not k.startswith("__"))) or "none"


def _variable(mat: dict, name: str, path: Path, key: str) -> np.ndarray:
    if name not in mat:
        raise RecordingError(f"{path}: no variable '{name}' (table {key} = \"{name}\" in "
                             f"study.toml); the file's variables: {_variables(mat)}")
    return np.asarray(mat[name])


def _samples(mat: dict, name: str, path: Path, key: str) -> np.ndarray:
    data = _variable(mat, name, path, key)
    if data.dtype.kind not in "biuf" or data.ndim != 2 or data.size == 0:
        raise RecordingError(f"{path}: variable '{name}' must be a numeric n_times x "
                             f"n_channels matrix, got {data.dtype} of shape {data.shape}")
    return data.astype(float)


def _names(mat: dict, spec: TableSpec, shape: tuple[int, int], path: Path, data_name: str
           ) -> tuple[list[str], str]:
    """The channel names of the data's columns and where they came from."""
    given = spec.channels
    if isinstance(given, tuple):
        names, origin = list(given), "the table's channels in study.toml"
    else:
        var = given or "channels"
        if var not in mat:
            if given is not None:
                _variable(mat, var, path, "channels")
            return generated_names(shape[1]), "generated"
        cells = np.asarray(mat[var])
        if cells.dtype.kind in "US":  # a char matrix, one name per row
            names = [str(r).strip() for r in cells.ravel()]
        else:
            names = [mat_string(c) for c in cells.ravel()]
            if any(n is None for n in names):
                raise RecordingError(f"{path}: variable '{var}' must be a cell array of "
                                     "channel names (strings)")
        origin = var
    if len(names) != shape[1]:
        raise RecordingError(f"{path}: {data_name} has {shape[1]} columns but {origin} has "
                             f"{len(names)} names"
                             + (" (data must be time x channel: transpose it)"
                                if len(names) == shape[0] else ""))
    return names, origin


def _rate(mat: dict, spec: TableSpec, n_times: int, path: Path) -> float:
    time_var = spec.time or ("time" if "time" in mat and spec.sfreq is None else None)
    if isinstance(spec.sfreq, float):
        sfreq = spec.sfreq
    elif spec.sfreq is not None or "sfreq" in mat:
        name = spec.sfreq or "sfreq"
        sf = _variable(mat, name, path, "sfreq")
        if sf.dtype.kind not in "biuf" or sf.size != 1 or not np.isfinite(sf).all() \
                or sf.item() <= 0:
            raise RecordingError(f"{path}: variable '{name}' (the sampling rate) must be one "
                                 "positive number (Hz)")
        sfreq = float(sf.item())
    else:
        sfreq = None
    if time_var is not None:
        times = _variable(mat, time_var, path, "time").astype(float).ravel()
        if times.size != n_times:
            raise RecordingError(f"{path}: variable '{time_var}' (sample times) has "
                                 f"{times.size} values but the data {n_times} samples")
        rate = sampling_rate(times, source=f"{path}: variable '{time_var}'")
        if sfreq is not None and abs(rate - sfreq) > 1e-3 * sfreq:
            raise RecordingError(f"{path}: the sampling rate {sfreq:g} Hz disagrees with "
                                 f"variable '{time_var}' ({rate:g} Hz)")
        return rate
    if sfreq is None:
        raise RecordingError(f"{path}: the sampling rate is unknown: no variable 'sfreq' or "
                             "'time'; name one in study.toml (table = { sfreq = 10.0 }, or "
                             f"sfreq = \"<variable>\" or time = \"<variable>\"); the file's "
                             f"variables: {_variables(mat)}")
    return sfreq


def read_mat_table(path: Path, spec: TableSpec | None
                   ) -> tuple[np.ndarray, list[str], float, dict, object, str | None]:
    """Samples, column names, rate, metadata, row locator and the default signal of a
    table ``.mat`` file.

    Returns
    -------
    data : numpy.ndarray
        Shape (n_times, n_columns).
    names : list of str
        The columns' channel names; with ``spec.data`` a table of one variable per
        signal, ``"<name> hbo"`` / ``"<name> hbr"``.
    sfreq : float
        Hz.
    meta : dict
        ``unit`` and ``meas_date`` variables, when the file has them.
    where : callable
        Row index -> ``"data row <i>"``.
    signal : str or None
        What channels without chromophore hold (``spec.signal``).
    """
    spec = spec or TableSpec()
    mat = load_mat(path, WHAT)
    if spec == TableSpec():
        missing = [k for k in ("data", "sfreq", "channels") if k not in mat]
        if missing:
            raise RecordingError(
                f"{path}: missing variable(s) {', '.join(missing)} (a table .mat needs data, "
                f"sfreq, channels, or study.toml names the file's own: table = {{ data = "
                f"\"oxyData\", signal = \"hbo\", sfreq = 10.0 }}; see docs/study-format.md); "
                f"found: {_variables(mat)}")
    blocks = (list(spec.data) if isinstance(spec.data, tuple)
              else [(None, spec.data or "data")])
    arrays, names = [], []
    for signal, var in blocks:
        data = _samples(mat, var, path, "data" if signal is None else f"data.{signal}")
        if arrays and data.shape != arrays[0].shape:
            raise RecordingError(f"{path}: variables '{blocks[0][1]}' and '{var}' differ in "
                                 f"shape ({arrays[0].shape} and {data.shape})")
        cols, _ = _names(mat, spec, data.shape, path, var)
        names += [c if signal is None else f"{c} {signal}" for c in cols]
        arrays.append(data)
    data = np.concatenate(arrays, axis=1)
    if data.shape[0] < 2:
        raise RecordingError(f"{path}: variable '{blocks[0][1]}' has {data.shape[0]} "
                             "sample(s); need at least 2 (data must be time x channel)")
    sfreq = _rate(mat, spec, data.shape[0], path)

    def where(i: int) -> str:
        return f"data row {i + 1}"

    bad = np.argwhere(~np.isfinite(data))
    if bad.size:
        i, j = (int(x) for x in bad[0])
        raise RecordingError(f"{path}: {where(i)}, channel '{names[j]}' ({j + 1}) is "
                             f"{data[i, j]} ({len(bad)} non-finite value(s))")
    meta = {key: mat_string(mat[key]) for key in ("unit", "meas_date") if key in mat}
    return data, names, sfreq, meta, where, spec.signal
