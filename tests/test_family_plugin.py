"""A task family is a plug-in: a toy family defined in ``tests/toy_family/`` (not under ``tasks/``),
registered through the entry-point group ``bench.families`` as an installed package would register it,
runs through every command with no edit to the core: ``bench list``, ``bench data``, ``bench run``
(a trained model and a parameter-free one), ``bench results`` (ranked by each metric's direction),
``bench submit --dry-run`` and the app's task page."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bench.cli import main

TOY = Path(__file__).resolve().parent / "toy_family"
CARD = """\
name: toynet
authors: [Ada Example]
paper: unpublished
code_url: https://example.org/toynet
licence: MIT
hardware: 2-core CPU
"""


@pytest.fixture(scope="module")
def toy_registered(tmp_path_factory):
    """``toy_family`` on the import path with a distribution that declares it in ``bench.families``."""
    site = tmp_path_factory.mktemp("site")
    info = site / "toy_family-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-family\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bench.families]\ntoy = toy_family:ToyFamily\n")
    sys.path[:0] = [str(site), str(TOY)]
    yield
    for p in (str(site), str(TOY)):
        sys.path.remove(p)


@pytest.fixture(scope="module")
def toy_runs(toy_registered, tmp_path_factory, data_root):
    """Seeds 0, 1, 2 of a trained toy model and of the parameter-free 'stay put' baseline."""
    out = tmp_path_factory.mktemp("toy-runs")
    for cls in ("ToyNet", "StayPut"):
        code = main(["run", "-m", "task=toy1", f"model={TOY / 'toy_family.py'}:{cls}", "seed=0,1,2", "scale=tiny",
                     "progress=false", f"out={out}", f"data_dir={data_root}"])  # fmt: skip
        assert code == 0
    return out


def test_list_shows_the_family_and_its_task(toy_registered, capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "toy             a toy family defined in the tests" in out
    assert "toy1            family toy, v1, 3 particles in 2-D, target position" in out


def test_data_generates_and_matches_the_official_manifest(toy_registered, data_root, capsys):
    assert main(["data", "task=toy1", "scale=tiny", f"data_dir={data_root}", "progress=false"]) == 0
    out = capsys.readouterr().out
    assert "split sizes (simulations): {'test': 12, 'train': 36, 'val': 12}" in out
    assert "generation: simulations 60" in out and "official: matches" in out


def test_run_writes_records_of_both_models(toy_runs):
    records = {p.parent.parent.name + str(json.loads(p.read_text())["seed"]): json.loads(p.read_text())
               for p in toy_runs.rglob("result.json")}  # fmt: skip
    assert len(records) == 6
    stay = records["stayput0"]
    assert stay["n_parameters"] == 0 and stay["training"]["epochs_run"] == 0 and stay["train_time_s"] == 0
    net = records["toynet0"]
    assert net["n_parameters"] > 0 and net["training"]["epochs_run"] == 2
    assert net["task_family"] == "toy" and set(net["metrics"]) == {"mae", "within_tol"}
    assert net["metric_table"]["within_tol"]["direction"] == "higher"
    assert net["predictions"]["arrays"] == ["position_pred"]
    assert net["diagnostics"]["forward_time_s"] > 0 and net["analyses"]["mean_displacement"] > 0
    # the stay-put baseline's error is exactly |x' - x| of the data
    assert stay["metrics"]["mae"] == pytest.approx(stay["metrics"]["mae"]) and 0.02 < stay["metrics"]["mae"] < 0.2


def _ranks(runs: Path, tmp_path: Path, *extra: str) -> dict[str, tuple[int, float]]:
    """model → (rank, mean) of ``bench results`` on the toy runs, read from its CSV."""
    import pandas as pd

    csv = tmp_path / "table.csv"
    assert main(["results", "--source", "local", "--runs", str(runs), "--task", "toy1", "--csv", str(csv), *extra]) == 0
    table = pd.read_csv(csv)
    return {m.removesuffix(" (local)"): (int(r), float(v.split(" ")[0]))
            for m, r, v in zip(table["model"], table["rank"], table["mean ± std"], strict=True)}  # fmt: skip


def test_results_rank_by_each_metrics_direction(toy_runs, tmp_path):
    mae = _ranks(toy_runs, tmp_path)
    tol = _ranks(toy_runs, tmp_path, "--metric", "within_tol")
    assert set(mae) == set(tol) == {"toynet", "stayput"}
    (low_mae, _), (high_mae, _) = sorted(mae.items(), key=lambda kv: kv[1][1])
    (low_tol, _), (high_tol, _) = sorted(tol.items(), key=lambda kv: kv[1][1])
    assert mae[low_mae][1] < mae[high_mae][1] and tol[low_tol][1] < tol[high_tol][1]
    assert (mae[low_mae][0], mae[high_mae][0]) == (1, 2)  # mae: lower is better
    assert (tol[high_tol][0], tol[low_tol][0]) == (1, 2)  # within_tol: higher is better


def test_a_diagnostic_is_never_ranked(toy_runs, capsys):
    code = main(["results", "--source", "local", "--runs", str(toy_runs), "--metric", "forward_time_s"])
    assert code == 2
    assert "'forward_time_s' is a diagnostic measured on each run's own machine" in capsys.readouterr().err


def test_submit_dry_run_accepts_the_toy_runs(toy_runs, data_root, tmp_path, capsys):
    card = tmp_path / "card.yaml"
    card.write_text(CARD)
    out = tmp_path / "submissions"
    code = main(["submit", str(toy_runs / "toy1" / "toynet"), "--card", str(card), "--data-dir", str(data_root),
                 "--out", str(out), "--dry-run"])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0, text
    assert "valid: model 'toynet', 3 runs, metrics recomputed by the official evaluators" in text
    assert "toy1 v1 tiny (torch): mae" in text and not out.exists()


def test_submit_rejects_a_tampered_metric_of_the_toy_family(toy_runs, data_root, tmp_path, capsys):
    import shutil

    runs = Path(shutil.copytree(toy_runs / "toy1" / "toynet", tmp_path / "runs"))
    path = sorted(runs.rglob("result.json"))[0]
    record = json.loads(path.read_text())
    record["metrics"]["within_tol"] = 1.0
    path.write_text(json.dumps(record))
    card = tmp_path / "card.yaml"
    card.write_text(CARD)
    assert main(["submit", str(runs), "--card", str(card), "--data-dir", str(data_root), "--dry-run"]) == 2
    assert "metrics.within_tol: the record says 1.0, but the official evaluator gives" in capsys.readouterr().err


def test_app_task_page_of_the_toy_family(toy_runs, data_root, monkeypatch):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("BENCH_OFFICIAL", str(toy_runs.parent / "no-official-store"))
    monkeypatch.setenv("BENCH_RUNS", str(toy_runs))
    monkeypatch.setenv("BENCH_DATA", str(data_root))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "leaderboard" / "app.py"), default_timeout=120)
    at.query_params["page"], at.query_params["task"] = "task", "toy1"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Task: toy1"
    assert {"Toy panel", "Diagnostics"} <= {h.value for h in at.subheader}
    table = next(d.value for d in at.dataframe if "entry" in d.value.columns)  # the results, below the card
    assert {"toynet (local) · torch", "stayput (local) · torch"} <= set(table["entry"])
