"""The result store: records found on disk, validated, as a pandas table; aggregation over seeds and ranks.

Two kinds of store are read the same way: the official records in ``leaderboard/results/`` (one folder per
model: ``card.yaml`` and ``<task>/<scale>-seed<k>-<hash>/result.json``) and a user's local runs
(``runs/<task>/<model>/<scale>-seed<k>-<hash>/result.json``). Every ``result.json`` below a root is a record.

Reading 10,000 JSON files takes seconds, so each root has an index (one flat row per record plus its file's
stat signature and the SHA-256 of its bytes). A later read only stats the files: a record whose signature (inode,
size, modification and change times) is the indexed one is served from the index without being opened, as git
does for its work tree; any other is read and hashed, and parsed only if its bytes are new (a copied or touched
store is not validated again). The change time moves on every write, even one that sets the modification time
back; a record changed within ``RACY_NS`` before the index was written is hashed anyway (git's "racily clean"
entries). Record files are read defensively: only regular
files (a FIFO cannot hang the reader), at most ``MAX_RECORD_BYTES``, nesting too deep for the JSON parser named
as invalid. The indexes live in a user cache folder, never beside the records (the official store may sit
read-only in site-packages): ``$BENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/particlebench``, else
``~/.cache/particlebench``, one file per root named by a hash of its resolved path. Without a writable cache
folder every read parses every record.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.identity import config_id
from bench.io import atomic_write_bytes
from bench.leaderboard.schema import check_record, format_errors
from bench.records import RECORD_NAME

OFFICIAL_ROOT = Path(__file__).resolve().parent / "results"
CACHE_ENV = "BENCH_CACHE_DIR"
"""Environment variable naming the folder of the store indexes (default: the XDG cache folder)."""
ROW_FORMAT = 4
"""The columns ``flatten`` writes (2: with ``config_id`` and metric directions; 3: with the training budget
of the run's scale, ``max_epochs`` and ``max_steps_per_epoch``; 4: with ``oracle``); an index of rows of another
format is another file, so it is never mixed with the rows of today's code."""
INDEX_FORMAT = 2
"""The index's own columns (2: with the stat signature ``_ino``, ``_ctime``)."""
INDEX_NAME = "index-{key}-r" + str(ROW_FORMAT) + "-i" + str(INDEX_FORMAT) + ".parquet"
"""File name of a root's index in ``cache_dir()``; ``key``: the first 16 hex digits of the SHA-256 of its path."""
RACY_NS = 2_000_000_000
"""A record whose change time is less than this before its index was written is hashed on every read (its
file system's clock may not tell a later write in the same tick apart)."""
METRIC_PREFIX = "m:"
DIRECTION_PREFIX = "lower:"
"""Column ``lower:<metric>``: whether lower is better for that metric (from the record's metric table)."""
DIAGNOSTIC_PREFIX = "diag:"
"""Column ``diag:<name>``: a machine-dependent diagnostic (a timing): shown, never ranked."""
GROUP_KEYS = ["source", "task", "task_version", "scale", "data_checksum", "model", "backend", "config_id"]
"""One leaderboard entry, one experiment: a model in one configuration (``config_id``: all of it but the seed)
on a task version, scale and dataset, on one backend, from one source; its records are its seeds."""
MIN_SEEDS = 3
"""Distinct seeds an entry needs to be ranked."""
EMPTY_COLUMNS = list(dict.fromkeys(["source", "run_dir", *GROUP_KEYS, "seed", "value", "primary_metric",
                                    "task_family"]))  # fmt: skip
"""The columns of a store without a valid record (each once)."""


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
        "config_id": config_id(record["config"]),
        "model": record["model"],
        "model_version": int(record["model_version"]),
        "model_family": model_family(model_class),
        "capabilities": ",".join(record.get("capabilities") or []),
        "oracle": ",".join(record.get("oracle") or []),
        "backend": record["backend"],
        "device": record["device"],
        "seed": int(record["seed"]),
        "primary_metric": record["primary_metric"],
        "lower_is_better": _lower_is_better(record, record["primary_metric"]),
        "value": float(record["metrics"][record["primary_metric"]]),
        "n_parameters": int(record["n_parameters"]),
        "train_time_s": float(record["train_time_s"]),
        "epochs_run": int(epochs),
        "max_epochs": _budget(record, "epochs"),
        "max_steps_per_epoch": _budget(record, "max_steps_per_epoch"),
        "time_per_epoch_s": float(record["train_time_s"]) / epochs if epochs else np.nan,
        "created": str(record.get("created", "")),
    }
    for name, value in record["metrics"].items():
        row[METRIC_PREFIX + name] = float(value)
        row[DIRECTION_PREFIX + name] = _lower_is_better(record, name)
    for name, value in (record.get("diagnostics") or {}).items():
        row[DIAGNOSTIC_PREFIX + name] = float(value)
    return row


