r"""The simple baselines of relational inference (Kipf et al. 2018, NRI, Table 1 and 2), beside the NRI
models (``bench.baselines.nri``); the model contract they follow: ``bench.tasks.relational``.

- ``Static`` ("static"): every frame predicted as the one before it (copy the last frame), no graph
  inferred: the uniform posterior over the K edge types (chance). No parameters: not trained.
- ``Corr`` ("corr"): edges from the correlation of the two particles' trajectories, thresholded. The score
  of edge j → i is the Pearson correlation over the observed window (``history[:, :window]``) of the two
  particles' frame-to-frame increments :math:`x_{t+1} - x_t`, per feature, averaged over the features
  (springs and charged: the increments of positions and velocities, i.e. velocities and accelerations; a
  constant feature, Kuramoto's ω, adds 0). Increments, not raw positions: raw trajectories are
  non-stationary, and their correlation (NRI's "Corr. (path)": 52 % on springs) carries little about who
  pulls whom; a spring makes the two particles' accelerations anti-correlated. Its posterior over the
  K = 2 types is :math:`p(\text{type } 1) = \sigma(o\,(s - t) / \tau)` with the score
  :math:`s` = the signed correlation or its absolute value. Which of the two, the threshold :math:`t` and
  the orientation :math:`o = \pm 1` are fitted on the validation split's true edges (``calibrate``: the
  maximum edge accuracy), and kept in buffers (saved with the model); :math:`\tau` (``temperature``) only
  sets how sharp the posterior is (it changes neither the accuracy nor the AUROC). No dynamics model:
  it predicts by copying the last frame, as ``Static``.
- ``JointLSTM`` ("lstm"): NRI's joint LSTM baseline: the states of all n particles of a system
  concatenated into one vector per frame (n·F), ``Linear(n·F → hidden) → ReLU → LSTM(hidden, hidden) →
  Linear(hidden → n·F)``, predicting the change to the next frame (:math:`x_{t+1} = x_t + \Delta`). In
  training (``forward``) the true frame is fed every ``prediction_steps`` frames (10, as NRI) and the
  model's own prediction in between; ``rollout`` feeds every observed frame (burn-in), then runs freely.
  It infers no graph: the uniform posterior. NRI's version differs in its layers (a per-particle MLP to
  256, an LSTM over the n·256 concatenation, a two-layer output MLP) and its loss (a Gaussian NLL of
  variance 5e-5, proportional to the MSE); this one keeps the joint state and the teacher forcing, and
  trains on the family's default objective (the card's ``mse``). It needs the same n particles in every
  system, in a fixed order (its input is their concatenation).

Shapes: ``forward`` {"state": (N, T−1, F)} (the prediction of frames 1..T−1 of ``batch.history``),
``edge_types`` (E, K), ``rollout(batch, steps)`` (N, steps, F).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from bench.batch import Batch
from bench.errors import BenchError
from bench.model import Model, TaskSpec


def _history(batch: Batch, who: str) -> Tensor:
    if batch.history is None:
        raise BenchError(f"{who} reads the observed frames batch.history (N, T, F), and this batch has none "
                         "(a relational-inference batch: bench.tasks.relational)")  # fmt: skip
    return batch.history


def uniform_posterior(batch: Batch, edge_types: int) -> Tensor:
    """(E, K): every edge equally likely of each of the K types (a model that infers no graph: chance)."""
    return batch.position.new_full((batch.num_edges, edge_types), 1.0 / edge_types)


def copy_last(batch: Batch, steps: int) -> Tensor:
    """(N, steps, F): the last observed frame repeated (no motion)."""
    last = _history(batch, "copy_last")[:, -1:]
    return last.expand(-1, steps, -1).clone()


def _check_edge_types(edge_types: int) -> int:
    if isinstance(edge_types, bool) or not isinstance(edge_types, int) or edge_types < 1:
        raise BenchError(f"edge_types={edge_types!r}: expected a positive integer (the relational tasks have 2)")
    return edge_types


class Static(Model):
    """NRI's "static" baseline: each frame is the one before it; the uniform edge posterior (chance)."""

    families = ("relational",)

    def __init__(self, spec: TaskSpec, edge_types: int = 2):
        super().__init__(spec)
        self.num_edge_types = _check_edge_types(edge_types)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return {"state": _history(batch, type(self).__name__)[:, :-1].clone()}

    def edge_types(self, batch: Batch) -> Tensor:
        return uniform_posterior(batch, self.num_edge_types)

    def rollout(self, batch: Batch, steps: int) -> Tensor:
        return copy_last(batch, steps)


