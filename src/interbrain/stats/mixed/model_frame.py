"""Model matrices of a mixed model: a parsed formula evaluated on the data.

:func:`build_model` checks every term of a :class:`~interbrain.stats.formula.ParsedFormula`
(:func:`~interbrain.stats.formula.check_term_code`) and evaluates it with patsy in
:func:`~interbrain.stats.formula.safe_eval_env`, giving the response, the fixed-effects
design and one :class:`RandomBlock` per random-effects term; :func:`check_fixed_design`
and :func:`check_random_effects` refuse designs lme4 refuses. :func:`within_between`
splits a predictor into its group means and the deviations from them before fitting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy
from scipy import linalg as sla

from ..formula import ParsedFormula, RandomTerm, check_term_code, safe_eval_env

__all__ = ["RandomBlock", "ModelFrame", "build_model", "check_fixed_design",
           "check_random_effects", "within_between"]


@dataclass
class RandomBlock:
    """Model matrix of one random-effects term.

    ``codes[i]`` is the level index (into ``levels``) of observation ``i``;
    ``X`` holds the term's columns (n x k) named ``names``.
    """

    term: RandomTerm
    group: str
    levels: pd.Index
    codes: np.ndarray
    X: np.ndarray
    names: list[str]

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def n_cols(self) -> int:
        return self.X.shape[1]


@dataclass
class ModelFrame:
    """Response, fixed-effects design and random-effects blocks for one fit."""

    parsed: ParsedFormula
    y: np.ndarray
    X: np.ndarray
    fixed_names: list[str]
    blocks: list[RandomBlock]
    response_name: str
    index: pd.Index
    used_columns: list[str]


def _collect_columns(codes: list[str], data: pd.DataFrame, where: str) -> list[str]:
    cols: list[str] = []
    columns = set(map(str, data.columns))
    for code in codes:
        for name, quoted in check_term_code(code):
            if name in columns:
                if name not in cols:
                    cols.append(name)
            else:
                raise ValueError(f"column {name!r} (used in {where} term {code!r}) "
                                 f"not found in data; available columns: "
                                 f"{sorted(columns)}")
    return cols


def _factor_codes(desc: patsy.ModelDesc, side: str) -> list[str]:
    terms = desc.lhs_termlist if side == "lhs" else desc.rhs_termlist
    return [f.code for t in terms for f in t.factors]


def _check_missing(data: pd.DataFrame, columns: list[str]) -> None:
    for col in columns:
        s = data[col]
        bad = s.isna().to_numpy()
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            vals = s.to_numpy(dtype=float, na_value=np.nan)
            bad = bad | ~np.isfinite(vals)
        n_bad = int(bad.sum())
        if n_bad:
            rows = list(data.index[bad][:5])
            more = " ..." if n_bad > 5 else ""
            raise ValueError(
                f"column {col!r} has {n_bad} missing or non-finite value(s) "
                f"(of {len(data)} rows; rows {rows}{more}); remove or impute them "
                f"before fitting")


def _patsy_name(name: str) -> str:
    return "(Intercept)" if name == "Intercept" else name


def _build(formula_or_rhs, data, env, outcome: bool):
    try:
        if outcome:
            return patsy.dmatrices(formula_or_rhs, data, eval_env=env,
                                   NA_action="raise", return_type="matrix")
        return patsy.dmatrix(formula_or_rhs, data, eval_env=env,
                             NA_action="raise", return_type="matrix")
    except patsy.PatsyError as exc:
        raise ValueError(f"cannot build model matrix for {formula_or_rhs!r}: "
                         f"{exc}") from None


def _check_finite(mat: np.ndarray, names: list[str], what: str) -> None:
    ok = np.isfinite(mat)
    if not ok.all():
        j = int(np.nonzero(~ok.all(axis=0))[0][0])
        n_bad = int((~ok[:, j]).sum())
        raise ValueError(f"{what} column {names[j]!r} has {n_bad} non-finite value(s)")


def build_model(parsed: ParsedFormula, data: pd.DataFrame) -> ModelFrame:
    """Evaluate a parsed formula on ``data``.

    Every term is checked first (:func:`check_term_code`) and evaluated in
    :func:`safe_eval_env`: a formula reads columns of ``data`` and calls the allowed
    functions, nothing else.

    Raises ``ValueError`` naming the column for missing columns, a non-numeric
    response and missing/non-finite values in the columns the model uses, and
    naming the term for anything a formula may not contain.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("data has no rows")
    eval_env = safe_eval_env()
    if not parsed.random:
        raise ValueError(f"formula {parsed.formula!r} has no random-effects term "
                         "'(expr | group)'; use ordinary least squares instead")

    try:
        fixed_desc = patsy.ModelDesc.from_formula(parsed.fixed)
        rand_descs = [patsy.ModelDesc.from_formula(t.expr) for t in parsed.random]
    except patsy.PatsyError as exc:
        raise ValueError(f"cannot parse formula {parsed.formula!r}: {exc}") from None

    resp_codes = _factor_codes(fixed_desc, "lhs")
    resp_cols = _collect_columns(resp_codes, data, "response")
    used = list(resp_cols)
    for c in _collect_columns(_factor_codes(fixed_desc, "rhs"), data, "fixed-effects"):
        if c not in used:
            used.append(c)
    for term, desc in zip(parsed.random, rand_descs):
        for c in _collect_columns(_factor_codes(desc, "rhs"), data,
                                  f"random-effects {term}"):
            if c not in used:
                used.append(c)
    group_cols: list[str] = []
    for term in parsed.random:
        for g in term.group_columns:
            if g not in data.columns:
                raise ValueError(f"grouping factor column {g!r} (in {term}) not found "
                                 f"in data; available columns: "
                                 f"{sorted(map(str, data.columns))}")
            if g not in group_cols:
                group_cols.append(g)
            if g not in used:
                used.append(g)

    # response must be numeric
    for c in resp_cols:
        s = data[c]
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            raise ValueError(f"response column {c!r} must be numeric, got dtype "
                             f"{s.dtype}")
    _check_missing(data, used)

    y_mat, X_mat = _build(parsed.fixed, data, eval_env, outcome=True)
    if y_mat.shape[1] != 1:
        raise ValueError(f"response {parsed.response!r} must be a single numeric "
                         f"column (patsy made {y_mat.shape[1]} columns: "
                         f"{y_mat.design_info.column_names})")
    y = np.asarray(y_mat, dtype=float)[:, 0].copy()
    if not np.all(np.isfinite(y)):
        raise ValueError(f"response {parsed.response!r} has "
                         f"{int((~np.isfinite(y)).sum())} non-finite value(s)")
    X = np.ascontiguousarray(np.asarray(X_mat, dtype=float))
    fixed_names = [_patsy_name(n) for n in X_mat.design_info.column_names]
    _check_finite(X, fixed_names, "fixed-effects")

    blocks: list[RandomBlock] = []
    group_cache: dict[str, tuple[pd.Index, np.ndarray]] = {}
    for term in parsed.random:
        Zm = _build(term.expr, data, eval_env, outcome=False)
        Zx = np.ascontiguousarray(np.asarray(Zm, dtype=float))
        names = [_patsy_name(n) for n in Zm.design_info.column_names]
        if Zx.shape[1] == 0:
            raise ValueError(f"random-effects term {term} has no columns")
        _check_finite(Zx, names, f"random-effects {term}")
        if term.group not in group_cache:
            group_cache[term.group] = _grouping(data, term)
        levels, codes = group_cache[term.group]
        blocks.append(RandomBlock(term=term, group=term.group, levels=levels,
                                  codes=codes, X=Zx, names=names))

    return ModelFrame(parsed=parsed, y=y, X=X, fixed_names=fixed_names, blocks=blocks,
                      response_name=parsed.response, index=data.index, used_columns=used)


