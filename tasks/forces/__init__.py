"""Family F, force-law recovery (Cranmer et al. 2020): simulators, datasets, batches, evaluator.

The family's contract with the core is ``bench.tasks.forces.family.ForcesFamily``. The names below are
imported on first use, so that finding the family (configuration, the store, the app) does not import
torch.
"""

from __future__ import annotations

from bench.lazy import lazy_attributes

_LAZY = {
    "ForceProbe": ("bench.tasks.forces.probe", "ForceProbe"),
    "ForcesFamily": ("bench.tasks.forces.family", "ForcesFamily"),
    "plot_probe": ("bench.tasks.forces.probe", "plot"),
    "probe_model": ("bench.tasks.forces.probe", "probe_model"),
    "DATA_KEYS": ("bench.tasks.forces.generate", "DATA_KEYS"),
    "POTENTIALS": ("bench.tasks.forces.systems", "POTENTIALS"),
    "SYSTEMS": ("bench.tasks.forces.systems", "SYSTEMS"),
    "Evaluator": ("bench.tasks.forces.evaluator", "Evaluator"),
    "TaskData": ("bench.tasks.forces.loader", "ForcesData"),
    "generate": ("bench.tasks.forces.generate", "generate"),
    "reference_batch_size": ("bench.tasks.forces.loader", "reference_batch_size"),
    "task_spec": ("bench.tasks.forces.loader", "task_spec"),
}
__all__ = list(_LAZY)


__getattr__ = lazy_attributes("bench.tasks.forces", _LAZY)
