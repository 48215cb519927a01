"""The Cranmer et al. GNN variants: bottleneck, L1, KL, pruning (schedules of the report)."""

from __future__ import annotations

import pytest
import torch

from bench.backends import get_backend
from bench.baselines.gnn import PRUNE_SCHEDULES, active_dimensions
from bench.batch import from_dense
from bench.config import compose
from bench.errors import BenchError
from bench.run import build_model
from bench.tasks.forces import task_spec


def _model(name, **hparams):
    cfg = compose([f"model={name}", "task=spring", *[f"model.hparams.{k}={v}" for k, v in hparams.items()]])
    torch.manual_seed(0)
    return build_model(cfg, task_spec(cfg.task))


def _batch(B=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    ones = torch.ones(B, 4)
    batch = from_dense(torch.randn(B, 4, 2, generator=g), torch.randn(B, 4, 2, generator=g),
                       {"charge": ones, "mass": ones})  # fmt: skip
    return get_backend("torch").bind(batch)


@pytest.mark.parametrize("schedule", PRUNE_SCHEDULES)
def test_pruning_schedules_start_full_end_at_d_and_never_grow(schedule):
    counts = [active_dimensions(t, 65, 100, 2, schedule) for t in range(101)]
    assert counts[0] == 100 and counts[65] == 2 and counts[100] == 2
    assert all(a >= b for a, b in zip(counts, counts[1:], strict=False))
    assert 2 < counts[30] < 100


def test_pruning_schedule_values_of_the_report():
    # eq. 22: linear, halfway → 100 - ceil(98 / 2) = 51; eq. 24: cosine halfway is also half way
    assert active_dimensions(50, 100, 100, 2, "linear") == 51
    assert active_dimensions(50, 100, 100, 2, "cosine") == 51
    # eq. 23 with k = 3 prunes faster early on: (1 - e^-1.5) / (1 - e^-3) = 0.8214 of 98 → ceil 80.5 = 81
    assert active_dimensions(50, 100, 100, 2, "exponential") == 19
    with pytest.raises(BenchError, match="unknown pruning schedule 'cosin'"):
        active_dimensions(1, 2, 10, 2, "cosin")


def test_bottleneck_messages_have_the_system_dimension():
    model = _model("gnn-bottleneck")
    assert model.edge_messages(_batch()).shape == (8 * 12, 2)


def test_l1_penalty_is_the_mean_summed_absolute_message():
    model = _model("gnn-l1")
    batch = _batch()
    model(batch)
    expected = 1e-2 * model.edge_messages(batch).abs().sum(-1).mean()
    torch.testing.assert_close(model.regularization(batch), expected)


def test_kl_samples_in_training_and_uses_means_otherwise():
    model = _model("gnn-kl")
    batch = _batch()
    model.train()
    a, b = model(batch), model(batch)
    assert not torch.equal(a, b)  # sampled messages
    kl = model.regularization(batch)
    assert kl.item() > 0
    model.eval()
    torch.testing.assert_close(model(batch), model(batch))
    assert model.edge_messages(batch).shape == (96, 100)
    assert model.message_importance(batch).shape == (100,)


def test_pruning_masks_lowest_std_components_on_schedule():
    model = _model("gnn-prune", schedule="linear", end_fraction=0.5)
    epochs = 10
    model.train()
    for epoch in range(epochs):
        model.on_epoch_start(epoch, epochs)
        expected = 100 if epoch == 0 else active_dimensions(epoch, 5, 100, 2, "linear")
        assert int(model.mask.sum()) == expected, epoch
        for seed in range(3):
            model(_batch(seed=seed))
    messages = model.edge_messages(_batch())
    assert int(model.mask.sum()) == 2
    assert (messages[:, model.mask == 0] == 0).all() and (messages[:, model.mask == 1] != 0).any()
