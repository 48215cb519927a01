"""Family H datasets: three runs of the same particles (train, val, test), each from its own initial
positions; the particles' types and parameters are drawn once per dataset from ``data_seed``."""

from __future__ import annotations

from typing import Any

import numpy as np

SPLITS = ("train", "val", "test")
SYSTEMS = ("attraction_repulsion",)

DATA_KEYS = (
    "family", "version", "system", "n_types", "type_params", "param_jitter", "particles", "box", "radius",
    "sigma", "dt", "frames", "data_seed", "dim", "field",
)  # fmt: skip
"""The card entries that determine the bytes of a dataset (besides the scale's run count)."""


def scale_value(card, key: str, scale: str):
    """A per-scale card entry (``particles``, ``box``) at ``scale``."""
    from bench.errors import unknown

    values = card[key]
    if scale not in values:
        raise unknown(f"scale of task.{key}", scale, list(values))
    return values[scale]


def particle_types(n_particles: int, n_types: int) -> np.ndarray:
    """(N,) the type of each particle: contiguous blocks of N / K (the reference's order)."""
    return np.repeat(np.arange(n_types), n_particles // n_types).astype(np.int64)


def type_parameters(card) -> np.ndarray:
    """(K, 4) the parameters (p0, p1, p2, p3) of each type: the card's ``type_params``, or, where it is null,
    1 + U[0, 1) each (the reference's many-type systems), drawn from ``[data_seed, 100]``."""
    K = int(card.n_types)
    if card.type_params is not None:
        return np.asarray(card.type_params, dtype=np.float64).reshape(K, 4)
    return 1.0 + np.random.default_rng([int(card.data_seed), 100]).uniform(0.0, 1.0, size=(K, 4))


def particle_parameters(card, scale: str) -> tuple[np.ndarray, np.ndarray]:
    """``types`` (N,) and ``params`` (N, 4) of the scale's particles: their type's parameters, plus
    N(0, param_jitter²) per particle and parameter (continuous heterogeneity), drawn from ``[data_seed, 101]``."""
    N, K = int(scale_value(card, "particles", scale)), int(card.n_types)
    types = particle_types(N, K)
    params = type_parameters(card)[types]
    jitter = float(card.param_jitter)
    if jitter > 0:
        params = params + np.random.default_rng([int(card.data_seed), 101]).normal(0.0, jitter, size=params.shape)
    return types, params


def hidden_field(card, scale: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The card's hidden field at ``scale`` (None without one): node positions (M, 2) from ``[data_seed, 200]``
    and values (1 or T, M) from ``[data_seed, 201]`` (``bench.tasks.heterogeneous.fields``)."""
    from bench.tasks.heterogeneous.fields import field_nodes, fourier_field

    spec = card.get("field")
    if spec is None:
        return None
    box, seed = float(scale_value(card, "box", scale)), int(card.data_seed)
    nodes = field_nodes(box, int(scale_value(spec, "grid", scale)), float(spec.jitter), [seed, 200])
    values = fourier_field(nodes, box, int(card.frames), str(spec.kind), [seed, 201],
                           min_wavelength=float(spec.min_wavelength), value_max=float(spec.value_max),
                           drift=float(spec.drift), deform=float(spec.deform))  # fmt: skip
    return nodes, values


def generate(card, scale: str, progress: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays ``{split}/{field}`` of one dataset, and its generation facts.

    Per split (one run each, ``[data_seed, k]`` for its initial positions): ``position`` (T, N, 2) float32 in
    [0, box); ``velocity`` (T, N, 2) float32, ẋ at each frame (the target); ``type`` (N,) int8 and ``params``
    (N, 4) float64, the same in every split (the truth the evaluator compares learned functions with).
    The velocity scale (the training run's velocity std) is kept in the manifest. With a hidden field
    (``task.field``), also ``field_position`` (M, 2) float64 and ``field_value`` (1 or T, M) float32, the same in
    every split: the nodes' values are the truth the evaluator scores a learned field against, never an input.
    """
    from tqdm.auto import tqdm

    from bench.tasks.heterogeneous.systems import simulate

    types, params = particle_parameters(card, scale)
    box, frames = float(scale_value(card, "box", scale)), int(card.frames)
    field = hidden_field(card, scale)
    extra = {} if field is None else {"field_nodes": field[0], "field_values": field[1],
                                      "field_radius": float(card.field.radius)}  # fmt: skip
    arrays: dict[str, np.ndarray] = {}
    with tqdm(total=len(SPLITS) * frames, desc=f"{card.name} {scale}: simulating", disable=not progress,
              unit="frame", mininterval=0.5) as bar:  # fmt: skip
        for k, split in enumerate(SPLITS):
            run = simulate(params, box, float(card.radius), float(card.sigma), float(card.dt), frames,
                           [int(card.data_seed), k], progress=lambda t: bar.update(), **extra)  # fmt: skip
            arrays[f"{split}/position"] = run["position"].astype(np.float32)
            arrays[f"{split}/velocity"] = run["velocity"].astype(np.float32)
            arrays[f"{split}/type"] = types.astype(np.int8)
            arrays[f"{split}/params"] = params
            if field is not None:
                arrays[f"{split}/field_position"] = field[0]
                arrays[f"{split}/field_value"] = field[1].astype(np.float32)
    info = {
        "particles": int(len(types)),
        "box": box,
        "frames": frames,
        "runs": {split: 1 for split in SPLITS},
        "velocity_std": float(arrays["train/velocity"].astype(np.float64).std()),
        "type_params": type_parameters(card).tolist(),
    }
    if field is not None:
        grid = int(scale_value(card.field, "grid", scale))
        info["field"] = {"kind": str(card.field.kind), "nodes": int(field[0].shape[0]), "grid": grid,
                         "radius": float(card.field.radius)}  # fmt: skip
    return arrays, info
