"""Benchmark: wall time of generating one family F dataset at paper scale (10,000 simulations).

    python scripts/bench_generation.py [SYSTEM ...] [--scale paper] [--n 4 --dim 2]

Prints, per system, the generation time, the simulations re-integrated and dropped, and the ratio
to the 120-second goal. Writes into a temporary folder (the real data/ is left alone).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from bench.config import task_card
from bench.tasks.data import generate_dataset
from bench.tasks.forces import SYSTEMS

GOAL_S = 120.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("systems", nargs="*", default=["charge"], help=f"any of {', '.join(SYSTEMS)} (default charge)")
    p.add_argument("--scale", default="paper")
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--dim", type=int, default=2)
    args = p.parse_args()
    print(f"{'system':<14} {'sims':>6} {'time s':>8} {'re-int':>7} {'dropped':>8} {'time/goal':>10}")
    with tempfile.TemporaryDirectory() as root:
        for system in args.systems:
            card = task_card(system, [f"n_particles={args.n}", f"dim={args.dim}"])
            t0 = time.perf_counter()
            ds = generate_dataset(card, args.scale, root=root, force=True, progress=False)
            elapsed = time.perf_counter() - t0
            gen = ds.manifest["generation"]
            print(f"{system:<14} {gen['simulations']:>6} {elapsed:>8.1f} {gen['reintegrated']:>7} "
                  f"{gen['dropped']:>8} {elapsed / GOAL_S:>10.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
