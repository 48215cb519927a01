"""Configuration: every shipped config composes; bad input names the bad value and the valid ones."""

from __future__ import annotations

import pytest

from bench.config import compose, expand_sweep, group_options
from bench.errors import BenchError
from bench.registry import model_names, task_names


@pytest.mark.parametrize("task", task_names())
def test_every_task_card_composes_and_names_a_metric_of_its_evaluator(task):
    from bench.family import get_family

    cfg = compose([f"task={task}"])
    assert cfg.task.name == task
    table = get_family(str(cfg.task.family)).evaluator(cfg.task).metric_table
    assert cfg.task.primary_metric in [m.name for m in table]


@pytest.mark.parametrize("model", model_names())
def test_every_model_card_composes_with_a_task_of_its_family(model):
    from bench.config import model_card
    from bench.family import get_family

    task = get_family(str(model_card(model).families[0])).tasks()[0]
    cfg = compose([f"task={task}", f"model={model}"])
    assert cfg.task.name == task and cfg.model.name == model


def test_groups_list_what_ships():
    assert set(group_options("task")) == {
        "spring",
        "r1",
        "r2",
        "charge",
        "superposition",
        "damped",
        "discontinuous",
        "nbody5",
        "nbody5h",
        "nbody20",
        "nbody50",
        "nbody100",
        "springs5",
        "springs10",
        "charged5",
        "charged10",
        "kuramoto5",
        "kuramoto10",
        "types3",
        "types3-continuous",
        "types16",
        "field-static",
        "field-dynamic",
    }
    assert set(group_options("scale")) == {"tiny", "quick", "paper"}
    assert {"gnn", "egnn"} <= set(group_options("model"))


def test_defaults_are_the_readme_command():
    cfg = compose([])
    assert (cfg.task.name, cfg.model.name, cfg.scale.name, cfg.backend.name, cfg.seed) == (
        "charge",
        "egnn",
        "quick",
        "auto",
        0,
    )


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        (
            ["task=chrage"],
            r"unknown task 'chrage'; did you mean 'charge'\? valid: charge, charged10, .*superposition",
        ),
        (["model=egn"], r"unknown model 'egn'; did you mean 'egnn'\? valid: .*gnn"),
        (["scale=huge"], r"unknown scale 'huge'; valid: paper, quick, tiny"),
        (["backend=jax"], r"unknown backend 'jax'; valid: auto, dgl, pyg, torch"),
        (["sede=1"], r"unknown key 'sede'; did you mean 'seed'\? valid keys: .*seed"),
        (
            ["model.hparams.hiden=3"],
            r"unknown key 'model.hparams.hiden'; did you mean 'model.hparams.hidden'\?",
        ),
        (["+foo=1"], r"adding or deleting keys is not allowed"),
        (["seed"], r"bad argument 'seed': expected key=value"),
        (["device=gpu"], r"bad device 'gpu'; valid: auto, cpu, cuda, cuda:N"),
        (["task.n_particles=5"], r"task.n_particles=5 is not a published variant; valid: 4, 8"),
        (["task.dim=4"], r"task.dim=4 is not supported; valid: 2, 3"),
        (["seed=0,1"], r"'seed=0,1' is a sweep.*bench run -m"),
        (["seed=abc"], r"bad value in 'seed=abc': seed must be an integer"),
        (["model.train.lr=fast"], r"model.train.lr must be a number"),
        (["progress=maybe"], r"progress must be true or false"),
        (["foo.bar=1"], r"unknown key 'foo.bar'; valid keys: task, model, backend, scale, seed, .*, sr$"),
        (
            ["task=nbody5", "sr=none"],
            r"'sr=none': 'sr' is an option of task family forces; task 'nbody5' is of "
            r"family 'nbody'",
        ),  # fmt: skip
        (["sr=pysrr"], r"unknown sr 'pysrr'; did you mean 'pysr'\? valid: none, operon, pysr"),
        (["model.hparam.x=1"], r"did you mean 'model.hparams'\? valid keys under model: .*model.hparams"),
    ],
)
def test_bad_input_is_named(overrides, pattern):
    with pytest.raises(BenchError, match=pattern):
        compose(overrides)


def test_sweep_expands_every_combination():
    combos = expand_sweep(["task=spring,charge", "model=gnn,egnn", "seed=0,1"])
    assert len(combos) == 8
    assert ["task=charge", "model=egnn", "seed=1"] in combos
    with pytest.raises(BenchError, match="unknown task 'sprong'"):
        expand_sweep(["task=spring,sprong"])
    assert len(expand_sweep(["model=gnn", "model.hparams.message_dim=2,100"])) == 2
    with pytest.raises(BenchError, match=r"unknown key 'model.hparams.message_dim'.*\(with model=egnn\)"):
        expand_sweep(["model=gnn,egnn", "model.hparams.message_dim=2"])


