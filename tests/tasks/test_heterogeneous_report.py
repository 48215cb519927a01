"""`bench report family=heterogeneous` and the family's app panel, on the records of two tiny runs
(embedding-gnn and zero-velocity on types3, 21 frames) and edited copies of them; no records gives the
published rows and says so."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.tasks.heterogeneous.report import chance, load_records, render, runs_table

TINY = ["task=types3", "scale=tiny", "task.frames=21", "task.horizons=[1,10,20]", "progress=false"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_root) -> Path:
    """Two tiny runs: embedding-gnn (trained, with embeddings) and zero-velocity (no parameters), seed 0."""
    out = tmp_path_factory.mktemp("heterogeneous-runs")
    for model, extra in (("embedding-gnn", ["model.hparams.hidden=32"]), ("zero-velocity", [])):
        assert main(["run", f"model={model}", *extra, *TINY, f"out={out}", f"data_dir={data_root}"]) == 0
    return out


@pytest.fixture
def records(runs) -> dict[str, dict]:
    return {r["model"]: r for r in load_records([runs])}


def _row(text: str, start: str) -> list[str]:
    return next(line for line in text.splitlines() if line.startswith(start)).split(" | ")


PUBLISHED = "| types3 | published: `embedding-gnn` | 4800 | 1.00 | 5.3e-04 | Allier et al. 2024 (arXiv 2407.19160)"


def test_no_records_still_gives_the_published_rows(tmp_path, capsys):
    text = render([], [tmp_path])
    assert "No records found: no heterogeneous result records" in text and "| task | model |" not in text
    assert PUBLISHED in text
    assert "| types3 | chance (no types told apart: the largest type's share, 1/K) | – | 0.3333 | – | |" in text
    assert "| types16 | chance (no types told apart: the largest type's share, 1/K) | – | 0.0625 | – | |" in text
    assert "UMAP (n_neighbors 500, fitted on 1000 profiles drawn with seed 0" in text
    assert "Hungarian" in text and "4800 per unit area" in text
    assert "| field-static | chance (no types told apart: the largest type's share, 1/K) | – | 0.3333 | – | |" in text
    assert "## Hidden fields" in text and "outlier rule" in text  # the field tasks are reported by default
    assert "No pictures: they are written as PNG files next to the report only with `--out`." in text
    assert main(["report", "family=heterogeneous", "--runs", str(tmp_path / "nowhere")]) == 0
    out = capsys.readouterr().out
    assert PUBLISHED in out and "No records found" in out
    assert main(["report", "family=heterogeneous", "--tasks", "types15"]) == 2
    assert "unknown report task 'types15'" in capsys.readouterr().err
    assert chance("types3-continuous") == pytest.approx(1 / 3)


def test_the_report_of_tiny_runs(runs, tmp_path, capsys):
    out = tmp_path / "REPORT.md"
    assert main(["report", "family=heterogeneous", "--runs", str(runs), "--out", str(out)]) == 0
    assert f"2 records → report: {out}" in capsys.readouterr().out
    text = out.read_text()
    assert PUBLISHED in text and "No records found" not in text
    gnn = _row(text, "| types3 | embedding-gnn | tiny |")
    assert gnn[3] == "1 (0)" and gnn[11] == "1.00 / 5.3e-04"  # the published pair beside ours
    assert all(float(gnn[k]) >= 0 for k in (4, 5, 6, 7, 8, 9)) and gnn[10].endswith("(h20)")
    assert gnn[12:] == ["240", "2 (40)", "1", gnn[15], "fp32 · cpu |"]  # 21 frames of batch 1, 20 steps at most
    assert gnn[15].split()[-1] in ("s", "min")
    zero = _row(text, "| types3 | zero-velocity (trivial: no motion) | tiny |")
    assert zero[4:8] == ["0.333", "0.333", "2", "–"]  # one cluster (|1 − 3|), no embeddings
    assert zero[11] == "–" and zero[12:15] == ["240", "0 (0)", "8"]
    assert text.index("| types3 | embedding-gnn |") < text.index("| types3 | zero-velocity")
    assert (tmp_path / "REPORT-fields.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the true fields: no run needed
    assert "![true hidden fields](REPORT-fields.png)" in text and "field R²" not in text.split("## Hidden")[0]
    assert "`field-static`: no `embedding-gnn-field` record, so no learned field to draw." in text
    assert not list(tmp_path.glob("*-learned.png"))
    assert main(["report", "family=heterogeneous", "--runs", str(runs), "--scales", "paper"]) == 0
    assert "No records found" in capsys.readouterr().out
    assert main(["report", "family=heterogeneous", "--runs", str(runs), "--tasks", "types16"]) == 0
    assert "No records found" in capsys.readouterr().out


def test_seeds_oracles_trivial_rows_and_configurations(records):
    gnn = records["embedding-gnn"]
    seed1 = copy.deepcopy(gnn)
    seed1["seed"] = seed1["config"]["seed"] = 1
    seed1["metrics"]["type_accuracy"] = gnn["metrics"]["type_accuracy"] + 0.2
    seed1["metrics"].pop("position_rmse_h20")  # the row shows the largest horizon every seed scored
    oracle = copy.deepcopy(gnn)
    oracle["model"] = oracle["config"]["model"]["name"] = "oracle-gnn"
    oracle["analyses"] = {"oracle_inputs": ["types"]}
    wide = copy.deepcopy(gnn)
    wide["config"]["model"]["hparams"]["hidden"] = 64
    wide["metrics"]["interaction_rmse"] = float("inf")  # a diverged seed
    still = copy.deepcopy(records["zero-velocity"])
    still["model"] = still["config"]["model"]["name"] = "stay-put"  # no parameters: trivial, whatever its name
    text = "\n".join(runs_table([gnn, seed1, oracle, wide, still]))
    rows = [line for line in text.splitlines() if line.startswith("| types3 | embedding-gnn [hidden=")]
    assert len(rows) == 2  # two configurations, never averaged together, each tagged by what sets it apart
    own = gnn["config"]["model"]["hparams"]["hidden"]
    assert {r.split(" | ")[1] for r in rows} == {f"embedding-gnn [hidden={own}]", "embedding-gnn [hidden=64]"}
    pair = next(r for r in rows if "2 (0, 1)" in r).split(" | ")
    a = gnn["metrics"]["type_accuracy"]
    assert pair[4] == f"{a + 0.1:.3f} ± {np.std([a, a + 0.2], ddof=1):.3f}" and pair[10].endswith("(h10)")
    assert next(r for r in rows if "1 (0)" in r).split(" | ")[8] == "inf"
    assert _row(text, "| types3 | oracle-gnn (oracle: types; ceiling) | tiny |")[11] == "–"
    assert _row(text, "| types3 | stay-put (trivial: no motion) | tiny |")[4] == "0.333"


class _Stub:
    """A stand-in for ``streamlit``: records every call; ``multiselect`` picks every run offered."""

    def __init__(self, calls: list):
        self.calls = calls

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            if name == "columns":
                return [_Stub(self.calls) for _ in range(args[0])]
            if name == "multiselect":
                return list(args[1])
            return None

        return call


def test_the_app_panel_draws_functions_and_embeddings(runs, records, monkeypatch):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("streamlit")
    from matplotlib.figure import Figure

    from bench.family import get_family
    from bench.tasks.heterogeneous import app

    rows = pd.DataFrame([{"model": r["model"], "source": "local", "backend": r["backend"], "seed": r["seed"],
                          "run_dir": str(Path(r["_path"]).parent)} for r in records.values()])  # fmt: skip
    empty = runs / "no-predictions"
    empty.mkdir(exist_ok=True)
    (empty / "result.json").write_text(json.dumps({**records["zero-velocity"], "task_family": "elsewhere"}))
    rows.loc[len(rows)] = {"model": "zero-velocity", "source": "official", "backend": "torch", "seed": 3,
                           "run_dir": str(empty)}  # fmt: skip
    broken = runs / "broken-predictions"
    broken.mkdir(exist_ok=True)
    (broken / "result.json").write_text(json.dumps(records["zero-velocity"]))
    np.savez(broken / "predictions.npz", interaction_pred=np.zeros(5))  # not (N, R): a warning, no traceback
    rows.loc[len(rows)] = {"model": "zero-velocity", "source": "official", "backend": "torch", "seed": 4,
                           "run_dir": str(broken)}  # fmt: skip
    calls: list = []
    monkeypatch.setattr(app, "st", _Stub(calls))
    get_family("heterogeneous").app_panels(rows, lambda d: json.loads((Path(d) / "result.json").read_text()))
    figures = [args[0] for name, args, _ in calls if name == "pyplot"]
    assert len(figures) == 3 and all(isinstance(f, Figure) for f in figures)  # 2 + 1: zero-velocity has no embedding
    captions = [args[0] for name, args, _ in calls if name == "caption"]
    assert "this model has no node embeddings" in captions
    assert "no interaction functions were saved with this run" in captions
    warnings = [args[0] for name, args, _ in calls if name == "warning"]
    assert len(warnings) == 1 and warnings[0].startswith(f"cannot draw the predictions of {broken}: ")
    ax = figures[0].axes[0]
    assert len(ax.lines) == 3 * 50 + 3  # 50 learned profiles per type, one dashed truth per type
    assert [line.get_linestyle() for line in ax.lines[-3:]] == ["--"] * 3
    gnn = records["embedding-gnn"]
    x = ax.lines[-1].get_xdata()
    assert x.size == 200 and x[-1] == 0.075 and np.allclose(ax.lines[-1].get_ydata(), app.type_curves(gnn, x)[2])
    assert len(figures[1].axes[0].collections) == 3  # one scatter per true type
    sixteen = {"config": {"task": {**gnn["config"]["task"], "n_types": 16, "type_params": None}}}
    fig = app.interaction_figure(sixteen, np.zeros((240, 1000)))
    assert len(fig.axes[0].lines) == 240 + 16  # 15 per type: every particle, and 16 drawn type curves


def test_the_field_limits_section_shows_a_committed_diagnostic_and_nothing_without_one(tmp_path, monkeypatch):
    from bench.tasks.heterogeneous import report

    monkeypatch.setattr(report, "DIAGNOSTICS", tmp_path / "diag-{task}.json")
    assert report.limits_section() == [] and "What limits the learned field" not in render([], [tmp_path])
    diagnostic = {
        "task": "field-dynamic", "scale": "quick", "epochs": 2, "metric": "Pearson r", "frames": 251,
        "particles": 960, "nodes": 2025, "siren": {"field_layers": 6, "field_hidden": 128, "field_omega0": 80.0,
                                                   "field_lr": 1e-4},
        "experiments": {"supervised": {"scores": [0.98, 0.99], "seconds": 84.0},
                        "alone": {"scores": [0.937, 0.962], "seconds": 100.2}},
        "joint": {"run": "runs-official/x", "scores": [0.056], "train_loss": [4.1], "val_loss": [4.7],
                  "embedding_accuracy_matched": [0.101],
                  "smoothing": {"as learned": {"learned": 0.603, "truth": 1.0},
                                "nodes 3 x 3": {"learned": 0.758, "truth": 0.999}}},
    }  # fmt: skip
    (tmp_path / "diag-field-dynamic.json").write_text(json.dumps(diagnostic))
    text = render([], [tmp_path])
    assert "## What limits the learned field" in text
    assert "| the SIREN alone, on the true field values (can it represent the field?) | 0.980 | 0.990 | 84 s |" in text
    assert "types given (does the motion determine the field?) | 0.937 | 0.962 | 100 s |" in text
    assert (
        "| `embedding-gnn-field`: everything learned at once (its score on the validation run after each epoch; "
        "`runs-official/x`) | 0.056 | – | – |"
    ) in text
    assert "train loss 4.1; validation loss (another run of the same particles in the same field) 4.7" in text
    assert "lr 0.0001, position over the box side (x/L), one frame per step" in text
    assert "Pearson r 0.603): after a running mean over nodes 3 x 3: 0.758 (the truth smoothed alike: 0.999)." in text
    assert "spans about 10 nodes)." in text and "one over 11 frames" not in text  # no frame smoothing recorded
    diagnostic["siren"]["field_coordinates"] = diagnostic["joint"]["field_coordinates"] = "physical"
    del diagnostic["joint"]["smoothing"]
    (tmp_path / "diag-field-dynamic.json").write_text(json.dumps(diagnostic))
    text = render([], [tmp_path])
    assert "lr 0.0001, position as simulated, one frame per step" in text and "Where its error lies" not in text
    assert "everything learned at once (position as simulated; its score on the validation run" in text


def test_the_field_diagnostic_finds_node_scale_noise():
    """``scripts/field_identifiability.py``'s smoothing scores: node-scale noise on a smooth field costs the raw
    score and a 3 x 3 node mean wins it back; a field wrong at large scale is not mended by smoothing."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "scripts" / "field_identifiability.py"
    spec = importlib.util.spec_from_file_location("field_identifiability", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    n, frames = 24, 5
    y, x = np.meshgrid(np.arange(n) / n, np.arange(n) / n, indexing="ij")
    truth = np.stack([np.sin(2 * np.pi * (x + 0.05 * t)) + np.cos(2 * np.pi * y) for t in range(frames)])
    truth = truth.reshape(frames, n * n)
    noisy = truth + np.random.default_rng(0).normal(0, 0.8, truth.shape)
    scores = script.smoothing_scores(noisy, truth, dynamic=True)
    assert scores["as learned"]["learned"] < 0.8 < scores["nodes 3 x 3"]["learned"]
    assert scores["nodes 3 x 3"]["truth"] > 0.95 and set(scores) == {"as learned", "nodes 3 x 3", "frames 11"}
    wrong = np.roll(truth, n * n // 2, axis=1)  # the right pattern in the wrong place
    assert script.smoothing_scores(wrong, truth, dynamic=True)["nodes 3 x 3"]["learned"] < 0.5
    static = script.smoothing_scores(noisy[:1], truth[:1], dynamic=False)
    assert set(static) == {"as learned", "nodes 3 x 3"}  # no frames to smooth over
    with pytest.raises(ValueError, match="must be \\(F, n\\^2\\)"):
        script.smoothing_scores(noisy[:, :-1], truth[:, :-1], dynamic=True)
