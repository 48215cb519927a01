"""Message-passing backends: every baseline's gather/scatter goes through one of these.

==========  ==================================================================  =========================
backend     machinery                                                           install
==========  ==================================================================  =========================
``torch``   pure PyTorch: dense (B, n, ...) tensors for equal-size fully        always
            connected graphs (no scatter at all), index_select/index_add_ else
``pyg``     PyTorch Geometric: index lifting and ``torch_geometric.nn.aggr``    ``.[pyg]``
``dgl``     DGL: ``apply_edges`` / ``update_all`` with ``dgl.function``         ``.[dgl]``
==========  ==================================================================  =========================

``auto`` (the default) picks the first installed backend of ``AUTO_ORDER``: the measurements of
``benchmarks/step_times.py`` found one order fastest for every model and graph kind measured.
A backend's library is imported only when that backend is used.
"""

from __future__ import annotations

import importlib
import importlib.util

from bench.backends.base import Backend, GraphOps
from bench.errors import BenchError, unknown

BACKENDS = {
    "torch": ("bench.backends.torch_backend", "TorchBackend", "torch"),
    "pyg": ("bench.backends.pyg_backend", "PyGBackend", "torch_geometric"),
    "dgl": ("bench.backends.dgl_backend", "DGLBackend", "dgl"),
}
INSTALL = {"pyg": 'pip install torch==2.13.0 -e ".[pyg]"', "dgl": 'pip install torch==2.13.0 -e ".[dgl]"'}

AUTO_ORDER = ("torch", "pyg", "dgl")
"""Fastest first. Measured with ``python -m benchmarks.step_times`` on the 2-core CPU machine
(training step, ms; torch / pyg / dgl): egnn fully connected 64 x 4: 5.49 / 5.52 / 8.57; egnn sparse
2000 nodes: 107.6 / 108.4 / 107.2; gnn fully connected 64 x 4: 8.44 / 8.28 / 8.63; gnn sparse:
383 / 382 / 391. torch is the fastest or within 2 % of it for every model and graph kind, and needs
no extra library, so one order serves both kinds."""


def installed() -> tuple[str, ...]:
    """The backends whose library is installed (not imported: that happens on first use)."""
    return tuple(name for name, (_, _, lib) in BACKENDS.items() if importlib.util.find_spec(lib) is not None)


def resolve(name: str) -> str:
    """``auto`` → the fastest installed backend; any other name is checked and returned."""
    if name == "auto":
        available = installed()
        return next(b for b in AUTO_ORDER if b in available)
    if name not in BACKENDS:
        raise unknown("backend", name, ("auto", *BACKENDS))
    if importlib.util.find_spec(BACKENDS[name][2]) is None:
        raise BenchError(f"backend '{name}' needs {BACKENDS[name][2]}, which is not installed; install it with: "
                         f"{INSTALL[name]}")  # fmt: skip
    return name


def get_backend(name: str) -> Backend:
    """The backend called ``name`` (``auto``: the fastest installed one)."""
    module, cls, _ = BACKENDS[resolve(name)]
    return getattr(importlib.import_module(module), cls)()


__all__ = ["AUTO_ORDER", "BACKENDS", "Backend", "GraphOps", "get_backend", "installed", "resolve"]
