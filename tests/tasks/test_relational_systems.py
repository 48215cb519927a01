"""Family R simulators, checked against a reference-style loop over trajectories (the benchmark script's),
an adaptive ODE solver, and the properties NRI's data must have."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from bench.tasks.relational.systems import (
    coulomb_forces,
    initial_charged,
    initial_kuramoto,
    initial_springs,
    kuramoto_rhs,
    simulate_charged,
    simulate_kuramoto,
    simulate_springs,
    spring_forces,
)

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_relational_simulators.py"
_spec = importlib.util.spec_from_file_location("bench_relational_simulators", _SCRIPT)
reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference)

SIMULATORS = {"springs": simulate_springs, "charged": simulate_charged}


@pytest.mark.parametrize("system", list(SIMULATORS))
def test_vectorised_equals_the_reference_loop(system):
    pos_ref, vel_ref = reference.reference_simulate(system, 4, n=5, frames=8, seed=3)
    out = SIMULATORS[system](4, 5, 8, seed=3, chunk=3)  # two chunks of unequal size
    np.testing.assert_allclose(out["position"], pos_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(out["velocity"], vel_ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("system", list(SIMULATORS))
def test_shapes_and_walls(system):
    out = SIMULATORS[system](16, 5, 20, seed=0, vel_norm=5.0)  # fast particles: many wall hits
    assert out["position"].shape == out["velocity"].shape == (16, 20, 5, 2)
    assert out["edges"].shape == (16, 5, 5) and out["edges"].dtype.kind == "i"
    assert np.abs(out["position"]).max() <= 5.0
    assert np.abs(out["position"]).max() > 4.5  # the walls were reached


def test_first_frame_is_step_100_and_velocity_lags_half_a_step():
    out = simulate_springs(3, 5, 3, seed=1, max_force=None)
    fine = simulate_springs(3, 5, 300, seed=1, sample_every=1, max_force=None)
    np.testing.assert_array_equal(out["position"][:, 0], fine["position"][:, 99])
    # the saved velocity is the one that carried x from step 99 to step 100 (no walls hit this early)
    step = (fine["position"][:, 99] - fine["position"][:, 98]) / 1e-3
    np.testing.assert_allclose(fine["velocity"][:, 99], step, rtol=0, atol=1e-9)


@pytest.mark.parametrize("initial", [initial_springs, initial_charged])
def test_initial_velocity_norms(initial):
    init = initial(200, 5, seed=0)
    np.testing.assert_allclose(np.linalg.norm(init["velocity"], axis=-1), 0.5, rtol=1e-12)


def test_springs_edges():
    init = initial_springs(2000, 5, seed=0)
    A = init["edges"]
    np.testing.assert_array_equal(A, A.transpose(0, 2, 1))
    assert not A[:, np.arange(5), np.arange(5)].any()
    assert set(np.unique(A)) == {0, 1}
    assert abs(A[:, ~np.eye(5, dtype=bool)].mean() - 0.5) < 0.02
    assert abs(init["position"].std() - 0.5) < 0.02


def test_charged_labels_are_same_sign():
    init = initial_charged(500, 5, seed=0)
    q = init["charge"]
    assert set(np.unique(q)) == {-1.0, 1.0} and abs(q.mean()) < 0.05
    off = ~np.eye(5, dtype=bool)
    same = (q[:, :, None] * q[:, None, :] > 0).astype(int)
    np.testing.assert_array_equal(init["edges"][:, off], same[:, off])
    assert not init["edges"][:, np.arange(5), np.arange(5)].any()


def test_forces_are_clipped_in_a_close_encounter():
    x = np.array([[[0.0, 0.0], [0.01, 0.02], [3.0, 3.0]]])
    q = np.array([[1.0, 1.0, -1.0]])
    raw, clipped = coulomb_forces(x, q, max_force=None), coulomb_forces(x, q)
    assert np.abs(raw).max() > 1000
    assert np.abs(clipped).max() == 100.0
    np.testing.assert_array_equal(clipped[0, 2], raw[0, 2])  # the far particle is unaffected
    far = np.array([[[-4.0, 0.0], [4.0, 0.0]]])
    springs = spring_forces(far * 200, np.array([[[0, 1], [1, 0]]]))
    assert np.abs(springs).max() == 100.0


def test_coulomb_forces_over_pairs_equal_the_full_pair_sum():
    rng = np.random.default_rng(0)
    x, q = rng.standard_normal((6, 7, 2)), np.where(rng.random((6, 7)) < 0.5, 1.0, -1.0)
    d = x[:, :, None] - x[:, None, :]  # x_i − x_j
    r2 = (d**2).sum(-1)
    r2[:, np.arange(7), np.arange(7)] = np.inf
    full = ((q[:, :, None] * q[:, None, :] / r2**1.5)[..., None] * d).sum(2)
    np.testing.assert_allclose(coulomb_forces(x, q, max_force=None), full, rtol=1e-12, atol=1e-12)


def test_like_charges_repel_and_springs_attract():
    x = np.array([[[0.0, 0.0], [1.0, 0.0]]])
    np.testing.assert_allclose(coulomb_forces(x, np.array([[1.0, 1.0]]))[0, 0], [-1.0, 0.0])
    np.testing.assert_allclose(coulomb_forces(x, np.array([[1.0, -1.0]]))[0, 0], [1.0, 0.0])
    np.testing.assert_allclose(spring_forces(x, np.array([[[0, 1], [1, 0]]]))[0, 0], [0.1, 0.0])


def test_kuramoto_rk4_matches_an_adaptive_solver():
    out = simulate_kuramoto(3, 5, 20, seed=4)
    init = initial_kuramoto(3, 5, seed=4)
    np.testing.assert_allclose(out["time"], 0.1 * np.arange(1, 21))
    for s in range(3):
        w, k = init["frequency"][s], init["edges"][s].astype(np.float64)

        def rhs(t, phi, w=w, k=k):
            return w + (k * np.sin(phi[None, :] - phi[:, None])).sum(1)

        ref = solve_ivp(rhs, (0.0, 2.0), init["phase"][s], method="RK45", rtol=1e-10, atol=1e-10, t_eval=out["time"])
        assert np.abs(ref.y.T - out["phase"][s]).max() < 1e-6


def test_kuramoto_features_and_graph():
    out = simulate_kuramoto(400, 5, 10, seed=5)
    assert out["features"].shape == (400, 10, 5, 3)
    np.testing.assert_allclose(
        out["features"][..., 0],
        kuramoto_rhs(
            out["phase"].reshape(-1, 5), np.repeat(out["frequency"], 10, 0), np.repeat(out["edges"], 10, 0)
        ).reshape(400, 10, 5),
        rtol=0,
        atol=1e-12,
    )
    np.testing.assert_array_equal(out["features"][..., 1], np.sin(out["phase"]))
    np.testing.assert_array_equal(out["features"][..., 2], np.broadcast_to(out["frequency"][:, None], (400, 10, 5)))
    assert out["frequency"].min() >= 1.0 and out["frequency"].max() < 10.0
    K = out["edges"]
    assert not K[:, np.arange(5), np.arange(5)].any()
    assert (K != K.transpose(0, 2, 1)).any()  # directed by default
    assert abs(K[:, ~np.eye(5, dtype=bool)].mean() - 0.5) < 0.03
    undirected = initial_kuramoto(50, 5, seed=5, directed=False)["edges"]
    np.testing.assert_array_equal(undirected, undirected.transpose(0, 2, 1))


@pytest.mark.parametrize("simulate", [simulate_springs, simulate_charged, simulate_kuramoto])
def test_same_seed_same_bytes_other_seed_differs(simulate):
    a, b, c = simulate(3, 5, 4, seed=7), simulate(3, 5, 4, seed=7), simulate(3, 5, 4, seed=8)
    for key in a:
        assert a[key].tobytes() == b[key].tobytes()
    first = "position" if "position" in a else "phase"
    assert a[first].tobytes() != c[first].tobytes()


def test_coulomb_forces_do_not_depend_on_the_cpu_kernels():
    """The same bytes whichever BLAS kernel and numpy SIMD paths run (task v1 scattered the pair forces with a
    matrix product, whose last bits changed between OpenBLAS's kernels)."""
    from tests.cpu_kernels import assert_same_output

    code = ("import hashlib, numpy as np; from bench.tasks.relational.systems import coulomb_forces; "
            "rng = np.random.default_rng(0); x = rng.normal(size=(512, 5, 2)); "
            "q = rng.choice([-1.0, 1.0], size=(512, 5)); "
            "print(hashlib.sha256(coulomb_forces(x, q, max_force=None).tobytes()).hexdigest())")  # fmt: skip
    assert_same_output(code)
