"""Diagnostic: is a hidden field learnable from the particles, and by the baseline's field network?

    python scripts/field_identifiability.py [--task field-dynamic] [--scale quick] [--epochs 8] [--run DIR]
        [--out tasks/heterogeneous/field-identifiability-field-dynamic.json]

Separates the three things ``embedding-gnn-field`` must do at once, on the task's training run:

1. **supervised**: the baseline's SIREN (``bench.baselines.siren``, same size, ω₀, initial output bias and
   ``field_lr``) fitted to the true field values themselves, one frame per step, Adam with a cosine schedule
   over the same number of steps as the baseline's training. Can the network represent the field, within
   the budget?
2. **field alone**: the true pair functions and the true types given; the same SIREN fitted so that the
   field's term, mean over the nodes within R/2 of f_{t(i)}(r) d b(y, t), matches each particle's velocity
   minus its particle term (the simulator's own functions, ``bench.tasks.heterogeneous.systems``). Does the
   motion determine the field, when nothing else is unknown?
3. With ``--run DIR`` (a finished or running ``embedding-gnn-field`` run folder), the joint model's own
   curve from its checkpoint: train and validation loss, validation field score and embedding accuracy per
   epoch. The gap between 2 and 3 is what learning the types and the pair functions at the same time costs.
   When the run is finished (its ``predictions.npz`` holds ``field_pred``), also where the learned field's
   error lies: its score after a 3 × 3 mean over neighbouring nodes (node-scale noise removed) and, on a
   dynamic field, after an 11-frame running mean (frame-to-frame noise removed), each beside the same
   smoothing of the true field (what the smoothing alone costs a perfect field).

Prints the field's Pearson r (dynamic) or R² after the affine fit (static) per epoch, against the true
field of every frame; ``--out`` also writes them as JSON, which ``bench report family=heterogeneous`` shows
(section "What limits the learned field"). One thread by default; about 2 minutes per experiment at quick
scale, 8 epochs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def _score(pred: np.ndarray, truth: np.ndarray, dynamic: bool) -> float:
    from bench.tasks.heterogeneous.field_metrics import pearson_r, r2_affine

    return float(pearson_r(pred, truth) if dynamic else r2_affine(pred.ravel(), truth.ravel()))


def _field_problem(data: dict, card, scale: str):
    """Per training frame: the sparse map A_t (2N × M) from node values to the particles' field velocity (in
    units of the task's ``velocity_unit``) and the velocity minus the particle term, rhs_t (2N,)."""
    import torch
    from scipy.spatial import cKDTree

    from bench.tasks.heterogeneous import systems
    from bench.tasks.heterogeneous.generate import scale_value

    box, radius, sigma = float(scale_value(card, "box", scale)), float(card.radius), float(card.sigma)
    nodes = data["train/field_position"].astype(np.float64)
    tree = cKDTree(nodes, boxsize=box)
    unit = float(card.velocity_unit)
    params = data["train/params"]
    A, rhs = [], []
    for x, v in zip(data["train/position"].astype(np.float64), data["train/velocity"].astype(np.float64), strict=True):
        N = len(x)
        rest = (v - systems.velocity(x, params, box, float(radius), sigma)) / unit
        i, k, d = systems.field_pairs(x, tree, box, float(card.field.radius))
        count = np.maximum(np.bincount(i, minlength=N), 1)
        w = systems.pair_function(np.sqrt((d * d).sum(1)), params[i], sigma) / count[i] / unit
        index = torch.as_tensor(np.stack([np.concatenate([i, i + N]), np.concatenate([k, k])]))
        values = torch.as_tensor(np.concatenate([w * d[:, 0], w * d[:, 1]]), dtype=torch.float32)
        A.append(torch.sparse_coo_tensor(index, values, (2 * N, len(nodes)), check_invariants=True).coalesce())
        rhs.append(torch.as_tensor(np.concatenate([rest[:, 0], rest[:, 1]]), dtype=torch.float32))
    return A, rhs


