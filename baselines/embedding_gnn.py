r"""The baselines of heterogeneous particles (Allier et al. 2024, "Decomposing heterogeneous dynamical
systems with graph neural networks"); the model contract they follow: ``bench.tasks.heterogeneous``.

One edge MLP, mean aggregation, no node update: the predicted velocity of particle i is

.. math::
    \hat{\dot x}_i = s\,\operatorname{mean}_{j \in \mathcal{N}(i)}
        \mathrm{MLP}\big(\Delta_{ij}/R,\ |\Delta_{ij}|/R,\ c_i\big),\qquad \Delta_{ij} = x_j - x_i
        \text{ (minimum image)},

with :math:`R` the task's radius, :math:`s` the output unit and :math:`c_i` what tells the receiver i apart.
The unit is :math:`s = \sigma_v \sqrt{\bar k}`: the training split's velocity std :math:`\sigma_v` (over every
particle, frame and component; the reference's ``ynorm``) times the square root of the mean number of
neighbours :math:`\bar k` (about 85 at the task's density), fitted by ``calibrate`` and saved with the weights.
The reference scales by :math:`\sigma_v` alone, in which one message is about :math:`\sqrt{\bar k}` ≈ 9 units
(a mean of about 85 of them is one); in the unit :math:`s` a message is of order one, the scale a freshly
initialised MLP outputs. The function class is the same (a constant factor on the last layer); this choice was
made for the CPU budget and not compared with the reference's unit here. The receiver codes:

- ``EmbeddingGNN`` ("embedding-gnn"): a learned embedding :math:`a_i \in \mathbb{R}^k` per particle (``k = 2``,
  initialised to 1), indexed by ``batch.particle``; exposes ``node_embeddings`` (the :math:`a_i`) and
  ``interaction``.
- ``SharedGNN`` ("shared-gnn"): nothing: one function for every particle (it cannot tell the types apart).
- ``OracleGNN`` ("oracle-gnn"): the true type as a one-hot vector (``batch.node_label``, an oracle input:
  an upper bound, never ranked as a rival).

``ZeroVelocity`` ("zero-velocity") is the trivial row beside them: no motion, ψ ≡ 0, no parameters.

MLP: ``(d + 1 + |c|) → hidden ×layers → d``, ReLU (the reference: 5 → 128 ×4 → 2). Augmentation in training:
one random rotation per batch (angle ~ 2π N(0, 1), the reference's draw) turns every :math:`\Delta_{ij}`, and the
prediction is turned back; the loss therefore compares the rotated prediction with the rotated target, as in
the reference (rotations keep the L2 norm). Drawn from torch's global generator (seeded by the run, saved in
its checkpoints).

``interaction(r, batch)`` (N, R): the learned ψ_i(r) = s · MLP((r/R, 0), r/R, c_i)[0], the x-component of the
velocity a neighbour at (r, 0) contributes to particle i: the true one is ψ(r) = r f(r) (the message
f(r) d_ij along d_ij = (r, 0)).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from bench.batch import Batch
from bench.errors import BenchError
from bench.model import Model, TaskSpec, mlp

INTERACTION_CHUNK = 2**18
"""Rows (particles × distances) the MLP evaluates at once in ``interaction``: bounds its memory."""


def rotation(angle: Tensor) -> Tensor:
    """The 2 × 2 rotation by ``angle`` (a scalar tensor)."""
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([c, -s]), torch.stack([s, c])])


class PairMLPNet(Model):
    """The shared body: the edge MLP on (Δ/R, |Δ|/R, receiver code), mean at receivers, velocity scale."""

    families = ("heterogeneous",)

    def __init__(self, spec: TaskSpec, code_dim: int, hidden: int = 128, layers: int = 4, augment: bool = True):
        super().__init__(spec)
        if spec.radius is None or not spec.radius > 0:
            raise BenchError(f"{type(self).__name__} needs the task's interaction radius (TaskSpec.radius), got "
                             f"{spec.radius}: it runs on radius-graph tasks (bench.tasks.heterogeneous)")  # fmt: skip
        if spec.dim != 2:
            raise BenchError(f"{type(self).__name__} is written for 2-D tasks (its rotations), got dim={spec.dim}")
        if hidden < 1 or layers < 1:
            raise BenchError(f"{type(self).__name__}: hidden={hidden} and layers={layers} must be >= 1")
        self.radius = float(spec.radius)
        self.augment = bool(augment)
        self.code_dim = int(code_dim)
        d = spec.dim
        self.edge = mlp([d + 1 + code_dim] + [hidden] * layers + [d])
        self.register_buffer("velocity_scale", torch.ones(()))

    has_field = False
    """Whether the model learns the hidden field (``EmbeddingGNNField``); the others ignore ``batch.field``."""

    # -- what tells receivers apart ---------------------------------------------------------------------
    def codes(self, batch: Batch) -> Tensor | None:
        """(N, code_dim) per node, or None (no code)."""
        return None

    def calibrate(self, data: Any, backend: Any, device: torch.device) -> None:
        """The output unit s = σ_v √k̄: the training split's velocity std times the square root of the mean number
        of neighbours in its first frame (see the module docstring)."""
        batch, _ = data.batch("train", torch.arange(1))
        degree = batch.num_edges / max(1, batch.num_nodes)
        self.velocity_scale.fill_(float(data.velocity_std()) * max(degree, 1.0) ** 0.5)

    # -- the function ----------------------------------------------------------------------------------
    def _first_layer(self, geometry: Tensor, codes: Tensor | None, at_receivers) -> Tensor:
        """The edge MLP's first linear layer on [geometry, code_i]: the code's part computed per node and taken
        to the edges by ``at_receivers`` ((N, h) → (E, h))."""
        first: nn.Linear = self.edge[0]  # type: ignore[assignment]
        g = geometry.shape[-1]
        out = nn.functional.linear(geometry, first.weight[:, :g], first.bias)
        if codes is not None:
            out = out + at_receivers(nn.functional.linear(codes, first.weight[:, g:]))
        return out

    def forward(self, batch: Batch) -> Tensor:
        return self._velocity(batch, self.codes(batch))

    def _velocity(self, batch: Batch, codes: Tensor | None) -> Tensor:
        """(N, d): the predicted velocities with the receivers' ``codes`` (N, code_dim) (or None)."""
        ops = batch.ops
        delta = -ops.relative_position(batch.position)  # x_j − x_i, minimum image
        turn = None
        if self.training and self.augment:
            turn = rotation(2 * torch.pi * torch.randn((), dtype=delta.dtype)).to(delta.device)
            delta = delta @ turn.T
        r = delta.norm(dim=-1, keepdim=True)
        geometry = torch.cat([delta, r], dim=-1) / self.radius
        hidden = self._first_layer(geometry, codes, ops.receivers)
        messages = self.edge[1:](hidden)
        out = ops.mean_at_receivers(messages)
        if batch.field is not None and self.has_field:
            out = out + self._field_term(batch, codes, turn)
        if turn is not None:
            out = out @ turn  # turned back: R^T applied to each row
        return out * self.velocity_scale

    def _field_term(self, batch: Batch, codes: Tensor | None, turn: Tensor | None) -> Tensor:
        """(N, d): the mean over each particle's field edges of MLP(δ/R, |δ|/R, c_i) · b_k(t) (``turn``: the
        batch's rotation, applied to δ as to the particles' displacements)."""
        field = batch.field
        node, receiver = field.edge_index
        delta = field.delta.to(batch.position.dtype)
        if turn is not None:
            delta = delta @ turn.T
        geometry = torch.cat([delta, delta.norm(dim=-1, keepdim=True)], dim=-1) / self.radius
        hidden = self._first_layer(geometry, codes, lambda per_node: per_node[receiver])
        values = self.field_at_nodes(batch)  # (B, M)
        messages = self.edge[1:](hidden) * values[batch.graph[receiver], node].unsqueeze(-1).to(hidden.dtype)
        total = messages.new_zeros(batch.num_nodes, messages.shape[-1]).index_add_(0, receiver, messages)
        count = torch.bincount(receiver, minlength=batch.num_nodes).clamp(min=1).to(total.dtype)
        return total / count.unsqueeze(-1)

    def field_at_nodes(self, batch: Batch) -> Tensor:
        """(B, M): the learned field at every field node at each graph's time."""
        raise NotImplementedError

    def interaction(self, r: Tensor, batch: Batch) -> Tensor:
        """(N, R): each particle's learned ψ at the distances ``r`` (R,) (see the module docstring)."""
        codes = self.codes(batch)
        N = batch.num_nodes
        rr = r.to(batch.position.dtype).reshape(-1, 1) / self.radius
        geometry = torch.cat([rr, torch.zeros_like(rr), rr], dim=-1)  # (R, 3)
        if codes is None:  # one function for everyone
            return self._profile(geometry, None).reshape(1, -1).expand(N, -1)
        rows = []
        per = max(1, INTERACTION_CHUNK // max(1, len(r)))
        for start in range(0, N, per):
            c = codes[start : start + per]
            rows.append(self._profile(geometry, c))
        return torch.cat(rows) if rows else geometry.new_zeros(0, len(r))

    def _profile(self, geometry: Tensor, codes: Tensor | None) -> Tensor:
        """(n, R) (or (1, R) without codes): s · MLP(geometry, code)[..., 0]."""
        if codes is None:
            x = geometry
        else:
            n, R = codes.shape[0], geometry.shape[0]
            x = torch.cat([geometry.expand(n, R, -1), codes[:, None, :].expand(n, R, -1)], dim=-1).reshape(n * R, -1)
        out = self.edge(x)[..., 0] * self.velocity_scale
        return out.reshape(-1, geometry.shape[0])


def merge_clusters(errors: Tensor, choice: Tensor, tolerance: float) -> tuple[Tensor, int]:
    """Greedy merging of ``cluster_embeddings``' step 3b: ``errors`` (K, N) the error of each particle under each
    candidate's code, ``choice`` (N,) each particle's candidate (its best: the argmin). While at least three
    candidates have particles, the cheapest move of one candidate's particles, all of them, to another candidate
    is made if it keeps their summed error within the factor 1 + ``tolerance`` of what their first choices gave
    (measured against the first choices, so merges do not compound). Two candidates are always left: the
    bootstrap replaces nothing with fewer. Returns the new choice and the number of merges."""
    base = errors.gather(0, choice[None])[0]  # (N,) each particle's error under its first choice
    choice = choice.clone()
    merged = 0
    while True:
        alive = torch.unique(choice).tolist()
        if len(alive) <= 2:
            return choice, merged
        best: tuple[float, int, int] | None = None
        for b in alive:
            members = choice == b
            own = base[members].sum().clamp(min=1e-30)
            for a in alive:
                if a != b:
                    rise = float(errors[a, members].sum() / own) - 1.0
                    if best is None or rise < best[0]:
                        best = (rise, a, b)
        if best is None or best[0] > tolerance:
            return choice, merged
        choice[choice == best[2]] = best[1]
        merged += 1


class EmbeddingGNN(PairMLPNet):
    """Allier et al.'s GNN: a learned embedding per particle (``batch.particle`` indexes the table), optionally
    at its own learning rate (``embedding_lr``; the card's 1e-2 against the MLP's 3e-3), with the reference's
    replacement of the embeddings by their clusters' medians (``cluster_every``; see ``cluster_embeddings``).

    Schedule: after every ``cluster_every``-th epoch that leaves at least one epoch to train (epochs 5, 10, 15
    of 20; epoch 5 of 8), ``cluster_embeddings`` replaces the table. The embeddings stay trainable between
    replacements; after the last one they are frozen (``embedding_frozen``, saved with the weights) and only
    the MLP trains, on codes that are identical within each cluster. A replacement whose clusters predict the
    training motion worse than the embeddings themselves is skipped (nor are the embeddings frozen then).
    The reference (decomp-gnn, ``sparsity: replace_embedding_function``, ``fix_cluster_embedding``) replaces
    after epochs 5, 10 and 15 of 20 and freezes the embeddings for one epoch after each; it also refits the
    MLP for 20 steps so that each particle's function matches its cluster's median function, which is not done
    here (the function at the median embedding of a tight cluster is its particles' function already)."""

    def __init__(
        self,
        spec: TaskSpec,
        hidden: int = 128,
        layers: int = 4,
        embedding_dim: int = 2,
        augment: bool = True,
        embedding_lr: float | None = None,
        cluster_every: int | None = None,
        cluster_threshold: float = 0.01,
        cluster_min_fraction: float = 0.01,
        cluster_frames: int = 20,
        cluster_merge: float | None = None,
    ):
        if not spec.num_identities:
            raise BenchError("EmbeddingGNN learns one embedding per particle and needs the task's particle "
                             f"identities (TaskSpec.num_identities), got {spec.num_identities}")  # fmt: skip
        if embedding_dim < 1:
            raise BenchError(f"EmbeddingGNN: embedding_dim={embedding_dim} must be >= 1")
        if embedding_lr is not None and not embedding_lr > 0:
            raise BenchError(f"EmbeddingGNN: embedding_lr={embedding_lr} must be > 0 (or null: the card's lr)")
        if cluster_every is not None and int(cluster_every) < 1:
            raise BenchError(f"EmbeddingGNN: cluster_every={cluster_every} must be >= 1 (or null: never)")
        if not cluster_threshold > 0 or not 0 <= cluster_min_fraction < 1 or int(cluster_frames) < 1:
            raise BenchError(f"EmbeddingGNN: cluster_threshold={cluster_threshold} must be > 0, cluster_min_fraction="
                             f"{cluster_min_fraction} in [0, 1) and cluster_frames={cluster_frames} >= 1")  # fmt: skip
        if cluster_merge is not None and not cluster_merge >= 0:
            raise BenchError(f"EmbeddingGNN: cluster_merge={cluster_merge} must be >= 0 (or null: never merge)")
        super().__init__(spec, code_dim=embedding_dim, hidden=hidden, layers=layers, augment=augment)
        self.embedding = nn.Parameter(torch.ones(int(spec.num_identities), embedding_dim))
        self.embedding_lr = embedding_lr
        self.cluster_every = None if cluster_every is None else int(cluster_every)
        self.cluster_threshold = float(cluster_threshold)
        self.cluster_min_fraction = float(cluster_min_fraction)
        self.cluster_frames = int(cluster_frames)
        self.cluster_merge = None if cluster_merge is None else float(cluster_merge)
        self.register_buffer("embedding_frozen", torch.zeros((), dtype=torch.bool))

    def param_groups(self) -> list[dict[str, Any]] | None:
        """The embeddings at their own learning rate (``embedding_lr``), the MLP at the card's."""
        if self.embedding_lr is None:
            return None
        mlp_params = [p for name, p in self.named_parameters() if name != "embedding"]
        return [{"params": mlp_params}, {"params": [self.embedding], "lr": float(self.embedding_lr)}]

    def codes(self, batch: Batch) -> Tensor:
        table = self.embedding.detach() if bool(self.embedding_frozen) else self.embedding
        return table[batch.particle]

    def node_embeddings(self, batch: Batch) -> Tensor:
        """(N, k): the learned a_i of the batch's particles."""
        return self.codes(batch)

    def on_epoch_end(self, epoch: int, epochs: int, data: Any, backend: Any, device: torch.device) -> None:
        """The replacement schedule of the class docstring."""
        every, done = self.cluster_every, epoch + 1
        if every is None or bool(self.embedding_frozen) or done % every or done >= epochs:
            return
        summary = self.cluster_embeddings(data, backend, device)
        if summary["replaced"] and done + every >= epochs:  # the last replacement: only the MLP trains from here
            self.embedding_frozen.fill_(True)

    @torch.no_grad()
    def cluster_embeddings(self, data: Any, backend: Any, device: torch.device) -> dict[str, Any]:
        """Replace every embedding by the median of its cluster's; returns what was done (for logs and tests).

        1. Clusters of the embeddings (all identities): min–max normalised, single linkage cut at
           ``cluster_threshold`` (the evaluator's ``cluster``; the reference clusters a UMAP of the functions,
           whose projection splits a type whose functions differ by 1e-4 and takes minutes, see the report).
        2. The clusters holding at least ``cluster_min_fraction`` of the particles are the candidates; with
           fewer than two nothing is replaced (the embeddings have not separated yet).
        3. Each particle takes the candidate median that best predicts its own velocities on
           ``cluster_frames`` training frames spread over the run (the squared error summed over them): a
           particle whose embedding strayed between clusters, or sits in a small cluster, joins the type its
           motion fits (a hard-EM step; the velocity of particle i depends on its own code only).
        3b. With ``cluster_merge`` = m (None: skipped), candidates that describe one type are merged: while some
           candidate b can hand all its particles to another candidate a with their summed error rising by at most
           the factor 1 + m, the cheapest such move is made (greedy). A type split over several clusters when
           the embeddings were still spread would otherwise stay split after the freeze, and the evaluator's
           clustering of the functions counts each extra part as misclassified (measured with the final model
           of a quick ``field-static`` run whose type 0 had been frozen over 5 codes: moving one part of a type
           to another part's code changed its error by −4 % to +133 %; to another type's code, by +1,357 % at
           least). Two candidates are always kept. Not in the cards: tried at m = 1.0 on that run's seed (quick,
           ``field-static``), the merged replacement after epoch 5 predicted the motion worse than the embeddings
           and was refused (step 4), so nothing was replaced or frozen (validation matched embedding accuracy
           0.658, against 0.760 after the unmerged replacement): the calibration, made with a trained model, does
           not carry over to epoch 5.
        4. The replacement is kept only if, over those frames and all particles, it predicts the velocities at
           least as well as the particles' own embeddings did: clusters that still merge two types (early in
           training) predict worse, and the embeddings are left to separate (measured: correct clusters cut
           the error to 0.2–0.3×, the two-type merge of a paper-scale run after one epoch raised it 1.06×).
           ``summary["replaced"]`` says which.
        """
        from bench.tasks.heterogeneous.evaluator import cluster, minmax

        table = self.embedding.detach()
        labels = cluster(minmax(table.cpu().numpy()), self.cluster_threshold)
        ids, counts = torch.unique(torch.from_numpy(labels), return_counts=True)
        need = max(2, int(self.cluster_min_fraction * table.shape[0] + 0.999999))
        major = [int(i) for i, c in zip(ids.tolist(), counts.tolist(), strict=True) if c >= need]
        summary: dict[str, Any] = {"clusters": int(ids.numel()), "candidates": len(major), "moved": 0,
                                   "replaced": False}  # fmt: skip
        if len(major) < 2:
            return summary
        member = torch.from_numpy(labels).to(table.device)
        medians = torch.stack([table[member == k].median(dim=0).values for k in major])  # (K, k)
        errors = table.new_zeros(len(major), table.shape[0])  # (K, identities)
        own = table.new_zeros(table.shape[0])  # with each particle's own embedding
        n = data.num_samples("train")
        frames = torch.linspace(0, n - 1, min(self.cluster_frames, n)).round().long().unique()
        was_training = self.training
        self.eval()
        try:
            for frame in frames.tolist():
                batch, targets = data.batch("train", torch.tensor([frame]))
                batch = backend.bind(batch.to(device))
                target = targets[self.spec.target].to(device).reshape(batch.num_nodes, -1)
                particle = batch.particle.to(errors.device)
                err = (self._velocity(batch, table[batch.particle].to(batch.position.dtype)) - target).square()
                own.index_add_(0, particle, err.sum(dim=-1).to(own.dtype))
                for k in range(len(major)):
                    codes = medians[k].expand(batch.num_nodes, -1).to(batch.position.dtype)
                    err = (self._velocity(batch, codes) - target).square().sum(dim=-1)
                    errors[k].index_add_(0, particle, err.to(errors.dtype))
        finally:
            self.train(was_training)
        choice = errors.argmin(dim=0)
        if self.cluster_merge is not None:
            choice, summary["merged"] = merge_clusters(errors, choice, self.cluster_merge)
        nearest = torch.tensor([major.index(int(l)) if int(l) in major else -1 for l in labels], device=choice.device)
        summary["moved"] = int((choice != nearest).sum())
        summary["sizes"] = torch.bincount(choice, minlength=len(major)).tolist()
        summary["error_ratio"] = float(errors.gather(0, choice[None]).sum() / own.sum().clamp(min=1e-30))
        if summary["error_ratio"] <= 1.0:
            self.embedding.copy_(medians[choice])
            summary["replaced"] = True
        return summary


FIELD_COORDINATES = ("physical", "box")
"""The SIREN's position input: ``physical`` (the default), the position as simulated (the reference's unit square
at paper scale, so a given wavelength meets the same input frequency at every scale); ``box`` (version 1), the
position over the box side, x/L ∈ [0, 1)²: at quick, where L ≈ 0.45, the field nodes then sit 1/45 apart in input
units instead of the paper scale's 1/100, so the sines of ω₀ = 80 turn 2.2× as fast per node spacing and the
learned field carries node-scale noise (see the heterogeneous report's "What limits the learned field")."""


class EmbeddingGNNField(EmbeddingGNN):
    """``embedding-gnn`` plus a model of the hidden field (Allier et al.'s ``PDE_ParticleField_A``): the field
    nodes' messages are the same edge MLP (the receiver's embedding, the displacement node − particle) times the
    learned value b_k(t), averaged over the nodes closer than the field radius and added to the particles' mean.

    The field is a SIREN (``bench.baselines.siren``; ``field_layers`` sine layers of ``field_hidden``, ω₀ =
    ``field_omega0``) of the position (``field_coordinates``: as simulated, or over the box side), and on a
    dynamic field also of the time in run units (t / duration ∈ [0, 1]; the reference's frame / n_frames),
    squared (b ≥ 0): 2 → ... → 1 on ``field-static``, 3 → ... → 1 on ``field-dynamic`` (from ``spec.field``).
    Exposes ``hidden_field``.

    The SIREN's output bias starts at √``field_init`` (b ≈ 1 everywhere: a uniform field, whose pushes nearly
    cancel): at the usual initialisation the output is near 0, where the square has no gradient and the field
    stays off for epochs. The reference starts there and trains its SIREN at lr 1e-5 for far more steps."""

    has_field = True

    def __init__(
        self,
        spec: TaskSpec,
        field_hidden: int = 128,
        field_layers: int = 6,
        field_omega0: float = 80.0,
        field_lr: float | None = None,
        field_init: float = 1.0,
        field_coordinates: str = "physical",
        **kwargs: Any,
    ):
        from bench.baselines.siren import Siren

        if spec.field is None or spec.box is None:
            raise BenchError(f"EmbeddingGNNField learns a hidden field and runs only on tasks that have one "
                             f"(spec.field is {spec.field}; the field tasks: field-static, field-dynamic)")  # fmt: skip
        if spec.field == "dynamic" and not spec.duration:
            raise BenchError(f"EmbeddingGNNField: a dynamic field needs the run's duration, got {spec.duration}")
        if field_lr is not None and not field_lr > 0:
            raise BenchError(f"EmbeddingGNNField: field_lr={field_lr} must be > 0 (or null: the card's lr)")
        if not field_init >= 0:
            raise BenchError(f"EmbeddingGNNField: field_init={field_init} must be >= 0")
        if field_coordinates not in FIELD_COORDINATES:
            raise BenchError(f"EmbeddingGNNField: field_coordinates={field_coordinates!r}; valid: "
                             f"{', '.join(FIELD_COORDINATES)}")  # fmt: skip
        super().__init__(spec, **kwargs)
        self.dynamic = spec.field == "dynamic"
        try:
            self.field = Siren(3 if self.dynamic else 2, field_hidden, field_layers, 1, field_omega0)
        except ValueError as e:
            raise BenchError(f"EmbeddingGNNField: {e}") from None
        with torch.no_grad():  # b = out² starts near field_init everywhere: a uniform field, away from out = 0
            self.field.out.bias.fill_(float(field_init) ** 0.5)
        self.field_lr = field_lr
        self.field_coordinates = field_coordinates
        self.field_length = 1.0 if field_coordinates == "physical" else float(spec.box)
        """The length that is one unit of the SIREN's position input."""

    def param_groups(self) -> list[dict[str, Any]] | None:
        """As ``EmbeddingGNN``'s, with the field network at ``field_lr`` (when given)."""
        groups = super().param_groups()
        if self.field_lr is None:
            return groups
        field = {id(p) for p in self.field.parameters()}
        if groups is None:
            groups = [{"params": [p for p in self.parameters() if id(p) not in field]}]
        else:
            groups[0]["params"] = [p for p in groups[0]["params"] if id(p) not in field]
        return groups + [{"params": list(self.field.parameters()), "lr": float(self.field_lr)}]

    def hidden_field(self, position: Tensor, time: Tensor) -> Tensor:
        """(M,): the learned field b at ``position`` (M, 2) (in the box) and ``time`` (M,)."""
        dtype = self.field.out.weight.dtype
        x = position.to(dtype) / self.field_length
        if self.dynamic:
            x = torch.cat([x, (time.to(dtype) / float(self.spec.duration)).reshape(-1, 1)], dim=-1)
        return self.field(x).reshape(-1).square()

    def field_at_nodes(self, batch: Batch) -> Tensor:
        nodes = batch.field.position
        M, B = nodes.shape[0], batch.num_graphs
        if not self.dynamic:
            return self.hidden_field(nodes, nodes.new_zeros(M)).unsqueeze(0).expand(B, M)
        times = batch.time.new_zeros(B).index_put_((batch.graph,), batch.time)  # every node of a graph: its time
        values = self.hidden_field(nodes.repeat(B, 1), times.repeat_interleave(M))
        return values.reshape(B, M)


class SharedGNN(PairMLPNet):
    """The same network without any per-particle input: one interaction function for every particle."""

    def __init__(self, spec: TaskSpec, hidden: int = 128, layers: int = 4, augment: bool = True):
        super().__init__(spec, code_dim=0, hidden=hidden, layers=layers, augment=augment)


class OracleGNN(PairMLPNet):
    """The true type of each receiver as a one-hot input (``batch.node_label``): the ceiling."""

    oracle = ("types",)

    def __init__(self, spec: TaskSpec, hidden: int = 128, layers: int = 4, augment: bool = True):
        if not spec.num_types:
            raise BenchError(f"OracleGNN needs the task's number of types (TaskSpec.num_types), got {spec.num_types}")
        super().__init__(spec, code_dim=int(spec.num_types), hidden=hidden, layers=layers, augment=augment)

    def codes(self, batch: Batch) -> Tensor:
        if batch.node_label is None:
            raise BenchError("OracleGNN reads the true types (batch.node_label), which this batch lacks: it runs "
                             "only where the family offers the oracle input 'types'")  # fmt: skip
        return nn.functional.one_hot(batch.node_label.long(), int(self.spec.num_types)).to(batch.position.dtype)


class ZeroVelocity(Model):
    """The trivial baseline: every velocity 0 (nobody moves), every interaction function 0 (one cluster)."""

    families = ("heterogeneous",)

    def __init__(self, spec: TaskSpec):
        super().__init__(spec)

    def forward(self, batch: Batch) -> Tensor:
        return torch.zeros_like(batch.position)

    def interaction(self, r: Tensor, batch: Batch) -> Tensor:
        return batch.position.new_zeros(batch.num_nodes, len(r))
