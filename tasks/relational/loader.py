"""Family R samples as model batches: one trajectory per sample, normalised as NRI does (see the model
contract in ``bench.tasks.relational``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from bench.batch import Batch, from_dense
from bench.model import TaskSpec
from bench.pairs import ordered_pairs


def task_spec(card) -> TaskSpec:
    from bench.tasks.relational.generate import FEATURES

    return TaskSpec(
        family="relational", dim=int(card.dim), n_particles=int(card.n_particles), attributes=(), target="state",
        target_dim=len(FEATURES[str(card.system)]), window=int(card.window),
    )  # fmt: skip


def history_batch(history: Tensor, dim: int) -> Batch:
    """B fully connected systems from their observed frames ``history`` (B, n, T, F): ``batch.history``
    (B·n, T, F); ``position`` and ``velocity`` (B·n, d) the last frame's columns [0:d] and [d:2d]
    (Kuramoto, d = 1: its first two features)."""
    B, n, T, F = history.shape
    last = history[:, :, -1]
    batch = from_dense(last[..., :dim], last[..., dim : 2 * dim], {})
    batch.history = history.reshape(B * n, T, F)
    return batch


def edge_labels(edges: Tensor) -> Tensor:
    """The true types (B·n(n−1),) of a batch's edges in ``from_dense``'s order (receiver i, then senders
    j ≠ i ascending) from the matrices ``edges`` (B, n, n), ``edges[b, i, j]`` the type of j → i."""
    n = edges.shape[-1]
    receivers, senders = ordered_pairs(n)
    return edges[:, torch.from_numpy(receivers.copy()), torch.from_numpy(senders.copy())].reshape(-1).long()


def normalise(state: np.ndarray, norm: dict[str, list[float]]) -> np.ndarray:
    """``state`` (..., F) to NRI's [−1, 1] with the manifest's ranges."""
    lo, hi = np.asarray(norm["min"], dtype=np.float64), np.asarray(norm["max"], dtype=np.float64)
    return ((state - lo) * 2.0 / (hi - lo) - 1.0).astype(np.float32)


def feature_scale(norm: dict[str, list[float]]) -> np.ndarray:
    """Physical units per normalised unit, per feature (F,): (max − min) / 2."""
    return (np.asarray(norm["max"], dtype=np.float64) - np.asarray(norm["min"], dtype=np.float64)) / 2.0


class RelationalData:
    """The splits of one dataset as normalised float32 tensors (S, n, T, F); sample k is trajectory k.

    Training and validation samples observe ``window`` frames (0..48); test samples observe one more
    (0..49: the encoder reads the first 49, prediction starts from frame 49) and their targets are the
    ``horizon`` frames after it (50..69).
    """

    oracle_edges = False
    """True in ``with_oracle``'s copy: batches carry the true edge types (``batch.edge_label``)."""

    def __init__(self, dataset, card):
        self.card = card
        self.dim = int(card.dim)
        self.window = int(card.window)
        self.horizon = int(card.horizon)
        self.norm = dataset.manifest["generation"]["normalisation"]
        self.splits: dict[str, dict[str, Tensor]] = {}
        for split in ("train", "val", "test"):
            arrays = dataset.split(split)
            state = normalise(arrays["state"], self.norm)  # (S, T, n, F)
            self.splits[split] = {
                "state": torch.from_numpy(np.ascontiguousarray(state.transpose(0, 2, 1, 3))),  # (S, n, T, F)
                "edges": torch.from_numpy(arrays["edges"].astype(np.int64)),
            }

    def num_samples(self, split: str) -> int:
        return int(self.splits[split]["state"].shape[0])

    def observed(self, split: str) -> int:
        """Frames a sample of ``split`` observes: ``window``, and one more for the test split."""
        return self.window + (1 if split == "test" else 0)

    def batch(
        self, split: str, index: Tensor, augment: bool = False, generator: torch.Generator | None = None
    ) -> tuple[Batch, dict[str, Tensor]]:
        """Trajectories ``index`` of ``split``: their observed frames as a batch, and beside it the targets
        ``state`` (N, T−1, F) (frames 1..T−1 of the observed ones: NRI's reconstruction target) and ``edges``
        (E,). ``augment`` is accepted for the training loop's sake and does nothing (NRI trains without)."""
        s = self.splits[split]
        observed = s["state"][index, :, : self.observed(split)]
        batch = history_batch(observed, self.dim)
        edges = edge_labels(s["edges"][index])
        if self.oracle_edges:
            batch.edge_label = edges.clone()
        return batch, {"state": batch.history[:, 1:], "edges": edges}

    def with_oracle(self, truths: tuple[str, ...]) -> RelationalData:
        """A copy (sharing the tensors) whose batches carry ``truths``; only ``edges`` is offered."""
        from copy import copy

        from bench.errors import unknown

        for name in truths:
            if name != "edges":
                raise unknown("oracle input", name, ["edges"])
        other = copy(self)
        other.oracle_edges = True
        return other

    def targets(self, split: str) -> dict[str, np.ndarray]:
        """Every sample's ``state`` target at once, (S, n, T−1, F): the validation loss of a model without its
        own loss compares the whole split's predictions with it."""
        observed = self.splits[split]["state"][:, :, : self.observed(split)]
        return {"state": observed[:, :, 1:].numpy()}

    def future(self, split: str = "test") -> np.ndarray:
        """The true frames after the observed ones, (S, horizon, n, F), normalised: the rollout target."""
        start = self.observed(split)
        return self.splits[split]["state"][:, :, start : start + self.horizon].permute(0, 2, 1, 3).numpy()

    def edge_truth(self, split: str = "test") -> np.ndarray:
        """The true edge types (S, n(n−1)) in the batches' edge order."""
        edges = self.splits[split]["edges"]
        return edge_labels(edges).reshape(edges.shape[0], -1).numpy()
