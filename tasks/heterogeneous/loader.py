"""Family H samples as model batches: one frame of one run per sample, the particles joined by their
periodic radius graph (built on the fly per frame: see ``bench.graphs.radius_batch``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from bench.batch import Batch, FieldNodes
from bench.graphs import Displacement, radius_batch
from bench.model import TaskSpec


def task_spec(card, scale: str | None) -> TaskSpec:
    from bench.errors import BenchError
    from bench.tasks.heterogeneous.generate import scale_value

    if scale is None:
        raise BenchError(f"task '{card.name}': the heterogeneous family's sizes depend on the scale; "
                         "task_spec needs one (tiny, quick, paper)")  # fmt: skip
    n = int(scale_value(card, "particles", scale))
    field = card.get("field")
    return TaskSpec(
        family="heterogeneous", dim=int(card.dim), n_particles=n, attributes=(), target="velocity", target_dim=2,
        num_identities=n, radius=float(card.radius), num_types=int(card.n_types),
        field=None if field is None else str(field.kind), box=float(scale_value(card, "box", scale)),
        duration=(int(card.frames) - 1) * float(card.dt),
    )  # fmt: skip


def scored_frames(frames: int, every: int) -> np.ndarray:
    """The frames of the val and test runs whose one-step velocity is scored: 0, every, 2·every, ..."""
    return np.arange(0, frames, every)


class HeterogeneousData:
    """The three runs of one dataset. Samples: every frame of the training run; every ``eval_every``-th frame
    of the val and test runs (``scored_frames``). A sample's batch holds the frame's positions (inside the
    box), zero velocities (the dynamics are first order: the velocity is the target, never an input), each
    particle's identity (its index: the same particle in every run) and the radius graph; its target is
    ``velocity`` (N, 2)."""

    oracle_types = False
    """True in ``with_oracle``'s copy: batches carry the true types (``batch.node_label``)."""

    def __init__(self, dataset, card):
        info = dataset.manifest["generation"]
        self.card = card
        self.box = float(info["box"])
        self.radius = float(card.radius)
        self.dt = float(card.dt)
        self.displacement = Displacement((self.box, self.box))
        self.velocity_scale = float(info["velocity_std"])
        self.runs: dict[str, dict[str, Tensor]] = {}
        for split in ("train", "val", "test"):
            arrays = dataset.split(split)
            self.runs[split] = {
                "position": torch.from_numpy(arrays["position"]),
                "velocity": torch.from_numpy(arrays["velocity"]),
            }
        test = dataset.split("test")
        self.field_position: Tensor | None = None  # (M, 2) the hidden field's nodes, if the task has one
        self.field_value: np.ndarray | None = None  # (1 or T, M) their values: the truth, never in a batch
        self.field_radius = 0.0
        if card.get("field") is not None:
            self.field_position = torch.from_numpy(np.asarray(test["field_position"], dtype=np.float32))
            self.field_value = np.asarray(test["field_value"], dtype=np.float64)
            self.field_radius = float(card.field.radius)
            from scipy.spatial import cKDTree

            self._field_tree = cKDTree(np.asarray(test["field_position"], dtype=np.float64), boxsize=self.box)
        self.types = torch.from_numpy(test["type"].astype(np.int64))
        self.params = np.asarray(test["params"], dtype=np.float64)
        frames = self.runs["train"]["position"].shape[0]
        every = scored_frames(frames, int(card.eval_every))
        self.frames = {"train": torch.arange(frames), "val": torch.from_numpy(every), "test": torch.from_numpy(every)}

    @property
    def n_particles(self) -> int:
        return int(self.types.shape[0])

    def num_samples(self, split: str) -> int:
        return int(self.frames[split].shape[0])

    def velocity_std(self) -> float:
        """The velocity scale: the training run's velocity std over particles, frames and components."""
        return self.velocity_scale

    @property
    def duration(self) -> float:
        """The time a run spans: (frames − 1) Δt."""
        return (int(self.runs["train"]["position"].shape[0]) - 1) * self.dt

    def frame_batch(self, position: Tensor, frames: Tensor | None = None) -> Batch:
        """A batch of B frames ``position`` (B, N, 2) of these particles (any periodic image). On a task with a
        hidden field, ``frames`` (B,) are the frames' indices in their run (their time: index × Δt, in
        ``batch.time``; default 0) and ``batch.field`` holds the field's nodes and their edges to the particles."""
        B, N, d = position.shape
        flat = self.displacement.wrap(position.reshape(B * N, d))
        graph = torch.arange(B).repeat_interleave(N)
        batch = radius_batch(flat, torch.zeros_like(flat), {}, self.radius, self.displacement, graph=graph)
        if self.oracle_types:
            batch.node_label = self.types.repeat(B)
        if self.field_position is not None:
            frames = torch.zeros(B, dtype=torch.long) if frames is None else torch.as_tensor(frames).reshape(B)
            batch.time = (frames.to(flat.dtype) * self.dt).repeat_interleave(N)
            batch.field = self.field_edges(flat)
        return batch

    def field_edges(self, flat: Tensor) -> FieldNodes:
        """The field's nodes and every (node, particle) pair closer than the field radius, of the particles
        ``flat`` (B·N, 2) in the box (their minimum-image displacements node − particle)."""
        from bench.tasks.heterogeneous.systems import field_pairs

        x = flat.double().numpy()
        i, k, delta = field_pairs(x, self._field_tree, self.box, self.field_radius)
        return FieldNodes(
            position=self.field_position,
            edge_index=torch.from_numpy(np.stack([k, i])),
            delta=torch.from_numpy(delta.astype(np.float32)).to(flat.dtype),
        )

    def batch(
        self, split: str, index: Tensor, augment: bool = False, generator: torch.Generator | None = None
    ) -> tuple[Batch, dict[str, Tensor]]:
        """Samples ``index`` of ``split``: their frames as one batch, and beside it the target ``velocity``
        (B·N, 2). ``augment`` is accepted and does nothing here (a model turns its own inputs: the box's
        periodicity is not rotation invariant, so rotating positions would be wrong)."""
        frames = self.frames[split][index]
        run = self.runs[split]
        return self.frame_batch(run["position"][frames], frames), {"velocity": run["velocity"][frames].reshape(-1, 2)}

    def targets(self, split: str) -> dict[str, np.ndarray]:
        """Every sample's target at once, (S, N, 2)."""
        return {"velocity": self.runs[split]["velocity"][self.frames[split]].numpy()}

    def with_oracle(self, truths: tuple[str, ...]) -> HeterogeneousData:
        """A copy (sharing the tensors) whose batches carry ``truths``; only ``types`` is offered."""
        from copy import copy

        from bench.errors import unknown

        for name in truths:
            if name != "types":
                raise unknown("oracle input", name, ["types"])
        other = copy(self)
        other.oracle_types = True
        return other
