"""Step time of every model on every installed backend, and of our models against the reference
implementations, measured in one run on this machine.

    python -m benchmarks.step_times [--rounds 15] [--threads N] [--part all|table|comparisons]

Prints the model × backend table with the ratio to the fastest backend, then the two comparisons:
our ``gnn`` (batch 64 graphs of 4 particles, 2-D) against a plain PyG ``MessagePassing``
implementation of the same network, and our ``egnn`` (batch 100 graphs of 5 particles, 3-D) against
an index-gather / scatter-add implementation. Both references first prove they compute the same
function as ours (same weights, same outputs). Our steps are timed at float32, as the references, and
with bf16 mixed precision (``precision=bf16`` of ``bench run``), the egnn's also through torch.compile
(``compile=true``; compiling takes about a minute first); the goals are judged at both precisions.
"""

from __future__ import annotations

import argparse

import torch

from bench.backends import installed
from bench.registry import model_names
from benchmarks.common import (
    EGNN_NBODY,
    batch_for,
    measure_interleaved,
    model_for,
    our_step,
    plain_step,
    random_batch,
    sparse_batch,
    target_of,
)
from benchmarks.references import ScatterEGNN, plain_pyg_gnn


def backend_table(rounds: int) -> None:
    header = f"{'model':<14} {'graph':<34} " + " ".join(f"{b + ' ms':>10} {'ratio':>6}" for b in installed())
    print(header)
    for name in model_names():
        model, cfg, graphs = model_for(name)
        n, d = int(cfg.task.n_particles), int(cfg.task.dim)
        cases = {f"fully connected, {graphs} x {n} nodes": batch_for(model, graphs)}
        if not model.spec.window:  # a model reading a history (relational) runs on fully connected systems only
            cases["sparse, 2000 nodes, ~16 in-edges"] = sparse_batch(2000, 16, d)
        for label, batch in cases.items():
            # a sparse step takes 0.1-0.4 s: fewer repetitions keep the whole table to a few minutes
            reps = {"rounds": rounds} if label.startswith("fully") else {"rounds": min(rounds, 5), "per_round": 2}
            times = measure_interleaved({b: our_step(model, batch, b) for b in installed()}, **reps)
            fastest = min(times.values())
            cells = " ".join(f"{times[b] * 1e3:>10.2f} {times[b] / fastest:>6.2f}" for b in installed())
            print(f"{name:<14} {label:<34} {cells}")


def gnn_vs_plain_pyg(rounds: int) -> None:
    model, cfg, graphs = model_for("gnn")
    batch = random_batch(graphs, 4, 2)
    reference = plain_pyg_gnn(node_dim=2 * 2 + 2, dim=2)
    reference.load_state_dict(model.state_dict())
    x = torch.cat([batch.position, batch.velocity, batch.node_scalars(("charge", "mass"))], dim=1)
    with torch.no_grad():
        from bench.backends import get_backend

        ours = model(get_backend("torch").bind(batch))
        theirs = reference(x, batch.edge_index)
        assert torch.allclose(ours, theirs, atol=1e-5), "the reference is not the same network"
    inputs, target = (x, batch.edge_index), target_of(batch)
    times = measure_interleaved({
        "ours (backend=torch)": our_step(model, batch, "torch"),
        "ours (backend=pyg)": our_step(model, batch, "pyg"),
        "ours (torch, precision=bf16)": our_step(model, batch, "torch", precision="bf16"),
        "plain PyG MessagePassing": plain_step(reference, inputs, target),
        "ours, forward+backward": our_step(model, batch, "torch", optimizer=False),
        "plain PyG, forward+backward": plain_step(reference, inputs, target, optimizer=False),
    }, rounds=rounds)  # fmt: skip
    _report("gnn, 64 graphs x 4 particles, 2-D", times, "plain PyG MessagePassing", goal=1.5,
            flops=matmul_flops(our_step(model, batch, "torch", optimizer=False)))  # fmt: skip


