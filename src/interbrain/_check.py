"""Checks of names that users write: ids, measure and covariate names, channels.

A name a user writes (in ``study.toml``, ``measures.csv`` or a recording) is data:
interbrain never evaluates it, and the models see it under internal names
(:func:`interbrain.stats.formula.internal_names`). It must still be something a
person can read back in a table: :data:`NAME_RULE`.

Also the checks of parameters every layer shares (:func:`check_int`,
:func:`check_option`, :func:`as_generator`) and of the settings tables of
``study.toml`` (:func:`check_keys`, :func:`settings_from_table`, which each stage's
settings class calls from its ``from_table``).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable
from dataclasses import fields, replace

import numpy as np

#: Longest name accepted, in characters.
MAX_NAME_LENGTH = 100

#: The rule every user-written name follows (quoted in error messages and docs).
NAME_RULE = (f"1 to {MAX_NAME_LENGTH} printable characters, without leading or trailing "
             "spaces, line breaks, tabs or invisible formatting characters (such as "
             "zero-width or bidirectional marks)")

# Unicode categories refused anywhere in a name: control, format (zero-width,
# bidirectional overrides), surrogate, private use, unassigned, line and paragraph
# separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def shorten(text: str, limit: int = 60) -> str:
    """``repr(text)``, cut to about ``limit`` characters for a message."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def name_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a user-written name, or None when nothing is."""
    if not isinstance(value, str):
        return f"must be text, got {type(value).__name__}"
    if not value:
        return "is empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"is {len(value)} characters long"
    if value != value.strip():
        return "has leading or trailing spaces"
    for ch in value:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return f"contains the character U+{ord(ch):04X} ({_char_name(ch)})"
    return None


def _char_name(ch: str) -> str:
    return unicodedata.name(ch, "a control character").lower()


def check_name(value: object, what: str, where: str, error: type[Exception]) -> str:
    """Return ``value`` if it follows :data:`NAME_RULE`, else raise ``error``.

    Parameters
    ----------
    value : object
        The name as read.
    what : str
        What it names, for the message (``"dyad id"``, ``"measure column"``).
    where : str
        The file and entry it was read from (``"study.toml, [[dyads]] entry 2"``).
    error : type of Exception
        Raised with one message naming ``where``, ``what``, the problem and the rule.
    """
    problem = name_problem(value)
    if problem is not None:
        shown = shorten(value) if isinstance(value, str) else repr(value)
        raise error(f"{where}: {what} {shown} {problem}; names must be {NAME_RULE}")
    return value  # type: ignore[return-value]


def name_key(name: str) -> str:
    """Compatibility-normalised, case-folded form: names equal here are ambiguous."""
    return unicodedata.normalize("NFKC", name).casefold()


def check_distinct(names: Iterable[str], what: str, where: str,
                   error: type[Exception], reserved: Iterable[str] = ()) -> None:
    """Refuse names that differ only in case or Unicode compatibility form, from
    each other or from ``reserved`` names (which mean something else there)."""
    seen: dict[str, str] = {}
    for name in reserved:
        seen[name_key(name)] = name
    reserved = set(reserved)
    for name in names:
        key = name_key(name)
        if key in seen and seen[key] != name:
            other = seen[key]
            kind = "the reserved name" if other in reserved else f"the {what}"
            raise error(f"{where}: {what} {shorten(name)} differs from {kind} "
                        f"{shorten(other)} only in case or Unicode form; rename one")
        seen.setdefault(key, name)


# ---------------------------------------------------------------------------
# checks of parameters (as MNE's utils/check.py): one implementation each
# ---------------------------------------------------------------------------

