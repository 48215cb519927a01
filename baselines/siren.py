r"""SIREN (Sitzmann et al. 2020, "Implicit neural representations with periodic activation functions"): an MLP
with sine activations, the coordinate network Allier et al. use for a hidden field.

Layer l computes :math:`\sin(\omega_0 (W_l h + b_l))`; a linear layer maps the last to the output. Initialisation
(the paper's): the first layer's weights U(−1/n_in, 1/n_in), every later layer's U(−√(6/n)/ω₀, √(6/n)/ω₀) with n
its fan-in, biases as ``nn.Linear``'s. It computes in its parameters' dtype, also under a bf16 autocast: with
ω₀ = 80 a bf16 pre-activation (3 significant digits) would lose the phase of every sine.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class Siren(nn.Module):
    """``Siren(in_features, hidden, layers, out_features, omega0)``: ``layers`` sine layers of width ``hidden``,
    then a linear output; input (..., in_features) → (..., out_features)."""

    def __init__(self, in_features: int, hidden: int = 128, layers: int = 6, out_features: int = 1,
                 omega0: float = 80.0):  # fmt: skip
        super().__init__()
        if in_features < 1 or hidden < 1 or layers < 1 or out_features < 1 or not omega0 > 0:
            raise ValueError(f"Siren: in_features={in_features}, hidden={hidden}, layers={layers}, "
                             f"out_features={out_features} must be >= 1 and omega0={omega0} > 0")  # fmt: skip
        self.omega0 = float(omega0)
        sizes = [in_features] + [hidden] * layers
        self.sines = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.out = nn.Linear(hidden, out_features)
        with torch.no_grad():
            for k, layer in enumerate([*self.sines, self.out]):
                n = layer.in_features
                bound = 1.0 / n if k == 0 else math.sqrt(6.0 / n) / self.omega0
                layer.weight.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast(x.device.type, enabled=False):
            h = x.to(self.out.weight.dtype)  # the parameters' float32 (or float64), never an autocast type
            for layer in self.sines:
                h = torch.sin(self.omega0 * layer(h))
            return self.out(h)
