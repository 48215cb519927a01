"""One run as named steps: prepare → fit → collect → evaluate → record.

``prepare`` composes everything a run needs (data, model, backend, training settings) and asks the
task's family to check the configuration before any work; ``fit`` trains; ``collect`` saves the named
prediction arrays; ``evaluate`` scores them with the task's official evaluator against the true arrays
(the same call ``bench submit`` makes) and lets the family analyse the trained model; ``record`` writes
the result record.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from bench import identity
from bench.backends import Backend, get_backend
from bench.errors import BenchError, unknown
from bench.family import Analysis, Family, get_family
from bench.io import atomic_write, atomic_write_text, file_lock, save_npz
from bench.records import PREDICTIONS_NAME, RECORD_NAME, SCHEMA_VERSION, environment, now, sha256_file, write_record
from bench.registry import check_compatible, model_class
from bench.tasks.data import Dataset, generate_dataset
from bench.train import PRECISIONS, TrainConfig, TrainResult, busy_cpu_warning, slow_bf16_warning, train

LOCK_NAME = ".lock"
"""The run folder's lock file while a process trains or evaluates in it (``bench.io.file_lock``)."""
VOLATILE_KEYS = identity.VOLATILE_KEYS
"""Keys that do not change what a run trains (see ``bench.identity``)."""


def config_hash(cfg: DictConfig | dict[str, Any], data_checksum: str | None = None) -> str:
    """The run's identity: its configuration (without ``VOLATILE_KEYS`` and the families' option groups) and
    the checksum of the dataset it trains on (``bench.identity.config_hash``; None: the configuration alone).
    Works on a composed configuration and on a record's ``config``."""
    return identity.config_hash(cfg, data_checksum)


def dataset_checksum(cfg: DictConfig) -> str:
    """The checksum of the dataset at ``cfg.data_dir`` as its manifest says (without loading the arrays)."""
    from bench.tasks.data import dataset_dir

    manifest = dataset_dir(cfg.task, str(cfg.scale.name), cfg.data_dir) / "manifest.json"
    try:
        return str(json.loads(manifest.read_text())["checksum"])
    except (OSError, ValueError, KeyError, TypeError):
        raise BenchError(f"no readable dataset manifest at {manifest}: a run's folder is named by its data's "
                         f"checksum; generate it with: bench data task={cfg.task.name} "
                         f"scale={cfg.scale.name}") from None  # fmt: skip


def run_dir(cfg: DictConfig, data_checksum: str | None = None) -> Path:
    """``<out>/<task>/<model>/<scale>-seed<seed>-<config hash>``: the same configuration on the same data, the
    same folder; ``data_checksum`` None: that of the dataset at ``cfg.data_dir`` (``dataset_checksum``)."""
    if data_checksum is None:
        data_checksum = dataset_checksum(cfg)
    name = f"{cfg.scale.name}-seed{cfg.seed}-{config_hash(cfg, data_checksum)}"
    return Path(cfg.out) / str(cfg.task.name) / str(cfg.model.name) / name


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"device '{name}' requested but CUDA is not available here; valid: cpu, auto")
    return torch.device(name)


def build_model(cfg: DictConfig, spec: Any):
    """The model of ``cfg.model`` built for ``spec``; an error in the model's constructor keeps its traceback."""
    from bench.loading import _user_traceback

    cls = model_class(cfg.model)
    hparams = OmegaConf.to_container(cfg.model.hparams, resolve=True) or {}
    try:
        return cls(spec, **hparams)
    except TypeError as e:
        raise BenchError(
            f"model '{cfg.model.name}': bad hyper-parameters {hparams}: {e}\n{_user_traceback(e)}"
        ) from None
    except Exception as e:
        raise BenchError(f"model '{cfg.model.name}': building it failed: {type(e).__name__}: {e}\n"
                         f"{_user_traceback(e)}") from None  # fmt: skip


