"""Is synchrony a therapist trait or a patient trait? The person contrast of the
pseudo-dyads and its two tests (see :mod:`interbrain.stats.therapist_pseudo`,
"Which person carries it").
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats as sps

from .._check import shorten
from ._util import require_columns
from .excess import PAIRING_SESSION_COLUMNS
from .mixed import lmer
from .therapist_models import f_test

__all__ = ["therapists_of_dyads", "trait_contrast", "trait_tests"]


def therapists_of_dyads(pairings: pd.DataFrame, therapist_of) -> dict:
    """Dyad -> therapist for every dyad of the pairings; ValueError naming gaps."""
    if isinstance(therapist_of, pd.Series):
        therapist_of = therapist_of.to_dict()
    if not isinstance(therapist_of, dict):
        raise ValueError(f"therapist_of must be a dict dyad -> therapist, got "
                         f"{type(therapist_of).__name__}")
    dyads = set(pairings["dyad"]) | set(pairings["partner_dyad"])
    missing = [d for d in dyads if d not in therapist_of or pd.isna(therapist_of[d])]
    if missing:
        shown = ", ".join(shorten(str(d)) for d in sorted(missing, key=str)[:5])
        raise ValueError(f"therapist_of has no therapist for dyad(s) {shown} "
                         f"({len(missing)} in all)")
    return {d: therapist_of[d] for d in dyads}


def trait_contrast(pairings: pd.DataFrame, therapist_of) -> pd.DataFrame:
    """The person contrast of every real dyad-session (see the module notes).

    ``c`` = mean of the dyad's therapist recording with every other patient of the
    session number minus mean of every other therapist recording with the dyad's
    patient: in an additive model of pseudo synchrony, ``(tau_T - pi_d) (1 + 1 /
    (D - 1))`` plus a constant and noise (``tau`` therapist traits, ``pi`` patient
    traits), so therapist traits move it between therapists and patient traits
    between dyads of the same therapist.

    Returns
    -------
    pandas.DataFrame
        ``dyad, therapist, session, c``.
    """
    require_columns(pairings, PAIRING_SESSION_COLUMNS, "pairings")
    th = therapists_of_dyads(pairings, therapist_of)
    pseudo = pairings[(pairings["pairing"] == "pseudo")
                      & (pairings["session"] == pairings["partner_session"])
                      & (pairings["dyad"] != pairings["partner_dyad"])]
    real = pairings.loc[pairings["pairing"] == "real", ["dyad", "session"]]
    row = pseudo.groupby(["dyad", "session"])["synchrony"].mean().rename("row")
    col = pseudo.groupby(["partner_dyad", "session"])["synchrony"].mean().rename("col")
    col.index = col.index.set_names(["dyad", "session"])
    out = real.drop_duplicates().merge(pd.concat([row, col], axis=1).dropna().reset_index(),
                                       on=["dyad", "session"])
    out["c"] = out["row"] - out["col"]
    out["therapist"] = out["dyad"].map(th)
    return out[["dyad", "therapist", "session", "c"]].reset_index(drop=True)


def _dummies(values: pd.Series) -> np.ndarray:
    codes, _ = pd.factorize(values.astype(str), sort=True)
    return np.eye(codes.max() + 1)[codes]


def _nested_f(y: np.ndarray, reduced: np.ndarray, full: np.ndarray
              ) -> tuple[float, float, float, float] | None:
    """F test of nested least-squares fits: ``F, df_num, df, p`` (None if undefined)."""
    def fit(X):
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        return float(np.sum((y - X @ beta) ** 2)), int(np.linalg.matrix_rank(X))
    rss_r, rank_r = fit(reduced)
    rss_f, rank_f = fit(full)
    df_num, df = rank_f - rank_r, len(y) - rank_f
    if df_num <= 0 or df <= 0 or rss_f <= 0:
        return None
    F = ((rss_r - rss_f) / df_num) / (rss_f / df)
    return float(F), float(df_num), float(df), float(sps.f.sf(F, df_num, df))


def _quasi_f(c: pd.DataFrame) -> dict | None:
    """The therapist test on a balanced table (every therapist the same number of
    dyads, every dyad the same sessions): Satterthwaite's quasi-F
    ``(MS_T + MS_E) / (MS_D(T) + MS_TS)`` of the four-stratum analysis of variance
    (therapists, dyads within therapists, therapist x session, residual); None when
    the table is not balanced."""
    y = c.pivot_table(index="dyad", columns="session", values="c", aggfunc="first")
    th = c.drop_duplicates("dyad").set_index("dyad")["therapist"].reindex(y.index)
    sizes = th.value_counts()
    if y.isna().to_numpy().any() or sizes.nunique() != 1 or y.shape[1] < 2:
        return None
    Y = y.to_numpy(float)
    K, m, S = len(sizes), int(sizes.iloc[0]), Y.shape[1]
    codes = pd.factorize(th.astype(str), sort=True)[0]
    cell = np.vstack([Y[codes == k].mean(axis=0) for k in range(K)])     # (K, S)
    grand, tmean, smean = Y.mean(), cell.mean(axis=1), cell.mean(axis=0)
    dmean = Y.mean(axis=1)
    ms = {"T": (m * S * np.sum((tmean - grand) ** 2), K - 1),
          "D": (S * np.sum((dmean - tmean[codes]) ** 2), K * (m - 1)),
          "TS": (m * np.sum((cell - tmean[:, None] - smean[None, :] + grand) ** 2),
                 (K - 1) * (S - 1)),
          "E": (np.sum((Y - dmean[:, None] - cell[codes] + tmean[codes][:, None]) ** 2),
                K * (m - 1) * (S - 1))}
    if min(df for _, df in ms.values()) <= 0:
        return None
    mean_sq = {k: (ss / df, df) for k, (ss, df) in ms.items()}

    def pooled(*keys):
        total = sum(mean_sq[k][0] for k in keys)
        df = total ** 2 / sum(mean_sq[k][0] ** 2 / mean_sq[k][1] for k in keys)
        return total, df

    num, df1 = pooled("T", "E")
    den, df2 = pooled("D", "TS")
    if not den > 0:
        return None
    F = num / den
    return {"F": float(F), "df_num": float(df1), "df": float(df2),
            "p": float(sps.f.sf(F, df1, df2)),
            "formula": "c ~ therapist / dyad + therapist:session (balanced ANOVA)",
            "method": ("quasi-F (MS therapist + MS residual) / (MS dyads within therapist "
                       "+ MS therapist x session), Satterthwaite df; therapist-session "
                       "cells share pseudo partners")}


def _mixed_therapist_test(data, formula, t_codes, df_method, out, notes, N, D) -> None:
    """The therapist test of an unbalanced table: F test of the therapist terms of
    ``c ~ therapist + (1 | dyad) + (1 | therapist-session)`` (into ``out``)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = lmer(formula, data, df_method=df_method)
    except ValueError as exc:
        notes.append(f"therapist-trait test not fitted: {exc}")
        return
    names = list(fit.coefficients.index)
    L = np.array([[1.0 if n == f"C(therapist)[T.{code}]" else 0.0 for n in names]
                  for code in sorted(t_codes.values())[1:]])
    F, q, ddf, p = f_test(fit, L)
    out["therapist"] = {"F": F, "df_num": float(q), "df": ddf, "p": p, "n_obs": N,
                        "n_dyads": D,
                        "formula": "c ~ therapist + (1 | dyad) + "
                                   "(1 | therapist:session)",
                        "method": (f"F test of the {q} therapist terms, {fit.method}; "
                                   f"therapist-session cells random (shared pseudo "
                                   f"partners); unbalanced design")}


