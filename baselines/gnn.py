r"""Cranmer et al. 2020 (arXiv 2006.11287), "Discovering Symbolic Models from Deep Learning with
Inductive Biases": the standard message-passing GNN of the force-law experiments.

.. math::
    m_{ij} = \phi_e([x_i, x_j]), \qquad \hat a_i = \phi_v([x_i, \textstyle\sum_{j} m_{ij}])

with :math:`x_i = [\text{position}, \text{velocity}, \text{attributes}]` (charge, mass), both MLPs of
``layers`` hidden layers of width ``hidden`` with ReLU, messages of ``message_dim`` components.

Shapes: ``forward`` (N, d); ``edge_messages`` (E, message_dim).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from bench.batch import Batch
from bench.errors import BenchError
from bench.model import Model, TaskSpec, mlp


class GNN(Model):
    families = ("forces",)

    def __init__(self, spec: TaskSpec, hidden: int = 300, layers: int = 3, message_dim: int | None = 100):
        super().__init__(spec)
        message_dim = spec.dim if message_dim is None else message_dim  # None: the bottleneck, k = d
        node_dim = 2 * spec.dim + len(spec.attributes)
        self.message_dim = message_dim
        self.edge_mlp = self.make_edge_model(node_dim, hidden, layers, self.edge_outputs(message_dim))
        self.node_mlp = mlp([node_dim + message_dim] + [hidden] * layers + [spec.target_dim])

    def make_edge_model(self, node_dim: int, hidden: int, layers: int, outputs: int) -> nn.Module:
        """The edge function φ_e, from the concatenated [x_i, x_j] (an MLP here; ``eql-gnn`` overrides it)."""
        return mlp([2 * node_dim] + [hidden] * layers + [outputs])

    def edge_outputs(self, message_dim: int) -> int:
        """Width of the edge model's output (one value per message component here)."""
        return message_dim

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


def reference_weight_scale(spec: TaskSpec) -> float:
    r"""What a regulariser weight of Cranmer et al.'s code is worth per unit of our loss: (n − 1)/(n·d).

    Their loss per batch of B graphs is a sum, Σ |error| over the B·n·d components, plus
    ``weight · B · R / n`` with R the penalty summed over the n(n − 1) edges of one graph. Divided by B·n·d, our
    loss's units (a mean per component), the penalty is ``weight · (n − 1)/(n·d)`` × its mean over edges, which is
    what we add: a card's ``l1_weight`` or ``kl_weight`` keeps their code's value (1e-2, 1), and its strength
    relative to the data term is theirs (for 4 particles in 2-D, 3/8 of the weight)."""
    n, d = int(spec.n_particles), int(spec.dim)
    return (n - 1) / (n * d) if n > 1 else 1.0


class GNNL1(GNN):
    """``gnn-l1``: L1 penalty on the messages, ``l1_weight`` × (n − 1)/(n·d) × mean over edges of Σ_k |m_k|: the
    reference's α_L1 = 1e-2 at the reference's strength relative to the data term (``reference_weight_scale``)."""

    def __init__(self, spec: TaskSpec, l1_weight: float = 1e-2, **hparams):
        super().__init__(spec, **hparams)
        self.l1_weight = l1_weight * reference_weight_scale(spec)
        self._last_messages: Tensor | None = None

    def _messages(self, batch: Batch, x: Tensor) -> Tensor:
        messages = super()._messages(batch, x)
        self._last_messages = messages
        return messages

    def regularization(self, batch: Batch) -> Tensor | float:
        if self._last_messages is None:
            return 0.0
        return self.l1_weight * self._last_messages.abs().sum(-1).mean()


class GNNKL(GNN):
    """``gnn-kl``: the edge model outputs a mean and a log-variance per message component (even and
    odd outputs); training samples the messages and adds ``kl_weight`` × (n − 1)/(n·d) × the KL divergence to
    N(0, 1), ½(μ² + σ² − log σ²) summed over components and averaged over edges (the report's eq. 7, at the
    reference code's strength relative to the data term: ``reference_weight_scale``);
    evaluation and ``edge_messages`` use the means. ``message_importance`` is the mean KL per component
    (the probe picks the components with the largest)."""

    def __init__(self, spec: TaskSpec, kl_weight: float = 1.0, **hparams):
        super().__init__(spec, **hparams)
        self.kl_weight = kl_weight * reference_weight_scale(spec)
        self._last_kl: Tensor | None = None

    def edge_outputs(self, message_dim: int) -> int:
        return 2 * message_dim  # a mean and a log-variance per component

    def _distribution(self, batch: Batch, x: Tensor) -> tuple[Tensor, Tensor]:
        raw = super()._messages(batch, x)
        return raw[:, 0::2], raw[:, 1::2]

    def _messages(self, batch: Batch, x: Tensor) -> Tensor:
        mu, logvar = self._distribution(batch, x)
        if not self.training:
            return mu
        self._last_kl = (0.5 * (mu * mu + logvar.exp() - logvar)).sum(-1).mean()
        return mu + torch.randn_like(mu) * (0.5 * logvar).exp()

    def regularization(self, batch: Batch) -> Tensor | float:
        return 0.0 if self._last_kl is None else self.kl_weight * self._last_kl

    def edge_messages(self, batch: Batch) -> Tensor:
        return self._distribution(batch, self.node_features(batch))[0]

    def message_importance(self, batch: Batch) -> Tensor:
        mu, logvar = self._distribution(batch, self.node_features(batch))
        return (0.5 * (mu * mu + logvar.exp() - logvar)).mean(0)


