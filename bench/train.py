"""One training loop for every model: schedule, validation, best checkpoint, early stopping, resume.

Each epoch ends with a validation pass and a checkpoint (``last.pt``: model, optimiser, scheduler,
random-generator state, history). After an interrupt the same run continues from the last finished
epoch and reaches the same weights as an uninterrupted run.

The loop never hands targets to a model: a task's loader returns ``(batch, targets)``, the model sees
the batch, and the objective (the family's default, or the model's own ``loss``) compares its named
outputs with the targets. A model without trainable parameters is not trained (zero epochs).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from bench.backends import Backend
from bench.errors import BenchError, TrainingDiverged, unknown
from bench.io import atomic_write
from bench.model import Model, as_tensor


@dataclass
class TrainConfig:
    """One run's training settings. Their defaults live in the configuration only (the model card's
    ``train`` section, ``bench/conf/model_defaults.yaml``, the scale and ``bench/conf/config.yaml``);
    ``from_config`` reads them all from a composed run configuration."""

    epochs: int
    batch_size: int
    eval_batch_size: int
    lr: float
    weight_decay: float
    schedule: str
    optimizer: str
    loss: str
    patience: int | None
    max_steps_per_epoch: int | None
    grad_clip: float | None
    """Clip the global gradient norm to this value (None: no clipping)."""
    final_div_factor: float | None
    """OneCycle's last learning rate is ``lr / 25 / final_div_factor`` (None: torch's default, 1e4; Cranmer et
    al.'s code uses 1e5, which their cards set)."""
    precision: str
    """``fp32``, or ``bf16``: mixed precision, the training forward pass under ``torch.autocast`` (matrix
    products in bfloat16 with float32 accumulation; weights, gradients, optimiser, validation in float32)."""
    compile: bool
    """Train through ``torch.compile`` of the model (the same function, fused kernels; compiling takes
    tens of seconds once per batch shape). Validation and evaluation run the model as written."""

    @classmethod
    def from_config(cls, cfg: Any, batch_size: int, eval_batch_size: int) -> TrainConfig:
        """From a composed run configuration; ``batch_size`` is the task's reference batch, used when the
        model card leaves its own ``batch_size`` null."""
        tc = cfg.model.train
        return cls(
            epochs=int(cfg.scale.epochs), batch_size=int(tc.batch_size or batch_size), eval_batch_size=eval_batch_size,
            lr=float(tc.lr), weight_decay=float(tc.weight_decay), schedule=str(tc.schedule),
            optimizer=str(tc.optimizer), loss=str(tc.loss), patience=cfg.scale.patience,
            max_steps_per_epoch=cfg.scale.max_steps_per_epoch, grad_clip=tc.get("grad_clip"),
            final_div_factor=tc.get("final_div_factor"),
            precision=str(cfg.precision), compile=bool(cfg.compile),
        )  # fmt: skip


@dataclass
class TrainResult:
    best_epoch: int
    best_val_loss: float
    epochs_run: int
    stopped_early: bool
    train_time_s: float
    history: list[dict[str, float]] = field(default_factory=list)


LOSSES = {
    "l1": lambda pred, true: (pred - true).abs().mean(),
    "mse": lambda pred, true: ((pred - true) ** 2).mean(),
}
SCHEDULES = ("onecycle", "cosine", "constant")
PRECISIONS = ("fp32", "bf16")


def autocast(precision: str, device: torch.device):
    """The context of a training forward pass at ``precision`` (see ``TrainConfig.precision``)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    raise unknown("precision", precision, PRECISIONS)


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
"""The x86 CPU flags of native bf16 arithmetic: without one, torch emulates bf16 matrix products on the CPU."""


def cpu_flags(path: str = "/proc/cpuinfo") -> set[str] | None:
    """The CPU's feature flags (Linux), or None where they cannot be read."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return None


BUSY_LOAD = 0.5
"""The 1-minute load average from which other processes are taken to keep a core busy (``busy_cpu_warning``)."""


