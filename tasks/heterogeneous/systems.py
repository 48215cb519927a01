"""Family H simulators: heterogeneous particles in a periodic box (Allier et al. 2024, ``arbitrary_3``).

First-order dynamics: each particle moves with the mean, over its neighbours j closer than R, of the pair
function of *its own* (the receiver's) parameters times the minimum-image displacement towards j::

    ẋ_i = mean_{j: 0 < |d_ij| < R} f_{p_i}(|d_ij|) d_ij,   d_ij = minimum image of x_j − x_i,
    f_p(r) = p0 exp(−(r²)^p1 / (2σ²)) − p2 exp(−(r²)^p3 / (2σ²)),

and ``X ← wrap(X + Δt ẋ)``. With a hidden field (``field-static``, ``field-dynamic``; the reference's
``PDE_ParticleField_A``), stationary field nodes k of value b_k(t) add a second mean, over the nodes closer than
the field radius (R/2)::

    ẋ_i += mean_{k: 0 < |d_ik| < R/2} f_{p_i}(|d_ik|) d_ik b_k(t),   d_ik = minimum image of y_k − x_i.

The exponents act on r², not r (as in the reference's ``PDE_A``). The plotted interaction function is
ψ(r) = r f(r): the component of the message along the direction to the neighbour.

Neighbours come from one ``scipy.spatial.cKDTree`` per frame with ``boxsize`` (periodic), asked for each
unordered pair once; both directions of a pair share one displacement and one distance.

The pair function's exp and log are the C library's (``bench.tasks.libm``), not numpy's, whose AVX-512 kernels
differ in rare last bits (``types16`` v1, made on an AVX-512 machine, could not be regenerated elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.tasks.libm import exp, log


def pair_function(r: np.ndarray, params: np.ndarray, sigma: float) -> np.ndarray:
    """f_p(r) of the receivers' parameters ``params`` (..., 4) at distances ``r`` (...) (broadcast)."""
    r2 = np.asarray(r, dtype=np.float64) ** 2
    p = np.asarray(params, dtype=np.float64)
    two_s2 = 2.0 * sigma**2
    with np.errstate(divide="ignore"):
        log_r2 = log(r2)  # r = 0: -inf, and (r²)^p = exp(p log r²) = 0 as it should for p > 0
    attraction = p[..., 0] * exp(-exp(p[..., 1] * log_r2) / two_s2)
    repulsion = p[..., 2] * exp(-exp(p[..., 3] * log_r2) / two_s2)
    return attraction - repulsion


def psi(r: np.ndarray, params: np.ndarray, sigma: float) -> np.ndarray:
    """The interaction function ψ(r) = r f(r) of each particle: ``params`` (N, 4), ``r`` (R,) → (N, R)."""
    r = np.asarray(r, dtype=np.float64)
    return r[None, :] * pair_function(r[None, :], np.asarray(params)[:, None, :], sigma)


