"""Make the official baseline records: run baselines, then submit them into ``leaderboard/results/``
through the same validation as any outside submission (``bench.leaderboard.submit``).

    python -m bench.leaderboard.official --tasks spring charge --scale tiny --seeds 0 1 2

Runs go to ``--runs`` (default ``runs-official/``, reused when present: a run with the same configuration
is not trained again); one training process at a time, ``threads=1``. A model's folder of records is written
as a whole: the tasks it already holds are validated again from their runs under ``--runs`` and kept.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import yaml

from bench.cli import main as bench
from bench.config import model_card, task_card
from bench.leaderboard import submit
from bench.leaderboard.store import OFFICIAL_ROOT

CARDS = Path(__file__).resolve().parent / "baselines.yaml"


def baseline_card(model: str) -> dict:
    spec = yaml.safe_load(CARDS.read_text())
    if model not in spec["models"]:
        raise SystemExit(f"no card for baseline '{model}' in {CARDS}")
    card = {"name": model, **spec["common"], **spec["models"][model]}
    card["hardware"] = f"{platform.machine()} CPU, {__import__('os').cpu_count()} cores, torch threads 1"
    return card


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=["spring", "charge"])
    p.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="default: every baseline of baselines.yaml built for the tasks' family",
    )
    p.add_argument("--seeds", nargs="+", default=["0", "1", "2"])
    p.add_argument("--scale", default="tiny")
    p.add_argument("--runs", default="runs-official")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--out", default=str(OFFICIAL_ROOT))
    p.add_argument(
        "--extra",
        nargs="*",
        default=None,
        help="more overrides for bench run (default: sr=none for force-law tasks, none otherwise)",
    )
    args = p.parse_args(argv)
    families = {str(task_card(t).family) for t in args.tasks}
    if args.models is None:
        args.models = [m for m in yaml.safe_load(CARDS.read_text())["models"]
                       if families <= {str(f) for f in model_card(m).families}]  # fmt: skip
    if args.extra is None:
        args.extra = ["sr=none"] if families == {"forces"} else []
    for model in args.models:
        code = bench(["run", "-m", f"task={','.join(args.tasks)}", f"model={model}", f"seed={','.join(args.seeds)}",
                      f"scale={args.scale}", "threads=1", "progress=false", f"out={args.runs}",
                      f"data_dir={args.data_dir}", *args.extra])  # fmt: skip
        if code:
            return code
        # the model's folder of official records is replaced as a whole: the tasks it holds already are
        # validated again from their runs, so that adding a task never drops another
        folder = Path(args.out) / model
        held = [p.name for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
        kept = sorted(t for t in held if t not in args.tasks)
        missing = [t for t in kept if not (Path(args.runs) / t / model).is_dir()]
        if missing:
            raise SystemExit(f"{Path(args.out) / model} holds official records of {', '.join(missing)}, whose runs are "
                             f"not under {args.runs}: rerun them (--tasks {' '.join([*args.tasks, *missing])}) so that "
                             "writing this submission does not drop them")  # fmt: skip
        dirs = [str(Path(args.runs) / t / model) for t in [*args.tasks, *kept]]
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump(baseline_card(model), f, sort_keys=False)
        sub = submit.validate(dirs, f.name, args.data_dir)
        Path(f.name).unlink()
        sub.runs = [r for r in sub.runs if r.record["scale"] == args.scale]
        path = submit.write(sub, args.out, force=True)
        print(f"official records of {model}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
