"""Elementwise float64 ``exp``, ``log``, ``cos`` and ``sin`` of the C library, for simulators whose bytes must
repeat across x86 CPUs.

numpy computes these with its own AVX-512 kernels where the CPU has them; their last bits differ from the C
library's in rare cases, and a simulation carries such a difference into its data (the ``types16`` and ``r1``
datasets of version 1, made on an AVX-512 machine, could not be regenerated on an AVX2 one). These are numba
ufuncs of ``math.exp`` etc., which call the C library (libm) on every CPU; where numpy has no such kernel (AVX2
and older) both give the same bytes. What they guarantee is the bytes of one libm build (glibc's, on the
FMA-capable x86 CPUs of the last decade) on any of those CPUs; another C library may differ. numba vectorises a
ufunc's loop with Intel's SVML instead, if it finds SVML installed (``icc_rt``): then the bytes may differ from
the official datasets, and the first use warns. ``log(0)`` is −inf, as numpy's (with numpy's divide-by-zero
warning, which ``np.errstate`` governs).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np


def _exp(v: float) -> float:
    return math.exp(v)


def _log(v: float) -> float:
    return math.log(v)


def _cos(v: float) -> float:
    return math.cos(v)


def _sin(v: float) -> float:
    return math.sin(v)


def with_disk_cache(make: Callable[[bool], Callable], function: Callable) -> Callable:
    """``make(True)(function)``: numba's compiled ``function``, cached on disk; or ``make(False)(function)``, compiled
    anew in each process, where numba finds no writable folder for its cache (neither beside the package nor
    under ``NUMBA_CACHE_DIR`` or the user's cache folder): it raises "cannot cache function" then."""
    try:
        return make(True)(function)
    except RuntimeError as e:
        if "cannot cache" not in str(e):
            raise
        return make(False)(function)


@functools.cache
def _ufuncs() -> tuple[Callable[[np.ndarray], np.ndarray], ...]:
    """exp, log, cos, sin: compiled on first use (and cached on disk)."""
    import warnings

    import numba

    if numba.config.USING_SVML:
        warnings.warn("numba uses Intel's SVML here (icc_rt is installed): bench.tasks.libm's exp/log/cos/sin may "
                      "differ from the C library's in their last bits, and datasets from the official ones; "
                      "set NUMBA_DISABLE_INTEL_SVML=1", stacklevel=3)  # fmt: skip
    return tuple(with_disk_cache(lambda cache: numba.vectorize(["float64(float64)"], cache=cache), f)
                 for f in (_exp, _log, _cos, _sin))  # fmt: skip


def exp(x) -> np.ndarray:
    """The C library's exp of every element of ``x`` (float64)."""
    return _ufuncs()[0](np.asarray(x, dtype=np.float64))


def log(x) -> np.ndarray:
    """The C library's log of every element of ``x`` (float64)."""
    return _ufuncs()[1](np.asarray(x, dtype=np.float64))


def cos(x) -> np.ndarray:
    """The C library's cos of every element of ``x`` (float64)."""
    return _ufuncs()[2](np.asarray(x, dtype=np.float64))


def sin(x) -> np.ndarray:
    """The C library's sin of every element of ``x`` (float64)."""
    return _ufuncs()[3](np.asarray(x, dtype=np.float64))
