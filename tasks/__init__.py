"""Task definitions: simulators, datasets with fixed splits, task cards and evaluators (``bench.tasks``)."""

from bench.tasks.data import load_dataset

__all__ = ["load_dataset"]
