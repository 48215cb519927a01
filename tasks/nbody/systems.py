"""Family N simulator: charged particles in 3-D (Satorras et al. 2021), vectorised over simulations.

Every particle carries a charge q = ±1 and unit mass. The force on particle *i* is

    F_i = Σ_j q_i q_j (x_i − x_j) / |x_i − x_j|³,

each component clipped to ±``max_force``; one step of ``dt`` is a kick then a drift (semi-implicit
Euler, as in the NRI/EGNN generator): ``v += dt·F(x)``, then ``x += dt·v``. There are no walls, so the
dynamics are E(3)-equivariant. Initial positions are N(0, σ²) per coordinate with σ = (n/5)^(1/3)
(the same density for every n; EGNN's generator) or (n/5)^(1/3) + 0.1 (HEGNN's generator: a card's
``position_std_offset``), initial velocities N(0, I) rescaled to norm ``velocity_norm``.

Frames: our frame k is the state after k·``record_every`` steps (frame 0: the initial state). The reference
generators count differently: EGNN's frame k is the state after 100(k+1) steps (its first recorded frame,
the initial state, is overwritten), HEGNN's after 100k + 1. Ours thus lags EGNN's by one frame (100 steps)
and HEGNN's by one step; the input and target are still 1000 steps apart, and the offset only shifts where
the trajectories are taken from (within the noise of the published numbers).

float64 throughout. ``forces`` and ``simulate`` run compiled kernels (``_kernels``, numba: simulations
in SIMD lanes, a block's state in cache for all its steps); they give bit for bit the bytes of the numpy
code kept here as ``forces_reference`` and ``simulate_reference`` (the simulator the datasets were first
made with; every IEEE operation in the same order, the sums over particles included), so a dataset's
bytes repeat on one platform and match the committed manifests.
"""

from __future__ import annotations

import numpy as np


def position_std(n_particles: int, offset: float = 0.0) -> float:
    """σ = (n/5)^(1/3) + ``offset``: the spread of the initial positions. EGNN's generator: offset 0 (5 particles:
    σ = 1); HEGNN's: offset 0.1. Offset 0 gives σ bit for bit as before the offset existed (x + 0.0 == x)."""
    return (n_particles / 5.0) ** (1.0 / 3.0) + offset


def initial_state(
    n_sims: int,
    n_particles: int,
    seed,
    velocity_norm: float = 0.5,
    charges=(-1.0, 1.0),
    position_offset: float = 0.0,
) -> dict[str, np.ndarray]:
    """Positions N(0, σ²) with σ = ``position_std(n_particles, position_offset)``, velocities of norm
    ``velocity_norm`` in uniformly random directions, charges drawn from ``charges`` with equal probability.
    Shapes: ``pos``/``vel`` (S, n, 3), ``charge`` (S, n)."""
    rng = np.random.default_rng(seed)
    pos = rng.standard_normal((n_sims, n_particles, 3)) * position_std(n_particles, position_offset)
    vel = rng.standard_normal((n_sims, n_particles, 3))
    speed = np.sqrt(vel[..., 0] * vel[..., 0] + vel[..., 1] * vel[..., 1] + vel[..., 2] * vel[..., 2])
    vel = vel * (velocity_norm / speed)[..., None]
    charge = np.asarray(charges, dtype=np.float64)[rng.integers(0, len(charges), (n_sims, n_particles))]
    return {"pos": pos, "vel": vel, "charge": charge}


def block_size(n_particles: int) -> int:
    """Simulations per SIMD block of the kernels: 64 for a few bodies, 32 from 17 (the fastest measured
    here; any size gives the same bytes)."""
    return 64 if n_particles <= 16 else 32


def forces(pos: np.ndarray, charge: np.ndarray, max_force: float | None = None) -> np.ndarray:
    """Coulomb forces (S, n, 3) on every particle of ``pos`` (S, n, 3) with charges (S, n), each
    component clipped to ±``max_force`` (None: no clipping). Compiled; bit for bit ``forces_reference``."""
    from bench.tasks.nbody._kernels import forces_kernel

    pos, charge = _as_f64(pos), _as_f64(charge)
    _check_shapes(pos, charge)
    lead = pos.shape[:-2]
    clip, limit = max_force is not None, 0.0 if max_force is None else float(max_force)
    flat_pos, flat_charge = pos.reshape(-1, *pos.shape[-2:]), charge.reshape(-1, charge.shape[-1])
    out = forces_kernel(flat_pos, flat_charge, clip, limit, block_size(pos.shape[-2]))
    return out.reshape(*lead, *out.shape[1:])


def _check_shapes(pos: np.ndarray, charge: np.ndarray, vel: np.ndarray | None = None) -> None:
    """The kernels read without bounds checks: positions (..., n, 3), charges (..., n), velocities as positions,
    else a ValueError naming the shapes."""
    bad_vel = vel is not None and vel.shape != pos.shape
    if pos.ndim < 2 or pos.shape[-1] != 3 or charge.shape != pos.shape[:-1] or bad_vel:
        given = f"pos {pos.shape}, charge {charge.shape}" + ("" if vel is None else f", vel {vel.shape}")
        raise ValueError(f"n-body state shapes {given}: expected pos and vel (..., n, 3) and charge (..., n)")