def busy_cpu_warning(threads: int, device: torch.device, load: float | None = None) -> str | None:
    """A warning where torch trains on several CPU threads while other processes keep the machine busy (its 1-minute
    load average at least ``BUSY_LOAD``; None otherwise). torch's OpenMP threads spin at a barrier after every
    operation, so a thread that shares its core with another process holds up every step: on a 2-core AMD EPYC an
    egnn step (charge, batch 64) took 19 ms on 2 threads and 23 ms on 1 when idle, but 55-1000 ms on 2 threads
    beside one busy process, against 22-26 ms on 1 thread or with ``OMP_WAIT_POLICY=PASSIVE``."""
    if device.type != "cpu" or threads <= 1:
        return None
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # not available on this platform
            return None
    if load < BUSY_LOAD:
        return None
    return (f"the CPU is busy (load average {load:.1f} on {os.cpu_count()} cores) and torch trains on {threads} "
            "threads: its threads wait for each other after every operation, so one sharing a core with another "
            "process can slow training tens of times; threads=1 (or OMP_WAIT_POLICY=PASSIVE in the environment) "
            "avoids that")  # fmt: skip


def slow_bf16_warning(precision: str, device: torch.device, flags: set[str] | None = None) -> str | None:
    """A warning for ``precision=bf16`` on an x86 CPU without native bf16 (None otherwise, and where the flags
    cannot be read): there a bf16 training step is slower than fp32, not faster (7× measured on an AVX2 AMD EPYC
    for embedding-gnn-field, 5× for egnn)."""
    if precision != "bf16" or device.type != "cpu":
        return None
    flags = cpu_flags() if flags is None else flags
    if not flags or "avx2" not in flags or any(f in flags for f in BF16_CPU_FLAGS):
        return None
    return ("precision=bf16 on a CPU without native bf16 arithmetic (none of the flags " + ", ".join(BF16_CPU_FLAGS)
            + "): torch emulates it, and a training step is several times slower than at fp32; "
              "precision=fp32 is the faster choice on this machine")  # fmt: skip


def make_optimizer(model: torch.nn.Module, name: str, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam with PyTorch's fused kernel (one kernel per step instead of a Python loop over
    parameters, which is the default on the CPU), over the model's ``param_groups()`` if it has them."""
    if name != "adam":
        raise BenchError(f"unknown optimizer '{name}'; valid: adam")
    groups = model.param_groups() if isinstance(model, Model) else None
    params = model.parameters() if groups is None else groups
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)


def _scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int):
    if cfg.schedule == "onecycle":
        extra = {} if cfg.final_div_factor is None else {"final_div_factor": float(cfg.final_div_factor)}
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(total_steps, 2), **extra)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total_steps, 1))
    if cfg.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    raise BenchError(f"unknown schedule '{cfg.schedule}'; valid: {', '.join(SCHEDULES)}")


def named_outputs(out: Tensor | dict[str, Tensor], target: str, owner: Any = None) -> dict[str, Tensor]:
    """A model's outputs by name: a plain tensor is the task's ``target``."""
    if isinstance(out, Tensor):
        return {target: out}
    if isinstance(out, dict) and all(isinstance(v, Tensor) for v in out.values()):
        return out
    name = type(owner).__name__ if owner is not None else "the model"
    raise BenchError(f"{name}.forward returned {type(out).__name__}; expected a tensor of the task's target "
                     f"'{target}' or a dict of named output tensors")  # fmt: skip


@torch.no_grad()
def predict(
    model: Model, data: Any, split: str, backend: Backend, device: torch.device, batch_size: int
) -> dict[str, Tensor]:
    """The model's named outputs for every sample of ``split``, in sample order, on the CPU: each
    (samples, per-sample rows, ...) (for a per-particle output (samples, n, d)). The targets stay in
    the loader."""
    model.eval()
    n = data.num_samples(split)
    parts: dict[str, list[Tensor]] = {}
    for start in range(0, n, batch_size):
        index = torch.arange(start, min(start + batch_size, n))
        batch, _ = data.batch(split, index)
        out = named_outputs(model(backend.bind(batch.to(device))), model.spec.target, model)
        for name, value in out.items():
            parts.setdefault(name, []).append(value.reshape(len(index), -1, *value.shape[1:]).cpu())
    return {name: torch.cat(values) for name, values in parts.items()}


def _val_loss(model: Model, data, backend, device, cfg: TrainConfig, objective) -> float:
    """The validation loss: the model's own ``loss`` averaged over batches, else the objective on the
    whole split at once."""
    if type(model).loss is not Model.loss:
        return _own_val_loss(model, data, backend, device, cfg.eval_batch_size)
    pred = predict(model, data, "val", backend, device, cfg.eval_batch_size)
    true = {k: torch.from_numpy(v).reshape(pred[k].shape) for k, v in data.targets("val").items() if k in pred}
    return float(objective(pred, true))


