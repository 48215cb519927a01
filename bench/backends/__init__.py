"""Message-passing backends: every baseline's gather/scatter goes through one of these.

``torch`` (pure PyTorch) ships with the core. PyTorch Geometric and DGL backends plug in here too
(imported only when selected). ``auto`` picks the fastest installed backend.
"""

from __future__ import annotations

from bench.backends.base import Backend, GraphOps
from bench.errors import unknown

AVAILABLE = ("torch",)


def get_backend(name: str) -> Backend:
    """The backend called ``name`` (``auto``: the fastest installed one)."""
    if name in ("auto", "torch"):
        from bench.backends.torch_backend import TorchBackend

        return TorchBackend()
    raise unknown("backend", name, ("auto", *AVAILABLE))


__all__ = ["AVAILABLE", "Backend", "GraphOps", "get_backend"]
