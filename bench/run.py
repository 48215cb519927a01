"""One run: configuration → dataset → model → training → evaluation → result record."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from bench.backends import get_backend
from bench.errors import BenchError, unknown
from bench.io import atomic_write, atomic_write_text, save_npz
from bench.records import (
    PREDICTIONS_NAME,
    RECORD_NAME,
    SCHEMA_VERSION,
    environment,
    now,
    sha256_file,
    write_record,
)
from bench.registry import check_compatible, model_class
from bench.tasks.data import family, generate_dataset
from bench.train import PRECISIONS, TrainConfig, predict, train

VOLATILE_KEYS = ("progress", "out", "resume", "threads", "device", "data_dir", "sr", "compile")
"""Keys that do not change what a run trains (they stay out of the run's identity): the same command with
another ``sr=`` re-evaluates the finished run in its folder."""


def config_hash(cfg: DictConfig) -> str:
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(plain, dict)
    for key in VOLATILE_KEYS:
        plain.pop(key, None)
    if plain.get("precision") == "fp32":  # runs from before the key existed were fp32: keep their folders
        plain.pop("precision")
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:8]


def run_dir(cfg: DictConfig) -> Path:
    """``<out>/<task>/<model>/<scale>-seed<seed>-<config hash>``: the same configuration, the same folder."""
    name = f"{cfg.scale.name}-seed{cfg.seed}-{config_hash(cfg)}"
    return Path(cfg.out) / str(cfg.task.name) / str(cfg.model.name) / name


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"device '{name}' requested but CUDA is not available here; valid: cpu, auto")
    return torch.device(name)


def build_model(cfg: DictConfig, spec: Any):
    cls = model_class(cfg.model)
    hparams = OmegaConf.to_container(cfg.model.hparams, resolve=True) or {}
    try:
        return cls(spec, **hparams)
    except TypeError as e:
        raise BenchError(f"model '{cfg.model.name}': bad hyper-parameters {hparams}: {e}") from None


def run(cfg: DictConfig) -> Path:
    """Train and evaluate one configuration; returns the path of its result record."""
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    task, scale = cfg.task, str(cfg.scale.name)
    precision = str(cfg.get("precision", "fp32"))
    if precision not in PRECISIONS:  # before any data is generated
        raise unknown("precision", precision, PRECISIONS)
    check_compatible(task, cfg.model)
    fam = family(task.family)
    if hasattr(fam, "check"):  # the family's own checks of the configuration (a missing SR engine, ...)
        fam.check(cfg, model_class(cfg.model))
    device = resolve_device(str(cfg.device))
    backend = get_backend(str(cfg.backend.name))

    dataset = generate_dataset(task, scale, root=cfg.data_dir, progress=cfg.progress)
    data = fam.TaskData(dataset, task)
    spec = fam.task_spec(task)
    torch.manual_seed(int(cfg.seed))
    model = build_model(cfg, spec).to(device)

    tc = cfg.model.train
    train_cfg = TrainConfig(
        epochs=int(cfg.scale.epochs),
        batch_size=int(tc.batch_size or fam.reference_batch_size(task)),
        lr=float(tc.lr), weight_decay=float(tc.weight_decay), schedule=str(tc.schedule),
        optimizer=str(tc.optimizer), loss=str(tc.loss), patience=cfg.scale.patience,
        max_steps_per_epoch=cfg.scale.max_steps_per_epoch, grad_clip=tc.get("grad_clip"),
        precision=precision, compile=bool(cfg.get("compile", False)),
    )  # fmt: skip
    directory = run_dir(cfg)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(directory / "config.yaml", OmegaConf.to_yaml(cfg))
    if cfg.progress:
        print(f"{task.name} × {cfg.model.name} | scale {scale} | seed {cfg.seed} | backend {backend.name} | "
              f"device {device} | {train_cfg.precision} | {model.num_parameters():,} parameters | "
              f"{data.num_samples('train'):,} training samples | "
              f"{train_cfg.epochs} epochs of batch {train_cfg.batch_size}")  # fmt: skip
    result = train(model, data, train_cfg, backend, device, directory, seed=int(cfg.seed), target=spec.target,
                   resume=bool(cfg.resume), progress=bool(cfg.progress))  # fmt: skip

    pred = predict(model, data, "test", backend, device, train_cfg.eval_batch_size).numpy()
    true = data.targets("test")
    pred = pred.reshape(true.shape).astype(np.float32)
    evaluator = fam.Evaluator(task)
    metrics = evaluator({f"{spec.target}_pred": pred, f"{spec.target}_true": true})

    atomic_write(directory / PREDICTIONS_NAME, lambda f: save_npz(f, {f"{spec.target}_pred": pred}))
    probes: dict[str, Any] = {}
    if hasattr(fam, "analyse"):  # the family's own analyses of the trained model (force probe, rollouts, ...)
        extra_metrics, probes = fam.analyse(model, data, backend, device, cfg, directory)
        metrics.update(extra_metrics)
    record = {
        "schema_version": SCHEMA_VERSION,
        "created": now(),
        "task": str(task.name),
        "task_family": str(task.family),
        "task_version": int(task.version),
        "scale": scale,
        "data_checksum": dataset.checksum,
        "model": str(cfg.model.name),
        "model_version": int(cfg.model.version),
        "model_class": str(cfg.model["class"]),
        "capabilities": list(type(model).capabilities()),
        "backend": backend.name,
        "device": str(device),
        "precision": train_cfg.precision,
        "seed": int(cfg.seed),
        "metrics": metrics,
        "primary_metric": str(task.primary_metric),
        "lower_is_better": bool(task.lower_is_better),
        "predictions": {
            "file": PREDICTIONS_NAME,
            "sha256": sha256_file(directory / PREDICTIONS_NAME),
            "split": "test",
        },  # fmt: skip
        "probes": probes,
        "n_parameters": model.num_parameters(),
        "train_time_s": result.train_time_s,
        "training": {
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "best_val_loss": result.best_val_loss,
            "stopped_early": result.stopped_early,
            "batch_size": train_cfg.batch_size,
            "compiled": train_cfg.compile,
            "history": result.history,
        },  # fmt: skip
        "config": OmegaConf.to_container(cfg, resolve=True),
        "config_hash": config_hash(cfg),
        "environment": environment(str(device)),
    }
    return write_record(directory / RECORD_NAME, record)
