"""Family N datasets and evaluators: determinism, split sizes, frames, the rotated test set, scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.config import task_card
from bench.tasks import data as D
from bench.tasks.nbody import Evaluator, RolloutEvaluator
from bench.tasks.nbody.generate import initial_states, split_simulations, split_sizes
from bench.tasks.nbody.systems import initial_state, simulate


def test_published_split_sizes():
    assert split_sizes(7000, [3000, 2000, 2000]) == (3000, 2000, 2000)  # EGNN
    assert split_sizes(9000, [5000, 2000, 2000]) == (5000, 2000, 2000)  # HEGNN
    for name, sizes in [
        ("nbody5", (3000, 2000, 2000)),
        ("nbody5h", (5000, 2000, 2000)),
        ("nbody100", (5000, 2000, 2000)),
    ]:
        card = task_card(name)
        assert split_sizes(card.simulations.paper, card.split) == sizes


def test_same_bytes_twice_and_seed_changes_them(tmp_path):
    card = task_card("nbody5")
    a = D.generate_dataset(card, "tiny", root=tmp_path / "a", progress=False)
    b = D.generate_dataset(card, "tiny", root=tmp_path / "b", progress=False)
    assert (a.path / "dataset.npz").read_bytes() == (b.path / "dataset.npz").read_bytes()
    other = D.generate_dataset(task_card("nbody5", ["data_seed=1"]), "tiny", root=tmp_path / "c", progress=False)
    assert other.checksum != a.checksum


@pytest.mark.parametrize("name", ["nbody5", "nbody5h"])
def test_matches_committed_official_manifest(name, data_root):
    card = task_card(name)
    ds = D.generate_dataset(card, "tiny", root=data_root, progress=False)
    official = json.loads(D.official_manifest_path(name, int(card.version), "tiny").read_text())
    assert ds.checksum == official["checksum"]


@pytest.mark.parametrize("name", ["nbody5h", "nbody20", "nbody50", "nbody100"])
def test_hegnn_tasks_spread_the_initial_positions_as_hegnns_generator(name):
    """σ = (n/5)^(1/3) + 0.1 (Cen et al.'s generator) on the HEGNN-protocol cards: the sample std of the tiny
    dataset's initial positions is within 2.5 % of it, and more than 2.5 % from EGNN's (n/5)^(1/3) (v2's)."""
    card = task_card(name)
    n = int(card.n_particles)
    spread = initial_states(card, "tiny")["pos"].std()
    assert abs(spread / ((n / 5) ** (1 / 3) + 0.1) - 1) < 0.025
    assert abs(spread / (n / 5) ** (1 / 3) - 1) > 0.025
    assert D.data_params(card, "tiny")["position_std_offset"] == 0.1 and card.version >= 3


def test_egnn_task_has_no_spread_offset_and_its_parameters_are_unchanged():
    """nbody5 keeps EGNN's σ = 1 bit for bit and has no ``position_std_offset`` parameter (so its manifest, its
    checksum and its records stay those of v1; ``test_matches_committed_official_manifest`` checks the bytes)."""
    card = task_card("nbody5")
    assert card.position_std_offset is None and "position_std_offset" not in D.data_params(card, "tiny")
    plain = initial_state(card.simulations.tiny, 5, [card.data_seed, 0])
    np.testing.assert_array_equal(initial_states(card, "tiny")["pos"], plain["pos"])
    assert plain["pos"].std() == pytest.approx(1.0, abs=0.03)


def test_hegnn_dataset_is_simulated_from_the_offset_initial_states(data_root):
    card = task_card("nbody5h")
    train = D.generate_dataset(card, "tiny", root=data_root, progress=False).split("train")
    state = initial_states(card, "tiny")
    picked = {k: v[train["simulation"][:3]] for k, v in state.items()}
    ref = simulate(picked, [30, 40])
    np.testing.assert_allclose(train["position"][:3], ref["pos"], rtol=0, atol=1e-5)


def test_a_negative_spread_offset_is_refused():
    from bench.errors import BenchError
    from bench.family import get_family

    with pytest.raises(BenchError, match="position_std_offset"):
        get_family("nbody").check_card(task_card("nbody5h", ["position_std_offset=-0.5"]))


def test_test_rotations_do_not_depend_on_the_blas_kernel():
    """The rotated test set's bytes are the same under every OpenBLAS kernel (a QR decomposition's were not)."""
    import os
    import subprocess
    import sys

    code = ("from bench.config import task_card; from bench.tasks.nbody.generate import generate; "
            "from bench.tasks.data import checksum; "
            "print(checksum(generate(task_card('nbody5h'), 'tiny', progress=False)[0]))")  # fmt: skip
    sums = set()
    for kernel in ("Haswell", "Prescott"):  # AVX2 and plain SSE3 kernels
        env = {**os.environ, "OPENBLAS_CORETYPE": kernel}
        sums.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                check=True).stdout.strip())  # fmt: skip
    assert len(sums) == 1


