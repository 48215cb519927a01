"""The NRI baselines (``bench.baselines.nri``: ``nri``, ``nri-cnn``, ``nri-supervised``, ``nri-true-graph``)
through the shared model checks (``model_checks.ModelTests``: shapes, capabilities, dense = index ops with
gradients, batching, save/load, float64), and the family's contract: a deterministic rollout of the right
shape, edge posteriors that read only the window, teacher forcing that feeds the truth every P-th frame,
encoders and decoder equal to NRI's formulas written per edge (the per-node shortcuts change nothing), the
ELBO's terms, a loss that falls, a supervised encoder that learns real edges."""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cache

import model_checks
import pytest
import torch
from model_checks import ModelConfig, ModelTests, bind, build, dense_batch, random_batch, random_dense, spec_of

from bench.backends import get_backend
from bench.baselines.nri import NRI, edge_to_node, gaussian_nll, kl_to_uniform
from bench.config import compose, model_card
from bench.errors import BenchError
from bench.family import get_family
from bench.registry import model_names
from bench.run import build_model
from bench.tasks.data import generate_dataset

NRI_MODELS = ("nri", "nri-cnn", "nri-supervised", "nri-true-graph")
SMALL = {"hidden": 16}


def test_the_family_has_its_baselines():
    assert set(NRI_MODELS) <= set(model_names())
    assert all("relational" in model_card(m).families for m in NRI_MODELS)


def label_edges(batch):
    """Stand-in true edge types for an oracle model on random systems: a function of the two endpoints'
    first feature at frame 0, so a system gets the same labels alone as in a batch."""
    h0 = batch.history[:, 0, 0]
    send, recv = batch.edge_index
    return (h0[send] > h0[recv]).long()


def with_labels(batch):
    return batch if batch.edge_label is not None else replace(batch, edge_label=label_edges(batch))


class TestRelationalModels(ModelTests):
    CONFIGS = [
        ModelConfig("nri", task="springs5", hparams=SMALL),
        ModelConfig("nri", task="charged5", hparams={"hidden": 8, "edge_types": 3, "skip_first": True}),
        ModelConfig("nri-cnn", task="kuramoto5", hparams=SMALL),
        ModelConfig("nri-supervised", task="springs5", hparams=SMALL),
        ModelConfig("nri-true-graph", task="springs5", hparams=SMALL),
    ]

    @pytest.fixture(scope="class", autouse=True)
    def _oracle_batches(self, model):
        """An oracle model (``Model.oracle``) gets ``batch.edge_label`` in the shared checks' batches."""
        if not type(model).oracle:
            yield
            return
        original = model_checks.dense_batch
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(model_checks, "dense_batch", lambda spec, dense: with_labels(original(spec, dense)))
            yield

    def test_rollout_has_its_shape_and_is_deterministic(self, model):
        batch = random_batch(model.spec, seed=5)
        with torch.no_grad():
            first, second = model.rollout(batch, 7), model.rollout(batch, 7)
        assert first.shape == (batch.num_nodes, 7, model.spec.target_dim)
        assert torch.isfinite(first).all()
        torch.testing.assert_close(first, second, rtol=0, atol=0)

    def test_edge_types_read_the_window_only(self, model):
        """Frames after the window (a test sample's frame 49) leave the posterior alone and move the rollout."""
        dense = random_dense(model.spec, seed=6)
        history = dense["history"]
        longer = torch.cat([history, history[:, :, -1:] + 0.3], dim=2)
        moved = longer.clone()
        moved[:, :, -1] -= 0.5
        batches = [bind(model_checks.dense_batch(model.spec, {**dense, "history": h})) for h in (longer, moved)]
        with torch.no_grad():
            types = [model.edge_types(b) for b in batches]
            rollouts = [model.rollout(b, 2) for b in batches]
        torch.testing.assert_close(types[0], types[1], rtol=0, atol=0)
        assert (rollouts[0] - rollouts[1]).abs().max() > 1e-3


def _model(name, task="springs5", **hparams):
    return build(ModelConfig(name, task=task, hparams={**SMALL, **hparams}))


def _springs_batch(seed=0, systems=3):
    spec = spec_of(ModelConfig("nri", task="springs5", hparams=SMALL))
    return bind(dense_batch(spec, random_dense(spec, systems, seed)))


