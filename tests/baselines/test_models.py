"""Every registered force-law model through the shared model checks (``model_checks.ModelTests``: shapes,
every claimed capability against its signature, dense = index ops with gradients, batching, save/load,
float64); EGNN equivariance; the capability check itself can fail.

Parametrized over the registry, so a model added to ``baselines/conf/model/`` is tested without
anyone adding it here.
"""

from __future__ import annotations

import pytest
import sympy
import torch
from model_checks import (
    ModelConfig,
    ModelTests,
    bind,
    build,
    check_capabilities,
    check_outputs,
    random_batch,
    spec_of,
)

from bench.batch import from_dense
from bench.config import compose, model_card
from bench.model import Model
from bench.registry import model_names
from bench.run import build_model
from bench.tasks.forces import task_spec

MODELS = [m for m in model_names() if "forces" in model_card(m).families]
"""The models of the force-law family (the n-body models: tests/baselines/test_nbody_models.py)."""

FAST = {"eql-gnn": {"identity": 2, "product": 1, "constant": 1}}
"""Narrower layers for models whose checks would be slow at the card's widths: SymPy takes 15-35 s to
read eql-gnn's equation off the card's two EQL layers of 16 + 8 + 8 units, about 1 s off two of 2 + 1 + 1
(the card's depth and inputs are kept; the card itself: tests/backends/test_parity.py)."""


class TestForceModels(ModelTests):
    CONFIGS = [
        ModelConfig(name, task="charge", n=n, d=d, hparams=FAST.get(name, {}))
        for name in MODELS
        for n, d in [(4, 2), (8, 3)]
    ]


def _model(name, n=4, d=2, **hparams):
    return build(ModelConfig(name, task="charge", n=n, d=d, hparams=hparams))


def _random_dense(B, n, d, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    pos = torch.randn(B, n, d, generator=g, dtype=dtype)
    vel = torch.randn(B, n, d, generator=g, dtype=dtype)
    attrs = {"charge": torch.randint(0, 2, (B, n), generator=g).to(dtype) * 2 - 1,
             "mass": torch.randn(B, n, generator=g, dtype=dtype).exp()}  # fmt: skip
    return pos, vel, attrs


def _random_orthogonal(d, seed):
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) > 0:  # make it a rotation combined with a reflection
        q[:, 0] = -q[:, 0]
    return q


@pytest.mark.parametrize("d", [2, 3])
def test_egnn_is_equivariant_to_rotation_reflection_translation(d):
    model = _model("egnn", 4, d)
    pos, vel, attrs = _random_dense(4, 4, d, seed=3)
    Q = _random_orthogonal(d, seed=d)
    assert torch.det(Q) < 0
    shift = torch.randn(1, 1, d, dtype=torch.float64) * 5
    out = model(bind(from_dense(pos, vel, attrs)))
    batch_t = bind(from_dense(pos @ Q.T + shift, vel @ Q.T, attrs))
    out_t = model(batch_t)
    torch.testing.assert_close(out_t, out @ Q.T, rtol=0, atol=1e-10)
    msg = model.edge_messages(bind(from_dense(pos, vel, attrs)))
    torch.testing.assert_close(model.edge_messages(batch_t), msg @ Q.T, rtol=0, atol=1e-10)


def test_gnn_is_not_rotation_equivariant():
    """The equivariance check can fail: the plain GNN sees raw coordinates."""
    model = _model("gnn", 4, 2)
    pos, vel, attrs = _random_dense(4, 4, 2, seed=3)
    Q = _random_orthogonal(2, seed=2)
    out = model(bind(from_dense(pos, vel, attrs)))
    out_t = model(bind(from_dense(pos @ Q.T, vel @ Q.T, attrs)))
    assert (out_t - out @ Q.T).abs().max() > 1e-4


def test_unknown_hyperparameter_is_named():
    from omegaconf import OmegaConf

    from bench.errors import BenchError

    cfg = compose(["model=gnn"])
    OmegaConf.set_struct(cfg, False)
    cfg.model.hparams.hiddn = 3
    with pytest.raises(BenchError, match="hiddn"):
        build_model(cfg, task_spec(cfg.task))


# -- the shared capability check can fail -------------------------------------------------------------------

SPEC = spec_of(ModelConfig("gnn", task="charge", n=4, d=2))
N, E = 3 * 4, 3 * 4 * 3  # the nodes and edges of random_batch: 3 systems of 4 fully connected particles


class Toy(Model):
    families = ("forces",)

    def forward(self, batch):
        return batch.position.clone()


def toy(**capabilities) -> Model:
    """A model claiming ``capabilities`` (name → method), built for the charge task in 2-D."""
    return type("ToyModel", (Toy,), capabilities)(SPEC).double()


CORRECT = {
    "edge_messages": lambda self, b: b.position.new_ones(b.num_edges, 5),
    "node_embeddings": lambda self, b: b.position.new_ones(b.num_nodes, 3),
    "interaction": lambda self, r, b: b.position.new_ones(b.num_nodes, 1) / r,
    "hidden_field": lambda self, position, time: position.square().sum(-1) * time,
    "edge_types": lambda self, b: torch.randn(b.num_edges, 4, dtype=b.position.dtype).softmax(-1),
    "equation": lambda self: [sympy.Symbol("rp") ** -2, sympy.Symbol("dx") * 0.5],
}


