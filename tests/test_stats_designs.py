"""Designs beyond one therapist: generalisation to other partners, covariates
(interbrain.stats.generalisation, interbrain.stats.sessions)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from interbrain.stats.growth import fit_growth
from interbrain.stats.generalisation import fit_generalisation
from interbrain.stats.result_table import result_table
from interbrain.stats.session_simulation import simulate_sessions
from interbrain.stats.sessions import attach_covariates


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _generalisation(seed: int, change_therapist: float, change_other: float,
                    n_patients: int = 12, repeats: int = 2, roles=("therapist", "other")):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_patients):
        level = rng.normal(0, 0.04)
        for role in roles:
            partner = "therapist" if role == "therapist" else f"O{rng.integers(3)}"
            for phase in ("pre", "post"):
                change = (change_therapist if role == "therapist" else change_other) \
                    if phase == "post" else 0.0
                for _ in range(repeats):
                    rows.append((f"P{i}", role, phase, partner,
                                 0.3 + level + change + rng.normal(0, 0.02)))
    return pd.DataFrame(rows, columns=["patient", "partner_role", "phase", "partner",
                                       "synchrony"])


def test_generalisation_contrasts_recover_the_planted_changes():
    data = _generalisation(1, change_therapist=0.05, change_other=0.03)
    res = fit_generalisation(data)
    assert res.fit.formula == "synchrony ~ phase * partner_role + (1 | patient)"
    con = res.contrasts.set_index("term")
    other = con.loc["post - pre | other"]
    assert other["estimate"] == pytest.approx(0.03, abs=3 * other["std_error"])
    assert other["p"] < 0.01
    ther = con.loc["post - pre | therapist"]
    assert ther["estimate"] == pytest.approx(0.05, abs=3 * ther["std_error"])
    diff = con.loc["(post - pre | other) - (post - pre | therapist)"]
    assert diff["estimate"] < 0
    # the contrast equals the sum of the two coefficients
    b = res.fit.coefficients["estimate"]
    assert other["estimate"] == pytest.approx(
        b["phase[T.post]"] + b["phase[T.post]:partner_role[T.other]"])
    table = res.to_frame("hbo", "wtc")
    assert {"ci_low", "ci_high"} <= set(table.columns)
    assert len(result_table({"generalisation": res}, "hbo", "wtc")) == len(table)


def test_generalisation_without_change_and_with_other_partners_only():
    null = fit_generalisation(_generalisation(2, 0.04, 0.0))
    assert null.contrasts.set_index("term").loc["post - pre | other", "p"] > 0.01
    only = fit_generalisation(_generalisation(3, 0.0, 0.04, roles=("other",)),
                              partner="partner")
    assert only.fit.formula == ("synchrony ~ phase + (1 | patient) + (1 | partner)")
    assert list(only.contrasts["term"]) == ["post - pre | other"]
    assert only.contrasts["estimate"].iloc[0] > 0


def test_generalisation_input_errors():
    data = _generalisation(4, 0.0, 0.0)
    with pytest.raises(ValueError, match="lacks column"):
        fit_generalisation(data.drop(columns="phase"))
    with pytest.raises(ValueError, match="phase must be one of"):
        fit_generalisation(data.replace({"phase": {"post": "after"}}))
    with pytest.raises(ValueError, match="both 'pre' and 'post'"):
        fit_generalisation(data[data["phase"] == "pre"])
    with pytest.raises(ValueError, match="partner_role 'other'"):
        fit_generalisation(data[data["partner_role"] == "therapist"])


def test_attach_therapist_covariates():
    data = simulate_sessions(6, 4, n_therapists=3, seed=5).drop(columns="therapist")
    table = pd.DataFrame({"dyad": sorted(data["dyad"].unique()),
                          "therapist": ["T1", "T2", "T3"] * 2,
                          "burnout": [1.0, 2.0, 3.0] * 2})
    out = attach_covariates(data, table)
    assert len(out) == len(data)
    assert out.groupby("therapist")["burnout"].nunique().eq(1).all()
    fit = fit_growth(out, therapist="therapist", covariates=["burnout"])
    assert "burnout" in fit.coefficients.index
    with pytest.raises(ValueError, match="several rows"):
        attach_covariates(data, pd.concat([table, table.iloc[:1]]))
    with pytest.raises(ValueError, match="no \\['therapist', 'burnout'\\]"):
        attach_covariates(data, table.iloc[:5])
    with pytest.raises(ValueError, match="already has"):
        attach_covariates(out, table)
