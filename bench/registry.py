"""The one registry of tasks and models, used by the CLI, the runner and the tests alike.

Tasks are the cards of the registered task families (``bench.family``: each family's ``conf/task/``
folder); models are the cards in ``baselines/conf/model/`` plus the
models that installed packages declare in the entry-point group ``bench.models``. A model in a file of
one's own is named by its path (``model=path/to/my_model.py:MyNet``, see ``bench.loading``). Every card
names its class as ``module:Class`` or ``file.py:Class``, imported by the one function below, so the
baselines are loaded exactly as an outside model is.
"""

from __future__ import annotations

from bench import loading
from bench.config import group_options
from bench.errors import IncompatibleError
from bench.model import Model


def task_names() -> tuple[str, ...]:
    return group_options("task")


def model_names() -> tuple[str, ...]:
    """The shipped model cards, then the installed entry points (group ``bench.models``) not shadowed by one."""
    shipped = group_options("model")
    return shipped + tuple(sorted(n for n in loading.entry_points() if n not in shipped))


def model_class(card) -> type[Model]:
    """Import the class a model card names (``class: package.module:ClassName`` or ``file.py:ClassName``)."""
    return loading.import_class(str(card["class"]), what=f"model '{card.name}'")


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
