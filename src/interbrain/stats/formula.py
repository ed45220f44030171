"""lme4-style model formulas: ``y ~ fixed + (expr | group) + ...``.

Only the random-effects terms ``( ... | ... )`` are split out here; everything else
is handed to patsy, so the fixed part and the left-hand side of each bar may use the
patsy formula language (``I(session**2)``, ``np.log(session)``, ``C(cond)``,
``a*b``, ``0 + x``, ...).

Grouping factors may be a column (``g``), an interaction of columns (``a:b``) or a
nesting (``a/b``, expanded as in lme4 to ``(expr | a) + (expr | b:a)``).

The double bar ``||`` (uncorrelated random effects) is not supported: write the terms
separately, e.g. ``(1 | g) + (0 + x | g)``.

Terms are code only in a restricted sense: :func:`check_term_code` allows column names,
literals, arithmetic and a list of functions, and :func:`safe_eval_env` is the only
namespace they are evaluated in (by :func:`~interbrain.stats.mixed.model_frame.build_model`,
which builds the model matrices). Formulas the package generates contain only column
names that are plain identifiers (:func:`formula_term`, :func:`internal_names`).
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass

import numpy as np
import patsy
import patsy.builtins

__all__ = ["RandomTerm", "ParsedFormula", "parse_formula", "safe_eval_env",
           "check_term_code", "formula_term", "is_formula_identifier", "internal_names",
           "label_formula", "ALLOWED_FUNCTIONS", "ALLOWED_NUMPY", "RESERVED_NAMES"]


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term ``(expr | group)``.

    ``expr`` is the patsy formula right-hand side of the bar (an intercept is implied
    unless removed with ``0 +`` / ``- 1``); ``group`` names the grouping factor,
    a column or an interaction ``a:b`` of columns.
    """

    expr: str
    group: str

    @property
    def group_columns(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.group.split(":"))

    def __str__(self) -> str:
        return f"({self.expr} | {self.group})"


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into its patsy fixed part and its random-effects terms."""

    formula: str
    response: str
    fixed_rhs: str
    random: tuple[RandomTerm, ...]

    @property
    def fixed(self) -> str:
        """The fixed-effects part as a patsy formula ``response ~ rhs``."""
        return f"{self.response} ~ {self.fixed_rhs}"


# ---------------------------------------------------------------------------
# splitting the formula
# ---------------------------------------------------------------------------

def _split_top_level(text: str, seps: str) -> list[tuple[str, str]]:
    """Split ``text`` at the characters in ``seps`` that lie outside parentheses.

    Returns ``(separator, piece)`` pairs; the first separator is ``""``.
    """
    out: list[tuple[str, str]] = []
    depth = 0
    sep = ""
    start = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced parentheses in formula: {text!r}")
        elif depth == 0 and ch in seps:
            out.append((sep, text[start:i]))
            sep = ch
            start = i + 1
    if depth != 0:
        raise ValueError(f"unbalanced parentheses in formula: {text!r}")
    out.append((sep, text[start:]))
    return out


def _has_top_level_bar(text: str) -> bool:
    return len(_split_top_level(text, "|")) > 1


def _strip_outer_parens(text: str) -> str | None:
    """``"(a | b)"`` -> ``"a | b"`` when the parentheses enclose the whole piece."""
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")")):
        return None
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and i != len(text) - 1:
                return None
    return text[1:-1]


def _expand_group(group: str) -> list[str]:
    """Grouping expression -> list of grouping factors (``a/b`` -> ``a``, ``b:a``)."""
    group = group.strip()
    if not group:
        raise ValueError("empty grouping factor in a random-effects term")
    if "/" in group:
        parts = [p.strip() for p in group.split("/")]
        if any(not p for p in parts):
            raise ValueError(f"cannot parse nested grouping factor {group!r}")
        out = []
        for i in range(len(parts)):
            # lme4 names the nested factor "b:a" for a/b
            out.append(":".join(reversed(parts[: i + 1])))
        return out
    parts = [p.strip() for p in group.split(":")]
    if any(not p for p in parts):
        raise ValueError(f"cannot parse grouping factor {group!r}")
    return [":".join(parts)]


def parse_formula(formula: str) -> ParsedFormula:
    """Split an lme4-style formula into fixed part and random-effects terms.

    >>> p = parse_formula("ibs ~ session + (1 + session | dyad)")
    >>> p.fixed, [str(t) for t in p.random]
    ('ibs ~ session', ['(1 + session | dyad)'])
    """
    if not isinstance(formula, str):
        raise ValueError(f"formula must be a string, got {type(formula).__name__}")
    sides = _split_top_level(formula, "~")
    if len(sides) != 2:
        raise ValueError(f"formula must have the form 'response ~ terms': {formula!r}")
    response = sides[0][1].strip()
    rhs = sides[1][1].strip()
    if not response:
        raise ValueError(f"formula has no response (left of '~'): {formula!r}")
    if "|" in response:
        raise ValueError(f"random-effects terms belong right of '~': {formula!r}")

    fixed_pieces: list[str] = []
    random: list[RandomTerm] = []
    for sep, piece in _split_top_level(rhs, "+-"):
        stripped = piece.strip()
        if not _has_bar_anywhere(stripped):
            if stripped or sep:
                fixed_pieces.append(f"{sep} {stripped}" if sep else stripped)
            continue
        inner = _strip_outer_parens(stripped)
        if inner is None or not _has_top_level_bar(inner):
            raise ValueError(
                f"random-effects term {stripped!r} must be written as '(expr | group)' "
                f"and added with '+': {formula!r}")
        if sep == "-":
            raise ValueError(f"random-effects terms cannot be subtracted: {stripped!r}")
        bars = _split_top_level(inner, "|")
        if len(bars) == 3 and bars[1][1].strip() == "":
            raise ValueError(
                f"'||' (uncorrelated random effects) is not supported in {stripped!r}; "
                "write separate terms, e.g. '(1 | g) + (0 + x | g)'")
        if len(bars) != 2:
            raise ValueError(f"cannot parse random-effects term {stripped!r}")
        expr = bars[0][1].strip()
        if not expr:
            raise ValueError(f"random-effects term {stripped!r} has nothing left of '|'")
        for group in _expand_group(bars[1][1]):
            random.append(RandomTerm(expr=expr, group=group))

    fixed_rhs = " ".join(p for p in fixed_pieces if p.strip()).strip()
    if fixed_rhs.startswith("+"):
        fixed_rhs = fixed_rhs[1:].strip()
    if not fixed_rhs:
        fixed_rhs = "1"
    return ParsedFormula(formula=formula, response=response, fixed_rhs=fixed_rhs,
                         random=tuple(random))


def _has_bar_anywhere(text: str) -> bool:
    return "|" in text


# ---------------------------------------------------------------------------
# what a term may contain (the model matrices are built in stats.mixed.model_frame)
# ---------------------------------------------------------------------------

#: Functions a formula term may call: patsy's (``C(cond)``, ``I(session**2)``,
#: ``Q("name")``, contrasts, splines, ``center``/``standardize``) and NumPy's
#: elementwise transforms (``np.log(session)``). Nothing else is callable.
ALLOWED_FUNCTIONS: frozenset[str] = frozenset({
    "C", "I", "Q", "center", "standardize", "scale", "Treatment", "Sum", "Poly",
    "Helmert", "Diff", "bs", "cr", "cc", "te", "abs"})
ALLOWED_NUMPY: frozenset[str] = frozenset({
    "log", "log2", "log10", "log1p", "exp", "exp2", "expm1", "sqrt", "square",
    "abs", "absolute", "sin", "cos", "tan", "tanh", "arctan", "sign"})
#: Names that a column used in a formula must not have: they mean functions there.
RESERVED_NAMES: frozenset[str] = frozenset(
    {"np", "numpy", "True", "False", "None"} | ALLOWED_FUNCTIONS
    | {k for k in vars(patsy.builtins) if not k.startswith("_")})
_MAX_POWER = 16
_ALLOWED_NODES = (ast.Expression, ast.Name, ast.Load, ast.Constant, ast.BinOp,
                  ast.UnaryOp, ast.Call, ast.keyword, ast.Attribute, ast.Compare,
                  ast.List, ast.Tuple, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv,
                  ast.Mod, ast.Pow, ast.USub, ast.UAdd, ast.Gt, ast.GtE, ast.Lt, ast.LtE,
                  ast.Eq, ast.NotEq)


def formula_term(name: str) -> str:
    """``name`` as a term of a generated formula, if it is safe to be one.

    Generated formulas (growth, outcome models) contain only plain ASCII identifiers
    that are not Python keywords, NumPy or patsy names; any other column name is
    refused here (callers rename such columns to internal names first), so that a
    column name never becomes formula code.

    Raises
    ------
    ValueError
        When ``name`` is not such an identifier.
    """
    if not is_formula_identifier(name):
        raise ValueError(f"column name {name!r} cannot be used as a formula term: "
                         "rename the column to letters, digits and underscores "
                         "(not starting with a digit)")
    return name


def is_formula_identifier(name: object) -> bool:
    """Whether ``name`` is a plain ASCII identifier usable as a formula term."""
    return (isinstance(name, str) and name.isascii() and name.isidentifier()
            and not keyword.iskeyword(name) and name not in RESERVED_NAMES
            and not name.startswith("__"))


def internal_names(columns, prefix: str, taken=()) -> dict[str, str]:
    """Map user column names to names safe in a formula.

    A name that already is a plain identifier (:func:`is_formula_identifier`) keeps
    its name; any other becomes ``<prefix><i>`` (``i`` counting from 1, skipping names
    in ``taken`` and in ``columns``).

    Returns
    -------
    dict
        User name -> internal name, in the order of ``columns``.
    """
    columns = list(columns)
    used = set(map(str, taken)) | {c for c in columns if is_formula_identifier(c)}
    out: dict[str, str] = {}
    i = 0
    for col in columns:
        if is_formula_identifier(col):
            out[col] = col
            continue
        i += 1
        while f"{prefix}{i}" in used:
            i += 1
        out[col] = f"{prefix}{i}"
        used.add(out[col])
    return out


def label_formula(text: str, labels: dict[str, str], *, quote: bool = True) -> str:
    """A formula or term with internal names replaced by the user's names.

    With ``quote``, names that are not plain identifiers are shown between
    backticks, as R does (``measure ~ x`` -> ```session quality` ~ x``). For
    display only: the result is never evaluated.
    """
    if not labels:
        return text

    def show(match: re.Match) -> str:
        label = labels[match.group(0)]
        return label if not quote or is_formula_identifier(label) else \
            "`" + label.replace("`", "\\`") + "`"

    pattern = r"(?<![\w.])(" + "|".join(map(re.escape, sorted(labels, key=len,
                                                              reverse=True))) + r")(?!\w)"
    return re.sub(pattern, show, text)


def safe_eval_env() -> patsy.EvalEnvironment:
    """The only namespace formula terms are evaluated in: ``np``/``numpy``.

    Together with :func:`check_term_code` (which allows only column names,
    literals, arithmetic and calls of :data:`ALLOWED_FUNCTIONS` and
    ``np.<ALLOWED_NUMPY>``), nothing in a formula can reach Python's builtins,
    the caller's variables or any other code.
    """
    return patsy.EvalEnvironment([{"np": np, "numpy": np}])


def _refuse(code: str, why: str) -> ValueError:
    return ValueError(f"formula term {code!r} is not allowed: {why}. Terms may use "
                      "column names, numbers, arithmetic and the functions "
                      f"{', '.join(sorted(ALLOWED_FUNCTIONS))} and "
                      f"np.{{{', '.join(sorted(ALLOWED_NUMPY))}}}")


def _is_constant(node: ast.AST) -> bool:
    """No column in the subtree: evaluated as plain Python numbers or strings."""
    return not any(isinstance(n, ast.Name) or (isinstance(n, ast.Call)
                                               and isinstance(n.func, ast.Name)
                                               and n.func.id == "Q")
                   for n in ast.walk(node))


def check_term_code(code: str) -> list[tuple[str, bool]]:
    """Check one formula term's code and return the variable names it reads.

    The code is parsed, never executed, here: it may hold only column names
    (bare or ``Q("name")``), literals, arithmetic and comparisons, and calls of the
    allowed functions; no attribute other than ``np.<function>``, no subscripts,
    no other names of Python or the caller, no arithmetic on literals alone (which
    could make huge numbers or strings).

    Returns
    -------
    list of (str, bool)
        ``(name, quoted)`` pairs: ``quoted`` for ``Q("name")``.

    Raises
    ------
    ValueError
        Naming the term and what it may contain.
    """
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        msg = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        raise ValueError(f"cannot parse formula term {code!r}: {msg}") from None
    names: list[tuple[str, bool]] = []
    callee: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise _refuse(code, f"{type(node).__name__} is not a formula construct")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str)):
            raise _refuse(code, f"literal {node.value!r}")
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                if func.id not in ALLOWED_FUNCTIONS:
                    raise _refuse(code, f"{func.id}() is not an allowed function")
                if func.id == "Q":
                    if (len(node.args) != 1 or node.keywords
                            or not isinstance(node.args[0], ast.Constant)
                            or not isinstance(node.args[0].value, str)):
                        raise _refuse(code, 'Q() takes one quoted column name')
                    names.append((node.args[0].value, True))
            elif isinstance(func, ast.Attribute):
                if not (isinstance(func.value, ast.Name)
                        and func.value.id in ("np", "numpy")
                        and func.attr in ALLOWED_NUMPY):
                    raise _refuse(code, f"{ast.unparse(func)}() is not an allowed "
                                        "function")
                callee.add(id(func.value))
            else:
                raise _refuse(code, "only named functions can be called")
            callee.add(id(func))
            if any(k.arg is None for k in node.keywords):
                raise _refuse(code, "** arguments")
        elif isinstance(node, ast.Attribute) and id(node) not in callee:
            raise _refuse(code, f"attribute {ast.unparse(node)}")
        elif isinstance(node, ast.BinOp):
            if _is_constant(node):
                raise _refuse(code, "arithmetic on literals alone")
            if isinstance(node.op, ast.Pow) and _is_constant(node.right) and not (
                    isinstance(node.right, ast.Constant)
                    and isinstance(node.right.value, (int, float))
                    and abs(node.right.value) <= _MAX_POWER):
                raise _refuse(code, f"powers are limited to literal exponents up to "
                                    f"{_MAX_POWER}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in callee:
            if node.id in ("np", "numpy") or node.id in ALLOWED_FUNCTIONS:
                raise _refuse(code, f"{node.id} is a function, not a column")
            names.append((node.id, False))
    return names
