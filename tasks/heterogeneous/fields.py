"""Hidden fields of family H (``field-static``, ``field-dynamic``): stationary field nodes whose values b_j(t)
modulate the particles' motion and are never shown to a model.

Allier et al. took their fields from an image and a video that are not public; ours are generated,
deterministic (numpy's ``default_rng`` from the task's ``data_seed``) and periodic in the box, so that the
minimum-image neighbourhood of a node sees one continuous field:

- **Nodes** (``field_nodes``): the centres of an n × n grid of square cells over the box of side L, each moved by
  N(0, (jitter · L/n)²) per coordinate (the reference's mesh: 100 × 100 in the unit box, jitter 1/8 of a cell)
  and wrapped into the box. Node k sits in row k // n (y) and column k % n (x): ``values.reshape(n, n)`` is an
  image with y along the rows.
- **A pattern** (``fourier_field``): a sum of random Fourier modes, the integer wave vectors m ≠ 0 with
  |m| ≤ L/λ_min (every wavelength L/|m| from λ_min to L; one of each pair ±m), amplitude |m|^−1 (structure at
  every scale, most of it large), uniform random phase. Min–max scaled to [0, value_max] over the nodes and
  frames: a field of non-negative couplings.
- **static**: one pattern at every frame.
- **dynamic**: the pattern moves and deforms. The whole of it drifts with a constant velocity (``drift`` box
  sides over the run, in a random direction), and each mode also turns its phase at its own rate (up to
  ``deform`` turns over the run, random sign), so that its shape changes while it moves.

The values repeat across x86 CPUs: the sums over modes are elementwise products and numpy reductions (no BLAS
call, whose kernel, chosen per CPU, changes the last bits; task version 1 used one), the cosines are the C
library's (``bench.tasks.libm``; numpy's AVX-512 kernels differ in rare last bits), and the scaled values are
rounded to float32, the precision the dataset stores, before the simulation uses them.
"""

from __future__ import annotations

import math

import numpy as np

from bench.tasks.libm import cos

KINDS = ("static", "dynamic")


def field_nodes(box: float, grid: int, jitter: float, seed) -> np.ndarray:
    """(grid², 2) node positions in [0, box): the cell centres (row-major: y by rows, x by columns), each moved
    by N(0, (jitter · box / grid)²) per coordinate and wrapped into the box."""
    h = box / grid
    centres = (np.arange(grid) + 0.5) * h
    x, y = np.meshgrid(centres, centres, indexing="xy")  # x varies along a row
    nodes = np.stack([x.ravel(), y.ravel()], axis=1)
    nodes = nodes + np.random.default_rng(seed).normal(0.0, jitter * h, size=nodes.shape)
    nodes = np.mod(nodes, box)
    nodes[nodes >= box] -= box
    return nodes


def wave_vectors(box: float, min_wavelength: float) -> np.ndarray:
    """(K, 2) integer wave vectors m, one of each pair ±m, with 0 < |m| ≤ box / min_wavelength, in a fixed
    order (by |m|, then m_x, then m_y)."""
    top = int(np.floor(box / min_wavelength + 1e-9))
    if top < 1:
        raise ValueError(f"fourier_field: min_wavelength={min_wavelength} exceeds the box side {box}: no mode fits")
    m = np.array([(i, j) for i in range(-top, top + 1) for j in range(-top, top + 1)], dtype=np.int64)
    half = (m[:, 0] > 0) | ((m[:, 0] == 0) & (m[:, 1] > 0))  # one of each ±m pair, m != 0
    m = m[half & ((m**2).sum(axis=1) <= top * top)]
    order = np.lexsort((m[:, 1], m[:, 0], (m**2).sum(axis=1)))
    return m[order]


def fourier_field(
    nodes: np.ndarray,
    box: float,
    frames: int,
    kind: str,
    seed,
    min_wavelength: float = 0.1,
    value_max: float = 2.0,
    drift: float = 0.5,
    deform: float = 1.0,
) -> np.ndarray:
    """The field values (F, M) at the ``nodes`` (M, 2): F = 1 for ``static``, ``frames`` for ``dynamic`` (see the
    module docstring). Scaled to [0, value_max] over all values and rounded to float32 (held as float64);
    deterministic for a ``seed``."""
    if kind not in KINDS:
        from bench.errors import unknown

        raise unknown("field kind", kind, list(KINDS))
    m = wave_vectors(box, min_wavelength)
    rng = np.random.default_rng(seed)
    amplitude = 1.0 / np.sqrt((m**2).sum(axis=1))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=len(m))
    angle = rng.uniform(0.0, 2.0 * np.pi)
    rate = rng.uniform(-1.0, 1.0, size=len(m)) * deform * 2.0 * np.pi  # phase turned over the run
    k = 2.0 * np.pi * m / box  # (K, 2) wave vectors in radians per length
    if kind == "static":
        times = np.zeros(1)
    else:
        times = np.arange(frames) / max(frames - 1, 1)  # 0 .. 1 over the run
    shift = drift * box * np.array([math.cos(angle), math.sin(angle)])  # the drift over the whole run
    values = np.empty((len(times), nodes.shape[0]))
    for f, s in enumerate(times):
        x = (nodes[:, 0] - s * shift[0])[:, None]
        y = (nodes[:, 1] - s * shift[1])[:, None]
        arg = x * k[:, 0] + y * k[:, 1] + phase + (rate * s if kind == "dynamic" else 0.0)  # (M, K), no BLAS
        values[f] = (cos(arg) * amplitude).sum(axis=1)
    lo, hi = values.min(), values.max()
    return ((values - lo) / (hi - lo) * value_max).astype(np.float32).astype(np.float64)