@torch.no_grad()
def _own_val_loss(model: Model, data, backend, device, batch_size: int) -> float:
    model.eval()
    n = data.num_samples("val")
    total = 0.0
    for start in range(0, n, batch_size):
        index = torch.arange(start, min(start + batch_size, n))
        batch, targets = data.batch("val", index)
        batch = backend.bind(batch.to(device))
        outputs = named_outputs(model(batch), model.spec.target, model)
        total += float(model.loss(outputs, {k: v.to(device) for k, v in targets.items()}, batch)) * len(index)
    return total / max(n, 1)


def check_output_shapes(model: Model, outputs: dict[str, Tensor], targets: dict[str, Tensor]) -> None:
    """Every named output that has a target has the target's shape (no broadcasting), else a ``BenchError``
    naming the model class, the output and both shapes."""
    for name, value in outputs.items():
        if name in targets and tuple(value.shape) != tuple(targets[name].shape):
            raise BenchError(
                f"{type(model).__name__}.forward returned '{name}' of shape {tuple(value.shape)}; expected "
                f"{tuple(targets[name].shape)}, the shape of the target '{name}' (stopped before the first "
                f"training step: the loss would broadcast the two)"
            )


def _loss_bound(data: Any, cfg: TrainConfig, device: torch.device, objective, loss_bound) -> float | None:
    """The bound on the objective: ``loss_bound`` (default ``Family.loss_bound``'s rule) of the objective of
    predicting zero on the first training batch (its first samples, not augmented: the same on a resume)."""
    from bench.family import default_loss_bound

    index = torch.arange(min(data.num_samples("train"), cfg.batch_size))
    _, targets = data.batch("train", index)
    targets = {k: v.to(device) for k, v in targets.items()}
    with torch.no_grad():
        zero = float(objective({k: torch.zeros_like(v) for k, v in targets.items()}, targets))
    bound = float((loss_bound or default_loss_bound)(zero))
    return bound if math.isfinite(bound) else None


def train_step(
    model: Model, forward, data: Any, index: Tensor, generator: torch.Generator, backend: Backend,
    device: torch.device, cfg: TrainConfig, opt: torch.optim.Optimizer, sched, objective, own_loss: bool, mixed,
    check_shapes: bool = False,
) -> float:  # fmt: skip
    """One optimiser step of the training loop on training samples ``index``: the batch (augmented), the forward
    pass, the loss and the model's regularisation, backward, clipping, the optimiser and the schedule. Returns the
    loss (without the regularisation); a non-finite total skips the update and is returned (inf or nan).
    ``benchmarks/loop_overhead.py`` times this function against the model's forward and backward alone."""
    batch, targets = data.batch("train", index, augment=True, generator=generator)
    batch, targets = backend.bind(batch.to(device)), {k: v.to(device) for k, v in targets.items()}
    loss, total = step_loss(model, forward, batch, targets, objective, own_loss, mixed, check_shapes)
    if not torch.isfinite(total):
        return float(total.item())  # inf or nan: the caller stops
    value = loss.item()
    update(model, total, opt, sched, cfg.grad_clip)
    return value