def trait_tests(contrast: pd.DataFrame, df_method: str = "satterthwaite"
                ) -> tuple[dict[str, dict], list[str]]:
    """Therapist-trait and patient-trait tests of the person contrast
    (:func:`trait_contrast`); therapist-session cells are a factor of both:

    therapist
        ``c ~ therapist + (1 | dyad) + (1 | therapist-session)`` (REML), the F test
        of the ``K - 1`` therapist terms with ``df_method`` degrees of freedom.
    patient
        Least squares: dyads (within therapists) added to the therapist-session
        cells, the nested F test (exact under normal independent noise).

    Parameters
    ----------
    contrast : pandas.DataFrame
        :func:`trait_contrast`.
    df_method : {"satterthwaite", "kenward-roger"}

    Returns
    -------
    tests : dict
        ``"therapist"``, ``"patient"`` -> ``{"F", "df_num", "df", "p", "n_obs",
        "n_dyads", "formula", "method"}``; a test is left out when no therapist has
        two dyads with both splits.
    notes : list of str
    """
    c = contrast
    D, K, N = c["dyad"].nunique(), c["therapist"].nunique(), len(c)
    out: dict[str, dict] = {}
    notes: list[str] = []
    if K < 2 or D <= K:
        return out, notes
    data = pd.DataFrame({"c": c["c"].to_numpy(float)})
    t_codes = {t: f"T{k + 1:03d}" for k, t in enumerate(sorted(c["therapist"].unique(),
                                                                key=str))}
    data["therapist"] = c["therapist"].map(t_codes).to_numpy()
    data["dyad"] = pd.factorize(c["dyad"].astype(str), sort=True)[0]
    data["cell"] = data["therapist"] + "_" + c["session"].astype(str).to_numpy()
    formula = "c ~ C(therapist) + (1 | dyad) + (1 | cell)"
    quasi = _quasi_f(c)
    if quasi is not None:
        out["therapist"] = {**quasi, "n_obs": N, "n_dyads": D}
    else:
        _mixed_therapist_test(data, formula, t_codes, df_method, out, notes, N, D)
    cells = _dummies(data["cell"])
    res = _nested_f(data["c"].to_numpy(), cells,
                    np.hstack([cells, _dummies(data["dyad"])]))
    if res is not None:
        F, df_num, df, p = res
        out["patient"] = {"F": F, "df_num": df_num, "df": df, "p": p, "n_obs": N,
                          "n_dyads": D,
                          "formula": "c ~ therapist:session + dyad (least squares)",
                          "method": ("nested F test (least squares) of dyads added to "
                                     "therapist-session cells")}
    return out, notes
