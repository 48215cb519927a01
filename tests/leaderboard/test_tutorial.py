"""docs/tutorial.md, step by step: an outside model run on two tasks with three seeds, submitted, and
shown on the leaderboard beside the official baselines. The commands are the tutorial's own (checked
to appear in it), plus the options that keep a test's files in its temporary folder."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from bench.cli import main

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = (REPO / "docs" / "tutorial.md").read_text()
RUN = (
    "bench run -m task=spring,charge model=examples/my_model/pair_force_net.py:PairForceNet seed=0,1,2 "
    "scale=tiny sr=none"
)
RESULTS = "bench results --task spring charge"
SUBMIT = "bench submit runs/spring/pair-force-net runs/charge/pair-force-net --card examples/my_model/submission.yaml"


def _bench(capsys, command: str, *extra: str) -> tuple[int, str, str]:
    code = main([*shlex.split(command)[1:], *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_tutorial_end_to_end(tmp_path, data_root, capsys, monkeypatch):
    for command in (RUN, RESULTS, SUBMIT + " --dry-run", "bench leaderboard"):
        assert command in TUTORIAL, f"the tutorial no longer says: {command}"
    monkeypatch.chdir(REPO)  # the tutorial's paths are relative to the repository root
    runs = tmp_path / "runs"

    code, out, err = _bench(capsys, RUN, f"out={runs}", f"data_dir={data_root}", "progress=false")
    assert code == 0, err
    assert "sweep finished: 6 done, 0 failed" in out

    # the tiny-scale records that were official before the quick ones (now test fixtures) stand in for the store
    fixtures = REPO / "tests" / "fixtures" / "official_tiny"
    code, out, _ = _bench(capsys, RESULTS, "--runs", str(runs), "--official", str(fixtures))
    assert code == 0
    mine = [line for line in out.splitlines() if "pair-force-net (local)" in line]
    assert len(mine) == 2 and all(" 3 " in line for line in mine)  # spring and charge, 3 seeds each
    assert any(" gnn " in line for line in out.splitlines())  # the official baselines beside it

    submit = SUBMIT.replace("runs/", f"{runs}/")
    code, out, err = _bench(capsys, submit, "--dry-run", "--data-dir", str(data_root))
    assert code == 0, err
    assert "valid: model 'pair-force-net', 6 runs" in out and "nothing was written" in out
    out_dir = tmp_path / "submissions"
    code, out, err = _bench(capsys, submit, "--data-dir", str(data_root), "--out", str(out_dir))
    assert code == 0, err
    card = yaml.safe_load((out_dir / "pair-force-net" / "card.yaml").read_text())
    assert card["authors"] == ["Ada Example"] and set(card["training_data"]) == {"spring v2 tiny", "charge v2 tiny"}

    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("BENCH_RUNS", str(runs))
    monkeypatch.setenv("BENCH_OFFICIAL", str(fixtures))
    at = AppTest.from_file(str(REPO / "leaderboard" / "app.py"), default_timeout=120)
    at.query_params["scale"] = "tiny"
    at.run()
    assert not at.exception
    matrix = at.dataframe[-1].value  # the task × model matrix, below the tasks and their leaders
    assert {"pair-force-net (local)", "gnn", "egnn"} <= set(matrix.index)
    assert {"spring · mae ↓", "charge · mae ↓"} <= set(matrix.columns)
    assert matrix.loc["pair-force-net (local)"].notna().all()
