"""Wall time of one sweep of tiny runs, one job after another against joblib's parallel workers.

    python -m benchmarks.sweep_parallel [--jobs 4] [--n-jobs 2] [--rounds 1] [--task spring] [--model gnn]
                                        [--extra scale.epochs=10 ...]

Each variant is the whole command a user types, in a fresh process and a fresh run folder:
``bench run -m task=T model=M seed=0,...,J-1 scale=tiny threads=1`` with Hydra's basic launcher (the jobs in
that one process, one after another), then the same with ``hydra/launcher=joblib hydra.launcher.n_jobs=N``. The
dataset is generated first, so both time training and evaluation only. Every job uses one thread (``threads=1``):
the sequential sweep leaves the other cores idle, which is what a parallel launcher is for. Rounds alternate
the order of the two variants. Prints each wall time, the CPU time of the command and its workers, and before it
the load average and how many cores ``n_jobs`` processes get at that moment (``free_cores``: ``n_jobs``
processes burning CPU at once), then the ratio of the best wall times, sequential / parallel. The parallel
launcher can only be faster where that many cores are free: on a machine whose cores other work holds, its
workers' start-up (a fresh Python with torch, each) is all it adds.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def bench(*args: str) -> tuple[float, float]:
    """Run ``python -m bench.cli ARGS`` from this checkout (its output discarded); its wall time and the CPU time
    of it and its worker processes, in seconds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench.cli", *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"bench {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _burn(seconds: float) -> None:
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


def free_cores(workers: int, seconds: float = 2.0) -> float:
    """How many cores this machine gives ``workers`` processes now: their CPU seconds over the wall time of
    ``workers`` processes each burning ``seconds`` of CPU at once (``workers`` on an idle machine)."""
    import multiprocessing

    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_burn, [seconds] * workers)
    return workers * seconds / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=4, help="jobs in the sweep (seeds 0..J-1)")
    p.add_argument("--n-jobs", type=int, default=2, help="joblib's parallel workers")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--task", default="spring")
    p.add_argument("--model", default="gnn")
    p.add_argument("--extra", nargs="*", default=[], metavar="KEY=V", help="more overrides of every job "
                   "(scale.epochs=10: longer jobs)")  # fmt: skip
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        data = Path(tmp) / "data"
        extra = ["sr=none"] if args.task in _force_tasks() else []
        bench("data", f"task={args.task}", "scale=tiny", f"data_dir={data}", "progress=false")
        sweep = ["run", "-m", f"task={args.task}", f"model={args.model}",
                 f"seed={','.join(str(k) for k in range(args.jobs))}", "scale=tiny", "threads=1", "progress=false",
                 f"data_dir={data}", *extra, *args.extra]  # fmt: skip
        parallel = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.n_jobs}"]
        times: dict[str, list[float]] = {"sequential": [], "parallel": []}
        print(f"sweep of {args.jobs} tiny runs ({args.task} × {args.model}, threads=1 {' '.join(args.extra)}) on "
              f"{os.cpu_count()} cores")  # fmt: skip
        for k in range(args.rounds):
            order = ["sequential", "parallel"] if k % 2 == 0 else ["parallel", "sequential"]
            for variant in order:
                out = Path(tmp) / f"runs-{variant}-{k}"
                load, cores = os.getloadavg()[0], free_cores(args.n_jobs)
                seconds, cpu = bench(*sweep, f"out={out}", *(parallel if variant == "parallel" else []))
                times[variant].append(seconds)
                label = "one after another (basic launcher)" if variant == "sequential" else (
                    f"joblib, n_jobs={args.n_jobs}")  # fmt: skip
                print(f"  round {k + 1}: {label:<36} {seconds:6.1f} s wall, {cpu:6.1f} s CPU   (before it: load "
                      f"average {load:.1f}, {cores:.1f} of {args.n_jobs} cores free)", flush=True)  # fmt: skip
        sequential, parallel_s = min(times["sequential"]), min(times["parallel"])
        print(f"best of {args.rounds}: one after another {sequential:.1f} s, joblib n_jobs={args.n_jobs} "
              f"{parallel_s:.1f} s; ratio {sequential / parallel_s:.2f}x")  # fmt: skip
    return 0


def _force_tasks() -> tuple[str, ...]:
    from bench.family import get_family

    return tuple(get_family("forces").tasks())


if __name__ == "__main__":
    raise SystemExit(main())
