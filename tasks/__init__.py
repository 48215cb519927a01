"""Task definitions: simulators, datasets with fixed splits, task cards and evaluators (``bench.tasks``)."""

from __future__ import annotations

from typing import Any

__all__ = ["load_dataset"]


def __getattr__(name: str) -> Any:
    """``load_dataset`` imported on first use: importing a family (``bench list``) stays light."""
    if name == "load_dataset":
        from bench.tasks.data import load_dataset

        return load_dataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
