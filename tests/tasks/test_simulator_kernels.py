"""The compiled n-body kernels (tasks/nbody/_kernels.py) give the numpy simulator's bytes, bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.tasks.nbody.systems import (
    forces,
    forces_reference,
    initial_state,
    simulate,
    simulate_reference,
)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.view(np.int64), b.view(np.int64))


@pytest.mark.parametrize("n", [1, 2, 5, 7, 8, 9, 20, 100, 129])
@pytest.mark.parametrize("max_force", [100.0, None])
def test_forces_are_bit_identical(n, max_force):
    state = initial_state(37, n, [n, 5])
    assert same_bits(
        forces(state["pos"], state["charge"], max_force), forces_reference(state["pos"], state["charge"], max_force)
    )


@pytest.mark.parametrize(
    ("n", "sims", "frames", "every"),
    [(5, 70, [0, 2, 3], 40), (20, 9, [1, 2], 15), (100, 3, [0, 1], 5), (2, 1, [0, 2], 10)],
)
@pytest.mark.parametrize("max_force", [100.0, None])
def test_trajectories_are_bit_identical(n, sims, frames, every, max_force):
    state = initial_state(sims, n, [n, 6])
    ours = simulate(state, frames, record_every=every, max_force=max_force, chunk=16)
    ref = simulate_reference(state, frames, record_every=every, max_force=max_force)
    assert same_bits(ours["pos"], ref["pos"]) and same_bits(ours["vel"], ref["vel"])


def test_close_pairs_clip_and_coincident_pairs_match():
    pos = np.array(
        [[[0.0, 0.0, 0.0], [1e-3, 0.0, 0.0], [1.0, 2.0, 3.0]], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]]
    )
    charge = np.array([[1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])
    with np.errstate(all="ignore"):
        ref = forces_reference(pos, charge, 100.0)
    ours = forces(pos, charge, 100.0)
    assert same_bits(ours, ref)  # NaN where two bodies coincide, as numpy gives
    assert np.abs(ours[0]).max() == 100.0


def test_threads_do_not_change_the_bytes():
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has one thread here (NUMBA_NUM_THREADS=1): nothing to compare")
    state = initial_state(150, 5, [5, 7])
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(state, [0, 3], record_every=30)
        numba.set_num_threads(2)
        many = simulate(state, [0, 3], record_every=30)
    finally:
        numba.set_num_threads(before)
    assert same_bits(one["pos"], many["pos"]) and same_bits(one["vel"], many["vel"])


@pytest.mark.parametrize("name", ["nbody5", "nbody5h", "nbody20", "nbody50", "nbody100"])
def test_tiny_datasets_match_the_committed_manifests(name, tmp_path):
    from bench.config import task_card
    from bench.tasks import data as D

    card = task_card(name)
    ds = D.generate_dataset(card, "tiny", root=tmp_path, force=True, progress=False)
    official = json.loads(D.official_manifest_path(name, int(card.version), "tiny").read_text())
    assert ds.checksum == official["checksum"]


@pytest.mark.parametrize(
    "pos, charge",
    [((200, 4, 3), (4,)), ((10, 4, 2), (10, 4)), ((10, 4, 3), (10, 5))],
)
def test_wrong_shapes_are_refused_not_read_out_of_bounds(pos, charge):
    from bench.tasks.nbody.systems import forces, simulate

    with pytest.raises(ValueError, match="expected pos"):
        forces(np.zeros(pos), np.ones(charge))
    with pytest.raises(ValueError, match="expected pos"):
        simulate({"pos": np.zeros(pos), "vel": np.zeros(pos), "charge": np.ones(charge)}, [1], record_every=1)