def neighbour_pairs(x: np.ndarray, box: float, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every unordered pair (i, j), i < j, with 0 < |d_ij| < radius in the periodic box of side ``box``:
    ``i``, ``j`` (P,) and the minimum-image displacement ``d`` (P, 2) = x_j − x_i."""
    from scipy.spatial import cKDTree

    pairs = cKDTree(x, boxsize=box).query_pairs(radius, output_type="ndarray")
    return _within(pairs[:, 0], pairs[:, 1], x[pairs[:, 1]] - x[pairs[:, 0]], box, radius)


def _within(i: np.ndarray, j: np.ndarray, d: np.ndarray, box: float, radius: float):
    """The pairs (i, j) whose displacement ``d``, taken to its minimum image, has 0 < |d| < radius: ``i``, ``j``,
    ``d`` of those (the trees are asked with periodic wrapping; the displacement decides)."""
    d = d - box * np.round(d / box)
    r2 = (d * d).sum(axis=1)
    keep = (r2 < radius * radius) & (r2 > 0)
    return i[keep], j[keep], d[keep]


def velocity(x: np.ndarray, params: np.ndarray, box: float, radius: float, sigma: float) -> np.ndarray:
    """ẋ of every particle at positions ``x`` (N, 2) in [0, box)², parameters ``params`` (N, 4): (N, 2)."""
    N = x.shape[0]
    i, j, d = neighbour_pairs(x, box, radius)
    r = np.sqrt((d * d).sum(axis=1))
    f_i = pair_function(r, params[i], sigma)  # receiver i, neighbour j: f_{p_i}(r) d_ij
    f_j = pair_function(r, params[j], sigma)  # receiver j, neighbour i: f_{p_j}(r) d_ji = −f_{p_j}(r) d_ij
    out = np.empty((N, 2))
    for c in range(2):
        out[:, c] = np.bincount(i, f_i * d[:, c], minlength=N) - np.bincount(j, f_j * d[:, c], minlength=N)
    count = np.bincount(i, minlength=N) + np.bincount(j, minlength=N)
    return out / np.maximum(count, 1)[:, None]


def field_pairs(x: np.ndarray, nodes_tree, box: float, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (particle i, field node k) with 0 < |d_ik| < radius: ``i``, ``k`` (P,) and the minimum-image
    displacement ``d`` (P, 2) = y_k − x_i; ``nodes_tree`` is the nodes' ``cKDTree`` with ``boxsize=box``."""
    from scipy.spatial import cKDTree

    pairs = cKDTree(x, boxsize=box).sparse_distance_matrix(nodes_tree, radius, output_type="ndarray")
    i, k = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    return _within(i, k, nodes_tree.data[k] - x[i], box, radius)


def field_velocity(
    x: np.ndarray, params: np.ndarray, nodes_tree, values: np.ndarray, box: float, radius: float, sigma: float
) -> np.ndarray:
    """The field's part of ẋ (N, 2): the mean over the nodes closer than ``radius`` of f_{p_i}(r) d_ik b_k, with
    ``values`` (M,) the nodes' b_k (see the module docstring)."""
    N = x.shape[0]
    i, k, d = field_pairs(x, nodes_tree, box, radius)
    w = pair_function(np.sqrt((d * d).sum(axis=1)), params[i], sigma) * values[k]
    out = np.stack([np.bincount(i, w * d[:, c], minlength=N) for c in range(2)], axis=1)
    return out / np.maximum(np.bincount(i, minlength=N), 1)[:, None]


def simulate(
    params: np.ndarray,
    box: float,
    radius: float,
    sigma: float,
    dt: float,
    frames: int,
    seed,
    progress: Callable[[int], None] | None = None,
    field_nodes: np.ndarray | None = None,
    field_values: np.ndarray | None = None,
    field_radius: float | None = None,
) -> dict[str, np.ndarray]:
    """One run of ``frames`` frames from positions U[0, box)² (drawn from ``seed``), v₀ = 0.

    Returns ``position`` (T, N, 2) in [0, box) and ``velocity`` (T, N, 2), float64: ``velocity[t]`` is ẋ at
    ``position[t]``, the step from frame t to t + 1 (``position[t + 1] = wrap(position[t] + dt velocity[t])``);
    the last frame's ẋ is computed too, so every frame is a training sample. ``progress(t)`` after each frame.

    With ``field_nodes`` (M, 2), ``field_values`` (1 or T, M) (one row: a static field) and ``field_radius``,
    the field's term is added (frame t uses row t of a dynamic field).
    """
    rng = np.random.default_rng(seed)
    N = params.shape[0]
    x = rng.uniform(0.0, box, size=(N, 2))
    position = np.empty((frames, N, 2))
    vel = np.empty((frames, N, 2))
    tree = None
    if field_nodes is not None:
        from scipy.spatial import cKDTree

        if field_values is None or field_radius is None or field_values.shape[0] not in (1, frames):
            raise ValueError("simulate: a field needs field_values (1 or frames rows) and field_radius")
        tree = cKDTree(np.asarray(field_nodes, dtype=np.float64), boxsize=box)
    for t in range(frames):
        position[t] = x
        vel[t] = velocity(x, params, box, radius, sigma)
        if tree is not None:
            row = field_values[t if field_values.shape[0] > 1 else 0]
            vel[t] += field_velocity(x, params, tree, row, box, float(field_radius), sigma)
        x = np.mod(x + dt * vel[t], box)
        x[x >= box] -= box  # a tiny negative coordinate rounds to box
        if progress is not None:
            progress(t)
    return {"position": position, "velocity": vel}
