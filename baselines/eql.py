r"""GNN+EQL (report "GNN+EQL", after Martius & Lampert's Equation Learner): the Cranmer GNN with an
Equation Learner as its edge function, trained end to end, whose equation is read off its weights.

Edge function: inputs ``u`` of the pair (by default Δx, Δy[, Δz], r', 1/r', m_i, m_j, Δ = x_i − x_j,
r' = |Δ| + 0.01 — the report gives 1/r' as an input because the EQL cannot divide), then ``layers``
hidden layers, each a linear map ``z = W h + b`` followed by ``identity`` units (z_k), ``product`` units
(z_a z_b, two pre-activations each) and ``constant`` units (a learned number each), then a linear map to
the ``message_dim`` message components. Node function: the GNN's MLP on [x_i, Σ_j m_ij].

Training, in two phases over the epochs:

1. Sparsity: ``sparsity`` × Σ|w| over every weight of the EQL (an L1 penalty, as in the report) plus
   ``l1_weight`` × the mean summed |message| (the L1 variant of Cranmer et al., which leaves few active
   message components).
2. At ``prune_at`` of the epochs every EQL weight with |w| < ``threshold`` is set to zero and kept there
   by a mask; the rest is fine-tuned without the weight penalty.

``equation()``: the message components with the largest spread on the last training epoch (the
system's dimension d of them), each as the expanded SymPy expression of ``recovery.variable_names`` that
the masked weights compute, exactly (rounding tiny terms away is the recovery score's business).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.baselines.gnn import GNN, MessageStatistics
from bench.batch import Batch
from bench.errors import BenchError
from bench.model import TaskSpec

INPUTS = ("delta", "rp", "inv_rp", "inv_rp2", "inv_rp3", "m_i", "m_j", "q_i", "q_j")
"""Edge inputs an EQL may read; ``delta`` is the d components of x_i − x_j."""


class MaskedLinear(nn.Linear):
    """A linear map whose pruned weights (``mask`` 0) stay zero: they get no value and no gradient."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__(n_in, n_out)
        self.register_buffer("mask", torch.ones_like(self.weight))

    def forward(self, h: Tensor) -> Tensor:
        return nn.functional.linear(h, self.weight * self.mask, self.bias)

    @torch.no_grad()
    def prune(self, threshold: float) -> None:
        self.mask.mul_((self.weight.abs() >= threshold).to(self.mask.dtype))

    def symbolic(self, h: list) -> list:
        import sympy

        W = (self.weight * self.mask).detach().double().cpu().numpy()
        b = self.bias.detach().double().cpu().numpy()
        return [sum((sympy.Float(w) * x for w, x in zip(row, h, strict=True) if w != 0), sympy.Float(bk))
                for row, bk in zip(W, b, strict=True)]  # fmt: skip


class EQLLayer(nn.Module):
    """``z = W h + b``; outputs [z_1..z_I, z_{I+1} z_{I+2}, ..., c_1..c_C] (identity, product, constant)."""

    def __init__(self, n_in: int, identity: int, product: int, constant: int):
        super().__init__()
        self.identity, self.product, self.constant = identity, product, constant
        self.linear = MaskedLinear(n_in, identity + 2 * product)
        self.constants = nn.Parameter(torch.ones(constant))

    @property
    def n_out(self) -> int:
        return self.identity + self.product + self.constant

    def forward(self, h: Tensor) -> Tensor:
        z = self.linear(h)
        ident, pairs = z[:, : self.identity], z[:, self.identity :]
        products = pairs[:, 0::2] * pairs[:, 1::2]
        return torch.cat([ident, products, self.constants.expand(z.shape[0], -1)], dim=-1)

    def symbolic(self, h: list) -> list:
        import sympy

        z = self.linear.symbolic(h)
        ident, pairs = z[: self.identity], z[self.identity :]
        products = [pairs[2 * k] * pairs[2 * k + 1] for k in range(self.product)]
        return ident + products + [sympy.Float(float(c)) for c in self.constants.detach().cpu()]


