"""Linear mixed models fitted as R's ``lme4::lmer`` with ``lmerTest`` inference.

The model is ``y = X beta + Z b + e`` with ``b ~ N(0, sigma^2 Lambda Lambda')`` and
``e ~ N(0, sigma^2 I)``. ``Lambda(theta)`` is block diagonal: for each random-effects
term ``(expr | g)`` with ``k`` columns and ``m`` levels it holds ``I_m (x) T`` with
``T`` a lower-triangular ``k x k`` factor whose entries (column-major lower triangle,
as in lme4) are the term's part of ``theta``.

For given ``theta`` the penalised least-squares problem is solved through the
``q x q`` Cholesky factor ``L L' = Lambda' Z' Z Lambda + I`` and the ``p x p`` factor
``R_X R_X' = X' X - R_ZX' R_ZX``; ``beta`` and ``sigma`` are profiled out and the
(RE)ML deviance of Bates, Maechler, Bolker & Walker (2015, J. Stat. Softw. 67(1),
eqs. 34 and 41) is minimised over ``theta``. lme4 bounds the diagonal entries at 0;
since the deviance depends on each ``T`` only through ``T T'``, we search over
unconstrained factors and flip column signs afterwards, which reaches the same
optimum but cannot stall on the boundary (:mod:`.optimise`).

Denominator degrees of freedom follow Satterthwaite's method as implemented in
lmerTest (Kuznetsova, Brockhoff & Christensen 2017, J. Stat. Softw. 82(13)): the
variance parameters are ``(theta, sigma)``; their asymptotic covariance is
``A = 2 H^-1`` with ``H`` the Hessian of the (RE)ML deviance at the optimum, and for
a contrast ``l`` with ``v = l' C l`` (``C = vcov(beta)``), ``df = 2 v^2 / (g' A g)``,
``g`` the gradient of ``v`` in the variance parameters. Derivatives are numerical
(Richardson extrapolation, as numDeriv's defaults used by lmerTest).

Modules: :mod:`.model_frame` (model matrices from a formula, design checks,
:func:`within_between`), :mod:`.problem` (the penalised least-squares problem and its
deviance), :mod:`.optimise` (minimising it), :mod:`.derivatives` and
:mod:`.satterthwaite` (degrees of freedom), :mod:`.kenward_roger` (Kenward-Roger
adjusted covariance and degrees of freedom, as pbkrtest; ``lmer(...,
df_method="kenward-roger")``), :mod:`.fit` (:func:`lmer`,
:func:`likelihood_ratio_test`) and :mod:`.results` (:class:`LmerResult`,
:class:`LRTResult`). The formula language is :mod:`interbrain.stats.formula`.

>>> from interbrain.stats.mixed import lmer
>>> fit = lmer("ibs ~ session + (1 + session | dyad)", data)  # doctest: +SKIP
"""

from .fit import likelihood_ratio_test, lmer, single_blas_thread
from .model_frame import within_between
from .results import LmerResult, LRTResult

__all__ = ["lmer", "LmerResult", "within_between", "likelihood_ratio_test",
           "LRTResult", "single_blas_thread"]
