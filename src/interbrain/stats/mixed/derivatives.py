"""Numerical derivatives by Richardson extrapolation, as R's numDeriv (which lmerTest
uses for the Satterthwaite degrees of freedom)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["richardson", "jacobian", "hessian"]

ZERO_TOL = math.sqrt(np.finfo(float).eps / 7e-7)


def richardson(a: list, r: int, v: float = 2.0):
    a = list(a)
    for m in range(1, r):
        f = v ** (2 * m)
        a = [(a[k + 1] * f - a[k]) / (f - 1.0) for k in range(len(a) - 1)]
    return a[0]


def jacobian(func, x: np.ndarray, d: float = 1e-4, eps: float = 1e-4,
              r: int = 4, v: float = 2.0) -> np.ndarray:
    """Jacobian of array-valued func: shape (len(x),) + func(x).shape."""
    x = np.asarray(x, dtype=float)
    h0 = np.abs(d * x) + eps * (np.abs(x) < ZERO_TOL)
    out = []
    for i in range(len(x)):
        h = h0[i]
        approx = []
        for _ in range(r):
            xp = x.copy()
            xm = x.copy()
            xp[i] += h
            xm[i] -= h
            approx.append((func(xp) - func(xm)) / (2.0 * h))
            h /= v
        out.append(richardson(approx, r, v))
    return np.array(out)


def hessian(func, x: np.ndarray, d: float = 0.1, eps: float = 1e-4, r: int = 4,
             v: float = 2.0) -> np.ndarray:
    """Hessian of a scalar function (numDeriv::genD's scheme)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    f0 = func(x)
    h0 = np.abs(d * x) + eps * (np.abs(x) < ZERO_TOL)
    H = np.zeros((n, n))
    for i in range(n):
        h = h0.copy()
        approx = []
        for _ in range(r):
            e = np.zeros(n)
            e[i] = h[i]
            approx.append((func(x + e) - 2.0 * f0 + func(x - e)) / h[i] ** 2)
            h = h / v
        H[i, i] = richardson(approx, r, v)
    for i in range(n):
        for j in range(i):
            h = h0.copy()
            approx = []
            for _ in range(r):
                e = np.zeros(n)
                e[i] = h[i]
                e[j] = h[j]
                approx.append((func(x + e) - 2.0 * f0 + func(x - e)
                               - H[i, i] * h[i] ** 2 - H[j, j] * h[j] ** 2)
                              / (2.0 * h[i] * h[j]))
                h = h / v
            H[i, j] = H[j, i] = richardson(approx, r, v)
    return H
