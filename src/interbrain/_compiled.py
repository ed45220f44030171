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

__all__ = ["jit"]


def jit(func: Callable) -> Callable:
    """``numba.njit(cache=True, nogil=True)(func)``, without the cache where numba has
    no writable location for it (it raises RuntimeError then)."""
    try:
        return numba.njit(cache=True, nogil=True)(func)
    except RuntimeError:   # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(func)
