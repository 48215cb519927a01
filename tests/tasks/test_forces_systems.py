"""Family F simulators against independent physics: -∇V/m by finite differences, conservation laws."""

from __future__ import annotations

import forces_reference as ref
import numpy as np
import pytest

from bench.tasks.forces import systems as S


def _random_state(n, d, seed, spread=1.5):
    rng = np.random.default_rng(seed)
    pos = rng.standard_normal((20, n, d)) * spread
    vel = rng.standard_normal((20, n, d))
    mass = np.exp(rng.standard_normal((20, n)))
    charge = np.where(rng.random((20, n)) < 0.5, -1.0, 1.0)
    return pos, vel, charge, mass


@pytest.mark.parametrize("system", S.SYSTEMS)
@pytest.mark.parametrize("n,d", [(4, 2), (8, 3)])
def test_acceleration_is_minus_gradient_of_the_design_potential_over_mass(system, n, d):
    pos, vel, charge, mass = _random_state(n, d, seed=1)
    keep = ~ref.near_kink(pos) if system == "discontinuous" else np.ones(len(pos), dtype=bool)
    assert keep.sum() >= 15
    pos, vel, charge, mass = pos[keep], vel[keep], charge[keep], mass[keep]
    acc = S.accelerations(system, pos, vel, charge, mass)
    np.testing.assert_allclose(acc, ref.acceleration(system, pos, vel, charge, mass), rtol=1e-6, atol=1e-6)


def test_labels_of_every_dataset_are_the_design_accelerations(data_root):
    """The stored label equals -∇V/m of the stored (float32) state, for every system."""
    from bench.config import task_card
    from bench.tasks.data import generate_dataset

    for system in S.SYSTEMS:
        test = generate_dataset(task_card(system), "tiny", root=data_root, progress=False).split("test")
        T = test["position"].shape[1]
        pos = test["position"][:, ::10].reshape(-1, 4, 2).astype(float)
        vel = test["velocity"][:, ::10].reshape(-1, 4, 2).astype(float)
        q = np.repeat(test["charge"], (T + 9) // 10, axis=0).astype(float)
        m = np.repeat(test["mass"], (T + 9) // 10, axis=0).astype(float)
        keep = ~ref.near_kink(pos) if system == "discontinuous" else slice(None)
        expected = ref.acceleration(system, pos[keep], vel[keep], q[keep], m[keep])
        label = test["acceleration"][:, ::10].reshape(-1, 4, 2)[keep]
        np.testing.assert_allclose(label, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("system", [s for s in S.SYSTEMS if S.POTENTIALS[s].conservative])
def test_energy_and_momentum_conserved(system):
    """Smooth systems at their base substeps; singular ones on the simulations the ladder accepts."""
    state = S.initial_state(16, 4, 2, seed=[3, 0])
    p = S.POTENTIALS[system]
    out = S.integrate(system, state, p.dt, n_steps=200, record_every=5, substeps=32)
    drift = out["energy_drift"]
    # The stated tolerance: median drift below 1e-4 of the mean kinetic energy; 1e-3 for
    # `discontinuous`, whose force jumps at r' = 2 (velocity Verlet is only first order across a jump).
    tolerance = 1e-3 if system == "discontinuous" else 1e-4
    assert np.median(drift) < tolerance, (system, np.median(drift))
    momentum = (state["mass"][:, None, :, None] * out["vel"]).sum(2)  # (S, T, d)
    scale = np.abs(state["mass"][:, :, None] * state["vel"]).sum(1).max()
    assert np.abs(momentum - momentum[:, :1]).max() < 1e-9 * max(scale, 1.0)


@pytest.mark.parametrize("system", S.SYSTEMS)
def test_every_kept_simulation_of_a_dataset_is_within_the_energy_tolerance(system, data_root):
    """The generator's own integrator and refinement ladder: every simulation it keeps conserves
    energy (with friction's work for `damped`) within the card's tolerance; the momentum of every
    conservative one is conserved to rounding."""
    from bench.config import task_card
    from bench.tasks.data import generate_dataset

    card = task_card(system)
    ds = generate_dataset(card, "tiny", root=data_root, progress=False)
    for split in ("train", "val", "test"):
        s = ds.split(split)
        assert (s["energy_drift"] <= card.energy_tolerance).all()
        if S.POTENTIALS[system].conservative:
            p = (s["mass"][:, None, :, None].astype(float) * s["velocity"].astype(float)).sum(2)
            scale = np.abs(s["mass"][:, None, :, None] * s["velocity"]).sum(2).max()
            assert np.abs(p - p[:, :1]).max() < 1e-5 * scale  # float32 storage rounding


def test_damped_loses_energy_that_friction_accounts_for():
    state = S.initial_state(16, 4, 2, seed=[4, 0])
    out = S.integrate("damped", state, S.POTENTIALS["damped"].dt, n_steps=200, record_every=5, substeps=8)
    K, V = S.energy("damped", out["pos"], out["vel"], state["charge"][:, None], state["mass"][:, None])
    mechanical = K + V
    assert (mechanical[:, -1] < mechanical[:, 0]).all()  # friction removes energy
    assert np.median(out["energy_drift"]) < 1e-3  # ... exactly the work friction did


def test_pair_forces_are_antisymmetric_and_sum_to_acceleration():
    pos, vel, charge, mass = _random_state(5, 3, seed=2)
    f = S.pair_forces("charge", pos, charge, mass)
    recv, send = S.ordered_pairs(5)
    lookup = {(i, j): k for k, (i, j) in enumerate(zip(recv, send, strict=True))}
    for (i, j), k in lookup.items():
        np.testing.assert_array_equal(f[:, k], -f[:, lookup[(j, i)]])
    total = np.zeros_like(pos)
    np.add.at(total, (slice(None), recv), f)
    np.testing.assert_allclose(S.accelerations("charge", pos, vel, charge, mass), total / mass[..., None])


def test_initial_state_distribution():
    st = S.initial_state(20000, 4, 2, seed=0)
    assert abs(st["pos"].mean()) < 0.01 and abs(st["pos"].std() - 1) < 0.01
    assert abs(np.log(st["mass"]).std() - 1) < 0.01
    assert set(np.unique(st["charge"])) == {-1.0, 1.0} and abs(st["charge"].mean()) < 0.02


def test_unknown_system_names_valid_ones():
    from bench.errors import BenchError

    with pytest.raises(BenchError, match=r"unknown system 'chrage'; did you mean 'charge'\?.*spring"):
        S.get_potential("chrage")