@pytest.mark.parametrize("P", [1, 10])
def test_teacher_forcing_feeds_the_truth_every_p_frames(P):
    """Output t (frame t + 1) depends on the frames since the last fed one, P·⌊t/P⌋, only: perturbing frame k
    moves outputs k..(next start − 1) when k is fed, nothing when it is not."""
    model = _model("nri", prediction_steps=P)
    batch = _springs_batch(seed=1)
    frames = batch.history
    edges = torch.softmax(torch.randn(batch.num_edges, 2, dtype=torch.float64), -1)
    with torch.no_grad():
        base = model.decoder.teacher_forced(batch.ops, frames, edges, P)
        assert base.shape == (frames.shape[0], frames.shape[1] - 1, frames.shape[2])
        for k in (0, 5, 10, 20, 47):
            other = frames.clone()
            other[:, k] += 0.1
            changed = (model.decoder.teacher_forced(batch.ops, other, edges, P) - base).abs().amax(dim=(0, 2)) > 0
            expected = torch.zeros_like(changed)
            if k % P == 0:
                expected[k : min(k + P, frames.shape[1] - 1)] = True
            assert torch.equal(changed, expected), (P, k, changed.nonzero().flatten().tolist())


def test_teacher_forcing_chains_are_free_runs_from_the_fed_frames():
    """Frames s·P + 1 .. s·P + P of the teacher-forced output are a rollout from frame s·P."""
    model = _model("nri-true-graph")
    batch = with_labels(_springs_batch(seed=2))
    with torch.no_grad():
        state = model(batch)["state"]
        for start in (0, 10, 40):
            short = replace(batch, history=batch.history[:, : start + 1])
            short = get_backend("torch").bind(short)
            steps = min(10, batch.history.shape[1] - 1 - start)
            torch.testing.assert_close(model.rollout(short, steps), state[:, start : start + steps])


def test_eval_decodes_the_argmax_graph_and_training_soft_samples():
    model = _model("nri")
    batch = _springs_batch(seed=3)
    with torch.no_grad():
        out = model(batch)
        hard = torch.nn.functional.one_hot(out["edge_logits"].argmax(-1), 2).double()
        again = model.decoder.teacher_forced(batch.ops, batch.history, hard, model.prediction_steps)
        torch.testing.assert_close(out["state"], again, rtol=0, atol=0)
        rolled = model.decoder.rollout(batch.ops, batch.history[:, -1], hard, 3)
        torch.testing.assert_close(model.rollout(batch, 3), rolled, rtol=0, atol=0)
        model.train()
        try:
            torch.manual_seed(0)
            a = model(batch)["state"]
            torch.manual_seed(1)
            b = model(batch)["state"]
        finally:
            model.eval()
    assert (a - b).abs().max() > 0  # Gumbel noise: two samples differ


def _reference_encoder(encoder, batch):
    """NRI's encoders written the plain way, every concatenation materialised per edge ([sender, receiver],
    then the skip) and the modules called as they are: what the per-node shortcuts must reproduce."""
    send, recv = batch.edge_index
    n = float(batch.nodes_per_graph)

    def to_nodes(e):
        return torch.zeros(batch.num_nodes, e.shape[1], dtype=e.dtype).index_add(0, recv, e) / n

    window = batch.history[:, : encoder.window]
    if hasattr(encoder, "mlp4"):  # the MLP encoder
        x = encoder.mlp1(window.flatten(1))
        skip = encoder.mlp2(torch.cat([x[send], x[recv]], dim=1))
        x = encoder.mlp3(to_nodes(skip))
        return encoder.fc_out(encoder.mlp4(torch.cat([x[send], x[recv], skip], dim=1)))
    pairs = torch.cat([window[send], window[recv]], dim=2).transpose(1, 2)  # (E, 2F, W)
    h = torch.nn.functional.max_pool1d(encoder.bn1(torch.relu(encoder.conv1(pairs))), 2)
    h = encoder.bn2(torch.relu(encoder.conv2(h)))
    edge = (encoder.conv_predict(h) * torch.softmax(encoder.conv_attention(h), dim=2)).mean(2)
    skip = encoder.mlp1(edge)
    x = encoder.mlp2(to_nodes(skip))
    return encoder.fc_out(encoder.mlp3(torch.cat([x[send], x[recv], skip], dim=1)))


