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


@pytest.mark.parametrize("model", ["gnn-kl", "gnn-prune"])  # a stochastic model and a scheduled one
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
        run(_cfg(tmp_path, data_root, "scale.epochs=6", "scale.patience=1", "model.train.lr=1e-30")).read_text()
    )
    assert record["training"]["stopped_early"] and record["training"]["epochs_run"] < 6


def test_bf16_mixed_precision_trains_float32_weights_and_is_recorded(tmp_path, data_root):
    """precision=bf16: the forward pass runs in bfloat16 under autocast, the weights, optimiser and
    evaluation stay float32; the run learns as the float32 run does and the record says which it was."""
    small = "model.hparams.hidden=64"  # bf16 is emulated (slow) on CPUs without AVX512-BF16
    fp32 = json.loads(run(_cfg(tmp_path / "fp32", data_root, small)).read_text())
    cfg = _cfg(tmp_path / "bf16", data_root, "precision=bf16", small)
    bf16 = json.loads(run(cfg).read_text())
    assert (fp32["precision"], bf16["precision"]) == ("fp32", "bf16")
    assert bf16["metrics"] != fp32["metrics"]  # the forward pass really ran at the lower precision
    state = torch.load(run_dir(cfg) / "best.pt", weights_only=True)
    assert all(t.dtype == torch.float32 for t in state.values() if t.is_floating_point())
    first, last = bf16["training"]["history"][0]["val_loss"], bf16["training"]["history"][-1]["val_loss"]
    assert last < first
    assert bf16["metrics"]["mae"] < 1.1 * fp32["metrics"]["mae"]


def test_float32_runs_keep_their_folder_when_the_precision_key_is_spelled_out(tmp_path, data_root):
    from omegaconf import open_dict

    from bench.run import config_hash

    cfg = _cfg(tmp_path, data_root)
    without = cfg.copy()
    with open_dict(without):
        del without["precision"]
    assert config_hash(cfg) == config_hash(without)
    assert config_hash(_cfg(tmp_path, data_root, "precision=bf16")) != config_hash(cfg)


@pytest.mark.slow
def test_compiled_training_is_the_same_function(tmp_path, data_root):
    """compile=true trains through torch.compile: the same run to rounding, and the record says so."""
    eager = json.loads(run(_cfg(tmp_path / "eager", data_root, "scale.epochs=1")).read_text())
    compiled = json.loads(run(_cfg(tmp_path / "compiled", data_root, "scale.epochs=1", "compile=true")).read_text())
    assert (eager["training"]["compiled"], compiled["training"]["compiled"]) == (False, True)
    assert compiled["metrics"]["mae"] == pytest.approx(eager["metrics"]["mae"], rel=1e-3)
    assert compiled["metrics"]["mae"] < compiled["metrics"]["zero_mae"]


def test_time_left_is_the_recent_epoch_time_times_the_epochs_to_go():
    from bench.train import time_left

    history = [{"time_s": 100.0}, {"time_s": 10.0}, {"time_s": 20.0}, {"time_s": 30.0}]
    assert time_left(history, 10) == ", about 2 min of training left"  # mean of the last 3 (20 s) × 6
    assert time_left(history[:1], 2) == ", about 100 s of training left"
    assert time_left(history, 4) == "" and time_left([], 5) == "" and time_left([{"time_s": 0.0}], 5) == ""


def test_a_run_says_each_stage(tmp_path, data_root, capsys):
    cfg = compose(["task=spring", "model=gnn", "scale=tiny", "scale.epochs=2", "progress=true",
                   f"out={tmp_path}", f"data_dir={data_root}", "sr=none"])  # fmt: skip
    run(cfg)
    out = capsys.readouterr().out
    stages = ["preparing: the spring dataset", "training 2 epochs", "predicting the test split", "scoring", "done"]
    positions = [out.find(s) for s in stages]
    assert -1 not in positions and positions == sorted(positions), out
    assert "of training left" in out  # after epoch 1 of 2


def test_several_threads_on_a_busy_cpu_are_warned_about():
    from bench.train import busy_cpu_warning

    cpu = torch.device("cpu")
    message = busy_cpu_warning(2, cpu, load=1.3)
    assert "load average 1.3" in message and "threads=1" in message and "OMP_WAIT_POLICY=PASSIVE" in message
    assert busy_cpu_warning(2, cpu, load=0.1) is None  # an idle machine
    assert busy_cpu_warning(1, cpu, load=3.0) is None  # one thread waits for nobody
    assert busy_cpu_warning(2, torch.device("meta"), load=3.0) is None  # not a CPU run


def test_bf16_on_a_cpu_without_native_bf16_is_warned_about(tmp_path):
    from bench.train import cpu_flags, slow_bf16_warning

    cpu = torch.device("cpu")
    avx2 = {"sse2", "avx", "avx2", "fma"}
    assert "emulates" in slow_bf16_warning("bf16", cpu, avx2)
    assert slow_bf16_warning("bf16", cpu, avx2 | {"avx512f", "avx512_bf16"}) is None  # native bf16
    assert slow_bf16_warning("bf16", cpu, avx2 | {"amx_bf16"}) is None
    assert slow_bf16_warning("fp32", cpu, avx2) is None
    assert slow_bf16_warning("bf16", torch.device("meta"), avx2) is None  # not a CPU run
    assert slow_bf16_warning("bf16", cpu, {"neon", "asimd"}) is None  # not x86: nothing known
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")
    assert cpu_flags(str(info)) == {"fpu", "sse2", "avx2"} and cpu_flags(str(tmp_path / "none")) is None
