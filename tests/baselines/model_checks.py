"""The checks every model gets, shared by the model tests of every family (NequIP's ``BaseModelTests`` style).

A family's test subclasses ``ModelTests`` and supplies only its configurations::

    class TestForceModels(ModelTests):
        CONFIGS = [ModelConfig("egnn", task="charge", n=4, d=2), ...]

and pytest runs, for every configuration, with the model built once from its registry card (in float64,
in eval mode: stochastic models use their means):

- ``test_forward``: the outputs (a tensor, or a dict of named tensors) hold the task's target,
  (N, target_dim), finite, in float64;
- ``test_capabilities``: every capability the model claims, against its signature
  (``bench.model.CAPABILITY_SIGNATURES``; ``check_capabilities``);
- ``test_dense_and_index_operations_agree_with_gradients``: the torch backend's dense path equals its
  index operations (``IndexOps``) in every output, every tensor capability and every parameter gradient
  (a model without parameters: outputs only);
- ``test_batched_equals_single``: a batch of systems gives what each system gives alone;
- ``test_save_and_load``: a fresh model loaded with the saved state dict computes the same (``reloaded``).

A subclass may add its family's own tests; they receive the same ``config``, ``model`` (shared, do not
modify it) and ``make`` (a fresh model) fixtures.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

import pytest
import torch
from torch import Tensor

from bench.backends.torch_backend import IndexOps, TorchBackend
from bench.batch import Batch, from_dense
from bench.config import compose
from bench.errors import BenchError
from bench.family import get_family
from bench.model import CAPABILITIES, CAPABILITY_SIGNATURES, Model, TaskSpec
from bench.run import build_model
from bench.train import named_outputs

SYSTEMS = 3
"""Systems per test batch: enough to tell batched from single, small enough to be fast."""


@dataclass(frozen=True)
class ModelConfig:
    """One model on one task: the registry card ``name`` built for ``task`` with ``n`` particles in ``d``
    dimensions (None: the task card's), with hyper-parameter overrides ``hparams``; ``rtol``/``atol``:
    the tolerance of the float64 comparisons (dense = index, batched = single, save/load)."""

    name: str
    task: str
    n: int | None = None
    d: int | None = None
    hparams: Mapping[str, Any] = field(default_factory=dict)
    task_overrides: tuple[str, ...] = ()
    """Further task-card overrides (``("particles.quick=12",)``: a family whose size is not ``n_particles``)."""
    rtol: float = 1e-10
    atol: float = 1e-10

    @property
    def id(self) -> str:
        parts = [self.name, self.task]
        parts += [f"n{self.n}"] if self.n is not None else []
        parts += [f"d{self.d}"] if self.d is not None else []
        parts += [f"{k}={v}" for k, v in sorted(self.hparams.items())]
        parts += list(self.task_overrides)
        return "-".join(parts)

    def overrides(self) -> tuple[str, ...]:
        out = [f"model={self.name}", f"task={self.task}"]
        out += [f"task.n_particles={self.n}"] if self.n is not None else []
        out += [f"task.dim={self.d}"] if self.d is not None else []
        out += [f"task.{o}" for o in self.task_overrides]
        return tuple(out + [f"model.hparams.{k}={'null' if v is None else v}" for k, v in sorted(self.hparams.items())])

    def __hash__(self) -> int:
        return hash(self.id)


@cache
def _composed(overrides: tuple[str, ...]) -> tuple[Any, TaskSpec]:
    cfg = compose(list(overrides))
    return cfg, get_family(str(cfg.task.family)).task_spec(cfg.task, str(cfg.scale.name))


def build(config: ModelConfig, seed: int = 0) -> Model:
    """A fresh model of ``config`` from its registry card (seeded), in float64 and eval mode; the card
    is composed once per configuration."""
    cfg, spec = _composed(config.overrides())
    torch.manual_seed(seed)
    return build_model(cfg, spec).double().eval()


def spec_of(config: ModelConfig) -> TaskSpec:
    return _composed(config.overrides())[1]


def random_dense(spec: TaskSpec, systems: int = SYSTEMS, seed: int = 0) -> dict[str, Any]:
    """Random systems of the task's particles as dense (B, n, ...) float64 tensors: ``position``,
    ``velocity``, ``attributes`` (charges ±1, every other attribute positive: masses) and, for a task with
    a history window (``spec.window``: relational inference), ``history`` (B, n, window, target_dim)."""
    n = int(spec.n_particles or 4)
    g = torch.Generator().manual_seed(seed)
    pos = torch.randn(systems, n, spec.dim, generator=g, dtype=torch.float64)
    vel = torch.randn(systems, n, spec.dim, generator=g, dtype=torch.float64) * 0.5
    attrs = {}
    for name in spec.attributes:
        if name == "charge":
            attrs[name] = torch.randint(0, 2, (systems, n), generator=g).double() * 2 - 1
        else:
            attrs[name] = torch.randn(systems, n, generator=g, dtype=torch.float64).exp()
    out: dict[str, Any] = {"position": pos, "velocity": vel, "attributes": attrs}
    if spec.window:  # smooth random paths in [-1, 1], as normalised trajectories are
        steps = torch.randn(systems, n, spec.window, spec.target_dim, generator=g, dtype=torch.float64) * 0.05
        out["history"] = (torch.rand(systems, n, 1, spec.target_dim, generator=g, dtype=torch.float64) - 0.5
                          + steps.cumsum(2)).clamp(-1, 1)  # fmt: skip
    return out


def dense_batch(spec: TaskSpec, dense: dict[str, Any]) -> Batch:
    """The batch (not bound to a backend) of ``random_dense``'s systems."""
    if "history" in dense:
        from bench.tasks.relational.loader import history_batch

        return history_batch(dense["history"], spec.dim)
    return from_dense(dense["position"], dense["velocity"], dense["attributes"])


def system(dense: dict[str, Any], k: int) -> dict[str, Any]:
    """System ``k`` of ``random_dense``'s systems, alone."""
    return {
        key: ({a: v[k : k + 1] for a, v in value.items()} if isinstance(value, dict) else value[k : k + 1])
        for key, value in dense.items()
    }


def bind(batch: Batch, dense: bool = True) -> Batch:
    """``batch`` bound to the torch backend: its dense path (fully connected batches), or its index
    operations (``dense=False``)."""
    bound = TorchBackend().bind(batch)
    if not dense:
        bound.ops = IndexOps(bound)
    return bound


def random_batch(spec: TaskSpec, systems: int = SYSTEMS, seed: int = 0, dense: bool = True) -> Batch:
    return bind(dense_batch(spec, random_dense(spec, systems, seed)), dense)


def reloaded(model, make):
    """``make()``'s fresh model, its parameters moved away, then loaded with ``model``'s saved state
    dict (through bytes, as a checkpoint is): it must compute what ``model`` computes."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    other = make()
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    other.load_state_dict(torch.load(buffer))
    return other


# -- the signature checks -----------------------------------------------------------------------------


def _fail(capability: str, expected: str, got: Any) -> None:
    raise AssertionError(f"{capability}: expected {expected}, got {got} "
                         f"(signature: {CAPABILITY_SIGNATURES[capability]})")  # fmt: skip


def _shape(x: Any) -> str:
    return str(tuple(x.shape)) if isinstance(x, Tensor) else type(x).__name__


def _tensor(capability: str, value: Any, expected: str, shape: tuple[int | None, ...], dtype: torch.dtype) -> Tensor:
    """``value`` as a tensor of ``shape`` (None: any size), finite, of ``dtype``, else an AssertionError."""
    if not isinstance(value, Tensor):
        _fail(capability, f"a tensor {expected}", type(value).__name__)
    if value.ndim != len(shape) or any(s is not None and s != v for s, v in zip(shape, value.shape, strict=True)):
        _fail(capability, expected, _shape(value))
    if any(v == 0 for v in value.shape[1:]):
        _fail(capability, f"{expected} with a non-empty last dimension", _shape(value))
    if value.dtype != dtype:
        _fail(capability, f"{expected} in {dtype} (the model's and the batch's dtype)", value.dtype)
    if not torch.isfinite(value).all():
        _fail(capability, f"{expected}, finite", f"{int((~torch.isfinite(value)).sum())} non-finite entries")
    return value


def distances(dtype: torch.dtype) -> Tensor:
    """The R = 11 distances (R,) an ``interaction`` is evaluated at."""
    return torch.linspace(0.1, 3.0, 11, dtype=dtype)


def check_capabilities(model: Model, batch: Batch) -> dict[str, Any]:
    """Call every capability ``model`` claims and check what it returns against its signature
    (``CAPABILITY_SIGNATURES``); an AssertionError names the capability, the expected and the actual
    shape. Returns the values by capability."""
    N, E, d = batch.num_nodes, batch.num_edges, batch.dim
    dtype = batch.position.dtype
    out: dict[str, Any] = {}
    for capability in type(model).capabilities():
        if capability == "edge_messages":
            out[capability] = _tensor(capability, model.edge_messages(batch), f"(E, k) = ({E}, k)", (E, None), dtype)
        elif capability == "node_embeddings":
            value = model.node_embeddings(batch)
            out[capability] = _tensor(capability, value, f"(N, k) = ({N}, k)", (N, None), dtype)
        elif capability == "interaction":
            r = distances(dtype)
            R = r.shape[0]
            out[capability] = _tensor(capability, model.interaction(r, batch), f"(N, R) = ({N}, {R})", (N, R), dtype)
        elif capability == "hidden_field":
            g = torch.Generator().manual_seed(0)
            M = 7
            position = torch.randn(M, d, generator=g, dtype=torch.float64).to(dtype)
            time = torch.rand(M, generator=g, dtype=torch.float64).to(dtype)
            out[capability] = _tensor(capability, model.hidden_field(position, time), f"(M,) = ({M},)", (M,), dtype)
        elif capability == "edge_types":
            value = _tensor(capability, model.edge_types(batch), f"(E, K) = ({E}, K)", (E, None), dtype)
            if (value < 0).any():
                _fail(capability, "(E, K) rows of non-negative probabilities", f"a minimum of {float(value.min()):.3g}")
            sums = value.sum(-1)
            worst = float((sums - 1).abs().max().detach()) if E else 0.0
            if worst > 1e-6:
                _fail(capability, "(E, K) rows that sum to 1", f"a row sum off by {worst:.3g}")
            out[capability] = value
        elif capability == "equation":
            out[capability] = check_equation(model.equation())
        else:  # pragma: no cover - a capability added to bench.model without a check here
            raise AssertionError(f"{capability}: no check for this capability; add one to check_capabilities")
    return out


def check_equation(value: Any) -> list:
    import sympy

    if not isinstance(value, list):
        _fail("equation", "a list of SymPy expressions", type(value).__name__)
    if not value:
        _fail("equation", "a non-empty list of SymPy expressions", "an empty list")
    bad = [type(e).__name__ for e in value if not isinstance(e, sympy.Expr)]
    if bad:
        _fail("equation", "a list of SymPy expressions", f"elements of type {', '.join(sorted(set(bad)))}")
    return value


def check_outputs(model: Model, out: Any, batch: Batch) -> dict[str, Tensor]:
    """``forward``'s outputs by name; the task's target (N, target_dim), or (N, T − 1, target_dim) for a batch
    with a history of T frames (relational inference: the frames after the first), finite, in the batch's
    dtype."""
    spec = model.spec
    try:
        outputs = named_outputs(out, spec.target, model)
    except BenchError as e:
        raise AssertionError(f"forward: {e}") from None
    if spec.target not in outputs:
        raise AssertionError(f"forward: the outputs {sorted(outputs)} lack the task's target '{spec.target}'")
    shape, label = (batch.num_nodes, spec.target_dim), "(N, target_dim)"
    if batch.history is not None and spec.window:
        shape, label = (batch.num_nodes, batch.history.shape[1] - 1, spec.target_dim), "(N, T − 1, target_dim)"
    _tensor_output(spec.target, outputs[spec.target], shape, batch.position.dtype, label)
    return outputs


def _tensor_output(name: str, value: Tensor, shape: tuple[int, ...], dtype: torch.dtype, label: str) -> None:
    if tuple(value.shape) != shape:
        raise AssertionError(f"forward: '{name}' expected {label} = {shape}, got {tuple(value.shape)}")
    if value.dtype != dtype:
        raise AssertionError(f"forward: '{name}' expected {dtype} (the model's and the batch's dtype), "
                             f"got {value.dtype}")  # fmt: skip
    if not torch.isfinite(value).all():
        raise AssertionError(f"forward: '{name}' has {int((~torch.isfinite(value)).sum())} non-finite entries")


TENSOR_CAPABILITIES = ("edge_messages", "node_embeddings", "interaction", "edge_types")
"""The capabilities that take the batch and return a tensor: compared between backends' paths."""
assert set(TENSOR_CAPABILITIES) | {"hidden_field", "equation"} == set(CAPABILITIES)


def _everything(model: Model, batch: Batch) -> dict[str, Tensor]:
    """The named outputs and every tensor capability of ``model`` on ``batch``."""
    values = dict(named_outputs(model(batch), model.spec.target, model))
    for capability in TENSOR_CAPABILITIES:
        if capability in type(model).capabilities():
            if capability == "interaction":
                values[capability] = model.interaction(distances(batch.position.dtype), batch)
            else:
                values[capability] = getattr(model, capability)(batch)
    return values


# -- the shared test class ------------------------------------------------------------------------------


class ModelTests:
    """Base of a family's model tests: set ``CONFIGS``; every test runs once per configuration."""

    CONFIGS: ClassVar[list[ModelConfig]] = []

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "config" in metafunc.fixturenames:
            ids = [c.id for c in self.CONFIGS]
            # class scope: the tests of one configuration run together on one model built once
            metafunc.parametrize("config", self.CONFIGS, ids=ids, scope="class")

    @pytest.fixture(scope="class")
    def model(self, config: ModelConfig) -> Model:
        """The configuration's model, built once for the class: tests must not modify it."""
        return build(config)

    @pytest.fixture
    def make(self, config: ModelConfig) -> Callable[[], Model]:
        """Builds a fresh model of the configuration, with the same seed (the same weights)."""
        return lambda: build(config)

    # -- the generic tests ---------------------------------------------------------------------------
    def test_forward(self, model: Model):
        batch = random_batch(model.spec)
        with torch.no_grad():
            check_outputs(model, model(batch), batch)

    def test_capabilities(self, model: Model):
        batch = random_batch(model.spec, seed=1)
        claimed = type(model).capabilities()
        values = check_capabilities(model, batch)
        assert tuple(values) == claimed

    def test_dense_and_index_operations_agree_with_gradients(self, model: Model, config: ModelConfig):
        batch = dense_batch(model.spec, random_dense(model.spec, seed=2))
        params = dict(model.named_parameters())
        results = []
        for dense in (True, False):
            model.zero_grad(set_to_none=True)
            values = _everything(model, bind(batch, dense))
            loss = sum(v.square().sum() for v in values.values())
            if params:
                loss.backward()
                missing = [name for name, p in params.items() if p.grad is None]
                assert not missing, f"{config.id}: no gradient reaches {missing}"
            grads = {name: p.grad.clone() for name, p in params.items()} if params else {}
            results.append(({k: v.detach() for k, v in values.items()}, grads))
        model.zero_grad(set_to_none=True)
        (dense_values, dense_grads), (index_values, index_grads) = results
        assert dense_values.keys() == index_values.keys()
        labelled = [(name, index_values[name], dense_values[name]) for name in dense_values]
        labelled += [(f"grad {name}", index_grads[name], dense_grads[name]) for name in dense_grads]
        for label, got, expected in labelled:
            message = f"{config.id}: {label}, index vs dense"
            torch.testing.assert_close(got, expected, rtol=config.rtol, atol=config.atol,
                                       msg=lambda m, message=message: f"{message}: {m}")  # fmt: skip

    def test_batched_equals_single(self, model: Model, config: ModelConfig):
        dense = random_dense(model.spec, seed=3)
        target = model.spec.target

        def predict(dense):
            return named_outputs(model(bind(dense_batch(model.spec, dense))), target, model)[target]

        with torch.no_grad():
            together = predict(dense)
            alone = torch.cat([predict(system(dense, k)) for k in range(dense["position"].shape[0])])
        torch.testing.assert_close(together, alone, rtol=config.rtol, atol=config.atol)

    def test_save_and_load(self, model: Model, make: Callable[[], Model], config: ModelConfig):
        batch = random_batch(model.spec, seed=4)
        other = reloaded(model, make)
        with torch.no_grad():
            expected = named_outputs(model(batch), model.spec.target, model)
            got = named_outputs(other(batch), other.spec.target, other)
        torch.testing.assert_close(got, expected, rtol=config.rtol, atol=config.atol)
