"""The CLI end to end at tiny scale: every model once and every system once, records, listings, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from bench.cli import main
from bench.config import model_card, task_card
from bench.family import get_family
from bench.records import REQUIRED_FIELDS
from bench.registry import model_names

FORCE_TASKS = list(get_family("forces").tasks())
FORCE_MODELS = [m for m in model_names() if "forces" in model_card(m).families]
"""The force-law family's tasks and models (the n-body family's CLI tests: tests/tasks/test_nbody_cli.py)."""
PAIRS = [(FORCE_TASKS[k % len(FORCE_TASKS)], FORCE_MODELS[k % len(FORCE_MODELS)])
         for k in range(max(len(FORCE_TASKS), len(FORCE_MODELS)))]  # fmt: skip
"""Every model trained once and every system run once (not the whole task × model matrix: the model tests
check every model's shapes on every size, and the simulator tests every system)."""
SMALLER = {"eql-gnn": {"identity": 2, "product": 1, "constant": 1}}
"""Narrower EQL layers (same depth and inputs): reading the card's equation off 16 + 8 + 8 units takes
SymPy half a minute; the card's own widths are built in the parity tests."""


def _run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _tiny(tmp_path, data_root):
    """A tiny run; symbolic regression has its own tests (tests/tasks/test_forces_symbolic.py)."""
    return ["scale=tiny", f"out={tmp_path / 'runs'}", f"data_dir={data_root}", "progress=false", "sr=none"]


def test_every_model_and_every_system_is_run():
    assert {t for t, _ in PAIRS} == set(FORCE_TASKS) and {m for _, m in PAIRS} == set(FORCE_MODELS)


@pytest.mark.parametrize("task,model", PAIRS)
def test_run_each_system_and_model(task, model, tmp_path, data_root, capsys):
    smaller = [f"model.hparams.{k}={v}" for k, v in SMALLER.get(model, {}).items()]
    code, out, err = _run(capsys, "run", f"task={task}", f"model={model}", *smaller, *_tiny(tmp_path, data_root))
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
    assert record["schema_version"] == 2 and record["primary_metric"] == "mae"
    assert record["metric_table"]["mae"]["direction"] == "lower"
    assert np.isfinite(record["metrics"]["mae"]) and record["metrics"]["zero_mae"] > 0
    assert record["n_parameters"] > 1000 and record["train_time_s"] > 0
    assert record["data_checksum"].startswith("sha256:")
    assert record["environment"]["torch"] and record["config"]["task"]["system"] == task
    # the saved predictions recompute every recorded metric with the official evaluator
    from bench.leaderboard.submit import official_data

    card = task_card(task)
    fam, data = official_data(card, "tiny", data_root)
    with np.load(f"{path.rsplit('/', 1)[0]}/predictions.npz") as z:
        saved = {k: z[k] for k in z.files}
    assert sorted(saved) == record["predictions"]["arrays"]
    recomputed = fam.evaluator(card)({**saved, **fam.truth(card, data, tuple(saved))})
    assert recomputed == record["metrics"]
    if "edge_messages" in record["capabilities"]:
        assert -1.0 <= record["metrics"]["force_r2_robust"] <= 1.0


@pytest.mark.parametrize("model", ["gnn", "egnn"])
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
    assert "sweep finished: 4 done, 0 failed" in out
    assert len(list((tmp_path / "runs").rglob("result.json"))) == 4


BROKEN_MODELS = """\
import torch

import bench


class Crashes(bench.Model):
    families = ("forces",)

    def __init__(self, spec):
        super().__init__(spec)
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, batch):
        raise RuntimeError("the forward pass of this model is broken")


class BadInit(bench.Model):
    families = ("forces",)

    def __init__(self, spec):
        super().__init__(spec)
        self.w = torch.nn.Linear(2, spec.dim * undefined_width)
"""


def test_a_sweep_goes_past_a_failing_job_and_ends_with_a_table(tmp_path, data_root, capsys):
    models = tmp_path / "broken.py"
    models.write_text(BROKEN_MODELS)
    code, out, err = _run(capsys, "run", "-m", "task=spring", f"model=gnn,{models}:Crashes,{models}:BadInit",
                          *_tiny(tmp_path, data_root))  # fmt: skip
    assert code == 1
    assert "sweep finished: 1 done, 2 failed" in out
    lines = out.splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("sweep finished"))) + 1 :]
    assert table[0].split() == ["job", "status", "result", "record", "or", "reason"]
    assert "model=gnn" in table[1] and " done " in table[1] and "result.json" in table[1]
    assert "failed  RuntimeError: the forward pass of this model is broken" in table[2]
    assert "failed  model 'badinit': building it failed: NameError: name 'undefined_width' is not defined" in table[3]
    assert len(list((tmp_path / "runs").rglob("result.json"))) == 1
    # the user's own code keeps its traceback
    assert f'File "{models}", line 22, in __init__' in err and f'File "{models}", line 14, in forward' in err
    assert 'bench/cli.py", line' not in err.split("building it failed")[1]  # only the user's frames


