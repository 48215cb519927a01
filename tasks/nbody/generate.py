"""Family N datasets: simulate, split by simulation, rotate the test set (HEGNN protocol)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.tasks.nbody.systems import initial_state, simulate

SPLITS = ("train", "val", "test")

DATA_KEYS = (
    "family", "version", "n_particles", "dim", "data_seed", "split", "dt", "record_every", "input_frame",
    "target_frame", "rollout_frames", "velocity_norm", "charges", "max_force", "rotate_test", "position_std_offset",
)  # fmt: skip
"""The card entries that determine the bytes of a dataset (besides the scale's simulation count).
``position_std_offset`` is optional (``NBodyFamily.optional_data_keys``): null on the EGNN-protocol card, so
its parameters and bytes are those from before the key existed."""


def split_sizes(n_sims: int, weights) -> tuple[int, int, int]:
    """Train / val / test simulation counts: ``n_sims`` shared in proportion to ``weights``
    (the published counts, e.g. 3000 / 2000 / 2000, so the paper scale gets them exactly)."""
    w = np.asarray(weights, dtype=np.float64)
    n_train = int(round(n_sims * w[0] / w.sum()))
    n_val = int(round(n_sims * w[1] / w.sum()))
    return n_train, n_val, n_sims - n_train - n_val


def split_simulations(n_sims: int, weights, seed: int) -> dict[str, np.ndarray]:
    """A fixed random assignment of simulation indices to the splits (sorted within each)."""
    n_train, n_val, _ = split_sizes(n_sims, weights)
    perm = np.random.default_rng([seed, 1]).permutation(n_sims)
    parts = np.split(perm, [n_train, n_train + n_val])
    return {name: np.sort(part) for name, part in zip(SPLITS, parts, strict=True)}


def random_rotations(count: int, seed) -> np.ndarray:
    """``count`` rotation matrices (det +1) drawn uniformly (Haar): unit quaternions from normalised
    Gaussian 4-vectors, turned into matrices elementwise. No BLAS or LAPACK call: the bytes are the same
    on every CPU (a QR decomposition's last bits depend on the BLAS kernel the CPU selects)."""
    q = np.random.default_rng(seed).standard_normal((count, 4))
    w, x, y, z = (q / np.sqrt((q * q).sum(axis=1, keepdims=True))).T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], axis=-1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], axis=-1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=-1),
    ], axis=1)  # fmt: skip


def rotate(rot: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``rot[s] @ v[s, f, n]`` for every vector, written out elementwise (no BLAS: CPU-independent bytes).
    rot (S, 3, 3), v (S, F, n, 3)."""
    r = rot[:, None, None]
    return np.stack([r[..., a, 0] * v[..., 0] + r[..., a, 1] * v[..., 1] + r[..., a, 2] * v[..., 2]
                     for a in range(3)], axis=-1)  # fmt: skip


def frames(card, split: str) -> list[int]:
    """The stored frames of a split: input and target; the test split also the rollout frames after it."""
    step = int(card.target_frame) - int(card.input_frame)
    extra = int(card.rollout_frames) if split == "test" else 0
    return [int(card.input_frame) + k * step for k in range(2 + extra)]


def initial_states(card, scale: str) -> dict[str, np.ndarray]:
    """Frame 0 of every simulation of a dataset (before the split and the test rotation): ``initial_state``
    with the card's seed, velocity norm, charges and ``position_std_offset`` (null: none)."""
    offset = card.get("position_std_offset")
    return initial_state(int(card.simulations[scale]), int(card.n_particles), [int(card.data_seed), 0],
                         velocity_norm=float(card.velocity_norm), charges=tuple(float(c) for c in card.charges),
                         position_offset=0.0 if offset is None else float(offset))  # fmt: skip


def generate(card, scale: str, progress: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays ``{split}/{field}`` of one dataset, and generation facts for its manifest.

    Fields per split: ``position``, ``velocity`` (S, F, n, 3) float32 at the split's ``frames`` (F):
    the input frame, the target frame and, for ``test``, ``rollout_frames`` more frames one jump apart;
    ``charge`` (S, n) float32; ``simulation`` (S,); ``frames`` (F,); and for a rotated test set
    ``rotation`` (S, 3, 3), the rotation applied to each test trajectory.
    """
    n_sims = int(card.simulations[scale])
    if int(card.dim) != 3:
        from bench.errors import BenchError

        raise BenchError(f"task.dim={card.dim} is not supported by the n-body simulator; valid: 3")
    seed = int(card.data_seed)
    state = initial_states(card, scale)
    arrays: dict[str, np.ndarray] = {}
    for split, sims in split_simulations(n_sims, card.split, seed).items():
        kept = frames(card, split)
        out = simulate(
            {k: v[sims] for k, v in state.items()}, kept, record_every=int(card.record_every), dt=float(card.dt),
            max_force=None if card.max_force is None else float(card.max_force), progress=progress,
        )  # fmt: skip
        pos, vel = out["pos"], out["vel"]
        if split == "test" and card.rotate_test:
            rot = random_rotations(len(sims), [seed, 2])
            pos, vel = rotate(rot, pos), rotate(rot, vel)
            arrays[f"{split}/rotation"] = rot
        arrays.update({
            f"{split}/position": pos.astype(np.float32), f"{split}/velocity": vel.astype(np.float32),
            f"{split}/charge": state["charge"][sims].astype(np.float32), f"{split}/simulation": sims,
            f"{split}/frames": np.asarray(kept, dtype=np.int64),
        })  # fmt: skip
    info = {
        "simulations": n_sims,
        "split_sizes": dict(zip(SPLITS, split_sizes(n_sims, card.split), strict=True)),
        "steps_per_frame": int(card.record_every),
        "reintegrated": 0,
        "dropped": 0,
        "dropped_simulations": [],
    }
    return arrays, info
