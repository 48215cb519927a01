"""ParticleBench: a benchmark suite for models that learn interacting particle systems."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["CAPABILITIES", "Batch", "Model", "TaskSpec", "__version__"]

# The model API is imported on first use, so that `import bench.leaderboard` (the app, `bench results`)
# does not pay for importing torch.
_LAZY = {"Batch": "bench.batch", "CAPABILITIES": "bench.model", "Model": "bench.model", "TaskSpec": "bench.model"}

if TYPE_CHECKING:
    from bench.batch import Batch
    from bench.model import CAPABILITIES, Model, TaskSpec


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bench' has no attribute '{name}'")
