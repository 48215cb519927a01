"""The one registry of tasks and models, used by the CLI, the runner and the tests alike.

Tasks are the cards of the registered task families (``bench.family``: each family's ``conf/task/``
folder); models are the cards in ``baselines/conf/model/`` plus the
models that installed packages declare in the entry-point group ``bench.models``. A model in a file of
one's own is named by its path (``model=path/to/my_model.py:MyNet``, see ``bench.loading``). Every card
names its class as ``module:Class`` or ``file.py:Class``, imported by the one function below, so the
baselines are loaded exactly as an outside model is.

A card may list the class's capabilities (``capabilities: [edge_messages]``, as every shipped card does):
then ``bench list`` shows what each model can run without importing a model (nor torch), and a run checks
the list against the class (``check_card_capabilities``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench import loading
from bench.config import group_options
from bench.errors import BenchError, IncompatibleError, unknown

if TYPE_CHECKING:
    from bench.model import Model


def task_names() -> tuple[str, ...]:
    return group_options("task")


def model_names() -> tuple[str, ...]:
    """The shipped model cards, then the installed entry points (group ``bench.models``) not shadowed by one."""
    shipped = group_options("model")
    return shipped + tuple(sorted(n for n in loading.entry_points() if n not in shipped))


def model_class(card) -> type[Model]:
    """Import the class a model card names (``class: package.module:ClassName`` or ``file.py:ClassName``)."""
    return loading.import_class(str(card["class"]), what=f"model '{card['name']}'")


def model_families(card) -> tuple[str, ...]:
    """The task families a model is built for: its card's ``families``, else its class's."""
    return tuple(str(f) for f in (card.get("families") or model_class(card).families))


def model_capabilities(card) -> tuple[str, ...]:
    """What a model exposes: its card's ``capabilities`` list (read without importing the class), else the
    class's (``Model.capabilities``)."""
    listed = card.get("capabilities")
    if listed is None:
        return tuple(model_class(card).capabilities())
    _check_listed(card, listed, names=False)  # the names are checked when the model runs (torch-free here)
    return tuple(str(c) for c in listed)


def _check_listed(card, listed, names: bool = True) -> None:
    """A card's ``capabilities`` is a list (of known names: ``names``, which imports ``bench.model`` and torch),
    else a ``BenchError`` naming the bad value."""
    name = card.get("name")
    if isinstance(listed, str) or not hasattr(listed, "__iter__"):
        raise BenchError(f"model card '{name}': capabilities must be a list (capabilities: [edge_messages, ...]), "
                         f"not {listed!r}")  # fmt: skip
    if not names:
        return
    from bench.model import CAPABILITIES

    for capability in listed:
        if capability not in CAPABILITIES:
            raise BenchError(f"model card '{name}', capabilities: {unknown('capability', capability, CAPABILITIES)}")


def check_card_capabilities(card) -> None:
    """Raise a ``BenchError`` when a card's ``capabilities`` list is not what its class exposes: an unknown
    name, or another set than the methods the class overrides. A card without the list passes."""

    listed = card.get("capabilities")
    if listed is None:
        return
    name = card.get("name")
    _check_listed(card, listed)
    actual = model_class(card).capabilities()
    if set(listed) != set(actual) or len(listed) != len(set(listed)):
        raise BenchError(f"model card '{name}' lists capabilities: {[str(c) for c in listed]}, but its class "
                         f"{card['class']} exposes {list(actual)} (the methods it overrides); set "
                         f"`capabilities: [{', '.join(actual)}]` in the card")  # fmt: skip


def incompatibility(task_card, model_card) -> str | None:
    """Why ``model_card`` cannot run ``task_card`` (None when it can). Cards may be ``DictConfig`` or plain
    dicts (``bench.config.listed_card``); the model's class is imported only for a card that does not list its
    families and capabilities."""
    task, model = task_card["name"], model_card["name"]
    families = model_families(model_card)
    if task_card["family"] not in families:
        return (f"model '{model}' is built for task families {list(families)}, "
                f"and task '{task}' is of family '{task_card['family']}'")  # fmt: skip
    capabilities = model_capabilities(model_card)
    missing = [str(c) for c in task_card["requires"] if c not in capabilities]
    if missing:
        return (f"task '{task}' needs the capabilities {missing}, which model '{model}' "
                f"does not expose (it exposes {list(capabilities) or 'none'})")  # fmt: skip
    return None


def check_compatible(task_card, model_card) -> None:
    """Raise an ``IncompatibleError`` unless ``model_card`` can run ``task_card``; first, the card's
    ``capabilities`` list against its class (``check_card_capabilities``)."""
    check_card_capabilities(model_card)
    reason = incompatibility(task_card, model_card)
    if reason:
        raise IncompatibleError(f"cannot run task '{task_card.name}' with model '{model_card.name}': {reason}")
