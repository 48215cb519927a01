"""``bench results``, ``bench submit`` and ``bench leaderboard``: what they do (bench.cli only parses)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.errors import BenchError, unknown

APP = Path(__file__).resolve().parent / "app.py"
SOURCES = ("all", "official", "local")


def add_arguments(sub) -> None:
    """The three sub-commands' arguments, on ``bench``'s sub-parser."""
    fmt = argparse.RawDescriptionHelpFormatter
    res = sub.add_parser(
        "results", help="list result records aggregated over seeds: mean ± std, ranks, seeds, cost",
        description="Aggregate result records (official ones in leaderboard/results/ and your runs) over seeds: "
        "mean ± std per task, task version, scale, model and backend; ranks per task (entries with at least 3 "
        "distinct seeds); seed count; parameters; training time.",
        epilog="examples:\n  bench results\n  bench results --task spring --source local\n"
        "  bench results --metric force_r2_robust\n  bench results --records --csv all.csv",
        formatter_class=fmt,
    )  # fmt: skip
    res.add_argument("--runs", nargs="*", default=["runs"], metavar="DIR", help="local run folders (default: runs)")
    res.add_argument("--official", default=None, metavar="DIR", help="official store (default: leaderboard/results)")
    res.add_argument("--source", default="all", help="all (default) | official | local")
    res.add_argument("--task", nargs="*", help="only these tasks")
    res.add_argument("--scale", nargs="*", help="only these scales")
    res.add_argument("--model", nargs="*", help="only these models")
    res.add_argument("--metric", help="a metric other than each task's primary one (e.g. force_r2_robust)")
    res.add_argument("--records", action="store_true", help="one line per record instead of per entry")
    res.add_argument("--csv", metavar="FILE", help="also write the table as CSV")

    sm = sub.add_parser(
        "submit", help="validate run folders and a model card; write a submission folder for a pull request",
        description="Validate runs for the leaderboard: record schema, full configuration, official task version "
        "and data checksum, at least 3 distinct seeds per task, and metrics recomputed by the official evaluator "
        "from the saved test predictions. Writes <out>/<model>/ (card.yaml + the runs) ready for a pull request "
        "into leaderboard/results/. Every rejection names the run, the field and the reason.",
        epilog="example:\n  bench submit runs/spring/pair-force-net runs/charge/pair-force-net --card card.yaml\n"
        "  bench submit runs/*/pair-force-net --card card.yaml --dry-run",
        formatter_class=fmt,
    )  # fmt: skip
    sm.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders, or folders holding them")
    sm.add_argument("--card", required=True, metavar="CARD.yaml", help="the model card (name, authors, ...)")
    sm.add_argument("--out", default="submissions", metavar="DIR", help="where the folder goes (default: submissions)")
    sm.add_argument("--data-dir", default="data", metavar="DIR", help="datasets for re-evaluation (default: data)")
    sm.add_argument("--dry-run", action="store_true", help="validate and print what would be submitted; write nothing")
    sm.add_argument("--force", action="store_true", help="replace an existing submission folder of this model")

    lb = sub.add_parser(
        "leaderboard", help="start the leaderboard app (Streamlit) in the browser",
        description="Start the Streamlit leaderboard on the official records and your local runs.",
        epilog="example:\n  bench leaderboard --runs runs --port 8501", formatter_class=fmt,
    )  # fmt: skip
    lb.add_argument("--runs", nargs="*", default=["runs"], metavar="DIR", help="local run folders (default: runs)")
    lb.add_argument("--official", default=None, metavar="DIR", help="official store (default: leaderboard/results)")
    lb.add_argument("--port", type=int, default=8501)
    lb.add_argument("--address", default="localhost")
    lb.add_argument("--headless", action="store_true", help="do not open a browser")


def _store_args(args) -> tuple[Path | None, list[str]]:
    from bench.leaderboard.store import OFFICIAL_ROOT

    official = Path(args.official) if args.official else OFFICIAL_ROOT
    source = getattr(args, "source", "all")
    if source not in SOURCES:
        raise unknown("source", source, SOURCES)
    return (None if source == "local" else official), ([] if source == "official" else list(args.runs))


def results(args) -> int:
    from bench.leaderboard import store

    official, local = _store_args(args)
    if args.csv:
        from bench.io import check_writable_file

        check_writable_file(args.csv, "--csv")  # before anything is read: a bad path writes nothing
    records = store.load(official, local)
    frame = store.filter_frame(records.frame, task=args.task, scale=args.scale, model=args.model)
    if frame.empty:
        where = ", ".join(str(p) for p in ([official] if official else []) + local)
        print(f"no result records found (looked in: {where}); run `bench run ...` first")
    elif args.records:
        cols = ["source", "task", "task_version", "scale", "model", "backend", "seed", "primary_metric", "value",
                "n_parameters", "train_time_s", "run_dir"]  # fmt: skip
        table = frame[cols].sort_values(["task", "model", "backend", "seed"])
        print(table.to_string(index=False))
    else:
        table = store.results_table(store.aggregate(frame, args.metric))
        print(table.to_string(index=False))
        print(f"\n{len(frame)} records; mean ± std over seeds (sample std); ranks per task, version and scale "
              f"among entries with at least {store.MIN_SEEDS} distinct seeds (– : fewer)")  # fmt: skip
    if args.csv and not frame.empty:
        from bench.io import atomic_write_text

        atomic_write_text(args.csv, table.to_csv(index=False))
        print(f"table written to {args.csv}")
    for path, reason in records.invalid:
        print(f"skipped invalid record {path}: {reason}", file=sys.stderr)
    return 0


def submit(args) -> int:
    from bench.io import check_writable_dir
    from bench.leaderboard import submit as sub
    from bench.leaderboard.store import mean_pm_std

    check_writable_dir(args.out, "--out")  # before the (long) validation: a bad path writes nothing
    print(f"validating {len(args.run_dirs)} path(s) and card {args.card} (re-evaluating every run's predictions) ...")
    submission = sub.validate(args.run_dirs, args.card, args.data_dir)
    if submission.problems:
        raise sub.SubmissionRejected(submission.problems)
    runs = submission.runs
    print(f"valid: model '{submission.name}', {len(runs)} runs, metrics recomputed by the official evaluators")
    groups: dict[tuple, list] = {}
    for run in runs:
        r = run.record
        groups.setdefault((r["task"], r["task_version"], r["scale"], r["backend"], r["primary_metric"]), []).append(r)
    import numpy as np

    for (task, version, scale, backend, metric), recs in sorted(groups.items()):
        values = [r["metrics"][metric] for r in recs]
        std = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
        seeds = ", ".join(str(r["seed"]) for r in sorted(recs, key=lambda r: r["seed"]))
        print(f"  {task} v{version} {scale} ({backend}): {metric} {mean_pm_std(float(np.mean(values)), std)} "
              f"over seeds {seeds}")  # fmt: skip
    files = sub.planned_files(submission)
    target = Path(args.out) / submission.name
    if args.dry_run:
        import yaml

        print(f"\ndry run: would write {target}/ with {len(files)} files "
              f"({sum(s for _, _, s in files) / 1e6:.2f} MB before the probe samples):")  # fmt: skip
        for rel, _, size in files:
            print(f"  {rel}" + (f"  ({size:,} bytes)" if size else "  (generated)"))
        print("\ncard.yaml:\n" + yaml.safe_dump(submission.card, sort_keys=False, allow_unicode=True))
        print("nothing was written (--dry-run)")
        return 0
    path = sub.write(submission, args.out, force=args.force)
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    print(f"\nsubmission written to {path}/ ({len(files)} files, {size / 1e6:.2f} MB)")
    print(f"next: copy it into the official store and open a pull request:\n"
          f"  cp -r {path} leaderboard/results/ && git add leaderboard/results/{submission.name}\n"
          f"to see it beside the baselines now: bench leaderboard (local runs are shown too)")  # fmt: skip
    return 0


def leaderboard(args) -> int:
    try:
        import streamlit  # noqa: F401
    except ImportError:
        raise BenchError("the leaderboard needs Streamlit: pip install torch==2.13.0 -e '.[leaderboard]'") from None
    official, local = _store_args(args)
    env = dict(os.environ)
    if official is not None:
        env["BENCH_OFFICIAL"] = str(official)
    env["BENCH_RUNS"] = os.pathsep.join(str(Path(p).resolve()) for p in local)
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(args.port),
           "--server.address", args.address, "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "viewer", "--client.showErrorDetails", "type"]  # fmt: skip
    if args.headless:
        cmd += ["--server.headless", "true"]
    print(f"leaderboard: http://{args.address}:{args.port}  (Ctrl-C stops it)")
    if shutil.which("streamlit") is None and not APP.exists():  # pragma: no cover - broken install
        raise BenchError(f"cannot find the app at {APP}")
    return subprocess.call(cmd, env=env)
