"""The FFT library of the wavelet kernels: :mod:`scipy.fft`, or optionally ``ducc0``.

Every transform of the synchrony kernels (channel transforms, time smoothing, the pair
kernels of every precision) goes through the :class:`FFTLibrary` of its
:class:`~interbrain.synchrony.wavelet.WaveletGrid`, along the last axis of its array:

* ``"scipy"`` (default): :mod:`scipy.fft` (pocketfft), in the default install;
* ``"ducc0"``: the double-precision FFTs by `ducc0 <https://gitlab.mpcdf.mpg.de/mtr/ducc>`_,
  the successor of pocketfft by its author: on one core 1.8x faster than scipy on the
  float64 smoothing's 32768-point transforms and 1.1x on the transform's 65536-point
  ones (``benchmarks/fft_libraries.py``, ``docs/performance.md``); single-precision
  transforms stay with :mod:`scipy.fft`, which computes them faster than ducc0's wheels
  do (0.50 against 0.78 ms for 84 transforms of 2,048 points). So it changes the
  ``"float64"`` precision only. Not in the default install (``pip install
  'interbrain[ducc0]'``); ducc0 is licensed GPL-2.0-or-later, while interbrain and its
  default dependencies are not.

The two libraries compute the same transforms to round-off (band means within 1e-13 of
each other in float64, tested); a float64 grid's
:attr:`~interbrain.synchrony.wavelet.WaveletGrid.key` tells them apart, so results of
one are never mixed with the other's.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft as sfft

__all__ = ["FFT_LIBRARIES", "FFTLibrary", "fft_library"]

#: FFT libraries of the wavelet kernels, the default first.
FFT_LIBRARIES: tuple[str, ...] = ("scipy", "ducc0")

#: How to install the optional libraries.
_INSTALL = {"ducc0": "pip install 'interbrain[ducc0]' (or: pip install ducc0)"}


def _padded(x: np.ndarray, n: int | None) -> np.ndarray:
    """``x`` cut or zero-padded to ``n`` points along its last axis (as scipy.fft does)."""
    if n is None or n == x.shape[-1]:
        return x
    if n < x.shape[-1]:
        return x[..., :n]
    out = np.zeros(x.shape[:-1] + (n,), dtype=x.dtype)
    out[..., :x.shape[-1]] = x
    return out


@dataclass(frozen=True)
class FFTLibrary:
    """Forward and inverse FFTs along the last axis, with :mod:`scipy.fft`'s semantics.

    Build it with :func:`fft_library`. Every method takes and returns arrays as the
    :mod:`scipy.fft` function of the same name does with ``axis=-1`` (the inverse
    transforms scaled by ``1 / n``); ``workers`` is the number of threads of one call.

    Attributes
    ----------
    name : str
        One of :data:`FFT_LIBRARIES`.
    """

    name: str = "scipy"

    def _ducc(self, x: np.ndarray) -> Any:
        """The ducc0 module for double-precision ``x`` with ``name`` ``"ducc0"``; else None."""
        if self.name == "scipy" or x.dtype not in (np.float64, np.complex128):
            return None
        return importlib.import_module("ducc0")

    def fft(self, x: np.ndarray, n: int | None = None, *, axis: int = -1,
            overwrite_x: bool = False, workers: int = 1) -> np.ndarray:
        """Forward FFT of complex (or real) ``x`` along ``axis`` (``n`` only with the
        last axis)."""
        x = np.asarray(x)
        ducc = self._ducc(x)
        if ducc is None:
            return sfft.fft(x, n=n, axis=axis, overwrite_x=overwrite_x, workers=workers)
        x = _padded(x, n)
        if not np.iscomplexobj(x):
            x = x.astype(np.complex128)
            overwrite_x = True
        out = x if overwrite_x and x.flags.writeable else None
        return ducc.fft.c2c(x, axes=(axis % x.ndim,), forward=True, out=out,
                            nthreads=workers)

    def ifft(self, x: np.ndarray, n: int | None = None, *, axis: int = -1,
             overwrite_x: bool = False, workers: int = 1) -> np.ndarray:
        """Inverse FFT of complex ``x`` along ``axis``, scaled by ``1 / n`` (``n`` only
        with the last axis)."""
        x = np.asarray(x)
        ducc = self._ducc(x)
        if ducc is None:
            return sfft.ifft(x, n=n, axis=axis, overwrite_x=overwrite_x, workers=workers)
        x = _padded(x, n)
        out = x if overwrite_x and x.flags.writeable else None
        return ducc.fft.c2c(x, axes=(axis % x.ndim,), forward=False, inorm=2, out=out,
                            nthreads=workers)

    def rfft(self, x: np.ndarray, n: int | None = None, *, workers: int = 1) -> np.ndarray:
        """FFT of real ``x`` (zero-padded or cut to ``n`` points): shape (..., n // 2 + 1)."""
        x = np.asarray(x)
        ducc = self._ducc(x)
        if ducc is None:
            return sfft.rfft(x, n=n, axis=-1, workers=workers)
        return ducc.fft.r2c(_padded(x, n), axes=(x.ndim - 1,), forward=True,
                            nthreads=workers)

    def irfft(self, x: np.ndarray, n: int, *, overwrite_x: bool = False,
              workers: int = 1) -> np.ndarray:
        """Real inverse FFT of ``n`` points from bins ``x``, scaled by ``1 / n``."""
        x = np.asarray(x)
        ducc = self._ducc(x)
        if ducc is None:
            return sfft.irfft(x, n=n, axis=-1, overwrite_x=overwrite_x, workers=workers)
        return ducc.fft.c2r(_padded(x, n // 2 + 1), axes=(x.ndim - 1,), lastsize=n,
                            forward=False, inorm=2, nthreads=workers)


def fft_library(name: str = "scipy", *, field: str = "fft") -> FFTLibrary:
    """The FFT library ``name``, checked to be importable.

    Parameters
    ----------
    name : {"scipy", "ducc0"}, default "scipy"
    field : str
        What ``name`` was given as, for messages.

    Returns
    -------
    FFTLibrary

    Raises
    ------
    ValueError
        ``name`` is not one of :data:`FFT_LIBRARIES`, or the library is not installed
        (the message gives the install command).
    """
    if not isinstance(name, str) or name not in FFT_LIBRARIES:
        raise ValueError(f"{field} must be one of {list(FFT_LIBRARIES)}, got {name!r}")
    if name != "scipy":
        try:
            importlib.import_module(name)
        except ImportError:
            raise ValueError(f"{field} = {name!r} needs the {name} package, which is not "
                             f"installed; install it with: {_INSTALL[name]}") from None
    return FFTLibrary(name)
