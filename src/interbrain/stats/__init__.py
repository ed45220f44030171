"""Statistics: linear mixed models matching R's lme4 (REML/ML) and lmerTest
(Satterthwaite degrees of freedom), and the study's models built on them.

Modules, bottom-up: :mod:`.settings` (``[statistics]``), :mod:`.time_codings`,
:mod:`.formula` and :mod:`.mixed` (mixed models, :func:`lmer`; :mod:`.fast` for exact fast fits),
:mod:`.tables` (rows of ``models.parquet``), :mod:`.sessions` (session-level
synchrony), :mod:`.slopes` (per-dyad OLS slopes), :mod:`.growth` (growth models),
:mod:`.permutation` (slope permutation test, maxT), :mod:`.growth_analysis`,
:mod:`.equivalence`, :mod:`.prepost`, :mod:`.outcomes` (outcome models),
:mod:`.real_vs_pseudo`, :mod:`.generalisation`, :mod:`.multiple` (per-unit tests),
:mod:`.result_table`, :mod:`.study_models` (the statistics stage of a run),
:mod:`.session_simulation` and :mod:`.power` (power by simulation).

>>> from interbrain.stats import lmer
>>> fit = lmer("ibs ~ session + (1 + session | dyad)", data)  # doctest: +SKIP
>>> fit.coefficients                                           # doctest: +SKIP
"""

import importlib

__all__ = ["lmer", "LmerResult", "within_between", "likelihood_ratio_test",
           "LRTResult"]


def __getattr__(name: str):
    """The mixed-model API is loaded on first use (PEP 562), so that reading a study's
    ``[statistics]`` table (:mod:`.settings`) does not import patsy and statsmodels."""
    if name in __all__:
        return getattr(importlib.import_module(".mixed", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
