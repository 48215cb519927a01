r"""A non-equivariant message-passing network, the "GNN" / "MPNN" baseline of Satorras et al. 2021
and Cen et al. 2024: coordinates enter as plain node features, so nothing ties its predictions for a
rotated or translated system to its predictions for the original.

.. math::
    h_i^0 &= W_{in} [x_i, v_i, q_i] \\
    m_{ij} &= \phi_e(h_i, h_j, q_i q_j), \qquad h_i \leftarrow h_i + \phi_h(h_i, \textstyle\sum_j m_{ij}) \\
    \hat x_i &= x_i + W_{out} h_i^L

Args: ``hidden`` (64) width of every MLP; ``layers`` (4) message-passing layers. SiLU throughout.
Shapes: ``forward`` (N, d).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.batch import Batch
from bench.model import Model, TaskSpec, mlp, pair_linear


class MPNNLayer(nn.Module):
    def __init__(self, hidden: int, edge_attr_dim: int):
        super().__init__()
        self.phi_e = mlp([2 * hidden + edge_attr_dim, hidden, hidden], nn.SiLU, final_activation=True)
        self.phi_h = mlp([2 * hidden, hidden, hidden], nn.SiLU)

    def forward(self, batch: Batch, h: Tensor, edge_attr: Tensor) -> Tensor:
        ops = batch.ops
        m = self.phi_e[1:](pair_linear(self.phi_e[0], ops, h, edge_attr))
        return h + self.phi_h(torch.cat([h, ops.sum_at_receivers(m)], dim=-1))


class MPNN(Model):
    families = ("nbody",)

    def __init__(self, spec: TaskSpec, hidden: int = 64, layers: int = 4):
        super().__init__(spec)
        n_attr = len(spec.attributes)
        self.embed = nn.Linear(2 * spec.dim + n_attr, hidden)
        self.layers = nn.ModuleList(MPNNLayer(hidden, n_attr) for _ in range(layers))
        self.out = mlp([hidden, hidden, spec.target_dim], nn.SiLU)

    def forward(self, batch: Batch) -> Tensor:
        ops = batch.ops
        scalars = batch.node_scalars(self.spec.attributes)
        h = self.embed(torch.cat([batch.position, batch.velocity, scalars], dim=-1))
        edge_attr = ops.receivers(scalars) * ops.senders(scalars)
        for layer in self.layers:
            h = layer(batch, h, edge_attr)
        return batch.position + self.out(h)
