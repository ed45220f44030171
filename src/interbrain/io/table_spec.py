"""How a lab's own table is laid out: :class:`TableSpec` (``table = {...}`` in
``study.toml``) and the channel names and units it gives.

A table of haemoglobin signals (``.csv``, ``.tsv`` or ``.mat``, read by
:func:`interbrain.io.read_table`) in interbrain's own layout needs no spec. A lab's
own layout is described by a spec, study-wide (``[defaults] table = {...}``) or per
session (``[[sessions]] table = {...}``, whose keys override the defaults'):

``data``
    ``.mat`` only: the variable holding the samples, n_times x n_channels (e.g.
    ``"oxyData"``; default ``"data"``), or one variable per signal,
    ``{ hbo = "oxyData", hbr = "deoxyData" }``.
``signal``
    ``"hbo"`` or ``"hbr"``: what the channels hold when their names do not say it
    (names without `` hbo`` / `` hbr``, e.g. ``"S1_D1"`` or ``"CH1"``).
``channels``
    The channel names: ``.mat``: a list of names, one per column of the data, or the
    variable holding them (a cell array; default ``"channels"`` when the file has it,
    else ``ch1``, ``ch2``, ... are generated); ``.csv``/``.tsv``: the columns to read
    (default every column but the time column).
``time``
    The variable (``.mat``) or column (``.csv``/``.tsv``) of sample times in seconds
    (default ``"time"`` when there is one).
``sfreq``
    The sampling rate: a number in Hz, or (``.mat``) the variable holding it (default
    ``"sfreq"`` when the file has it). One of ``time`` and ``sfreq`` is needed.
``unit``
    The concentration unit of the values (:data:`UNIT_NAMES`); default the file's
    (``# unit=`` comment, ``unit`` variable), else mol/L.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace
from typing import Any

from .._check import check_keys, check_name
from ..design import RecordingRef
from ..errors import StudyError

#: Keys of a table spec.
TABLE_KEYS: tuple[str, ...] = ("data", "signal", "channels", "time", "sfreq", "unit")
#: Concentration units accepted (case-insensitive), each with its factor to mol/L.
UNITS: dict[str, float] = {"m": 1.0, "mol/l": 1.0, "mm": 1e-3, "mmol/l": 1e-3, "um": 1e-6,
                           "µm": 1e-6, "μm": 1e-6, "umol/l": 1e-6, "µmol/l": 1e-6,
                           "μmol/l": 1e-6, "nm": 1e-9, "nmol/l": 1e-9}
#: The accepted units as a message lists them.
UNIT_NAMES = "M (mol/L), mM (mmol/L), uM (µM, umol/L) or nM (nmol/L)"
_HB = ("hbo", "hbr")
_PAIR_RE = re.compile(r"^S(\d+)_D(\d+)$", re.IGNORECASE)
_NAMED_RE = re.compile(r"^(\S+)\s+(hbo|hbr)$", re.IGNORECASE)


@dataclass(frozen=True)
class TableSpec:
    """The layout of a table of haemoglobin signals (see the module docstring).

    Attributes
    ----------
    data : str, tuple of (str, str) or None
        ``.mat`` variable of the samples, or (signal, variable) per signal.
    signal : str or None
        ``"hbo"`` or ``"hbr"``: what channels without a chromophore in their name hold.
    channels : tuple of str, str or None
        Channel names (``.mat``) or columns to read (text tables); a ``.mat`` variable
        name when a str.
    time : str or None
        Variable or column of sample times in seconds.
    sfreq : float, str or None
        Sampling rate in Hz, or the ``.mat`` variable holding it.
    unit : str or None
        Concentration unit (:data:`UNIT_NAMES`).
    """

    data: str | tuple[tuple[str, str], ...] | None = None
    signal: str | None = None
    channels: tuple[str, ...] | str | None = None
    time: str | None = None
    sfreq: float | str | None = None
    unit: str | None = None

    @classmethod
    def from_table(cls, table: Any, at: str) -> TableSpec:
        """Check a ``table = {...}`` of ``study.toml``.

        Parameters
        ----------
        table : dict
            The table as read.
        at : str
            ``study.toml`` and the entry, for messages.

        Raises
        ------
        StudyError
            On an unknown key or a value of the wrong kind, naming ``at`` and the key.
        """
        at = f"{at}: table"
        if not isinstance(table, dict):
            raise StudyError(f"{at} must be a table such as {{ data = \"oxyData\", signal = "
                             f"\"hbo\", sfreq = 10.0 }} (keys: {', '.join(TABLE_KEYS)})")
        check_keys(table, set(TABLE_KEYS), at, StudyError)
        out: dict[str, Any] = {}
        data = table.get("data")
        if isinstance(data, dict):
            check_keys(data, set(_HB), f"{at}.data", StudyError)
            if not data:
                raise StudyError(f"{at}.data: name the variable of hbo, hbr or both")
            out["data"] = tuple((s, _text(data[s], f"{at}.data.{s}")) for s in _HB
                                if s in data)
        elif data is not None:
            out["data"] = _text(data, f"{at}.data")
        if "signal" in table:
            if table["signal"] not in _HB:
                raise StudyError(f"{at}.signal must be \"hbo\" or \"hbr\", got "
                                 f"{table['signal']!r}")
            out["signal"] = table["signal"]
        channels = table.get("channels")
        if isinstance(channels, list):
            if not channels:
                raise StudyError(f"{at}.channels: an empty list")
            names = tuple(_text(c, f"{at}.channels") for c in channels)
            for name in names:
                check_name(name, "channel name", f"{at}.channels", StudyError)
            if len(set(names)) != len(names):
                twice = sorted({n for n in names if names.count(n) > 1})
                raise StudyError(f"{at}.channels: {', '.join(twice)} listed twice")
            out["channels"] = names
        elif channels is not None:
            out["channels"] = _text(channels, f"{at}.channels")
        if "time" in table:
            out["time"] = _text(table["time"], f"{at}.time")
        sfreq = table.get("sfreq")
        if isinstance(sfreq, str):
            out["sfreq"] = _text(sfreq, f"{at}.sfreq")
        elif sfreq is not None:
            if (isinstance(sfreq, bool) or not isinstance(sfreq, (int, float))
                    or not math.isfinite(sfreq) or sfreq <= 0):
                raise StudyError(f"{at}.sfreq must be a positive number of Hz (or the name "
                                 f"of the .mat variable holding it), got {sfreq!r}")
            out["sfreq"] = float(sfreq)
        if "unit" in table:
            out["unit"] = check_unit(table["unit"], at)
        return cls(**out)

    def over(self, defaults: TableSpec | None) -> TableSpec:
        """This spec with the keys it does not set taken from ``defaults``."""
        if defaults is None:
            return self
        given = {f.name: getattr(self, f.name) for f in fields(self)
                 if getattr(self, f.name) is not None}
        return replace(defaults, **given)

    def described(self) -> str:
        """The keys set, as ``study.toml`` writes them (for messages and methods)."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name == "data" and isinstance(value, tuple):
                value = "{ " + ", ".join(f"{s} = \"{v}\"" for s, v in value) + " }"
            elif isinstance(value, tuple):
                value = "[" + ", ".join(f"\"{v}\"" for v in value) + "]"
            elif isinstance(value, str):
                value = f"\"{value}\""
            parts.append(f"{f.name} = {value}")
        return "{ " + ", ".join(parts) + " }"


