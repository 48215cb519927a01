"""Benchmark: NRI's springs/charged simulators, vectorised (bench.tasks.relational.systems) against a
reference-style loop over trajectories written in the manner of NRI's ``synthetic_sim.py``.

    python scripts/bench_relational_simulators.py [--loop 50] [--ours 2000] [--repeat 3] [--paper 5000]

Prints per-trajectory times of both on this machine in this run, their ratio, and the time to generate
the paper scale of springs5 (70,000 trajectories of 49 frames; extrapolated from ``--paper`` measured ones).
Each side is timed ``--repeat`` times and the fastest run kept (as ``timeit`` does: the run least disturbed
by other load on the machine); the loop's ``--loop`` trajectories are split over its repeats.
The tests import ``reference_trajectory`` from here to check the vectorised simulators.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.tasks.relational.systems import initial_charged, initial_springs, simulate_charged, simulate_springs, wall

PAPER_TRAJECTORIES = 70_000


def _force(loc, edges, system, k, max_force):
    """Pair forces of one trajectory, (2, n): springs −k·A_ij, charged q_i q_j / r³ (edges holds q_i q_j)."""
    n = loc.shape[1]
    diff = np.stack([np.subtract.outer(loc[0], loc[0]), np.subtract.outer(loc[1], loc[1])])  # x_i − x_j
    if system == "springs":
        size = -k * edges
    else:
        with np.errstate(divide="ignore"):
            size = edges / (diff[0] ** 2 + diff[1] ** 2) ** 1.5
    size = size.copy()
    np.fill_diagonal(size, 0.0)
    F = (size.reshape(1, n, n) * diff).sum(axis=-1)
    F[F > max_force] = max_force
    F[F < -max_force] = -max_force
    return F


def reference_trajectory(x0, v0, edges, system, frames, k=0.1, dt=1e-3, sample_every=100, box=5.0, max_force=100.0):
    """One trajectory, NRI-style: initial (n, 2) state, ``edges`` the adjacency (springs) or the charges'
    outer product (charged). Returns positions, velocities (frames, n, 2) at steps 100, 200, …"""
    n = x0.shape[0]
    loc_out, vel_out = np.zeros((frames, 2, n)), np.zeros((frames, 2, n))
    loc_next, vel_next = x0.T.copy(), v0.T.copy()
    wall(loc_next, vel_next, box)
    vel_next += dt * _force(loc_next, edges, system, k, max_force)
    counter = 0
    for i in range(1, frames * sample_every + 1):
        loc_next += dt * vel_next
        wall(loc_next, vel_next, box)
        if i % sample_every == 0:
            loc_out[counter], vel_out[counter] = loc_next, vel_next
            counter += 1
        vel_next += dt * _force(loc_next, edges, system, k, max_force)
    return loc_out.transpose(0, 2, 1), vel_out.transpose(0, 2, 1)


def reference_simulate(system, n_sims, n=5, frames=49, seed=0):
    """The loop over trajectories, from the same initial states as the vectorised simulator."""
    if system == "springs":
        init = initial_springs(n_sims, n, seed)
        pair = init["edges"].astype(np.float64)
    else:
        init = initial_charged(n_sims, n, seed)
        pair = init["charge"][:, :, None] * init["charge"][:, None, :]
    out = [
        reference_trajectory(init["position"][s], init["velocity"][s], pair[s], system, frames) for s in range(n_sims)
    ]
    return np.stack([p for p, _ in out]), np.stack([v for _, v in out])


def _per_trajectory(fn, n_sims, repeat=1):
    """Wall-clock seconds per trajectory of ``fn(n_sims)``: the fastest of ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(n_sims)
        best = min(best, (time.perf_counter() - t0) / n_sims)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loop", type=int, default=50, help="trajectories timed with the reference loop")
    p.add_argument("--ours", type=int, default=2000, help="trajectories timed with the vectorised simulator")
    p.add_argument("--repeat", type=int, default=3, help="timed runs of each side; the fastest is kept")
    p.add_argument("--paper", type=int, default=5000, help="springs5 trajectories measured for the paper scale")
    p.add_argument("--n", type=int, default=5)
    p.add_argument("--frames", type=int, default=49)
    args = p.parse_args()
    simulators = {"springs": simulate_springs, "charged": simulate_charged}
    print(f"{'system':<8} {'loop ms/traj':>13} {'ours ms/traj':>13} {'speed-up':>9}")
    for system, simulate in simulators.items():
        loop = _per_trajectory(
            lambda s, system=system: reference_simulate(system, s, args.n, args.frames),
            max(1, args.loop // args.repeat),
            args.repeat,
        )
        ours = _per_trajectory(
            lambda s, simulate=simulate: simulate(s, args.n, args.frames, seed=1), args.ours, args.repeat
        )
        print(f"{system:<8} {loop * 1e3:>13.3f} {ours * 1e3:>13.3f} {loop / ours:>9.1f}")
    per = _per_trajectory(lambda s: simulate_springs(s, args.n, args.frames, seed=2), args.paper)
    print(
        f"springs{args.n}, {PAPER_TRAJECTORIES:,} trajectories of {args.frames} frames: "
        f"{per * PAPER_TRAJECTORIES:.0f} s (extrapolated from {args.paper:,} measured in {per * args.paper:.1f} s)"
    )


if __name__ == "__main__":
    main()
