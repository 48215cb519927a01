"""The one registry of tasks and models, used by the CLI, the runner and the tests alike.

Tasks are the cards in ``tasks/conf/task/``; models are the cards in ``baselines/conf/model/``, each
naming its class as ``module:Class`` (baselines are loaded exactly as an outside model would be).
"""

from __future__ import annotations

import importlib

from bench.config import group_options
from bench.errors import BenchError, IncompatibleError
from bench.model import Model


def task_names() -> tuple[str, ...]:
    return group_options("task")


def model_names() -> tuple[str, ...]:
    return group_options("model")


def model_class(card) -> type[Model]:
    """Import the class a model card names (``class: package.module:ClassName``)."""
    target = str(card["class"])
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as e:
        raise BenchError(f"model '{card.name}': cannot import class '{target}' ({e})") from None
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise BenchError(f"model '{card.name}': '{target}' is not a subclass of bench.Model")
    return cls


def incompatibility(task_card, model_card) -> str | None:
    """Why ``model_card`` cannot run ``task_card`` (None when it can)."""
    cls = model_class(model_card)
    families = tuple(model_card.get("families") or cls.families)
    if task_card.family not in families:
        return (f"model '{model_card.name}' is built for task families {list(families)}, "
                f"and task '{task_card.name}' is of family '{task_card.family}'")  # fmt: skip
    missing = [c for c in task_card.requires if c not in cls.capabilities()]
    if missing:
        return (f"task '{task_card.name}' needs the capabilities {missing}, which model '{model_card.name}' "
                f"does not expose (it exposes {list(cls.capabilities()) or 'none'})")  # fmt: skip
    return None


def check_compatible(task_card, model_card) -> None:
    reason = incompatibility(task_card, model_card)
    if reason:
        raise IncompatibleError(f"cannot run task '{task_card.name}' with model '{model_card.name}': {reason}")
