"""What the leaderboard says about every task, records or not: its card, its metric table, its trivial baseline.

    tasks()                   task name → ``TaskInfo`` for every task of every registered family
    trivial_value(...)        the trivial baseline's figure of one metric, read from the records

A task's description is the comment block that opens its card (``conf/task/<name>.yaml``), its family's the
one that opens ``conf/family/<family>.yaml``; the card's values are the family's keys overridden by the task's
(read from the YAML files directly: no Hydra, the overview stays fast). The metrics (direction, units,
definition) are the family's official evaluator's ``metric_table``.

The trivial baseline of each family is named here, never given as a number: its figure is read from the
records (a metric the evaluator computes for every run, such as family F's ``zero_mae``, or the records of a
trivial baseline model, such as ``copy-last``). Without such records a task has no trivial row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

SCALES = ("tiny", "quick", "paper")


@dataclass(frozen=True)
class Trivial:
    """A family's trivial baseline: ``label`` (what it predicts); ``metrics``: metric → the metric column of
    every record that holds the trivial figure (family F: ``mae`` → ``zero_mae``); ``model``: a baseline model
    whose records are the trivial row."""

    label: str
    metrics: dict[str, str] = field(default_factory=dict)
    model: str | None = None


TRIVIAL = {
    "forces": Trivial("predict zero acceleration", metrics={"mae": "zero_mae"}),
    "nbody": Trivial("copy the last frame (the copy-last baseline)", model="copy-last"),
    "relational": Trivial("copy the last frame; uniform edge posterior: chance (the static baseline)", model="static"),
    "heterogeneous": Trivial(
        "nobody moves; one cluster: chance types (the zero-velocity baseline)", model="zero-velocity"
    ),  # fmt: skip
}
"""The trivial baseline of each family (a family not named here has none)."""

FAMILY_UNITS = {"forces": "simulations", "nbody": "trajectories", "relational": "simulations"}
"""What the first axis of a family's test target indexes: the unit a paired comparison resamples."""


@dataclass(frozen=True)
class MetricInfo:
    name: str
    lower_is_better: bool
    description: str
    units: str

    @property
    def arrow(self) -> str:
        return "↓" if self.lower_is_better else "↑"


@dataclass(frozen=True)
class TaskInfo:
    name: str
    family: str
    about: str
    family_about: str
    card: dict[str, Any]
    metrics: tuple[MetricInfo, ...]

    @property
    def primary(self) -> str:
        return str(self.card.get("primary_metric", ""))

    @property
    def trivial(self) -> Trivial | None:
        return TRIVIAL.get(self.family)

    def metric(self, name: str) -> MetricInfo | None:
        """The metric table's row of ``name`` (a ``{k}`` row matches ``mse_h10``)."""
        import re

        for m in self.metrics:
            if m.name == name or ("{k}" in m.name and re.fullmatch(re.escape(m.name).replace(r"\{k\}", r"\d+"), name)):
                return m
        return None

    @property
    def summary(self) -> str:
        """The first sentence of the description."""
        import re

        text = self.about or self.family_about
        return re.split(r"(?<!al)(?<!e\.g)\.\s+(?=[A-Z0-9])", text)[0].rstrip(".") + "." if text else ""


def _header(path: Path) -> str:
    """The comment block that opens a YAML file, as one paragraph."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(x for x in lines if x)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class _Card(dict):
    """A card read as attributes (``card.n_particles``), as an evaluator reads it: no OmegaConf needed."""

    def __getattr__(self, key: str) -> Any:
        try:
            value = self[key]
        except KeyError:
            raise AttributeError(key) from None
        return _Card(value) if isinstance(value, dict) else value


def _load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


_FAMILY_METRICS: dict[str, tuple[MetricInfo, ...]] = {}


def _metrics(family, card: dict) -> tuple[MetricInfo, ...]:
    """The family's metric table (a class attribute of its evaluator: the same for all its tasks)."""
    if family.name in _FAMILY_METRICS:
        return _FAMILY_METRICS[family.name]
    try:
        table = family.evaluator(_Card(card)).metric_table
    except Exception:  # an evaluator that needs more than the card: the records' own tables are used instead
        return ()
    _FAMILY_METRICS[family.name] = tuple(MetricInfo(m.name, m.lower_is_better, m.description, m.units) for m in table)
    return _FAMILY_METRICS[family.name]