def _budget(record: dict[str, Any], key: str) -> float:
    """The training budget of the run's scale (``config.scale.epochs``, ``.max_steps_per_epoch``); NaN if absent
    or unlimited."""
    value = ((record.get("config") or {}).get("scale") or {}).get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else np.nan


def _lower_is_better(record: dict[str, Any], metric: str) -> bool:
    """The direction of ``metric`` from the record's metric table (validated against the official one)."""
    return (record.get("metric_table") or {}).get(metric, {}).get("direction", "lower") == "lower"


MAX_RECORD_BYTES = 5_000_000
"""A record file larger than this is not read (it is listed as invalid with its size)."""
MAX_SCAN_DEPTH = 12
"""Folders deeper than this below a root are not searched for records (a record sits 2–3 levels down)."""


def _stat_problem(st: os.stat_result) -> str | None:
    """Why a record file of this stat cannot be a record (not a regular file, too large), or None."""
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size > MAX_RECORD_BYTES:
        return f"{st.st_size:,} bytes, over the {MAX_RECORD_BYTES:,}-byte limit of a record"
    return None


def _read_bytes(path: Path) -> bytes:
    """The bytes of a record file; ``ValueError`` (with the reason) for anything but a regular file of at most
    ``MAX_RECORD_BYTES``. Opened without blocking, so a FIFO named ``result.json`` cannot hang the reader."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        problem = _stat_problem(os.fstat(fd))
        if problem:
            raise ValueError(problem)
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(MAX_RECORD_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_RECORD_BYTES:
        raise ValueError(f"over the {MAX_RECORD_BYTES:,}-byte limit of a record")
    return data


def _read_one(path: Path) -> dict[str, Any]:
    try:
        data = _read_bytes(path)
    except ValueError as e:
        return {"_error": f"{path.name} skipped: {e}"}
    except OSError as e:
        return {"_error": f"cannot be read ({type(e).__name__}: {e})"}
    return _parse(data)


def _parse(data: bytes) -> dict[str, Any]:
    """A record file's bytes as one flat row, or ``{"_error": reason}``."""
    try:
        record = json.loads(data)
    except RecursionError:
        return {"_error": "cannot be read as JSON (nested too deeply)"}
    except ValueError as e:
        return {"_error": f"cannot be read as JSON ({type(e).__name__}: {e})"}
    if not isinstance(record, dict):
        return {"_error": f"not a record: a JSON {type(record).__name__}, not an object"}
    try:
        errors = check_record(record)
        if errors:
            return {"_error": format_errors(errors)}
        return flatten(record)
    except RecursionError:
        return {"_error": "not a valid record (nested too deeply)"}


Stat = tuple[int, int, int, int]
"""A record file's stat signature: (inode, size, mtime_ns, ctime_ns)."""


def _scan(root: Path) -> dict[str, Stat | str]:
    """Every record file under ``root``: relative folder → its stat signature, or the problem (a reason) of a record
    file that is not a regular file, too large, or cannot be stat'ed. Nothing is opened. Hidden folders and folders
    deeper than ``MAX_SCAN_DEPTH`` are not searched; links to folders are not followed (no loops)."""
    found: dict[str, Stat | str] = {}
    stack = [("", str(root), 0)]
    while stack:
        rel, folder, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name == RECORD_NAME:
                key = rel or "."
                try:
                    st = os.stat(entry.path)
                except OSError as e:
                    found[key] = f"cannot be read ({type(e).__name__}: {e})"
                    continue
                problem = _stat_problem(st)
                found[key] = (f"{RECORD_NAME} skipped: {problem}" if problem else
                              (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))  # fmt: skip
            elif depth < MAX_SCAN_DEPTH and not entry.name.startswith("."):
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir:
                    stack.append((os.path.join(rel, entry.name) if rel else entry.name, entry.path, depth + 1))
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


INDEX_COLUMNS = {"_rel", "_ino", "_size", "_mtime", "_ctime", "_sha256", "_error"}
"""The index's own columns; a record is served from the index if its stat signature (``_ino``, ``_size``,
``_mtime``, ``_ctime``) is the indexed one and not racy, or else if the SHA-256 of its bytes is ``_sha256``."""
SIGNATURE = ["_ino", "_size", "_mtime", "_ctime"]


def _read_index(root: Path) -> tuple[pd.DataFrame, int] | None:
    """The index of ``root`` and when it was written (ns), or None."""
    path = index_path(root)
    if path is None:
        return None
    try:
        written = os.stat(path).st_mtime_ns
        index = pd.read_parquet(path)
    except Exception:  # a missing, unreadable, broken or foreign index is rebuilt
        return None
    if not INDEX_COLUMNS <= set(index.columns):  # a foreign index
        return None
    return index, written


