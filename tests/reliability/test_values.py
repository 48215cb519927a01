"""Values in range: every numeric key is checked before any data is generated; divergence and a wrongly shaped
output stop training before anything is recorded ("Nothing lost, nothing forged").

=====================================================  ====================================================
input (``bench run``/``bench data``, tiny scale)        expected outcome
=====================================================  ====================================================
``scale.epochs=0``                                      exit 2, ``scale.epochs=0 is out of range; valid: an
                                                        integer >= 1``; no run folder, no dataset
``scale.patience=0``                                    exit 2, ``>= 1, or null for no early stopping``
``scale.max_steps_per_epoch=-1`` / ``=0``               exit 2, ``>= 1, or null for every batch ...``
``model.train.batch_size=-1`` / ``=0``                  exit 2, ``>= 1, or null for the task's reference batch``
``model.train.lr=0`` / ``=-1`` / ``=nan``               exit 2, ``a finite number > 0``
``model.train.weight_decay=-0.001``                     exit 2, ``a finite number >= 0``
``model.train.grad_clip=0``                             exit 2, ``a finite number > 0, or null for no clipping``
``threads=0``                                           exit 2, ``>= 1, or null for torch's default``
``model.hparams.message_dim=1`` (2-D task, gnn)        exit 2, ``... is below the system's dimension task.dim=2``
``seed=-1``, ``seed=2**40``                             exit 2, ``an integer >= 0 and < 4294967296``
``model.hparams.hidden=0`` (and ``layers``,             exit 2, ``an integer >= 1 ('hidden' is a size or a
``message_dim``, ``identity``, ``product``,             count), or null``
``constant``, ``eql_layers``, ``max_degree``)
``task.simulations.tiny=0``, ``task.data_seed=-1``,     exit 2, the key, the value and its range (forces
``task.n_steps=0``, ``task.record_every=0``,            card; ``bench run`` and ``bench data``)
``task.substeps=0``, ``task.record_every=1000``
n-body card: ``task.simulations.tiny=0``,               exit 2, the key, the value and its range
``task.data_seed=-1``, ``task.dt=0``,
``task.record_every=0``, ``task.target_frame=30``,
``task.rollout_frames=-1``
``sr.generations=0`` (and ``edges``, ``population_size``,  exit 2 from ``ForcesFamily.check_run``, before any
``max_length``, ``time_limit_s``; pysr ``niterations``,    data; no run folder, no dataset
``maxsize``)
a model whose loss is 1e12 from the first step          exit 2, ``training diverged: the validation loss 1e+12
                                                        after epoch 1``; no ``result.json`` (training spikes
                                                        the model recovers from are not a divergence)
a model fine in training, 1e12 in validation            exit 2, ``the validation loss 1e+12 after epoch 1``;
                                                        no ``result.json``
a model returning (N, 1) for (N, 2) accelerations       exit 2 before the first step: ``WrongShape.forward
                                                        returned 'acceleration' of shape (32, 1); expected
                                                        (32, 2)``; no checkpoint, no ``result.json``
edge values: epochs 1, patience 1, max_steps 1, batch   exit 0, a record with ``epochs_run`` 1
1, threads 1, seed 2**32-1, weight_decay 0, grad_clip
1e-3
=====================================================  ====================================================
"""

from __future__ import annotations

import json

import pytest

from bench.cli import main
from bench.config import is_size_hparam
from bench.family import Family

