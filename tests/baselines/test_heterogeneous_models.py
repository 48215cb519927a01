"""The heterogeneous-particle baselines (``bench.baselines.embedding_gnn``): embedding-gnn, shared-gnn,
oracle-gnn, zero-velocity."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from model_checks import ModelConfig, ModelTests, bind, build, random_batch

from bench.backends.torch_backend import TorchBackend
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


class _Frames:
    """Training frames whose velocities a teacher computed: the minimal loader ``cluster_embeddings`` reads."""

    def __init__(self, teacher, frames: int = 3):
        self.samples = []
        with torch.no_grad():
            for seed in range(frames):
                batch = random_batch(teacher.spec, systems=1, seed=seed)
                self.samples.append((batch, {"velocity": teacher(batch)}))

    def num_samples(self, split: str) -> int:
        return len(self.samples)

    def batch(self, split: str, index):
        return self.samples[int(index[0])]


def two_type_embeddings(model, straggler: bool):
    """Particles 0-5 of type A = (0, 0), 6-11 of type B = (3, 3), each code jittered by 1e-4; with
    ``straggler``, particle 0 (type A) sits among the B codes."""
    codes = torch.zeros(12, 2, dtype=torch.float64)
    codes[6:] = 3.0
    if straggler:
        codes[0] = 3.0
    return codes + 1e-4 * torch.randn(12, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def test_cluster_embeddings_replaces_by_medians_and_reassigns_a_straggler_by_its_motion():
    teacher = build(EMBEDDING)
    with torch.no_grad():
        teacher.embedding.copy_(two_type_embeddings(teacher, straggler=False))
    data = _Frames(teacher)
    model = build(EMBEDDING)
    model.load_state_dict(teacher.state_dict())
    with torch.no_grad():
        model.embedding.copy_(two_type_embeddings(model, straggler=True))
    summary = model.cluster_embeddings(data, TorchBackend(), torch.device("cpu"))
    table = model.embedding.detach()
    assert summary["candidates"] == 2 and summary["sizes"] == [6, 6] and summary["moved"] == 1
    assert summary["replaced"] and summary["error_ratio"] < 0.5  # the straggler predicted badly before
    assert torch.equal(table[:6], table[:1].expand(6, -1)) and torch.equal(table[6:], table[6:7].expand(6, -1))
    torch.testing.assert_close(table[0], torch.zeros(2, dtype=torch.float64), atol=1e-3, rtol=0)  # joined type A
    torch.testing.assert_close(table[6], torch.full((2,), 3.0, dtype=torch.float64), atol=1e-3, rtol=0)


def test_merge_clusters_joins_the_parts_of_one_type_and_not_two_types():
    from bench.baselines.embedding_gnn import merge_clusters

    # candidates 0 and 1: two parts of type A (each predicts the other's particles nearly as well); 2: type B
    errors = torch.tensor([[1.0, 1.0, 1.1, 1.1, 50.0, 50.0],
                           [1.2, 1.2, 1.0, 1.0, 60.0, 60.0],
                           [40.0, 40.0, 45.0, 45.0, 1.0, 1.0]], dtype=torch.float64)  # fmt: skip
    choice = torch.tensor([0, 0, 1, 1, 2, 2])
    merged, count = merge_clusters(errors, choice, tolerance=1.0)
    assert count == 1 and merged.tolist() == [0, 0, 0, 0, 2, 2]  # 1 -> 0 raises its error 10 %: the cheapest
    assert merge_clusters(errors, choice, tolerance=0.05)[1] == 0  # 10 % is over a 5 % tolerance
    assert merge_clusters(errors, choice, tolerance=10.0)[1] == 1  # A into B costs 40x: not even at 10
    assert merge_clusters(errors, choice, tolerance=1e9)[1] == 1  # two candidates are always left
    # type A in three parts (each part's particles 50 % worse under another part's code), type B apart
    parts = torch.tensor([[1.0, 1.5, 1.5, 90.0], [1.5, 1.0, 1.5, 90.0], [1.5, 1.5, 1.0, 90.0], [90.0, 90.0, 90.0, 1.0]])
    four = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    merged, count = merge_clusters(parts.repeat_interleave(2, dim=1), four, 0.6)
    assert count == 2 and merged[:6].unique().numel() == 1 and merged[6:].tolist() == [3, 3]
    assert merge_clusters(parts.repeat_interleave(2, dim=1), four, 0.4)[1] == 0  # +50 % is not within 40 %
    assert torch.equal(choice, torch.tensor([0, 0, 1, 1, 2, 2]))  # the input is left alone


def test_cluster_merge_hands_the_merged_choice_to_the_replacement(monkeypatch):
    """Type A's particles sit in two clusters (0.5 apart: three candidates in all): with cluster_merge the
    errors and choice go through ``merge_clusters`` and its merged choice is what replaces the embeddings; without
    it, it is not called."""
    from bench.baselines import embedding_gnn

    teacher = build(EMBEDDING)
    with torch.no_grad():
        teacher.embedding.copy_(two_type_embeddings(teacher, straggler=False))
    data = _Frames(teacher)
    split = two_type_embeddings(teacher, straggler=False)
    split[3:6] += 0.5
    calls = []

    def spy(errors, choice, tolerance):
        calls.append((errors.shape, choice.tolist(), tolerance))
        return torch.where(choice == choice[3], choice[0], choice), 1  # A's second part joins its first

    monkeypatch.setattr(embedding_gnn, "merge_clusters", spy)
    for merge in (None, 0.5):
        model = build(EMBEDDING)
        model.load_state_dict(teacher.state_dict())
        model.cluster_merge = merge
        with torch.no_grad():
            model.embedding.copy_(split)
        summary = model.cluster_embeddings(data, TorchBackend(), torch.device("cpu"))
        assert summary["candidates"] == 3
        assert ("merged" in summary) == (merge is not None) and len(calls) == (merge is not None)
    assert calls[0][0] == (3, 12) and calls[0][2] == 0.5
    table = model.embedding.detach()
    assert summary["merged"] == 1 and summary["sizes"].count(0) == 1  # one candidate left without particles
    assert torch.equal(table[:6], table[:1].expand(6, -1))  # one code for type A
    with pytest.raises(BenchError, match=r"cluster_merge=-1.0 must be >= 0 \(or null: never merge\)"):
        embedding_gnn.EmbeddingGNN(model.spec, hidden=16, cluster_merge=-1.0)


def test_a_replacement_that_predicts_worse_is_skipped():
    """Two true types 0.02 apart (one cluster at the 0.01 threshold): their median predicts the motion worse than
    the particles' own embeddings, so nothing is replaced (and, on the last replacement, nothing frozen)."""
    teacher = build(EMBEDDING)
    codes = torch.zeros(12, 2, dtype=torch.float64)
    codes[6:9], codes[9:] = 3.0, 3.02
    with torch.no_grad():
        teacher.embedding.copy_(codes)
    data = _Frames(teacher)
    model = build(EMBEDDING)
    model.load_state_dict(teacher.state_dict())
    summary = model.cluster_embeddings(data, TorchBackend(), torch.device("cpu"))
    assert summary["candidates"] == 2 and summary["error_ratio"] > 1 and not summary["replaced"]
    assert torch.equal(model.embedding.data, codes)
    model.on_epoch_end(4, 8, data, TorchBackend(), torch.device("cpu"))  # the schedule's last replacement
    assert not bool(model.embedding_frozen) and torch.equal(model.embedding.data, codes)