def increment_correlation(batch: Batch, window: int | None) -> Tensor:
    """(E,): for every edge j → i the Pearson correlation over time of the frame-to-frame increments of
    particles i and j in ``history[:, :window]``, per feature, averaged over the features (a feature
    constant over the window contributes 0)."""
    x = _history(batch, "corr")[:, :window]
    if x.shape[1] < 3:
        raise BenchError(f"corr needs at least 3 observed frames to correlate increments, got {x.shape[1]}")
    dx = x[:, 1:] - x[:, :-1]  # (N, T−1, F)
    dx = dx - dx.mean(1, keepdim=True)
    std = dx.square().mean(1, keepdim=True).sqrt()
    z = dx / std.clamp_min(1e-6)  # 0 where a feature does not move (dx is then 0 too)
    N, T, F = z.shape
    flat = z.reshape(N, T * F)  # the backends gather (N, k) tensors
    ops = batch.ops
    if ops is None:
        raise BenchError("corr: the batch is not bound to a backend (backend.bind(batch))")
    products = ops.receivers(flat) * ops.senders(flat)  # (E, T·F)
    return products.view(-1, T, F).mean(1).mean(-1)


def fit_threshold(score: Tensor, label: Tensor) -> tuple[float, float, float]:
    """The threshold t and orientation o (±1) of the classifier "type 1 iff o·(score − t) > 0" that is most
    accurate on (``score``, ``label``) (1-D, labels 0/1), and that accuracy. Thresholds lie halfway between
    consecutive distinct scores (or one below the least, one above the greatest); ties go to the lower
    threshold and to o = +1."""
    score, label = score.double().flatten(), label.flatten().long()
    m = score.numel()
    if m == 0:
        raise BenchError("corr: no validation edges to fit the threshold on")
    order = score.argsort()
    s, y = score[order], label[order]
    ones = torch.cat([y.new_zeros(1), y.cumsum(0)]).double()  # ones among the k least scores, k = 0..m
    zeros = torch.arange(m + 1, dtype=torch.float64) - ones
    total_ones = ones[-1]
    # split k: the k least scores on one side, the rest on the other; only between distinct scores
    valid = torch.ones(m + 1, dtype=torch.bool)
    valid[1:m] = s[1:] > s[:-1]
    up = zeros + (total_ones - ones)  # o = +1: the k least are type 0
    down = ones + ((m - total_ones) - zeros)  # o = −1: the k least are type 1
    best: tuple[float, int, float] = (-1.0, 0, 1.0)  # (edges right, split k, orientation)
    for o, right in ((1.0, up), (-1.0, down)):
        right = torch.where(valid, right, torch.full_like(right, -1.0))
        i = int(right.argmax())
        if float(right[i]) > best[0]:
            best = (float(right[i]), i, o)
    correct, k, orientation = best
    if k == 0:
        threshold = float(s[0]) - 1.0
    elif k == m:
        threshold = float(s[-1]) + 1.0
    else:
        threshold = 0.5 * float(s[k - 1] + s[k])
    return threshold, orientation, correct / m


class Corr(Model):
    """Edges from the correlation of the particles' increments, thresholded on the validation split (see the
    module's doc); predicts by copying the last frame."""

    families = ("relational",)
    threshold: Tensor
    orientation: Tensor
    absolute: Tensor
    val_accuracy: Tensor

    def __init__(self, spec: TaskSpec, edge_types: int = 2, temperature: float = 0.05):
        super().__init__(spec)
        if _check_edge_types(edge_types) != 2:
            raise BenchError(f"corr: edge_types={edge_types}: a threshold separates 2 types; valid: 2")
        if not temperature > 0:
            raise BenchError(f"corr: temperature={temperature!r}: expected a positive number")
        self.temperature = float(temperature)
        # fitted by calibrate (not trained): saved with the model
        self.register_buffer("threshold", torch.tensor(0.0, dtype=torch.float64))
        self.register_buffer("orientation", torch.tensor(1.0, dtype=torch.float64))
        self.register_buffer("absolute", torch.tensor(False))
        self.register_buffer("val_accuracy", torch.tensor(float("nan"), dtype=torch.float64))  # NaN: not fitted

    def scores(self, batch: Batch) -> Tensor:
        """(E,): the score of every edge, signed or absolute as fitted."""
        corr = increment_correlation(batch, self.spec.window)
        return torch.where(self.absolute, corr.abs(), corr)

    def edge_types(self, batch: Batch) -> Tensor:
        s = self.scores(batch)
        t, o = self.threshold.to(s.dtype), self.orientation.to(s.dtype)
        p1 = torch.sigmoid(o * (s - t) / self.temperature)
        return torch.stack([1.0 - p1, p1], dim=-1)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return {"state": _history(batch, "corr")[:, :-1].clone()}

    def rollout(self, batch: Batch, steps: int) -> Tensor:
        return copy_last(batch, steps)

    @torch.no_grad()
    def calibrate(self, data: Any, backend: Any, device: torch.device, batch_size: int = 512) -> None:
        """Fit the statistic (signed or absolute correlation), the threshold and the orientation to the
        validation split's true edges (``data.batch("val", index)``'s ``edges``): the most accurate."""
        n = data.num_samples("val")
        if n == 0:
            raise BenchError("corr: the validation split is empty; its threshold is fitted on it")
        corr, labels = [], []
        for start in range(0, n, batch_size):
            index = torch.arange(start, min(start + batch_size, n))
            batch, targets = data.batch("val", index)
            batch = backend.bind(batch.to(device))
            corr.append(increment_correlation(batch, self.spec.window).double().cpu())
            labels.append(targets["edges"].cpu())
        c, y = torch.cat(corr), torch.cat(labels)
        if not bool(((y == 0) | (y == 1)).all()):
            raise BenchError(f"corr: edge labels {sorted(set(y.tolist()))}; a threshold separates types 0 and 1")
        fits = [(fit_threshold(c.abs() if absolute else c, y), absolute) for absolute in (False, True)]
        (threshold, orientation, accuracy), absolute = max(fits, key=lambda f: f[0][2])  # the first on ties
        self.threshold.fill_(threshold)
        self.orientation.fill_(orientation)
        self.absolute.fill_(absolute)
        self.val_accuracy.fill_(accuracy)