RANGE_CASES = [
    # (overrides, the message)
    (["scale.epochs=0"], "scale.epochs=0 is out of range; valid: an integer >= 1"),
    (["scale.patience=0"], "scale.patience=0 is out of range; valid: an integer >= 1, or null for no early stopping"),
    (["scale.max_steps_per_epoch=-1"],
     "scale.max_steps_per_epoch=-1 is out of range; valid: an integer >= 1, or null for every batch of the training "
     "split"),
    (["scale.max_steps_per_epoch=0"], "scale.max_steps_per_epoch=0 is out of range; valid: an integer >= 1"),
    (["model.train.batch_size=-1"],
     "model.train.batch_size=-1 is out of range; valid: an integer >= 1, or null for the task's reference batch"),
    (["model.train.batch_size=0"], "model.train.batch_size=0 is out of range; valid: an integer >= 1, or null"),
    (["model.train.lr=0"], "model.train.lr=0 is out of range; valid: a finite number > 0"),
    (["model.train.lr=-1"], "model.train.lr=-1 is out of range; valid: a finite number > 0"),
    (["model.train.lr=nan"], "model.train.lr=nan is out of range; valid: a finite number > 0"),
    (["model.train.weight_decay=-0.001"],
     "model.train.weight_decay=-0.001 is out of range; valid: a finite number >= 0"),
    (["model.train.grad_clip=0"],
     "model.train.grad_clip=0 is out of range; valid: a finite number > 0, or null for no clipping"),
    (["task.test_simulations=500"],
     "task.test_simulations=500 is out of range; valid: a mapping of scale to a simulation count or null"),
    (["model=gnn", "model.train.final_div_factor=0"],
     "model.train.final_div_factor=0 is out of range; valid: a finite number > 0, or null for torch's default, 1e4"),
    (["threads=0"], "threads=0 is out of range; valid: an integer >= 1, or null for torch's default"),
    (["seed=-1"], "seed=-1 is out of range; valid: an integer >= 0 and < 4294967296"),
    ([f"seed={2**40}"], f"seed={2**40} is out of range; valid: an integer >= 0 and < 4294967296"),
    (["model.hparams.hidden=0"],
     "model.hparams.hidden=0 is out of range; valid: an integer >= 1 ('hidden' is a size or a count), or null"),
    (["model.hparams.layers=-2"], "model.hparams.layers=-2 is out of range; valid: an integer >= 1"),
    (["model.hparams.message_dim=0"], "model.hparams.message_dim=0 is out of range; valid: an integer >= 1"),
    (["model=eql-gnn", "model.hparams.identity=0"], "model.hparams.identity=0 is out of range; valid: an integer >= 1"),
    (["model=eql-gnn", "model.hparams.product=0"], "model.hparams.product=0 is out of range; valid: an integer >= 1"),
    (["model=eql-gnn", "model.hparams.constant=0"], "model.hparams.constant=0 is out of range; valid: an integer >= 1"),
    (["model=eql-gnn", "model.hparams.eql_layers=0"],
     "model.hparams.eql_layers=0 is out of range; valid: an integer >= 1"),
    (["task=nbody5", "model=hegnn", "model.hparams.max_degree=0"],
     "model.hparams.max_degree=0 is out of range; valid: an integer >= 1"),
    # the force family's card (ForcesFamily.check_card)
    (["task.simulations.tiny=0"], "task.simulations.tiny=0 is out of range; valid: an integer >= 1"),
    (["task.data_seed=-1"], "task.data_seed=-1 is out of range; valid: an integer >= 0 and < 4294967296"),
    (["task.n_steps=0"], "task.n_steps=0 is out of range; valid: an integer >= 1"),
    (["task.record_every=0"], "task.record_every=0 is out of range; valid: an integer >= 1"),
    (["task.substeps=0"], "task.substeps=0 is out of range; valid: an integer >= 1"),
    (["task.record_every=1000"],
     "task.record_every=1000 is out of range; valid: an integer >= 1 and <= task.n_steps (500)"),
    # the n-body family's card (NBodyFamily.check_card)
    (["task=nbody5", "task.simulations.tiny=0"], "task.simulations.tiny=0 is out of range; valid: an integer >= 1"),
    (["task=nbody5", "task.data_seed=-1"], "task.data_seed=-1 is out of range; valid: an integer >= 0"),
    (["task=nbody5", "task.dt=0"], "task.dt=0 is out of range; valid: a finite number > 0"),
    (["task=nbody5", "task.record_every=0"], "task.record_every=0 is out of range; valid: an integer >= 1"),
    (["task=nbody5", "task.target_frame=30"],
     "task.target_frame=30 is out of range; valid: an integer >= 31 (after task.input_frame=30)"),
    (["task=nbody5", "task.rollout_frames=-1"], "task.rollout_frames=-1 is out of range; valid: an integer >= 0"),
]  # fmt: skip
CARD_CASES = [case for case in RANGE_CASES if case[0][-1].startswith("task.")]

