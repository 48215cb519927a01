"""The n-body family end to end at tiny scale through the CLI, and the per-family model settings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.cli import main
from bench.config import apply_family_settings, compose, model_card
from bench.errors import BenchError
from bench.records import REQUIRED_FIELDS
from bench.registry import model_names
from bench.tasks.nbody import Evaluator

NBODY_MODELS = [m for m in model_names() if "nbody" in model_card(m).families]


def _run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _tiny(tmp_path, data_root):
    return ["scale=tiny", f"out={tmp_path / 'runs'}", f"data_dir={data_root}", "progress=false"]


@pytest.mark.parametrize("model", NBODY_MODELS)
def test_run_every_model_on_nbody5(model, tmp_path, data_root, capsys):
    code, out, err = _run(capsys, "run", "task=nbody5", f"model={model}", *_tiny(tmp_path, data_root))
    assert code == 0, err
    path = out.strip().splitlines()[-1].removeprefix("result record: ")
    record = json.loads(open(path).read())
    assert set(REQUIRED_FIELDS) <= set(record)
    assert (record["task"], record["task_family"], record["model"], record["primary_metric"]) == (
        "nbody5", "nbody", model, "mse")  # fmt: skip
    m = record["metrics"]
    assert np.isfinite(m["mse"]) and m["rollout_mse_h1"] == pytest.approx(m["mse"], rel=1e-5)
    for k in range(1, 5):
        assert f"rollout_mse_h{k}" in m and 0 <= m[f"rollout_finite_h{k}"] <= 1
        assert m[f"true_energy_drift_h{k}"] >= 0 and f"energy_drift_h{k}" in m
    equivariance = record["analyses"]["equivariance"]  # reported by the run, not re-scored
    if model == "mpnn":
        assert equivariance["equivariance_error"] > 1e-2
    else:
        assert equivariance["equivariance_error"] <= 1e-5
    cost, timing = record["analyses"]["cost"], record["diagnostics"]  # timings: diagnostics, never ranked
    assert (cost["params_relative_to_egnn"] > 0) == (record["n_parameters"] > 0) and timing["time_relative_to_egnn"] > 0
    assert "time_relative_to_egnn" not in m and "equivariance_error" not in m
    if model == "egnn":
        assert cost["params_relative_to_egnn"] == 1.0 and record["config"]["model"]["train"]["loss"] == "mse"
    assert record["training"]["batch_size"] == 100  # the EGNN paper's batch for 5 bodies
    run_dir = path.rsplit("/", 1)[0]
    with np.load(f"{run_dir}/predictions.npz") as z:
        saved = {k: z[k] for k in z.files}
    assert sorted(saved) == record["predictions"]["arrays"] == ["position_pred", "rollout_pred"]
    assert saved["rollout_pred"].shape == (32, 4, 5, 3)
    # the saved predictions recompute every recorded metric with the official evaluator
    from bench.config import task_card
    from bench.leaderboard.submit import official_data

    card = task_card("nbody5")
    fam, data = official_data(card, "tiny", data_root)
    recomputed = Evaluator(card)({**saved, **fam.truth(card, data, tuple(saved))})
    assert recomputed == m


def test_hegnn_degree_from_the_command_line_on_rotated_test_set(tmp_path, data_root, capsys):
    code, out, err = _run(capsys, "run", "task=nbody5h", "model=hegnn", "model.hparams.max_degree=3",
                          *_tiny(tmp_path, data_root))  # fmt: skip
    assert code == 0, err
    record = json.loads(open(out.strip().splitlines()[-1].removeprefix("result record: ")).read())
    assert record["config"]["model"]["hparams"]["max_degree"] == 3
    analyses = record["analyses"]
    assert analyses["equivariance"]["equivariance_error"] <= 1e-5 and analyses["cost"]["params_relative_to_egnn"] > 1


def test_list_shows_the_family(capsys):
    code, out, _ = _run(capsys, "list")
    assert code == 0 and "nbody100" in out and "hegnn" in out
    # a force-law model cannot run an n-body task: the matrix says '-' and the rule is stated once
    # (`bench run` names the reason, below); "why not" keeps the reasons within a model's families
    matrix = out.split("compatibility")[1]
    row = next(line for line in matrix.splitlines() if line.strip().startswith("nbody5 "))
    assert "-" in row.split() and "x" in row.split()
    assert "a model runs only the task families it is built for" in out and "nbody5 × gnn" not in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "task=nbody5", "model=gnn"], "model 'gnn' is built for task families ['forces']"),
        (["run", "task=charge", "model=hegnn"], "model 'hegnn' is built for task families ['nbody']"),
        (["run", "task=nbody5", "task.dim=2"], "task.dim=2 is not supported by the n-body simulator; valid: 3"),
        (["run", "task=nbody5", "model=hegnn", "model.hparams.max_degre=2"], "did you mean 'model.hparams.max_degree'"),
        (["data", "task=nbody"], "unknown task 'nbody'; did you mean"),
    ],
)
def test_bad_input_exits_with_message(args, message, tmp_path, capsys):
    code, _, err = _run(capsys, *args, f"out={tmp_path}")
    assert code == 2 and message in err
    assert not list(tmp_path.rglob("result.json"))


def test_per_family_settings_merge_under_the_command_line():
    forces = compose(["model=egnn", "task=charge"]).model.train
    nbody = compose(["model=egnn", "task=nbody5"]).model.train
    assert (forces.loss, forces.lr, forces.grad_clip) == ("l1", 1e-3, 1.0)  # the force-law defaults, unchanged
    assert (nbody.loss, nbody.weight_decay, nbody.grad_clip) == ("mse", 1e-12, None)
    assert compose(["model=egnn", "task=nbody5", "model.train.loss=l1"]).model.train.loss == "l1"  # the user wins
    assert compose(["model=egnn", "task=nbody5", "model.per_family.nbody.train.lr=0.01"]).model.train.lr == 0.01


def test_per_family_settings_are_validated():
    from omegaconf import OmegaConf

    def with_block(block):
        cfg = compose(["model=egnn", "task=nbody5"])
        OmegaConf.set_struct(cfg, False)
        cfg.model.per_family = block
        return cfg

    with pytest.raises(
        BenchError, match=r"unknown key in model 'egnn' per_family.nbody.train 'lrr'; did you mean 'lr'"
    ):
        apply_family_settings(with_block({"nbody": {"train": {"lrr": 1.0}}}))
    with pytest.raises(BenchError, match=r"unknown family in model 'egnn' per_family 'nbdy'.*valid: forces, nbody"):
        apply_family_settings(with_block({"nbdy": {"train": {"lr": 1.0}}}))
    with pytest.raises(BenchError, match=r"unknown section .* 'optim'; valid: hparams, train"):
        apply_family_settings(with_block({"nbody": {"optim": {}}}))
