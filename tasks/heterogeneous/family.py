"""Family H, heterogeneous particles, as a plug-in (``bench.family.Family``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.family import Family

INTERACTION_POINTS = 1000
"""Distances r in [0, R] on which every particle's interaction function is scored (as the reference)."""


def r_grid(card) -> np.ndarray:
    """The ``INTERACTION_POINTS`` distances of the interaction-function metrics: linspace(0, R)."""
    return np.linspace(0.0, float(card.radius), INTERACTION_POINTS)


def horizons(card, data) -> list[int]:
    """The rollout steps scored: ``task.horizons`` within the run."""
    frames = int(data.runs["test"]["position"].shape[0])
    return [int(k) for k in card.horizons if int(k) < frames]


def rollout(model, data, backend, device, steps: list[int], progress: bool = True) -> np.ndarray:
    """The model's rollout of the test run from its frame 0: ``x ← wrap(x + Δt ẋ)`` with the radius graph rebuilt
    every step; the positions (H, N, 2) at ``steps``."""
    import torch
    from tqdm.auto import tqdm

    x = data.runs["test"]["position"][0].double()
    keep, last = [], max(steps) if steps else 0
    model.eval()
    with torch.no_grad():
        for t in tqdm(range(1, last + 1), desc="rollout", leave=False, mininterval=0.5, disable=not progress):
            batch = backend.bind(data.frame_batch(x[None].float(), torch.tensor([t - 1])).to(device))
            v = model(batch)
            v = v if isinstance(v, torch.Tensor) else v["velocity"]
            if not bool(torch.isfinite(v).all()):  # a diverged model: the steps left are scored as inf
                keep += [np.full((data.n_particles, 2), np.nan)] * sum(1 for k in steps if k >= t)
                break
            x = data.displacement.wrap(x + data.dt * v.double().cpu())
            if t in steps:
                keep.append(x.numpy().copy())
    return np.stack(keep) if keep else np.zeros((0, data.n_particles, 2))


def field_prediction(model, data, device, every: int = 1) -> np.ndarray:
    """A model's hidden field (``hidden_field``) at the field's nodes: (1, M) at time 0 on a static field, (T, M)
    at every frame's time on a dynamic one (the truth's rows; every ``every``-th of them)."""
    import torch

    frames = data.field_value.shape[0]
    nodes = data.field_position.to(device)
    rows = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for t in range(0, frames, every):
            time = torch.full((nodes.shape[0],), t * data.dt, dtype=nodes.dtype, device=device)
            rows.append(model.hidden_field(nodes, time).double().reshape(-1).cpu().numpy())
    model.train(was_training)
    return np.stack(rows)


def field_monitor(model, data, device, every: int = 25) -> dict[str, float]:
    """The learned field's ``field_r2`` (after the best affine fit) against the truth; on a dynamic field on every
    ``every``-th frame (a few ms per frame), with its ``field_pearson_r``."""
    from bench.tasks.heterogeneous.field_metrics import pearson_r, r2_affine

    learned = field_prediction(model, data, device, every)
    true = data.field_value[:: every if data.field_value.shape[0] > 1 else 1]
    if not np.isfinite(learned).all():
        return {"field_r2": float("nan")}
    out = {"field_r2": float(r2_affine(learned, true))}
    if true.shape[0] > 1:
        pearson = pearson_r(learned, true)
        out["field_pearson_r"] = pearson if np.isfinite(pearson) else 0.0  # a constant field: no correlation
    return out


