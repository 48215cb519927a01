"""The published reference numbers (``references.yaml``, from DESIGN.md), as a table for the task pages."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import yaml

REFERENCES = Path(__file__).resolve().parent / "references.yaml"


@cache
def references() -> pd.DataFrame:
    rows = yaml.safe_load(REFERENCES.read_text())
    return pd.DataFrame(rows, columns=["task", "model", "metric", "value", "source"])


def for_task(task: str) -> pd.DataFrame:
    refs = references()
    return refs[refs["task"] == task].reset_index(drop=True)
