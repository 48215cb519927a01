"""Family R simulators: NRI's springs, charged particles and Kuramoto oscillators, vectorised over trajectories.

**Springs / charged** (2-D, n particles; Kipf et al. 2018, NRI's ``synthetic_sim.py``). Box [−5, 5]² with
elastic walls (x > 5 → x = 10 − x, v = −|v|; mirrored below −5); Δt = 0.001; every force component clipped
to ±100 (0.1/Δt); initial velocities N(0, I) rescaled to norm 0.5 per particle; unit masses.

- springs: positions N(0, 0.5²); an undirected edge with p = ½ (symmetric, zero diagonal);
  F_i = −0.1 Σ_j A_ij (x_i − x_j).
- charged: positions N(0, 1); charges ±1 with p = ½; F_i = Σ_j q_i q_j (x_i − x_j)/|x_i − x_j|³ (no
  softening); edge label 1 = same sign (repel), 0 = opposite. The diagonal is set to 0 (NRI keeps
  q_i² = 1 there, but only the n(n−1) off-diagonal pairs are ever scored).

Integration, in NRI's order: v += Δt·F(x₀); then for each step x += Δt·v, wall, save every 100th step,
v += Δt·F(x). The saved velocity therefore lags the saved position by half a step, and the first saved
frame is step 100 (t = 0 is not saved): 49 frames for train/val, 99 for test.

**Kuramoto**: dφ_i/dt = ω_i + Σ_j k_ij sin(φ_j − φ_i), ω ~ U[1, 10), φ₀ ~ U[0, 2π), k_ij ∈ {0, 1} with
p = ½ and k_ii = 0. Integrated with classical fixed-step RK4 at step 0.01 (the grid of the reference
data; 10 steps per saved frame; it agrees with a tight adaptive solver to ~1e-8 in φ over 2 time
units); frames at
t = 0.1·k, k = 1 … ``frames`` (t = 0 not saved, as for the particles; 99 frames cover t ∈ [0, 10)).
The coupling is **directed by default** (k_ij and k_ji independent): the NRI authors never published
their generator (NRI issue #23) and the only public one, ACD's, draws a directed graph; labels are then
defined for all n(n−1) ordered pairs. ``directed=False`` symmetrises k (lower triangle mirrored).
Convention: ``edges[s, i, j] = k_ij``, the influence of sender j on receiver i.
Features per frame, as in the NRI paper: (dφ/dt, sin φ, ω), with dφ/dt the right-hand side at the saved
φ; the unwrapped phase φ is returned as well.

Randomness comes only from ``seed`` (numpy ``default_rng``); vectorised draws cannot repeat the
reference's per-trajectory random stream, so the data are not byte-identical to NRI's files. float64
throughout; trajectories are integrated in independent chunks (bounded memory, identical results).
"""

from __future__ import annotations

import numpy as np

BOX = 5.0
DT = 1e-3
MAX_FORCE = 100.0
SAMPLE_EVERY = 100


def _initial_velocity(rng: np.random.Generator, n_sims: int, n: int, vel_norm: float) -> np.ndarray:
    """N(0, I) velocities (S, n, 2) rescaled to norm ``vel_norm`` per particle."""
    vel = rng.standard_normal((n_sims, n, 2))
    return vel * (vel_norm / np.sqrt(vel[..., 0] ** 2 + vel[..., 1] ** 2))[..., None]


def wall(x: np.ndarray, v: np.ndarray, box: float = BOX) -> None:
    """Elastic walls of [−box, box], in place: a coordinate past a wall is mirrored and its velocity
    points back inside (one reflection per step, as in NRI)."""
    over = x > box
    x[over] = 2 * box - x[over]
    v[over] = -np.abs(v[over])
    under = x < -box
    x[under] = -2 * box - x[under]
    v[under] = np.abs(v[under])


def _spring_forces_t(c: np.ndarray, weight: np.ndarray, max_force: float | None) -> np.ndarray:
    """Spring forces in the integration layout: positions (n, 2, S), ``weight`` = −k·A as (n, n, 1, S)."""
    F = (weight * (c[:, None] - c[None, :])).sum(1)  # Σ_j over a leading axis: contiguous blocks of S
    if max_force is not None:
        np.clip(F, -max_force, max_force, out=F)
    return F


def _pair_incidence(n: int) -> np.ndarray:
    """(n, P) incidence of the P = n(n−1)/2 pairs p = (i, j), i < j, in row-major order: +1 at (i, p),
    −1 at (j, p). Bᵀx gives x_i − x_j exactly (±1·x and exact zeros: one rounding, whatever BLAS's order)."""
    i, j = np.triu_indices(n, k=1)
    B = np.zeros((n, i.size))
    B[i, np.arange(i.size)] = 1.0
    B[j, np.arange(i.size)] = -1.0
    return B


