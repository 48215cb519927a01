"""Family F samples as model batches: fully connected systems, acceleration targets."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from bench.batch import Batch, flat_nodes, from_dense
from bench.model import TaskSpec

ATTRIBUTES = ("charge", "mass")


def task_spec(card) -> TaskSpec:
    return TaskSpec(
        family="forces", dim=int(card.dim), n_particles=int(card.n_particles), attributes=ATTRIBUTES,
        target="acceleration", target_dim=int(card.dim),
    )  # fmt: skip


def reference_batch_size(card) -> int:
    """Cranmer et al.: 64 systems per batch for 4 particles, 16 for 8."""
    return 64 if int(card.n_particles) <= 4 else 16


class ForcesData:
    """The splits of one dataset as float32 tensors; a sample is one snapshot of one simulation."""

    def __init__(self, dataset, card):
        self.card = card
        self.splits = {}
        for split in ("train", "val", "test"):
            arrays = dataset.split(split)
            self.splits[split] = {
                k: torch.from_numpy(np.ascontiguousarray(arrays[k]))
                for k in ("position", "velocity", "acceleration", "charge", "mass")
            }

    def num_samples(self, split: str) -> int:
        S, T = self.splits[split]["position"].shape[:2]
        return S * T

    def sample_shape(self, split: str) -> tuple[int, ...]:
        """(simulations, snapshots): predictions of a whole split reshape to this plus (n, d)."""
        return tuple(self.splits[split]["position"].shape[:2])

    def batch(
        self, split: str, index: Tensor, augment: bool = False, generator: torch.Generator | None = None
    ) -> tuple[Batch, dict[str, Tensor]]:
        """Samples ``index`` (flat sample numbers) of ``split`` as a batch of fully connected systems, and
        beside it the targets (``acceleration``, (N, d)).

        ``augment``: add one random translation N(0, std²) per system to the positions (training).
        """
        s = self.splits[split]
        T = s["position"].shape[1]
        sim, t = index // T, index % T
        position = s["position"][sim, t]
        if augment:
            std = float(self.card.augment_translation_std)
            shift = torch.randn(position.shape[0], 1, position.shape[2], generator=generator) * std
            position = position + shift
        batch = from_dense(position, s["velocity"][sim, t], {"charge": s["charge"][sim], "mass": s["mass"][sim]})
        return batch, flat_nodes({"acceleration": s["acceleration"][sim, t]})

    def pair_forces(self, split: str, index: Tensor) -> np.ndarray:
        """True force on each edge's receiver from its sender, for samples ``index``, in the edge
        order of ``batch(split, index)``: (len(index)·n(n-1), d), float64."""
        from bench.tasks.forces.systems import pair_forces

        s = self.splits[split]
        T = s["position"].shape[1]
        sim, t = index // T, index % T
        forces = pair_forces(
            str(self.card.system), s["position"][sim, t].double().numpy(),
            s["charge"][sim].double().numpy(), s["mass"][sim].double().numpy(),
        )  # fmt: skip
        return forces.reshape(-1, forces.shape[-1])

    def targets(self, split: str) -> dict[str, np.ndarray]:
        """The true target of every sample of ``split``: ``acceleration`` (S, T, n, d)."""
        return {"acceleration": self.splits[split]["acceleration"].numpy()}
