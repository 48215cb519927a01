"""The published reference numbers (``references.yaml``): one table for the task pages and the reproduction reports.

    references()                           every row, as a DataFrame (columns: ``COLUMNS``)
    for_task("spring")                     the rows of one task
    lookup("spring", "gnn", "loss_sum")    one published value, or None

The file is validated when it is read (required keys, no unknown key, one row per (task, model, metric,
n_particles, dim), a number for every metric but the marks of ``TEXT_METRICS``); each error names the row.
Reading is cached per path. No torch here: the app and ``bench results`` import this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from bench.errors import BenchError

REFERENCES = Path(__file__).resolve().parent / "references.yaml"
REQUIRED = ("task", "model", "metric", "value", "source", "definition")
OPTIONAL = ("scale", "n_particles", "dim")
COLUMNS = REQUIRED + OPTIONAL
KEY = ("task", "model", "metric", "n_particles", "dim")
TEXT_METRICS = frozenset({"recovery"})
"""Metrics whose published values are marks (``✓/✗``) rather than numbers."""
SCALES = ("tiny", "quick", "paper")


class InvalidReferences(BenchError):
    """A row of the reference table that breaks its format; the message names the row."""


def _name(i: int, row: Any) -> str:
    if not isinstance(row, Mapping):
        return f"row {i}"
    return f"row {i} ({' / '.join(str(row.get(k, '?')) for k in ('task', 'model', 'metric'))})"


def _check(i: int, row: Any, where: str) -> dict[str, Any]:
    def fail(why: str) -> InvalidReferences:
        return InvalidReferences(f"{where}, {_name(i, row)}: {why}")

    if not isinstance(row, Mapping):
        raise fail(f"expected a mapping with keys {', '.join(REQUIRED)}, got {type(row).__name__}")
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise fail(f"missing key(s) {', '.join(repr(k) for k in missing)}")
    extra = sorted(str(k) for k in row if k not in COLUMNS)
    if extra:
        raise fail(f"unknown key(s) {', '.join(repr(k) for k in extra)}; valid: {', '.join(COLUMNS)}")
    for k in ("task", "model", "metric", "source", "definition"):
        if not isinstance(row[k], str) or not row[k].strip():
            raise fail(f"'{k}' must be a non-empty string, got {row[k]!r}")
    value = row["value"]
    if row["metric"] in TEXT_METRICS:
        if not isinstance(value, str) or not value.strip():
            raise fail(f"the value of metric '{row['metric']}' must be a mark (a string), got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(f"the value of metric '{row['metric']}' must be a finite number, got {value!r}")
    for k in ("n_particles", "dim"):
        v = row.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise fail(f"'{k}' must be a positive integer, got {v!r}")
    if row.get("scale") is not None and row["scale"] not in SCALES:
        raise fail(f"unknown scale {row['scale']!r}; valid: {', '.join(SCALES)}")
    return {k: row.get(k) for k in COLUMNS}


def validate(rows: Any, where: str = "references") -> list[dict[str, Any]]:
    """The rows with every column (absent optional ones as None), or an error naming the first bad row."""
    if not isinstance(rows, list):
        raise InvalidReferences(f"{where}: expected a list of rows, got {type(rows).__name__}")
    checked: list[dict[str, Any]] = []
    seen: dict[tuple, int] = {}
    for i, row in enumerate(rows, 1):
        checked.append(_check(i, row, where))
        key = tuple(checked[-1][k] for k in KEY)
        if key in seen:
            shown = ", ".join(f"{k}={v}" for k, v in zip(KEY, key, strict=True) if v is not None)
            raise InvalidReferences(f"{where}, {_name(i, row)}: duplicate of row {seen[key]} ({shown})")
        seen[key] = i
    return checked


@cache
def _rows(path: Path) -> tuple[dict[str, Any], ...]:
    return tuple(validate(yaml.safe_load(path.read_text(encoding="utf-8")), where=path.name))


@cache
def _frame(path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(list(_rows(path)), columns=list(COLUMNS))
    frame["value"] = pd.Series([r["value"] for r in _rows(path)], dtype=object)  # numbers stay numbers
    for k in ("n_particles", "dim"):
        frame[k] = frame[k].astype("Int64")
    return frame


def _path(path: str | Path | None) -> Path:
    return Path(path if path is not None else REFERENCES).resolve()


def references(path: str | Path | None = None) -> pd.DataFrame:
    """Every published number (a copy; the file is read and validated once per path)."""
    return _frame(_path(path)).copy()


def for_task(task: str, path: str | Path | None = None) -> pd.DataFrame:
    refs = references(path)
    return refs[refs["task"] == task].reset_index(drop=True)


def lookup(
    task: str,
    model: str,
    metric: str,
    *,
    n_particles: int | None = None,
    dim: int | None = None,
    path: str | Path | None = None,
) -> float | str | None:
    """The published value of (task, model, metric), or None. A row that states no ``n_particles``
    (``dim``) matches any; where several rows match, give ``n_particles``/``dim`` to choose."""
    want = {"task": task, "model": model, "metric": metric, "n_particles": n_particles, "dim": dim}
    rows = [r for r in _rows(_path(path)) if all(r[k] is None or v is None or r[k] == v for k, v in want.items())]
    if len(rows) > 1:
        sizes = "; ".join(f"n_particles={r['n_particles']}, dim={r['dim']}" for r in rows)
        raise InvalidReferences(
            f"{task} / {model} / {metric}: {len(rows)} published values ({sizes}); give n_particles and dim"
        )
    return rows[0]["value"] if rows else None
