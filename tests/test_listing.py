"""A CLI that answers at once: ``bench --help``, ``bench list`` and ``bench results`` import no torch, and the
listing reads the cards' YAML files instead of composing every task and model with Hydra; what it reads is
what Hydra composes, card by card."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import bench.config
from bench.cli import main
from bench.config import (
    _read_simple_card,
    _yaml_loader,
    all_groups,
    group_options,
    hydra_card,
    hydra_group_options,
    listed_card,
)
from bench.errors import BenchError
from bench.identity import config_hash, config_id
from bench.loading import import_class
from bench.registry import check_card_capabilities, model_capabilities, model_families

SHIPPED = [(group, name) for group in all_groups() for name in group_options(group)]

PROBE = """
import contextlib, io, sys
from bench.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as e:  # --help
        code = e.code
print(code, [m for m in ("torch", "hydra") if m in sys.modules])
"""


@pytest.mark.parametrize(
    "args, absent",
    [
        (["--help"], ["torch", "hydra"]),
        (["list"], ["torch", "hydra"]),
        (["results", "--runs"], ["torch"]),  # only the official records
    ],
)
def test_help_list_and_results_import_no_torch(args, absent):
    """In a fresh interpreter: what a command imported stays in ``sys.modules``."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    code, imported = proc.stdout.strip().splitlines()[-1].split(" ", 1)
    assert code == "0"
    assert not set(absent) & set(json.loads(imported.replace("'", '"'))), f"bench {' '.join(args)} imported {imported}"


def test_list_composes_nothing(monkeypatch, capsys):
    """Every shipped card is read from its file: Hydra's compose is never called."""

    def refuse(*args, **kwargs):
        raise AssertionError("bench list composed a configuration")

    monkeypatch.setattr(bench.config, "compose", refuse)
    monkeypatch.setattr(bench.config, "compose_unchecked", refuse)
    monkeypatch.setattr(bench.config, "hydra_card", refuse)
    bench.config._listed_card.cache_clear()
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "gnn-bottleneck  v2 bench.baselines.gnn:GNN  families ['forces']  capabilities: edge_messages" in out
    assert "  spring          family forces, v2, 4 particles in 2-D, target acceleration, metric mae" in out


@pytest.mark.parametrize("group", all_groups())
def test_group_options_agree_with_hydra(group):
    assert group_options(group) == hydra_group_options(group)


@pytest.mark.parametrize("group, name", SHIPPED, ids=[f"{g}/{n}" for g, n in SHIPPED])
def test_the_card_read_from_its_file_is_the_one_hydra_composes(group, name):
    """Same keys, same values, same types (``1.0e-3`` a float, ``4`` an int), for every shipped card."""
    assert _read_simple_card(group, name, bench.config._roots()) is not None, "a shipped card needs Hydra"
    fast, composed = listed_card(group, name), hydra_card(group, name)
    assert json.dumps(fast, sort_keys=True) == json.dumps(composed, sort_keys=True)


def test_yaml_reads_scalars_as_omegaconf_does():
    text = "a: 1e-3\nb: 1.0e-3\nc: 10\nd: 2020-01-01\ne: .inf\nf: null\ng: true\n"
    import yaml

    assert yaml.load(text, Loader=_yaml_loader()) == {  # noqa: S506 - a safe loader
        "a": 0.001, "b": 0.001, "c": 10, "d": "2020-01-01", "e": float("inf"), "f": None, "g": True,
    }  # fmt: skip
    with pytest.raises(yaml.YAMLError, match="duplicate key 'a'"):
        yaml.load("a: 1\na: 2\n", Loader=_yaml_loader())  # noqa: S506


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_only_the_simple_form_is_read_without_hydra(tmp_path):
    """The defaults form of the shipped cards is merged here; anything else is left to Hydra (None)."""
    roots = (tmp_path / "a", tmp_path / "b")
    _write(roots[0], "family/f.yaml", "n: 4\nsizes: {tiny: 1, quick: 2}\nname: base\n")
    _write(
        roots[1], "task/simple.yaml", "defaults:\n  - /family@_here_: f\n  - _self_\nname: simple\nsizes: {tiny: 3}\n"
    )
    assert _read_simple_card("task", "simple", roots) == {"n": 4, "sizes": {"tiny": 3, "quick": 2}, "name": "simple"}
    for name, text in {
        "interpolation": "name: x\nn: ${task.m}\n",
        "no_self": "defaults:\n  - /family@_here_: f\nname: x\n",
        "relative": "defaults:\n  - family@_here_: f\n  - _self_\nname: x\n",
        "package": "# @package _global_\nname: x\n",
        "missing_base": "defaults:\n  - /family@_here_: nope\n  - _self_\n",
    }.items():
        _write(roots[1], f"task/{name}.yaml", text)
        assert _read_simple_card("task", name, roots) is None, name
    _write(roots[0], "task/simple.yaml", "name: twice\n")  # in two folders: Hydra's search order decides
    assert _read_simple_card("task", "simple", roots) is None


