"""Fixtures of the leaderboard tests: real tiny runs of the example outside model, made once per session."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from bench.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "my_model" / "pair_force_net.py"
CARD = """\
name: pair-force-net
authors: [Ada Example, Bo Example]
paper: unpublished
code_url: https://example.org/pair-force-net
licence: MIT
hardware: 2-core CPU
"""


def tiny_runs(out: Path, data_root: Path, tasks=("spring",), seeds=(0, 1, 2), model: str = str(EXAMPLE)) -> Path:
    code = main(["run", "-m", f"task={','.join(tasks)}", f"model={model}", f"seed={','.join(map(str, seeds))}",
                 "scale=tiny", "sr=none", "progress=false", f"out={out}", f"data_dir={data_root}"])  # fmt: skip
    assert code == 0
    return out


@pytest.fixture(scope="session")
def session_runs(tmp_path_factory, data_root) -> Path:
    """``runs/spring/pair-force-net/tiny-seed{0,1,2}-*``: three real runs of the example model."""
    return tiny_runs(tmp_path_factory.mktemp("runs"), data_root)


@pytest.fixture
def runs(session_runs, tmp_path) -> Path:
    """A private copy of the session's runs, free to tamper with."""
    return Path(shutil.copytree(session_runs, tmp_path / "runs"))


@pytest.fixture
def card(tmp_path) -> Path:
    path = tmp_path / "card.yaml"
    path.write_text(textwrap.dedent(CARD))
    return path
