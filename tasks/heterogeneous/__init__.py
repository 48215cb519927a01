"""Family H, heterogeneous particles (Allier et al. 2024, "Decomposing heterogeneous dynamical systems with
graph neural networks"): thousands of particles of a few hidden types move under pair interactions that
depend on the receiver's type; from their motion alone, recover the types and each one's interaction function.

Tasks: ``types3`` (the reference's ``arbitrary_3``), ``types3-continuous`` (each particle's parameters
jittered), ``types16`` (16 random types), and ``field-static`` / ``field-dynamic`` (the ``types3`` particles also
pushed by a hidden field on stationary nodes: ``fields``). Simulator: ``bench.tasks.heterogeneous.systems``; datasets:
``generate``; batches: ``loader``; the official evaluator: ``evaluator``; the family's contract with the core:
``family.HeterogeneousFamily``; the report: ``report``; the app's panels: ``app``.

The model contract of this family
---------------------------------
A sample is one frame of one run: N particles in a periodic square box of side L (``spec.n_particles`` = N,
which depends on the scale: the box shrinks and the density stays). A batch is B frames:

- ``batch.position`` (B·N, 2): positions in [0, L); ``batch.velocity``: zeros (the dynamics are first order:
  the velocity is the target, never an input);
- ``batch.edge_index``, ``batch.edge_shift``: the periodic radius graph of each frame (every ordered pair
  closer than ``spec.radius`` = R), so that ``batch.ops.relative_position(batch.position)`` is the minimum
  image x_i − x_j;
- ``batch.particle`` (B·N,): each particle's identity, the same in every frame and every run (the index of
  a per-particle embedding table of ``spec.num_identities`` = N rows);
- ``batch.node_label`` (B·N,): the true type, only for a model declaring ``oracle = ("types",)`` (a ceiling);
- on the field tasks, ``batch.field`` (``bench.batch.FieldNodes``): the field nodes' positions (M, 2), their edges
  to the particles closer than the field radius R/2 (row 0 the node, row 1 the particle) and each edge's
  minimum-image displacement node − particle, never the nodes' values; ``batch.time`` (B·N,): the frame's time
  (index × Δt). ``spec.field`` says ``static`` or ``dynamic``, ``spec.box`` and ``spec.duration`` give the ranges
  of positions and times.

A model of this family implements

- ``forward(batch) -> (B·N, 2)``: each particle's velocity ẋ (the target ``velocity``, in box lengths per unit
  time; the family's objective compares it in units of the training run's velocity std);
- ``interaction(r, batch) -> (B·N, R)``: the learned interaction function ψ_i(r) of each particle at the
  distances r (R,): the x-component of the velocity a single neighbour at displacement (r, 0) contributes
  (the truth: ψ(r) = r f_{p_i}(r));
- optionally ``node_embeddings(batch) -> (B·N, k)``: its latent vector per particle;
- optionally, on the field tasks, ``hidden_field(position (M, 2), time (M,)) -> (M,)``: the learned field (scored
  after the best affine fit to the true one; a model without it is scored as a constant field).

The evaluation (``HeterogeneousFamily.collect``) asks for ψ on 1000 distances in [0, R] for every particle,
the embeddings if the model has them, the one-step velocity on the test run's scored frames, and a rollout
of the test run from its frame 0 (x ← wrap(x + Δt ẋ), the radius graph rebuilt every step).
"""

from __future__ import annotations

from bench.lazy import lazy_attributes

_LAZY = {
    "DATA_KEYS": ("bench.tasks.heterogeneous.generate", "DATA_KEYS"),
    "Evaluator": ("bench.tasks.heterogeneous.evaluator", "Evaluator"),
    "HeterogeneousFamily": ("bench.tasks.heterogeneous.family", "HeterogeneousFamily"),
    "TaskData": ("bench.tasks.heterogeneous.loader", "HeterogeneousData"),
    "generate": ("bench.tasks.heterogeneous.generate", "generate"),
    "task_spec": ("bench.tasks.heterogeneous.loader", "task_spec"),
}
__all__ = list(_LAZY)


__getattr__ = lazy_attributes("bench.tasks.heterogeneous", _LAZY)
