"""Synchrony per region of interest (ROI), in the two flavours of :data:`ROI_METHODS`.

``"mean_of_pairs"`` (:func:`region_mean_of_pairs`): the average of the channel-pair
values whose channels lie in regions ``(region_a, region_b)``;
``"region_average_signal"`` (:func:`region_signal_coherence`): the coherence of the
region-averaged signals, one signal per region and partner.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..coherence import band_coherence

#: Values of the ``roi_method`` column of the region-of-interest summaries.
ROI_METHODS: tuple[str, ...] = ("mean_of_pairs", "region_average_signal")


def _check_regions(regions: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(regions, Mapping):
        raise ValueError("regions must be a mapping of channel name -> region name, got "
                         f"{type(regions).__name__}")
    out = {}
    for ch, reg in regions.items():
        if not isinstance(reg, str) or not reg:
            raise ValueError(f"regions: channel {ch!r} must map to a region name, got {reg!r}")
        out[str(ch)] = reg
    return out


def _bad_sets(bad_channels: Any) -> tuple[frozenset[str], frozenset[str]]:
    """Bad channels of partner a and b: one collection for both or ``{"a": .., "b": ..}``."""
    if bad_channels is None:
        return frozenset(), frozenset()
    if isinstance(bad_channels, str):
        raise ValueError("bad_channels must be a collection of channel names (a set), or a "
                         f"mapping {{'a': ..., 'b': ...}}, not the string {bad_channels!r}")
    if isinstance(bad_channels, Mapping):
        extra = set(bad_channels) - {"a", "b"}
        if extra:
            raise ValueError("bad_channels as a mapping must have keys 'a' and/or 'b' (one "
                             f"collection per partner), got {sorted(map(str, extra))}")
        sets = []
        for key in ("a", "b"):
            val = bad_channels.get(key, ())
            if isinstance(val, str):
                raise ValueError(f"bad_channels[{key!r}] must be a collection of channel "
                                 f"names, not the string {val!r}")
            sets.append(frozenset(str(c) for c in val))
        return sets[0], sets[1]
    both = frozenset(str(c) for c in bad_channels)
    return both, both


def _region_order(regions: Mapping[str, str], present: Iterable[str]) -> list[str]:
    """Regions in order of first appearance in ``regions``, restricted to ``present``."""
    present = set(present)
    return [r for r in dict.fromkeys(regions.values()) if r in present]


def _pair_channel_names(pair_channels: Any) -> tuple[pd.Series, pd.Series]:
    """Channel names of partner A and B of each pair, as two Series of str."""
    if isinstance(pair_channels, pd.DataFrame):
        if pair_channels.shape[1] != 2:
            raise ValueError("pair_channels must be a sequence of (channel_a, channel_b) names")
        return tuple(pair_channels.iloc[:, k].astype(str).reset_index(drop=True)
                     for k in (0, 1))  # type: ignore[return-value]
    names = [tuple(p) for p in pair_channels]
    if any(len(p) != 2 for p in names):
        raise ValueError("pair_channels must be a sequence of (channel_a, channel_b) names")
    return (pd.Series([str(a) for a, _ in names], dtype=object),
            pd.Series([str(b) for _, b in names], dtype=object))


def _check_keys(keys: Any, n_pairs: int, reserved: Collection[str]) -> pd.DataFrame:
    if not isinstance(keys, pd.DataFrame):
        raise ValueError(f"keys must be a pandas DataFrame, got {type(keys).__name__}")
    if len(keys) != n_pairs:
        raise ValueError(f"keys has {len(keys)} rows for {n_pairs} rows of values")
    clash = sorted(set(map(str, keys.columns)) & set(reserved))
    if clash:
        raise ValueError(f"keys must not have columns named {clash}: they are output columns")
    return keys.reset_index(drop=True)


def region_mean_of_pairs(values: Any, pair_channels: Sequence[tuple[str, str]] | pd.DataFrame,
                         regions: Mapping[str, str], *, bad_channels: Any = None,
                         columns: Sequence[Any] | None = None, column_name: str = "window",
                         keys: pd.DataFrame | None = None,
                         region_columns: tuple[str, str] = ("region_a", "region_b"),
                         count_missing: bool = False, details: bool = True) -> pd.DataFrame:
    """Region-of-interest synchrony as the mean of channel-pair values.

    Every channel pair ``(ch_a, ch_b)`` whose channels both have a region contributes
    to the region pair ``(regions[ch_a], regions[ch_b])``; the value of a region pair is
    the mean of its finite pair values. Homologous region pairs (``region_a ==
    region_b``) come from channel pairs within one region, which include the homologous
    channel pairs and, with ``pairs="all"`` upstream, the other within-region pairs.

    With ``keys``, ``values`` is a long table of many pairings (e.g. every dyad,
    session, signal and metric of a study, the engine's synchrony table) and region
    pairs are averaged separately per distinct combination of the keys.

    Parameters
    ----------
    values : array_like of float, shape (n_pairs,) or (n_pairs, n_columns)
        One value per channel pair (e.g. :func:`~interbrain.synchrony.band_coherence`),
        or per pair and window/lag (e.g. :func:`windowed_band_coherence`,
        :func:`lagged_band_coherence`).
    pair_channels : sequence of (str, str) or pandas.DataFrame, length n_pairs
        Channel names of each pair: partner A's channel, partner B's channel (a
        DataFrame: its two columns, in that order).
    regions : mapping of str to str
        Channel name -> region name (the same montage on both partners). Channels
        without a region (e.g. short-separation channels) belong to no region; pairs
        with such a channel are left out.
    bad_channels : collection of str or mapping, optional
        Channels to leave out: one set for both partners, or ``{"a": set, "b": set}``.
        A pair with a bad channel on either side is left out.
    columns : sequence, optional
        Labels of the columns of a 2-D ``values`` (window labels, lags in seconds);
        default 0, 1, ...
    column_name : str, default "window"
        Name of the output column holding ``columns`` (2-D ``values`` only).
    keys : pandas.DataFrame, optional
        Labels of each pair, n_pairs rows (e.g. columns ``dyad``, ``session``,
        ``signal``, ``metric``): one mean per region pair and combination of labels.
        A pair with a missing label is left out, as :meth:`pandas.DataFrame.groupby`
        leaves it out.
    region_columns : (str, str), default ("region_a", "region_b")
        Names of the output columns of partner A's and partner B's region.
    count_missing : bool, default False
        Count in ``n_pairs`` the pairs without a finite value too (they are never
        averaged).
    details : bool, default True
        Also the columns ``homologous``, ``n_channels_a`` and ``n_channels_b``.

    Returns
    -------
    pandas.DataFrame
        One row per region pair (and column of ``values``; and combination of
        ``keys``). Without ``keys``, region pairs in order of first appearance of their
        regions in ``regions``; with ``keys``, rows sorted by the keys, then the region
        names, as :meth:`pandas.DataFrame.groupby` sorts them. Columns: the ``keys``,
        ``region_a``, ``region_b`` (``region_columns``), ``homologous`` (bool),
        [``column_name``], ``value`` (mean of the finite pair values, NaN if there is
        none), ``n_pairs`` (finite pair values averaged, or all pairs with
        ``count_missing``), ``n_channels_a`` and ``n_channels_b`` (distinct channels of
        the averaged pairs on each side) and ``roi_method`` (``"mean_of_pairs"``);
        ``homologous`` and ``n_channels_*`` only with ``details``.

    Raises
    ------
    ValueError
        ``values`` not 1-D/2-D, a length mismatch with ``pair_channels``, ``columns``
        or ``keys``, a malformed ``regions``, ``keys`` with an output column's name, or
        (without ``keys``) no pair with both channels in a region.
    """
    regions = _check_regions(regions)
    vals = np.asarray(values, dtype=np.float64)
    one_d = vals.ndim == 1
    if one_d:
        vals = vals[:, None]
    if vals.ndim != 2:
        raise ValueError(f"values must have shape (n_pairs,) or (n_pairs, n_columns), got "
                         f"{np.shape(values)}")
    ch_a, ch_b = _pair_channel_names(pair_channels)
    if len(ch_a) != vals.shape[0]:
        raise ValueError(f"{len(ch_a)} pair_channels for {vals.shape[0]} rows of values")
    if columns is None:
        columns = list(range(vals.shape[1]))
    else:
        columns = list(columns)
        if one_d or len(columns) != vals.shape[1]:
            raise ValueError(f"columns must label the {vals.shape[1]} columns of a 2-D "
                             f"values, got {len(columns)} labels")
    ra, rb = region_columns
    outputs = [ra, rb, "value", "n_pairs", "roi_method"]
    outputs += ["homologous", "n_channels_a", "n_channels_b"] if details else []
    outputs += [] if one_d else [column_name]
    if keys is not None:
        keys = _check_keys(keys, vals.shape[0], outputs)
    bad_a, bad_b = _bad_sets(bad_channels)
    region_a, region_b = ch_a.map(regions), ch_b.map(regions)
    keep = (region_a.notna() & region_b.notna()
            & ~ch_a.isin(bad_a) & ~ch_b.isin(bad_b)).to_numpy()
    rows = np.repeat(np.flatnonzero(keep), vals.shape[1])
    col = np.tile(np.arange(vals.shape[1]), int(keep.sum()))
    frame = pd.DataFrame() if keys is None else keys.iloc[rows].reset_index(drop=True)
    frame[ra] = region_a.iloc[rows].reset_index(drop=True)
    frame[rb] = region_b.iloc[rows].reset_index(drop=True)
    group = list(frame.columns) + ([] if one_d else ["_column"])
    if not one_d:
        frame["_column"] = col
    value = vals[rows, col]
    finite = np.isfinite(value)
    frame["value"] = np.where(finite, value, np.nan)
    if keys is None and not keep.any():
        raise ValueError("no channel pair has both channels in a region (after leaving out "
                         "bad channels); check that the pair channel names match the keys of "
                         f"regions (e.g. {next(iter(regions), None)!r} vs "
                         f"{(ch_a.iloc[0], ch_b.iloc[0]) if len(ch_a) else None!r})")
    by = frame.groupby(group, as_index=False)
    out = by["value"].agg(value="mean", n_pairs="size" if count_missing else "count")
    if details:
        for side, names in (("a", ch_a), ("b", ch_b)):
            frame[f"_channel_{side}"] = np.where(finite, names.iloc[rows].to_numpy(), None)
        counts = frame.groupby(group, as_index=False).agg(
            n_channels_a=("_channel_a", "nunique"), n_channels_b=("_channel_b", "nunique"))
        out[["n_channels_a", "n_channels_b"]] = counts[["n_channels_a", "n_channels_b"]]
        out.insert(out.columns.get_loc(rb) + 1, "homologous", out[ra] == out[rb])
    if keys is None:  # region pairs in the order of regions, then columns
        order = {r: i for i, r in enumerate(dict.fromkeys(regions.values()))}
        rank = [out[ra].map(order), out[rb].map(order)]
        out = (out.assign(_rank_a=rank[0], _rank_b=rank[1])
               .sort_values(["_rank_a", "_rank_b"] + ([] if one_d else ["_column"]),
                            kind="stable")
               .drop(columns=["_rank_a", "_rank_b"]).reset_index(drop=True))
    if not one_d:
        out.insert(out.columns.get_loc("_column"),
                   column_name, [columns[k] for k in out["_column"]])
        out = out.drop(columns=["_column"])
    out["roi_method"] = "mean_of_pairs"
    return out


def _region_signals(x: np.ndarray, channels: list[str], regions: dict[str, str],
                    bad: frozenset[str], standardize: bool, side: str
                    ) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Average of the good channels of each region: signals and channel counts."""
    unknown = sorted(set(regions) - set(channels))
    if unknown:
        raise ValueError(f"regions names channel(s) {unknown[:5]} that partner {side} does not "
                         f"have (its channels: {channels[:5]}{' ...' if len(channels) > 5 else ''}"
                         "); fix the channel names, or drop missing channels from regions")
    unknown_bad = sorted(bad - set(channels))
    if unknown_bad:
        raise ValueError(f"bad channel(s) {unknown_bad[:5]} of partner {side} are not among "
                         "its channels")
    members: dict[str, list[int]] = {}
    counts: dict[str, int] = {}
    for i, ch in enumerate(channels):
        reg = regions.get(ch)
        if reg is None:
            continue
        counts.setdefault(reg, 0)
        if ch in bad:
            continue
        members.setdefault(reg, []).append(i)
        counts[reg] += 1
    signals = {}
    for reg, rows in members.items():
        sub = x[rows]
        if standardize:
            sd = sub.std(axis=1, keepdims=True)
            if np.any(sd == 0):
                ch = channels[rows[int(np.flatnonzero(sd[:, 0] == 0)[0])]]
                raise ValueError(f"channel {ch!r} of partner {side} is constant and cannot be "
                                 "standardised; mark it bad")
            sub = (sub - sub.mean(axis=1, keepdims=True)) / sd
        signals[reg] = sub.mean(axis=0)
    return signals, counts


def region_signal_coherence(a: Any, b: Any, dt: float, *, channels: Sequence[str],
                            regions: Mapping[str, str], band: tuple[float, float],
                            pairs: str | Sequence[tuple[str, str]] = "homologous",
                            channels_b: Sequence[str] | None = None,
                            bad_channels: Any = None, standardize: bool = False,
                            exclude_coi: bool = True, dj: float = 1 / 12,
                            s0: float | None = None, j1: int | None = None,
                            max_scale: float | None = None, pad: bool = True,
                            dtype: str = "float64", workers: int | None = None
                            ) -> pd.DataFrame:
    """Region-of-interest synchrony as the coherence of region-averaged signals.

    For each partner and region, the good channels of the region are averaged sample by
    sample into one region signal; the band-averaged wavelet coherence
    (:func:`~interbrain.synchrony.band_coherence`) of region signals is then computed
    for the requested region pairs.

    Parameters
    ----------
    a, b : array_like, shape (n_channels_a, n_times), (n_channels_b, n_times)
        Signals of the two partners (one chromophore), sampled every ``dt`` seconds.
    dt : float
        Sampling interval in seconds.
    channels : sequence of str, length n_channels_a
        Channel names of the rows of ``a`` (and of ``b`` unless ``channels_b``).
    regions : mapping of str to str
        Channel name -> region name. Channels of the data without a region belong to no
        region; a channel of ``regions`` missing from a partner's channels raises.
    band : (float, float)
        Shortest and longest period in seconds.
    pairs : {"homologous", "all"} or sequence of (str, str), default "homologous"
        Region pairs: each region with itself, every ``(region_a, region_b)``, or an
        explicit list of region names.
    channels_b : sequence of str, optional
        Channel names of the rows of ``b`` if they differ from ``channels``.
    bad_channels : collection of str or mapping, optional
        Channels left out of the averages: one set for both partners, or
        ``{"a": set, "b": set}``.
    standardize : bool, default False
        z-score each channel before averaging, so that every channel weighs the same
        whatever its amplitude (otherwise large-amplitude channels dominate).
    exclude_coi : bool, default True
        Average only the cells outside the cone of influence.
    dj, s0, j1, max_scale, pad, dtype
        Wavelet options, as in :func:`~interbrain.synchrony.wtc`.
    workers : int, optional
        Threads of :mod:`scipy.fft`.

    Returns
    -------
    pandas.DataFrame
        One row per region pair: ``region_a``, ``region_b``, ``homologous`` (bool),
        ``value`` (band-mean coherence; NaN when a region has no good channel in a
        partner or its average is constant), ``n_channels_a`` and ``n_channels_b``
        (good channels averaged) and ``roi_method`` (``"region_average_signal"``).

    Raises
    ------
    ValueError
        Mismatched channel names and rows, a ``regions`` channel missing from the data,
        an unknown bad channel, an unknown region in explicit ``pairs``, no region in
        the data, or the errors of :func:`~interbrain.synchrony.band_coherence`
        (different lengths, non-finite samples, a recording too short for the band).
    """
    regions = _check_regions(regions)
    same = a is b and channels_b is None
    xa = np.asarray(a, dtype=np.float64)
    xb = xa if same else np.asarray(b, dtype=np.float64)
    for x, side in ((xa, "a"), (xb, "b")):
        if x.ndim != 2:
            raise ValueError(f"{side} must be a (n_channels, n_times) array, got shape "
                             f"{x.shape}")
    if xa.shape[1] != xb.shape[1]:
        raise ValueError(f"a and b must have the same number of samples, got {xa.shape[1]} "
                         f"and {xb.shape[1]}")
    ch_a = [str(c) for c in channels]
    ch_b = ch_a if channels_b is None else [str(c) for c in channels_b]
    for chs, x, side in ((ch_a, xa, "a"), (ch_b, xb, "b")):
        if len(chs) != x.shape[0]:
            raise ValueError(f"{len(chs)} channel names for the {x.shape[0]} rows of {side}")
        if len(set(chs)) != len(chs):
            raise ValueError(f"duplicate channel names in partner {side}")
    bad_a, bad_b = _bad_sets(bad_channels)
    sig_a, cnt_a = _region_signals(xa, ch_a, regions, bad_a, standardize, "a")
    if same and bad_a == bad_b:
        sig_b, cnt_b = sig_a, cnt_a
    else:
        sig_b, cnt_b = _region_signals(xb, ch_b, regions, bad_b, standardize, "b")
    regs_a = _region_order(regions, cnt_a)
    regs_b = _region_order(regions, cnt_b)
    if not regs_a or not regs_b:
        raise ValueError("no channel of the data has a region; check that channel names "
                         "match the keys of regions")
    if isinstance(pairs, str):
        if pairs == "homologous":
            rpairs = [(r, r) for r in regs_a if r in cnt_b]
            if not rpairs:
                raise ValueError("the partners share no region")
        elif pairs == "all":
            rpairs = [(ra, rb) for ra in regs_a for rb in regs_b]
        else:
            raise ValueError(f"pairs must be 'homologous', 'all' or a list of (region_a, "
                             f"region_b), got {pairs!r}")
    else:
        rpairs = []
        for p in pairs:
            p = tuple(p)
            if len(p) != 2:
                raise ValueError(f"region pair {p!r} must be (region_a, region_b)")
            ra, rb = str(p[0]), str(p[1])
            if ra not in cnt_a:
                raise ValueError(f"unknown region {ra!r} of partner a; its regions: {regs_a}")
            if rb not in cnt_b:
                raise ValueError(f"unknown region {rb!r} of partner b; its regions: {regs_b}")
            rpairs.append((ra, rb))
    names_a = [r for r in regs_a if r in sig_a]
    names_b = [r for r in regs_b if r in sig_b]
    defined = [(ra, rb) for ra, rb in rpairs if ra in sig_a and rb in sig_b]
    values: dict[tuple[str, str], float] = {}
    if defined:
        arr_a = np.stack([sig_a[r] for r in names_a])
        arr_b = arr_a if sig_b is sig_a else np.stack([sig_b[r] for r in names_b])
        ia = {r: i for i, r in enumerate(names_a)}
        ib = {r: i for i, r in enumerate(names_b)}
        idx = np.array([(ia[ra], ib[rb]) for ra, rb in defined], dtype=np.intp)
        with np.errstate(divide="ignore", invalid="ignore"):
            coh = band_coherence(arr_a, arr_b, dt, band=band, pairs=idx,
                                 exclude_coi=exclude_coi, dj=dj, s0=s0, j1=j1,
                                 max_scale=max_scale, pad=pad, dtype=dtype, workers=workers)
        values = {p: float(v) for p, v in zip(defined, coh)}
    rows = [{"region_a": ra, "region_b": rb, "homologous": ra == rb,
             "value": values.get((ra, rb), math.nan),
             "n_channels_a": cnt_a[ra], "n_channels_b": cnt_b[rb],
             "roi_method": "region_average_signal"} for ra, rb in rpairs]
    return pd.DataFrame(rows)
