"""Numbers as a paper prints them (APA style): estimates with their confidence interval
at one shared number of decimals, p-values without a leading zero (``p = .006``,
``p < .001``), degrees of freedom as integers when they are integers, and one mark
(an em dash) for a cell that has no value.

Everything here formats plain values; nothing is computed.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["MISSING", "is_missing", "decimals_for", "apa_number", "apa_ci", "apa_p",
           "apa_p_clause", "apa_df", "apa_statistic", "apa_count"]

#: A table cell without a value (not applicable or not computed).
MISSING = "\u2014"


def is_missing(value) -> bool:
    """Whether ``value`` is None, ``pd.NA``, NaN or infinite (or not a number)."""
    if value is None or value is pd.NA:
        return True
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


def decimals_for(*values) -> int:
    """Decimals that show the largest of ``values`` with two significant digits, at
    least 2 below 100 (1 below 1000, else 0) and at most 6.

    Examples
    --------
    >>> decimals_for(0.012, 0.004, 0.020)
    3
    >>> decimals_for(-4.51, -42.0, 33.1)
    2
    """
    finite = [abs(float(v)) for v in values if not is_missing(v)]
    largest = max(finite, default=0.0)
    if largest == 0.0:
        return 2
    floor = 2 if largest < 100 else (1 if largest < 1000 else 0)
    return int(min(6, max(floor, 1 - math.floor(math.log10(largest)))))


def apa_number(value, decimals: int | None = None, *, signed: bool = False) -> str:
    """``value`` at ``decimals`` decimals (:func:`decimals_for` when None), a minus
    sign for negatives (U+2212), ``"+"`` for positives when ``signed``;
    :data:`MISSING` when missing."""
    if is_missing(value):
        return MISSING
    value = float(value)
    if decimals is None:
        decimals = decimals_for(value)
    text = f"{abs(value):.{decimals}f}"
    if float(text) == 0.0:
        return text
    if value < 0:
        return "\u2212" + text
    return ("+" + text) if signed else text


def apa_ci(low, high, decimals: int | None = None) -> str:
    """``"[0.004, 0.020]"``; :data:`MISSING` when either bound is missing."""
    if is_missing(low) or is_missing(high):
        return MISSING
    if decimals is None:
        decimals = decimals_for(low, high)
    return f"[{apa_number(low, decimals)}, {apa_number(high, decimals)}]"


def apa_p(p) -> str:
    """A p-value as a table cell: ``".006"``, ``"< .001"``, ``"1.000"`` (no leading
    zero; three decimals); :data:`MISSING` when missing."""
    if is_missing(p):
        return MISSING
    p = float(p)
    if p < 0.001:
        return "< .001"
    if p >= 0.9995:
        return "1.000"
    return f"{p:.3f}".lstrip("0")


def apa_p_clause(p, label: str = "p") -> str:
    """``"p = .006"``, ``"p < .001"``, ``"permutation p = .040"`` (``label`` first);
    ``"p not computed"`` when missing."""
    text = apa_p(p)
    if text == MISSING:
        return f"{label} not computed"
    return f"{label} {text}" if text.startswith("<") else f"{label} = {text}"


def apa_df(df) -> str:
    """Degrees of freedom: ``"10"`` when an integer (at two decimals), else two
    decimals (``"7.55"``)."""
    if is_missing(df):
        return MISSING
    text = f"{float(df):.2f}"
    return text[:-3] if text.endswith(".00") else text


def apa_statistic(value) -> str:
    """A test statistic (t, z, chi-square) at two decimals."""
    return apa_number(value, 2)


def apa_count(value) -> str:
    """A count as an integer (``"999"``); :data:`MISSING` when missing."""
    if is_missing(value):
        return MISSING
    return str(int(round(float(value))))
