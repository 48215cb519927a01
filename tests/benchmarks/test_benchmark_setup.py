"""The speed benchmarks (asv suite, ``python -m benchmarks.step_times``) can time every registered model
on every installed backend (and at bf16 mixed precision): a model added to the registry is benchmarked without
anyone editing the benchmarks. The timings themselves belong to the benchmarks, not to tests."""

from __future__ import annotations

import copy
from functools import cache

import pytest
import torch

from bench.backends import installed
from bench.registry import model_names
from benchmarks.common import batch_for, model_for, our_step


@cache
def _built(name: str):
    """``model_for(name)``, composed and built once per model (a Hydra compose each); each test trains a copy."""
    return model_for(name)[0]


@pytest.mark.parametrize("backend, precision", [*((b, "fp32") for b in installed()), ("torch", "bf16")])
@pytest.mark.parametrize("name", model_names())
def test_a_benchmark_step_trains_every_model(name, backend, precision):
    model = copy.deepcopy(_built(name))
    batch = batch_for(model, 2)  # the shape, not the size, of the batch: 2 graphs still make it a batch
    before = [p.detach().clone() for p in model.parameters()]
    step = our_step(model, batch, backend, precision=precision)
    step()
    if not before:  # a parameter-free model (copy-last): its step is the forward pass and the loss, no optimiser
        return
    moved = [not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters(), strict=True)]
    assert sum(moved) >= len(moved) // 2, f"{name}: the step left most parameters unchanged"
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_the_memory_benchmarks_runs_compose_and_one_runs(tmp_path, data_root):
    """Every run of ``benchmarks/bench_memory.py`` composes at paper scale with a compatible model, and a cut-short
    run trains its ``STEPS`` steps and writes a record (at tiny scale here)."""
    from bench.config import compose
    from bench.registry import check_compatible
    from benchmarks import bench_memory

    for family, run in bench_memory.PAPER_RUNS.items():
        cfg = compose(bench_memory.overrides(run, "paper", str(data_root), str(tmp_path)))
        assert str(cfg.task.family) == family and cfg.scale.name == "paper"
        check_compatible(cfg.task, cfg.model)
    first = compose(bench_memory.overrides(bench_memory.FIRST_COMMAND, None, str(data_root), str(tmp_path)))
    assert (first.task.name, first.model.name, first.scale.name) == ("charge", "egnn", "quick")
    run = [*bench_memory.FIRST_COMMAND, "sr=none"]
    bench_memory.generate(run, "tiny", str(data_root))
    record = bench_memory.cut_short_run(run, "tiny", str(data_root))
    assert record["training"]["epochs_run"] == 1 and record["config"]["scale"]["max_steps_per_epoch"] == 20
    assert record["metrics"]["relative_mae"] > 0


def test_the_memory_benchmarks_keep_their_datasets_where_bench_asv_data_says(tmp_path, monkeypatch):
    from benchmarks import bench_memory

    monkeypatch.delenv("BENCH_ASV_DATA", raising=False)
    monkeypatch.setenv("ASV_CONF_DIR", str(tmp_path / "repo"))
    monkeypatch.chdir(tmp_path)  # asv's temporary folder of setup_cache
    assert bench_memory.data_dir("data-paper") == str(tmp_path / "data-paper")  # there, removed after the run
    monkeypatch.setenv("BENCH_ASV_DATA", "kept")
    assert bench_memory.data_dir("data-paper") == str(tmp_path / "repo" / "kept")  # from the repository root
    monkeypatch.setenv("BENCH_ASV_DATA", str(tmp_path / "elsewhere"))
    assert bench_memory.data_dir("data-paper") == str(tmp_path / "elsewhere")


def test_the_loop_overhead_benchmark_times_the_loops_own_step(tmp_path, data_root, monkeypatch):
    """benchmarks/loop_overhead.py at tiny scale: every variant runs, and its loop step is the training loop's
    ``train_step`` (a step that trains: the weights move)."""
    import bench.train
    from benchmarks import loop_overhead

    prepared = loop_overhead._prepared("spring", "egnn", "tiny", str(data_root), str(tmp_path), 1)
    calls = []
    real = bench.train.train_step
    monkeypatch.setattr(bench.train, "train_step", lambda *a, **k: calls.append(1) or real(*a, **k))
    before = [p.detach().clone() for p in prepared.model.parameters()]
    times = loop_overhead.measure(prepared, rounds=1, steps=2)
    assert {"fwd+bwd", "+ optimiser", "loop step", "part: batch"} <= set(times)
    assert all(t > 0 for t in times.values()) and len(calls) >= 2
    assert any(not torch.equal(a, b) for a, b in zip(before, prepared.model.parameters(), strict=True))
