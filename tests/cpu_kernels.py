"""Run a snippet in fresh interpreters under other CPU kernels: OpenBLAS's oldest x86-64 kernel (it picks one
per CPU, and a matrix product's order of terms, hence its last bits, differs between them) and numpy without its
dispatched SIMD paths. A simulator whose bytes must repeat on every machine gives the same output under each."""

from __future__ import annotations

import os
import subprocess
import sys


def other_kernels() -> list[dict[str, str]]:
    """The environments to compare against the default one."""
    try:  # numpy's dispatched SIMD paths (their names depend on numpy's version), all switched off
        from numpy._core._multiarray_umath import __cpu_dispatch__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__
    return [{"OPENBLAS_CORETYPE": "Prescott"}, {"NPY_DISABLE_CPU_FEATURES": " ".join(__cpu_dispatch__)}]


def outputs(code: str) -> dict[str, str]:
    """``code``'s stdout in the default environment and under each of ``other_kernels``, by their description."""
    results = {}
    for env in [{}, *other_kernels()]:
        out = subprocess.run([sys.executable, "-c", code], env=os.environ | env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        results[" ".join(f"{k}={v}" for k, v in env.items()) or "default"] = out.stdout.strip()
    return results


def assert_same_output(code: str) -> None:
    """``code`` prints the same under every kernel of ``outputs`` (its output differs otherwise: say where)."""
    seen = outputs(code)
    assert len(set(seen.values())) == 1, seen
