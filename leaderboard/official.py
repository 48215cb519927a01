"""Make the official baseline records: one sweep of every task × every baseline that can run it × 3 seeds, on any
launcher of ``bench run -m``, then each baseline's records submitted into ``leaderboard/results/`` through the same
validation as any outside submission (``bench.leaderboard.submit``).

    bench sweep official --scale quick                                        # this machine, one run at a time
    bench sweep official --scale quick hydra/launcher=joblib hydra.launcher.n_jobs=4
    bench sweep official --scale quick hydra/launcher=submitit_slurm hydra.launcher.partition=cpu
    bench sweep official --tasks spring charge --models gnn egnn --scale tiny --dry-run   # the plan only

(``python -m bench.leaderboard.official`` takes the same arguments.) The baselines are those of
``baselines.yaml`` (the official entries' cards); a pair runs where ``bench list`` marks it compatible. Runs go to
``--runs`` (default ``runs-official/``, reused: a finished run is skipped, an interrupted one resumes), with
``threads=1`` and, for the force-law tasks, ``sr=none`` unless ``--extra`` says otherwise. A baseline is submitted
when all its jobs finished; its folder of records is written as a whole: the tasks it already holds are validated
again from their runs under ``--runs`` and kept.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

import yaml

from bench.errors import BenchError
from bench.leaderboard.store import OFFICIAL_ROOT

CARDS = Path(__file__).resolve().parent / "baselines.yaml"
SEEDS = ("0", "1", "2")
FAMILY_EXTRA = {"forces": ["sr=none"]}
"""Each family's default overrides of an official run: the force-law records are made without symbolic regression
(minutes per run; ``bench report family=forces`` runs it on chosen records)."""


def baselines() -> list[str]:
    """The official baselines: the models of ``baselines.yaml``."""
    return list(yaml.safe_load(CARDS.read_text())["models"])


def baseline_card(model: str) -> dict:
    spec = yaml.safe_load(CARDS.read_text())
    if model not in spec["models"]:
        raise BenchError(f"no card for baseline '{model}' in {CARDS}")
    card = {"name": model, **spec["common"], **spec["models"][model]}
    card["hardware"] = f"{platform.machine()} CPU, {os.cpu_count()} cores, torch threads 1"
    return card


def pairs(tasks: list[str] | None = None, models: list[str] | None = None) -> list[tuple[str, str]]:
    """(task, model) for every task (default: all) and every baseline (default: all of ``baselines.yaml``) that can
    run it, as ``bench list``'s compatibility matrix says; a named task or model that is unknown is an error."""
    from bench.config import listed_card
    from bench.errors import unknown
    from bench.registry import incompatibility, task_names

    all_tasks, official = task_names(), baselines()
    for task in tasks or []:
        if task not in all_tasks:
            raise unknown("task", task, all_tasks)
    for model in models or []:
        if model not in official:
            raise unknown("official baseline (leaderboard/baselines.yaml)", model, official)
    task_cards = {t: listed_card("task", t) for t in tasks or all_tasks}
    model_cards = {m: listed_card("model", m) for m in models or official}
    return [(t, m) for m in model_cards for t in task_cards if incompatibility(task_cards[t], model_cards[m]) is None]


def jobs(args: argparse.Namespace, plan: list[tuple[str, str]]) -> list[list[str]]:
    """The sweep's jobs: one override list per (task, model, seed); ``--extra`` replaces a common key it sets
    (``--extra threads=4``)."""
    from bench.config import listed_card

    common = ["threads=1", "progress=false", f"scale={args.scale}", f"out={args.runs}", f"data_dir={args.data_dir}"]
    out = []
    for task, model in plan:
        family = str(listed_card("task", task)["family"])
        extra = FAMILY_EXTRA.get(family, []) if args.extra is None else args.extra
        mine = [o for o in common if o.partition("=")[0] not in {e.partition("=")[0] for e in extra}]
        out += [[f"task={task}", f"model={model}", f"seed={seed}", *mine, *extra] for seed in args.seeds]
    return out


