"""The hidden-field pictures of family H: ``app.field_figure`` (true field beside the learned one, fitted
affinely) on synthetic records of ``field-static`` and ``field-dynamic`` at scale tiny whose learned field is an
affine copy of the truth, the app panel's field part, and the report's section "Hidden fields" with its PNGs
(fake records: no training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from bench.cli import main
from bench.config import compose
from bench.tasks.heterogeneous import app
from bench.tasks.heterogeneous.generate import hidden_field
from bench.tasks.heterogeneous.report import load_records, render, runs_table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SLOPE, OFFSET = -3.0, 7.0
"""The learned field of the synthetic runs: SLOPE · truth + OFFSET (a sign flip too), so the fit is 1/SLOPE."""


def _record(task: str, model: str = "embedding-gnn-field", seed: int = 0, **metrics) -> dict:
    """A result record of ``task`` at scale tiny as ``bench run`` writes it (the fields the report and the app
    read), with the given metrics."""
    cfg = OmegaConf.to_container(compose([f"task={task}", "scale=tiny", f"model={model}", f"seed={seed}"]),
                                 resolve=True)  # fmt: skip
    return {"task": task, "task_family": "heterogeneous", "scale": "tiny", "model": model, "seed": seed,
            "backend": "torch", "device": "cpu", "precision": "fp32", "n_parameters": 1000, "train_time_s": 5.0,
            "training": {"epochs_run": 1, "batch_size": 1}, "config": cfg,
            "metrics": {"type_accuracy": 0.4, "interaction_rmse": 0.01, **metrics}}  # fmt: skip


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    return {task: _record(task) for task in ("field-static", "field-dynamic")}


@pytest.fixture(scope="module")
def truths(records) -> dict[str, np.ndarray]:
    """The true field values (F, M) of each task at scale tiny."""
    return {task: hidden_field(OmegaConf.create(r["config"]["task"]), "tiny")[1] for task, r in records.items()}


def _learned(truth: np.ndarray) -> np.ndarray:
    return (SLOPE * truth + OFFSET).astype(np.float32)  # as a run saves it


def _images(fig) -> list:
    return [ax for ax in fig.axes if ax.images]


def test_a_static_field_is_one_pair_fitted_onto_the_truth(records, truths):
    from matplotlib.figure import Figure

    record, truth = records["field-static"], truths["field-static"]
    assert truth.shape == (1, 22 * 22)
    images = app.field_images(record, _learned(truth))
    assert images.frames == [0] and not images.dynamic and images.box == pytest.approx(0.2236, abs=1e-4)
    assert images.true.shape == images.learned.shape == (1, 22, 22)
    assert np.array_equal(images.true[0], truth[0].reshape(22, 22))  # node k at row k // n, column k % n
    assert np.abs(images.learned - images.true).max() < 1e-6  # the fit undoes the affine map
    assert images.slope == pytest.approx(1 / SLOPE, rel=1e-6) and images.offset == pytest.approx(-OFFSET / SLOPE)
    assert images.limits == (pytest.approx(0.0), pytest.approx(2.0))  # the truth's range: [0, value_max]
    fig = app.field_figure(record, _learned(truth))
    assert isinstance(fig, Figure)
    pair = _images(fig)
    assert len(pair) == 2 and len(fig.axes) == 3  # true, learned and one colorbar
    assert [ax.get_title() for ax in pair] == ["true b", "learned, fitted"]
    for ax, image in zip(pair, (images.true[0], images.learned[0]), strict=True):
        shown = ax.images[0]
        assert shown.get_clim() == images.limits and shown.origin == "lower"
        assert np.allclose(shown.get_array(), image)
    noise = np.random.default_rng(0).normal(size=truth.shape)
    assert np.abs(app.field_images(record, noise).learned - truth.reshape(1, 22, 22)).max() > 0.5  # can fail


def test_a_dynamic_field_is_three_pairs_with_frame_and_time(records, truths):
    record, truth = records["field-dynamic"], truths["field-dynamic"]
    assert truth.shape == (251, 22 * 22)
    images = app.field_images(record, _learned(truth))
    assert images.frames == [0, 125, 250] and images.times == pytest.approx([0.0, 12.5, 25.0])
    assert np.array_equal(images.true, truth[[0, 125, 250]].reshape(3, 22, 22))
    assert np.abs(images.learned - images.true).max() < 1e-6
    fig = app.field_figure(record, _learned(truth))
    shown = _images(fig)
    assert len(shown) == 6 and len(fig.axes) == 7  # 3 pairs and one shared colorbar
    titles = [ax.get_title() for ax in shown]
    assert titles[0::2] == ["true b, frame 0 (t = 0)", "true b, frame 125 (t = 12.5)", "true b, frame 250 (t = 25)"]
    assert titles[1] == "learned, fitted, frame 0 (t = 0)"
    assert all(ax.images[0].get_clim() == images.limits for ax in shown)
    assert np.allclose(shown[5].images[0].get_array(), truth[250].reshape(22, 22), atol=1e-6)
    two = app.field_figure(record, _learned(truth), frames=[10, 20])
    assert [ax.get_title() for ax in _images(two)][::2] == ["true b, frame 10 (t = 1)", "true b, frame 20 (t = 2)"]
    with pytest.raises(ValueError, match=r"expected frames in \[0, 251\)"):
        app.field_images(record, _learned(truth), frames=[251])
    with pytest.raises(ValueError, match=r"field_pred has shape \(1, 484\); expected the true field's \(251, 484\)"):
        app.field_images(record, _learned(truth)[:1])
    with pytest.raises(ValueError, match="has no hidden field"):
        app.field_truth(_record("types3", model="embedding-gnn"))


def _run_dir(root: Path, record: dict, **arrays) -> Path:
    """A run folder holding ``record`` (result.json) and ``arrays`` (predictions.npz)."""
    folder = root / record["task"] / record["model"] / f"tiny-seed{record['seed']}"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(record))
    np.savez(folder / "predictions.npz", **arrays)
    return folder


def test_the_app_shows_the_learned_field_or_says_there_is_none(records, truths, tmp_path, monkeypatch):
    calls: list = []
    from test_heterogeneous_report import _Stub  # the report tests' stand-in for streamlit

    monkeypatch.setattr(app, "st", _Stub(calls))
    record = {**records["field-dynamic"], "metrics": {"field_pearson_r": -1.0, "field_ssim": 1.0}}
    with_field = _run_dir(tmp_path, record, interaction_pred=np.zeros((240, 100)),
                          field_pred=_learned(truths["field-dynamic"]))  # fmt: skip
    without = _run_dir(tmp_path, _record("field-dynamic", model="embedding-gnn"), interaction_pred=np.zeros((240, 100)))
    read = lambda d: json.loads((Path(d) / "result.json").read_text())  # noqa: E731
    app.show_run(str(with_field), read)
    figures = [args[0] for name, args, _ in calls if name == "pyplot"]
    assert len(figures) == 2 and len(_images(figures[1])) == 6  # ψ, then the field below (no embeddings here)
    assert ("markdown", ("field_pearson_r **-1**, field_ssim **1**",), {}) in calls
    calls.clear()
    app.show_run(str(without), read)
    assert len([c for c in calls if c[0] == "pyplot"]) == 1
    captions = [args[0] for name, args, _ in calls if name == "caption"]
    assert "this model has no field model: it is scored as a constant field (field R² and Pearson r 0)" in captions


def test_the_report_shows_field_columns_and_writes_the_pictures(records, truths, tmp_path, capsys, monkeypatch):
    runs = tmp_path / "runs"
    static = {**records["field-static"],
              "metrics": {**records["field-static"]["metrics"], "field_r2": 0.25, "field_r2_outlier_rule": 0.98,
                          "field_outliers": 358.0, "field_rmse": 0.5, "field_pearson_r": 0.5}}  # fmt: skip
    _run_dir(runs, static, interaction_pred=np.zeros((240, 10)), field_pred=_learned(truths["field-static"]))
    dynamic = _record("field-dynamic", model="embedding-gnn", field_pearson_r=0.0, field_psnr=13.26,
                      field_ssim=0.0631, field_rmse=0.4)  # fmt: skip
    _run_dir(runs, dynamic, interaction_pred=np.zeros((240, 10)))
    out = tmp_path / "report" / "REPORT.md"
    assert main(["report", "family=heterogeneous", "--runs", str(runs), "--tasks", "field-static,field-dynamic",
                 "--out", str(out)]) == 0  # fmt: skip
    assert f"2 records → report: {out}" in capsys.readouterr().out
    text = out.read_text()
    fields, learned = out.parent / "REPORT-fields.png", out.parent / "REPORT-field-static-learned.png"
    for png in (fields, learned):
        data = png.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "REPORT-field-static-learned.png",
        "REPORT-fields.png",
        "REPORT.md",
    ]  # no temporary file left, no dynamic one
    assert "## Hidden fields" in text and "![true hidden fields](REPORT-fields.png)" in text
    assert "![field-static: learned and true field](REPORT-field-static-learned.png)" in text
    assert "`field-dynamic`: no `embedding-gnn-field` record, so no learned field to draw." in text
    assert "Fourier modes" in text and "[0, 2]" in text and "N(0, (0.125 · cell)²)" in text
    assert "dropped from the residuals only" in text and "Always read it with its outlier count" in text
    header = next(line for line in text.splitlines() if line.startswith("| task | model | scale | seeds | field R²"))
    assert header.split(" | ")[4:8] == ["field R²", "field R², Allier's outlier rule", "outliers (rule)", "field RMSE"]
    row = next(line for line in text.splitlines() if line.startswith("| field-static | embedding-gnn-field | tiny |"))
    assert row.split(" | ")[3:9] == ["1 (0)", "0.250", "0.980", "358 of 484", "0.5", "0.400"]  # then type accuracy
    row = next(line for line in text.splitlines() if line.startswith("| field-dynamic | embedding-gnn | tiny |"))
    assert row.split(" | ")[3:9] == ["1 (0)", "0.000", "13.3", "0.063", "0.4", "0.400"]
    assert text.index("| field-static |") < text.index("| field-dynamic | embedding-gnn |")
    assert len(header.split(" | ")) == len(row.split(" | "))
    plain = runs_table([static])  # without the field columns: the types tasks' table
    assert plain[0].startswith("| task | model | scale | seeds | type accuracy |")
    monkeypatch.chdir(tmp_path)
    assert main(["report", "family=heterogeneous", "--runs", str(runs)]) == 0
    printed = capsys.readouterr().out
    assert "No pictures: they are written as PNG files next to the report only with `--out`." in printed
    assert "![" not in printed and sorted(tmp_path.rglob("*.png")) == sorted([fields, learned])
    assert "## Hidden fields" not in render(load_records([runs]), [runs], ("types3",))
