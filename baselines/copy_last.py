r"""The trivial n-body baseline: every particle stays where it is,

.. math::
    \hat x_i = x_i ,

"copy the last frame". It has no parameters (the training loop gives it zero epochs) and sits beside
the models as the error of predicting no motion at all; ``linear`` (:math:`x_i + \Delta t\, v_i`) is
the next step up.

Shapes: ``forward`` (N, d).
"""

from __future__ import annotations

from torch import Tensor

from bench.batch import Batch
from bench.model import Model, TaskSpec


class CopyLast(Model):
    families = ("nbody",)

    def __init__(self, spec: TaskSpec):
        super().__init__(spec)

    def forward(self, batch: Batch) -> Tensor:
        return batch.position.clone()  # a copy: a caller may write into its prediction
