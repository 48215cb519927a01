"""Is each force task's test split large enough? The 90 % bootstrap interval of its predict-zero MAE.

    python scripts/test_split_size.py [--tasks spring r1 r2 charge ...] [--scale quick] [--subset N]
                                      [--data-dir data] [--resamples 2000]

The force laws r2 and charge are heavy-tailed: a few close encounters carry most of the MAE of predicting zero,
so 150 test simulations (the count of quick's old 15 % share) give that MAE to ±40-51 % only, and every model's
MAE with it. The family's fixed test split (``test_simulations``: 10,000 other simulations at quick and paper,
every ``test_every``-th snapshot) is meant to give it to ±10 %. This script measures it: the MAE of predicting
zero per test simulation, resampled over simulations (the unit that is independent) ``--resamples`` times; it
prints the interval and its half-width relative to the MAE, and exits 1 when a half-width is above 10 %.
``--subset N`` scores the first N test simulations only (``--subset 150``: as many simulations as the old quick
share had, though that share kept all 100 snapshots of each; it fails).
The datasets are generated first where ``--data-dir`` lacks them.
"""

from __future__ import annotations

import argparse

import numpy as np

GOAL = 0.10
FORCE_TASKS = ("spring", "r1", "r2", "charge", "damped", "discontinuous", "superposition")


def zero_mae_interval(acceleration: np.ndarray, resamples: int) -> tuple[float, float, float]:
    """(MAE of predicting zero, its 90 % bootstrap interval over simulations) for test accelerations (S, T, n, d):
    the forces report's interval (``bench.tasks.forces.report.zero_mae_interval``)."""
    from bench.tasks.forces.report import zero_mae_interval as interval

    lo, hi = interval(acceleration, level=0.9, resamples=resamples)
    return float(np.abs(acceleration.astype(np.float64)).mean()), lo, hi


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=list(FORCE_TASKS))
    p.add_argument("--scale", default="quick")
    p.add_argument("--subset", type=int, default=None, help="score only the first N test simulations")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--resamples", type=int, default=2000)
    args = p.parse_args(argv)

    from bench.config import compose
    from bench.tasks.data import generate_dataset

    failed = []
    print(f"scale {args.scale}: predict-zero MAE of the test split, 90 % bootstrap interval over simulations "
          f"(goal: half-width ≤ {GOAL:.0%})")  # fmt: skip
    for task in args.tasks:
        card = compose([f"task={task}", f"scale={args.scale}"]).task
        dataset = generate_dataset(card, args.scale, root=args.data_dir, progress=False)
        acceleration = dataset.split("test")["acceleration"][: args.subset]
        mae, lo, hi = zero_mae_interval(acceleration, args.resamples)
        half = max(1 - lo / mae, hi / mae - 1)
        verdict = "ok" if half <= GOAL else "TOO SMALL"
        S, T = acceleration.shape[:2]
        print(f"  {task:<14} {S:6d} simulations × {T:3d} snapshots: {mae:8.4g}  [{lo:.4g}, {hi:.4g}]  "
              f"±{half:.1%}  {verdict}")  # fmt: skip
        if half > GOAL:
            failed.append(task)
    if failed:
        print(f"half-width above {GOAL:.0%}: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