class EQLGNN(MessageStatistics, GNN):
    def __init__(
        self,
        spec: TaskSpec,
        inputs: tuple[str, ...] | list[str] = ("delta", "rp", "inv_rp", "m_i", "m_j"),
        eql_layers: int = 2,
        identity: int = 16,
        product: int = 8,
        constant: int = 8,
        sparsity: float = 1e-2,
        l1_weight: float = 1e-2,
        prune_at: float = 0.6,
        threshold: float = 0.1,
        **hparams,
    ):
        bad = [i for i in inputs if i not in INPUTS]
        if bad:
            raise BenchError(f"eql-gnn: unknown input(s) {bad}; valid: {', '.join(INPUTS)}")
        self.inputs = tuple(inputs)
        self.eql_shape = (eql_layers, identity, product, constant)
        super().__init__(spec, **hparams)
        self.sparsity, self.l1_weight, self.prune_at, self.threshold = sparsity, l1_weight, prune_at, threshold
        self.register_buffer("pruned", torch.zeros((), dtype=torch.bool))
        self.init_message_statistics(self.message_dim)
        self.register_buffer("message_std", torch.zeros(self.message_dim))
        self._last_messages: Tensor | None = None

    def input_names(self) -> list[str]:
        names = []
        for i in self.inputs:
            names += ["dx", "dy", "dz"][: self.spec.dim] if i == "delta" else [i]
        return names

    def make_edge_model(self, node_dim: int, hidden: int, layers: int, outputs: int) -> nn.Module:
        n_layers, identity, product, constant = self.eql_shape
        modules: list[nn.Module] = []
        width = len(self.input_names())
        for _ in range(n_layers):
            layer = EQLLayer(width, identity, product, constant)
            modules.append(layer)
            width = layer.n_out
        modules.append(MaskedLinear(width, outputs))
        return nn.Sequential(*modules)

    def edge_inputs(self, batch: Batch) -> Tensor:
        delta = batch.ops.relative_position(batch.position)
        rp = delta.norm(dim=-1, keepdim=True) + 0.01
        ops = batch.ops
        mass, charge = batch.attributes["mass"][:, None], batch.attributes["charge"][:, None]
        columns = {
            "delta": delta, "rp": rp, "inv_rp": 1 / rp, "inv_rp2": rp**-2, "inv_rp3": rp**-3,
            "m_i": ops.receivers(mass), "m_j": ops.senders(mass),
            "q_i": ops.receivers(charge), "q_j": ops.senders(charge),
        }  # fmt: skip
        return torch.cat([columns[i] for i in self.inputs], dim=-1)

    def _messages(self, batch: Batch, x: Tensor) -> Tensor:
        messages = self.edge_mlp(self.edge_inputs(batch))
        if self.training:
            self._last_messages = messages
            self.accumulate_messages(messages)
        return messages

    def masked_linears(self) -> list[MaskedLinear]:
        return [m for m in self.edge_mlp.modules() if isinstance(m, MaskedLinear)]

    def regularization(self, batch: Batch) -> Tensor | float:
        reg: Tensor | float = 0.0
        if self._last_messages is not None and self.l1_weight:
            reg = self.l1_weight * self._last_messages.abs().sum(-1).mean()
        if not bool(self.pruned) and self.sparsity:
            reg = reg + self.sparsity * sum((m.weight * m.mask).abs().sum() for m in self.masked_linears())
        return reg

    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        std = self.messages_std()
        if std is not None:
            self.message_std.copy_(std)
        self.reset_message_statistics()
        if not bool(self.pruned) and epoch >= max(1, round(self.prune_at * epochs)):
            self.prune()

    @torch.no_grad()
    def prune(self) -> None:
        """Zero (and keep at zero) every EQL weight below the threshold, the output layer's too."""
        for m in self.masked_linears():
            m.prune(self.threshold)
        self.pruned.fill_(True)

    def equation(self) -> list:
        """SymPy expressions of the ``d`` message components of largest spread (see the module doc)."""
        import sympy

        from bench.tasks.forces import recovery

        syms = recovery.symbols(self.spec.dim)
        value = {**{n: syms[n] for n in syms}, "inv_rp": 1 / syms["rp"], "inv_rp2": syms["rp"] ** -2,
                 "inv_rp3": syms["rp"] ** -3}  # fmt: skip
        h = [value[n] for n in self.input_names()]
        for m in self.edge_mlp[:-1]:
            h = m.symbolic(h)
        h = self.edge_mlp[-1].symbolic(h)
        chosen = torch.argsort(self.message_std, descending=True, stable=True)[: self.spec.dim].tolist()
        out = []
        for c in chosen:
            out.append(sympy.expand(h[c]))
        return out