SR_CASES = [
    (["sr.generations=0"], "sr.generations=0 is out of range; valid: an integer >= 1"),
    (["sr.population_size=0"], "sr.population_size=0 is out of range; valid: an integer >= 1"),
    (["sr.max_length=0"], "sr.max_length=0 is out of range; valid: an integer >= 1"),
    (["sr.edges=-5"], "sr.edges=-5 is out of range; valid: an integer >= 1"),
    (["sr.time_limit_s=0"], "sr.time_limit_s=0 is out of range; valid: a finite number > 0"),
    (["sr=pysr", "sr.niterations=0"], "sr.niterations=0 is out of range; valid: an integer >= 1"),
    (["sr=pysr", "sr.maxsize=0"], "sr.maxsize=0 is out of range; valid: an integer >= 1"),
]

MODELS = '''
import torch

import bench


class Exploding(bench.Model):
    """A loss of about 1e12 from the first step: finite, far above the task's bound."""

    families = ("forces",)

    def __init__(self, spec):
        super().__init__(spec)
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, batch):
        return batch.velocity * 0 + self.w * 1e12


class ExplodesInValidation(bench.Model):
    """Sane in training, 1e12 in evaluation mode: the validation loss crosses the bound."""

    families = ("forces",)

    def __init__(self, spec):
        super().__init__(spec)
        self.lin = torch.nn.Linear(spec.dim, spec.dim)

    def forward(self, batch):
        out = self.lin(batch.velocity)
        return out if self.training else out * 0 + 1e12


class WrongShape(bench.Model):
    """(N, 1) for the (N, d) accelerations: a broadcast loss would train on it."""

    families = ("forces",)

    def __init__(self, spec):
        super().__init__(spec)
        self.lin = torch.nn.Linear(spec.dim, 1)

    def forward(self, batch):
        return self.lin(batch.velocity)
'''


def _run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _paths(tmp_path, data_dir=None):
    return [f"out={tmp_path / 'runs'}", f"data_dir={data_dir or tmp_path / 'data'}", "progress=false"]


def _nothing_written(tmp_path):
    assert not (tmp_path / "runs").exists(), list((tmp_path / "runs").rglob("*"))
    assert not (tmp_path / "data").exists(), list((tmp_path / "data").rglob("*"))


@pytest.mark.parametrize("overrides, message", RANGE_CASES, ids=[" ".join(c[0]) for c in RANGE_CASES])
def test_a_value_out_of_range_is_refused_before_any_data(overrides, message, tmp_path, capsys):
    nbody = "task=nbody5" in overrides
    model = [] if any(o.startswith("model=") for o in overrides) else ["model=egnn" if nbody else "model=gnn"]
    options = [] if nbody else ["sr=none"]  # sr is an option of the force family only
    code, _, err = _run(capsys, "run", "scale=tiny", *options, *model, *overrides, *_paths(tmp_path))
    assert code == 2, err
    assert message in err
    assert "Traceback" not in err
    _nothing_written(tmp_path)


def test_messages_narrower_than_the_system_are_refused_before_any_data(tmp_path, capsys):
    """``message_dim=1`` on a 2-D task used to train and then crash in the force probe."""
    code, _, err = _run(capsys, "run", "task=spring", "model=gnn", "model.hparams.message_dim=1", "sr=none",
                        "scale=tiny", *_paths(tmp_path))  # fmt: skip
    assert code == 2 and "model.hparams.message_dim=1 is below the system's dimension task.dim=2" in err
    _nothing_written(tmp_path)


@pytest.mark.parametrize("overrides, message", CARD_CASES, ids=[" ".join(c[0]) for c in CARD_CASES])
def test_bench_data_refuses_a_card_value_out_of_range(overrides, message, tmp_path, capsys):
    code, _, err = _run(capsys, "data", "scale=tiny", *overrides, f"data_dir={tmp_path / 'data'}", "progress=false")
    assert code == 2 and message in err
    _nothing_written(tmp_path)


