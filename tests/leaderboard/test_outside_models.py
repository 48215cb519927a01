"""Models from outside the package: by file path (with or without a card beside it) and by entry point."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bench.cli import main
from bench.config import compose, expand_sweep, model_card
from bench.errors import BenchError
from bench.registry import model_class, model_names
from bench.run import build_model
from bench.tasks.forces import task_spec

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "my_model" / "pair_force_net.py"

TINY_MODEL = """
import torch
import bench
from bench.model import mlp


class {name}(bench.Model):
    families = ("forces",)

    def __init__(self, spec, width: int = 16, depth: int = 1):
        super().__init__(spec)
        self.net = mlp([2 * spec.dim] + [width] * depth + [spec.target_dim])

    def forward(self, batch):
        return self.net(torch.cat([batch.position, batch.velocity], dim=-1))
"""


def _write(folder: Path, filename: str, *classes: str, card: str | None = None) -> Path:
    path = folder / filename
    path.write_text("\n".join(textwrap.dedent(TINY_MODEL.format(name=c)) for c in classes))
    if card is not None:
        path.with_suffix(".yaml").write_text(textwrap.dedent(card))
    return path


def test_example_by_path_reads_the_card_beside_it():
    cfg = compose(["task=spring", f"model={EXAMPLE}:PairForceNet"])
    assert cfg.model.name == "pair-force-net" and cfg.model.hparams.hidden == 64 and cfg.model.train.lr == 3e-3
    # keys the card leaves out come from the defaults
    assert cfg.model.train.optimizer == "adam" and cfg.model.train.weight_decay == 1e-8
    assert cfg.model.source.kind == "path" and cfg.model.source.sha256.startswith("sha256:")
    model = build_model(cfg, task_spec(cfg.task))
    assert type(model).__name__ == "PairForceNet" and "edge_messages" in type(model).capabilities()


def test_relative_path_without_class_name_and_hparam_override(monkeypatch):
    monkeypatch.chdir(REPO)
    cfg = compose(["task=charge", "model=examples/my_model/pair_force_net.py", "model.hparams.hidden=8"])
    model = build_model(cfg, task_spec(cfg.task))
    assert model.pair_force[0].out_features == 8


def test_card_less_model_gets_defaults(tmp_path):
    path = _write(tmp_path, "plain.py", "PlainNet")
    card = model_card(f"{path}:PlainNet")
    assert card.name == "plainnet" and card.version == 1 and list(card.families) == ["forces"]
    assert dict(card.hparams) == {"width": 16, "depth": 1}  # the constructor's defaults
    assert card.train.lr == 1e-3 and card.source.card is None
    assert model_class(card).__name__ == "PlainNet"


def test_class_specific_card_wins_over_file_card(tmp_path):
    path = _write(tmp_path, "two.py", "NetA", "NetB", card="name: two-a\nhparams: {width: 4}\n")
    (tmp_path / "two.NetB.yaml").write_text("name: two-b\nhparams: {width: 5, depth: 2}\n")
    assert model_card(f"{path}:NetA").name == "two-a"
    card_b = model_card(f"{path}:NetB")
    assert card_b.name == "two-b" and card_b.hparams.depth == 2


def test_sweep_mixes_shipped_and_outside_models():
    combos = expand_sweep(["task=spring", f"model=gnn,{EXAMPLE}", "seed=0,1"])
    assert len(combos) == 4 and [c[1] for c in combos[::2]] == ["model=gnn", f"model={EXAMPLE}"]


@pytest.mark.parametrize(
    "files, spec, message",
    [
        ({}, "missing.py:Net", "model file 'missing.py' (from model=missing.py:Net) does not exist"),
        ({"a.py": ["Net"]}, "a.py:Nte", "has no class 'Nte'; did you mean 'Net'? bench.Model subclasses in it: Net"),
        ({"b.py": ["N1", "N2"]}, "b.py", "defines 2 bench.Model subclasses (N1, N2); name one: model=b.py:ClassName"),
        ({"c.py": ["Net"], "c.yaml": "nmae: x\n"}, "c.py:Net", "unknown key 'nmae'; did you mean 'name'?"),
        ({"d.py": ["Net"], "d.yaml": "train: {l: 1}\n"}, "d.py:Net", "unknown key 'train.l'"),
        ({"e.py": ["Net"], "e.yaml": "name: gnn\n"}, "e.py:Net", "model name 'gnn' is taken by a shipped model"),
        ({"f.py": ["Net"], "f.yaml": "name: My Net\n"}, "f.py:Net", "model name 'My Net' must be lower case"),
    ],
)
def test_bad_outside_model_is_a_clear_error(files, spec, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, content in files.items():
        if name.endswith(".py"):
            _write(tmp_path, name, *content)
        else:
            (tmp_path / name).write_text(content)
    with pytest.raises(BenchError) as e:
        compose(["task=spring", f"model={spec}"])
    assert message in str(e.value)


def test_unknown_name_mentions_the_file_form(capsys):
    assert main(["run", "task=spring", "model=nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'nope'" in err and "model=path/to/my_model.py:ClassName" in err


@pytest.fixture
def installed_package(tmp_path, monkeypatch):
    """A package installed the way pip installs one: a module plus a dist-info with its entry points."""
    _write(tmp_path, "acme_models.py", "AcmeNet", card="hparams: {width: 12}\n")
    info = tmp_path / "acme_models-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-models\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bench.models]\nacme = acme_models:AcmeNet\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_entry_point_model_runs_like_a_baseline(installed_package, tmp_path, data_root, capsys):
    assert "acme" in model_names()
    card = model_card("acme")
    assert card.name == "acme" and card.hparams.width == 12 and card.source.kind == "entry_point"
    code = main(["run", "task=spring", "model=acme", "scale=tiny", f"out={tmp_path / 'runs'}",
                 f"data_dir={data_root}", "progress=false"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    record = json.loads(Path(out.strip().splitlines()[-1].removeprefix("result record: ")).read_text())
    assert record["model"] == "acme" and record["model_class"] == "acme_models:AcmeNet"
    assert main(["list"]) == 0 and "acme" in capsys.readouterr().out
