r"""The baselines of heterogeneous particles (Allier et al. 2024, "Decomposing heterogeneous dynamical
systems with graph neural networks"); the model contract they follow: ``bench.tasks.heterogeneous``.

One edge MLP, mean aggregation, no node update: the predicted velocity of particle i is

.. math::
    \hat{\dot x}_i = s\,\operatorname{mean}_{j \in \mathcal{N}(i)}
        \mathrm{MLP}\big(\Delta_{ij}/R,\ |\Delta_{ij}|/R,\ c_i\big),\qquad \Delta_{ij} = x_j - x_i
        \text{ (minimum image)},

with :math:`R` the task's radius, :math:`s` the output unit and :math:`c_i` what tells the receiver i apart.
The unit is :math:`s = \sigma_v \sqrt{\bar k}`: the training split's velocity std :math:`\sigma_v` (over every
particle, frame and component; the reference's ``ynorm``) times the square root of the mean number of
neighbours :math:`\bar k` (about 85 at the task's density), fitted by ``calibrate`` and saved with the weights.
The reference scales by :math:`\sigma_v` alone, in which one message is about :math:`\sqrt{\bar k}` ≈ 9 units
(a mean of about 85 of them is one); in the unit :math:`s` a message is of order one, the scale a freshly
initialised MLP outputs. The function class is the same (a constant factor on the last layer); this choice was
made for the CPU budget and not compared with the reference's unit here. The receiver codes:

- ``EmbeddingGNN`` ("embedding-gnn"): a learned embedding :math:`a_i \in \mathbb{R}^k` per particle (``k = 2``,
  initialised to 1), indexed by ``batch.particle``; exposes ``node_embeddings`` (the :math:`a_i`) and
  ``interaction``.
- ``SharedGNN`` ("shared-gnn"): nothing: one function for every particle (it cannot tell the types apart).
- ``OracleGNN`` ("oracle-gnn"): the true type as a one-hot vector (``batch.node_label``, an oracle input:
  an upper bound, never ranked as a rival).

``ZeroVelocity`` ("zero-velocity") is the trivial row beside them: no motion, ψ ≡ 0, no parameters.

MLP: ``(d + 1 + |c|) → hidden ×layers → d``, ReLU (the reference: 5 → 128 ×4 → 2). Augmentation in training:
one random rotation per batch (angle ~ 2π N(0, 1), the reference's draw) turns every :math:`\Delta_{ij}`, and the
prediction is turned back; the loss therefore compares the rotated prediction with the rotated target, as in
the reference (rotations keep the L2 norm). Drawn from torch's global generator (seeded by the run, saved in
its checkpoints).

``interaction(r, batch)`` (N, R): the learned ψ_i(r) = s · MLP((r/R, 0), r/R, c_i)[0], the x-component of the
velocity a neighbour at (r, 0) contributes to particle i: the true one is ψ(r) = r f(r) (the message
f(r) d_ij along d_ij = (r, 0)).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from bench.batch import Batch
from bench.errors import BenchError
from bench.model import Model, TaskSpec, mlp

INTERACTION_CHUNK = 2**18
"""Rows (particles × distances) the MLP evaluates at once in ``interaction``: bounds its memory."""


def rotation(angle: Tensor) -> Tensor:
    """The 2 × 2 rotation by ``angle`` (a scalar tensor)."""
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([c, -s]), torch.stack([s, c])])


class PairMLPNet(Model):
    """The shared body: the edge MLP on (Δ/R, |Δ|/R, receiver code), mean at receivers, velocity scale."""

    families = ("heterogeneous",)

    def __init__(self, spec: TaskSpec, code_dim: int, hidden: int = 128, layers: int = 4, augment: bool = True):
        super().__init__(spec)
        if spec.radius is None or not spec.radius > 0:
            raise BenchError(f"{type(self).__name__} needs the task's interaction radius (TaskSpec.radius), got "
                             f"{spec.radius}: it runs on radius-graph tasks (bench.tasks.heterogeneous)")  # fmt: skip
        if spec.dim != 2:
            raise BenchError(f"{type(self).__name__} is written for 2-D tasks (its rotations), got dim={spec.dim}")
        if hidden < 1 or layers < 1:
            raise BenchError(f"{type(self).__name__}: hidden={hidden} and layers={layers} must be >= 1")
        self.radius = float(spec.radius)
        self.augment = bool(augment)
        self.code_dim = int(code_dim)
        d = spec.dim
        self.edge = mlp([d + 1 + code_dim] + [hidden] * layers + [d])
        self.register_buffer("velocity_scale", torch.ones(()))

    # -- what tells receivers apart ---------------------------------------------------------------------
    def codes(self, batch: Batch) -> Tensor | None:
        """(N, code_dim) per node, or None (no code)."""
        return None

    def calibrate(self, data: Any, backend: Any, device: torch.device) -> None:
        """The output unit s = σ_v √k̄: the training split's velocity std times the square root of the mean number
        of neighbours in its first frame (see the module docstring)."""
        batch, _ = data.batch("train", torch.arange(1))
        degree = batch.num_edges / max(1, batch.num_nodes)
        self.velocity_scale.fill_(float(data.velocity_std()) * max(degree, 1.0) ** 0.5)

    # -- the function ----------------------------------------------------------------------------------
    def _first_layer(self, geometry: Tensor, codes: Tensor | None, ops) -> Tensor:
        """The edge MLP's first linear layer on [geometry, code_i]: the code's part computed per node."""
        first: nn.Linear = self.edge[0]  # type: ignore[assignment]
        g = geometry.shape[-1]
        out = nn.functional.linear(geometry, first.weight[:, :g], first.bias)
        if codes is not None:
            out = out + ops.receivers(nn.functional.linear(codes, first.weight[:, g:]))
        return out

    def forward(self, batch: Batch) -> Tensor:
        ops = batch.ops
        delta = -ops.relative_position(batch.position)  # x_j − x_i, minimum image
        turn = None
        if self.training and self.augment:
            turn = rotation(2 * torch.pi * torch.randn((), dtype=delta.dtype)).to(delta.device)
            delta = delta @ turn.T
        r = delta.norm(dim=-1, keepdim=True)
        geometry = torch.cat([delta, r], dim=-1) / self.radius
        hidden = self._first_layer(geometry, self.codes(batch), ops)
        messages = self.edge[1:](hidden)
        out = ops.mean_at_receivers(messages)
        if turn is not None:
            out = out @ turn  # turned back: R^T applied to each row
        return out * self.velocity_scale

    def interaction(self, r: Tensor, batch: Batch) -> Tensor:
        """(N, R): each particle's learned ψ at the distances ``r`` (R,) (see the module docstring)."""
        codes = self.codes(batch)
        N = batch.num_nodes
        rr = r.to(batch.position.dtype).reshape(-1, 1) / self.radius
        geometry = torch.cat([rr, torch.zeros_like(rr), rr], dim=-1)  # (R, 3)
        if codes is None:  # one function for everyone
            return self._profile(geometry, None).reshape(1, -1).expand(N, -1)
        rows = []
        per = max(1, INTERACTION_CHUNK // max(1, len(r)))
        for start in range(0, N, per):
            c = codes[start : start + per]
            rows.append(self._profile(geometry, c))
        return torch.cat(rows) if rows else geometry.new_zeros(0, len(r))

    def _profile(self, geometry: Tensor, codes: Tensor | None) -> Tensor:
        """(n, R) (or (1, R) without codes): s · MLP(geometry, code)[..., 0]."""
        if codes is None:
            x = geometry
        else:
            n, R = codes.shape[0], geometry.shape[0]
            x = torch.cat([geometry.expand(n, R, -1), codes[:, None, :].expand(n, R, -1)], dim=-1).reshape(n * R, -1)
        out = self.edge(x)[..., 0] * self.velocity_scale
        return out.reshape(-1, geometry.shape[0])


class EmbeddingGNN(PairMLPNet):
    """Allier et al.'s GNN: a learned embedding per particle (``batch.particle`` indexes the table), optionally
    at its own learning rate (``embedding_lr``; the card's 1e-2 against the MLP's 3e-3)."""

    def __init__(
        self,
        spec: TaskSpec,
        hidden: int = 128,
        layers: int = 4,
        embedding_dim: int = 2,
        augment: bool = True,
        embedding_lr: float | None = None,
    ):
        if not spec.num_identities:
            raise BenchError("EmbeddingGNN learns one embedding per particle and needs the task's particle "
                             f"identities (TaskSpec.num_identities), got {spec.num_identities}")  # fmt: skip
        if embedding_dim < 1:
            raise BenchError(f"EmbeddingGNN: embedding_dim={embedding_dim} must be >= 1")
        if embedding_lr is not None and not embedding_lr > 0:
            raise BenchError(f"EmbeddingGNN: embedding_lr={embedding_lr} must be > 0 (or null: the card's lr)")
        super().__init__(spec, code_dim=embedding_dim, hidden=hidden, layers=layers, augment=augment)
        self.embedding = nn.Parameter(torch.ones(int(spec.num_identities), embedding_dim))
        self.embedding_lr = embedding_lr

    def param_groups(self) -> list[dict[str, Any]] | None:
        """The embeddings at their own learning rate (``embedding_lr``), the MLP at the card's."""
        if self.embedding_lr is None:
            return None
        mlp_params = [p for name, p in self.named_parameters() if name != "embedding"]
        return [{"params": mlp_params}, {"params": [self.embedding], "lr": float(self.embedding_lr)}]

    def codes(self, batch: Batch) -> Tensor:
        return self.embedding[batch.particle]

    def node_embeddings(self, batch: Batch) -> Tensor:
        """(N, k): the learned a_i of the batch's particles."""
        return self.codes(batch)


class SharedGNN(PairMLPNet):
    """The same network without any per-particle input: one interaction function for every particle."""

    def __init__(self, spec: TaskSpec, hidden: int = 128, layers: int = 4, augment: bool = True):
        super().__init__(spec, code_dim=0, hidden=hidden, layers=layers, augment=augment)


class OracleGNN(PairMLPNet):
    """The true type of each receiver as a one-hot input (``batch.node_label``): the ceiling."""

    oracle = ("types",)

    def __init__(self, spec: TaskSpec, hidden: int = 128, layers: int = 4, augment: bool = True):
        if not spec.num_types:
            raise BenchError(f"OracleGNN needs the task's number of types (TaskSpec.num_types), got {spec.num_types}")
        super().__init__(spec, code_dim=int(spec.num_types), hidden=hidden, layers=layers, augment=augment)

    def codes(self, batch: Batch) -> Tensor:
        if batch.node_label is None:
            raise BenchError("OracleGNN reads the true types (batch.node_label), which this batch lacks: it runs "
                             "only where the family offers the oracle input 'types'")  # fmt: skip
        return nn.functional.one_hot(batch.node_label.long(), int(self.spec.num_types)).to(batch.position.dtype)


class ZeroVelocity(Model):
    """The trivial baseline: every velocity 0 (nobody moves), every interaction function 0 (one cluster)."""

    families = ("heterogeneous",)

    def __init__(self, spec: TaskSpec):
        super().__init__(spec)

    def forward(self, batch: Batch) -> Tensor:
        return torch.zeros_like(batch.position)

    def interaction(self, r: Tensor, batch: Batch) -> Tensor:
        return batch.position.new_zeros(batch.num_nodes, len(r))
