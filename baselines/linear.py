r"""The linear baseline of Satorras et al. 2021 (Table 2): every particle keeps its velocity for a
learned time,

.. math::
    \hat x_i = x_i + \Delta t \, v_i ,

with :math:`\Delta t` the only parameter. It is the error of ignoring every interaction.

Shapes: ``forward`` (N, 3).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.batch import Batch
from bench.model import Model, TaskSpec


class Linear(Model):
    families = ("nbody",)

    def __init__(self, spec: TaskSpec, initial_dt: float = 0.0):
        super().__init__(spec)
        self.dt = nn.Parameter(torch.tensor(float(initial_dt)))

    def forward(self, batch: Batch) -> Tensor:
        return batch.position + self.dt * batch.velocity
