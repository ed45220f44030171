"""The study's models: synchrony growth, outcomes, and real versus pseudo-dyads.

Each function takes the tidy synchrony table (one row per dyad x session x channel
pair x signal x pairing, see :mod:`interbrain.engine`) or its session-level summary
and returns fitted models; :func:`model_table` turns them into the rows of
``models.parquet``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from .lmer import LmerResult, lmer, within_between

GROWTH_FORMULA = "synchrony ~ session + (1 + session | dyad)"
GROWTH_FORMULA_INTERCEPT = "synchrony ~ session + (1 | dyad)"
OUTCOME_FORMULA = "{measure} ~ synchrony_within + synchrony_between + session + (1 | dyad)"
MODEL_COLUMNS = ["model", "signal", "metric", "term", "estimate", "std_error", "df", "t", "p",
                 "method", "formula"]


def session_synchrony(synchrony: pd.DataFrame, signal: str, pairing: str = "real",
                      metric: str = "wtc") -> pd.DataFrame:
    """Average synchrony of each dyad-session over its channel pairs.

    Parameters
    ----------
    synchrony : pandas.DataFrame
        The tidy synchrony table (columns ``dyad, session, pair, signal, pairing,
        value``).
    signal : str
        ``"hbo"`` or ``"hbr"``.
    pairing : str
        ``"real"`` or ``"pseudo"``; pseudo rows are averaged per therapist dyad.
    metric : str
        The synchrony metric (``"wtc"``, ``"pearson"``, ...).

    Returns
    -------
    pandas.DataFrame
        Columns ``dyad, session, synchrony, n_pairs``.
    """
    rows = synchrony[(synchrony["signal"] == signal) & (synchrony["pairing"] == pairing)
                     & (synchrony["metric"] == metric)]
    out = (rows.groupby(["dyad", "session"], as_index=False)["value"]
           .agg(synchrony="mean", n_pairs="size"))
    return out.sort_values(["dyad", "session"], ignore_index=True)


def fit_growth(sessions: pd.DataFrame, *, time: str = "linear") -> LmerResult:
    """Growth of synchrony over sessions (inter-brain plasticity).

    Fits ``synchrony ~ session + (1 + session | dyad)`` by REML with Satterthwaite
    degrees of freedom: a random intercept and a random slope per dyad. When the data
    cannot identify a random slope per dyad (as in lme4, fewer observations than
    random effects, e.g. two sessions per dyad), the random-intercept model
    ``synchrony ~ session + (1 | dyad)`` is fitted instead; the result's ``formula``
    says which.

    Parameters
    ----------
    sessions : pandas.DataFrame
        Output of :func:`session_synchrony`.
    time : str
        ``"linear"`` (session number) only in this version.
    """
    if time != "linear":
        raise ValueError(f"time must be 'linear', got {time!r}")
    n_dyads = sessions["dyad"].nunique()
    formula = GROWTH_FORMULA if len(sessions) > 2 * n_dyads else GROWTH_FORMULA_INTERCEPT
    return lmer(formula, sessions, reml=True)


def fit_outcomes(sessions: pd.DataFrame, measures: pd.DataFrame) -> dict[str, LmerResult]:
    """Each measure on synchrony split into within- and between-dyad parts.

    For every measure column, fits ``measure ~ synchrony_within + synchrony_between +
    session + (1 | dyad)`` by REML, where ``synchrony_between`` is the dyad's mean
    synchrony and ``synchrony_within`` the session's deviation from it.

    Parameters
    ----------
    sessions : pandas.DataFrame
        Output of :func:`session_synchrony`.
    measures : pandas.DataFrame
        Columns ``dyad``, ``session`` and one column per measure.

    Returns
    -------
    dict
        Measure name -> fitted model; measures with fewer than 3 dyads of data are
        skipped.
    """
    data = within_between(sessions, "synchrony", "dyad")
    merged = data.merge(measures, on=["dyad", "session"], how="inner")
    results = {}
    for measure in [c for c in measures.columns if c not in ("dyad", "session")]:
        sub = merged.dropna(subset=[measure])
        if sub["dyad"].nunique() < 3:
            continue
        results[measure] = lmer(OUTCOME_FORMULA.format(measure=measure), sub, reml=True)
    return results


def real_vs_pseudo(synchrony: pd.DataFrame, signal: str, metric: str = "wtc"
                   ) -> dict[str, float]:
    """Do real dyads synchronise more than pseudo-dyads?

    Per dyad, the mean synchrony of its real sessions and the mean synchrony of the
    pseudo-dyads its therapist recordings formed; the dyad-level differences are
    tested with a paired t-test and an exact sign-flip permutation test (all
    ``2**n_dyads`` sign patterns, or 20,000 random ones beyond 16 dyads).

    Returns
    -------
    dict
        ``real, pseudo, difference, std_error, df, t, p, p_permutation, n_dyads``.
    """
    real = session_synchrony(synchrony, signal, "real", metric)
    pseudo = session_synchrony(synchrony, signal, "pseudo", metric)
    real = real.groupby("dyad")["synchrony"].mean()
    pseudo = pseudo.groupby("dyad")["synchrony"].mean()
    both = pd.concat({"real": real, "pseudo": pseudo}, axis=1).dropna()
    diff = (both["real"] - both["pseudo"]).to_numpy()
    n = diff.size
    if n < 2:
        raise ValueError("real versus pseudo-dyads needs at least 2 dyads with both")
    mean = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(n))
    t = mean / se if se > 0 else math.copysign(math.inf, mean) if mean else 0.0
    p = float(2 * sps.t.sf(abs(t), n - 1)) if np.isfinite(t) else 0.0
    if n <= 16:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    else:
        signs = np.random.default_rng(0).choice((1.0, -1.0), size=(20_000, n))
    null = np.abs(signs @ diff) / n
    p_perm = float(np.mean(null >= abs(mean) - 1e-15))
    return {"real": float(both["real"].mean()), "pseudo": float(both["pseudo"].mean()),
            "difference": mean, "std_error": se, "df": float(n - 1), "t": float(t), "p": p,
            "p_permutation": p_perm, "n_dyads": n}


def model_table(models: dict[str, LmerResult], signal: str, metric: str = "wtc"
                ) -> pd.DataFrame:
    """Rows of ``models.parquet`` for fitted mixed models.

    Parameters
    ----------
    models : dict
        Model name -> fitted model.
    signal : str
        The haemoglobin signal the models were fitted on.
    metric : str
        The synchrony metric the models were fitted on.
    """
    frames = []
    for name, result in models.items():
        coef = result.coefficients.reset_index(names="term")
        coef.insert(0, "model", name)
        coef.insert(1, "signal", signal)
        coef.insert(2, "metric", metric)
        coef["method"] = ("lmer REML, Satterthwaite df" if result.reml
                          else "lmer ML, Satterthwaite df")
        coef["formula"] = result.formula
        frames.append(coef[MODEL_COLUMNS])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=MODEL_COLUMNS)


def real_vs_pseudo_table(test: dict[str, float], signal: str, metric: str = "wtc"
                         ) -> pd.DataFrame:
    """Rows of ``models.parquet`` for :func:`real_vs_pseudo`."""
    return pd.DataFrame([
        {"model": "real_vs_pseudo", "signal": signal, "metric": metric, "term": "real - pseudo",
         "estimate": test["difference"], "std_error": test["std_error"], "df": test["df"],
         "t": test["t"], "p": test["p"], "method": "paired t-test over dyads",
         "formula": ""},
        {"model": "real_vs_pseudo", "signal": signal, "metric": metric, "term": "real - pseudo",
         "estimate": test["difference"], "std_error": test["std_error"], "df": np.nan,
         "t": np.nan, "p": test["p_permutation"],
         "method": "exact sign-flip permutation over dyads", "formula": ""},
    ], columns=MODEL_COLUMNS)