def test_a_bad_value_in_any_sweep_job_stops_the_sweep_before_the_first_job(tmp_path, data_root, capsys):
    code, _, err = _run(capsys, "run", "-m", "task=spring", "model=gnn", "seed=0,-1", *_tiny(tmp_path, data_root))
    assert code == 2 and "sweep job 'task=spring model=gnn seed=-1" in err and "seed=-1 is out of range" in err
    assert "no job was started" in err and not (tmp_path / "runs").exists()


def test_an_import_error_in_a_model_file_keeps_its_traceback(tmp_path, capsys):
    path = tmp_path / "oops.py"
    path.write_text("import bench\n\n\ndef helper():\n    return 1 / 0\n\n\nVALUE = helper()\n")
    code, _, err = _run(capsys, "run", f"model={path}", f"out={tmp_path}")
    assert code == 2
    assert f"importing model file '{path}' failed: ZeroDivisionError: division by zero" in err
    assert f'File "{path}", line 8, in <module>' in err and f'File "{path}", line 5, in helper' in err


def test_list_shows_matrix(capsys):
    code, out, _ = _run(capsys, "list")
    assert code == 0
    assert "compatibility" in out and "charge" in out and "egnn" in out and "edge_messages" in out


def test_data_prints_path_and_checksum(data_root, capsys):
    code, out, _ = _run(capsys, "data", "task=spring", "scale=tiny", f"data_dir={data_root}", "progress=false")
    assert code == 0
    assert f"dataset: {data_root}/spring/v2/tiny" in out and "checksum: sha256:" in out
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
        (
            ["run", "task=spring", "model=gnn", "model.capabilities=[edge_types]"],
            "model card 'gnn' lists capabilities: ['edge_types'], but its class bench.baselines.gnn:GNN exposes "
            "['edge_messages'] (the methods it overrides); set `capabilities: [edge_messages]` in the card",
        ),
        (
            ["run", "task=spring", "model=gnn", "model.capabilities=[edge_mesages]"],
            "model card 'gnn', capabilities: unknown capability 'edge_mesages'; did you mean 'edge_messages'? "
            "valid: edge_messages, edge_types, equation, hidden_field, interaction, node_embeddings",
        ),
    ],
)
def test_bad_input_exits_nonzero_with_message(args, message, tmp_path, capsys):
    code, _, err = _run(capsys, *args, f"out={tmp_path}")
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not list(tmp_path.rglob("result.json"))


def test_console_script_help_and_a_real_process(tmp_path, data_root):
    help_text = subprocess.run([sys.executable, "-m", "bench.cli", "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "run" in help_text.stdout and "list" in help_text.stdout
    run_help = subprocess.run(["bench", "run", "--help"], capture_output=True, text=True)
    assert "bench run -m task=spring,charge" in run_help.stdout
    bad = subprocess.run(["bench", "run", "task=chrage"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert bad.returncode == 2 and "did you mean 'charge'" in bad.stderr and "Traceback" not in bad.stderr
