"""The published reference numbers: one validated table (references.yaml) that the app and the reports read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.leaderboard import references
from bench.leaderboard.references import InvalidReferences, lookup, validate

REPO = Path(__file__).resolve().parents[2]
FORCES_SYSTEMS = ("spring", "r1", "r2", "charge")
GNN_VARIANTS = ("gnn", "gnn-bottleneck", "gnn-l1", "gnn-kl", "gnn-prune")
HEGNN_TASKS = ("nbody5h", "nbody20", "nbody50", "nbody100")
HEGNN_ROWS = ("linear", "mpnn", "rf", "egnn", "tfn-l2", "hegnn-l1", "hegnn-l2", "hegnn-l3")
PLANNED_TASKS: set[str] = set()  # families of DESIGN.md not shipped yet
LABELS = {"se3-transformer", "tfn", "tfn-l2", "hegnn-l1", "hegnn-l2", "hegnn-l3"}


def _row(**kw) -> dict:
    row = {"task": "spring", "model": "gnn", "metric": "mae", "value": 0.1, "source": "a paper", "definition": "a sum"}
    return {**row, **kw}


def test_the_shipped_table_loads_and_validates():
    refs = references.references()
    assert list(refs.columns) == list(references.COLUMNS) and len(refs) > 100
    assert (refs["definition"].str.len() > 20).all() and (refs["source"].str.len() > 5).all()
    assert set(references.for_task("nbody5")["model"]) == {"linear", "se3-transformer", "tfn", "mpnn", "rf", "egnn"}
    refs.loc[0, "value"] = -1.0  # a copy: the cached table is not changed
    assert references.references().loc[0, "value"] != -1.0


@pytest.mark.parametrize(
    "task, model, metric, value",
    [  # DESIGN.md, "Reference numbers to reproduce"
        ("spring", "gnn", "loss_sum", 0.047),
        ("spring", "gnn-l1", "loss_sum", 0.045),
        ("r2", "gnn-bottleneck", "loss_sum", 1.640),
        ("charge", "gnn-l1", "loss_sum", 51.9),
        ("damped", "gnn-bottleneck", "loss_sum", 0.328),
        ("discontinuous", "gnn-l1", "loss_sum", 0.044),
        ("charge", "gnn-bottleneck", "force_r2_robust", 0.9953),
        ("r1", "gnn-bottleneck", "force_r2_robust", 0.8387),
        ("charge", "gnn-prune", "force_r2_robust", 0.9977),
        ("spring", "gnn", "force_r2_robust", 0.9196),
        ("charge", "gnn", "force_r2_robust", 0.4663),
        ("charge", "gnn-l1", "recovery", "✓/✗"),
        ("r2", "gnn", "recovery", "✗/✗"),
        ("nbody5", "egnn", "mse", 0.0071),
        ("nbody5", "mpnn", "mse", 0.0107),  # the EGNN paper's "GNN"
        ("nbody5", "linear", "mse", 0.0819),
        ("nbody5h", "egnn", "mse_x100", 0.65),
        ("nbody100", "egnn", "mse_x100", 1.36),
        ("nbody20", "hegnn-l2", "mse_x100", 0.78),
        ("nbody100", "hegnn-l3", "mse_x100", 0.94),
        ("nbody50", "rf", "mse_x100", 4.75),
        ("nbody100", "linear", "mse_x100", 12.69),
        ("types3", "embedding-gnn", "type_accuracy", 1.00),
        ("types3", "embedding-gnn", "interaction_rmse", 5.3e-4),
    ],
)
def test_values_agree_with_the_design(task, model, metric, value):
    assert lookup(task, model, metric) == value


def test_nri_rows_are_per_task_and_rows_differ_by_particle_count(tmp_path):
    assert lookup("springs5", "nri", "edge_accuracy_pct") == 99.9
    assert lookup("kuramoto10", "nri-cnn", "edge_accuracy_pct", n_particles=10, dim=1) == 75.7
    assert lookup("charged10", "nri-supervised", "edge_accuracy_pct") == 94.6
    assert lookup("kuramoto10", "nri-cnn", "edge_accuracy_pct", n_particles=5) is None
    path = tmp_path / "refs.yaml"
    path.write_text(yaml.safe_dump([_row(n_particles=5), _row(n_particles=10)]))
    with pytest.raises(InvalidReferences, match="2 published values .* give n_particles and dim"):
        lookup("spring", "gnn", "mae", path=path)
    assert lookup("spring", "gnn", "mae", n_particles=10, path=path) == 0.1
    assert lookup("spring", "gnn", "loss_sum", n_particles=4, dim=2) == 0.047
    assert lookup("spring", "gnn", "loss_sum", n_particles=8) is None
    assert lookup("spring", "nobody", "loss_sum") is None


def test_every_cell_the_reports_show_is_covered():
    for system in FORCES_SYSTEMS:
        for model in ("gnn", "gnn-bottleneck", "gnn-l1"):
            assert isinstance(lookup(system, model, "loss_sum"), float)
        for model in GNN_VARIANTS:
            assert isinstance(lookup(system, model, "report_mae"), float)
            assert 0 <= lookup(system, model, "force_r2_robust") <= 1
            assert lookup(system, model, "recovery") in {"✓/✓", "✓/✗", "✗/✗"}
    assert [lookup(s, "eql-gnn", "recovery") for s in FORCES_SYSTEMS] == [
        "✓ (every trial)", "near (m_i missing)", "near (m_i missing)", None]  # fmt: skip
    for task in HEGNN_TASKS:
        for model in HEGNN_ROWS:
            assert lookup(task, model, "mse_x100") > 0 and lookup(task, model, "time_relative_to_egnn") > 0
        assert lookup(task, "egnn", "time_relative_to_egnn") == 1.0


def test_tasks_and_models_are_ours_or_declared_labels():
    tasks = {p.stem for p in REPO.glob("tasks/*/conf/task/*.yaml")}
    models = {p.stem for p in REPO.glob("baselines/conf/model/*.yaml")}
    refs = references.references()
    assert set(refs["task"]) - tasks == PLANNED_TASKS
    assert set(refs["model"]) - models == LABELS


@pytest.mark.parametrize(
    "rows, message",
    [
        ([_row(), {k: v for k, v in _row(task="r1").items() if k != "definition"}],
         "row 2 (r1 / gnn / mae): missing key(s) 'definition'"),
        ([_row(), _row(metric="mse"), _row()], "row 3 (spring / gnn / mae): duplicate of row 1 (task=spring"),
        ([_row(n_particles=4), _row(n_particles=4, source="b")], "row 2 (spring / gnn / mae): duplicate of row 1"),
        ([_row(value="0.1")], "row 1 (spring / gnn / mae): the value of metric 'mae' must be a finite number, got '0"),
        ([_row(value=True)], "must be a finite number, got True"),
        ([_row(value=float("nan"))], "must be a finite number, got nan"),
        ([_row(metric="recovery", value=1)], "the value of metric 'recovery' must be a mark (a string), got 1"),
        ([_row(note="x")], "row 1 (spring / gnn / mae): unknown key(s) 'note'; valid: task, model"),
        ([_row(dim=0)], "'dim' must be a positive integer, got 0"),
        ([_row(scale="huge")], "unknown scale 'huge'; valid: tiny, quick, paper"),
        ([_row(model="")], "'model' must be a non-empty string"),
        (["spring"], "row 1: expected a mapping"),
        ({"task": "spring"}, "expected a list of rows, got dict"),
    ],
)  # fmt: skip
def test_a_bad_row_is_rejected_with_its_name(rows, message):
    with pytest.raises(InvalidReferences) as e:
        validate(rows, where="refs.yaml")
    assert message in str(e.value) and str(e.value).startswith("refs.yaml")


def test_rows_differing_only_in_size_are_distinct():
    rows = validate([_row(n_particles=5), _row(n_particles=10), _row(metric="recovery", value="✓/✓")])
    assert [r["n_particles"] for r in rows] == [5, 10, None] and rows[2]["scale"] is None


def test_a_file_is_validated_on_load(tmp_path):
    path = tmp_path / "references.yaml"
    path.write_text(yaml.safe_dump([_row(), _row(model="gnn-l1"), _row()]))
    with pytest.raises(InvalidReferences, match=r"references.yaml, row 3 \(spring / gnn / mae\): duplicate of row 1"):
        references.references(path)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump([_row(), _row(model="gnn-l1", value=0.2)], allow_unicode=True))
    assert list(references.for_task("spring", good)["value"]) == [0.1, 0.2]
    assert lookup("spring", "gnn-l1", "mae", path=good) == 0.2


@pytest.fixture
def patched(tmp_path, monkeypatch):
    """The shipped table with some values changed, in place of references.yaml."""

    def patch(changes: dict[tuple[str, str, str], float]) -> None:
        rows = yaml.safe_load(references.REFERENCES.read_text(encoding="utf-8"))
        for row in rows:
            row["value"] = changes.pop((row["task"], row["model"], row["metric"]), row["value"])
        assert not changes
        path = tmp_path / "references.yaml"
        path.write_text(yaml.safe_dump(rows, allow_unicode=True), encoding="utf-8")
        monkeypatch.setattr(references, "REFERENCES", path)

    return patch


def _forces_record(model: str) -> dict:
    return {"task": "spring", "task_family": "forces", "model": model, "seed": 0, "scale": "tiny",
            "config": {"scale": {"epochs": 2}, "model": {}, "task": {"n_particles": 4, "dim": 2}},
            "train_time_s": 60.0,
            "metrics": {"mae": 0.5, "zero_mae": 2.0, "force_r2_robust": 0.9, "force_r2_full": 0.8}}  # fmt: skip


def test_the_forces_report_shows_the_tables_values(patched):
    from bench.tasks.forces.report import table

    patched({("spring", "gnn-bottleneck", "loss_sum"): 0.0123, ("spring", "gnn-bottleneck", "report_mae"): 4.56,
             ("spring", "gnn-bottleneck", "force_r2_robust"): 0.5})  # fmt: skip
    lines = table([_forces_record("gnn-bottleneck")]).splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]

    def cells(line: str) -> dict[str, str]:
        return dict(zip(header, [c.strip() for c in line.strip("|").split("|")], strict=True))

    row = cells(next(line for line in lines if line.startswith("| spring")))
    assert row["published loss (paper / report)"] == "0.0123 / 4.56" and row["published R²"] == "0.5000"
    assert row["published recovery"] == "✓/✓" and row["model"].startswith("gnn-bottleneck")
    kl = cells(table([_forces_record("gnn-kl")]).splitlines()[-1])
    assert kl["published loss (paper / report)"] == "– / 7.29" and kl["published R²"] == "0.8014"


def _nbody_record(task: str, model: str, **hparams) -> dict:
    return {"task": task, "task_family": "nbody", "model": model, "scale": "paper", "created": "2025-01-01",
            "config": {"model": {"hparams": hparams}, "task": {"simulations": {"paper": 7000}, "split": [3, 2, 2]}},
            "metrics": {"mse": 0.01, "equivariance_error": 1e-6, "time_relative_to_egnn": 1.5,
                        "params_relative_to_egnn": 1.1},
            "training": {"epochs_run": 2, "best_epoch": 2, "batch_size": 100, "history": []},
            "train_time_s": 60.0, "environment": {"torch_threads": 2}}  # fmt: skip


def test_the_nbody_report_shows_the_tables_values(patched):
    from bench.tasks.nbody.report import render, row_name

    patched({("nbody5", "egnn", "mse"): 0.0042, ("nbody20", "hegnn-l2", "mse_x100"): 0.55,
             ("nbody20", "hegnn-l2", "time_relative_to_egnn"): 9.5})  # fmt: skip
    recs = [_nbody_record("nbody5", "egnn"), _nbody_record("nbody20", "hegnn", max_degree=2),
            _nbody_record("nbody20", "mpnn")]  # fmt: skip
    text = render({(r["task"], row_name(r), r["scale"]): r for r in recs})
    lines = text.splitlines()
    assert next(x for x in lines if x.startswith("| egnn |")).split(" | ")[2] == "0.0042"
    hegnn = next(x for x in lines if x.startswith("| nbody20 | hegnn-L2 |")).split(" | ")
    assert hegnn[3] == "0.55" and hegnn[5] == "9.5"
    assert next(x for x in lines if x.startswith("| nbody20 | mpnn |")).split(" | ")[3] == "2.5"
    assert "Published rows without a run here: linear, se3-transformer, tfn, mpnn, rf." in text


def test_a_forces_row_of_another_size_gets_no_numbers_published_for_four_particles():
    """The published 2-D numbers are for 4 particles: an 8-particle 2-D row must not show them."""
    from bench.tasks.forces.report import table

    record = _forces_record("gnn-bottleneck")
    record["config"]["task"]["n_particles"] = 8
    lines = table([record]).splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    row = dict(zip(header, [c.strip() for c in lines[-1].strip("|").split("|")], strict=True))
    assert row["published loss (paper / report)"] == "– / –" and row["published R²"] == "–"
    assert row["published recovery"] == "–"