def _grouping(data: pd.DataFrame, term: RandomTerm) -> tuple[pd.Index, np.ndarray]:
    cols = term.group_columns
    if len(cols) == 1:
        values = data[cols[0]]
    else:
        values = data[list(cols)].astype(str).agg(":".join, axis=1)
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:
        codes, uniques = pd.factorize(values.astype(str), sort=True)
    levels = pd.Index(uniques, name=term.group)
    if len(levels) < 2:
        raise ValueError(f"grouping factor {term.group!r} (in {term}) has a single "
                         f"level ({levels[0]!r}); a random effect needs at least two "
                         f"groups")
    return levels, np.asarray(codes, dtype=np.intp)


def check_fixed_design(frame: ModelFrame) -> None:
    """Raise ValueError when the fixed-effects design is rank deficient (naming the
    columns), has an all-zero column or no more rows than columns."""
    X = frame.X
    n, p = X.shape
    if p == 0:
        return
    if n <= p:
        raise ValueError(f"singular fixed-effects design: {p} columns but only {n} "
                         "observations")
    scale = np.sqrt((X * X).sum(axis=0))
    zero = scale == 0
    if zero.any():
        bad = [frame.fixed_names[j] for j in np.nonzero(zero)[0]]
        raise ValueError(f"singular fixed-effects design: column(s) {bad} are all "
                         "zero")
    _, R, piv = sla.qr(X / scale, mode="economic", pivoting=True, check_finite=False)
    d = np.abs(np.diagonal(R))
    tol = d[0] * max(n, p) * np.finfo(float).eps * 1e3
    rank = int((d > tol).sum())
    if rank < p:
        bad = [frame.fixed_names[j] for j in piv[rank:]]
        raise ValueError(
            f"singular fixed-effects design (rank {rank} < {p} columns): "
            f"{bad} linearly dependent on the other columns "
            f"({frame.fixed_names}); drop or recode them")


def check_random_effects(frame: ModelFrame) -> None:
    """Raise ValueError when a random-effects term has at least as many levels, or
    random effects, as there are observations (lme4's checks)."""
    n = len(frame.y)
    for blk in frame.blocks:
        if blk.n_levels >= n:
            raise ValueError(
                f"grouping factor {blk.group!r} has {blk.n_levels} levels for {n} "
                f"observations; the number of levels must be smaller than the "
                f"number of observations")
        if blk.n_levels * blk.n_cols >= n:
            raise ValueError(
                f"random-effects term {blk.term} has {blk.n_levels * blk.n_cols} "
                f"random effects for {n} observations; the random-effects "
                "parameters and the residual variance are probably unidentifiable")


def within_between(data: pd.DataFrame, column: str, group: str) -> pd.DataFrame:
    """Split ``column`` into its group mean and the deviation from it.

    Returns a copy of ``data`` with ``{column}_between`` (mean of ``column`` in the
    row's ``group``, R's ``ave(x, g)``) and ``{column}_within`` (``column`` minus
    that mean) added.
    """
    for col in (column, group):
        if col not in data.columns:
            raise ValueError(f"column {col!r} not found in data; available columns: "
                             f"{sorted(map(str, data.columns))}")
    if not pd.api.types.is_numeric_dtype(data[column]):
        raise ValueError(f"column {column!r} must be numeric, got {data[column].dtype}")
    out = data.copy()
    between = out.groupby(group, sort=False, dropna=False)[column].transform("mean")
    out[f"{column}_between"] = between
    out[f"{column}_within"] = out[column] - between
    return out
