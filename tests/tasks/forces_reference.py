"""An independent statement of the family F physics, written from DESIGN.md, for the tests only.

Nothing here imports the simulator: pair potentials as the design gives them, the total potential
by a plain double loop, and accelerations as -∇V/m by central finite differences.
"""

from __future__ import annotations

import numpy as np

SOFTENING = 0.01
DAMPING = {"damped": 0.1}


def pair_potential(system: str, rp, qi, qj, mi, mj):
    """V(r') of one pair, exactly as DESIGN.md states it (r' = |x_i - x_j| + 0.01)."""
    if system in ("spring", "damped"):
        return (rp - 1) ** 2
    if system == "r1":
        return mi * mj * np.log(rp)
    if system == "r2":
        return -mi * mj / rp
    if system == "charge":
        return qi * qj / rp
    if system == "superposition":
        return qi * qj / rp - mi * mj / rp
    if system == "discontinuous":
        return np.where(rp < 2, 0.0, (rp - 1) ** 2)
    raise ValueError(system)


def total_potential(system: str, pos, charge, mass):
    """Σ over unordered pairs; pos (S, n, d), charge/mass (S, n) → (S,)."""
    n = pos.shape[1]
    total = np.zeros(pos.shape[0])
    for i in range(n):
        for j in range(i + 1, n):
            rp = np.linalg.norm(pos[:, i] - pos[:, j], axis=-1) + SOFTENING
            total += pair_potential(system, rp, charge[:, i], charge[:, j], mass[:, i], mass[:, j])
    return total


def acceleration(system: str, pos, vel, charge, mass, h: float = 1e-6):
    """-∇V/m by central differences (plus the damping term of `damped`): (S, n, d)."""
    grad = np.zeros_like(pos)
    for i in range(pos.shape[1]):
        for k in range(pos.shape[2]):
            plus, minus = pos.copy(), pos.copy()
            plus[:, i, k] += h
            minus[:, i, k] -= h
            grad[:, i, k] = (total_potential(system, plus, charge, mass)
                             - total_potential(system, minus, charge, mass)) / (2 * h)  # fmt: skip
    return -grad / mass[..., None] - DAMPING.get(system, 0.0) * vel


def near_kink(pos, margin: float = 1e-3):
    """Simulations with a pair within ``margin`` of r' = 2 (where `discontinuous` jumps)."""
    n = pos.shape[1]
    near = np.zeros(pos.shape[0], dtype=bool)
    for i in range(n):
        for j in range(i + 1, n):
            rp = np.linalg.norm(pos[:, i] - pos[:, j], axis=-1) + SOFTENING
            near |= np.abs(rp - 2) < margin
    return near
