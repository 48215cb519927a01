r"""Satorras, Hoogeboom & Welling 2021 (arXiv 2102.09844), "E(n) Equivariant Graph Neural Networks",
the variant with velocity.

.. math::
    m_{ij} &= \phi_e(h_i, h_j, \lVert x_i - x_j \rVert^2, a_{ij}) \\
    v_i &\leftarrow \phi_v(h_i)\, v_i^{0}
        + \tfrac{1}{|\mathcal N(i)|} \textstyle\sum_j (x_i - x_j)\, \phi_x(m_{ij}) \\
    x_i &\leftarrow x_i + v_i, \qquad h_i \leftarrow h_i + \phi_h(h_i, \textstyle\sum_j m_{ij})

Invariant inputs: :math:`h_i^0` embeds the particle's attributes (charge, mass) and :math:`\lVert v_i \rVert`;
the edge attribute :math:`a_{ij}` is the product of the endpoints' attributes (:math:`q_i q_j`, :math:`m_i m_j`),
as the paper's :math:`q_i q_j`. For an acceleration target (family ``forces``) the output is
:math:`x_i^L - x_i^0`, an E(n)-equivariant, translation-invariant vector; for a position target (family
``nbody``, the paper's n-body experiment) it is :math:`x_i^L`. The per-edge vector term
:math:`(x_i - x_j)\phi_x(m_{ij})` summed over layers is the model's ``edge_messages`` (E, d).

Args: ``hidden`` (64) width of every MLP; ``layers`` (4) equivariant layers. SiLU throughout.
Shapes: ``forward`` (N, d); ``edge_messages`` (E, d).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.batch import Batch
from bench.model import Model, TaskSpec, mlp, pair_linear


class EGNNLayer(nn.Module):
    def __init__(self, hidden: int, edge_attr_dim: int, update_h: bool = True):
        super().__init__()
        self.phi_e = mlp([2 * hidden + 1 + edge_attr_dim, hidden, hidden], nn.SiLU, final_activation=True)
        self.phi_x = mlp([hidden, hidden, 1], nn.SiLU)
        self.phi_v = mlp([hidden, hidden, 1], nn.SiLU)
        # The last layer's node update would feed nothing: a vector target is read off the coordinates.
        self.phi_h = mlp([2 * hidden, hidden, hidden], nn.SiLU) if update_h else None
        # Small initial coordinate updates keep the first forward passes stable (as in the reference).
        nn.init.xavier_uniform_(self.phi_x[-1].weight, gain=0.001)

    def forward(self, batch: Batch, h: Tensor, x: Tensor, edge_attr: Tensor):
        """One layer; the velocity term always scales the input velocity v⁰ (as in the paper)."""
        ops = batch.ops
        delta = ops.relative_position(x)
        dist2 = (delta * delta).sum(-1, keepdim=True)
        # phi_e([h_i, h_j, |x_i - x_j|^2, a_ij]), its first layer split into per-node products
        m = self.phi_e[1:](pair_linear(self.phi_e[0], ops, h, torch.cat([dist2, edge_attr], dim=-1)))
        vector = delta * self.phi_x(m)
        v = self.phi_v(h) * batch.velocity + ops.mean_at_receivers(vector)
        x = x + v
        if self.phi_h is not None:
            h = h + self.phi_h(torch.cat([h, ops.sum_at_receivers(m)], dim=-1))
        return h, x, vector


class EGNN(Model):
    families = ("forces", "nbody")

    def __init__(self, spec: TaskSpec, hidden: int = 64, layers: int = 4):
        super().__init__(spec)
        n_attr = len(spec.attributes)
        self.embed = nn.Linear(n_attr + 1, hidden)
        self.layers = nn.ModuleList(EGNNLayer(hidden, n_attr, update_h=k < layers - 1) for k in range(layers))

    def _run(self, batch: Batch) -> tuple[Tensor, Tensor]:
        ops = batch.ops
        scalars = batch.node_scalars(self.spec.attributes)
        speed = batch.velocity.norm(dim=-1, keepdim=True)
        h = self.embed(torch.cat([scalars, speed], dim=-1))
        edge_attr = ops.receivers(scalars) * ops.senders(scalars)
        x = batch.position
        vectors: Tensor | None = None
        for layer in self.layers:
            h, x, vector = layer(batch, h, x, edge_attr)
            vectors = vector if vectors is None else vectors + vector
        assert vectors is not None, "EGNN needs at least one layer"
        return x, vectors

    def forward(self, batch: Batch) -> Tensor:
        x = self._run(batch)[0]
        return x if self.spec.target == "position" else x - batch.position

    def edge_messages(self, batch: Batch) -> Tensor:
        return self._run(batch)[1]