def fit(data: dict, card, scale: str, hparams: dict, epochs: int, mode: str, seed: int = 0) -> list[float]:
    """The field score after each epoch of fitting the SIREN (``mode``: ``supervised`` or ``alone``)."""
    import torch

    from bench.baselines.siren import Siren
    from bench.tasks.heterogeneous.generate import scale_value

    truth = data["train/field_value"].astype(np.float64)  # (1 or T, M)
    frames = data["train/position"].shape[0]
    dynamic = truth.shape[0] > 1
    box = float(scale_value(card, "box", scale))
    length = box if hparams.get("field_coordinates", "physical") == "box" else 1.0  # the model's input unit
    xy = torch.as_tensor(data["train/field_position"] / length, dtype=torch.float32)
    M = len(xy)
    problem = _field_problem(data, card, scale) if mode == "alone" else None

    def inputs(t: int):
        return torch.cat([xy, torch.full((M, 1), t / max(frames - 1, 1))], 1) if dynamic else xy

    torch.manual_seed(seed)
    net = Siren(3 if dynamic else 2, int(hparams["field_hidden"]), int(hparams["field_layers"]), 1,
                float(hparams["field_omega0"]))  # fmt: skip
    with torch.no_grad():
        net.out.bias.fill_(float(hparams["field_init"]) ** 0.5)
    optimizer = torch.optim.Adam(net.parameters(), lr=float(hparams["field_lr"]))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * frames)
    order = torch.Generator().manual_seed(seed)
    scores = []
    for _ in range(epochs):
        for t in torch.randperm(frames, generator=order).tolist():
            b = net(inputs(t)).squeeze(-1).square()
            if problem is None:
                loss = (b - torch.as_tensor(truth[t if dynamic else 0], dtype=torch.float32)).square().mean()
            else:
                A, rhs = problem
                loss = (torch.sparse.mm(A[t], b[:, None]).squeeze(-1) - rhs[t]).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        with torch.no_grad():
            learned = np.stack([net(inputs(t)).squeeze(-1).square().numpy() for t in range(truth.shape[0])])
        scores.append(_score(learned, truth, dynamic))
    return scores


SIREN_KEYS = ("field_layers", "field_hidden", "field_omega0", "field_lr", "field_coordinates")
"""The field network's hyper-parameters the figures are made with (``field_coordinates``: "physical", the
model's default, when the card has none)."""

SMOOTHING = {"nodes 3 x 3": (1, 3, 3), "frames 11": (11, 1, 1)}
"""The smoothings of ``smoothing_scores``: a running mean's size over (frames, grid rows, grid columns)."""


def smoothing_scores(learned: np.ndarray, truth: np.ndarray, dynamic: bool) -> dict[str, dict[str, float]]:
    """Where a learned field (F, n²) errs: its score against ``truth`` as it is and after each running mean of
    ``SMOOTHING`` (periodic over the grid, whose nodes are n × n cell centres in C order; clamped at the first
    and last frame), beside the score of the same smoothing of the truth itself. Frame smoothing only on a
    dynamic field."""
    from scipy.ndimage import uniform_filter

    frames, m = truth.shape
    n = int(round(m**0.5))
    if n * n != m or learned.shape != truth.shape:
        raise ValueError(f"smoothing_scores: learned {learned.shape} and truth {truth.shape} must be (F, n^2)")

    def smooth(field: np.ndarray, size: tuple[int, int, int]) -> np.ndarray:
        cube = field.reshape(frames, n, n).astype(np.float64)
        return uniform_filter(cube, size, mode=("nearest", "wrap", "wrap")).reshape(frames, m)

    out = {"as learned": {"learned": _score(learned, truth, dynamic), "truth": 1.0}}
    for name, size in SMOOTHING.items():
        if size[0] > 1 and not dynamic:
            continue
        out[name] = {"learned": _score(smooth(learned, size), truth, dynamic),
                     "truth": _score(smooth(truth, size), truth, dynamic)}  # fmt: skip
    return out


