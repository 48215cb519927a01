"""Family N, n-body rollout, as a plug-in (``bench.family.Family``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.family import Analysis, Family


class NBodyFamily(Family):
    """Satorras et al. 2021, Cen et al. 2024: charged bodies in 3-D, predict positions 1000 steps ahead."""

    name = "nbody"
    description = "n-body rollout (EGNN and HEGNN protocols): positions of charged bodies 1000 steps ahead"
    conf_dir = Path(__file__).resolve().parent / "conf"
    manifests_dir = Path(__file__).resolve().parent.parent / "manifests"  # tasks/manifests, shared by both

    @property
    def data_keys(self) -> tuple[str, ...]:  # type: ignore[override]
        from bench.tasks.nbody.generate import DATA_KEYS

        return DATA_KEYS

    optional_data_keys = ("position_std_offset",)  # HEGNN's +0.1 on σ; null on the EGNN card keeps its bytes

    def check_card(self, card: Any) -> None:
        from bench.config import SEED_LIMIT, check_range, check_split, out_of_range

        if card.dim != 3:
            raise BenchError(f"task.dim={card.dim} is not supported by the n-body simulator; valid: 3")
        if card.n_particles < 2:
            raise BenchError(f"task.n_particles={card.n_particles}: an n-body system needs at least 2 particles")
        for scale, count in card.simulations.items():
            check_range(f"task.simulations.{scale}", count, integer=True, minimum=1)
        check_range("task.data_seed", card.data_seed, integer=True, minimum=0, below=SEED_LIMIT)
        check_range("task.dt", card.dt, above=0)
        check_range("task.record_every", card.record_every, integer=True, minimum=1)
        check_range("task.input_frame", card.input_frame, integer=True, minimum=0)
        check_range("task.target_frame", card.target_frame, integer=True, minimum=card.input_frame + 1,
                    note=f"after task.input_frame={card.input_frame}")  # fmt: skip
        check_range("task.rollout_frames", card.rollout_frames, integer=True, minimum=0)
        check_range("task.velocity_norm", card.velocity_norm, minimum=0)
        check_range("task.position_std_offset", card.get("position_std_offset"), minimum=0,
                    null="σ = (n/5)^(1/3) alone (EGNN)")  # fmt: skip
        check_range("task.max_force", card.max_force, above=0, null="no clipping")
        charges = list(card.charges)
        if not charges or any(isinstance(c, bool) or not isinstance(c, (int, float)) for c in charges):
            raise out_of_range("task.charges", charges, "a non-empty list of numbers")
        check_split("task.split", card.split)

    def generate(self, card, scale, progress=True):
        from bench.tasks.nbody.generate import generate

        return generate(card, scale, progress=progress)

    def describe_generation(self, info: dict[str, Any]) -> str:
        return f"{info['simulations']} trajectories"

    def load(self, dataset, card):
        from bench.tasks.nbody.loader import NBodyData

        return NBodyData(dataset, card)

    def task_spec(self, card, scale=None):
        from bench.tasks.nbody.loader import task_spec

        return task_spec(card)

    def batch_size(self, card) -> int:
        from bench.tasks.nbody.loader import reference_batch_size

        return reference_batch_size(card)

    def eval_batch_size(self, card) -> int:
        return 2048

    def evaluator(self, card):
        from bench.tasks.nbody.evaluator import Evaluator

        return Evaluator(card)

    def collect(self, model, data, backend, device, cfg) -> dict[str, np.ndarray]:
        """``position_pred`` (S, n, 3) at the target frame, and ``rollout_pred`` (S, K, n, 3): the model's
        jumps chained over the test trajectories' later frames."""
        from bench.tasks.nbody.analysis import rollout

        arrays = super().collect(model, data, backend, device, cfg)
        arrays["position_pred"] = arrays["position_pred"].reshape(data.targets("test")["position"].shape)
        arrays["rollout_pred"] = rollout(model, data, backend, device).astype(np.float32)
        return arrays

    def truth(self, card, data, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        out = {"position_true": data.targets("test")["position"]}
        if "rollout_pred" in names:
            s = data.splits["test"]
            out.update(trajectory_true=s["position"].numpy(), velocity_true=s["velocity"][:, 0].numpy(),
                       charge_true=s["charge"].numpy())  # fmt: skip
        return out

    def analyse(self, model, data, backend, device, cfg, directory: Path) -> Analysis:
        from bench.tasks.nbody.analysis import analyse

        return analyse(model, data, backend, device, cfg, directory)

    def report(self, argv: list[str]) -> int:
        from bench.tasks.nbody.report import main

        return main(argv)

    def app_panels(self, rows, read_record) -> None:
        """The task page's panel: a run's rollout against the true test trajectory."""
        from bench.tasks.nbody.app import rollout_panel

        rollout_panel(rows, read_record)
