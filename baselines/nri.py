r"""Kipf, Fetaya, Wang, Welling & Zemel 2018 (arXiv 1802.04687), "Neural Relational Inference for
Interacting Systems": a variational auto-encoder whose latent code is the interaction graph.

The encoder reads the observed trajectories :math:`x^{1..W}` and scores every ordered pair j → i with
K edge types, :math:`q_\phi(z_{ij} \mid x)`; the decoder predicts the dynamics from messages that the
edge types switch on,

.. math::
    \tilde m^t_{ij} = \textstyle\sum_k z_{ij,k}\, f^k_e([x^t_j, x^t_i]), \qquad
    x^{t+1}_i = x^t_i + f_v\big([x^t_i, \textstyle\sum_{j} \tilde m^t_{ij}]\big),

trained on the ELBO: a Gaussian likelihood of fixed variance σ² (``variance``) of the teacher-forced
predictions plus the KL divergence of :math:`q_\phi(z \mid x)` from the uniform prior, the edge types
sampled with the Gumbel-softmax (temperature ``tau``, soft) during training.

Models (one card each):

- ``nri`` (``NRI``, ``encoder: mlp``): the MLP encoder and the MLP decoder (NRI's springs and charged).
- ``nri-cnn`` (``NRI``, ``encoder: cnn``): the CNN encoder (NRI's choice for Kuramoto) and the MLP decoder.
- ``nri-supervised`` (``NRISupervised``): the encoder alone, trained with cross-entropy on the true
  edge types (NRI's supervised upper bound of the encoder). It predicts no dynamics: its ``state`` is the
  previous frame and its ``rollout`` repeats the last frame.
- ``nri-true-graph`` (``NRITrueGraph``): the decoder alone, driven by the true edge types (NRI's "true
  graph" upper bound of the decoder). It declares ``oracle = ("edges",)``, so the suite hands it the true
  type of each edge as ``batch.edge_label``; its ``edge_types`` is that one-hot oracle, not an inference.

Architecture (NRI's reference defaults; every MLP block is Linear → ELU → dropout → Linear → ELU →
BatchNorm over the features of all rows):

- MLP encoder: node input :math:`x_i^{1..W}` flattened (W·F); ``mlp1`` on nodes; node → edge: the
  concatenation :math:`[h_j, h_i]` (sender, receiver); ``mlp2`` (2H → H), kept as the skip; edge → node:
  the sum over incoming edges divided by the number n of nodes of the graph (NRI's normalisation, not the
  in-degree n − 1); ``mlp3`` on nodes; node → edge; concatenated with the skip; ``mlp4`` (3H → H);
  ``fc_out`` (H → K) logits.
- CNN encoder: per edge the 2F channels :math:`[x_j, x_i]` over the W frames go through Conv1d(2F, H, 5)
  → ReLU → BatchNorm → dropout → MaxPool(2) → Conv1d(H, H, 5) → ReLU → BatchNorm; a prediction head
  Conv1d(H, H, 1) and an attention head Conv1d(H, 1, 1) softmaxed over time; the time mean of the
  attention-weighted predictions is the edge vector; then ``mlp1`` (H → H), kept as the skip, and the same
  factor-graph tail as the MLP encoder (edge → node, ``mlp2``, node → edge, skip, ``mlp3`` (3H → H),
  ``fc_out``). The only rearrangement: the first convolution is linear in its channels, so it is computed
  on the nodes' trajectories (sender and receiver halves of its weight) and combined per edge, the same
  function at a fraction of the cost.
- MLP decoder: per edge type k a message MLP Linear(2F, H) → ReLU → dropout → Linear(H, H) → ReLU, times
  the edge's weight of type k, summed over types (``skip_first``: type 0 sends no message); messages
  summed over incoming edges; node MLP Linear(F + H, H) → ReLU → dropout → Linear(H, H) → ReLU → dropout
  → Linear(H, F) on :math:`[x_i, \sum_j \tilde m_{ij}]`; output :math:`x_i + \Delta`. The K message MLPs run
  as one batched product (their first layers as one Linear of width K·H, their second as one ``baddbmm``).
- Teacher forcing (``prediction_steps`` P = 10): the true frames 0, P, 2P, … start P-step free runs of the
  decoder, all chains at once; ``forward``'s ``state`` is the prediction of frames 1..T−1, (N, T−1, F).

Objective (``loss``), per NRI: :math:`\sum (\hat x - x)^2 / (2σ^2)` over every predicted frame, particle
and feature, plus :math:`\sum_{ij} \sum_k q_k \log q_k` plus :math:`\log K` per edge (the constant keeps the
KL to the uniform prior non-negative; NRI leaves it out), both divided by the number of particles N of the
batch (NRI's batch × atoms).

Evaluation: ``edge_types`` is the posterior softmax of the logits of ``history[:, :window]``;
``rollout`` decodes from the last observed frame with the argmax edge types (NRI samples them: ours is
deterministic). In eval mode ``forward`` uses the argmax edge types too (NRI's validation uses hard
samples), so the validation loss is the loss of the graph that is evaluated.

Args: ``hidden`` (256) width of every layer of encoder and decoder; ``edge_types`` (K = 2); ``encoder``
(``mlp`` | ``cnn``); ``tau`` (0.5) Gumbel-softmax temperature; ``prediction_steps`` (10); ``variance``
(5e-5) of the Gaussian likelihood; ``dropout`` (0.0); ``skip_first`` (false).

Shapes: ``forward`` {"state": (N, T−1, F), "edge_logits": (E, K)}; ``edge_types`` (E, K);
``rollout(batch, steps)`` (N, steps, F).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from bench.backends.base import GraphOps
from bench.batch import Batch
from bench.errors import BenchError
from bench.model import Model, TaskSpec

ENCODERS = ("mlp", "cnn")


def nodes_in_graph(batch: Batch, like: Tensor) -> Tensor | float:
    """The number of nodes of each node's graph: a float when every graph has ``nodes_per_graph``, else (N, 1)."""
    if batch.nodes_per_graph:
        return float(batch.nodes_per_graph)
    counts = torch.bincount(batch.graph, minlength=batch.num_graphs).to(like.dtype)
    return counts.index_select(0, batch.graph).unsqueeze(-1)


