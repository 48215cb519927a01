"""Family N samples as model batches: one sample per trajectory, the input frame → the target frame."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from bench.batch import Batch, flat_nodes, from_dense
from bench.model import TaskSpec

ATTRIBUTES = ("charge",)


def task_spec(card) -> TaskSpec:
    return TaskSpec(
        family="nbody", dim=int(card.dim), n_particles=int(card.n_particles), attributes=ATTRIBUTES,
        target="position", target_dim=int(card.dim),
    )  # fmt: skip


def reference_batch_size(card) -> int:
    """Satorras et al.: 100 systems per batch for 5 bodies. Larger systems keep about as many edges
    per batch as 100 systems of 20 bodies (38,000), so that 100 bodies fit in a CPU's memory."""
    n = int(card.n_particles)
    return int(min(100, max(1, 38_000 // (n * (n - 1)))))


class NBodyData:
    """The splits of one dataset as float32 tensors; sample k is trajectory k of the split.

    ``frame(split, k)`` gives the positions and velocities at stored frame k of every trajectory
    (0: the input frame, 1: the target frame, 2...: the test split's rollout frames).
    """

    def __init__(self, dataset, card):
        self.card = card
        self.splits = {}
        for split in ("train", "val", "test"):
            arrays = dataset.split(split)
            self.splits[split] = {
                k: torch.from_numpy(np.ascontiguousarray(arrays[k])) for k in ("position", "velocity", "charge")
            }
            self.splits[split]["frames"] = arrays["frames"]

    def num_samples(self, split: str) -> int:
        return int(self.splits[split]["position"].shape[0])

    def sample_shape(self, split: str) -> tuple[int, ...]:
        """(trajectories,): predictions of a whole split reshape to this plus (n, 3)."""
        return (self.num_samples(split),)

    def num_frames(self, split: str) -> int:
        return int(self.splits[split]["position"].shape[1])

    def frame(self, split: str, k: int) -> tuple[Tensor, Tensor]:
        s = self.splits[split]
        return s["position"][:, k], s["velocity"][:, k]

    def batch(
        self, split: str, index: Tensor, augment: bool = False, generator: torch.Generator | None = None
    ) -> tuple[Batch, dict[str, Tensor]]:
        """Trajectories ``index`` of ``split``: their input frame as a batch of fully connected systems,
        and beside it the targets: the target frame's positions (``position``, (N, 3)). ``augment`` is accepted for the
        training loop's sake and does nothing (the published protocol trains without augmentation)."""
        s = self.splits[split]
        batch = from_dense(s["position"][index, 0], s["velocity"][index, 0], {"charge": s["charge"][index]})
        return batch, flat_nodes({"position": s["position"][index, 1]})

    def targets(self, split: str) -> dict[str, np.ndarray]:
        """The true target of every sample of ``split``: ``position`` at the target frame, (S, n, 3)."""
        return {"position": self.splits[split]["position"][:, 1].numpy()}