def test_check_capabilities_passes_every_capability_of_the_right_shape():
    model = toy(**CORRECT)
    assert set(type(model).capabilities()) == set(CORRECT)
    values = check_capabilities(model, random_batch(SPEC))
    assert values.keys() == CORRECT.keys()
    assert values["edge_messages"].shape == (E, 5) and values["interaction"].shape == (N, 11)


WRONG = {
    "edge_messages (E,)": ({"edge_messages": lambda self, b: b.position.new_ones(b.num_edges)},
                           rf"edge_messages: expected \(E, k\) = \({E}, k\), got \({E},\)"),
    "edge_messages (N, k)": ({"edge_messages": lambda self, b: b.position.new_ones(b.num_nodes, 5)},
                             rf"edge_messages: expected \(E, k\) = \({E}, k\), got \({N}, 5\)"),
    "edge_messages (E, 0)": ({"edge_messages": lambda self, b: b.position.new_ones(b.num_edges, 0)},
                             rf"edge_messages: expected \(E, k\) = \({E}, k\) with a non-empty last dimension, "
                             rf"got \({E}, 0\)"),
    "edge_messages not finite": ({"edge_messages": lambda self, b: b.position.new_full((b.num_edges, 2), torch.nan)},
                                 rf"edge_messages: expected \(E, k\) = \({E}, k\), finite, got {2 * E} non-finite"),
    "edge_messages float32": ({"edge_messages": lambda self, b: torch.ones(b.num_edges, 2)},
                              r"edge_messages: expected .* in torch.float64 .*, got torch.float32"),
    "edge_messages not a tensor": ({"edge_messages": lambda self, b: [1.0] * b.num_edges},
                                   r"edge_messages: expected a tensor \(E, k\) = .*, got list"),
    "node_embeddings (E, k)": ({"node_embeddings": lambda self, b: b.position.new_ones(b.num_edges, 3)},
                               rf"node_embeddings: expected \(N, k\) = \({N}, k\), got \({E}, 3\)"),
    "interaction (R, N)": ({"interaction": lambda self, r, b: b.position.new_ones(len(r), b.num_nodes)},
                           rf"interaction: expected \(N, R\) = \({N}, 11\), got \(11, {N}\)"),
    "hidden_field (M, 1)": ({"hidden_field": lambda self, position, time: position[:, :1]},
                            r"hidden_field: expected \(M,\) = \(7,\), got \(7, 1\)"),
    "edge_types rows do not sum to 1": ({"edge_types": lambda self, b: b.position.new_full((b.num_edges, 3), 0.5)},
                                        r"edge_types: expected \(E, K\) rows that sum to 1, got a row sum off by 0.5"),
    "edge_types negative": ({"edge_types": lambda self, b: b.position.new_tensor([[1.5, -0.5]]).repeat(b.num_edges, 1)},
                            r"edge_types: expected \(E, K\) rows of non-negative probabilities, got a minimum of -0.5"),
    "edge_types (N, K)": ({"edge_types": lambda self, b: b.position.new_ones(b.num_nodes, 1)},
                          rf"edge_types: expected \(E, K\) = \({E}, K\), got \({N}, 1\)"),
    "equation empty": ({"equation": lambda self: []}, r"equation: expected a non-empty list .*, got an empty list"),
    "equation a string": ({"equation": lambda self: "rp**-2"}, r"equation: expected a list .*, got str"),
    "equation of floats": ({"equation": lambda self: [1.0]}, r"equation: expected a list of SymPy .*, got .*float"),
}  # fmt: skip


@pytest.mark.parametrize("wrong", WRONG, ids=list(WRONG))
def test_check_capabilities_names_the_capability_and_the_shapes(wrong):
    methods, message = WRONG[wrong]
    model = toy(**{**CORRECT, **methods})  # every other capability right: only the wrong one fails
    with pytest.raises(AssertionError, match=message):
        check_capabilities(model, random_batch(SPEC))


WRONG_OUTPUTS = {
    "no target": (lambda self, b: {"force": b.position.clone()},
                  r"forward: the outputs \['force'\] lack the task's target 'acceleration'"),
    "(N, 1)": (lambda self, b: b.position[:, :1],
               rf"forward: 'acceleration' expected \(N, target_dim\) = \({N}, 2\), got \({N}, 1\)"),
    "float32": (lambda self, b: b.position.float(),
                r"forward: 'acceleration' expected torch.float64 .*, got torch.float32"),
    "not finite": (lambda self, b: b.position / 0, r"forward: 'acceleration' has \d+ non-finite entries"),
    "a list": (lambda self, b: [b.position], r"forward: .*forward returned list"),
}  # fmt: skip


@pytest.mark.parametrize("wrong", WRONG_OUTPUTS, ids=list(WRONG_OUTPUTS))
def test_check_outputs_names_the_target_and_the_shapes(wrong):
    forward, message = WRONG_OUTPUTS[wrong]
    model, batch = toy(forward=forward), random_batch(SPEC)
    check_outputs(toy(), toy()(batch), batch)  # the right model passes
    with pytest.raises(AssertionError, match=message):
        check_outputs(model, model(batch), batch)