def _pairs_of_each(n: int) -> tuple[np.ndarray, np.ndarray]:
    """For each particle i, the pairs it is in, in the order of its partner j = 0..n−1 (j ≠ i), and their signs:
    ``(pair (n, n−1), sign (n, n−1))`` with sign +1 where i < j (f_ij) and −1 where j < i (f_ji = −f_ij)."""
    i, j = np.triu_indices(n, k=1)
    number = np.zeros((n, n), dtype=np.intp)
    number[i, j] = number[j, i] = np.arange(i.size)
    partners = np.array([[k for k in range(n) if k != a] for a in range(n)], dtype=np.intp)
    rows = np.arange(n)[:, None]
    return number[rows, partners], np.where(rows < partners, 1.0, -1.0)


class _CoulombPairs:
    """Coulomb forces in the integration layout over the pairs i < j only (the pair force is antisymmetric:
    f_ji = −f_ij exactly, so each pair is computed once and scattered with ±1). ``qq`` = q_i q_j of the pairs
    as (S, P); called as ``force(c, rows)`` with positions (n, 2, S_chunk) of the trajectories ``rows``. The
    pair work lies as (2, S_chunk, P) in buffers reused from step to step; the returned F (n, 2, S_chunk)
    is one of them, valid until the next call. F_i adds its pairs' ±f_ij one at a time in the order of j: the
    same bytes on every CPU (task version 2; version 1 summed them in a matrix product, whose order of terms
    OpenBLAS picks per CPU)."""

    def __init__(self, n: int, qq: np.ndarray, max_force: float | None):
        self.n, self.qq, self.max_force = n, qq, max_force
        self.BT = np.ascontiguousarray(_pair_incidence(n).T)  # (P, n): gathers x_i − x_j
        self.pair, self.sign = _pairs_of_each(n)
        self._buffers: dict[int, tuple[np.ndarray, ...]] = {}

    def __call__(self, c: np.ndarray, rows: slice) -> np.ndarray:
        n, P, S = self.n, self.BT.shape[0], c.shape[-1]
        if S not in self._buffers:
            self._buffers[S] = (np.empty((2, S, P)), np.empty((2, S, P)), np.empty((S, P)), np.empty((S, P)),
                                np.empty((n, 2, S)))  # fmt: skip
        delta, work, r2, w, F = self._buffers[S]
        np.matmul(self.BT, c.reshape(n, 2 * S), out=delta.reshape(2 * S, P).T)  # x_i − x_j: (2, S, P)
        np.multiply(delta, delta, out=work)
        np.add(work[0], work[1], out=r2)
        np.sqrt(r2, out=w)
        np.multiply(w, r2, out=w)  # r³ = r2·√r2
        np.divide(self.qq[rows], w, out=w)
        np.multiply(delta, w, out=work)  # f_ij = q_i q_j (x_i − x_j)/r³
        total = F.transpose(1, 2, 0)  # (2, S, n), a view of F
        np.multiply(work[:, :, self.pair[:, 0]], self.sign[:, 0], out=total)  # F_i = Σ_j ±f_ij, in j order
        for k in range(1, n - 1):
            total += work[:, :, self.pair[:, k]] * self.sign[:, k]
        if self.max_force is not None:
            np.clip(F, -self.max_force, self.max_force, out=F)
        return F


def _pair_charges(charge: np.ndarray) -> np.ndarray:
    """q_i q_j of the pairs i < j as (S, P), from charges (S, n)."""
    i, j = np.triu_indices(charge.shape[1], k=1)
    return charge[:, i] * charge[:, j]


def _to_layout(a: np.ndarray) -> np.ndarray:
    """(S, n, ...) → (n, ..., S), contiguous: the trajectories on the last, fastest axis."""
    return np.ascontiguousarray(np.moveaxis(a, 0, -1))


def spring_forces(x: np.ndarray, edges: np.ndarray, k: float = 0.1, max_force: float | None = MAX_FORCE) -> np.ndarray:
    """F_i = −k Σ_j A_ij (x_i − x_j) for positions (S, n, 2) and adjacency (S, n, n); components clipped."""
    F = _spring_forces_t(_to_layout(x), (-k * _to_layout(edges.astype(np.float64)))[:, :, None], max_force)
    return np.moveaxis(F, -1, 0)