class HeterogeneousFamily(Family):
    """Allier et al. 2024: particles of hidden types; recover the types and their interaction functions."""

    name = "heterogeneous"
    description = "heterogeneous particles (Allier et al.): recover hidden types and each type's interaction"
    conf_dir = Path(__file__).resolve().parent / "conf"
    manifests_dir = Path(__file__).resolve().parent.parent / "manifests"  # tasks/manifests, shared by all families

    optional_data_keys = ("field",)  # only the field tasks have one

    @property
    def data_keys(self) -> tuple[str, ...]:  # type: ignore[override]
        from bench.tasks.heterogeneous.generate import DATA_KEYS

        return DATA_KEYS

    def check_card(self, card: Any) -> None:
        from bench.config import SEED_LIMIT, check_range, out_of_range
        from bench.tasks.heterogeneous.generate import SYSTEMS

        if str(card.system) not in SYSTEMS:
            raise out_of_range("task.system", card.system, ", ".join(SYSTEMS))
        if int(card.dim) != 2:
            raise BenchError(f"task.dim={card.dim} is not supported by the heterogeneous simulator; valid: 2")
        check_range("task.n_types", card.n_types, integer=True, minimum=1)
        K = int(card.n_types)
        if card.type_params is not None:
            params = np.asarray(card.type_params, dtype=object)
            if params.shape != (K, 4):
                raise BenchError(f"task.type_params has shape {params.shape}; valid: {K} rows (task.n_types) of 4 "
                                 "numbers (p0, p1, p2, p3), or null for 1 + U[0, 1) each")  # fmt: skip
            bad = [v for v in params.reshape(-1) if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0)]
            if bad:
                raise BenchError(f"task.type_params holds {bad[0]!r}; valid: finite numbers > 0")
        check_range("task.param_jitter", card.param_jitter, minimum=0)
        check_range("task.radius", card.radius, above=0)
        check_range("task.sigma", card.sigma, above=0)
        check_range("task.dt", card.dt, above=0)
        check_range("task.velocity_unit", card.velocity_unit, above=0)
        check_range("task.frames", card.frames, integer=True, minimum=2)
        check_range("task.eval_every", card.eval_every, integer=True, minimum=1)
        check_range("task.data_seed", card.data_seed, integer=True, minimum=0, below=SEED_LIMIT)
        for scale, count in card.simulations.items():
            if int(count) != 3:
                raise BenchError(f"task.simulations.{scale}={count}; valid: 3 (one run each for train, val, test)")
        for scale in card.simulations:
            for key in ("particles", "box"):
                if scale not in card[key]:
                    raise BenchError(f"task.{key} has no value for the scale '{scale}'; valid scales: "
                                     f"{', '.join(card.simulations)}")  # fmt: skip
            n = card.particles[scale]
            check_range(f"task.particles.{scale}", n, integer=True, minimum=2 * K)
            if int(n) % K:
                raise BenchError(f"task.particles.{scale}={n} is not a multiple of task.n_types={K} (equal blocks "
                                 "of each type)")  # fmt: skip
            L = card.box[scale]
            once = "more than twice task.radius: a pair must meet through one periodic image only"
            check_range(f"task.box.{scale}", L, above=2 * float(card.radius), note=once)
        if card.get("field") is not None:
            self._check_field(card)
        for k in card.horizons:
            check_range("task.horizons", k, integer=True, minimum=1, below=int(card.frames),
                        note=f"a rollout step within the run of task.frames={card.frames}")  # fmt: skip

    def _check_field(self, card: Any) -> None:
        from bench.config import check_range, out_of_range
        from bench.tasks.heterogeneous.fields import KINDS

        field = card.field
        if str(field.kind) not in KINDS:
            raise out_of_range("task.field.kind", field.kind, ", ".join(KINDS))
        for scale in card.simulations:
            if scale not in field.grid:
                raise BenchError(f"task.field.grid has no value for the scale '{scale}'; valid scales: "
                                 f"{', '.join(card.simulations)}")  # fmt: skip
            check_range(f"task.field.grid.{scale}", field.grid[scale], integer=True, minimum=2)
        check_range("task.field.jitter", field.jitter, minimum=0)
        check_range("task.field.radius", field.radius, above=0, below=float(min(card.box.values())) / 2)
        check_range("task.field.min_wavelength", field.min_wavelength, above=0,
                    below=float(min(card.box.values())) + 1e-12)  # fmt: skip
        check_range("task.field.value_max", field.value_max, above=0)
        check_range("task.field.drift", field.drift, minimum=0)
        check_range("task.field.deform", field.deform, minimum=0)

    def generate(self, card, scale, progress=True):
        from bench.tasks.heterogeneous.generate import generate

        return generate(card, scale, progress=progress)

    def describe_generation(self, info: dict[str, Any]) -> str:
        field = info.get("field")
        hidden = f", a hidden {field['kind']} field on {field['nodes']} nodes" if field else ""
        return (f"3 runs (train, val, test) of {info['frames']} frames, {info['particles']} particles in a periodic "
                f"box of side {info['box']:.4g}{hidden}, velocity std {info['velocity_std']:.4g}")  # fmt: skip

    def load(self, dataset, card):
        from bench.tasks.heterogeneous.loader import HeterogeneousData

        return HeterogeneousData(dataset, card)

    def task_spec(self, card, scale=None):
        from bench.tasks.heterogeneous.loader import task_spec

        return task_spec(card, scale)

    def with_oracle(self, data, truths):
        """Batches that carry the true types (``batch.node_label``) for a model declaring
        ``oracle = ("types",)`` (``oracle-gnn``: the ceiling)."""
        if data is None:  # prepare's early check: offered
            return None
        return data.with_oracle(truths)

    def batch_size(self, card) -> int:
        return 8  # frames per batch, as the reference

    def eval_batch_size(self, card) -> int:
        return 4

    def objective(self, card: Any, loss: str):
        """``mse`` or ``l1`` of the velocity in units of ``task.velocity_unit`` (1e-3 box lengths per unit time,
        about the data's velocity std: losses of order one, whatever a model's own scaling)."""
        from bench.errors import unknown
        from bench.train import LOSSES

        if loss not in LOSSES:
            raise unknown("loss", loss, LOSSES)
        fn, unit = LOSSES[loss], float(card.velocity_unit)
        return lambda outputs, targets: fn(outputs["velocity"].float() / unit, targets["velocity"] / unit)

    def evaluator(self, card):
        from bench.tasks.heterogeneous.evaluator import Evaluator

        return Evaluator(card)

    def check_run(self, cfg: Any, model_cls) -> None:
        if "interaction" not in model_cls.capabilities():
            raise BenchError(
                f"model '{cfg.model.name}' cannot run heterogeneous task '{cfg.task.name}': it lacks the capability "
                "'interaction' (each particle's learned pair function, which the type and function metrics score; "
                "see bench.tasks.heterogeneous)"
            )

    def monitor(self, model, data, backend, device, cfg) -> dict[str, float]:
        """After each epoch: the interaction-function RMSE (on 100 distances) and, for a model with node
        embeddings, the type accuracy of clustering them (matched one-to-one; no UMAP: a few ms)."""
        from bench.tasks.heterogeneous.evaluator import interaction_rmse, minmax, type_scores
        from bench.tasks.heterogeneous.systems import psi

        r = np.linspace(0.0, float(cfg.task.radius), 100)
        profiles, embeddings = self._profiles(model, data, backend, device, r)
        out = {"interaction_rmse": float(interaction_rmse(profiles, psi(r, data.params, float(cfg.task.sigma))).mean())}
        if embeddings is not None:
            scores = type_scores(minmax(embeddings), data.types.numpy(), int(cfg.task.n_types))
            out["embedding_accuracy_matched"] = float(scores["accuracy_matched"])
        if data.field_value is not None and "hidden_field" in type(model).capabilities():
            out |= field_monitor(model, data, device)
        return out

    def _profiles(self, model, data, backend, device, r: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Every particle's learned ψ on ``r`` (N, R), and its embedding (N, k) if the model has them."""
        import torch

        batch, _ = data.batch("test", torch.arange(1))  # one frame: each particle once, in identity order
        batch = backend.bind(batch.to(device))
        was_training = model.training
        model.eval()
        with torch.no_grad():
            grid = torch.as_tensor(r, dtype=batch.position.dtype, device=device)
            profiles = model.interaction(grid, batch).double().cpu().numpy()
            embeddings = None
            if "node_embeddings" in type(model).capabilities():
                embeddings = model.node_embeddings(batch).double().cpu().numpy()
        model.train(was_training)
        return profiles, embeddings

    def collect(self, model, data, backend, device, cfg) -> dict[str, np.ndarray]:
        """``interaction_pred`` (N, 1000): each particle's learned ψ on ``r_grid``; ``embedding_pred`` (N, k) for a
        model with node embeddings; ``velocity_pred`` (S, N, 2) on the test run's scored frames;
        ``position_pred`` (H, N, 2): the rollout from the test run's frame 0 at the steps ``task.horizons``."""
        from bench.train import predict

        profiles, embeddings = self._profiles(model, data, backend, device, r_grid(cfg.task))
        out = {"interaction_pred": profiles.astype(np.float32)}
        if embeddings is not None:
            out["embedding_pred"] = embeddings.astype(np.float32)
        velocity = predict(model, data, "test", backend, device, self.eval_batch_size(cfg.task))["velocity"]
        out["velocity_pred"] = velocity.numpy().astype(np.float32)
        out["position_pred"] = rollout(
            model, data, backend, device, horizons(cfg.task, data), bool(cfg.progress)
        ).astype(np.float32)
        if data.field_position is not None and "hidden_field" in type(model).capabilities():
            out["field_pred"] = field_prediction(model, data, device).astype(np.float32)
        return out

    def truth(self, card, data, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        from bench.tasks.heterogeneous.systems import psi

        steps = horizons(card, data)
        return {
            "interaction_true": psi(r_grid(card), data.params, float(card.sigma)),
            "types_true": data.types.numpy(),
            "velocity_true": data.targets("test")["velocity"],
            "position_true": data.runs["test"]["position"][steps].numpy().astype(np.float64),
            "rollout_steps": np.asarray(steps, dtype=np.int64),
            "box": np.asarray(data.box, dtype=np.float64),
            "velocity_scale": np.asarray(data.velocity_std(), dtype=np.float64),
        } | ({} if data.field_value is None else {"field_true": data.field_value})

    def analyse(self, model, data, backend, device, cfg, directory):
        """An oracle model's record says which truths it was given (it is a ceiling, not a rival)."""
        from bench.family import Analysis

        oracle = list(getattr(model, "oracle", ()))
        return Analysis(analyses={"oracle_inputs": oracle} if oracle else {})

    def app_panels(self, rows, read_record) -> None:
        """The task page's panel: learned interaction functions against the true ones, embeddings by type."""
        from bench.tasks.heterogeneous.app import interaction_panel

        interaction_panel(rows, read_record)

    def report(self, argv: list[str]) -> int:
        from bench.tasks.heterogeneous.report import main

        return main(argv)
