"""Family F simulators: particles under pair potentials (Cranmer et al. 2020), vectorised over simulations.

Every system is a sum of pair potentials ``V(r')`` of the softened distance ``r' = |x_i - x_j| + 0.01``
(see ``POTENTIALS``). The force on particle *i* from *j* is ``-V'(r') (x_i - x_j) / |x_i - x_j|``; the
acceleration is the summed force over the mass (plus a velocity damping for ``damped``).

Arithmetic rules that make the bytes reproducible: float64 throughout; only ``+ - * /`` and ``sqrt``
(correctly rounded in IEEE 754) touch the state; sums over particles are explicit additions in a
fixed order (no reductions whose order a SIMD kernel may choose); ``exp`` (for the masses) goes
through the C library one number at a time. The energy bookkeeping (``energy``) does use reductions
and ``log``: it only decides which simulations are re-integrated, never touches a stored value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.pairs import ordered_pairs
from bench.tasks.libm import log

SOFTENING = 0.01
"""Added to every pair distance: ``r' = r + 0.01`` (Cranmer et al.)."""

DAMPING_RATE = 0.1
"""``damped``: every particle feels ``a -= 0.1 v`` (the same rate for every particle; the reference
code of Cranmer et al. damps particles unevenly)."""


@dataclass(frozen=True)
class Potential:
    """A pair potential ``V(r')`` with its derivative, in terms of the pair's charges and masses."""

    name: str
    dt: float
    latex: str
    energy: Callable[..., np.ndarray]
    """V(r', q_i, q_j, m_i, m_j): the pair energy (for ``discontinuous``, its continuous part)."""
    derivative: Callable[..., np.ndarray]
    """dV/dr'(r', q_i, q_j, m_i, m_j)."""
    damping: float = 0.0
    """Velocity damping rate: ``a -= damping * v`` (not a pair force)."""

    @property
    def conservative(self) -> bool:
        return self.damping == 0.0


def _spring_V(rp, qi, qj, mi, mj):
    return (rp - 1.0) * (rp - 1.0)


def _spring_dV(rp, qi, qj, mi, mj):
    return 2.0 * (rp - 1.0)


def _r1_V(rp, qi, qj, mi, mj):
    return mi * mj * log(rp)  # the C library's: numpy's AVX-512 log differs in rare last bits (r1 v1)


def _r1_dV(rp, qi, qj, mi, mj):
    return mi * mj / rp


def _r2_V(rp, qi, qj, mi, mj):
    return -(mi * mj) / rp


def _r2_dV(rp, qi, qj, mi, mj):
    return mi * mj / (rp * rp)


def _charge_V(rp, qi, qj, mi, mj):
    return qi * qj / rp


def _charge_dV(rp, qi, qj, mi, mj):
    return -(qi * qj) / (rp * rp)


def _superposition_V(rp, qi, qj, mi, mj):
    return qi * qj / rp - mi * mj / rp


def _superposition_dV(rp, qi, qj, mi, mj):
    return (mi * mj - qi * qj) / (rp * rp)


def _discontinuous_V(rp, qi, qj, mi, mj):
    # The potential of the task is 0 for r' < 2 and (r'-1)^2 beyond; it jumps by 1 at r' = 2, a jump
    # no force ever sees. Energy bookkeeping uses the continuous part, (r'-1)^2 - 1, whose gradient
    # is the force everywhere.
    return np.where(rp < 2.0, 0.0, (rp - 1.0) * (rp - 1.0) - 1.0)


def _discontinuous_dV(rp, qi, qj, mi, mj):
    return np.where(rp < 2.0, 0.0, 2.0 * (rp - 1.0))


POTENTIALS: dict[str, Potential] = {
    p.name: p
    for p in [
        Potential("spring", 1e-2, r"(r'-1)^2", _spring_V, _spring_dV),
        Potential("r1", 5e-3, r"m_i m_j \log r'", _r1_V, _r1_dV),
        Potential("r2", 1e-3, r"-m_i m_j / r'", _r2_V, _r2_dV),
        Potential("charge", 1e-3, r"q_i q_j / r'", _charge_V, _charge_dV),
        Potential("superposition", 1e-3, r"q_i q_j / r' - m_i m_j / r'", _superposition_V, _superposition_dV),
        Potential("damped", 2e-2, r"(r'-1)^2,\ a \mathrel{-}= 0.1\,v", _spring_V, _spring_dV, DAMPING_RATE),
        Potential("discontinuous", 1e-2, r"0 \ (r'<2),\ (r'-1)^2", _discontinuous_V, _discontinuous_dV),
    ]
}
SYSTEMS = tuple(POTENTIALS)


def get_potential(system: str) -> Potential:
    """The potential of ``system``; a clear error for an unknown name."""
    if system not in POTENTIALS:
        from bench.errors import unknown

        raise unknown("system", system, SYSTEMS)
    return POTENTIALS[system]


