"""Radius graphs against an O(N²) minimum-image reference; invariance under periodic images; history windows."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from bench.backends import get_backend
from bench.graphs import Displacement, history_window, radius_batch, radius_graph

TINY = 1e-12


def brute_force(x: np.ndarray, radius: float, box, graph=None) -> dict[tuple[int, int], np.ndarray]:
    """{(sender j, receiver i): shift} for every i != j of one graph closer than ``radius``, by trying images."""
    N, d = x.shape
    if box is None:
        images = np.zeros((1, d))
    else:
        images = np.array(list(itertools.product(range(-2, 3), repeat=d)), dtype=np.float64) * np.asarray(box)
    delta = x[:, None, None, :] - x[None, :, None, :] + images[None, None]  # (i, j, image, d)
    norm = np.linalg.norm(delta, axis=-1)
    best = norm.argmin(axis=-1)
    closest = np.take_along_axis(norm, best[..., None], axis=-1)[..., 0]
    same_graph = np.ones((N, N), bool) if graph is None else graph[:, None] == graph[None, :]
    keep = (closest < radius) & same_graph & ~np.eye(N, dtype=bool)
    return {(int(j), int(i)): images[best[i, j]] for i, j in zip(*np.nonzero(keep), strict=True)}


def assert_same_graph(edge_index, edge_shift, reference, periodic: bool):
    senders, receivers = edge_index.tolist()
    edges = list(zip(senders, receivers, strict=True))
    # receiver-major, senders ascending, no duplicates
    assert edges == sorted(set(edges), key=lambda e: (e[1], e[0]))
    missing, extra = set(reference) - set(edges), set(edges) - set(reference)
    assert not missing and not extra, f"missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"
    if not periodic:
        assert edge_shift is None
        return
    assert edge_shift.ndim == 2 and edge_shift.shape[0] == len(edges)
    expected = np.array([reference[e] for e in edges]).reshape(edge_shift.shape)
    np.testing.assert_allclose(edge_shift.numpy(), expected, rtol=0, atol=1e-12)


def points_on_the_boundary(box, rng, n_random: int) -> np.ndarray:
    """Random points plus points exactly on 0, L - tiny and L, and at every corner."""
    L = np.asarray(box)
    d = len(box)
    corners = np.array(list(itertools.product([0.0, 1.0], repeat=d))) * L
    corners_inside = np.where(corners > 0, L - TINY, 0.0)
    on_faces = []
    for axis in range(d):
        base = rng.random((3, d)) * L
        for value in (0.0, L[axis] - TINY, L[axis]):
            point = base.copy()
            point[:, axis] = value
            on_faces.append(point)
        # a pair straddling this face, 0.02 apart through it
        straddle = rng.random((2, d)) * L
        straddle[1] = straddle[0]
        straddle[0, axis], straddle[1, axis] = 0.01, L[axis] - 0.01
        on_faces.append(straddle)
    return np.concatenate([rng.random((n_random, d)) * L, corners, corners_inside, *on_faces])


PERIODIC_CASES = [
    ((1.0, 1.0), 0.3),
    ((1.0, 2.5), 0.35),
    ((0.7, 1.3, 1.0), 0.3),
    ((2.0, 2.0, 2.0), 0.45),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("box", "radius"), PERIODIC_CASES)
def test_periodic_radius_graph_equals_brute_force(box, radius, seed):
    rng = np.random.default_rng(seed)
    x = points_on_the_boundary(box, rng, n_random=40)
    displacement = Displacement(box)
    edge_index, edge_shift = radius_graph(x, radius, displacement)
    reference = brute_force(x, radius, box)
    assert edge_index.dtype == torch.long and edge_shift.dtype == torch.float64
    # the reference really has pairs through the boundary, with non-zero shifts in every dimension
    shifts = np.array(list(reference.values()))
    assert all((shifts[:, k] != 0).any() for k in range(len(box)))
    assert_same_graph(edge_index, edge_shift, reference, periodic=True)
    # the shift makes x_i - x_j the minimum image
    relative = x[edge_index[1]] - x[edge_index[0]] + edge_shift.numpy()
    np.testing.assert_allclose(relative, displacement(x[edge_index[1]], x[edge_index[0]]), rtol=0, atol=1e-15)


def test_a_graph_that_ignores_periodicity_is_caught():
    box, radius = (1.0, 2.0), 0.3
    x = points_on_the_boundary(box, np.random.default_rng(5), n_random=30)
    reference = brute_force(x, radius, box)
    open_index, _ = radius_graph(x, radius, Displacement(None))
    with pytest.raises(AssertionError, match="missing"):
        assert_same_graph(open_index, None, reference, periodic=False)
    # two points 0.02 apart through the face x = 0 are neighbours only in the periodic box
    pair = np.array([[0.01, 1.0], [0.99, 1.0]])
    periodic_index, periodic_shift = radius_graph(pair, 0.1, Displacement(box))
    assert periodic_index.tolist() == [[1, 0], [0, 1]]
    np.testing.assert_allclose(periodic_shift.numpy(), [[1.0, 0.0], [-1.0, 0.0]])
    assert radius_graph(pair, 0.1, Displacement(None))[0].shape == (2, 0)
    # a shift with the wrong sign is caught too
    edge_index, edge_shift = radius_graph(x, radius, Displacement(box))
    with pytest.raises(AssertionError):
        assert_same_graph(edge_index, -edge_shift, reference, periodic=True)


@pytest.mark.parametrize("box", [None, (1.0, 1.0)])
def test_the_cutoff_is_strict(box):
    # distances exactly representable: 0.25 directly, and 0.25 through the face x = 0 in the box
    x = np.array([[0.125, 0.5], [0.375, 0.5], [0.875, 0.5]])
    edge_index, _ = radius_graph(x, 0.25, Displacement(box))
    assert edge_index.shape == (2, 0)
    edge_index, _ = radius_graph(x, 0.25 + 1e-12, Displacement(box))
    expected = [[1, 0], [0, 1]] if box is None else [[1, 2, 0, 0], [0, 0, 1, 2]]
    assert edge_index.tolist() == expected


@pytest.mark.parametrize("d", [2, 3])
def test_open_space_radius_graph_equals_brute_force(d):
    rng = np.random.default_rng(d)
    x = rng.normal(size=(80, d))
    edge_index, edge_shift = radius_graph(x, 0.6, Displacement())
    assert edge_shift is None
    assert_same_graph(edge_index, None, brute_force(x, 0.6, None), periodic=False)


@pytest.mark.parametrize("box", [None, (1.0, 1.5)])
def test_several_graphs_in_one_call(box):
    rng = np.random.default_rng(7)
    x = points_on_the_boundary((1.0, 1.5), rng, n_random=60)
    graph = rng.integers(0, 3, size=len(x))  # interleaved, not sorted
    edge_index, edge_shift = radius_graph(x, 0.3, Displacement(box), graph=graph)
    assert (graph[edge_index[0]] == graph[edge_index[1]]).all()
    assert_same_graph(edge_index, edge_shift, brute_force(x, 0.3, box, graph), periodic=box is not None)
    # without the graph ids the same points do have edges between the graphs
    single, _ = radius_graph(x, 0.3, Displacement(box))
    assert (graph[single[0]] != graph[single[1]]).any()


def test_torch_input_gives_the_same_graph():
    box = (1.0, 2.0)
    x = points_on_the_boundary(box, np.random.default_rng(3), n_random=50)
    index_np, shift_np = radius_graph(x, 0.3, Displacement(box))
    index_t, shift_t = radius_graph(torch.from_numpy(x), 0.3, Displacement(box))
    assert torch.equal(index_np, index_t) and torch.equal(shift_np, shift_t)
    _, shift_32 = radius_graph(torch.from_numpy(x).float(), 0.3, Displacement(box))
    assert shift_32.dtype == torch.float32


class PairSum(nn.Module):
    """Σ_j MLP(x_i - x_j, |x_i - x_j|) over the batch's edges."""

    def __init__(self, d: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(d + 1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, d))

    def forward(self, batch):
        relative = batch.ops.relative_position(batch.position)
        distance = relative.norm(dim=-1, keepdim=True)
        return batch.ops.sum_at_receivers(self.mlp(torch.cat([relative, distance], dim=-1)))