class MessageStatistics:
    """Running mean and spread of the training messages of one epoch (buffers ``stat_count``,
    ``stat_sum``, ``stat_sumsq`` of the model, so that checkpoints keep them)."""

    def init_message_statistics(self, k: int) -> None:
        self.register_buffer("stat_count", torch.zeros(()))  # type: ignore[attr-defined]
        self.register_buffer("stat_sum", torch.zeros(k))  # type: ignore[attr-defined]
        self.register_buffer("stat_sumsq", torch.zeros(k))  # type: ignore[attr-defined]

    @torch.no_grad()
    def accumulate_messages(self, messages: Tensor) -> None:
        m = messages.detach().to(self.stat_sum.dtype)
        self.stat_count += m.shape[0]
        self.stat_sum += m.sum(0)
        self.stat_sumsq += (m * m).sum(0)

    def messages_std(self) -> Tensor | None:
        """The standard deviation per component since the last reset (None before two messages)."""
        if self.stat_count <= 1:
            return None
        mean = self.stat_sum / self.stat_count
        return (self.stat_sumsq / self.stat_count - mean * mean).clamp(min=0).sqrt()

    def reset_message_statistics(self) -> None:
        self.stat_count.zero_()
        self.stat_sum.zero_()
        self.stat_sumsq.zero_()


PRUNE_SCHEDULES = ("linear", "exponential", "cosine")


def active_dimensions(epoch: int, end_epoch: int, total: int, keep: int, schedule: str, k: float = 3.0) -> int:
    """Message components left active at ``epoch`` (report "Symbolic Distillation", eqs. 22-24);
    pruning ends at ``end_epoch`` with ``keep`` components. Eq. 23 is read as ΔD (1 − e^{−kt/T}) / (1 − e^{−k})
    (as printed, 1 − e^{kt/T}, it would prune a negative number of components)."""
    t = min(max(epoch, 0), end_epoch) / max(end_epoch, 1)
    if schedule == "linear":
        fraction = t
    elif schedule == "exponential":
        fraction = (1 - math.exp(-k * t)) / (1 - math.exp(-k))
    elif schedule == "cosine":
        fraction = 1 - 0.5 * (1 + math.cos(math.pi * t))
    else:
        raise BenchError(f"unknown pruning schedule '{schedule}'; valid: {', '.join(PRUNE_SCHEDULES)}")
    return total - math.ceil((total - keep) * fraction - 1e-9)


class GNNPrune(MessageStatistics, GNN):
    """``gnn-prune``: zero-masks the message components of lowest standard deviation as training goes,
    down to the system's dimension at ``end_fraction`` of the epochs (default cosine, 65 %). The
    standard deviation is measured on the training messages of the previous epoch (the report uses
    10,240 validation samples); pruning starts after the first epoch."""

    def __init__(self, spec: TaskSpec, schedule: str = "cosine", end_fraction: float = 0.65, **hparams):
        super().__init__(spec, **hparams)
        if schedule not in PRUNE_SCHEDULES:
            raise BenchError(f"unknown pruning schedule '{schedule}'; valid: {', '.join(PRUNE_SCHEDULES)}")
        self.schedule, self.end_fraction = schedule, end_fraction
        k = self.message_dim
        self.register_buffer("mask", torch.ones(k))
        self.init_message_statistics(k)

    def _messages(self, batch: Batch, x: Tensor) -> Tensor:
        messages = super()._messages(batch, x) * self.mask
        if self.training:
            self.accumulate_messages(messages)
        return messages

    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        std = self.messages_std()
        if epoch >= 1 and std is not None:
            end = max(1, round(self.end_fraction * epochs))
            active = active_dimensions(epoch, end, self.message_dim, self.spec.dim, self.schedule)
            std = torch.where(self.mask > 0, std, torch.full_like(std, -1.0))  # pruned stay pruned
            keep = std.topk(active).indices
            self.mask.zero_()
            self.mask[keep] = 1.0
        self.reset_message_statistics()