def _reference_step(decoder, batch, x, edges):
    """One decoder step per edge and per type, the plain way: Σ_k z_k f_k([x_j, x_i]) summed at i, then
    x_i + f_v([x_i, Σ])."""
    send, recv = batch.edge_index
    H = decoder.hidden
    pair = torch.cat([x[send], x[recv]], dim=1)
    message = 0
    for k in range(decoder.types):
        W1 = decoder.message_in.weight[k * H : (k + 1) * H]
        b1 = decoder.message_in.bias[k * H : (k + 1) * H]
        h = torch.relu(pair @ W1.T + b1)
        message = message + edges[:, decoder.first + k : decoder.first + k + 1] * torch.relu(
            h @ decoder.message_weight[k] + decoder.message_bias[k]
        )
    aggregated = torch.zeros(x.shape[0], H, dtype=x.dtype).index_add(0, recv, message)
    return x + decoder.node_mlp(torch.cat([x, aggregated], dim=1))


@pytest.mark.parametrize("name, task, hparams", [
    ("nri", "springs5", {}), ("nri-cnn", "kuramoto5", {}), ("nri", "charged5", {"edge_types": 3, "skip_first": True}),
])  # fmt: skip
def test_nri_computes_its_reference_formulas(name, task, hparams):
    model = _model(name, task, **hparams)
    with torch.no_grad():  # weights off their initial values (biases 0.1, unit batch norms) and running statistics
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    spec = model.spec
    batch = bind(dense_batch(spec, random_dense(spec, seed=8)))
    with torch.no_grad():
        torch.testing.assert_close(model.edge_logits(batch), _reference_encoder(model.encoder, batch))
        x = batch.history[:, 0]
        edges = torch.softmax(torch.randn(batch.num_edges, model.edge_count, dtype=torch.float64), -1)
        step = model.decoder.step(batch.ops, x.unsqueeze(1), edges)[:, 0]
        torch.testing.assert_close(step, _reference_step(model.decoder, batch, x, edges))


def test_the_elbo_terms():
    N, E = 10, 40
    target = torch.zeros(N, 48, 4, dtype=torch.float64)
    # NRI's likelihood: Σ (x̂ − x)² / (2σ²) per particle
    assert float(gaussian_nll(target + 0.01, target, 5e-5)) == pytest.approx(48 * 4 * 1e-4 / 1e-4)
    assert float(kl_to_uniform(torch.zeros(E, 2, dtype=torch.float64), N)) == pytest.approx(0.0, abs=1e-12)
    certain = torch.tensor([[30.0, 0.0]], dtype=torch.float64).repeat(E, 1)
    assert float(kl_to_uniform(certain, N)) == pytest.approx(E * math.log(2) / N, abs=1e-9)
    model = _model("nri")
    batch = _springs_batch(seed=4)
    out = model(batch)
    targets = {"state": batch.history[:, 1:]}
    expected = gaussian_nll(out["state"], targets["state"], 5e-5) + kl_to_uniform(out["edge_logits"], batch.num_nodes)
    torch.testing.assert_close(model.loss(out, targets, batch), expected)


def test_the_true_graph_decoder_needs_and_returns_the_oracle():
    model = _model("nri-true-graph")
    assert type(model).oracle == ("edges",)
    batch = _springs_batch(seed=5)
    with pytest.raises(BenchError, match="batch.edge_label"):
        model(batch)
    labelled = with_labels(batch)
    types = model.edge_types(labelled)
    assert torch.equal(types.argmax(-1), labelled.edge_label) and torch.equal(types.sum(-1), torch.ones(len(types)))
    flipped = replace(labelled, edge_label=1 - labelled.edge_label)
    with torch.no_grad():
        assert (model.rollout(labelled, 3) - model.rollout(flipped, 3)).abs().max() > 1e-6


def test_the_supervised_encoder_predicts_no_motion():
    model = _model("nri-supervised")
    batch = _springs_batch(seed=6)
    with torch.no_grad():
        out = model(batch)
        torch.testing.assert_close(out["state"], batch.history[:, :-1], rtol=0, atol=0)
        roll = model.rollout(batch, 4)
    torch.testing.assert_close(roll, batch.history[:, -1:].expand(-1, 4, -1), rtol=0, atol=0)


