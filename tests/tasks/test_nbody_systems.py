"""Family N simulator, checked against physics written independently here: a reference step, momentum,
clipping, the initial state, rotation equivariance."""

from __future__ import annotations

import numpy as np
import pytest

from bench.tasks.nbody.systems import energy, forces, initial_state, position_std, simulate


def reference_step(x, v, q, dt, max_force):
    """One kick-drift step of one system, particle by particle in plain Python."""
    n = len(x)
    F = [[0.0, 0.0, 0.0] for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            d = [x[i][k] - x[j][k] for k in range(3)]
            r = (d[0] ** 2 + d[1] ** 2 + d[2] ** 2) ** 0.5
            for k in range(3):
                F[i][k] += q[i] * q[j] * d[k] / r**3
    v = [[v[i][k] + dt * max(-max_force, min(max_force, F[i][k])) for k in range(3)] for i in range(n)]
    x = [[x[i][k] + dt * v[i][k] for k in range(3)] for i in range(n)]
    return x, v


def test_matches_an_independent_reference_step():
    state = initial_state(3, 5, seed=1)
    out = simulate(state, [0, 1, 2], record_every=1, dt=1e-3, max_force=100.0)
    for s in range(3):
        x, v = state["pos"][s].tolist(), state["vel"][s].tolist()
        for frame in (1, 2):
            x, v = reference_step(x, v, state["charge"][s].tolist(), 1e-3, 100.0)
            np.testing.assert_allclose(out["pos"][s, frame], x, rtol=0, atol=1e-12)
            np.testing.assert_allclose(out["vel"][s, frame], v, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(out["pos"][:, 0], state["pos"])  # frame 0 is the initial state


def test_unclipped_forces_conserve_momentum_and_energy():
    state = initial_state(8, 5, seed=2)
    out = simulate(state, [0, 5], record_every=100, dt=1e-4, max_force=None)
    momentum = out["vel"].sum(axis=2)  # unit masses
    np.testing.assert_allclose(momentum[:, 1], momentum[:, 0], rtol=0, atol=1e-10)
    kin, pot = energy(out["pos"], out["vel"], state["charge"][:, None])
    drift = np.abs((kin + pot)[:, 1] - (kin + pot)[:, 0]) / kin[:, 0]
    assert np.median(drift) < 1e-2  # a small step keeps the energy of most systems


def test_force_components_are_clipped():
    pos = np.array([[[0.0, 0.0, 0.0], [0.01, 0.02, 0.0], [5.0, 5.0, 5.0]]])
    charge = np.array([[1.0, 1.0, -1.0]])
    raw = forces(pos, charge)
    clipped = forces(pos, charge, max_force=100.0)
    assert np.abs(raw).max() > 1000  # the close pair
    assert np.abs(clipped).max() == 100.0
    np.testing.assert_array_equal(clipped[0, 2], raw[0, 2])  # the far particle is unaffected


def test_like_charges_repel():
    pos = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
    np.testing.assert_allclose(forces(pos, np.array([[1.0, 1.0]]))[0, 0], [-1.0, 0.0, 0.0])
    np.testing.assert_allclose(forces(pos, np.array([[1.0, -1.0]]))[0, 0], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("n", [5, 100])
def test_initial_state(n):
    state = initial_state(400 if n == 5 else 20, n, seed=0)
    speed = np.linalg.norm(state["vel"], axis=-1)
    np.testing.assert_allclose(speed, 0.5, rtol=1e-12)
    assert set(np.unique(state["charge"])) == {-1.0, 1.0}
    assert abs(state["charge"].mean()) < 0.1
    assert position_std(5) == 1.0
    assert abs(state["pos"].std() / position_std(n) - 1) < 0.05


def test_rotating_the_start_rotates_the_trajectory():
    state = initial_state(4, 5, seed=3)
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))
    rotated = {**state, "pos": state["pos"] @ Q.T, "vel": state["vel"] @ Q.T}
    a = simulate(state, [2], record_every=100, max_force=None)
    b = simulate(rotated, [2], record_every=100, max_force=None)
    np.testing.assert_allclose(b["pos"], a["pos"] @ Q.T, rtol=0, atol=1e-8)


def test_chunks_do_not_change_the_result():
    state = initial_state(5, 5, seed=4)
    a = simulate(state, [0, 1], record_every=50, chunk=2)
    b = simulate(state, [0, 1], record_every=50, chunk=512)
    np.testing.assert_array_equal(a["pos"], b["pos"])
