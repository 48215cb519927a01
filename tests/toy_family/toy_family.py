"""A minimal task family that lives outside ``tasks/``: the proof that a family is a plug-in.

Particles pulled towards the origin (x'' = −x); a sample is one system of ``n_particles``; the target is
every particle's position ``dt`` later. Registered by the tests through the entry-point group
``bench.families`` (a ``toy_family-0.1.dist-info`` written on the import path), exactly as an installed
package would register it; nothing in ``bench/`` knows it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import bench
from bench.batch import flat_nodes, from_dense
from bench.evaluation import TaskEvaluator
from bench.family import Analysis, Family, Metric
from bench.model import TaskSpec, mlp

SPLITS = {"train": 0.6, "val": 0.2, "test": 0.2}


class ToyData:
    def __init__(self, dataset, card):
        self.splits = {s: {k: torch.from_numpy(v) for k, v in dataset.split(s).items()} for s in SPLITS}

    def num_samples(self, split: str) -> int:
        return int(self.splits[split]["position"].shape[0])

    def batch(self, split, index, augment=False, generator=None):
        s = self.splits[split]
        return from_dense(s["position"][index], s["velocity"][index], {}), flat_nodes({"position": s["next"][index]})

    def targets(self, split: str) -> dict[str, np.ndarray]:
        return {"position": self.splits[split]["next"].numpy()}


class ToyEvaluator(TaskEvaluator):
    metric_table = (
        Metric("mae", "lower", "mean absolute error of the next positions (primary)", "length"),
        Metric("within_tol", "higher", "fraction of position components within 0.05 of the truth"),
    )
    expected_input = {"position_pred": "(S, n, d) predicted positions", "position_true": "(S, n, d) true positions"}

    def __call__(self, input_dict):
        pred = np.asarray(input_dict["position_pred"], dtype=np.float64)
        true = np.asarray(input_dict["position_true"], dtype=np.float64)
        if pred.shape != true.shape:
            raise ValueError(f"ToyEvaluator: position_pred {pred.shape} and position_true {true.shape} differ")
        err = np.abs(pred - true)
        return {"mae": float(err.mean()), "within_tol": float((err < 0.05).mean())}


class ToyFamily(Family):
    name = "toy"
    description = "a toy family defined in the tests (plug-in proof)"
    conf_dir = Path(__file__).resolve().parent / "conf"
    data_keys = ("family", "version", "n_particles", "dim", "data_seed", "dt")

    def generate(self, card, scale, progress=True):
        rng = np.random.default_rng(int(card.data_seed))
        S, n, d, dt = int(card.simulations[scale]), int(card.n_particles), int(card.dim), float(card.dt)
        x, v = rng.standard_normal((S, n, d)), rng.standard_normal((S, n, d))
        nxt = x + dt * v - 0.5 * dt * dt * x
        bounds = np.cumsum([0] + [round(f * S) for f in SPLITS.values()])
        arrays = {}
        for (split, _), lo, hi in zip(SPLITS.items(), bounds[:-1], bounds[1:], strict=True):
            for key, a in (("position", x), ("velocity", v), ("next", nxt)):
                arrays[f"{split}/{key}"] = a[lo:hi].astype(np.float32)
        return arrays, {"simulations": S}

    def load(self, dataset, card):
        return ToyData(dataset, card)

    def task_spec(self, card, scale=None):
        return TaskSpec(family="toy", dim=int(card.dim), n_particles=int(card.n_particles), attributes=(),
                        target="position", target_dim=int(card.dim))  # fmt: skip

    def batch_size(self, card):
        return 16

    def evaluator(self, card):
        return ToyEvaluator(card)

    def truth(self, card, data, names):
        return {"position_true": data.targets("test")["position"]}

    def analyse(self, model, data, backend, device, cfg, directory):
        """A forward pass timed on this machine (a diagnostic) and the mean predicted displacement."""
        import time

        batch, _ = data.batch("test", torch.arange(data.num_samples("test")))
        batch = backend.bind(batch.to(device))
        start = time.perf_counter()
        with torch.no_grad():
            out = model(batch)
        elapsed = time.perf_counter() - start
        moved = float((out - batch.position).norm(dim=-1).mean())
        return Analysis(analyses={"mean_displacement": moved}, diagnostics={"forward_time_s": elapsed})

    def app_panels(self, rows, read_record):
        import streamlit as st

        st.subheader("Toy panel")
        st.write(f"{len(rows)} toy runs")


class ToyNet(bench.Model):
    """Next position = x + a small MLP of (x, v)."""

    families = ("toy",)

    def __init__(self, spec, hidden: int = 16):
        super().__init__(spec)
        self.net = mlp([2 * spec.dim, hidden, spec.dim])

    def forward(self, batch):
        return batch.position + self.net(torch.cat([batch.position, batch.velocity], -1))


class StayPut(bench.Model):
    """The trivial baseline: copy the last frame (no parameters: trained for zero epochs)."""

    families = ("toy",)

    def forward(self, batch):
        return batch.position.clone()
