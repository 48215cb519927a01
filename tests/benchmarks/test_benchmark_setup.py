"""The speed benchmarks (asv suite, ``python -m benchmarks.step_times``) can time every registered model
on every installed backend (and at bf16 mixed precision): a model added to the registry is benchmarked without
anyone editing the benchmarks. The timings themselves belong to the benchmarks, not to tests."""

from __future__ import annotations

import pytest
import torch

from bench.backends import installed
from bench.registry import model_names
from benchmarks.common import batch_for, model_for, our_step


@pytest.mark.parametrize("backend, precision", [*((b, "fp32") for b in installed()), ("torch", "bf16")])
@pytest.mark.parametrize("name", model_names())
def test_a_benchmark_step_trains_every_model(name, backend, precision):
    model, cfg, graphs = model_for(name)
    batch = batch_for(model, 4)  # the shape, not the size, of the batch
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
