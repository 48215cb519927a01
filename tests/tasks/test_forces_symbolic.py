"""Symbolic regression of edge messages: engines, Pareto front, choice, and the stage in a real run."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch

from bench.cli import main
from bench.config import task_card
from bench.errors import BenchError
from bench.tasks.data import generate_dataset
from bench.tasks.forces import TaskData
from bench.tasks.forces.recovery import RecoveryScore, fresh_pairs, variable_names
from bench.tasks.forces.symbolic import choose, edge_inputs, get_engine, pareto, run_sr


@functools.cache
def pysr_importable() -> bool:
    """Whether PySR imports here (importing it starts Julia, so only when a test asks)."""
    try:
        import pysr  # noqa: F401
    except Exception:  # ImportError, or Julia missing
        return False
    return True


SMALL = {"name": "operon", "edges": 2000, "generations": 150, "population_size": 500, "max_length": 30,
         "operators": "add,sub,mul,div,constant,variable", "time_limit_s": 120, "seed": 0}  # fmt: skip


def test_pareto_keeps_the_non_dominated_and_choose_follows_pysr_score():
    front = pareto([
        {"complexity": 3, "mse": 1.0}, {"complexity": 5, "mse": 0.5}, {"complexity": 5, "mse": 0.9},
        {"complexity": 7, "mse": 0.6}, {"complexity": 9, "mse": 1e-4}, {"complexity": 15, "mse": 5e-5},
    ])  # fmt: skip
    assert [(e["complexity"], e["mse"]) for e in front] == [(3, 1.0), (5, 0.5), (9, 1e-4), (15, 5e-5)]
    # scores: log(2)/2 = 0.35, log(5000)/4 = 2.1, log(2)/6 = 0.12
    assert choose(front) == 2


def test_edge_inputs_are_in_the_batch_edge_order(data_root):
    card = task_card("charge")
    data = TaskData(generate_dataset(card, "tiny", root=data_root, progress=False), card)
    index = torch.arange(7)
    x = edge_inputs(data.batch("test", index)[0], 2)
    names = variable_names(2)
    assert x.shape == (7 * 12, len(names))
    # the true pair force recomputed from the inputs alone equals the data's, edge by edge
    r = x[:, names.index("rp")] - 0.01
    qq = x[:, names.index("q_i")] * x[:, names.index("q_j")]
    force = (qq / x[:, names.index("rp")] ** 2 / r)[:, None] * x[:, :2]
    assert np.allclose(force, data.pair_forces("test", index), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_operon_finds_the_spring_law_in_exact_messages():
    """Messages that are a rotated, scaled, shifted spring force: the front holds the law, and a
    message made of the r1 law on the same pairs never passes as spring."""
    x, f = fresh_pairs("spring", 2, 0.3, 3.5, 5000, seed=5)
    score = RecoveryScore("spring", 2, (0.4, 3.2))
    messages = np.column_stack([f @ [0.8, -0.3] + 0.1, f @ [0.2, 0.9]])
    probe = {"components": [{"component": 0}, {"component": 1}]}
    out = run_sr({"messages": messages, "edge_inputs": x}, probe, SMALL, score, 2, threads=1, progress=False)
    assert out["engine"] == "operon" and out["edges"] == 2000 and len(out["components"]) == 2
    for comp in out["components"]:
        front = comp["front"]
        assert [e["complexity"] for e in front] == sorted(e["complexity"] for e in front)
        assert all(e["latex"] and isinstance(e["recovered"], bool) for e in front)
        assert any(e["recovered"] for e in front), [e["expression"] for e in front]
        assert comp["time_s"] < 300
    assert out["recovered_on_front"]

    _, f_r1 = fresh_pairs("r1", 2, 0.3, 3.5, 5000, seed=5)
    wrong = {"messages": np.column_stack([f_r1 @ [1.0, 0.0], f_r1 @ [0.0, 1.0]]), "edge_inputs": x}
    out = run_sr(wrong, probe, SMALL, score, 2, threads=1, progress=False)
    assert not out["recovered"] and not out["recovered_on_front"]


def test_engine_errors_name_the_choices():
    with pytest.raises(BenchError, match=r"unknown symbolic-regression engine 'eureqa'; valid: none, operon, pysr"):
        get_engine({"name": "eureqa"})
    with pytest.raises(BenchError, match=r"unknown symbolic-regression operator\(s\) \['pow'\]"):
        get_engine({**SMALL, "operators": "add,pow"}).fit(np.zeros((4, 8)), np.zeros(4), variable_names(2))
    if not pysr_importable():
        with pytest.raises(BenchError, match=r"sr=pysr is not available here.*Valid engines: operon"):
            get_engine({"name": "pysr"})


def test_a_missing_engine_stops_the_run_before_data_or_training(tmp_path, capsys):
    if pysr_importable():
        pytest.skip("PySR is installed here")
    out, data = tmp_path / "runs", tmp_path / "data"
    argv = ["run", "task=spring", "model=gnn-bottleneck", "scale=tiny", "sr=pysr", f"out={out}", f"data_dir={data}"]
    assert main(argv) == 2
    assert "sr=pysr is not available here" in capsys.readouterr().err
    assert not out.exists() and not data.exists()  # nothing simulated, trained or written


@pytest.mark.slow
def test_a_run_records_the_front_the_choice_and_the_verdicts(tmp_path, data_root, capsys):
    overrides = ["task=spring", "model=gnn-bottleneck", "scale=tiny", f"out={tmp_path}", f"data_dir={data_root}",
                 "progress=false", "sr.generations=30", "sr.population_size=200", "sr.edges=1000"]  # fmt: skip
    assert main(["run", *overrides]) == 0
    path = capsys.readouterr().out.strip().splitlines()[-1].removeprefix("result record: ")
    record = json.loads(open(path).read())
    symbolic = record["analyses"]["symbolic"]
    assert symbolic["engine"] == "operon" and symbolic["edges"] == 1000
    assert symbolic["variables"] == ["dx", "dy", "rp", "m_i", "m_j", "q_i", "q_j"]
    chosen = [c["component"] for c in symbolic["components"]]
    assert chosen == [c["component"] for c in record["analyses"]["force_probe"]["components"]]
    for comp in symbolic["components"]:
        entry = comp["front"][comp["chosen"]]
        assert comp["expression"] == entry["expression"] and comp["latex"] == entry["latex"]
        assert set(entry["numeric"]) >= {"r2_inside", "r2_outside", "intercept", "force_coefficients"}
    assert symbolic["recovered"] in (True, False) and symbolic["recovered_on_front"] in (True, False)
    assert "law_recovered" not in record["metrics"]  # an analysis of the run: not re-scored from saved arrays
    # the same command with sr=none re-evaluates the finished run in its folder, without the stage
    assert main(["run", *overrides[:-3], "sr=none"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith(path)
    assert "symbolic" not in json.loads(open(path).read())["analyses"]
