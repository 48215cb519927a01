"""The public model API: ``bench.Model`` and the task description a model is built from.

A model is a ``torch.nn.Module`` subclass of ``bench.Model``::

    class MyNet(bench.Model):
        families = ("forces",)

        def __init__(self, spec: bench.TaskSpec, hidden: int = 64):
            super().__init__(spec)
            ...

        def forward(self, batch: bench.Batch) -> torch.Tensor:
            # batch.position (N, d), batch.velocity (N, d), batch.attributes["charge"] (N,), ...
            # message passing through batch.ops: receivers(x), senders(x), sum_at_receivers(m), ...
            return acceleration  # (N, d): the task's target

Optional capabilities let the suite look inside; a model has a capability when it overrides the
method of that name:

================  ===========================================  ======================================
capability        returns                                      used by
================  ===========================================  ======================================
edge_messages     (E, k) per-edge message vectors              force-law probe, symbolic regression
node_embeddings   (N, k) per-particle latent vectors           type classification
interaction       learned pair function on a grid of r         interaction-function error
hidden_field      the learned field at (position, time)        hidden-field recovery
edge_types        (E, K) per-edge type posterior               relational inference
equation          a SymPy expression of the edge function      end-to-end symbolic models (EQL)
================  ===========================================  ======================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from bench.batch import Batch

CAPABILITIES = ("edge_messages", "node_embeddings", "interaction", "hidden_field", "edge_types", "equation")


@dataclass(frozen=True)
class TaskSpec:
    """What a model needs to know about a task to build itself.

    ``family``: task family (``forces``, ...); ``dim``: spatial dimension; ``n_particles``: particles per
    system (None if it varies); ``attributes``: names of the per-particle scalars in
    ``batch.attributes``; ``target``: what ``forward`` predicts; ``target_dim``: its last dimension.
    """

    family: str
    dim: int
    n_particles: int | None
    attributes: tuple[str, ...]
    target: str
    target_dim: int


class Model(nn.Module):
    """Base class of every model, shipped or submitted. Subclasses set ``families`` and ``forward``."""

    families: ClassVar[tuple[str, ...]] = ()
    """The task families the model can be trained on."""

    def __init__(self, spec: TaskSpec, **hparams: Any):
        super().__init__()
        if hparams:
            raise TypeError(f"{type(self).__name__} got unknown hyper-parameters: {', '.join(sorted(hparams))}")
        self.spec = spec

    def forward(self, batch: Batch) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        """Called by the training loop before each epoch (0-based), for schedules such as pruning."""

    def regularization(self, batch: Batch) -> Tensor | float:
        """Extra loss added to the task's objective during training (L1 or KL on messages, ...)."""
        return 0.0

    # Capabilities: override to expose. Each is documented in the table above.
    def edge_messages(self, batch: Batch) -> Tensor:
        raise NotImplementedError

    def node_embeddings(self, batch: Batch) -> Tensor:
        raise NotImplementedError

    def interaction(self, r: Tensor, batch: Batch) -> Tensor:
        raise NotImplementedError

    def hidden_field(self, position: Tensor, time: Tensor) -> Tensor:
        raise NotImplementedError

    def edge_types(self, batch: Batch) -> Tensor:
        raise NotImplementedError

    def equation(self) -> Any:
        raise NotImplementedError

    @classmethod
    def capabilities(cls) -> tuple[str, ...]:
        """The capabilities this class exposes (the methods it overrides)."""
        return tuple(c for c in CAPABILITIES if getattr(cls, c) is not getattr(Model, c))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def mlp(sizes: list[int], activation: type[nn.Module] = nn.ReLU, final_activation: bool = False) -> nn.Sequential:
    """Linear layers of the given sizes with an activation between them (and after the last, optionally)."""
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if k < len(sizes) - 2 or final_activation:
            layers.append(activation())
    return nn.Sequential(*layers)


def pair_linear(layer: nn.Linear, ops, x: Tensor, edge_features: Tensor | None = None) -> Tensor:
    """``layer([x_i, x_j, edge_features])`` for every edge, with the same weights, computed as
    ``W_i x_i + W_j x_j (+ W_e e_ij)``: the node parts on N nodes rather than E edges."""
    F = x.shape[-1]
    W = layer.weight
    out = ops.combine(nn.functional.linear(x, W[:, :F], layer.bias), nn.functional.linear(x, W[:, F : 2 * F]))
    if edge_features is not None:
        out = out + nn.functional.linear(edge_features, W[:, 2 * F :])
    return out


def as_tensor(x: Tensor | float, like: Tensor) -> Tensor:
    return x if isinstance(x, Tensor) else torch.as_tensor(x, dtype=like.dtype, device=like.device)
