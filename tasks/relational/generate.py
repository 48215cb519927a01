"""Family R datasets: NRI's springs, charged particles and Kuramoto oscillators, split by simulation,
with NRI's normalisation ranges measured on the training split (kept in the manifest)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.errors import BenchError

SPLITS = ("train", "val", "test")
SYSTEMS = ("springs", "charged", "kuramoto")

DATA_KEYS = (
    "family", "version", "system", "n_particles", "dim", "data_seed", "split", "frames", "dt", "sample_every",
    "box", "max_force", "velocity_norm", "position_std", "spring_constant", "edge_prob", "directed",
)  # fmt: skip
"""The card entries that determine the bytes of a dataset (besides the scale's simulation count)."""

FEATURES = {
    "springs": ("x", "y", "vx", "vy"),
    "charged": ("x", "y", "vx", "vy"),
    "kuramoto": ("dphi_dt", "sin_phi", "omega"),
}
"""The state of one particle per frame, in order (the last axis of ``state``)."""


def split_sizes(n_sims: int, weights) -> tuple[int, int, int]:
    """Train / val / test trajectory counts: ``n_sims`` shared in proportion to ``weights`` (NRI: 50k /
    10k / 10k, so the paper scale gets them exactly)."""
    w = np.asarray(weights, dtype=np.float64)
    n_train = int(round(n_sims * w[0] / w.sum()))
    n_val = int(round(n_sims * w[1] / w.sum()))
    return n_train, n_val, n_sims - n_train - n_val


def simulate(card, count: int, frames: int, seed) -> dict[str, np.ndarray]:
    """``count`` trajectories of ``frames`` frames of the card's system: ``state`` (S, T, n, F) float64 in
    physical units, ``edges`` (S, n, n) int (``edges[s, i, j]``: the type of the edge j → i), and for
    charged particles ``charge`` (S, n)."""
    from bench.tasks.relational import systems

    n, system = int(card.n_particles), str(card.system)
    if system == "kuramoto":
        out = systems.simulate_kuramoto(
            count, n, frames, seed, directed=bool(card.directed), edge_prob=float(card.edge_prob),
            dt=float(card.dt), sample_dt=float(card.dt) * int(card.sample_every),
        )  # fmt: skip
        return {"state": out["features"], "edges": out["edges"]}
    common = dict(
        vel_norm=float(card.velocity_norm), loc_std=float(card.position_std), dt=float(card.dt),
        sample_every=int(card.sample_every), box=float(card.box),
        max_force=None if card.max_force is None else float(card.max_force),
    )  # fmt: skip
    if system == "springs":
        out = systems.simulate_springs(count, n, frames, seed, k=float(card.spring_constant),
                                       edge_prob=float(card.edge_prob), **common)  # fmt: skip
    elif system == "charged":
        out = systems.simulate_charged(count, n, frames, seed, charge_prob=float(card.edge_prob), **common)
    else:
        raise BenchError(f"task.system='{system}' is not a relational system; valid: {', '.join(SYSTEMS)}")
    result = {"state": np.concatenate([out["position"], out["velocity"]], axis=-1), "edges": out["edges"]}
    if "charge" in out:
        result["charge"] = out["charge"]
    return result


def normalisation(card, state: np.ndarray) -> dict[str, list[float]]:
    """NRI's min–max ranges, from the training split's ``state`` (S, T, n, F): for particles one scalar range
    for every position coordinate and one for every velocity coordinate (not per dimension); for Kuramoto one
    range per feature (NRI's Kuramoto loader normalises each feature on its own). Returned per feature
    (``min``, ``max``: F values each) so that the loader treats every system alike."""
    flat = state.reshape(-1, state.shape[-1])
    if str(card.system) == "kuramoto":
        lo, hi = flat.min(axis=0), flat.max(axis=0)
    else:
        d = int(card.dim)
        pos, vel = flat[:, :d], flat[:, d:]
        lo = np.array([pos.min()] * d + [vel.min()] * d)
        hi = np.array([pos.max()] * d + [vel.max()] * d)
    return {"min": [float(v) for v in lo], "max": [float(v) for v in hi]}


def generate(card, scale: str, progress: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays ``{split}/{field}`` of one dataset and its generation facts (the normalisation among them).

    Fields per split: ``state`` (S, T, n, F) float32 in physical units (T: ``frames.train`` for train and
    val, ``frames.test`` for test); ``edges`` (S, n, n) int8; ``charge`` (S, n) float32 (charged only);
    ``simulation`` (S,) the trajectory's index in the whole dataset. Each split is simulated from its own
    seed (``[data_seed, k]``), so no trajectory is shared between splits.
    """
    n_sims = int(card.simulations[scale])
    sizes = dict(zip(SPLITS, split_sizes(n_sims, card.split), strict=True))
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    norm = None
    for k, split in enumerate(SPLITS):
        frames = int(card.frames.test if split == "test" else card.frames.train)
        out = simulate(card, sizes[split], frames, [int(card.data_seed), k])
        if split == "train":
            norm = normalisation(card, out["state"])
        arrays[f"{split}/state"] = out["state"].astype(np.float32)
        arrays[f"{split}/edges"] = out["edges"].astype(np.int8)
        if "charge" in out:
            arrays[f"{split}/charge"] = out["charge"].astype(np.float32)
        arrays[f"{split}/simulation"] = np.arange(offset, offset + sizes[split], dtype=np.int64)
        offset += sizes[split]
        if progress:
            print(f"  {card.name}: {split} {sizes[split]} trajectories of {frames} frames simulated")
    info = {
        "simulations": n_sims,
        "split_sizes": sizes,
        "features": list(FEATURES[str(card.system)]),
        "normalisation": norm,
        "directed": bool(card.directed) if str(card.system) == "kuramoto" else False,  # springs, same-sign: symmetric
    }
    return arrays, info
