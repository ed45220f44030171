"""Rows of the ``"synchrony"`` table, gathered over pairings and made into one DataFrame.

Building a :class:`pandas.DataFrame` costs about a millisecond whatever its length, so
:func:`~interbrain.synchrony.session.pairings_synchrony` gathers the rows of
consecutive pairings (one per channel pair and metric) as columns and makes one
DataFrame of them (:meth:`PairRows.flush`) before a pairing's null frames and at the
end: the same columns, dtypes, values and row order as one DataFrame per pairing and
metric concatenated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["PairRows"]


class PairRows:
    """Rows of one pairing and metric after another, as columns.

    Parameters
    ----------
    significance : bool
        Whether the rows have a ``significant_fraction`` column (NaN but for wavelet
        coherence with significance on).
    """

    def __init__(self, significance: bool) -> None:
        self.significance = significance
        self._keys: dict[str, list] = {}
        self._labels: dict[str, list] = {}
        self._metric: list[str] = []
        self._values: list[np.ndarray] = []
        self._fractions: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._metric)

    def add(self, keys: dict, labels: dict[str, list], metric: str, values,
            fractions=None) -> None:
        """One pairing's rows of ``metric``: one per channel pair.

        Parameters
        ----------
        keys : dict
            Column -> value of every row (the pairing's key columns).
        labels : dict of str to list
            Column -> one value per channel pair (``pair``, ``channel_therapist``, ...).
        metric : str
        values : array_like, shape (n_pairs,)
            The ``value`` column.
        fractions : array_like, shape (n_pairs,), optional
            The ``significant_fraction`` column (None: NaN).
        """
        n = len(values)
        if not self._metric:
            self._keys = {col: [] for col in keys}
            self._labels = {col: [] for col in labels}
        if list(keys) != list(self._keys) or list(labels) != list(self._labels):
            raise ValueError("rows with other columns than the rows before them")
        for col, value in keys.items():
            self._keys[col].extend([value] * n)
        for col, column in labels.items():
            self._labels[col].extend(column)
        self._metric.extend([metric] * n)
        self._values.append(np.asarray(values, dtype=float))
        if self.significance:
            self._fractions.append(np.full(n, np.nan) if fractions is None
                                   else np.asarray(fractions))

    def flush(self, out: list[pd.DataFrame]) -> None:
        """Append the rows gathered so far to ``out`` as one DataFrame, and forget them.

        Columns: the keys, the labels, ``metric``, ``value`` and (with significance)
        ``significant_fraction``, in that order.
        """
        if not self._metric:
            return
        frame = pd.DataFrame({**self._keys, **self._labels, "metric": self._metric,
                              "value": np.concatenate(self._values)})
        if self.significance:
            frame["significant_fraction"] = np.concatenate(self._fractions)
        out.append(frame)
        self._keys, self._labels, self._metric = {}, {}, []
        self._values, self._fractions = [], []
