"""The CLI end to end at tiny scale: every system × every model, records, listings, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from bench.cli import main
from bench.config import model_card, task_card
from bench.records import REQUIRED_FIELDS
from bench.registry import model_names, task_names
from bench.tasks.forces import Evaluator

FORCE_TASKS = [t for t in task_names() if str(task_card(t).family) == "forces"]
FORCE_MODELS = [m for m in model_names() if "forces" in model_card(m).families]
"""The force-law family's tasks and models (the n-body family's CLI tests: tests/tasks/test_nbody_cli.py)."""


def _run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _tiny(tmp_path, data_root):
    """A tiny run; symbolic regression has its own tests (tests/tasks/test_forces_symbolic.py)."""
    return ["scale=tiny", f"out={tmp_path / 'runs'}", f"data_dir={data_root}", "progress=false", "sr=none"]


@pytest.mark.parametrize("model", FORCE_MODELS)
@pytest.mark.parametrize("task", FORCE_TASKS)
def test_run_every_system_and_model(task, model, tmp_path, data_root, capsys):
    code, out, err = _run(capsys, "run", f"task={task}", f"model={model}", *_tiny(tmp_path, data_root))
    assert code == 0, err
    path = out.strip().splitlines()[-1].removeprefix("result record: ")
    record = json.loads(open(path).read())
    assert set(REQUIRED_FIELDS) <= set(record)
    assert (record["task"], record["model"], record["scale"], record["backend"]) == (
        task,
        model,
        "tiny",
        "torch",
    )
    assert record["schema_version"] == 1 and record["primary_metric"] == "mae"
    assert np.isfinite(record["metrics"]["mae"]) and record["metrics"]["zero_mae"] > 0
    assert record["n_parameters"] > 1000 and record["train_time_s"] > 0
    assert record["data_checksum"].startswith("sha256:")
    assert record["environment"]["torch"] and record["config"]["task"]["system"] == task
    # the saved predictions recompute the recorded metrics with the official evaluator
    from bench.config import task_card
    from bench.tasks.data import generate_dataset

    pred = np.load(f"{path.rsplit('/', 1)[0]}/predictions.npz")["acceleration_pred"]
    true = generate_dataset(task_card(task), "tiny", root=data_root, progress=False).split("test")["acceleration"]
    recomputed = Evaluator(task)({"acceleration_pred": pred, "acceleration_true": true})
    assert recomputed == {k: record["metrics"][k] for k in recomputed}
    if "edge_messages" in record["capabilities"]:
        assert -1.0 <= record["metrics"]["force_r2_robust"] <= 1.0


@pytest.mark.parametrize("model", FORCE_MODELS)
def test_run_eight_particles_in_three_dimensions(model, tmp_path, data_root, capsys):
    code, out, err = _run(capsys, "run", "task=r2", "task.n_particles=8", "task.dim=3", f"model={model}",
                          *_tiny(tmp_path, data_root))  # fmt: skip
    assert code == 0, err
    record = json.loads(open(out.strip().splitlines()[-1].removeprefix("result record: ")).read())
    assert record["training"]["batch_size"] == 16  # the reference batch for 8 particles
    assert record["config"]["task"]["n_particles"] == 8 and np.isfinite(record["metrics"]["mae"])


@pytest.mark.parametrize("backend", ["auto", "torch", "pyg", "dgl"])
def test_run_on_every_backend_records_it(backend, tmp_path, data_root, capsys):
    from bench.backends import resolve

    code, out, err = _run(capsys, "run", "task=spring", "model=egnn", f"backend={backend}", *_tiny(tmp_path, data_root))
    assert code == 0, err
    record = json.loads(open(out.strip().splitlines()[-1].removeprefix("result record: ")).read())
    assert record["backend"] == resolve(backend) and record["backend"] != "auto"
    assert record["config"]["backend"]["name"] == backend


def test_sweep(tmp_path, data_root, capsys):
    code, out, _ = _run(capsys, "run", "-m", "task=spring", "model=gnn,egnn", "seed=0,1", *_tiny(tmp_path, data_root))
    assert code == 0
    assert "sweep finished: 4 succeeded, 0 failed" in out
    assert len(list((tmp_path / "runs").rglob("result.json"))) == 4


def test_list_shows_matrix(capsys):
    code, out, _ = _run(capsys, "list")
    assert code == 0
    assert "compatibility" in out and "charge" in out and "egnn" in out and "edge_messages" in out


def test_data_prints_path_and_checksum(data_root, capsys):
    code, out, _ = _run(capsys, "data", "task=spring", "scale=tiny", f"data_dir={data_root}", "progress=false")
    assert code == 0
    assert f"dataset: {data_root}/spring/v1/tiny" in out and "checksum: sha256:" in out
    assert "official: matches" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "task=chrage"], "unknown task 'chrage'; did you mean 'charge'?"),
        (["run", "task=spring", "model=gnm"], "unknown model 'gnm'; did you mean 'gnn'?"),
        (["run", "scale=big"], "unknown scale 'big'; valid: paper, quick, tiny"),
        (["run", "lr=1"], "unknown key 'lr'"),
        (
            ["run", "task=spring", "model=gnn", "model.families=[nbody]"],
            "cannot run task 'spring' with model 'gnn': model 'gnn' is built for task families ['nbody']",
        ),
        (["data", "task=sprin"], "unknown task 'sprin'; did you mean 'spring'?"),
        (["run", "task=spring", "precision=fp16"], "unknown precision 'fp16'; did you mean 'bf16'? valid: bf16, fp32"),
    ],
)
def test_bad_input_exits_nonzero_with_message(args, message, tmp_path, capsys):
    code, _, err = _run(capsys, *args, f"out={tmp_path}")
    assert code == 2
    assert message in err
    assert not list(tmp_path.rglob("result.json"))


def test_console_script_help_and_a_real_process(tmp_path, data_root):
    help_text = subprocess.run([sys.executable, "-m", "bench.cli", "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "run" in help_text.stdout and "list" in help_text.stdout
    run_help = subprocess.run(["bench", "run", "--help"], capture_output=True, text=True)
    assert "bench run -m task=spring,charge" in run_help.stdout
    bad = subprocess.run(["bench", "run", "task=chrage"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert bad.returncode == 2 and "did you mean 'charge'" in bad.stderr and "Traceback" not in bad.stderr
