"""The heterogeneous family end to end at tiny scale through the CLI: runs, records, the oracle model, the
learning curve, a submission re-scored and re-predicted, and refusals before any work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from bench.cli import main
from bench.config import task_card
from bench.family import get_family
from bench.leaderboard.store import load
from bench.tasks.data import load as load_data
from bench.tasks.heterogeneous import Evaluator


def _run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _tiny(out: Path, data_root):
    return ["scale=tiny", f"out={out}", f"data_dir={data_root}", "progress=false"]


SHORT = ["task.frames=21", "task.horizons=[1,10,20]"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_root):
    """embedding-gnn and oracle-gnn (seed 0) on types3 with 21 frames per run (a variant: fast), and
    zero-velocity (seeds 0-2) on the official tiny types3 (3 runs of 251 frames of 240 particles, so that it
    can be submitted), through the CLI."""
    out = tmp_path_factory.mktemp("het") / "runs"
    records = {}
    small = ["model.hparams.hidden=32", *SHORT]
    for model, extra in (("embedding-gnn", small), ("oracle-gnn", small), ("zero-velocity", ["seed=0,1,2"])):
        assert main(["run", "-m", "task=types3", f"model={model}", *extra, *_tiny(out, data_root)]) == 0
        path = sorted((out / "types3" / model).glob("*/result.json"))[0]
        records[model] = (json.loads(path.read_text()), path.parent)
    return out, records


def test_a_run_records_every_metric_and_its_learning_curve(runs, data_root):
    _, records = runs
    record, run_dir = records["embedding-gnn"]
    assert (record["task_family"], record["primary_metric"]) == ("heterogeneous", "type_accuracy")
    metrics, table = record["metrics"], record["metric_table"]
    assert table["type_accuracy"]["direction"] == "higher" and table["interaction_rmse"]["direction"] == "lower"
    expected = {"type_accuracy", "type_accuracy_matched", "cluster_count_error", "embedding_accuracy",
                "embedding_cluster_count_error",
                "interaction_rmse", "interaction_rmse_std", "velocity_rmse", "velocity_rmse_relative",
                "position_rmse_h1", "position_rmse_h20"}  # fmt: skip
    assert expected <= set(metrics)
    history = record["training"]["history"]
    assert len(history) == 2 and all(h["val_interaction_rmse"] > 0 and 0 <= h["val_embedding_accuracy_matched"] <= 1
                                      for h in history)  # fmt: skip
    with np.load(run_dir / "predictions.npz") as z:
        saved = {k: z[k] for k in z.files}
    assert saved["interaction_pred"].shape == (240, 1000) and saved["embedding_pred"].shape == (240, 2)
    assert saved["velocity_pred"].shape == (3, 240, 2) and saved["position_pred"].shape == (3, 240, 2)
    card = task_card("types3", ["frames=21", "horizons=[1,10,20]"])
    fam = get_family("heterogeneous")
    data = fam.load(load_data(card, "tiny", data_root), card)
    again = Evaluator(card)({**saved, **fam.truth(card, data, tuple(saved))})
    for k, v in metrics.items():
        assert again[k] == pytest.approx(v, rel=1e-9), k


def test_the_oracle_says_it_was_given_the_types_and_the_trivial_row_is_what_it_claims(runs):
    _, records = runs
    assert records["oracle-gnn"][0]["analyses"]["oracle_inputs"] == ["types"]
    assert "embedding_accuracy" not in records["oracle-gnn"][0]["metrics"]
    zero, run_dir = records["zero-velocity"]
    assert zero["n_parameters"] == 0 and zero["training"]["epochs_run"] == 0
    m = zero["metrics"]
    assert m["cluster_count_error"] == 2 and m["type_accuracy_matched"] == pytest.approx(1 / 3)  # one cluster
    assert m["velocity_rmse_relative"] == pytest.approx(1.0, rel=0.1)


def test_the_zero_velocity_baseline_is_submitted_and_re_scored(runs, tmp_path, data_root, capsys):
    out, _ = runs
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump({"name": "zero-velocity", "authors": ["A"], "paper": "p", "code_url": "https://x.org",
                                    "licence": "MIT", "hardware": "cpu"}))  # fmt: skip
    code, _, err = _run(capsys, "submit", str(out / "types3" / "zero-velocity"), "--card", str(card),
                        "--data-dir", str(data_root), "--out", str(tmp_path / "subs"))  # fmt: skip
    assert code == 0, err
    assert len(load(tmp_path / "subs", []).frame) == 3


def test_a_model_without_an_interaction_function_is_refused_before_any_work(tmp_path, data_root, capsys):
    code, _, err = _run(capsys, "run", "task=types3", "model=egnn", *_tiny(tmp_path / "runs", data_root))
    assert code == 2 and "egnn" in err and "heterogeneous" in err
    assert not (tmp_path / "runs").exists()
