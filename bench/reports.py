"""What every family's reproduction report shares: reading its result records from run folders, grouping
them into one row per experiment, and writing mean ± std over seeds. A family's ``report.py`` builds its
tables from these (``bench report family=<name>``)."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def load_records(roots: Sequence[Path | str], family: str, tasks: Sequence[str], scales: Sequence[str]) -> list[dict]:
    """Every result record of ``family`` under ``roots`` (``result.json`` at any depth) of the given tasks and
    scales, each with its file in ``_path``; unreadable files are skipped."""
    records = []
    for root in roots:
        for path in sorted(Path(root).rglob("result.json")):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if (
                isinstance(record, dict)
                and record.get("task_family") == family
                and record.get("task") in tasks
                and record.get("scale") in scales
            ):
                record["_path"] = str(path)
                records.append(record)
    return records


def experiment(record: dict[str, Any]) -> str:
    """The record's configuration without its seed (``bench.identity.config_id``): one row per experiment."""
    from bench.identity import config_id

    return config_id(record["config"])


def finite(values) -> list[float]:
    """The values that are numbers and finite, as floats."""
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def mean_std(values, scale: float = 1.0, digits: str = ".3g") -> str:
    """Mean ± standard deviation over seeds of the finite values, times ``scale``; "inf" where any value is
    infinite (a diverged seed), "–" when there is none."""
    values = [v for v in values if v is not None]
    if any(isinstance(v, float) and math.isinf(v) for v in values):
        return "inf"
    values = [scale * v for v in finite(values)]
    if not values:
        return "–"
    if len(values) == 1:
        return format(values[0], digits)
    return f"{format(statistics.mean(values), digits)} ± {format(statistics.stdev(values), digits)}"


def grouped(
    records: list[dict[str, Any]], tasks: Sequence[str], models: Sequence[str], scales: Sequence[str]
) -> list[tuple[tuple[str, str, str, str], list[dict[str, Any]]]]:
    """The records by (task, model, scale, experiment), in the order of ``tasks``, ``models`` and ``scales``
    (names not listed follow, alphabetically)."""
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["task"], r["model"], r["scale"], experiment(r)), []).append(r)

    def position(name: str, order: Sequence[str]) -> tuple[int, str]:
        return (list(order).index(name) if name in order else len(order), name)

    def order(key):
        task, model, scale, exp = key
        return (*position(task, tasks), *position(model, models), *position(scale, scales), exp)

    return [(key, groups[key]) for key in sorted(groups, key=order)]


def config_tags(groups: list[tuple[tuple[str, str, str, str], list[dict[str, Any]]]]) -> dict[tuple, str]:
    """Per group key of ``grouped``, the tag that tells its rows apart where one task × model × scale has several
    configurations, else ``""``: the settings in which it differs from the others (`` [hidden=64]``; ``none``
    for a setting it lacks; at most three, the last part of each key), or `` [config abc123]`` when that says
    nothing."""
    from bench.identity import identity_config

    flat: dict[tuple, dict[str, Any]] = {}
    for key, rs in groups:
        flat[key] = _leaves(identity_config(rs[0]["config"], seed=False))
    siblings: dict[tuple[str, str, str], list[tuple]] = {}
    for key, _rs in groups:
        siblings.setdefault(key[:3], []).append(key)
    tags = {}
    for key, _rs in groups:
        others = [k for k in siblings[key[:3]] if k != key]
        if not others:
            tags[key] = ""
            continue
        mine = flat[key]
        paths = set(mine).union(*(flat[o] for o in others))
        differing = sorted(
            p for p in paths if any(flat[o].get(p, "<absent>") != mine.get(p, "<absent>") for o in others)
        )
        shown = [f"{p.rsplit('.', 1)[-1]}={mine.get(p, 'none')}" for p in differing[:3]]
        more = ", ..." if len(differing) > 3 else ""
        tags[key] = f" [{', '.join(shown)}{more}]" if shown else f" [config {key[3][:6]}]"
    return tags


def _leaves(config: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as ``{"a.b.c": leaf}``."""
    if not isinstance(config, dict):
        return {prefix: config}
    out: dict[str, Any] = {}
    for k, v in config.items():
        out |= _leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v}
    return out


def one_per_seed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per seed (the last read), in seed order."""
    return sorted({r["seed"]: r for r in records}.values(), key=lambda r: r["seed"])
