"""`bench report family=forces`: records of real (tiny) runs grouped per system, model and budget."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.tasks.forces.report import HEADER, load_records, table


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_root):
    """Tiny spring runs of gnn and gnn-bottleneck at seeds 0 and 1, without symbolic regression."""
    runs = tmp_path_factory.mktemp("report") / "runs"
    common = ["scale=tiny", f"out={runs}", f"data_dir={data_root}", "progress=false", "sr=none"]
    assert main(["run", "-m", "task=spring", "model=gnn-bottleneck,gnn", "seed=0,1", *common]) == 0
    return runs


def test_report_groups_seeds_and_shows_published_numbers(runs, tmp_path, capsys):
    out = tmp_path / "REPORT.md"
    assert main(["report", "family=forces", "--runs", str(runs), "--out", str(out)]) == 0
    assert f"4 records → report: {out}" in capsys.readouterr().out
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| spring")]
    assert len(rows) == 2 and rows[0].startswith("| spring | gnn | tiny, 2 epochs, fp32 | 0, 1 |")
    bottleneck = dict(zip(HEADER, rows[1].strip("| ").split(" | "), strict=True))
    assert [bottleneck[k] for k in ("model", "budget", "seeds")] == ["gnn-bottleneck", "tiny, 2 epochs, fp32", "0, 1"]
    assert bottleneck["published loss (paper / report)"] == "0.046 / 0.16"
    assert bottleneck["published R²"] == "1.0000" and bottleneck["published recovery"] == "✓/✓"
    assert " ± " in bottleneck["test MAE"]  # mean ± std over the two seeds
    assert bottleneck["MAE of 0"].endswith(" ± 0")  # predicting zero: the same test split for both seeds
    assert bottleneck["recovered (chosen)"] == "–"  # no symbolic regression was run (sr=none)
    assert bottleneck["exactly or up to m_i/m_j (chosen / front)"] == "– / –"
    over_mi, over_mj = bottleneck["R² robust F/m_i / F/m_j"].split(" / ")  # the probe's fits up to a mass factor
    assert " ± " in over_mi and " ± " in over_mj
    lo, hi = (float(v) for v in bottleneck["MAE of 0, 90 % CI"].strip("[]").split(", "))
    assert lo < float(bottleneck["MAE of 0"].split(" ± ")[0]) < hi  # the dataset is still on disk
    assert "the paper nor the report publishes the loss of predicting zero" in text


def test_report_rejects_unknown_names(tmp_path, capsys):
    from bench.family import family_names

    assert main(["report", "family=force"]) == 2
    err = capsys.readouterr().err
    assert "unknown task family 'force'; did you mean 'forces'? valid: " in err
    assert err.strip().endswith("valid: " + ", ".join(family_names()))
    assert main(["report", "family=forces", "--systems", "sprin", "--out", str(tmp_path / "r.md")]) == 2
    assert "unknown report system 'sprin'; did you mean 'spring'?" in capsys.readouterr().err
    assert not (tmp_path / "r.md").exists()


@pytest.mark.parametrize(
    "argv, expected",
    [(["report", "--help"], "bench report family=NAME --help"), (["report", "family=forces", "--help"], "--epochs")],
)
def test_report_help(argv, expected, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0 and expected in capsys.readouterr().out


def _with_front(record: dict, seed: int, recovered: list[bool]) -> dict:
    """``record`` as seed ``seed`` whose symbolic stage found the law for the components marked True."""
    front = [{"latex": f"c_{{{seed},{k}}} \\Delta x", "recovered": ok} for k, ok in enumerate(recovered)]
    symbolic = {"recovered": all(recovered), "recovered_on_front": all(recovered),
                "components": [{"front": [e]} for e in front]}  # fmt: skip
    return {**record, "seed": seed, "analyses": {**record["analyses"], "symbolic": symbolic}}


def test_report_shows_a_seed_whose_every_component_was_recovered(runs):
    record = next(r for r in load_records([runs]) if r["model"] == "gnn-bottleneck")
    records = [_with_front(record, 0, [True, False]), _with_front(record, 1, [True, True])]
    text = table(records)
    row = dict(zip(HEADER, next(line for line in text.splitlines() if line.startswith("| spring")).strip("| ")
                   .split(" | "), strict=True))  # fmt: skip
    assert row["recovered (chosen)"] == row["recovered (front)"] == "1/2"  # seed 1 only
    # seed 0 comes first but recovered one component of two: the example shown is seed 1's
    assert "- spring, gnn-bottleneck, tiny, 2 epochs, fp32, seed 1 (2 of 2 components): $c_{1,0}" in text
    partial = table(records[:1])
    assert "seed 0 (1 of 2 components): $c_{0,0} \\Delta x$" in partial and "c_{0,1}" not in partial


def _row(text: str, system: str) -> dict[str, str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {system} "))
    return dict(zip(HEADER, line.strip("| ").split(" | "), strict=True))


def _as(record: dict, task: str, seed: int, mae: float, zero_mae: float) -> dict:
    metrics = {**record["metrics"], "mae": mae, "zero_mae": zero_mae, "relative_mae": mae / zero_mae}
    return {**record, "task": task, "seed": seed, "metrics": metrics}


def test_losses_are_converted_to_the_papers_sum_per_graph(runs):
    """Cranmer et al.'s loss sums |error| over a graph's n·d = 4 × 2 components: MAE 0.1 on spring is 0.8."""
    record = next(r for r in load_records([runs]) if r["model"] == "gnn-bottleneck")
    assert record["config"]["task"]["n_particles"] * record["config"]["task"]["dim"] == 8
    row = _row(table([_as(record, "spring", 0, 0.1, 0.4), _as(record, "spring", 1, 0.1, 0.4)]), "spring")
    assert row["test MAE"] == "0.1 ± 0" and row["ours per graph: MAE × n·d"] == "0.8 ± 0"
    assert row["MAE of 0 × n·d"] == "3.2 ± 0" and row["MAE / MAE of 0"] == "0.25 ± 0"
    assert row["published loss (paper / report)"] == "0.046 / 0.16"  # theirs, beside ours in their definition
    # n·d is read from the run's task card, never assumed: 8 particles in 3-D sum 24 components
    big = _as(record, "spring", 0, 0.1, 0.4)
    big["config"] = {**record["config"], "task": {**record["config"]["task"], "n_particles": 8, "dim": 3}}
    row = _row(table([big, _as(record, "spring", 1, 0.1, 0.4)]), "spring")  # the 4 × 2 run is a row of its own
    assert row["model"] == "gnn-bottleneck (n=8, d=3)" and row["seeds"] == "0"
    assert row["ours per graph: MAE × n·d"] == "2.4" and row["MAE of 0 × n·d"] == "9.6"
    assert row["published loss (paper / report)"] == "– / –"  # published for 4 particles in 2-D: not beside it


def test_published_damped_numbers_are_marked_as_another_definition(runs):
    record = next(r for r in load_records([runs]) if r["model"] == "gnn-bottleneck")
    text = table([_as(record, "damped", 0, 0.1, 0.4), _as(record, "spring", 0, 0.1, 0.4)])
    damped, spring = _row(text, "damped"), _row(text, "spring")
    assert damped["published loss (paper / report)"] == "0.328† / –"
    assert spring["published loss (paper / report)"] == "0.046 / 0.16"  # no dagger on a system defined as theirs
    assert "† `damped`: our `damped` system damps every particle uniformly" in text
    assert "not comparable with ours" in text
    assert "† `damped`" not in table([_as(record, "spring", 0, 0.1, 0.4)])  # the note only with a damped row


def test_recovery_up_to_a_mass_factor_is_counted_apart(runs):
    record = next(r for r in load_records([runs]) if r["model"] == "gnn-bottleneck")
    over_mass = {"latex": "m_{j} \\Delta x", "recovered": False, "recovered_mass_factor": True, "mass_factor": "m_i"}
    symbolic = {"recovered": False, "recovered_on_front": False, "recovered_up_to_mass": True,
                "recovered_up_to_mass_on_front": True, "components": [{"front": [over_mass]}]}  # fmt: skip
    with_mass = {**record, "task": "r1", "seed": 0, "analyses": {**record["analyses"], "symbolic": symbolic}}
    old = {**record, "task": "r1", "seed": 1,
           "analyses": {**record["analyses"], "symbolic": {**symbolic, "recovered_up_to_mass": None,
                                                          "recovered_up_to_mass_on_front": None}}}  # fmt: skip
    text = table([with_mass, old])
    row = _row(text, "r1")
    assert row["recovered (chosen)"] == "0/2" and row["recovered (front)"] == "0/2"
    assert row["exactly or up to m_i/m_j (chosen / front)"] == "1/1 / 1/1"  # the older record has no verdict
    assert "(\\text{up to } m_i)" in text


def test_the_zero_baseline_interval_resamples_simulations():
    import numpy as np

    from bench.tasks.forces.report import zero_mae_interval

    rng = np.random.default_rng(0)
    scale = np.exp(rng.standard_normal(200))[:, None, None, None]  # simulations of very different scales
    acceleration = scale * rng.standard_normal((200, 10, 4, 2))
    lo, hi = zero_mae_interval(acceleration)
    assert lo < np.abs(acceleration).mean() < hi
    # one simulation's snapshots are not independent: the interval is as wide as the simulations' spread says
    per_sim = np.abs(acceleration).reshape(200, -1).mean(1)
    assert hi - lo == pytest.approx(2 * 1.645 * per_sim.std() / np.sqrt(200), rel=0.15)
    assert zero_mae_interval(np.ones((5, 3, 4, 2))) == (1.0, 1.0)


def test_records_of_an_older_task_or_model_version_are_left_out(runs, tmp_path, capsys):
    """Version 1 of the force family had a 150-simulation test split, version 1 of the Cranmer cards their penalties at
    8/3 of the reference's strength: such records must not be pooled with today's, nor count as done for --run."""
    import json
    import shutil

    current = load_records([runs])
    assert current and all(r["config"]["task"]["version"] == 2 for r in current)
    old = tmp_path / "old"
    for k, (key, value) in enumerate([("task", 1), ("model", 1)]):
        folder = old / str(k)
        shutil.copytree(current[0]["_path"].rsplit("/", 1)[0], folder)
        record = json.loads((folder / "result.json").read_text())
        record["config"][key]["version"] = value
        (folder / "result.json").write_text(json.dumps(record))
    capsys.readouterr()
    assert load_records([old]) == []
    assert "left out 2 force-family record(s) of an older task or model version" in capsys.readouterr().err
    assert len(load_records([runs, old])) == len(current)