def is_whole_number(value: object) -> bool:
    """Whether ``value`` is an integer (Python or NumPy), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(value: object, name: str, *, minimum: int | None = None,
              maximum: int | None = None, error: type[Exception] = ValueError) -> int:
    """Return ``value`` as an ``int`` if it is a whole number from ``minimum`` to
    ``maximum``.

    Parameters
    ----------
    value : object
        The value given.
    name : str
        What it is, for the message (``"n_permutations"``, ``"field 'seed'"``).
    minimum : int, optional
        Smallest value allowed.
    maximum : int, optional
        Largest value allowed.
    error : type of Exception
        Raised (default ``ValueError``) with a message naming ``name``, the rule and
        the value.
    """
    if (not is_whole_number(value) or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)):
        if minimum is not None and maximum is not None:
            rule = f"a whole number between {minimum} and {maximum}"
        elif maximum is not None:
            rule = f"a whole number <= {maximum}"
        else:
            rule = "a whole number" + (f" >= {minimum}" if minimum is not None else "")
        raise error(f"{name} must be {rule}, got {value!r}")
    return int(value)


def check_option(value: object, name: str, allowed, *,
                 error: type[Exception] = ValueError):
    """Return ``value`` if it is one of ``allowed``, else raise ``error`` naming
    ``name``, the options and the value."""
    options = list(allowed)
    if value not in options:
        raise error(f"unknown {name} {value!r}; use one of {options}")
    return value


def as_generator(seed) -> np.random.Generator:
    """A NumPy random generator from a seed (a whole number >= 0, a
    :class:`~numpy.random.SeedSequence`, ``None`` for fresh entropy) or a generator,
    which is returned as it is (so that a caller's stream is continued)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and not isinstance(seed, np.random.SeedSequence):
        seed = check_int(seed, "seed", minimum=0)
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------
# tables of settings (study.toml): one implementation for every stage
# ---------------------------------------------------------------------------

def check_keys(table: dict, allowed: Iterable[str], where: str,
               error: type[Exception]) -> None:
    """Refuse keys of ``table`` that are not in ``allowed``.

    Parameters
    ----------
    table : dict
        A table as read (e.g. from TOML).
    allowed : iterable of str
        The keys it may have.
    where : str
        The file and table, for the message (``"study.toml: [analysis]"``).
    error : type of Exception
        Raised with one message naming ``where``, the unknown keys and the allowed ones.
    """
    allowed = set(allowed)
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise error(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; "
                    f"allowed: {', '.join(sorted(allowed))}")


def settings_from_table(cls, table: object, where: str, error: type[Exception]):
    """A settings dataclass from a table of ``field = value``, checking names and types.

    Each value must have the type of the field's default: ``true``/``false`` for a
    bool, a whole number for an int, a finite number for a float (an int is taken
    as a float), a list for a tuple (made a tuple; its items are not checked) and a
    string for a str; fields the table leaves out keep their defaults. Values are
    not range-checked here: that is the settings class's business.

    Parameters
    ----------
    cls : type
        A dataclass whose fields all have defaults.
    table : dict or None
        The table as read; None for all defaults.
    where : str
        The file and table, for messages (``"study.toml: [preprocessing]"``).
    error : type of Exception
        Raised with a message ``"<where>: ..."`` naming the first bad field.

    Returns
    -------
    cls
        The settings.
    """
    if table is None:
        return cls()
    if not isinstance(table, dict):
        raise error(f"{where}: must be a table")
    check_keys(table, (f.name for f in fields(cls)), where, error)
    defaults = cls()
    values = {}
    for name, value in table.items():
        default = getattr(defaults, name)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise error(f"{where}: field '{name}' must be true or false, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise error(f"{where}: field '{name}' must be a whole number, got {value!r}")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise error(f"{where}: field '{name}' must be a number, got {value!r}")
            value = float(value)
            if not math.isfinite(value):
                raise error(f"{where}: field '{name}' must be finite, got {value!r}")
        elif isinstance(default, tuple):
            if not isinstance(value, list):
                raise error(f"{where}: field '{name}' must be a list, got {value!r}")
            value = tuple(value)
        elif isinstance(default, str) and not isinstance(value, str):
            raise error(f"{where}: field '{name}' must be a string, got {value!r}")
        values[name] = value
    return replace(defaults, **values)