def read_root(root: str | Path, source: str, use_index: bool = True) -> pd.DataFrame:
    """All records under one root, one row each (invalid ones with their reasons in ``_error``).

    Columns: see ``flatten``, plus ``source``, ``run_dir`` (absolute), ``_rel``, ``_size``, ``_mtime``, ``_error``.
    A record is served from the index when its stat signature is the indexed one (and was not racy when the index
    was written), or else when its bytes hash to the indexed SHA-256; any other is read and validated.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        return pd.DataFrame(columns=["source", "run_dir", "_error"])
    found = _scan(root)
    got = _read_index(root) if use_index else None
    old, written = got if got is not None else (None, 0)
    by_rel: dict[str, int] = {}
    if old is not None:
        by_rel = {r: k for k, r in enumerate(old["_rel"])}
        signatures = list(old[SIGNATURE].itertuples(index=False, name=None))  # (no cast: inodes may pass 2^63)
        digests = old["_sha256"].tolist()
    kept: list[int] = []
    restat: dict[int, Stat] = {}  # kept rows whose bytes are the indexed ones under a new signature (touched, copied)
    rows = []
    for rel, sig in found.items():
        k = by_rel.get(rel)
        if isinstance(sig, tuple) and k is not None:
            if signatures[k] == sig and sig[3] < written - RACY_NS:
                kept.append(k)
                continue
        if isinstance(sig, str):
            rows.append({"_error": sig, "_rel": rel, "_ino": -1, "_size": -1, "_mtime": -1, "_ctime": -1,
                         "_sha256": ""})  # fmt: skip
            continue
        path = root / rel / RECORD_NAME
        try:
            data: bytes | None = _read_bytes(path)
        except (OSError, ValueError):
            data = None
        digest = hashlib.sha256(data).hexdigest() if data is not None else ""
        if k is not None and digest and digests[k] == digest:
            kept.append(k)
            restat[k] = sig
            continue
        row = _parse(data) if data is not None else _read_one(path)  # (which names the problem)
        row["_rel"], row["_sha256"] = rel, digest
        row.update(zip(SIGNATURE, sig, strict=True))
        rows.append(row)
    keep = old.iloc[kept].copy() if old is not None else None
    if keep is not None and restat:
        position = {k: n for n, k in enumerate(kept)}
        keep.iloc[[position[k] for k in restat], [keep.columns.get_loc(c) for c in SIGNATURE]] = list(restat.values())
    new = pd.DataFrame(rows)
    frame = new if keep is None else pd.concat([keep, new], ignore_index=True) if len(new) else keep
    for column in INDEX_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame = frame.reset_index(drop=True)
    if use_index and (rows or restat or old is None or len(kept) != len(old)):
        _write_index(root, frame)  # (racy rows are in restat: once rewritten, a later read finds them settled)
    frame = frame.drop(columns=["_sha256", "_ino", "_ctime"]).copy()  # (one block per dtype: the index's frame
    frame["source"] = source  # from parquet has a block per column, and each added column warns)
    prefix = str(root) + os.sep  # (joined as strings: 10,000 Path joins take a quarter of a second)
    frame["run_dir"] = [str(root) if r == "." else prefix + r for r in frame["_rel"]] if len(frame) else []
    return frame


def _write_index(root: Path, frame: pd.DataFrame) -> None:
    path = index_path(root)
    if path is None:
        return
    try:
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        atomic_write_bytes(path, buf.getvalue())
    except (OSError, ValueError, TypeError, ImportError):  # no writable cache folder (or a row parquet refuses):
        pass  # the store is read in full every time


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
        return Records(pd.DataFrame(columns=EMPTY_COLUMNS))
    bad = frame["_error"].notna()
    invalid = list(zip(frame.loc[bad, "run_dir"], frame.loc[bad, "_error"], strict=True))
    good = frame[~bad].drop(columns=["_error", "_size", "_mtime", "_rel"]).reset_index(drop=True)
    if good.empty:  # every record invalid: the empty table of ``load``'s columns
        return Records(pd.DataFrame(columns=EMPTY_COLUMNS), invalid)
    for col in ("task_version", "model_version", "seed", "n_parameters", "epochs_run"):
        if col in good.columns:
            good[col] = good[col].astype("int64")
    return Records(good, invalid)


def aggregate(frame: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Mean ± std over seeds per entry (``GROUP_KEYS``), seed count, parameters, train time, and rank.

    ``metric``: a metric name (default: each task's primary metric). Ranks are per (task, task version,
    scale), 1 = best, given only to entries with at least ``MIN_SEEDS`` distinct seeds; ties share a rank. An
    entry told a truth as input (``oracle``: the true types or edges) is an upper bound, not a rival: it is
    never ranked.
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
    if "config_id" not in df.columns:  # a frame made by hand: one configuration per model
        df["config_id"] = ""
    for column in ("max_epochs", "max_steps_per_epoch"):  # records flattened before row format 3
        if column not in df.columns:
            df[column] = np.nan
    if "oracle" not in df.columns:  # a frame made by hand
        df["oracle"] = ""
    df["oracle"] = df["oracle"].fillna("")
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
        oracle=("oracle", "first"),
        model_version=("model_version", "max"),
        max_epochs=("max_epochs", "max"),
        max_steps_per_epoch=("max_steps_per_epoch", "max"),
    ).reset_index()
    out["n_parameters"] = out["n_parameters"].round().astype("int64")
    ranked = (out["n_seeds"] >= MIN_SEEDS) & (out["oracle"] == "")
    signed = out["mean"].where(out["lower_is_better"], -out["mean"])
    per_task = [out["task"], out["task_version"], out["scale"]]
    out["rank"] = signed.where(ranked).groupby(per_task).rank(method="min").astype("Int64")
    return out.sort_values(["task", "task_version", "scale", "rank", "mean"], na_position="last").reset_index(drop=True)


def pareto_front(cost: np.ndarray, value: np.ndarray, lower: bool) -> np.ndarray:
    """Entries that no other entry dominates: none is at least as good on both cost (lower is better) and metric
    and strictly better on one (equal entries are both on the front)."""
    signed = np.asarray(value if lower else -value, dtype=float)
    cost = np.asarray(cost, dtype=float)
    no_worse = (cost[None, :] <= cost[:, None]) & (signed[None, :] <= signed[:, None])  # [i, j]: j no worse than i
    better = (cost[None, :] < cost[:, None]) | (signed[None, :] < signed[:, None])
    return ~(no_worse & better).any(axis=1)


def mean_pm_std(mean: float, std: float, digits: int = 4) -> str:
    """``0.123 ± 0.0056`` → ``0.1234 ± 0.0056``: the mean rounded to the precision of its std (the std to 2
    significant digits, the mean to the same decimal place); ``± –`` for a single seed (``digits``
    significant digits), ``± 0`` for a std of zero or of rounding noise (under ``1e-9`` of the mean: seeds that
    agree to float precision, as a deterministic baseline's do). Where that would take more than 6 decimals, or
    the value is a million or more, both share a power of ten: ``(1.234 ± 0.030)e-07``."""
    if pd.isna(mean):
        return "–"
    if pd.isna(std) or not np.isfinite(std):
        return f"{mean:.{digits}g} ± –"
    if std == 0 or not np.isfinite(mean) or std < 1e-9 * abs(mean):
        return f"{mean:.{digits}g} ± 0"
    decimals = 1 - int(np.floor(np.log10(abs(std))))  # 2 significant digits of the std
    power = int(np.floor(np.log10(max(abs(mean), abs(std)))))
    if (decimals > 6 and power < 0) or power >= 6:  # (a std far below a mean of 1 or more keeps its decimals)
        scale = 10.0**power
        decimals += power  # the std's 2 significant digits, after the scaling
        if abs(round(mean / scale, max(decimals, 0))) >= 10:  # 9.9996e-07 rounds up to 10.000: one power up
            power, scale, decimals = power + 1, scale * 10, decimals + 1
        return f"({mean / scale:.{max(decimals, 0)}f} ± {std / scale:.{max(decimals, 0)}f})e{power:+03d}"
    if decimals <= 0:
        step = 10.0 ** (-decimals)
        return f"{round(mean / step) * step:.0f} ± {round(std / step) * step:.0f}"
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


def results_table(agg: pd.DataFrame) -> pd.DataFrame:
    """The human-readable table of ``aggregate``'s output, as ``bench results`` prints it. A model with entries
    in several configurations (or on several datasets) of one task and scale shows the first 6 characters of
    each entry's ``config_id`` (and of its data checksum) beside its name: ``gnn [3f9a1c]``."""
    if agg.empty:
        return pd.DataFrame()
    model = agg["model"].astype(str)
    where = [agg[k] for k in ("source", "task", "task_version", "scale", "model", "backend")]
    if "config_id" in agg.columns:
        ids = agg["config_id"].fillna("").astype(str)
        several = ids.groupby(where).transform("nunique") > 1
        model = model + np.where(several, " [" + ids.str[:6] + "]", "")
    if "data_checksum" in agg.columns:
        data = agg["data_checksum"].fillna("").astype(str).str.removeprefix("sha256:")
        several = data.groupby(where).transform("nunique") > 1
        model = model + np.where(several, " (data " + data.str[:6] + ")", "")
    return pd.DataFrame({
        "task": agg["task"] + " v" + agg["task_version"].astype(str),
        "scale": agg["scale"],
        "rank": agg["rank"].astype("string").fillna("–"),
        "model": model + np.where(agg["source"] == "local", " (local)", ""),
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
