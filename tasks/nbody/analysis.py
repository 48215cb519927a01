"""What an n-body run measures beyond the test error: autoregressive rollouts (saved with the
predictions and scored by the official evaluator), the equivariance error, and parameters and
training-step time relative to EGNN measured in the same run.

``analyse`` is the family's hook for the runner (``bench.run``): it returns the record's ``analyses``
(equivariance, cost) and ``diagnostics`` (the machine-dependent step times, never ranked).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch

from bench.batch import from_dense
from bench.family import Analysis

EQUIVARIANCE_SYSTEMS = 256


def random_orthogonal(seed: int, reflect: bool = True) -> torch.Tensor:
    """A random 3×3 orthogonal matrix (float64): a rotation, composed with a reflection if ``reflect``."""
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if (torch.det(q) > 0) == reflect:
        q[:, 0] = -q[:, 0]
    return q


@torch.no_grad()
def equivariance_error(model, data, backend, seed: int = 0, split: str = "test") -> dict[str, float]:
    """max |f(Qx + t, Qv) − (Q f(x, v) + t)| over the first trajectories of ``split``, in float64, for a
    random rotation-with-reflection Q and a translation t ~ N(0, 5²) per coordinate (E(3) acting on the
    input, positions transform as points, velocities as vectors). Also the same quantity relative to
    the RMS displacement the model predicts, so that a model predicting nothing cannot pass."""
    m = copy.deepcopy(model).to("cpu", torch.float64).eval()
    index = torch.arange(min(EQUIVARIANCE_SYSTEMS, data.num_samples(split)))
    batch = data.batch(split, index)[0].to("cpu", torch.float64)
    Q = random_orthogonal(seed)
    t = torch.randn(1, 3, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64) * 5
    out = m(backend.bind(batch))
    moved = copy.copy(batch)
    moved.position, moved.velocity = batch.position @ Q.T + t, batch.velocity @ Q.T
    out_moved = m(backend.bind(moved))
    err = float((out_moved - (out @ Q.T + t)).abs().max())
    scale = float((out - batch.position).square().mean().sqrt())
    # relative to the motion it predicts; a model that predicts no motion has none (None, not a number)
    return {"equivariance_error": err, "equivariance_error_relative": err / scale if scale > 0 else None}


@torch.no_grad()
def rollout(model, data, backend, device, batch_size: int = 1024) -> np.ndarray:
    """Chain the model's jumps over the test split's stored frames: (S, K, n, 3) predicted positions.

    Each jump's input velocity after the first is the displacement over the previous jump divided by
    its duration (the model predicts positions only); the first uses the true velocity."""
    model.eval()
    s = data.splits["test"]
    x, v, q = s["position"][:, 0], s["velocity"][:, 0], s["charge"]
    tau = jump_time(data.card)
    out = []
    for _ in range(data.num_frames("test") - 1):
        nxt = []
        for start in range(0, x.shape[0], batch_size):
            part = slice(start, start + batch_size)
            b = backend.bind(from_dense(x[part], v[part], {"charge": q[part]}).to(device))
            nxt.append(model(b).reshape(-1, x.shape[1], 3).float().cpu())
        x_next = torch.cat(nxt)
        x, v = x_next, (x_next - x) / tau
        out.append(x_next)
    return torch.stack(out, 1).numpy()


def jump_time(card) -> float:
    return float(card.dt) * int(card.record_every) * (int(card.target_frame) - int(card.input_frame))


def step_time(model, data, backend, device, batch_size: int, steps: int = 8, repeats: int = 3) -> float:
    """Median seconds of one training step (forward, backward, Adam; a forward pass alone for a model
    without parameters) over ``steps`` training batches."""
    from bench.train import make_optimizer

    model = copy.deepcopy(model).train()
    trainable = any(p.requires_grad for p in model.parameters())
    opt = make_optimizer(model, "adam", 1e-4) if trainable else None  # a parameter-free model: forward only
    n = data.num_samples("train")
    # a fixed set of full batches (wrapping around a small training split)
    batches = [data.batch("train", torch.arange(k * batch_size, (k + 1) * batch_size) % n) for k in range(steps)]
    batches = [(backend.bind(b.to(device)), t["position"].to(device)) for b, t in batches]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for b, target in batches:
            loss = (model(b) - target).square().mean()
            if opt is not None:
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - t0) / len(batches))
    return float(np.median(times))


def relative_cost(model, data, backend, device, cfg) -> dict[str, float]:
    """Parameters and training-step time relative to ``egnn`` (its card for this task family), both
    measured here, interleaved, on the same batches."""
    from bench.config import compose
    from bench.run import build_model
    from bench.tasks.nbody.loader import reference_batch_size, task_spec

    batch_size = int(cfg.model.train.batch_size or reference_batch_size(cfg.task))
    own = step_time(model, data, backend, device, batch_size)
    if str(cfg.model.name) == "egnn":
        ref_params, ref = model.num_parameters(), own
    else:
        egnn_cfg = compose(["model=egnn", f"task={cfg.task.name}"])
        egnn_cfg.task = cfg.task
        torch.manual_seed(0)
        egnn = build_model(egnn_cfg, task_spec(cfg.task)).to(device)
        ref_params, ref = egnn.num_parameters(), step_time(egnn, data, backend, device, batch_size)
        own = min(own, step_time(model, data, backend, device, batch_size))  # interleaved: less drift
    steps = -(-data.num_samples("train") // batch_size)
    return {
        "params_relative_to_egnn": model.num_parameters() / ref_params,
        "time_relative_to_egnn": own / ref,
        "step_time_s": own,
        "egnn_step_time_s": ref,
        "epoch_time_estimate_s": own * steps,
    }


def analyse(model, data, backend, device, cfg, directory: Path) -> Analysis:
    """The equivariance error and the cost relative to EGNN (timings as diagnostics)."""
    equivariance = equivariance_error(model, data, backend, seed=int(cfg.seed))
    cost = relative_cost(model, data, backend, device, cfg)
    analyses = {
        "equivariance": {**equivariance, "transform": "random rotation with reflection and translation N(0, 5^2), "
                         "float64", "systems": int(min(EQUIVARIANCE_SYSTEMS, data.num_samples("test")))},
        "cost": {"params_relative_to_egnn": cost["params_relative_to_egnn"]},
    }  # fmt: skip
    timings = ("time_relative_to_egnn", "step_time_s", "egnn_step_time_s", "epoch_time_estimate_s")
    return Analysis(analyses=analyses, diagnostics={k: cost[k] for k in timings})
