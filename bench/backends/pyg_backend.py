"""PyTorch Geometric backend: PyG's gather (index lifting, as ``MessagePassing`` does) and its
aggregation modules (``torch_geometric.nn.aggr``) for the reduction at the receivers."""

from __future__ import annotations

from torch import Tensor

from bench.backends.base import Backend
from bench.backends.torch_backend import IndexOps
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


class PyGOps(IndexOps):
    """``x_i``/``x_j`` by ``index_select`` on the edge index (what PyG's ``MessagePassing._lift`` does,
    shared with the torch index path), sums and means by PyG's ``SumAggregation``/``MeanAggregation``."""

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
    ops = PyGOps


__all__ = ["PyGBackend", "PyGOps"]
