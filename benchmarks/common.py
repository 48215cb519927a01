"""Shared set-up of the speed benchmarks (asv suite and the step-time script): one training step of
a registered model on a backend, at the model card's batch size for its task."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from bench.backends import get_backend
from bench.batch import Batch, from_dense
from bench.config import compose, model_card
from bench.family import get_family
from bench.run import build_model
from bench.train import autocast, make_optimizer

# model → (task overrides, graphs per batch): the cards' reference batches
STEP_SETTINGS = {
    "gnn": (["task=spring", "task.n_particles=4", "task.dim=2"], 64),
    "egnn": (["task=charge", "task.n_particles=4", "task.dim=2"], 64),
    # built for a field task (batch_for adds random field nodes)
    "embedding-gnn-field": (["task=field-static", "task.particles.quick=87"], 11),
}
# The settings for the comparisons with the reference implementations.
EGNN_NBODY = (5, 3, 100)  # particles, dimensions, graphs per batch


def random_batch(num_graphs: int, n: int, d: int, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return from_dense(
        torch.randn(num_graphs, n, d, generator=g),
        torch.randn(num_graphs, n, d, generator=g),
        {
            "charge": torch.randint(0, 2, (num_graphs, n), generator=g).float() * 2 - 1,
            "mass": torch.randn(num_graphs, n, generator=g).exp(),
        },  # fmt: skip
    )


def batch_for(model, num_graphs: int, seed: int = 0) -> Batch:
    """A random batch of ``num_graphs`` systems shaped for ``model``'s task: ``random_batch``, or for a model
    that reads a history (relational inference: ``spec.window``) smooth random trajectories in [−1, 1] of
    ``window`` frames (and, for an oracle model given the true graph, random edge labels; given the particle
    types, random types). On a task with a hidden field (``spec.field``), 64 random field nodes in the box, each
    particle joined to 8 of them, and random frame times (a field task's radius-graph batches in shape)."""
    spec = model.spec
    n = int(spec.n_particles)
    if not spec.window:
        batch = random_batch(num_graphs, n, int(spec.dim), seed)
        if "types" in getattr(model, "oracle", ()):  # an oracle model is handed the true types: random ones here
            g = torch.Generator().manual_seed(seed)
            batch.node_label = torch.randint(0, int(spec.num_types), (batch.num_nodes,), generator=g)
        if spec.field is not None:
            from bench.batch import FieldNodes

            g = torch.Generator().manual_seed(seed + 1)
            N, box = batch.num_nodes, float(spec.box)
            nodes = torch.rand(64, int(spec.dim), generator=g) * box
            node = torch.randint(0, 64, (8 * N,), generator=g)
            receiver = torch.arange(N).repeat_interleave(8)
            delta = (torch.rand(8 * N, int(spec.dim), generator=g) - 0.5) * float(spec.radius)
            batch.field = FieldNodes(position=nodes, edge_index=torch.stack([node, receiver]), delta=delta)
            batch.time = (torch.rand(num_graphs, generator=g) * float(spec.duration or 1.0))[batch.graph]
        return batch
    from bench.tasks.relational.loader import history_batch

    g = torch.Generator().manual_seed(seed)
    start = torch.rand(num_graphs, n, 1, spec.target_dim, generator=g) * 2 - 1
    steps = torch.randn(num_graphs, n, spec.window, spec.target_dim, generator=g) * 0.02
    batch = history_batch((start + steps.cumsum(2)).clamp(-1, 1), int(spec.dim))
    if "edges" in getattr(model, "oracle", ()):  # an oracle model is handed the true graph: a random one here
        batch.edge_label = torch.randint(0, 2, (batch.num_edges,), generator=g)
    return batch


def sparse_batch(num_nodes: int = 2000, degree: int = 16, d: int = 2, seed: int = 0) -> Batch:
    """A batch of 10 random sparse graphs (each node receives about ``degree`` edges from nodes of its
    graph; receivers unsorted), the shape of the radius graphs of larger systems."""
    g = torch.Generator().manual_seed(seed)
    per_graph = num_nodes // 10
    recv = torch.arange(num_nodes).repeat_interleave(degree)
    graph_start = (recv // per_graph) * per_graph
    send = graph_start + torch.randint(0, per_graph, (recv.numel(),), generator=g)
    keep = send != recv
    perm = torch.randperm(int(keep.sum()), generator=g)
    edge_index = torch.stack([send[keep], recv[keep]])[:, perm]
    return Batch(
        position=torch.randn(num_nodes, d, generator=g),
        velocity=torch.randn(num_nodes, d, generator=g),
        attributes={"charge": torch.ones(num_nodes), "mass": torch.ones(num_nodes)},
        edge_index=edge_index,
        graph=torch.arange(num_nodes) // per_graph,
        num_graphs=10,
        particle=torch.arange(num_nodes),
    )


def target_of(batch: Batch, seed: int = 1, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    """A random target for a timing step (the batch itself never holds targets): per particle (N, d), or
    of ``shape``."""
    return torch.randn(*(shape or (batch.num_nodes, batch.dim)), generator=torch.Generator().manual_seed(seed))


# A model built only for the n-body family is timed on its reference task: 5 bodies in 3-D, batch 100.
NBODY_SETTINGS = (["task=nbody5"], 100)
# A relational model (it reads a history) on springs5 at NRI's batch of 128 trajectories.
RELATIONAL_SETTINGS = (["task=springs5"], 128)
# A heterogeneous-particle model (types3) on 11 fully connected systems of 87 particles: the edges of one
# quick-scale frame, its reference batch (960 particles with about 85 neighbours each: ~82k edges).
HETEROGENEOUS_SETTINGS = (["task=types3", "task.particles.quick=87"], 11)


def _served_tasks(name: str) -> set[str]:
    """The tasks of the families a model card serves."""
    from bench.family import get_family

    return {t for fam in model_card(name).families for t in get_family(str(fam)).tasks()}


def model_for(name: str, overrides: list[str] | None = None):
    """(model seeded 0, its configuration, graphs per batch) at the model's reference batch: the
    settings above, else a force-family task (spring), for an n-body-only model ``nbody5``, for a
    relational model ``springs5`` (NRI's batch of 128 trajectories), for a heterogeneous-particle model
    ``types3`` (``HETEROGENEOUS_SETTINGS``)."""
    served = _served_tasks(name)
    if "spring" in served:
        default = (["task=spring"], 64)
    elif "springs5" in served:
        default = RELATIONAL_SETTINGS
    elif "types3" in served:
        default = HETEROGENEOUS_SETTINGS
    else:
        default = NBODY_SETTINGS
    task_overrides, graphs = STEP_SETTINGS.get(name, default)
    cfg = compose([f"model={name}", *(overrides or task_overrides)])
    torch.manual_seed(0)
    model = build_model(cfg, get_family(str(cfg.task.family)).task_spec(cfg.task, str(cfg.scale.name)))
    return model, cfg, graphs


def our_step(
    model, batch: Batch, backend_name: str, optimizer: bool = True, precision: str = "fp32", compile: bool = False
) -> Callable[[], None]:
    """forward, L1 loss (on every named output), backward and (if ``optimizer``) the training loop's Adam
    step, at the training loop's ``precision`` (``fp32`` or ``bf16`` mixed), through ``torch.compile`` if
    ``compile`` (as the training loop's ``compile=true``); binding the batch to the backend is part of the step. A model
    without parameters (``copy-last``), which the training loop does not train, gets no optimiser and
    no backward pass: its step is the forward pass and the loss."""
    from bench.train import named_outputs

    backend = get_backend(backend_name)
    forward = torch.compile(model, dynamic=False) if compile else model
    trainable = any(p.requires_grad for p in model.parameters())
    opt = make_optimizer(model, "adam", lr=1e-4) if trainable else None
    name = model.spec.target
    with torch.no_grad():  # every named output's shape (the task's target: per particle, or over a window)
        shapes = {k: tuple(v.shape) for k, v in named_outputs(model(backend.bind(batch)), name, model).items()}
    targets = {k: target_of(batch, seed=1 + i, shape=shape) for i, (k, shape) in enumerate(sorted(shapes.items()))}
    mixed = autocast(precision, batch.position.device)

    def step():
        with mixed:
            out = named_outputs(forward(backend.bind(batch)), name, model)
            # L1 on every named output (a model's extra outputs, e.g. NRI's edge logits, train too)
            loss = sum((out[k].float() - targets[k]).abs().mean() for k in targets)
        if opt is None:
            return
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if optimizer:
            opt.step()

    return step


def plain_step(module, inputs: tuple, target, optimizer: bool = True) -> Callable[[], None]:
    """The same for a reference implementation, with PyTorch's default Adam (as plain code has it)."""
    opt = torch.optim.Adam(module.parameters(), lr=1e-4)

    def step():
        loss = (module(*inputs) - target).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if optimizer:
            opt.step()

    return step


def measure_interleaved(steps: dict[str, Callable[[], None]], rounds: int = 15, per_round: int = 20, warmup: int = 10):
    """Median seconds per step of each candidate; candidates alternate within every round, so a
    change of machine load hits them alike."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    samples: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(per_round):
                step()
            samples[name].append((time.perf_counter() - t0) / per_round)
    return {k: sorted(v)[len(v) // 2] for k, v in samples.items()}