@dataclass
class Prepared:
    """Everything one run works with, made by ``prepare``."""

    cfg: DictConfig
    family: Family
    dataset: Dataset
    data: Any
    model: Any
    backend: Backend
    device: torch.device
    train_cfg: TrainConfig
    directory: Path


def _check_folders(cfg: DictConfig) -> None:
    """Before any data is simulated: ``out`` must be a writable folder (or creatable as one); ``data_dir`` too,
    unless the dataset is already there (a shared read-only data folder is fine to read). Removes the
    temporary files a killed earlier run of this configuration left in its run folder."""
    from bench.io import check_writable_dir, remove_stale_partials
    from bench.tasks.data import dataset_dir

    check_writable_dir(cfg.out, "out")
    existing = dataset_dir(cfg.task, str(cfg.scale.name), cfg.data_dir)
    if not ((existing / "manifest.json").is_file() and (existing / "dataset.npz").is_file()):
        check_writable_dir(cfg.data_dir, "data_dir")
    try:
        directory = run_dir(cfg)
    except BenchError:  # no dataset yet, so no run folder of this configuration either
        return
    remove_stale_partials(directory)


def check_run(cfg: DictConfig) -> None:
    """The checks of a composed configuration that need neither data nor a device: the precision, the task ×
    model compatibility, the family's own checks of the run (``Family.check_run``), the oracle inputs the model
    asks for, the backend installed. ``prepare`` runs them first; a sweep runs them for every job before any
    job starts (the device is checked where the job runs: a cluster's nodes may have what this one lacks)."""
    task = cfg.task
    if str(cfg.precision) not in PRECISIONS:
        raise unknown("precision", cfg.precision, PRECISIONS)
    check_compatible(task, cfg.model)
    family = get_family(str(task.family))
    family.check_run(cfg, model_class(cfg.model))
    oracle = tuple(model_class(cfg.model).oracle)
    if oracle and type(family).with_oracle is Family.with_oracle:
        family.with_oracle(None, oracle)  # the family offers none: its error, before any data is made
    get_backend(str(cfg.backend.name))


def prepare(cfg: DictConfig) -> Prepared:
    """Check the configuration (before any data is generated), then build the data, the model and the
    training settings; writes the run folder's ``config.yaml``."""
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
        import numba  # the simulators' compiled kernels (n-body, forces) run on numba's threads

        numba.set_num_threads(min(int(cfg.threads), numba.config.NUMBA_NUM_THREADS))
    task = cfg.task
    check_run(cfg)
    family = get_family(str(task.family))
    oracle = tuple(model_class(cfg.model).oracle)
    device = resolve_device(str(cfg.device))
    backend = get_backend(str(cfg.backend.name))
    for warning in (slow_bf16_warning(str(cfg.precision), device), busy_cpu_warning(torch.get_num_threads(), device)):
        if warning:
            print(f"warning: {warning}", file=sys.stderr, flush=True)

    _check_folders(cfg)
    dataset = generate_dataset(task, str(cfg.scale.name), root=cfg.data_dir, progress=cfg.progress)
    data = family.load(dataset, task)
    if oracle:
        data = family.with_oracle(data, oracle)
    torch.manual_seed(int(cfg.seed))
    model = build_model(cfg, family.task_spec(task, str(cfg.scale.name))).to(device)
    train_cfg = TrainConfig.from_config(cfg, family.batch_size(task), family.eval_batch_size(task))
    directory = run_dir(cfg, dataset.checksum)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(directory / "config.yaml", OmegaConf.to_yaml(cfg))
    if cfg.progress:
        print(f"{task.name} × {cfg.model.name} | scale {cfg.scale.name} | seed {cfg.seed} | backend {backend.name} | "
              f"device {device} | {train_cfg.precision} | {model.num_parameters():,} parameters | "
              f"{data.num_samples('train'):,} training samples | "
              f"{train_cfg.epochs} epochs of batch {train_cfg.batch_size}")  # fmt: skip
    return Prepared(cfg, family, dataset, data, model, backend, device, train_cfg, directory)