class JointLSTM(Model):
    """NRI's joint LSTM baseline: one LSTM over the concatenated states of all particles (see the module's
    doc). Needs the same n particles in every system (``batch.nodes_per_graph``)."""

    families = ("relational",)

    def __init__(self, spec: TaskSpec, hidden: int = 256, layers: int = 1, prediction_steps: int = 10,
                 edge_types: int = 2):  # fmt: skip
        super().__init__(spec)
        if spec.n_particles is None:
            raise BenchError("lstm concatenates the states of a system's particles: it needs a task with a fixed "
                             "number of particles (task.n_particles)")  # fmt: skip
        if prediction_steps < 1:
            raise BenchError(f"lstm: prediction_steps={prediction_steps}: expected >= 1 (1: the true frame "
                             "fed at every step)")  # fmt: skip
        self.n, self.features = int(spec.n_particles), int(spec.target_dim)
        self.prediction_steps = int(prediction_steps)
        self.num_edge_types = _check_edge_types(edge_types)
        width = self.n * self.features
        self.encode = nn.Sequential(nn.Linear(width, hidden), nn.ReLU())
        if layers < 1:
            raise BenchError(f"lstm: layers={layers}: expected >= 1")
        # stacked cells, stepped one frame at a time (nn.LSTM called on one frame costs twice as much on the CPU)
        self.cells = nn.ModuleList(nn.LSTMCell(hidden, hidden) for _ in range(layers))
        self.decode = nn.Linear(hidden, width)

    def _systems(self, batch: Batch) -> Tensor:
        """(B, T, n·F): the observed frames of each system, particles concatenated."""
        history = _history(batch, "lstm")
        if batch.nodes_per_graph != self.n:
            raise BenchError(
                f"lstm concatenates the states of the {self.n} particles of a system (task.n_particles), and "
                f"this batch has {batch.nodes_per_graph or 'a varying number of'} particles per system"
            )
        N, T, F = history.shape
        B = N // self.n
        return history.view(B, self.n, T, F).transpose(1, 2).reshape(B, T, self.n * F)

    def _unsystems(self, x: Tensor) -> Tensor:
        """(B, T, n·F) → (B·n, T, F)."""
        B, T, _ = x.shape
        return x.view(B, T, self.n, self.features).transpose(1, 2).reshape(B * self.n, T, self.features)

    def _step(self, x: Tensor, state: list[tuple[Tensor, Tensor]] | None) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """One frame (B, n·F) → the next (B, n·F) and the LSTM's state ((h, c) per layer)."""
        h, new = self.encode(x), []
        for k, cell in enumerate(self.cells):
            h, c = cell(h, None if state is None else state[k])
            new.append((h, c))
        return x + self.decode(h), new

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        frames = self._systems(batch)
        state: list[tuple[Tensor, Tensor]] | None = None
        outputs: list[Tensor] = []
        for t in range(frames.shape[1] - 1):
            x = frames[:, t] if t % self.prediction_steps == 0 else outputs[-1]
            y, state = self._step(x, state)
            outputs.append(y)
        return {"state": self._unsystems(torch.stack(outputs, dim=1))}

    def rollout(self, batch: Batch, steps: int) -> Tensor:
        if steps < 1:
            raise BenchError(f"lstm: rollout of {steps} steps; expected >= 1")
        frames = self._systems(batch)
        x, state = self._step(frames[:, 0], None)  # burn-in: every observed frame; x: the prediction of the next
        for t in range(1, frames.shape[1]):
            x, state = self._step(frames[:, t], state)
        outputs = [x]
        for _ in range(steps - 1):
            x, state = self._step(x, state)
            outputs.append(x)
        return self._unsystems(torch.stack(outputs, dim=1))

    def edge_types(self, batch: Batch) -> Tensor:
        return uniform_posterior(batch, self.num_edge_types)
