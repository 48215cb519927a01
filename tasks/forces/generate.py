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
    "substeps", "energy_tolerance", "split", "test_simulations", "test_every",
)  # fmt: skip
"""The card entries that determine the bytes of a dataset (besides the scale's simulation count);
``test_simulations`` is read for the dataset's scale (``Family.per_scale_data_keys``)."""


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

    Train and validation are the card's ``split`` of the scale's simulations. The test split is their share too,
    unless the card fixes ``test_simulations`` for the scale: then it is that many other simulations (their own
    seed stream, ``[data_seed, 3]``; their ``simulation`` ids number them within the test split, 0..N−1, and are
    not those of the training simulations with the same ids), every ``test_every``-th snapshot of each, the same at
    every scale that sets it, so that test errors at quick and paper scale are measured on the same data and their
    predict-zero MAE is known to about ±10 % (``scripts/test_split_size.py``). The train and validation bytes do not
    depend on it. The acceleration label is computed in float64 from the float32 state that is stored, so that
    input and label agree exactly and integrator error never corrupts a label.
    """
    n_sims = int(card.simulations[scale])
    n_test = card.test_simulations.get(scale) if card.get("test_simulations") else None
    run = _simulate(card, n_sims, [int(card.data_seed), 0], progress)
    arrays: dict[str, np.ndarray] = {}
    stored = []
    for split, sims in split_simulations(n_sims, card.split, int(card.data_seed)).items():
        if split == "test" and n_test is not None:
            continue  # the fixed test split below replaces the scale's own test simulations (simulated, not kept)
        arrays.update(_split_arrays(card, split, run, sims))
        stored.append(sims)
    stored_sims = np.sort(np.concatenate(stored))
    todo = np.intersect1d(run["dropped"], stored_sims)  # the facts below are about the simulations kept
    level, drift = run["level"], run["drift"]
    if n_test is not None:
        test = _simulate(card, int(n_test), [int(card.data_seed), 3], progress)
        arrays.update(_split_arrays(card, "test", test, np.arange(int(n_test)), every=int(card.test_every)))
    kept = np.setdiff1d(stored_sims, todo)
    info = {
        "dt": get_potential(card.system).dt,
        "simulations": n_sims,
        "snapshots_per_simulation": run["pos"].shape[1],
        "substep_levels": [int(card.substeps) * f for f in REFINEMENT],
        "reintegrated": int((level[kept] > 0).sum()),
        "dropped": int(todo.size),
        "dropped_simulations": [int(s) for s in todo],
        "energy_drift_median": float(np.median(drift[kept])) if kept.size else None,
        "energy_drift_max": float(drift[kept].max()) if kept.size else None,
    }
    if n_test is not None:
        info["test_simulations"] = int(n_test) - int(test["dropped"].size)
        info["test_dropped"] = int(test["dropped"].size)
        info["test_snapshots_per_simulation"] = len(range(0, run["pos"].shape[1], int(card.test_every)))
    return arrays, info


def _simulate(card, n_sims: int, seed, progress: bool) -> dict[str, Any]:
    """``n_sims`` simulations from ``initial_state(seed)``, each integrated until its energy drift is within
    tolerance (``REFINEMENT``): positions and velocities (S, T, n, d), the initial state, each one's drift and
    refinement level, and the simulations still over tolerance at the finest level (``dropped``)."""
    potential = get_potential(card.system)
    state = initial_state(n_sims, int(card.n_particles), int(card.dim), seed=seed)
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
    return {"pos": pos, "vel": vel, "state": state, "drift": drift, "level": level, "dropped": todo}


def _split_arrays(card, split: str, run: dict[str, Any], sims: np.ndarray, every: int = 1) -> dict[str, np.ndarray]:
    """The arrays of ``split``: simulations ``sims`` of ``run`` (those not dropped), every ``every``-th snapshot,
    with the analytic acceleration labels."""
    keep = sims[~np.isin(sims, run["dropped"])]
    x = run["pos"][keep, ::every].astype(np.float32)
    v = run["vel"][keep, ::every].astype(np.float32)
    q = run["state"]["charge"][keep].astype(np.float32)
    m = run["state"]["mass"][keep].astype(np.float32)
    a = accelerations(
        card.system, x.astype(np.float64), v.astype(np.float64),
        q.astype(np.float64)[:, None], m.astype(np.float64)[:, None],
    )  # fmt: skip
    return {
        f"{split}/position": x, f"{split}/velocity": v, f"{split}/acceleration": a.astype(np.float32),
        f"{split}/charge": q, f"{split}/mass": m, f"{split}/simulation": keep,
        f"{split}/energy_drift": run["drift"][keep],
    }  # fmt: skip
