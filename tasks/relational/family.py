"""Family R, relational inference, as a plug-in (``bench.family.Family``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.family import Family


class RelationalFamily(Family):
    """Kipf et al. 2018 (NRI): infer the interaction graph of springs, charged particles and Kuramoto
    oscillators from their trajectories, then predict the future."""

    name = "relational"
    description = "relational inference (NRI protocol): infer who interacts with whom from trajectories, then predict"
    conf_dir = Path(__file__).resolve().parent / "conf"
    manifests_dir = Path(__file__).resolve().parent.parent / "manifests"  # tasks/manifests, shared by all families

    @property
    def data_keys(self) -> tuple[str, ...]:  # type: ignore[override]
        from bench.tasks.relational.generate import DATA_KEYS

        return DATA_KEYS

    def check_card(self, card: Any) -> None:
        from bench.config import SEED_LIMIT, check_range, check_split, out_of_range
        from bench.tasks.relational.generate import SYSTEMS

        system = str(card.system)
        if system not in SYSTEMS:
            raise out_of_range("task.system", system, ", ".join(SYSTEMS))
        want_dim = 1 if system == "kuramoto" else 2
        if card.dim != want_dim:
            raise BenchError(f"task.dim={card.dim} is not supported by the {system} simulator; valid: {want_dim}")
        check_range("task.n_particles", card.n_particles, integer=True, minimum=2)
        for scale, count in card.simulations.items():
            check_range(f"task.simulations.{scale}", count, integer=True, minimum=3)
        check_range("task.data_seed", card.data_seed, integer=True, minimum=0, below=SEED_LIMIT)
        check_range("task.window", card.window, integer=True, minimum=2)
        check_range("task.horizon", card.horizon, integer=True, minimum=1)
        check_range("task.frames.train", card.frames.train, integer=True, minimum=int(card.window),
                    note=f"at least task.window={card.window}")  # fmt: skip
        need = int(card.window) + 1 + int(card.horizon)
        check_range("task.frames.test", card.frames.test, integer=True, minimum=need,
                    note=f"at least window + 1 + horizon = {need}")  # fmt: skip
        check_range("task.dt", card.dt, above=0)
        check_range("task.sample_every", card.sample_every, integer=True, minimum=1)
        check_range("task.box", card.box, above=0)
        check_range("task.max_force", card.max_force, above=0, null="no clipping")
        check_range("task.velocity_norm", card.velocity_norm, minimum=0)
        check_range("task.position_std", card.position_std, above=0)
        check_range("task.edge_prob", card.edge_prob, above=0, below=1)
        if int(card.edge_types) != 2:
            raise BenchError(f"task.edge_types={card.edge_types}: the systems have 2 edge types; valid: 2")
        check_split("task.split", card.split)

    def generate(self, card, scale, progress=True):
        from bench.tasks.relational.generate import generate

        return generate(card, scale, progress=progress)

    def describe_generation(self, info: dict[str, Any]) -> str:
        sizes = info["split_sizes"]
        return f"{info['simulations']} trajectories ({sizes['train']} / {sizes['val']} / {sizes['test']})"

    def load(self, dataset, card):
        from bench.tasks.relational.loader import RelationalData

        return RelationalData(dataset, card)

    def task_spec(self, card, scale=None):
        from bench.tasks.relational.loader import task_spec

        return task_spec(card)

    def with_oracle(self, data, truths):
        """Batches that carry the true edge types (``batch.edge_label``) for a model declaring
        ``oracle = ("edges",)`` (``nri-true-graph``: the decoder on the true graph, an upper bound)."""
        if data is None:  # prepare's early check: offered
            return None
        return data.with_oracle(truths)

    def analyse(self, model, data, backend, device, cfg, directory):
        """An oracle model's record says which truths it was given (it is an upper bound, not a rival)."""
        from bench.family import Analysis

        oracle = list(getattr(model, "oracle", ()))
        return Analysis(analyses={"oracle_inputs": oracle} if oracle else {})

    def batch_size(self, card) -> int:
        return 128  # NRI's batch

    def eval_batch_size(self, card) -> int:
        return 512

    def objective(self, card: Any, loss: str):
        """The default objective of a model without its own ``loss``: ``mse`` or ``l1`` of the predicted
        frames 1..T−1 (NRI's models define their own: the ELBO)."""
        from bench.errors import unknown
        from bench.train import LOSSES

        if loss not in LOSSES:
            raise unknown("loss", loss, LOSSES)
        fn = LOSSES[loss]
        return lambda outputs, targets: fn(outputs["state"].float(), targets["state"])

    def evaluator(self, card):
        from bench.tasks.relational.evaluator import Evaluator

        return Evaluator(card)

    def check_run(self, cfg: Any, model_cls) -> None:
        missing = [m for m in ("edge_types", "rollout") if not callable(getattr(model_cls, m, None))
                   or (m == "edge_types" and "edge_types" not in model_cls.capabilities())]  # fmt: skip
        if missing:
            raise BenchError(
                f"model '{cfg.model.name}' cannot run relational task '{cfg.task.name}': it lacks "
                f"{', '.join(missing)} (a relational model infers edge types and rolls out the future; see "
                "bench.tasks.relational)"
            )

    def monitor(self, model, data, backend, device, cfg) -> dict[str, float]:
        """The validation split's edge accuracy (relabelled and raw) after each epoch: the learning curve of
        the ranked metric (the encoder alone: a few seconds)."""
        import torch

        from bench.tasks.relational.evaluator import Evaluator

        S, n = data.num_samples("val"), int(cfg.task.n_particles)
        size = self.eval_batch_size(cfg.task)
        was_training = model.training
        model.eval()
        probs = []
        with torch.no_grad():
            for start in range(0, S, size):
                index = torch.arange(start, min(start + size, S))
                batch, _ = data.batch("val", index)
                prob = model.edge_types(backend.bind(batch.to(device))).float().cpu()
                probs.append(prob.reshape(len(index), n * (n - 1), -1))
        model.train(was_training)
        prob = torch.cat(probs).numpy().astype(np.float64)
        metrics = Evaluator(cfg.task).edge_metrics(prob.reshape(-1, prob.shape[-1]),
                                                   data.edge_truth("val").reshape(-1).astype(np.int64))  # fmt: skip
        return {k: v for k, v in metrics.items() if k in ("edge_accuracy", "edge_accuracy_raw")}

    def collect(self, model, data, backend, device, cfg) -> dict[str, np.ndarray]:
        """``edge_prob_pred`` (S, n(n−1), K): the posterior of every test edge; ``state_pred`` (S, H, n, F): the
        model's rollout from frame 49 at the evaluator's scored steps (1, 10, 20: frames 50, 59, 69),
        normalised; the frames in between are not saved (they are not scored)."""
        import torch

        from bench.tasks.relational.evaluator import Evaluator

        S, n = data.num_samples("test"), int(cfg.task.n_particles)
        size = self.eval_batch_size(cfg.task)
        scored = [k - 1 for k in Evaluator(cfg.task).steps]  # step k: index k − 1 of the rollout
        probs, states = [], []
        model.eval()
        with torch.no_grad():
            for start in range(0, S, size):
                index = torch.arange(start, min(start + size, S))
                batch, _ = data.batch("test", index)
                batch = backend.bind(batch.to(device))
                B = len(index)
                probs.append(model.edge_types(batch).float().cpu().reshape(B, n * (n - 1), -1))
                roll = model.rollout(batch, data.horizon).float().cpu()[:, scored]  # (B·n, steps, F)
                states.append(roll.reshape(B, n, len(scored), -1).permute(0, 2, 1, 3))
        return {
            "edge_prob_pred": torch.cat(probs).numpy().astype(np.float32),
            "state_pred": torch.cat(states).numpy().astype(np.float32),
        }

    def truth(self, card, data, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        from bench.tasks.relational.evaluator import Evaluator
        from bench.tasks.relational.loader import feature_scale

        scored = [k - 1 for k in Evaluator(card).steps]
        return {
            "edges_true": data.edge_truth("test"),
            "state_true": data.future("test")[:, scored],
            "feature_scale": feature_scale(data.norm),
        }

    def report(self, argv: list[str]) -> int:
        from bench.tasks.relational.report import main

        return main(argv)