def edge_to_node(batch: Batch, edges: Tensor) -> Tensor:
    """NRI's edge → node: the sum over incoming edges divided by the graph's node count n. (E, H) → (N, H)."""
    return batch.ops.sum_at_receivers(edges) / nodes_in_graph(batch, edges)


class Block(nn.Module):
    """NRI's MLP block: Linear → ELU → dropout → Linear → ELU → BatchNorm1d (over the rows' features),
    initialised as NRI's (Xavier-normal weights, biases 0.1)."""

    def __init__(self, n_in: int, hidden: int, n_out: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden)
        self.fc2 = nn.Linear(hidden, n_out)
        self.bn = nn.BatchNorm1d(n_out)
        self.dropout = nn.Dropout(dropout)
        for layer in (self.fc1, self.fc2):
            nn.init.xavier_normal_(layer.weight)
            nn.init.constant_(layer.bias, 0.1)

    def tail(self, pre: Tensor) -> Tensor:
        """The block after its first linear layer, from that layer's output ``pre`` (rows, hidden)."""
        return self.bn(F.elu(self.fc2(self.dropout(F.elu(pre)))))

    def forward(self, x: Tensor) -> Tensor:
        return self.tail(self.fc1(x))

    def on_edges(self, ops: GraphOps, x: Tensor, skip: Tensor | None = None) -> Tensor:
        """The block on ``[x_j, x_i(, skip)]`` for every edge j → i (NRI's node → edge concatenation, sender
        first), its first layer computed on the N nodes and combined per edge: (N, H) (, (E, S)) → (E, out)."""
        H = x.shape[-1]
        W = self.fc1.weight
        pre = ops.combine(F.linear(x, W[:, H : 2 * H], self.fc1.bias), F.linear(x, W[:, :H]))
        if skip is not None:
            pre = pre + F.linear(skip, W[:, 2 * H :])
        return self.tail(pre)


