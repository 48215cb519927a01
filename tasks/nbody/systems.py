"""Family N simulator: charged particles in 3-D (Satorras et al. 2021), vectorised over simulations.

Every particle carries a charge q = ±1 and unit mass. The force on particle *i* is

    F_i = Σ_j q_i q_j (x_i − x_j) / |x_i − x_j|³,

each component clipped to ±``max_force``; one step of ``dt`` is a kick then a drift (semi-implicit
Euler, as in the NRI/EGNN generator): ``v += dt·F(x)``, then ``x += dt·v``. There are no walls, so the
dynamics are E(3)-equivariant. Initial positions are N(0, σ²) per coordinate with σ = (n/5)^(1/3)
(the same density for every n), initial velocities N(0, I) rescaled to norm ``velocity_norm``.

float64 throughout; sums over particles are numpy reductions along the last axis of contiguous
arrays (deterministic for a given numpy build), so a dataset's bytes repeat on one platform.
"""

from __future__ import annotations

import numpy as np


def position_std(n_particles: int) -> float:
    """σ = (n/5)^(1/3): the spread of the initial positions (5 particles: 1)."""
    return (n_particles / 5.0) ** (1.0 / 3.0)


def initial_state(
    n_sims: int, n_particles: int, seed, velocity_norm: float = 0.5, charges=(-1.0, 1.0)
) -> dict[str, np.ndarray]:
    """Positions N(0, σ²), velocities of norm ``velocity_norm`` in uniformly random directions, charges
    drawn from ``charges`` with equal probability. Shapes: ``pos``/``vel`` (S, n, 3), ``charge`` (S, n)."""
    rng = np.random.default_rng(seed)
    pos = rng.standard_normal((n_sims, n_particles, 3)) * position_std(n_particles)
    vel = rng.standard_normal((n_sims, n_particles, 3))
    speed = np.sqrt(vel[..., 0] * vel[..., 0] + vel[..., 1] * vel[..., 1] + vel[..., 2] * vel[..., 2])
    vel = vel * (velocity_norm / speed)[..., None]
    charge = np.asarray(charges, dtype=np.float64)[rng.integers(0, len(charges), (n_sims, n_particles))]
    return {"pos": pos, "vel": vel, "charge": charge}


def forces(pos: np.ndarray, charge: np.ndarray, max_force: float | None = None) -> np.ndarray:
    """Coulomb forces (S, n, 3) on every particle of ``pos`` (S, n, 3) with charges (S, n), each
    component clipped to ±``max_force`` (None: no clipping)."""
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
    ``k·record_every`` steps; frame 0 is the initial state).

    Simulations are independent, so they are integrated in chunks of ``chunk`` (bounded memory for
    100 bodies) with identical results. Returns ``pos``, ``vel`` (S, len(frames), n, 3).
    """
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
            v += dt * forces(x, q, max_force)
            x += dt * v
            if step % 100 == 0:
                bar.update(min(100, n_steps - step))
    bar.close()
    return {"pos": pos_out, "vel": vel_out}