def step_loss(
    model: Model, forward, batch, targets: dict[str, Tensor], objective, own_loss: bool, mixed,
    check_shapes: bool = False,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The forward pass on a bound ``batch`` (under the precision context ``mixed``) and (its loss, the loss plus the
    model's regularisation): the objective, or the model's own ``loss`` when ``own_loss``. ``check_shapes``: check
    every named output against its target first (before the first step: a broadcast loss trains on nonsense)."""
    with mixed:
        outputs = named_outputs(forward(batch), model.spec.target, model)
        if check_shapes:
            check_output_shapes(model, outputs, targets)
        loss = model.loss(outputs, targets, batch) if own_loss else objective(outputs, targets)
        return loss, loss + as_tensor(model.regularization(batch), loss).float()


def update(model: Model, total: Tensor, opt: torch.optim.Optimizer, sched, grad_clip: float | None) -> None:
    """Backward from ``total``, the gradient clipped to ``grad_clip`` (None: not clipped), the optimiser's step and
    the schedule's."""
    opt.zero_grad(set_to_none=True)
    total.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
    sched.step()


def train(
    model: Model,
    data: Any,
    cfg: TrainConfig,
    backend: Backend,
    device: torch.device,
    run_dir: Path,
    seed: int,
    objective,
    resume: bool = True,
    progress: bool = True,
    identity: dict[str, str] | None = None,
    loss_bound: Callable[[float], float] | None = None,
    monitor: Callable[[Model], dict[str, float]] | None = None,
) -> TrainResult:
    """Train ``model`` on ``data``'s train split; keeps the best-validation weights in ``run_dir/best.pt``.

    ``objective(outputs, targets)``: the task's default loss, used unless the model defines ``loss``.
    ``identity``: what the run is (``bench.run.run_identity``: its folder hash and data checksum), written
    into every checkpoint; resuming from a checkpoint of another identity is refused.
    ``loss_bound(zero_loss)``: the task's bound on the objective (``Family.loss_bound`` for the task's card;
    None: the default rule), given the objective of predicting zero on the first training batch; a validation
    loss above it (or a non-finite training loss) stops training with ``TrainingDiverged``. Not applied to a model's own
    ``loss``. Before the first optimiser step every named output with a target must have its shape.
    ``monitor(model)``: validation metrics after each epoch (``Family.monitor``: NRI's edge accuracy), kept in
    the history and printed; they do not choose the best epoch (the validation loss does)."""
    from tqdm.auto import tqdm

    mixed = autocast(cfg.precision, device)  # checks the name before any work
    if model.num_parameters() == 0:  # a parameter-free baseline: nothing to train, still validated
        model.calibrate(data, backend, device)
        if model.state_dict():  # fitted buffers (a threshold): saved as the run's weights
            run_dir.mkdir(parents=True, exist_ok=True)
            _atomic_save(model.state_dict(), run_dir / "best.pt")
        val = _val_loss(model, data, backend, device, cfg, objective)
        return TrainResult(best_epoch=0, best_val_loss=val, epochs_run=0, stopped_early=False, train_time_s=0.0)
    own_loss = type(model).loss is not Model.loss
    # dynamic=False: one graph per batch shape (the full batch and the last, smaller one)
    forward = torch.compile(model, dynamic=False) if cfg.compile else model
    run_dir.mkdir(parents=True, exist_ok=True)
    n_train = data.num_samples("train")
    steps_per_epoch = math.ceil(n_train / cfg.batch_size)
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, int(cfg.max_steps_per_epoch))
    opt = make_optimizer(model, cfg.optimizer, cfg.lr, cfg.weight_decay)
    sched = _scheduler(opt, cfg, cfg.epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)

    state = {"epoch": 0, "best_val": math.inf, "best_epoch": -1, "bad_epochs": 0, "history": [], "time": 0.0}
    last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"
    if resume and last_path.exists():
        ckpt = _load_checkpoint(last_path, identity)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        generator.set_state(ckpt["generator"])
        torch.set_rng_state(ckpt["torch_rng"])  # stochastic models (gnn-kl) draw from the global generator
        state = ckpt["state"]
        if progress:
            print(f"resuming from {last_path} after epoch {state['epoch']}")

    if state["epoch"] == 0:
        model.calibrate(data, backend, device)  # (a resumed run has its fitted buffers in the checkpoint)
    stopped_early = False
    bound = None if own_loss else _loss_bound(data, cfg, device, objective, loss_bound)
    shapes_checked = False
    while state["epoch"] < cfg.epochs:
        epoch = state["epoch"]
        if cfg.patience is not None and epoch > 0 and state["bad_epochs"] >= cfg.patience:
            stopped_early = True
            break
        t0 = time.perf_counter()
        model.on_epoch_start(epoch, cfg.epochs)
        model.train()
        order = torch.randperm(n_train, generator=generator)
        running, count = 0.0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress,
                   leave=False, mininterval=0.5)  # fmt: skip
        for step in bar:
            index = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            value = train_step(model, forward, data, index, generator, backend, device, cfg, opt, sched, objective,
                               own_loss, mixed, check_shapes=not shapes_checked)  # fmt: skip
            shapes_checked = True
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"training diverged: loss is {value} at epoch {epoch + 1}, step {step + 1}; "
                    f"try a lower learning rate (model.train.lr={cfg.lr})"
                )
            running += value
            count += 1
            if step % 20 == 0:
                bar.set_postfix(loss=f"{running / count:.4g}")
        model.on_epoch_end(epoch, cfg.epochs, data, backend, device)
        # The bound applies to the validation loss, the model as it stands after the epoch: training losses on
        # heavy-tailed data (charge's close encounters) spike by 1e9 on single batches the model recovers from.
        val = _val_loss(model, data, backend, device, cfg, objective)
        if not math.isfinite(val):
            raise TrainingDiverged(f"training diverged: validation loss is {val} after epoch {epoch + 1}")
        if bound is not None and val > bound:
            raise TrainingDiverged(
                f"training diverged: the validation loss {val:.4g} after epoch {epoch + 1} (its last step: {count}) "
                f"is above the task's bound {bound:.4g} (Family.loss_bound: by default 1e6 times the loss "
                f"of predicting zero); try a lower learning rate (model.train.lr={cfg.lr}); nothing was recorded"
            )
        elapsed = time.perf_counter() - t0
        monitored = {f"val_{k}": float(v) for k, v in (monitor(model) if monitor else {}).items()}
        state["history"].append({"epoch": epoch + 1, "train_loss": running / max(count, 1), "val_loss": val,
                                 "time_s": elapsed, "lr": opt.param_groups[0]["lr"], **monitored})  # fmt: skip
        state["time"] += elapsed
        if val < state["best_val"]:
            state["best_val"], state["best_epoch"], state["bad_epochs"] = val, epoch + 1, 0
            _atomic_save(model.state_dict(), best_path)
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch + 1
        if progress:
            shown = "".join(f"  {k} {v:.4g}" for k, v in monitored.items())
            best = "  (best)" if state["best_epoch"] == epoch + 1 else ""
            print(f"epoch {epoch + 1}/{cfg.epochs}: train {running / max(count, 1):.4g}  val {val:.4g}{shown}"
                  f"{best}  [{elapsed:.1f}s{time_left(state['history'], cfg.epochs)}]", flush=True)  # fmt: skip
        checkpoint = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "state": state,
            "identity": identity,
        }
        _atomic_save(checkpoint, last_path)

    model.load_state_dict(torch.load(best_path, map_location="cpu", weights_only=True))
    return TrainResult(
        best_epoch=state["best_epoch"], best_val_loss=state["best_val"], epochs_run=state["epoch"],
        stopped_early=stopped_early, train_time_s=state["time"], history=state["history"],
    )  # fmt: skip