@dataclass(frozen=True)
class TableRecordingRef(RecordingRef):
    """A recording that is a table in a lab's own layout: a
    :class:`~interbrain.design.RecordingRef` and its :class:`TableSpec` (``table``)."""

    table: TableSpec | None = None


def recording_table(ref: RecordingRef) -> TableSpec | None:
    """The :class:`TableSpec` of a recording; None for interbrain's own layouts."""
    return ref.table if isinstance(ref, TableRecordingRef) else None


def _text(value: Any, at: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StudyError(f"{at} must be a non-empty string, got {value!r}")
    return value


def check_unit(unit: Any, at: str, error: type[Exception] = StudyError) -> str:
    """``unit`` if it is an accepted concentration unit (:data:`UNITS`).

    Raises
    ------
    error
        Naming ``at``, the unit and the accepted ones.
    """
    if not isinstance(unit, str) or unit.strip().lower() not in UNITS:
        raise error(f"{at}: unknown concentration unit {unit!r}; accepted: {UNIT_NAMES}")
    return unit.strip()


def unit_scale(unit: str) -> float:
    """The factor from ``unit`` (:data:`UNITS`, checked) to mol/L."""
    return UNITS[unit.strip().lower()]


def channel_signals(names: list[str], signal: str | None, source: str, what: str,
                    error: type[Exception]) -> list[tuple[str, str, str]]:
    """(name as given, channel, signal) of each column.

    A name ``S<s>_D<d> hbo`` (or ``hbr``, any case) gives channel ``S<s>_D<d>``; with a
    spec, any name ``<channel> hbo|hbr`` does, and with ``signal`` a name without
    chromophore is the channel itself, holding ``signal``.

    Parameters
    ----------
    names : list of str
        The column names (or ``.mat`` channel names).
    signal : str or None
        What channels without a chromophore in their name hold (the spec's ``signal``).
    source : str
        The file, for messages.
    what : str
        ``"column"`` or ``"channel"``, for messages.
    error : type
        The exception raised.

    Raises
    ------
    error
        Naming the file and the name, when a name says no signal and ``signal`` is not
        given, holds white space, or two names give one channel and signal.
    """
    out = []
    for name in names:
        text = name.strip()
        m = _NAMED_RE.match(text)
        if m:
            pair = _pair(m[1])
            out.append((name, pair, m[2].lower()))
        elif signal is not None and not any(c.isspace() for c in text) and text:
            out.append((name, _pair(text), signal))
        else:
            hint = ("give the signal the channels hold in study.toml: table = { signal = "
                    "\"hbo\" } (or \"hbr\")" if signal is None
                    else "a channel name has no spaces")
            raise error(f"{source}: {what} '{name}' is neither 'time' nor a channel name "
                        f"like 'S1_D1 hbo' or 'S1_D1 hbr'; {hint}")
    seen: dict[str, str] = {}
    for name, pair, chrom in out:
        key = f"{pair} {chrom}"
        if key in seen:
            raise error(f"{source}: {what}s '{seen[key]}' and '{name}' are both {key}")
        seen[key] = name
    hbo = [p for _, p, c in out if c == "hbo"]
    hbr = [p for _, p, c in out if c == "hbr"]
    if hbo and hbr and set(hbo) != set(hbr):
        lone = sorted(set(hbo) ^ set(hbr))[0]
        has = "hbo" if lone in hbo else "hbr"
        raise error(f"{source}: {lone} has an {has} {what} but no "
                    f"{'hbr' if has == 'hbo' else 'hbo'} {what}; give both for every "
                    "channel, or one signal (hbo only or hbr only) for all")
    return out


def _pair(text: str) -> str:
    m = _PAIR_RE.match(text)
    return f"S{int(m[1])}_D{int(m[2])}" if m else text


def channel_order(pairs: list[str]) -> list[str]:
    """Channels in MNE's order: by source then detector number when every name is
    ``S<s>_D<d>``, else as given."""
    pairs = list(dict.fromkeys(pairs))
    if all(_PAIR_RE.match(p) for p in pairs):
        return sorted(pairs, key=lambda p: tuple(int(x[1:]) for x in p.split("_")))
    return pairs


def generated_names(n: int) -> list[str]:
    """``ch1``, ..., ``ch<n>``: the names of channels a file does not name."""
    return [f"ch{k}" for k in range(1, n + 1)]
