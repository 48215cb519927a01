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
