"""Benchmark: every simulator against a reference-style loop and against its arithmetic limit, in one run.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/simulator_speed.py [--repeat 3] [--quick] [--paper]
        [--only nbody|forces|relational|heterogeneous ...]

Per simulator it prints the time per trajectory of ours and of a loop in the style of the published
generators (one simulation at a time, a Python loop over steps doing numpy on that simulation's arrays;
written here, not copied), their ratio, and the fraction of the arithmetic limit ours reaches:

- flop limit: the simulator's floating-point operations (counted per step below; √, ÷, exp and log count
  as one each) divided by this machine's measured peak (a 1024² float64 matmul on one thread);
- for the Coulomb and force-law simulators, also the √/÷ limit: every pair needs one √ and one ÷, which no
  bit-identical kernel can avoid (they cannot become a fused reciprocal square root) and which run on a
  divider much slower than the multipliers; its throughput is measured with a tight vectorised numba loop.

Each side is timed ``--repeat`` times, interleaved, and the fastest kept (the run least disturbed by other
load on a shared machine). ``nbody100`` at paper scale (5000 / 2000 / 2000 trajectories of 4000, 4000 and
7000 steps) is extrapolated from 100-body trajectory-steps measured here; ``--paper`` generates it (long).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("nbody", "forces", "relational", "heterogeneous")


def fastest(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def interleaved(fns: dict, repeat: int) -> dict[str, float]:
    """The fastest of ``repeat`` runs of each function, the functions taking turns (the same load for all)."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


# ---------------------------------------------------------------------------------------------- limits
def matmul_flops(size: int = 1024, repeat: int = 3) -> float:
    """Peak float64 FLOP/s of this machine's BLAS (one thread under OMP_NUM_THREADS=1)."""
    a = np.random.default_rng(0).standard_normal((size, size))
    a @ a
    return 2.0 * size**3 / fastest(lambda: a @ a, repeat)


def sqrt_div_rate(repeat: int = 3) -> float:
    """√ and ÷ pairs per second of a tight vectorised numba loop (q / (r2 · √r2) over 4096 numbers)."""
    from numba import njit

    @njit(error_model="numpy")
    def kernel(r2, q, out, reps):
        for _ in range(reps):
            for b in range(r2.shape[0]):
                out[b] = q[b] / (r2[b] * np.sqrt(r2[b]))

    r2, q, out = np.random.default_rng(0).random(4096) + 0.5, np.ones(4096), np.empty(4096)
    kernel(r2, q, out, 1)
    reps = 2000
    return r2.size * reps / fastest(lambda: kernel(r2, q, out, reps), repeat)


# ----------------------------------------------------------------------------------- n-body (family N)
def nbody_flops_per_step(n: int) -> float:
    """One kick-drift step of n charged bodies: per unordered pair d (3 −), r2 (3 ×, 2 +), √, r2·√r2, q_i q_j, ÷
    (12); per ordered pair the term s·d and its addition (3 −, 3 ×, 3 +: 9); per body the update (12)."""
    pairs = n * (n - 1) / 2
    return 12 * pairs + 9 * n * (n - 1) + 12 * n


def nbody_reference_loop(x, v, q, n_steps, dt=1e-3, max_force=100.0):
    """One trajectory in the style of the NRI/EGNN generator: numpy on one system's (n, 3) arrays per step."""
    x, v = x.copy(), v.copy()
    qq = np.outer(q, q)
    for _ in range(n_steps):
        diff = x[:, None, :] - x[None, :, :]
        dist = np.sqrt((diff**2).sum(-1))
        np.fill_diagonal(dist, np.inf)
        force = ((qq / dist**3)[:, :, None] * diff).sum(1)
        force = np.clip(force, -max_force, max_force)
        v = v + dt * force
        x = x + dt * v
    return x, v


def bench_nbody(args, peak: float, divider: float) -> list[tuple]:
    from bench.tasks.nbody.systems import initial_state, simulate

    rows = []
    for n, steps, sims, loop_sims in [(5, 5000, 2048, 2), (100, 200 if not args.quick else 50, 64, 1)]:
        state = initial_state(sims, n, [n, 9])
        simulate({k: a[:2] for k, a in state.items()}, [1], record_every=2)  # compile (or load the cache)
        t = interleaved(
            {
                "ours": lambda state=state, steps=steps: simulate(state, [0, 1], record_every=steps),
                "loop": lambda state=state, steps=steps, m=loop_sims: [
                    nbody_reference_loop(state["pos"][s], state["vel"][s], state["charge"][s], steps) for s in range(m)
                ],
            },
            args.repeat,
        )
        ours, loop = t["ours"] / sims, t["loop"] / loop_sims
        flops = nbody_flops_per_step(n) * steps
        floor = n * (n - 1) / 2 * steps / divider
        rows.append((f"n-body {n} bodies, {steps} steps", ours, loop, flops / peak / ours, floor / ours))
        if n == 100:
            per_step = ours / steps
            paper_steps = 5000 * 4000 + 2000 * 4000 + 2000 * 7000
            print(f"nbody100 paper scale ({paper_steps / 1e6:.0f} M trajectory-steps): "
                  f"{per_step * paper_steps / 60:.1f} min extrapolated from {per_step * 1e6:.1f} µs per 100-body "
                  f"trajectory-step on this run's threads")  # fmt: skip
    return rows