def _as_f64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def forces_reference(pos: np.ndarray, charge: np.ndarray, max_force: float | None = None) -> np.ndarray:
    """``forces`` in numpy (the definition the kernel reproduces; the F_i sum runs over j in order)."""
    n = pos.shape[-2]
    coords = np.moveaxis(pos, -1, 0)  # (3, S, n): one contiguous block per coordinate
    delta = coords[:, :, :, None] - coords[:, :, None, :]  # x_i - x_j: (3, S, n_i, n_j)
    r2 = delta[0] * delta[0] + delta[1] * delta[1] + delta[2] * delta[2]
    r2[:, np.arange(n), np.arange(n)] = np.inf  # no self-force
    strength = (charge[:, :, None] * charge[:, None, :]) / (r2 * np.sqrt(r2))
    total = (strength[None] * delta).sum(-1)  # Σ_j over the last axis: (3, S, n)
    out = np.ascontiguousarray(np.moveaxis(total, 0, -1))
    if max_force is not None:
        np.clip(out, -max_force, max_force, out=out)
    return out


def energy(pos: np.ndarray, vel: np.ndarray, charge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kinetic ½Σ|v|² and potential Σ_{i<j} q_i q_j / r_ij energy (unit masses): two arrays (...)."""
    n = pos.shape[-2]
    iu, ju = np.triu_indices(n, k=1)
    delta = pos[..., iu, :] - pos[..., ju, :]
    r = np.sqrt((delta * delta).sum(-1))
    potential = (charge[..., iu] * charge[..., ju] / r).sum(-1)
    kinetic = 0.5 * (vel * vel).sum((-1, -2))
    return kinetic, potential


def simulate(
    state: dict[str, np.ndarray],
    frames: list[int] | tuple[int, ...],
    record_every: int = 100,
    dt: float = 1e-3,
    max_force: float | None = 100.0,
    chunk: int = 512,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Integrate every simulation of ``state`` and keep the listed frames (frame k: the state after
    ``k·record_every`` steps; frame 0 is the initial state. EGNN's frame k is after 100(k+1) steps, HEGNN's
    after 100k + 1: see the module docstring).

    Simulations are independent: the compiled kernel integrates them ``block_size(n)`` at a time, all steps of
    a block before the next, and is called on chunks of ``chunk`` (the progress bar's unit); neither
    changes a byte. Returns ``pos``, ``vel`` (S, len(frames), n, 3), bit for bit ``simulate_reference``.
    """
    from tqdm.auto import tqdm

    from bench.tasks.nbody._kernels import simulate_kernel

    frames = sorted(int(f) for f in frames)
    n_steps = frames[-1] * record_every
    record = np.asarray([f * record_every for f in frames], dtype=np.int64)
    pos, vel, charge = _as_f64(state["pos"]), _as_f64(state["vel"]), _as_f64(state["charge"])
    _check_shapes(pos, charge, vel)
    if pos.ndim != 3:
        raise ValueError(f"n-body state shapes: expected pos (S, n, 3), got {pos.shape}")
    S = pos.shape[0]
    pos_out = np.empty((S, len(frames), *pos.shape[1:]))
    vel_out = np.empty_like(pos_out)
    clip, limit = max_force is not None, 0.0 if max_force is None else float(max_force)
    block = block_size(pos.shape[1])
    bar = tqdm(total=S, desc="simulate n-body", unit="sim", disable=not progress, leave=False, mininterval=1)
    for start in range(0, S, chunk):
        part = slice(start, min(start + chunk, S))
        simulate_kernel(pos[part], vel[part], charge[part], record, n_steps, float(dt), clip, limit, block,
                        pos_out[part], vel_out[part])  # fmt: skip
        bar.update(part.stop - part.start)
    bar.close()
    return {"pos": pos_out, "vel": vel_out}


def simulate_reference(
    state: dict[str, np.ndarray],
    frames: list[int] | tuple[int, ...],
    record_every: int = 100,
    dt: float = 1e-3,
    max_force: float | None = 100.0,
    chunk: int = 512,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """``simulate`` in numpy, one step of a chunk of simulations per Python iteration (the simulator the
    datasets were first generated with; ``simulate`` reproduces its bytes)."""
    from tqdm.auto import tqdm

    frames = sorted(int(f) for f in frames)
    n_steps = frames[-1] * record_every
    S = state["pos"].shape[0]
    pos_out = np.empty((S, len(frames), *state["pos"].shape[1:]))
    vel_out = np.empty_like(pos_out)
    wanted = {f * record_every: k for k, f in enumerate(frames)}
    n_chunks = -(-S // chunk)
    bar = tqdm(total=n_steps * n_chunks, desc="simulate n-body", disable=not progress, leave=False, mininterval=1)
    for start in range(0, S, chunk):
        part = slice(start, min(start + chunk, S))
        x, v, q = state["pos"][part].copy(), state["vel"][part].copy(), state["charge"][part]
        for step in range(n_steps + 1):
            if step in wanted:
                pos_out[part, wanted[step]], vel_out[part, wanted[step]] = x, v
            if step == n_steps:
                break
            v += dt * forces_reference(x, q, max_force)
            x += dt * v
            if step % 100 == 0:
                bar.update(min(100, n_steps - step))
    bar.close()
    return {"pos": pos_out, "vel": vel_out}
