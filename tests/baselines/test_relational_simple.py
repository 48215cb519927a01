"""The simple relational-inference baselines (``bench.baselines.relational_simple``): static, corr, lstm."""

from __future__ import annotations

import pytest
import torch
from model_checks import ModelConfig, ModelTests, bind, build, dense_batch, random_batch, random_dense, reloaded

from bench.baselines.relational_simple import fit_threshold
from bench.errors import BenchError
from bench.train import LOSSES


class TestRelationalSimpleModels(ModelTests):
    CONFIGS = [
        ModelConfig("static", task="springs5"),
        ModelConfig("corr", task="springs5"),
        ModelConfig("corr", task="kuramoto5"),
        ModelConfig("lstm", task="springs5", hparams={"hidden": 16}, rtol=1e-8, atol=1e-10),
        ModelConfig("lstm", task="kuramoto5", hparams={"hidden": 16, "layers": 2}, rtol=1e-8, atol=1e-10),
    ]


STATIC = ModelConfig("static", task="springs5")
CORR = ModelConfig("corr", task="springs5")
LSTM = ModelConfig("lstm", task="springs5", hparams={"hidden": 16})


def test_static_rolls_out_the_last_frame_with_a_uniform_posterior():
    model = build(STATIC)
    batch = random_batch(model.spec)
    history = batch.history
    with torch.no_grad():
        out = model(batch)["state"]
        roll = model.rollout(batch, 5)
        probs = model.edge_types(batch)
    torch.testing.assert_close(out, history[:, :-1], rtol=0, atol=0)
    torch.testing.assert_close(roll, history[:, -1:].expand(-1, 5, -1), rtol=0, atol=0)
    assert probs.shape == (batch.num_edges, 2)
    torch.testing.assert_close(probs, torch.full_like(probs, 0.5), rtol=0, atol=0)
    assert model.num_parameters() == 0


def test_fit_threshold_finds_the_separating_threshold_and_orientation():
    score = torch.tensor([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    t, o, acc = fit_threshold(score, torch.tensor([0, 0, 0, 1, 1, 1]))
    assert (o, acc) == (1.0, 1.0) and 0.3 < t < 0.7
    t, o, acc = fit_threshold(score, torch.tensor([1, 1, 1, 0, 0, 0]))
    assert (o, acc) == (-1.0, 1.0) and 0.3 < t < 0.7
    # tied scores are never split: one side or the other
    t, o, acc = fit_threshold(torch.tensor([0.5, 0.5, 0.5, 0.5]), torch.tensor([0, 1, 1, 1]))
    assert acc == 0.75 and o * (0.5 - t) > 0


@pytest.fixture(scope="module")
def springs5(data_root):
    from bench.config import compose
    from bench.family import get_family
    from bench.tasks.data import generate_dataset

    cfg = compose(["task=springs5", "scale=tiny", "model=corr"])
    dataset = generate_dataset(cfg.task, "tiny", data_root, progress=False)
    return get_family("relational").load(dataset, cfg.task)


def test_corr_fitted_on_validation_infers_springs_above_chance(springs5):
    from bench.backends import get_backend

    model = build(CORR).float()
    assert torch.isnan(model.val_accuracy)
    backend = get_backend("torch")
    model.calibrate(springs5, backend, torch.device("cpu"))
    state = model.state_dict()
    assert {"threshold", "orientation", "absolute", "val_accuracy"} <= set(state)
    assert float(state["val_accuracy"]) > 0.7  # measured 0.775 (signed correlation, orientation −1)

    index = torch.arange(springs5.num_samples("test"))
    batch, targets = springs5.batch("test", index)
    batch = backend.bind(batch)
    with torch.no_grad():
        probs = model.edge_types(batch)
    truth = targets["edges"]
    accuracy = float((probs.argmax(-1) == truth).float().mean())
    chance = max(float(truth.float().mean()), 1 - float(truth.float().mean()))  # the majority type: 0.55
    # measured: 0.765 on tiny springs5's 400 test edges (a spring makes two particles' increments anti-correlated)
    assert accuracy > chance + 0.12, (accuracy, chance)

    # the fitted values travel with the state dict
    other = reloaded(model, lambda: build(CORR).float())
    assert float(other.threshold) == float(model.threshold) and bool(other.absolute) == bool(model.absolute)
    with torch.no_grad():
        torch.testing.assert_close(other.edge_types(batch), probs)
        roll = model.rollout(batch, 3)
    torch.testing.assert_close(roll, batch.history[:, -1:].expand(-1, 3, -1), rtol=0, atol=0)


def test_lstm_loss_decreases_in_a_few_steps(springs5):
    torch.manual_seed(0)
    model = build(LSTM).float().train()
    batch, targets = springs5.batch("train", torch.arange(32))
    batch = bind(batch)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    losses = []
    for _ in range(15):
        loss = LOSSES["mse"](model(batch)["state"], targets["state"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_lstm_rollout_continues_what_it_was_fed():
    """With the true frame fed at every step, the training prediction of the last frame is the rollout's
    first step from the frames before it; a longer rollout extends a shorter one."""
    model = build(ModelConfig("lstm", task="springs5", hparams={"hidden": 8, "prediction_steps": 1}))
    dense = random_dense(model.spec)
    batch = bind(dense_batch(model.spec, dense))
    shorter = bind(dense_batch(model.spec, {**dense, "history": dense["history"][:, :, :-1]}))
    with torch.no_grad():
        out = model(batch)["state"]
        roll = model.rollout(shorter, 4)
        torch.testing.assert_close(roll[:, 0], out[:, -1])
        torch.testing.assert_close(model.rollout(shorter, 2), roll[:, :2])
        assert torch.allclose(model.edge_types(batch), torch.tensor(0.5, dtype=torch.float64))


def test_lstm_needs_the_task_s_particles_per_system():
    model = build(LSTM)
    other = build(ModelConfig("lstm", task="springs10", hparams={"hidden": 16}))
    with pytest.raises(BenchError, match="5 particles"):
        model(random_batch(other.spec))
