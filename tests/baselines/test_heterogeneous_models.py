"""The heterogeneous-particle baselines (``bench.baselines.embedding_gnn``): embedding-gnn, shared-gnn,
oracle-gnn, zero-velocity."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from model_checks import ModelConfig, ModelTests, bind, build, random_batch

from bench.baselines.embedding_gnn import rotation
from bench.batch import Batch
from bench.errors import BenchError

SMALL = ("particles.quick=12",)
"""Systems of 12 particles (the checks build fully connected random systems of the spec's size)."""


class TestHeterogeneousModels(ModelTests):
    CONFIGS = [
        ModelConfig("embedding-gnn", task="types3", hparams={"hidden": 16}, task_overrides=SMALL),
        ModelConfig("shared-gnn", task="types3", hparams={"hidden": 16}, task_overrides=SMALL),
        ModelConfig("zero-velocity", task="types3", task_overrides=SMALL),
    ]


EMBEDDING = ModelConfig("embedding-gnn", task="types3", hparams={"hidden": 16}, task_overrides=SMALL)
ORACLE = ModelConfig("oracle-gnn", task="types3", hparams={"hidden": 16}, task_overrides=SMALL)


def pair(r: float, dtype=torch.float64) -> Batch:
    """Two particles, the receiver 0 at the origin and its one neighbour at (r, 0); edges both ways."""
    return Batch(
        position=torch.tensor([[0.0, 0.0], [r, 0.0]], dtype=dtype),
        velocity=torch.zeros(2, 2, dtype=dtype),
        attributes={},
        edge_index=torch.tensor([[1, 0], [0, 1]]),
        graph=torch.zeros(2, dtype=torch.long),
        num_graphs=1,
        particle=torch.tensor([0, 7]),
    )


@pytest.mark.parametrize("config", [EMBEDDING, ORACLE], ids=lambda c: c.name)
def test_interaction_is_the_velocity_one_neighbour_at_r_contributes(config):
    """The contract: ψ_i(r) = the x-velocity a single neighbour at (r, 0) gives particle i."""
    model = build(config)
    with torch.no_grad():
        model.embedding.data.normal_() if hasattr(model, "embedding") else None
        model.velocity_scale.fill_(0.37)
        for r in (0.01, 0.04, 0.07):
            batch = pair(r)
            batch.node_label = torch.tensor([2, 0])
            v = model(bind(batch, dense=False))
            psi = model.interaction(torch.tensor([r], dtype=torch.float64), bind(batch, dense=False))
            torch.testing.assert_close(v[0, 0], psi[0, 0])
            assert abs(float(psi[0, 0] - psi[1, 0])) > 0  # the two particles' codes differ


def test_the_embedding_starts_at_one_and_is_indexed_by_identity():
    model = build(EMBEDDING)
    assert torch.equal(model.embedding.data, torch.ones(12, 2, dtype=torch.float64))
    batch = random_batch(model.spec)
    torch.testing.assert_close(model.node_embeddings(batch), model.embedding[batch.particle])


def test_training_turns_the_geometry_and_turns_the_prediction_back():
    """In training, one random rotation per batch: the output is R^T f(R Δ). Checked against the same model
    evaluated (no augmentation) on the rotated positions, the prediction rotated back."""
    model = build(EMBEDDING)
    batch = random_batch(model.spec)
    torch.manual_seed(11)
    model.train()
    with torch.no_grad():
        trained = model(batch)
    torch.manual_seed(11)
    turn = rotation(2 * torch.pi * torch.randn((), dtype=torch.float64))
    model.eval()
    turned = replace(batch, position=batch.position @ turn.T)
    with torch.no_grad():
        expected = model(bind(turned)) @ turn
    torch.testing.assert_close(trained, expected)
    with torch.no_grad():
        assert not torch.allclose(trained, model(batch))  # the MLP alone is not rotation invariant


def test_the_oracle_reads_the_true_types_and_refuses_without_them():
    model = build(ORACLE)
    assert model.oracle == ("types",) and "node_embeddings" not in model.capabilities()
    batch = random_batch(model.spec)
    with pytest.raises(BenchError, match="node_label"):
        model(batch)
    batch.node_label = torch.arange(batch.num_nodes) % 3
    with torch.no_grad():
        a = model(batch)
        batch.node_label = (batch.node_label + 1) % 3
        assert not torch.allclose(a, model(batch))


def test_shared_gnn_has_one_function_for_everyone():
    model = build(ModelConfig("shared-gnn", task="types3", hparams={"hidden": 16}, task_overrides=SMALL))
    batch = random_batch(model.spec)
    with torch.no_grad():
        profiles = model.interaction(torch.linspace(0, 0.07, 5, dtype=torch.float64), batch)
    assert profiles.shape == (batch.num_nodes, 5) and torch.equal(profiles, profiles[:1].expand_as(profiles))
