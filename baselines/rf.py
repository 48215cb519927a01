r"""Radial field (Köhler, Klein & Noé 2019) with velocity, as the "RF" baseline of Satorras et al. 2021:
every layer moves each particle along the lines to the others by amounts that depend only on the
distances, and along its own initial velocity.

.. math::
    x_i \leftarrow x_i + \phi_v(\lVert v_i \rVert)\, v_i
        + \tfrac{1}{|\mathcal N(i)|} \textstyle\sum_j (x_i - x_j)\, \phi_e(\lVert x_i - x_j \rVert^2, a_{ij})

with :math:`a_{ij} = q_i q_j`. E(n)-equivariant; no node features besides the coordinates.

Args: ``hidden`` (64) width of the MLPs; ``layers`` (4). SiLU throughout.
Shapes: ``forward`` (N, d).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.batch import Batch
from bench.model import Model, TaskSpec, mlp


class RFLayer(nn.Module):
    def __init__(self, hidden: int, edge_attr_dim: int):
        super().__init__()
        self.phi_e = mlp([1 + edge_attr_dim, hidden, hidden, 1], nn.SiLU)
        self.phi_v = mlp([1, hidden, 1], nn.SiLU)
        nn.init.xavier_uniform_(self.phi_e[-1].weight, gain=0.001)  # small first updates

    def forward(self, batch: Batch, x: Tensor, speed: Tensor, edge_attr: Tensor) -> Tensor:
        ops = batch.ops
        delta = ops.relative_position(x)
        dist2 = (delta * delta).sum(-1, keepdim=True)
        pull = delta * self.phi_e(torch.cat([dist2, edge_attr], dim=-1))
        return x + self.phi_v(speed) * batch.velocity + ops.mean_at_receivers(pull)


class RadialField(Model):
    families = ("nbody",)

    def __init__(self, spec: TaskSpec, hidden: int = 64, layers: int = 4):
        super().__init__(spec)
        self.layers = nn.ModuleList(RFLayer(hidden, len(spec.attributes)) for _ in range(layers))

    def forward(self, batch: Batch) -> Tensor:
        ops = batch.ops
        scalars = batch.node_scalars(self.spec.attributes)
        edge_attr = ops.receivers(scalars) * ops.senders(scalars)
        speed = batch.velocity.norm(dim=-1, keepdim=True)
        x = batch.position
        for layer in self.layers:
            x = layer(batch, x, speed, edge_attr)
        return x
