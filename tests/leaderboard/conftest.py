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


SECOND_MODEL = """\
import torch

import bench
from bench.model import mlp


class VelocityNet(bench.Model):
    \"\"\"A deliberately weak model: each particle's acceleration from its own state, no interactions.\"\"\"

    families = ("forces",)

    def __init__(self, spec, hidden: int = 16):
        super().__init__(spec)
        self.net = mlp([2 * spec.dim, hidden, spec.target_dim])

    def forward(self, batch):
        return self.net(torch.cat([batch.position, batch.velocity], dim=-1))
"""


@pytest.fixture(scope="session")
def session_runs(tmp_path_factory, data_root) -> Path:
    """Real tiny runs, seeds 0, 1, 2 on spring: ``spring/pair-force-net/`` (the example model) and
    ``spring/velocitynet/`` (a card-less second model, for comparisons)."""
    root = tmp_path_factory.mktemp("runs")
    tiny_runs(root, data_root)
    second = tmp_path_factory.mktemp("models") / "velocity_net.py"
    second.write_text(SECOND_MODEL)
    tiny_runs(root, data_root, model=f"{second}:VelocityNet")
    return root


@pytest.fixture
def runs(session_runs, tmp_path) -> Path:
    """A private copy of the example model's runs, free to tamper with."""
    return Path(shutil.copytree(session_runs / "spring" / "pair-force-net", tmp_path / "runs"))


@pytest.fixture(scope="session")
def fixture_store(session_runs, data_root, tmp_path_factory) -> tuple[Path, Path]:
    """(official store, local runs): the example model submitted as official, both models' runs local."""
    from bench.leaderboard import submit

    card = tmp_path_factory.mktemp("card") / "card.yaml"
    card.write_text(CARD)
    official = tmp_path_factory.mktemp("official")
    sub = submit.validate([session_runs / "spring" / "pair-force-net"], card, data_root)
    submit.write(sub, official)
    return official, session_runs


@pytest.fixture
def card(tmp_path) -> Path:
    path = tmp_path / "card.yaml"
    path.write_text(textwrap.dedent(CARD))
    return path