def out_layer(hidden: int, edge_types: int) -> nn.Linear:
    layer = nn.Linear(hidden, edge_types)
    nn.init.xavier_normal_(layer.weight)
    nn.init.constant_(layer.bias, 0.1)
    return layer


class MLPEncoder(nn.Module):
    """NRI's MLP encoder (factor graph): node → edge → node → edge with a skip; (E, K) logits."""

    def __init__(self, window: int, features: int, hidden: int, edge_types: int, dropout: float):
        super().__init__()
        self.window = window
        self.mlp1 = Block(window * features, hidden, hidden, dropout)
        self.mlp2 = Block(2 * hidden, hidden, hidden, dropout)
        self.mlp3 = Block(hidden, hidden, hidden, dropout)
        self.mlp4 = Block(3 * hidden, hidden, hidden, dropout)
        self.fc_out = out_layer(hidden, edge_types)

    def forward(self, batch: Batch) -> Tensor:
        ops = batch.ops
        x = self.mlp1(batch.history[:, : self.window].flatten(1))  # (N, H)
        skip = self.mlp2.on_edges(ops, x)  # (E, H)
        x = self.mlp3(edge_to_node(batch, skip))
        return self.fc_out(self.mlp4.on_edges(ops, x, skip))


class CNNEncoder(nn.Module):
    """NRI's CNN encoder: a temporal CNN with attention pooling per edge, then the factor-graph tail."""

    def __init__(self, window: int, features: int, hidden: int, edge_types: int, dropout: float):
        super().__init__()
        if (window - 4) // 2 - 4 < 1:
            raise BenchError(f"CNNEncoder: a window of {window} frames is too short for its two convolutions "
                             "of width 5 and its pooling; valid: window >= 14")  # fmt: skip
        self.window, self.features = window, features
        self.conv1 = nn.Conv1d(2 * features, hidden, 5)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.conv2 = nn.Conv1d(hidden, hidden, 5)
        self.bn2 = nn.BatchNorm1d(hidden)
        self.conv_predict = nn.Conv1d(hidden, hidden, 1)
        self.conv_attention = nn.Conv1d(hidden, 1, 1)
        self.dropout = nn.Dropout(dropout)
        for conv in (self.conv1, self.conv2, self.conv_predict, self.conv_attention):
            k, out = conv.kernel_size[0], conv.out_channels
            nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / (k * out)))
            nn.init.constant_(conv.bias, 0.1)
        self.mlp1 = Block(hidden, hidden, hidden, dropout)
        self.mlp2 = Block(hidden, hidden, hidden, dropout)
        self.mlp3 = Block(3 * hidden, hidden, hidden, dropout)
        self.fc_out = out_layer(hidden, edge_types)

    def edge_vectors(self, batch: Batch) -> Tensor:
        """The CNN's attention-pooled vector of every edge's pair of trajectories: (E, H)."""
        Fe = self.features
        x = batch.history[:, : self.window].transpose(1, 2)  # (N, F, W)
        N = x.shape[0]
        W = self.conv1.weight  # channels [x_j, x_i]: sender first
        at_receivers = F.conv1d(x, W[:, Fe:], self.conv1.bias)  # (N, H, L)
        at_senders = F.conv1d(x, W[:, :Fe])
        H, L = at_receivers.shape[1:]
        h = batch.ops.combine(at_receivers.reshape(N, H * L), at_senders.reshape(N, H * L)).view(-1, H, L)
        h = F.max_pool1d(self.dropout(self.bn1(F.relu(h))), 2)
        h = self.bn2(F.relu(self.conv2(h)))
        attention = torch.softmax(self.conv_attention(h), dim=2)
        return (self.conv_predict(h) * attention).mean(dim=2)

    def forward(self, batch: Batch) -> Tensor:
        skip = self.mlp1(self.edge_vectors(batch))  # (E, H)
        x = self.mlp2(edge_to_node(batch, skip))
        return self.fc_out(self.mlp3.on_edges(batch.ops, x, skip))


