"""The n-body report reads only the records of each task's current data version."""

from __future__ import annotations

import json

from bench.config import task_card
from bench.tasks.nbody.report import load_records, render


def _record(task: str, version: int, mse: float, created: str) -> dict:
    return {"task": task, "task_family": "nbody", "model": "linear", "scale": "paper", "created": created,
            "config": {"model": {"hparams": {}},
                       "task": {"version": version, "simulations": {"paper": 9000}, "split": [5000, 2000, 2000]}},
            "metrics": {"mse": mse, "time_relative_to_egnn": 0.0, "params_relative_to_egnn": 0.0},
            "training": {"epochs_run": 2, "best_epoch": 2, "batch_size": 100, "history": []},
            "train_time_s": 6.0, "environment": {"torch_threads": 1}}  # fmt: skip


def test_records_of_an_older_data_version_are_left_out(tmp_path):
    current = int(task_card("nbody5h").version)
    records = [_record("nbody5h", current - 1, 0.088, "2026-02-01"),  # newer, but of the old data
               _record("nbody5h", current, 0.077, "2026-01-01"),
               _record("nbody5", int(task_card("nbody5").version), 0.082, "2026-01-01")]  # fmt: skip
    for k, rec in enumerate(records):
        (tmp_path / str(k)).mkdir()
        (tmp_path / str(k) / "result.json").write_text(json.dumps(rec))
    latest = load_records([tmp_path])
    assert {key: r["metrics"]["mse"] for key, r in latest.items()} == {
        ("nbody5h", "linear", "paper"): 0.077,
        ("nbody5", "linear", "paper"): 0.082,
    }
    text = render(latest)
    assert f"data v{current}, paper" in text and "| nbody5h | linear | 7.700 |" in text
    assert "HEGNN's after 100k + 1" in text and "(n/5)^(1/3) + 0.1" in text