def joint_curve(run: Path) -> list[dict]:
    """The epoch history of a run's last checkpoint (``last.pt``)."""
    import torch

    state = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    return list(state["state"]["history"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="field-dynamic", choices=["field-static", "field-dynamic"])
    p.add_argument("--scale", default="quick", choices=["tiny", "quick", "paper"])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--data-dir", default="data")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--run", type=Path, default=None, help="an embedding-gnn-field run folder: its own curve")
    p.add_argument("--experiments", nargs="*", default=["supervised", "alone"], choices=["supervised", "alone"])
    p.add_argument(
        "--coordinates",
        default=None,
        choices=["physical", "box"],
        help="the SIREN's position input (default: the model card's field_coordinates)",
    )
    p.add_argument("--out", type=Path, default=None, help="also write the figures here as JSON")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs {args.epochs}: valid: an integer >= 1")
    if args.run is not None and not (args.run / "last.pt").is_file():
        p.error(f"--run {args.run}: no last.pt there (valid: a run folder of embedding-gnn-field)")

    import torch

    from bench.config import model_card, task_card
    from bench.tasks.data import generate_dataset

    torch.set_num_threads(args.threads)
    card = task_card(args.task)
    data = generate_dataset(card, args.scale, root=args.data_dir).arrays
    hparams = dict(model_card("embedding-gnn-field").hparams)
    if args.coordinates is not None:
        hparams["field_coordinates"] = args.coordinates
    metric = "Pearson r" if str(card.field.kind) == "dynamic" else "R2 (affine)"
    print(f"{args.task} at {args.scale}: training run of {data['train/position'].shape[0]} frames, "
          f"{data['train/position'].shape[1]} particles, {data['train/field_position'].shape[0]} field nodes; "
          f"SIREN {hparams['field_layers']} x {hparams['field_hidden']}, omega0 {hparams['field_omega0']}, "
          f"lr {hparams['field_lr']}, one frame per step; field {metric} per epoch")  # fmt: skip
    result: dict = {"task": args.task, "scale": args.scale, "epochs": args.epochs, "metric": metric,
                    "frames": int(data["train/position"].shape[0]), "particles": int(data["train/position"].shape[1]),
                    "nodes": int(data["train/field_position"].shape[0]),
                    "siren": {k: hparams.get(k, "physical") if k == "field_coordinates" else hparams[k]
                              for k in SIREN_KEYS},
                    "experiments": {}}  # fmt: skip
    for mode in args.experiments:
        start = time.perf_counter()
        scores = fit(data, card, args.scale, hparams, args.epochs, mode)
        result["experiments"][mode] = {"scores": scores, "seconds": round(time.perf_counter() - start, 1)}
        label = {"supervised": "supervised on the true field", "alone": "true pair functions and types given"}[mode]
        print(f"  {label:<40} {' '.join(f'{v:.3f}' for v in scores)}   ({time.perf_counter() - start:.0f} s)")
    if args.run is not None:
        key = "val_field_pearson_r" if str(card.field.kind) == "dynamic" else "val_field_r2"
        history = joint_curve(args.run)

        def row(values) -> str:
            return " ".join(f"{v:.3f}" for v in values)

        print(f"  {'joint model (' + args.run.name + ')':<40} {row(h.get(key, float('nan')) for h in history)}")
        print(f"    train loss {row(h['train_loss'] for h in history)}")
        print(f"    val loss   {row(h['val_loss'] for h in history)}")
        print(f"    val embedding accuracy (matched) "
              f"{row(h.get('val_embedding_accuracy_matched', float('nan')) for h in history)}")  # fmt: skip
        from omegaconf import OmegaConf

        run_hparams = OmegaConf.load(args.run / "config.yaml").model.hparams
        result["joint"] = {
            "run": str(args.run), "scores": [h.get(key) for h in history],
            "field_coordinates": str(run_hparams.get("field_coordinates", "box")),  # v1 cards had no key: box
            "train_loss": [h["train_loss"] for h in history], "val_loss": [h["val_loss"] for h in history],
            "embedding_accuracy_matched": [h.get("val_embedding_accuracy_matched") for h in history],
        }  # fmt: skip
        predictions = args.run / "predictions.npz"
        learned = None
        if predictions.is_file():
            with np.load(predictions) as saved:  # read once: the field only
                learned = saved["field_pred"] if "field_pred" in saved.files else None
        truth = data["test/field_value"]
        if learned is not None and learned.shape == truth.shape:
            smoothing = smoothing_scores(learned, truth, str(card.field.kind) == "dynamic")
            result["joint"]["smoothing"] = smoothing
            print(
                "    where the learned field errs (test run's field; learned / the truth smoothed alike): "
                + "; ".join(f"{k} {v['learned']:.3f} / {v['truth']:.3f}" for k, v in smoothing.items())
            )
    if args.out is not None:
        import json

        from bench.io import atomic_write_text

        atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
        print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
