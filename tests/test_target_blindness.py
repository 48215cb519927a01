"""Models never see targets: a model that fails when anything it is handed holds a target (by value or by
shared memory) runs through training, prediction, evaluation and the families' analyses of both shipped
families; a loader that leaks a target into the batch is caught."""

from __future__ import annotations

import dataclasses
from collections import deque

import pytest
import torch

import bench
from bench.config import compose
from bench.family import get_family
from bench.run import collect, evaluate, fit, prepare, record

SEEN: deque[torch.Tensor] = deque(maxlen=32)
"""The targets the loaders handed out most recently (a model sees its batch right after)."""


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


class Peeker(bench.Model):
    """A linear model that raises if its batch holds any target the loader just handed out."""

    families = ("forces", "nbody")

    def __init__(self, spec):
        super().__init__(spec)
        self.net = torch.nn.Linear(2 * spec.dim, spec.target_dim)
        self.calls = 0

    def look(self, batch) -> None:
        self.calls += 1
        assert not hasattr(batch, "targets"), "the batch has a 'targets' field"
        for f in dataclasses.fields(batch):
            for t in _tensors(getattr(batch, f.name)):
                for target in SEEN:
                    shared = t.untyped_storage().data_ptr() == target.untyped_storage().data_ptr()
                    equal = t.shape == target.shape and torch.equal(t.to(target), target)
                    assert not (shared or equal), f"the model saw a target in batch.{f.name}"

    def forward(self, batch):
        self.look(batch)
        return self.net(torch.cat([batch.position, batch.velocity], -1))

    def edge_messages(self, batch):
        self.look(batch)
        return batch.ops.relative_position(batch.position) * self.net.weight.sum()


@pytest.fixture
def spy(monkeypatch):
    """Every family's loader records the targets it hands out; ``spy(leak=True)`` also leaks them into
    the batch's attributes (the failure the check must catch)."""
    state = {"leak": False}
    for name in ("forces", "nbody"):
        cls = type(get_family(name))
        original = cls.load

        def load(self, dataset, card, original=original):
            data = original(self, dataset, card)
            plain = data.batch

            def batch(*args, **kwargs):
                b, targets = plain(*args, **kwargs)
                SEEN.extend(targets.values())
                if state["leak"]:
                    b.attributes = {**b.attributes, "hint": next(iter(targets.values()))[:, 0]}
                return b, targets

            data.batch = batch
            return data

        monkeypatch.setattr(cls, "load", load)
    SEEN.clear()
    return state


def _run_blind(task: str, out, data_root):
    cfg = compose([f"task={task}", "model=egnn", "scale=tiny", "sr=none" if task != "nbody5" else "seed=0",
                   "progress=false", f"out={out}", f"data_dir={data_root}"])  # fmt: skip
    p = prepare(cfg)
    p.model = Peeker(p.family.task_spec(cfg.task, str(cfg.scale.name)))
    result = fit(p)
    predictions = collect(p)
    metrics, analysis = evaluate(p, predictions)
    path = record(p, result, predictions, metrics, analysis)
    return p.model, path, analysis


@pytest.mark.parametrize("task", ["spring", "nbody5"])
def test_a_model_never_sees_a_target(task, spy, tmp_path, data_root):
    model, path, analysis = _run_blind(task, tmp_path, data_root)
    assert path.is_file() and model.calls > 5  # training steps, validation, test predictions
    if task == "spring":
        assert "force_probe" in analysis.analyses  # the probe handed it test batches too
    else:
        assert "equivariance" in analysis.analyses


def test_a_leaking_loader_is_caught(spy, tmp_path, data_root):
    spy["leak"] = True
    with pytest.raises(AssertionError, match="the model saw a target in batch.attributes"):
        _run_blind("spring", tmp_path, data_root)
