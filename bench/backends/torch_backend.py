"""Pure-PyTorch backend: dense (B, n, ...) tensors for equal-size fully connected graphs, index ops otherwise."""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from bench.backends.base import Backend, GraphOps
from bench.batch import Batch
from bench.pairs import ordered_pairs


@lru_cache(maxsize=16)
def _local_senders(n: int) -> Tensor:
    return torch.from_numpy(ordered_pairs(n)[1].copy())


class DenseOps(GraphOps):
    """B fully connected graphs of n nodes, edges receiver-major: gathers are views and one
    ``index_select`` over the n local nodes; the sum over senders is a reshape and a sum (no scatter)."""

    def __init__(self, batch: Batch):
        super().__init__(batch)
        self.n = int(batch.nodes_per_graph)  # type: ignore[arg-type]
        self.B = batch.num_graphs
        self._send = _local_senders(self.n).to(batch.position.device)

    def receivers(self, x: Tensor) -> Tensor:
        F = x.shape[-1]
        return x.view(self.B, self.n, 1, F).expand(self.B, self.n, self.n - 1, F).reshape(-1, F)

    def senders(self, x: Tensor) -> Tensor:
        F = x.shape[-1]
        return x.view(self.B, self.n, F).index_select(1, self._send).reshape(-1, F)

    def combine(self, at_receivers: Tensor, at_senders: Tensor) -> Tensor:
        F = at_receivers.shape[-1]
        a = at_receivers.view(self.B, self.n, 1, F)
        return (a + self.senders(at_senders).view(self.B, self.n, self.n - 1, F)).view(-1, F)

    def sum_at_receivers(self, messages: Tensor) -> Tensor:
        F = messages.shape[-1]
        return messages.view(self.B, self.n, self.n - 1, F).sum(2).reshape(-1, F)

    def degree(self) -> Tensor:
        return self.batch.position.new_full((self.B * self.n, 1), float(self.n - 1))


class IndexOps(GraphOps):
    """Any graph: ``index_select`` to gather, ``index_add_`` to scatter."""

    def __init__(self, batch: Batch):
        super().__init__(batch)
        self.send, self.recv = batch.edge_index[0], batch.edge_index[1]
        self._degree: Tensor | None = None

    def receivers(self, x: Tensor) -> Tensor:
        return x.index_select(0, self.recv)

    def senders(self, x: Tensor) -> Tensor:
        return x.index_select(0, self.send)

    def sum_at_receivers(self, messages: Tensor) -> Tensor:
        out = messages.new_zeros(self.batch.num_nodes, messages.shape[-1])
        return out.index_add_(0, self.recv, messages)

    def degree(self) -> Tensor:
        if self._degree is None:
            ones = self.batch.position.new_ones(self.recv.shape[0], 1)
            self._degree = self.sum_at_receivers(ones)
        return self._degree


class TorchBackend(Backend):
    name = "torch"
    ops = IndexOps

    def ops_for(self, batch: Batch) -> type[GraphOps]:
        return DenseOps if batch.nodes_per_graph else IndexOps
