"""The batch every model receives: several particle systems as one disjoint graph.

Designed for all five task families: fully connected graphs (force laws, N-body, relational
inference) and radius graphs with periodic minimum-image displacements (heterogeneous systems);
a window of past frames (NRI's encoder); a stable identity per particle (per-particle embeddings);
time; node types and a mask of the nodes that are predicted.

A batch holds a model's inputs only: the targets travel beside it (a task's loader returns
``(batch, targets)``), so no model can read them.

Shapes (N particles in the batch, E edges, d dimensions, B graphs):

- ``position``, ``velocity``: (N, d)
- ``attributes``: dict of per-particle scalars, each (N,) (``charge``, ``mass``, ...)
- ``edge_index``: (2, E) long, row 0 the senders j, row 1 the receivers i (messages flow j → i)
- ``edge_shift``: (E, d) or None: added to ``x_i - x_j`` (periodic images); None for open boundaries
- ``graph``: (N,) long, the graph each particle belongs to
- ``particle``: (N,) long, a stable identity of each particle across frames (for per-particle embeddings)
- ``history``: (N, W, F) or None: the past W frames of each particle
- ``time``: (N,) or None: the time of the frame each particle is seen at
- ``node_type``: (N,) long or None: the kind of each node (e.g. 0 particle, 1 field node)
- ``mask``: (N,) bool or None: the nodes whose target is predicted (None: all); field nodes are not
- ``edge_label``: (E,) long or None: the true type of each edge, given only to a model that declares it
  as an oracle input (``Model.oracle``: an upper bound such as NRI's decoder on the true graph, never
  ranked); None for every other model
- ``node_label``: (N,) long or None: the true hidden type of each particle, given only to a model that
  declares it as an oracle input (``Model.oracle = ("types",)``: a ceiling such as a GNN told the types);
  None for every other model
- ``field``: a ``FieldNodes`` or None: stationary nodes of a hidden field (family H's field tasks), their
  positions and edges to the particles, never their values
- ``nodes_per_graph``: set when every graph has that many particles and is fully connected with
  edges in receiver-major order (receiver i, then senders j != i ascending); backends use it to work
  on dense (B, n, ...) tensors without any scatter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from bench.pairs import ordered_pairs

if TYPE_CHECKING:
    from bench.backends.base import GraphOps


@dataclass
class FieldNodes:
    """Stationary nodes that carry a hidden field (``field-static``, ``field-dynamic``): where they are and which
    particles they act on; their values are what a model must learn. Shapes (M nodes, F field edges, d):

    - ``position`` (M, d): the nodes' positions (the same in every frame);
    - ``edge_index`` (2, F) long: row 0 the node (0..M−1), row 1 the particle it acts on (a row of the batch);
    - ``delta`` (F, d): the minimum-image displacement x_node − x_particle of each edge.

    The time of a frame is the batch's ``time`` (per particle)."""

    position: Tensor
    edge_index: Tensor
    delta: Tensor

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]

    def to(self, move) -> FieldNodes:
        return FieldNodes(position=move(self.position), edge_index=move(self.edge_index), delta=move(self.delta))


@dataclass
class Batch:
    position: Tensor
    velocity: Tensor
    attributes: dict[str, Tensor]
    edge_index: Tensor
    graph: Tensor
    num_graphs: int
    particle: Tensor
    edge_shift: Tensor | None = None
    history: Tensor | None = None
    time: Tensor | None = None
    node_type: Tensor | None = None
    mask: Tensor | None = None
    edge_label: Tensor | None = None
    node_label: Tensor | None = None
    nodes_per_graph: int | None = None
    field: FieldNodes | None = None
    ops: GraphOps | None = None
    """Message-passing operations over this batch's edges, bound by the backend (``bench.backends``)."""

    @property
    def num_nodes(self) -> int:
        return self.position.shape[0]

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]

    @property
    def dim(self) -> int:
        return self.position.shape[1]

    def node_scalars(self, names: tuple[str, ...] | None = None) -> Tensor:
        """The per-particle attributes stacked as (N, k), in ``names`` order (default: sorted names)."""
        names = tuple(sorted(self.attributes)) if names is None else names
        if not names:
            return self.position.new_zeros(self.num_nodes, 0)
        return torch.stack([self.attributes[n] for n in names], dim=-1)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Batch:
        def move(t):
            if t is None:
                return None
            if dtype is not None and t.is_floating_point():
                return t.to(device=device, dtype=dtype)
            return t.to(device)

        return replace(
            self,
            position=move(self.position),
            velocity=move(self.velocity),
            attributes={k: move(v) for k, v in self.attributes.items()},
            edge_index=move(self.edge_index),
            graph=move(self.graph),
            particle=move(self.particle),
            edge_shift=move(self.edge_shift),
            history=move(self.history),
            time=move(self.time),
            node_type=move(self.node_type),
            mask=move(self.mask),
            edge_label=move(self.edge_label),
            node_label=move(self.node_label),
            field=None if self.field is None else self.field.to(move),
            ops=None,
        )


@lru_cache(maxsize=64)
def _fully_connected_cpu(num_graphs: int, n: int) -> tuple[Tensor, Tensor]:
    receivers, senders = ordered_pairs(n)
    local_recv, local_send = torch.from_numpy(receivers.copy()), torch.from_numpy(senders.copy())
    offsets = (torch.arange(num_graphs) * n).repeat_interleave(n * (n - 1))
    edge_index = torch.stack([local_send.repeat(num_graphs) + offsets, local_recv.repeat(num_graphs) + offsets])
    graph = torch.arange(num_graphs).repeat_interleave(n)
    return edge_index, graph


def fully_connected(num_graphs: int, n: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """Edges (2, B·n(n-1)) of B fully connected graphs of n nodes, receiver-major, and the graph ids (B·n,)."""
    edge_index, graph = _fully_connected_cpu(num_graphs, n)
    return edge_index.to(device), graph.to(device)


def from_dense(
    position: Tensor,
    velocity: Tensor,
    attributes: dict[str, Tensor],
    particle: Tensor | None = None,
) -> Batch:
    """A batch of B fully connected systems of n particles from dense (B, n, ...) tensors (targets: ``flat_nodes``)."""
    B, n, d = position.shape
    edge_index, graph = fully_connected(B, n, position.device)
    if particle is None:
        particle = torch.arange(n, device=position.device).repeat(B)
    return Batch(
        position=position.reshape(B * n, d),
        velocity=velocity.reshape(B * n, d),
        attributes={k: v.reshape(B * n) for k, v in attributes.items()},
        edge_index=edge_index,
        graph=graph,
        num_graphs=B,
        particle=particle,
        nodes_per_graph=n,
    )


def flat_nodes(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """Dense per-system tensors (B, n, ...) as per-node tensors (B·n, ...), in ``from_dense``'s node order."""
    return {k: v.reshape(v.shape[0] * v.shape[1], *v.shape[2:]) for k, v in tensors.items()}