def test_random_rotations_are_rotations():
    from bench.tasks.nbody.generate import random_rotations, rotate

    R = random_rotations(500, [0, 2])
    assert np.allclose(R @ R.transpose(0, 2, 1), np.eye(3), atol=1e-12) and np.allclose(np.linalg.det(R), 1)
    v = np.random.default_rng(1).standard_normal((500, 2, 4, 3))
    assert np.allclose(rotate(R, v), np.einsum("sab,sfnb->sfna", R, v), atol=1e-12)
    # Haar: the rotated z axis is uniform on the sphere (each coordinate's mean ≈ 0, second moment ≈ 1/3)
    z = R[:, :, 2]
    assert np.abs(z.mean(0)).max() < 0.1 and np.abs((z**2).mean(0) - 1 / 3).max() < 0.05


def test_splits_frames_and_the_simulation_behind_them(data_root):
    card = task_card("nbody5")
    ds = D.generate_dataset(card, "tiny", root=data_root, progress=False)
    sims = {s: ds.split(s)["simulation"] for s in ("train", "val", "test")}
    assert [len(sims[s]) for s in ("train", "val", "test")] == [48, 32, 32]
    assert len(set(np.concatenate(list(sims.values())).tolist())) == card.simulations.tiny  # disjoint, complete
    expected = split_simulations(card.simulations.tiny, card.split, card.data_seed)
    np.testing.assert_array_equal(sims["test"], expected["test"])
    train, test = ds.split("train"), ds.split("test")
    assert train["position"].shape == (48, 2, 5, 3) and train["position"].dtype == np.float32
    assert train["frames"].tolist() == [30, 40] and test["frames"].tolist() == [30, 40, 50, 60, 70]
    # the stored frames are the simulator's frames 30 and 40 of the same initial states
    state = initial_state(card.simulations.tiny, 5, [card.data_seed, 0])
    picked = {k: v[sims["train"][:3]] for k, v in state.items()}
    ref = simulate(picked, [30, 40])
    np.testing.assert_allclose(train["position"][:3], ref["pos"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(train["velocity"][:3], ref["vel"], rtol=0, atol=1e-5)
    np.testing.assert_array_equal(train["charge"][:3], picked["charge"])


def test_hegnn_test_set_is_randomly_rotated(data_root, tmp_path):
    rotated = D.generate_dataset(task_card("nbody5h"), "tiny", root=data_root, progress=False)
    plain = D.generate_dataset(task_card("nbody5h", ["rotate_test=false"]), "tiny", root=tmp_path, progress=False)
    R = rotated.split("test")["rotation"]
    assert R.shape == (20, 3, 3)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    np.testing.assert_allclose(R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    assert np.abs(R - R[0]).max() > 0.1  # one rotation per trajectory
    expected = np.einsum("sab,sfnb->sfna", R, plain.split("test")["position"].astype(np.float64))
    np.testing.assert_allclose(rotated.split("test")["position"], expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(rotated.split("train")["position"], plain.split("train")["position"])
    assert "rotation" not in plain.split("test")


def test_evaluator_scores_and_checks():
    ev = Evaluator("nbody5")
    true = np.zeros((4, 5, 3))
    pred = true + 0.1
    assert ev({"position_pred": pred, "position_true": true}) == pytest.approx({"mse": 0.01, "mae": 0.1})
    with pytest.raises(ValueError, match=r"position_pred has shape \(4, 4, 3\)"):
        ev({"position_pred": pred[:, :4], "position_true": true})
    with pytest.raises(ValueError, match="missing input 'position_true'"):
        ev({"position_pred": pred})
    assert "position_pred" in repr(ev) and "mse" in repr(ev)


def test_rollout_evaluator(data_root):
    test = D.generate_dataset(task_card("nbody5"), "tiny", root=data_root, progress=False).split("test")
    traj = test["position"].astype(np.float64)
    inputs = {"trajectory": traj, "velocity": test["velocity"][:, 0], "charge": test["charge"]}
    ev = RolloutEvaluator(jump_time=1.0)
    perfect = ev({"rollout_pred": traj[:, 1:], **inputs})
    for k in range(1, 5):
        assert perfect[f"rollout_mse_h{k}"] == 0.0 and perfect[f"rollout_finite_h{k}"] == 1.0
        assert perfect[f"energy_drift_h{k}"] == perfect[f"true_energy_drift_h{k}"] > 0
    frozen = np.repeat(traj[:, :1], 4, axis=1)  # predicting no motion
    still = ev({"rollout_pred": frozen, **inputs})
    assert still["rollout_mse_h1"] == pytest.approx(((traj[:, 1] - traj[:, 0]) ** 2).mean())
    assert still["rollout_mse_h4"] > still["rollout_mse_h1"]
    blown = frozen.copy()
    blown[0, 2:] = np.nan
    out = ev({"rollout_pred": blown, **inputs})
    assert out["rollout_finite_h2"] == 1.0 and out["rollout_finite_h3"] == 1 - 1 / len(traj)
