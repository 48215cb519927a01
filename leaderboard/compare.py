"""Is the difference between two leaderboard entries real? A paired bootstrap over test samples.

Both entries are scored on the same test set (same task, version, scale and data checksum). Each test
sample's error (its absolute error for ``mae``, squared error for ``mse``, averaged over particles and
components, then over the entry's seeds) is paired across the two entries; the bootstrap resamples the
samples (or whole test simulations, whose snapshots are correlated) with replacement.

A task's target array is (simulations, [snapshots,] particles, components): the leading axes index the
samples, the first one the simulations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.records import PREDICTIONS_NAME

RESAMPLE_UNITS = ("samples", "simulations")
ELEMENT_ERRORS = {"mae": np.abs, "mse": np.square}
"""The metrics a paired comparison can split into per-sample errors."""


def per_sample_error(pred: np.ndarray, true: np.ndarray, metric: str = "mae") -> np.ndarray:
    """Error per test sample, as (simulations, samples per simulation): each sample's error averaged over
    its particles and components (the last two axes of ``true``)."""
    if metric not in ELEMENT_ERRORS:
        raise ValueError(f"a paired comparison needs a per-sample metric; '{metric}' is not one of "
                         f"{', '.join(ELEMENT_ERRORS)}")  # fmt: skip
    err = ELEMENT_ERRORS[metric](pred.reshape(true.shape).astype(np.float64) - true)
    per_sample = err.reshape(*true.shape[:-2], -1).mean(-1)
    return per_sample.reshape(true.shape[0], -1)


def entry_errors(run_dirs: list[str | Path], target: str, true: np.ndarray, metric: str = "mae") -> np.ndarray:
    """The per-sample errors of one entry, averaged over its seeds (its run folders)."""
    errors = []
    for d in run_dirs:
        with np.load(Path(d) / PREDICTIONS_NAME, allow_pickle=False) as z:
            errors.append(per_sample_error(z[f"{target}_pred"], true, metric))
    return np.mean(errors, axis=0)


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = 0, unit: str = "samples"
) -> dict[str, float | np.ndarray]:
    """Bootstrap of mean(a) − mean(b) over paired per-sample errors of shape (simulations, snapshots).

    Returns ``diff`` (observed), ``ci_low``/``ci_high`` (95 % percentile interval), ``p_value`` (two-sided:
    twice the smaller share of bootstrap differences on either side of 0, at least 1/n_boot), ``n`` (units
    resampled) and ``boot`` (the bootstrap differences).
    """
    if a.shape != b.shape:
        raise ValueError(f"paired_bootstrap: errors of shapes {a.shape} and {b.shape} are not paired")
    if unit not in RESAMPLE_UNITS:
        raise ValueError(f"paired_bootstrap: unit '{unit}' is not one of {RESAMPLE_UNITS}")
    d = a - b
    units = d.mean(axis=1) if unit == "simulations" else d.reshape(-1)
    rng = np.random.default_rng(seed)
    n = len(units)
    boot = np.empty(n_boot)
    for k in range(0, n_boot, 256):  # chunks keep memory small for large test sets
        m = min(256, n_boot - k)
        boot[k : k + m] = units[rng.integers(0, n, size=(m, n))].mean(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    p = 2 * min((boot <= 0).mean(), (boot >= 0).mean())
    return {
        "diff": float(units.mean()),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "p_value": float(min(1.0, max(p, 1.0 / n_boot))),
        "n": n,
        "boot": boot,
    }
