"""eql-gnn: the Equation Learner edge function, its pruning, and the equation read off its weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.backends import get_backend
from bench.batch import from_dense
from bench.config import compose
from bench.errors import BenchError
from bench.run import build_model
from bench.tasks.forces import task_spec
from bench.tasks.forces.recovery import RecoveryScore, evaluate
from bench.tasks.forces.symbolic import edge_inputs


def _model(dim=2, **hparams):
    overrides = ["model=eql-gnn", "task=spring", f"task.dim={dim}"]
    overrides += [f"model.hparams.{k}={v}" for k, v in hparams.items()]
    cfg = compose(overrides)
    torch.manual_seed(0)
    return build_model(cfg, task_spec(cfg.task)).double()


def _batch(B=16, dim=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    batch = from_dense(torch.randn(B, 4, dim, generator=g, dtype=torch.float64),
                       torch.randn(B, 4, dim, generator=g, dtype=torch.float64),
                       {"charge": torch.randn(B, 4, generator=g).sign().double(),
                        "mass": torch.randn(B, 4, generator=g).exp().double()})  # fmt: skip
    return get_backend("torch").bind(batch)


def _train_statistics(model, batch):
    """One training-mode pass records the message spread that ``equation`` ranks components by."""
    model.train()
    model.on_epoch_start(0, 10)
    model(batch)
    model.on_epoch_start(1, 10)
    model.eval()


@pytest.mark.parametrize("dim", [2, 3])
def test_equation_is_the_edge_function(dim):
    """The SymPy expression read off the weights gives the model's own messages, edge by edge."""
    small = {"identity": 2, "product": 2, "constant": 1, "message_dim": 6, "inputs": "[delta,rp,inv_rp,m_i,m_j,q_i]"}
    model, batch = _model(dim=dim, **small), _batch(dim=dim)
    _train_statistics(model, batch)
    model.prune()
    messages = model.edge_messages(batch).detach().numpy()
    order = np.argsort(-model.message_std.numpy(), kind="stable")[:dim]
    x = edge_inputs(batch, dim)
    for expr, c in zip(model.equation(), order, strict=True):
        assert np.allclose(evaluate(expr, dim, x), messages[:, c], rtol=1e-6, atol=1e-5 * np.abs(messages[:, c]).max())


def test_pruning_zeroes_small_weights_and_keeps_them_zero():
    model, batch = _model(threshold=0.2, l1_weight=0.01), _batch()
    _train_statistics(model, batch)
    model.on_epoch_start(6, 10)  # prune_at 0.6 of 10 epochs
    assert bool(model.pruned)
    layers = model.masked_linears()
    assert all(((m.weight * m.mask).abs() >= 0.2).sum() == m.mask.sum() for m in layers)
    pruned_before = [m.mask.clone() for m in layers]
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model.train()
    for _ in range(3):
        opt.zero_grad()
        (model(batch).square().mean() + model.regularization(batch)).backward()
        opt.step()
    for m, mask in zip(layers, pruned_before, strict=True):
        assert torch.equal(m.mask, mask) and torch.all((m.weight * m.mask)[mask == 0] == 0)
    # after pruning the weight penalty is off; the message L1 stays
    model(batch)
    expected = model.l1_weight * model._last_messages.abs().sum(-1).mean().item()
    assert float(model.regularization(batch).detach()) == pytest.approx(expected)


def test_a_hand_built_eql_with_the_spring_law_is_recovered():
    """Weights set by hand so that message 0 = Δx − Δx/r' (the spring law, one product unit): the
    equation reads it back and the recovery score accepts it; with m_i in place of 1/r' it fails."""
    model = _model(**{"inputs": "[delta,rp,inv_rp,m_i,m_j]", "eql_layers": 1})
    layer, out = model.edge_mlp[0], model.edge_mlp[1]
    with torch.no_grad():
        for m in (layer.linear, out):
            m.weight.zero_()
            m.bias.zero_()
        I = layer.identity
        # inputs: dx, dy, rp, inv_rp, m_i, m_j; product unit 0 = (dx) * (1 - inv_rp); unit 1 = (dy) * (1 - inv_rp)
        layer.linear.weight[I + 0, 0] = 1.0
        layer.linear.weight[I + 1, 3] = -1.0
        layer.linear.bias[I + 1] = 1.0
        layer.linear.weight[I + 2, 1] = 1.0
        layer.linear.weight[I + 3, 3] = -1.0
        layer.linear.bias[I + 3] = 1.0
        out.weight[0, I + 0] = 0.8
        out.weight[1, I + 1] = 1.0
        model.message_std[0], model.message_std[1] = 1.0, 2.0
    eqs = model.equation()
    score = RecoveryScore("spring", 2, (0.4, 3.2))
    assert all(score({"expression": e})["recovered"] for e in eqs), eqs
    with torch.no_grad():
        for unit in (I + 1, I + 3):
            layer.linear.weight[unit, 3] = 0.0
            layer.linear.weight[unit, 4] = -1.0  # (1 − m_i) instead of (1 − 1/r')
    assert not any(score({"expression": e})["recovered"] for e in model.equation())


def test_unknown_input_is_named():
    with pytest.raises(BenchError, match=r"eql-gnn: unknown input\(s\) \['r'\]; valid: delta, rp, inv_rp"):
        _model(**{"inputs": "[delta,r]"})
