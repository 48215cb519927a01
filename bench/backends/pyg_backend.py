"""PyTorch Geometric backend: PyG's gather (index lifting, as ``MessagePassing`` does) and its
aggregation modules (``torch_geometric.nn.aggr``) for the reduction at the receivers."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from bench.backends.base import Backend, GraphOps
from bench.batch import Batch
from bench.errors import BenchError

try:
    from torch_geometric.nn.aggr import MeanAggregation, SumAggregation
    from torch_geometric.utils import degree as pyg_degree
except ImportError as e:  # pragma: no cover - exercised where PyG is absent
    raise BenchError(
        f"backend 'pyg' needs PyTorch Geometric, which cannot be imported here ({e}); install it with: "
        'pip install torch==2.13.0 -e ".[pyg]"'
    ) from None

_SUM, _MEAN = SumAggregation(), MeanAggregation()


class PyGOps(GraphOps):
    """``x_i``/``x_j`` by ``index_select`` on the edge index (PyG's ``MessagePassing._lift``), sums and
    means by PyG's ``SumAggregation``/``MeanAggregation`` over the receivers."""

    def __init__(self, batch: Batch):
        super().__init__(batch)
        self.send, self.recv = batch.edge_index[0], batch.edge_index[1]
        self._degree: Tensor | None = None

    def receivers(self, x: Tensor) -> Tensor:
        return x.index_select(0, self.recv)

    def senders(self, x: Tensor) -> Tensor:
        return x.index_select(0, self.send)

    def sum_at_receivers(self, messages: Tensor) -> Tensor:
        return _SUM(messages, index=self.recv, dim_size=self.batch.num_nodes, dim=0)

    def mean_at_receivers(self, messages: Tensor) -> Tensor:
        return _MEAN(messages, index=self.recv, dim_size=self.batch.num_nodes, dim=0)

    def degree(self) -> Tensor:
        if self._degree is None:
            deg = pyg_degree(self.recv, self.batch.num_nodes, dtype=self.batch.position.dtype)
            self._degree = deg.unsqueeze(-1)
        return self._degree


class PyGBackend(Backend):
    name = "pyg"

    def bind(self, batch: Batch) -> Batch:
        bound = replace(batch)
        bound.ops = PyGOps(bound)
        return bound


__all__ = ["PyGBackend", "PyGOps", "torch"]
