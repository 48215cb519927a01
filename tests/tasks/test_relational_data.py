"""Family R datasets and batches: determinism, splits, NRI's normalisation, edge order, the card checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.config import compose, task_card
from bench.errors import BenchError
from bench.family import get_family
from bench.pairs import ordered_pairs
from bench.tasks import data as D
from bench.tasks.relational.generate import split_sizes
from bench.tasks.relational.loader import edge_labels, feature_scale, normalise

TASKS = ("springs5", "charged5", "kuramoto5")


@pytest.fixture(scope="module", params=TASKS)
def loaded(request, data_root):
    card = task_card(request.param)
    ds = D.generate_dataset(card, "tiny", root=data_root, progress=False)
    return card, ds, get_family("relational").load(ds, card)


def test_published_split_sizes():
    for name in ("springs5", "charged10", "kuramoto5"):
        card = task_card(name)
        assert split_sizes(card.simulations.paper, card.split) == (50_000, 10_000, 10_000)


@pytest.mark.parametrize("name", TASKS)
def test_matches_committed_official_manifest(name, data_root):
    card = task_card(name)
    ds = D.generate_dataset(card, "tiny", root=data_root, progress=False)
    official = json.loads(D.official_manifest_path(name, int(card.version), "tiny").read_text())
    assert ds.checksum == official["checksum"]


def test_frames_edges_and_splits(loaded):
    card, ds, _ = loaded
    sizes = ds.manifest["generation"]["split_sizes"]
    n, F = int(card.n_particles), len(ds.manifest["generation"]["features"])
    for split, frames in (("train", 49), ("val", 49), ("test", 99)):
        s = ds.split(split)
        assert s["state"].shape == (sizes[split], frames, n, F)
        assert s["edges"].shape == (sizes[split], n, n)
        assert (s["edges"][:, np.arange(n), np.arange(n)] == 0).all()  # no self-edges
        assert set(np.unique(s["edges"])) <= {0, 1}
    edges = ds.split("train")["edges"]
    symmetric = (edges == edges.transpose(0, 2, 1)).all()
    assert symmetric == (card.system != "kuramoto")  # Kuramoto's coupling is directed (see its card)
    # each split has its own trajectories: no trajectory repeats across splits
    firsts = [ds.split(s)["state"][:, 0].reshape(sizes[s], -1) for s in ("train", "val", "test")]
    together = np.concatenate(firsts)
    assert len(np.unique(together, axis=0)) == len(together)


def test_normalisation_is_nri_s(loaded):
    card, ds, data = loaded
    norm = ds.manifest["generation"]["normalisation"]
    train = normalise(ds.split("train")["state"], norm)
    if card.system == "kuramoto":  # one range per feature
        assert np.allclose(train.reshape(-1, 3).min(0), -1, atol=1e-6)
        assert np.allclose(train.reshape(-1, 3).max(0), 1, atol=1e-6)
    else:  # one scalar range for all positions, one for all velocities (not per dimension)
        assert norm["min"][0] == norm["min"][1] and norm["max"][2] == norm["max"][3]
        pos, vel = train[..., :2], train[..., 2:]
        assert pos.min() == pytest.approx(-1, abs=1e-6) and pos.max() == pytest.approx(1, abs=1e-6)
        assert vel.min() == pytest.approx(-1, abs=1e-6) and vel.max() == pytest.approx(1, abs=1e-6)
        x = train[..., 0]  # a single dimension does not span the whole range of both
        y = train[..., 1]
        assert min(x.min(), y.min()) == pytest.approx(-1, abs=1e-6)
    scale = feature_scale(norm)
    assert np.allclose(scale, (np.asarray(norm["max"]) - np.asarray(norm["min"])) / 2)
    # the loader serves the normalised states
    s = data.splits["train"]["state"].numpy().transpose(0, 2, 1, 3)
    assert np.allclose(s, train)


def test_batches_follow_the_contract(loaded):
    card, ds, data = loaded
    n, F = int(card.n_particles), data.splits["train"]["state"].shape[-1]
    index = torch.tensor([3, 0, 5])
    batch, targets = data.batch("train", index)
    assert batch.history.shape == (3 * n, 49, F) and batch.nodes_per_graph == n
    assert torch.equal(targets["state"], batch.history[:, 1:])
    d = int(card.dim)
    assert torch.equal(batch.position, batch.history[:, -1, :d])
    assert torch.equal(batch.velocity, batch.history[:, -1, d : 2 * d])
    assert batch.edge_label is None  # the truth is not in a model's batch
    # edge e goes from sender j = edge_index[0, e] to receiver i = edge_index[1, e]: label edges[s, i, j]
    raw = ds.split("train")["edges"]
    for e in range(batch.num_edges):
        j, i = batch.edge_index[:, e].tolist()
        g = i // n
        assert targets["edges"][e] == raw[int(index[g]), i % n, j % n]
    test_batch, test_targets = data.batch("test", torch.arange(2))
    assert test_batch.history.shape == (2 * n, 50, F)  # frames 0..49: prediction starts from 49
    future = data.future("test")
    assert future.shape == (data.num_samples("test"), 20, n, F)
    full = data.splits["test"]["state"]
    assert np.allclose(future[0, 0], full[0, :, 50].numpy()) and np.allclose(future[0, -1], full[0, :, 69].numpy())
    assert data.edge_truth("test").shape == (data.num_samples("test"), n * (n - 1))


def test_oracle_batches_carry_the_true_graph(loaded):
    _, _, data = loaded
    oracle = get_family("relational").with_oracle(data, ("edges",))
    batch, targets = oracle.batch("val", torch.arange(2))
    assert torch.equal(batch.edge_label, targets["edges"])
    assert data.batch("val", torch.arange(2))[0].edge_label is None  # the original is untouched
    with pytest.raises(BenchError, match="oracle input 'charge'.*edges"):
        data.with_oracle(("charge",))


def test_edge_labels_order():
    edges = torch.zeros(1, 4, 4, dtype=torch.int64)
    edges[0, 2, 1] = 1  # sender 1 -> receiver 2
    labels = edge_labels(edges)
    receivers, senders = ordered_pairs(4)
    hit = [(int(r), int(s)) for r, s, lab in zip(receivers, senders, labels.tolist(), strict=True) if lab]
    assert hit == [(2, 1)]


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("task.system=gravity", "task.system.*gravity.*springs"),
        ("task.dim=3", "task.dim=3.*valid: 2"),
        ("task.n_particles=1", "task.n_particles"),
        ("task.frames.test=60", "task.frames.test.*70"),
        ("task.edge_prob=1.5", "task.edge_prob"),
        ("task.edge_types=3", "task.edge_types=3"),
    ],
)
def test_bad_cards_are_refused_by_name(override, match):
    with pytest.raises(BenchError, match=match):
        compose(["task=springs5", override])


def test_kuramoto_is_one_dimensional():
    with pytest.raises(BenchError, match="task.dim=2.*kuramoto.*valid: 1"):
        compose(["task=kuramoto5", "task.dim=2"])