# ----------------------------------------------------------------------------------- forces (family F)
def forces_flops_per_step(n: int, d: int, substeps: int) -> float:
    """Per substep, as the kernel computes it: per unordered pair r2 (d −, d ×, d−1 +), √, r + ε, dV (≈ 4), −dV / r
    (2); per ordered pair the term (−dV / r)·(x_i − x_j) and its addition (d −, d ×, d +); per body a / m (d ÷) and
    the Verlet half-kicks and drift (6d)."""
    pairs = n * (n - 1) / 2
    return substeps * (pairs * (3 * d + 7) + n * (n - 1) * 3 * d + n * 7 * d)


def bench_forces(args, peak: float, divider: float) -> list[tuple]:
    """``integrate`` (the compiled kernel, all simulations) against ``integrate_reference`` (numpy) run on one
    simulation at a time, the reference-style loop; the numpy integrator on all simulations at once (the code
    the kernel replaced) is printed beside. √÷ limit: one √ and one ÷ per unordered pair and substep (charge
    has a second ÷ in its dV, spring none: a lower bound for both)."""
    from bench.tasks.forces.systems import POTENTIALS, initial_state, integrate, integrate_reference

    rows = []
    n, d, steps, substeps, sims = 4, 2, 500 if not args.quick else 100, 4, 1000
    for system in ("charge", "spring"):
        dt = POTENTIALS[system].dt
        state = initial_state(sims, n, d, seed=[0, 0])
        one = [{k: a[s : s + 1] for k, a in state.items()} for s in range(4)]
        integrate(system, one[0], dt, 2, 1, 1)  # compile (or load the cache)
        t = interleaved(
            {
                "ours": lambda system=system, state=state, dt=dt: integrate(system, state, dt, steps, 5, substeps),
                "loop": lambda system=system, dt=dt, one=one: [
                    integrate_reference(system, o, dt, steps, 5, substeps) for o in one
                ],
                "numpy": lambda system=system, state=state, dt=dt: integrate_reference(
                    system, state, dt, steps, 5, substeps
                ),
            },
            args.repeat,
        )
        ours, loop = t["ours"] / sims, t["loop"] / len(one)
        flops = forces_flops_per_step(n, d, substeps) * steps
        floor = n * (n - 1) / 2 * substeps * steps / divider
        name = f"forces {system} {n}x{d}-D, {steps}x{substeps} substeps"
        rows.append((name, ours, loop, flops / peak / ours, floor / ours))
        print(f"{name}: the numpy integrator on all {sims} simulations at once (integrate_reference) "
              f"{t['numpy'] / sims * 1e3:.4f} ms/traj, {t['numpy'] / t['ours']:.1f}x ours")  # fmt: skip
    return rows


