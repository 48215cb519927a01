"""The training loop: determinism, resume after an interrupt, divergence, nothing half-written."""

from __future__ import annotations

import json

import pytest
import torch

from bench.config import compose
from bench.errors import TrainingDiverged
from bench.run import run, run_dir


def _cfg(tmp_path, data_root, *extra, model="gnn"):
    return compose(["task=spring", f"model={model}", "scale=tiny", f"out={tmp_path}", f"data_dir={data_root}",
                    "progress=false", "sr=none", "scale.epochs=3", "scale.patience=10", *extra])  # fmt: skip


def test_same_seed_same_result_other_seed_other_result(tmp_path, data_root):
    a = json.loads(run(_cfg(tmp_path / "a", data_root)).read_text())
    b = json.loads(run(_cfg(tmp_path / "b", data_root)).read_text())
    c = json.loads(run(_cfg(tmp_path / "c", data_root, "seed=1")).read_text())
    assert a["metrics"] == b["metrics"]
    assert a["metrics"] != c["metrics"]
    assert [h["val_loss"] for h in a["training"]["history"]] == [h["val_loss"] for h in b["training"]["history"]]


@pytest.mark.parametrize("model", ["gnn", "gnn-kl", "gnn-prune"])
def test_interrupt_leaves_no_record_and_resume_reaches_the_same_weights(model, tmp_path, data_root, monkeypatch):
    """gnn-kl draws random messages and gnn-prune keeps running statistics: resume must restore both."""
    reference = json.loads(run(_cfg(tmp_path / "ref", data_root, model=model)).read_text())
    cfg = _cfg(tmp_path / "int", data_root, model=model)
    import bench.baselines.gnn as module

    calls = {"n": 0}
    original = module.GNN.forward

    def interrupted(self, batch):
        calls["n"] += 1
        if calls["n"] == 30:  # in the second epoch (20 steps per epoch at tiny scale)
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(module.GNN, "forward", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(cfg)
    directory = run_dir(cfg)
    assert not (directory / "result.json").exists()
    assert (directory / "last.pt").exists()
    assert not [p for p in directory.iterdir() if p.name.startswith(".")]  # no temporary files left
    monkeypatch.setattr(module.GNN, "forward", original)
    resumed = json.loads(run(cfg).read_text())
    assert resumed["metrics"] == reference["metrics"]
    assert resumed["training"]["epochs_run"] == 3


def test_divergence_is_reported_and_writes_no_record(tmp_path, data_root, monkeypatch):
    import bench.baselines.gnn as module

    original = module.GNN.forward
    monkeypatch.setattr(module.GNN, "forward", lambda self, batch: original(self, batch) * torch.tensor(float("nan")))
    cfg = _cfg(tmp_path, data_root)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at epoch 1, step 1.*model.train.lr"):
        run(cfg)
    assert not (run_dir(cfg) / "result.json").exists()


def test_early_stopping_stops(tmp_path, data_root):
    record = json.loads(
        run(_cfg(tmp_path, data_root, "scale.epochs=6", "scale.patience=1", "model.train.lr=0")).read_text()
    )
    assert record["training"]["stopped_early"] and record["training"]["epochs_run"] < 6
