"""Family H datasets, loader and task cards at tiny scale: the particles are the same in every run, the
runs differ, the batches hide the targets and the types, and bad cards are refused by key."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.config import compose, task_card
from bench.errors import BenchError
from bench.family import get_family
from bench.tasks.data import generate_dataset

SHORT = ["frames=21", "horizons=[1,10,20]"]
"""Short runs: the tests need a few frames, not 251 (a variant dataset of its own)."""


@pytest.fixture(scope="module")
def types3(data_root):
    card = task_card("types3", SHORT)
    dataset = generate_dataset(card, "tiny", root=data_root, progress=False)
    return card, dataset, get_family("heterogeneous").load(dataset, card)


def test_the_three_runs_share_particles_and_differ_in_positions(types3):
    card, dataset, data = types3
    train, val, test = (dataset.split(s) for s in ("train", "val", "test"))
    assert train["position"].shape == (21, 240, 2) and train["velocity"].shape == (21, 240, 2)
    for other in (val, test):
        np.testing.assert_array_equal(other["type"], train["type"])
        np.testing.assert_array_equal(other["params"], train["params"])
        assert not np.allclose(other["position"][0], train["position"][0])
    np.testing.assert_array_equal(train["type"], np.repeat([0, 1, 2], 80))  # contiguous blocks, as the reference
    np.testing.assert_array_equal(train["params"][80], card.type_params[1])
    L = dataset.manifest["generation"]["box"]
    assert L == pytest.approx(np.sqrt(240 / 4800)) and 0 <= train["position"].min() and train["position"].max() < L
    step = train["position"][:-1].astype(np.float64) + card.dt * train["velocity"][:-1]
    gap = step - train["position"][1:]
    gap -= L * np.round(gap / L)
    assert np.abs(gap).max() < 1e-6  # frame t + 1 is frame t moved by its velocity (float32 storage)
    assert dataset.manifest["generation"]["velocity_std"] == pytest.approx(train["velocity"].astype(np.float64).std())


def test_generation_is_deterministic(types3, tmp_path):
    card, dataset, _ = types3
    again = generate_dataset(card, "tiny", root=tmp_path, progress=False)
    assert again.checksum == dataset.checksum


def test_variants_jitter_or_draw_their_parameters(data_root):
    cont = task_card("types3-continuous", SHORT)
    params = generate_dataset(cont, "tiny", root=data_root, progress=False).split("train")["params"]
    base = np.asarray(cont.type_params)[np.repeat([0, 1, 2], 80)]
    assert 0.007 < (params - base).std() < 0.013  # N(0, 0.01²) per particle and parameter
    many = task_card("types16", SHORT)
    data = generate_dataset(many, "tiny", root=data_root, progress=False).split("train")
    assert len(np.unique(data["type"])) == 16 and 1 <= data["params"].min() and data["params"].max() < 2
    assert len(np.unique(data["params"], axis=0)) == 16


def test_batches_hold_frames_and_radius_graphs_but_never_the_targets(types3):
    card, _, data = types3
    assert (data.num_samples("train"), data.num_samples("val"), data.num_samples("test")) == (21, 3, 3)
    batch, targets = data.batch("train", torch.tensor([0, 5]))
    assert batch.num_graphs == 2 and batch.num_nodes == 480 and batch.node_label is None
    assert torch.equal(batch.velocity, torch.zeros_like(batch.velocity))  # first order: velocity is the target
    assert torch.equal(batch.particle, torch.arange(240).repeat(2))
    delta = batch.position[batch.edge_index[1]] - batch.position[batch.edge_index[0]] + batch.edge_shift
    assert delta.norm(dim=1).max() < card.radius and batch.edge_shift.abs().max() > 0  # some pairs meet across
    np.testing.assert_array_equal(targets["velocity"].numpy(), data.runs["train"]["velocity"][[0, 5]].reshape(-1, 2))
    oracle = data.with_oracle(("types",))
    batch, _ = oracle.batch("val", torch.tensor([1]))
    assert torch.equal(batch.node_label, data.types)
    with pytest.raises(BenchError, match="oracle input 'edges'.*types"):
        data.with_oracle(("edges",))


def test_task_spec_depends_on_the_scale():
    fam = get_family("heterogeneous")
    card = task_card("types16")
    tiny, paper = fam.task_spec(card, "tiny"), fam.task_spec(card, "paper")
    assert (tiny.n_particles, tiny.num_identities, tiny.num_types, tiny.radius) == (240, 240, 16, 0.075)
    assert paper.num_identities == 4800
    with pytest.raises(BenchError, match="scale"):
        fam.task_spec(card, None)


@pytest.mark.parametrize(
    "override, message",
    [
        ("task.particles.quick=961", r"task.particles.quick=961 is not a multiple of task.n_types=3"),
        ("task.box.quick=0.15", r"task.box.quick.*0.15.*more than twice task.radius"),
        ("task.type_params=[[1,2,3,4]]", r"task.type_params has shape \(1, 4\); valid: 3 rows"),
        ("task.horizons=[1,300]", r"task.horizons.*300.*within the run of task.frames=251"),
        ("task.simulations.quick=5", r"task.simulations.quick=5; valid: 3"),
        ("task.dim=3", r"task.dim=3 .*valid: 2"),
        ("task.velocity_unit=0", r"task.velocity_unit"),
    ],
)
def test_bad_cards_are_refused_by_key(override, message):
    with pytest.raises(BenchError, match=message):
        compose(["task=types3", override])


@pytest.mark.parametrize("name", ["types3", "types16"])
def test_matches_committed_official_manifest(name, data_root):
    import json

    from bench.tasks.data import official_manifest_path

    card = task_card(name)
    ds = generate_dataset(card, "tiny", root=data_root, progress=False)
    official = json.loads(official_manifest_path(name, int(card.version), "tiny").read_text())
    assert ds.checksum == official["checksum"]