# ------------------------------------------------------------------------------- relational (family R)
def bench_relational(args, peak: float, divider: float) -> list[tuple]:
    from bench.tasks.relational.systems import simulate_charged, simulate_springs

    spec = importlib.util.spec_from_file_location("brs", ROOT / "scripts" / "bench_relational_simulators.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    rows = []
    n, frames = 5, 49 if not args.quick else 10
    steps = frames * 100
    loop_sims, sims = 2, 1000
    for system, fn in (("charged", simulate_charged), ("springs", simulate_springs)):
        t = interleaved(
            {
                "ours": lambda fn=fn: fn(sims, n, frames, seed=1),
                "loop": lambda system=system: ref.reference_simulate(system, loop_sims, n, frames),
            },
            args.repeat,
        )
        ours, loop = t["ours"] / sims, t["loop"] / loop_sims
        pairs = n * (n - 1) / 2
        if system == "charged":  # per pair (i<j): 2 −, 2 ×, 1 +, √, ×, ÷, 2 ×; scatter 2 per ordered pair; update 8n
            per_step = pairs * 10 + n * (n - 1) * 2 + 8 * n
            floor = pairs * steps / divider / ours
        else:  # per ordered pair: 2 −, 2 ×, 2 +; update 8n
            per_step = n * (n - 1) * 6 + 8 * n
            floor = None
        rows.append((f"relational {system}{n}, {steps} steps", ours, loop, per_step * steps / peak / ours, floor))
    return rows


# ---------------------------------------------------------------------------- heterogeneous (family H)
def hetero_reference_frame(x, params, box, radius, sigma):
    """ẋ of one frame by brute force in numpy: every pair's minimum image, row blocks of 512 receivers."""
    from bench.tasks.heterogeneous.systems import pair_function

    out = np.zeros_like(x)
    for start in range(0, len(x), 512):
        rows = slice(start, start + 512)
        d = x[None, :, :] - x[rows, None, :]
        d -= box * np.round(d / box)
        r2 = (d * d).sum(-1)
        near = (r2 < radius * radius) & (r2 > 0)
        f = np.where(near, pair_function(np.sqrt(r2), params[rows, None, :], sigma), 0.0)
        out[rows] = (f[..., None] * d).sum(1) / np.maximum(near.sum(1), 1)[:, None]
    return out


def bench_heterogeneous(args, peak: float) -> list[tuple]:
    from bench.tasks.heterogeneous.systems import neighbour_pairs, velocity

    N, box, radius, sigma = (4800, 1.0, 0.075, 0.005) if not args.quick else (960, np.sqrt(0.2), 0.075, 0.005)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, box, (N, 2))
    params = np.repeat(np.array([[1.6233, 1.0413, 1.6012, 1.5615], [1.7667, 1.8308, 1.0855, 1.9055],
                                 [1.7226, 1.7850, 1.0584, 1.8579]]), -(-N // 3), axis=0)[:N]  # fmt: skip
    np.testing.assert_allclose(velocity(x, params, box, radius, sigma),
                               hetero_reference_frame(x, params, box, radius, sigma), atol=1e-9)  # fmt: skip
    t = interleaved(
        {
            "ours": lambda: velocity(x, params, box, radius, sigma),
            "loop": lambda: hetero_reference_frame(x, params, box, radius, sigma),
        },
        args.repeat,
    )
    pairs = neighbour_pairs(x, box, radius)[0].size
    # per unordered pair: minimum image (2 × 3), r (4), two pair functions (2 × ~12 with 2 exp, 2 log-free
    # powers as exp·log), two scatters (4); per particle the mean (4)
    flops = pairs * (6 + 4 + 24 + 4) + 4 * N
    return [(f"heterogeneous frame, {N} particles", t["ours"], t["loop"], flops / peak / t["ours"], None)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="shorter trajectories (a smoke run)")
    p.add_argument("--paper", action="store_true", help="also generate nbody100 at paper scale (long)")
    p.add_argument("--only", choices=FAMILIES, action="append", help="only this family's simulators (repeatable)")
    args = p.parse_args()
    only = set(args.only or FAMILIES)
    import numba

    peak, divider = matmul_flops(), sqrt_div_rate()
    print(f"this machine: matmul peak {peak / 1e9:.2f} GFLOP/s; √+÷ {divider / 1e9:.3f} G/s "
          f"(numba threads {numba.get_num_threads()})")  # fmt: skip
    rows = []
    if "nbody" in only:
        rows += bench_nbody(args, peak, divider)
    if "forces" in only:
        rows += bench_forces(args, peak, divider)
    if "relational" in only:
        rows += bench_relational(args, peak, divider)
    if "heterogeneous" in only:
        rows += bench_heterogeneous(args, peak)
    print(f"{'simulator':<38} {'ours ms/traj':>12} {'loop ms/traj':>12} {'speed-up':>9} {'of flop peak':>12} "
          f"{'of √÷ limit':>11}")  # fmt: skip
    for name, ours, loop, frac, floor in rows:
        floor_s = f"{floor:>11.2f}" if floor is not None else f"{'-':>11}"
        print(f"{name:<38} {ours * 1e3:>12.4f} {loop * 1e3:>12.2f} {loop / ours:>9.1f} {frac:>12.3f} {floor_s}")
    if args.paper and "nbody" in only:
        import tempfile

        from bench.config import task_card
        from bench.tasks.data import generate_dataset

        with tempfile.TemporaryDirectory() as root:
            t0 = time.perf_counter()
            generate_dataset(task_card("nbody100"), "paper", root=root, force=True, progress=False)
            print(f"nbody100 paper scale generated in {(time.perf_counter() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
