"""Every model serving the n-body family: shapes, dense = index ops, batching, save/load, and E(3)
equivariance in float64 (≤ 1e-5 for the equivariant ones; large for the MPNN: the check can fail).
Parametrized over the registry: a model card with ``families: [..., nbody]`` is tested here."""

from __future__ import annotations

import pytest
import torch
from model_checks import reloaded

from bench.backends.torch_backend import IndexOps, TorchBackend
from bench.batch import from_dense
from bench.config import compose, model_card
from bench.errors import BenchError
from bench.registry import model_names
from bench.run import build_model
from bench.tasks.nbody import task_spec
from bench.tasks.nbody.analysis import equivariance_error, random_orthogonal

NBODY_MODELS = [m for m in model_names() if "nbody" in model_card(m).families]
NOT_EQUIVARIANT = {"mpnn"}
EQUIVARIANCE_TOLERANCE = 1e-5


def test_the_family_has_its_baselines():
    assert {"linear", "mpnn", "rf", "egnn", "hegnn"} <= set(NBODY_MODELS)


def _model(name, n=5, **hparams):
    overrides = [f"model={name}", "task=nbody5", f"task.n_particles={n}"]
    cfg = compose(overrides + [f"model.hparams.{k}={v}" for k, v in hparams.items()])
    torch.manual_seed(0)
    return build_model(cfg, task_spec(cfg.task)).double().eval()


def _random_dense(B, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    pos = torch.randn(B, n, 3, generator=g, dtype=torch.float64)
    vel = torch.randn(B, n, 3, generator=g, dtype=torch.float64) * 0.5
    charge = torch.randint(0, 2, (B, n), generator=g).double() * 2 - 1
    return pos, vel, {"charge": charge}


def _bind(batch, dense=True):
    bound = TorchBackend().bind(batch)
    if not dense:
        bound.ops = IndexOps(bound)
    return bound


@pytest.mark.parametrize("name", NBODY_MODELS)
@pytest.mark.parametrize("n", [5, 20])
def test_shapes(name, n):
    out = _model(name, n)(_bind(from_dense(*_random_dense(3, n))))
    assert out.shape == (3 * n, 3) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", NBODY_MODELS)
def test_dense_and_index_operations_agree_with_gradients(name):
    model = _model(name)
    batch = from_dense(*_random_dense(4, 5, seed=1))
    results = []
    for dense in (True, False):
        model.zero_grad()
        out = model(_bind(batch, dense))
        out.square().sum().backward()
        results.append((out.detach(), torch.cat([p.grad.flatten() for p in model.parameters()])))
    for a, b in zip(results[0], results[1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", NBODY_MODELS)
def test_batched_equals_single_and_save_load(name):
    model = _model(name)
    pos, vel, attrs = _random_dense(3, 5, seed=2)
    together = model(_bind(from_dense(pos, vel, attrs)))
    alone = torch.cat([model(_bind(from_dense(pos[k : k + 1], vel[k : k + 1], {"charge": attrs["charge"][k : k + 1]})))
                       for k in range(3)])  # fmt: skip
    torch.testing.assert_close(together, alone, rtol=1e-10, atol=1e-10)
    other = reloaded(model, lambda: _model(name))
    torch.testing.assert_close(other(_bind(from_dense(pos, vel, attrs))), together)


def _equivariance(model, seed=3):
    pos, vel, attrs = _random_dense(6, 5, seed=seed)
    Q = random_orthogonal(seed)
    assert torch.det(Q) < 0  # a rotation with a reflection
    shift = torch.randn(1, 1, 3, dtype=torch.float64) * 5
    out = model(_bind(from_dense(pos, vel, attrs))).reshape(6, 5, 3)
    out_t = model(_bind(from_dense(pos @ Q.T + shift, vel @ Q.T, attrs))).reshape(6, 5, 3)
    return float((out_t - (out @ Q.T + shift)).abs().max().detach())


@pytest.mark.parametrize("name", NBODY_MODELS)
def test_equivariance_in_float64(name):
    model = _model(name)
    with torch.no_grad():  # move every weight off its initial value, so no term is trivially zero
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    err = _equivariance(model)
    if name in NOT_EQUIVARIANT:
        assert err > 1e-2, f"{name} sees raw coordinates: its equivariance error must be large, got {err}"
    else:
        assert err <= EQUIVARIANCE_TOLERANCE, f"{name}: equivariance error {err}"


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_hegnn_every_degree_is_equivariant_and_uses_its_features(degree):
    model = _model("hegnn", max_degree=degree)
    assert _equivariance(model) <= EQUIVARIANCE_TOLERANCE
    assert model.harmonics(torch.randn(7, 3, dtype=torch.float64)).shape == (
        7,
        sum(2 * l + 1 for l in range(1, degree + 1)),
    )
    # the steerable features reach the output: zeroing their inner products' weights changes it
    batch = _bind(from_dense(*_random_dense(2, 5, seed=4)))
    before = model(batch)
    with torch.no_grad():
        for layer in model.layers:
            layer.phi_e[0].weight[:, -degree:] = 0
    assert (model(batch) - before).abs().max() > 1e-8


def test_hegnn_degrees_change_the_parameter_count_and_bad_degree_is_named():
    counts = [_model("hegnn", max_degree=L).num_parameters() for L in (1, 2, 3)]
    assert counts[0] < counts[1] < counts[2]
    with pytest.raises(BenchError, match="max_degree=9"):
        _model("hegnn", max_degree=9)


def test_equivariance_metric_of_the_analysis(data_root):
    from bench.backends import get_backend
    from bench.config import task_card
    from bench.tasks.data import generate_dataset
    from bench.tasks.nbody import TaskData

    card = task_card("nbody5")
    data = TaskData(generate_dataset(card, "tiny", root=data_root, progress=False), card)
    backend = get_backend("torch")
    assert equivariance_error(_model("egnn").float(), data, backend)["equivariance_error"] <= EQUIVARIANCE_TOLERANCE
    assert equivariance_error(_model("mpnn").float(), data, backend)["equivariance_error"] > 1e-2


def test_linear_moves_along_the_velocity():
    model = _model("linear")
    with torch.no_grad():
        model.dt.fill_(2.0)
    pos, vel, attrs = _random_dense(2, 5)
    out = model(_bind(from_dense(pos, vel, attrs)))
    torch.testing.assert_close(out, (pos + 2.0 * vel).reshape(-1, 3))
