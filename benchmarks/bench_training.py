"""asv: one training step (forward, backward, Adam) of every model on every installed backend, at
the model card's batch size; and the reference implementations of the step-time comparisons, beside
our two compared steps at float32 and with bf16 mixed precision (the egnn's also compiled)."""

from __future__ import annotations

import torch

from bench.backends import installed
from bench.registry import model_names
from benchmarks.common import EGNN_NBODY, batch_for, model_for, our_step, plain_step, random_batch, target_of
from benchmarks.references import ScatterEGNN, plain_pyg_gnn


class TrainStep:
    params = (list(model_names()), list(installed()))
    param_names = ["model", "backend"]
    timeout = 120

    def setup(self, model, backend):
        net, cfg, graphs = model_for(model)
        self.step = our_step(net, batch_for(net, graphs), backend)
        self.step()

    def time_step(self, model, backend):
        self.step()


class ReferenceStep:
    params = [
        "plain-pyg-gnn",
        "scatter-egnn",
        "ours-gnn",
        "ours-egnn-nbody5",
        "ours-gnn-bf16",
        "ours-egnn-nbody5-bf16",
        "ours-egnn-nbody5-bf16-compile",
    ]
    param_names = ["implementation"]
    timeout = 120

    def setup(self, implementation):
        precision = "bf16" if "-bf16" in implementation else "fp32"
        compile = implementation.endswith("-compile")
        if "gnn" in implementation and "egnn" not in implementation:
            net, _, graphs = model_for("gnn")
            batch = random_batch(graphs, 4, 2)
            if implementation.startswith("ours"):
                self.step = our_step(net, batch, "torch", precision=precision)
            else:
                x = torch.cat([batch.position, batch.velocity, batch.node_scalars(("charge", "mass"))], dim=1)
                self.step = plain_step(plain_pyg_gnn(6, 2), (x, batch.edge_index), target_of(batch))
        else:
            n, d, graphs = EGNN_NBODY
            batch = random_batch(graphs, n, d)
            if implementation.startswith("ours"):
                net, _, _ = model_for("egnn", ["task=charge", "task.n_particles=8", f"task.dim={d}"])
                self.step = our_step(net, batch, "torch", precision=precision, compile=compile)
            else:
                inputs = (batch.position, batch.velocity, batch.node_scalars(("charge", "mass")), batch.edge_index)
                self.step = plain_step(ScatterEGNN(2), inputs, target_of(batch))
        self.step()

    def time_step(self, implementation):
        self.step()
