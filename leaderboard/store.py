"""The result store: records found on disk, validated, as a pandas table; aggregation over seeds and ranks.

Two kinds of store are read the same way: the official records in ``leaderboard/results/`` (one folder per
model: ``card.yaml`` and ``<task>/<scale>-seed<k>-<hash>/result.json``) and a user's local runs
(``runs/<task>/<model>/<scale>-seed<k>-<hash>/result.json``). Every ``result.json`` below a root is a record.

Reading 10,000 JSON files takes seconds, so each root has an index (one flat row per record plus its file's
size and modification time); a later read parses only the records that are new or changed since. The indexes
live in a user cache folder, never beside the records (the official store may sit read-only in site-packages):
``$BENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/particlebench``, else ``~/.cache/particlebench``, one file per root
named by a hash of its resolved path. Without a writable cache folder every read parses every record.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.io import atomic_write_bytes
from bench.leaderboard.schema import check_record, format_errors
from bench.records import RECORD_NAME

OFFICIAL_ROOT = Path(__file__).resolve().parent / "results"
CACHE_ENV = "BENCH_CACHE_DIR"
"""Environment variable naming the folder of the store indexes (default: the XDG cache folder)."""
INDEX_NAME = "index-{key}.parquet"
"""File name of a root's index in ``cache_dir()``; ``key``: the first 16 hex digits of the SHA-256 of its path."""
METRIC_PREFIX = "m:"
DIRECTION_PREFIX = "lower:"
"""Column ``lower:<metric>``: whether lower is better for that metric (from the record's metric table)."""
DIAGNOSTIC_PREFIX = "diag:"
"""Column ``diag:<name>``: a machine-dependent diagnostic (a timing): shown, never ranked."""
GROUP_KEYS = ["source", "task", "task_version", "scale", "model", "backend"]
"""One leaderboard entry: a model on a task version and scale, on one backend, from one source."""
MIN_SEEDS = 3
"""Distinct seeds an entry needs to be ranked."""


def model_family(model_class: str) -> str:
    """``bench.baselines.gnn:GNNKL`` → ``gnn``; ``/home/me/pair_force_net.py:PairForceNet`` → ``pair_force_net``."""
    module = model_class.rpartition(":")[0]
    if module.endswith(".py"):
        return Path(module).stem
    return module.rpartition(".")[2] or module


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One table row of a (valid) record: identity, primary value, cost, every metric as ``m:<name>``."""
    training = record.get("training") or {}
    epochs = training.get("epochs_run") or 0
    model_class = str(record.get("model_class") or (record["config"].get("model") or {}).get("class") or "")
    row = {
        "task": record["task"],
        "task_family": record.get("task_family") or (record["config"].get("task") or {}).get("family", ""),
        "task_version": int(record["task_version"]),
        "scale": record["scale"],
        "data_checksum": record["data_checksum"],
        "model": record["model"],
        "model_version": int(record["model_version"]),
        "model_family": model_family(model_class),
        "capabilities": ",".join(record.get("capabilities") or []),
        "backend": record["backend"],
        "device": record["device"],
        "seed": int(record["seed"]),
        "primary_metric": record["primary_metric"],
        "lower_is_better": _lower_is_better(record, record["primary_metric"]),
        "value": float(record["metrics"][record["primary_metric"]]),
        "n_parameters": int(record["n_parameters"]),
        "train_time_s": float(record["train_time_s"]),
        "epochs_run": int(epochs),
        "time_per_epoch_s": float(record["train_time_s"]) / epochs if epochs else np.nan,
        "created": str(record.get("created", "")),
    }
    for name, value in record["metrics"].items():
        row[METRIC_PREFIX + name] = float(value)
        row[DIRECTION_PREFIX + name] = _lower_is_better(record, name)
    for name, value in (record.get("diagnostics") or {}).items():
        row[DIAGNOSTIC_PREFIX + name] = float(value)
    return row


def _lower_is_better(record: dict[str, Any], metric: str) -> bool:
    """The direction of ``metric`` from the record's metric table (validated against the official one)."""
    return (record.get("metric_table") or {}).get(metric, {}).get("direction", "lower") == "lower"


