"""The message-passing interface every baseline is written against (one implementation per backend)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import replace

from torch import Tensor

from bench.batch import Batch


class GraphOps(ABC):
    """Gather and scatter over one batch's edges (messages flow from senders j to receivers i).

    Shapes: node tensors (N, F), edge tensors (E, F), in the batch's edge order.
    """

    def __init__(self, batch: Batch):
        self.batch = batch

    @abstractmethod
    def receivers(self, x: Tensor) -> Tensor:
        """x_i for every edge: (N, F) → (E, F)."""

    @abstractmethod
    def senders(self, x: Tensor) -> Tensor:
        """x_j for every edge: (N, F) → (E, F)."""

    @abstractmethod
    def sum_at_receivers(self, messages: Tensor) -> Tensor:
        """Σ_j m_ij for every receiver i: (E, F) → (N, F)."""

    @abstractmethod
    def degree(self) -> Tensor:
        """Incoming edges per node: (N, 1), float."""

    def mean_at_receivers(self, messages: Tensor) -> Tensor:
        """Mean over the incoming edges (0 for a node without any): (E, F) → (N, F)."""
        return self.sum_at_receivers(messages) / self.degree().clamp(min=1)

    def combine(self, at_receivers: Tensor, at_senders: Tensor) -> Tensor:
        """a_i + b_j for every edge: two (N, F) → (E, F). A linear layer on ``[x_i, x_j]`` is
        ``combine(W_1 x, W_2 x)``, computed on N nodes instead of E edges."""
        return self.receivers(at_receivers) + self.senders(at_senders)

    def relative_position(self, position: Tensor) -> Tensor:
        """x_i - x_j for every edge (plus the periodic shift, if any): (N, d) → (E, d)."""
        delta = self.receivers(position) - self.senders(position)
        if self.batch.edge_shift is not None:
            delta = delta + self.batch.edge_shift
        return delta


class Backend:
    """A message-passing library: binds its ``GraphOps`` to batches."""

    name: str
    ops: type[GraphOps]

    def ops_for(self, batch: Batch) -> type[GraphOps]:
        return self.ops

    def bind(self, batch: Batch) -> Batch:
        """A copy of the batch with ``batch.ops`` set to this backend's operations over its edges."""
        bound = replace(batch)
        bound.ops = self.ops_for(batch)(bound)
        return bound