@pytest.mark.parametrize(
    "overrides, budget",
    [
        (["task=spring", "scale=tiny"], {"generations": 50, "population_size": 200, "time_limit_s": 30}),
        (["task=spring", "scale=quick"], {"generations": 100, "population_size": 500, "time_limit_s": 30}),
        (["task=spring", "scale=quick", "sr=pysr"], {"niterations": 600, "time_limit_s": 30}),
        (["task=spring", "scale=paper"], {"generations": 1000, "population_size": 1000, "time_limit_s": 300}),
        (["task=spring", "scale=tiny", "sr=pysr"], {"niterations": 100, "time_limit_s": 30, "maxsize": 23}),
        (["task=spring", "scale=paper", "sr=pysr"], {"niterations": 6000, "time_limit_s": 300}),
        (  # what the user types wins over the scale's budget, key by key
            ["task=spring", "scale=tiny", "sr.generations=7", "sr.time_limit_s=5"],
            {"generations": 7, "population_size": 200, "time_limit_s": 5},
        ),
        (["task=spring", "scale=paper", "sr.population_size=9"], {"generations": 1000, "population_size": 9}),
    ],
)
def test_symbolic_regression_budget_follows_the_scale(overrides, budget):
    sr = compose(overrides).sr
    assert {k: sr[k] for k in budget} == budget
    assert "per_scale" not in sr  # the composed configuration shows the budget the run uses


def test_the_forces_report_pins_the_full_symbolic_regression_budget():
    from bench.tasks.forces.report import full_sr_budget

    assert full_sr_budget() == ["sr.generations=1000", "sr.population_size=1000", "sr.time_limit_s=300"]
    assert full_sr_budget("pysr") == ["sr.niterations=6000", "sr.time_limit_s=300"]
    sr = compose(["task=spring", "scale=quick", *full_sr_budget()]).sr
    assert (sr.generations, sr.population_size, sr.time_limit_s) == (1000, 1000, 300)


def test_a_per_scale_block_is_checked():
    from omegaconf import OmegaConf

    from bench.config import apply_scale_settings

    def cfg(per_scale):
        return OmegaConf.create(
            {"scale": {"name": "tiny"}, "sr": {"name": "operon", "generations": 1, "per_scale": per_scale}}
        )

    with pytest.raises(BenchError, match=r"unknown key in sr option 'operon' per_scale.tiny 'generation'; did you mean "
                                         r"'generations'\? valid: generations"):  # fmt: skip
        apply_scale_settings(cfg({"tiny": {"generation": 5}}))
    with pytest.raises(
        BenchError, match=r"unknown scale in sr option 'operon' per_scale 'tnyi'; .* paper, quick, tiny"
    ):
        apply_scale_settings(cfg({"tnyi": {"generations": 5}}))
    c = cfg({"quick": {"generations": 5}})  # another scale's block: the card's own value
    apply_scale_settings(c)
    assert OmegaConf.to_container(c.sr) == {"name": "operon", "generations": 1}


def test_a_composition_is_made_once_per_process_and_anew_when_a_card_file_changes(tmp_path, monkeypatch):
    """Hydra composes the same overrides once (``bench.config._hydra_compose``); each caller gets its own copy, and an
    edited, added or removed card file (the stat of every card under the search path) makes Hydra compose again."""
    import os

    import hydra

    import bench.config as C

    signature = C._cards_signature
    (tmp_path / "task").mkdir()
    card = tmp_path / "task" / "mine.yaml"
    card.write_text("a: 1\n")
    (tmp_path / "notes.txt").write_text("not a card")
    seen = signature((tmp_path,))
    assert len(seen) == 1 and signature((tmp_path,)) == seen
    card.write_text("a: 22\n")
    assert signature((tmp_path,)) != seen
    os.utime(card, ns=(0, 0))
    assert signature((tmp_path,)) != seen
    (tmp_path / "task" / "other.yaml").write_text("b: 1\n")
    assert len(signature((tmp_path,))) == 2
    (tmp_path / "task" / ".#mine.yaml").symlink_to(tmp_path / "nowhere")  # an editor's lock file: not a card
    (tmp_path / "task" / "gone.yaml").symlink_to(tmp_path / "nowhere")
    assert len(signature((tmp_path,))) == 2

    calls = []
    real = hydra.compose
    monkeypatch.setattr(hydra, "compose", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(C, "_COMPOSED", {})
    first = compose(["task=spring", "model=gnn", "seed=3"])
    n = len(calls)
    assert n >= 1
    first.seed = 99  # the caller's own copy
    second = compose(["task=spring", "model=gnn", "seed=3"])
    assert len(calls) == n and second.seed == 3
    shipped = signature(C._roots())
    monkeypatch.setattr(C, "_cards_signature", lambda roots: (*shipped, ("a card", "edited", 0, 0)))
    assert compose(["task=spring", "model=gnn", "seed=3"]) == second
    assert len(calls) > n
