"""Result records: one schema-versioned JSON file per run, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.io import atomic_write_text

SCHEMA_VERSION = 2
"""Version of the result record: ``bench.leaderboard.schema.ResultRecord`` declares its fields."""
RECORD_NAME = "result.json"
PREDICTIONS_NAME = "predictions.npz"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
"""Every name that becomes a path (a model, a task, a card's name): lower case letters, digits, '_', '.', '-',
starting with a letter or digit (so never '..', never a '/'). Used by ``bench.loading``, the record schema and
``bench submit``."""


def __getattr__(name: str) -> Any:
    if name == "REQUIRED_FIELDS":  # the record's required fields, from the schema (imported lazily: pydantic)
        from bench.leaderboard.schema import ResultRecord

        return tuple(k for k, f in ResultRecord.model_fields.items() if f.is_required())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def write_record(path: Path, record: dict[str, Any]) -> Path:
    """Write a result record; an invalid one is never written (ValueError naming each problem)."""
    from bench.leaderboard.schema import check_record, format_errors

    errors = check_record(record)
    if errors:
        raise ValueError(f"not writing an invalid result record to {path}: {format_errors(errors)}")
    return atomic_write_text(path, json.dumps(record, indent=1) + "\n")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def environment(device: str) -> dict[str, Any]:
    """Python, library versions, machine and device, for the record."""
    import numpy
    import omegaconf
    import torch

    try:
        import hydra

        hydra_version = hydra.__version__
    except ImportError:  # pragma: no cover
        hydra_version = None
    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": numpy.__version__,
        "hydra": hydra_version,
        "omegaconf": omegaconf.__version__,
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        env["device_name"] = torch.cuda.get_device_name(torch.device(device))
    return env


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