def make_encoder(
    kind: str, spec: TaskSpec, hidden: int, edge_types: int, dropout: float, owner: str
) -> MLPEncoder | CNNEncoder:
    if not spec.window:
        raise BenchError(f"{owner} reads a window of frames (TaskSpec.window), which task family '{spec.family}' "
                         "does not give; it is a model of family relational")  # fmt: skip
    if kind not in ENCODERS:
        raise BenchError(f"{owner}: unknown encoder '{kind}'; valid: {', '.join(ENCODERS)}")
    cls = MLPEncoder if kind == "mlp" else CNNEncoder
    return cls(int(spec.window), spec.target_dim, hidden, edge_types, dropout)


class MLPDecoder(nn.Module):
    """NRI's MLP decoder: per-type message MLPs weighted by the edge types, summed messages, residual node MLP."""

    def __init__(self, features: int, hidden: int, edge_types: int, dropout: float, skip_first: bool):
        super().__init__()
        self.first = 1 if skip_first else 0
        types = edge_types - self.first
        if types < 1:
            raise BenchError(f"MLPDecoder: skip_first with edge_types={edge_types} leaves no type that sends a "
                             "message; valid: edge_types >= 2")  # fmt: skip
        self.features, self.hidden, self.types = features, hidden, types
        # The first layers of the message MLPs of all types, side by side (output block k: type k).
        self.message_in = nn.Linear(2 * features, types * hidden)
        # Their second layers, stacked: type k maps h to h @ message_weight[k] + message_bias[k].
        self.message_weight = nn.Parameter(torch.empty(types, hidden, hidden))
        self.message_bias = nn.Parameter(torch.empty(types, hidden))
        bound = 1.0 / math.sqrt(hidden)  # nn.Linear's default initialisation, per type
        nn.init.uniform_(self.message_weight, -bound, bound)
        nn.init.uniform_(self.message_bias, -bound, bound)
        self.dropout = nn.Dropout(dropout)
        self.node_mlp = nn.Sequential(
            nn.Linear(features + hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, features),
        )  # fmt: skip

    def step(self, ops: GraphOps, x: Tensor, edges: Tensor) -> Tensor:
        """One step of S chains at once: states ``x`` (N, S, F), edge-type weights ``edges`` (E, K) →
        the next states (N, S, F)."""
        N, S, Fx = x.shape
        H, K = self.hidden, self.types
        W = self.message_in.weight  # inputs [x_j, x_i]: sender first
        at_receivers = F.linear(x, W[:, Fx:], self.message_in.bias).reshape(N, S * K * H)
        at_senders = F.linear(x, W[:, :Fx]).reshape(N, S * K * H)
        # in place: neither the sum nor the product below needs its own output for its gradient
        h = F.relu(ops.combine(at_receivers, at_senders), inplace=True)  # (E, S·K·H)
        E = h.shape[0]
        h = self.dropout(h).view(E * S, K, H).transpose(0, 1)  # (K, E·S, H), a view
        m = F.relu(torch.baddbmm(self.message_bias.unsqueeze(1), h, self.message_weight), inplace=True)
        weights = edges[:, self.first :].transpose(0, 1).unsqueeze(-1)  # (K, E, 1)
        messages = (m.view(K, E, S * H) * weights).sum(0)  # Σ_k z_k m_k: (E, S·H)
        aggregated = ops.sum_at_receivers(messages).view(N, S, H)
        return x + self.node_mlp(torch.cat([x, aggregated], dim=-1))

    def teacher_forced(self, ops: GraphOps, frames: Tensor, edges: Tensor, prediction_steps: int) -> Tensor:
        """Frames 1..T−1 (N, T−1, F) predicted from ``frames`` (N, T, F): the true frames 0, P, 2P, … each
        start a free run of P steps (P = ``prediction_steps``), all runs batched."""
        N, T, Fx = frames.shape
        P = prediction_steps
        x = frames[:, 0 : T - 1 : P]  # the starts whose run predicts a frame <= T − 1
        S = x.shape[1]
        predictions = []
        for m in range(1, P + 1):
            if T - 1 - m < 0:
                break
            active = min(S, (T - 1 - m) // P + 1)  # runs s with s·P + m <= T − 1 (a prefix: starts ascend)
            x = self.step(ops, x[:, :active], edges)
            predictions.append(F.pad(x, (0, 0, 0, S - active)))
        out = torch.stack(predictions, dim=2)  # (N, S, steps done, F): [:, s, m − 1] is frame s·P + m
        out = F.pad(out, (0, 0, 0, P - out.shape[2]))
        return out.reshape(N, S * P, Fx)[:, : T - 1]

    def rollout(self, ops: GraphOps, start: Tensor, edges: Tensor, steps: int) -> Tensor:
        """``steps`` frames (N, steps, F) after ``start`` (N, F), decoded freely."""
        x = start.unsqueeze(1)
        frames = []
        for _ in range(steps):
            x = self.step(ops, x, edges)
            frames.append(x)
        return torch.cat(frames, dim=1)


def full_precision(x: Tensor) -> Tensor:
    """``x`` in float32 if it is in a half precision (a forward under bf16 autocast), else as it is."""
    return x.float() if x.is_floating_point() and x.element_size() < 4 else x


def gaussian_nll(predicted: Tensor, target: Tensor, variance: float) -> Tensor:
    """NRI's reconstruction term: Σ (x̂ − x)² / (2σ²) over frames and features, per particle (÷ N)."""
    return ((predicted - target.to(predicted.dtype)) ** 2).sum() / (2.0 * variance) / predicted.shape[0]


def kl_to_uniform(logits: Tensor, num_nodes: int) -> Tensor:
    """KL(q ‖ uniform) summed over edges, Σ_k q_k log q_k + log K per edge, per particle (÷ N) as NRI's."""
    q = torch.softmax(logits, dim=-1)
    E, K = logits.shape
    return ((q * torch.log(q + 1e-16)).sum() + E * math.log(K)) / num_nodes


def one_hot(types: Tensor, edge_types: int, like: Tensor) -> Tensor:
    return F.one_hot(types, edge_types).to(like.dtype)


def check_history(batch: Batch, owner: str) -> Tensor:
    if batch.history is None:
        raise BenchError(f"{owner} needs batch.history (the observed frames, N × T × F): a relational task's batch")
    return batch.history


class NRI(Model):
    """NRI: encoder (MLP or CNN) → Gumbel-softmax edge types → MLP decoder, trained on the ELBO."""

    families = ("relational",)

    def __init__(
        self,
        spec: TaskSpec,
        hidden: int = 256,
        edge_types: int = 2,
        encoder: str = "mlp",
        tau: float = 0.5,
        prediction_steps: int = 10,
        variance: float = 5e-5,
        dropout: float = 0.0,
        skip_first: bool = False,
    ):
        super().__init__(spec)
        if prediction_steps < 1:
            raise BenchError(f"NRI: prediction_steps={prediction_steps}; valid: >= 1")
        self.edge_count, self.tau = edge_types, tau
        self.prediction_steps, self.variance = prediction_steps, variance
        self.encoder = make_encoder(encoder, spec, hidden, edge_types, dropout, "NRI")
        self.decoder = MLPDecoder(spec.target_dim, hidden, edge_types, dropout, skip_first)

    def edge_logits(self, batch: Batch) -> Tensor:
        """The encoder's logits (E, K) of every edge's type, from ``history[:, :window]``."""
        check_history(batch, "NRI")
        return self.encoder(batch)

    def _argmax_edges(self, logits: Tensor) -> Tensor:
        return one_hot(logits.argmax(-1), self.edge_count, logits)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        logits = self.edge_logits(batch)
        if self.training:
            edges = F.gumbel_softmax(logits, tau=self.tau, hard=False)
        else:
            edges = self._argmax_edges(logits)
        state = self.decoder.teacher_forced(batch.ops, batch.history, edges, self.prediction_steps)
        return {"state": state, "edge_logits": logits}

    def loss(self, outputs: dict[str, Tensor], targets: dict[str, Tensor], batch: Batch) -> Tensor:
        nll = gaussian_nll(full_precision(outputs["state"]), targets["state"], self.variance)
        return nll + kl_to_uniform(full_precision(outputs["edge_logits"]), batch.num_nodes)

    def edge_types(self, batch: Batch) -> Tensor:
        return torch.softmax(self.edge_logits(batch), dim=-1)

    def rollout(self, batch: Batch, steps: int) -> Tensor:
        """The ``steps`` frames after the last of ``batch.history``, with the argmax edge types."""
        edges = self._argmax_edges(self.edge_logits(batch))
        return self.decoder.rollout(batch.ops, batch.history[:, -1], edges, steps)


class NRISupervised(Model):
    """NRI's encoder trained alone with cross-entropy on the true edge types; no dynamics (``state`` is
    the previous frame, ``rollout`` repeats the last one)."""

    families = ("relational",)

    def __init__(
        self, spec: TaskSpec, hidden: int = 512, edge_types: int = 2, encoder: str = "mlp", dropout: float = 0.5
    ):
        super().__init__(spec)
        self.edge_count = edge_types
        self.encoder = make_encoder(encoder, spec, hidden, edge_types, dropout, "NRISupervised")

    def edge_logits(self, batch: Batch) -> Tensor:
        check_history(batch, "NRISupervised")
        return self.encoder(batch)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        history = check_history(batch, "NRISupervised")
        return {"state": history[:, :-1].clone(), "edge_logits": self.edge_logits(batch)}

    def loss(self, outputs: dict[str, Tensor], targets: dict[str, Tensor], batch: Batch) -> Tensor:
        return F.cross_entropy(full_precision(outputs["edge_logits"]), targets["edges"])

    def edge_types(self, batch: Batch) -> Tensor:
        return torch.softmax(self.edge_logits(batch), dim=-1)

    def rollout(self, batch: Batch, steps: int) -> Tensor:
        last = check_history(batch, "NRISupervised")[:, -1:]
        return last.expand(-1, steps, -1).clone()


class NRITrueGraph(Model):
    """NRI's decoder driven by the true edge types (``batch.edge_label``, an oracle): the upper bound of
    prediction given the graph. Its ``edge_types`` is the one-hot truth, not an inference."""

    families = ("relational",)
    oracle = ("edges",)
    """Asks the suite for the true edge types, ``batch.edge_label`` (E,) long, in the batch's edge order."""

    def __init__(
        self,
        spec: TaskSpec,
        hidden: int = 256,
        edge_types: int = 2,
        prediction_steps: int = 10,
        variance: float = 5e-5,
        dropout: float = 0.0,
        skip_first: bool = False,
    ):
        super().__init__(spec)
        if prediction_steps < 1:
            raise BenchError(f"NRITrueGraph: prediction_steps={prediction_steps}; valid: >= 1")
        self.edge_count, self.prediction_steps, self.variance = edge_types, prediction_steps, variance
        self.decoder = MLPDecoder(spec.target_dim, hidden, edge_types, dropout, skip_first)

    def _true_edges(self, batch: Batch) -> Tensor:
        labels = batch.edge_label
        if labels is None:
            raise BenchError("NRITrueGraph needs the true edge types batch.edge_label (E,), which the suite gives "
                             "only to a model class that declares oracle = ('edges',)")  # fmt: skip
        if labels.shape != (batch.num_edges,):
            raise BenchError(f"NRITrueGraph: batch.edge_label has shape {tuple(labels.shape)}; expected "
                             f"({batch.num_edges},), one type per edge")  # fmt: skip
        history = check_history(batch, "NRITrueGraph")
        return one_hot(labels.long(), self.edge_count, history)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        edges = self._true_edges(batch)
        return {"state": self.decoder.teacher_forced(batch.ops, batch.history, edges, self.prediction_steps)}

    def loss(self, outputs: dict[str, Tensor], targets: dict[str, Tensor], batch: Batch) -> Tensor:
        return gaussian_nll(full_precision(outputs["state"]), targets["state"], self.variance)

    def edge_types(self, batch: Batch) -> Tensor:
        return self._true_edges(batch)

    def rollout(self, batch: Batch, steps: int) -> Tensor:
        return self.decoder.rollout(batch.ops, batch.history[:, -1], self._true_edges(batch), steps)
