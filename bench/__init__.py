"""ParticleBench: a benchmark suite for models that learn interacting particle systems."""

from bench.batch import Batch
from bench.model import CAPABILITIES, Model, TaskSpec

__version__ = "0.1.0"
__all__ = ["CAPABILITIES", "Batch", "Model", "TaskSpec", "__version__"]