def submit_model(model: str, tasks: list[str], args: argparse.Namespace) -> Path:
    """Validate and write the official records of ``model`` for ``tasks`` (and the tasks its folder holds already,
    validated again from their runs under ``--runs``)."""
    from bench.leaderboard import submit

    folder = Path(args.out) / model
    held = [p.name for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    kept = sorted(t for t in held if t not in tasks)
    missing = [t for t in kept if not (Path(args.runs) / t / model).is_dir()]
    if missing:
        raise BenchError(f"{folder} holds official records of {', '.join(missing)}, whose runs are not under "
                         f"{args.runs}: rerun them (--tasks {' '.join([*tasks, *missing])}) so that writing this "
                         "submission does not drop them")  # fmt: skip
    dirs = [str(Path(args.runs) / t / model) for t in [*tasks, *kept]]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(baseline_card(model), f, sort_keys=False)
    try:
        sub = submit.validate(dirs, f.name, args.data_dir)
    finally:
        Path(f.name).unlink()
    sub.runs = [r for r in sub.runs if r.record["scale"] == args.scale]
    return submit.write(sub, args.out, force=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench sweep official", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--tasks", nargs="+", default=None, help="default: every task")
    p.add_argument("--models", nargs="+", default=None, help="default: every baseline of baselines.yaml")
    p.add_argument("--seeds", nargs="+", default=list(SEEDS))
    p.add_argument("--scale", default="quick")
    p.add_argument("--runs", default="runs-official", help="where the runs go (default: runs-official)")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--out", default=str(OFFICIAL_ROOT), help="the official store (default: leaderboard/results)")
    p.add_argument("--extra", nargs="*", default=None,
                   help="overrides of every run (default: sr=none for force-law tasks, none otherwise)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="check every job, print them and exit (nothing runs)")
    p.add_argument("launcher", nargs="*", metavar="hydra/launcher=NAME hydra.launcher.KEY=V",
                   help="the launcher and its settings, as for bench run -m (default: this process)")  # fmt: skip
    return p


def main(argv=None) -> int:
    from bench.sweep import check_launcher, is_launcher_override, plan, run_sweep

    args = parser().parse_intermixed_args(argv)
    if args.extra:  # `--extra sr=operon hydra/launcher=joblib`: the launcher's settings are not the runs'
        args.launcher += [e for e in args.extra if is_launcher_override(e)]
        args.extra = [e for e in args.extra if not is_launcher_override(e)]
    bad = [a for a in args.launcher if not is_launcher_override(a)]
    if bad:
        raise BenchError(f"'{bad[0]}': only launcher settings (hydra/launcher=..., hydra.launcher.KEY=...) go "
                         "here; overrides of every run go after --extra")  # fmt: skip
    chosen = pairs(args.tasks, args.models)
    if not chosen:
        raise BenchError("no baseline can run the tasks chosen (bench list shows the compatibility)")
    combos = jobs(args, chosen)
    models = list(dict.fromkeys(m for _, m in chosen))
    print(f"official sweep: {len(combos)} runs ({len(chosen)} task × baseline pairs × {len(args.seeds)} seeds) at "
          f"scale {args.scale}:")  # fmt: skip
    for model in models:
        print(f"  {model}: {', '.join(t for t, m in chosen if m == model)}")
    if args.dry_run:
        check_launcher(args.launcher)
        plan(combos)
        for combo in combos:
            print("  bench run " + " ".join(combo))
        print(f"dry run: every job checked ({len(combos)}); nothing was run")
        return 0
    outcomes, _ = run_sweep(combos, args.launcher)
    failed = {m for (_, m), chunk in zip(chosen, _chunks(outcomes, len(args.seeds)), strict=True)
              if any(o.status == "failed" for o in chunk)}  # fmt: skip
    for model in models:
        if model in failed:
            print(f"official records of {model}: not submitted (a job failed; launch the same command again)")
            continue
        path = submit_model(model, [t for t, m in chosen if m == model], args)
        print(f"official records of {model}: {path}")
    return 1 if failed else 0


def _chunks(items: list, size: int) -> list[list]:
    return [items[k : k + size] for k in range(0, len(items), size)]


if __name__ == "__main__":
    from bench.cli import main as bench

    sys.exit(bench(["sweep", "official", *sys.argv[1:]]))
