"""Family N, n-body rollout (Satorras et al. 2021; Cen et al. 2024): simulator, datasets, batches, evaluators.

The family's contract with the core is ``bench.tasks.nbody.family.NBodyFamily``. The names below are
imported on first use, so that finding the family does not import torch.
"""

from __future__ import annotations

from bench.lazy import lazy_attributes

_LAZY = {
    "DATA_KEYS": ("bench.tasks.nbody.generate", "DATA_KEYS"),
    "Evaluator": ("bench.tasks.nbody.evaluator", "Evaluator"),
    "NBodyFamily": ("bench.tasks.nbody.family", "NBodyFamily"),
    "RolloutEvaluator": ("bench.tasks.nbody.evaluator", "RolloutEvaluator"),
    "TaskData": ("bench.tasks.nbody.loader", "NBodyData"),
    "generate": ("bench.tasks.nbody.generate", "generate"),
    "reference_batch_size": ("bench.tasks.nbody.loader", "reference_batch_size"),
    "task_spec": ("bench.tasks.nbody.loader", "task_spec"),
}
__all__ = list(_LAZY)


__getattr__ = lazy_attributes("bench.tasks.nbody", _LAZY)
