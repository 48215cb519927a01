r"""Cen et al. 2024 (arXiv 2409.19626), "Are High-Degree Representations Really Unnecessary in
Equivariant Graph Neural Networks?": EGNN plus steerable node features of degrees 1..L.

Every particle carries, besides the invariant :math:`h_i` and its position :math:`x_i`, one steerable
feature :math:`\chi_i^{(l)} \in \mathbb R^{2l+1}` per degree :math:`l = 1..L`, built on spherical
harmonics :math:`Y^{(l)}` (e3nn). The degrees meet only through their invariant inner products:

.. math::
    \chi_i^{(l)} &= \tfrac{1}{|\mathcal N(i)|} \textstyle\sum_j s_l(h_i, h_j, \lVert x_{ij} \rVert^2, a_{ij})\,
        Y^{(l)}(x_{ij} / \lVert x_{ij} \rVert) \quad\text{(initialisation)} \\
    m_{ij} &= \phi_e\big(h_i, h_j, \lVert x_{ij} \rVert^2, a_{ij},
        \{\langle \chi_i^{(l)}, \chi_j^{(l)} \rangle\}_{l=1}^{L}\big) \\
    v_i &\leftarrow \phi_v(h_i)\, v_i^0 + \tfrac{1}{|\mathcal N(i)|} \textstyle\sum_j x_{ij}\, \phi_x(m_{ij}),
        \qquad x_i \leftarrow x_i + v_i \\
    \chi_i^{(l)} &\leftarrow \chi_i^{(l)} + \tfrac{1}{|\mathcal N(i)|} \textstyle\sum_j
        \big[\alpha_l(m_{ij})\, Y^{(l)}(\hat x_{ij}) + \beta_l(m_{ij})\, (\chi_j^{(l)} - \chi_i^{(l)})\big] \\
    h_i &\leftarrow h_i + \phi_h(h_i, \textstyle\sum_j m_{ij})

with :math:`x_{ij} = x_i - x_j` and :math:`a_{ij} = q_i q_j`. Scalars times steerable features and inner
products of equal degrees keep the network E(3)-equivariant (reflections included: the inner products
of odd-degree features are invariant too). The output is the final position :math:`x_i^L`.

Args: ``hidden`` (64) width of every MLP; ``layers`` (4); ``max_degree`` L (2; the paper's 1, 2, 3).
Shapes: ``forward`` (N, 3).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.batch import Batch
from bench.errors import BenchError
from bench.model import Model, TaskSpec, mlp, pair_linear


def spherical_harmonics_fn():
    try:
        from e3nn.o3 import spherical_harmonics
    except ImportError:  # pragma: no cover - the `test` extra installs e3nn
        raise BenchError(
            'hegnn needs e3nn, which is not installed; install it with: pip install torch==2.13.0 -e ".[equivariant]"'
        ) from None
    return spherical_harmonics


class HEGNNLayer(nn.Module):
    def __init__(self, hidden: int, edge_attr_dim: int, max_degree: int, last: bool = False):
        super().__init__()
        self.phi_e = mlp([2 * hidden + 1 + edge_attr_dim + max_degree, hidden, hidden], nn.SiLU, final_activation=True)
        self.phi_x = mlp([hidden, hidden, 1], nn.SiLU)
        self.phi_v = mlp([hidden, hidden, 1], nn.SiLU)
        # The last layer's feature updates would feed nothing: the output is read off the coordinates.
        self.phi_chi = None if last else mlp([hidden, hidden, 2 * max_degree], nn.SiLU)  # α_l, β_l per degree
        self.phi_h = None if last else mlp([2 * hidden, hidden, hidden], nn.SiLU)
        nn.init.xavier_uniform_(self.phi_x[-1].weight, gain=0.001)  # small first coordinate updates

    def forward(self, model: HEGNN, batch: Batch, h: Tensor, x: Tensor, chi: Tensor, edge_attr: Tensor):
        ops = batch.ops
        delta = ops.relative_position(x)
        dist2 = (delta * delta).sum(-1, keepdim=True)
        inner = model.per_degree_sum(ops.receivers(chi) * ops.senders(chi))
        m = self.phi_e[1:](pair_linear(self.phi_e[0], ops, h, torch.cat([dist2, edge_attr, inner], dim=-1)))
        v = self.phi_v(h) * batch.velocity + ops.mean_at_receivers(delta * self.phi_x(m))
        x = x + v
        if self.phi_chi is not None:
            alpha, beta = model.per_component(self.phi_chi(m)).chunk(2, dim=-1)
            steer = alpha * model.harmonics(delta) + beta * (ops.senders(chi) - ops.receivers(chi))
            chi = chi + ops.mean_at_receivers(steer)
        if self.phi_h is not None:
            h = h + self.phi_h(torch.cat([h, ops.sum_at_receivers(m)], dim=-1))
        return h, x, chi


class HEGNN(Model):
    families = ("nbody",)

    def __init__(self, spec: TaskSpec, hidden: int = 64, layers: int = 4, max_degree: int = 2):
        super().__init__(spec)
        if spec.dim != 3:
            raise BenchError(f"HEGNN: spherical harmonics need 3-D positions; the task has dim={spec.dim}")
        if not 1 <= int(max_degree) <= 6:
            raise BenchError(f"HEGNN: max_degree={max_degree} is not supported; valid: 1 to 6")
        self.max_degree = int(max_degree)
        self._sh = spherical_harmonics_fn()
        degree = torch.cat([torch.full((2 * l + 1,), l - 1) for l in range(1, self.max_degree + 1)])
        self.register_buffer("component_degree", degree, persistent=False)  # (D,): the degree of each component
        n_attr = len(spec.attributes)
        self.embed = nn.Linear(n_attr + 1, hidden)
        self.init_chi = mlp([2 * hidden + 1 + n_attr, hidden, self.max_degree], nn.SiLU)
        self.layers = nn.ModuleList(
            HEGNNLayer(hidden, n_attr, self.max_degree, last=k == layers - 1) for k in range(layers)
        )

    def harmonics(self, delta: Tensor) -> Tensor:
        """Y^(1..L) of the edge directions, concatenated: (E, 3) → (E, D), D = Σ (2l+1)."""
        return self._sh(list(range(1, self.max_degree + 1)), delta, normalize=True, normalization="component")

    def per_component(self, per_degree: Tensor) -> Tensor:
        """Repeat per-degree scalars over their degree's components: (E, k·L) → (E, k·D)."""
        k = per_degree.shape[-1] // self.max_degree
        blocks = per_degree.split(self.max_degree, dim=-1)
        return torch.cat([b.index_select(-1, self.component_degree) for b in blocks][:k], dim=-1)

    def per_degree_sum(self, components: Tensor) -> Tensor:
        """Sum components within each degree: (E, D) → (E, L)."""
        out = components.new_zeros(components.shape[0], self.max_degree)
        return out.index_add_(1, self.component_degree, components)

    def forward(self, batch: Batch) -> Tensor:
        ops = batch.ops
        scalars = batch.node_scalars(self.spec.attributes)
        h = self.embed(torch.cat([scalars, batch.velocity.norm(dim=-1, keepdim=True)], dim=-1))
        edge_attr = ops.receivers(scalars) * ops.senders(scalars)
        x = batch.position
        delta = ops.relative_position(x)
        dist2 = (delta * delta).sum(-1, keepdim=True)
        weights = self.init_chi[1:](pair_linear(self.init_chi[0], ops, h, torch.cat([dist2, edge_attr], dim=-1)))
        chi = ops.mean_at_receivers(self.per_component(weights) * self.harmonics(delta))
        for layer in self.layers:
            h, x, chi = layer(self, batch, h, x, chi, edge_attr)
        return x
