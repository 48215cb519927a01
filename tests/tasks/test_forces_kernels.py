"""The compiled force-law kernel (tasks/forces/_kernels.py) gives the numpy simulator's bytes, bit for bit.

The official datasets' checksums are checked in test_forces_data.py (``test_matches_committed_official_manifest``).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.tasks.forces import _kernels as K
from bench.tasks.forces import systems as S


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.view(np.int64), b.view(np.int64))


def kernel_accelerations(system, pos, vel, charge, mass):
    code, damping = K.SYSTEM_CODES[system], S.POTENTIALS[system].damping
    return K.accelerations_kernel(code, pos, vel, charge, mass, damping, K.LANES)


def test_every_system_has_a_kernel_code():
    assert set(K.SYSTEM_CODES) == set(S.SYSTEMS)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 100, 128])
def test_the_kernels_sum_is_numpys(n):
    """numpy's add.reduce of a row: sequential from 0 below 8 numbers, eight running sums as a tree from 8."""
    rng = np.random.default_rng(n)
    rows = np.exp(rng.standard_normal((2000, n)) * 4)  # spread magnitudes: the order changes the last bits
    rows[0] = -0.0
    rows[1, ::2] *= -1.0
    expected = rows.sum(-1)
    ours = np.array([K._numpy_sum(row, n) for row in rows])
    assert same_bits(ours, expected)


@pytest.mark.parametrize("system", S.SYSTEMS)
@pytest.mark.parametrize("n", [2, 4, 8, 9])
@pytest.mark.parametrize("d", [2, 3])
def test_accelerations_are_bit_identical(system, n, d):
    state = S.initial_state(200, n, d, seed=[n, d, 5])
    pos, vel = state["pos"] * 1.5, state["vel"]  # spread: discontinuous has pairs on both sides of r' = 2
    ours = kernel_accelerations(system, pos, vel, state["charge"], state["mass"])
    assert same_bits(ours, S.accelerations(system, pos, vel, state["charge"], state["mass"]))


@pytest.mark.parametrize("system", S.SYSTEMS)
def test_accelerations_at_the_kink_and_with_zero_terms_are_bit_identical(system):
    """r' exactly 2 (discontinuous's step), a pair on one axis (zero differences, signed zero terms), a zero
    velocity (damped)."""
    pos = np.array([[[0.0, 0.0], [1.99, 0.0], [0.0, 3.0], [-2.5, 1e-300]]])
    vel = np.array([[[0.0, -0.0], [1.0, 2.0], [-0.0, 0.5], [3.0, -1.0]]])
    charge, mass = np.array([[1.0, -1.0, 1.0, 1.0]]), np.array([[1.0, 0.5, 2.0, 3.0]])
    assert np.sqrt(1.99 * 1.99) + S.SOFTENING == 2.0
    ours = kernel_accelerations(system, pos, vel, charge, mass)
    assert same_bits(ours, S.accelerations(system, pos, vel, charge, mass))


@pytest.mark.parametrize("system", S.SYSTEMS)
def test_coincident_particles_give_the_same_nans(system):
    """r = 0: −dV/0 is ±∞ (or NaN), times a zero difference NaN, as numpy gives (IEEE 754 leaves a NaN's sign
    and payload open; this numba and numpy agree on them)."""
    pos = np.array(
        [[[0.0, 0.0], [0.0, 0.0], [1.0, 3.0], [-2.5, 1.0]], [[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [5.0, 1.0]]]
    )
    vel, charge = np.ones_like(pos), np.array([[1.0, -1.0, 1.0, 1.0]] * 2)
    mass = np.array([[1.0, 0.5, 2.0, 3.0]] * 2)
    with np.errstate(all="ignore"):
        expected = S.accelerations(system, pos, vel, charge, mass)
    assert np.isnan(expected).any()
    assert same_bits(kernel_accelerations(system, pos, vel, charge, mass), expected)


@pytest.mark.parametrize("system", S.SYSTEMS)
@pytest.mark.parametrize(("n", "d"), [(4, 2), (4, 3), (8, 2), (8, 3)])
def test_trajectories_are_bit_identical(system, n, d):
    """Positions, velocities and the energy drift (with friction's work for damped) of ``integrate``."""
    state = S.initial_state(11, n, d, seed=[n, d, 6])  # a full block of K.LANES and a short one
    dt = S.POTENTIALS[system].dt
    ours = S.integrate(system, state, dt, n_steps=23, record_every=5, substeps=3)
    ref = S.integrate_reference(system, state, dt, n_steps=23, record_every=5, substeps=3)
    assert set(ours) == set(ref)
    for key in ref:
        assert same_bits(ours[key], ref[key]), key


@pytest.mark.parametrize(("sims", "threads"), [(37, 2), (37, 3), (37, 9), (1, 2), (8, 2), (9, 2)])
def test_threads_do_not_change_the_bytes(sims, threads, monkeypatch):
    """``integrate`` splits the simulations into one part per numba thread; any split gives the same bytes."""
    import numba

    state = S.initial_state(sims, 4, 2, seed=[4, 7])
    one = S.integrate("damped", state, 0.02, n_steps=30, record_every=5, substeps=4)
    monkeypatch.setattr(numba, "get_num_threads", lambda: threads)
    many = S.integrate("damped", state, 0.02, n_steps=30, record_every=5, substeps=4)
    for key in one:
        assert same_bits(one[key], many[key]), key


def test_wrong_shapes_are_refused_not_read_out_of_bounds():
    state = S.initial_state(3, 4, 2, seed=0)
    for key, bad in [("charge", np.ones((3, 5))), ("mass", np.ones(4)), ("vel", np.zeros((3, 4, 3)))]:
        with pytest.raises(ValueError, match="expected pos and vel"):
            S.integrate("spring", state | {key: bad}, 0.01, 10, 5, 1)
    with pytest.raises(ValueError, match="n ≥ 2"):
        S.integrate("spring", S.initial_state(3, 1, 2, seed=0), 0.01, 10, 5, 1)
