"""Family N, n-body rollout (Satorras et al. 2021; Cen et al. 2024): simulator, datasets, batches, evaluators.

The family's contract with the core is ``bench.tasks.nbody.family.NBodyFamily``."""

from bench.tasks.nbody.evaluator import Evaluator, RolloutEvaluator
from bench.tasks.nbody.family import NBodyFamily
from bench.tasks.nbody.generate import DATA_KEYS, generate
from bench.tasks.nbody.loader import NBodyData as TaskData
from bench.tasks.nbody.loader import reference_batch_size, task_spec

__all__ = [
    "DATA_KEYS",
    "Evaluator",
    "NBodyFamily",
    "RolloutEvaluator",
    "TaskData",
    "generate",
    "reference_batch_size",
    "task_spec",
]
