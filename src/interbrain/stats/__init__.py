"""Statistics: linear mixed models matching R's lme4 (REML/ML) and lmerTest
(Satterthwaite degrees of freedom).

>>> from interbrain.stats import lmer
>>> fit = lmer("ibs ~ session + (1 + session | dyad)", data)  # doctest: +SKIP
>>> fit.coefficients                                           # doctest: +SKIP
"""

from .lmer import LmerResult, LRTResult, likelihood_ratio_test, lmer, within_between

__all__ = ["lmer", "LmerResult", "within_between", "likelihood_ratio_test",
           "LRTResult"]