@pytest.mark.parametrize(("box", "radius"), [((1.0, 1.5), 0.3), ((1.0, 0.8, 1.2), 0.35)])
def test_output_is_invariant_under_periodic_images(box, radius):
    rng = np.random.default_rng(11)
    torch.manual_seed(0)
    x = points_on_the_boundary(box, rng, n_random=60)
    N, d = x.shape
    moved = x + rng.integers(-3, 4, size=(N, d)) * np.asarray(box)
    assert (moved != x).any()
    displacement, backend = Displacement(box), get_backend("torch")
    model = PairSum(d).double()
    velocity = np.zeros_like(x)
    graph = np.repeat([0, 1], [N // 2, N - N // 2])

    batch = backend.bind(radius_batch(x, velocity, {}, radius, displacement, graph=graph))
    moved_batch = backend.bind(radius_batch(moved, velocity, {}, radius, displacement, graph=graph))
    assert torch.equal(batch.edge_index, moved_batch.edge_index)
    assert batch.num_edges > N
    out, moved_out = model(batch), model(moved_batch)
    assert out.abs().max() > 1e-3
    torch.testing.assert_close(moved_out, out, rtol=0, atol=1e-10)
    # the check can fail: the moved batch without its periodic shifts gives another output
    unshifted = backend.bind(replace(moved_batch, edge_shift=None, ops=None))
    assert (model(unshifted) - out).abs().max() > 1e-3


@pytest.mark.parametrize("box", [(1.0, 1.0), (1.0, 2.5, 0.5)])
def test_displacement_numpy_and_torch_agree_and_lie_in_half_box(box):
    rng = np.random.default_rng(0)
    L = np.asarray(box)
    a, b = rng.uniform(-3, 3, size=(200, len(box))) * L, rng.uniform(-3, 3, size=(200, len(box))) * L
    displacement = Displacement(box)
    assert displacement.periodic and displacement.dim == len(box)
    d_np = displacement(a, b)
    d_t = displacement(torch.from_numpy(a), torch.from_numpy(b))
    assert isinstance(d_np, np.ndarray) and d_t.dtype == torch.float64
    np.testing.assert_array_equal(d_np, d_t.numpy())
    assert (np.abs(d_np) <= L / 2 + 1e-12).all()
    # the minimum image is an image of a - b
    images = (d_np - (a - b)) / L
    np.testing.assert_allclose(images, np.round(images), atol=1e-9)
    assert np.abs(d_np).max() > 0.4 * L.min()  # the components are not all squeezed to 0
    # broadcasting, dtype and the shift
    pairwise = displacement(torch.from_numpy(a[:5, None]).float(), torch.from_numpy(b[None, :7]).float())
    assert pairwise.shape == (5, 7, len(box)) and pairwise.dtype == torch.float32
    np.testing.assert_allclose(displacement.shift(a, b), d_np - (a - b), atol=1e-12)
    # open space is the plain difference
    np.testing.assert_array_equal(Displacement()(a, b), a - b)
    assert Displacement().shift(a, b) is None and not Displacement().periodic


def test_wrap_maps_every_position_into_the_box():
    box = (1.0, 2.0)
    displacement = Displacement(box)
    x = np.array([[-1e-300, 2.0], [1.0, -4.5], [3.25, 1.999], [-1.0, 0.0]])
    for wrapped in (displacement.wrap(x), displacement.wrap(torch.from_numpy(x)).numpy()):
        assert ((wrapped >= 0) & (wrapped < np.asarray(box))).all()
        np.testing.assert_allclose(wrapped, [[0.0, 0.0], [0.0, 1.5], [0.25, 1.999], [0.0, 0.0]], atol=1e-12)
    assert displacement.wrap(x) is not x and Displacement().wrap(x) is x
    with pytest.raises(ValueError, match=r"shape \(2, 3\) do not have the box.s 2 components"):
        displacement.wrap(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="box"):
        Displacement((1.0, -1.0))


def test_radius_graph_rejects_bad_input():
    with pytest.raises(
        ValueError, match=r"radius 0\.5 must be < min\(box\)/2 = 0\.5 for the periodic box \(1\.0, 2\.0\)"
    ):
        radius_graph(np.random.default_rng(0).random((10, 2)), 0.5, Displacement((1.0, 2.0)))
    radius_graph(np.random.default_rng(0).random((10, 2)), 0.49, Displacement((1.0, 2.0)))
    x = np.zeros((4, 2))
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite positions, first particle 2"):
        radius_graph(x, 0.1, Displacement((1.0, 1.0)))
    with pytest.raises(ValueError, match="radius must be finite and > 0, got 0.0"):
        radius_graph(np.zeros((4, 2)), 0.0, Displacement())
    with pytest.raises(ValueError, match="3-dimensional"):
        radius_graph(np.zeros((4, 3)), 0.1, Displacement((1.0, 1.0)))


def test_radius_batch_fields():
    rng = np.random.default_rng(2)
    box, N = (1.0, 1.0), 30
    x, v = rng.random((N, 2)), rng.normal(size=(N, 2))
    graph = np.repeat([0, 1, 2], 10)
    batch = radius_batch(
        x,
        v,
        {"mass": np.ones(N)},
        0.3,
        Displacement(box),
        graph=graph,
        time=np.full(N, 0.5),
        node_type=np.r_[np.zeros(25), np.ones(5)],
        mask=np.r_[np.ones(25), np.zeros(5)],
        history=rng.random((N, 4, 2)),
    )
    assert batch.num_graphs == 3 and batch.nodes_per_graph is None
    assert batch.particle.tolist() == list(range(10)) * 3
    assert batch.node_type.dtype == torch.long and batch.mask.dtype == torch.bool and int(batch.mask.sum()) == 25
    assert batch.history.shape == (N, 4, 2) and batch.attributes["mass"].shape == (N,)
    assert batch.edge_shift.shape == (batch.num_edges, 2)
    assert torch.equal(batch.position, torch.from_numpy(x))
    with pytest.raises(ValueError, match="mask must have 1 dimension"):
        radius_batch(x, v, {}, 0.3, Displacement(box), mask=np.ones(N - 1))


@pytest.mark.parametrize("as_tensor", [False, True])
def test_history_window(as_tensor):
    T, n, F = 60, 3, 4
    frames = np.arange(T * n * F, dtype=np.float64).reshape(T, n, F)
    if as_tensor:
        frames = torch.from_numpy(frames)
    window = history_window(frames, t=55, window=49)  # NRI's encoder window
    assert window.shape == (n, 49, F) and isinstance(window, torch.Tensor) == as_tensor
    for i in range(n):
        for k in range(49):
            assert (np.asarray(window[i, k]) == np.asarray(frames[55 - 48 + k, i])).all()
    assert history_window(frames, t=48, window=49).shape == (n, 49, F)
    with pytest.raises(ValueError, match="a window of 49 frames ending at frame t=47 needs t >= 48"):
        history_window(frames, t=47, window=49)
    with pytest.raises(ValueError, match="outside the trajectory's 60 frames"):
        history_window(frames, t=60, window=1)
