"""Reference implementations our step times are compared with, written the common way.

- ``PlainPyGGNN``: the Cranmer et al. GNN as a plain ``torch_geometric.nn.MessagePassing`` layer
  (``message(x_i, x_j)``, ``aggr="add"``, ``update``), the way the original authors' PyG code is built.
- ``ScatterEGNN``: the EGNN with index gathers (``h[row]``) and ``scatter_add_`` segment sums
  (the structure of the EGNN authors' ``unsorted_segment_sum`` code).

Both load the state dict of our model of the same name, so a benchmark can check that they compute
the same function before it times them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.model import mlp


def _segment_sum(data: Tensor, ids: Tensor, n: int) -> Tensor:
    out = data.new_zeros(n, data.shape[1])
    return out.scatter_add_(0, ids.unsqueeze(-1).expand(-1, data.shape[1]), data)


def _segment_mean(data: Tensor, ids: Tensor, n: int) -> Tensor:
    total = _segment_sum(data, ids, n)
    count = _segment_sum(torch.ones_like(data), ids, n)
    return total / count.clamp(min=1)


def plain_pyg_gnn(node_dim: int, dim: int, hidden: int = 300, layers: int = 3, message_dim: int = 100):
    from torch_geometric.nn import MessagePassing

    class PlainPyGGNN(MessagePassing):
        def __init__(self):
            super().__init__(aggr="add")
            self.edge_mlp = mlp([2 * node_dim] + [hidden] * layers + [message_dim])
            self.node_mlp = mlp([node_dim + message_dim] + [hidden] * layers + [dim])

        def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
            return self.propagate(edge_index, x=x)

        def message(self, x_i: Tensor, x_j: Tensor) -> Tensor:
            return self.edge_mlp(torch.cat([x_i, x_j], dim=1))

        def update(self, aggr_out: Tensor, x: Tensor) -> Tensor:
            return self.node_mlp(torch.cat([x, aggr_out], dim=1))

    return PlainPyGGNN()


class _ScatterEGNNLayer(nn.Module):
    def __init__(self, hidden: int, edge_attr_dim: int, update_h: bool):
        super().__init__()
        self.phi_e = mlp([2 * hidden + 1 + edge_attr_dim, hidden, hidden], nn.SiLU, final_activation=True)
        self.phi_x = mlp([hidden, hidden, 1], nn.SiLU)
        self.phi_v = mlp([hidden, hidden, 1], nn.SiLU)
        self.phi_h = mlp([2 * hidden, hidden, hidden], nn.SiLU) if update_h else None

    def forward(self, h, x, v0, edge_index, edge_attr):
        row, col = edge_index[1], edge_index[0]  # receiver i, sender j
        diff = x[row] - x[col]
        radial = (diff**2).sum(1, keepdim=True)
        m = self.phi_e(torch.cat([h[row], h[col], radial, edge_attr], dim=1))
        trans = diff * self.phi_x(m)
        v = self.phi_v(h) * v0 + _segment_mean(trans, row, x.shape[0])
        x = x + v
        if self.phi_h is not None:
            h = h + self.phi_h(torch.cat([h, _segment_sum(m, row, x.shape[0])], dim=1))
        return h, x


class ScatterEGNN(nn.Module):
    def __init__(self, n_attr: int, hidden: int = 64, layers: int = 4):
        super().__init__()
        self.embed = nn.Linear(n_attr + 1, hidden)
        self.layers = nn.ModuleList(_ScatterEGNNLayer(hidden, n_attr, k < layers - 1) for k in range(layers))

    def forward(self, pos: Tensor, vel: Tensor, scalars: Tensor, edge_index: Tensor) -> Tensor:
        row, col = edge_index[1], edge_index[0]
        h = self.embed(torch.cat([scalars, vel.norm(dim=1, keepdim=True)], dim=1))
        edge_attr = scalars[row] * scalars[col]
        x = pos
        for layer in self.layers:
            h, x = layer(h, x, vel, edge_index, edge_attr)
        return x - pos
