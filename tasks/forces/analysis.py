"""What a force-task run measures beyond the test error: has the model learned the force law?

``analyse`` is the family's hook for the runner (``bench.run``): it gets the trained model and returns
the analyses that go into the record's ``analyses`` section, writing its files into the run folder.
They are reported by the run, not re-scored by the evaluator (the probe's R² is: its chosen messages
are saved with the predictions, see ``collect``).

- ``edge_messages`` → the force-law probe (``probe.py``: per-component fits, ``probe.npz``, a figure),
  then symbolic regression of the chosen components (``symbolic.py``, engine ``sr=``; ``sr=none`` skips
  it) with every Pareto-front expression scored for recovery (``recovery.py``): ``symbolic.recovered``
  (the chosen expression of every component is recovered), ``symbolic.recovered_on_front`` (some
  expression of every component's front is), and the same counting an expression recovered up to a mass
  factor too (``symbolic.recovered_up_to_mass``, ``symbolic.recovered_up_to_mass_on_front``; each
  expression's own ``recovered_mass_factor`` and ``mass_factor``). The probe is given each edge's masses:
  ``force_probe`` also holds the fits against ``F / m_i`` and ``F / m_j`` and its ``best_form``.
- ``equation`` → the model's own closed-form edge function, scored for recovery the same way
  (``equation.recovered``, ``equation.recovered_up_to_mass``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from bench.family import Analysis
from bench.io import atomic_write, save_npz
from bench.tasks.forces import recovery
from bench.tasks.forces.probe import chosen_messages, plot, probe_model
from bench.tasks.forces.symbolic import get_engine, run_sr

PROBE_NAME, PROBE_FIGURE = "probe.npz", "message_probe.png"


def recovery_score(data, cfg) -> recovery.RecoveryScore:
    r_range = recovery.training_r_range(data.splits["train"]["position"].numpy(), seed=int(cfg.task.data_seed))
    return recovery.RecoveryScore(str(cfg.task.system), int(cfg.task.dim), r_range, seed=int(cfg.task.data_seed))


def score_equation(model, score: recovery.RecoveryScore) -> dict[str, Any]:
    """Recovery of each message component of a model's own ``equation()`` (a list of SymPy expressions
    over ``recovery.variable_names``, one per component the model reports as meaningful). Lazy, as for the
    expressions of symbolic regression: SymPy's check runs only where the numeric verdict passed (an untrained
    Equation Learner's expression can take minutes to simplify, and then fails anyway)."""
    components = []
    for k, expr in enumerate(model.equation()):
        verdict = score({"expression": expr}, lazy=True)
        components.append({"component": k, **verdict})
    return {
        "components": components,
        "recovered": bool(components) and all(c["recovered"] for c in components),
        "recovered_up_to_mass": bool(components)
        and all(c["recovered"] or c["recovered_mass_factor"] for c in components),
    }


def _sr_settings(cfg) -> dict[str, Any] | None:
    """The run's symbolic-regression settings; None with ``sr=none``."""
    sr = cfg.get("sr")
    if sr is None or str(sr.name) == "none":
        return None
    settings = OmegaConf.to_container(sr, resolve=True)
    assert isinstance(settings, dict)
    return settings


def check(cfg, model_cls) -> None:
    """Before any data or training: the symbolic-regression engine the run will need is available (a
    missing PySR/Julia must not surface only after an hour of training)."""
    settings = _sr_settings(cfg)
    if settings is not None and "edge_messages" in model_cls.capabilities():
        get_engine(settings)


def probe_predictions(model, data, backend, device, cfg) -> dict[str, np.ndarray]:
    """The probe's chosen messages, saved with the predictions for the evaluator (none without messages)."""
    if "edge_messages" not in type(model).capabilities():
        return {}
    inputs, probe = probe_model(model, data, backend, device, seed=int(cfg.task.data_seed))
    return {"edge_messages_pred": chosen_messages(inputs, probe)}


def analyse(model, data, backend, device, cfg, directory: Path) -> Analysis:
    """The record's analyses of a trained model (none for a model without capabilities)."""
    analyses: dict[str, Any] = {}
    capabilities = type(model).capabilities()
    score = None
    if "edge_messages" in capabilities:
        inputs, probe = probe_model(model, data, backend, device, seed=int(cfg.task.data_seed))
        atomic_write(directory / PROBE_NAME, lambda f: save_npz(f, inputs))
        plot(inputs, probe, directory / PROBE_FIGURE)
        analyses["force_probe"] = {**probe, "inputs": PROBE_NAME, "figure": PROBE_FIGURE}
        settings = _sr_settings(cfg)
        if settings is not None:
            score = recovery_score(data, cfg)
            analyses["symbolic"] = run_sr(inputs, probe, settings, score, int(cfg.task.dim),
                                          seed=int(cfg.task.data_seed), threads=torch.get_num_threads(),
                                          progress=bool(cfg.progress))  # fmt: skip
    if "equation" in capabilities:
        score = score or recovery_score(data, cfg)
        analyses["equation"] = score_equation(model, score)
    return Analysis(analyses=analyses)
