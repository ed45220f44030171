"""numba compilation of interbrain's loops (preprocessing, the multirate pair kernel), cached
on disk where it can be.

:func:`jit` compiles a function with :func:`numba.njit` (``nogil=True``: the loops
release the GIL, so threads can run them side by side) and ``cache=True``: the first
call in a process loads the machine code from numba's cache (``__pycache__`` beside
the module, else ``NUMBA_CACHE_DIR`` or the user's cache directory) or, the first time
ever, compiles it and writes it there. Where no cache location is writable (a
read-only install without a home directory) numba cannot cache at all; the function
is then compiled in memory, once per process.
"""

from __future__ import annotations

from collections.abc import Callable

import numba

__all__ = ["jit", "jit_sums"]


def _njit(func: Callable, **options) -> Callable:
    try:
        return numba.njit(cache=True, nogil=True, **options)(func)
    except RuntimeError:   # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, **options)(func)


def jit(func: Callable) -> Callable:
    """``numba.njit(cache=True, nogil=True)(func)``, without the cache where numba has
    no writable location for it (it raises RuntimeError then)."""
    return _njit(func)


def jit_sums(func: Callable) -> Callable:
    """:func:`jit` for loops that sum many terms: floating-point additions and
    multiplications may be reassociated (``fastmath={"reassoc"}``, nothing else of
    fast-math: no reciprocals, no contraction, NaN and infinities kept), so that a sum
    vectorises (3-4x faster). The result differs from the sequential sum by round-off
    (2e-16 relative for a float64 sum of float32 terms in the tests). Division follows
    numpy (``error_model="numpy"``): by zero it gives infinity or NaN, as numpy's
    element-wise division does, instead of raising ZeroDivisionError."""
    return _njit(func, fastmath={"reassoc"}, error_model="numpy")
