"""Family F, force-law recovery (Cranmer et al. 2020): simulators, datasets, batches, evaluator.

The family's contract with the core is ``bench.tasks.forces.family.ForcesFamily``."""

from bench.tasks.forces.evaluator import Evaluator
from bench.tasks.forces.family import ForcesFamily
from bench.tasks.forces.generate import DATA_KEYS, generate
from bench.tasks.forces.loader import ForcesData as TaskData
from bench.tasks.forces.loader import reference_batch_size, task_spec
from bench.tasks.forces.probe import ForceProbe, probe_model
from bench.tasks.forces.probe import plot as plot_probe
from bench.tasks.forces.systems import POTENTIALS, SYSTEMS

__all__ = [
    "ForceProbe",
    "ForcesFamily",
    "plot_probe",
    "probe_model",
    "DATA_KEYS",
    "POTENTIALS",
    "SYSTEMS",
    "Evaluator",
    "TaskData",
    "generate",
    "reference_batch_size",
    "task_spec",
]
