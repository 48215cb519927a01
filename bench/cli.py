"""The ``bench`` command: ``run``, ``list``, ``data``, ``results``, ``submit``, ``leaderboard``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from bench.errors import BenchError

EXAMPLES_RUN = """\
overrides (Hydra syntax, key=value):
  task=NAME        a task card (bench list)          model=NAME     a model card (bench list)
  scale=S          tiny | quick (default) | paper    backend=B      auto (default) | torch
  seed=N           model seed (default 0)            device=D       auto | cpu | cuda | cuda:N
  out=DIR          where runs go (default runs/)     data_dir=DIR   where datasets go (default data/)
  task.KEY=V, model.hparams.KEY=V, model.train.KEY=V, scale.KEY=V   any key of the composed config

examples:
  bench run task=charge model=egnn
  bench run task=spring model=gnn seed=1 scale=tiny
  bench run task=spring task.n_particles=8 task.dim=3 model=gnn
  bench run -m task=spring,charge model=gnn,egnn seed=0,1     (a sweep: every combination)

sweeps on other launchers (pip install -e ".[cluster]"; README, "Running on a cluster"):
  bench run -m ... hydra/launcher=joblib hydra.launcher.n_jobs=4             in parallel on this machine
  bench run -m ... hydra/launcher=submitit_slurm hydra.launcher.partition=P hydra.launcher.timeout_min=60
               hydra.launcher.cpus_per_task=4 hydra.launcher.mem_gb=16      one SLURM job per run
  bench run -m ... hydra/launcher=ray                                        a Ray cluster (or a local one)