def fit(p: Prepared) -> TrainResult:
    """Train the model (resuming from the run folder's last checkpoint); the best weights are loaded."""
    objective = p.family.objective(p.cfg.task, p.train_cfg.loss)
    return train(p.model, p.data, p.train_cfg, p.backend, p.device, p.directory, seed=int(p.cfg.seed),
                 objective=objective, resume=bool(p.cfg.resume), progress=bool(p.cfg.progress),
                 identity=run_identity(p),
                 loss_bound=lambda zero: p.family.loss_bound(p.cfg.task, zero),
                 monitor=lambda model: p.family.monitor(model, p.data, p.backend, p.device, p.cfg))  # fmt: skip


def collect(p: Prepared) -> dict[str, np.ndarray]:
    """The named prediction arrays of the test split, saved as ``predictions.npz``."""
    arrays = p.family.collect(p.model, p.data, p.backend, p.device, p.cfg)
    atomic_write(p.directory / PREDICTIONS_NAME, lambda f: save_npz(f, arrays, compress=True))
    return arrays


def evaluate(p: Prepared, predictions: dict[str, np.ndarray]) -> tuple[dict[str, float], Analysis]:
    """The official evaluator on the saved arrays (as ``bench submit`` re-scores them), and the family's
    analyses of the trained model."""
    truth = p.family.truth(p.cfg.task, p.data, tuple(predictions))
    metrics = p.family.evaluator(p.cfg.task)({**predictions, **truth})
    return metrics, p.family.analyse(p.model, p.data, p.backend, p.device, p.cfg, p.directory)


def record(
    p: Prepared, result: TrainResult, predictions: dict[str, np.ndarray], metrics: dict[str, float], analysis: Analysis
) -> Path:
    """Write the run's result record (schema ``bench.records.SCHEMA_VERSION``); returns its path."""
    cfg, task = p.cfg, p.cfg.task
    evaluator = p.family.evaluator(task)
    entry = {
        "schema_version": SCHEMA_VERSION,
        "created": now(),
        "task": str(task.name),
        "task_family": str(task.family),
        "task_version": int(task.version),
        "scale": str(cfg.scale.name),
        "data_checksum": p.dataset.checksum,
        "model": str(cfg.model.name),
        "model_version": int(cfg.model.version),
        "model_class": str(cfg.model["class"]),
        "capabilities": list(type(p.model).capabilities()),
        "oracle": list(type(p.model).oracle),
        "backend": p.backend.name,
        "device": str(p.device),
        "precision": p.train_cfg.precision,
        "seed": int(cfg.seed),
        "metrics": metrics,
        "metric_table": evaluator.table_of(metrics),
        "primary_metric": str(task.primary_metric),
        "diagnostics": analysis.diagnostics,
        "analyses": analysis.analyses,
        "predictions": {
            "file": PREDICTIONS_NAME,
            "sha256": sha256_file(p.directory / PREDICTIONS_NAME),
            "split": "test",
            "arrays": sorted(predictions),
        },  # fmt: skip
        "n_parameters": p.model.num_parameters(),
        "train_time_s": result.train_time_s,
        "training": {
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "best_val_loss": result.best_val_loss,
            "stopped_early": result.stopped_early,
            "batch_size": p.train_cfg.batch_size,
            "compiled": p.train_cfg.compile,
            "history": result.history,
        },  # fmt: skip
        "config": OmegaConf.to_container(cfg, resolve=True),
        "config_hash": config_hash(cfg, p.dataset.checksum),
        "environment": environment(str(p.device)),
    }
    check_own_record(p.directory, run_identity(p))
    return write_record(p.directory / RECORD_NAME, entry)


