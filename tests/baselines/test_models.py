"""Every registered force-law model: shapes, capabilities, batching, dense = index ops, save/load; EGNN equivariance.

Parametrized over the registry, so a model added to ``baselines/conf/model/`` is tested without
anyone adding it here.
"""

from __future__ import annotations

import pytest
import torch
from model_checks import reloaded

from bench.backends.torch_backend import IndexOps, TorchBackend
from bench.batch import from_dense
from bench.config import compose, model_card
from bench.registry import model_names
from bench.run import build_model
from bench.tasks.forces import task_spec

MODELS = [m for m in model_names() if "forces" in model_card(m).families]
"""The models of the force-law family (the n-body models: tests/baselines/test_nbody_models.py)."""


def _model(name, n=4, d=2, dtype=torch.float64, **hparams):
    overrides = [f"model={name}", "task=charge", f"task.n_particles={n}", f"task.dim={d}"]
    overrides += [f"model.hparams.{k}={v}" for k, v in hparams.items()]
    cfg = compose(overrides)
    torch.manual_seed(0)
    return build_model(cfg, task_spec(cfg.task)).to(dtype).eval()  # eval: stochastic models use their means


def _random_dense(B, n, d, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    pos = torch.randn(B, n, d, generator=g, dtype=dtype)
    vel = torch.randn(B, n, d, generator=g, dtype=dtype)
    attrs = {"charge": torch.randint(0, 2, (B, n), generator=g).to(dtype) * 2 - 1,
             "mass": torch.randn(B, n, generator=g, dtype=dtype).exp()}  # fmt: skip
    return pos, vel, attrs


def _bind(batch, dense=True):
    if dense:
        return TorchBackend().bind(batch)
    batch = TorchBackend().bind(batch)
    batch.ops = IndexOps(batch)
    return batch


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("n,d", [(4, 2), (8, 3)])
def test_shapes_and_capabilities(name, n, d):
    model = _model(name, n, d)
    batch = _bind(from_dense(*_random_dense(5, n, d)))
    out = model(batch)
    assert out.shape == (5 * n, d) and torch.isfinite(out).all()
    if "edge_messages" in type(model).capabilities():
        messages = model.edge_messages(batch)
        assert messages.shape[0] == 5 * n * (n - 1) and messages.ndim == 2 and torch.isfinite(messages).all()


@pytest.mark.parametrize("name", MODELS)
def test_dense_and_index_operations_agree_with_gradients(name):
    model = _model(name)
    batch = from_dense(*_random_dense(6, 4, 2, seed=1))
    results = []
    for dense in (True, False):
        model.zero_grad()
        b = _bind(batch, dense)
        out = model(b)
        messages = model.edge_messages(b) if "edge_messages" in type(model).capabilities() else out[:0]
        (out.square().sum() + messages.square().sum()).backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters()])
        results.append((out.detach(), messages.detach(), grads))
    for a, b in zip(results[0], results[1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", MODELS)
def test_batched_equals_single(name):
    model = _model(name)
    pos, vel, attrs = _random_dense(3, 4, 2, seed=2)
    together = model(_bind(from_dense(pos, vel, attrs)))
    alone = torch.cat([
        model(_bind(from_dense(pos[k : k + 1], vel[k : k + 1], {a: v[k : k + 1] for a, v in attrs.items()})))
        for k in range(3)
    ])  # fmt: skip
    torch.testing.assert_close(together, alone, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", MODELS)
def test_save_and_load(name):
    model = _model(name)
    batch = _bind(from_dense(*_random_dense(2, 4, 2)))
    other = reloaded(model, lambda: _model(name))
    torch.testing.assert_close(model(batch), other(batch))


def _random_orthogonal(d, seed):
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) > 0:  # make it a rotation combined with a reflection
        q[:, 0] = -q[:, 0]
    return q


@pytest.mark.parametrize("d", [2, 3])
def test_egnn_is_equivariant_to_rotation_reflection_translation(d):
    model = _model("egnn", 4, d)
    pos, vel, attrs = _random_dense(4, 4, d, seed=3)
    Q = _random_orthogonal(d, seed=d)
    assert torch.det(Q) < 0
    shift = torch.randn(1, 1, d, dtype=torch.float64) * 5
    out = model(_bind(from_dense(pos, vel, attrs)))
    batch_t = _bind(from_dense(pos @ Q.T + shift, vel @ Q.T, attrs))
    out_t = model(batch_t)
    torch.testing.assert_close(out_t, out @ Q.T, rtol=0, atol=1e-10)
    msg = model.edge_messages(_bind(from_dense(pos, vel, attrs)))
    torch.testing.assert_close(model.edge_messages(batch_t), msg @ Q.T, rtol=0, atol=1e-10)


def test_gnn_is_not_rotation_equivariant():
    """The equivariance check can fail: the plain GNN sees raw coordinates."""
    model = _model("gnn", 4, 2)
    pos, vel, attrs = _random_dense(4, 4, 2, seed=3)
    Q = _random_orthogonal(2, seed=2)
    out = model(_bind(from_dense(pos, vel, attrs)))
    out_t = model(_bind(from_dense(pos @ Q.T, vel @ Q.T, attrs)))
    assert (out_t - out @ Q.T).abs().max() > 1e-4


def test_unknown_hyperparameter_is_named():
    from bench.errors import BenchError

    cfg = compose(["model=gnn"])
    from omegaconf import OmegaConf

    OmegaConf.set_struct(cfg, False)
    cfg.model.hparams.hiddn = 3
    with pytest.raises(BenchError, match="hiddn"):
        build_model(cfg, task_spec(cfg.task))