An interrupted run (Ctrl-C) resumes from its last finished epoch when the same command is run again; a sweep
launched again skips its finished runs and resumes the interrupted ones.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench",
        description="ParticleBench: train and evaluate models of interacting particle systems.",
        epilog="Run `bench COMMAND --help` for the options of a command.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run", help="train and evaluate a model on a task; write a result record",
        description="Train a model on a task, evaluate it on the test split and write a result record.",
        epilog=EXAMPLES_RUN, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    run.add_argument("-m", "--multirun", action="store_true", help="sweep over comma-separated values")
    run.add_argument("--cfg", action="store_true", help="print the composed configuration and exit")
    run.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    sub.add_parser("list", help="tasks, models and the task × model compatibility matrix",
                   description="List tasks, models and which model can run which task.")  # fmt: skip
    data = sub.add_parser(
        "data", help="generate (or verify) a dataset; print its path and checksum",
        description="Generate a task's dataset, or verify it if it exists; print its path and checksum.",
        epilog="example: bench data task=charge scale=paper", formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    data.add_argument("--force", action="store_true", help="regenerate even if the dataset exists")
    data.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="task=..., scale=..., task.KEY=..., data_dir=..."
    )
    from bench.leaderboard import commands as leaderboard_commands

    leaderboard_commands.add_arguments(sub)  # results, submit, leaderboard
    report = sub.add_parser(
        "report", help="a task family's reproduction report: our numbers beside the published ones",
        description="Write a family's reproduction report (Markdown) from the result records; "
                    "`bench report family=NAME --help` lists the family's options.",
        epilog="examples:\n  bench report family=NAME\n  bench report family=NAME --help\n"
               "(the task families: bench list)", formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    report.add_argument("family", metavar="family=NAME", help="a task family (bench list shows them)")
    report.add_argument("options", nargs=argparse.REMAINDER, help="the family report's own options")
    sweep = sub.add_parser(
        "sweep", help="named sweeps: `official` (re)makes the official leaderboard records, on any launcher",
        description="Run a named sweep. `official`: every task × every baseline that can run it × 3 seeds, then "
                    "each baseline's records submitted through the usual validation into leaderboard/results/; "
                    "`bench sweep official --help` lists its options.",
        epilog="examples:\n  bench sweep official --scale quick\n"
               "  bench sweep official --scale quick hydra/launcher=joblib hydra.launcher.n_jobs=4\n"
               "  bench sweep official --scale quick hydra/launcher=submitit_slurm hydra.launcher.partition=cpu\n"
               "  bench sweep official --tasks spring --models gnn --dry-run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    sweep.add_argument("name", metavar="NAME", help="the sweep: official")
    sweep.add_argument("options", nargs=argparse.REMAINDER, help="the sweep's options and launcher settings")
    return p


SWEEPS = ("official",)


def cmd_sweep(args: argparse.Namespace) -> int:
    from bench.errors import unknown

    if args.name not in SWEEPS:
        raise unknown("sweep", args.name, SWEEPS)
    from bench.leaderboard import official

    return official.main(list(args.options))


def cmd_report(args: argparse.Namespace) -> int:
    from bench.family import get_family

    return get_family(args.family.removeprefix("family=")).report(list(args.options))


def cmd_run(args: argparse.Namespace) -> int:
    from omegaconf import OmegaConf

    from bench.config import compose
    from bench.sweep import is_launcher_override

    if args.multirun:  # no torch here before the jobs are composed (on joblib: never; bench.sweep.Workers.plan)
        from bench.sweep import sweep

        return sweep(args.overrides)
    from bench.run import run

    launcher = [o for o in args.overrides if is_launcher_override(o)]
    if launcher:
        raise BenchError(f"'{launcher[0]}' is a launcher setting, for sweeps: bench run -m ...")
    cfg = compose(args.overrides)
    if args.cfg:
        print(OmegaConf.to_yaml(cfg))
        return 0
    path = run(cfg)
    import json

    record = json.loads(path.read_text())
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in record["metrics"].items())
    print(f"test metrics: {metrics}")
    if record.get("diagnostics"):
        print("diagnostics (this machine): " + ", ".join(f"{k} {v:.4g}" for k, v in record["diagnostics"].items()))
    print(f"result record: {path}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Read the cards' YAML files (``listed_card``): no Hydra composition, no model class imported (nor torch)
    for cards that list their families and capabilities, as the shipped ones do."""
    from bench.config import listed_card
    from bench.family import families
    from bench.registry import incompatibility, model_capabilities, model_families, model_names, task_names

    tasks = {name: listed_card("task", name) for name in task_names()}
    models = {name: listed_card("model", name) for name in model_names()}
    print("task families (entry points 'bench.families'):")
    for fam in families():
        print(f"  {fam.name:<15} {fam.description}")
    print("\ntasks:")
    for name, card in tasks.items():
        print(f"  {name:<15} family {card['family']}, v{card['version']}, {card['n_particles']} particles in "
              f"{card['dim']}-D, target {card['target']}, metric {card['primary_metric']}")  # fmt: skip
    print("\nmodels:")
    for name, card in models.items():
        caps = ", ".join(model_capabilities(card)) or "-"
        print(f"  {name:<15} v{card['version']} {card['class']}  families {list(model_families(card))}  "
              f"capabilities: {caps}")  # fmt: skip
    width = max(len(m) for m in models) + 2
    print("\ncompatibility (task × model; x = runs; a model runs only the task families it is built for):")
    print(" " * 17 + "".join(f"{m:>{width}}" for m in models))
    reasons = []
    for t, tc in tasks.items():
        cells = []
        for m, mc in models.items():
            why = incompatibility(tc, mc)
            cells.append(f"{'x' if why is None else '-':>{width}}")
            if why and tc["family"] in model_families(mc):  # not just another family
                reasons.append(f"  {t} × {m}: {why}")
        print(f"  {t:<15}" + "".join(cells))
    if reasons:
        print("\nwhy not:")
        print("\n".join(reasons))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    import json

    from bench.config import compose
    from bench.tasks.data import checksum, data_params, generate_dataset, official_manifest_path

    cfg = compose(args.overrides)
    scale = str(cfg.scale.name)
    ds = generate_dataset(cfg.task, scale, root=cfg.data_dir, force=args.force, progress=cfg.progress)
    from bench.family import get_family

    digest = checksum(ds.arrays)  # of the arrays themselves, not what a (possibly edited) manifest says
    splits = sorted({k.split("/")[0] for k in ds.arrays})
    sizes = {s: int(next(v for k, v in ds.arrays.items() if k.startswith(f"{s}/")).shape[0]) for s in splits}
    print(f"dataset: {ds.path}")
    print(f"checksum: {digest}")
    print(f"split sizes (simulations): {sizes}")
    print(f"generation: {get_family(str(cfg.task.family)).describe_generation(ds.manifest['generation'])}")
    official_path = official_manifest_path(str(cfg.task.name), int(cfg.task.version), scale)
    if official_path.is_file():  # the committed official manifest: the only one that can say "official"
        try:
            official = json.loads(official_path.read_text())
        except (OSError, ValueError) as e:
            raise BenchError(f"the official manifest {official_path} cannot be read ({type(e).__name__}: {e}); "
                             "reinstall the package") from None  # fmt: skip
        if isinstance(official, dict) and official.get("params") == data_params(cfg.task, scale):
            verdict = "matches" if official.get("checksum") == digest else f"DIFFERS: {official.get('checksum')}"
            print(f"official: {verdict} ({official_path.name})")
    return 0


def cmd_leaderboard_family(args: argparse.Namespace) -> int:
    from bench.leaderboard import commands as leaderboard_commands

    return getattr(leaderboard_commands, args.command)(args)


COMMANDS = {
    "run": cmd_run,
    "list": cmd_list,
    "data": cmd_data,
    "report": cmd_report,
    "sweep": cmd_sweep,
    "results": cmd_leaderboard_family,
    "submit": cmd_leaderboard_family,
    "leaderboard": cmd_leaderboard_family,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `bench list | head`: the reader left; not an error of ours
        sys.stdout = open(os.devnull, "w")  # keeps the interpreter's final flush quiet
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted: nothing half-written was kept; run the same command again to resume "
              "from the last finished epoch", file=sys.stderr)  # fmt: skip
        return 130


if __name__ == "__main__":
    sys.exit(main())