def test_an_unknown_card_is_named():
    with pytest.raises(BenchError, match=r"unknown task 'sprng'; did you mean 'spring'\?"):
        listed_card("task", "sprng")
    with pytest.raises(BenchError, match=r"unknown config group 'modle'; did you mean 'model'\?"):
        group_options("modle")


@pytest.mark.parametrize("model", group_options("model"))
def test_every_card_lists_its_class_capabilities(model):
    card = listed_card("model", model)
    cls = import_class(card["class"])
    assert tuple(card["capabilities"]) == cls.capabilities()  # in the class's order, too
    assert model_capabilities(card) == cls.capabilities() and model_families(card) == tuple(card["families"])
    check_card_capabilities(card)


def test_a_card_whose_capabilities_differ_from_its_class_is_refused():
    card = listed_card("model", "gnn")
    for wrong, message in [
        (["edge_types"], r"lists capabilities: \['edge_types'\], but its class .*GNN exposes \['edge_messages'\]"),
        ([], r"lists capabilities: \[\], but .* exposes \['edge_messages'\]"),
        (["edge_messages", "edge_messages"], r"lists capabilities: \['edge_messages', 'edge_messages'\]"),
        (["edge_mesages"], r"unknown capability 'edge_mesages'; did you mean 'edge_messages'\? valid: "),
        ("edge_messages", r"capabilities must be a list"),
    ]:
        with pytest.raises(BenchError, match=message):
            check_card_capabilities({**card, "capabilities": wrong})
    with pytest.raises(BenchError, match=r"capabilities must be a list .*not 'edge_messages'"):
        model_capabilities({**card, "capabilities": "edge_messages"})  # bench list: not read letter by letter
    del card["capabilities"]  # a card without the list (an outside model's): the class is asked
    check_card_capabilities(card)
    assert model_capabilities(card) == ("edge_messages",)


def test_the_capabilities_key_is_not_part_of_a_run_identity():
    from omegaconf import OmegaConf

    from bench.config import compose

    cfg = OmegaConf.to_container(compose(["task=spring", "model=gnn"]), resolve=True)
    assert cfg["model"]["capabilities"] == ["edge_messages"]
    without = json.loads(json.dumps(cfg))
    del without["model"]["capabilities"]
    assert config_hash(cfg, "sha256:x") == config_hash(without, "sha256:x")
    assert config_id(cfg) == config_id(without)


def test_an_outside_card_with_wrong_capabilities_stops_the_run(tmp_path, capsys):
    """A card beside a model file may list capabilities too; they are checked before any data is made."""
    example = Path(__file__).resolve().parents[1] / "examples" / "my_model" / "pair_force_net.py"
    (tmp_path / "net.py").write_text(example.read_text())
    (tmp_path / "net.yaml").write_text("name: net\nfamilies: [forces]\ncapabilities: [edge_types]\n")
    code = main(["run", "task=spring", f"model={tmp_path / 'net.py'}:PairForceNet", "scale=tiny", "sr=none",
                 f"out={tmp_path / 'runs'}", f"data_dir={tmp_path / 'data'}"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "model card 'net' lists capabilities: ['edge_types'], but its class" in err
    assert "exposes ['edge_messages']" in err and "Traceback" not in err
    assert not (tmp_path / "data").exists()
