"""Words and numbers shared by the report and ``methods.md``: labels of signals and
metrics, p-values and estimates as text, degrees-of-freedom methods with their
references, and the permutation tests in words.

Everything here reads rows of ``models.parquet`` (or plain values) and returns text;
nothing is computed.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from .apa import apa_p

__all__ = ["SIGNAL_LABEL", "METRIC_LABEL", "signal_label", "metric_label", "where_label",
           "format_p", "format_signed", "format_number", "DF_REFERENCES", "df_text",
           "df_methods_of", "permutation_text", "null_label", "null_noun", "is_true",
           "join_words", "join_reasons", "resampling_kinds", "resampling_text"]

#: Haemoglobin signal -> label.
SIGNAL_LABEL = {"hbo": "HbO", "hbr": "HbR",
                "hbo_short": "HbO, short channels (systemic null)",
                "hbr_short": "HbR, short channels (systemic null)"}
#: Synchrony metric -> label.
METRIC_LABEL = {"wtc": "wavelet coherence", "pearson": "Pearson r",
                "ar_robust_correlation": "AR-prewhitened robust r", "plv": "phase-locking value"}

#: ``df_method`` of a row of ``models.parquet`` -> the method in words, with references.
DF_REFERENCES = {
    "Kenward-Roger": ("Kenward-Roger's small-sample adjustment of the fixed effects' "
                      "covariance and degrees of freedom (Kenward & Roger, 1997), computed by "
                      "the algorithm of R's pbkrtest (Halekoh & Højsgaard, 2014)"),
    "Satterthwaite": ("Satterthwaite's approximation of the degrees of freedom, as in R's "
                      "lmerTest (Kuznetsova et al., 2017)"),
    "CR2, Satterthwaite (clubSandwich)": (
        "CR2 cluster-robust standard errors by dyad (Bell & McCaffrey, 2002) with "
        "Satterthwaite degrees of freedom, as in R's clubSandwich (Pustejovsky & Tipton, "
        "2018)"),
}

#: A kind of null -> what the excess is over, in words.
_NULL_LABEL = {"pseudo": "pseudo-dyad", "familiarity": "familiarity-pairing",
               "circular_shift": "circular-shift surrogate",
               "phase_randomised": "phase-randomised surrogate"}


#: A kind of null -> its draws, in words.
_NULL_NOUN = {"pseudo": "pseudo-dyads", "familiarity": "familiarity pairings",
              "circular_shift": "circular-shift surrogates",
              "phase_randomised": "phase-randomised surrogates"}


def join_words(items) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    items = list(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def join_reasons(reasons) -> str:
    """Notes joined by ``"; "``, each without its final full stop and without repeats;
    ``"no reason was recorded"`` when there are none."""
    cleaned = [str(r).strip().rstrip(".") for r in reasons]
    return "; ".join(dict.fromkeys(r for r in cleaned if r)) or "no reason was recorded"


def signal_label(signal: str) -> str:
    """``"HbO"`` for ``"hbo"`` (unknown signals as given)."""
    return SIGNAL_LABEL.get(signal, signal)


def metric_label(metric: str) -> str:
    """``"wavelet coherence"`` for ``"wtc"`` (unknown metrics as given)."""
    return METRIC_LABEL.get(metric, metric)


def where_label(signal: str, metric: str, unit: str | None = None) -> str:
    """``"HbO, wavelet coherence, all pairs"`` (the unit left out when None)."""
    parts = [signal_label(signal), metric_label(metric)]
    if unit:
        parts.append(str(unit))
    return ", ".join(parts)


def null_label(kind: str) -> str:
    """``"pseudo-dyad"`` for ``"pseudo"``: the null kind as an adjective."""
    return _NULL_LABEL.get(kind, str(kind).replace("_", " "))


def null_noun(kind: str) -> str:
    """``"pseudo-dyads"`` for ``"pseudo"``: the null kind's draws, plural."""
    return _NULL_NOUN.get(kind, str(kind).replace("_", " ") + " draws")


def is_true(value) -> bool:
    """Whether a (possibly missing) boolean cell of a table is True."""
    return value is not None and value is not pd.NA and not (
        isinstance(value, float) and math.isnan(value)) and bool(value)


def format_p(p) -> str:
    """A p-value as in APA style: ``".006"``, ``"< .001"``, ``"1"``; ``"n/a"`` if missing.

    Parameters
    ----------
    p : float

    Returns
    -------
    str
    """
    if p is None or p is pd.NA or not math.isfinite(float(p)):
        return "n/a"
    cell = apa_p(p)            # the table cell's rounding; prose writes p = 1, not 1.000
    return "1" if cell == "1.000" else cell