def time_left(history: list[dict[str, Any]], epochs: int) -> str:
    """``", about N s|min of training left"``: the mean time of the last (up to 3) epochs times the epochs to go
    ("" when none is left or nothing was timed)."""
    done = len(history)
    recent = [float(h.get("time_s", 0.0)) for h in history[-3:]]
    if done >= epochs or not recent or sum(recent) <= 0:
        return ""
    seconds = sum(recent) / len(recent) * (epochs - done)
    amount = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
    return f", about {amount} of training left"


def _atomic_save(obj: Any, path: Path) -> None:
    atomic_write(path, lambda f: torch.save(obj, f))


CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "generator", "torch_rng", "state")
_RESUME_HINT = "delete the run folder {folder} to train again from the start, or pass resume=false"


def _load_checkpoint(path: Path, identity: dict[str, str] | None) -> dict[str, Any]:
    """The checkpoint at ``path`` if it is this run's (its ``identity`` equals ``identity``); a ``BenchError``
    naming the file for an unreadable one or another run's. Read with ``weights_only``: a checkpoint holds
    tensors and plain values, never code, so a file copied in from elsewhere cannot run anything."""
    hint = _RESUME_HINT.format(folder=path.parent)
    try:
        # On the CPU first: the generator state must stay a CPU tensor; load_state_dict moves the rest.
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BenchError(f"the checkpoint {path} cannot be read (truncated or not a checkpoint: {reason[:200]}); "
                         f"{hint}") from None  # fmt: skip
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in CHECKPOINT_KEYS):
        raise BenchError(f"the checkpoint {path} is not a training checkpoint (it lacks "
                         f"{', '.join(k for k in CHECKPOINT_KEYS if not isinstance(ckpt, dict) or k not in ckpt)}); "
                         f"{hint}")  # fmt: skip
    theirs = ckpt.get("identity")
    if identity is not None and theirs != identity:
        said = (f"config_hash {theirs.get('config_hash')}, data {theirs.get('data_checksum')}"
                if isinstance(theirs, dict) else "no identity: written by an older version or by hand")  # fmt: skip
        raise BenchError(f"the checkpoint {path} belongs to another run ({said}), not to this one "
                         f"(config_hash {identity.get('config_hash')}, data {identity.get('data_checksum')}); "
                         f"refusing to resume from it: {hint}")  # fmt: skip
    return ckpt
