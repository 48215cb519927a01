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
"""What ``paired_bootstrap`` resamples: every sample, or the first axis of the target (whole simulations)."""
FIRST_AXIS = {"forces": "simulations", "nbody": "trajectories", "relational": "simulations"}
"""What the first axis of a family's test target indexes (a family not named here: simulations)."""
SECOND_AXIS = {"forces": "snapshots"}
"""What the samples within one first-axis unit are, where a family has several per unit."""


def units_for(family: str) -> dict[str, str]:
    """The resampling units a family's comparison offers: its own name of each unit → ``RESAMPLE_UNITS`` entry.
    The first is the default: whole simulations (trajectories), whose samples are correlated."""
    units = {FIRST_AXIS.get(family, "simulations"): "simulations"}
    if family in SECOND_AXIS:
        units[SECOND_AXIS[family]] = "samples"
    return units


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
    resampled), ``boot`` (the bootstrap differences), ``relative`` (diff / mean(b)), ``effect`` (the standardised
    effect: diff / the std of the per-unit differences) and ``significant`` (the interval excludes 0).
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
    spread = float(units.std(ddof=1)) if n > 1 else np.nan
    mean_b = float(b.mean())
    return {
        "relative": float(units.mean() / mean_b) if mean_b else np.nan,
        "effect": float(units.mean() / spread) if spread and np.isfinite(spread) else np.nan,
        "significant": bool(lo > 0 or hi < 0),
        "diff": float(units.mean()),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "p_value": float(min(1.0, max(p, 1.0 / n_boot))),
        "n": n,
        "boot": boot,
    }


def verdict(result: dict, a: str, b: str, metric: str, unit: str = "samples") -> str:
    """One sentence: which entry is better (lower error), by how much, with its 95 % interval; or that the
    interval contains 0."""
    diff, lo, hi = result["diff"], result["ci_low"], result["ci_high"]
    rel = result.get("relative", np.nan)
    effect = result.get("effect", np.nan)
    size = f"{abs(diff):.3g}" + (f" ({abs(rel):.1%} of B's)" if np.isfinite(rel) else "")
    size += f", standardised effect {abs(effect):.2f}" if np.isfinite(effect) else ""
    interval = f"95 % interval of A − B: [{lo:.3g}, {hi:.3g}], over {result['n']:,} {unit}"
    if result["significant"]:
        better, worse = (a, b) if diff < 0 else (b, a)
        return f"{better} is better: its {metric} is lower than {worse}'s by {size}; {interval}."
    return f"No significant difference between {a} and {b}: {metric} A − B = {diff:.3g}; {interval} contains 0."