def format_number(value, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits (``"n/a"`` if missing)."""
    if value is None or value is pd.NA or not math.isfinite(float(value)):
        return "n/a"
    return f"{float(value):.{digits}g}"


def format_signed(value, digits: int = 3) -> str:
    """``value`` with its sign: ``"+0.012"``, ``"-0.4"`` (``"n/a"`` if missing)."""
    if value is None or value is pd.NA or not math.isfinite(float(value)):
        return "n/a"
    return f"{float(value):+.{digits}g}"


def df_methods_of(rows: pd.DataFrame) -> list[str]:
    """The distinct ``df_method`` values of some rows of ``models.parquet``, in order of
    appearance (missing values left out)."""
    if "df_method" not in rows.columns:
        return []
    return list(dict.fromkeys(str(v) for v in rows["df_method"].dropna()))


def df_text(method: str) -> str:
    """A ``df_method`` of ``models.parquet`` in words with its references.

    Parameters
    ----------
    method : str
        E.g. ``"Kenward-Roger"``, ``"Satterthwaite"``.

    Returns
    -------
    str
    """
    return DF_REFERENCES.get(method, f"{method} degrees of freedom")


def permutation_text(method: str, n_permutations, seed: int, *, what: str = "") -> str:
    """A plasticity row's permutation test in words.

    Parameters
    ----------
    method : {"reassign", "exact", "monte_carlo"}
        ``permutation_method`` of the row.
    n_permutations : int
        Permutations (sign patterns) evaluated.
    seed : int
        ``[statistics] seed``.
    what : str
        The null the excess is over, for the reassignment's wording.

    Returns
    -------
    str
        A clause (no final full stop).
    """
    n = int(n_permutations) if n_permutations is not None and math.isfinite(
        float(n_permutations)) else 0
    if method == "reassign":
        return ("a dyad-level permutation test reassigning partners within session number: "
                f"{n} random reassignments (seed {seed}) each paired every therapist "
                "recording of a session number with a randomly chosen patient recording of "
                f"the same session number, recomputed each pairing's excess over its "
                f"{what or 'null'} and the one-sample t statistic over dyads of their "
                "least-squares excess slopes; two-sided Monte Carlo p = (1 + b) / (1 + B) "
                "(Phipson & Smyth, 2010)")
    valid = ("valid when the dyads' least-squares slopes of the excess on time are "
             "independent and symmetric about zero under the null")
    if method == "exact":
        return (f"an exact dyad-level sign-flip test of the dyads' excess slopes (all {n} "
                f"sign patterns), two-sided ({valid})")
    if method == "monte_carlo":
        return (f"a dyad-level sign-flip test of the dyads' excess slopes ({n} random sign "
                f"patterns, seed {seed}), two-sided Monte Carlo p = (1 + b) / (1 + B) "
                f"({valid})")
    return f"a dyad-level permutation test ({method}, {n} permutations, seed {seed})"


#: ``p_method`` / ``permutation_method`` values of a row -> its kind of resampling test.
_KIND_OF = {"exact": "exact", "monte_carlo": "monte_carlo", "reassign": "monte_carlo"}
#: Words in a row's ``method`` text that say which kind of test it was.
_METHOD_KIND = (("(exact", "exact"), ("(monte_carlo", "monte_carlo"),
                ("(Monte Carlo", "monte_carlo"))


def _finite_int(value) -> int | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return int(value) if math.isfinite(value) else None


def _row_kind(row) -> str | None:
    for column in ("permutation_method", "p_method"):
        kind = _KIND_OF.get(str(row.get(column)))
        if kind:
            return kind
    text = str(row.get("method") or "")
    for marker, kind in _METHOD_KIND:
        if marker in text:
            return kind
    found = re.search(r"\bB = (\d+)", text)
    return "monte_carlo" if found else None


def resampling_kinds(rows: pd.DataFrame) -> list[tuple[str, int | None]]:
    """How the resampling tests of some rows of ``models.parquet`` (or of
    ``null_tests.parquet``) were run, as the rows record it.

    A test is ``"exact"`` when its rows say every sign pattern (or permutation) was
    enumerated, ``"monte_carlo"`` when random draws were evaluated (``p_method`` or
    ``permutation_method``; else the ``method`` text: ``"(exact)"``, ``"(monte_carlo)"``,
    ``"B = 999"``). Rows that record neither are left out: nothing is claimed for them.

    Parameters
    ----------
    rows : pandas.DataFrame

    Returns
    -------
    list of tuple
        Distinct ``(kind, n)`` in order of appearance; ``n`` is the number of sign
        patterns or draws evaluated (``n_permutations``, or the ``B = ...`` of the
        method text), None when the rows do not record it.
    """
    out: list[tuple[str, int | None]] = []
    for _, row in rows.iterrows():
        kind = _row_kind(row)
        if kind is None:
            continue
        n = _finite_int(row.get("n_permutations"))
        if n is None:
            found = re.search(r"\bB = (\d+)|(\d+) (?:sign patterns|draws|permutations)",
                              str(row.get("method") or ""))
            n = int(found.group(1) or found.group(2)) if found else None
        if (kind, n) not in out:
            out.append((kind, n))
    return out


def resampling_text(rows: pd.DataFrame, unit: str = "sign patterns") -> str:
    """How the resampling tests of ``rows`` were run, in words; "" when the rows do
    not say.

    E.g. ``"exact over all 4 sign patterns"``, ``"Monte Carlo with 199 random sign
    patterns"``, ``"exact over all 8 sign patterns for some and Monte Carlo with 9999
    random sign patterns for others"``.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows of ``models.parquet`` or ``null_tests.parquet``.
    unit : str
        What was enumerated or drawn (``"sign patterns"``, ``"permutations"``).
    """
    parts = []
    for kind, n in resampling_kinds(rows):
        if kind == "exact":
            parts.append(f"exact over all {n} {unit}" if n else f"exact over all {unit}")
        else:
            parts.append(f"Monte Carlo with {n} random {unit}" if n else
                         f"Monte Carlo with random {unit}")
    if len(parts) <= 1:
        return "".join(parts)
    return " for some and ".join(parts) + " for others"