def test_edge_to_node_divides_by_the_graphs_own_node_count():
    """Without ``nodes_per_graph`` (index operations on a batch of unequal graphs) NRI counts the nodes of
    each graph: two graphs of 3 and 5 nodes batched together give what each gives alone."""
    model = _model("nri")
    spec = model.spec

    def loose(dense):
        batch = dense_batch(spec, dense)
        return replace(batch, nodes_per_graph=None)

    small, big = (random_dense(replace(spec, n_particles=n), 1, seed=n) for n in (3, 5))
    alone = [model.edge_types(bind(loose(d), dense=False)) for d in (small, big)]
    a, b = loose(small), loose(big)
    together = replace(
        a, history=torch.cat([a.history, b.history]), position=torch.cat([a.position, b.position]),
        velocity=torch.cat([a.velocity, b.velocity]), edge_index=torch.cat([a.edge_index, b.edge_index + 3], 1),
        graph=torch.cat([a.graph, b.graph + 1]), num_graphs=2, particle=torch.cat([a.particle, b.particle]),
    )  # fmt: skip
    with torch.no_grad():
        torch.testing.assert_close(model.edge_types(bind(together, dense=False)), torch.cat(alone))
        # the dense path (nodes_per_graph set) agrees with the counted one
        torch.testing.assert_close(model.edge_types(bind(dense_batch(spec, big))), alone[1])
        # and it is n, not the in-degree n − 1 (NRI's edge2node)
        ones = torch.ones(together.num_edges, 1, dtype=torch.float64)
        counted = edge_to_node(bind(together, dense=False), ones).flatten()
        torch.testing.assert_close(counted, torch.tensor([2 / 3] * 3 + [4 / 5] * 5, dtype=torch.float64))


def test_nri_refuses_what_it_cannot_build():
    spec = _model("nri").spec
    with pytest.raises(BenchError, match="unknown encoder 'rnn'"):
        NRI(spec, encoder="rnn")
    with pytest.raises(BenchError, match="window"):
        NRI(replace(spec, window=None))
    with pytest.raises(BenchError, match="too short"):
        NRI(replace(spec, window=10), encoder="cnn")


# -- learning on real data ------------------------------------------------------------------------------------


@cache
def _tiny(task, data_root):
    cfg = compose([f"task={task}", "scale=tiny"])
    fam = get_family("relational")
    return fam.load(generate_dataset(cfg.task, "tiny", root=data_root, progress=False), cfg.task)


def _trained(name, data, steps, lr, samples=None, seed=0, **hparams):
    cfg = compose([f"task={data.card.name}", f"model={name}"]
                  + [f"model.hparams.{k}={v}" for k, v in hparams.items()])  # fmt: skip
    torch.manual_seed(seed)
    model = build_model(cfg, get_family("relational").task_spec(cfg.task, str(cfg.scale.name)))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    batch, targets = data.batch("train", torch.arange(samples or data.num_samples("train")))
    batch = get_backend("torch").bind(batch)
    losses = []
    model.train()
    for _ in range(steps):
        loss = model.loss(model(batch), targets, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model.eval(), losses


def test_the_elbo_falls_in_a_few_steps(data_root):
    data = _tiny("springs5", data_root)
    _, losses = _trained("nri", data, steps=12, lr=1e-3, samples=32, hidden=16)
    assert sum(losses[-3:]) < 0.5 * sum(losses[:3]), losses


def test_the_supervised_encoder_learns_the_springs(data_root):
    """100 training trajectories, full-batch Adam: the validation edges well above chance (0.5)."""
    data = _tiny("springs5", data_root)
    model, losses = _trained("nri-supervised", data, steps=60, lr=3e-3, hidden=64, dropout=0.0)
    batch, targets = data.batch("val", torch.arange(data.num_samples("val")))
    with torch.no_grad():
        predicted = model.edge_types(get_backend("torch").bind(batch)).argmax(-1)
    accuracy = float((predicted == targets["edges"]).double().mean())
    assert losses[-1] < 0.2 * losses[0] and accuracy > 0.75, (accuracy, losses[0], losses[-1])
