"""`bench report family=forces`: records of real (tiny) runs grouped per system, model and budget."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.tasks.forces.report import load_records, table


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
    bottleneck = rows[1].split(" | ")
    assert bottleneck[1:4] == ["gnn-bottleneck", "tiny, 2 epochs, fp32", "0, 1"]
    assert bottleneck[6] == "0.046 / 0.16" and bottleneck[8] == "1.0000" and bottleneck[12] == "✓/✓"
    assert " ± " in bottleneck[4]  # mean ± std over the two seeds
    assert bottleneck[5].endswith(" ± 0")  # predicting zero: the same test split for both seeds
    assert bottleneck[10] == "–"  # no symbolic regression was run (sr=none)


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
    row = next(line for line in text.splitlines() if line.startswith("| spring")).split(" | ")
    assert row[10:12] == ["1/2", "1/2"]  # chosen and front: seed 1 only
    # seed 0 comes first but recovered one component of two: the example shown is seed 1's
    assert "- spring, gnn-bottleneck, tiny, 2 epochs, fp32, seed 1 (2 of 2 components): $c_{1,0}" in text
    partial = table(records[:1])
    assert "seed 0 (1 of 2 components): $c_{0,0} \\Delta x$" in partial and "c_{0,1}" not in partial