@pytest.mark.parametrize("overrides, message", SR_CASES, ids=[" ".join(c[0]) for c in SR_CASES])
def test_a_symbolic_regression_budget_out_of_range_is_refused_before_any_data(overrides, message, tmp_path, capsys):
    code, _, err = _run(capsys, "run", "task=spring", "model=gnn", "scale=tiny", *overrides, *_paths(tmp_path))
    assert code == 2, err
    assert message in err
    _nothing_written(tmp_path)


def test_threads_zero_is_refused_by_bench_data(tmp_path, capsys):
    code, _, err = _run(capsys, "data", "task=spring", "scale=tiny", "threads=0", f"data_dir={tmp_path / 'data'}")
    assert code == 2 and "threads=0 is out of range; valid: an integer >= 1, or null for torch's default" in err
    _nothing_written(tmp_path)


@pytest.mark.parametrize(
    "name, size",
    [("hidden", True), ("layers", True), ("message_dim", True), ("eql_layers", True), ("identity", True),
     ("product", True), ("constant", True), ("max_degree", True), ("n_heads", True), ("num_blocks", True),
     ("batch_size", True), ("seed", False), ("prune_at", False), ("warmup_steps", False), ("kl_weight", False)],
)  # fmt: skip
def test_which_hyper_parameters_are_sizes(name, size):
    assert is_size_hparam(name) is size


def test_the_default_loss_bound():
    assert Family().loss_bound(None, 3.0) == 3e6
    assert Family().loss_bound(None, 0.0) == 1e6  # targets near zero: the floor


def _model_file(tmp_path):
    path = tmp_path / "models.py"
    path.write_text(MODELS)
    return path


def _training_run(capsys, tmp_path, data_root, model, *extra):
    return _run(capsys, "run", "task=spring", f"model={model}", "scale=tiny", "sr=none", "scale.epochs=2",
                *extra, *_paths(tmp_path, data_root))  # fmt: skip


@pytest.mark.parametrize(
    "cls, message",
    [
        ("Exploding", "training diverged: the validation loss 9.882e+11 after epoch 1"),  # w moved from 1 a little
        ("ExplodesInValidation", "training diverged: the validation loss 1e+12 after epoch 1 (its last step: 20) is "
                                 "above the task's bound"),
    ],
)  # fmt: skip
def test_a_loss_above_the_tasks_bound_stops_training_and_records_nothing(cls, message, tmp_path, data_root, capsys):
    code, _, err = _training_run(capsys, tmp_path, data_root, f"{_model_file(tmp_path)}:{cls}")
    assert code == 2, err
    assert message in err and "model.train.lr=" in err
    assert "Traceback" not in err
    assert not list(tmp_path.rglob("result.json"))


def test_an_output_of_the_wrong_shape_stops_before_the_first_step(tmp_path, data_root, capsys):
    code, _, err = _training_run(capsys, tmp_path, data_root, f"{_model_file(tmp_path)}:WrongShape",
                                 "model.train.batch_size=8")  # fmt: skip
    assert code == 2, err
    assert "WrongShape.forward returned 'acceleration' of shape (32, 1); expected (32, 2)" in err
    assert "before the first training step" in err
    for name in ("result.json", "last.pt", "best.pt"):
        assert not list(tmp_path.rglob(name)), name


def test_valid_edge_values_still_run(tmp_path, data_root, capsys):
    code, out, err = _run(capsys, "run", "task=spring", "model=gnn", "scale=tiny", "sr=none", "scale.epochs=1",
                          "scale.patience=1", "scale.max_steps_per_epoch=1", "model.train.batch_size=1", "threads=1",
                          f"seed={2**32 - 1}", "model.train.weight_decay=0", "model.train.grad_clip=1e-3",
                          "model.hparams.hidden=8", "model.hparams.layers=1", "model.hparams.message_dim=2",
                          *_paths(tmp_path, data_root))  # fmt: skip
    assert code == 0, err
    (path,) = tmp_path.rglob("result.json")
    record = json.loads(path.read_text())
    assert record["training"]["epochs_run"] == 1 and record["training"]["batch_size"] == 1
    assert record["seed"] == 2**32 - 1
