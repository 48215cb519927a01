"""Backend parity: the same weights give the same outputs, edge messages and parameter gradients
on every installed backend (float64, within 1e-6), for every model in the registry, on random graphs
and on real batches of every task family. A new model or backend is covered without editing this.

A relational model (its spec has a history ``window``) is compared on every named output, its edge
posterior and a short rollout; its random batch is systems of its task's particles along random paths, and
an oracle model's batches (``Model.oracle``) carry edge types (the true ones on real batches)."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import pytest
import torch

from bench.backends import BACKENDS, get_backend, installed
from bench.backends.torch_backend import IndexOps
from bench.batch import Batch, from_dense
from bench.config import compose, group_options, model_card, task_card
from bench.family import get_family
from bench.registry import model_names
from bench.run import build_model
from bench.tasks.data import generate_dataset
from bench.train import named_outputs

BACKEND_NAMES = installed()
TOLERANCE = 1e-6


def test_every_backend_is_installed_here():
    """CI installs the `test` extra, which brings PyG and DGL: all three must be exercised."""
    assert set(BACKEND_NAMES) == set(BACKENDS)
    assert set(group_options("backend")) == {"auto", *BACKENDS}


HOME_TASK = {
    "forces": ("charge", 4, 2),
    "nbody": ("nbody5", 5, 3),
    "relational": ("springs5", 5, 2),
    "heterogeneous": ("types3", 4800, 2),
}
"""Per family: a task, its particles and dimension, on which a model of that family is built."""
RANDOM_GRAPH_EXTRA = {"relational": ("task.window=16",)}
"""Per family, further task keys of the model compared on random graphs. A relational model reads 16 frames of a
random path instead of its task's 49: the code path is the same, and 16 is about the shortest window every
relational baseline builds on (NRI's CNN encoder needs 14 for its convolutions and pooling)."""


@cache
def _families(name: str) -> tuple[str, ...]:
    """The families a model card serves (composing a card takes a Hydra compose: once per model)."""
    return tuple(str(f) for f in model_card(name).families)


@cache
def _home(name):
    """(task, n, d) of the first family the model serves: its ``HOME_TASK``, or the first task of the family (by
    name) the model can be built on (``embedding-gnn-field`` needs a task with a hidden field)."""
    family = _families(name)[0]
    home = HOME_TASK[family]
    cards = task_cards()
    for task in [home[0], *sorted(t for t in cards if str(cards[t].family) == family)]:
        if _builds(name, task):
            return task, home[1], home[2]
    raise AssertionError(f"model {name} builds on no task of its family {family}")


def _builds(name: str, task: str) -> bool:
    from bench.errors import BenchError

    try:
        _model(name, task, *HOME_TASK[str(task_cards()[task].family)][1:])
    except BenchError:
        return False
    return True


@cache
def _model(name, task="charge", n=4, d=2, extra=()):
    """Built once per module (tests only evaluate it; ``_evaluate`` clears the gradients first)."""
    cfg = compose([f"model={name}", f"task={task}", f"task.n_particles={n}", f"task.dim={d}", *extra])
    torch.manual_seed(0)
    return build_model(cfg, get_family(str(cfg.task.family)).task_spec(cfg.task, str(cfg.scale.name))).double().eval()


def random_graph_batch(seed: int, dim: int = 2, spec=None) -> Batch:
    """Three graphs of 3-7 nodes with random directed edges (some nodes receive none). For a model that
    reads a history (``spec.window``: relational inference), whose graphs are by contract fully connected
    systems of the task's n particles (the joint LSTM concatenates them), three such systems observed
    along smooth random paths of ``window`` frames of its ``target_dim`` features."""
    g = torch.Generator().manual_seed(seed)
    if spec is not None and spec.window:
        from bench.tasks.relational.loader import history_batch

        n, shape = int(spec.n_particles), (3, int(spec.n_particles), spec.window, spec.target_dim)
        steps = torch.randn(*shape, generator=g, dtype=torch.float64) * 0.05
        start = torch.rand(3, n, 1, spec.target_dim, generator=g, dtype=torch.float64) - 0.5
        return history_batch((start + steps.cumsum(2)).clamp(-1, 1), spec.dim)
    sizes = torch.randint(3, 8, (3,), generator=g).tolist()
    edges, graph, offset = [], [], 0
    for k, n in enumerate(sizes):
        pairs = torch.tensor([(j, i) for i in range(n) for j in range(n) if i != j])
        keep = torch.rand(len(pairs), generator=g) < 0.5
        edges.append(pairs[keep] + offset)
        graph += [k] * n
        offset += n
    N = offset
    edge_index = torch.cat(edges).T.contiguous()
    edge_index = edge_index[:, torch.randperm(edge_index.shape[1], generator=g)]  # unsorted receivers
    return Batch(
        position=torch.randn(N, dim, generator=g, dtype=torch.float64),
        velocity=torch.randn(N, dim, generator=g, dtype=torch.float64),
        attributes={
            "charge": torch.randint(0, 2, (N,), generator=g).double() * 2 - 1,
            "mass": torch.randn(N, generator=g, dtype=torch.float64).exp(),
        },  # fmt: skip
        edge_index=edge_index,
        graph=torch.tensor(graph),
        num_graphs=len(sizes),
        particle=torch.arange(N),
    )


@cache
def task_cards() -> dict:
    """Every task card, composed once for the module."""
    return {name: task_card(name) for name in group_options("task")}


def real_batches(data_root, families=None, accept=None):
    """A real batch of every task family (its task with the fewest particles, of those ``accept(name)`` takes),
    as float64, with its targets: up to 16 samples, fewer where one sample is a large graph (about 20k edges at
    most: heterogeneous particles have 240 per frame at tiny scale, and their models are 128 wide), and 4 where a
    sample is a whole trajectory (``history``: the relational models encode every edge over every frame; 4
    graphs still check the batching)."""
    seen = set()
    cards = task_cards()
    for name in sorted(cards, key=lambda t: (int(cards[t].n_particles), t)):
        card = cards[name]
        if card.family in seen or (families is not None and card.family not in families):
            continue
        if accept is not None and not accept(name):
            continue
        seen.add(card.family)
        fam = get_family(str(card.family))
        data = fam.load(generate_dataset(card, "tiny", root=data_root, progress=False), card)
        one, _ = data.batch("train", torch.arange(1))
        samples = max(1, min(16 if one.history is None else 4, 20_000 // max(1, one.num_edges)))
        batch, targets = data.batch("train", torch.arange(0, 3 * samples, 3))
        yield card, batch.to("cpu", torch.float64), targets


def _backward(model, loss) -> None:
    """Gradients of ``loss``; a model without parameters (copy-last) has none: its outputs are compared alone."""
    if any(p.requires_grad for p in model.parameters()):
        loss.backward()


ROLLOUT_STEPS = 3


def _values(model, bound: Batch) -> tuple[dict, dict]:
    """The named outputs of ``model`` on a bound batch, and what else it exposes per edge or per frame: edge
    messages, the edge posterior, a short rollout (a model that reads a history)."""
    outputs = named_outputs(model(bound), model.spec.target, model)
    extra = {}
    if "edge_messages" in type(model).capabilities():
        extra["edge messages"] = model.edge_messages(bound)
    if "edge_types" in type(model).capabilities():
        extra["edge types"] = model.edge_types(bound)
    if bound.history is not None and callable(getattr(model, "rollout", None)):
        extra["rollout"] = model.rollout(bound, ROLLOUT_STEPS)
    return outputs, extra


def _evaluate_bound(model, bound: Batch):
    model.zero_grad()
    outputs, extra = _values(model, bound)
    loss = sum(v.sin().sum() for v in outputs.values()) + sum(v.cos().sum() for v in extra.values())
    if torch.is_tensor(loss) and loss.requires_grad:
        _backward(model, loss)
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    values = {**{f"output '{k}'": v.detach() for k, v in outputs.items()}, **{k: v.detach() for k, v in extra.items()}}
    return values, grads


def _evaluate(model, batch: Batch, backend: str):
    return _evaluate_bound(model, get_backend(backend).bind(batch))


def _assert_same(reference, other, label):
    values0, grads0 = reference
    values1, grads1 = other
    assert values1.keys() == values0.keys(), label
    for name in values0:
        torch.testing.assert_close(values1[name], values0[name], rtol=0, atol=TOLERANCE, msg=f"{label}: {name}")
    assert grads1.keys() == grads0.keys(), label
    for name in grads0:
        torch.testing.assert_close(grads1[name], grads0[name], rtol=0, atol=TOLERANCE, msg=f"{label}: grad {name}")


def _oracle_batch(model, batch: Batch, targets) -> Batch:
    """``batch`` with the true edge types, or particle types, for a model that declares them as an oracle
    input (particle types: any labels in range do for parity)."""
    if "edges" in getattr(model, "oracle", ()):
        return replace(batch, edge_label=targets["edges"])
    if "types" in getattr(model, "oracle", ()):
        return replace(batch, node_label=torch.arange(batch.num_nodes) % int(model.spec.num_types))
    return batch


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("model_name", model_names())
@pytest.mark.parametrize("seed", [0, 1])
def test_parity_on_random_graphs(model_name, backend, seed):
    task, n, d = _home(model_name)
    model = _model(model_name, task, n, d, RANDOM_GRAPH_EXTRA.get(_families(model_name)[0], ()))
    batch = random_graph_batch(seed, d, model.spec)
    labels = torch.randint(0, 2, (batch.num_edges,), generator=torch.Generator().manual_seed(seed))
    batch = _oracle_batch(model, batch, {"edges": labels})  # random edge types: as good as true ones here
    reference_batch = get_backend("torch").bind(batch)
    reference_batch.ops = IndexOps(reference_batch)  # the reference: torch's index path (as on real batches)
    reference = _evaluate_bound(model, reference_batch)
    _assert_same(reference, _evaluate(model, batch, backend), f"{model_name} on {backend}, random graph {seed}")


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("model_name", model_names())
def test_parity_on_real_batches(model_name, backend, data_root):
    families = set(_families(model_name))
    accept = lambda task: _builds(model_name, task)  # noqa: E731
    for card, batch, targets in real_batches(data_root, families=families, accept=accept):
        model = _model(model_name, task=str(card.name), n=int(card.n_particles), d=int(card.dim))
        batch = _oracle_batch(model, batch, targets)
        # the reference: pure-PyTorch index operations (the dense path is a backend under test too)
        reference_batch = get_backend("torch").bind(batch)
        reference_batch.ops = IndexOps(reference_batch)
        reference = _evaluate_bound(model, reference_batch)
        _assert_same(reference, _evaluate(model, batch, backend), f"{model_name} on {backend}, {card.name} batch")


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_dense_three_dimensional_batch(backend):
    model = _model("egnn", n=8, d=3)
    g = torch.Generator().manual_seed(5)
    ones = torch.ones(7, 8, dtype=torch.float64)
    dense = torch.randn(2, 7, 8, 3, generator=g, dtype=torch.float64)
    batch = from_dense(dense[0], dense[1], {"charge": ones, "mass": ones})
    random = random_graph_batch(0, 3)
    _assert_same(_evaluate(model, random, "torch"), _evaluate(model, random, backend), f"egnn 3-D random on {backend}")
    _assert_same(_evaluate(model, batch, "torch"), _evaluate(model, batch, backend), f"egnn 3-D dense on {backend}")


def test_missing_library_says_how_to_install(monkeypatch):
    import importlib.util

    from bench.backends import resolve
    from bench.errors import BenchError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "dgl" else real(name, *a))
    with pytest.raises(BenchError, match=r"backend 'dgl' needs dgl, which is not installed; install it with: "
                                         r'pip install torch==2.13.0 -e "\.\[dgl\]"'):  # fmt: skip
        resolve("dgl")
    assert resolve("auto") in ("torch", "pyg")  # auto never picks a backend that is not installed


def test_dgl_imports_on_this_torch_without_graphbolt():
    from bench.backends.dgl_backend import import_dgl

    dgl = import_dgl()
    assert hasattr(dgl, "graph") and dgl.__version__.startswith("2.")
