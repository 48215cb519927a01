r"""The linear baseline of Satorras et al. 2021 (Table 2): every particle keeps its velocity for a
learned time,

.. math::
    \hat x_i = x_i + \Delta t \, v_i ,

with :math:`\Delta t` the only parameter. It is the error of ignoring every interaction.

:math:`\Delta t` starts at its least-squares value on the training split,
:math:`\sum v \cdot (y - x) / \sum v \cdot v` (``calibrate``), the value the published training by gradient
descent converges to; the training loop then has nothing left to learn. A short budget of gradient steps
from :math:`\Delta t = 0` does not reach it (quick nbody20: 108 Adam steps at 1e-2 left the MSE at 0.180,
against 0.101 published). ``initial_dt`` set: start there instead, and learn by gradient descent only.

Shapes: ``forward`` (N, 3).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.batch import Batch
from bench.model import Model, TaskSpec


class Linear(Model):
    families = ("nbody",)

    def __init__(self, spec: TaskSpec, initial_dt: float | None = None):
        super().__init__(spec)
        self.initial_dt = initial_dt
        self.dt = nn.Parameter(torch.tensor(0.0 if initial_dt is None else float(initial_dt)))

    def calibrate(self, data, backend, device: torch.device) -> None:
        """Δt by least squares on the training split (unless ``initial_dt`` was given)."""
        if self.initial_dt is not None:
            return
        num = den = 0.0
        count = data.num_samples("train")
        for start in range(0, count, 1000):
            batch, targets = data.batch("train", torch.arange(start, min(start + 1000, count)))
            v, step = batch.velocity.double(), targets["position"].double() - batch.position.double()
            num += float((v * step).sum())
            den += float((v * v).sum())
        with torch.no_grad():
            self.dt.fill_(num / den if den > 0 else 0.0)

    def forward(self, batch: Batch) -> Tensor:
        return batch.position + self.dt * batch.velocity