def pair_forces(system: str, pos: np.ndarray, charge: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Force on each receiver from each sender, for every ordered pair.

    Shapes: ``pos`` (..., n, d), ``charge`` and ``mass`` (..., n) → (..., n(n-1), d), pairs in
    ``ordered_pairs(n)`` order. The damping of ``damped`` is not a pair force and is not included.
    """
    potential = get_potential(system)
    n, d = pos.shape[-2], pos.shape[-1]
    recv, send = ordered_pairs(n)
    delta = pos[..., recv, :] - pos[..., send, :]  # x_i - x_j
    r2 = delta[..., 0] * delta[..., 0]
    for k in range(1, d):
        r2 = r2 + delta[..., k] * delta[..., k]
    r = np.sqrt(r2)
    dV = potential.derivative(r + SOFTENING, charge[..., recv], charge[..., send], mass[..., recv], mass[..., send])
    return (-dV / r)[..., None] * delta


def accelerations(system: str, pos: np.ndarray, vel: np.ndarray, charge: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Instantaneous acceleration of every particle, computed analytically from the state.

    Shapes: ``pos``/``vel`` (..., n, d), ``charge``/``mass`` (..., n) → (..., n, d).
    """
    n = pos.shape[-2]
    forces = pair_forces(system, pos, charge, mass)
    forces = forces.reshape(*forces.shape[:-2], n, n - 1, pos.shape[-1])
    total = forces[..., 0, :]
    for k in range(1, n - 1):  # a fixed order of additions, so the bytes never depend on a kernel
        total = total + forces[..., k, :]
    acc = total / mass[..., None]
    damping = get_potential(system).damping
    if damping:
        acc = acc - damping * vel
    return acc


def energy(system: str, pos: np.ndarray, vel: np.ndarray, charge: np.ndarray, mass: np.ndarray):
    """Kinetic and potential energy per simulation: two arrays of shape (...)."""
    potential = get_potential(system)
    iu, ju = np.triu_indices(pos.shape[-2], k=1)
    delta = pos[..., iu, :] - pos[..., ju, :]
    rp = np.sqrt((delta * delta).sum(-1)) + SOFTENING
    V = potential.energy(rp, charge[..., iu], charge[..., ju], mass[..., iu], mass[..., ju]).sum(-1)
    K = 0.5 * (mass * (vel * vel).sum(-1)).sum(-1)
    return K, V


def initial_state(n_sims: int, n_particles: int, dim: int, seed: int) -> dict[str, np.ndarray]:
    """Positions and velocities N(0, 1), masses exp(N(0, 1)), charges ±1 with p = 1/2."""
    rng = np.random.default_rng(seed)
    pos = rng.standard_normal((n_sims, n_particles, dim))
    vel = rng.standard_normal((n_sims, n_particles, dim))
    log_mass = rng.standard_normal((n_sims, n_particles))
    mass = np.array([math.exp(v) for v in log_mass.ravel()]).reshape(log_mass.shape)
    charge = np.where(rng.random((n_sims, n_particles)) < 0.5, -1.0, 1.0)
    return {"pos": pos, "vel": vel, "charge": charge, "mass": mass}


def integrate(
    system: str,
    state: dict[str, np.ndarray],
    dt: float,
    n_steps: int,
    record_every: int,
    substeps: int,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Integrate ``n_steps`` steps of ``dt`` (each split into ``substeps`` velocity-Verlet substeps).

    Records the state every ``record_every`` steps starting at step 0, and the energy drift of every
    simulation: ``max_t |E_t - E_0| / mean_t K_t`` over the recorded frames, where ``E`` includes the
    work done by damping (``damped``) so that a perfect integrator would show zero for every system.

    Returns ``pos``/``vel`` (S, T, n, d), ``energy_drift`` (S,).
    """
    from tqdm.auto import tqdm

    damping = get_potential(system).damping
    x, v = state["pos"].copy(), state["vel"].copy()
    q, m = state["charge"], state["mass"]
    h = dt / substeps
    n_frames = (n_steps - 1) // record_every + 1
    pos_out = np.empty((x.shape[0], n_frames) + x.shape[1:])
    vel_out = np.empty_like(pos_out)
    energies = np.empty((x.shape[0], n_frames))
    kinetic = np.empty((x.shape[0], n_frames))
    dissipated = np.zeros(x.shape[0])
    a = accelerations(system, x, v, q, m)
    frame = 0
    for step in tqdm(range(n_steps), desc=f"simulate {system}", disable=not progress, leave=False):
        if step % record_every == 0:
            pos_out[:, frame], vel_out[:, frame] = x, v
            K, V = energy(system, x, v, q, m)
            energies[:, frame], kinetic[:, frame] = K + V + dissipated, K
            frame += 1
        for _ in range(substeps):
            v_half = v + (0.5 * h) * a
            x = x + h * v_half
            if damping:
                # Work done against friction over the substep, at the midpoint velocity.
                dissipated = dissipated + h * damping * (m * (v_half * v_half).sum(-1)).sum(-1)
            a = accelerations(system, x, v_half, q, m)
            v = v_half + (0.5 * h) * a
    drift = np.abs(energies - energies[:, :1]).max(1) / np.maximum(kinetic.mean(1), 1e-12)
    return {"pos": pos_out, "vel": vel_out, "energy_drift": drift}
