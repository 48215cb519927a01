"""Family F datasets: simulate, control the integration error, split by simulation, label analytically."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.tasks.forces.systems import accelerations, get_potential, initial_state, integrate

SPLITS = ("train", "val", "test")
REFINEMENT = (1, 8, 64)
"""Substep multipliers tried in turn for the simulations whose energy drift is over tolerance."""

DATA_KEYS = (
    "family", "version", "system", "n_particles", "dim", "data_seed", "n_steps", "record_every",
    "substeps", "energy_tolerance", "split",
)  # fmt: skip
"""The card entries that determine the bytes of a dataset (besides the scale's simulation count)."""


def split_simulations(n_sims: int, fractions, seed: int) -> dict[str, np.ndarray]:
    """A fixed random assignment of simulation indices to train / val / test (sorted within each)."""
    perm = np.random.default_rng([seed, 1]).permutation(n_sims)
    n_train = int(round(fractions[0] * n_sims))
    n_val = int(round(fractions[1] * n_sims))
    parts = np.split(perm, [n_train, n_train + n_val])
    return {name: np.sort(part) for name, part in zip(SPLITS, parts, strict=True)}


def generate(card, scale: str, progress: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays ``{split}/{field}`` of one dataset, and generation facts for its manifest.

    Fields per split: ``position``, ``velocity``, ``acceleration`` (S, T, n, d) float32; ``charge``,
    ``mass`` (S, n) float32; ``simulation`` (S,) index of the simulation; ``energy_drift`` (S,).
    The acceleration label is computed in float64 from the float32 state that is stored, so that
    input and label agree exactly and integrator error never corrupts a label.
    """
    potential = get_potential(card.system)
    n_sims = int(card.simulations[scale])
    state = initial_state(n_sims, int(card.n_particles), int(card.dim), seed=[int(card.data_seed), 0])
    n_frames = (int(card.n_steps) - 1) // int(card.record_every) + 1
    shape = (n_sims, n_frames, int(card.n_particles), int(card.dim))
    pos, vel = np.empty(shape), np.empty(shape)
    drift = np.full(n_sims, np.inf)
    level = np.zeros(n_sims, dtype=np.int64)
    todo = np.arange(n_sims)
    for lvl, factor in enumerate(REFINEMENT):
        sub = {k: v[todo] for k, v in state.items()}
        out = integrate(
            card.system, sub, potential.dt, int(card.n_steps), int(card.record_every),
            substeps=int(card.substeps) * factor, progress=progress,
        )  # fmt: skip
        pos[todo], vel[todo], drift[todo], level[todo] = out["pos"], out["vel"], out["energy_drift"], lvl
        todo = todo[out["energy_drift"] > float(card.energy_tolerance)]
        if todo.size == 0:
            break

    arrays: dict[str, np.ndarray] = {}
    for split, sims in split_simulations(n_sims, card.split, int(card.data_seed)).items():
        keep = sims[~np.isin(sims, todo)]
        x = pos[keep].astype(np.float32)
        v = vel[keep].astype(np.float32)
        q = state["charge"][keep].astype(np.float32)
        m = state["mass"][keep].astype(np.float32)
        a = accelerations(
            card.system, x.astype(np.float64), v.astype(np.float64),
            q.astype(np.float64)[:, None], m.astype(np.float64)[:, None],
        )  # fmt: skip
        arrays.update({
            f"{split}/position": x, f"{split}/velocity": v, f"{split}/acceleration": a.astype(np.float32),
            f"{split}/charge": q, f"{split}/mass": m, f"{split}/simulation": keep,
            f"{split}/energy_drift": drift[keep],
        })  # fmt: skip
    kept = np.setdiff1d(np.arange(n_sims), todo)
    info = {
        "dt": potential.dt,
        "simulations": n_sims,
        "snapshots_per_simulation": n_frames,
        "substep_levels": [int(card.substeps) * f for f in REFINEMENT],
        "reintegrated": int((level[kept] > 0).sum()),
        "dropped": int(todo.size),
        "dropped_simulations": [int(s) for s in todo],
        "energy_drift_median": float(np.median(drift[kept])) if kept.size else None,
        "energy_drift_max": float(drift[kept].max()) if kept.size else None,
    }
    return arrays, info