def _read_one(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        return {"_error": f"cannot be read as JSON ({type(e).__name__}: {e})"}
    errors = check_record(record)
    if errors:
        return {"_error": format_errors(errors)}
    return flatten(record)


def _scan(root: Path) -> dict[str, tuple[int, int]]:
    """Every record file under ``root``: relative path → (size, mtime_ns)."""
    found: dict[str, tuple[int, int]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if RECORD_NAME in files:
            st = os.stat(os.path.join(folder, RECORD_NAME))
            found[os.path.relpath(folder, root)] = (st.st_size, st.st_mtime_ns)
    return found


def cache_dir() -> Path | None:
    """The folder of the store indexes: ``$BENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/particlebench`` (an
    absolute one, as the XDG spec asks), else ``~/.cache/particlebench``; None without a home folder."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "particlebench"
    try:
        return Path.home() / ".cache" / "particlebench"
    except RuntimeError:  # no $HOME and no password entry
        return None


def index_path(root: str | Path) -> Path | None:
    """Where the index of the store at ``root`` lives (None: nowhere, every read parses every record)."""
    folder = cache_dir()
    if folder is None:
        return None
    key = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return folder / INDEX_NAME.format(key=key)


def _read_index(root: Path) -> pd.DataFrame | None:
    path = index_path(root)
    if path is None:
        return None
    try:
        index = pd.read_parquet(path)
    except Exception:  # a missing, unreadable, broken or foreign index is rebuilt
        return None
    if not {"_rel", "_size", "_mtime", "_error"} <= set(index.columns):
        return None
    return index


def read_root(root: str | Path, source: str, use_index: bool = True) -> pd.DataFrame:
    """All records under one root, one row each (invalid ones with their reasons in ``_error``).

    Columns: see ``flatten``, plus ``source``, ``run_dir`` (absolute), ``_rel``, ``_size``, ``_mtime``, ``_error``.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        return pd.DataFrame(columns=["source", "run_dir", "_error"])
    found = _scan(root)
    old = _read_index(root) if use_index else None
    keep: pd.DataFrame | None = None
    todo = list(found)
    if old is not None and len(old):
        stamp = pd.Series([found.get(r, (-1, -1)) for r in old["_rel"]], index=old.index)
        fresh = (stamp.str[0] == old["_size"]) & (stamp.str[1] == old["_mtime"])
        keep = old[fresh.to_numpy()]
        known = set(keep["_rel"])
        todo = [r for r in found if r not in known]
    rows = []
    for rel in todo:
        row = _read_one(root / rel / RECORD_NAME)
        row["_rel"], (row["_size"], row["_mtime"]) = rel, found[rel]
        rows.append(row)
    new = pd.DataFrame(rows)
    frame = new if keep is None else pd.concat([keep, new], ignore_index=True) if len(new) else keep
    if "_error" not in frame.columns:
        frame["_error"] = None
    frame = frame.reset_index(drop=True)
    if use_index and (todo or old is None or len(keep if keep is not None else []) != len(old)):
        _write_index(root, frame)
    frame = frame.copy()
    frame["source"] = source
    frame["run_dir"] = [str(root / r) for r in frame["_rel"]] if len(frame) else []
    return frame


def _write_index(root: Path, frame: pd.DataFrame) -> None:
    path = index_path(root)
    if path is None:
        return
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError:  # without a writable cache folder the store is read every time
        pass


@dataclass
class Records:
    """The valid records as a table (``frame``) and the invalid ones as (run folder, reason)."""

    frame: pd.DataFrame
    invalid: list[tuple[str, str]] = field(default_factory=list)

    @property
    def metric_names(self) -> list[str]:
        return [c[len(METRIC_PREFIX) :] for c in self.frame.columns if c.startswith(METRIC_PREFIX)]


def load(
    official: str | Path | None = OFFICIAL_ROOT, local: Sequence[str | Path] = (), use_index: bool = True
) -> Records:
    """The records of the official store and of local run folders, validated."""
    parts = []
    if official is not None:
        parts.append(read_root(official, "official", use_index))
    for root in local:
        parts.append(read_root(root, "local", use_index))
    frame = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    if frame is None:
        return Records(pd.DataFrame(columns=["source", "run_dir", *GROUP_KEYS, "seed", "value"]))
    bad = frame["_error"].notna()
    invalid = list(zip(frame.loc[bad, "run_dir"], frame.loc[bad, "_error"], strict=True))
    good = frame[~bad].drop(columns=["_error", "_size", "_mtime", "_rel"]).reset_index(drop=True)
    for col in ("task_version", "model_version", "seed", "n_parameters", "epochs_run"):
        if col in good.columns:
            good[col] = good[col].astype("int64")
    return Records(good, invalid)


def aggregate(frame: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Mean ± std over seeds per entry (``GROUP_KEYS``), seed count, parameters, train time, and rank.

    ``metric``: a metric name (default: each task's primary metric). Ranks are per (task, task version,
    scale), 1 = best, given only to entries with at least ``MIN_SEEDS`` distinct seeds; ties share a rank.
    """
    if frame.empty:
        return pd.DataFrame(columns=[*GROUP_KEYS, "metric", "mean", "std", "n_seeds", "rank"])
    df = frame.copy()
    if metric is None:
        df["metric"] = df["primary_metric"]
    else:
        column = METRIC_PREFIX + metric
        if column not in df.columns:
            from bench.errors import BenchError, unknown

            if DIAGNOSTIC_PREFIX + metric in df.columns:
                raise BenchError(f"'{metric}' is a diagnostic measured on each run's own machine (a timing): "
                                 "shown with the records, never ranked")  # fmt: skip
            names = [c[len(METRIC_PREFIX) :] for c in df.columns if c.startswith(METRIC_PREFIX)]
            raise unknown("metric", metric, names)
        df["metric"] = metric
        df["value"] = df[column]
        df["lower_is_better"] = df[DIRECTION_PREFIX + metric].fillna(True).astype(bool)
    df = df[df["value"].notna()]
    grouped = df.groupby(GROUP_KEYS + ["metric"], sort=True, dropna=False)
    out = grouped.agg(
        mean=("value", "mean"),
        std=("value", "std"),
        n_seeds=("seed", "nunique"),
        n_records=("seed", "size"),
        seeds=("seed", lambda s: ",".join(str(v) for v in sorted(set(s)))),
        n_parameters=("n_parameters", "median"),
        train_time_s=("train_time_s", "mean"),
        time_per_epoch_s=("time_per_epoch_s", "mean"),
        lower_is_better=("lower_is_better", "first"),
        model_family=("model_family", "first"),
        task_family=("task_family", "first"),
        capabilities=("capabilities", "first"),
        model_version=("model_version", "max"),
        data_checksum=("data_checksum", "first"),
    ).reset_index()
    out["n_parameters"] = out["n_parameters"].round().astype("int64")
    ranked = out["n_seeds"] >= MIN_SEEDS
    signed = out["mean"].where(out["lower_is_better"], -out["mean"])
    per_task = [out["task"], out["task_version"], out["scale"]]
    out["rank"] = signed.where(ranked).groupby(per_task).rank(method="min").astype("Int64")
    return out.sort_values(["task", "task_version", "scale", "rank", "mean"], na_position="last").reset_index(drop=True)


def mean_pm_std(mean: float, std: float, digits: int = 4) -> str:
    """``0.1234 ± 0.0056`` (``± –`` for a single seed)."""
    if pd.isna(std):
        return f"{mean:.{digits}g} ± –"
    return f"{mean:.{digits}g} ± {std:.2g}"


def results_table(agg: pd.DataFrame) -> pd.DataFrame:
    """The human-readable table of ``aggregate``'s output, as ``bench results`` prints it."""
    if agg.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "task": agg["task"] + " v" + agg["task_version"].astype(str),
        "scale": agg["scale"],
        "rank": agg["rank"].astype("string").fillna("–"),
        "model": agg["model"] + np.where(agg["source"] == "local", " (local)", ""),
        "backend": agg["backend"],
        "metric": agg["metric"],
        "mean ± std": [mean_pm_std(m, s) for m, s in zip(agg["mean"], agg["std"], strict=True)],
        "seeds": agg["n_seeds"],
        "parameters": agg["n_parameters"].map("{:,}".format),
        "train time": agg["train_time_s"].map(lambda t: f"{t:.1f} s"),
    })  # fmt: skip


def filter_frame(frame: pd.DataFrame, **equal: Iterable[Any] | Any) -> pd.DataFrame:
    """Rows whose columns take the given values (a value or a list of values; None: no filter)."""
    mask = np.ones(len(frame), dtype=bool)
    for column, values in equal.items():
        if values is None:
            continue
        values = list(values) if isinstance(values, (list, tuple, set)) else [values]
        mask &= frame[column].isin(values).to_numpy()
    return frame[mask]
