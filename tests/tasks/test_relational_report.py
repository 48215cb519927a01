"""`bench report family=relational`: hand-made records grouped per task, model, scale and configuration,
beside NRI's Table 1 and the chance level; no records gives a report that says so."""

from __future__ import annotations

import json

import pytest

from bench.cli import main
from bench.tasks.relational.report import chance, load_records, render, runs_table


def _record(task: str, model: str, seed: int, accuracy: float, scale: str = "quick", hidden: int = 256,
            **metrics) -> dict:  # fmt: skip
    metrics = {"edge_accuracy": accuracy, "edge_accuracy_raw": 1 - accuracy, "edge_auroc": 0.9,
               "mse_h1": 1e-4, "mse_h10": 1e-3, "mse_h20": 1e-2, **metrics}  # fmt: skip
    return {
        "task": task, "task_family": "relational", "model": model, "seed": seed, "scale": scale,
        "created": "2025-01-01T00:00:00+00:00", "metrics": metrics, "train_time_s": 120.0 + 60 * seed,
        "training": {"epochs_run": 10 + seed, "best_epoch": 10, "batch_size": 128, "history": []},
        "config": {"task": {"name": task, "family": "relational", "simulations": {"tiny": 140, "quick": 14000},
                            "split": [50000, 10000, 10000]},
                   "model": {"name": model, "hparams": {"hidden": hidden}}, "scale": {"name": scale, "epochs": 20},
                   "seed": seed, "backend": "plain"},
    }  # fmt: skip


def _row(text: str, start: str) -> list[str]:
    return next(line for line in text.splitlines() if line.startswith(start)).split(" | ")


def test_no_runs_yet(tmp_path):
    text = render([], [tmp_path])
    assert "No runs yet: no relational result records" in text and "| task | model |" not in text
    assert "| NRI (learned): `nri`, `nri-cnn` | 99.9 | 98.4 | 82.1 | 70.8 | 96.0 | 75.7 |" in text
    assert "| Supervised: `nri-supervised` | 99.9 | 98.8 | 95.0 | 94.6 | 99.7 | 97.1 |" in text
    assert "| chance (no graph inferred) | 50.0 | 50.0 | 50.0 | 50.0 | 50.0 | 50.0 |" in text
    assert "How the definitions differ: NRI's code scores the edge types as the model numbers them" in text


def test_seeds_are_averaged_per_task_model_and_scale():
    records = [_record("springs5", "nri", 0, 0.90), _record("springs5", "nri", 1, 0.94),
               _record("kuramoto10", "nri-cnn", 0, 0.70), _record("springs5", "nri", 0, 0.5, scale="tiny")]  # fmt: skip
    text = "\n".join(runs_table(records))
    nri = _row(text, "| springs5 | nri | quick")
    assert nri[3:8] == ["0, 1", "92.0 ± 2.8", "8.0 ± 2.8", "99.9", "0.900 ± 0.000"]
    assert nri[11:] == ["10000", "10–11", "2.5 ± 0.7 min |"]  # 14000 × 5/7 training trajectories
    tiny = _row(text, "| springs5 | nri | tiny")
    assert tiny[3:6] == ["0", "50.0", "50.0"] and tiny[11] == "100"
    cnn = _row(text, "| kuramoto10 | nri-cnn |")
    assert cnn[4] == "70.0" and cnn[6] == "75.7"  # the published CNN-encoder number of the same task
    lines = text.splitlines()
    assert lines.index(" | ".join(tiny)) < lines.index(" | ".join(nri)) < lines.index(" | ".join(cnn))


def test_configurations_stay_apart_and_oracles_are_marked():
    records = [_record("charged5", "nri", 0, 0.8), _record("charged5", "nri", 0, 0.6, hidden=64),
               {**_record("charged5", "nri-true-graph", 0, 1.0), "analyses": {"oracle_inputs": ["edges"]}},
               _record("charged5", "nri-supervised", 0, 0.95, edge_auroc=float("nan"))]  # fmt: skip
    text = "\n".join(runs_table(records))
    rows = [line for line in text.splitlines() if line.startswith("| charged5 | nri [hidden=")]
    assert len(rows) == 2 and {r.split(" | ")[4] for r in rows} == {"80.0", "60.0"}  # never averaged together
    assert _row(text, "| charged5 | nri-true-graph (oracle: edges) |")[6] == "–"  # nothing published
    supervised = _row(text, "| charged5 | nri-supervised |")
    assert supervised[6] == "95.0" and supervised[7] == "–"  # a NaN AUROC is left out, not averaged


def test_chance_follows_the_generator():
    from omegaconf import OmegaConf

    import bench.config

    assert chance("springs5") == chance("charged10") == chance("kuramoto5") == 0.5
    card = bench.config.task_card("charged5")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bench.config, "task_card", lambda name: OmegaConf.merge(card, {"edge_prob": 0.8}))
        assert chance("charged5") == pytest.approx(0.68)  # same sign: 0.8² + 0.2²
        assert chance("springs5") == pytest.approx(0.68)  # the card's system is still charged
        mp.setattr(bench.config, "task_card", lambda name: OmegaConf.merge(card, {"edge_prob": 0.3,
                                                                                 "system": "springs"}))  # fmt: skip
        assert chance("springs5") == pytest.approx(0.7)


def test_the_cli_reads_the_run_folders(tmp_path, capsys):
    runs = tmp_path / "runs"
    for r in (_record("springs10", "nri", 0, 0.97), _record("springs10", "nri", 1, 0.99)):
        folder = runs / r["task"] / r["model"] / f"quick-seed{r['seed']}-0000"
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(r))
    other = runs / "nbody5" / "egnn" / "quick-seed0-0000"
    other.mkdir(parents=True)
    (other / "result.json").write_text(json.dumps({**_record("nbody5", "egnn", 0, 0.1), "task_family": "nbody"}))
    assert len(load_records([runs])) == 2
    out = tmp_path / "REPORT.md"
    assert main(["report", "family=relational", "--runs", str(runs), "--out", str(out)]) == 0
    assert f"2 records → report: {out}" in capsys.readouterr().out
    assert _row(out.read_text(), "| springs10 | nri | quick")[3:7] == ["0, 1", "98.0 ± 1.4", "2.0 ± 1.4", "98.4"]
    assert main(["report", "family=relational", "--runs", str(runs), "--scales", "paper"]) == 0
    assert "No runs yet" in capsys.readouterr().out  # printed without --out
    assert main(["report", "family=relational", "--tasks", "spring5", "--out", str(tmp_path / "r.md")]) == 2
    assert "unknown report task 'spring5'; did you mean 'springs5'?" in capsys.readouterr().err
    assert not (tmp_path / "r.md").exists()
