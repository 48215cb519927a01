r"""PairForceNet: an example of a model written outside ParticleBench (see docs/tutorial.md).

Each edge predicts the force that sender j exerts on receiver i from translation-invariant inputs,
and each particle sums its forces and divides by its mass (Newton's second law built in):

.. math::
    F_{ij} = \phi([x_i - x_j,\ \lVert x_i - x_j \rVert,\ v_i - v_j,\ a_i,\ a_j]), \qquad
    \hat a_i = \frac{1}{m_i} \sum_j F_{ij} + \psi(v_i)

with :math:`a_i` the particle's attributes (charge, mass) and :math:`\psi` a small velocity term
(for damped systems). The per-edge :math:`F_{ij}` are the model's ``edge_messages``, so the suite
probes whether they are the true pair forces.

Args: ``hidden`` (64) width of the MLPs; ``layers`` (2) hidden layers of the edge MLP.
Shapes: ``forward`` (N, d); ``edge_messages`` (E, d).
"""

from __future__ import annotations

import torch
from torch import Tensor

import bench
from bench.model import mlp


class PairForceNet(bench.Model):
    families = ("forces",)

    def __init__(self, spec: bench.TaskSpec, hidden: int = 64, layers: int = 2):
        super().__init__(spec)
        d, k = spec.dim, len(spec.attributes)
        self.pair_force = mlp([2 * d + 1 + 2 * k] + [hidden] * layers + [d])
        self.velocity_term = mlp([d, hidden, d])

    def _pair_forces(self, batch: bench.Batch) -> Tensor:
        ops = batch.ops
        delta = ops.relative_position(batch.position)  # x_i - x_j, (E, d)
        distance = delta.norm(dim=-1, keepdim=True)
        dv = ops.receivers(batch.velocity) - ops.senders(batch.velocity)
        attrs = batch.node_scalars(self.spec.attributes)  # (N, k): charge, mass
        return self.pair_force(torch.cat([delta, distance, dv, ops.receivers(attrs), ops.senders(attrs)], dim=-1))

    def forward(self, batch: bench.Batch) -> Tensor:
        total_force = batch.ops.sum_at_receivers(self._pair_forces(batch))  # (N, d)
        mass = batch.attributes.get("mass")
        acceleration = total_force if mass is None else total_force / mass.unsqueeze(-1)
        return acceleration + self.velocity_term(batch.velocity)

    def edge_messages(self, batch: bench.Batch) -> Tensor:
        return self._pair_forces(batch)
