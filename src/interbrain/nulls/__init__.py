"""Null controls: what synchrony looks like without interaction.

- Pseudo-dyads (:mod:`.pseudo_dyads`): the therapist of one dyad with the patient of
  another, same session number; all of them or a seeded random subset.
- Familiarity pairings (:mod:`.pseudo_dyads`): the therapist and patient of one dyad,
  recorded in different sessions; all of them or a seeded random subset.
- Surrogates of one partner (:mod:`.surrogates`): circular shifts or multivariate
  phase randomisation of one person's recording; paired with the real partner
  (:mod:`.surrogate_synchrony`).
- Tests over dyads (:mod:`.dyad_tests`): the one-sample t-test and the sign-flip
  permutation test that every dyad-level test of the package uses.
- Group tests (:mod:`.group_tests`): per dyad-session summaries of real synchrony
  against the null, and a dyad-level sign-flip permutation test that real exceeds
  the null.
"""

from .dyad_tests import SignFlipResult, one_sample_t, sign_flip_test, t_test
from .group_tests import (NULL_KINDS, NULL_SUMMARY_COLUMNS, DyadPermutationResult,
                          dyad_permutation_test, dyad_permutation_tests, null_summary)
from .pseudo_dyads import (Pairing, all_pairings, familiarity_pairings, generalisation_pairings,
                           pseudo_dyad_pairings, rate_groups, real_pairings)
from .surrogate_synchrony import SURROGATE_COLUMNS, SurrogateSynchrony, surrogate_synchrony
from .surrogates import (SURROGATE_KINDS, NullSettings, circular_shift_surrogates, derive_seed,
                         iter_circular_shift_surrogates, iter_phase_randomised_surrogates,
                         iter_surrogates, phase_randomised_surrogates, surrogate_null)

__all__ = [
    "Pairing",
    "real_pairings",
    "generalisation_pairings",
    "pseudo_dyad_pairings",
    "familiarity_pairings",
    "all_pairings",
    "rate_groups",
    "SURROGATE_COLUMNS",
    "SURROGATE_KINDS",
    "NullSettings",
    "SurrogateSynchrony",
    "surrogate_null",
    "circular_shift_surrogates",
    "derive_seed",
    "iter_circular_shift_surrogates",
    "iter_phase_randomised_surrogates",
    "iter_surrogates",
    "phase_randomised_surrogates",
    "surrogate_synchrony",
    "NULL_KINDS",
    "NULL_SUMMARY_COLUMNS",
    "DyadPermutationResult",
    "dyad_permutation_test",
    "dyad_permutation_tests",
    "null_summary",
    "SignFlipResult",
    "sign_flip_test",
    "one_sample_t",
    "t_test",
]
