"""DGL backend: DGL graphs with ``apply_edges`` / ``update_all`` and built-in message and reduce
functions (``dgl.function``).

DGL 2.1 (the newest release on the registry) ships ``dgl.graphbolt``, a data-loading subpackage
built only for torch ≤ 2.2.1 that fails to import on newer torch and takes ``import dgl`` down with
it. The message-passing kernels this backend uses do not need it, so ``import_dgl`` keeps graphbolt
from loading (an empty stand-in module) when, and only when, the real one cannot be imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from functools import lru_cache

from torch import Tensor

from bench.backends.base import Backend, GraphOps
from bench.batch import Batch
from bench.errors import BenchError

INSTALL_HINT = 'pip install torch==2.13.0 -e ".[dgl]"'


def import_dgl():
    """``import dgl``, working around an incompatible ``dgl.graphbolt``; a clear error if DGL is absent."""
    if "dgl" in sys.modules:
        return sys.modules["dgl"]
    try:
        import dgl  # noqa: F401

        return sys.modules["dgl"]
    except ImportError as e:
        if importlib.util.find_spec("dgl") is None:
            raise BenchError(
                f"backend 'dgl' needs DGL, which is not installed; install it with: {INSTALL_HINT}"
            ) from None
        first_error = e
    for name in [m for m in sys.modules if m == "dgl" or m.startswith("dgl.")]:
        del sys.modules[name]  # forget the half-imported package
    stub = types.ModuleType("dgl.graphbolt")
    stub.__path__ = []  # a package with nothing in it
    stub.__doc__ = "stand-in: the real graphbolt is built for an older torch (see bench.backends.dgl_backend)"
    sys.modules["dgl.graphbolt"] = stub
    try:
        import dgl  # noqa: F401
    except ImportError as e:
        del sys.modules["dgl.graphbolt"]
        raise BenchError(
            f"DGL is installed but cannot be imported ({first_error}; without graphbolt: {e}); "
            f"reinstall it with: {INSTALL_HINT}"
        ) from None
    return sys.modules["dgl"]


dgl = import_dgl()
fn = importlib.import_module("dgl.function")
dgl_ops = importlib.import_module("dgl.ops")


@lru_cache(maxsize=32)
def _fully_connected_graph(num_graphs: int, n: int, device: str):
    from bench.batch import fully_connected

    edge_index, _ = fully_connected(num_graphs, n, device)
    return dgl.graph((edge_index[0], edge_index[1]), num_nodes=num_graphs * n, device=device)


def to_dgl(batch: Batch):
    """The batch's edges as a DGL graph (edge k of the batch is DGL edge k); cached for fully
    connected batches."""
    if batch.nodes_per_graph:
        return _fully_connected_graph(batch.num_graphs, batch.nodes_per_graph, str(batch.position.device))
    return dgl.graph((batch.edge_index[0], batch.edge_index[1]), num_nodes=batch.num_nodes)


class DGLOps(GraphOps):
    """Gathers with ``apply_edges(copy_u / v_sub_u)`` (and ``dgl.ops.copy_v``), sums and means with
    ``update_all(copy_e, sum / mean)``."""

    def __init__(self, batch: Batch):
        super().__init__(batch)
        self.graph = to_dgl(batch)

    def _edges(self, func, x: Tensor) -> Tensor:
        g = self.graph
        with g.local_scope():
            g.ndata["x"] = x
            g.apply_edges(func)
            return g.edata["e"]

    def receivers(self, x: Tensor) -> Tensor:
        # dgl.function has no copy_v message function; dgl.ops.copy_v is the same g-SDDMM kernel
        # that apply_edges lowers its built-ins to.
        return dgl_ops.copy_v(self.graph, x)

    def senders(self, x: Tensor) -> Tensor:
        return self._edges(fn.copy_u("x", "e"), x)

    def combine(self, at_receivers: Tensor, at_senders: Tensor) -> Tensor:
        g = self.graph
        with g.local_scope():
            g.ndata["a"], g.ndata["b"] = at_receivers, at_senders
            g.apply_edges(fn.v_add_u("a", "b", "e"))
            return g.edata["e"]

    def relative_position(self, position: Tensor) -> Tensor:
        delta = self._edges(fn.v_sub_u("x", "x", "e"), position)
        if self.batch.edge_shift is not None:
            delta = delta + self.batch.edge_shift
        return delta

    def _reduce(self, reducer, messages: Tensor) -> Tensor:
        g = self.graph
        with g.local_scope():
            g.edata["m"] = messages
            g.update_all(fn.copy_e("m", "m"), reducer("m", "h"))
            return g.ndata["h"]

    def sum_at_receivers(self, messages: Tensor) -> Tensor:
        return self._reduce(fn.sum, messages)

    def mean_at_receivers(self, messages: Tensor) -> Tensor:
        return self._reduce(fn.mean, messages)

    def degree(self) -> Tensor:
        return self.graph.in_degrees().unsqueeze(-1).to(self.batch.position.dtype)


class DGLBackend(Backend):
    name = "dgl"
    ops = DGLOps


__all__ = ["DGLBackend", "DGLOps", "import_dgl", "to_dgl"]
