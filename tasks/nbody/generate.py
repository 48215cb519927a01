"""Family N datasets: simulate, split by simulation, rotate the test set (HEGNN protocol)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.tasks.nbody.systems import initial_state, simulate

SPLITS = ("train", "val", "test")

DATA_KEYS = (
    "family", "version", "n_particles", "dim", "data_seed", "split", "dt", "record_every", "input_frame",
    "target_frame", "rollout_frames", "velocity_norm", "charges", "max_force", "rotate_test",
)  # fmt: skip
"""The card entries that determine the bytes of a dataset (besides the scale's simulation count)."""


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
    """``count`` rotation matrices (det +1) drawn uniformly (Haar): QR of Gaussian matrices."""
    g = np.random.default_rng(seed).standard_normal((count, 3, 3))
    q, r = np.linalg.qr(g)
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[:, None, :]
    flip = np.linalg.det(q) < 0
    q[flip, :, 0] = -q[flip, :, 0]
    return q


def frames(card, split: str) -> list[int]:
    """The stored frames of a split: input and target; the test split also the rollout frames after it."""
    step = int(card.target_frame) - int(card.input_frame)
    extra = int(card.rollout_frames) if split == "test" else 0
    return [int(card.input_frame) + k * step for k in range(2 + extra)]


def generate(card, scale: str, progress: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays ``{split}/{field}`` of one dataset, and generation facts for its manifest.

    Fields per split: ``position``, ``velocity`` (S, F, n, 3) float32 at the split's ``frames`` (F):
    the input frame, the target frame and, for ``test``, ``rollout_frames`` more frames one jump apart;
    ``charge`` (S, n) float32; ``simulation`` (S,); ``frames`` (F,); and for a rotated test set
    ``rotation`` (S, 3, 3), the rotation applied to each test trajectory.
    """
    n_sims = int(card.simulations[scale])
    n = int(card.n_particles)
    if int(card.dim) != 3:
        from bench.errors import BenchError

        raise BenchError(f"task.dim={card.dim} is not supported by the n-body simulator; valid: 3")
    seed = int(card.data_seed)
    state = initial_state(n_sims, n, [seed, 0], velocity_norm=float(card.velocity_norm),
                          charges=tuple(float(c) for c in card.charges))  # fmt: skip
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
            pos, vel = np.einsum("sab,sfnb->sfna", rot, pos), np.einsum("sab,sfnb->sfna", rot, vel)
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