def run_identity(p: Prepared) -> dict[str, str]:
    """What a run's checkpoint and record must agree on: its folder hash and its dataset's checksum."""
    return {"config_hash": config_hash(p.cfg, p.dataset.checksum), "data_checksum": p.dataset.checksum}


def check_own_record(directory: Path, expected: dict[str, str]) -> None:
    """A finished record in ``directory`` is never replaced by another run's (the same run re-evaluated, e.g.
    with another ``sr=``, may replace its own): a ``BenchError`` naming both identities otherwise."""
    path = directory / RECORD_NAME
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text())
        theirs = {key: old[key] for key in expected}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BenchError(f"{path} exists but cannot be read as a result record ({type(e).__name__}: {e}); "
                         f"not overwriting it: delete the folder {directory} to run again") from None  # fmt: skip
    if theirs != expected:
        raise BenchError(
            f"{path} is the record of another run (config_hash {theirs['config_hash']}, data "
            f"{theirs['data_checksum']}), not of this one (config_hash {expected['config_hash']}, data "
            f"{expected['data_checksum']}); not overwriting it: move the folder {directory} away or delete it"
        )


def run(cfg: DictConfig) -> Path:
    """Train and evaluate one configuration; returns the path of its result record. With ``progress``, each
    stage says what it does, after the seconds since the run started."""

    def stage(message: str) -> None:
        if cfg.progress:
            print(f"[{time.perf_counter() - start:.0f} s] {message}", flush=True)

    start = time.perf_counter()
    stage(f"preparing: the {cfg.task.name} dataset at scale {cfg.scale.name} (generated if {cfg.data_dir}/ lacks it), "
          f"the model and its data")  # fmt: skip
    p = prepare(cfg)
    # One process at a time in a run folder: the same run started twice (a sweep launched again while its first
    # launch still runs, two shells) is refused, not trained twice into the same checkpoints.
    with file_lock(p.directory / LOCK_NAME, wait=False, what=f"the run folder {p.directory} (the same run, started "
                   "elsewhere and still running)"):  # fmt: skip
        check_own_record(p.directory, run_identity(p))  # before training: another run's record is never replaced
        stage(f"training {p.train_cfg.epochs} epochs (each epoch's line says the time left); run folder {p.directory}")
        result = fit(p)
        stage("predicting the test split with the best epoch's weights")
        predictions = collect(p)
        stage("scoring with the official evaluator, then the family's analyses of the trained model")
        metrics, analysis = evaluate(p, predictions)
        path = record(p, result, predictions, metrics, analysis)
    stage("done")
    return path


def finished_record(cfg: DictConfig) -> Path | None:
    """The result record of this very run when it is finished (None otherwise): in its folder, of its identity
    (configuration and data checksum) and made with the same family options (``sr=``; another one re-evaluates
    the run). A sweep skips such a job; ``bench run`` of it alone evaluates it again."""
    from bench.config import family_groups

    try:
        checksum = dataset_checksum(cfg)
    except BenchError:  # no dataset yet: nothing has run
        return None
    path = run_dir(cfg, checksum) / RECORD_NAME
    try:
        old = json.loads(path.read_text())
        same = old["config_hash"] == config_hash(cfg, checksum) and old["data_checksum"] == checksum
        options = identity.plain_config(cfg)
        same = same and all(old["config"].get(group) == options.get(group) for group in family_groups())
    except (OSError, ValueError, KeyError, TypeError, AttributeError, BenchError):
        return None  # no record, or one that `run` names the problem of
    return path if same else None


def checkpoint_epoch(cfg: DictConfig) -> int | None:
    """The epochs the run's last checkpoint (``last.pt``) holds, where it would resume (None: it would not)."""
    if not cfg.resume:
        return None
    try:
        last = run_dir(cfg) / "last.pt"
        if not last.is_file():
            return None
        return int(torch.load(last, map_location="cpu", weights_only=True)["state"]["epoch"])
    except Exception:  # an unreadable checkpoint: the run says why when it starts
        return None
