"""ParticleBench: a benchmark suite for models that learn interacting particle systems."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.lazy import lazy_attributes

__version__ = "0.1.0"
__all__ = ["CAPABILITIES", "Batch", "Model", "TaskSpec", "__version__"]

# The model API is imported on first use, so that `import bench.leaderboard` (the app, `bench results`)
# does not pay for importing torch.
_LAZY = {
    name: (module, name)
    for name, module in (
        ("Batch", "bench.batch"),
        ("CAPABILITIES", "bench.model"),
        ("Model", "bench.model"),
        ("TaskSpec", "bench.model"),
    )
}

if TYPE_CHECKING:
    from bench.batch import Batch
    from bench.model import CAPABILITIES, Model, TaskSpec


__getattr__ = lazy_attributes("bench", _LAZY)
