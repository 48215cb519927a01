"""The public model API: ``bench.Model`` and the task description a model is built from.

A model is a ``torch.nn.Module`` subclass of ``bench.Model``::

    class MyNet(bench.Model):
        families = (...)  # the task families it is built for (bench list shows them), e.g. forces

        def __init__(self, spec: bench.TaskSpec, hidden: int = 64):
            super().__init__(spec)
            ...

        def forward(self, batch: bench.Batch) -> torch.Tensor:
            # batch.position (N, d), batch.velocity (N, d), batch.attributes["charge"] (N,), ...
            # message passing through batch.ops: receivers(x), senders(x), sum_at_receivers(m), ...
            return acceleration  # (N, d): the task's target (spec.target)

``forward`` returns the task's target as a tensor, or named outputs as a dict of tensors (the target
among them). The batch never holds the targets. Hooks a model may override: ``loss(outputs, targets,
batch)`` (its own objective, e.g. an ELBO), ``regularization(batch)``, ``param_groups()`` (per-module
learning rates), ``on_epoch_start``, ``on_epoch_end``. A model without trainable parameters is not trained.

Optional capabilities let the suite look inside; a model has a capability when it overrides the
method of that name (``CAPABILITY_SIGNATURES`` gives each one's shapes; one shared test checks them):

================  ===========================================  ======================================
capability        returns                                      used by
================  ===========================================  ======================================
edge_messages     (E, k) per-edge message vectors              force-law probe, symbolic regression
node_embeddings   (N, k) per-particle latent vectors           type classification
interaction       (N, R): the learned pair function of each    interaction-function error
                  particle on R distances r (R,)
hidden_field      (M,): the learned field at positions (M, d)  hidden-field recovery
                  and times (M,)
edge_types        (E, K) per-edge type posterior (rows sum 1)  relational inference
equation          a list of SymPy expressions of the edge      end-to-end symbolic models (EQL)
                  function, one per message component
================  ===========================================  ======================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from bench.batch import Batch

CAPABILITIES = ("edge_messages", "node_embeddings", "interaction", "hidden_field", "edge_types", "equation")
CAPABILITY_SIGNATURES = {
    "edge_messages": "edge_messages(batch) -> (E, k)",
    "node_embeddings": "node_embeddings(batch) -> (N, k)",
    "interaction": "interaction(r: (R,), batch) -> (N, R)",
    "hidden_field": "hidden_field(position: (M, d), time: (M,)) -> (M,)",
    "edge_types": "edge_types(batch) -> (E, K), each row a distribution over the K types",
    "equation": "equation() -> list of SymPy expressions, one per message component",
}


@dataclass(frozen=True)
class TaskSpec:
    """What a model needs to know about a task to build itself.

    ``family``: task family (``forces``, ...); ``dim``: spatial dimension; ``n_particles``: particles per
    system (None if it varies); ``attributes``: names of the per-particle scalars in
    ``batch.attributes``; ``target``: what ``forward`` predicts; ``target_dim``: its last dimension;
    ``num_identities``: how many distinct ``batch.particle`` identities the task has (the size of a
    per-particle embedding table; None when identities carry no meaning across samples); ``window``: the
    frames of ``batch.history`` an encoder reads (relational inference: NRI's 49; None: no history);
    ``radius``: the cutoff of the task's radius graphs, the natural length unit of its pair features (None:
    fully connected graphs); ``num_types``: how many hidden particle types the task has (the range of the
    oracle input ``batch.node_label``; None: no hidden types); ``field``: the kind of hidden field the task's
    ``batch.field`` nodes carry (``static``: one value per place; ``dynamic``: it changes with ``batch.time``;
    None: no field); ``box``: the side of the periodic box positions live in (None: open space);
    ``duration``: the time one run spans, the range of ``batch.time`` (None: no time).
    """

    family: str
    dim: int
    n_particles: int | None
    attributes: tuple[str, ...]
    target: str
    target_dim: int
    num_identities: int | None = None
    window: int | None = None
    radius: float | None = None
    num_types: int | None = None
    field: str | None = None
    box: float | None = None
    duration: float | None = None


class Model(nn.Module):
    """Base class of every model, shipped or submitted. Subclasses set ``families`` and ``forward``."""

    families: ClassVar[tuple[str, ...]] = ()
    """The task families the model can be trained on."""
    oracle: ClassVar[tuple[str, ...]] = ()
    """Truths the model is given as inputs (``("edges",)``: ``batch.edge_label``; ``("types",)``:
    ``batch.node_label``): an upper bound for comparison (NRI's decoder on the true graph, a GNN told the
    particle types), marked as such in its record. Only a family that offers them (``Family.with_oracle``)
    can run such a model."""

    def __init__(self, spec: TaskSpec, **hparams: Any):
        super().__init__()
        if hparams:
            raise TypeError(f"{type(self).__name__} got unknown hyper-parameters: {', '.join(sorted(hparams))}")
        self.spec = spec

    def forward(self, batch: Batch) -> Tensor | dict[str, Tensor]:  # pragma: no cover - abstract
        """The task's target (a tensor, per particle (N, target_dim)) or named outputs (a dict)."""
        raise NotImplementedError

    def loss(self, outputs: dict[str, Tensor], targets: dict[str, Tensor], batch: Batch) -> Tensor:
        """The model's own training objective (NRI's ELBO, ...); by default the task's objective is used
        (the model card's ``train.loss`` on the task's target). Override to define one."""
        raise NotImplementedError

    def param_groups(self) -> list[dict[str, Any]] | None:
        """Optimiser parameter groups (``[{"params": ..., "lr": ...}, ...]``) for per-module learning
        rates; None: one group of every parameter at the card's learning rate."""
        return None

    def calibrate(self, data: Any, backend: Any, device: torch.device) -> None:
        """Fit what the model fits without gradients (a threshold on the validation split, ...) into its
        buffers; called once by the training loop before the first epoch (for a model without trainable
        parameters, instead of training). The buffers are saved with the weights."""

    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        """Called by the training loop before each epoch (0-based), for schedules such as pruning."""

    def on_epoch_end(self, epoch: int, epochs: int, data: Any, backend: Any, device: torch.device) -> None:
        """Called by the training loop after each epoch's optimiser steps (0-based), before its validation and
        checkpoint, for steps that reshape the model from the training data (Allier et al.'s replacement of the
        embeddings by their clusters' medians). Whatever it changes must live in the state dict (parameters,
        buffers), so that a resumed run continues from the same model."""

    def regularization(self, batch: Batch) -> Tensor | float:
        """Extra loss added to the task's objective during training (L1 or KL on messages, ...)."""
        return 0.0

    # Capabilities: override to expose. Each is documented in the table above.
    def edge_messages(self, batch: Batch) -> Tensor:
        """(E, k): one message vector per edge of ``batch``, in its edge order."""
        raise NotImplementedError

    def node_embeddings(self, batch: Batch) -> Tensor:
        """(N, k): one latent vector per node of ``batch``."""
        raise NotImplementedError

    def interaction(self, r: Tensor, batch: Batch) -> Tensor:
        """(N, R): each particle's learned pair function at the R distances ``r`` (R,)."""
        raise NotImplementedError

    def hidden_field(self, position: Tensor, time: Tensor) -> Tensor:
        """(M,): the learned field at ``position`` (M, d) and ``time`` (M,)."""
        raise NotImplementedError

    def edge_types(self, batch: Batch) -> Tensor:
        """(E, K): each edge's posterior over the K interaction types (rows sum to 1)."""
        raise NotImplementedError

    def equation(self) -> Any:
        """A list of SymPy expressions of the edge function, one per message component."""
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
