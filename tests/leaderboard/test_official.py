"""``python -m bench.leaderboard.official``: the official records of a baseline, made and submitted through the
usual validation; adding a task keeps the tasks its folder already holds."""

from __future__ import annotations

import shutil

import pytest

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
    with pytest.raises(SystemExit, match="springs5.*rerun them"):
        official.main(["--tasks", "charged5", *common])
    assert sorted(p.name for p in (out / "static").iterdir() if p.is_dir()) == held  # nothing lost
