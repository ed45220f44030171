"""Small calibration checks of the confirmatory tests (the full run is
``benchmarks/calibration.py``; its numbers are in docs/statistics.md).

Each check simulates 200 whole studies (every pairing; interbrain.stats.pairing_simulation)
and fits the package's own tests (interbrain.stats.simulated_tests). Bounds:

* A calibrated test rejects a true null at a rate 0.05; over n = 200 seeded studies
  the number of rejections is Binomial(200, 0.05) (mean 10, SD 3.1), whose 99%
  quantile is 18: ``FPR_BOUND = binom.ppf(0.99, 200, 0.05) / 200 = 0.09``. A test
  at its level exceeds it with probability 0.006 (0.03 if its true rate were 0.06),
  so the bound leaves room for Monte Carlo error but not for a rate far above 0.05.
* A test that is *not* calibrated must exceed ``BROKEN_BOUND = 0.15``: at a true rate
  0.05 that is 30 rejections, more than 6 SDs above the mean (probability < 1e-8).
  The old random-intercept outcome model under outcome effects that vary between
  dyads (SD 1.0) and the naive growth model under a session-locked confound lie far
  above it; the new tests must stay below ``FPR_BOUND`` on the same studies.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import binom

from interbrain.stats.mixed import single_blas_thread
from interbrain.stats.pairing_simulation import PairingModel, simulate_pairings
from interbrain.stats.simulated_tests import rejection_rows, run_tests

N_STUDIES = 200
FPR_BOUND = binom.ppf(0.99, N_STUDIES, 0.05) / N_STUDIES      # 0.09
BROKEN_BOUND = 0.15


def _rates(tests, *, seed, **simulation):
    results = []
    with single_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, ss in enumerate(np.random.SeedSequence(seed).spawn(N_STUDIES)):
            study = simulate_pairings(8, 6, familiarity=False, seed=np.random.default_rng(ss),
                                      **simulation)
            results.append(run_tests(study, tests, n_permutations=199, seed=i))
    planted = {t: 0.0 for t in tests}
    return {r["test"]: r for r in rejection_rows(results, planted)}


def test_fpr_bound_is_the_binomial_quantile():
    assert FPR_BOUND == pytest.approx(0.09)
    assert binom.sf(FPR_BOUND * N_STUDIES, N_STUDIES, 0.05) < 0.01
    assert binom.sf(BROKEN_BOUND * N_STUDIES - 1, N_STUDIES, 0.05) < 1e-6


def test_outcome_ladder_is_calibrated_when_within_dyad_effects_vary():
    """Mean within-dyad effect 0, SD 1.0 across dyads (8 dyads x 6 sessions): the
    random-intercept model treats every session as independent evidence of one
    common slope and rejects far too often; the ladder (random slope, then
    cluster-robust OLS) keeps the level."""
    rates = _rates(("outcome_ladder", "outcome_intercept"), seed=101,
                   model=PairingModel(outcome_effect_sd=1.0))
    old, new = rates["outcome_intercept"], rates["outcome_ladder"]
    assert old["n_tested"] == new["n_tested"] == N_STUDIES
    assert old["rate"] > BROKEN_BOUND, old
    assert new["rate"] <= FPR_BOUND, new
    assert abs(new["mean_estimate"]) < 3 * new["sd_estimate"] / np.sqrt(N_STUDIES)


def test_plasticity_test_is_calibrated_under_a_session_locked_confound():
    """A confound raising every pairing of later sessions (0.02 synchrony per session,
    no plasticity): real synchrony grows, so naive growth rejects often; the excess
    over pseudo-dyads does not grow, so the plasticity test keeps the level, both its
    model p and its dyad-level sign-flip p (the one of the confirmatory family). The
    partner-reassignment p is not the default: over 1,000 studies it rejected at 0.078
    [0.063, 0.096] (docs/statistics.md)."""
    rates = _rates(("growth", "plasticity", "plasticity_permutation"), seed=202,
                   confound=0.02)
    assert rates["growth"]["rate"] > 0.5, rates["growth"]
    assert rates["growth"]["mean_estimate"] == pytest.approx(0.02, abs=0.003)
    assert rates["plasticity"]["n_tested"] == N_STUDIES
    assert rates["plasticity"]["rate"] <= FPR_BOUND, rates["plasticity"]
    assert rates["plasticity_permutation"]["rate"] <= FPR_BOUND, rates["plasticity_permutation"]
    assert abs(rates["plasticity"]["mean_estimate"]) < 0.003
