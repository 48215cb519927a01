"""Family F simulators: particles under pair potentials (Cranmer et al. 2020), vectorised over simulations.

Every system is a sum of pair potentials ``V(r')`` of the softened distance ``r' = |x_i - x_j| + 0.01``
(see ``POTENTIALS``). The force on particle *i* from *j* is ``-V'(r') (x_i - x_j) / |x_i - x_j|``; the
acceleration is the summed force over the mass (plus a velocity damping for ``damped``).

Arithmetic rules that make the bytes reproducible: float64 throughout; only ``+ - * /`` and ``sqrt``
(correctly rounded in IEEE 754) touch the state; sums over particles are explicit additions in a
fixed order (no reductions whose order a SIMD kernel may choose); ``exp`` (for the masses) goes
through the C library one number at a time. The energy bookkeeping (``energy``) does use reductions
and ``log``: it only decides which simulations are re-integrated, never touches a stored value.

``integrate`` runs its substeps in a compiled kernel (``_kernels``, numba) that repeats these numpy
operations in their order, number for number; ``integrate_reference`` is the numpy integrator the datasets
were first generated with, kept for the tests and ``benchmarks/simulator_speed.py``.
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


def _check_state(x: np.ndarray, v: np.ndarray, q: np.ndarray, m: np.ndarray) -> None:
    """The kernels read without bounds checks: positions and velocities (S, n, d), charges and masses (S, n), at
    least two particles (the numpy ``accelerations`` has no term to start a particle's sum from for one)."""
    if x.ndim != 3 or v.shape != x.shape or q.shape != x.shape[:2] or m.shape != x.shape[:2] or x.shape[1] < 2:
        raise ValueError(f"force-law state shapes pos {x.shape}, vel {v.shape}, charge {q.shape}, mass {m.shape}: "
                         "expected pos and vel (S, n, d), charge and mass (S, n), n ≥ 2")  # fmt: skip


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

    The substeps between two records run in a compiled kernel (``_kernels.advance``), the simulations split
    among numba's thread count (``numba.set_num_threads``; ``threads=`` of ``bench run``); the records and the
    energy bookkeeping stay here. Bit for bit ``integrate_reference`` (whose steps after the last record, which
    change nothing returned, are not taken).

    Returns ``pos``/``vel`` (S, T, n, d), ``energy_drift`` (S,).
    """
    from concurrent.futures import ThreadPoolExecutor

    import numba
    from tqdm.auto import tqdm

    from bench.tasks.forces._kernels import LANES, MAX_SUM, SYSTEM_CODES, advance

    damping = get_potential(system).damping
    x = np.array(state["pos"], dtype=np.float64, order="C")
    v = np.array(state["vel"], dtype=np.float64, order="C")
    q = np.ascontiguousarray(state["charge"], dtype=np.float64)
    m = np.ascontiguousarray(state["mass"], dtype=np.float64)
    _check_state(x, v, q, m)
    if x.shape[1] > MAX_SUM:  # the kernel's copy of numpy's pairwise sum stops there (friction's work only)
        return integrate_reference(system, state, dt, n_steps, record_every, substeps, progress)
    code, h, k = SYSTEM_CODES[system], dt / substeps, record_every * substeps
    S = x.shape[0]
    n_frames = (n_steps - 1) // record_every + 1
    pos_out = np.empty((S, n_frames) + x.shape[1:])
    vel_out = np.empty_like(pos_out)
    energies = np.empty((S, n_frames))
    kinetic = np.empty((S, n_frames))
    dissipated = np.zeros(S)
    a = np.ascontiguousarray(accelerations(system, x, v, q, m))
    # Simulations are independent: contiguous parts of them, one per thread, give the same bytes. The parts are
    # whole blocks of the kernel's LANES simulations (a part's last block may be short).
    blocks = -(-S // LANES)
    bounds = np.linspace(0, blocks, max(1, min(numba.get_num_threads(), blocks)) + 1).round().astype(int) * LANES
    parts = [slice(lo, min(hi, S)) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]

    def step(p: slice) -> None:
        advance(code, x[p], v[p], a[p], q[p], m[p], damping, dissipated[p], h, k, LANES)

    with ThreadPoolExecutor(len(parts)) as pool:
        for frame in tqdm(range(n_frames), desc=f"simulate {system}", disable=not progress, leave=False):
            pos_out[:, frame], vel_out[:, frame] = x, v
            K, V = energy(system, x, v, q, m)
            energies[:, frame], kinetic[:, frame] = K + V + dissipated, K
            if frame + 1 == n_frames:
                break
            if len(parts) == 1:
                step(parts[0])
            else:
                list(pool.map(step, parts))  # list(): re-raises a thread's exception here
    drift = np.abs(energies - energies[:, :1]).max(1) / np.maximum(kinetic.mean(1), 1e-12)
    return {"pos": pos_out, "vel": vel_out, "energy_drift": drift}


def integrate_reference(
    system: str,
    state: dict[str, np.ndarray],
    dt: float,
    n_steps: int,
    record_every: int,
    substeps: int,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """``integrate`` in numpy, one substep of every simulation per Python iteration (the simulator the
    datasets were first generated with; ``integrate`` reproduces its bytes, tests/tasks/test_forces_kernels.py)."""
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