def coulomb_forces(x: np.ndarray, charge: np.ndarray, max_force: float | None = MAX_FORCE) -> np.ndarray:
    """F_i = Σ_{j≠i} q_i q_j (x_i − x_j)/|x_i − x_j|³ for positions (S, n, 2), charges (S, n); clipped."""
    force = _CoulombPairs(x.shape[1], _pair_charges(np.asarray(charge, dtype=np.float64)), max_force)
    return np.moveaxis(force(_to_layout(x), slice(None)), -1, 0).copy()


def integrate(
    x0: np.ndarray,
    v0: np.ndarray,
    force,
    frames: int,
    dt: float = DT,
    sample_every: int = SAMPLE_EVERY,
    box: float = BOX,
    chunk: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """NRI's integration of initial states (S, n, 2). ``force(c, rows)`` gives F for positions ``c`` in the
    layout (n, 2, S_chunk) of the trajectories ``rows`` (a slice); chunks of a few hundred to a thousand
    trajectories keep the pair arrays in cache. Returns positions and velocities (S, frames, n, 2) at steps
    100, 200, … The updates go through one scratch array (no temporaries), and ``wall`` runs only on steps
    where some coordinate may be past a wall (elsewhere it is a no-op; a NaN makes it run)."""
    S = x0.shape[0]
    pos = np.empty((S, frames, *x0.shape[1:]))
    vel = np.empty_like(pos)
    n_steps = frames * sample_every
    for start in range(0, S, chunk):
        rows = slice(start, min(start + chunk, S))
        x, v = _to_layout(x0[rows]), _to_layout(v0[rows])
        step_dx = np.empty_like(x)
        wall(x, v, box)
        v += dt * force(x, rows)
        for step in range(1, n_steps + 1):
            np.multiply(v, dt, out=step_dx)
            x += step_dx
            if not (x.max() <= box and x.min() >= -box):
                wall(x, v, box)
            if step % sample_every == 0:
                pos[rows, step // sample_every - 1] = np.moveaxis(x, -1, 0)
                vel[rows, step // sample_every - 1] = np.moveaxis(v, -1, 0)
            if step < n_steps:  # the kick after the last saved frame is never used
                np.multiply(force(x, rows), dt, out=step_dx)
                v += step_dx
    return pos, vel


def initial_springs(n_sims: int, n: int, seed, loc_std: float = 0.5, vel_norm: float = 0.5, edge_prob: float = 0.5):
    """Initial positions, velocities (S, n, 2) and symmetric 0/1 adjacency (S, n, n) of the springs system."""
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.random((n_sims, n, n)) < edge_prob, k=1)
    edges = (upper | upper.transpose(0, 2, 1)).astype(np.int64)
    x = rng.standard_normal((n_sims, n, 2)) * loc_std
    return {"position": x, "velocity": _initial_velocity(rng, n_sims, n, vel_norm), "edges": edges}


def initial_charged(n_sims: int, n: int, seed, loc_std: float = 1.0, vel_norm: float = 0.5, charge_prob: float = 0.5):
    """Initial positions, velocities (S, n, 2), charges ±1 (S, n) and same-sign labels (S, n, n)."""
    rng = np.random.default_rng(seed)
    charge = np.where(rng.random((n_sims, n)) < charge_prob, 1.0, -1.0)
    edges = (charge[:, :, None] == charge[:, None, :]).astype(np.int64)
    edges[:, np.arange(n), np.arange(n)] = 0
    x = rng.standard_normal((n_sims, n, 2)) * loc_std
    v = _initial_velocity(rng, n_sims, n, vel_norm)
    return {"position": x, "velocity": v, "charge": charge, "edges": edges}


def simulate_springs(
    n_sims: int,
    n: int = 5,
    frames: int = 49,
    seed=0,
    *,
    k: float = 0.1,
    loc_std: float = 0.5,
    vel_norm: float = 0.5,
    edge_prob: float = 0.5,
    dt: float = DT,
    sample_every: int = SAMPLE_EVERY,
    box: float = BOX,
    max_force: float | None = MAX_FORCE,
    chunk: int = 256,
) -> dict[str, np.ndarray]:
    """NRI springs: ``position``, ``velocity`` (S, frames, n, 2), ``edges`` (S, n, n) int (symmetric, 0/1)."""
    init = initial_springs(n_sims, n, seed, loc_std, vel_norm, edge_prob)
    weight = (-k * _to_layout(init["edges"].astype(np.float64)))[:, :, None]  # (n, n, 1, S)
    pos, vel = integrate(
        init["position"],
        init["velocity"],
        lambda c, rows: _spring_forces_t(c, weight[..., rows], max_force),
        frames,
        dt,
        sample_every,
        box,
        chunk,
    )
    return {"position": pos, "velocity": vel, "edges": init["edges"]}


def simulate_charged(
    n_sims: int,
    n: int = 5,
    frames: int = 49,
    seed=0,
    *,
    loc_std: float = 1.0,
    vel_norm: float = 0.5,
    charge_prob: float = 0.5,
    dt: float = DT,
    sample_every: int = SAMPLE_EVERY,
    box: float = BOX,
    max_force: float | None = MAX_FORCE,
    chunk: int = 1024,
) -> dict[str, np.ndarray]:
    """NRI charged particles: ``position``, ``velocity`` (S, frames, n, 2), ``charge`` (S, n) ±1 and
    ``edges`` (S, n, n) int (1 = same sign, zero diagonal)."""
    init = initial_charged(n_sims, n, seed, loc_std, vel_norm, charge_prob)
    pos, vel = integrate(
        init["position"],
        init["velocity"],
        _CoulombPairs(n, _pair_charges(init["charge"]), max_force),
        frames,
        dt,
        sample_every,
        box,
        chunk,
    )
    return {"position": pos, "velocity": vel, "charge": init["charge"], "edges": init["edges"]}


def kuramoto_rhs(phase: np.ndarray, frequency: np.ndarray, coupling: np.ndarray) -> np.ndarray:
    """dφ_i/dt = ω_i + Σ_j k_ij sin(φ_j − φ_i) for phases (S, n), ω (S, n), k (S, n, n).

    Uses sin(φ_j − φ_i) = sin φ_j cos φ_i − cos φ_j sin φ_i: two batched mat-vecs, O(S·n) sines."""
    s, c = np.sin(phase), np.cos(phase)
    ks = np.einsum("sij,sj->si", coupling, s)
    kc = np.einsum("sij,sj->si", coupling, c)
    return frequency + c * ks - s * kc


def initial_kuramoto(n_sims: int, n: int, seed, edge_prob: float = 0.5, directed: bool = True):
    """ω ~ U[1, 10), φ₀ ~ U[0, 2π) (S, n) and coupling k (S, n, n) int with zero diagonal."""
    rng = np.random.default_rng(seed)
    draw = rng.random((n_sims, n, n)) < edge_prob
    if directed:
        draw[:, np.arange(n), np.arange(n)] = False
        edges = draw
    else:
        lower = np.tril(draw, k=-1)
        edges = lower | lower.transpose(0, 2, 1)
    frequency = 1.0 + 9.0 * rng.random((n_sims, n))
    phase = 2 * np.pi * rng.random((n_sims, n))
    return {"phase": phase, "frequency": frequency, "edges": edges.astype(np.int64)}


def simulate_kuramoto(
    n_sims: int,
    n: int = 5,
    frames: int = 49,
    seed=0,
    *,
    directed: bool = True,
    edge_prob: float = 0.5,
    dt: float = 0.01,
    sample_dt: float = 0.1,
    chunk: int = 4096,
) -> dict[str, np.ndarray]:
    """Kuramoto oscillators by fixed-step RK4. Returns ``features`` (S, frames, n, 3) = (dφ/dt, sin φ, ω),
    ``phase`` (S, frames, n) unwrapped, ``frequency`` (S, n), ``edges`` (S, n, n) int, ``time`` (frames,)."""
    steps_per_frame = round(sample_dt / dt)
    if abs(steps_per_frame * dt - sample_dt) > 1e-12 * sample_dt:
        raise ValueError(f"simulate_kuramoto: dt={dt} must divide sample_dt={sample_dt}")
    init = initial_kuramoto(n_sims, n, seed, edge_prob, directed)
    K = init["edges"].astype(np.float64)
    omega = init["frequency"]
    phase_out = np.empty((n_sims, frames, n))
    for start in range(0, n_sims, chunk):
        rows = slice(start, min(start + chunk, n_sims))
        phi, w, k = init["phase"][rows].copy(), omega[rows], K[rows]
        for frame in range(frames):
            for _ in range(steps_per_frame):
                k1 = kuramoto_rhs(phi, w, k)
                k2 = kuramoto_rhs(phi + 0.5 * dt * k1, w, k)
                k3 = kuramoto_rhs(phi + 0.5 * dt * k2, w, k)
                k4 = kuramoto_rhs(phi + dt * k3, w, k)
                phi += dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
            phase_out[rows, frame] = phi
    dphase = kuramoto_rhs(
        phase_out.reshape(-1, n), np.repeat(omega, frames, axis=0), np.repeat(K, frames, axis=0)
    ).reshape(n_sims, frames, n)
    features = np.stack([dphase, np.sin(phase_out), np.broadcast_to(omega[:, None], dphase.shape)], axis=-1)
    time = sample_dt * np.arange(1, frames + 1)
    return {"features": features, "phase": phase_out, "frequency": omega, "edges": init["edges"], "time": time}
