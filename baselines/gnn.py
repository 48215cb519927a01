r"""Cranmer et al. 2020 (arXiv 2006.11287), "Discovering Symbolic Models from Deep Learning with
Inductive Biases": the standard message-passing GNN of the force-law experiments.

.. math::
    m_{ij} = \phi_e([x_i, x_j]), \qquad \hat a_i = \phi_v([x_i, \textstyle\sum_{j} m_{ij}])

with :math:`x_i = [\text{position}, \text{velocity}, \text{attributes}]` (charge, mass), both MLPs of
``layers`` hidden layers of width ``hidden`` with ReLU, messages of ``message_dim`` components.

Shapes: ``forward`` (N, d); ``edge_messages`` (E, message_dim).
"""

from __future__ import annotations

import torch
from torch import Tensor

from bench.batch import Batch
from bench.model import Model, TaskSpec, mlp


class GNN(Model):
    families = ("forces",)

    def __init__(self, spec: TaskSpec, hidden: int = 300, layers: int = 3, message_dim: int = 100):
        super().__init__(spec)
        node_dim = 2 * spec.dim + len(spec.attributes)
        self.message_dim = message_dim
        self.edge_mlp = mlp([2 * node_dim] + [hidden] * layers + [message_dim])
        self.node_mlp = mlp([node_dim + message_dim] + [hidden] * layers + [spec.target_dim])

    def node_features(self, batch: Batch) -> Tensor:
        return torch.cat([batch.position, batch.velocity, batch.node_scalars(self.spec.attributes)], dim=-1)

    def _messages(self, batch: Batch, x: Tensor) -> Tensor:
        ops = batch.ops
        return self.edge_mlp(torch.cat([ops.receivers(x), ops.senders(x)], dim=-1))

    def forward(self, batch: Batch) -> Tensor:
        x = self.node_features(batch)
        aggregated = batch.ops.sum_at_receivers(self._messages(batch, x))
        return self.node_mlp(torch.cat([x, aggregated], dim=-1))

    def edge_messages(self, batch: Batch) -> Tensor:
        return self._messages(batch, self.node_features(batch))
