"""The relational family end to end at tiny scale through the CLI: runs, records, the oracle model, the
learning curve, submission of parameter-free baselines, and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from bench.cli import main
from bench.leaderboard.store import load
from bench.records import RECORD_NAME
from bench.tasks.relational import Evaluator


def _run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _tiny(out: Path, data_root):
    return ["scale=tiny", f"out={out}", f"data_dir={data_root}", "progress=false"]


def _record(out: str) -> tuple[dict, Path]:
    path = Path(out.strip().splitlines()[-1].removeprefix("result record: "))
    return json.loads(path.read_text()), path.parent


def test_nri_run_records_every_metric_and_the_learning_curve(tmp_path, data_root, capsys):
    code, out, err = _run(capsys, "run", "task=springs5", "model=nri", "model.hparams.hidden=32",
                          *_tiny(tmp_path / "runs", data_root))  # fmt: skip
    assert code == 0, err
    record, run_dir = _record(out)
    assert (record["task_family"], record["primary_metric"]) == ("relational", "edge_accuracy")
    table = record["metric_table"]
    assert table["edge_accuracy"]["direction"] == "higher" and table["mse_h20"]["direction"] == "lower"
    assert {"edge_accuracy_raw", "edge_auroc", "mse_h1", "mse_h10", "position_mse_h20"} <= set(record["metrics"])
    history = record["training"]["history"]
    assert len(history) == 2 and all(0 <= h["val_edge_accuracy"] <= 1 for h in history)
    with np.load(run_dir / "predictions.npz") as z:
        saved = {k: z[k] for k in z.files}
    assert saved["edge_prob_pred"].shape == (20, 20, 2) and saved["state_pred"].shape == (
        20,
        3,
        5,
        4,
    )  # the scored steps only
    # the saved arrays recompute the recorded metrics
    from bench.config import task_card
    from bench.family import get_family
    from bench.tasks.data import load as load_data

    card = task_card("springs5")
    data = get_family("relational").load(load_data(card, "tiny", data_root), card)
    truth = get_family("relational").truth(card, data, tuple(saved))
    again = Evaluator(card)({**saved, **truth})
    for k, v in record["metrics"].items():
        assert again[k] == pytest.approx(v, rel=1e-6, nan_ok=True), k


def test_the_oracle_decoder_is_given_the_true_graph_and_says_so(tmp_path, data_root, capsys):
    code, out, err = _run(capsys, "run", "task=charged5", "model=nri-true-graph", "model.hparams.hidden=16",
                          *_tiny(tmp_path / "runs", data_root))  # fmt: skip
    assert code == 0, err
    record, _ = _record(out)
    assert record["analyses"]["oracle_inputs"] == ["edges"]
    assert record["metrics"]["edge_accuracy_raw"] == 1.0  # its edge types are the truth it was handed


def test_a_model_without_edge_types_is_refused_before_any_work(tmp_path, data_root, capsys):
    code, _, err = _run(capsys, "run", "task=springs5", "model=egnn", *_tiny(tmp_path / "runs", data_root))
    assert code == 2 and "egnn" in err and "relational" in err
    assert not (tmp_path / "runs").exists()


def test_parameter_free_baselines_are_submitted_with_their_seeds(tmp_path, data_root, capsys):
    """static and corr predict the same for every seed (nothing is drawn): their seeds are accepted, each
    re-predicted from the model; corr's fitted threshold travels as its weights."""
    runs = tmp_path / "runs"
    code, _, err = _run(capsys, "run", "-m", "task=springs5", "model=static,corr", "seed=0,1,2",
                        *_tiny(runs, data_root))  # fmt: skip
    assert code == 0, err
    corr_runs = sorted((runs / "springs5" / "corr").iterdir())
    assert all((r / "best.pt").is_file() for r in corr_runs)
    for model in ("static", "corr"):
        card = tmp_path / f"{model}.yaml"
        card.write_text(yaml.safe_dump({"name": model, "authors": ["A"], "paper": "p", "code_url": "https://x.org",
                                        "licence": "MIT", "hardware": "cpu"}))  # fmt: skip
        code, out, err = _run(capsys, "submit", str(runs / "springs5" / model), "--card", str(card),
                              "--data-dir", str(data_root), "--out", str(tmp_path / "subs"))  # fmt: skip
        assert code == 0, err
    store = load(tmp_path / "subs", [])
    assert len(store.frame) == 6 and not store.invalid
    # a claimed parameter count that is not the model's is refused
    run = corr_runs[0]
    record = json.loads((run / RECORD_NAME).read_text())
    record["n_parameters"] = 5
    (run / RECORD_NAME).write_text(json.dumps(record))
    code, _, err = _run(capsys, "submit", str(runs / "springs5" / "corr"), "--card", str(tmp_path / "corr.yaml"),
                        "--data-dir", str(data_root), "--out", str(tmp_path / "subs2"))  # fmt: skip
    assert code == 2 and "n_parameters: the record says 5" in err


def test_report_reads_the_runs(tmp_path, data_root, capsys):
    runs = tmp_path / "runs"
    assert _run(capsys, "run", "task=kuramoto5", "model=static", *_tiny(runs, data_root))[0] == 0
    code, out, err = _run(capsys, "report", "family=relational", "--runs", str(runs))
    assert code == 0, err
    assert "96.0" in out and "kuramoto5" in out and "static" in out
