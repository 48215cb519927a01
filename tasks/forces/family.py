"""Family F, force-law recovery, as a plug-in (``bench.family.Family``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.family import Analysis, Family

_SAID = {"recovered": ("recovered", "not recovered"),
         "recovered_mass_factor": ("recovered up to a mass factor", "not recovered up to a mass factor"),
         "recovered_up_to_mass": ("recovered, exactly or up to a mass factor",
                                  "not recovered, exactly or up to a mass factor")}  # fmt: skip


def _verdicts_differ(where: str, claimed: dict, fresh: dict, keys=("recovered", "recovered_mass_factor")) -> list[str]:
    """One reason per verdict of ``keys`` that ``claimed`` carries and the fresh score contradicts (and, for a
    verdict up to a mass factor, a different factor)."""
    reasons = []
    for key in keys:
        if key in claimed and bool(claimed[key]) != bool(fresh[key]):
            reasons.append(f"{where} is marked {_SAID[key][not claimed[key]]}, but the recovery score says "
                           f"{_SAID[key][not fresh[key]]}")  # fmt: skip
    if (
        claimed.get("recovered_mass_factor")
        and fresh.get("recovered_mass_factor")
        and (claimed.get("mass_factor") != fresh.get("mass_factor"))
    ):
        reasons.append(f"{where} is marked recovered up to the mass factor {claimed.get('mass_factor')}, but the "
                       f"recovery score finds {fresh.get('mass_factor')}")  # fmt: skip
    return reasons


class ForcesFamily(Family):
    """Cranmer et al. 2020: predict accelerations of 4 or 8 particles; recover the pair force law."""

    name = "forces"
    description = "force-law recovery (Cranmer et al. 2020): accelerations of interacting particles"
    conf_dir = Path(__file__).resolve().parent / "conf"
    manifests_dir = Path(__file__).resolve().parent.parent / "manifests"  # tasks/manifests, shared by both
    option_groups = {"sr": "operon"}  # symbolic regression of the messages: operon | pysr | none
    per_scale_data_keys = ("test_simulations",)  # the fixed test split: null at tiny, 10,000 at quick and paper

    @property
    def data_keys(self) -> tuple[str, ...]:  # type: ignore[override]
        from bench.tasks.forces.generate import DATA_KEYS

        return DATA_KEYS

    def check_card(self, card: Any) -> None:
        from bench.config import SEED_LIMIT, check_range, out_of_range

        if card.n_particles not in (4, 8):
            raise BenchError(f"task.n_particles={card.n_particles} is not a published variant; valid: 4, 8")
        if card.dim not in (2, 3):
            raise BenchError(f"task.dim={card.dim} is not supported; valid: 2, 3")
        for scale, count in card.simulations.items():
            check_range(f"task.simulations.{scale}", count, integer=True, minimum=1)
        check_range("task.data_seed", card.data_seed, integer=True, minimum=0, below=SEED_LIMIT)
        for key in ("n_steps", "record_every", "substeps"):
            check_range(f"task.{key}", card[key], integer=True, minimum=1)
        if card.record_every > card.n_steps:
            raise out_of_range(
                "task.record_every", card.record_every, f"an integer >= 1 and <= task.n_steps ({card.n_steps})"
            )
        check_range("task.energy_tolerance", card.energy_tolerance, above=0)
        check_range("task.augment_translation_std", card.augment_translation_std, minimum=0)
        split = list(card.split)
        if (
            len(split) != 3
            or any(isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 <= f <= 1 for f in split)
            or abs(sum(split) - 1) > 1e-6
        ):
            raise out_of_range("task.split", split, "three fractions (train, val, test) in [0, 1] summing to 1")
        if card.get("test_simulations") is not None:
            if not isinstance(card.test_simulations, Mapping):
                raise out_of_range("task.test_simulations", card.test_simulations,
                                   "a mapping of scale to a simulation count or null, e.g. {quick: 10000}")  # fmt: skip
            for scale, count in card.test_simulations.items():
                if count is not None:
                    check_range(f"task.test_simulations.{scale}", count, integer=True, minimum=1)
            check_range("task.test_every", card.test_every, integer=True, minimum=1)

    def generate(self, card, scale, progress=True):
        from bench.tasks.forces.generate import generate

        return generate(card, scale, progress=progress)

    def describe_generation(self, info: dict[str, Any]) -> str:
        test = (f"; test split: {info['test_simulations']} other simulations, {info['test_snapshots_per_simulation']} "
                f"snapshots each" if "test_simulations" in info else "")  # fmt: skip
        return (f"{info['simulations']} simulations; {info['reintegrated']} re-integrated with finer substeps, "
                f"{info['dropped']} dropped over the energy tolerance{test}")  # fmt: skip

    def load(self, dataset, card):
        from bench.tasks.forces.loader import ForcesData

        return ForcesData(dataset, card)

    def task_spec(self, card, scale=None):
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

    SR_BUDGET = {  # key: (integer, minimum, above): every engine's budget keys (sr/<engine>.yaml)
        "edges": (True, 1, None), "generations": (True, 1, None), "population_size": (True, 1, None),
        "max_length": (True, 1, None), "niterations": (True, 1, None), "maxsize": (True, 1, None),
        "time_limit_s": (False, None, 0), "parsimony": (False, 0, None), "seed": (True, 0, None),
    }  # fmt: skip

    def check_run(self, cfg, model_cls) -> None:
        """Before any data: the symbolic-regression settings in range (``sr.generations=0`` is refused here,
        not after training), then the engine the run needs is available."""
        from bench.config import SEED_LIMIT, check_range
        from bench.tasks.forces.analysis import check

        sr = cfg.get("sr")
        if sr is not None and str(sr.get("name")) != "none":
            for key, (integer, minimum, above) in self.SR_BUDGET.items():
                if key in sr:
                    check_range(f"sr.{key}", sr[key], integer=integer, minimum=minimum, above=above,
                                below=SEED_LIMIT if key == "seed" else None)  # fmt: skip
        message_dim = (cfg.model.get("hparams") or {}).get("message_dim")
        if "edge_messages" in model_cls.capabilities() and message_dim is not None and message_dim < cfg.task.dim:
            raise BenchError(f"model.hparams.message_dim={message_dim} is below the system's dimension "
                             f"task.dim={cfg.task.dim}: the force probe reads the d most important message "
                             f"components; valid: message_dim >= {cfg.task.dim}, or null")  # fmt: skip
        check(cfg, model_cls)

    def verify_analyses(self, analyses, model, data, cfg) -> list[str]:
        """Every recovery verdict the run reports, re-scored: each Pareto-front expression of the symbolic
        regression (the search itself is not repeated), exactly and up to a mass factor (which factor too), the
        summary flags, and a model's own equation. A verdict the record does not carry (a record made before the
        mass-factor verdicts) is not asked for."""
        from bench.tasks.forces.analysis import recovery_score, score_equation

        symbolic, equation = analyses.get("symbolic"), analyses.get("equation")
        if not symbolic and not equation:
            return []
        score, reasons = recovery_score(data, cfg), []
        for comp in (symbolic or {}).get("components", []):
            for k, entry in enumerate(comp.get("front", [])):
                where = f"symbolic: message {comp.get('component')}, front expression {k} '{entry['expression']}'"
                reasons += _verdicts_differ(where, entry, score({"expression": entry["expression"]}))
        if symbolic and not reasons:
            comps = symbolic.get("components", [])

            def each(entry: dict) -> bool:
                return bool(entry.get("recovered"))

            def or_mass(entry: dict) -> bool:
                return bool(entry.get("recovered") or entry.get("recovered_mass_factor"))

            for flag, on_front, ok in (("recovered", False, each), ("recovered_on_front", True, each),
                                       ("recovered_up_to_mass", False, or_mass),
                                       ("recovered_up_to_mass_on_front", True, or_mass)):  # fmt: skip
                if flag not in symbolic and flag.startswith("recovered_up_to_mass"):
                    continue
                follows = bool(comps) and all(
                    any(ok(e) for e in c["front"]) if on_front else ok(c["front"][c["chosen"]]) for c in comps
                )
                if bool(symbolic.get(flag)) != follows:
                    reasons.append(f"symbolic: the summary flag '{flag}' does not follow from the front's verdicts")
        if equation and "equation" in type(model).capabilities():
            fresh = score_equation(model, score)
            reasons += _verdicts_differ("equation: the submitted model's own equation", equation, fresh,
                                        keys=("recovered", "recovered_up_to_mass"))  # fmt: skip
        return reasons

    def analyse(self, model, data, backend, device, cfg, directory: Path) -> Analysis:
        from bench.tasks.forces.analysis import analyse

        return analyse(model, data, backend, device, cfg, directory)

    def report(self, argv: list[str]) -> int:
        from bench.tasks.forces.report import main

        return main(argv)

    def app_panels(self, rows, read_record) -> None:
        from bench.tasks.forces.app import force_law_panel

        force_law_panel(rows, read_record)