def egnn_vs_scatter(rounds: int) -> None:
    n, d, graphs = EGNN_NBODY
    model, cfg, _ = model_for("egnn", ["task=charge", "task.n_particles=8", f"task.dim={d}"])
    batch = random_batch(graphs, n, d)
    reference = ScatterEGNN(n_attr=2)
    reference.load_state_dict(model.state_dict())
    scalars = batch.node_scalars(("charge", "mass"))
    inputs = (batch.position, batch.velocity, scalars, batch.edge_index)
    with torch.no_grad():
        from bench.backends import get_backend

        assert torch.allclose(model(get_backend("torch").bind(batch)), reference(*inputs), atol=1e-5)
    target = target_of(batch)
    times = measure_interleaved({
        "ours (backend=torch)": our_step(model, batch, "torch"),
        "ours (torch, precision=bf16)": our_step(model, batch, "torch", precision="bf16"),
        "ours (torch, compile)": our_step(model, batch, "torch", compile=True),
        "ours (torch, bf16, compile)": our_step(model, batch, "torch", precision="bf16", compile=True),
        "index gather / scatter_add": plain_step(reference, inputs, target),
        "ours, forward+backward": our_step(model, batch, "torch", optimizer=False),
        "scatter, forward+backward": plain_step(reference, inputs, target, optimizer=False),
    }, rounds=rounds)  # fmt: skip
    _report(f"egnn, {graphs} graphs x {n} particles, {d}-D, hidden 64, 4 layers", times,
            "index gather / scatter_add", goal=2.0,
            flops=matmul_flops(our_step(model, batch, "torch", optimizer=False)))  # fmt: skip


def matmul_flops(step) -> int:
    """Floating-point operations of the matrix products (mm, addmm, bmm) in one call of ``step`` (forward and
    backward), as torch's ``FlopCounterMode`` counts them: the arithmetic every implementation of the same
    network must do. Elementwise work (activations, gathers, the optimiser) is not counted."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return int(counter.get_total_flops())


def matmul_peak(seconds: float = 1.0) -> float:
    """This machine's float32 matrix-product rate (FLOP/s) at torch's thread count: the best of a few products
    of the shapes a message-passing step multiplies (thousands of rows by a few hundred columns)."""
    import time

    best = 0.0
    for rows, inner, cols in ((1024, 300, 300), (4096, 128, 128), (1024, 512, 512)):
        a, b = torch.randn(rows, inner), torch.randn(inner, cols)
        a @ b
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            a @ b
            count += 1
        best = max(best, 2 * rows * inner * cols * count / (time.perf_counter() - start))
    return best


def _report(title: str, times: dict[str, float], reference: str, goal: float, flops: int | None = None) -> None:
    """Full steps against the reference's full step; forward+backward against its forward+backward.
    The goal is judged twice: at float32 (the reference's precision) and with bf16 mixed precision. ``flops``:
    the matrix products' operations in one forward+backward, from which the time this machine's float32
    matrix-product rate alone would take (the arithmetic limit of any implementation) is printed."""
    print(f"\n{title}")
    if flops:
        peak = matmul_peak()
        limit = flops / peak
        ours = next(t for k, t in times.items() if k == "ours, forward+backward")
        theirs = next(t for k, t in times.items() if k.endswith("forward+backward") and not k.startswith("ours"))
        print(f"  arithmetic limit (fp32): {flops / 1e6:.0f} MFLOP of matrix products per forward+backward at "
              f"{peak / 1e9:.0f} GFLOP/s = {limit * 1e3:.2f} ms; ours takes {ours / limit:.2f}x that, the "
              f"reference {theirs / limit:.2f}x: no implementation of this network at float32 can be more than "
              f"{theirs / limit:.2f}x faster than the reference's forward+backward here")  # fmt: skip
    reference_fb = next(t for k, t in times.items() if k.endswith("forward+backward") and not k.startswith("ours"))
    for name, t in times.items():
        base = reference_fb if name.endswith("forward+backward") else times[reference]
        print(f"  {name:<30} {t * 1e3:8.2f} ms   speed-up {base / t:5.2f}x")
    full = {k: t for k, t in times.items() if k.startswith("ours") and not k.endswith("forward+backward")}
    for label, keep in (("float32", lambda k: "bf16" not in k), ("bf16 mixed", lambda k: "bf16" in k)):
        best = min(t for k, t in full.items() if keep(k))
        ratio = times[reference] / best
        print(f"  goal, {label}: our training step >= {goal}x faster than the reference's: {ratio:.2f}x "
              f"({'met' if ratio >= goal else 'NOT met'})")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument(
        "--part",
        choices=("all", "table", "comparisons"),
        default="all",
        help="the model x backend table, the two comparisons with the references, or both",
    )
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    if args.part in ("all", "table"):
        backend_table(args.rounds)
    if args.part in ("all", "comparisons"):
        gnn_vs_plain_pyg(args.rounds)
        egnn_vs_scatter(args.rounds)


if __name__ == "__main__":
    main()
