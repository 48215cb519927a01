"""Family F, force-law recovery, as a plug-in (``bench.family.Family``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.family import Analysis, Family


class ForcesFamily(Family):
    """Cranmer et al. 2020: predict accelerations of 4 or 8 particles; recover the pair force law."""

    name = "forces"
    description = "force-law recovery (Cranmer et al. 2020): accelerations of interacting particles"
    conf_dir = Path(__file__).resolve().parent / "conf"
    manifests_dir = Path(__file__).resolve().parent.parent / "manifests"  # tasks/manifests, shared by both
    option_groups = {"sr": "operon"}  # symbolic regression of the messages: operon | pysr | none

    @property
    def data_keys(self) -> tuple[str, ...]:  # type: ignore[override]
        from bench.tasks.forces.generate import DATA_KEYS

        return DATA_KEYS

    def check_card(self, card: Any) -> None:
        if card.n_particles not in (4, 8):
            raise BenchError(f"task.n_particles={card.n_particles} is not a published variant; valid: 4, 8")
        if card.dim not in (2, 3):
            raise BenchError(f"task.dim={card.dim} is not supported; valid: 2, 3")

    def generate(self, card, scale, progress=True):
        from bench.tasks.forces.generate import generate

        return generate(card, scale, progress=progress)

    def describe_generation(self, info: dict[str, Any]) -> str:
        return (f"{info['simulations']} simulations; {info['reintegrated']} re-integrated with finer substeps, "
                f"{info['dropped']} dropped over the energy tolerance")  # fmt: skip

    def load(self, dataset, card):
        from bench.tasks.forces.loader import ForcesData

        return ForcesData(dataset, card)

    def task_spec(self, card):
        from bench.tasks.forces.loader import task_spec

        return task_spec(card)

    def batch_size(self, card) -> int:
        from bench.tasks.forces.loader import reference_batch_size

        return reference_batch_size(card)

    def evaluator(self, card):
        from bench.tasks.forces.evaluator import Evaluator

        return Evaluator(card)

    def collect(self, model, data, backend, device, cfg) -> dict[str, np.ndarray]:
        """``acceleration_pred`` (S, T, n, d) and, for a model with messages, the probe's chosen messages."""
        from bench.tasks.forces.analysis import probe_predictions

        arrays = super().collect(model, data, backend, device, cfg)
        true = data.targets("test")["acceleration"]
        arrays["acceleration_pred"] = arrays["acceleration_pred"].reshape(true.shape)
        return {**arrays, **probe_predictions(model, data, backend, device, cfg)}

    def truth(self, card, data, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        import torch

        from bench.tasks.forces.probe import probe_index

        out = {"acceleration_true": data.targets("test")["acceleration"]}
        if "edge_messages_pred" in names:
            index = probe_index(data.num_samples("test"), int(card.data_seed))
            out["pair_force_true"] = data.pair_forces("test", torch.from_numpy(index))
        return out

    def check_run(self, cfg, model_cls) -> None:
        from bench.tasks.forces.analysis import check

        check(cfg, model_cls)

    def analyse(self, model, data, backend, device, cfg, directory: Path) -> Analysis:
        from bench.tasks.forces.analysis import analyse

        return analyse(model, data, backend, device, cfg, directory)

    def report(self, argv: list[str]) -> int:
        from bench.tasks.forces.report import main

        return main(argv)

    def app_panels(self, rows, read_record) -> None:
        from bench.tasks.forces.app import force_law_panel

        force_law_panel(rows, read_record)