def test_cluster_embeddings_waits_for_the_embeddings_to_separate():
    model = build(EMBEDDING)  # every embedding at 1: one cluster, nothing to replace
    summary = model.cluster_embeddings(_Frames(model), TorchBackend(), torch.device("cpu"))
    assert summary["candidates"] == 1 and torch.equal(model.embedding.data, torch.ones(12, 2, dtype=torch.float64))


def test_the_last_replacement_freezes_the_embeddings():
    """cluster_every 5 of 8 epochs: after epoch 5 (0-based 4) replaced and frozen; no other epoch replaces."""
    model = build(EMBEDDING)
    with torch.no_grad():
        model.embedding.copy_(two_type_embeddings(model, straggler=False))
    data = _Frames(model)
    calls = []
    model.cluster_embeddings = lambda *a: calls.append(1) or {"replaced": True}  # type: ignore[method-assign]
    for epoch in range(8):
        model.on_epoch_end(epoch, 8, data, TorchBackend(), torch.device("cpu"))
        assert bool(model.embedding_frozen) == (epoch >= 4)
    assert len(calls) == 1
    batch = random_batch(model.spec)
    model(batch).sum().backward()
    assert model.embedding.grad is None  # frozen: the optimiser leaves it alone
    assert "embedding_frozen" in model.state_dict()  # a resumed run keeps it frozen


def test_without_cluster_every_nothing_is_replaced():
    model = build(ModelConfig("embedding-gnn", task="types3", hparams={"hidden": 16, "cluster_every": None},
                              task_overrides=SMALL))  # fmt: skip
    before = model.embedding.detach().clone()
    for epoch in range(20):
        model.on_epoch_end(epoch, 20, None, None, torch.device("cpu"))
    assert torch.equal(model.embedding.data, before) and not bool(model.embedding_frozen)
