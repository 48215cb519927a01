"""Every model serving the n-body family through the shared model checks (``model_checks.ModelTests``:
shapes, capabilities, dense = index ops, batching, save/load, float64), and E(3) equivariance in float64
(≤ 1e-5 for the equivariant ones; large for the MPNN: the check can fail).
Parametrized over the registry: a model card with ``families: [..., nbody]`` is tested here."""

from __future__ import annotations

import pytest
import torch
from model_checks import ModelConfig, ModelTests, bind, build

from bench.batch import from_dense
from bench.config import model_card
from bench.errors import BenchError
from bench.registry import model_names
from bench.tasks.nbody.analysis import equivariance_error, random_orthogonal

NBODY_MODELS = [m for m in model_names() if "nbody" in model_card(m).families]
NOT_EQUIVARIANT = {"mpnn"}
EQUIVARIANCE_TOLERANCE = 1e-5


def test_the_family_has_its_baselines():
    assert {"copy-last", "linear", "mpnn", "rf", "egnn", "hegnn"} <= set(NBODY_MODELS)


def _model(name, n=5, **hparams):
    return build(ModelConfig(name, task="nbody5", n=n, hparams=hparams))


def _random_dense(B, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    pos = torch.randn(B, n, 3, generator=g, dtype=torch.float64)
    vel = torch.randn(B, n, 3, generator=g, dtype=torch.float64) * 0.5
    charge = torch.randint(0, 2, (B, n), generator=g).double() * 2 - 1
    return pos, vel, {"charge": charge}


def _equivariance(model, seed=3, n=5):
    pos, vel, attrs = _random_dense(6, n, seed=seed)
    Q = random_orthogonal(seed)
    assert torch.det(Q) < 0  # a rotation with a reflection
    shift = torch.randn(1, 1, 3, dtype=torch.float64) * 5
    out = model(bind(from_dense(pos, vel, attrs))).reshape(6, n, 3)
    out_t = model(bind(from_dense(pos @ Q.T + shift, vel @ Q.T, attrs))).reshape(6, n, 3)
    return float((out_t - (out @ Q.T + shift)).abs().max().detach())


class TestNBodyModels(ModelTests):
    CONFIGS = [ModelConfig(name, task="nbody5", n=n) for name in NBODY_MODELS for n in (5, 20)]

    def test_equivariance_in_float64(self, make, config):
        model = make()  # a fresh model: its weights are moved below
        with torch.no_grad():  # move every weight off its initial value, so no term is trivially zero
            for p in model.parameters():
                p.add_(0.1 * torch.randn_like(p))
        err = _equivariance(model, n=config.n)
        if config.name in NOT_EQUIVARIANT:
            assert err > 1e-2, f"{config.name} sees raw coordinates: its equivariance error must be large, got {err}"
        else:
            assert err <= EQUIVARIANCE_TOLERANCE, f"{config.name}: equivariance error {err}"


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_hegnn_every_degree_is_equivariant_and_uses_its_features(degree):
    model = _model("hegnn", max_degree=degree)
    assert _equivariance(model) <= EQUIVARIANCE_TOLERANCE
    assert model.harmonics(torch.randn(7, 3, dtype=torch.float64)).shape == (
        7,
        sum(2 * l + 1 for l in range(1, degree + 1)),
    )
    # the steerable features reach the output: zeroing their inner products' weights changes it
    batch = bind(from_dense(*_random_dense(2, 5, seed=4)))
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
    out = model(bind(from_dense(pos, vel, attrs)))
    torch.testing.assert_close(out, (pos + 2.0 * vel).reshape(-1, 3))


class _Trajectories:
    """A training split whose targets are x + 0.7 v plus noise: the least-squares Δt is known."""

    def __init__(self, count=2500, noise=0.05):
        self.pos, self.vel, self.attrs = _random_dense(count, 5, seed=1)
        g = torch.Generator().manual_seed(2)
        self.target = self.pos + 0.7 * self.vel + noise * torch.randn(self.pos.shape, generator=g, dtype=torch.float64)

    def num_samples(self, split):
        return len(self.pos)

    def batch(self, split, index, augment=False, generator=None):
        attrs = {k: v[index] for k, v in self.attrs.items()}
        return from_dense(self.pos[index], self.vel[index], attrs), {"position": self.target[index].reshape(-1, 3)}


def test_linear_starts_at_the_least_squares_time_step():
    data = _Trajectories()
    v, step = data.vel, data.target - data.pos
    best = float((v * step).sum() / (v * v).sum())
    model = _model("linear")
    model.calibrate(data, None, torch.device("cpu"))
    assert abs(best - 0.7) < 0.01 and model.dt.item() == pytest.approx(best, rel=1e-6)
    given = _model("linear", initial_dt=0.25)  # a given start is kept (then learned by gradient descent only)
    given.calibrate(data, None, torch.device("cpu"))
    assert given.dt.item() == 0.25


def test_copy_last_predicts_the_input_positions_and_has_no_parameters():
    model = _model("copy-last")
    assert model.num_parameters() == 0 and not list(model.parameters())
    pos, vel, attrs = _random_dense(2, 5)
    batch = bind(from_dense(pos, vel, attrs))
    out = model(batch)
    torch.testing.assert_close(out, pos.reshape(-1, 3), rtol=0, atol=0)
    out.add_(1.0)  # the prediction is a copy: writing into it leaves the batch alone
    torch.testing.assert_close(batch.position, pos.reshape(-1, 3), rtol=0, atol=0)
