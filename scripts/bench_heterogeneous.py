"""Benchmark: the heterogeneous family's radius graph and dataset generation against their goals.

    python scripts/bench_heterogeneous.py [--particles 4800] [--box 1.0] [--repeat 20] [--no-generation]

Prints, for one frame of N particles in the periodic box (uniform positions, R = 0.075, ~85 neighbours each):
- the simulator's neighbour search (``systems.neighbour_pairs``: one ``cKDTree(boxsize=L)`` per frame, each
  unordered pair once), the batch graph (``bench.graphs.radius_graph``: ordered pairs, sorted, checked by the
  task's displacement function, as a model batch gets them), and a brute-force reference measured in the same
  run (all N² minimum-image distances in numpy), with the ratio of each to the reference and to the 50 ms goal;
- the wall time of generating the ``types3`` dataset at paper scale (3 runs × 251 frames of 4800 particles)
  and its ratio to the 2-minute goal. Generation writes into a temporary folder (the real data/ is untouched).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

GRAPH_GOAL_S = 0.050
GENERATION_GOAL_S = 120.0


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def brute_force(x: np.ndarray, box: float, radius: float) -> int:
    """The reference: every pair's minimum-image distance, in row blocks (bounded memory)."""
    count = 0
    for start in range(0, len(x), 512):
        d = x[None, :, :] - x[start : start + 512, None, :]
        d -= box * np.round(d / box)
        r2 = (d * d).sum(-1)
        count += int(((r2 < radius * radius) & (r2 > 0)).sum())
    return count


def main() -> None:
    from bench.graphs import Displacement, radius_graph
    from bench.tasks.heterogeneous.systems import neighbour_pairs

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--particles", type=int, default=4800)
    p.add_argument("--box", type=float, default=1.0)
    p.add_argument("--radius", type=float, default=0.075)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--no-generation", action="store_true")
    args = p.parse_args()

    x = np.random.default_rng(0).uniform(0, args.box, (args.particles, 2))
    disp = Displacement((args.box, args.box))
    reference = best_of(lambda: brute_force(x, args.box, args.radius), max(3, args.repeat // 5))
    pairs = neighbour_pairs(x, args.box, args.radius)[0].size
    edges = radius_graph(x, args.radius, disp)[0].shape[1]
    assert edges == 2 * pairs == brute_force(x, args.box, args.radius), "the three disagree on the graph"
    print(f"one frame: {args.particles} particles, box {args.box}, R {args.radius}: {edges} directed edges "
          f"({edges / args.particles:.1f} per particle)")  # fmt: skip
    print(f"{'graph':<34} {'ms':>8} {'vs brute force':>15} {'vs 50 ms goal':>14}")
    print(f"{'brute force N^2 (reference)':<34} {reference * 1e3:>8.1f} {1.0:>15.2f} {reference / GRAPH_GOAL_S:>14.2f}")
    for name, fn in (
        ("simulator: cKDTree pairs", lambda: neighbour_pairs(x, args.box, args.radius)),
        ("batch: bench.graphs.radius_graph", lambda: radius_graph(x, args.radius, disp)),
    ):
        t = best_of(fn, args.repeat)
        print(f"{name:<34} {t * 1e3:>8.1f} {t / reference:>15.3f} {t / GRAPH_GOAL_S:>14.2f}")

    if args.no_generation:
        return
    from bench.config import task_card
    from bench.tasks.data import generate_dataset

    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        ds = generate_dataset(task_card("types3"), "paper", root=root, force=True, progress=False)
        elapsed = time.perf_counter() - t0
    gen = ds.manifest["generation"]
    print(f"generation types3 paper: {gen['particles']} particles, 3 runs x {gen['frames']} frames: "
          f"{elapsed:.1f} s ({elapsed / GENERATION_GOAL_S:.2f} of the 2-minute goal)")  # fmt: skip


if __name__ == "__main__":
    main()
