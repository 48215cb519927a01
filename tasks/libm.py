"""Elementwise float64 ``exp`` and ``log`` of the C library, for simulators whose bytes must repeat on every x86 CPU.

numpy computes ``np.exp`` and ``np.log`` with its own AVX-512 kernels where the CPU has them; their last bits
differ from the C library's in rare cases, and a simulation carries such a difference into its data (the
``types16`` and ``r1`` datasets of version 1, made on an AVX-512 machine, could not be regenerated on an AVX2 one).
These are numba ufuncs of ``math.exp`` and ``math.log``, which call the C library on every CPU; where numpy has
no such kernel (AVX2 and older) both give the same bytes. ``log(0)`` is −inf, as numpy's (with numpy's
divide-by-zero warning, which ``np.errstate`` governs).
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


@functools.cache
def _ufuncs() -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """Compiled on first use (and cached on disk)."""
    import numba

    return tuple(numba.vectorize(["float64(float64)"], cache=True)(f) for f in (_exp, _log))  # type: ignore[return-value]


def exp(x) -> np.ndarray:
    """The C library's exp of every element of ``x`` (float64)."""
    return _ufuncs()[0](np.asarray(x, dtype=np.float64))


def log(x) -> np.ndarray:
    """The C library's log of every element of ``x`` (float64)."""
    return _ufuncs()[1](np.asarray(x, dtype=np.float64))
