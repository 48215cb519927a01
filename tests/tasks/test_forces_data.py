"""Family F datasets: determinism, fixed splits by simulation, manifests, verification, bad data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.config import task_card
from bench.errors import DataError
from bench.tasks import data as D
from bench.tasks import load_dataset
from bench.tasks.forces.generate import split_simulations


def test_same_bytes_twice_and_seed_changes_them(tmp_path):
    card = task_card("spring")
    a = D.generate_dataset(card, "tiny", root=tmp_path / "a", progress=False)
    b = D.generate_dataset(card, "tiny", root=tmp_path / "b", progress=False)
    assert a.checksum == b.checksum
    assert (a.path / "dataset.npz").read_bytes() == (b.path / "dataset.npz").read_bytes()  # the same bytes
    assert D.checksum(a.arrays) == D.checksum(b.arrays)
    other = D.generate_dataset(task_card("spring", ["data_seed=1"]), "tiny", root=tmp_path / "c", progress=False)
    assert other.checksum != a.checksum
    assert other.path.name.startswith("tiny-")  # a variant gets its own folder


@pytest.mark.parametrize("system", ["charge", "r1"])  # r1: a log in its energy (numpy's differs on AVX-512)
def test_matches_committed_official_manifest(system, data_root):
    card = task_card(system)
    ds = D.generate_dataset(card, "tiny", root=data_root, progress=False)
    official = json.loads(D.official_manifest_path(system, int(card.version), "tiny").read_text())
    assert ds.checksum == official["checksum"]


@pytest.mark.parametrize("system", ["spring", "charge", "r2"])
def test_splits_disjoint_by_simulation_and_sized(system, data_root):
    card = task_card(system)
    ds = D.generate_dataset(card, "tiny", root=data_root, progress=False)
    sims = {s: set(ds.split(s)["simulation"].tolist()) for s in ("train", "val", "test")}
    assert not sims["train"] & sims["val"] and not sims["train"] & sims["test"] and not sims["val"] & sims["test"]
    gen = ds.manifest["generation"]
    assert sum(len(v) for v in sims.values()) + gen["dropped"] == card.simulations.tiny
    assert sorted(set().union(*sims.values()) | set(gen["dropped_simulations"])) == list(range(card.simulations.tiny))
    expected = split_simulations(card.simulations.tiny, card.split, card.data_seed)
    assert [len(expected[s]) for s in ("train", "val", "test")] == [17, 4, 3]
    train = ds.split("train")
    assert train["position"].shape == (len(sims["train"]), 100, 4, 2)
    assert train["position"].dtype == np.float32


def test_fixed_test_split_replaces_the_test_share_and_leaves_train_and_val(tmp_path):
    # quick and paper fix 10,000 other test simulations (every 10th snapshot); here the same rule at tiny size
    base = D.generate_dataset(task_card("charge"), "tiny", root=tmp_path / "a", progress=False)
    fixed = D.generate_dataset(task_card("charge", ["test_simulations.tiny=30", "test_every=10"]), "tiny",
                               root=tmp_path / "b", progress=False)  # fmt: skip
    for split in ("train", "val"):
        for key, value in base.split(split).items():
            np.testing.assert_array_equal(fixed.split(split)[key], value)
    test = fixed.split("test")
    gen = fixed.manifest["generation"]
    assert test["position"].shape == (30 - gen["test_dropped"], 10, 4, 2)  # snapshots 0, 10, ..., 90 of 100
    assert gen["test_simulations"] == len(test["simulation"]) and gen["test_snapshots_per_simulation"] == 10
    assert not np.array_equal(test["position"][:3, 0], base.split("test")["position"][:3, 0])  # other seeds
    # a scale's own value makes its bytes: another scale's value leaves the tiny checksum alone
    other = D.generate_dataset(task_card("charge", ["test_simulations.quick=5"]), "tiny", root=tmp_path / "c",
                               progress=False)  # fmt: skip
    assert other.checksum == base.checksum
    card = task_card("charge")
    assert D.data_params(card, "quick")["test_simulations"] == 10000
    assert D.data_params(card, "tiny")["test_simulations"] is None


def test_load_dataset_api(data_root):
    from bench.errors import BenchError

    train = load_dataset("spring", split="train", scale="tiny", root=data_root)
    with pytest.raises(BenchError, match="unknown scale 'quik'; did you mean 'quick'"):
        load_dataset("spring", scale="quik", root=data_root)
    with pytest.raises(BenchError, match="unknown split 'tset'; did you mean 'test'"):
        load_dataset("spring", split="tset", scale="tiny", root=data_root)
    assert set(train) >= {"position", "velocity", "acceleration", "charge", "mass"}
    variant = load_dataset("spring", split="val", scale="tiny", root=data_root, n_particles=8, dim=3)
    assert variant["position"].shape[2:] == (8, 3)


def test_corrupted_dataset_says_how_to_regenerate(tmp_path):
    card = task_card("spring")
    ds = D.generate_dataset(card, "tiny", root=tmp_path, progress=False)
    arrays = dict(ds.arrays)
    arrays["train/position"] = arrays["train/position"].copy()
    arrays["train/position"][0, 0, 0, 0] += 1.0
    with open(ds.path / "dataset.npz", "wb") as f:
        D.save_npz(f, arrays)
    with pytest.raises(DataError, match=r"corrupted.*bench data task=spring scale=tiny data_dir=\S+ --force"):
        D.load(card, "tiny", root=tmp_path)
    (ds.path / "dataset.npz").write_bytes(b"truncated")
    with pytest.raises(DataError, match=r"cannot be read.*--force"):
        D.load(card, "tiny", root=tmp_path)
    D.generate_dataset(card, "tiny", root=tmp_path, force=True, progress=False)
    assert D.load(card, "tiny", root=tmp_path).checksum == ds.checksum


def test_mismatched_parameters_are_refused(tmp_path):
    card = task_card("spring")
    ds = D.generate_dataset(card, "tiny", root=tmp_path, progress=False)
    manifest = json.loads((ds.path / "manifest.json").read_text())
    manifest["params"]["substeps"] = 2
    (ds.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="other parameters"):
        D.load(card, "tiny", root=tmp_path)


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    card = task_card("spring")
    original = D.save_npz

    def interrupted_save(f, arrays):
        original(f, {k: arrays[k] for k in list(arrays)[:2]})  # half the arrays written, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(D, "save_npz", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        D.generate_dataset(card, "tiny", root=tmp_path, progress=False)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []
    with pytest.raises(DataError, match="generate it with: bench data task=spring scale=tiny"):
        D.load(card, "tiny", root=tmp_path)


def test_concurrent_generation_of_the_same_dataset(tmp_path, monkeypatch):
    """A second process that finishes first: the rename finds a full folder; ours verifies and uses it."""
    card = task_card("spring")
    from bench.family import get_family

    forces = get_family("forces")
    original = forces.generate

    def generate_while_another_process_does(card_, scale, progress=True):
        monkeypatch.setattr(forces, "generate", original)
        D.generate_dataset(card_, scale, root=tmp_path, progress=False)  # the other process
        return original(card_, scale, progress=progress)

    monkeypatch.setattr(forces, "generate", generate_while_another_process_does)
    ds = D.generate_dataset(card, "tiny", root=tmp_path, progress=False)
    assert ds.checksum == D.load(card, "tiny", root=tmp_path).checksum
    assert [p.name for p in ds.path.parent.iterdir()] == ["tiny"]  # no temporary folder left
