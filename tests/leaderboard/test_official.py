"""``python -m bench.leaderboard.official``: the official records of a baseline, made and submitted through the
usual validation; adding a task keeps the tasks its folder already holds."""

from __future__ import annotations

import shutil

import pytest

from bench.errors import BenchError
from bench.leaderboard import official


def test_adding_a_task_keeps_the_others_and_a_lost_run_is_named(tmp_path, data_root):
    runs, out = tmp_path / "runs", tmp_path / "out"
    common = ["--models", "static", "--scale", "tiny", "--seeds", "0", "1", "2", "--runs", str(runs),
              "--out", str(out), "--data-dir", str(data_root)]  # fmt: skip
    assert official.main(["--tasks", "springs5", *common]) == 0
    assert official.main(["--tasks", "charged5", *common]) == 0
    held = sorted(p.name for p in (out / "static").iterdir() if p.is_dir())
    assert held == ["charged5", "springs5"]  # the second submission replaced the folder and kept springs5
    assert len(list((out / "static" / "springs5").glob("*/result.json"))) == 3
    shutil.rmtree(runs / "springs5")
    with pytest.raises(BenchError, match="springs5.*rerun them"):
        official.main(["--tasks", "charged5", *common])
    assert sorted(p.name for p in (out / "static").iterdir() if p.is_dir()) == held  # nothing lost


def test_bench_sweep_official_runs_every_compatible_pair_on_a_launcher_and_submits(tmp_path, data_root, capsys):
    """`bench sweep official` on a subset: spring (force law) and springs5 (relational) × the two parameter-free
    relational baselines; only the compatible pairs run (2 pairs × 3 seeds), in parallel, and both are submitted."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher", reason="the cluster extra: pip install -e '.[cluster]'")
    from bench.cli import main

    runs, out = tmp_path / "runs", tmp_path / "out"
    args = ["sweep", "official", "--tasks", "spring", "springs5", "--models", "static", "corr", "--scale", "tiny",
            "--runs", str(runs), "--out", str(out), "--data-dir", str(data_root)]  # fmt: skip
    assert main([*args, "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "official sweep: 6 runs (2 task × baseline pairs × 3 seeds) at scale tiny:" in dry
    assert "  static: springs5\n  corr: springs5\n" in dry and "task=spring " not in dry
    assert "dry run: every job checked (6); nothing was run" in dry and not runs.exists()

    assert main([*args, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]) == 0
    printed = capsys.readouterr().out
    assert "sweep finished: 6 done, 0 failed" in printed and "launcher joblib" in printed
    for model in ("static", "corr"):
        assert f"official records of {model}: {out / model}" in printed
        assert len(list((out / model / "springs5").glob("*/result.json"))) == 3
        assert (out / model / "card.yaml").is_file()


def test_bench_sweep_names_an_unknown_sweep_or_baseline(capsys):
    from bench.cli import main

    assert main(["sweep", "oficial"]) == 2
    assert "unknown sweep 'oficial'; did you mean 'official'? valid: official" in capsys.readouterr().err
    assert main(["sweep", "official", "--models", "gnnn", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "unknown official baseline (leaderboard/baselines.yaml) 'gnnn'; did you mean 'gnn'?" in err
    assert main(["sweep", "official", "--dry-run", "seed=3"]) == 2
    assert "'seed=3': only launcher settings" in capsys.readouterr().err
    assert main(["sweep", "official", "--models", "static", "--tasks", "springs5", "--dry-run", "--extra",
                 "threads=2", "hydra/launcher=jobib"]) == 2  # fmt: skip
    assert "unknown launcher 'jobib'; did you mean 'joblib'?" in capsys.readouterr().err
