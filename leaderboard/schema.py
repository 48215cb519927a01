"""The result-record schema (version ``bench.records.SCHEMA_VERSION``): which fields, of which types.

``check_record(record) -> [(field, reason), ...]``, empty when the record is valid. Used by the store
(records that fail are listed, not shown) and by ``bench submit`` (records that fail are rejected).
"""

from __future__ import annotations

import math
from typing import Any

from bench.records import REQUIRED_FIELDS, SCHEMA_VERSION

SUPPORTED_SCHEMA_VERSIONS = (1,)
CONFIG_SECTIONS = ("task", "model", "backend", "scale", "seed")
"""What a full run configuration has at least (``bench run --cfg`` prints it)."""

_NUMBER = (int, float)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, _NUMBER) and not isinstance(v, bool)


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v)


FIELD_TYPES: dict[str, tuple[Any, str]] = {
    "schema_version": (_is_int, "an integer"),
    "task": (_is_str, "a non-empty string"),
    "task_version": (_is_int, "an integer"),
    "scale": (_is_str, "a non-empty string"),
    "data_checksum": (lambda v: isinstance(v, str) and v.startswith("sha256:"), "a string 'sha256:<hex>'"),
    "model": (_is_str, "a non-empty string"),
    "model_version": (_is_int, "an integer"),
    "backend": (_is_str, "a non-empty string"),
    "device": (_is_str, "a non-empty string"),
    "seed": (_is_int, "an integer"),
    "metrics": (lambda v: isinstance(v, dict) and bool(v), "a non-empty mapping of metric names to numbers"),
    "primary_metric": (_is_str, "a non-empty string"),
    "predictions": (lambda v: isinstance(v, dict), "a mapping with 'file' and 'sha256'"),
    "n_parameters": (lambda v: _is_int(v) and v >= 0, "a non-negative integer"),
    "train_time_s": (lambda v: _is_number(v) and v >= 0, "a non-negative number"),
    "config": (lambda v: isinstance(v, dict), "a mapping (the full run configuration)"),
    "environment": (lambda v: isinstance(v, dict), "a mapping"),
}
assert set(FIELD_TYPES) == set(REQUIRED_FIELDS), "the schema must cover bench.records.REQUIRED_FIELDS"

OPTIONAL_TYPES: dict[str, tuple[Any, str]] = {
    "lower_is_better": (lambda v: isinstance(v, bool), "true or false"),
    "training": (lambda v: isinstance(v, dict), "a mapping"),
    "probes": (lambda v: isinstance(v, dict), "a mapping"),
    "capabilities": (lambda v: isinstance(v, list), "a list"),
    "precision": (lambda v: v in ("fp32", "bf16"), "'fp32' or 'bf16'"),
}


def check_record(record: Any) -> list[tuple[str, str]]:
    """Every problem of a record as (field, reason); an empty list for a valid record."""
    if not isinstance(record, dict):
        return [("record", f"must be a JSON object, not {type(record).__name__}")]
    errors: list[tuple[str, str]] = []
    version = record.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        supported = ", ".join(map(str, SUPPORTED_SCHEMA_VERSIONS))
        reason = f"{version!r} is not a supported schema version (supported: {supported}; current: {SCHEMA_VERSION})"
        errors.append(("schema_version", reason))
        return errors
    for field in REQUIRED_FIELDS:
        if field not in record:
            errors.append((field, "missing"))
            continue
        ok, kind = FIELD_TYPES[field]
        if not ok(record[field]):
            errors.append((field, f"must be {kind}, got {record[field]!r:.60}"))
    for field, (ok, kind) in OPTIONAL_TYPES.items():
        if field in record and not ok(record[field]):
            errors.append((field, f"must be {kind}, got {record[field]!r:.60}"))
    if errors:
        return errors
    for name, value in record["metrics"].items():
        if not _is_number(value):
            errors.append((f"metrics.{name}", f"must be a number, got {value!r:.60}"))
    primary = record["primary_metric"]
    if primary not in record["metrics"]:
        errors.append(("primary_metric", f"'{primary}' is not among the metrics ({', '.join(record['metrics'])})"))
    elif _is_number(record["metrics"][primary]) and not math.isfinite(record["metrics"][primary]):
        errors.append((f"metrics.{primary}", f"the primary metric is {record['metrics'][primary]}, not finite"))
    for key in ("file", "sha256"):
        if not _is_str(record["predictions"].get(key)):
            errors.append((f"predictions.{key}", "missing"))
    config = record["config"]
    missing = [s for s in CONFIG_SECTIONS if s not in config]
    if missing:
        errors.append(("config", f"not the full run configuration: no {', '.join(missing)}"))
    else:
        for field, value in (
            ("task", _get(config, "task", "name")),
            ("model", _get(config, "model", "name")),
            ("scale", _get(config, "scale", "name")),
            ("seed", config.get("seed")),
        ):
            if value != record[field]:
                errors.append((f"config.{field}", f"says {value!r} but the record's {field} is {record[field]!r}"))
    return errors


def _get(config: dict, section: str, key: str) -> Any:
    value = config.get(section)
    return value.get(key) if isinstance(value, dict) else None


def format_errors(errors: list[tuple[str, str]]) -> str:
    return "; ".join(f"{field}: {reason}" for field, reason in errors)
