"""Family R, relational inference (Kipf et al. 2018, NRI): from observed trajectories alone, infer which
particles interact (and how), then predict the future.

Tasks: ``springs5``, ``springs10``, ``charged5``, ``charged10`` (2-D particles, state (x, y, vx, vy)) and
``kuramoto5``, ``kuramoto10`` (phase oscillators, state (dφ/dt, sin φ, ω)). Simulators:
``bench.tasks.relational.systems``; datasets: ``generate``; batches: ``loader``; the official evaluator:
``evaluator``; the family's contract with the core: ``family.RelationalFamily``; the report: ``report``.

The model contract of this family
---------------------------------
A sample is one trajectory of n particles; a batch is B fully connected systems (``bench.batch.from_dense``:
edges receiver-major, ``nodes_per_graph = n``). Every state is **normalised** as NRI does (min–max to
[−1, 1] with the training split's range; the ranges are in the dataset's manifest).

- ``batch.history`` (N, T, F): the observed frames of each particle, oldest first. Training and
  validation samples: T = 49 (frames 0..48). Test samples: T = 50 (frames 0..49).
- ``batch.position``, ``batch.velocity`` (N, d): the last observed frame's position and velocity
  columns (particles: d = 2, columns 0:2 and 2:4; Kuramoto: d = 1, sin φ and dφ/dt).
- ``spec.window`` = 49: the frames an encoder reads, ``batch.history[:, :spec.window]``;
  ``spec.target`` = ``"state"``, ``spec.target_dim`` = F.
- Targets (beside the batch, never in it): ``state`` (N, T−1, F), frames 1..T−1 of the history (what NRI's
  decoder reconstructs in training), and ``edges`` (E,) long, the true type of each edge j → i in the
  batch's edge order (``edges[s, i, j]`` of the data; used only by supervised baselines' losses).

A model of this family implements

- ``forward(batch) -> {"state": (N, T−1, F), ...}``: its training output (NRI: the decoder's
  teacher-forced prediction of frames 1..T−1; it may add ``edge_logits`` (E, K) for its loss);
- ``loss(outputs, targets, batch)``: its objective (NRI: the ELBO);
- ``edge_types(batch) -> (E, K)``: the posterior over K edge types from ``history[:, :window]``,
  deterministic (a model that infers no graph returns the uniform posterior: chance);
- ``rollout(batch, steps) -> (N, steps, F)``: the frames after the last one of ``batch.history``, with the
  graph inferred from ``history[:, :window]`` (NRI: argmax edges, not samples), deterministic.

The evaluation (``RelationalFamily.collect``) feeds the test samples (frames 0..49), takes
``edge_types`` as the edge posterior and ``rollout(batch, 20)`` as the prediction of frames 50..69.
"""

from __future__ import annotations

from bench.lazy import lazy_attributes

_LAZY = {
    "DATA_KEYS": ("bench.tasks.relational.generate", "DATA_KEYS"),
    "Evaluator": ("bench.tasks.relational.evaluator", "Evaluator"),
    "RelationalFamily": ("bench.tasks.relational.family", "RelationalFamily"),
    "TaskData": ("bench.tasks.relational.loader", "RelationalData"),
    "generate": ("bench.tasks.relational.generate", "generate"),
    "history_batch": ("bench.tasks.relational.loader", "history_batch"),
    "task_spec": ("bench.tasks.relational.loader", "task_spec"),
}
__all__ = list(_LAZY)


__getattr__ = lazy_attributes("bench.tasks.relational", _LAZY)