def _described(family, card: dict) -> str:
    """The family's own description of a task: ``describe_task(card)`` of its ``app`` module, where it has one."""
    import importlib

    package = type(family).__module__.rpartition(".")[0]
    if not package:  # a family in a top-level module: no app module beside it
        return ""
    try:
        describe = getattr(importlib.import_module(f"{package}.app"), "describe_task", None)
    except Exception:  # no app module (ImportError), or one that fails to import: the card's comment is used
        return ""
    try:
        return str(describe(card)) if describe else ""
    except Exception:  # a description is never worth a broken page
        return ""


def tasks() -> dict[str, TaskInfo]:
    """Every task of every registered family, sorted by family then name (read once per set of families)."""
    from bench.family import family_names

    return _tasks(tuple(family_names()))


@cache
def _tasks(names: tuple[str, ...]) -> dict[str, TaskInfo]:
    from bench.family import get_family

    families = [get_family(n) for n in names]
    out: dict[str, TaskInfo] = {}
    for fam in sorted(families, key=lambda f: f.name):
        conf = Path(fam.conf_dir)
        fam_file = conf / "family" / f"{fam.name}.yaml"
        base = _load(fam_file) if fam_file.is_file() else {}
        fam_about = _header(fam_file).split(": what every")[0] if fam_file.is_file() else ""
        for name in sorted(fam.tasks()):
            path = conf / "task" / f"{name}.yaml"
            own = _load(path) or {}
            own.pop("defaults", None)
            card = _merge(base or {}, own)
            about = _described(fam, card) or _header(path)
            out[name] = TaskInfo(name, fam.name, about, fam_about, card, _metrics(fam, card))
    return out


def metrics_from_records(rows: pd.DataFrame) -> tuple[MetricInfo, ...]:
    """A metric table from the records' direction columns (for a task outside the registered families)."""
    from bench.leaderboard.store import DIRECTION_PREFIX

    return tuple(MetricInfo(c[len(DIRECTION_PREFIX):], bool(rows[c].dropna().iloc[0]) if rows[c].notna().any()
                            else True, "", "") for c in rows.columns if c.startswith(DIRECTION_PREFIX))  # fmt: skip


def trivial_value(family: str, metric: str, rows: pd.DataFrame) -> tuple[float, float, int] | None:
    """(mean, std, seeds) of the trivial baseline on ``metric`` over the records ``rows`` (one task and scale),
    or None where the records hold no such figure."""
    from bench.leaderboard.store import METRIC_PREFIX

    spec = TRIVIAL.get(family)
    if spec is None or rows.empty:
        return None
    if metric in spec.metrics and METRIC_PREFIX + spec.metrics[metric] in rows.columns:
        values = rows[METRIC_PREFIX + spec.metrics[metric]].dropna()
    elif spec.model is not None and METRIC_PREFIX + metric in rows.columns:
        values = rows.loc[rows["model"] == spec.model, METRIC_PREFIX + metric].dropna()
    else:
        return None
    if values.empty:
        return None
    return float(values.mean()), float(values.std()) if len(values) > 1 else np.nan, len(values)


def within_noise(mean: float, std: float, n: int, t_mean: float, t_std: float, t_n: int) -> bool:
    """Whether an entry's mean is within two standard errors (of the difference) of the trivial figure."""
    se2 = 0.0
    for s, k in ((std, n), (t_std, t_n)):
        if k > 1 and np.isfinite(s):
            se2 += s * s / k
    if se2 == 0:
        return bool(np.isclose(mean, t_mean, rtol=1e-9, atol=0))
    return bool(abs(mean - t_mean) <= 2 * np.sqrt(se2))


def leader(table: pd.DataFrame) -> tuple[str, str]:
    """(who leads, their mean ± std) among the entries of one task and scale (the app's ``_entry_table``): the
    best-ranked entry that is not the trivial baseline (its figure has its own column), every one of a tie; else
    why none leads (only the trivial baseline, too few seeds, or only oracle entries: upper bounds, never ranked)."""
    from bench.leaderboard import store

    rivals = table[table["rank"].notna() & ~table["trivial"].astype(bool)]
    best = rivals[rivals["rank"] == rivals["rank"].min()]
    if len(best):
        b = best.iloc[0]
        names = [m + (" (local)" if src == "local" else "") for m, src in zip(best["model"], best["source"],
                                                                             strict=True)]  # fmt: skip
        shown = store.mean_pm_std(b["mean"], b["std"]) + (" ≈ trivial" if b["near_trivial"] else "")
        return " = ".join(dict.fromkeys(names)), shown
    others = table[~table["trivial"].astype(bool)]
    if others.empty:
        return "only the trivial baseline", ""
    if (others["oracle"].fillna("") == "").any():
        return f"unranked (< {store.MIN_SEEDS} seeds)", ""
    return "only oracle entries (upper bounds, unranked)", ""
